/* ARP and ICMP echo replies (see ping.h). Runs at ring 0 on the test unikernels. */
#include "ping.h"

#include "hvt_rt.h"

static const uint8_t my_ip[4] = {10, 77, 0, 2};

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

size_t ping_answer(uint8_t *frame, size_t len, const uint8_t mac[6], bool *echo)
{
	*echo = false;
	if (len >= 42 && get16(frame + 12) == 0x0806 && get16(frame + 20) == 1 &&
	    ip_is_me(frame + 38)) { /* ARP request for us */
		reply_eth(frame, mac);
		put16(frame + 20, 2);
		mcpy(frame + 32, frame + 22, 10); /* target = requester */
		mcpy(frame + 22, mac, 6);
		mcpy(frame + 28, my_ip, 4);
		return 42;
	}
	if (len >= 42 && get16(frame + 12) == 0x0800 && frame[23] == 1 && ip_is_me(frame + 30) &&
	    frame[34] == 8) { /* ICMP echo request */
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
		*echo = true;
		return len;
	}
	return 0;
}
