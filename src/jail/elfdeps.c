/* ELF run-time dependencies (see elfdeps.h): program headers only, each field copied out of
 * the buffer with memcpy (no unaligned or out-of-bounds reads) and checked with overflow-aware
 * arithmetic before use. Must not: follow anything outside the buffer, or trust a count. */
#include "jail/elfdeps.h"

#include <elf.h>
#include <jansson.h>
#include <string.h>

#include "jail/jail.h"

#define MAX_PHDRS 256
#define MAX_DYN 4096

struct elf_in {
	const uint8_t *buf;
	size_t len;
	Elf64_Phdr ph[MAX_PHDRS];
	size_t nph;
};

/* [off, off + n) lies in the buffer. */
static bool in_file(const struct elf_in *e, uint64_t off, uint64_t n)
{
	return off <= e->len && n <= e->len - off;
}

bool elfdeps_soname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ELFDEPS_SONAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '/')
			return false;
	return true;
}

static int read_header(struct elf_in *e, char *err, size_t errlen)
{
	Elf64_Ehdr h;
	if (e->len < sizeof(h))
		return jail_err(err, errlen, "not an ELF file (too short)");
	memcpy(&h, e->buf, sizeof(h));
	if (memcmp(h.e_ident, ELFMAG, SELFMAG))
		return jail_err(err, errlen, "not an ELF file");
	if (h.e_ident[EI_CLASS] != ELFCLASS64 || h.e_ident[EI_DATA] != ELFDATA2LSB ||
	    h.e_machine != EM_X86_64)
		return jail_err(err, errlen, "not an x86-64 ELF64 file");
	if (h.e_type != ET_EXEC && h.e_type != ET_DYN)
		return jail_err(err, errlen, "ELF file is neither an executable nor a shared object");
	if (h.e_phnum > MAX_PHDRS || (h.e_phnum && h.e_phentsize != sizeof(Elf64_Phdr)))
		return jail_err(err, errlen, "ELF program headers: bad count or entry size");
	if (!in_file(e, h.e_phoff, (uint64_t)h.e_phnum * sizeof(Elf64_Phdr)))
		return jail_err(err, errlen, "ELF program headers lie outside the file");
	memcpy(e->ph, e->buf + h.e_phoff, (size_t)h.e_phnum * sizeof(Elf64_Phdr));
	e->nph = h.e_phnum;
	return 0;
}

/* A NUL-terminated string at [off, off + max) of the buffer, copied to out. */
static int copy_str(const struct elf_in *e, uint64_t off, uint64_t max, char *out, size_t outlen)
{
	if (!in_file(e, off, max) || max == 0)
		return -1;
	const uint8_t *s = e->buf + off;
	const uint8_t *nul = memchr(s, 0, (size_t)max);
	if (!nul || (size_t)(nul - s) >= outlen)
		return -1;
	memcpy(out, s, (size_t)(nul - s) + 1);
	return 0;
}

static int read_interp(const struct elf_in *e, const Elf64_Phdr *p, struct elfdeps *d, char *err,
		       size_t errlen)
{
	if (copy_str(e, p->p_offset, p->p_filesz, d->interp, sizeof(d->interp)) < 0 ||
	    d->interp[0] != '/')
		return jail_err(err, errlen, "ELF interpreter (PT_INTERP) is not a terminated, "
			       "absolute path");
	return 0;
}

/* A virtual address -> file offset through the PT_LOAD headers, for n bytes. */
static int vaddr_to_off(const struct elf_in *e, uint64_t va, uint64_t n, uint64_t *off)
{
	for (size_t i = 0; i < e->nph; i++) {
		const Elf64_Phdr *p = &e->ph[i];
		if (p->p_type != PT_LOAD || va < p->p_vaddr || va - p->p_vaddr > p->p_filesz ||
		    n > p->p_filesz - (va - p->p_vaddr))
			continue;
		*off = p->p_offset + (va - p->p_vaddr);
		return in_file(e, *off, n) && *off >= p->p_offset ? 0 : -1;
	}
	return -1;
}

static int read_dynamic(const struct elf_in *e, const Elf64_Phdr *p, struct elfdeps *d, char *err,
			size_t errlen)
{
	uint64_t strtab = 0, strsz = 0, needed[ELFDEPS_MAX_NEEDED];
	size_t nneeded = 0;
	bool have_strtab = false;
	if (!in_file(e, p->p_offset, p->p_filesz))
		return jail_err(err, errlen, "ELF dynamic section lies outside the file");
	size_t n = (size_t)(p->p_filesz / sizeof(Elf64_Dyn));
	for (size_t i = 0; i < n && i < MAX_DYN; i++) {
		Elf64_Dyn dyn;
		memcpy(&dyn, e->buf + p->p_offset + i * sizeof(dyn), sizeof(dyn));
		if (dyn.d_tag == DT_NULL)
			break;
		if (dyn.d_tag == DT_STRTAB)
			strtab = dyn.d_un.d_ptr, have_strtab = true;
		else if (dyn.d_tag == DT_STRSZ)
			strsz = dyn.d_un.d_val;
		else if (dyn.d_tag == DT_NEEDED) {
			if (nneeded == ELFDEPS_MAX_NEEDED)
				return jail_err(err, errlen, "ELF file needs more than %d libraries",
						ELFDEPS_MAX_NEEDED);
			needed[nneeded++] = dyn.d_un.d_val;
		}
	}
	if (nneeded == 0)
		return 0;
	uint64_t stroff;
	if (!have_strtab || strsz == 0 || vaddr_to_off(e, strtab, strsz, &stroff) < 0)
		return jail_err(err, errlen, "ELF string table (DT_STRTAB, DT_STRSZ) lies outside the file");
	for (size_t i = 0; i < nneeded; i++) {
		char *out = d->needed[d->nneeded];
		if (needed[i] >= strsz ||
		    copy_str(e, stroff + needed[i], strsz - needed[i], out, ELFDEPS_SONAME_MAX + 1) < 0 ||
		    !elfdeps_soname_ok(out))
			return jail_err(err, errlen, "ELF DT_NEEDED entry %zu is not a library name", i);
		d->nneeded++;
	}
	return 0;
}

/* One dlopen note's JSON: [{"soname": ["libx.so.1", ...], "priority": "required"}, ...]. */
static int read_dlopen_json(const char *json, size_t len, struct elfdeps *d, char *err,
			    size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	int r = -1;
	if (!root || !json_is_array(root)) {
		/* jansson quotes the input near the error: the file's bytes, not ours to print */
		for (char *c = je.text; !root && *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
				*c = '?';
		jail_err(err, errlen, "ELF dlopen note: not a JSON array%s%s", root ? "" : ": ",
			 root ? "" : je.text);
		goto out;
	}
	size_t i;
	json_t *f;
	json_array_foreach(root, i, f) {
		json_t *names = json_object_get(f, "soname"), *prio = json_object_get(f, "priority");
		json_t *feat = json_object_get(f, "feature");
		if (d->ndl == ELFDEPS_MAX_DLOPEN) {
			jail_err(err, errlen, "ELF dlopen notes: more than %d features", ELFDEPS_MAX_DLOPEN);
			goto out;
		}
		struct elfdeps_dlopen *dl = &d->dl[d->ndl];
		memset(dl, 0, sizeof(*dl));
		size_t k;
		json_t *s;
		if (!json_is_array(names) || json_array_size(names) == 0 ||
		    json_array_size(names) > ELFDEPS_MAX_ALTERNATIVES || (prio && !json_is_string(prio))) {
			jail_err(err, errlen, "ELF dlopen note: feature %zu needs a 'soname' array of 1 to %d "
				 "names and a string 'priority'", i, ELFDEPS_MAX_ALTERNATIVES);
			goto out;
		}
		json_array_foreach(names, k, s) {
			if (!json_is_string(s) || !elfdeps_soname_ok(json_string_value(s))) {
				jail_err(err, errlen, "ELF dlopen note: feature %zu: soname %zu is not a "
					 "library name", i, k);
				goto out;
			}
			strcpy(dl->soname[dl->nsonames++], json_string_value(s)); /* checked: <= 255 */
		}
		if (json_is_string(feat) && strlen(json_string_value(feat)) <= ELFDEPS_FEATURE_MAX)
			strcpy(dl->feature, json_string_value(feat)); /* checked: fits */
		dl->required = prio && !strcmp(json_string_value(prio), "required");
		if (!prio || strcmp(json_string_value(prio), "suggested")) /* suggested: not jailed */
			d->ndl++;
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

static int read_notes(const struct elf_in *e, const Elf64_Phdr *p, struct elfdeps *d, char *err,
		      size_t errlen)
{
	uint64_t align = p->p_align == 8 ? 8 : 4, off = 0, end = p->p_filesz;
	if (!in_file(e, p->p_offset, p->p_filesz))
		return jail_err(err, errlen, "ELF note segment lies outside the file");
	const uint8_t *base = e->buf + p->p_offset;
	while (end - off >= 12) {
		uint32_t h[3]; /* namesz, descsz, type */
		memcpy(h, base + off, sizeof(h));
		/* name and desc each start aligned (to 8 in an 8-aligned segment, gABI) */
		uint64_t name = off + 12, desc = (name + h[0] + align - 1) & ~(align - 1);
		uint64_t next = (desc + h[1] + align - 1) & ~(align - 1);
		if (next > end)
			return jail_err(err, errlen, "ELF note runs past its segment");
		if (h[2] == ELFDEPS_NOTE_TYPE && h[0] == 4 && !memcmp(base + name, "FDO", 4)) {
			if (h[1] > ELFDEPS_NOTE_MAX)
				return jail_err(err, errlen, "ELF dlopen note larger than %d bytes",
						ELFDEPS_NOTE_MAX);
			const char *json = (const char *)base + desc;
			if (read_dlopen_json(json, strnlen(json, h[1]), d, err, errlen) < 0)
				return -1;
		}
		off = next;
	}
	return 0;
}

int elfdeps_read(const uint8_t *buf, size_t len, struct elfdeps *d, char *err, size_t errlen)
{
	struct elf_in e; /* 14 KiB of program headers */
	d->interp[0] = '\0'; /* the lists are written whole as entries are found */
	d->nneeded = d->ndl = 0;
	e.nph = 0;
	e.buf = buf;
	e.len = len;
	if (read_header(&e, err, errlen) < 0)
		return -1;
	unsigned ninterp = 0, ndynamic = 0;
	for (size_t i = 0; i < e.nph; i++) {
		ninterp += e.ph[i].p_type == PT_INTERP;
		ndynamic += e.ph[i].p_type == PT_DYNAMIC;
	}
	if (ninterp > 1 || ndynamic > 1)
		return jail_err(err, errlen, "ELF file has more than one PT_INTERP or PT_DYNAMIC header");
	for (size_t i = 0; i < e.nph; i++) {
		const Elf64_Phdr *p = &e.ph[i];
		int r = 0;
		if (p->p_type == PT_INTERP)
			r = read_interp(&e, p, d, err, errlen);
		else if (p->p_type == PT_DYNAMIC)
			r = read_dynamic(&e, p, d, err, errlen);
		else if (p->p_type == PT_NOTE)
			r = read_notes(&e, p, d, err, errlen);
		if (r < 0)
			return -1;
	}
	return 0;
}
