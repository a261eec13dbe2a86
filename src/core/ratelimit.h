/* I/O rate limiters: token buckets with Firecracker's semantics (TokenBucket {size,
 * one_time_burst, refill_time}, RateLimiter {bandwidth, ops}). Owns: the bucket arithmetic,
 * the range checks every configuration source shares, and the CLI's `bw=`/`ops=` options.
 * The buckets are pure: the time is passed in (CLOCK_MONOTONIC nanoseconds, rl_clock_ns), and
 * nothing here sleeps, locks or allocates; the owner (a device, under its lock) serialises
 * access. A throttled device asks its rl_timer to wake it; it never waits itself. */
#ifndef MOTE_CORE_RATELIMIT_H
#define MOTE_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_MAX_TOKENS (1ull << 50)        /* size and one_time_burst: 1 PiB, 10^15 ops */
#define RL_MAX_REFILL_MS (1000ull * 86400 * 365) /* refill_time: at most a year */

/* One bucket as configured. Disabled (unlimited) when size or refill_ms is 0, as in
 * Firecracker; one_time_burst then means nothing. */
struct tb_config {
	uint64_t size;           /* tokens the bucket holds (bytes, or operations) */
	uint64_t one_time_burst; /* extra tokens, spent first, never refilled */
	uint64_t refill_ms;      /* ms to refill an empty bucket: the rate is size / refill_ms */
};

struct rl_config {
	struct tb_config bw;  /* tokens are bytes */
	struct tb_config ops; /* tokens are requests */
};

struct tbucket {
	struct tb_config cfg;
	uint64_t burst;  /* one_time_burst left */
	int64_t budget;  /* tokens; below 0 after a request larger than the bucket (a debt) */
	uint64_t carry;  /* refill remainder, in token-nanoseconds (< refill_ms * 10^6) */
	uint64_t last_ns; /* time of the last refill */
};

struct ratelimiter {
	struct tbucket bw, ops;
};

/* A PATCH: each bucket is either left alone (set false) or replaced by cfg (a size or
 * refill_time of 0 disables it). A replaced bucket starts full, with its one_time_burst. */
struct rl_update {
	struct rl_config cfg;
	bool bw_set, ops_set;
};

static inline bool tb_config_enabled(const struct tb_config *c)
{
	return c->size > 0 && c->refill_ms > 0;
}
static inline bool rl_config_enabled(const struct rl_config *c)
{
	return tb_config_enabled(&c->bw) || tb_config_enabled(&c->ops);
}

/* A bucket full (budget = size) with its whole one_time_burst, at time now. */
void tb_init(struct tbucket *b, const struct tb_config *c, uint64_t now);
static inline bool tb_enabled(const struct tbucket *b)
{
	return tb_config_enabled(&b->cfg);
}
/* Adds the tokens earned since the last refill (size per refill_ms, exact: the remainder is
 * carried), at most up to size. A clock that went backwards adds nothing. */
void tb_refill(struct tbucket *b, uint64_t now);
/* Whether n tokens may be taken now (after tb_refill): the burst first, then the budget.
 * A request larger than the whole bucket passes when the bucket is full and leaves a debt,
 * so the long-run rate still holds. Disabled: always. */
bool tb_can(const struct tbucket *b, uint64_t n);
/* Takes n tokens (tb_can said yes): burst first, the rest from the budget. */
void tb_take(struct tbucket *b, uint64_t n);
/* Nanoseconds until tb_can(b, n) becomes true with no other consumer (0: now). */
uint64_t tb_wait_ns(const struct tbucket *b, uint64_t n);

void rl_init(struct ratelimiter *r, const struct rl_config *c, uint64_t now);
static inline bool rl_enabled(const struct ratelimiter *r)
{
	return tb_enabled(&r->bw) || tb_enabled(&r->ops);
}
/* One request of `bytes` bytes and `ops` operations: takes from both buckets, or from neither.
 * true: go ahead. false: throttled; *wait_ns (if not NULL) is how long until it would pass
 * (at least 1 ns). */
bool rl_consume(struct ratelimiter *r, uint64_t bytes, uint64_t ops, uint64_t now,
		uint64_t *wait_ns);
void rl_update(struct ratelimiter *r, const struct rl_update *u, uint64_t now);
/* The same update on a stored configuration (what GET /vm/config reports afterwards). */
void rl_config_apply(struct rl_config *c, const struct rl_update *u);
/* The configuration in force (for GET /vm/config and messages). */
void rl_get_config(const struct ratelimiter *r, struct rl_config *out);

/* A device's one-shot wake-up for its throttled queues (the host backs it with a timerfd on
 * the I/O thread). The device asks for "at or before at_ns"; an earlier request re-arms,
 * a later one keeps the pending expiry; the owner calls rl_timer_fired when it expires. */
struct rl_timer {
	void (*arm)(void *ctx, uint64_t at_ns); /* CLOCK_MONOTONIC ns; NULL: no timer (tests) */
	void *ctx;
	uint64_t armed_at; /* 0: not armed */
};
void rl_timer_want(struct rl_timer *t, uint64_t at_ns);
static inline void rl_timer_fired(struct rl_timer *t)
{
	t->armed_at = 0;
}
/* CLOCK_MONOTONIC in ns (the devices' clock for their limiters). */
uint64_t rl_clock_ns(void);

/* Range checks shared by the CLI, the API and the config file: what names the bucket in the
 * message ("drives: rate_limiter.bandwidth"). 0, or -1 with a one-line reason in err. */
int tb_config_check(const struct tb_config *c, const char *what, char *err, size_t errlen);

/* One CLI option of --disk or --net (p[0..n), not NUL-terminated), keys prefixed by prefix
 * ("" for disks, "rx_"/"tx_" for nets): PREFIXbw=RATE, PREFIXbw_burst=BYTES, PREFIXops=N,
 * PREFIXops_burst=N (and for disks iops=/iops_burst= as aliases of ops). RATE and BYTES: a
 * number with an optional K, M or G (1024-based) and, for rates, an optional "/s"; 0 removes
 * the limit. Returns 1 when it took the option, 0 when the key is not one of these, -1 with
 * err set (opt names the CLI option, "--disk") when the value is wrong. */
int rl_parse_cli(struct rl_config *c, const char *prefix, const char *p, size_t n,
		 const char *opt, char *err, size_t errlen);

#endif
