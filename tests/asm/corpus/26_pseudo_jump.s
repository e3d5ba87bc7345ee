# Jump pseudo-instructions and jalr's short forms.
    .text
_start:
    j    1f
1:  jal  2f
2:  jr   a0
    jr   t0
    jalr a1
    jalr t1
    jalr ra, a2
    jalr t0, a2, 8
    jalr 12(a3)
    ret
