/* Snapshot state files (src/snapshot/format.c, snapshot.c) and the device state they carry:
 * CRC-32, a round trip, and every hostile input the parser must refuse with one line: each
 * truncation, each flipped byte, wrong magic/version/header, lengths past the end, unknown,
 * duplicate, missing and extra sections, trailing bytes, a configuration out of range, a CPUID
 * the host lacks; legacy-device and virtio-transport state round trips and refusals. */
#include "snapshot/format.h"
#include "snapshot/snapshot.h"
#include "devices/virtio_rng.h"
#include "virtio/snap.h"
#include "snap_image.h"
#include "test.h"

#include <stdlib.h>

static char err[512];

static bool one_line(void) { return err[0] && !strchr(err, '\n'); }

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_crc(uint8_t *b, size_t n) { put32(b + n - 4, snapf_crc32(b, n - 4)); }

static int parse(const uint8_t *b, size_t n)
{
	static struct snapf_file f;
	err[0] = '\0';
	return snapf_parse(b, n, &f, err, sizeof(err));
}

static void crc32_known_value(void)
{
	CHECK_EQ(snapf_crc32("123456789", 9), 0xcbf43926u); /* the IEEE check value */
	CHECK_EQ(snapf_crc32("", 0), 0u);
}

static void round_trip(void)
{
	struct snap_out o;
	static struct snapf_file f;
	snap_test_image(&o);
	CHECK(snap_out_ok(&o));
	CHECK_EQ(snapf_parse(o.buf, o.len, &f, err, sizeof(err)), 0);
	CHECK_EQ(f.version, SNAPF_VERSION);
	CHECK(!strcmp(f.host.vendor, "TestVendorXY"));
	CHECK_EQ(f.host.signature, 0x806f8u);
	CHECK_EQ(f.nsections, 7u);
	CHECK(snapf_find(&f, SNAPF_LEGACY, SNAPF_LEGACY_I8042) != NULL);
	CHECK(snapf_find(&f, SNAPF_LEGACY, 7) == NULL);
	CHECK_EQ(snapf_count(&f, SNAPF_LEGACY), 3u);
	const struct snapf_section *v = snapf_find(&f, SNAPF_VM, 0);
	CHECK(v && v->len == 4 && v->data[0] == 1);
	static struct snap_image img;
	img.buf = o.buf;
	img.len = o.len;
	CHECK_EQ(snapshot_check_image(&img, err, sizeof(err)), 0);
	CHECK_EQ(img.cfg.cpus, 1u);
	CHECK_EQ(img.cfg.mem_size, 64ull << 20);
	snap_out_free(&o);
}

static void every_truncation_refused(void)
{
	struct snap_out o;
	snap_test_image(&o);
	for (size_t n = 0; n < o.len; n++) {
		CHECK_EQ(parse(o.buf, n), -1);
		CHECK(one_line());
	}
	snap_out_free(&o);
}

static void every_flipped_byte_refused(void)
{
	struct snap_out o;
	snap_test_image(&o);
	for (size_t i = 0; i < o.len; i++) {
		o.buf[i] ^= 0x01;
		CHECK_EQ(parse(o.buf, o.len), -1);
		CHECK(one_line());
		o.buf[i] ^= 0x01;
	}
	CHECK_EQ(parse(o.buf, o.len), 0);
	snap_out_free(&o);
}

static void header_fields_refused(void)
{
	struct snap_out o;
	snap_test_image(&o);
	uint8_t *b = malloc(o.len + 8);
	memcpy(b, o.buf, o.len);
	memcpy(b, "MOTESNAQ", 8);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "magic");
	memcpy(b, o.buf, o.len);
	put32(b + 8, 2);
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "version 2");
	memcpy(b, o.buf, o.len);
	put32(b + 12, 64);
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "header length");
	memcpy(b, o.buf, o.len); /* trailing bytes */
	memset(b + o.len, 0, 8);
	CHECK_EQ(parse(b, o.len + 8), -1);
	CHECK_STR_CONTAINS(err, "trailing");
	memcpy(b, o.buf, o.len);
	b[o.len / 2] ^= 0xff;
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "checksum");
	memcpy(b, o.buf, o.len);
	put32(b + 24, SNAPF_MAX_SECTIONS + 1);
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "sections");
	memcpy(b, o.buf, o.len);
	put32(b + 24, 8); /* one more than there is */
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "runs past the end");
	memcpy(b, o.buf, o.len);
	put32(b + 24, 6); /* one fewer: bytes after the last */
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "after the last");
	free(b);
	snap_out_free(&o);
}

static void section_fields_refused(void)
{
	struct snap_out o;
	snap_test_image(&o);
	uint8_t *b = malloc(o.len);
	size_t first = SNAPF_HEADER_LEN;
	memcpy(b, o.buf, o.len); /* length far past the end (and a 64-bit wrap) */
	put32(b + first + 8, 0xfffffff0u);
	put32(b + first + 12, 0xffffffffu);
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "runs past the end");
	memcpy(b, o.buf, o.len);
	put32(b + first, 99);
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "unknown type 99");
	memcpy(b, o.buf, o.len); /* the VM section made a second configuration section */
	uint32_t cfg_len = 0;
	for (int i = 0; i < 4; i++)
		cfg_len |= (uint32_t)b[first + 8 + (size_t)i] << (8 * i);
	size_t second = first + SNAPF_SECTION_HDR + cfg_len;
	put32(b + second, SNAPF_CONFIG);
	fix_crc(b, o.len);
	CHECK_EQ(parse(b, o.len), -1);
	CHECK_STR_CONTAINS(err, "twice");
	memcpy(b, o.buf, o.len); /* a missing section: the VM's becomes vCPU 5's */
	put32(b + second, SNAPF_VCPU);
	put32(b + second + 4, 5);
	fix_crc(b, o.len);
	static struct snap_image img;
	img.buf = b;
	img.len = o.len;
	CHECK_EQ(snapshot_check_image(&img, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "no VM section");
	free(b);
	snap_out_free(&o);
}

static int config(uint64_t mem, uint32_t cpus, uint32_t nvirtio)
{
	struct snap_out o;
	static struct snap_image img;
	snap_out_init(&o);
	snap_test_config(&o, mem, cpus, nvirtio);
	err[0] = '\0';
	int r = snapshot_parse_config(o.buf, o.len, &img, err, sizeof(err));
	/* Every truncation of a valid configuration is refused too. */
	for (size_t n = 0; r == 0 && n < o.len; n++)
		if (snapshot_parse_config(o.buf, n, &img, err, sizeof(err)) == 0)
			r = -2;
	snap_out_free(&o);
	return r;
}

static void configuration_checked(void)
{
	CHECK_EQ(config(64ull << 20, 2, 0), 0);
	CHECK_EQ(config(64ull << 20, 0, 0), -1);
	CHECK_STR_CONTAINS(err, "vCPUs");
	CHECK_EQ(config(64ull << 20, 65, 0), -1);
	CHECK_EQ(config(1 << 20, 1, 0), -1);
	CHECK_STR_CONTAINS(err, "out of range");
	CHECK_EQ(config((64ull << 20) + 1, 1, 0), -1);
	CHECK_EQ(config(64ull << 20, 1, 3), -1);
	CHECK_STR_CONTAINS(err, "virtio devices");
	CHECK(one_line());
	/* A region layout that is not this machine's (4 GiB of RAM in one region). */
	struct snap_out o;
	static struct snap_image img;
	snap_out_init(&o);
	snap_test_config(&o, 4ull << 30, 1, 0);
	CHECK_EQ(snapshot_parse_config(o.buf, o.len, &img, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "RAM regions");
	snap_out_free(&o);
}

/* A configuration with one disk and one interface (the layout of snapshot.c's save_config). */
static int config_devices(const char *path, const char *tap, uint8_t vhost, uint8_t io)
{
	struct snap_out o;
	static struct snap_image img;
	snap_out_init(&o);
	snap_put_u32(&o, 1);
	snap_put_u64(&o, 64ull << 20);
	snap_put_u32(&o, 1);
	snap_put_u8(&o, 0);
	snap_put_u8(&o, 0);
	snap_put_u8(&o, 0);
	snap_put_u32(&o, 1);
	snap_put_u64(&o, 0);
	snap_put_u64(&o, 64ull << 20);
	snap_put_u32(&o, 1); /* a disk */
	snap_put_u16(&o, (uint16_t)strlen(path));
	snap_put(&o, path, strlen(path));
	snap_put_u8(&o, 1);
	snap_put_u8(&o, 0);
	snap_put_u8(&o, io);
	snap_put_u16(&o, 3);
	snap_put(&o, "ser", 3);
	snap_put_u64(&o, 1 << 20);
	snap_put_u32(&o, 1); /* an interface */
	snap_put_u16(&o, 4);
	snap_put(&o, "eth0", 4);
	snap_put_u16(&o, (uint16_t)strlen(tap));
	snap_put(&o, tap, strlen(tap));
	snap_put(&o, "\x02\0\0\0\0\1", 6);
	snap_put_u8(&o, 1);
	snap_put_u8(&o, vhost);
	snap_put_u8(&o, 0); /* vsock */
	snap_put_u64(&o, 0);
	snap_put_u16(&o, 0);
	snap_put_u8(&o, 0); /* balloon */
	snap_put_u32(&o, 0);
	snap_put_u8(&o, 0);
	snap_put_u32(&o, 0);
	snap_put_u8(&o, 0);
	snap_put_u32(&o, 2); /* virtio slots */
	err[0] = '\0';
	int r = snapshot_parse_config(o.buf, o.len, &img, err, sizeof(err));
	if (r == 0 && (strcmp(img.cfg.disks[0].path, path) != 0 || !img.cfg.disks[0].read_only ||
		       strcmp(img.cfg.disks[0].serial, "ser") != 0 || img.disk_size[0] != 1 << 20 ||
		       strcmp(img.cfg.nets[0].tap, tap) != 0 || strcmp(img.net_ids[0], "eth0") != 0 ||
		       !img.cfg.nets[0].mac_set || img.cfg.nets[0].vhost != (int)vhost - 1))
		r = -2;
	snap_out_free(&o);
	return r;
}

static void configuration_devices(void)
{
	CHECK_EQ(config_devices("/srv/disk.img", "tap0", 0, 1), 0);
	CHECK_EQ(config_devices("/srv/disk.img", "tap0", 3, 1), -1); /* vhost mode out of range */
	CHECK_STR_CONTAINS(err, "network interface 0");
	CHECK_EQ(config_devices("/srv/disk.img", "tap0", 1, 9), -1); /* io mode out of range */
	CHECK_STR_CONTAINS(err, "disk 0");
	CHECK_EQ(config_devices("", "tap0", 1, 0), -1);                /* empty path */
	CHECK_EQ(config_devices("/d", "a-tap-name-too-long", 1, 0), -1); /* 19 bytes > 15 */
}

static void cpuid_checked(void)
{
	const struct cpuid_entry host[] = {
		{.function = 1, .ecx = 0x00000201, .edx = 0x1},
		{.function = 7, .index = 0, .flags = CPUID_FLAG_SIGNIFICANT_INDEX, .ebx = 0x8},
	};
	struct cpuid_entry saved[] = {
		{.function = 1, .ecx = 0x00000001 | (1u << 31) | (1u << 27), .edx = 0x1 | (1u << 28)},
		{.function = 7, .index = 0, .flags = CPUID_FLAG_SIGNIFICANT_INDEX, .ebx = 0x8},
	};
	CHECK_EQ(snapshot_cpuid_check(saved, 2, host, 2, err, sizeof(err)), 0);
	saved[1].ebx |= 0x10;
	CHECK_EQ(snapshot_cpuid_check(saved, 2, host, 2, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "7.0.EBX bits 0x00000010");
	saved[1].ebx = 0x8;
	saved[0].ecx |= 1u << 5;
	CHECK_EQ(snapshot_cpuid_check(saved, 2, host, 2, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "1.ECX");
	CHECK_EQ(snapshot_cpuid_check(saved, 2, host, 1, err, sizeof(err)), -1); /* host lacks 7 */
}

static void overrides_parsed(void)
{
	struct snap_net_override ov;
	CHECK_EQ(snapshot_parse_override("eth0=tap7", &ov, err, sizeof(err)), 0);
	CHECK(!strcmp(ov.iface, "eth0") && !strcmp(ov.tap, "tap7"));
	CHECK_EQ(snapshot_parse_override("eth0", &ov, err, sizeof(err)), -1);
	CHECK_EQ(snapshot_parse_override("=tap", &ov, err, sizeof(err)), -1);
	CHECK_EQ(snapshot_parse_override("eth0=", &ov, err, sizeof(err)), -1);
	CHECK_EQ(snapshot_parse_override("eth0=a-very-long-tap-name", &ov, err, sizeof(err)), -1);
}

static void legacy_devices_round_trip(void)
{
	static const struct irq_line none = {0};
	static const struct uart_host uh = {0};
	struct uart8250 u, u2;
	uart_init(&u, &none, &uh);
	uart_init(&u2, &none, &uh);
	u.ier = 0x05;
	u.scr = 0x42;
	uart_rx_push(&u, (const uint8_t *)"abc", 3);
	struct snap_out o;
	snap_out_init(&o);
	uart_save(&u, &o);
	struct snap_in in;
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(uart_load(&u2, &in, err, sizeof(err)), 0);
	CHECK_EQ(u2.ier, 0x05);
	CHECK_EQ(u2.scr, 0x42);
	CHECK_EQ(u2.rx_len, 3u);
	CHECK_EQ(u2.rx[(u2.rx_head + 2) % UART_RX_FIFO], 'c');
	for (size_t n = 0; n < o.len; n++) { /* truncated: refused, nothing changed */
		snap_in_init(&in, o.buf, n);
		u2.scr = 7;
		CHECK_EQ(uart_load(&u2, &in, err, sizeof(err)), -1);
		CHECK_EQ(u2.scr, 7);
	}
	o.buf[4 + 10] = UART_RX_FIFO + 1; /* a FIFO longer than the device's */
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(uart_load(&u2, &in, err, sizeof(err)), -1);
	snap_out_free(&o);
	uart_destroy(&u);
	uart_destroy(&u2);

	struct i8042 k, k2;
	i8042_init(&k, NULL);
	i8042_init(&k2, NULL);
	CHECK_EQ(i8042_send_keys(&k, (const uint8_t *)"\x1d\x38", 2), 0);
	snap_out_init(&o);
	i8042_save(&k, &o);
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(i8042_load(&k2, &in, err, sizeof(err)), 0);
	CHECK_EQ(k2.nkeys, k.nkeys);
	CHECK_EQ(k2.out, k.out);
	o.buf[4 + 7] = I8042_KEY_QUEUE + 1; /* more keys than the queue holds */
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(i8042_load(&k2, &in, err, sizeof(err)), -1);
	snap_out_free(&o);
	i8042_destroy(&k);
	i8042_destroy(&k2);

	struct acpi_pm pm;
	acpi_pm_init(&pm, NULL);
	const uint8_t bad[] = {1, 0, 0, 0, 0x55};
	snap_in_init(&in, bad, sizeof(bad));
	CHECK_EQ(acpi_pm_load(&pm, &in, err, sizeof(err)), -1);
}

/* The virtio transport: a driven rng device saved, loaded into a fresh one, and refused
 * when the device in the slot differs or a ring lies outside RAM. */
static void virtio_transport_round_trip(void)
{
	static struct guest_mem gm;
	const struct gm_region r[] = {{.gpa = 0, .size = 1 << 20}};
	static const struct irq_line none = {0};
	CHECK_EQ(gm_create(&gm, r, 1, err, sizeof(err)), 0);
	static struct virtio_rng a, b;
	CHECK_EQ(virtio_rng_init(&a), 0);
	CHECK_EQ(virtio_rng_init(&b), 0);
	virtio_dev_init(&a.dev, &virtio_rng_ops, &a, "rng-a", &gm, &none);
	virtio_dev_init(&b.dev, &virtio_rng_ops, &b, "rng-b", &gm, &none);
	a.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		       VIRTIO_STATUS_DRIVER_OK;
	a.dev.driver_features = 1ull << VIRTIO_F_VERSION_1;
	a.dev.qregs[0] = (struct virtio_queue_regs){.size = 8, .ready = true, .desc = 0x1000,
						    .avail = 0x2000, .used = 0x3000};
	CHECK_EQ(vq_enable(&a.dev.vq[0], &gm, 8, 0x1000, 0x2000, 0x3000, false, false), 0);
	a.dev.vq[0].last_avail = a.dev.vq[0].used_idx = 5;
	struct snap_out o;
	snap_out_init(&o);
	virtio_snap_save(&a.dev, &o);
	CHECK(snap_out_ok(&o));
	struct snap_in in;
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(virtio_snap_load(&b.dev, &in, err, sizeof(err)), 0);
	CHECK_EQ(b.dev.status, a.dev.status);
	CHECK(b.dev.qregs[0].ready);
	CHECK_EQ(b.dev.vq[0].last_avail, 5);
	CHECK_EQ(b.dev.vq[0].used_idx, 5);
	CHECK(b.dev.vq[0].desc != NULL);
	for (size_t n = 0; n < o.len; n++) {
		snap_in_init(&in, o.buf, n);
		CHECK_EQ(virtio_snap_load(&b.dev, &in, err, sizeof(err)), -1);
	}
	o.buf[4] = 1; /* device id: a net device's state in an rng slot */
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(virtio_snap_load(&b.dev, &in, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "virtio device 1");
	snap_out_free(&o);
	a.dev.qregs[0].used = 0xfffff000; /* a ring outside guest RAM */
	snap_out_init(&o);
	virtio_snap_save(&a.dev, &o);
	snap_in_init(&in, o.buf, o.len);
	CHECK_EQ(virtio_snap_load(&b.dev, &in, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "guest RAM");
	snap_out_free(&o);
	virtio_dev_destroy(&a.dev);
	virtio_dev_destroy(&b.dev);
	gm_destroy(&gm);
}

int main(void)
{
	test_suite_name = "snapshot";
	RUN(crc32_known_value);
	RUN(round_trip);
	RUN(every_truncation_refused);
	RUN(every_flipped_byte_refused);
	RUN(header_fields_refused);
	RUN(section_fields_refused);
	RUN(configuration_checked);
	RUN(configuration_devices);
	RUN(cpuid_checked);
	RUN(overrides_parsed);
	RUN(legacy_devices_round_trip);
	RUN(virtio_transport_round_trip);
	TEST_MAIN_END();
}
