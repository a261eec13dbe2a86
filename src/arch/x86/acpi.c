/* ACPI tables for the hardware-reduced x86 machine: RSDP, XSDT, FADT, MADT and a DSDT (\_S5,
 * COM1, the i8042 keyboard controller, the virtio-mmio windows) whose AML is encoded here (a
 * few opcodes only). Owns the table layout inside [X86_ACPI_GPA, X86_ACPI_END). Everything is built in a host buffer
 * first and written with one gm_write, so a refusal leaves guest memory untouched.
 * No KVM, no device behaviour: it only describes what the machine file placed. */
#include "arch/x86/acpi.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/machine.h" /* COM1's port and IRQ, described in the DSDT */

#define OEM_ID "MOTE  "         /* 6 bytes */
#define OEM_TABLE_ID "MOTEVM  " /* 8 bytes */
#define CREATOR_ID "MOTE"       /* 4 bytes */
#define OEM_REVISION 1
#define CREATOR_REVISION 1

#define ACPI_AREA (X86_ACPI_END - X86_ACPI_GPA)
#define TABLE_ALIGN 16
#define SDT_HEADER_LEN 36
#define RSDP_LEN 36
#define RSDP_V1_LEN 20 /* the part the first checksum covers */

/* FADT (ACPI 6.x, revision 6): byte offsets of the fields mote sets. */
#define FADT_LEN 276
#define FADT_REVISION 6
#define FADT_MINOR_REVISION 5 /* ACPI 6.5 */
#define FADT_DSDT 40
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_MINOR_VERSION 131
#define FADT_X_DSDT 140
#define FADT_SLEEP_CONTROL_REG 244
#define FADT_SLEEP_STATUS_REG 256
#define FADT_HYPERVISOR_ID 268

#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PWR_BUTTON (1u << 4) /* 1: no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5) /* 1: no fixed-feature sleep button */
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)

#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_CMOS_RTC_NOT_PRESENT (1u << 5)

#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

/* MADT (revision 5, ACPI 6.3+). */
#define MADT_REVISION 5
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0
#define MADT_LAPIC_LEN 8
#define MADT_LAPIC_ENABLED 1u
#define MADT_IOAPIC 1
#define MADT_IOAPIC_LEN 12
#define MADT_IOAPIC_ID 0 /* what KVM's IOAPIC ID register holds after reset */
#define MADT_MAX_CPUS 255 /* xAPIC IDs 0..254; 0xff is the broadcast ID */

/* AML opcodes and prefixes (ACPI 6.5, section 20). */
#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_STRING 0x0d
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_PACKAGE 0x12
#define AML_EXT 0x5b
#define AML_EXT_DEVICE 0x82
#define AML_METHOD 0x14
#define AML_NOTIFY 0x86
#define AML_DUAL_NAME 0x2e
#define AML_ROOT '\\'
#define AML_PKGLEN_MAX 0x0fffffffu

#define DSDT_REVISION 2 /* 64-bit AML integers */
#define VIRTIO_HID "LNRO0005"
#define VIRTIO_MAX_DEVS 0x1000 /* device names V000..VFFF */

/* Resource descriptors (ACPI 6.5, section 6.4). */
#define RES_MEM32_FIXED 0x86
#define RES_MEM32_FIXED_LEN 9
#define RES_MEM32_RW 0x01
#define RES_EXT_IRQ 0x89
#define RES_EXT_IRQ_LEN 6               /* one interrupt */
#define RES_EXT_IRQ_CONSUMER 0x01 /* and level (bit 1 clear), active high, exclusive */
#define RES_EXT_IRQ_EDGE 0x02
#define RES_IO 0x47 /* small item: I/O port range, 7 bytes follow */
#define RES_IO_LEN 8
#define RES_IO_DECODE16 0x01
#define RES_END_TAG 0x79 /* small item, 1 byte follows: the checksum */
#define EISA_PNP0501 0x0105d041u /* EisaId ("PNP0501"), 16550A-compatible COM port */
#define EISA_PNP0303 0x0303d041u /* EisaId ("PNP0303"), PS/2 (8042) keyboard controller */

/* The image of [X86_ACPI_GPA, X86_ACPI_END) as it is built. Appends past cap set overflow
 * and are dropped; the caller checks overflow once, at the end. */
struct img {
	uint8_t *b;
	size_t len, cap;
	bool overflow;
};

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static void le64(uint8_t *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* The byte that makes p[0..n) (which includes the checksum byte, still zero) sum to 0. */
static uint8_t checksum(const uint8_t *p, size_t n) { return (uint8_t)(0x100 - sum8(p, n)); }

static void put(struct img *m, const void *p, size_t n)
{
	if (m->overflow || n > m->cap - m->len) {
		m->overflow = true;
		return;
	}
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void put8(struct img *m, uint8_t v) { put(m, &v, 1); }

static void put32(struct img *m, uint32_t v)
{
	uint8_t b[4];
	le32(b, v);
	put(m, b, sizeof(b));
}

static void put64(struct img *m, uint64_t v)
{
	uint8_t b[8];
	le64(b, v);
	put(m, b, sizeof(b));
}

/* Pads with zeros to a multiple of TABLE_ALIGN; returns the new offset. */
static size_t img_align(struct img *m)
{
	static const uint8_t zero[TABLE_ALIGN];
	size_t pad = (TABLE_ALIGN - m->len % TABLE_ALIGN) % TABLE_ALIGN;
	put(m, zero, pad);
	return m->len;
}

static uint64_t img_gpa(size_t off) { return X86_ACPI_GPA + off; }

/* Starts a table with the common 36-byte header (length and checksum filled by sdt_end).
 * Returns the table's offset in the image. */
static size_t sdt_begin(struct img *m, const char sig[4], uint8_t revision)
{
	size_t at = img_align(m);
	put(m, sig, 4);
	put32(m, 0); /* length */
	put8(m, revision);
	put8(m, 0); /* checksum */
	put(m, OEM_ID, 6);
	put(m, OEM_TABLE_ID, 8);
	put32(m, OEM_REVISION);
	put(m, CREATOR_ID, 4);
	put32(m, CREATOR_REVISION);
	return at;
}

static void sdt_end(struct img *m, size_t at)
{
	if (m->overflow)
		return;
	size_t len = m->len - at;
	le32(m->b + at + 4, (uint32_t)len);
	m->b[at + 9] = checksum(m->b + at, len);
}

/* ---- AML ---- */

size_t acpi_aml_pkglen(uint8_t out[4], size_t body)
{
	if (body > AML_PKGLEN_MAX)
		return 0;
	if (body + 1 <= 0x3f) { /* one byte: bits 5-0 */
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (size_t n = 2; n <= 4; n++) {
		/* Byte 0: bits 7-6 = n - 1 following bytes, bits 3-0 = low nibble;
		 * each following byte carries the next 8 bits. */
		uint64_t total = (uint64_t)body + n;
		if (total >= 1ull << (4 + 8 * (n - 1)))
			continue;
		out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (size_t i = 1; i < n; i++)
			out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
		return n;
	}
	return 0;
}

/* A package body starts here; aml_close() inserts its PkgLength in front once the body is
 * complete (inner packages close first, so outer start offsets stay valid). */
static size_t aml_open(const struct img *m) { return m->len; }

static void aml_close(struct img *m, size_t start)
{
	if (m->overflow)
		return;
	uint8_t enc[4];
	size_t body = m->len - start;
	size_t n = acpi_aml_pkglen(enc, body);
	if (n == 0 || n > m->cap - m->len) {
		m->overflow = true;
		return;
	}
	memmove(m->b + start + n, m->b + start, body);
	memcpy(m->b + start, enc, n);
	m->len += n;
}

static void aml_int(struct img *m, uint64_t v)
{
	uint8_t b[8];
	le64(b, v);
	if (v == 0 || v == 1) {
		put8(m, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		put8(m, AML_BYTE);
		put(m, b, 1);
	} else if (v <= 0xffff) {
		put8(m, AML_WORD);
		put(m, b, 2);
	} else if (v <= 0xffffffff) {
		put8(m, AML_DWORD);
		put(m, b, 4);
	} else {
		put8(m, AML_QWORD);
		put(m, b, 8);
	}
}

static void aml_string(struct img *m, const char *s)
{
	put8(m, AML_STRING);
	put(m, s, strlen(s) + 1);
}

/* NameOp with a 4-character NameSeg; the data object follows. */
static void aml_name(struct img *m, const char seg[4])
{
	put8(m, AML_NAME);
	put(m, seg, 4);
}

/* Extended Interrupt descriptor for one GSI: 3 + RES_EXT_IRQ_LEN bytes at p. */
static void res_ext_irq(uint8_t *p, uint8_t flags, uint32_t gsi)
{
	p[0] = RES_EXT_IRQ;
	le16(p + 1, RES_EXT_IRQ_LEN);
	p[3] = flags;
	p[4] = 1; /* interrupt table length */
	le32(p + 5, gsi);
}

/* Name (_CRS, ResourceTemplate () { res, EndTag }): a Buffer of resource descriptors. */
static void aml_crs(struct img *m, const uint8_t *res, size_t n)
{
	/* EndTag checksum 0: "treated as if the checksum succeeded", as ASL compilers emit. */
	static const uint8_t end_tag[2] = {RES_END_TAG, 0};
	aml_name(m, "_CRS");
	put8(m, AML_BUFFER);
	size_t buf = aml_open(m);
	aml_int(m, n + sizeof(end_tag));
	put(m, res, n);
	put(m, end_tag, sizeof(end_tag));
	aml_close(m, buf);
}

/* Device (COM1) { _HID EisaId ("PNP0501"), _UID 0, _CRS { IO (Decode16, port, port, 1, 8),
 * Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { irq } } }. A hardware-reduced
 * Linux models no 8259 and so maps no ISA IRQs by itself: without this device the 8250
 * driver's IRQ 4 is not wired to the IOAPIC and opening ttyS0 fails. */
static void aml_com1(struct img *m)
{
	uint8_t res[RES_IO_LEN + 3 + RES_EXT_IRQ_LEN];
	res[0] = RES_IO;
	res[1] = RES_IO_DECODE16;
	le16(res + 2, MACHINE_COM1_PORT); /* minimum */
	le16(res + 4, MACHINE_COM1_PORT); /* maximum */
	res[6] = 1;                       /* alignment */
	res[7] = UART_REG_COUNT;          /* length */
	res_ext_irq(res + RES_IO_LEN, RES_EXT_IRQ_CONSUMER | RES_EXT_IRQ_EDGE, MACHINE_COM1_IRQ);

	put8(m, AML_EXT);
	put8(m, AML_EXT_DEVICE);
	size_t dev = aml_open(m);
	put(m, "COM1", 4);
	aml_name(m, "_HID");
	aml_int(m, EISA_PNP0501);
	aml_name(m, "_UID");
	aml_int(m, 0);
	aml_crs(m, res, sizeof(res));
	aml_close(m, dev);
}

/* IO (Decode16, port, port, 1, len) at p: RES_IO_LEN bytes. */
static void res_io(uint8_t *p, uint16_t port, uint8_t len)
{
	p[0] = RES_IO;
	p[1] = RES_IO_DECODE16;
	le16(p + 2, port); /* minimum */
	le16(p + 4, port); /* maximum */
	p[6] = 1;          /* alignment */
	p[7] = len;
}

/* Device (KBD) { _HID EisaId ("PNP0303"), _CRS { IO (Decode16, 0x60, 0x60, 1, 1),
 * IO (Decode16, 0x64, 0x64, 1, 1), Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive)
 * { 1 } } }. Linux's i8042 driver finds the controller through PNP, and, as for COM1, a
 * hardware-reduced Linux wires no ISA IRQ by itself: without this device its keyboard driver
 * never binds (i8042.nopnp leaves IRQ 1 unmapped), and SendCtrlAltDel reaches nothing. */
static void aml_kbd(struct img *m)
{
	uint8_t res[2 * RES_IO_LEN + 3 + RES_EXT_IRQ_LEN];
	res_io(res, MACHINE_I8042_DATA_PORT, 1);
	res_io(res + RES_IO_LEN, MACHINE_I8042_CMD_PORT, 1);
	res_ext_irq(res + 2 * RES_IO_LEN, RES_EXT_IRQ_CONSUMER | RES_EXT_IRQ_EDGE, MACHINE_I8042_IRQ);

	put8(m, AML_EXT);
	put8(m, AML_EXT_DEVICE);
	size_t dev = aml_open(m);
	put(m, "KBD_", 4);
	aml_name(m, "_HID");
	aml_int(m, EISA_PNP0303);
	aml_crs(m, res, sizeof(res));
	aml_close(m, dev);
}

/* Device (Vnnn) { _HID "LNRO0005", _UID n, _CCA One, _CRS { Memory32Fixed (ReadWrite, base,
 * size), Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } } }. Edge,
 * because mote injects virtio interrupts through irqfds: one edge per eventfd write, with
 * InterruptStatus holding the reasons until the driver acknowledges them. */
static void aml_virtio_dev(struct img *m, const struct acpi_mmio_dev *d, unsigned n)
{
	static const char hex[] = "0123456789ABCDEF";
	const char seg[4] = {'V', hex[(n >> 8) & 0xf], hex[(n >> 4) & 0xf], hex[n & 0xf]};
	uint8_t res[3 + RES_MEM32_FIXED_LEN + 3 + RES_EXT_IRQ_LEN];
	res[0] = RES_MEM32_FIXED;
	le16(res + 1, RES_MEM32_FIXED_LEN);
	res[3] = RES_MEM32_RW;
	le32(res + 4, (uint32_t)d->base);
	le32(res + 8, d->size);
	res_ext_irq(res + 3 + RES_MEM32_FIXED_LEN, RES_EXT_IRQ_CONSUMER | RES_EXT_IRQ_EDGE, d->gsi);

	put8(m, AML_EXT);
	put8(m, AML_EXT_DEVICE);
	size_t dev = aml_open(m);
	put(m, seg, 4);
	aml_name(m, "_HID");
	aml_string(m, VIRTIO_HID);
	aml_name(m, "_UID");
	aml_int(m, n);
	aml_name(m, "_CCA");
	aml_int(m, 1); /* DMA is cache coherent */
	aml_crs(m, res, sizeof(res));
	aml_close(m, dev);
}

/* Device (VGEN) { _HID "MOTE0002", _CID "VM_GEN_COUNTER", _DDN "VM_Gen_Counter",
 * ADDR Package () { low 32 bits, high 32 bits } } (what Linux's vmgenid driver and Windows
 * look for), and Device (GED0) { _HID "ACPI0013", _UID 0, _CRS { Interrupt (ResourceConsumer,
 * Edge, ActiveHigh, Exclusive) { gsi } }, Method (_EVT, 1, Serialized) { Notify (\_SB.VGEN,
 * 0x80) } }: the hardware-reduced way to deliver the notify that says the ID changed. */
static void aml_vmgenid(struct img *m, uint64_t gpa, unsigned gsi)
{
	put8(m, AML_EXT);
	put8(m, AML_EXT_DEVICE);
	size_t dev = aml_open(m);
	put(m, "VGEN", 4);
	aml_name(m, "_HID");
	aml_string(m, "MOTE0002");
	aml_name(m, "_CID");
	aml_string(m, "VM_GEN_COUNTER");
	aml_name(m, "_DDN");
	aml_string(m, "VM_Gen_Counter");
	aml_name(m, "ADDR");
	put8(m, AML_PACKAGE);
	size_t pkg = aml_open(m);
	put8(m, 2);
	aml_int(m, gpa & 0xffffffffu);
	aml_int(m, gpa >> 32);
	aml_close(m, pkg);
	aml_close(m, dev);

	uint8_t res[3 + RES_EXT_IRQ_LEN];
	res_ext_irq(res, RES_EXT_IRQ_CONSUMER | RES_EXT_IRQ_EDGE, gsi);
	put8(m, AML_EXT);
	put8(m, AML_EXT_DEVICE);
	dev = aml_open(m);
	put(m, "GED0", 4);
	aml_name(m, "_HID");
	aml_string(m, "ACPI0013");
	aml_name(m, "_UID");
	aml_int(m, 0);
	aml_crs(m, res, sizeof(res));
	put8(m, AML_METHOD);
	size_t method = aml_open(m);
	put(m, "_EVT", 4);
	put8(m, 0x09); /* one argument, serialized */
	put8(m, AML_NOTIFY);
	put8(m, AML_ROOT);
	put8(m, AML_DUAL_NAME);
	put(m, "_SB_VGEN", 8);
	aml_int(m, 0x80);
	aml_close(m, method);
	aml_close(m, dev);
}

/* DSDT: Name (\_S5, Package () { ACPI_S5_SLP_TYP, 0, 0, 0 }) and
 * Scope (\_SB) { COM1, KBD, then one Device per virtio-mmio window }. */
static size_t build_dsdt(struct img *m, const struct acpi_config *c)
{
	size_t at = sdt_begin(m, "DSDT", DSDT_REVISION);

	put8(m, AML_NAME);
	put8(m, AML_ROOT);
	put(m, "_S5_", 4);
	put8(m, AML_PACKAGE);
	size_t pkg = aml_open(m);
	put8(m, 4); /* NumElements: SLP_TYPa, SLP_TYPb, two reserved */
	aml_int(m, ACPI_S5_SLP_TYP);
	aml_int(m, 0);
	aml_int(m, 0);
	aml_int(m, 0);
	aml_close(m, pkg);

	put8(m, AML_SCOPE);
	size_t scope = aml_open(m);
	put8(m, AML_ROOT);
	put(m, "_SB_", 4);
	aml_com1(m);
	aml_kbd(m);
	for (size_t i = 0; i < c->nvirtio; i++)
		aml_virtio_dev(m, &c->virtio[i], (unsigned)i);
	if (c->vmgenid_gpa)
		aml_vmgenid(m, c->vmgenid_gpa, c->vmgenid_gsi);
	aml_close(m, scope);

	sdt_end(m, at);
	return at;
}

/* ---- fixed tables ---- */

static void gas_io(uint8_t p[12], uint16_t port)
{
	p[0] = GAS_SYSTEM_IO;
	p[1] = 8; /* register bit width */
	p[2] = 0; /* bit offset */
	p[3] = GAS_ACCESS_BYTE;
	le64(p + 4, port);
}

static size_t build_fadt(struct img *m, size_t dsdt)
{
	uint8_t f[FADT_LEN] = {0};
	uint64_t dsdt_gpa = img_gpa(dsdt);

	le32(f + FADT_DSDT, (uint32_t)dsdt_gpa); /* below 1 MiB: both fields agree */
	le16(f + FADT_IAPC_BOOT_ARCH, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT);
	le32(f + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
				     FADT_F_RESET_REG_SUP | FADT_F_HW_REDUCED_ACPI);
	gas_io(f + FADT_RESET_REG, ACPI_RESET_PORT);
	f[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
	f[FADT_MINOR_VERSION] = FADT_MINOR_REVISION;
	le64(f + FADT_X_DSDT, dsdt_gpa);
	gas_io(f + FADT_SLEEP_CONTROL_REG, ACPI_SLEEP_CONTROL_PORT);
	gas_io(f + FADT_SLEEP_STATUS_REG, ACPI_SLEEP_STATUS_PORT);
	memcpy(f + FADT_HYPERVISOR_ID, "MOTE", 4);

	size_t at = sdt_begin(m, "FACP", FADT_REVISION);
	put(m, f + SDT_HEADER_LEN, FADT_LEN - SDT_HEADER_LEN);
	sdt_end(m, at);
	return at;
}

static size_t build_madt(struct img *m, unsigned ncpus)
{
	size_t at = sdt_begin(m, "APIC", MADT_REVISION);
	put32(m, (uint32_t)X86_LAPIC_GPA);
	put32(m, MADT_PCAT_COMPAT);
	for (unsigned i = 0; i < ncpus; i++) {
		const uint8_t lapic[MADT_LAPIC_LEN] = {
			MADT_LAPIC, MADT_LAPIC_LEN, (uint8_t)i /* ACPI processor UID */,
			(uint8_t)i /* APIC ID */, MADT_LAPIC_ENABLED, 0, 0, 0,
		};
		put(m, lapic, sizeof(lapic));
	}
	uint8_t ioapic[MADT_IOAPIC_LEN] = {MADT_IOAPIC, MADT_IOAPIC_LEN, MADT_IOAPIC_ID, 0};
	le32(ioapic + 4, (uint32_t)X86_IOAPIC_GPA);
	le32(ioapic + 8, 0); /* GSI base */
	put(m, ioapic, sizeof(ioapic));
	sdt_end(m, at);
	return at;
}

static size_t build_xsdt(struct img *m, size_t fadt, size_t madt)
{
	size_t at = sdt_begin(m, "XSDT", 1);
	put64(m, img_gpa(fadt));
	put64(m, img_gpa(madt));
	sdt_end(m, at);
	return at;
}

/* RSDP (ACPI 2.0+) at image offset 0, where a guest scanning 0xe0000-0xfffff finds it. */
static void build_rsdp(struct img *m, size_t xsdt)
{
	uint8_t *r = m->b;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[15] = 2;         /* revision */
	le32(r + 16, 0);   /* no RSDT: the XSDT is enough for any 64-bit OS */
	le32(r + 20, RSDP_LEN);
	le64(r + 24, img_gpa(xsdt));
	r[8] = checksum(r, RSDP_V1_LEN);
	r[32] = checksum(r, RSDP_LEN);
}

static int check_config(const struct acpi_config *c, char *err, size_t errlen)
{
	if (c->ncpus == 0 || c->ncpus > MADT_MAX_CPUS) {
		snprintf(err, errlen, "ACPI: %u CPUs, the MADT describes 1 to %u", c->ncpus,
			 MADT_MAX_CPUS);
		return -1;
	}
	if (c->nvirtio > 0 && !c->virtio) {
		snprintf(err, errlen, "ACPI: %zu virtio devices but no list", c->nvirtio);
		return -1;
	}
	if (c->nvirtio > VIRTIO_MAX_DEVS) {
		snprintf(err, errlen, "ACPI: %zu virtio devices, at most %u", c->nvirtio,
			 VIRTIO_MAX_DEVS);
		return -1;
	}
	if (c->vmgenid_gpa && (c->vmgenid_gpa % 8 || c->vmgenid_gsi > 255)) {
		snprintf(err, errlen, "ACPI: VM generation ID at 0x%llx on GSI %u (8-byte aligned, "
			 "GSI 0-255)", (unsigned long long)c->vmgenid_gpa, c->vmgenid_gsi);
		return -1;
	}
	for (size_t i = 0; i < c->nvirtio; i++) {
		const struct acpi_mmio_dev *d = &c->virtio[i];
		if (d->size == 0 || d->base > 0xffffffffull ||
		    d->size > 0x100000000ull - d->base) {
			snprintf(err, errlen,
				 "ACPI: virtio window %zu (0x%llx, size 0x%x) is not inside 4 GiB",
				 i, (unsigned long long)d->base, d->size);
			return -1;
		}
	}
	return 0;
}

int acpi_build(const struct guest_mem *gm, const struct acpi_config *c, uint64_t *rsdp_gpa,
	       char *err, size_t errlen)
{
	if (check_config(c, err, errlen) < 0)
		return -1;
	struct img m = {.b = calloc(1, ACPI_AREA), .cap = ACPI_AREA};
	if (!m.b) {
		snprintf(err, errlen, "ACPI: out of memory");
		return -1;
	}
	m.len = RSDP_LEN; /* filled last */
	size_t dsdt = build_dsdt(&m, c);
	size_t madt = build_madt(&m, c->ncpus);
	size_t fadt = build_fadt(&m, dsdt);
	size_t xsdt = build_xsdt(&m, fadt, madt);
	int rc = -1;
	if (m.overflow) {
		snprintf(err, errlen,
			 "ACPI: tables for %u CPUs and %zu virtio devices exceed the %llu KiB area",
			 c->ncpus, c->nvirtio, (unsigned long long)(ACPI_AREA >> 10));
		goto out;
	}
	build_rsdp(&m, xsdt);
	if (gm_write(gm, X86_ACPI_GPA, m.b, m.len) < 0) {
		snprintf(err, errlen, "ACPI: guest RAM does not cover 0x%llx-0x%llx",
			 (unsigned long long)X86_ACPI_GPA,
			 (unsigned long long)(X86_ACPI_GPA + m.len));
		goto out;
	}
	*rsdp_gpa = X86_ACPI_GPA;
	rc = 0;
out:
	free(m.b);
	return rc;
}
