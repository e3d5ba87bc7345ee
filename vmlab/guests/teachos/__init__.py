"""teachos: a small RV64 operating system for teaching, shipped as assembly source.

It boots in S-mode at 0x8020_0000 under OpenSBI (or a hypervisor's SBI), turns on Sv39
paging, runs three user processes under timer-driven round robin, serves their system
calls, reads a disk sector through a virtio-mmio block driver, kills a process that
touches kernel memory, prints a summary and powers off through SBI SRST. On a board with
several harts (up to 4) it starts the others through SBI HSM and runs the processes on all
of them; under a hypervisor that reports it (SBI STA) it prints each hart's steal time.

The source is split into parts a student can read one at a time (:data:`PARTS`, in
the order they are assembled); :func:`source` joins them into one file and
:func:`build` assembles that with vmlab's own assembler::

    >>> from vmlab.guests import teachos
    >>> program = teachos.build()
    >>> hex(program.entry), "ticks" in program.symbols
    ('0x80200000', True)

GNU binutils build the same bytes from the same text::

    riscv64-unknown-elf-as -march=rv64imac_zicsr_zifencei -mno-relax -o os.o os.s
    riscv64-unknown-elf-ld -T teachos.ld -o os.elf os.o      # teachos.ld: linker_script()
"""
from __future__ import annotations

from importlib import resources

#: The parts, in assembly order (each is a file ``<name>.s`` in this package).
PARTS = ("layout", "boot", "console", "sbi", "smp", "vm", "trap", "proc", "sched", "syscall",
         "virtio", "user")

#: Where OpenSBI's fw_jump (and QEMU's ``-kernel``) starts an S-mode kernel.
KERNEL_BASE = 0x8020_0000

#: The assembler's extensions, in GNU's spelling.
GNU_MARCH = "rv64imac_zicsr_zifencei"


def part(name: str) -> str:
    """The source text of one part, e.g. ``part("trap")``."""
    if name not in PARTS:
        raise ValueError(f"no part {name!r}: the parts are {', '.join(PARTS)}")
    return resources.files(__package__).joinpath(f"{name}.s").read_text()


def source() -> str:
    """The whole OS as one assembly file: the parts, one after the other.

    Each part starts with a ``# ==== <name>.s`` banner line, so that an assembler
    message's line number can be traced back to its part.
    """
    return "".join(f"# ==== {name}.s\n{part(name)}\n" for name in PARTS)


def build(pv_console: bool = False, sstc_timer: bool = False, balloon: bool = False):
    """Assemble :func:`source` with vmlab.asm, linked at :data:`KERNEL_BASE`.

    Returns a :class:`vmlab.asm.Program`: ``.elf`` for a loader or QEMU's ``-kernel``,
    ``.symbols`` (e.g. ``ticks``, the count of timer interrupts the kernel took).
    The options are assembly-time switches (``.equ`` lines before the source) for
    comparing a kernel's interfaces under a hypervisor: ``pv_console`` prints through
    SBI putchar instead of the UART, ``sstc_timer`` arms the timer by writing stimecmp
    instead of calling SBI set_timer.  ``balloon`` adds the virtio-balloon driver
    (:func:`with_balloon`).
    """
    from vmlab.asm import assemble
    options = "".join(f".equ {name}, 1\n" for name, on in
                      (("PV_CONSOLE", pv_console), ("SSTC_TIMER", sstc_timer)) if on)
    text = with_balloon(source()) if balloon else source()
    return assemble(options + text, base=KERNEL_BASE, filename="teachos.s")


#: the balloon driver's hooks: after the disk is set up, and at the top of every tick
BALLOON_HOOKS = (("        call    virtio_init",
                  "        call    virtio_init\n        call    balloon_init"),
                 ("\ntick:\n",
                  "\ntick:\n        addi    sp, sp, -16\n        sd      ra, 8(sp)\n"
                  "        call    balloon_poll\n        ld      ra, 8(sp)\n"
                  "        addi    sp, sp, 16\n"))


def with_balloon(text: str) -> str:
    """``text`` (:func:`source`) with balloon.s before user.s (whose .bss ends the
    kernel), balloon_init called at boot and balloon_poll on every tick."""
    for old, new in BALLOON_HOOKS:
        if text.count(old) != 1:
            raise ValueError(f"teachos: no single place for the balloon hook {old.strip()!r}")
        text = text.replace(old, new)
    user = text.index("# ==== user.s\n")
    return text[:user] + f"# ==== balloon.s\n{_read('balloon')}\n" + text[user:]


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(f"{name}.s").read_text()


def linker_script() -> str:
    """A GNU ld script that lays the sections out as vmlab.asm does."""
    return (
        "OUTPUT_ARCH(riscv)\n"
        "ENTRY(_start)\n"
        "SECTIONS {\n"
        f"  . = {KERNEL_BASE:#x};\n"
        "  .text : { *(.text) }\n"
        "  .rodata : { *(.rodata) }\n"
        "  .data : { *(.data) }\n"
        "  .bss : { *(.bss) }\n"
        "}\n"
    )


def line_of(program_line: int) -> tuple[str, int]:
    """Map a line number of :func:`source` to (part name, line in that part)."""
    line = 0
    for name in PARTS:
        n = part(name).count("\n") + 2      # the banner line, and the joining newline
        if program_line <= line + n:
            return name, max(program_line - line - 1, 1)
        line += n
    raise ValueError(f"line {program_line} is past the end of teachos")
