/* net: network device "service" at 10.77.0.2: answers ARP requests and ICMP echo requests
 * (ping) until it has answered `count=N` pings (default 3) or 10 s pass without a frame. */
#include "hvt_rt.h"

MFT_NOTE(2, {.name = "service", .type = DEV_NET});

static const uint8_t my_ip[4] = {10, 77, 0, 2};
static uint8_t frame[1536];

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

/* Turns the frame around in place: destination = source, source = us. */
static void reply_eth(uint8_t *f, const uint8_t *mac)
{
	mcpy(f, f + 6, 6);
	mcpy(f + 6, mac, 6);
}

int hvt_main(const char *cmdline)
{
	const struct mft_entry *e;
	int h = acquire("service", DEV_NET, &e);
	unsigned want = 3, pings = 0;
	if (h < 0)
		return 1;
	if (starts(cmdline, "count=")) {
		want = 0;
		for (const char *p = cmdline + 6; *p >= '0' && *p <= '9'; p++)
			want = want * 10 + (unsigned)(*p - '0');
	}
	const uint8_t *mac = e->u.net.mac;
	printf_("net: mac %x:%x:%x:%x:%x:%x mtu %u\n", mac[0], mac[1], mac[2], mac[3], mac[4],
		mac[5], e->u.net.mtu);
	while (pings < want) {
		uint64_t ready = 0;
		if (poll_ns(10000000000ull, &ready) == 0) {
			puts_n("net: timeout\n", 13);
			return 1;
		}
		if (!(ready & (1ull << h)))
			continue;
		uint64_t len = sizeof(frame);
		if (net_read((uint64_t)h, frame, &len) != R_OK)
			continue;
		if (len >= 42 && get16(frame + 12) == 0x0806 && get16(frame + 20) == 1 &&
		    ip_is_me(frame + 38)) { /* ARP request for us */
			reply_eth(frame, mac);
			put16(frame + 20, 2);
			mcpy(frame + 32, frame + 22, 10);  /* target = requester */
			mcpy(frame + 22, mac, 6);
			mcpy(frame + 28, my_ip, 4);
			net_write((uint64_t)h, frame, 42);
		} else if (len >= 42 && get16(frame + 12) == 0x0800 && frame[23] == 1 &&
			   ip_is_me(frame + 30) && frame[34] == 8) { /* ICMP echo request */
			unsigned ihl = (frame[14] & 15) * 4u;
			uint8_t tmp[4];
			reply_eth(frame, mac);
			mcpy(tmp, frame + 26, 4);
			mcpy(frame + 26, frame + 30, 4);
			mcpy(frame + 30, tmp, 4);
			uint8_t *icmp = frame + 14 + ihl;
			icmp[0] = 0;
			put16(icmp + 2, 0);
			put16(icmp + 2, csum(icmp, len - 14 - ihl));
			if (net_write((uint64_t)h, frame, len) == R_OK)
				pings++;
		}
	}
	printf_("net: answered %u pings\n", pings);
	return 0;
}
