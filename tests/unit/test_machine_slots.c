/* The x86 board's virtio slots (src/arch/x86/machine.c): 16 windows, so 6 disks + 4 nets +
 * rng + console fit; distinct windows; GSIs 16-23 first, then only ISA lines no device of the
 * board uses; the DSDT takes the same GSIs; a 17th device is refused with a message. */
#include <stdlib.h>

#include "arch/x86/acpi.h"
#include "arch/x86/machine.h"
#include "guest_ram.h"
#include "test.h"
#include "virtio/device.h"

static struct machine m;
static struct virtio_dev devs[MACHINE_MAX_VIRTIO + 1];
static const struct virtio_dev_ops ops = { .kind = "t", .device_id = 4, .num_queues = 1,
					   .queue_max_size = 16 };
static const struct uart_host uhost = { 0 };

static void sixteen_slots(void)
{
	char err[256] = "";
	bool used[24] = { false };

	CHECK(MACHINE_MAX_VIRTIO >= 6 + 4 + 1 + 1);
	CHECK_EQ(machine_init(&m, NULL, NULL, NULL, &uhost, err, sizeof(err)), 0);
	for (int i = 0; i < MACHINE_MAX_VIRTIO; i++) {
		devs[i].ops = &ops;
		devs[i].name = "dev";
		CHECK_EQ(machine_add_virtio(&m, &devs[i], err, sizeof(err)), 0);
		unsigned g = m.virtio[i].gsi;
		CHECK(g < 24);
		if (g >= 24)
			continue;
		CHECK(!used[g]);
		used[g] = true;
		/* never a line the board or the 8259 world already uses */
		CHECK(g != 0 && g != 1 && g != 2 && g != 3 && g != MACHINE_COM1_IRQ && g != 8 &&
		      g != 12 && g != 13);
		CHECK_EQ(m.virtio[i].base, MACHINE_VIRTIO_BASE + (uint64_t)i * MACHINE_VIRTIO_STRIDE);
		CHECK_EQ(g, machine_virtio_gsi((size_t)i));
	}
	CHECK_EQ(m.virtio[0].gsi, 16u); /* the first eight keep their old GSIs */
	CHECK_EQ(m.virtio[7].gsi, 23u);
	CHECK_EQ(m.virtio[8].gsi, 5u);
	devs[MACHINE_MAX_VIRTIO].ops = &ops;
	devs[MACHINE_MAX_VIRTIO].name = "dev";
	CHECK_EQ(machine_add_virtio(&m, &devs[MACHINE_MAX_VIRTIO], err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "too many virtio devices");

	struct acpi_mmio_dev list[MACHINE_MAX_VIRTIO];
	size_t n = machine_virtio_list(&m, list, MACHINE_MAX_VIRTIO);
	CHECK_EQ(n, (size_t)MACHINE_MAX_VIRTIO);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(list[i].gsi, m.virtio[i].gsi);
	/* The DSDT holds all sixteen within the ACPI area. */
	const struct gm_region r[] = { { .gpa = 0, .size = 2 << 20 } };
	uint64_t rsdp = 0;
	CHECK_EQ(gm_create(&gm, r, 1, err, sizeof(err)), 0);
	const struct acpi_config c = { .ncpus = 4, .virtio = list, .nvirtio = n };
	CHECK_EQ(acpi_build(&gm, &c, &rsdp, err, sizeof(err)), 0);
	gm_destroy(&gm);
	machine_destroy(&m);
}

int main(void)
{
	test_suite_name = "machine_slots";
	RUN(sixteen_slots);
	TEST_MAIN_END();
}
