/* Comments and separators:
   block comments may span lines */
    .text
_start: li a0, 1; li a1, 2 ; add a0, a0, a1   # several statements on a line
    addi a0, a0, 1 /* a comment inside */ ; nop
label_a: label_b: nop
    .ascii "a # is not a comment; nor a separator"
    .balign 2
  ADDI a0, a0, 1
    ret # the end
    .data
    .byte 'a', 'b'; .byte ';', '#', ','    # character constants may be separators
    .byte 'x, '\n', '\\'
