/* mote's guest-physical layout for hvt unikernels, and the structures the tender writes there:
 * GDT, page tables (W^X from the ELF segment flags, page zero unmapped), boot info, command
 * line and manifest. Owns: the addresses (this is the one place that picks them) and the
 * page-table builder. Writes guest memory only through the gate; no KVM here.
 *
 *   0x00000  page zero                      not mapped
 *   0x01000  GDT (null, code64 0x08, data 0x10) not mapped
 *   0x02000  PML4, 0x03000 PDPT, 0x04000-0x07fff up to four PDs ([0, 4 GiB), one per GiB
 *            of RAM), 0x08000 PD at 4 GiB
 *   0x10000  4 KiB page tables for [0, kernel area end)  not mapped
 *   0x80000  struct hvt_boot_info           read-only, no-execute (and in the host)
 *   0x81000  command line (8 KiB)           read-only, no-execute
 *   0x83000  manifest (<= 6664 bytes)       read-only, no-execute
 *   0x100000 unikernel segments: code executable, data and rodata no-execute; code and
 *            rodata read-only in the host (so in KVM), 4 KiB pages up to the
 *            2 MiB boundary after the kernel; the rest of RAM (heap,
 *            stack below mem_size) writable + no-execute in 2 MiB pages, and so is the
 *            net ring's 2 MiB block at the top when there is one. RAM is [0, 4 GiB) at
 *            most, contiguous (no device hole: the VM has no devices), as solo5-hvt's.
 *   4 GiB    one uncached 2 MiB page for the MMIO hypercalls (no RAM behind it).
 */
#ifndef MOTE_HVT_LAYOUT_H
#define MOTE_HVT_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "boot/elf.h"
#include "core/guest_mem.h"

#define HVT_GDT_GPA 0x1000ull
#define HVT_PML4_GPA 0x2000ull
#define HVT_PDPT_GPA 0x3000ull
#define HVT_PD_GPA 0x4000ull       /* 4 pages */
#define HVT_PD_MMIO_GPA 0x8000ull
#define HVT_PT_GPA 0x10000ull
#define HVT_PT_END 0x80000ull      /* 112 page tables: 4 KiB pages for the first 224 MiB */
#define HVT_BOOT_INFO_GPA 0x80000ull
#define HVT_CMDLINE_GPA 0x81000ull
#define HVT_MFT_GPA 0x83000ull
#define HVT_RO_END 0x85000ull      /* end of the read-only tender-to-guest pages */
#define HVT_SEL_CODE 0x08
#define HVT_SEL_DATA 0x10
#define HVT_GDT_LIMIT (3 * 8 - 1)
#define HVT_PAGE_2M 0x200000ull
#define HVT_MIN_MEM HVT_PAGE_2M

/* Page-table entry bits. */
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull
#define PTE_SEG 0x200ull /* software bit (ignored by the CPU): set by a segment */
#define PTE_HOSTRO 0x400ull /* software bit: the page is read-only in KVM (host W^X) */
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* kernel_end for the boot info: one past the highest loaded byte, rounded up to 4 KiB. */
uint64_t hvt_kernel_end(const struct elf_exec *x);

/* Writes the GDT and the page tables for guest RAM of gm->size bytes at 0 and the loaded
 * segments. The non-writable segments are read-only in the host (hvt_ro_ranges; the caller
 * protects them), so they are writable in the guest's tables, as solo5-hvt maps them: a write
 * reaches KVM, fails there and the tender reports it. Code is executable, everything else
 * no-execute. Refuses (-1, err) a segment both writable and executable, two segments that
 * share a page with different permissions, and a kernel whose 4 KiB-mapped area does not fit
 * the page-table space. */
int hvt_build_paging(const struct guest_mem *gm, const struct elf_exec *x, char *err,
		     size_t errlen);

/* What the boot info says (struct hvt_boot_info). */
struct hvt_boot_params {
	uint64_t mem_size;   /* the unikernel's memory: RAM minus the net ring block, if any */
	uint64_t kernel_end;
	uint64_t tsc_hz;     /* 0 here; the caller patches it in once the vCPU exists */
	uint64_t net_ring;   /* the ring's address (HVT_FEATURE_NET_RING), or 0 */
	const char *cmdline;
	const uint8_t *mft;  /* copied to HVT_MFT_GPA, unless it is already there */
	size_t mft_size;
};

/* Boot info, command line and manifest copy. */
int hvt_write_boot_info(const struct guest_mem *gm, const struct hvt_boot_params *p, char *err,
			size_t errlen);

/* The ranges KVM should map read-only to the unikernel: its non-writable segments (text,
 * rodata, notes) rounded to whole pages, and the tender-written boot info pages up to 1 MiB,
 * merged where they touch, sorted. Returns how many were written to out (at most max). */
size_t hvt_ro_ranges(const struct elf_exec *x, struct gm_region *out, size_t max);
#define HVT_MAX_RO (ELF_MAX_PHDRS + 1)

#endif
