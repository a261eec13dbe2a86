/* net: network device "service" at 10.77.0.2: answers ARP requests and ICMP echo requests
 * (ping) until it has answered `count=N` pings (default 3) or 10 s pass without a frame. */
#include "hvt_rt.h"
#include "ping.h"

MFT_NOTE(2, {.name = "service", .type = DEV_NET});

static uint8_t frame[1536];

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
		bool echo;
		size_t n = ping_answer(frame, len, mac, &echo);
		if (n && net_write((uint64_t)h, frame, n) == R_OK && echo)
			pings++;
	}
	printf_("net: answered %u pings\n", pings);
	return 0;
}
