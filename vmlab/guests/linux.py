"""Debian's Linux as a ready guest: the riscv64 kernel and busybox, and an initramfs of ours.

    vmlab guests fetch linux [--mirror URL]      # once: apt download, unpack, build initramfs
    vmlab run --guest linux [--hv]               # boot it to a busybox shell

From Python::

    from vmlab.guests import linux
    kernel, initrd, cmdline = linux.boot_files()     # GuestMissing if not fetched yet
    m.boot_virt(bios=fw_jump, kernel=kernel, initrd=initrd, bootargs=cmdline)

Where things come from: Debian 13 ("trixie") publishes riscv64 packages.  We ask the user's own
apt for them, in a private configuration under the cache directory (our own sources file,
package lists and download cache; riscv64 as the only architecture), so nothing of the
machine's apt setup changes, and apt checks the archive's signatures with Debian's keyring
as it always does.  The mirror is the one the machine's apt already uses (read from its
sources), or ``--mirror``.

The cache (``$XDG_CACHE_HOME/vmlab/guests/linux``, by default ``~/.cache/…``)::

    apt/         sources.list, lists/, cache/       apt's private state
    debs/        linux-image-*.deb, busybox-static_*.deb
    root/        the unpacked packages
    Image        the kernel (the flat RISC-V image OpenSBI jumps to at 0x8020_0000)
    initrd.gz    our initramfs: busybox, /init, the virtio modules
    version      the kernel release (for /lib/modules/<release>)
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from vmlab.guests import initramfs
from vmlab.guests.apt_sources import debian_mirror

SUITE = "trixie"
ARCH = "riscv64"
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
PACKAGES = ("linux-image-riscv64", "busybox-static")
#: the modules a guest of the virt board needs (with what they depend on)
MODULES = ("virtio_mmio", "virtio_blk", "virtio_balloon")
#: console on the 16550, early output through SBI, our /init from the initramfs; no4lvl keeps
#: the kernel on Sv39 (what the hart implements) without its probe of Sv48/Sv57
CMDLINE = "console=ttyS0 earlycon=sbi rdinit=/init no4lvl"
FETCH_HINT = "vmlab guests fetch linux"


class GuestMissing(Exception):
    """The guest is not in the cache (the message says how to get it)."""


def cache_dir() -> Path:
    """Where the guest lives: $XDG_CACHE_HOME/vmlab/guests/linux (XDG's default ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vmlab" / "guests" / "linux"


def boot_files(cache: Path | None = None) -> tuple[Path, Path, str]:
    """(kernel Image, initramfs, kernel command line), or :class:`GuestMissing`."""
    cache = cache or cache_dir()
    kernel, initrd = cache / "Image", cache / "initrd.gz"
    for path in (kernel, initrd):
        if not path.is_file():
            raise GuestMissing(f"Debian's Linux guest is not fetched ({path} is missing): "
                               f"run '{FETCH_HINT}'")
    return kernel, initrd, CMDLINE


# ------------------------------------------------------------------------------- fetching
def fetch(mirror: str | None = None, cache: Path | None = None, log=print) -> Path:
    """Download the packages with apt (private configuration), unpack them and build the
    initramfs; return the cache directory.  Raises GuestMissing with a one-line reason."""
    cache = cache or cache_dir()
    mirror = mirror or debian_mirror()
    if mirror is None:
        raise GuestMissing("no Debian mirror in /etc/apt/sources.list{,.d/*}: "
                           f"pass one with '{FETCH_HINT} --mirror URL'")
    for tool in ("apt-get", "apt-cache", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise GuestMissing(f"'{tool}' not found: fetching the Linux guest needs Debian's apt")
    apt = Apt(cache / "apt", mirror)
    log(f"apt update ({SUITE}, {ARCH}) from {mirror}")
    apt.update()
    debs = cache / "debs"
    names = [apt.resolve(p) for p in PACKAGES]
    fetched = []
    for name in names:
        log(f"apt download {name}")
        fetched.append(apt.download(name, debs))
    for old in set(debs.glob("*.deb")) - set(fetched):    # earlier versions
        old.unlink()
    build(cache, log)
    return cache


class Apt:
    """The user's apt-get with a configuration of our own (nothing of the machine's is used
    or changed but its keyring): riscv64 only, trixie, one mirror."""

    def __init__(self, root: Path, mirror: str):
        self.root = root
        for d in ("lists/partial", "cache/archives/partial"):
            (root / d).mkdir(parents=True, exist_ok=True)
        sources = root / "sources.list"
        sources.write_text(f"deb [arch={ARCH} signed-by={KEYRING}] {mirror} {SUITE} main\n")
        self.options = ["-o", f"Dir::Etc::SourceList={sources}",
                        "-o", "Dir::Etc::SourceParts=/nonexistent",
                        "-o", "Dir::Etc::PreferencesParts=/nonexistent",
                        "-o", f"Dir::State::Lists={root / 'lists'}",
                        "-o", f"Dir::Cache={root / 'cache'}",
                        "-o", "Dir::State::status=/dev/null",
                        "-o", f"APT::Architecture={ARCH}", "-o", f"APT::Architectures::={ARCH}"]
        if os.geteuid() == 0:    # apt's _apt user could not write into the user's cache
            self.options += ["-o", "APT::Sandbox::User=root"]

    def _run(self, tool: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
        proc = subprocess.run([tool, *self.options, *args], cwd=cwd, capture_output=True,
                              text=True)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()] or ["(no message)"]
            raise GuestMissing(f"{tool} {' '.join(args)} failed: {lines[-1]}")
        return proc

    def update(self) -> None:
        """apt-get update; a mirror it could not read is an error here (apt only warns)."""
        proc = self._run("apt-get", "-q", "update")
        failed = [ln for ln in (proc.stdout + proc.stderr).splitlines()
                  if ln.startswith(("Err:", "W: Failed to fetch", "E: Failed to fetch"))]
        if failed:
            raise GuestMissing(f"apt could not read the Debian archive: {failed[0]} "
                               f"(try '{FETCH_HINT} --mirror URL')")

    def resolve(self, package: str) -> str:
        """A metapackage (linux-image-riscv64) names the real one in its Depends."""
        out = self._run("apt-cache", "depends", package).stdout
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Depends:") and package.startswith("linux-image"):
                return line.split()[1]
        return package

    def download(self, package: str, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        self._run("apt-get", "-q", "download", package, cwd=dest)
        debs = sorted(dest.glob(f"{package}_*.deb"))
        if not debs:
            raise GuestMissing(f"apt-get download {package} left no .deb in {dest}")
        return debs[-1]


# ------------------------------------------------------------------------------- building
def build(cache: Path, log=print) -> None:
    """Unpack the .debs, copy the kernel, write the initramfs."""
    root = cache / "root"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for deb in sorted((cache / "debs").glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    images = sorted((root / "boot").glob("vmlinux-*"))
    if not images:
        raise GuestMissing(f"no /boot/vmlinux-* in the unpacked kernel package ({root})")
    release = images[-1].name.removeprefix("vmlinux-")
    shutil.copyfile(images[-1], cache / "Image")
    (cache / "version").write_text(release + "\n")
    modules = _modules_root(root, release)
    archive = initramfs.build(_busybox(root), modules, MODULES)
    (cache / "initrd.gz").write_bytes(archive)
    log(f"kernel {release}: {cache / 'Image'}; initramfs {len(archive) // 1024} KiB: "
        f"{cache / 'initrd.gz'}")


def _modules_root(root: Path, release: str) -> Path:
    for base in (root / "usr/lib/modules", root / "lib/modules"):
        if (base / release / "kernel").is_dir():
            return base / release
    raise GuestMissing(f"no modules for {release} in the unpacked kernel package")


def _busybox(root: Path) -> Path:
    for path in (root / "usr/bin/busybox", root / "bin/busybox"):
        if path.is_file():
            return path
    raise GuestMissing("no busybox in the unpacked busybox-static package")
