/* The tap backend: an existing tap interface, attached through /dev/net/tun with
 * IFF_TAP|IFF_NO_PI (and IFF_VNET_HDR when the caller wants a virtio_net_hdr per frame).
 * Owns: the tun fd, the header size and offloads set on it, the interface's MTU as read at
 * open. Must not: create interfaces (it attaches only to one that exists), know guest memory
 * or virtio, block, or abort: every failure is -errno or a one-line reason. */
#include "backends/net.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <liburing.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"

#define TUN_DEV "/dev/net/tun"
/* The transmit ring: one batch at a time (every SQE completes before send_batch returns), the
 * tap as its one fixed file. */
#define TAP_RING_DEPTH NET_TX_BATCH_MAX
#define TAP_RING_FILE 0

/* Offloads a reader of the tap may accept (TUNSETOFFLOAD), in the order they are probed. */
#define TAP_OFFLOAD_ALL (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO)

struct net_tap {
	int fd;
	unsigned vnet_hdr_len;
	/* recv's iovecs plus one byte past them: tun truncates a frame silently to what fits,
	 * so a byte landing in `spill` is how a frame that did not fit is recognised. */
	struct iovec riov[IOV_MAX];
	uint8_t spill;
	/* send_batch's ring (restricted: writev on the tap alone), when uring is set. */
	bool uring, ring_open;
	struct io_uring ring;
	ssize_t blen[NET_TX_BATCH_MAX]; /* the batch's frame lengths, for short writes */
};

/* Bytes described by iov[0..iovcnt), or -EINVAL for a bad count or an overflowing sum. */
static ssize_t iov_bytes(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;

	if (iovcnt <= 0 || iovcnt > IOV_MAX || !iov)
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
			return -EINVAL;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

static ssize_t tap_recv(void *be, const struct iovec *iov, int iovcnt)
{
	struct net_tap *t = be;
	ssize_t room = iov_bytes(iov, iovcnt);

	if (room < 0)
		return room;
	if (iovcnt >= IOV_MAX)
		return -EINVAL; /* no slot left for the spill byte */
	memcpy(t->riov, iov, (size_t)iovcnt * sizeof(*iov));
	t->riov[iovcnt] = (struct iovec){ .iov_base = &t->spill, .iov_len = 1 };
	for (;;) {
		ssize_t n = readv(t->fd, t->riov, iovcnt + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		if (n > room)
			return -EMSGSIZE; /* the frame was longer than iov: consumed, dropped */
		return n;
	}
}

static int tap_send(void *be, const struct iovec *iov, int iovcnt)
{
	struct net_tap *t = be;
	ssize_t len = iov_bytes(iov, iovcnt);

	if (len < 0)
		return (int)len;
	if ((size_t)len < t->vnet_hdr_len)
		return -EINVAL;
	for (;;) {
		ssize_t n = writev(t->fd, iov, iovcnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return n == len ? 0 : -EIO; /* tun takes a frame whole or not at all */
	}
}

static int tap_result(ssize_t n, ssize_t len)
{
	if (n < 0)
		return n == -EWOULDBLOCK ? -EAGAIN : (int)n;
	return n == len ? 0 : -EIO;
}

/* The batch through the ring: one io_uring_enter submits every writev, which the tap runs
 * inline (a tap write never blocks: it is O_NONBLOCK, so io_uring hands back -EAGAIN rather
 * than waiting); every completion is reaped before returning, so no guest buffer stays in the
 * kernel's hands. A ring that fails is given up for good (writev from then on). */
static void tap_send_uring(struct net_tap *t, const struct net_frame *f, int n, int *res)
{
	int queued = 0, done = 0;

	for (int i = 0; i < n; i++) {
		ssize_t len = iov_bytes(f[i].iov, f[i].iovcnt);
		struct io_uring_sqe *sqe = len >= 0 && (size_t)len >= t->vnet_hdr_len
						   ? io_uring_get_sqe(&t->ring) : NULL;
		if (!sqe) {
			res[i] = len < 0 ? (int)len : (size_t)len < t->vnet_hdr_len ? -EINVAL : -ENOBUFS;
			continue;
		}
		io_uring_prep_writev(sqe, TAP_RING_FILE, f[i].iov, (unsigned)f[i].iovcnt, 0);
		sqe->flags |= IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, (uint64_t)i);
		t->blen[i] = len;
		res[i] = -EIO; /* until its completion says otherwise */
		queued++;
	}
	for (int sub = 0; sub < queued;) {
		int r = io_uring_submit(&t->ring);
		if (r == -EINTR)
			continue;
		if (r <= 0) {
			log_warn("tap: io_uring submission failed (%s); sending with writev from now on",
				 strerror(r < 0 ? -r : EIO));
			t->uring = false;
			break;
		}
		sub += r;
	}
	while (done < queued) {
		struct io_uring_cqe *cqe;
		int r = io_uring_peek_cqe(&t->ring, &cqe);
		if (r == -EAGAIN)
			r = io_uring_wait_cqe(&t->ring, &cqe);
		if (r == -EINTR)
			continue;
		if (r < 0) {
			log_warn("tap: io_uring completion failed (%s); sending with writev from now on",
				 strerror(-r));
			t->uring = false;
			return;
		}
		uint64_t i = io_uring_cqe_get_data64(cqe);
		if (i < (uint64_t)n)
			res[i] = tap_result(cqe->res, t->blen[i]);
		io_uring_cqe_seen(&t->ring, cqe);
		done++;
	}
}

static void tap_send_batch(void *be, const struct net_frame *f, int n, int *res)
{
	struct net_tap *t = be;

	if (n <= 0 || n > NET_TX_BATCH_MAX)
		return;
	if (t->uring && n > 1) {
		tap_send_uring(t, f, n, res);
		return;
	}
	for (int i = 0; i < n; i++)
		res[i] = tap_send(t, f[i].iov, f[i].iovcnt);
}

static int tap_fd(void *be)
{
	return ((struct net_tap *)be)->fd;
}

static int tap_set_offload(void *be, unsigned tun_flags)
{
	struct net_tap *t = be;

	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tun_flags) < 0)
		return -errno;
	return 0;
}

static void tap_close(void *be)
{
	struct net_tap *t = be;

	if (!t)
		return;
	if (t->ring_open) {
		/* The file first: the ring's own teardown runs later in the kernel and would keep
		 * the tap attached (EBUSY for the next user) until it does. */
		io_uring_unregister_files(&t->ring);
		io_uring_queue_exit(&t->ring);
	}
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.recv = tap_recv,
	.send = tap_send,
	.fd = tap_fd,
	.set_offload = tap_set_offload,
	.close = tap_close,
};

/* send_batch's ring, restricted like the disk rings (docs/security.md): created disabled, the
 * tap its one fixed file, then only IORING_OP_WRITEV on a fixed file and, as the one register
 * operation, the files' unregistration at close. */
static const struct io_uring_restriction tap_ring_restrictions[] = {
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
	{ .opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED, .sqe_flags = IOSQE_FIXED_FILE },
	{ .opcode = IORING_RESTRICTION_REGISTER_OP, .register_op = IORING_UNREGISTER_FILES },
};

/* Sets t->uring when the ring is ready; else logs why and leaves writev per frame. */
static void tap_ring_setup(struct net_tap *t, const char *ifname)
{
	struct io_uring_restriction res[sizeof(tap_ring_restrictions) /
					sizeof(tap_ring_restrictions[0])];
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	const char *step = "setup";
	int r;

	memcpy(res, tap_ring_restrictions, sizeof(res)); /* liburing's prototype is not const */
	r = io_uring_queue_init_params(TAP_RING_DEPTH, &t->ring, &p);
	if (r < 0)
		goto fail;
	step = "file registration";
	r = io_uring_register_files(&t->ring, &t->fd, 1);
	if (r == 0) {
		step = "restriction";
		r = io_uring_register_restrictions(&t->ring, res, sizeof(res) / sizeof(res[0]));
	}
	if (r == 0) {
		step = "enabling";
		r = io_uring_enable_rings(&t->ring);
	}
	if (r == 0) {
		t->uring = t->ring_open = true;
		return;
	}
	io_uring_queue_exit(&t->ring);
fail:
	log_info("tap '%s': no io_uring for transmit batches (%s: %s); one writev per frame",
		 ifname, step, strerror(-r));
}

/* What kind of interface ifname is, from its driver (ethtool): 1 a tap, 0 a tun (IP-level)
 * interface, -1 something else (driver name in drv), -2 unknown. sock: any AF_INET socket. */
static int iface_kind(int sock, const char *ifname, char *drv, size_t drvlen)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (char *)&info;
	if (ioctl(sock, SIOCETHTOOL, &ifr) < 0)
		return -2;
	info.driver[sizeof(info.driver) - 1] = '\0';
	info.bus_info[sizeof(info.bus_info) - 1] = '\0';
	snprintf(drv, drvlen, "%s", info.driver);
	if (strcmp(info.driver, "tun") != 0)
		return -1;
	return strcmp(info.bus_info, "tap") == 0 ? 1 : 0;
}

/* The interface's MTU, or 0 when it cannot be read. */
static unsigned iface_mtu(int sock, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sock, SIOCGIFMTU, &ifr) < 0 || ifr.ifr_mtu <= 0)
		return 0;
	return (unsigned)ifr.ifr_mtu;
}

/* Whether the interface is up or running (SIOCGIFFLAGS). */
static bool iface_up(int sock, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	return ioctl(sock, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & (IFF_UP | IFF_RUNNING));
}

/* Which TUN_F_* flags the tap accepts: all at once, else flag by flag (TSO needs CSUM).
 * Leaves the tap with no offloads set. */
static unsigned probe_offloads(int fd)
{
	static const unsigned order[] = { TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN,
					  TUN_F_UFO };
	unsigned ok = 0;

	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)TAP_OFFLOAD_ALL) == 0) {
		ok = TAP_OFFLOAD_ALL;
	} else {
		for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
			if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(ok | order[i])) == 0)
				ok |= order[i];
	}
	if (ioctl(fd, TUNSETOFFLOAD, 0ul) < 0)
		return 0;
	return ok;
}

/* A one-line reason why TUNSETIFF failed with errno e on ifname. */
static int attach_error(int e, int sock, const char *ifname, char *err, size_t errlen)
{
	char drv[40] = "";

	switch (e) {
	case EPERM:
	case EACCES:
		return err_set(err, errlen,
			       "tap '%s' belongs to another user or group: attach as its owner "
			       "(ip tuntap add %s mode tap user USER) or with CAP_NET_ADMIN",
			       ifname, ifname);
	case EBUSY:
		return err_set(err, errlen,
			       "tap '%s' is already in use by another process (a tap without "
			       "multi_queue takes one reader)", ifname);
	case EINVAL:
		switch (iface_kind(sock, ifname, drv, sizeof(drv))) {
		case 0:
			return err_set(err, errlen,
				       "interface '%s' is a tun (IP-level) device, not a tap: "
				       "create it with 'ip tuntap add %s mode tap'", ifname, ifname);
		case -1:
			return err_set(err, errlen,
				       "interface '%s' is not a tap (driver %s): create one with "
				       "'ip tuntap add NAME mode tap'", ifname, drv);
		default:
			break;
		}
		return err_set(err, errlen,
			       "interface '%s' is not a tap (or is a multi_queue tap, which mote "
			       "does not use): create one with 'ip tuntap add NAME mode tap'", ifname);
	default:
		return err_set(err, errlen, "cannot attach to tap '%s': %s", ifname, strerror(e));
	}
}

static int check_name(const char *ifname, char *err, size_t errlen)
{
	if (!ifname || !ifname[0])
		return err_set(err, errlen, "tap: an interface name is needed");
	size_t n = strnlen(ifname, NET_IFNAME_MAX + 1);
	if (n > NET_IFNAME_MAX)
		return err_set(err, errlen, "tap name '%.20s...' is longer than %d bytes", ifname,
			       NET_IFNAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (ifname[i] == '/' || ifname[i] <= ' ' || ifname[i] == ':' || ifname[i] == 0x7f)
			return err_set(err, errlen, "tap name '%s' contains a character interface "
				       "names may not have", ifname);
	return 0;
}

/* Opens /dev/net/tun and attaches it to ifname; the fd, or -1 with err set. */
static int tap_attach(const char *ifname, unsigned vnet_hdr_len, int sock, char *err,
		      size_t errlen)
{
	int fd = open(TUN_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		err_set(err, errlen, "cannot open %s for tap '%s': %s%s", TUN_DEV, ifname,
			strerror(e), e == ENOENT ? " (load the tun module: modprobe tun)" : "");
		return -1;
	}
	unsigned features = 0;
	if (vnet_hdr_len && (ioctl(fd, TUNGETFEATURES, &features) < 0 ||
			     !(features & IFF_VNET_HDR))) {
		err_set(err, errlen, "tap '%s': this kernel's tun driver has no IFF_VNET_HDR", ifname);
		goto fail;
	}
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr_len ? IFF_VNET_HDR : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		attach_error(errno, sock, ifname, err, errlen);
		goto fail;
	}
	int sz = (int)vnet_hdr_len;
	if (vnet_hdr_len && ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
		err_set(err, errlen, "tap '%s': cannot set a %u-byte virtio-net header: %s", ifname,
			vnet_hdr_len, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int net_tap_open(const char *ifname, unsigned vnet_hdr_len, struct net_backend *out, char *err,
		 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (check_name(ifname, err, errlen) < 0)
		return -1;
	if (vnet_hdr_len != 0 && (vnet_hdr_len < NET_VNET_HDR_MIN || vnet_hdr_len > NET_VNET_HDR_MAX))
		return err_set(err, errlen, "tap '%s': unsupported virtio-net header size %u", ifname,
			       vnet_hdr_len);
	/* TUNSETIFF on a name that does not exist would create a new interface: refuse first. */
	if (if_nametoindex(ifname) == 0)
		return err_set(err, errlen,
			       "no network interface '%s' here: create it first with "
			       "'ip tuntap add %s mode tap' (in this network namespace)", ifname, ifname);
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return err_set(err, errlen, "tap '%s': socket: %s", ifname, strerror(errno));
	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t) {
		close(sock);
		return err_set(err, errlen, "tap '%s': out of memory", ifname);
	}
	t->vnet_hdr_len = vnet_hdr_len;
	t->fd = tap_attach(ifname, vnet_hdr_len, sock, err, errlen);
	if (t->fd < 0) {
		close(sock);
		free(t);
		return -1;
	}
	out->ops = &tap_ops;
	out->be = t;
	out->vnet_hdr_len = vnet_hdr_len;
	snprintf(out->ifname, sizeof(out->ifname), "%s", ifname);
	out->mtu = iface_mtu(sock, ifname);
	out->up = iface_up(sock, ifname);
	out->offloads = vnet_hdr_len ? probe_offloads(t->fd) : 0;
	close(sock);
	if (vnet_hdr_len)
		tap_ring_setup(t, ifname);
	out->send_batch = tap_send_batch;
	out->batched = t->uring;
	return 0;
}

int net_tap_adopt(int fd, struct net_backend *out, char *err, size_t errlen)
{
	struct ifreq ifr;

	memset(out, 0, sizeof(*out));
	memset(&ifr, 0, sizeof(ifr));
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return err_set(err, errlen, "descriptor %d: %s (pass a tap descriptor the process "
				            "inherits)", fd, strerror(errno));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return err_set(err, errlen, "descriptor %d is not an attached tap (TUNGETIFF: %s)", fd,
			       strerror(errno));
	ifr.ifr_name[IFNAMSIZ - 1] = '\0';
	if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP)) != IFF_TAP || !(ifr.ifr_flags & IFF_NO_PI) ||
	    (ifr.ifr_flags & IFF_VNET_HDR))
		return err_set(err, errlen, "descriptor %d (interface '%s') is not attached as a plain "
				            "tap (IFF_TAP|IFF_NO_PI, no vnet header)", fd, ifr.ifr_name);
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return err_set(err, errlen, "descriptor %d: %s", fd, strerror(errno));
	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t)
		return err_set(err, errlen, "tap descriptor %d: out of memory", fd);
	t->fd = fd;
	out->ops = &tap_ops;
	out->be = t;
	snprintf(out->ifname, sizeof(out->ifname), "%s", ifr.ifr_name);
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock >= 0) {
		out->mtu = iface_mtu(sock, out->ifname);
		out->up = iface_up(sock, out->ifname);
		close(sock);
	}
	return 0;
}

int net_tap_ring_probe(struct net_backend *nb, unsigned opcode, bool fixed, int fd)
{
	struct net_tap *t = nb && nb->ops == &tap_ops ? nb->be : NULL;
	struct io_uring_cqe *cqe;

	if (!t || !t->uring)
		return -ENODEV;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_rw((int)opcode, sqe, fixed ? TAP_RING_FILE : fd, NULL, 0, 0);
	if (fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	int r = io_uring_submit(&t->ring);
	if (r < 0)
		return r;
	r = io_uring_wait_cqe(&t->ring, &cqe);
	if (r < 0)
		return r;
	r = cqe->res;
	io_uring_cqe_seen(&t->ring, cqe);
	return r;
}
