/* net_ring: the net unikernel over Solo5 0.12's shared-memory ring (as Solo5's test_net_ring):
 * answers ARP and ping at 10.77.0.2 on `service`, reading and sending every frame through
 * ring entries, waiting in the poll hypercall. `burst=N` first queues N broadcast frames
 * (ethertype 0x88b5, payload "mote-ring" + sequence number) without waiting; `count=N` pings
 * (default 3). `hostile=tail|buf|rbuf|commit|op` breaks one rule of the ring, then waits: the
 * tender must end the VM (op: an unknown operation is skipped and the pings still work).
 * Status 3: no ring offered; 4: the ring is not at mem_size. */
#include "hvt_rt.h"

MFT_NOTE(2, {.name = "service", .type = DEV_NET});

#define BURST_MAX 512
static const uint8_t my_ip[4] = {10, 77, 0, 2};
static uint8_t frame[1536];
static uint8_t burst[BURST_MAX][64];
static uint8_t rbufs[RING_SIZE + 1][64];

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static bool ip_is_me(const uint8_t *p) { return p[0] == 10 && p[1] == 77 && p[2] == 0 && p[3] == 2; }

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static unsigned number(const char *cmdline, const char *key, unsigned def)
{
	for (const char *p = cmdline; *p; p++) {
		if ((p == cmdline || p[-1] == ' ') && starts(p, key)) {
			unsigned v = 0;
			for (p += slen(key); *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (unsigned)(*p - '0');
			return v;
		}
	}
	return def;
}

static const char *word_after(const char *cmdline, const char *key)
{
	for (const char *p = cmdline; *p; p++)
		if ((p == cmdline || p[-1] == ' ') && starts(p, key))
			return p + slen(key);
	return "";
}

static void send_burst(struct ring *r, int h, const uint8_t *mac, unsigned n)
{
	for (unsigned i = 0; i < n && i < BURST_MAX; i++) {
		uint8_t *f = burst[i];
		mset(f, 0xff, 6);
		mcpy(f + 6, mac, 6);
		put16(f + 12, 0x88b5);
		mcpy(f + 14, "mote-ring", 9);
		put16(f + 23, (uint16_t)i);
		ring_put(r, RING_OP_WRITE, (uint64_t)h, f, 60, i + 1);
	}
}

/* Breaks one rule; the tender should end the VM before this returns. */
static void hostile(struct ring *r, int h, const char *kind)
{
	if (starts(kind, "tail")) {
		r->ent_tail = r->ent_head + 2000;
	} else if (starts(kind, "buf")) {
		ring_put(r, RING_OP_WRITE, (uint64_t)h, (void *)0xfffff000000ull, 60, 1);
	} else if (starts(kind, "rbuf")) {
		ring_put(r, RING_OP_READ, (uint64_t)h, (void *)0x100000, 60, 1); /* into our text */
	} else if (starts(kind, "commit")) {
		for (unsigned i = 0; i <= RING_SIZE; i++)
			ring_put(r, RING_OP_READ, (uint64_t)h, rbufs[i], 64, i);
	} else if (starts(kind, "op")) {
		ring_put(r, 9, (uint64_t)h, frame, 60, 1);
		return;
	}
	__asm__ volatile("outl %0, %1" : : "a"(0), "d"((uint16_t)RING_KICK_PORT) : "memory");
	poll_ns(5000000000ull, 0);
	puts_n("net_ring: survived\n", 19);
}

/* Answers one ARP request or ping in frame[0..len); returns 1 for a ping answered. */
static int answer(struct ring *r, int h, const uint8_t *mac, uint64_t len)
{
	if (len >= 42 && get16(frame + 12) == 0x0806 && get16(frame + 20) == 1 &&
	    ip_is_me(frame + 38)) { /* ARP request for us */
		mcpy(frame, frame + 6, 6);
		mcpy(frame + 6, mac, 6);
		put16(frame + 20, 2);
		mcpy(frame + 32, frame + 22, 10);
		mcpy(frame + 22, mac, 6);
		mcpy(frame + 28, my_ip, 4);
		ring_put(r, RING_OP_WRITE, (uint64_t)h, frame, 42, 0);
		return 0;
	}
	if (len >= 42 && get16(frame + 12) == 0x0800 && frame[23] == 1 && ip_is_me(frame + 30) &&
	    frame[34] == 8) { /* ICMP echo request */
		unsigned ihl = (frame[14] & 15) * 4u;
		uint8_t tmp[4];
		mcpy(frame, frame + 6, 6);
		mcpy(frame + 6, mac, 6);
		mcpy(tmp, frame + 26, 4);
		mcpy(frame + 26, frame + 30, 4);
		mcpy(frame + 30, tmp, 4);
		uint8_t *icmp = frame + 14 + ihl;
		icmp[0] = 0;
		put16(icmp + 2, 0);
		put16(icmp + 2, csum(icmp, len - 14 - ihl));
		ring_put(r, RING_OP_WRITE, (uint64_t)h, frame, (uint32_t)len, 0);
		return 1;
	}
	return 0;
}

int hvt_main(const char *cmdline)
{
	const struct mft_entry *e;
	int h = acquire("service", DEV_NET, &e);
	struct ring *r = ring_get();
	if (h < 0)
		return 1;
	if (!r) {
		puts_n("net_ring: no ring offered\n", 26);
		return 3;
	}
	printf_("net_ring: ring at 0x%lx, mem_size 0x%lx, mtu %u\n", bi->net_ring, bi->mem_size,
		e->u.net.mtu);
	if (bi->net_ring != bi->mem_size)
		return 4;
	const uint8_t *mac = e->u.net.mac;
	send_burst(r, h, mac, number(cmdline, "burst=", 0));
	const char *k = word_after(cmdline, "hostile=");
	if (*k)
		hostile(r, h, k);
	unsigned want = number(cmdline, "count=", 3), pings = 0;
	while (pings < want) {
		uint64_t ready = 0;
		if (poll_ns(10000000000ull, &ready) == 0) {
			puts_n("net_ring: timeout\n", 18);
			return 1;
		}
		if (!(ready & (1ull << h)))
			continue;
		uint64_t len = sizeof(frame);
		if (ring_net_read(r, (uint64_t)h, frame, &len) == R_OK)
			pings += (unsigned)answer(r, h, mac, len);
	}
	printf_("net_ring: answered %u pings through the ring\n", pings);
	return 0;
}
