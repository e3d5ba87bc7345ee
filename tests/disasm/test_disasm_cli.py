"""``vmlab disasm`` prints exactly what ``objdump -d`` prints, for ELF files and raw binaries."""
from __future__ import annotations

import re
import subprocess

import pytest

from objdump_oracle import objdump
from vmlab.cli import main
from vmlab.disasm import disassemble, disassemble_file

#: Small programs exercising what a listing shows: labels, branches to symbols, lui/auipc
#: address comments (gp- and tp-relative too), data in code ($d mapping symbols), zero runs,
#: data objects, compressed and uncompressed code, CSRs and floating point.
PROGRAMS = {
    "labels_and_branches": """
        .globl _start
        _start: li a0, 5
        loop:   addi a0, a0, -1
                bnez a0, loop
                call func
                tail func
        func:   auipc a1, 0
                addi a1, a1, 16
                lui a2, 0x12345
                ld a3, 8(a2)
                ld a4, 16(gp)
                sd a4, 24(tp)
                jalr ra, 0(a1)
                ret
    """,
    "data_in_text": """
        .globl _start
        _start: addi a0, a0, 1
                .word 0x12345678
                .half 0x1234
                .byte 1, 2, 3
                .balign 4
                csrr a0, mstatus
                .zero 24
                csrw mtvec, a0
                .byte 0, 0
        end:    ret
    """,
    "objects_and_floats": """
        .globl _start
        .text
        _start: fld fa0, 0(a0)
                fadd.d fa0, fa0, fa1, rtz
                fcvt.l.d a0, fa0
                fmv.x.d a1, fa0
                fsgnjn.d fa2, fa1, fa1
                frcsr a0
                j _start
        .type table, @object
        .size table, 20
        table:  .ascii "hello, world\\0\\0\\0\\0\\0\\0\\0\\0"
        after:  wfi
                sfence.vma a0
                mret
    """,
    "norvc": """
        .option norvc
        .globl _start
        _start: addi sp, sp, -16
                sd ra, 8(sp)
                mv a0, a1
                not a0, a0
                sext.w a0, a0
                lr.w.aq a0, (a1)
                sc.d.rl a2, a3, (a1)
                fence rw, w
                fence.i
                ecall
    """,
}


def _build(src: str, tmp_path, gnu_as, gnu_ld, name="prog"):
    (tmp_path / f"{name}.s").write_text(src)
    subprocess.run([gnu_as, "-march=rv64imafdc_zicsr_zifencei", "-o", str(tmp_path / f"{name}.o"),
                    str(tmp_path / f"{name}.s")], check=True)
    subprocess.run([gnu_ld, "-Ttext=0x80000000", "-o", str(tmp_path / f"{name}.elf"),
                    str(tmp_path / f"{name}.o")], check=True)
    return tmp_path / f"{name}.elf"


def _vmlab(capsys, *argv) -> tuple[int, str, str]:
    status = main(["disasm", *argv])
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize("aliases", [True, False], ids=["aliases", "no-aliases"])
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_elf_listing_is_objdumps(name, aliases, capsys, tmp_path, gnu_as, gnu_ld, gnu_objdump):
    elf = _build(PROGRAMS[name], tmp_path, gnu_as, gnu_ld)
    extra = [] if aliases else ["-M", "no-aliases"]
    status, ours, _ = _vmlab(capsys, str(elf), *([] if aliases else ["--no-aliases"]))
    assert status == 0
    assert ours == objdump(gnu_objdump, elf, "-d", *extra)


def test_raw_binary_with_base(capsys, tmp_path, gnu_as, gnu_ld, gnu_objdump):
    elf = _build(PROGRAMS["labels_and_branches"], tmp_path, gnu_as, gnu_ld)
    raw = tmp_path / "prog.bin"
    subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(raw)],
                   check=True)
    status, ours, _ = _vmlab(capsys, str(raw), "--base", "0x80000000")
    assert status == 0
    theirs = objdump(gnu_objdump, raw, "-D", "-b", "binary", "-m", "riscv:rv64",
                     "--adjust-vma=0x80000000")
    assert ours == theirs


def test_records_carry_targets_and_symbols(tmp_path, gnu_as, gnu_ld, gnu_objdump):
    elf = _build(PROGRAMS["labels_and_branches"], tmp_path, gnu_as, gnu_ld)
    listing = disassemble_file(elf)
    by_address = {i.address: i for i in listing.instructions}
    branch = re.compile(r"^\s*([0-9a-f]+):.*\t([0-9a-f]+) <([^>]+)>$")
    checked = 0
    for line in objdump(gnu_objdump, elf, "-d").splitlines():
        m = branch.match(line)
        if m and "#" not in line:
            insn = by_address[int(m.group(1), 16)]
            assert (insn.target, insn.symbol) == (int(m.group(2), 16), m.group(3))
            checked += 1
    assert checked >= 2


def test_bytes_api_decodes_like_a_file(tmp_path, gnu_as, gnu_ld):
    elf = _build(PROGRAMS["norvc"], tmp_path, gnu_as, gnu_ld)
    listing = disassemble_file(elf)
    code = b"".join(i.bytes for i in listing.instructions)
    records = disassemble(code, 0x80000000)
    assert [(r.address, r.mnemonic, r.operands) for r in records] == \
        [(i.address, i.mnemonic, i.operands) for i in listing.instructions]


def test_user_errors(capsys, tmp_path):
    status, _, err = _vmlab(capsys, str(tmp_path / "missing.elf"))
    assert status == 1 and "no such file" in err
    not_riscv = tmp_path / "x86.elf"
    # An ELF header for another machine (EM_X86_64 = 62): refused, not misread.
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4:7] = bytes([2, 1, 1])
    header[16:20] = (2).to_bytes(2, "little") + (62).to_bytes(2, "little")
    header[20:24] = (1).to_bytes(4, "little")
    header[52:54] = (64).to_bytes(2, "little")
    not_riscv.write_bytes(bytes(header))
    status, _, err = _vmlab(capsys, str(not_riscv))
    assert status == 1 and "RISC-V" in err


def test_rv32_elf_is_refused(capsys, tmp_path, gnu_as):
    obj = tmp_path / "rv32.o"
    (tmp_path / "rv32.s").write_text("addi a0, a0, 1\n")
    subprocess.run([gnu_as, "-march=rv32imac", "-mabi=ilp32", "-o", str(obj),
                    str(tmp_path / "rv32.s")], check=True)
    status, _, err = _vmlab(capsys, str(obj))
    assert status == 1 and "32-bit" in err


def _corpus():
    from pathlib import Path
    return sorted((Path(__file__).parents[1] / "asm" / "corpus").glob("*.s"))


@pytest.mark.parametrize("relocatable", [False, True], ids=["linked", "object"])
def test_assembler_corpus_listings_are_objdumps(relocatable, capsys, tmp_path, gnu_as, gnu_ld,
                                               gnu_objdump):
    """Every program of the assembler's corpus, built by GNU as (and ld), lists the same."""
    sources = _corpus()
    if not sources:
        pytest.skip("no assembler corpus")
    bad = []
    for src in sources:
        obj = tmp_path / f"{src.stem}.o"
        built = subprocess.run([gnu_as, "-march=rv64imac_zicsr_zifencei", "-mno-relax", "-o",
                                str(obj), str(src)], capture_output=True)
        path = obj
        if built.returncode == 0 and not relocatable:
            path = tmp_path / f"{src.stem}.elf"
            built = subprocess.run([gnu_ld, "-Ttext=0x80000000", "-o", str(path), str(obj)],
                                   capture_output=True)
        if built.returncode != 0:
            continue  # a source meant for vmlab's own extensions: not this test's business
        for flags, ours_flags in [(["-d"], []), (["-d", "-M", "no-aliases"], ["--no-aliases"])]:
            _, ours, _ = _vmlab(capsys, str(path), *ours_flags)
            if ours != objdump(gnu_objdump, path, *flags):
                bad.append(f"{src.name} {' '.join(ours_flags)}")
    assert not bad, "listings differ from objdump's: " + ", ".join(bad)


def test_raw_binary_cut_inside_an_instruction(capsys, tmp_path, gnu_objdump):
    """A file that ends halfway through an instruction: objdump says it could not read it."""
    raw = tmp_path / "cut.bin"
    raw.write_bytes(b"hello\n")  # "\n" + "o": the low bits 11 of 0x0a6f announce 32 bits
    status, ours, _ = _vmlab(capsys, str(raw))
    assert status == 0
    assert ours == objdump(gnu_objdump, raw, "-D", "-b", "binary", "-m", "riscv:rv64")
