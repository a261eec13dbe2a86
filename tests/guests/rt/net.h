/* net.h: a polling virtio-net driver and a tiny IPv4 stack for the test guests (virtio 1.2,
 * 5.1), on top of rt/virtio.c. It answers ARP for its address, ICMP echo requests, and
 * echoes UDP on one port; it can resolve a peer with ARP and send UDP. No interrupts (the
 * runtime runs with IF=0): the receive ring is polled. Frames are at most GNET_BUF - 12 bytes
 * (MTU up to 2000); each receive buffer is one 2048-byte descriptor.
 *
 *     static struct gnet n;
 *     gnet_open(&n, 0, ip, 0)            finds the first virtio-net device, negotiates,
 *                                        posts every receive buffer, DRIVER_OK
 *     gnet_serve(&n, echo_port)           one pass: handles every frame waiting; returns how
 *                                        many (GNET_QUIT once a UDP "quit" arrived)
 *     gnet_udp_send(&n, ip, sport, dport, data, len)
 * Addresses are host-order u32 (10.0.0.2 = 0x0a000002). */
#ifndef MOTE_GUEST_NET_H
#define MOTE_GUEST_NET_H

#include "virtio.h"

#define GNET_HDR 12      /* struct virtio_net_hdr_v1 */
#define GNET_BUF 2048
#define GNET_QSIZE 256
#define GNET_QUIT -100

/* Feature bits the driver may accept (5.1.3). */
#define GNET_F_CSUM 0
#define GNET_F_MTU 3
#define GNET_F_MAC 5
#define GNET_F_MRG_RXBUF 15
#define GNET_F_STATUS 16

struct gnet {
	struct virtio_dev dev;
	struct virtq rxq, txq;
	int index;             /* which virtio-net device (0, 1, ...) */
	u8 mac[6];
	u16 mtu, status;
	u32 ip;
	u32 peer_ip;           /* the last resolved peer */
	u8 peer_mac[6];
	int peer_known;
	u64 rx_frames, tx_frames, rx_dropped, tx_full;
	u8 rxbuf[GNET_QSIZE][GNET_BUF] __attribute__((aligned(4096)));
	u8 txbuf[GNET_QSIZE][GNET_BUF] __attribute__((aligned(4096)));
	u8 frame[GNET_BUF];    /* scratch for building replies */
};

/* Opens the nth virtio-net device with address ip, accepting the features in want (plus
 * VERSION_1 and EVENT_IDX). Prints "netN: mac .. mtu .. link .. features 0x..". 0 or a
 * negative VIRTIO_E*. */
int gnet_open(struct gnet *n, int nth, u32 ip, u64 want);

/* Handles every received frame waiting (ARP, ICMP echo, UDP echo on echo_port; a UDP
 * payload "quit" on echo_port is answered "bye" and makes it return GNET_QUIT). Returns the
 * number of frames handled, GNET_QUIT, or a negative VIRTIO_E*. */
int gnet_serve(struct gnet *n, u16 echo_port);

/* Sends one Ethernet frame (without the virtio header). 0, or VIRTIO_E* (ETIMEDOUT when
 * no transmit descriptor frees up in time). */
int gnet_send(struct gnet *n, const u8 *frame, u32 len);

/* ARP for ip until answered (serving other frames meanwhile). 0 or VIRTIO_ETIMEDOUT. */
int gnet_resolve(struct gnet *n, u32 ip, u32 timeout_ms);

/* One UDP datagram to the resolved peer (gnet_resolve first). 0 or VIRTIO_E*. */
int gnet_udp_send(struct gnet *n, u16 sport, u16 dport, const u8 *data, u32 len);

/* Reclaims finished transmit descriptors. */
void gnet_tx_reclaim(struct gnet *n);

/* "a.b.c.d" -> host-order u32; 0 when malformed. */
u32 gnet_parse_ip(const char *s);
/* The value of key=... on the command line as an IPv4 address, or dflt. */
u32 gnet_cmdline_ip(const char *key, u32 dflt);

#endif
