/* Unit tests for the ACPI tables (src/arch/x86/acpi.c) and the PM registers
 * (src/devices/acpi_pm.c). The tables are built into fake guest RAM and walked back as an OS
 * would, through gm_read only: RSDP -> XSDT -> FADT/MADT -> DSDT, whose AML is decoded by a
 * small independent parser (NameOp, ScopeOp, DeviceOp, Package, Buffer, resource templates). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "core/log.h"
#include "devices/acpi_pm.h"
#include "core/status.h"
#include "test.h"

#define RAM_SIZE (2ull << 20)
#define MAX_DEVS 2000

static struct guest_mem gm;
static char err[256];

static void ram_reset(uint64_t size)
{
	const struct gm_region r = {.gpa = 0, .size = size};
	char e[128];
	gm_destroy(&gm);
	if (gm_create(&gm, &r, 1, e, sizeof(e)) < 0) {
		printf("gm_create: %s\n", e);
		exit(2);
	}
	memset(err, 0, sizeof(err));
}

static bool acpi_area_zero(void)
{
	uint8_t b[4096];
	for (uint64_t a = X86_ACPI_GPA; a < X86_ACPI_END; a += sizeof(b)) {
		if (gm_read(&gm, a, b, sizeof(b)) < 0)
			return true; /* not RAM: nothing can have been written */
		for (size_t i = 0; i < sizeof(b); i++)
			if (b[i])
				return false;
	}
	return true;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* Reads the table at gpa as an OS would: header first, then the whole table, checked
 * against the ACPI area, its signature and its checksum. Returns a malloc'd copy or NULL. */
static uint8_t *table_read(uint64_t gpa, const char *sig, uint32_t *len)
{
	uint8_t h[36];
	if (gpa < X86_ACPI_GPA || gpa % 8 || gm_read(&gm, gpa, h, sizeof(h)) < 0)
		return NULL;
	*len = get32(h + 4);
	if ((sig && memcmp(h, sig, 4)) || *len < 36 || gpa + *len > X86_ACPI_END)
		return NULL;
	uint8_t *t = malloc(*len);
	if (!t || gm_read(&gm, gpa, t, *len) < 0 || sum8(t, *len) != 0 ||
	    memcmp(t + 10, "MOTE  ", 6) || memcmp(t + 16, "MOTEVM  ", 8) ||
	    memcmp(t + 28, "MOTE", 4)) {
		free(t);
		return NULL;
	}
	return t;
}

/* ---- a small AML reader, independent of the encoder ---- */

struct aml_dev {
	char name[5];
	char hid[16];     /* a string _HID */
	uint64_t hid_int; /* or an integer (EISA ID) one */
	uint64_t uid, cca;
	bool has_uid, has_cca, has_crs, has_mem, has_io;
	uint32_t mem_base, mem_size, irq;
	uint16_t io_min, io_max;
	uint8_t mem_info, irq_flags, io_info, io_align, io_len;
	unsigned nio;       /* IO descriptors seen; io_* holds the first, io2_* the second */
	uint16_t io2_min, io2_max;
	uint8_t io2_len;
};

struct aml_seen {
	bool s5;
	uint64_t s5_pkg[8];
	unsigned s5_n;
	struct aml_dev devs[MAX_DEVS];
	size_t ndevs;
	bool bad;
	int max_pkglen_bytes;
};

/* PkgLength at *p: returns the package end (p + value) or NULL when malformed/out of bounds. */
static const uint8_t *pkg_end(const uint8_t **p, const uint8_t *end, struct aml_seen *s)
{
	const uint8_t *start = *p;
	if (start >= end)
		return NULL;
	unsigned n = start[0] >> 6;
	uint32_t v = n ? start[0] & 0x0f : start[0] & 0x3f;
	if (n && (start[0] & 0x30))
		return NULL;
	if ((size_t)(end - start) < 1 + n)
		return NULL;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)start[1 + i] << (4 + 8 * i);
	if ((int)n + 1 > s->max_pkglen_bytes)
		s->max_pkglen_bytes = (int)n + 1;
	*p = start + 1 + n;
	if (v < 1 + n || v > (size_t)(end - start))
		return NULL;
	return start + v;
}

static bool int_read(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	static const unsigned size[16] = {[0x0a] = 1, [0x0b] = 2, [0x0c] = 4, [0x0e] = 8};
	const uint8_t *q = *p;
	if (q >= end)
		return false;
	if (q[0] == 0x00 || q[0] == 0x01) {
		*v = q[0];
		*p = q + 1;
		return true;
	}
	if (q[0] > 0x0e || !size[q[0]] || (size_t)(end - q) < 1 + size[q[0]])
		return false;
	*v = 0;
	for (unsigned i = 0; i < size[q[0]]; i++)
		*v |= (uint64_t)q[1 + i] << (8 * i);
	*p = q + 1 + size[q[0]];
	return true;
}

/* A ResourceTemplate: Memory32Fixed or IO, one Extended Interrupt, End Tag (its checksum is
 * either 0, meaning "no checksum", or makes the template sum to 0). */
static bool crs_parse(const uint8_t *b, size_t n, struct aml_dev *d)
{
	size_t i = 0;
	bool irq = false;
	while (i < n) {
		uint8_t tag = b[i];
		if (tag == 0x79)
			return i + 2 == n && (b[i + 1] == 0 || sum8(b, n) == 0) &&
			       (d->has_mem != d->has_io) && irq;
		if (tag == 0x47 && n - i >= 8) { /* small item: IO (the first in io_*, then io2_*) */
			if (d->nio == 0) {
				d->io_info = b[i + 1];
				d->io_min = get16(b + i + 2);
				d->io_max = get16(b + i + 4);
				d->io_align = b[i + 6];
				d->io_len = b[i + 7];
				d->has_io = true;
			} else if (d->nio == 1) {
				d->io2_min = get16(b + i + 2);
				d->io2_max = get16(b + i + 4);
				d->io2_len = b[i + 7];
			} else {
				return false;
			}
			d->nio++;
			i += 8;
			continue;
		}
		if (!(tag & 0x80) || n - i < 3)
			return false;
		uint16_t len = get16(b + i + 1);
		if (n - i - 3 < len)
			return false;
		const uint8_t *body = b + i + 3;
		if (tag == 0x86 && len == 9) {
			d->mem_info = body[0];
			d->mem_base = get32(body + 1);
			d->mem_size = get32(body + 5);
			d->has_mem = true;
		} else if (tag == 0x89 && len == 6 && body[1] == 1) {
			d->irq_flags = body[0];
			d->irq = get32(body + 2);
			irq = true;
		} else {
			return false;
		}
		i += 3 + len;
	}
	return false;
}

/* Name (seg, object) inside device d (NULL at scope level). */
static const uint8_t *name_parse(const uint8_t *p, const uint8_t *end, struct aml_dev *d,
				 struct aml_seen *s)
{
	bool root = p < end && *p == '\\';
	p += root;
	if (end - p < 5)
		return NULL;
	char seg[5] = {0};
	memcpy(seg, p, 4);
	p += 4;
	uint64_t v;
	if (*p == 0x12) { /* Package */
		p++;
		const uint8_t *e = pkg_end(&p, end, s);
		if (!e || p >= e || !root || strcmp(seg, "_S5_") || d)
			return NULL;
		s->s5 = true;
		s->s5_n = *p++;
		for (unsigned i = 0; i < s->s5_n && i < 8; i++)
			if (!int_read(&p, e, &s->s5_pkg[i]))
				return NULL;
		return p == e ? e : NULL;
	}
	if (!d)
		return NULL;
	if (*p == 0x0d) { /* String */
		const uint8_t *z = memchr(p + 1, 0, (size_t)(end - p - 1));
		if (!z || strcmp(seg, "_HID") || (size_t)(z - p - 1) >= sizeof(d->hid))
			return NULL;
		memcpy(d->hid, p + 1, (size_t)(z - p - 1));
		return z + 1;
	}
	if (*p == 0x11) { /* Buffer */
		p++;
		const uint8_t *e = pkg_end(&p, end, s);
		if (!e || !int_read(&p, e, &v) || v != (uint64_t)(e - p) || strcmp(seg, "_CRS") ||
		    !crs_parse(p, (size_t)v, d))
			return NULL;
		d->has_crs = true;
		return e;
	}
	if (!int_read(&p, end, &v))
		return NULL;
	if (!strcmp(seg, "_HID")) {
		d->hid_int = v;
	} else if (!strcmp(seg, "_UID")) {
		d->uid = v;
		d->has_uid = true;
	} else if (!strcmp(seg, "_CCA")) {
		d->cca = v;
		d->has_cca = true;
	} else {
		return NULL;
	}
	return p;
}

static bool termlist_parse(const uint8_t *p, const uint8_t *end, struct aml_dev *d,
			   struct aml_seen *s, int depth)
{
	while (p && p < end) {
		if (*p == 0x08) {
			p = name_parse(p + 1, end, d, s);
		} else if (*p == 0x10 && !d && depth == 0) { /* Scope (\_SB_) */
			p++;
			const uint8_t *e = pkg_end(&p, end, s);
			if (!e || e - p < 5 || memcmp(p, "\\_SB_", 5) ||
			    !termlist_parse(p + 5, e, NULL, s, depth + 1))
				return false;
			p = e;
		} else if (*p == 0x5b && end - p > 1 && p[1] == 0x82 && !d && depth == 1) {
			p += 2;
			const uint8_t *e = pkg_end(&p, end, s);
			if (!e || e - p < 4 || s->ndevs == MAX_DEVS)
				return false;
			struct aml_dev *nd = &s->devs[s->ndevs++];
			memset(nd, 0, sizeof(*nd));
			memcpy(nd->name, p, 4);
			if (!termlist_parse(p + 4, e, nd, s, depth + 1))
				return false;
			p = e;
		} else {
			return false;
		}
	}
	return p == end;
}

/* ---- the walk ---- */

static struct acpi_mmio_dev devs[4096];
static struct aml_seen seen;

static void make_devs(size_t n)
{
	for (size_t i = 0; i < n; i++)
		devs[i] = (struct acpi_mmio_dev){
			.base = 0xd0000000ull + i * 0x1000, .size = 0x1000, .gsi = 5 + (uint32_t)i};
}

static void check_fadt(const uint8_t *f, uint32_t len, uint64_t *dsdt)
{
	static const uint8_t gas_ctl[12] = {1, 8, 0, 1, 0x00, 0x06};
	static const uint8_t gas_sts[12] = {1, 8, 0, 1, 0x01, 0x06};
	static const uint8_t gas_rst[12] = {1, 8, 0, 1, 0x02, 0x06};
	CHECK_EQ(len, 276u);
	CHECK_EQ(f[8], 6);
	uint32_t flags = get32(f + 112);
	CHECK(flags & (1u << 20)); /* HW_REDUCED_ACPI */
	CHECK(flags & (1u << 10)); /* RESET_REG_SUP */
	uint16_t boot = get16(f + 109);
	CHECK(boot & (1u << 2));   /* VGA not present */
	CHECK(boot & (1u << 5));   /* CMOS RTC not present */
	CHECK(!(boot & (1u << 3))); /* MSI allowed */
	CHECK(!memcmp(f + 116, gas_rst, 12));
	CHECK_EQ(f[128], ACPI_RESET_VALUE);
	CHECK(!memcmp(f + 244, gas_ctl, 12));
	CHECK(!memcmp(f + 256, gas_sts, 12));
	CHECK_EQ(get32(f + 36), 0u); /* no FACS */
	CHECK_EQ(get64(f + 132), 0u);
	*dsdt = get64(f + 140);
	CHECK_EQ(get32(f + 40), *dsdt);
	CHECK(!memcmp(f + 268, "MOTE", 4));
}

static void check_madt(const uint8_t *t, uint32_t len, unsigned ncpus)
{
	CHECK(len >= 44);
	CHECK_EQ(get32(t + 36), X86_LAPIC_GPA);
	CHECK_EQ(get32(t + 40), 1u); /* PCAT_COMPAT */
	unsigned ncpu = 0, nioapic = 0;
	for (uint32_t i = 44; i < len;) {
		uint8_t type = t[i], elen = i + 1 < len ? t[i + 1] : 0;
		CHECK(elen >= 2 && elen <= len - i);
		if (elen < 2 || elen > len - i)
			return;
		if (type == 0) {
			CHECK_EQ(elen, 8);
			CHECK_EQ(t[i + 2], ncpu); /* processor UID */
			CHECK_EQ(t[i + 3], ncpu); /* APIC ID */
			CHECK_EQ(get32(t + i + 4), 1u);
			ncpu++;
		} else if (type == 1) {
			CHECK_EQ(elen, 12);
			CHECK_EQ(t[i + 2], 0); /* IOAPIC ID */
			CHECK_EQ(get32(t + i + 4), X86_IOAPIC_GPA);
			CHECK_EQ(get32(t + i + 8), 0u);
			nioapic++;
		} else {
			CHECK(!"unexpected MADT entry");
		}
		i += elen;
	}
	CHECK_EQ(ncpu, ncpus);
	CHECK_EQ(nioapic, 1u);
}

/* COM1: EisaId ("PNP0501"), IO (Decode16, 0x3f8, 0x3f8, 1, 8), Interrupt (Edge) { 4 }. */
static void check_com1(const struct aml_dev *d)
{
	CHECK(!strcmp(d->name, "COM1"));
	CHECK_EQ(d->hid_int, 0x0105d041u);
	CHECK(d->has_crs && d->has_io);
	CHECK(d->io_min == 0x3f8 && d->io_max == 0x3f8);
	CHECK(d->io_info == 1 && d->io_align == 1 && d->io_len == 8);
	CHECK_EQ(d->irq, 4u);
	CHECK_EQ(d->irq_flags, 3); /* consumer, edge, active high, exclusive */
}

/* KBD: EisaId ("PNP0303"), IO (Decode16, 0x60, 0x60, 1, 1), IO (Decode16, 0x64, 0x64, 1, 1),
 * Interrupt (Edge) { 1 }. */
static void check_kbd(const struct aml_dev *d)
{
	CHECK(!strcmp(d->name, "KBD_"));
	CHECK_EQ(d->hid_int, 0x0303d041u);
	CHECK(d->has_crs && d->has_io);
	CHECK_EQ(d->nio, 2u);
	CHECK(d->io_min == 0x60 && d->io_max == 0x60 && d->io_len == 1);
	CHECK(d->io_info == 1 && d->io_align == 1);
	CHECK(d->io2_min == 0x64 && d->io2_max == 0x64 && d->io2_len == 1);
	CHECK_EQ(d->irq, 1u);
	CHECK_EQ(d->irq_flags, 3); /* consumer, edge, active high, exclusive */
}

static void check_dsdt(const uint8_t *t, uint32_t len, size_t ndevs)
{
	memset(&seen, 0, sizeof(seen));
	CHECK_EQ(t[8], 2);
	CHECK(termlist_parse(t + 36, t + len, NULL, &seen, 0));
	CHECK(seen.s5);
	CHECK_EQ(seen.s5_n, 4u);
	CHECK_EQ(seen.s5_pkg[0], (uint64_t)ACPI_S5_SLP_TYP);
	CHECK_EQ(seen.ndevs, ndevs + 2);
	if (seen.ndevs < 2)
		return;
	check_com1(&seen.devs[0]);
	check_kbd(&seen.devs[1]);
	for (size_t i = 0; i + 2 < seen.ndevs && i < ndevs; i++) {
		const struct aml_dev *d = &seen.devs[i + 2];
		CHECK(!strcmp(d->hid, "LNRO0005"));
		CHECK(d->has_uid && d->uid == i);
		CHECK(d->has_cca && d->cca == 1);
		CHECK(d->has_crs && d->has_mem);
		CHECK_EQ(d->mem_base, devs[i].base);
		CHECK_EQ(d->mem_size, devs[i].size);
		CHECK_EQ(d->mem_info, 1); /* read-write */
		CHECK_EQ(d->irq, devs[i].gsi);
		CHECK_EQ(d->irq_flags, 3); /* consumer, edge, active high, exclusive */
		for (size_t j = 0; j <= i; j++)
			CHECK(memcmp(d->name, seen.devs[j].name, 4)); /* unique names */
	}
}

/* Builds for (ncpus, ndevs) and walks everything from the RSDP. */
static void walk(unsigned ncpus, size_t ndevs)
{
	ram_reset(RAM_SIZE);
	make_devs(ndevs);
	const struct acpi_config c = {.ncpus = ncpus, .virtio = devs, .nvirtio = ndevs};
	uint64_t rsdp = 0;
	CHECK_EQ(acpi_build(&gm, &c, &rsdp, err, sizeof(err)), 0);
	CHECK_EQ(rsdp, X86_ACPI_GPA);
	CHECK_EQ(rsdp % 16, 0u);

	uint8_t r[36];
	CHECK_EQ(gm_read(&gm, rsdp, r, sizeof(r)), 0);
	CHECK(!memcmp(r, "RSD PTR ", 8));
	CHECK_EQ(sum8(r, 20), 0);
	CHECK_EQ(sum8(r, 36), 0);
	CHECK_EQ(r[15], 2);
	CHECK_EQ(get32(r + 20), 36u);
	CHECK(!memcmp(r + 9, "MOTE  ", 6));

	uint32_t xlen;
	uint8_t *x = table_read(get64(r + 24), "XSDT", &xlen);
	CHECK(x != NULL);
	if (!x)
		return;
	CHECK_EQ((xlen - 36) % 8, 0u);
	int nfadt = 0, nmadt = 0;
	uint64_t dsdt_gpa = 0;
	for (uint32_t i = 36; i + 8 <= xlen; i += 8) {
		uint32_t len;
		uint8_t *t = table_read(get64(x + i), NULL, &len);
		CHECK(t != NULL);
		if (!t)
			continue;
		if (!memcmp(t, "FACP", 4)) {
			nfadt++;
			check_fadt(t, len, &dsdt_gpa);
		} else if (!memcmp(t, "APIC", 4)) {
			nmadt++;
			check_madt(t, len, ncpus);
		} else {
			CHECK(!"unexpected table in the XSDT");
		}
		free(t);
	}
	free(x);
	CHECK_EQ(nfadt, 1);
	CHECK_EQ(nmadt, 1);
	uint32_t dlen;
	uint8_t *d = table_read(dsdt_gpa, "DSDT", &dlen);
	CHECK(d != NULL);
	if (d)
		check_dsdt(d, dlen, ndevs);
	free(d);
}

static void tables_cpus_and_devices(void)
{
	static const unsigned cpus[] = {1, 2, 64, 255};
	static const size_t nd[] = {0, 1, 8};
	for (size_t i = 0; i < sizeof(cpus) / sizeof(cpus[0]); i++)
		for (size_t j = 0; j < sizeof(nd) / sizeof(nd[0]); j++)
			walk(cpus[i], nd[j]);
}

/* The \_SB scope crosses the 1-, 2- and 3-byte PkgLength forms as devices are added. */
static void tables_big_dsdt(void)
{
	walk(1, 0);
	CHECK_EQ(seen.max_pkglen_bytes, 2); /* the scope holding only COM1 and KBD: 178 bytes */
	walk(1, 1);
	CHECK_EQ(seen.max_pkglen_bytes, 2);
	walk(2, 64);
	CHECK_EQ(seen.max_pkglen_bytes, 3);
	walk(4, 1500); /* ~100 KiB of AML, close to the end of the area */
	CHECK_EQ(seen.max_pkglen_bytes, 3);
}

/* The DSDT AML for one CPU and one virtio window, as `iasl -oa` compiles the ASL that
 * `iasl -d` disassembles from mote's table (ASL in the comments). */
static void dsdt_golden(void)
{
	static const uint8_t want[] = {
		0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x07, 0x04, /* Name (\_S5, Package (4) */
		0x0a, 0x05, 0x00, 0x00, 0x00,                         /*   { 5, 0, 0, 0 }) */
		0x10, 0x42, 0x0b, 0x5c, 0x5f, 0x53, 0x42, 0x5f,       /* Scope (\_SB) */
		0x5b, 0x82, 0x31, 0x43, 0x4f, 0x4d, 0x31,             /* Device (COM1) */
		0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x05, 0x01, /* _HID "PNP0501" */
		0x08, 0x5f, 0x55, 0x49, 0x44, 0x00,                   /* _UID Zero */
		0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x16, 0x0a, 0x13, /* _CRS Buffer (19) */
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,       /* IO (Decode16, 0x3f8, 8) */
		0x89, 0x06, 0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, /* Interrupt (Edge) {4} */
		0x79, 0x00,                                           /* EndTag */
		0x5b, 0x82, 0x33, 0x4b, 0x42, 0x44, 0x5f,             /* Device (KBD) */
		0x08, 0x5f, 0x48, 0x49, 0x44, 0x0c, 0x41, 0xd0, 0x03, 0x03, /* _HID "PNP0303" */
		0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1e, 0x0a, 0x1b, /* _CRS Buffer (27) */
		0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,       /* IO (Decode16, 0x60, 1) */
		0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,       /* IO (Decode16, 0x64, 1) */
		0x89, 0x06, 0x00, 0x03, 0x01, 0x01, 0x00, 0x00, 0x00, /* Interrupt (Edge) {1} */
		0x79, 0x00,                                           /* EndTag */
		0x5b, 0x82, 0x41, 0x04, 0x56, 0x30, 0x30, 0x30,       /* Device (V000) */
		0x08, 0x5f, 0x48, 0x49, 0x44, 0x0d, 0x4c, 0x4e, 0x52, 0x4f, /* _HID "LNRO0005" */
		0x30, 0x30, 0x30, 0x35, 0x00,
		0x08, 0x5f, 0x55, 0x49, 0x44, 0x00, /* _UID Zero */
		0x08, 0x5f, 0x43, 0x43, 0x41, 0x01, /* _CCA One */
		0x08, 0x5f, 0x43, 0x52, 0x53, 0x11, 0x1a, 0x0a, 0x17, /* _CRS Buffer (23) */
		0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00, /* Mem32Fixed */
		0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00, /* Interrupt (Edge) {5} */
		0x79, 0x00,                                           /* EndTag */
	};
	ram_reset(RAM_SIZE);
	make_devs(1);
	uint64_t rsdp, x, fadt, dsdt;
	const struct acpi_config c = {.ncpus = 1, .virtio = devs, .nvirtio = 1};
	CHECK_EQ(acpi_build(&gm, &c, &rsdp, err, sizeof(err)), 0);
	CHECK_EQ(gm_read(&gm, rsdp + 24, &x, 8), 0);
	CHECK_EQ(gm_read(&gm, x + 36, &fadt, 8), 0); /* the XSDT's first entry is the FADT */
	CHECK_EQ(gm_read(&gm, fadt + 140, &dsdt, 8), 0);
	uint8_t got[36 + sizeof(want)];
	CHECK_EQ(gm_read(&gm, dsdt, got, sizeof(got)), 0);
	CHECK_EQ(get32(got + 4), sizeof(got));
	CHECK(!memcmp(got + 36, want, sizeof(want)));
}

static void pkglen_case(size_t body, const uint8_t *want, size_t n)
{
	uint8_t out[4] = {0};
	CHECK_EQ(acpi_aml_pkglen(out, body), n);
	CHECK(!memcmp(out, want, n));
	/* Decoded, the value is body plus the encoding itself. */
	uint32_t v = n == 1 ? out[0] : out[0] & 0x0fu;
	for (size_t i = 1; i < n; i++)
		v |= (uint32_t)out[i] << (4 + 8 * (i - 1));
	CHECK_EQ(v, body + n);
}

static void aml_pkglen_boundaries(void)
{
	pkglen_case(0, (const uint8_t[]){0x01}, 1);
	pkglen_case(0x3e, (const uint8_t[]){0x3f}, 1); /* total 0x3f: the largest 1-byte */
	pkglen_case(0x3f, (const uint8_t[]){0x41, 0x04}, 2); /* 0x40 does not fit 1 byte */
	pkglen_case(0x40, (const uint8_t[]){0x42, 0x04}, 2);
	pkglen_case(0xffd, (const uint8_t[]){0x4f, 0xff}, 2); /* total 0xfff */
	pkglen_case(0xffe, (const uint8_t[]){0x81, 0x00, 0x01}, 3);
	pkglen_case(0xfff, (const uint8_t[]){0x82, 0x00, 0x01}, 3);
	pkglen_case(0x1000, (const uint8_t[]){0x83, 0x00, 0x01}, 3);
	pkglen_case(0xffffc, (const uint8_t[]){0x8f, 0xff, 0xff}, 3); /* total 0xfffff */
	pkglen_case(0xffffd, (const uint8_t[]){0xc1, 0x00, 0x00, 0x01}, 4);
	pkglen_case(0xfffff, (const uint8_t[]){0xc3, 0x00, 0x00, 0x01}, 4);
	pkglen_case(0xffffffb, (const uint8_t[]){0xcf, 0xff, 0xff, 0xff}, 4);
	uint8_t out[4];
	CHECK_EQ(acpi_aml_pkglen(out, 0xffffffc), 0u);
	CHECK_EQ(acpi_aml_pkglen(out, SIZE_MAX), 0u);
}

static void refuse(const struct acpi_config *c, const char *why)
{
	uint64_t rsdp = 0x1234;
	memset(err, 0, sizeof(err));
	CHECK_EQ(acpi_build(&gm, c, &rsdp, err, sizeof(err)), -1);
	CHECK_EQ(rsdp, 0x1234u);
	CHECK_STR_CONTAINS(err, why);
	CHECK(acpi_area_zero());
}

static void tables_refused(void)
{
	ram_reset(RAM_SIZE);
	make_devs(4096);
	refuse(&(struct acpi_config){.ncpus = 1, .virtio = devs, .nvirtio = 3000}, "exceed");
	refuse(&(struct acpi_config){.ncpus = 1, .virtio = devs, .nvirtio = 4097}, "at most");
	refuse(&(struct acpi_config){.ncpus = 0}, "CPUs");
	refuse(&(struct acpi_config){.ncpus = 256}, "CPUs");
	refuse(&(struct acpi_config){.ncpus = 1, .virtio = NULL, .nvirtio = 1}, "no list");
	struct acpi_mmio_dev bad = {.base = 0xfffff000, .size = 0x2000, .gsi = 5};
	refuse(&(struct acpi_config){.ncpus = 1, .virtio = &bad, .nvirtio = 1}, "4 GiB");
	bad = (struct acpi_mmio_dev){.base = 0x100000000ull, .size = 0x1000, .gsi = 5};
	refuse(&(struct acpi_config){.ncpus = 1, .virtio = &bad, .nvirtio = 1}, "4 GiB");
	bad = (struct acpi_mmio_dev){.base = 0xd0000000, .size = 0, .gsi = 5};
	refuse(&(struct acpi_config){.ncpus = 1, .virtio = &bad, .nvirtio = 1}, "4 GiB");
	/* Guest RAM that ends below the ACPI area, or inside it before the tables end. */
	ram_reset(X86_ACPI_GPA);
	refuse(&(struct acpi_config){.ncpus = 1}, "guest RAM");
	ram_reset(X86_ACPI_GPA + 0x1000);
	refuse(&(struct acpi_config){.ncpus = 1, .virtio = devs, .nvirtio = 64}, "guest RAM");
	/* A window ending exactly at 4 GiB is fine. */
	ram_reset(RAM_SIZE);
	bad = (struct acpi_mmio_dev){.base = 0xfffff000, .size = 0x1000, .gsi = 5};
	uint64_t rsdp;
	CHECK_EQ(acpi_build(&gm, &(struct acpi_config){.ncpus = 1, .virtio = &bad, .nvirtio = 1},
			    &rsdp, err, sizeof(err)),
		 0);
}

/* ---- the PM registers ---- */

static struct vm_stop stop;
static struct acpi_pm pm;

static void pm_setup(void)
{
	CHECK_EQ(stop_init(&stop), 0);
	acpi_pm_init(&pm, &stop);
}

static void pm_wr(uint64_t off, uint8_t v) { acpi_pm_ops.write(&pm, off, &v, 1); }
static uint8_t pm_rd(uint64_t off)
{
	uint8_t v = 0xaa;
	acpi_pm_ops.read(&pm, off, &v, 1);
	return v;
}

static void pm_s5_powers_off(void)
{
	pm_setup();
	pm_wr(ACPI_PM_SLEEP_STATUS, ACPI_WAK_STS); /* what ACPICA writes first */
	CHECK(!stop_requested(&stop));
	pm_wr(ACPI_PM_SLEEP_CONTROL, (ACPI_S5_SLP_TYP << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN);
	CHECK(stop_requested(&stop));
	CHECK_EQ(stop.status, MOTE_EXIT_OK);
	stop_destroy(&stop);
}

static void pm_no_s5_without_both(void)
{
	pm_setup();
	pm_wr(ACPI_PM_SLEEP_CONTROL, ACPI_S5_SLP_TYP << ACPI_SLP_TYP_SHIFT); /* no SLP_EN */
	CHECK(!stop_requested(&stop));
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == ACPI_S5_SLP_TYP)
			continue;
		pm_wr(ACPI_PM_SLEEP_CONTROL, (uint8_t)((typ << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN));
		CHECK(!stop_requested(&stop));
	}
	CHECK_EQ(pm_rd(ACPI_PM_SLEEP_CONTROL), 0);
	stop_destroy(&stop);
}

/* Unsupported sleep: the platform wakes at once, so ACPICA's wait for WAK_STS ends. */
static void pm_suspend_wakes_at_once(void)
{
	pm_setup();
	CHECK_EQ(pm_rd(ACPI_PM_SLEEP_STATUS), 0);
	pm_wr(ACPI_PM_SLEEP_CONTROL, (3 << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN);
	CHECK_EQ(pm_rd(ACPI_PM_SLEEP_STATUS), ACPI_WAK_STS);
	pm_wr(ACPI_PM_SLEEP_STATUS, 0x01); /* other bits: no effect */
	CHECK_EQ(pm_rd(ACPI_PM_SLEEP_STATUS), ACPI_WAK_STS);
	pm_wr(ACPI_PM_SLEEP_STATUS, ACPI_WAK_STS); /* write 1 to clear */
	CHECK_EQ(pm_rd(ACPI_PM_SLEEP_STATUS), 0);
	CHECK(!stop_requested(&stop));
	stop_destroy(&stop);
}

static void pm_reset(void)
{
	pm_setup();
	static const uint8_t others[] = {0x00, 0x02, 0x06, 0x0e, 0xfe, 0xff};
	for (size_t i = 0; i < sizeof(others); i++) {
		pm_wr(ACPI_PM_RESET, others[i]);
		CHECK(!stop_requested(&stop));
	}
	CHECK_EQ(pm_rd(ACPI_PM_RESET), 0);
	pm_wr(ACPI_PM_RESET, ACPI_RESET_VALUE);
	CHECK(stop_requested(&stop));
	CHECK_EQ(stop.status, MOTE_EXIT_OK);
	stop_destroy(&stop);
}

/* A 2-byte write spans control and status; a 3-byte read sees all three registers. */
static void pm_wide_access(void)
{
	pm_setup();
	uint8_t d[3] = {(2 << ACPI_SLP_TYP_SHIFT) | ACPI_SLP_EN, 0};
	acpi_pm_ops.write(&pm, 0, d, 2); /* S2 sets WAK_STS, then the status byte 0 keeps it */
	uint8_t r[3] = {0xaa, 0xaa, 0xaa};
	acpi_pm_ops.read(&pm, 0, r, 3);
	CHECK(r[0] == 0 && r[1] == ACPI_WAK_STS && r[2] == 0);
	d[0] = ACPI_WAK_STS;
	d[1] = ACPI_RESET_VALUE;
	acpi_pm_ops.write(&pm, 1, d, 2);
	CHECK_EQ(pm_rd(ACPI_PM_SLEEP_STATUS), 0);
	CHECK(stop_requested(&stop));
	stop_destroy(&stop);
}

int main(void)
{
	test_suite_name = "acpi";
	gm.fd = -1; /* nothing to destroy yet */
	log_set_level(LOG_ERROR); /* guest_error() lines from the PM tests are expected */
	RUN(aml_pkglen_boundaries);
	RUN(tables_cpus_and_devices);
	RUN(tables_big_dsdt);
	RUN(dsdt_golden);
	RUN(tables_refused);
	RUN(pm_s5_powers_off);
	RUN(pm_no_s5_without_both);
	RUN(pm_suspend_wakes_at_once);
	RUN(pm_reset);
	RUN(pm_wide_access);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
