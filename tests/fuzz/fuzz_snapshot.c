/* libFuzzer target for the snapshot state-file parser (src/snapshot/format.c, snapshot.c) and
 * the device state it hands out (legacy devices, the virtio transport of an rng device). Any
 * byte string is accepted whole or refused with one line; never a crash, never ASan/UBSan.
 * Half the inputs get their checksum and length fields fixed first (otherwise the fuzzer would
 * spend its time guessing CRC-32s and never reach the sections). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "devices/virtio_rng.h"
#include "fuzz_ram.h"
#include "snapshot/format.h"
#include "snapshot/snapshot.h"
#include "virtio/snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(int r, const char *err)
{
	if (r < 0 && (err[0] == '\0' || strchr(err, '\n')))
		abort();
}

static void devices(const struct snap_image *img)
{
	static const struct irq_line none = {0};
	static const struct uart_host uh = {0};
	static struct virtio_rng rng;
	char err[512];
	struct snap_in in;
	const struct snapf_section *s;
	struct uart8250 u;
	struct i8042 k;
	struct acpi_pm pm;

	uart_init(&u, &none, &uh);
	i8042_init(&k, NULL);
	acpi_pm_init(&pm, NULL);
	if ((s = snapf_find(&img->f, SNAPF_LEGACY, SNAPF_LEGACY_COM1))) {
		snap_in_init(&in, s->data, s->len);
		check_err(uart_load(&u, &in, err, sizeof(err)), err);
		if (u.rx_len > UART_RX_FIFO)
			abort();
	}
	if ((s = snapf_find(&img->f, SNAPF_LEGACY, SNAPF_LEGACY_I8042))) {
		snap_in_init(&in, s->data, s->len);
		check_err(i8042_load(&k, &in, err, sizeof(err)), err);
		if (k.nkeys > I8042_KEY_QUEUE)
			abort();
	}
	if ((s = snapf_find(&img->f, SNAPF_LEGACY, SNAPF_LEGACY_ACPI_PM))) {
		snap_in_init(&in, s->data, s->len);
		check_err(acpi_pm_load(&pm, &in, err, sizeof(err)), err);
	}
	uart_destroy(&u);
	i8042_destroy(&k);
	for (uint32_t i = 0; i < 2; i++) {
		if (!(s = snapf_find(&img->f, SNAPF_VIRTIO, i)))
			continue;
		memset(&rng, 0, sizeof(rng));
		if (virtio_rng_init(&rng) < 0)
			abort();
		virtio_dev_init(&rng.dev, &virtio_rng_ops, &rng, "fuzz-rng", fuzz_ram(1 << 20, "fuzz_snapshot"),
				&none);
		snap_in_init(&in, s->data, s->len);
		check_err(virtio_snap_load(&rng.dev, &in, err, sizeof(err)), err);
		virtio_dev_destroy(&rng.dev);
	}
}

static void one(uint8_t *buf, size_t size)
{
	static struct snap_image img;
	char err[512];
	memset(&img, 0, sizeof(img));
	img.buf = buf;
	img.len = size;
	img.mem_fd = -1;
	err[0] = '\0';
	int r = snapshot_check_image(&img, err, sizeof(err));
	check_err(r, err);
	if (snapf_parse(buf, size, &img.f, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < img.f.nsections; i++) /* every section inside the input */
			if (img.f.sec[i].data < buf || img.f.sec[i].len > size ||
			    img.f.sec[i].data + img.f.sec[i].len > buf + size)
				abort();
		devices(&img);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	one(buf, size);
	if (size >= SNAPF_HEADER_LEN + 4 && (data[size - 1] & 1)) {
		for (int i = 0; i < 8; i++) /* file length = the input's, then the checksum */
			buf[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
		uint32_t crc = snapf_crc32(buf, size - 4);
		for (int i = 0; i < 4; i++)
			buf[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
		one(buf, size);
	}
	free(buf);
	return 0;
}
