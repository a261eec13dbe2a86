/* PVH boot structures: command line, memory map, initrd module list, hvm_start_info and the
 * flat boot GDT, all written through the guest-memory gate at the addresses of layout.h.
 * Validates every input and every target range before the first write, so a refusal leaves
 * guest memory untouched. Knows nothing of KVM: the caller turns *out into registers. */
#include "arch/x86/pvh.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/log.h"

/* Sizes fixed by Xen's public start_info.h ABI. */
_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry is 32 bytes");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry is 24 bytes");

/* Standard flat descriptors (base 0). Access byte / flags nibble per entry:
 * code32 9b/c (present, ring 0, exec+read, accessed; 4 KiB granular, 32-bit), code64 9b/a
 * (L=1, D=0), data 93/c (read+write, accessed), TSS 8b/0 (busy 32-bit TSS, limit 0x67). */
static const uint64_t boot_gdt[] = {
	0,                     /* 0x00 null */
	0x00cf9b000000ffffull, /* 0x08 X86_SEL_CODE32 */
	0x00af9b000000ffffull, /* 0x10 X86_SEL_CODE64 */
	0x00cf93000000ffffull, /* 0x18 X86_SEL_DATA */
	0x00008b0000000067ull, /* 0x20 X86_SEL_TSS */
};
_Static_assert(sizeof(boot_gdt) == 5 * 8, "five 8-byte descriptors");
_Static_assert(X86_SEL_TSS / 8 + 1 == sizeof(boot_gdt) / 8, "selectors match the table");

/* The boot structures must not overlap each other. */
_Static_assert(X86_BOOT_GDT_GPA + sizeof(boot_gdt) <= X86_PVH_INFO_GPA, "GDT below start info");
_Static_assert(X86_PVH_INFO_GPA + sizeof(struct hvm_start_info) <= X86_PVH_MODLIST_GPA,
	       "start info below module list");
_Static_assert(X86_PVH_MODLIST_GPA + sizeof(struct hvm_modlist_entry) <= X86_PVH_MEMMAP_GPA,
	       "one module entry below the memory map");
_Static_assert(X86_PVH_MEMMAP_GPA + X86_PVH_MEMMAP_MAX * sizeof(struct hvm_memmap_table_entry) <=
		       X86_CMDLINE_GPA,
	       "memory map below the command line");

#define PVH_ENTRY_LIMIT 0x100000000ull /* the PVH entry is a 32-bit physical address */
#define MIB             (1ull << 20)


int x86_write_boot_gdt(const struct guest_mem *gm)
{
	return gm_write(gm, X86_BOOT_GDT_GPA, boot_gdt, sizeof(boot_gdt));
}

/* Target ranges of pvh_setup, checked against guest RAM before anything is written. */
static int pvh_check_targets(const struct guest_mem *gm, uint64_t cmdline_bytes, size_t map_len,
			     bool initrd, char *err, size_t errlen)
{
	const struct {
		uint64_t gpa, len;
		const char *what;
	} t[] = {
		{ X86_BOOT_GDT_GPA, sizeof(boot_gdt), "boot GDT" },
		{ X86_PVH_INFO_GPA, sizeof(struct hvm_start_info), "PVH start info" },
		{ X86_PVH_MEMMAP_GPA, map_len * sizeof(struct hvm_memmap_table_entry),
		  "memory map" },
		{ X86_PVH_MODLIST_GPA, initrd ? sizeof(struct hvm_modlist_entry) : 0,
		  "module list" },
		{ X86_CMDLINE_GPA, cmdline_bytes, "command line" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].len > 0 && !gm_ptr(gm, t[i].gpa, t[i].len))
			return err_set(err, errlen,
					"guest memory has no room for the %s at 0x%" PRIx64,
					t[i].what, t[i].gpa);
	return 0;
}

/* Every host-side input: entry, command line length, map, initrd range. */
static int pvh_check_params(const struct guest_mem *gm, const struct pvh_params *p,
			    uint64_t *cmdline_bytes, char *err, size_t errlen)
{
	if (p->entry >= PVH_ENTRY_LIMIT)
		return err_set(err, errlen, "PVH entry 0x%" PRIx64 " is above 4 GiB", p->entry);
	*cmdline_bytes = 0;
	if (p->cmdline) {
		size_t n = strlen(p->cmdline);
		if (n >= X86_CMDLINE_MAX)
			return err_set(
				err, errlen,
				"kernel command line too long: %zu bytes, the limit is %llu", n,
				X86_CMDLINE_MAX - 1);
		*cmdline_bytes = n + 1;
	}
	if (p->map_len == 0 || p->map_len > X86_PVH_MEMMAP_MAX || !p->map)
		return err_set(err, errlen, "memory map has %zu entries; PVH boot takes 1 to %d",
				p->map ? p->map_len : 0, X86_PVH_MEMMAP_MAX);
	for (size_t i = 0; i < p->map_len; i++)
		if (p->map[i].addr + p->map[i].size < p->map[i].addr)
			return err_set(err, errlen,
					"memory map entry %zu (0x%" PRIx64 " + 0x%" PRIx64
					") wraps the address space",
					i, p->map[i].addr, p->map[i].size);
	if (p->initrd_size > 0 && !gm_ptr(gm, p->initrd_gpa, p->initrd_size))
		return err_set(err, errlen,
				"initrd (0x%" PRIx64 " + 0x%" PRIx64
				" bytes) is not inside guest memory",
				p->initrd_gpa, p->initrd_size);
	return pvh_check_targets(gm, *cmdline_bytes, p->map_len, p->initrd_size > 0, err, errlen);
}

int pvh_setup(const struct guest_mem *gm, const struct pvh_params *p, struct boot_entry *out,
	      char *err, size_t errlen)
{
	struct hvm_memmap_table_entry mm[X86_PVH_MEMMAP_MAX];
	struct hvm_start_info si;
	uint64_t cmdline_bytes = 0;
	int rc = 0;

	if (pvh_check_params(gm, p, &cmdline_bytes, err, errlen) < 0)
		return -1;

	memset(mm, 0, sizeof(mm));
	for (size_t i = 0; i < p->map_len; i++) {
		mm[i].addr = p->map[i].addr;
		mm[i].size = p->map[i].size;
		mm[i].type = p->map[i].type;
	}
	memset(&si, 0, sizeof(si));
	si.magic = PVH_START_MAGIC;
	si.version = 1;
	si.cmdline_paddr = p->cmdline ? X86_CMDLINE_GPA : 0;
	si.rsdp_paddr = p->rsdp_gpa;
	si.memmap_paddr = X86_PVH_MEMMAP_GPA;
	si.memmap_entries = (uint32_t)p->map_len;
	if (p->initrd_size > 0) {
		struct hvm_modlist_entry mod = { .paddr = p->initrd_gpa, .size = p->initrd_size };
		rc |= gm_write(gm, X86_PVH_MODLIST_GPA, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = X86_PVH_MODLIST_GPA;
	}
	/* Every range was checked above; these writes cannot be refused. */
	if (p->cmdline)
		rc |= gm_write(gm, X86_CMDLINE_GPA, p->cmdline, cmdline_bytes);
	rc |= gm_write(gm, X86_PVH_MEMMAP_GPA, mm, p->map_len * sizeof(mm[0]));
	rc |= gm_write(gm, X86_PVH_INFO_GPA, &si, sizeof(si));
	rc |= x86_write_boot_gdt(gm);
	if (rc < 0)
		return err_set(err, errlen,
				"internal error: PVH boot structures refused by guest memory");

	memset(out, 0, sizeof(*out));
	out->mode = BOOT_PVH32;
	out->rip = p->entry;
	out->rbx = X86_PVH_INFO_GPA;
	out->gdt_gpa = X86_BOOT_GDT_GPA;
	return 0;
}

/* Whole MiB, rounded up, for messages. */
static uint64_t mib_up(uint64_t bytes) { return (bytes >> 20) + ((bytes & (MIB - 1)) != 0); }

int x86_place_initrd(const struct guest_mem *gm, uint64_t size, uint64_t min_gpa, uint64_t max_end,
		     uint64_t *gpa, char *err, size_t errlen)
{
	uint64_t region_end = gm_region_end(gm, min_gpa); /* 0 when min_gpa is not RAM */
	uint64_t limit = region_end < max_end ? region_end : max_end;

	if (size == 0)
		return err_set(err, errlen, "initrd is empty (0 bytes)");
	if (region_end == 0)
		return err_set(err, errlen,
				"initrd (%" PRIu64 " MiB) does not fit in guest memory: 0x%" PRIx64
				", the lowest place for it, is not guest RAM; give the VM more "
				"memory (--mem)",
				mib_up(size), min_gpa);
	/* limit - size cannot wrap once size <= limit - min_gpa; align down, then re-check. */
	if (limit <= min_gpa || size > limit - min_gpa ||
	    ((limit - size) & ~(uint64_t)(GM_PAGE_SIZE - 1)) < min_gpa)
		return err_set(err, errlen,
				"initrd (%" PRIu64
				" MiB) does not fit in guest memory below 0x%" PRIx64
				": give the VM more memory (--mem)",
				mib_up(size), limit);
	*gpa = (limit - size) & ~(uint64_t)(GM_PAGE_SIZE - 1);
	return 0;
}
