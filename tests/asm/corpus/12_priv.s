# Privileged and system instructions.
    .text
_start:
    ecall
    ebreak
    mret
    sret
    wfi
    sfence.vma
    sfence.vma a0
    sfence.vma a0, a1
    sfence.vma zero, a1
    fence
    fence rw, rw
    fence.i
    fence.tso
    .option norvc
    ebreak
    .option rvc
    ebreak                  # c.ebreak
    ret
