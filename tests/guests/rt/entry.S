/* entry.S: PVH entry of every test guest and the drop to ring 3. Owns the
 * static page tables, GDT, TSS (with an all-ports I/O bitmap) and the null IDT
 * (any exception escalates to a triple fault). Ring-0 code is emulated (slow)
 * on some hosts: this path is ~50 instructions plus a string-instruction scan
 * for `ring0`; bss zeroing, start-info copy and parsing run at ring 3. */

#define MSR_EFER   0xc0000080
#define KCODE      0x08          /* 64-bit kernel code */
#define KDATA      0x10
#define USER_DS    0x1b          /* 0x18 | RPL 3 */
#define USER_CS    0x23          /* 0x20 | RPL 3 */
#define TSS_SEL    0x28
#define HVM_MAGIC  0x336ec578

/* ELF note "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY): 32-bit entry address. */
	.section .note.pvh, "a", @note
	.balign 4
	.long 4, 4, 18
	.asciz "Xen"
	.long _start32

	.section .text.entry, "ax", @progbits
	.code32
	.globl _start32
_start32:                         /* 32-bit flat, paging off, EBX = start info */
	movl %ebx, rt_start_info
	movl $0x20, %eax              /* CR4.PAE */
	movl %eax, %cr4
	movl $rt_pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	movl $0x100, %eax             /* EFER.LME */
	xorl %edx, %edx
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax         /* CR0.PG | CR0.PE */
	movl %eax, %cr0
	lgdt rt_gdt_ptr
	ljmp $KCODE, $start64

	.code64
start64:
	movl $KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movl $rt_kstack_top, %esp
	movl $rt_tss, %eax            /* patch the TSS base into its descriptor */
	movw %ax, rt_gdt_tss + 2
	shrl $16, %eax
	movb %al, rt_gdt_tss + 4
	movb %ah, rt_gdt_tss + 7
	movl $TSS_SEL, %eax
	ltr %ax
	lidt rt_idt_null
	call want_ring0
	testl %eax, %eax
	jnz 2f
	/* iretq to ring 3 with IOPL=3, IF=0. Some hosts (PVM) drop IOPL for
	 * ring 3, so the TSS also carries an all-zero I/O permission bitmap. */
	pushq $USER_DS
	pushq $rt_ustack_top
	pushq $0x3002
	pushq $USER_CS
	pushq $rt_user_start
	iretq
2:	movl $rt_ustack_top, %esp     /* `ring0`: run everything at ring 0 */
	jmp rt_user_start

/* Does the command line hold the word `ring0`? -> %eax. Every ring-0
 * instruction is costly under emulation, so this uses `repne scasb` (once to
 * find the NUL, then from 'r' to 'r') and checks "ing0" with one compare. */
want_ring0:
	movl rt_start_info, %esi
	cmpl $HVM_MAGIC, (%rsi)
	jne 9f
	movq 24(%rsi), %rdi           /* cmdline_paddr */
	testq %rdi, %rdi
	jz 9f
	movq %rdi, %rdx               /* %rdx = start */
	movl $4096, %ecx
	xorl %eax, %eax
	cld
	repne scasb                   /* find the NUL */
	leaq -1(%rdi), %rcx
	subq %rdx, %rcx               /* %rcx = length */
	jz 9f
	movq %rdx, %rdi
	movb $'r', %al
1:	repne scasb                   /* %rdi = just past the next 'r' */
	jne 9f
	cmpl $0x30676e69, (%rdi)      /* "ing0" */
	jne 1b
	leaq -1(%rdi), %rsi
	cmpq %rdx, %rsi               /* word starts at the 'r'? */
	je 2f
	cmpb $' ', -2(%rdi)
	ja 1b
2:	cmpb $' ', 4(%rdi)            /* and ends after the '0' (space or NUL) */
	ja 1b
	movl $1, %eax
	ret
9:	xorl %eax, %eax
	ret

	.text
rt_user_start:                    /* normally ring 3 (native speed) */
	movl $__bss_start, %edi       /* zero .bss (the stacks are not in it) */
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $3, %ecx
	xorl %eax, %eax
	cld
	rep stosq
	call rt_init                  /* copies the start info */
	call main
	movl %eax, %edi
	call rt_exit

	.data
	.globl rt_start_info
	.balign 8
rt_start_info: .quad 0            /* in .data: .bss is zeroed after entry */

/* Identity map of 0-4 GiB with 2 MiB pages, all Present|Writable|User;
 * the top GiB (MMIO) also uncached. Built by the assembler, not at runtime. */
	.balign 4096
	.globl rt_pml4
rt_pml4:
	.quad rt_pdpt + 7
	.fill 511, 8, 0
rt_pdpt:
	.quad rt_pd + 0x0000 + 7, rt_pd + 0x1000 + 7
	.quad rt_pd + 0x2000 + 7, rt_pd + 0x3000 + 7
	.fill 508, 8, 0
rt_pd:
	.set pg, 0
	.rept 1536
	.quad (pg << 21) | 0x87       /* P | RW | US | PS */
	.set pg, pg + 1
	.endr
	.rept 512
	.quad (pg << 21) | 0x9f       /* ... | PWT | PCD */
	.set pg, pg + 1
	.endr

	.balign 16
rt_gdt:
	.quad 0
	.quad 0x00af9a000000ffff      /* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff      /* 0x10 kernel data */
	.quad 0x00cff2000000ffff      /* 0x18 user data */
	.quad 0x00affa000000ffff      /* 0x20 user code, 64-bit */
rt_gdt_tss:                       /* 0x28 available 64-bit TSS; base set at boot */
	.word rt_tss_end - rt_tss - 1, 0
	.byte 0, 0x89, 0, 0
	.quad 0
rt_gdt_end:
rt_gdt_ptr:
	.word rt_gdt_end - rt_gdt - 1
	.long rt_gdt
rt_idt_null:                      /* limit 0: every vector faults -> triple fault */
	.word 0
	.quad 0

	.balign 16
rt_tss:
	.long 0
	.quad rt_kstack_top           /* RSP0 */
	.fill 88, 1, 0                /* RSP1-2, IST1-7, reserved */
	.word 0, 104                  /* I/O permission bitmap right after */
	.fill 8192, 1, 0              /* all ports allowed at ring 3 (see below) */
	.byte 0xff                    /* required terminator */
rt_tss_end:

	.section .stack, "aw", @nobits   /* after .bss, never zeroed */
	.balign 16
	.skip 4096
rt_kstack_top:
	.skip 65536
rt_ustack_top:

/* Application-processor start (rt_start_ap): real-mode code the BSP copies to RT_AP_BASE and
 * points a SIPI at. It enters protected mode with its own small GDT, then long mode on the
 * BSP's page tables (rt_pml4), and jumps to the C entry at ring 0 with its own stack (the
 * three quads at the end, filled in by rt_start_ap). Interrupts stay off. */
#define RT_AP_BASE 0x3000
	.section .rodata
	.balign 16
	.code16
	.globl rt_ap_tramp, rt_ap_tramp_end, rt_ap_params
rt_ap_tramp:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (ap_gdt_ptr - rt_ap_tramp)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $(RT_AP_BASE + ap32 - rt_ap_tramp)
	.code32
ap32:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl $0x20, %eax              /* CR4.PAE */
	movl %eax, %cr4
	movl (RT_AP_BASE + rt_ap_params - rt_ap_tramp), %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	movl $0x100, %eax             /* EFER.LME */
	xorl %edx, %edx
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	ljmp $0x18, $(RT_AP_BASE + ap64 - rt_ap_tramp)
	.code64
ap64:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movq (RT_AP_BASE + rt_ap_params + 16 - rt_ap_tramp), %rsp
	movq (RT_AP_BASE + rt_ap_params + 8 - rt_ap_tramp), %rax
	call *%rax
1:	hlt
	jmp 1b
	.balign 8
ap_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff      /* 0x08 code, 32-bit */
	.quad 0x00cf92000000ffff      /* 0x10 data */
	.quad 0x00af9a000000ffff      /* 0x18 code, 64-bit */
ap_gdt_ptr:
	.word 31
	.long RT_AP_BASE + ap_gdt - rt_ap_tramp
	.balign 8
rt_ap_params:                     /* cr3, entry, stack top */
	.quad 0, 0, 0
rt_ap_tramp_end:

	.section .note.GNU-stack, "", @progbits
