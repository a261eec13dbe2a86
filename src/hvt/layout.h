/* mote's guest-physical layout for hvt unikernels, and the structures the tender writes there:
 * GDT, page tables (W^X from the ELF segment flags, page zero unmapped), boot info, command
 * line and manifest. Owns: the addresses (this is the one place that picks them) and the
 * page-table builder. Writes guest memory only through the gate; no KVM here.
 *
 *   0x00000  page zero                      not mapped
 *   0x01000  GDT (null, code64 0x08, data 0x10) not mapped
 *   0x02000  PML4, 0x03000 PDPT, 0x04000-0x07fff four PDs ([0, 4 GiB)), 0x08000 PD at 4 GiB
 *   0x10000  4 KiB page tables for [0, kernel area end)  not mapped
 *   0x80000  struct hvt_boot_info           read-only, no-execute
 *   0x81000  command line (8 KiB)           read-only, no-execute
 *   0x83000  manifest (<= 6664 bytes)       read-only, no-execute
 *   0x100000 unikernel segments: code read-only + executable, data and rodata no-execute,
 *            4 KiB pages up to the 2 MiB boundary after the kernel; the rest of RAM (heap,
 *            stack at the top) writable + no-execute in 2 MiB pages.
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
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* Rounds a requested size down to whole 2 MiB pages (as solo5-hvt does). */
uint64_t hvt_mem_round(uint64_t bytes);

/* kernel_end for the boot info: one past the highest loaded byte, rounded up to 4 KiB. */
uint64_t hvt_kernel_end(const struct elf_exec *x);

/* Writes the GDT and the page tables for guest RAM of gm->size bytes at 0 and the loaded
 * segments. Refuses (-1, err) a segment both writable and executable, two segments that
 * share a page with different permissions, and a kernel whose 4 KiB-mapped area does not fit
 * the page-table space. */
int hvt_build_paging(const struct guest_mem *gm, const struct elf_exec *x, char *err,
		     size_t errlen);

/* Boot info, command line and manifest copy. */
int hvt_write_boot_info(const struct guest_mem *gm, uint64_t kernel_end, uint64_t tsc_hz,
			const char *cmdline, const uint8_t *mft, size_t mft_size, char *err,
			size_t errlen);

#endif
