/* PVH boot: the hvm_start_info structure (Xen's public arch-x86/hvm/start_info.h, a fact of
 * the ABI), the memory map and the initrd module, written into guest memory through the gate. */
#ifndef MOTE_ARCH_X86_PVH_H
#define MOTE_ARCH_X86_PVH_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "core/guest_mem.h"

#define PVH_START_MAGIC 0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version; /* 1: memmap fields valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct pvh_params {
	uint64_t entry;       /* 32-bit entry point from the ELF note */
	const char *cmdline;  /* may be NULL or "" */
	uint64_t initrd_gpa;  /* 0 when there is no initrd */
	uint64_t initrd_size;
	uint64_t rsdp_gpa;    /* 0 when there are no ACPI tables */
	const struct mem_map_entry *map;
	size_t map_len;
};

/* Writes cmdline, memory map, module list and hvm_start_info at the addresses in
 * arch/x86/layout.h and the boot GDT, and fills *out for a BOOT_PVH32 entry.
 * Returns 0, or -1 with err set (cmdline too long, too many map entries, ...). */
int pvh_setup(const struct guest_mem *gm, const struct pvh_params *p, struct boot_entry *out,
	      char *err, size_t errlen);

/* Writes the flat boot GDT at X86_BOOT_GDT_GPA. Entries (selector: meaning):
 * 0x08 code32, 0x10 code64, 0x18 data, 0x20 TSS. Returns 0 or -1. */
int x86_write_boot_gdt(const struct guest_mem *gm);
#define X86_SEL_CODE32 0x08
#define X86_SEL_CODE64 0x10
#define X86_SEL_DATA 0x18
#define X86_SEL_TSS 0x20

/* Picks where an initrd of size bytes goes: the highest page-aligned address such that
 * it ends at or below min(max_end, end of the RAM region holding min_gpa... ) and starts at
 * or above min_gpa. Returns 0 with *gpa set, or -1 with err set (does not fit). */
int x86_place_initrd(const struct guest_mem *gm, uint64_t size, uint64_t min_gpa,
		     uint64_t max_end, uint64_t *gpa, char *err, size_t errlen);

#endif
