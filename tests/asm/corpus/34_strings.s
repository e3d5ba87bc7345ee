# Strings: .ascii (no terminator), .asciz and .string (NUL-terminated), escapes.
    .section .rodata
a:  .ascii "abc"
b:  .asciz "hello, world\n"
c:  .string "tab\there", "second"
d:  .ascii "\101\x42\"quoted\"\\"
e:  .asciz ""
    .text
_start:
    la a0, b
    ret
