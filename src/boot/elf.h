/* Hardened ELF64 loader for kernels and test guests with a PVH entry note.
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

/* Validates the whole image, then loads it. Segments are placed at p_paddr and must lie in
 * guest RAM at or above min_gpa, must not overlap each other and must have
 * p_filesz <= p_memsz. Guest memory is assumed zero-filled, so bss is not written.
 * Returns 0, or -1 with err set and guest memory untouched. */
int elf_load(const uint8_t *buf, size_t len, const struct guest_mem *gm, uint64_t min_gpa,
	     struct elf_image *out, char *err, size_t errlen);

#endif
