/* A minimal valid snapshot state file for tests: 1 vCPU, 64 MiB, no virtio devices, legacy
 * devices saved from fresh ones; the KVM sections hold placeholder bytes (only snapshot_apply
 * reads them). Shared by test_snapshot.c. Caller frees o->buf (snap_out_free). */
#ifndef MOTE_TEST_SNAP_IMAGE_H
#define MOTE_TEST_SNAP_IMAGE_H

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "snapshot/format.h"
#include "snapshot/stream.h"

static void snap_test_config(struct snap_out *o, uint64_t mem, uint32_t cpus, uint32_t nvirtio)
{
	snap_put_u32(o, 1);          /* version */
	snap_put_u64(o, mem);
	snap_put_u32(o, cpus);
	snap_put_u8(o, 0);           /* pit */
	snap_put_u8(o, 0);           /* rng */
	snap_put_u8(o, 0);           /* virtio console */
	snap_put_u32(o, 1);          /* regions */
	snap_put_u64(o, 0);
	snap_put_u64(o, mem);
	snap_put_u32(o, 0);          /* disks */
	snap_put_u32(o, 0);          /* nets */
	snap_put_u8(o, 0);           /* vsock */
	snap_put_u64(o, 0);
	snap_put_u16(o, 0);
	snap_put_u8(o, 0);           /* balloon: enabled, amount, deflate, stats, reporting */
	snap_put_u32(o, 0);
	snap_put_u8(o, 0);
	snap_put_u32(o, 0);
	snap_put_u8(o, 0);
	snap_put_u32(o, nvirtio);
}

static void snap_test_image(struct snap_out *o)
{
	struct snapf_host h = {.vendor = "TestVendorXY", .signature = 0x806f8};
	struct uart8250 u;
	struct i8042 k;
	struct acpi_pm pm;
	static const struct irq_line none = {0};
	static const struct uart_host uh = {0};
	uart_init(&u, &none, &uh);
	i8042_init(&k, NULL);
	acpi_pm_init(&pm, NULL);
	snap_out_init(o);
	snapf_begin(o, &h);
	size_t s = snapf_section_begin(o, SNAPF_CONFIG, 0);
	snap_test_config(o, 64ull << 20, 1, 0);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_VM, 0);
	snap_put_u32(o, 1);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_CPUID, 0);
	snap_put_u32(o, 1); /* one entry: leaf 1 */
	const uint32_t e[7] = {1, 0, 0, 0x806f8, 0, 0x80000001u, 0x1u};
	for (int i = 0; i < 7; i++)
		snap_put_u32(o, e[i]);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_VCPU, 0);
	snap_put_u32(o, 1);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_LEGACY, SNAPF_LEGACY_COM1);
	uart_save(&u, o);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_LEGACY, SNAPF_LEGACY_I8042);
	i8042_save(&k, o);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_LEGACY, SNAPF_LEGACY_ACPI_PM);
	acpi_pm_save(&pm, o);
	snapf_section_end(o, s);
	snapf_finish(o);
	uart_destroy(&u);
	i8042_destroy(&k);
}

#endif
