/* One vCPU's architectural state as a debugger sees it: plain data, no KVM. The KVM layer
 * (kvm/debug.c) fills and applies it; the GDB stub (gdb/) formats it. */
#ifndef MOTE_ARCH_X86_CPU_STATE_H
#define MOTE_ARCH_X86_CPU_STATE_H

#include <stdint.h>

enum x86_gpr { X86_RAX, X86_RBX, X86_RCX, X86_RDX, X86_RSI, X86_RDI, X86_RBP, X86_RSP,
	       X86_R8, X86_R9, X86_R10, X86_R11, X86_R12, X86_R13, X86_R14, X86_R15 };
enum x86_seg { X86_CS, X86_SS, X86_DS, X86_ES, X86_FS, X86_GS };

struct x86_cpu_state {
	uint64_t gpr[16];  /* enum x86_gpr order (gdb's order) */
	uint64_t rip, rflags;
	uint16_t sel[6];   /* enum x86_seg order */
	uint64_t fs_base, gs_base;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint8_t st[8][10]; /* x87 registers, 80-bit */
	uint16_t fcw, fsw, ftw; /* ftw: the abridged (FXSAVE) tag byte */
	uint16_t fop;
	uint64_t fip, fdp;
	uint8_t xmm[16][16];
	uint32_t mxcsr;
};

#endif
