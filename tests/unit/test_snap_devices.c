/* Device snapshot state (the save/load ops of virtio-blk, -net, -rng and -console): a round
 * trip per device into a freshly created one, and hostile streams refused with a reason and
 * nothing applied: every truncation, a trailing byte, a wrong version, garbage, every single
 * byte flipped (no crash; a refusal names the device). Disk identity: another file, a file
 * modified since, another size, serial or mode are refused; an override accepts another file
 * of the same geometry. Net: the guest's MAC/MTU/features and a waiting frame are carried; a
 * tap lacking the offered offloads and a vhost-era state are refused. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "test.h"

#define DISK_SIZE (64 * 1024)

static const struct irq_line no_irq = {0};

/* Every way a stream can be cut or spoilt: load must refuse with an error naming the device
 * (or, for a flipped byte in a field that is only informational, accept). Never crash. */
static void hostile(struct virtio_dev *d, const struct snap_out *o)
{
	char err[512];
	uint8_t *b = malloc(o->len + 16);
	struct snap_in in;

	CHECK(b != NULL);
	if (!b)
		return;
	for (size_t n = 0; n < o->len; n++) {
		snap_in_init(&in, o->buf, n);
		err[0] = 0;
		CHECK_EQ(d->ops->load(d, &in, err, sizeof(err)), -1);
		CHECK(strstr(err, d->name) != NULL);
	}
	memcpy(b, o->buf, o->len);
	b[o->len] = 0;
	snap_in_init(&in, b, o->len + 1);
	CHECK_EQ(d->ops->load(d, &in, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "longer than expected");
	b[0] ^= 1; /* version 0 */
	snap_in_init(&in, b, o->len);
	CHECK_EQ(d->ops->load(d, &in, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "version");
	b[0] ^= 1;
	for (size_t i = 0; i < o->len; i++) {
		b[i] ^= 0xa5;
		snap_in_init(&in, b, o->len);
		err[0] = 0;
		if (d->ops->load(d, &in, err, sizeof(err)) < 0)
			CHECK(strstr(err, d->name) != NULL);
		b[i] ^= 0xa5;
	}
	srand(7);
	for (int t = 0; t < 200; t++) {
		size_t n = (size_t)rand() % (o->len + 16);
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rand();
		snap_in_init(&in, b, n);
		CHECK_EQ(d->ops->load(d, &in, err, sizeof(err)), -1);
	}
	free(b);
}

static int load_buf(struct virtio_dev *d, const struct snap_out *o, char *err, size_t errlen)
{
	struct snap_in in;
	snap_in_init(&in, o->buf, o->len);
	err[0] = 0;
	return d->ops->load(d, &in, err, errlen);
}

/* ---- virtio-blk on temporary images ---- */

static char img[2][64];
static struct virtio_blk blk;

static void make_image(int i, size_t size)
{
	static uint8_t buf[DISK_SIZE * 2];
	snprintf(img[i], sizeof(img[i]), "/tmp/mote-snapdev-XXXXXX");
	int fd = mkstemp(img[i]);
	if (fd < 0)
		exit(1);
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(pwrite(fd, buf, size, 0), (ssize_t)size);
	close(fd);
}

/* A device on image i (the machine's steps: open, init, path). */
static void blk_up(int i, bool ro, const char *serial)
{
	struct blk_backend be;
	char err[256];
	if (blk_file_open(img[i], ro, false, &be, err, sizeof(err)) < 0) {
		printf("blk_file_open: %s\n", err);
		exit(1);
	}
	CHECK_EQ(virtio_blk_init(&blk, &be, serial, err, sizeof(err)), 0);
	virtio_dev_init(&blk.dev, virtio_blk_ops_for(&blk), &blk, "virtio-blk0", NULL, &no_irq);
	blk.path = img[i];
}

static void blk_down(void)
{
	virtio_blk_destroy(&blk);
	virtio_dev_destroy(&blk.dev);
}

static void blk_save(struct snap_out *o)
{
	snap_out_init(o);
	pthread_mutex_lock(&blk.dev.lock);
	blk.dev.ops->save(&blk.dev, o);
	pthread_mutex_unlock(&blk.dev.lock);
	CHECK(snap_out_ok(o));
}

static void blk_round_trip(void)
{
	struct snap_out o;
	char err[512];

	make_image(0, DISK_SIZE);
	blk_up(0, false, "disk-a");
	blk_save(&o);
	blk_down();
	blk_up(0, false, "disk-a"); /* the restoring process: the same disk, reopened */
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), 0);
	CHECK_EQ(blk.capacity, (uint64_t)DISK_SIZE / 512);
	hostile(&blk.dev, &o);
	/* After all those refusals the device is as it was: the good state still loads. */
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), 0);
	/* Read-only open of the same disk: the guest saw a writable one. */
	blk_down();
	blk_up(0, true, "disk-a");
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "read-only");
	blk_down();
	/* Another serial. */
	blk_up(0, false, "disk-b");
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "serial");
	blk_down();
	snap_out_free(&o);
	unlink(img[0]);
}

static void blk_identity(void)
{
	struct snap_out o;
	char err[512];

	make_image(0, DISK_SIZE);
	make_image(1, DISK_SIZE);
	blk_up(0, false, NULL);
	blk_save(&o);
	blk_down();
	/* Another file of the same size: refused, named, unless given as an override. */
	blk_up(1, false, NULL);
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "is not the disk the snapshot was taken with");
	CHECK_STR_CONTAINS(err, img[1]);
	CHECK_STR_CONTAINS(err, img[0]);
	blk.snap_other_disk = true;
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), 0);
	blk_down();
	/* The same file, modified since the snapshot. */
	int fd = open(img[0], O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, "x", 1, 0), 1);
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 2000000000, .tv_nsec = 5 } };
	CHECK_EQ(futimens(fd, ts), 0); /* a visible change whatever the clock granularity */
	close(fd);
	blk_up(0, false, NULL);
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "changed since the snapshot was taken");
	blk_down();
	/* Another size, even as an override: the guest knows the capacity. */
	unlink(img[1]);
	make_image(1, DISK_SIZE * 2);
	blk_up(1, false, NULL);
	blk.snap_other_disk = true;
	CHECK_EQ(load_buf(&blk.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "the same size");
	blk_down();
	snap_out_free(&o);
	unlink(img[0]);
	unlink(img[1]);
}

/* ---- virtio-net on a fake tap ---- */

static unsigned fk_offload;
static ssize_t fk_recv(void *be, const struct iovec *iov, int iovcnt)
{
	(void)be, (void)iov, (void)iovcnt;
	return -EAGAIN;
}
static int fk_send(void *be, const struct iovec *iov, int iovcnt)
{
	(void)be, (void)iov, (void)iovcnt;
	return 0;
}
static int fk_fd(void *be) { (void)be; return -1; }
static int fk_set_offload(void *be, unsigned f) { (void)be; fk_offload = f; return 0; }
static void fk_close(void *be) { (void)be; }
static const struct net_backend_ops fk_ops = { fk_recv, fk_send, fk_fd, fk_set_offload, fk_close };

static struct virtio_net net;

static void net_up(unsigned offloads, unsigned mtu, const uint8_t *mac)
{
	char err[256];
	struct net_backend be = { .ops = &fk_ops, .vnet_hdr_len = VIRTIO_NET_HDR_LEN, .mtu = mtu,
				  .offloads = offloads };
	snprintf(be.ifname, sizeof(be.ifname), "tap-snap");
	CHECK_EQ(virtio_net_init(&net, &be, mac, err, sizeof(err)), 0);
	virtio_dev_init(&net.dev, &net.ops, &net, "virtio-net0", NULL, &no_irq);
}

static void net_down(void)
{
	virtio_net_destroy(&net);
	virtio_dev_destroy(&net.dev);
}

static void net_save(struct snap_out *o)
{
	snap_out_init(o);
	net.dev.ops->save(&net.dev, o);
	CHECK(snap_out_ok(o));
}

static void net_round_trip(void)
{
	static const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	static const uint8_t other[6] = {0x02, 0x99, 0x99, 0x99, 0x99, 0x99};
	struct snap_out o;
	char err[512];

	net_up(TUN_F_CSUM | TUN_F_TSO4, 9000, mac);
	uint64_t feat = net.ops.features;
	/* A frame read from the tap, waiting for receive buffers. */
	net.rx = (struct virtio_net_rx){ .active = true, .len = 300 };
	for (int i = 0; i < 300; i++)
		net.buf[i] = (uint8_t)(i * 7);
	net_save(&o);
	net_down();
	/* Restored on another tap (an override): another MTU, another derived MAC, more offloads. */
	net_up(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6, 1500, other);
	CHECK_EQ(load_buf(&net.dev, &o, err, sizeof(err)), 0);
	CHECK(memcmp(net.cfg.mac, mac, 6) == 0);
	CHECK_EQ(net.mtu, 9000u);
	CHECK_EQ(net.cfg.mtu, htole16(9000));
	CHECK_EQ(net.ops.features, feat); /* the guest's offer, not the new tap's */
	CHECK(net.rx.active);
	CHECK_EQ(net.rx.len, 300u);
	CHECK_EQ(net.rx.nheld, 0);
	CHECK_EQ(net.buf[299], (uint8_t)(299 * 7));
	hostile(&net.dev, &o);
	/* A refusal applies nothing: a stream with another MAC but a bad MTU changes no field. */
	memcpy(net.cfg.mac, other, 6);
	net.rx.active = false;
	net.mtu = 1500;
	struct snap_out bad;
	snap_out_init(&bad);
	snap_put(&bad, o.buf, o.len);
	bad.buf[5] ^= 0x10;  /* MAC byte 1 */
	bad.buf[12] = 1;     /* MTU 1 */
	bad.buf[13] = 0;
	CHECK_EQ(load_buf(&net.dev, &bad, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "MTU");
	CHECK(memcmp(net.cfg.mac, other, 6) == 0);
	CHECK(!net.rx.active);
	CHECK_EQ(net.mtu, 1500u);
	snap_out_free(&bad);
	net_down();
	/* A tap without the offloads the guest was offered. */
	net_up(0, 1500, NULL);
	CHECK_EQ(load_buf(&net.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "cannot do the receive offloads");
	net_down();
	snap_out_free(&o);
}

static void net_refusals(void)
{
	struct snap_out o;
	char err[512];

	net_up(0, 1500, NULL);
	net.dp_active = true; /* vhost-net served the rings */
	net_save(&o);
	net.dp_active = false;
	CHECK_EQ(load_buf(&net.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "vhost");
	snap_out_free(&o);
	/* A multicast MAC, a zero MTU, a link status bit that does not exist, a feature bit the
	 * device never offers: each refused. */
	static const struct {
		size_t off, len;
		uint8_t v[2];
		const char *msg;
	} bad[] = {
		{4, 1, {0x03}, "unicast"},
		{10, 2, {0x02, 0}, "link status"},
		{12, 2, {10, 0}, "MTU"},
		{14 + 7, 1, {0x80}, "features"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		net_save(&o);
		memcpy(o.buf + bad[i].off, bad[i].v, bad[i].len);
		CHECK_EQ(load_buf(&net.dev, &o, err, sizeof(err)), -1);
		CHECK_STR_CONTAINS(err, bad[i].msg);
		snap_out_free(&o);
	}
	net_down();
}

/* ---- virtio-rng and virtio-console: a version and the device id ---- */

static void rng_console(void)
{
	static struct virtio_rng rng;
	static struct virtio_console con;
	struct snap_out o;
	char err[512];

	CHECK_EQ(virtio_rng_init(&rng), 0);
	virtio_dev_init(&rng.dev, &virtio_rng_ops, &rng, "virtio-rng", NULL, &no_irq);
	virtio_console_init(&con, NULL);
	virtio_dev_init(&con.dev, &virtio_console_ops, &con, "virtio-console", NULL, &no_irq);

	snap_out_init(&o);
	rng.dev.ops->save(&rng.dev, &o);
	CHECK_EQ(load_buf(&rng.dev, &o, err, sizeof(err)), 0);
	hostile(&rng.dev, &o);
	/* The rng's section given to the console: another device id. */
	o.buf[4] = VIRTIO_ID_RNG;
	CHECK_EQ(load_buf(&con.dev, &o, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "device id");
	snap_out_free(&o);

	snap_out_init(&o);
	con.rx_waiting = true;
	con.dev.ops->save(&con.dev, &o);
	CHECK_EQ(load_buf(&con.dev, &o, err, sizeof(err)), 0);
	CHECK(!con.rx_waiting); /* the old process's pending input is not carried */
	hostile(&con.dev, &o);
	snap_out_free(&o);
	virtio_dev_destroy(&rng.dev);
	virtio_dev_destroy(&con.dev);
}

int main(void)
{
	test_suite_name = "snap_devices";
	log_set_level(LOG_ERROR);
	RUN(blk_round_trip);
	RUN(blk_identity);
	RUN(net_round_trip);
	RUN(net_refusals);
	RUN(rng_console);
	TEST_MAIN_END();
}
