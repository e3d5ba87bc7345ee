# Symbol attributes: binding, type and size.
    .text
    .globl _start
    .global helper
    .weak maybe
    .local quiet
    .type _start, @function
    .type helper, %function
    .type table, @object
_start:
    call helper
    j quiet
    .size _start, . - _start
helper:
    ret
    .size helper, . - helper
quiet:
    j  _start
maybe:
    ret
    .data
table: .word 1, 2, 3
    .size table, 12
