/* Unit tests for the I/O thread's loop (src/core/event.c): fixed handlers and dynamic
 * sources side by side, interest changes, hang-ups reported without interest, a source removed
 * by an earlier callback of the same batch never called, sources beyond EVENT_MAX_HANDLERS,
 * sources added and removed from the running I/O thread itself, and the refusals. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/event.h"
#include "core/sandbox.h"
#include "test.h"

static struct event_loop loop;

struct hit {
	struct event_source src;
	int calls;
	uint32_t last;
	struct event_source *victim; /* deleted by this callback, if set */
};

static void on_hit(struct event_source *s, uint32_t revents)
{
	struct hit *h = s->ctx;
	h->calls++;
	h->last = revents;
	if (h->victim)
		event_source_del(&loop, h->victim);
}

static int handler_calls;
static void on_handler(void *ctx, int fd)
{
	uint64_t v;
	(void)ctx;
	if (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		handler_calls++;
}

static void sources_and_handlers(void)
{
	CHECK_EQ(event_init(&loop), 0);
	int hfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), sfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct hit h = {0};
	handler_calls = 0;
	CHECK_EQ(event_add(&loop, hfd, on_handler, NULL), 0);
	CHECK_EQ(event_source_add(&loop, &h.src, sfd, EVENT_IN, on_hit, &h), 0);
	CHECK_EQ(loop.nsources, 1u);
	CHECK_EQ(loop.n, 1u);
	CHECK_EQ(event_run_once(&loop, 0), 0);
	event_signal(hfd);
	event_signal(sfd);
	CHECK_EQ(event_run_once(&loop, 1000), 2);
	CHECK_EQ(handler_calls, 1);
	CHECK_EQ(h.calls, 1);
	CHECK(h.last & EVENT_IN);
	/* Interest off: the readable eventfd is not reported; on again: it is. */
	CHECK_EQ(event_source_mod(&loop, &h.src, 0), 0);
	CHECK_EQ(event_run_once(&loop, 0), 0);
	CHECK_EQ(event_source_mod(&loop, &h.src, EVENT_IN | EVENT_OUT), 0);
	CHECK_EQ(event_run_once(&loop, 0), 1);
	CHECK_EQ(h.calls, 2);
	CHECK((h.last & (EVENT_IN | EVENT_OUT)) == (EVENT_IN | EVENT_OUT));
	event_source_del(&loop, &h.src);
	CHECK_EQ(loop.nsources, 0u);
	event_source_del(&loop, &h.src); /* twice: nothing */
	CHECK_EQ(event_run_once(&loop, 0), 0);
	CHECK_EQ(h.calls, 2);
	/* The handler's watch goes through its source. */
	CHECK_EQ(event_watch(&loop, hfd, false), 0);
	event_signal(hfd);
	CHECK_EQ(event_run_once(&loop, 0), 0);
	CHECK_EQ(event_watch(&loop, hfd, true), 0);
	CHECK_EQ(event_run_once(&loop, 0), 1);
	event_destroy(&loop);
	close(hfd);
	close(sfd);
}

static void refusals(void)
{
	CHECK_EQ(event_init(&loop), 0);
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct hit h = {0};
	errno = 0;
	CHECK_EQ(event_source_add(&loop, &h.src, fd, EVENT_IN, NULL, &h), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(event_source_add(&loop, &h.src, fd, EVENT_HUP, on_hit, &h), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(event_source_mod(&loop, &h.src, EVENT_IN), -1);
	CHECK_EQ(errno, ENOENT);
	CHECK_EQ(event_source_add(&loop, &h.src, -1, EVENT_IN, on_hit, &h), -1);
	CHECK_EQ(errno, EBADF);
	CHECK(!h.src.added);
	CHECK_EQ(event_source_add(&loop, &h.src, fd, EVENT_IN, on_hit, &h), 0);
	CHECK_EQ(event_source_add(&loop, &h.src, fd, EVENT_IN, on_hit, &h), -1);
	CHECK_EQ(errno, EEXIST);
	CHECK_EQ(event_source_mod(&loop, &h.src, EVENT_ERR), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(event_allow_extra(&loop, SANDBOX_X_UNIX_SOCKETS), 0);
	CHECK_EQ(loop.sandbox_extras, (unsigned)SANDBOX_X_UNIX_SOCKETS);
	event_source_del(&loop, &h.src);
	event_destroy(&loop);
	close(fd);
}

/* A pipe whose write end closed reports EVENT_HUP even with no interest (epoll does). */
static void hangup_without_interest(void)
{
	CHECK_EQ(event_init(&loop), 0);
	int p[2];
	CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	struct hit h = {0};
	CHECK_EQ(event_source_add(&loop, &h.src, p[0], 0, on_hit, &h), 0);
	CHECK_EQ(event_run_once(&loop, 0), 0);
	close(p[1]);
	CHECK_EQ(event_run_once(&loop, 1000), 1);
	CHECK(h.last & EVENT_HUP);
	CHECK(!(h.last & EVENT_IN));
	event_source_del(&loop, &h.src); /* what an owner must do: HUP would repeat for ever */
	CHECK_EQ(event_run_once(&loop, 0), 0);
	event_destroy(&loop);
	close(p[0]);
}

/* Two ready sources in one batch: the first removes the second, which is then not called
 * although the loop had fetched its event already. */
static void removal_inside_a_batch(void)
{
	CHECK_EQ(event_init(&loop), 0);
	int a = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC), b = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
	struct hit ha = {0}, hb = {0};
	CHECK_EQ(event_source_add(&loop, &ha.src, a, EVENT_IN, on_hit, &ha), 0);
	CHECK_EQ(event_source_add(&loop, &hb.src, b, EVENT_IN, on_hit, &hb), 0);
	ha.victim = &hb.src;
	hb.victim = &ha.src;
	CHECK_EQ(event_run_once(&loop, 1000), 2);
	CHECK_EQ(ha.calls + hb.calls, 1); /* whichever ran first removed the other */
	CHECK_EQ(loop.nsources, 1u);
	CHECK(ha.src.added != hb.src.added);
	event_source_del(&loop, ha.calls ? &ha.src : &hb.src);
	CHECK_EQ(loop.nsources, 0u);
	event_destroy(&loop);
	close(a);
	close(b);
}

/* More sources than EVENT_MAX_HANDLERS (dynamic ones have no table). */
static void many_sources(void)
{
	enum { N = 600 };
	static struct hit hs[N];
	static int fds[N];
	CHECK_EQ(event_init(&loop), 0);
	for (int i = 0; i < N; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		hs[i] = (struct hit){0};
		CHECK_EQ(event_source_add(&loop, &hs[i].src, fds[i], EVENT_IN, on_hit, &hs[i]), 0);
	}
	CHECK_EQ(loop.nsources, (unsigned)N);
	for (int i = 0; i < N; i += 3)
		event_signal(fds[i]);
	int got = 0;
	while (got < N / 3) {
		int r = event_run_once(&loop, 1000);
		if (r <= 0)
			break;
		got += r;
		for (int i = 0; i < N; i += 3) /* drain, or level-triggered would report again */
			if (hs[i].calls) {
				uint64_t v;
				if (read(fds[i], &v, sizeof(v)) < 0) {
				}
			}
	}
	int called = 0, wrong = 0;
	for (int i = 0; i < N; i++) {
		called += hs[i].calls > 0;
		wrong += (i % 3 != 0) && hs[i].calls;
	}
	CHECK_EQ(called, N / 3);
	CHECK_EQ(wrong, 0);
	for (int i = 0; i < N; i++) {
		event_source_del(&loop, &hs[i].src);
		close(fds[i]);
	}
	CHECK_EQ(loop.nsources, 0u);
	event_destroy(&loop);
}

/* The running I/O thread adds sources from a handler (as vsock accepts connections) and
 * removes them from their own callbacks. */
static atomic_int spawned_calls;
static struct event_source spawned[8];
static int spawned_fd[8], nspawned;

static void on_spawned(struct event_source *s, uint32_t revents)
{
	uint64_t v;
	(void)revents;
	if (read(s->fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		atomic_fetch_add(&spawned_calls, 1);
	event_source_del(&loop, s); /* one event each, then gone */
}

static void on_spawn(void *ctx, int fd)
{
	uint64_t v;
	(void)ctx;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v) || nspawned == 8)
		return;
	int i = nspawned++;
	event_source_add(&loop, &spawned[i], spawned_fd[i], EVENT_IN, on_spawned, NULL);
}

static void sources_from_the_running_thread(void)
{
	CHECK_EQ(event_init(&loop), 0);
	int trigger = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	for (int i = 0; i < 8; i++)
		spawned_fd[i] = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC); /* ready at once */
	CHECK_EQ(event_add(&loop, trigger, on_spawn, NULL), 0);
	CHECK_EQ(event_start(&loop), 0);
	for (int i = 0; i < 8; i++) {
		event_signal(trigger);
		for (int k = 0; k < 200 && atomic_load(&spawned_calls) <= i; k++)
			nanosleep(&(struct timespec){.tv_nsec = 5000000}, NULL);
	}
	CHECK_EQ(atomic_load(&spawned_calls), 8);
	CHECK_EQ(event_add(&loop, trigger, on_spawn, NULL), -1); /* fixed handlers: before start */
	CHECK_EQ(errno, EBUSY);
	event_destroy(&loop);
	CHECK_EQ(loop.nsources, 0u);
	close(trigger);
	for (int i = 0; i < 8; i++)
		close(spawned_fd[i]);
}

int main(void)
{
	test_suite_name = "event";
	RUN(sources_and_handlers);
	RUN(refusals);
	RUN(hangup_without_interest);
	RUN(removal_inside_a_batch);
	RUN(many_sources);
	RUN(sources_from_the_running_thread);
	TEST_MAIN_END();
}
