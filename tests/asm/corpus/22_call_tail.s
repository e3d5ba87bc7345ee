# call and tail: auipc + jalr, always 8 bytes without linker relaxation.
    .text
_start:
    call f
    call t0, f
    tail f
    call far_away
    jump f, t1
f:
    tail _start

    .section .text.far, "ax", @progbits
far_away:
    ret
