/* Unit tests for the unikernel side of the ELF loader (elf_load_exec, elf_find_note in
 * src/boot/elf.c) and hvt_notes_parse on a hand-made file: code and data segments, a PT_NOTE
 * holding an OpenBSD-style note, the ABI1 note and, in its own PT_NOTE, the MFT1 note. */
#include <elf.h>
#include <string.h>

#include "boot/elf.h"
#include "hvt/mft.h"
#include "test.h"

#define LEN 0x3000
#define RAM (4ull << 20)

static uint8_t f[LEN];
static struct guest_mem gm;
static char err[256];

static Elf64_Phdr *ph(int i) { return (Elf64_Phdr *)(f + 64 + 56 * i); }

static size_t note(size_t off, const char *name, uint32_t type, const void *desc, uint32_t descsz)
{
	Elf64_Nhdr h = {.n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = descsz, .n_type = type};
	memcpy(f + off, &h, sizeof(h));
	memcpy(f + off + 12, name, h.n_namesz);
	size_t d = off + 12 + ((h.n_namesz + 3) & ~3u);
	memcpy(f + d, desc, descsz);
	return d + ((descsz + 3) & ~3u);
}

/* text at 0x100000 (file 0x1000), data at 0x101000 (file 0x2000), notes at file 0x1800. */
static void build(void)
{
	memset(f, 0, sizeof(f));
	Elf64_Ehdr *e = (Elf64_Ehdr *)f;
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_entry = 0x100010;
	e->e_phoff = 64;
	e->e_ehsize = 64;
	e->e_phentsize = 56;
	e->e_phnum = 4;
	*ph(0) = (Elf64_Phdr){PT_LOAD, PF_R | PF_X, 0x1000, 0x100000, 0x100000, 0x1000, 0x1000, 0x1000};
	*ph(1) = (Elf64_Phdr){PT_LOAD, PF_R | PF_W, 0x2000, 0x101000, 0x101000, 0x100, 0x3000, 0x1000};
	memset(f + 0x1000, 0x90, 0x800);
	const uint32_t obsd = 0, abi[4] = {1, 2, 0, 0};
	size_t o = note(0x1800, "OpenBSD", 1, &obsd, 4);
	o = note(o, "Solo5", 0x31494241, abi, 16);
	*ph(2) = (Elf64_Phdr){PT_NOTE, PF_R, 0x1800, 0x100800, 0x100800, o - 0x1800, o - 0x1800, 4};
	uint8_t m[4 + 8 + 2 * 104] = {0};
	uint32_t v = 1, n = 2, t0 = 1u << 30, t1 = 1;
	memcpy(m + 4, &v, 4);
	memcpy(m + 8, &n, 4);
	memcpy(m + 12 + 68, &t0, 4);
	memcpy(m + 12 + 104, "disk", 4);
	memcpy(m + 12 + 104 + 68, &t1, 4);
	size_t mo = (o + 7) & ~7u;
	size_t end = note(mo, "Solo5", 0x3154464d, m, sizeof(m));
	*ph(3) = (Elf64_Phdr){PT_NOTE, PF_R, mo, 0x100000 + mo - 0x1000, 0x100000 + mo - 0x1000,
			      end - mo, end - mo, 8};
}

static void loads(void)
{
	struct elf_exec x;
	build();
	memset(gm.base, 0, RAM);
	CHECK_EQ(elf_load_exec(f, LEN, &gm, 0x100000, &x, err, sizeof(err)), 0);
	CHECK_EQ(x.entry, 0x100010ull);
	CHECK_EQ(x.nseg, 2u);
	CHECK_EQ(x.seg[0].flags, (uint32_t)(PF_R | PF_X));
	CHECK_EQ(x.seg[1].memsz, 0x3000ull);
	CHECK_EQ(x.load_hi, 0x104000ull);
	CHECK_EQ(gm.base[0x100000], 0x90);
}

static void refused(void)
{
	struct elf_exec x;
	build();
	((Elf64_Ehdr *)f)->e_entry = 0x101000; /* data */
	CHECK_EQ(elf_load_exec(f, LEN, &gm, 0x100000, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "which is not executable");
	((Elf64_Ehdr *)f)->e_entry = 0x200000; /* nowhere */
	CHECK_EQ(elf_load_exec(f, LEN, &gm, 0x100000, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not inside any loaded segment");
	build();
	ph(0)->p_paddr = 0x1000;
	CHECK_EQ(elf_load_exec(f, LEN, &gm, 0x100000, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "below the lowest address");
	build();
	ph(1)->p_paddr = 0x100800; /* overlaps the code */
	CHECK_EQ(elf_load_exec(f, LEN, &gm, 0x100000, &x, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "overlap");
}

static void notes(void)
{
	struct elf_note nt;
	struct hvt_mft m;
	build();
	CHECK_EQ(elf_find_note(f, LEN, "Solo5", 0x31494241, &nt, err, sizeof(err)), 0);
	CHECK_EQ(nt.count, 1u);
	CHECK_EQ(nt.descsz, 16u);
	CHECK_EQ(elf_find_note(f, LEN, "Solo", 0x31494241, &nt, err, sizeof(err)), 0);
	CHECK_EQ(nt.count, 0u);
	CHECK_EQ(hvt_notes_parse(f, LEN, &m, err, sizeof(err)), 0);
	CHECK_EQ(m.n, 2u);
	CHECK(!strcmp(m.e[1].name, "disk"));
	/* A note segment that runs past the file is refused; one whose tail is not a note ends
	 * the walk quietly. */
	ph(3)->p_filesz = LEN;
	CHECK_EQ(elf_find_note(f, LEN, "Solo5", 0x3154464d, &nt, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "lies outside the file");
	build();
	ph(3)->p_filesz += 16; /* zero padding after the manifest */
	CHECK_EQ(hvt_notes_parse(f, LEN, &m, err, sizeof(err)), 0);
	build();
	Elf64_Nhdr *h = (Elf64_Nhdr *)(f + ph(3)->p_offset);
	h->n_descsz = 0x10000; /* runs past its segment: not found */
	CHECK_EQ(hvt_notes_parse(f, LEN, &m, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "No Solo5 manifest found in executable");
	build();
	ph(3)->p_type = PT_NULL;
	CHECK_EQ(hvt_notes_parse(f, LEN, &m, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "No Solo5 manifest found in executable");
	build();
	ph(3)->p_offset = ph(2)->p_offset; /* both PT_NOTEs show the ABI note: twice */
	ph(3)->p_filesz = ph(2)->p_filesz;
	CHECK_EQ(hvt_notes_parse(f, LEN, &m, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "more than one Solo5 ABI1 note");
}

int main(void)
{
	const struct gm_region r = {.gpa = 0, .size = RAM};
	test_suite_name = "hvt_elf";
	if (gm_create(&gm, &r, 1, err, sizeof(err)) < 0)
		return 1;
	RUN(loads);
	RUN(refused);
	RUN(notes);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
