/* The rate limiters' timers: one timerfd per virtio-blk / virtio-net device, an event source
 * of the I/O thread. A throttled device arms it (rl_timer.arm, on the I/O thread) for the
 * time its tokens are back; when it expires the I/O thread resumes the device. No thread
 * sleeps or polls while a queue waits. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/log.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "vmm/attach.h"

/* rl_timer.arm: a one-shot expiry at CLOCK_MONOTONIC at_ns (absolute). */
static void timer_arm(void *ctx, uint64_t at_ns)
{
	struct attached *a = ctx;
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(at_ns / 1000000000u), .tv_nsec = (long)(at_ns % 1000000000u)},
	};
	if (timerfd_settime(a->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("%s: cannot arm the rate limiter's timer: %s", a->dev->name, strerror(errno));
}

static void on_timer(struct event_source *s, uint32_t revents)
{
	struct attached *a = s->ctx;
	uint64_t v;
	(void)revents;
	ssize_t r = read(s->fd, &v, sizeof(v)); /* EAGAIN after a re-arm: the device checks anyway */
	(void)r;
	if (a->dev->ops->device_id == VIRTIO_ID_BLOCK)
		virtio_blk_on_timer(a->dev->priv);
	else
		virtio_net_on_timer(a->dev->priv);
}

static int timer_open(struct attached *a, struct rl_timer *t, char *err, size_t errlen)
{
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (a->timer_fd < 0 ||
	    event_source_add(a->loop, &a->timer_src, a->timer_fd, EVENT_IN, on_timer, a) < 0) {
		snprintf(err, errlen, "%s: cannot create the rate limiter's timer: %s", a->dev->name,
			 strerror(errno));
		return -1;
	}
	*t = (struct rl_timer){.arm = timer_arm, .ctx = a};
	return 0;
}

int attach_blk_ratelimit(struct attached *a, struct virtio_blk *b, char *err, size_t errlen)
{
	return timer_open(a, &b->rl_timer, err, errlen);
}

int attach_net_ratelimit(struct attached *a, struct virtio_net *n, char *err, size_t errlen)
{
	return timer_open(a, &n->rl_timer, err, errlen);
}
