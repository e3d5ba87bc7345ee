"""``vmlab run`` (bare and --hv) answers careless input with one line and status 1, never a
traceback, never a hang (issue 16's list for ``run``); the disk keeps what a guest wrote."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from vmlab.asm import assemble

HV = [[], ["--hv"]]

PRINT_FOREVER = """
    .globl _start
_start:
    li   t0, 0x10000000
1:  li   t1, 'x'
    sb   t1, 0(t0)
    li   t2, 2000               # a pause between bytes: few exits under --hv
2:  addi t2, t2, -1
    bnez t2, 2b
    j    1b
"""

WFI_INTERRUPTS_OFF = """
    .globl _start
_start:
    csrw mie, zero
1:  wfi
    j    1b
"""

CSR_LOOP = """
    .globl _start
_start:
    li   t0, 1000
1:  csrr t1, mscratch
    addi t0, t0, -1
    bnez t0, 1b
    li   t0, 0x100000
    li   t1, 0x5555
    sw   t1, 0(t0)
2:  j    2b
"""


def vmlab(*argv, stdin=subprocess.DEVNULL, timeout=600):
    return subprocess.run([sys.executable, "-m", "vmlab", *map(str, argv)],
                          capture_output=True, stdin=stdin, timeout=timeout)


def one_line_error(r, *words):
    err = r.stderr.decode()
    assert r.returncode == 1, (r.returncode, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for w in words:
        assert w in err, err


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    def build(src: str, name: str):
        path = tmp_path_factory.mktemp("elf") / name
        path.write_bytes(assemble(src, base=0x8000_0000).elf)
        return path
    return build


@pytest.mark.parametrize("hv", HV)
def test_truncated_elf(tmp_path, elf, hv):
    whole = elf(CSR_LOOP, "whole.elf").read_bytes()
    for cut in (20, 70, len(whole) // 2, len(whole) - 3):
        bad = tmp_path / f"cut{cut}.elf"
        bad.write_bytes(whole[:cut])
        one_line_error(vmlab("run", *hv, bad), "ELF")


@pytest.mark.parametrize("hv", HV)
@pytest.mark.parametrize("args,word", [
    (["-n", "1e400"], "whole number"), (["-n", "-5"], "negative"),
    (["--insns", "-1"], "negative"), (["-n", "nan"], "whole number"),
    (["--ram", "infM"], "RAM size"), (["--ram", "nanG"], "RAM size"),
    (["--send-on", "x", "\\x"], "escape"), (["--harts", "100000"], "harts"),
    (["--harts", "0"], "harts"),
])
def test_bad_arguments(elf, hv, args, word):
    one_line_error(vmlab("run", *hv, elf(CSR_LOOP, "ok.elf"), *args), word)


@pytest.mark.parametrize("hv", HV)
def test_drive_that_is_a_directory(tmp_path, elf, hv):
    one_line_error(vmlab("run", *hv, elf(CSR_LOOP, "ok.elf"), "--drive", tmp_path), "directory")


def test_hv_ram_limit_is_one_it_accepts(elf):
    r = vmlab("run", "--hv", elf(CSR_LOOP, "ok.elf"), "--ram", "16G")
    one_line_error(r, "RAM")
    limit = r.stderr.decode().split("and ")[1].split(",")[0]
    assert limit != "16 GiB", "the message must name a limit --hv accepts"


@pytest.mark.parametrize("hv", HV)
def test_output_into_a_closed_pipe_ends_quietly(elf, hv):
    p = subprocess.Popen([sys.executable, "-m", "vmlab", "run", *hv,
                          str(elf(PRINT_FOREVER, "chatty.elf"))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    assert p.stdout.read(10) == b"x" * 10
    p.stdout.close()                            # what `| head -c 10` does
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err


@pytest.mark.parametrize("hv", HV)
def test_wfi_with_interrupts_off_ends_although_stdin_is_open(elf, hv):
    p = subprocess.Popen([sys.executable, "-m", "vmlab", "run", *hv,
                          str(elf(WFI_INTERRUPTS_OFF, "sleeper.elf")), "-n", "100000"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=60)     # stdin stays open until the end
    finally:
        p.kill()
    assert p.returncode == 1 and b"no interrupt is enabled" in err, err


def test_hv_stats_do_not_count_traps_as_guest_instructions(elf):
    r = vmlab("run", "--hv", elf(CSR_LOOP, "csr.elf"), "--stats")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stderr.decode().splitlines() if ln.startswith("guest instructions"))
    on_hart = int(line.split(":")[1].split()[0])
    trapped = int(line.split("+ ")[1].split()[0])
    assert trapped >= 1000          # every csrr traps to the hypervisor
    assert on_hart < 2100           # addi + bnez per round, and the few others


def test_read_only_drive_is_offered_read_only(tmp_path, elf):
    """--drive FILE,readonly and a file without write permission: the guest's writes fail
    with IOERR (VIRTIO_BLK_F_RO is offered), the file is untouched, nothing crashes."""
    from vmlab.guests import source
    prog = tmp_path / "diskirq.elf"
    prog.write_bytes(assemble(source("diskirq"), base=0x8000_0000).elf)
    for mode, spec in ((0o644, "{},readonly"), (0o444, "{}")):
        img = tmp_path / f"disk{mode:o}.img"
        img.write_bytes(os.urandom(16 * 512))
        before = img.read_bytes()
        img.chmod(mode)
        r = vmlab("run", prog, "--drive", spec.format(img), "-n", "5e6")
        assert b"r 7 " in r.stdout and b"disk: request failed" in r.stdout, r.stdout
        assert "Traceback" not in r.stderr.decode()
        assert img.read_bytes() == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_written_blocks_survive_sigterm_and_sighup(tmp_path, sig):
    """A completed write is in the file even if vmlab is then killed by a signal."""
    from vmlab.guests import source
    src = source("diskirq").replace("        li      t0, TEST\n        li      t1, 0x5555",
                                    "4:      j       4b\n        li      t0, TEST\n        li      t1, 0x5555", 1)
    prog = tmp_path / "stays.elf"
    prog.write_bytes(assemble(src, base=0x8000_0000).elf)
    img = tmp_path / "disk.img"
    img.write_bytes(bytes(16 * 512))
    p = subprocess.Popen([sys.executable, "-m", "vmlab", "run", str(prog), "--drive", str(img)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    seen = b""
    while b"irqs" not in seen:
        chunk = p.stdout.read1(4096)
        assert chunk, p.stderr.read()
        seen += chunk
    p.send_signal(sig)
    p.wait(timeout=30)
    data = img.read_bytes()
    for s in range(8, 16):
        expected = bytes((s * 7 + i * 13) & 0xFF for i in range(512))
        assert data[s * 512:(s + 1) * 512] == expected


SPIN = """
    .globl _start
_start:
1:  j 1b
"""


@pytest.mark.parametrize("hv", HV)
def test_a_spent_budget_says_so_with_the_pc(elf, hv):
    """-n ending a guest that never halts is status 1 *with* a line saying why and where
    (a silent 1 reads as a crash)."""
    r = vmlab("run", *hv, elf(SPIN, "spin.elf"), "-n", "5000")
    err = r.stderr.decode()
    assert r.returncode == 1
    assert "stopped after 5000 instructions" in err and "at pc 0x80000000" in err, err
    assert "Traceback" not in err
