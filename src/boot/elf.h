/* Hardened ELF loader for kernels and test guests with a PVH entry note (ELF64, or ELF32:
 * the PVH entry is 32-bit protected mode either way) and for Solo5 hvt unikernels (ELF64).
 * Owns: parsing an ELF image held in a host buffer and copying its PT_LOAD segments into
 * guest memory through the gate. The file is hostile: every offset, size and address is
 * checked with overflow-aware arithmetic before use; a bad file is refused with a
 * one-line message and nothing is written to guest memory. */
#ifndef MOTE_BOOT_ELF_H
#define MOTE_BOOT_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

#define ELF_MAX_PHDRS 64 /* more program headers than this is refused */

/* XEN_ELFNOTE_PHYS32_ENTRY, in a note named "Xen" (Xen's public elfnote.h). */
#define ELF_NOTE_XEN_PHYS32_ENTRY 18

struct elf_image {
	uint64_t pvh_entry; /* 32-bit physical entry from the PVH note */
	uint64_t load_lo;   /* lowest guest-physical byte loaded (lowest p_paddr of all PT_LOADs) */
	uint64_t load_hi;   /* one past the highest byte loaded (max p_paddr + p_memsz) */
	bool is_linux;      /* carries a note named "Linux" (every vmlinux since 4.20 does) */
};

/* Returns 1 when buf starts with the ELF magic (a cheap sniff, no validation). */
int elf_is_elf(const uint8_t *buf, size_t len);

/* Validates the whole image (ELFCLASS64 x86-64, or ELFCLASS32 EM_386/EM_X86_64 with every
 * segment below 4 GiB), then loads it. Segments are placed at p_paddr and must lie in
 * guest RAM at or above min_gpa, must not overlap each other and must have
 * p_filesz <= p_memsz. Guest memory is assumed zero-filled, so bss is not written.
 * Returns 0, or -1 with err set and guest memory untouched. */
int elf_load(const uint8_t *buf, size_t len, const struct guest_mem *gm, uint64_t min_gpa,
	     struct elf_image *out, char *err, size_t errlen);

/* Static ELF64 executables without a PVH note (Solo5 hvt unikernels): the checks of elf_load,
 * but the entry is e_entry (64-bit), which must lie inside a loaded executable (PF_X) segment,
 * and every placed segment is reported with its flags (PF_R/PF_W/PF_X) for page tables. */
struct elf_segment {
	uint64_t gpa;   /* p_paddr */
	uint64_t memsz; /* > 0 */
	uint32_t flags; /* p_flags */
};
struct elf_exec {
	uint64_t entry;
	uint64_t load_lo, load_hi; /* as in struct elf_image */
	unsigned nseg;
	struct elf_segment seg[ELF_MAX_PHDRS];
};
int elf_load_exec(const uint8_t *buf, size_t len, const struct guest_mem *gm, uint64_t min_gpa,
		  struct elf_exec *out, char *err, size_t errlen);

/* The notes named `name` (NUL included in the match) with type `type` in the PT_NOTE segments
 * of a valid ELF64 x86-64 executable, walked with 4-byte note alignment (gABI; Solo5's notes
 * follow it whatever the segment's p_align). out->count is how many matched; desc/descsz
 * describe the first (a pointer into buf, descsz bytes, inside the file). A segment whose
 * remaining bytes do not form a note ends that segment's walk (not an error).
 * Returns 0, or -1 with err set when the ELF or program headers are invalid. */
struct elf_note {
	const uint8_t *desc;
	uint32_t descsz;
	unsigned count;
};
int elf_find_note(const uint8_t *buf, size_t len, const char *name, uint32_t type,
		  struct elf_note *out, char *err, size_t errlen);

#endif
