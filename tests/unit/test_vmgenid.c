/* The VM generation ID (src/devices/vmgenid.c) and its ACPI description (src/arch/x86/acpi.c):
 * attaching writes nothing; a cold boot writes a random non-zero ID and counter 0; each regenerate writes a new ID, the
 * counter + 1 and raises one edge on the event line, after the ID is in memory; two clones of
 * one memory image get different IDs; the page is marked for Diff snapshots; bad addresses are
 * refused. The DSDT holds Device (VGEN) and the Generic Event Device byte for byte as ACPI 6.5
 * encodes the ASL in the comments below (hand-assembled, independent of the encoder). */
#include <stdlib.h>
#include <string.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "arch/x86/machine.h"
#include "core/dirty_log.h"
#include "core/log.h"
#include "devices/vmgenid.h"
#include "test.h"

static struct guest_mem gm, gm2;
static int edges, level, id_changed_before_edge;
static unsigned last_gsi;
static uint8_t seen_id[VMGENID_SIZE];
static const struct vmgenid *watched;

static void fake_irq(void *ctx, unsigned gsi, int lv)
{
	(void)ctx;
	last_gsi = gsi;
	if (lv && !level) {
		edges++;
		uint8_t id[VMGENID_SIZE];
		uint64_t c;
		if (watched && vmgenid_read(watched, id, &c) == 0 && memcmp(id, seen_id, VMGENID_SIZE))
			id_changed_before_edge++;
	}
	level = lv;
}

static void mem(struct guest_mem *g)
{
	const struct gm_region r = {.gpa = 0, .size = 2 << 20};
	char err[128];
	if (gm_create(g, &r, 1, err, sizeof(err)) < 0)
		exit(2);
}

static void generation_id(void)
{
	struct vmgenid g, g2;
	const struct irq_line irq = {.set = fake_irq, .gsi = MACHINE_VMGENID_GSI};
	uint8_t id0[VMGENID_SIZE], id1[VMGENID_SIZE], zero[VMGENID_SIZE] = {0};
	uint64_t c;
	char err[256];

	mem(&gm);
	/* Not attached: refused. Attached: nothing written yet (a restore keeps the snapshot's). */
	memset(&g, 0, sizeof(g));
	CHECK_EQ(vmgenid_regenerate(&g, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not attached");
	CHECK_EQ(vmgenid_boot(&g, err, sizeof(err)), -1);
	CHECK_EQ(vmgenid_init(&g, &gm, X86_VMGENID_GPA, &irq, err, sizeof(err)), 0);
	CHECK_EQ(vmgenid_read(&g, id0, &c), 0);
	CHECK(memcmp(id0, zero, VMGENID_SIZE) == 0 && c == 0);
	CHECK_EQ(vmgenid_boot(&g, err, sizeof(err)), 0);
	CHECK_EQ(vmgenid_read(&g, id0, &c), 0);
	CHECK(memcmp(id0, zero, VMGENID_SIZE) != 0);
	CHECK_EQ(c, 0u);
	CHECK_EQ(edges, 0); /* a cold boot announces nothing */

	/* A clone: the same memory image in another VM. */
	mem(&gm2);
	memcpy(gm2.base, gm.base, 2 << 20);
	g2 = g;
	g2.gm = &gm2;

	CHECK_EQ(gm_track_writes(&gm, true, err, sizeof(err)), 0);
	memcpy(seen_id, id0, VMGENID_SIZE);
	watched = &g;
	CHECK_EQ(vmgenid_regenerate(&g, err, sizeof(err)), 0);
	CHECK_EQ(vmgenid_read(&g, id1, &c), 0);
	CHECK(memcmp(id1, id0, VMGENID_SIZE) != 0);
	CHECK_EQ(c, 1u);
	CHECK_EQ(edges, 1);
	CHECK_EQ(level, 0); /* an edge: raised and lowered */
	CHECK_EQ(last_gsi, (unsigned)MACHINE_VMGENID_GSI);
	CHECK_EQ(id_changed_before_edge, 1);
	struct dirty_log dl;
	CHECK_EQ(dirty_log_init(&dl, &gm, err, sizeof(err)), 0);
	gm_take_written(&gm, dl.bits, dl.nwords);
	CHECK_EQ(dirty_log_count(&dl), 1u);
	CHECK(dl.bits[(X86_VMGENID_GPA / GM_PAGE_SIZE) / 64] & (1ull << ((X86_VMGENID_GPA / GM_PAGE_SIZE) % 64)));
	dirty_log_free(&dl);

	uint8_t id2[VMGENID_SIZE];
	watched = &g2;
	CHECK_EQ(vmgenid_regenerate(&g2, err, sizeof(err)), 0);
	CHECK_EQ(vmgenid_read(&g2, id2, &c), 0);
	CHECK_EQ(c, 1u);
	CHECK(memcmp(id2, id0, VMGENID_SIZE) != 0);
	CHECK(memcmp(id2, id1, VMGENID_SIZE) != 0); /* each clone its own */
	CHECK_EQ(edges, 2);
	CHECK_EQ(vmgenid_regenerate(&g, err, sizeof(err)), 0);
	CHECK_EQ(vmgenid_read(&g, id0, &c), 0);
	CHECK_EQ(c, 2u);

	/* Refusals: misaligned, outside RAM. */
	CHECK_EQ(vmgenid_init(&g, &gm, X86_VMGENID_GPA + 4, &irq, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "aligned");
	CHECK_EQ(vmgenid_init(&g, &gm, (2 << 20) - 8, &irq, err, sizeof(err)), -1);
	watched = NULL;
	gm_destroy(&gm);
	gm_destroy(&gm2);
}

/* The DSDT bytes for VGEN at 0xdf000 and the GED on GSI 3:
 *   Device (VGEN) { Name (_HID, "MOTE0002") Name (_CID, "VM_GEN_COUNTER")
 *                   Name (_DDN, "VM_Gen_Counter") Name (ADDR, Package (2) { 0xdf000, Zero }) }
 *   Device (GED0) { Name (_HID, "ACPI0013") Name (_UID, Zero)
 *                   Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Edge,
 *                                                     ActiveHigh, Exclusive) { 3 } })
 *                   Method (_EVT, 1, Serialized) { Notify (\_SB.VGEN, 0x80) } } */
static const uint8_t vgen_aml[] = {
	0x5b, 0x82, 0x4d, 0x04, 'V', 'G', 'E', 'N',
	0x08, '_', 'H', 'I', 'D', 0x0d, 'M', 'O', 'T', 'E', '0', '0', '0', '2', 0,
	0x08, '_', 'C', 'I', 'D', 0x0d, 'V', 'M', '_', 'G', 'E', 'N', '_', 'C', 'O', 'U', 'N', 'T',
	'E', 'R', 0,
	0x08, '_', 'D', 'D', 'N', 0x0d, 'V', 'M', '_', 'G', 'e', 'n', '_', 'C', 'o', 'u', 'n', 't',
	'e', 'r', 0,
	0x08, 'A', 'D', 'D', 'R', 0x12, 0x08, 0x02, 0x0c, 0x00, 0xf0, 0x0d, 0x00, 0x00,
};
static const uint8_t ged_aml[] = {
	0x5b, 0x82, 0x43, 0x04, 'G', 'E', 'D', '0',
	0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '1', '3', 0,
	0x08, '_', 'U', 'I', 'D', 0x00,
	0x08, '_', 'C', 'R', 'S', 0x11, 0x0e, 0x0a, 0x0b,
	0x89, 0x06, 0x00, 0x03, 0x01, 0x03, 0x00, 0x00, 0x00, 0x79, 0x00,
	0x14, 0x13, '_', 'E', 'V', 'T', 0x09,
	0x86, 0x5c, 0x2e, '_', 'S', 'B', '_', 'V', 'G', 'E', 'N', 0x0a, 0x80,
};

/* The DSDT in the ACPI area (the only table with that signature). */
static const uint8_t *find_dsdt(uint32_t *len)
{
	const uint8_t *a = gm.base + X86_ACPI_GPA;
	for (size_t off = 0; off + 36 <= X86_ACPI_END - X86_ACPI_GPA; off += 8) {
		if (memcmp(a + off, "DSDT", 4) == 0) {
			memcpy(len, a + off + 4, 4);
			return a + off;
		}
	}
	return NULL;
}

static bool has(const uint8_t *t, uint32_t len, const uint8_t *want, size_t n)
{
	for (uint32_t i = 0; i + n <= len; i++)
		if (memcmp(t + i, want, n) == 0)
			return true;
	return false;
}

static void acpi_device(void)
{
	const struct acpi_mmio_dev v = {.base = 0xd0000000, .size = 0x1000, .gsi = 16};
	struct acpi_config c = {.ncpus = 2, .virtio = &v, .nvirtio = 1,
				.vmgenid_gpa = X86_VMGENID_GPA, .vmgenid_gsi = MACHINE_VMGENID_GSI};
	uint64_t rsdp;
	uint32_t len = 0;
	char err[256];

	mem(&gm);
	CHECK_EQ(acpi_build(&gm, &c, &rsdp, err, sizeof(err)), 0);
	const uint8_t *t = find_dsdt(&len);
	CHECK(t != NULL);
	if (t) {
		uint8_t sum = 0;
		for (uint32_t i = 0; i < len; i++)
			sum = (uint8_t)(sum + t[i]);
		CHECK_EQ(sum, 0);
		CHECK(has(t, len, vgen_aml, sizeof(vgen_aml)));
		CHECK(has(t, len, ged_aml, sizeof(ged_aml)));
	}
	/* Without an ID: neither device. */
	gm_destroy(&gm);
	mem(&gm);
	c.vmgenid_gpa = 0;
	CHECK_EQ(acpi_build(&gm, &c, &rsdp, err, sizeof(err)), 0);
	t = find_dsdt(&len);
	CHECK(t && !has(t, len, (const uint8_t *)"VM_GEN_COUNTER", 14) &&
	      !has(t, len, (const uint8_t *)"ACPI0013", 8));
	/* Refused: a misaligned address, a GSI beyond 255. */
	c.vmgenid_gpa = X86_VMGENID_GPA + 1;
	CHECK_EQ(acpi_build(&gm, &c, &rsdp, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "generation ID");
	c.vmgenid_gpa = X86_VMGENID_GPA;
	c.vmgenid_gsi = 300;
	CHECK_EQ(acpi_build(&gm, &c, &rsdp, err, sizeof(err)), -1);
	gm_destroy(&gm);
}

int main(void)
{
	test_suite_name = "vmgenid";
	log_set_level(LOG_ERROR);
	RUN(generation_id);
	RUN(acpi_device);
	TEST_MAIN_END();
}
