/* What a guest loader produces: the CPU state the first vCPU enters with.
 * Loaders (ELF/PVH today, bzImage later) fill this; the KVM layer turns it into registers.
 * No KVM here. */
#ifndef MOTE_BOOT_BOOT_H
#define MOTE_BOOT_BOOT_H

#include <stdint.h>

enum boot_mode {
	BOOT_NONE = 0,
	/* PVH: 32-bit protected mode, paging off, flat CS/DS/ES/SS, EFLAGS.IF = 0,
	 * rip = 32-bit entry, rbx = guest-physical address of struct hvm_start_info. */
	BOOT_PVH32,
	/* Linux 64-bit boot protocol: long mode, paging on with identity page tables at cr3,
	 * flat 64-bit CS (selector 0x10) and data (0x18), rip = 64-bit entry (startup_64),
	 * rsi = guest-physical address of the zero page (struct boot_params). */
	BOOT_LINUX64,
	/* Solo5 hvt: long mode with paging (cr3), CR0.WP and EFER.NXE on (W^X page tables), SSE
	 * enabled, flat 64-bit CS 0x08 and data 0x10 from the GDT at gdt_gpa (3 entries),
	 * rip = e_entry, rdi = the boot info, rsp = top of RAM - 8. */
	BOOT_HVT64,
};

struct boot_entry {
	enum boot_mode mode;
	uint64_t rip;
	uint64_t rbx;
	uint64_t rsi;
	uint64_t gdt_gpa; /* where the boot GDT was written (flat code32/code64/data/TSS) */
	uint64_t cr3;     /* BOOT_LINUX64, BOOT_HVT64: the page tables' PML4 */
	uint64_t rdi;     /* BOOT_HVT64 */
	uint64_t rsp;     /* BOOT_HVT64 */
};

/* A memory map entry as the guest sees it (E820 / hvm_memmap_table_entry types). */
enum mem_type { MEM_RAM = 1, MEM_RESERVED = 2, MEM_ACPI = 3 };
struct mem_map_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#endif
