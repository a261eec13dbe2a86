/* Hardened ELF loader: validates a hostile image held in a host buffer, then copies its
 * PT_LOAD segments into guest memory through the gate (gm_ptr/gm_write), never directly.
 * Two passes: every header, note and range is checked first; only a fully valid image is
 * copied, so a refused image leaves guest memory untouched. Headers are read with memcpy
 * into local copies (the buffer may be unaligned) and only the copies are used; an ELF32
 * file's headers are widened into the same ELF64 copies once, so both classes pass the very
 * same checks afterwards. */
#include "boot/elf.h"

#include <elf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "elf.c reads little-endian ELF fields with memcpy and needs a little-endian host"
#endif

#define ELF_PVH_ENTRY_LIMIT 0x100000000ull /* the PVH entry is a 32-bit physical address */

/* Everything the two passes share: the input, the checked copies and the results. */
struct elf_ctx {
	const uint8_t *buf;
	size_t len;
	const struct guest_mem *gm;
	uint64_t min_gpa;
	Elf64_Ehdr eh;
	Elf64_Phdr ph[ELF_MAX_PHDRS];
	unsigned nph;
	bool allow32;    /* ELFCLASS32 accepted (PVH kernels: their entry is 32-bit anyway) */
	bool is32;       /* the file is ELFCLASS32: eh and ph are widened copies */
	bool linux_note; /* a note named "Linux" was seen */
	char *err;
	size_t errlen;
};

/* Refuses the image: one-line message into the caller's buffer, returns -1. */
#define elf_fail(c, ...) err_set((c)->err, (c)->errlen, __VA_ARGS__)

/* True when [off, off + n) lies inside [0, total); never computes a sum that can wrap. */
static bool range_inside(uint64_t off, uint64_t n, uint64_t total)
{
	return off <= total && n <= total - off;
}

int elf_is_elf(const uint8_t *buf, size_t len)
{
	return buf && len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0;
}

static const char *elf_type_name(unsigned type)
{
	switch (type) {
	case ET_REL: return "a relocatable object (ET_REL)";
	case ET_DYN: return "a shared object or PIE (ET_DYN)";
	case ET_CORE: return "a core dump (ET_CORE)";
	default: return "of an unknown type";
	}
}

/* An ELF32 header widened into the ELF64 copy (fields by name; the layouts differ). */
static void elf_widen_ehdr(Elf64_Ehdr *o, const Elf32_Ehdr *e)
{
	memset(o, 0, sizeof(*o));
	memcpy(o->e_ident, e->e_ident, EI_NIDENT);
	o->e_type = e->e_type;
	o->e_machine = e->e_machine;
	o->e_version = e->e_version;
	o->e_entry = e->e_entry;
	o->e_phoff = e->e_phoff;
	o->e_phentsize = e->e_phentsize;
	o->e_phnum = e->e_phnum;
}

/* Pass 1a: the ELF header, identification bytes first so short files get the best message. */
static int elf_check_ehdr(struct elf_ctx *c)
{
	const Elf64_Ehdr *eh = &c->eh;

	if (!elf_is_elf(c->buf, c->len))
		return elf_fail(c, "not an ELF file (no \\x7fELF magic at the start)");
	c->is32 = c->len > EI_CLASS && c->buf[EI_CLASS] == ELFCLASS32;
	if (c->is32 && !c->allow32)
		return elf_fail(c, "ELF file is 32-bit; Solo5 hvt unikernels are 64-bit (ELFCLASS64) "
				   "x86-64 executables");
	size_t hdr = c->is32 ? sizeof(Elf32_Ehdr) : sizeof(Elf64_Ehdr);
	if (c->len < hdr)
		return elf_fail(
			c,
			"truncated ELF file: the ELF header needs %zu bytes but the file has %zu",
			hdr, c->len);
	if (c->is32) {
		Elf32_Ehdr e32;
		memcpy(&e32, c->buf, sizeof(e32));
		elf_widen_ehdr(&c->eh, &e32);
	} else {
		memcpy(&c->eh, c->buf, sizeof(c->eh));
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 && !c->is32)
		return elf_fail(c,
				"ELF file has unknown class %u; mote needs an ELFCLASS64 (or, for PVH "
				"kernels, ELFCLASS32) x86 kernel",
				eh->e_ident[EI_CLASS]);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return elf_fail(c,
				"ELF file is not little-endian (EI_DATA %u); x86-64 kernels are "
				"ELFDATA2LSB",
				eh->e_ident[EI_DATA]);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return elf_fail(c, "ELF file has unsupported version %u/%" PRIu32 " (expected 1)",
				eh->e_ident[EI_VERSION], eh->e_version);
	if (eh->e_machine != EM_X86_64 && !(c->is32 && eh->e_machine == EM_386))
		return elf_fail(c, "ELF file is for machine %u, not %s", eh->e_machine,
				c->is32 ? "x86 (EM_386 = 3, or EM_X86_64 = 62)"
					: "x86-64 (EM_X86_64 = 62)");
	if (eh->e_type != ET_EXEC)
		return elf_fail(c,
				"ELF file is %s, not an executable (ET_EXEC): mote loads linked "
				"kernels at their physical addresses",
				elf_type_name(eh->e_type));
	size_t phent = c->is32 ? sizeof(Elf32_Phdr) : sizeof(Elf64_Phdr);
	if (eh->e_phentsize != phent)
		return elf_fail(
			c, "ELF program header size is %u bytes; ELF%s program headers are %zu",
			eh->e_phentsize, c->is32 ? "32" : "64", phent);
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		return elf_fail(c, "ELF file has %u program headers; mote accepts 1 to %d",
				eh->e_phnum, ELF_MAX_PHDRS);
	return 0;
}

static void elf_widen_phdr(Elf64_Phdr *o, const Elf32_Phdr *p)
{
	*o = (Elf64_Phdr){.p_type = p->p_type, .p_flags = p->p_flags, .p_offset = p->p_offset,
			  .p_vaddr = p->p_vaddr, .p_paddr = p->p_paddr, .p_filesz = p->p_filesz,
			  .p_memsz = p->p_memsz, .p_align = p->p_align};
}

/* Pass 1b: the program header table must lie inside the file; copy it out. */
static int elf_read_phdrs(struct elf_ctx *c)
{
	uint64_t off = c->eh.e_phoff;
	uint64_t size = (uint64_t)c->eh.e_phnum * c->eh.e_phentsize; /* <= 64 * 56 */

	if (off > c->len)
		return elf_fail(c,
				"truncated ELF file: program headers start at byte %" PRIu64
				" but the file has %zu bytes",
				off, c->len);
	if (!range_inside(off, size, c->len))
		return elf_fail(c,
				"truncated ELF file: program headers end at byte %" PRIu64
				" but the file has %zu bytes",
				off + size, c->len);
	c->nph = c->eh.e_phnum;
	if (!c->is32) {
		memcpy(c->ph, c->buf + off, (size_t)size);
		return 0;
	}
	for (unsigned i = 0; i < c->nph; i++) {
		Elf32_Phdr p32;
		memcpy(&p32, c->buf + off + (uint64_t)i * sizeof(p32), sizeof(p32));
		elf_widen_phdr(&c->ph[i], &p32);
		/* 32-bit fields cannot wrap 64-bit sums, but a 32-bit kernel has no byte above 4 GiB. */
		if (p32.p_type == PT_LOAD && (uint64_t)p32.p_paddr + p32.p_memsz > ELF_PVH_ENTRY_LIMIT)
			return elf_fail(c, "segment %u (0x%" PRIx32 " + 0x%" PRIx32 " bytes) of a 32-bit "
					   "ELF file ends above 4 GiB", i, p32.p_paddr, p32.p_memsz);
	}
	return 0;
}

static uint64_t mib(uint64_t bytes) { return bytes >> 20; }

/* Pass 1c: one PT_LOAD. File bytes in the file, memory bytes wholly in one RAM region. */
static int elf_check_load(struct elf_ctx *c, unsigned i)
{
	const Elf64_Phdr *p = &c->ph[i];

	if (p->p_filesz > p->p_memsz)
		return elf_fail(
			c, "segment %u: file size 0x%" PRIx64 " exceeds memory size 0x%" PRIx64, i,
			p->p_filesz, p->p_memsz);
	if (p->p_filesz > 0 && !range_inside(p->p_offset, p->p_filesz, c->len))
		return elf_fail(c,
				"truncated ELF file: segment %u (file bytes 0x%" PRIx64
				" + 0x%" PRIx64 ") lies outside the file (%zu bytes)",
				i, p->p_offset, p->p_filesz, c->len);
	if (p->p_memsz == 0)
		return 0; /* nothing to place */
	if (p->p_paddr + p->p_memsz < p->p_paddr)
		return elf_fail(c,
				"segment %u (0x%" PRIx64 " + 0x%" PRIx64
				" bytes) wraps around the address space",
				i, p->p_paddr, p->p_memsz);
	if (p->p_paddr < c->min_gpa)
		return elf_fail(c,
				"segment %u starts at 0x%" PRIx64
				", below the lowest address mote loads kernels at (0x%" PRIx64 ")",
				i, p->p_paddr, c->min_gpa);
	if (!gm_ptr(c->gm, p->p_paddr, p->p_memsz))
		return elf_fail(c,
				"segment %u (0x%" PRIx64 " + 0x%" PRIx64
				" bytes) lies outside guest memory (%" PRIu64 " MiB)",
				i, p->p_paddr, p->p_memsz, mib(c->gm->size));
	return 0;
}

static bool elf_is_placed(const Elf64_Phdr *p) { return p->p_type == PT_LOAD && p->p_memsz > 0; }

/* Pass 1d: every PT_LOAD, then every pair of placed segments (n <= 64, so n^2 is cheap). */
static int elf_check_loads(struct elf_ctx *c)
{
	unsigned placed = 0;

	for (unsigned i = 0; i < c->nph; i++) {
		if (c->ph[i].p_type != PT_LOAD)
			continue;
		if (elf_check_load(c, i) < 0)
			return -1;
		placed += c->ph[i].p_memsz > 0;
	}
	if (placed == 0)
		return elf_fail(c, "ELF file has no loadable (non-empty PT_LOAD) segment");
	for (unsigned i = 0; i < c->nph; i++) {
		const Elf64_Phdr *a = &c->ph[i];
		if (!elf_is_placed(a))
			continue;
		for (unsigned j = i + 1; j < c->nph; j++) {
			const Elf64_Phdr *b = &c->ph[j];
			/* Ends are exact: elf_check_load refused wrapping ranges. */
			if (elf_is_placed(b) && a->p_paddr < b->p_paddr + b->p_memsz &&
			    b->p_paddr < a->p_paddr + a->p_memsz)
				return elf_fail(c, "segments %u and %u overlap in guest memory", i,
						j);
		}
	}
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + (a - 1)) & ~(a - 1); }

/* Reads a 4- or 8-byte little-endian PVH entry from a note's desc and checks it. */
static int elf_take_entry(struct elf_ctx *c, unsigned seg, const uint8_t *desc, uint32_t descsz,
			  uint64_t *entry)
{
	uint64_t v = 0;

	if (descsz != 4 && descsz != 8)
		return elf_fail(c,
				"PVH entry note in segment %u has a %" PRIu32
				"-byte value; expected 4 or 8 bytes",
				seg, descsz);
	memcpy(&v, desc, descsz); /* little-endian host: the low bytes land first */
	if (v >= ELF_PVH_ENTRY_LIMIT)
		return elf_fail(c,
				"PVH entry 0x%" PRIx64
				" is above 4 GiB; the PVH entry is a 32-bit address",
				v);
	*entry = v;
	return 0;
}

/* Walks the notes of PT_NOTE segment i (already known to lie inside the file). A note is a
 * header, the name padded to the segment's note alignment, then the desc padded likewise;
 * the alignment is 4, or 8 when the segment says p_align 8 (as binutils reads it).
 * Each padded note must lie inside the segment. Sets *found at the first PVH entry note. */
static int elf_walk_notes(struct elf_ctx *c, unsigned i, uint64_t *entry, bool *found)
{
	const Elf64_Phdr *p = &c->ph[i];
	const uint8_t *seg = c->buf + p->p_offset;
	uint64_t align = p->p_align == 8 ? 8 : 4;
	uint64_t off = 0;

	while (p->p_filesz - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, seg + off, sizeof(nh));
		/* 32-bit sizes summed and padded in 64-bit arithmetic cannot wrap. */
		uint64_t desc_off = align_up(sizeof(nh) + (uint64_t)nh.n_namesz, align);
		uint64_t next = align_up(desc_off + nh.n_descsz, align);
		if (next > p->p_filesz - off)
			return elf_fail(c,
					"malformed note in segment %u at byte 0x%" PRIx64
					": name %" PRIu32 " + desc %" PRIu32
					" bytes run past the segment end",
					i, off, nh.n_namesz, nh.n_descsz);
		const uint8_t *note = seg + off;
		if (nh.n_namesz == 6 && memcmp(note + sizeof(nh), "Linux", 6) == 0)
			c->linux_note = true;
		if (!*found && nh.n_type == ELF_NOTE_XEN_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(note + sizeof(nh), "Xen", 4) == 0) {
			if (elf_take_entry(c, i, note + desc_off, nh.n_descsz, entry) < 0)
				return -1;
			*found = true;
		}
		off += next;
	}
	return 0; /* fewer bytes left than a note header: padding, not a note */
}

/* Pass 1e: the PVH entry from the first "Xen" PHYS32_ENTRY note; it must be loaded code. */
static int elf_find_pvh_entry(struct elf_ctx *c, uint64_t *entry)
{
	bool found = false;

	for (unsigned i = 0; i < c->nph; i++) {
		const Elf64_Phdr *p = &c->ph[i];
		if (p->p_type != PT_NOTE || p->p_filesz == 0)
			continue;
		if (!range_inside(p->p_offset, p->p_filesz, c->len))
			return elf_fail(c,
					"truncated ELF file: note segment %u (file bytes 0x%" PRIx64
					" + 0x%" PRIx64 ") lies outside the file (%zu bytes)",
					i, p->p_offset, p->p_filesz, c->len);
		if (elf_walk_notes(c, i, entry, &found) < 0)
			return -1;
	}
	if (!found)
		return elf_fail(
			c, "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): mote boots ELF kernels "
			   "through the PVH entry");
	for (unsigned i = 0; i < c->nph; i++) {
		const Elf64_Phdr *p = &c->ph[i];
		if (elf_is_placed(p) && *entry >= p->p_paddr && *entry - p->p_paddr < p->p_memsz)
			return 0;
	}
	return elf_fail(c, "PVH entry 0x%" PRIx64 " is not inside any loaded segment", *entry);
}

/* Pass 2: copy file bytes; bss stays as the zero memory it already is. */
static int elf_copy_segments(struct elf_ctx *c, struct elf_image *out)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	for (unsigned i = 0; i < c->nph; i++) {
		const Elf64_Phdr *p = &c->ph[i];
		if (!elf_is_placed(p))
			continue;
		if (p->p_filesz > 0 &&
		    gm_write(c->gm, p->p_paddr, c->buf + p->p_offset, p->p_filesz) < 0)
			return elf_fail(c,
					"internal error: segment %u refused by guest memory after "
					"validation",
					i);
		if (p->p_paddr < lo)
			lo = p->p_paddr;
		if (p->p_paddr + p->p_memsz > hi)
			hi = p->p_paddr + p->p_memsz;
	}
	out->load_lo = lo;
	out->load_hi = hi;
	return 0;
}

/* What both loaders check first, before anything is written: the ELF header, the program
 * headers and the placed segments (in file, in RAM above min_gpa, not overlapping). */
static int elf_begin(struct elf_ctx *c, const uint8_t *buf, size_t len,
		     const struct guest_mem *gm, uint64_t min_gpa, bool allow32, char *err,
		     size_t errlen)
{
	*c = (struct elf_ctx){
		.buf = buf,
		.len = buf ? len : 0,
		.gm = gm,
		.min_gpa = min_gpa,
		.allow32 = allow32,
		.err = err,
		.errlen = errlen,
	};
	if (elf_check_ehdr(c) < 0 || elf_read_phdrs(c) < 0 || elf_check_loads(c) < 0)
		return -1;
	return 0;
}

int elf_load(const uint8_t *buf, size_t len, const struct guest_mem *gm, uint64_t min_gpa,
	     struct elf_image *out, char *err, size_t errlen)
{
	struct elf_ctx c;
	uint64_t entry = 0;

	if (elf_begin(&c, buf, len, gm, min_gpa, true, err, errlen) < 0 ||
	    elf_find_pvh_entry(&c, &entry) < 0)
		return -1;
	/* Everything is valid: from here on only the copy can fail, and it cannot. */
	if (elf_copy_segments(&c, out) < 0)
		return -1;
	out->pvh_entry = entry;
	out->is_linux = c.linux_note;
	return 0;
}

/* Entry of a static executable: e_entry inside a placed segment that is executable. */
static int elf_check_exec_entry(struct elf_ctx *c)
{
	uint64_t entry = c->eh.e_entry;

	for (unsigned i = 0; i < c->nph; i++) {
		const Elf64_Phdr *p = &c->ph[i];
		if (!elf_is_placed(p) || entry < p->p_paddr || entry - p->p_paddr >= p->p_memsz)
			continue;
		if (!(p->p_flags & PF_X))
			return elf_fail(c,
					"entry point 0x%" PRIx64
					" lies in segment %u, which is not executable",
					entry, i);
		return 0;
	}
	return elf_fail(c, "entry point 0x%" PRIx64 " is not inside any loaded segment", entry);
}

int elf_load_exec(const uint8_t *buf, size_t len, const struct guest_mem *gm, uint64_t min_gpa,
		  struct elf_exec *out, char *err, size_t errlen)
{
	struct elf_ctx c;
	struct elf_image img;

	if (elf_begin(&c, buf, len, gm, min_gpa, false, err, errlen) < 0 ||
	    elf_check_exec_entry(&c) < 0)
		return -1;
	if (elf_copy_segments(&c, &img) < 0)
		return -1;
	out->entry = c.eh.e_entry;
	out->load_lo = img.load_lo;
	out->load_hi = img.load_hi;
	out->nseg = 0;
	for (unsigned i = 0; i < c.nph; i++) {
		if (!elf_is_placed(&c.ph[i]))
			continue;
		out->seg[out->nseg++] = (struct elf_segment){
			.gpa = c.ph[i].p_paddr, .memsz = c.ph[i].p_memsz, .flags = c.ph[i].p_flags};
	}
	return 0;
}

int elf_find_note(const uint8_t *buf, size_t len, const char *name, uint32_t type,
		  struct elf_note *out, char *err, size_t errlen)
{
	struct elf_ctx c = {.buf = buf, .len = buf ? len : 0, .err = err, .errlen = errlen};
	size_t namesz = strlen(name) + 1;

	memset(out, 0, sizeof(*out));
	if (elf_check_ehdr(&c) < 0 || elf_read_phdrs(&c) < 0)
		return -1;
	for (unsigned i = 0; i < c.nph; i++) {
		const Elf64_Phdr *p = &c.ph[i];
		if (p->p_type != PT_NOTE || p->p_filesz == 0)
			continue;
		if (!range_inside(p->p_offset, p->p_filesz, c.len))
			return elf_fail(&c,
					"truncated ELF file: note segment %u (file bytes 0x%" PRIx64
					" + 0x%" PRIx64 ") lies outside the file (%zu bytes)",
					i, p->p_offset, p->p_filesz, c.len);
		const uint8_t *seg = c.buf + p->p_offset;
		uint64_t off = 0;
		while (p->p_filesz - off >= sizeof(Elf64_Nhdr)) {
			Elf64_Nhdr nh;
			memcpy(&nh, seg + off, sizeof(nh));
			uint64_t desc_off = align_up(sizeof(nh) + (uint64_t)nh.n_namesz, 4);
			uint64_t next = align_up(desc_off + nh.n_descsz, 4);
			if (next > p->p_filesz - off)
				break; /* not a note: padding or another convention */
			const uint8_t *note = seg + off;
			if (nh.n_type == type && nh.n_namesz == namesz &&
			    memcmp(note + sizeof(nh), name, namesz) == 0) {
				if (out->count++ == 0) {
					out->desc = note + desc_off;
					out->descsz = nh.n_descsz;
				}
			}
			off += next;
		}
	}
	return 0;
}
