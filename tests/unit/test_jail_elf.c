/* Unit tests for the jailer's ELF dependency reader (src/jail/elfdeps.c) and the library
 * closure (src/jail/libs.c) on synthetic ELF files in a fake system root, on real files
 * (build/mote declares libmicrohttpd in its dlopen note) and on malformed headers. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail/elfdeps.h"
#include "jail/libs.h"
#include "test.h"

static char err[512];
static struct elfdeps d;

struct spec {
	const char *interp;
	const char *needed[4];
	const char *note; /* JSON, or NULL */
	uint16_t machine; /* 0: x86-64 */
};

/* An ELF64 file: PT_LOAD over the whole file at vaddr 0, PT_INTERP, PT_DYNAMIC, PT_NOTE. */
static size_t make_elf(const struct spec *s, uint8_t *img, size_t cap)
{
	memset(img, 0, cap);
	Elf64_Ehdr *h = (Elf64_Ehdr *)img;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_type = ET_DYN;
	h->e_machine = s->machine ? s->machine : EM_X86_64;
	h->e_phoff = 64;
	h->e_phentsize = sizeof(Elf64_Phdr);
	Elf64_Phdr *ph = (Elf64_Phdr *)(img + 64);
	size_t n = 0, len = 0x1000;
	ph[n++] = (Elf64_Phdr){.p_type = PT_LOAD, .p_filesz = len, .p_memsz = len};
	if (s->interp) {
		strcpy((char *)img + 0x200, s->interp);
		ph[n++] = (Elf64_Phdr){.p_type = PT_INTERP, .p_offset = 0x200, .p_filesz = strlen(s->interp) + 1};
	}
	size_t str = 1, ndyn = 0;
	Elf64_Dyn *dyn = (Elf64_Dyn *)(img + 0x800);
	for (size_t i = 0; i < 4 && s->needed[i]; i++) {
		dyn[ndyn++] = (Elf64_Dyn){.d_tag = DT_NEEDED, .d_un.d_val = str};
		strcpy((char *)img + 0x400 + str, s->needed[i]);
		str += strlen(s->needed[i]) + 1;
	}
	dyn[ndyn++] = (Elf64_Dyn){.d_tag = DT_STRTAB, .d_un.d_ptr = 0x400};
	dyn[ndyn++] = (Elf64_Dyn){.d_tag = DT_STRSZ, .d_un.d_val = str};
	dyn[ndyn++] = (Elf64_Dyn){.d_tag = DT_NULL};
	ph[n++] = (Elf64_Phdr){.p_type = PT_DYNAMIC, .p_offset = 0x800, .p_filesz = ndyn * sizeof(Elf64_Dyn)};
	if (s->note) {
		uint32_t hdr[3] = {4, (uint32_t)strlen(s->note) + 1, ELFDEPS_NOTE_TYPE};
		memcpy(img + 0xc00, hdr, 12);
		memcpy(img + 0xc0c, "FDO", 4);
		strcpy((char *)img + 0xc10, s->note);
		ph[n++] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = 0xc00, .p_align = 4,
				       .p_filesz = 16 + ((strlen(s->note) + 4) & ~3ul)};
	}
	h->e_phnum = (uint16_t)n;
	return len;
}

static uint8_t img[0x1000];

static int parse(const struct spec *s)
{
	err[0] = '\0';
	return elfdeps_read(img, make_elf(s, img, sizeof(img)), &d, err, sizeof(err));
}

static void reads_dependencies(void)
{
	const struct spec s = {"/lib64/ld.so", {"libc.so.6", "liba.so.1"},
			       "[{\"feature\":\"x\",\"soname\":[\"libx.so.2\",\"libx.so.1\"],"
			       "\"priority\":\"required\"},{\"soname\":[\"liby.so\"]},"
			       "{\"soname\":[\"libz.so\"],\"priority\":\"suggested\"}]", 0};
	CHECK_EQ(parse(&s), 0);
	CHECK(!strcmp(d.interp, "/lib64/ld.so"));
	CHECK_EQ(d.nneeded, 2u);
	CHECK(!strcmp(d.needed[0], "libc.so.6") && !strcmp(d.needed[1], "liba.so.1"));
	CHECK_EQ(d.ndl, 2u); /* "suggested" ones are not jailed */
	CHECK(d.dl[0].required && d.dl[0].nsonames == 2 && !strcmp(d.dl[0].soname[1], "libx.so.1"));
	CHECK(!d.dl[1].required && !strcmp(d.dl[1].soname[0], "liby.so")); /* default: recommended */
	CHECK(!strcmp(d.dl[0].feature, "x") && !d.dl[1].feature[0]);
	const struct spec stat_file = {NULL, {NULL}, NULL, 0};
	CHECK_EQ(parse(&stat_file), 0);
	CHECK(!d.interp[0] && d.nneeded == 0 && d.ndl == 0);
}

static void real_files(void)
{
	static uint8_t buf[8 << 20];
	FILE *f = fopen("build/mote", "rb");
	CHECK(f != NULL);
	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	CHECK_EQ(elfdeps_read(buf, n, &d, err, sizeof(err)), 0);
	CHECK(!d.interp[0] && d.nneeded == 0); /* a static PIE (Makefile, MOTE_LDFLAGS) */
	CHECK(d.ndl == 1 && !strcmp(d.dl[0].soname[0], "libmicrohttpd.so.12") && !d.dl[0].required);
	CHECK(!strcmp(d.dl[0].feature, "api")); /* what mote-jailer leaves out for mote run */
}

#define BAD(frag, mutate)                                                                  \
	do {                                                                               \
		size_t len_ = make_elf(&good, img, sizeof(img));                           \
		Elf64_Ehdr *h = (Elf64_Ehdr *)img;                                         \
		Elf64_Phdr *ph = (Elf64_Phdr *)(img + 64);                                 \
		(void)h, (void)ph;                                                         \
		mutate;                                                                    \
		CHECK_EQ(elfdeps_read(img, len_, &d, err, sizeof(err)), -1);               \
		CHECK_STR_CONTAINS(err, frag);                                             \
	} while (0)

static void refuses_malformed(void)
{
	const struct spec good = {"/l", {"liba.so"}, "[{\"soname\":[\"libx.so\"]}]", 0};
	BAD("not an ELF file", img[1] = 'X');
	BAD("too short", len_ = 10);
	BAD("not an x86-64", h->e_machine = EM_AARCH64);
	BAD("neither an executable", h->e_type = ET_REL);
	BAD("bad count or entry size", h->e_phentsize = 32);
	BAD("outside the file", h->e_phoff = 0xff0);
	BAD("more than one PT_INTERP", ph[2].p_type = PT_INTERP);
	BAD("not a terminated, absolute path", img[0x200] = 'l');
	BAD("not a terminated, absolute path", ph[1].p_filesz = 1; img[0x201] = 'x');
	BAD("dynamic section lies outside", ph[2].p_offset = 0xff8);
	BAD("string table", ((Elf64_Dyn *)(img + 0x800))[1].d_un.d_ptr = 0x2000);
	BAD("string table", ((Elf64_Dyn *)(img + 0x800))[2].d_un.d_val = 0x1000);
	BAD("DT_NEEDED entry 0", ((Elf64_Dyn *)(img + 0x800))[0].d_un.d_val = 100);
	BAD("DT_NEEDED entry 0", img[0x401 + 3] = '/');
	BAD("note runs past", ((uint32_t *)(img + 0xc00))[1] = 0x10000);
	BAD("not a JSON array", img[0xc10] = '{');
	BAD("needs a 'soname' array", img[0xc18] = 'x');
	BAD("soname 0 is not a library name", img[0xc1e] = '/');
	const struct spec dup = {NULL, {NULL}, "[{\"soname\":[\"a\"],\"soname\":[\"b\"]}]", 0};
	CHECK_EQ(parse(&dup), -1); /* duplicate keys refused */
	const struct spec many = {NULL, {NULL}, "[{\"soname\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]", 0};
	CHECK_EQ(parse(&many), -1);
	CHECK_STR_CONTAINS(err, "1 to 4 names");
	/* jansson quotes the bytes near its error: control bytes never reach the one-line
	 * message (fuzz_jail found a newline there) */
	const struct spec nl = {NULL, {NULL}, "[{\"soname\\\n\x01\":[\"a\"]}]", 0};
	CHECK_EQ(parse(&nl), -1);
	CHECK_STR_CONTAINS(err, "not a JSON array");
	CHECK(!strchr(err, '\n') && !strchr(err, '\x01'));
}

/* A fake system root: files written as synthetic ELF objects. */
static char root[64];

static void put(const char *path, const struct spec *s)
{
	char full[256], dir[256];
	snprintf(full, sizeof(full), "%s%s", root, path);
	snprintf(dir, sizeof(dir), "%s", full);
	for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	CHECK(fd >= 0);
	size_t n = make_elf(s, img, sizeof(img));
	CHECK(write(fd, img, n) == (ssize_t)n);
	close(fd);
}

static struct jail_libs libs;

static bool has(const char *jail_path)
{
	for (size_t i = 0; i < libs.n; i++)
		if (!strcmp(libs.lib[i].jail_path, jail_path))
			return true;
	return false;
}

static int resolve_without(const char *const *unused)
{
	char exec[128];
	snprintf(exec, sizeof(exec), "%s/prog", root);
	err[0] = '\0';
	return jail_libs_resolve(root, exec, unused, &libs, err, sizeof(err));
}

static int resolve(void)
{
	return resolve_without(NULL);
}

static void closure(void)
{
	snprintf(root, sizeof(root), "/tmp/mote-jail-elf.XXXXXX");
	CHECK(mkdtemp(root) != NULL);
	put("/prog", &(struct spec){"/lib64/ld.so.2", {"liba.so.1", "libc.so.6"},
				    "[{\"soname\":[\"libgone.so\",\"libdl.so.3\"]}]", 0});
	put("/lib64/ld.so.2", &(struct spec){NULL, {NULL}, NULL, 0});
	put("/lib/x86_64-linux-gnu/liba.so.1", &(struct spec){NULL, {"libb.so.1", "ld.so.2"}, NULL, 0});
	put("/lib/x86_64-linux-gnu/libb.so.1", &(struct spec){NULL, {NULL}, NULL, EM_386}); /* skipped */
	put("/usr/lib/libb.so.1", &(struct spec){NULL, {"libc.so.6"}, NULL, 0});
	put("/usr/lib/x86_64-linux-gnu/libc.so.6", &(struct spec){NULL, {"ld.so.2"}, NULL, 0});
	put("/lib/libdl.so.3", &(struct spec){NULL, {NULL}, NULL, 0});
	CHECK_EQ(resolve(), 0);
	CHECK_EQ(libs.n, 5u);
	CHECK(!strcmp(libs.lib[0].jail_path, "/lib64/ld.so.2")); /* the interpreter first */
	CHECK(has("/lib/x86_64-linux-gnu/liba.so.1") && has("/usr/lib/libb.so.1"));
	CHECK(has("/usr/lib/x86_64-linux-gnu/libc.so.6") && has("/lib/libdl.so.3"));
	CHECK(!has("/lib/x86_64-linux-gnu/libb.so.1")); /* the i386 one */
	CHECK(strstr(libs.lib[0].host_path, root) == libs.lib[0].host_path);

	/* A feature the VMM will not use: its recommended library stays out, a required one not. */
	put("/prog", &(struct spec){"/lib64/ld.so.2", {"libc.so.6"},
				    "[{\"feature\":\"api\",\"soname\":[\"libdl.so.3\"]},"
				    "{\"feature\":\"other\",\"soname\":[\"liba.so.1\"]}]", 0});
	static const char *const no_api[] = {"api", NULL};
	CHECK_EQ(resolve_without(no_api), 0);
	CHECK(!has("/lib/libdl.so.3") && has("/lib/x86_64-linux-gnu/liba.so.1"));
	CHECK_EQ(resolve(), 0);
	CHECK(has("/lib/libdl.so.3"));
	put("/prog", &(struct spec){"/lib64/ld.so.2", {"libc.so.6"},
				    "[{\"feature\":\"api\",\"soname\":[\"libdl.so.3\"],"
				    "\"priority\":\"required\"}]", 0});
	CHECK_EQ(resolve_without(no_api), 0);
	CHECK(has("/lib/libdl.so.3"));

	/* A missing DT_NEEDED library, a required dlopen one, a missing interpreter. */
	put("/prog", &(struct spec){"/lib64/ld.so.2", {"liba.so.1", "libnope.so.9"}, NULL, 0});
	CHECK_EQ(resolve(), -1);
	CHECK_STR_CONTAINS(err, "prog needs libnope.so.9, which is not in the system library");
	put("/prog", &(struct spec){"/lib64/ld.so.2", {NULL},
				    "[{\"soname\":[\"libgone.so\"],\"priority\":\"required\"}]", 0});
	CHECK_EQ(resolve(), -1);
	CHECK_STR_CONTAINS(err, "dlopen()s libgone.so (required)");
	put("/prog", &(struct spec){"/lib64/none.so", {NULL}, NULL, 0});
	CHECK_EQ(resolve(), -1);
	CHECK_STR_CONTAINS(err, "its interpreter /lib64/none.so does not exist");
	put("/prog", &(struct spec){NULL, {NULL}, NULL, 0});
	CHECK_EQ(resolve(), 0); /* static */
	CHECK_EQ(libs.n, 0u);
	/* Static with a dlopen note (build/mote): the library and its closure, no interpreter. */
	put("/prog", &(struct spec){NULL, {NULL}, "[{\"feature\":\"api\",\"soname\":[\"libdl.so.3\"]}]", 0});
	CHECK_EQ(resolve(), 0);
	CHECK_EQ(libs.n, 1u);
	CHECK(has("/lib/libdl.so.3"));
	CHECK_EQ(resolve_without(no_api), 0);
	CHECK_EQ(libs.n, 0u);
	put("/prog", &(struct spec){NULL, {"libc.so.6"}, NULL, 0});
	CHECK_EQ(resolve(), -1);
	CHECK_STR_CONTAINS(err, "a shared library, not a program");

	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK_EQ(system(cmd), 0);
}

int main(void)
{
	test_suite_name = "jail_elf";
	RUN(reads_dependencies);
	RUN(real_files);
	RUN(refuses_malformed);
	RUN(closure);
	TEST_MAIN_END();
}
