# The shape of compiler output: .file/.attribute/.ident, .type/.size, merged-string sections,
# .p2align with an empty fill and a max, .balign with empty operands, a non-loaded section.
	.file	"t.c"
	.option nopic
	.attribute arch, "rv64i2p1_m2p0_a2p1_c2p0"
	.attribute unaligned_access, 0
	.attribute stack_align, 16
	.text
	.align	1
	.globl	main
	.type	main, @function
main:
	addi	sp,sp,-16
	sd	s0,8(sp)
	addi	s0,sp,16
	lla	a0,.LC0
	call	puts
	li	a5,0
	mv	a0,a5
	ld	s0,8(sp)
	addi	sp,sp,16
	jr	ra
	.size	main, .-main
	.align	1
	.globl	puts
	.type	puts, @function
puts:
	.p2align 2,,3
	ret
	.balign 8,,
	.size	puts, .-puts
	.section	.rodata.str1.8,"aMS",@progbits,1
	.align	3
.LC0:
	.string	"hi"
	.ident	"GCC: (GNU) 13.2.0"
	.section	.note.GNU-stack,"",@progbits
