/* libFuzzer target for the device snapshot loaders (virtio_blk_load, virtio_net_load and the
 * rng/console loads: src/devices/virtio_*_snap.c, virtio_rng.c, virtio_console.c): a state
 * file's device section is hostile input.
 *
 * Input: [0] the device (0 blk on a 64 KiB temporary image, 1 net on a fake tap that can do
 * every offload, 2 rng, 3 console), then the stream as load sees it. Each run loads into a
 * freshly created device. Checks: a refusal has a one-line message naming the device and
 * changed nothing (net: MAC, MTU, features, the waiting frame); an accepted net state holds
 * only valid values (unicast MAC, MTU >= 68, offered features within the device's, a frame
 * of a sane length) and saves back to the same bytes; an accepted rng/console state too. Any
 * violation aborts. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK 65536
static const struct irq_line no_irq = {0};
static char img[64];
static struct virtio_blk blk;
static struct virtio_net net;
static struct virtio_rng rng;
static struct virtio_console con;

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_snap_devices: %s\n", what);
		abort();
	}
}

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
static int fk_set_offload(void *be, unsigned f) { (void)be, (void)f; return 0; }
static void fk_close(void *be) { (void)be; }
static const struct net_backend_ops fk_ops = { fk_recv, fk_send, fk_fd, fk_set_offload, fk_close };

/* The devices that live across runs (the disk image, the rng, the console). */
static void setup_once(void)
{
	static bool done;
	char err[256];
	if (done)
		return;
	done = true;
	log_set_level(LOG_ERROR);
	snprintf(img, sizeof(img), "/tmp/mote-fuzz-snap-XXXXXX");
	int fd = mkstemp(img);
	check(fd >= 0 && ftruncate(fd, DISK) == 0, "temporary image");
	close(fd);
	struct blk_backend be;
	check(blk_file_open(img, false, false, &be, err, sizeof(err)) == 0, err);
	unlink(img); /* the open fd keeps it */
	check(virtio_blk_init(&blk, &be, "fuzz", err, sizeof(err)) == 0, err);
	virtio_dev_init(&blk.dev, virtio_blk_ops_for(&blk), &blk, "virtio-blk0", NULL, &no_irq);
	blk.path = img;
	check(virtio_rng_init(&rng) == 0, "rng");
	virtio_dev_init(&rng.dev, &virtio_rng_ops, &rng, "virtio-rng", NULL, &no_irq);
	virtio_console_init(&con, NULL);
	virtio_dev_init(&con.dev, &virtio_console_ops, &con, "virtio-console", NULL, &no_irq);
}

static void net_up(void)
{
	char err[256];
	struct net_backend be = { .ops = &fk_ops, .vnet_hdr_len = VIRTIO_NET_HDR_LEN, .mtu = 1500,
				  .offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN |
					      TUN_F_UFO };
	snprintf(be.ifname, sizeof(be.ifname), "tap-fuzz");
	check(virtio_net_init(&net, &be, NULL, err, sizeof(err)) == 0, err);
	virtio_dev_init(&net.dev, &net.ops, &net, "virtio-net0", NULL, &no_irq);
}

/* Loads; on refusal checks the message. Returns the load's result. */
static int load(struct virtio_dev *d, const uint8_t *p, size_t n)
{
	char err[512] = "";
	struct snap_in in;
	snap_in_init(&in, p, n);
	int r = d->ops->load(d, &in, err, sizeof(err));
	check(r == 0 || r == -1, "load result");
	if (r < 0)
		check(strstr(err, d->name) && !strchr(err, '\n'), "refusal without a one-line reason");
	return r;
}

/* An accepted state saves back to the bytes it was loaded from. */
static void same_on_save(struct virtio_dev *d, const uint8_t *p, size_t n)
{
	struct snap_out o;
	snap_out_init(&o);
	d->ops->save(d, &o);
	check(snap_out_ok(&o) && o.len == n && memcmp(o.buf, p, n) == 0, "save differs from load");
	snap_out_free(&o);
}

static void fuzz_net(const uint8_t *p, size_t n)
{
	net_up();
	uint8_t mac[6];
	memcpy(mac, net.cfg.mac, 6);
	unsigned mtu = net.mtu;
	uint64_t feat = net.ops.features;
	if (load(&net.dev, p, n) < 0) {
		check(memcmp(mac, net.cfg.mac, 6) == 0 && mtu == net.mtu && feat == net.ops.features &&
			      !net.rx.active, "a refused net state changed the device");
	} else {
		check(!(net.cfg.mac[0] & 1) && net.mtu >= VIRTIO_NET_MIN_MTU && net.mtu <= 65535 &&
			      !(net.ops.features & ~virtio_net_ops.features),
		      "an accepted net state holds a bad value");
		check(!net.rx.active || (net.rx.len >= VIRTIO_NET_HDR_LEN + VIRTIO_NET_ETH_HLEN &&
					 net.rx.len <= sizeof(net.buf) && net.rx.nheld == 0),
		      "an accepted waiting frame is out of bounds");
		same_on_save(&net.dev, p, n);
	}
	virtio_net_destroy(&net);
	virtio_dev_destroy(&net.dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup_once();
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (data[0] & 3) {
	case 0: {
		uint64_t cap = blk.capacity;
		load(&blk.dev, p, n);
		check(blk.capacity == cap, "a blk load changed the capacity");
		break;
	}
	case 1:
		fuzz_net(p, n);
		break;
	case 2:
		if (load(&rng.dev, p, n) == 0)
			same_on_save(&rng.dev, p, n);
		break;
	default:
		if (load(&con.dev, p, n) == 0)
			same_on_save(&con.dev, p, n);
		break;
	}
	return 0;
}
