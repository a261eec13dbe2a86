/* The net ring (see ring.h): entries are copied out of the shared block once, then checked;
 * the tender's own indexes live here and are only published to the block, never read back.
 * Buffers go through hvt_guest_range like the hypercalls' (the same rules, the same words). */
#include "hvt/ring.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "core/status.h"

#define RING_FRAME_MAX 65536u   /* larger write entries are dropped, as the hypercall refuses */
#define RING_SPIN_NS 20000      /* how long the thread polls a dry ring before it sleeps */

static uint32_t load32(const uint8_t *p)
{
	return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, v, __ATOMIC_RELEASE);
}

static int ring_fail(struct hvt_ring_host *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int ring_fail(struct hvt_ring_host *r, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	stop_request(r->h->stop, MOTE_EXIT_GUEST_FAULT, "Invalid guest access: net ring at 0x%" PRIx64
			    ": %s", r->gpa, msg);
	return -1;
}

int hvt_ring_init(struct hvt_ring_host *r, struct hvt *h, uint64_t gpa, char *err,
		  size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->h = h;
	r->gpa = gpa;
	r->kick_fd = -1;
	r->shm = gm_ptr(h->gm, gpa, HVT_RING_BYTES);
	if (!r->shm)
		return err_set(err, errlen, "internal: the net ring at 0x%" PRIx64 " is not in guest "
				            "memory", gpa);
	memset(r->shm, 0, HVT_RING_BYTES);
	r->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->kick_fd < 0)
		return err_set(err, errlen, "net ring: eventfd: %s", strerror(errno));
	return 0;
}

static int ring_write(struct hvt_ring_host *r, const struct hvt_ring_entry *e)
{
	struct hvt_device *d = hvt_attached(r->h, e->handle, MFT_DEV_NET_BASIC);
	if (!d || e->len == 0 || e->len > RING_FRAME_MAX) {
		guest_error("net ring: write entry %" PRIu32 " (handle %" PRIu32 ", %" PRIu32
			    " bytes) names no attached network device or has a bad length: "
			    "dropped", e->id, e->handle, e->len);
		r->dropped++;
		return 0;
	}
	void *p = hvt_guest_range(r->h, "net ring write buffer", e->data, e->len, false);
	if (!p)
		return -1;
	struct iovec iov = {.iov_base = p, .iov_len = e->len};
	pthread_mutex_lock(&d->net_lock);
	int rc = d->net.ops->send(d->net.be, &iov, 1);
	pthread_mutex_unlock(&d->net_lock);
	if (rc < 0)
		r->dropped++; /* a full host queue drops the frame, as a NIC would */
	else
		r->sent++;
	return 0;
}

static int ring_read(struct hvt_ring_host *r, const struct hvt_ring_entry *e)
{
	uint32_t com_head = load32(r->shm + HVT_RING_COM_HEAD);
	if (r->com_tail - com_head >= HVT_RING_SIZE)
		return ring_fail(r, "the commit ring is full (com_head %" PRIu32 ", com_tail %" PRIu32
				    "): %u read results not consumed", com_head, r->com_tail,
				 HVT_RING_SIZE);
	struct hvt_ring_commit c = {.id = e->id, .ret = SOLO5_R_EINVAL};
	struct hvt_device *d = hvt_attached(r->h, e->handle, MFT_DEV_NET_BASIC);
	if (d && e->len > 0) {
		void *p = hvt_guest_range(r->h, "net ring read buffer", e->data, e->len, true);
		if (!p)
			return -1;
		struct iovec iov = {.iov_base = p, .iov_len = e->len};
		pthread_mutex_lock(&d->net_lock);
		ssize_t n = d->net.ops->recv(d->net.be, &iov, 1);
		pthread_mutex_unlock(&d->net_lock);
		c.ret = n >= 0 ? SOLO5_R_OK : n == -EAGAIN ? SOLO5_R_AGAIN
				 : n == -EMSGSIZE ? SOLO5_R_EINVAL : SOLO5_R_EUNSPEC;
		c.len = n >= 0 ? (uint32_t)n : 0;
		r->received += n >= 0;
	}
	memcpy(r->shm + HVT_RING_COMMITS + (size_t)(r->com_tail % HVT_RING_SIZE) * sizeof(c), &c,
	       sizeof(c));
	store32(r->shm + HVT_RING_COM_TAIL, ++r->com_tail);
	return 0;
}

int hvt_ring_service(struct hvt_ring_host *r)
{
	uint32_t tail = load32(r->shm + HVT_RING_ENT_TAIL);
	if (tail - r->ent_head > HVT_RING_SIZE)
		return ring_fail(r, "ent_tail %" PRIu32 " is %" PRIu32 " entries past ent_head %" PRIu32
				    " (the ring holds %u)", tail, tail - r->ent_head, r->ent_head,
				 HVT_RING_SIZE);
	int done = 0;
	while (r->ent_head != tail) {
		struct hvt_ring_entry e; /* the one copy: only it is checked and used */
		memcpy(&e, r->shm + HVT_RING_ENTRIES + (size_t)(r->ent_head % HVT_RING_SIZE) * sizeof(e),
		       sizeof(e));
		int rc = 0;
		if (e.operation == HVT_RING_OP_NET_WRITE) {
			rc = ring_write(r, &e);
		} else if (e.operation == HVT_RING_OP_NET_READ) {
			rc = ring_read(r, &e);
		} else {
			guest_error("net ring: entry %" PRIu32 " has unknown operation %" PRIu32
				    ": skipped", e.id, e.operation);
		}
		if (rc < 0)
			return -1;
		store32(r->shm + HVT_RING_ENT_HEAD, ++r->ent_head);
		done++;
	}
	return done;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Polls the unikernel's ent_tail for a short while; true when it moved. */
static bool spin(struct hvt_ring_host *r)
{
	uint64_t until = now_ns() + RING_SPIN_NS;
	do {
		for (int i = 0; i < 64; i++) {
			if (load32(r->shm + HVT_RING_ENT_TAIL) != r->ent_head)
				return true;
			__builtin_ia32_pause();
		}
	} while (now_ns() < until && !stop_requested(r->h->stop));
	return false;
}

/* Asks for a kick, then sleeps unless entries arrived meanwhile (the fence orders the
 * needs_kick store before the ent_tail load; the unikernel orders its ent_tail store before
 * its needs_kick load, so one of the two sees the other). */
static void sleep_for_kick(struct hvt_ring_host *r)
{
	store32(r->shm + HVT_RING_NEEDS_KICK, 1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (load32(r->shm + HVT_RING_ENT_TAIL) == r->ent_head) {
		struct pollfd p[2] = {{.fd = r->kick_fd, .events = POLLIN},
				      {.fd = r->h->stop->efd, .events = POLLIN}};
		uint64_t v;
		if (ppoll(p, 2, NULL, NULL) > 0 && (p[0].revents & POLLIN) &&
		    read(r->kick_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: another wakeup took it; the loop re-reads the ring anyway */
		}
	}
	store32(r->shm + HVT_RING_NEEDS_KICK, 0);
}

static void *ring_thread(void *arg)
{
	struct hvt_ring_host *r = arg;
	char err[160];
	/* The hvt allowlist: tap readv/writev, the kick eventfd's read, ppoll. */
	if (sandbox_enter(SANDBOX_HVT, NULL, 0, err, sizeof(err)) < 0) {
		stop_request(r->h->stop, MOTE_EXIT_INTERNAL, "net ring thread: %s", err);
		r->wake(r->wake_arg);
		return NULL;
	}
	while (!stop_requested(r->h->stop)) {
		int n = hvt_ring_service(r);
		if (n < 0) {
			r->failed = true;
			r->wake(r->wake_arg);
			break;
		}
		if (n == 0 && !spin(r))
			sleep_for_kick(r);
	}
	return NULL;
}

int hvt_ring_start(struct hvt_ring_host *r)
{
	int e = pthread_create(&r->thread, NULL, ring_thread, r);
	if (e != 0) {
		errno = e;
		return -1;
	}
	r->started = true;
	return 0;
}

void hvt_ring_destroy(struct hvt_ring_host *r, bool drain)
{
	if (r->started)
		pthread_join(r->thread, NULL);
	r->started = false;
	if (drain && r->shm && !r->failed)
		(void)hvt_ring_service(r);
	if (r->kick_fd >= 0)
		close(r->kick_fd);
	r->kick_fd = -1;
}
