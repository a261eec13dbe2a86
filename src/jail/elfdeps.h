/* What a dynamically linked ELF file needs at run time, read from its program headers: the
 * interpreter (PT_INTERP), the shared libraries (DT_NEEDED) and the libraries it dlopen()s as
 * declared in a ".note.dlopen" note (owner "FDO", the ELF dlopen metadata convention: a JSON
 * array of {"feature": ..., "soname": [...], "priority": ...}). Pure: parses a buffer the caller mapped; every
 * offset, size and string is checked against it (the file is untrusted input, fuzz_jail). */
#ifndef MOTE_JAIL_ELFDEPS_H
#define MOTE_JAIL_ELFDEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ELFDEPS_MAX_NEEDED 64
#define ELFDEPS_MAX_DLOPEN 16     /* features in dlopen notes */
#define ELFDEPS_MAX_ALTERNATIVES 4 /* sonames per feature */
#define ELFDEPS_SONAME_MAX 255
#define ELFDEPS_INTERP_MAX 4096
#define ELFDEPS_FEATURE_MAX 31   /* longer feature names are kept as "" (unnamed) */
#define ELFDEPS_NOTE_MAX 65536    /* bytes of JSON in one dlopen note */
#define ELFDEPS_NOTE_TYPE 0x407c0c0au

struct elfdeps_dlopen {
	char soname[ELFDEPS_MAX_ALTERNATIVES][ELFDEPS_SONAME_MAX + 1]; /* any one will do */
	size_t nsonames;
	char feature[ELFDEPS_FEATURE_MAX + 1]; /* the note's "feature" name, "" when it has none */
	bool required; /* "required": the jail fails without it; else taken when present */
};

struct elfdeps {
	char interp[ELFDEPS_INTERP_MAX]; /* "" for a static file */
	char needed[ELFDEPS_MAX_NEEDED][ELFDEPS_SONAME_MAX + 1];
	size_t nneeded;
	struct elfdeps_dlopen dl[ELFDEPS_MAX_DLOPEN];
	size_t ndl;
};

/* Parses an x86-64 ELF64 executable or shared object. 0, or -1 with a one-line reason. */
int elfdeps_read(const uint8_t *buf, size_t len, struct elfdeps *out, char *err, size_t errlen);

/* A shared-object name as DT_NEEDED or a note may give it: 1..255 printable bytes, no '/'
 * or space, not "." or "..". */
bool elfdeps_soname_ok(const char *s);

#endif
