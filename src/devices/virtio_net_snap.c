/* virtio-net snapshot state (virtio_dev_ops save/load): the guest's view of the device (MAC,
 * link status, MTU, the features offered to it) and a received frame still waiting for
 * receive buffers (virtio_net_quiesce handed back any chains it held). The tap is the
 * restore's (possibly another, from network_overrides); the guest's view is the snapshot's.
 * Must not: touch the rings (the transport carries them) or apply anything before every value
 * was checked. */
#include <endian.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "devices/virtio_net.h"

#define F(b) (1ull << (b))
/* The receive offloads: the ones a tap may or may not do (virtio_net_init offers those it can). */
#define SNAP_GUEST_OFFLOADS                                                                 \
	(F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | \
	 F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_GUEST_UFO))

void virtio_net_save(struct virtio_dev *d, struct snap_out *out)
{
	const struct virtio_net *n = d->priv;
	bool frame = n->rx.active && n->rx.nheld == 0 && n->rx.len <= sizeof(n->buf);

	snap_put_u32(out, VIRTIO_NET_SNAP_VERSION);
	snap_put(out, n->cfg.mac, 6);
	snap_put_u16(out, le16toh(n->cfg.status));
	snap_put_u16(out, (uint16_t)n->mtu);
	snap_put_u64(out, n->ops.features);
	snap_put_u8(out, n->dp_active);
	snap_put_u8(out, frame);
	snap_put_u32(out, frame ? n->rx.len : 0);
	if (frame)
		snap_put(out, n->buf, n->rx.len);
}

/* Reads and checks the frame part: 0 with *len set (and the bytes in buf), or -1. */
static int load_frame(const struct virtio_net *n, struct snap_in *in, uint8_t active,
		      uint32_t len, uint8_t *buf, char *err, size_t errlen)
{
	const char *name = n->dev.name ? n->dev.name : "virtio-net";

	if (active > 1)
		return err_set(err, errlen, "%s: bad receive flag %u in the snapshot state", name,
			       active);
	if (!active && len != 0)
		return err_set(err, errlen, "%s: the snapshot state has a %u-byte frame but no "
			       "receive flag", name, len);
	if (active && (len < VIRTIO_NET_HDR_LEN + VIRTIO_NET_ETH_HLEN || len > sizeof(n->buf)))
		return err_set(err, errlen, "%s: a waiting frame of %u bytes in the snapshot state "
			       "(%u..%zu)", name, len, VIRTIO_NET_HDR_LEN + VIRTIO_NET_ETH_HLEN,
			       sizeof(n->buf));
	if (active)
		snap_get(in, buf, len);
	return 0;
}

/* virtio_net_load with the staging buffer for the frame (sizeof n->buf bytes): nothing of n
 * changes before the last check. */
static int net_load(struct virtio_dev *d, struct snap_in *in, uint8_t *frame, char *err,
		    size_t errlen)
{
	struct virtio_net *n = d->priv;
	const char *name = d->name ? d->name : "virtio-net";
	uint8_t mac[6];

	uint32_t version = snap_get_u32(in);
	if (snap_in_ok(in) && version != VIRTIO_NET_SNAP_VERSION)
		return err_set(err, errlen, "%s: snapshot state version %u (this mote reads %u)",
			       name, version, VIRTIO_NET_SNAP_VERSION);
	snap_get(in, mac, 6);
	uint16_t status = snap_get_u16(in);
	uint16_t mtu = snap_get_u16(in);
	uint64_t feat = snap_get_u64(in);
	uint8_t dp = snap_get_u8(in);
	uint8_t active = snap_get_u8(in);
	uint32_t len = snap_get_u32(in);
	if (snap_in_ok(in) && load_frame(n, in, active, len, frame, err, errlen) < 0)
		return -1;
	if (!snap_in_done(in))
		return err_set(err, errlen, "%s: the snapshot state is %s", name,
			       snap_in_ok(in) ? "longer than expected" : "truncated");
	if (dp > 1)
		return err_set(err, errlen, "%s: bad data-path flag %u in the snapshot state", name, dp);
	if (dp)
		return err_set(err, errlen, "%s: the snapshot was taken while vhost-net served the "
			       "rings, whose positions it does not record: snapshot with "
			       "--net ...,vhost=off", name);
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return err_set(err, errlen, "%s: the snapshot state's MAC is not a unicast address",
			       name);
	if (status & ~VIRTIO_NET_S_LINK_UP)
		return err_set(err, errlen, "%s: bad link status 0x%x in the snapshot state", name,
			       status);
	if (mtu < VIRTIO_NET_MIN_MTU)
		return err_set(err, errlen, "%s: MTU %u in the snapshot state (at least %u)", name,
			       mtu, VIRTIO_NET_MIN_MTU);
	if ((feat & ~virtio_net_ops.features) || !(feat & F(VIRTIO_F_VERSION_1)))
		return err_set(err, errlen, "%s: the snapshot state offers features 0x%" PRIx64
			       " that this device does not have", name,
			       feat & ~virtio_net_ops.features);
	uint64_t missing = feat & SNAP_GUEST_OFFLOADS & ~n->ops.features;
	if (missing)
		return err_set(err, errlen, "%s: tap '%s' cannot do the receive offloads the guest "
			       "was offered (feature bits 0x%" PRIx64 "): give a tap that can",
			       name, n->be.ifname, missing);
	memcpy(n->cfg.mac, mac, 6);
	n->cfg.status = htole16(status);
	n->mtu = mtu;
	n->cfg.mtu = htole16(mtu);
	n->ops.features = feat;
	n->rx = (struct virtio_net_rx){ .active = active, .len = len };
	if (active)
		memcpy(n->buf, frame, len);
	return 0;
}

/* The staging buffer comes from the heap, once per restore. A _Thread_local array would sit in
 * every thread's static TLS block, which glibc zeroes for each thread it creates: resident
 * memory in every run of every VM, snapshot or not (docs/performance.md, "Start-up"). */
int virtio_net_load(struct virtio_dev *d, struct snap_in *in, char *err, size_t errlen)
{
	uint8_t *frame = malloc(sizeof(((struct virtio_net *)0)->buf));

	if (!frame)
		return err_set(err, errlen, "%s: out of memory staging the snapshot's frame",
			       d->name ? d->name : "virtio-net");
	int r = net_load(d, in, frame, err, errlen);
	free(frame);
	return r;
}
