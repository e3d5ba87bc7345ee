"""The layers of DESIGN.md hold: no module imports a layer above its own, or one beside it.

Bottom up::

    vmlab.errors                     errors any layer may raise (no imports of ours)
    vmlab.isa                        the one table: encodings, CSRs, causes
    vmlab.sv39 | vmlab.asm | vmlab.disasm     (each on its own: none imports another)
    vmlab.guests                     the lab's guest programs, as sources (built with vmlab.asm)
    vmlab.machine
    vmlab.hv
    vmlab.viz
    vmlab.notebook
    the top: vmlab.grading, vmlab.bench, the command line (vmlab.cli, vmlab.__main__, every
             package's ``cli`` and ``bench`` modules), vmlab.demo

(``vmlab`` itself -- its ``__init__`` defines only ``__version__`` and the lazy notebook hook --
may be imported from anywhere.)

Every ``import`` and ``from ... import`` in every module is read with ``ast`` -- those at
the top of a module and those inside functions alike -- and checked: a module may import
its own package and any layer below; the top may import anything.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vmlab

ROOT = Path(vmlab.__file__).parent

#: rank of each layer (package or module under vmlab); equal ranks may not import each other
RANKS = {
    "errors": 0,
    "isa": 1,
    "sv39": 2, "asm": 2, "disasm": 2,
    "guests": 2.5,
    "machine": 3,
    "hv": 4,
    "viz": 5,
    "notebook": 6,
}
TOP = 7
#: modules that belong to the top whatever package they sit in: each subcommand lives next
#: to the code it drives, and benchmarks compare layers from above
TOP_MODULE_NAMES = {"cli", "bench", "__main__"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> tuple[str, int]:
    """(layer name, rank) of a module ``vmlab.x.y``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "vmlab", TOP
    if parts[-1] in TOP_MODULE_NAMES and len(parts) > 2 or parts[1] in TOP_MODULE_NAMES:
        return "top", TOP
    return parts[1], RANKS.get(parts[1], TOP)


def imports_of(source: str, path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a vmlab module in ``source``."""
    tree = ast.parse(source, str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            found += [(node.lineno, f"{base}.{a.name}" if _is_module(base, a.name) else base)
                      for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "vmlab"]


def _is_module(base: str, name: str) -> bool:
    """``from vmlab import sv39`` imports the module vmlab.sv39, not a name of vmlab."""
    where = ROOT.parent.joinpath(*base.split("."))
    return (where / f"{name}.py").exists() or (where / name / "__init__.py").exists()


def violations(path: Path, source: str | None = None) -> list[str]:
    module = module_name(path)
    layer, rank = layer_of(module)
    bad = []
    for line, target in imports_of(source or path.read_text(), path, module):
        their_layer, their_rank = layer_of(target)
        if rank == TOP or their_layer == layer or target == "vmlab":
            continue
        if their_rank >= rank:
            where = "above" if their_rank > rank else "beside"
            bad.append(f"{path.relative_to(ROOT.parent)}:{line}: {module} ({layer}) imports "
                       f"{target} ({their_layer}), a layer {where} it")
    return bad


def all_modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_import_goes_down():
    bad = [v for path in all_modules() for v in violations(path)]
    assert not bad, "imports against the layering of DESIGN.md:\n" + "\n".join(bad)


def test_the_walk_sees_every_layer():
    layers = {layer_of(module_name(p))[0] for p in all_modules()}
    assert set(RANKS) - {"errors"} <= layers


@pytest.mark.parametrize("source, broken", [
    ("from vmlab.hv import vcpu\n", True),                  # machine -> hv: up
    ("from vmlab.asm import assemble\n", False),             # machine -> asm: down
    ("def f():\n    import vmlab.viz\n", True),             # hidden in a function: still up
    ("from . import board\n", False),                         # its own package
])
def test_a_forbidden_import_is_caught(source, broken):
    """The checker itself, on a module of vmlab.machine with the given source."""
    assert bool(violations(ROOT / "machine" / "_layer_probe.py", source)) == broken
