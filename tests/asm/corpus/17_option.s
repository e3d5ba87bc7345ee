# .option rvc / norvc / push / pop switch compression on and off.
    .text
_start:
    addi a0, a0, 1
    .option norvc
    addi a0, a0, 1
    .option push
    .option rvc
    addi a0, a0, 1
    .option pop
    addi a0, a0, 1
    .option rvc
    addi a0, a0, 1
    .option push
    .option norvc
    li   a0, 1
    .option pop
    li   a0, 1
    ret
    .option arch, -c        # the newer spelling of norvc
    addi a0, a0, 1
    .option arch, +c
    addi a0, a0, 1
    .option arch, rv64ima
    addi a0, a0, 1
    .option arch, rv64imac
    addi a0, a0, 1
