"""The Binder image and the package lists: what a student's session gets, what CI installs.

- binder/apt.txt holds only packages a session uses (vmlab or a lab names one of their files);
  .ci/apt.txt holds the test oracles; every oracle a test asks for is in one of the two lists
  (or, for a Python module, in pyproject.toml), and make installs each list where it should.
- binder/requirements.txt covers pyproject.toml's dependencies (postBuild installs vmlab
  with --no-deps, so a dependency missing there breaks the image).
- binder/check builds the environment as repo2docker would and runs the first lab in it
  (slow: ~1.5 min with a local package cache), and fails when requirements.txt lacks a package.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oracles import missing

ROOT = Path(__file__).resolve().parents[1]
BINDER_APT = ROOT / "binder" / "apt.txt"
CI_APT = ROOT / ".ci" / "apt.txt"
LAB_BUDGET_KIB = 1536 * 1024            # 1.5 GiB: a Binder session has 1-2 GB


def apt_names(path: Path) -> list[str]:
    """One package a line, '#' comments: the format repo2docker reads."""
    names = (line.partition("#")[0].strip() for line in path.read_text().splitlines())
    return [n for n in names if n]


def oracle_requests() -> set[tuple[str, str]]:
    """(kind, package) for every need_tool/need_file/need_module call in the tests."""
    found = set()
    for path in (ROOT / "tests").rglob("*.py"):
        text = path.read_text()
        for kind, pkg in re.findall(r'need_(tool|file)\([^()]*(?:\([^()]*\))?[^()]*,\s*"([\w.+-]+)"\)', text):
            found.add(("debian", pkg))
        for mod in re.findall(r'need_module\("([\w.]+)"', text):
            found.add(("python", mod))
    return found


def installed_files(package: str) -> list[str]:
    proc = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True)
    if proc.returncode != 0:
        missing(f"Debian package {package}", package)
    skip = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/lintian/")
    return [f for f in proc.stdout.splitlines() if f.startswith("/usr/") and not f.startswith(skip)]


def named_by(text: str, path: str) -> bool:
    """Is an installed file named in code: a program as a quoted name, a file by path or name?"""
    name = path.rsplit("/", 1)[1]
    if path.startswith("/usr/bin/"):
        return f'"{name}"' in text or f"'{name}'" in text or path in text
    return "." in name and re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text) is not None


def session_sources() -> str:
    """The code a student's session runs or reads: the package and the labs."""
    files = [*(ROOT / "vmlab").rglob("*.py"), *(ROOT / "labs").glob("*.ipynb")]
    return "\n".join(p.read_text() for p in files)


def test_the_two_lists_are_disjoint_and_not_empty():
    binder, ci = apt_names(BINDER_APT), apt_names(CI_APT)
    assert binder and ci
    assert not set(binder) & set(ci)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", n) for n in binder + ci)


@pytest.mark.parametrize("package", apt_names(BINDER_APT))
def test_every_binder_package_is_used_by_a_session(package):
    """A package whose files neither vmlab nor a lab names is a test oracle: .ci/apt.txt."""
    text = session_sources()
    used = [f for f in installed_files(package) if named_by(text, f)]
    assert used, f"{package}: no file of it is named in vmlab/ or labs/ (move it to .ci/apt.txt)"


def test_every_oracle_the_tests_ask_for_is_installed_by_ci():
    debian = set(apt_names(BINDER_APT)) | set(apt_names(CI_APT))
    pyproject = (ROOT / "pyproject.toml").read_text().lower()
    requests = oracle_requests()
    assert ("debian", "qemu-system-misc") in requests          # the scan itself finds calls
    for kind, name in sorted(requests):
        if kind == "debian":
            assert name in debian, f"tests need Debian package {name}: add it to .ci/apt.txt"
        else:
            assert f'"{name.replace("_", "-")}' in pyproject.replace("_", "-"), \
                f"tests need Python module {name}: add its package to pyproject.toml"


def test_requirements_cover_pyproject_dependencies():
    tomllib = pytest.importorskip("tomllib")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    listed = {re.split(r"[<>=!~ \[;]", line, 1)[0].lower().replace("_", "-")
              for line in apt_names(ROOT / "binder" / "requirements.txt")}
    for dep in deps:
        name = re.split(r"[<>=!~ \[;]", dep, 1)[0].lower().replace("_", "-")
        assert name in listed, f"{name} is a dependency of vmlab but not in binder/requirements.txt"


def make_dry_run(target: str) -> str:
    if shutil.which("make") is None:
        missing("make", "make")
    return subprocess.run(["make", "-n", target, "PY=true"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout


def test_make_lab_installs_the_session_list_and_make_test_both():
    lab, test = make_dry_run("deps"), make_dry_run("test-deps")
    for name in apt_names(BINDER_APT):
        assert f" {name} " in lab and f" {name} " in test
    for name in apt_names(CI_APT):
        assert f" {name} " not in lab and f" {name} " in test


def run_check(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess, dict | None]:
    out = tmp_path / "check.json"
    proc = subprocess.run([sys.executable, str(ROOT / "binder" / "check"), "--repo", str(repo),
                           "--json", str(out)], capture_output=True, text=True, timeout=1800)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


@pytest.mark.slow
def test_binder_check_builds_the_image_and_runs_the_first_lab(tmp_path):
    proc, summary = run_check(ROOT, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (lab,) = summary["labs"]
    assert lab["lab"] == "00-welcome" and lab["error"] is None
    assert 0 < lab["kernel_peak_kib"] < LAB_BUDGET_KIB
    assert set(summary["times"]) >= {"pip install -r binder/requirements.txt", "binder/postBuild"}


@pytest.mark.slow
def test_binder_check_fails_when_requirements_lack_a_package(tmp_path):
    """postBuild installs vmlab with --no-deps: without pyelftools in requirements.txt the
    image cannot import vmlab, and the check must say so at the postBuild step."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "artifacts", ".hypothesis", ".pytest_cache", "*.egg-info", "build"))
    req = repo / "binder" / "requirements.txt"
    req.write_text("".join(l for l in req.read_text().splitlines(True) if not l.startswith("pyelftools")))
    proc, summary = run_check(repo, tmp_path)
    assert proc.returncode == 1 and summary is None
    assert "binder/postBuild failed" in proc.stderr
    assert "elftools" in proc.stderr


def load_check():
    """binder/check is a script (no .py): load it as a module to test its parts."""
    import importlib.util
    from importlib.machinery import SourceFileLoader
    loader = SourceFileLoader("binder_check", str(ROOT / "binder" / "check"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def test_the_check_hides_the_test_oracles_programs_and_nothing_a_session_uses(tmp_path):
    check = load_check()
    installed_files("qemu-system-misc")    # skip without it
    hidden = check.oracle_programs(ROOT)
    assert {"qemu-system-riscv64", "gdb-multiarch", "riscv64-unknown-elf-objdump"} <= hidden
    assert "sh" not in hidden and "python3" not in hidden
    view = check.system_programs_view(tmp_path / "bin", hidden)
    assert (view / "sh").exists()
    assert not (view / "qemu-system-riscv64").exists()
