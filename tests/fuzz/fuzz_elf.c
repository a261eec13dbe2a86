/* libFuzzer target for the ELF loader (src/boot/elf.c): any byte string handed to elf_load
 * must be loaded or refused with a message, never crash or trip ASan/UBSan. Also checks the
 * loader's promises: on success the entry is below 4 GiB and inside [load_lo, load_hi),
 * which lies in guest RAM above min_gpa; on refusal err holds one non-empty line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/elf.h"
#include "fuzz_ram.h"

#define FUZZ_RAM     (8ull << 20)
#define FUZZ_MIN_GPA 0x100000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct guest_mem *gm = fuzz_ram(FUZZ_RAM, "fuzz_elf");
	struct elf_image img;
	char err[256];

	memset(err, 0, sizeof(err));
	if (elf_load(data, size, gm, FUZZ_MIN_GPA, &img, err, sizeof(err)) == 0) {
		if (img.pvh_entry >= (1ull << 32) || img.pvh_entry < img.load_lo ||
		    img.pvh_entry >= img.load_hi || img.load_lo < FUZZ_MIN_GPA ||
		    img.load_hi > FUZZ_RAM || img.load_lo >= img.load_hi)
			abort();
	} else if (err[0] == '\0' || strchr(err, '\n')) {
		abort();
	}
	return 0;
}
