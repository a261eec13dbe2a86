/* A fake host side for the vsock multiplexer (struct vsock_host_ops): in-memory streams with
 * chosen contents and capacities, an accept queue, connect results per port, a manual clock.
 * Shared by tests/unit/test_vsock_mux.c, test_virtio_vsock.c and tests/fuzz/fuzz_vsock.c.
 * Streams are numbered fds 100 + i; nothing here touches the system. */
#ifndef MOTE_TEST_VSOCK_FAKE_H
#define MOTE_TEST_VSOCK_FAKE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vsock/mux.h"

#define FAKE_STREAMS 64
#define FAKE_FD0 100
#define FAKE_DATA 4096

struct fake_stream {
	bool used, closed, shut_wr, eof, fail_io;
	uint8_t in[FAKE_DATA];  /* what the host program sends, mote reads */
	size_t in_len, in_pos;
	uint8_t out[FAKE_DATA]; /* what mote writes */
	size_t out_len, out_cap; /* out_cap: how much the program takes before it stops reading */
	bool discard;            /* takes everything, keeps nothing (out_total counts it) */
	uint64_t out_total;
	uint32_t want;           /* last watch */
	unsigned id;
};

struct fake_host {
	struct fake_stream s[FAKE_STREAMS];
	int accept_q[16];
	unsigned naccept;
	int connect_result; /* 0: a new stream; else -errno for every connect */
	uint32_t last_connect_port;
	bool listening, timer;
	uint64_t now;
	unsigned closes, connects, bad_calls;
};

static struct fake_stream *fake_get(struct fake_host *f, int fd)
{
	if (fd < FAKE_FD0 || fd >= FAKE_FD0 + FAKE_STREAMS || !f->s[fd - FAKE_FD0].used ||
	    f->s[fd - FAKE_FD0].closed) {
		f->bad_calls++; /* the muxer used a stream it does not own */
		return NULL;
	}
	return &f->s[fd - FAKE_FD0];
}

/* A new open stream (as a host program's connection): its fd, or -1 when all are taken. */
static int fake_new(struct fake_host *f)
{
	for (int i = 0; i < FAKE_STREAMS; i++)
		if (!f->s[i].used) {
			f->s[i] = (struct fake_stream){ .used = true, .out_cap = FAKE_DATA };
			return FAKE_FD0 + i;
		}
	return -1;
}

static void fake_feed(struct fake_host *f, int fd, const void *p, size_t n)
{
	struct fake_stream *s = &f->s[fd - FAKE_FD0];
	if (s->in_len + n > FAKE_DATA)
		n = FAKE_DATA - s->in_len;
	memcpy(s->in + s->in_len, p, n);
	s->in_len += n;
}

static int fk_accept(void *h)
{
	struct fake_host *f = h;
	if (!f->naccept)
		return -EAGAIN;
	int fd = f->accept_q[0];
	memmove(f->accept_q, f->accept_q + 1, --f->naccept * sizeof(int));
	return fd;
}

static int fk_connect(void *h, uint32_t port)
{
	struct fake_host *f = h;
	f->connects++;
	f->last_connect_port = port;
	if (f->connect_result)
		return f->connect_result;
	int fd = fake_new(f);
	return fd < 0 ? -EMFILE : fd;
}

static ssize_t fk_readv(void *h, int fd, const struct iovec *iov, int n)
{
	struct fake_stream *s = fake_get(h, fd);
	if (!s)
		return -EBADF;
	if (s->fail_io)
		return -ECONNRESET;
	size_t done = 0;
	for (int i = 0; i < n && s->in_pos < s->in_len; i++) {
		size_t k = iov[i].iov_len < s->in_len - s->in_pos ? iov[i].iov_len : s->in_len - s->in_pos;
		memcpy(iov[i].iov_base, s->in + s->in_pos, k);
		s->in_pos += k;
		done += k;
	}
	if (done)
		return (ssize_t)done;
	return s->eof ? 0 : -EAGAIN;
}

static ssize_t fk_writev(void *h, int fd, const struct iovec *iov, int n)
{
	struct fake_stream *s = fake_get(h, fd);
	if (!s)
		return -EBADF;
	if (s->fail_io || s->shut_wr)
		return -EPIPE;
	size_t done = 0, cap = s->out_cap < FAKE_DATA ? s->out_cap : FAKE_DATA;
	if (s->discard) {
		for (int i = 0; i < n; i++)
			done += iov[i].iov_len;
		s->out_total += done;
		return (ssize_t)done;
	}
	for (int i = 0; i < n && s->out_len < cap; i++) {
		size_t k = iov[i].iov_len < cap - s->out_len ? iov[i].iov_len : cap - s->out_len;
		memcpy(s->out + s->out_len, iov[i].iov_base, k);
		s->out_len += k;
		done += k;
	}
	return done ? (ssize_t)done : -EAGAIN;
}

static int fk_shutdown_wr(void *h, int fd)
{
	struct fake_stream *s = fake_get(h, fd);
	if (!s)
		return -EBADF;
	s->shut_wr = true;
	return 0;
}

static int fk_watch(void *h, unsigned id, int fd, uint32_t want)
{
	struct fake_stream *s = fake_get(h, fd);
	if (!s)
		return -EBADF;
	s->want = want;
	s->id = id;
	return 0;
}

static void fk_close(void *h, unsigned id, int fd)
{
	struct fake_host *f = h;
	struct fake_stream *s = fake_get(f, fd);
	(void)id;
	f->closes++;
	if (s)
		s->closed = true;
}

static void fk_listen(void *h, bool on) { ((struct fake_host *)h)->listening = on; }
static void fk_timer(void *h, bool on) { ((struct fake_host *)h)->timer = on; }
static uint64_t fk_now(void *h) { return ((struct fake_host *)h)->now; }

static const struct vsock_host_ops fake_ops = {
	.accept = fk_accept, .connect = fk_connect, .readv = fk_readv, .writev = fk_writev,
	.shutdown_wr = fk_shutdown_wr, .watch = fk_watch, .close = fk_close, .listen = fk_listen,
	.timer = fk_timer, .now_ms = fk_now,
};

#endif
