# Less common directives and pseudo-instructions: .previous, .equiv, .irpc, .ifc, .ifb,
# .elseif, macro :req/:vararg, unimp, zext.b.
    .equiv LIMIT, 3
    .macro sum dst:req, first, rest:vararg
    li  \dst, \first
    .ifnb \rest
    .irp v, \rest
    addi \dst, \dst, \v
    .endr
    .endif
    .endm
    .text
_start:
    sum a0, 1, 2, 3, 4
    sum a1, 5
    .ifc abc, abc
    li a2, 1
    .endif
    .ifc abc, abd
    li a2, 2
    .endif
    .if LIMIT == 1
    li a3, 1
    .elseif LIMIT == 3
    li a3, 3
    .else
    li a3, 0
    .endif
    zext.b a4, a5
    .data
    .word 1
    .previous
    unimp
    .option norvc
    unimp
    .option rvc
    ret
