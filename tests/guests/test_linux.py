"""Debian's Linux as a ready guest: where it comes from, what the initramfs holds, and that it
boots -- on vmlab to /init now, and to a shell whose commands print what they print on QEMU
once the hart has F and D (Debian's busybox is RV64GC)."""
from __future__ import annotations

import gzip
import re
import select
import subprocess
import sys

import pytest

from oracles import IN_CI, OPENSBI_FW_JUMP, need_file, need_tool
from vmlab.guests import initramfs, linux
from vmlab.guests.apt_sources import debian_mirror
from vmlab.machine import Machine
from vmlab.machine.csr import MISA_VALUE

HAS_FD = bool(MISA_VALUE >> 3 & 1) and bool(MISA_VALUE >> 5 & 1)
NEEDS_FD = "needs F/D: Debian's busybox is RV64GC and the hart's misa has no F and D yet"


def need_linux():
    """(kernel, initrd, cmdline); skips with the fetch command (fails in CI) when missing."""
    try:
        return linux.boot_files()
    except linux.GuestMissing as exc:
        if IN_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))


FW_JUMP_BIN = OPENSBI_FW_JUMP.with_suffix(".bin")
# QEMU's hart made like ours: RV64GC with H (vmlab's bare hart has the hypervisor extension)
QEMU_CPU = "rv64,h=true,v=false,zba=false,zbb=false,zbc=false,zbs=false,sstc=false,svpbmt=false"
COMMANDS = ["uname -a", "cat /proc/cpuinfo", "ls /", "echo Hello Pipe | tr a-z A-Z | rev"]


# ------------------------------------------------------------------------ where from
def test_mirror_from_one_line_and_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.invalid/debian bookworm main\n"
        "deb [signed-by=/k.gpg arch=amd64] http://sec.invalid/debian-security bookworm-security main\n")
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb-src\nURIs: http://src.invalid/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n")
    (tmp_path / "sources.list.d" / "other.list").write_text(
        "deb https://vendor.invalid/apt stable-vendor main\n")
    assert debian_mirror(tmp_path) == "http://mirror.invalid/debian"
    (tmp_path / "sources.list").write_text("deb http://one.invalid/debian trixie main\n")
    assert debian_mirror(tmp_path) == "http://one.invalid/debian"


def test_nothing_cached_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert linux.cache_dir() == tmp_path / "vmlab" / "guests" / "linux"
    with pytest.raises(linux.GuestMissing, match="vmlab guests fetch linux"):
        linux.boot_files()
    r = subprocess.run([sys.executable, "-m", "vmlab", "run", "--guest", "linux"],
                       capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
                       env={**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path)})
    err = r.stderr.decode()
    assert r.returncode == 1 and len(err.strip().splitlines()) == 1, err
    assert "vmlab guests fetch linux" in err


def test_a_mirror_that_cannot_be_read_is_one_clear_line(tmp_path):
    need_tool("apt-get", "apt")
    with pytest.raises(linux.GuestMissing, match="could not read the Debian archive"):
        linux.fetch(mirror="http://mirror.invalid/debian", cache=tmp_path, log=lambda m: None)


# ------------------------------------------------------------------------ the initramfs
def read_newc(data: bytes) -> dict:
    """name -> (mode, body, rdev) -- a reader written from the format's description."""
    out, pos = {}, 0
    while True:
        assert data[pos:pos + 6] == b"070701"
        f = [int(data[pos + 6 + 8 * i:pos + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = f[11], f[6]
        name = data[pos + 110:pos + 110 + namesize - 1].decode()
        pos = (pos + 110 + namesize + 3) & ~3
        body = data[pos:pos + filesize]
        pos = (pos + filesize + 3) & ~3
        if name == "TRAILER!!!":
            assert pos == len(data)
            return out
        out[name] = (f[1], body, (f[9], f[10]))


def test_newc_archive_layout(tmp_path):
    c = initramfs.Cpio()
    c.directory("bin")
    c.file("bin/x", b"hello", 0o755)
    c.symlink("bin/y", "x")
    c.char_device("dev/console", 5, 1)
    entries = read_newc(c.finish())
    assert entries["bin/x"] == (0o100755, b"hello", (0, 0))
    assert entries["bin/y"][0] == 0o120777 and entries["bin/y"][1] == b"x"
    assert entries["dev/console"] == (0o020600, b"", (5, 1))
    assert entries["bin"][0] == 0o040755


def test_the_cached_initramfs_holds_busybox_init_and_modules():
    _, initrd, _ = need_linux()
    entries = read_newc(gzip.decompress(initrd.read_bytes()))
    assert entries["bin/busybox"][1][:4] == b"\x7fELF"
    init = entries["init"][1].decode()
    loads = re.findall(r"insmod /(\S+)", init)
    names = [p.rsplit("/", 1)[1] for p in loads]
    for m in ("virtio_mmio.ko", "virtio_blk.ko", "virtio_balloon.ko"):
        assert m in names
    for path in loads:
        assert entries[path][1][:4] == b"\x7fELF", "modules are stored decompressed"
    assert entries["dev/console"][2] == (5, 1)


# ------------------------------------------------------------------------ booting
def boot_bare(ram=256 << 20):
    kernel, initrd, cmdline = need_linux()
    bios = need_file(OPENSBI_FW_JUMP, "opensbi")
    m = Machine(ram_size=ram)
    m.boot_virt(bios=str(bios), kernel=str(kernel), initrd=str(initrd), bootargs=cmdline)
    return m


@pytest.mark.slow
def test_linux_reaches_init_bare():
    """OpenSBI + Debian's kernel unpack our initramfs and start /init (until F/D, busybox
    then dies of SIGILL -- expected)."""
    m = boot_bare()
    r = m.run(instructions=3_000_000_000, until_output="Run /init as init process")
    out = m.console_output
    assert r.reason == "output", out[-2000:]
    assert "Unable to mount root" not in out
    assert "riscv: base ISA extensions" in out or "Machine model: riscv-virtio,qemu" in out


def qemu_shell(kernel, initrd, cmdline) -> str:
    qemu = need_tool("qemu-system-riscv64", "qemu-system-misc")
    bios = need_file(FW_JUMP_BIN, "opensbi")
    p = subprocess.Popen([qemu, "-M", "virt", "-cpu", QEMU_CPU, "-m", "256M", "-bios", str(bios),
                          "-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline,
                          "-nographic", "-serial", "stdio", "-monitor", "none"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, seen = b"", 0
    for command in [*COMMANDS, None]:          # wait for a prompt, then type the next command
        while out.find(b"vmlab# ", seen) < 0:      # the next prompt after the last one
            ready, _, _ = select.select([p.stdout], [], [], 300)
            if not ready:
                p.kill()
            chunk = p.stdout.read1(4096) if ready else b""
            assert chunk, out[-2000:]           # QEMU ended or printed nothing for 5 minutes
            out += chunk
        seen = out.find(b"vmlab# ", seen) + len(b"vmlab# ")
        if command:
            p.stdin.write(command.encode() + b"\n")
            p.stdin.flush()
    p.kill()
    p.wait()
    return out.decode(errors="replace")


def vmlab_shell(m) -> str:
    assert m.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"
    for command in COMMANDS:
        m.send_input(command + "\n")
        assert m.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"
    return m.console_output


def command_outputs(console: str) -> dict:
    """command -> what it printed (between its echo and the next prompt)."""
    # busybox's line editor asks the terminal where its cursor is (ESC [ 6 n) after each
    # prompt; neither console answers, so drop such sequences before reading the echo.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.replace("\r", ""))
    out = {}
    for command in COMMANDS:
        at = text.find("vmlab# " + command + "\n")
        assert at >= 0, command
        rest = text[at + len("vmlab# " + command + "\n"):]
        out[command] = rest[:rest.find("vmlab# ")]
    return out


@pytest.mark.slow
@pytest.mark.skipif(not HAS_FD, reason=NEEDS_FD)
def test_linux_shell_matches_qemu():
    kernel, initrd, cmdline = need_linux()
    ours = command_outputs(vmlab_shell(boot_bare()))
    theirs = command_outputs(qemu_shell(kernel, initrd, cmdline))
    assert ours["ls /"] == theirs["ls /"]
    assert ours[COMMANDS[3]] == theirs[COMMANDS[3]] == "EPIP OLLEH\n"
    assert ours["uname -a"].split()[:3] == theirs["uname -a"].split()[:3]
    for field in ("processor", "isa", "mmu"):
        assert cpuinfo(ours, field) == cpuinfo(theirs, field), field


def boot_as_guest(shadow="sfence", bios=None, ram=256 << 20):
    """Debian's kernel in virtual S-mode: with the hypervisor as its SBI firmware, or with
    ``bios`` (OpenSBI) in virtual M-mode in front of it."""
    from vmlab.hv.cli import HOST_EXTRA
    from vmlab.hv.vm import Hypervisor
    kernel, initrd, cmdline = need_linux()
    hv = Hypervisor(Machine(ram_size=ram + HOST_EXTRA))
    vm = hv.create_vm(ram_size=ram, shadow=shadow)
    vm.boot(kernel=str(kernel), initrd=str(initrd), bootargs=cmdline, bios=bios)
    return vm


def without_cursor_query(console: str) -> str:
    """busybox's line editor asks the terminal for the cursor position (ESC [ 6 n) when no
    typed input is waiting yet -- a matter of timing, not of what the commands print."""
    return console.replace("\x1b[6n", "")


def vm_shell(vm) -> str:
    assert vm.run(instructions=6_000_000_000, until_output="vmlab# ").reason == "output"
    for command in COMMANDS:
        vm.send_input(command + "\n")
        assert vm.run(instructions=3_000_000_000, until_output="vmlab# ").reason == "output"
    return vm.console_output


@pytest.fixture(scope="module")
def bare_outputs():
    return command_outputs(without_cursor_query(vmlab_shell(boot_bare())))


@pytest.mark.slow
@pytest.mark.skipif(not HAS_FD, reason=NEEDS_FD)
@pytest.mark.parametrize("shadow,firmware", [("sfence", "hv"), ("write-protect", "hv"),
                                             ("sfence", "opensbi")])
def test_linux_shell_as_a_guest_matches_bare(shadow, firmware, bare_outputs):
    """Debian's Linux as a guest reaches the shell and its commands print what they print
    bare: with the hypervisor's SBI under both coherence strategies, and behind OpenSBI in
    virtual M-mode.  Busybox uses F/D from its first instruction, so this also carries the
    vCPU's FP state through every exit."""
    bios = str(need_file(OPENSBI_FW_JUMP, "opensbi")) if firmware == "opensbi" else None
    vm = boot_as_guest(shadow, bios)
    guest = command_outputs(without_cursor_query(vm_shell(vm)))
    for command in COMMANDS:            # /proc/cpuinfo too: the vCPU is the hart it runs on,
        want = bare_outputs[command]    # less H (trap-and-emulate gives a guest no VS-mode)
        if command == "cat /proc/cpuinfo":
            want = want.replace("rv64imafdch_", "rv64imafdc_")
            assert cpuinfo(bare_outputs, "isa") == "rv64imafdch"
        assert guest[command] == want, command
    handlers = vm.trace.handler_counts
    assert handlers["csr"] > 0 and handlers["fill"] > 0
    assert (handlers["pt-write"] > 0) == (shadow == "write-protect")
    assert (handlers["sbi"] > 0) == (firmware == "hv") and (handlers["mret"] > 0) == (bios is not None)


def cpuinfo(outputs: dict, field: str) -> str:
    """A /proc/cpuinfo field of hart 0 (for isa: the single-letter part -- the multi-letter
    extensions differ on purpose: QEMU runs here without Sstc)."""
    for line in outputs["cat /proc/cpuinfo"].splitlines():
        key, _, value = line.partition(":")
        if key.strip() == field:
            return value.strip().split("_")[0]
    return ""
