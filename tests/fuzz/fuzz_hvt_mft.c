/* libFuzzer target for the unikernel file (src/hvt/mft.c, elf_find_note, elf_load_exec): any
 * byte string is parsed as a whole ELF file (hvt_notes_parse, and loaded with elf_load_exec
 * into a small RAM) and as bare manifest bytes (hvt_mft_parse); each is accepted or refused
 * with one line, never a crash. A loaded file's entry lies in an executable segment in RAM. An accepted
 * manifest must keep its promises: 1..64 entries, reserved entry first, terminated names,
 * known types, and a guest copy of exactly the declared size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <elf.h>

#include "boot/elf.h"
#include "fuzz_ram.h"
#include "hvt/mft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int r, const struct hvt_mft *m, const char *err)
{
	if (r < 0) {
		if (err[0] == '\0' || strchr(err, '\n'))
			abort();
		return;
	}
	if (m->n < 1 || m->n > MFT_MAX_ENTRIES || m->e[0].type != MFT_RESERVED_FIRST)
		abort();
	for (unsigned i = 0; i < m->n; i++) {
		if (!memchr(m->e[i].name, '\0', MFT_NAME_SIZE) || m->e[i].attached)
			abort();
		if (i && m->e[i].type != MFT_DEV_BLOCK_BASIC && m->e[i].type != MFT_DEV_NET_BASIC)
			abort();
	}
	static uint8_t copy[MFT_MAX_SIZE + 1];
	copy[hvt_mft_guest_size(m)] = 0x5a;
	hvt_mft_guest_write(m, copy);
	if (hvt_mft_guest_size(m) > MFT_MAX_SIZE || copy[hvt_mft_guest_size(m)] != 0x5a)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hvt_mft m;
	char err[256];

	err[0] = '\0';
	check(hvt_notes_parse(data, size, &m, err, sizeof(err)), &m, err);
	err[0] = '\0';
	check(hvt_mft_parse(data, size, &m, err, sizeof(err)), &m, err);

	static struct elf_exec x;
	const struct guest_mem *gm = fuzz_ram(8ull << 20, "fuzz_hvt_mft");
	err[0] = '\0';
	if (elf_load_exec(data, size, gm, HVT_GUEST_MIN_BASE, &x, err, sizeof(err)) == 0) {
		bool in_code = false;
		for (unsigned i = 0; i < x.nseg; i++) {
			if (x.seg[i].gpa < HVT_GUEST_MIN_BASE || x.seg[i].memsz == 0 ||
			    !gm_ptr(gm, x.seg[i].gpa, x.seg[i].memsz))
				abort();
			in_code |= (x.seg[i].flags & PF_X) && x.entry >= x.seg[i].gpa &&
				   x.entry - x.seg[i].gpa < x.seg[i].memsz;
		}
		if (!in_code || x.nseg == 0)
			abort();
	} else if (err[0] == '\0' || strchr(err, '\n')) {
		abort();
	}
	return 0;
}
