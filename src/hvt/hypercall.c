/* hvt hypercall handlers (see hypercall.h for the contract). Pattern for each: copy the
 * argument struct out (gm_read refuses a range not wholly in RAM), check the copy, act on
 * host buffers obtained from the gate for exactly the checked length, write back outputs. */
#include "hvt/hypercall.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "hvt/abi.h"
#include "core/status.h"

#define HVT_NET_FRAME_MAX 65536u /* larger writes are refused with SOLO5_R_EINVAL */

/* Ends the VM for a guest error; returns -1 for the handlers' tail calls. */
static int guest_fail(struct hvt *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int guest_fail(struct hvt *h, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	stop_request(h->stop, MOTE_EXIT_GUEST_FAULT, "%s", msg);
	return -1;
}

/* Below HVT_GUEST_MIN_BASE lie the page tables, the GDT and the boot info: the tender never
 * writes there for the guest, or a block read could rewrite the page tables and undo W^X;
 * nor into the read-only text and rodata, which KVM maps read-only to the guest. */
static const char *no_write_reason(const struct hvt *h, uint64_t gpa, uint64_t len)
{
	if (gpa < HVT_GUEST_MIN_BASE)
		return "lies in the tender's area below 0x100000";
	for (size_t i = 0; i < h->nro; i++)
		if (gpa < h->ro[i].gpa + h->ro[i].size && gpa + len > h->ro[i].gpa)
			return "reaches into the unikernel's read-only memory (text, rodata)";
	return NULL;
}

void *hvt_guest_range2(struct hvt *h, const char *what, const char *kind, uint64_t gpa,
		       uint64_t len, bool out)
{
	uint64_t limit = h->mem_limit ? h->mem_limit : h->gm->size;
	const char *why = NULL;
	void *p = NULL;
	if (len == 0 || gpa + len < gpa || gpa >= limit || len > limit - gpa)
		why = "is not in the unikernel's memory";
	else if (out)
		why = no_write_reason(h, gpa, len);
	if (!why && !(p = gm_ptr(h->gm, gpa, len)))
		why = "is not in guest memory";
	if (why) /* formatted only here: the checks run on every hypercall */
		guest_fail(h, "Invalid guest access: gpa=0x%" PRIx64 ", sz=%" PRIu64 ": the %s%s %s",
			   gpa, len, what, kind, why);
	return p;
}

void *hvt_guest_range(struct hvt *h, const char *what, uint64_t gpa, uint64_t len, bool out)
{
	return hvt_guest_range2(h, what, "", gpa, len, out);
}

/* Argument structs hold output fields: the tender writes them, so they follow the rules of
 * out buffers. The struct is copied out once; only the copy is checked and used. */
static int copy_in(struct hvt *h, const char *what, uint64_t gpa, void *dst, size_t len)
{
	const void *p = hvt_guest_range2(h, what, " hypercall argument", gpa, len, true);
	if (!p)
		return -1;
	memcpy(dst, p, len);
	return 0;
}

/* Writes an output field; the struct's range was checked by copy_in. */
static void put(struct hvt *h, uint64_t gpa, size_t off, const void *v, size_t len)
{
	(void)gm_write(h->gm, gpa + off, v, len);
}

static void put_ret(struct hvt *h, uint64_t gpa, size_t off, int32_t ret)
{
	put(h, gpa, off, &ret, sizeof(ret));
}

/* Host pointer for a guest buffer, or NULL after ending the VM. len > 0. */
static void *buffer(struct hvt *h, const char *what, uint64_t data, uint64_t len, bool out)
{
	return hvt_guest_range2(h, what, " buffer", data, len, out);
}

struct hvt_device *hvt_attached(struct hvt *h, uint64_t handle, uint32_t type)
{
	if (handle >= h->mft->n || h->mft->e[handle].type != type || !h->mft->e[handle].attached)
		return NULL;
	return &h->dev[handle];
}

static int hc_walltime(struct hvt *h, uint64_t gpa)
{
	struct hvt_hc_walltime a;
	struct timespec ts;
	if (copy_in(h, "walltime", gpa, &a, sizeof(a)) < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	a.nsecs = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	put(h, gpa, offsetof(struct hvt_hc_walltime, nsecs), &a.nsecs, sizeof(a.nsecs));
	return 0;
}

static int hc_puts(struct hvt *h, uint64_t gpa)
{
	struct hvt_hc_puts a;
	if (copy_in(h, "puts", gpa, &a, sizeof(a)) < 0)
		return -1;
	if (a.len == 0)
		return 0;
	const uint8_t *p = buffer(h, "puts", a.data, a.len, false);
	if (!p)
		return -1;
	for (uint64_t done = 0; done < a.len && !stop_requested(h->stop);) {
		ssize_t n = write(h->out_fd, p + done, a.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) { /* a non-blocking stdout: wait for room or a stop */
			struct pollfd w[3] = {{.fd = h->out_fd, .events = POLLOUT},
					      {.fd = h->stop->efd, .events = POLLIN},
					      {.fd = h->sig_fd, .events = POLLIN}};
			if (ppoll(w, 3, NULL, NULL) > 0 && (w[2].revents & POLLIN))
				hvt_take_signal(h);
			continue;
		}
		if (n <= 0)
			break; /* the console went away: the guest's text is lost, the guest runs on */
		done += (uint64_t)n;
	}
	return 0;
}

/* Blocks in the host until a network device has a frame, the timeout passes, or a stop is
 * requested; never spins. */
static int hc_poll(struct hvt *h, uint64_t gpa)
{
	struct hvt_hc_poll a;
	struct pollfd fds[MFT_MAX_ENTRIES + 2];
	unsigned idx[MFT_MAX_ENTRIES + 2];
	nfds_t n = 0;

	if (copy_in(h, "poll", gpa, &a, sizeof(a)) < 0)
		return -1;
	fds[n++] = (struct pollfd){.fd = h->stop->efd, .events = POLLIN};
	fds[n++] = (struct pollfd){.fd = h->sig_fd, .events = POLLIN}; /* ignored when -1 */
	for (unsigned i = 1; i < h->mft->n; i++) {
		struct hvt_device *d = hvt_attached(h, i, MFT_DEV_NET_BASIC);
		if (!d)
			continue;
		idx[n] = i;
		fds[n++] = (struct pollfd){.fd = d->net.ops->fd(d->net.be), .events = POLLIN};
	}
	struct timespec ts = {.tv_sec = (time_t)(a.timeout_nsecs / 1000000000ull),
			      .tv_nsec = (long)(a.timeout_nsecs % 1000000000ull)};
	int r = ppoll(fds, n, &ts, NULL);
	if (r < 0 && errno != EINTR)
		return guest_fail(h, "poll failed in the host: %s", strerror(errno));
	uint64_t ready = 0;
	int32_t count = 0;
	if (r > 0 && (fds[1].revents & POLLIN))
		hvt_take_signal(h);
	for (nfds_t i = 2; r > 0 && i < n; i++) {
		if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) {
			ready |= 1ull << idx[i];
			count++;
		}
	}
	a.ready_set = ready;
	a.ret = count;
	put(h, gpa, offsetof(struct hvt_hc_poll, ready_set), &a.ready_set, sizeof(a.ready_set));
	put_ret(h, gpa, offsetof(struct hvt_hc_poll, ret), a.ret);
	return stop_requested(h->stop) ? -1 : 0;
}

/* Block read/write share one argument layout (handle, offset, data, len, ret). */
static int hc_block(struct hvt *h, uint64_t gpa, bool write)
{
	struct hvt_hc_block_read a; /* same layout as struct hvt_hc_block_write */
	const char *what = write ? "block write" : "block read";
	if (copy_in(h, what, gpa, &a, sizeof(a)) < 0)
		return -1;
	const size_t ret_off = offsetof(struct hvt_hc_block_read, ret);
	struct hvt_device *d = hvt_attached(h, a.handle, MFT_DEV_BLOCK_BASIC);
	if (!d) {
		put_ret(h, gpa, ret_off, SOLO5_R_EINVAL);
		return 0;
	}
	const struct hvt_mft_entry *e = &h->mft->e[a.handle];
	uint64_t bs = e->block_size;
	if (a.len == 0 || a.offset % bs || a.len % bs || a.offset >= e->capacity ||
	    a.len > e->capacity - a.offset) {
		put_ret(h, gpa, ret_off, SOLO5_R_EINVAL);
		return 0;
	}
	void *p = buffer(h, what, a.data, a.len, !write);
	if (!p)
		return -1;
	struct iovec iov = {.iov_base = p, .iov_len = a.len};
	int r = write ? d->blk.ops->write(d->blk.be, a.offset, &iov, 1)
		      : d->blk.ops->read(d->blk.be, a.offset, &iov, 1);
	if (r < 0) {
		guest_error("%s of %" PRIu64 " bytes at %" PRIu64 " on '%s' failed: %s", what, a.len,
			    a.offset, e->name, strerror(-r));
		put_ret(h, gpa, ret_off, SOLO5_R_EUNSPEC);
		return 0;
	}
	if (write)
		h->bytes_written += a.len;
	else
		h->bytes_read += a.len;
	put_ret(h, gpa, ret_off, SOLO5_R_OK);
	return 0;
}

static int hc_net_write(struct hvt *h, uint64_t gpa)
{
	struct hvt_hc_net_write a;
	if (copy_in(h, "net write", gpa, &a, sizeof(a)) < 0)
		return -1;
	const size_t ret_off = offsetof(struct hvt_hc_net_write, ret);
	struct hvt_device *d = hvt_attached(h, a.handle, MFT_DEV_NET_BASIC);
	if (!d || a.len == 0 || a.len > HVT_NET_FRAME_MAX) {
		put_ret(h, gpa, ret_off, SOLO5_R_EINVAL);
		return 0;
	}
	void *p = buffer(h, "net write", a.data, a.len, false);
	if (!p)
		return -1;
	struct iovec iov = {.iov_base = p, .iov_len = a.len};
	pthread_mutex_lock(&d->net_lock);
	int r = d->net.ops->send(d->net.be, &iov, 1);
	pthread_mutex_unlock(&d->net_lock);
	put_ret(h, gpa, ret_off, r == 0 ? SOLO5_R_OK : r == -EAGAIN ? SOLO5_R_AGAIN : SOLO5_R_EUNSPEC);
	return 0;
}

static int hc_net_read(struct hvt *h, uint64_t gpa)
{
	struct hvt_hc_net_read a;
	if (copy_in(h, "net read", gpa, &a, sizeof(a)) < 0)
		return -1;
	const size_t ret_off = offsetof(struct hvt_hc_net_read, ret);
	struct hvt_device *d = hvt_attached(h, a.handle, MFT_DEV_NET_BASIC);
	if (!d || a.len == 0) {
		put_ret(h, gpa, ret_off, SOLO5_R_EINVAL);
		return 0;
	}
	void *p = buffer(h, "net read", a.data, a.len, true);
	if (!p)
		return -1;
	struct iovec iov = {.iov_base = p, .iov_len = a.len};
	pthread_mutex_lock(&d->net_lock);
	ssize_t r = d->net.ops->recv(d->net.be, &iov, 1);
	pthread_mutex_unlock(&d->net_lock);
	if (r < 0) {
		put_ret(h, gpa, ret_off, r == -EAGAIN ? SOLO5_R_AGAIN
					 : r == -EMSGSIZE ? SOLO5_R_EINVAL : SOLO5_R_EUNSPEC);
		return 0;
	}
	uint64_t len = (uint64_t)r;
	put(h, gpa, offsetof(struct hvt_hc_net_read, len), &len, sizeof(len));
	put_ret(h, gpa, ret_off, SOLO5_R_OK);
	return 0;
}

static void report_trap(const struct hvt_trap_regs *t)
{
	log_info("unikernel aborted after a CPU exception: rip 0x%" PRIx64 " cr2 0x%" PRIx64
		  " error code 0x%" PRIx64 " rsp 0x%" PRIx64 " rflags 0x%" PRIx64,
		  t->rip, t->cr2, t->ec, t->rsp, t->rflags);
}

static int hc_halt(struct hvt *h, uint64_t gpa)
{
	struct hvt_hc_halt a;
	if (copy_in(h, "halt", gpa, &a, sizeof(a)) < 0)
		return -1;
	int status = (int)((unsigned)a.exit_status & 0xff);
	if (a.cookie) {
		const void *c = gm_ptr(h->gm, a.cookie, HVT_HALT_COOKIE_MAX);
		if (!c)
			return guest_fail(h, "Invalid guest access: gpa=0x%" PRIx64 ", sz=%u: the halt "
					     "cookie is not in guest memory", a.cookie,
					  HVT_HALT_COOKIE_MAX);
		struct hvt_trap_regs t;
		memcpy(&t, c, sizeof(t));
		if (status == SOLO5_EXIT_ABORT)
			report_trap(&t);
	}
	if (!stop_requested(h->stop))
		h->halted = true;
	if (status == SOLO5_EXIT_ABORT) /* the bindings said why; solo5-hvt adds nothing */
		log_info("unikernel aborted (exit status %d)", status);
	stop_request(h->stop, status, NULL);
	return -1;
}

int hvt_hypercall(struct hvt *h, unsigned nr, uint64_t gpa)
{
	h->hypercalls++;
	switch (nr) {
	case HVT_HYPERCALL_WALLTIME: return hc_walltime(h, gpa);
	case HVT_HYPERCALL_PUTS: return hc_puts(h, gpa);
	case HVT_HYPERCALL_POLL: return hc_poll(h, gpa);
	case HVT_HYPERCALL_BLOCK_WRITE: return hc_block(h, gpa, true);
	case HVT_HYPERCALL_BLOCK_READ: return hc_block(h, gpa, false);
	case HVT_HYPERCALL_NET_WRITE: return hc_net_write(h, gpa);
	case HVT_HYPERCALL_NET_READ: return hc_net_read(h, gpa);
	case HVT_HYPERCALL_HALT: return hc_halt(h, gpa);
	default:
		return guest_fail(h, "Invalid guest hypercall: num=%u (an unknown hypercall number)",
				  nr);
	}
}

static uint32_t le32(const uint8_t *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

static void pio_write(void *dev, uint64_t port, const uint8_t *data, uint32_t len)
{
	struct hvt *h = dev;
	/* As solo5-hvt: 0x500 + 0..8 are hypercall ports (0 has no hypercall), others are not. */
	if (port < HVT_HYPERCALL_PIO_BASE || port >= HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_MAX ||
	    len != 4) {
		guest_fail(h, "Invalid guest port access: port=0x%" PRIx64 " (a %u-byte write; "
			      "hypercalls are 32-bit writes to ports 0x%x-0x%x)", port, len,
			   HVT_HYPERCALL_PIO_BASE + 1, HVT_HYPERCALL_PIO_BASE + HVT_HYPERCALL_MAX - 1);
		return;
	}
	(void)hvt_hypercall(h, (unsigned)(port - HVT_HYPERCALL_PIO_BASE), le32(data));
}

static void pio_read(void *dev, uint64_t port, uint8_t *data, uint32_t len)
{
	memset(data, 0xff, len);
	guest_fail((struct hvt *)dev, "Invalid guest port access: port=0x%" PRIx64 " (a read)",
		   port);
}

static uint64_t rip_of(struct hvt *h)
{
	return h->rip ? h->rip(h->rip_ctx) : 0;
}

/* A guest write that KVM could not place: into the read-only text or rodata (solo5-hvt, which
 * maps them read-only too, stops with "host/guest translation fault"), or to no memory at all. */
static void mmio_write(void *dev, uint64_t addr, const uint8_t *data, uint32_t len)
{
	struct hvt *h = dev;
	uint64_t off = addr - HVT_HYPERCALL_MMIO_BASE;
	if (addr >= HVT_HYPERCALL_MMIO_BASE && off < 0x100 * 8 && off % 8 == 0 &&
	    (len == 4 || len == 8)) {
		(void)hvt_hypercall(h, (unsigned)(off >> 3), le32(data));
		return;
	}
	for (size_t i = 0; i < h->nro; i++)
		if (addr >= h->ro[i].gpa && addr - h->ro[i].gpa < h->ro[i].size) {
			guest_fail(h, "KVM: host/guest translation fault: rip=0x%" PRIx64 " (a %u-byte "
				      "write to the unikernel's read-only memory at 0x%" PRIx64 ")",
				   rip_of(h), len, addr);
			return;
		}
	guest_fail(h, "KVM: unhandled exit: exit_reason=0x6, rip=0x%" PRIx64 " (a %u-byte write "
		      "to unbacked guest-physical address 0x%" PRIx64 ")", rip_of(h), len, addr);
}

static void mmio_read(void *dev, uint64_t addr, uint8_t *data, uint32_t len)
{
	struct hvt *h = dev;
	memset(data, 0xff, len);
	guest_fail(h, "KVM: unhandled exit: exit_reason=0x6, rip=0x%" PRIx64 " (a %u-byte read "
		      "of unbacked guest-physical address 0x%" PRIx64 ")", rip_of(h), len, addr);
}

void hvt_take_signal(struct hvt *h)
{
	struct signalfd_siginfo si;
	if (h->sig_fd >= 0 && read(h->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		stop_request(h->stop, MOTE_EXIT_USER, "Exiting on signal %u (%s)", si.ssi_signo,
			     strsignal((int)si.ssi_signo));
}

const struct bus_ops hvt_pio_ops = {.read = pio_read, .write = pio_write};
const struct bus_ops hvt_mmio_ops = {.read = mmio_read, .write = mmio_write};
