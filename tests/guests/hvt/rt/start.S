/* Entry of the hvt test unikernels: the tender enters here in 64-bit mode at ring 0 with
 * rdi = struct hvt_boot_info * and rsp at the top of RAM. Also the CPU exception stubs:
 * each pushes (error code, vector) into one frame and calls hvt_trap(frame). */
	.section .text.entry, "ax"
	.globl _start
_start:
	andq $-16, %rsp
	call hvt_start
1:	jmp 1b

.macro TRAP n, ec
	.globl trap_\n
trap_\n:
	.if \ec == 0
	pushq $0
	.endif
	pushq $\n
	jmp trap_common
.endm

	.text
	TRAP 0, 0
	TRAP 1, 0
	TRAP 2, 0
	TRAP 3, 0
	TRAP 4, 0
	TRAP 5, 0
	TRAP 6, 0
	TRAP 7, 0
	TRAP 8, 1
	TRAP 9, 0
	TRAP 10, 1
	TRAP 11, 1
	TRAP 12, 1
	TRAP 13, 1
	TRAP 14, 1
	TRAP 15, 0
	TRAP 16, 0
	TRAP 17, 1
	TRAP 18, 0
	TRAP 19, 0

trap_common:
	movq %rsp, %rdi   /* vector, error code, rip, cs, rflags, rsp, ss */
	andq $-16, %rsp
	call hvt_trap
2:	jmp 2b

	.section .rodata
	.globl trap_table
	.balign 8
trap_table:
	.quad trap_0, trap_1, trap_2, trap_3, trap_4, trap_5, trap_6, trap_7, trap_8, trap_9
	.quad trap_10, trap_11, trap_12, trap_13, trap_14, trap_15, trap_16, trap_17, trap_18
	.quad trap_19
	.section .note.GNU-stack, "", @progbits
