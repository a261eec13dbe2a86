/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst): bzImage parsing and loading,
 * the zero page (struct boot_params) with e820 map, command line and initrd, and the identity
 * page tables for the 64-bit entry. The image is hostile: every header field is checked against
 * the file size and guest memory before anything is written (through the gate only). */
#ifndef MOTE_ARCH_X86_LINUX_H
#define MOTE_ARCH_X86_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "core/guest_mem.h"

#define LINUX_MIN_PROTOCOL 0x020c /* 2.12: 64-bit entry and xloadflags (Linux 3.8+) */

struct linux_params {
	const char *cmdline;    /* complete command line (mote's fragments already added) */
	const uint8_t *initrd;  /* NULL when none */
	uint64_t initrd_size;
	uint64_t rsdp_gpa;      /* 0 when no ACPI tables */
	const struct mem_map_entry *map; /* e820 map */
	size_t map_len;
};

/* Returns 1 when buf looks like a bzImage ("HdrS" at 0x202), without validating it. */
int linux_is_bzimage(const uint8_t *buf, size_t len);

/* Validates and loads a bzImage, writes the zero page at X86_ZERO_PAGE_GPA, the command line at
 * X86_CMDLINE_GPA, the initrd (highest fitting address below initrd_addr_max and the end of
 * low RAM, above the kernel's init_size), the boot GDT and the identity page tables, and
 * fills *out for BOOT_LINUX64. Returns 0, or -1 with a one-line reason (and guest memory
 * left as it was for all header/size errors). */
int linux_load_bzimage(const uint8_t *buf, size_t len, const struct guest_mem *gm,
		       const struct linux_params *p, struct boot_entry *out, char *err,
		       size_t errlen);

/* Writes identity page tables for the first 4 GiB (2 MiB pages) at X86_BOOT_PML4_GPA..;
 * returns the PML4 address in *cr3. Returns 0 or -1. */
int x86_write_boot_page_tables(const struct guest_mem *gm, uint64_t *cr3);

#endif
