/* net_ring: the net unikernel over Solo5 0.12's shared-memory ring (as Solo5's test_net_ring):
 * answers ARP and ping at 10.77.0.2 on `service`, reading and sending every frame through
 * ring entries, waiting in the poll hypercall. `burst=N` first queues N broadcast frames
 * (ethertype 0x88b5, payload "mote-ring" + sequence number) without waiting; `count=N` pings
 * (default 3). `hostile=tail|buf|rbuf|commit|op` breaks one rule of the ring, then waits: the
 * tender must end the VM (op: an unknown operation is skipped and the pings still work).
 * Status 3: no ring offered; 4: the ring is not at mem_size. */
#include "hvt_rt.h"
#include "ping.h"

MFT_NOTE(2, {.name = "service", .type = DEV_NET});

#define BURST_MAX 512
static uint8_t frame[1536];
static uint8_t burst[BURST_MAX][64];
static uint8_t rbufs[RING_SIZE + 1][64];

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

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
		bool echo;
		size_t n = 0;
		if (ring_net_read(r, (uint64_t)h, frame, &len) == R_OK)
			n = ping_answer(frame, len, mac, &echo);
		if (n) { /* the reply goes out from frame: the next read comes after it in the ring */
			ring_put(r, RING_OP_WRITE, (uint64_t)h, frame, (uint32_t)n, 0);
			pings += echo;
		}
	}
	printf_("net_ring: answered %u pings through the ring\n", pings);
	return 0;
}
