/* head.S: the setup area and the entry points of the bzImage test guest.
 *
 * File layout (Documentation/arch/x86/boot.rst), after `objcopy -O binary`:
 *   0x000-0x3ff  setup area, setup_sects = 1: boot-sector space, the setup header at 0x1f1,
 *                the jump at 0x200, a 16-bit stub and the kernel_version string
 *   0x400-       the "protected-mode kernel", linked at pref_address (0x1000000):
 *                +0x000 32-bit entry (startup_32), +0x200 64-bit entry (startup_64),
 *                then main.c. All of it is position independent (RIP-relative only;
 *                guests.mk checks the relocations), which makes relocatable_kernel = 1 true.
 *
 * Only the 64-bit entry is supported. The 16-bit setup entry (what QEMU's option ROM and
 * BIOS boot loaders jump to) prints one line and exits with debug-exit value 3; the 32-bit
 * entry exits with value 3 without printing. */

#define SETUP_SECTS     1
#define LOADED_HIGH     0x01
#define XLF_KERNEL_64   0x0001
#define XLF_ABOVE_4G    0x0002  /* XLF_CAN_BE_LOADED_ABOVE_4G */
#define COM1            0x3f8
#define COM1_LSR        0x3fd
#define LSR_THRE        0x20
#define DEBUG_EXIT      0xf4
#define WRONG_ENTRY     3       /* debug-exit value of the unsupported entries */

/* ---------------------------------------------------------------- setup area */
	.section .setup, "ax", @progbits
	.code16
setup_start:
	.org 0x1f1
	.byte SETUP_SECTS               /* 0x1f1 setup_sects */
	.word 0                         /* 0x1f2 root_flags */
	.long bz_syssize                /* 0x1f4 syssize: 16-byte paragraphs (bzimage.ld) */
	.word 0                         /* 0x1f8 ram_size (obsolete) */
	.word 0xffff                    /* 0x1fa vid_mode: NORMAL_VGA */
	.word 0                         /* 0x1fc root_dev */
	.word 0xaa55                    /* 0x1fe boot_flag */
	.byte 0xeb, setup16 - 1f        /* 0x200 jump: short jmp over the header */
1:	.ascii "HdrS"                   /* 0x202 header */
	.word 0x020f                    /* 0x206 version 2.15 */
	.long 0                         /* 0x208 realmode_swtch */
	.word 0x1000                    /* 0x20c start_sys_seg (obsolete) */
	.word kversion - setup_start - 0x200 /* 0x20e kernel_version */
	.byte 0                         /* 0x210 type_of_loader: set by the loader */
	.byte LOADED_HIGH               /* 0x211 loadflags */
	.word 0x8000                    /* 0x212 setup_move_size */
	.long 0x100000                  /* 0x214 code32_start: set by the loader */
	.long 0                         /* 0x218 ramdisk_image */
	.long 0                         /* 0x21c ramdisk_size */
	.long 0                         /* 0x220 bootsect_kludge */
	.word 0                         /* 0x224 heap_end_ptr */
	.byte 0                         /* 0x226 ext_loader_ver */
	.byte 0                         /* 0x227 ext_loader_type */
	.long 0                         /* 0x228 cmd_line_ptr */
	.long 0x7fffffff                /* 0x22c initrd_addr_max */
	.long 0x200000                  /* 0x230 kernel_alignment */
	.byte 1                         /* 0x234 relocatable_kernel */
	.byte 21                        /* 0x235 min_alignment: log2(2 MiB) */
	.word XLF_KERNEL_64 | XLF_ABOVE_4G /* 0x236 xloadflags */
	.long 2047                      /* 0x238 cmdline_size */
	.long 0                         /* 0x23c hardware_subarch: PC */
	.quad 0                         /* 0x240 hardware_subarch_data */
	.long 0                         /* 0x248 payload_offset: nothing compressed */
	.long 0                         /* 0x24c payload_length */
	.quad 0                         /* 0x250 setup_data */
	.quad bz_pref_address           /* 0x258 pref_address */
	.long bz_init_size              /* 0x260 init_size */
	.long 0                         /* 0x264 handover_offset: no EFI handover */
	.long bz_kernel_info_offset     /* 0x268 kernel_info_offset */
	/* 0x26c: end of the header (the jump above lands here) */

/* The 16-bit setup entry: CS = setup segment + 0x20, DS = setup segment (boot.rst). */
setup16:
	cli
	cld
	movw $msg16 - setup_start, %si
2:	lodsb
	testb %al, %al
	jz 4f
	movb %al, %ah
	movw $COM1_LSR, %dx
3:	inb %dx, %al
	testb $LSR_THRE, %al
	jz 3b
	movb %ah, %al
	movw $COM1, %dx
	outb %al, %dx
	jmp 2b
4:	movb $WRONG_ENTRY, %al
	outb %al, $DEBUG_EXIT
5:	hlt
	jmp 5b

msg16:	.asciz "bzimage: entered through the 16-bit setup code; only the 64-bit entry is supported\r\n"
kversion:
	.asciz "mote bzimage test guest"

	.org (SETUP_SECTS + 1) * 512 - 1 /* fails to assemble if the setup area overflows */
	.byte 0

/* ------------------------------------------------- protected-mode kernel */
	.section .head, "ax", @progbits
	.code32
	.globl startup_32
startup_32:                             /* +0x000: 32-bit entry, not supported */
	cli
	movb $WRONG_ENTRY, %al
	outb %al, $DEBUG_EXIT
1:	hlt
	jmp 1b

	/* kernel_info (boot protocol 2.15), as arch/x86/boot/compressed/kernel_info.S. */
	.balign 16
	.globl kernel_info
kernel_info:
	.ascii "LToP"                   /* header */
	.long 16                        /* size of the fixed part */
	.long 16                        /* size_total: no variable part */
	.long 0                         /* setup_type_max: no setup_data types */

	.org 0x200
	.code64
	.globl startup_64
startup_64:                             /* +0x200: 64-bit entry, RSI = zero page */
	movq %rsp, %r12                 /* the loader's stack pointer, reported only */
	leaq bz_stack_top(%rip), %rsp   /* own stack: the top of the init_size range */
	pushfq                          /* IF as the loader left it */
	popq %rdx
	movq %rsi, %rdi                 /* bz_main(zero_page, entry_rsp, entry_rflags) */
	movq %r12, %rsi
	cld
	call bz_main
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
