/* Unit tests for the hardened ELF loader (src/boot/elf.c): a valid image lands where its
 * program headers say, and every malformed image is refused with a specific message while
 * guest memory stays all zero. Images are assembled in memory by img_build(). */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/elf.h"
#include "test.h"

#define RAM_SIZE    (16ull << 20)
#define MIN_GPA     0x100000ull
#define IMG_LEN     0x1000u
#define NOTE_OFF    0x200u
#define SEG0_OFF    0x400u
#define SEG0_GPA    0x100000ull
#define SEG0_FILESZ 0x100u
#define SEG0_MEMSZ  0x200u
#define SEG1_OFF    0x800u
#define SEG1_GPA    0x200000ull
#define SEG1_FILESZ 0x80u
#define ENTRY       (SEG0_GPA + 0x10)

/* An image under construction: headers as structs (mutated by the tests), then serialized
 * at fixed offsets: Ehdr at 0, Phdrs at 64, note at NOTE_OFF, payloads at SEGn_OFF. */
struct img {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[6];
	uint8_t note[64];
	size_t note_len;
	size_t len; /* bytes of the serialized file handed to elf_load */
};

/* A "Xen" note of the given type with a desc of descsz bytes holding value (LE). */
static size_t note_make(uint8_t *dst, uint32_t type, uint32_t descsz, uint64_t value)
{
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = descsz, .n_type = type };
	memcpy(dst, &nh, sizeof(nh));
	memcpy(dst + sizeof(nh), "Xen", 4);
	memcpy(dst + sizeof(nh) + 4, &value, descsz <= 8 ? descsz : 8);
	return sizeof(nh) + 4 + ((descsz + 3u) & ~3u);
}

static void img_set_note(struct img *m, uint32_t descsz, uint64_t entry)
{
	memset(m->note, 0, sizeof(m->note));
	m->note_len = note_make(m->note, ELF_NOTE_XEN_PHYS32_ENTRY, descsz, entry);
	m->ph[2].p_filesz = m->ph[2].p_memsz = m->note_len;
}

/* Two PT_LOADs (the first with bss) and one PT_NOTE with a 4-byte PVH entry. */
static void img_default(struct img *m)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->eh.e_ident, ELFMAG, SELFMAG);
	m->eh.e_ident[EI_CLASS] = ELFCLASS64;
	m->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	m->eh.e_ident[EI_VERSION] = EV_CURRENT;
	m->eh.e_type = ET_EXEC;
	m->eh.e_machine = EM_X86_64;
	m->eh.e_version = EV_CURRENT;
	m->eh.e_entry = 0xffffffff81000000ull; /* virtual entry: ignored by PVH */
	m->eh.e_phoff = sizeof(Elf64_Ehdr);
	m->eh.e_ehsize = sizeof(Elf64_Ehdr);
	m->eh.e_phentsize = sizeof(Elf64_Phdr);
	m->eh.e_phnum = 3;
	m->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
				 .p_flags = PF_R | PF_X,
				 .p_offset = SEG0_OFF,
				 .p_paddr = SEG0_GPA,
				 .p_vaddr = SEG0_GPA,
				 .p_filesz = SEG0_FILESZ,
				 .p_memsz = SEG0_MEMSZ,
				 .p_align = 0x1000 };
	m->ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD,
				 .p_flags = PF_R | PF_W,
				 .p_offset = SEG1_OFF,
				 .p_paddr = SEG1_GPA,
				 .p_vaddr = SEG1_GPA,
				 .p_filesz = SEG1_FILESZ,
				 .p_memsz = SEG1_FILESZ,
				 .p_align = 0x1000 };
	m->ph[2] = (Elf64_Phdr){
		.p_type = PT_NOTE, .p_flags = PF_R, .p_offset = NOTE_OFF, .p_align = 4
	};
	img_set_note(m, 4, ENTRY);
	m->len = IMG_LEN;
}

/* Serializes m into buf (IMG_LEN bytes). Payload byte k of segment n is (n * 0x40 + k) | 1,
 * never zero, so the tests can tell loaded bytes from fresh memory. */
static void img_build(const struct img *m, uint8_t *buf)
{
	memset(buf, 0, IMG_LEN);
	memcpy(buf, &m->eh, sizeof(m->eh));
	memcpy(buf + sizeof(m->eh), m->ph, sizeof(m->ph));
	memcpy(buf + NOTE_OFF, m->note, m->note_len);
	for (unsigned k = 0; k < SEG0_FILESZ; k++)
		buf[SEG0_OFF + k] = (uint8_t)(k | 1);
	for (unsigned k = 0; k < SEG1_FILESZ; k++)
		buf[SEG1_OFF + k] = (uint8_t)((0x40 + k) | 1);
}

/* The same image as an ELFCLASS32 file: Elf32 header at 0, Elf32 program headers right
 * after it (52), note and payloads at the same offsets. e_phentsize stays as the test set
 * it when it is not the ELF64 size. */
static void img_build32(const struct img *m, uint8_t *buf)
{
	img_build(m, buf);
	Elf32_Ehdr e = {.e_type = m->eh.e_type, .e_machine = m->eh.e_machine,
			.e_version = m->eh.e_version, .e_entry = (uint32_t)m->eh.e_entry,
			.e_phoff = sizeof(Elf32_Ehdr), .e_ehsize = sizeof(Elf32_Ehdr),
			.e_phentsize = m->eh.e_phentsize == sizeof(Elf64_Phdr) ? sizeof(Elf32_Phdr)
									      : m->eh.e_phentsize,
			.e_phnum = m->eh.e_phnum};
	memcpy(e.e_ident, m->eh.e_ident, EI_NIDENT);
	e.e_ident[EI_CLASS] = ELFCLASS32;
	memset(buf, 0, NOTE_OFF);
	memcpy(buf, &e, sizeof(e));
	for (unsigned i = 0; i < 6; i++) {
		const Elf64_Phdr *q = &m->ph[i];
		Elf32_Phdr p32 = {.p_type = q->p_type, .p_offset = (uint32_t)q->p_offset,
				  .p_vaddr = (uint32_t)q->p_vaddr, .p_paddr = (uint32_t)q->p_paddr,
				  .p_filesz = (uint32_t)q->p_filesz, .p_memsz = (uint32_t)q->p_memsz,
				  .p_flags = q->p_flags, .p_align = (uint32_t)q->p_align};
		memcpy(buf + sizeof(e) + i * sizeof(p32), &p32, sizeof(p32));
	}
}

static struct guest_mem gm;
static uint8_t file[IMG_LEN];
static char err[256];
static struct elf_image out;

static void ram_new(void)
{
	const struct gm_region r[] = { { .gpa = 0, .size = RAM_SIZE } };
	char e[128];

	if (gm_create(&gm, r, 1, e, sizeof(e)) < 0) {
		printf("gm_create: %s\n", e);
		exit(2);
	}
}

static int ram_all_zero(void)
{
	const uint8_t *p = gm_ptr(&gm, 0, RAM_SIZE);
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Loads m, serialized by build, into fresh guest memory; on refusal also checks that memory
 * is untouched. */
static int load_as(const struct img *m, void (*build)(const struct img *, uint8_t *))
{
	gm_destroy(&gm);
	ram_new();
	build(m, file);
	memset(err, 0, sizeof(err));
	memset(&out, 0, sizeof(out));
	int rc = elf_load(file, m->len, &gm, MIN_GPA, &out, err, sizeof(err));
	if (rc < 0) {
		CHECK(err[0] != '\0');
		CHECK(strchr(err, '\n') == NULL); /* one line */
		CHECK(ram_all_zero());
	}
	return rc;
}

static int load_img(const struct img *m)
{
	return load_as(m, img_build);
}

/* Expects a refusal whose message contains word. */
#define REFUSED(m, word)                                                                           \
	do {                                                                                       \
		CHECK(load_img(m) == -1);                                                          \
		CHECK_STR_CONTAINS(err, word);                                                     \
	} while (0)

static void valid_image_loads(void)
{
	struct img m;
	img_default(&m);
	CHECK(load_img(&m) == 0);
	CHECK_EQ(out.pvh_entry, ENTRY);
	CHECK_EQ(out.load_lo, SEG0_GPA);
	CHECK_EQ(out.load_hi, SEG1_GPA + SEG1_FILESZ);
	const uint8_t *s0 = gm_ptr(&gm, SEG0_GPA, SEG0_MEMSZ);
	const uint8_t *s1 = gm_ptr(&gm, SEG1_GPA, SEG1_FILESZ);
	CHECK(s0 && s1);
	CHECK(memcmp(s0, file + SEG0_OFF, SEG0_FILESZ) == 0);
	CHECK(memcmp(s1, file + SEG1_OFF, SEG1_FILESZ) == 0);
	for (unsigned k = SEG0_FILESZ; k < SEG0_MEMSZ; k++)
		CHECK(s0[k] == 0); /* bss */
	uint8_t b;
	CHECK(gm_read(&gm, SEG0_GPA - 1, &b, 1) == 0 && b == 0);
	CHECK(gm_read(&gm, SEG1_GPA + SEG1_FILESZ, &b, 1) == 0 && b == 0);
}

static void sniff(void)
{
	struct img m;
	img_default(&m);
	img_build(&m, file);
	CHECK(elf_is_elf(file, IMG_LEN) == 1);
	CHECK(elf_is_elf(file, 4) == 1);
	CHECK(elf_is_elf(file, 3) == 0);
	CHECK(elf_is_elf((const uint8_t *)"MZ\x90\x00", 4) == 0);
	CHECK(elf_is_elf(NULL, 0) == 0);
}

static void note_desc_8_bytes(void)
{
	struct img m;
	img_default(&m);
	img_set_note(&m, 8, SEG1_GPA + 4);
	CHECK(load_img(&m) == 0);
	CHECK_EQ(out.pvh_entry, SEG1_GPA + 4);
}

static void note_among_other_notes(void)
{
	struct img m;
	img_default(&m);
	/* A GNU-style note with an odd name length first, then the PVH note. */
	Elf64_Nhdr nh = { .n_namesz = 5, .n_descsz = 3, .n_type = 3 };
	memset(m.note, 0, sizeof(m.note));
	memcpy(m.note, &nh, sizeof(nh));
	memcpy(m.note + 12, "GNU!", 5);
	size_t off = 12 + 8 + 4;
	m.note_len = off + note_make(m.note + off, ELF_NOTE_XEN_PHYS32_ENTRY, 4, ENTRY + 4);
	m.ph[2].p_filesz = m.note_len;
	CHECK(load_img(&m) == 0);
	CHECK_EQ(out.pvh_entry, ENTRY + 4);
}

/* In a PT_NOTE with p_align 8 the desc starts at an 8-byte boundary of the note: a 4-byte
 * name right after the 12-byte header needs no padding (desc at 16, next note at 24). */
static void note_segment_align_8(void)
{
	struct img m;
	img_default(&m);
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = 8, .n_type = ELF_NOTE_XEN_PHYS32_ENTRY };
	uint64_t entry = ENTRY + 8;
	memset(m.note, 0, sizeof(m.note));
	memcpy(m.note, &nh, sizeof(nh));
	memcpy(m.note + 12, "Xen", 4);
	memcpy(m.note + 16, &entry, 8);
	m.note_len = 24;
	m.ph[2].p_filesz = 24;
	m.ph[2].p_align = 8;
	CHECK(load_img(&m) == 0);
	CHECK_EQ(out.pvh_entry, ENTRY + 8);
	m.ph[2].p_filesz = 23;
	REFUSED(&m, "malformed note");
}

static void bss_only_segment_and_empty_segment(void)
{
	struct img m;
	img_default(&m);
	m.ph[1].p_filesz = 0;
	m.ph[1].p_offset = ~0ull; /* ignored: no file bytes */
	m.ph[1].p_memsz = 0x1000;
	m.eh.e_phnum = 4;
	m.ph[3] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_paddr = 0x10, .p_memsz = 0 }; /* skipped */
	CHECK(load_img(&m) == 0);
	CHECK_EQ(out.load_hi, SEG1_GPA + 0x1000);
}

static void short_files(void)
{
	struct img m;
	img_default(&m);
	img_build(&m, file);
	gm_destroy(&gm);
	ram_new();
	/* Every length of the ELF header and the program header table. */
	size_t ph_end = sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr);
	for (size_t n = 0; n < ph_end; n++) {
		CHECK(elf_load(file, n, &gm, MIN_GPA, &out, err, sizeof(err)) == -1);
		if (n < SELFMAG)
			CHECK_STR_CONTAINS(err, "not an ELF file");
		else
			CHECK_STR_CONTAINS(err, "truncated");
	}
	CHECK_STR_CONTAINS(err, "program headers end at byte 232 but the file has 231 bytes");
	CHECK(ram_all_zero());
	/* Cut inside the note, then inside the payload. */
	m.len = NOTE_OFF + 8;
	REFUSED(&m, "truncated");
	m.len = SEG1_OFF + SEG1_FILESZ - 1;
	REFUSED(&m, "segment 1");
	m.len = SEG1_OFF + SEG1_FILESZ;
	CHECK(load_img(&m) == 0);
	CHECK(elf_load(NULL, 100, &gm, MIN_GPA, &out, err, sizeof(err)) == -1);
}

static void bad_magic(void)
{
	struct img m;
	img_default(&m);
	m.eh.e_ident[EI_MAG1] = 'e';
	REFUSED(&m, "not an ELF file");
}

static void wrong_class_data_version(void)
{
	struct img m;
	img_default(&m);
	m.eh.e_ident[EI_CLASS] = ELFCLASS32; /* a 64-bit layout under a 32-bit class */
	REFUSED(&m, "ELF32 program headers are 32");
	m.eh.e_ident[EI_CLASS] = 7;
	REFUSED(&m, "class");
	img_default(&m);
	m.eh.e_ident[EI_DATA] = ELFDATA2MSB;
	REFUSED(&m, "little-endian");
	img_default(&m);
	m.eh.e_ident[EI_VERSION] = 2;
	REFUSED(&m, "version");
	img_default(&m);
	m.eh.e_version = 0;
	REFUSED(&m, "version");
}

static void wrong_machine_and_type(void)
{
	struct img m;
	img_default(&m);
	m.eh.e_machine = EM_386;
	REFUSED(&m, "x86-64");
	img_default(&m);
	m.eh.e_machine = EM_AARCH64;
	REFUSED(&m, "machine");
	img_default(&m);
	m.eh.e_type = ET_DYN;
	REFUSED(&m, "ET_EXEC");
	img_default(&m);
	m.eh.e_type = ET_REL;
	REFUSED(&m, "ET_EXEC");
}

static void bad_phdr_table(void)
{
	struct img m;
	img_default(&m);
	m.eh.e_phentsize = 32;
	REFUSED(&m, "program header size");
	img_default(&m);
	m.eh.e_phnum = 0;
	REFUSED(&m, "program headers");
	m.eh.e_phnum = ELF_MAX_PHDRS + 1;
	REFUSED(&m, "program headers");
	m.eh.e_phnum = PN_XNUM;
	REFUSED(&m, "program headers");
	img_default(&m);
	m.eh.e_phoff = UINT64_MAX - 8; /* phoff + size wraps */
	REFUSED(&m, "truncated");
	m.eh.e_phoff = UINT64_MAX;
	REFUSED(&m, "truncated");
	m.eh.e_phoff = IMG_LEN - sizeof(Elf64_Phdr); /* starts inside, ends outside */
	REFUSED(&m, "program headers end at byte");
	m.eh.e_phoff = IMG_LEN;
	REFUSED(&m, "program headers end at byte");
	m.eh.e_phoff = IMG_LEN + 1;
	REFUSED(&m, "program headers start at byte 4097 but the file has 4096 bytes");
}

static void file_range_overflow(void)
{
	struct img m;
	img_default(&m);
	m.ph[0].p_offset = UINT64_MAX - 0x10; /* p_offset + p_filesz wraps */
	REFUSED(&m, "outside the file");
	img_default(&m);
	m.ph[0].p_offset = IMG_LEN - 0x10;
	REFUSED(&m, "segment 0");
	img_default(&m);
	m.ph[0].p_filesz = m.ph[0].p_memsz = UINT64_MAX;
	REFUSED(&m, "outside the file");
}

static void filesz_above_memsz(void)
{
	struct img m;
	img_default(&m);
	m.ph[0].p_memsz = SEG0_FILESZ - 1;
	REFUSED(&m, "exceeds memory size");
}

static void memory_range_checks(void)
{
	struct img m;
	img_default(&m);
	m.ph[1].p_paddr = UINT64_MAX - 0x10; /* p_paddr + p_memsz wraps */
	REFUSED(&m, "wraps");
	img_default(&m);
	m.ph[1].p_memsz = UINT64_MAX - SEG1_GPA + 1; /* ends exactly at 2^64: wraps to 0 */
	REFUSED(&m, "wraps");
	img_default(&m);
	m.ph[1].p_memsz = 1ull << 40; /* huge bss */
	REFUSED(&m, "outside guest memory (16 MiB)");
	img_default(&m);
	m.ph[1].p_paddr = RAM_SIZE - SEG1_FILESZ; /* ends exactly at the end of RAM */
	CHECK(load_img(&m) == 0);
	CHECK_EQ(out.load_hi, RAM_SIZE);
	uint8_t last;
	CHECK(gm_read(&gm, RAM_SIZE - 1, &last, 1) == 0 &&
	      last == file[SEG1_OFF + SEG1_FILESZ - 1]);
	m.ph[1].p_paddr = RAM_SIZE - SEG1_FILESZ + 1; /* one byte past */
	REFUSED(&m, "segment 1");
	CHECK_STR_CONTAINS(err, "outside guest memory");
	m.ph[1].p_paddr = 1ull << 32;
	REFUSED(&m, "outside guest memory");
}

static void below_min_gpa(void)
{
	struct img m;
	img_default(&m);
	m.ph[0].p_paddr = MIN_GPA - 0x1000;
	img_set_note(&m, 4, MIN_GPA - 0x1000);
	REFUSED(&m, "below");
	m.ph[0].p_paddr = MIN_GPA - 1; /* straddles min_gpa */
	REFUSED(&m, "below");
}

static void overlapping_segments(void)
{
	struct img m;
	img_default(&m);
	m.ph[1].p_paddr = SEG0_GPA + SEG0_MEMSZ - 1; /* overlaps seg 0's bss by one byte */
	REFUSED(&m, "segments 0 and 1 overlap");
	m.ph[1].p_paddr = SEG0_GPA + SEG0_MEMSZ; /* adjacent is fine */
	CHECK(load_img(&m) == 0);
	img_default(&m);
	m.ph[0].p_paddr = SEG0_GPA + 0x40; /* seg 1 below seg 0, overlapping its start */
	m.ph[1].p_paddr = SEG0_GPA;
	img_set_note(&m, 4, SEG0_GPA + 0x50);
	REFUSED(&m, "segments 0 and 1 overlap");
	img_default(&m);
	m.eh.e_phnum = 4; /* a third segment inside the first */
	m.ph[3] = m.ph[0];
	m.ph[3].p_paddr = SEG0_GPA + 0x20;
	m.ph[3].p_memsz = m.ph[3].p_filesz = 0x10;
	REFUSED(&m, "segments 0 and 3 overlap");
}

static void no_load_segment(void)
{
	struct img m;
	img_default(&m);
	m.ph[0].p_type = PT_NULL;
	m.ph[1].p_type = PT_GNU_STACK;
	REFUSED(&m, "PT_LOAD");
	img_default(&m);
	m.ph[0].p_memsz = m.ph[0].p_filesz = 0;
	m.ph[1].p_memsz = m.ph[1].p_filesz = 0;
	REFUSED(&m, "PT_LOAD");
}

static void malformed_notes(void)
{
	struct img m;
	img_default(&m);
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = 0xfffffff0u, .n_type = 18 };
	memcpy(m.note, &nh, sizeof(nh));
	REFUSED(&m, "malformed note");
	nh = (Elf64_Nhdr){ .n_namesz = 0xffffffffu, .n_descsz = 4, .n_type = 18 };
	memcpy(m.note, &nh, sizeof(nh));
	REFUSED(&m, "malformed note");
	img_default(&m);
	m.ph[2].p_filesz = m.note_len - 1; /* desc padding cut off by the segment */
	REFUSED(&m, "malformed note");
	img_default(&m);
	m.ph[2].p_offset = UINT64_MAX - 4;
	REFUSED(&m, "note segment 2");
	img_default(&m);
	m.ph[2].p_offset = IMG_LEN - 8;
	REFUSED(&m, "outside the file");
	img_default(&m);
	img_set_note(&m, 2, ENTRY);
	REFUSED(&m, "2-byte");
	img_set_note(&m, 16, ENTRY);
	REFUSED(&m, "16-byte");
	img_set_note(&m, 0, ENTRY);
	REFUSED(&m, "0-byte");
}

static void entry_checks(void)
{
	struct img m;
	img_default(&m);
	img_set_note(&m, 4, 0x300000); /* RAM, but not loaded */
	REFUSED(&m, "not inside any loaded segment");
	img_set_note(&m, 4, SEG0_GPA + SEG0_MEMSZ); /* one past seg 0 */
	REFUSED(&m, "not inside any loaded segment");
	img_set_note(&m, 4, SEG0_GPA + SEG0_MEMSZ - 1); /* last bss byte: inside */
	CHECK(load_img(&m) == 0);
	img_set_note(&m, 8, (1ull << 32) + ENTRY);
	REFUSED(&m, "above 4 GiB");
}

static void missing_note(void)
{
	struct img m;
	img_default(&m);
	m.ph[2].p_type = PT_NULL;
	REFUSED(&m, "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
	img_default(&m);
	m.note_len = note_make(m.note, 17, 4, ENTRY); /* another Xen note type */
	REFUSED(&m, "no PVH entry note");
	img_default(&m);
	memcpy(m.note + 12, "Xe\0", 4); /* wrong name */
	REFUSED(&m, "no PVH entry note");
	img_default(&m);
	m.ph[2].p_filesz = 8; /* too short for a note header: ignored */
	REFUSED(&m, "no PVH entry note");
}

static int load_img32(const struct img *m)
{
	return load_as(m, img_build32);
}

#define REFUSED32(m, word)                                                                         \
	do {                                                                                       \
		CHECK(load_img32(m) == -1);                                                        \
		CHECK_STR_CONTAINS(err, word);                                                     \
	} while (0)

/* ELF32 PVH kernels pass the very checks ELF64 ones do (the headers are widened once). */
static void elf32_pvh(void)
{
	struct img m;
	img_default(&m);
	m.eh.e_machine = EM_386;
	CHECK(load_img32(&m) == 0);
	CHECK_EQ(out.pvh_entry, ENTRY);
	CHECK_EQ(out.load_lo, SEG0_GPA);
	CHECK_EQ(out.load_hi, SEG1_GPA + SEG1_FILESZ);
	CHECK(memcmp(gm_ptr(&gm, SEG0_GPA, SEG0_FILESZ), file + SEG0_OFF, SEG0_FILESZ) == 0);
	m.eh.e_machine = EM_X86_64; /* x32-style: also a 32-bit container of x86 code */
	CHECK(load_img32(&m) == 0);
	m.eh.e_machine = EM_ARM;
	REFUSED32(&m, "not x86");
	img_default(&m);
	m.eh.e_phentsize = 40;
	REFUSED32(&m, "ELF32 program headers are 32");
	img_default(&m);
	m.ph[1].p_paddr = 0xfffff000;
	m.ph[1].p_memsz = 0x2000;
	REFUSED32(&m, "ends above 4 GiB");
	img_default(&m);
	m.ph[0].p_paddr = 0x1000;
	REFUSED32(&m, "below the lowest address");
	img_default(&m);
	m.ph[1].p_paddr = SEG0_GPA + 0x100; /* overlaps segment 0 */
	REFUSED32(&m, "overlap");
	img_default(&m);
	m.ph[0].p_offset = IMG_LEN - 0x10;
	REFUSED32(&m, "lies outside the file");
	img_default(&m);
	img_set_note(&m, 4, 0x300000); /* not in a loaded segment */
	REFUSED32(&m, "not inside any loaded segment");
	img_default(&m);
	m.eh.e_phnum = 0;
	REFUSED32(&m, "program headers");
	img_default(&m);
	img_build32(&m, file);
	CHECK(elf_load(file, 40, &gm, MIN_GPA, &out, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "truncated ELF file: the ELF header needs 52 bytes");
	CHECK(elf_load(file, 52 + 32, &gm, MIN_GPA, &out, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "truncated ELF file: program headers end");
	/* Solo5 hvt unikernels (elf_load_exec) and their notes stay ELF64-only. */
	struct elf_exec x;
	img_build32(&m, file);
	CHECK(elf_load_exec(file, IMG_LEN, &gm, MIN_GPA, &x, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "Solo5 hvt unikernels are 64-bit");
	struct elf_note nt;
	CHECK(elf_find_note(file, IMG_LEN, "Xen", ELF_NOTE_XEN_PHYS32_ENTRY, &nt, err,
			    sizeof(err)) == -1);
}

static void tiny_error_buffer(void)
{
	struct img m;
	img_default(&m);
	m.eh.e_machine = EM_386;
	img_build(&m, file);
	char small[8];
	memset(small, 'x', sizeof(small));
	CHECK(elf_load(file, IMG_LEN, &gm, MIN_GPA, &out, small, sizeof(small)) == -1);
	CHECK(small[7] == '\0');
	CHECK(elf_load(file, IMG_LEN, &gm, MIN_GPA, &out, NULL, 0) == -1);
}

int main(void)
{
	test_suite_name = "elf";
	ram_new();
	RUN(valid_image_loads);
	RUN(sniff);
	RUN(note_desc_8_bytes);
	RUN(note_among_other_notes);
	RUN(note_segment_align_8);
	RUN(bss_only_segment_and_empty_segment);
	RUN(short_files);
	RUN(bad_magic);
	RUN(wrong_class_data_version);
	RUN(wrong_machine_and_type);
	RUN(bad_phdr_table);
	RUN(file_range_overflow);
	RUN(filesz_above_memsz);
	RUN(memory_range_checks);
	RUN(below_min_gpa);
	RUN(overlapping_segments);
	RUN(no_load_segment);
	RUN(malformed_notes);
	RUN(entry_checks);
	RUN(missing_note);
	RUN(elf32_pvh);
	RUN(tiny_error_buffer);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
