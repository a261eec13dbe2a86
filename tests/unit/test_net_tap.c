/* Unit tests for the tap backend (src/backends/net_tap.c). The test moves itself into a
 * private network namespace (unshare(CLONE_NEWNET)), so every interface it creates there
 * vanishes with the process and the host's interfaces are never touched; without the
 * privilege for that it prints a skip line naming what is missing.
 * Covers: attach with a vnet header, MTU and offload probe, frames both ways (an AF_PACKET
 * socket on the tap is the other end), -EAGAIN, -EMSGSIZE, set_offload, send_batch (frames in
 * order through the io_uring, a bad frame's own result, the tap free again at once after
 * close), and the refusals:
 * missing interface, lo, a tun, a tap in use, a tap owned by another user, bad names. */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <liburing.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backends/net.h"
#include "test.h"

#define HDR 12
#define ETHERTYPE_TEST 0x88b5 /* IEEE local experimental: nothing in the kernel answers it */

/* Creates a persistent tun/tap named name in this namespace, owned by owner (-1: none). */
static int make_iface(const char *name, short type, long owner)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)(type | IFF_NO_PI);
	int r = ioctl(fd, TUNSETIFF, &ifr);
	if (r == 0 && owner >= 0)
		r = ioctl(fd, TUNSETOWNER, owner);
	if (r == 0)
		r = ioctl(fd, TUNSETPERSIST, 1);
	close(fd);
	return r;
}

static int iface_ctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	int r = s >= 0 ? ioctl(s, req, ifr) : -1;
	if (s >= 0)
		close(s);
	return r;
}

/* Brings the interface up. IPv6 is switched off on it first (where the host has IPv6): else
 * the kernel sends router solicitations and MLD reports at times of its choosing, and one can
 * arrive in the middle of a test's exchange. */
static int set_up(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (iface_ctl(name, SIOCGIFFLAGS, &ifr) < 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return iface_ctl(name, SIOCSIFFLAGS, &ifr);
}

static int set_mtu(const char *name, int mtu)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = mtu;
	return iface_ctl(name, SIOCSIFMTU, &ifr);
}

/* A packet socket bound to the tap: what it sends, the tap's reader receives, and the
 * other way round. */
static int packet_socket(const char *name)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(name) };
	if (s >= 0 && bind(s, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static size_t make_frame(uint8_t *f, size_t payload, uint8_t seed)
{
	memset(f, 0xff, 6);                                      /* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);           /* locally administered */
	f[12] = ETHERTYPE_TEST >> 8;
	f[13] = ETHERTYPE_TEST & 0xff;
	for (size_t i = 0; i < payload; i++)
		f[14 + i] = (uint8_t)(seed + i * 3);
	return 14 + payload;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static void refusals(void)
{
	struct net_backend nb;
	char err[256] = "";

	CHECK_EQ(net_tap_open("mote-nope0", HDR, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "no network interface 'mote-nope0'");
	CHECK(nb.ops == NULL);
	CHECK(if_nametoindex("mote-nope0") == 0); /* and none was created */
	CHECK_EQ(net_tap_open("lo", HDR, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "'lo' is not a tap");
	CHECK_EQ(make_iface("mtun0", IFF_TUN, -1), 0);
	CHECK_EQ(net_tap_open("mtun0", HDR, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "is a tun (IP-level) device, not a tap");
	CHECK_EQ(net_tap_open("a-name-of-16-chr", HDR, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "longer than 15 bytes");
	CHECK_EQ(net_tap_open("", HDR, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "name is needed");
	CHECK_EQ(net_tap_open("a/b", HDR, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "character");
	CHECK_EQ(net_tap_open("lo", 5, &nb, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "header size 5");
}

static void frames_both_ways(void)
{
	struct net_backend nb;
	char err[256] = "";
	uint8_t frame[2048], buf[2048];
	uint8_t hdr[HDR] = { 0 };

	CHECK_EQ(make_iface("mtap0", IFF_TAP, -1), 0);
	CHECK_EQ(set_mtu("mtap0", 1400), 0);
	CHECK_EQ(net_tap_open("mtap0", HDR, &nb, err, sizeof(err)), 0);
	if (!nb.ops) {
		printf("  (%s)\n", err);
		return;
	}
	CHECK_EQ(nb.mtu, 1400u);
	CHECK_EQ(nb.vnet_hdr_len, (unsigned)HDR);
	CHECK(strcmp(nb.ifname, "mtap0") == 0);
	CHECK((nb.offloads & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) ==
	      (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6));
	int fd = nb.ops->fd(nb.be);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
	CHECK_EQ(set_up("mtap0"), 0);
	int ps = packet_socket("mtap0");
	CHECK(ps >= 0);

	/* Nothing waiting: -EAGAIN, never a block. Drain what the kernel sent on link-up. */
	struct iovec rv[2] = { { hdr, HDR }, { buf, sizeof(buf) } };
	while (nb.ops->recv(nb.be, rv, 2) >= 0)
		;
	CHECK_EQ(nb.ops->recv(nb.be, rv, 2), -EAGAIN);

	/* Host -> tap reader: one whole frame behind a zeroed vnet header. */
	size_t len = make_frame(frame, 300, 7);
	CHECK_EQ(send(ps, frame, len, 0), (ssize_t)len);
	CHECK(readable(fd, 2000));
	memset(hdr, 0xaa, sizeof(hdr));
	ssize_t n = nb.ops->recv(nb.be, rv, 2);
	CHECK_EQ(n, (ssize_t)(HDR + len));
	CHECK(memcmp(buf, frame, len) == 0);
	CHECK_EQ(hdr[0], 0); /* flags */
	CHECK_EQ(hdr[1], 0); /* gso_type NONE */

	/* A frame that does not fit: dropped, -EMSGSIZE. */
	len = make_frame(frame, 1000, 9);
	CHECK_EQ(send(ps, frame, len, 0), (ssize_t)len);
	CHECK(readable(fd, 2000));
	struct iovec small[2] = { { hdr, HDR }, { buf, 100 } };
	CHECK_EQ(nb.ops->recv(nb.be, small, 2), -EMSGSIZE);
	/* Exactly fitting is not too big. */
	len = make_frame(frame, 100, 5);
	CHECK_EQ(send(ps, frame, len, 0), (ssize_t)len);
	CHECK(readable(fd, 2000));
	struct iovec exact[2] = { { hdr, HDR }, { buf, len } };
	CHECK_EQ(nb.ops->recv(nb.be, exact, 2), (ssize_t)(HDR + len));
	CHECK(memcmp(buf, frame, len) == 0);
	CHECK_EQ(nb.ops->recv(nb.be, rv, 2), -EAGAIN);

	/* Tap writer -> host: the packet socket sees exactly the frame. */
	len = make_frame(frame, 200, 1);
	memset(hdr, 0, sizeof(hdr));
	struct iovec wv[3] = { { hdr, HDR }, { frame, 20 }, { frame + 20, len - 20 } };
	CHECK_EQ(nb.ops->send(nb.be, wv, 3), 0);
	bool seen = false;
	for (int i = 0; i < 8 && !seen && readable(ps, 2000); i++) {
		n = recv(ps, buf, sizeof(buf), 0);
		seen = n == (ssize_t)len && memcmp(buf, frame, len) == 0;
	}
	CHECK(seen);
	/* Shorter than the header, and a nonsense iovec count. */
	CHECK_EQ(nb.ops->send(nb.be, wv, 0), -EINVAL);
	struct iovec tiny[1] = { { hdr, 4 } };
	CHECK_EQ(nb.ops->send(nb.be, tiny, 1), -EINVAL);

	CHECK_EQ(nb.ops->set_offload(nb.be, TUN_F_CSUM | TUN_F_TSO4), 0);
	CHECK_EQ(nb.ops->set_offload(nb.be, 0x40000000u), -EINVAL);
	CHECK_EQ(nb.ops->set_offload(nb.be, 0), 0);

	/* A second reader of a single-queue tap is refused clearly. */
	struct net_backend nb2;
	CHECK_EQ(net_tap_open("mtap0", HDR, &nb2, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "already in use");

	close(ps);
	net_close(&nb);
	net_close(&nb); /* once only */
	CHECK(nb.ops == NULL);
	/* After close the tap is free again; bare frames (no header) work too. */
	CHECK_EQ(net_tap_open("mtap0", 0, &nb, err, sizeof(err)), 0);
	CHECK_EQ(nb.vnet_hdr_len, 0u);
	CHECK_EQ(nb.offloads, 0u);
	net_close(&nb);
}

/* send_batch: one submission for the batch where io_uring is there, each frame's result as
 * send would give it, the frames on the wire in order; the tap attachable again at once. */
static void batched_send(void)
{
	struct net_backend nb;
	char err[256] = "";
	uint8_t frames[6][300], buf[2048];
	uint8_t hdr[HDR] = { 0 };
	struct iovec v[6][2];
	struct net_frame f[6];
	int res[6];
	size_t len[6];

	CHECK_EQ(make_iface("mtap2", IFF_TAP, -1), 0);
	CHECK_EQ(set_up("mtap2"), 0);
	CHECK_EQ(net_tap_open("mtap2", HDR, &nb, err, sizeof(err)), 0);
	if (!nb.ops)
		return;
	CHECK(nb.send_batch != NULL);
	if (!nb.batched)
		printf("  (no io_uring here: send_batch sends frame by frame)\n");
	int ps = packet_socket("mtap2");
	CHECK(ps >= 0);
	for (int i = 0; i < 6; i++) {
		len[i] = make_frame(frames[i], 100 + (size_t)i * 20, (uint8_t)(i * 11));
		v[i][0] = (struct iovec){ hdr, HDR };
		v[i][1] = (struct iovec){ frames[i], len[i] };
		f[i] = (struct net_frame){ v[i], 2 };
		res[i] = 12345;
	}
	f[2] = (struct net_frame){ v[2], 0 };          /* no iovecs */
	v[4][0].iov_len = 4;                              /* shorter than the header */
	f[4] = (struct net_frame){ v[4], 1 };
	nb.send_batch(nb.be, f, 6, res);
	CHECK_EQ(res[0], 0);
	CHECK_EQ(res[1], 0);
	CHECK_EQ(res[2], -EINVAL);
	CHECK_EQ(res[3], 0);
	CHECK_EQ(res[4], -EINVAL);
	CHECK_EQ(res[5], 0);
	static const int sent[] = { 0, 1, 3, 5 };
	int next = 0;
	for (int k = 0; k < 16 && next < 4 && readable(ps, 2000); k++) {
		ssize_t n = recv(ps, buf, sizeof(buf), 0);
		int want = sent[next];
		if (n == (ssize_t)len[want] && memcmp(buf, frames[want], len[want]) == 0)
			next++;
	}
	CHECK_EQ(next, 4); /* all four, in order */
	/* A batch of one (the request/response path: a plain writev). */
	v[1][0].iov_len = HDR;
	nb.send_batch(nb.be, f + 1, 1, res);
	CHECK_EQ(res[0], 0);
	/* The ring's restrictions: no other opcode, no fd but the fixed tap. */
	if (nb.batched) {
		CHECK_EQ(net_tap_ring_probe(&nb, IORING_OP_OPENAT, false, AT_FDCWD), -EACCES);
		CHECK_EQ(net_tap_ring_probe(&nb, IORING_OP_NOP, true, -1), -EACCES);
		CHECK_EQ(net_tap_ring_probe(&nb, IORING_OP_READV, true, -1), -EACCES);
		CHECK_EQ(net_tap_ring_probe(&nb, IORING_OP_SOCKET, false, -1), -EACCES);
		CHECK_EQ(net_tap_ring_probe(&nb, IORING_OP_WRITEV, false, ps), -EACCES);
		/* Allowed: a fixed-file writev (of nothing: the tap refuses an empty frame). */
		CHECK(net_tap_ring_probe(&nb, IORING_OP_WRITEV, true, -1) != -EACCES);
	} else {
		CHECK_EQ(net_tap_ring_probe(&nb, IORING_OP_NOP, true, -1), -ENODEV);
	}
	close(ps);
	net_close(&nb);
	/* The ring gave the tap back at close: a new reader attaches at once. */
	CHECK_EQ(net_tap_open("mtap2", HDR, &nb, err, sizeof(err)), 0);
	net_close(&nb);
}

/* Drops CAP_NET_ADMIN from this process (still uid 0, so /dev/net/tun opens). */
static int drop_net_admin(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -1;
	d[0].effective &= ~(1u << CAP_NET_ADMIN);
	d[0].permitted &= ~(1u << CAP_NET_ADMIN);
	d[0].inheritable &= ~(1u << CAP_NET_ADMIN);
	return (int)syscall(SYS_capset, &h, d);
}

/* In a child without CAP_NET_ADMIN: 0 when net_tap_open(name) succeeded, 1 when it failed
 * with the owner message, 2 otherwise. */
static int open_without_net_admin(const char *name)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct net_backend nb;
		char err[256] = "";
		if (drop_net_admin() < 0)
			_exit(3);
		if (net_tap_open(name, HDR, &nb, err, sizeof(err)) == 0)
			_exit(0);
		_exit(strstr(err, "belongs to another user") ? 1 : 2);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void owner(void)
{
	CHECK_EQ(make_iface("mown0", IFF_TAP, 65534), 0);
	CHECK_EQ(make_iface("mown1", IFF_TAP, (long)getuid()), 0);
	CHECK_EQ(open_without_net_admin("mown0"), 1); /* someone else's tap */
	CHECK_EQ(open_without_net_admin("mown1"), 0); /* our own */
}

int main(void)
{
	test_suite_name = "net_tap";
	if (unshare(CLONE_NEWNET) < 0) {
		printf("skip net_tap.all: cannot create a private network namespace (%s): needs "
		       "root or CAP_SYS_ADMIN\n", strerror(errno));
		return 0;
	}
	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		printf("skip net_tap.all: no usable /dev/net/tun (%s)\n", strerror(errno));
		return 0;
	}
	RUN(refusals);
	RUN(frames_both_ways);
	RUN(batched_send);
	RUN(owner);
	TEST_MAIN_END();
}
