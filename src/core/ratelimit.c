/* Token buckets (see ratelimit.h). Arithmetic is exact: a refill adds
 * floor((elapsed_ns * size + carry) / refill_ns) tokens and keeps the remainder, in 128 bits
 * so that no size/time combination in range overflows. rl_clock_ns is the one clock read. */
#include "core/ratelimit.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000ull

typedef unsigned __int128 u128;

void tb_init(struct tbucket *b, const struct tb_config *c, uint64_t now)
{
	memset(b, 0, sizeof(*b));
	b->cfg = *c;
	if (!tb_config_enabled(c))
		return;
	b->burst = c->one_time_burst;
	b->budget = (int64_t)c->size;
	b->last_ns = now;
}

void tb_refill(struct tbucket *b, uint64_t now)
{
	if (!tb_enabled(b))
		return;
	if (now <= b->last_ns)
		return; /* no time passed (or the caller's clock went back): nothing earned */
	uint64_t elapsed = now - b->last_ns;
	b->last_ns = now;
	int64_t size = (int64_t)b->cfg.size;
	if (b->budget >= size) {
		b->carry = 0;
		return;
	}
	uint64_t refill_ns = b->cfg.refill_ms * NS_PER_MS;
	u128 num = (u128)elapsed * b->cfg.size + b->carry;
	u128 add = num / refill_ns;
	uint64_t room = (uint64_t)(size - b->budget); /* > 0, and < 2^63 */
	if (add >= room) {
		b->budget = size;
		b->carry = 0;
		return;
	}
	b->budget += (int64_t)add;
	b->carry = (uint64_t)(num % refill_ns);
}

/* Tokens n needs from the budget once the burst has given what it has. */
static uint64_t need_of(const struct tbucket *b, uint64_t n)
{
	return n > b->burst ? n - b->burst : 0;
}

bool tb_can(const struct tbucket *b, uint64_t n)
{
	if (!tb_enabled(b))
		return true;
	uint64_t need = need_of(b, n);
	if (need == 0 || (b->budget >= 0 && need <= (uint64_t)b->budget))
		return true;
	/* Larger than the bucket can ever hold: passes once the bucket is full. */
	return need > b->cfg.size && b->budget >= (int64_t)b->cfg.size;
}

void tb_take(struct tbucket *b, uint64_t n)
{
	if (!tb_enabled(b))
		return;
	uint64_t from_burst = n < b->burst ? n : b->burst;
	b->burst -= from_burst;
	uint64_t need = n - from_burst;
	if (need > (uint64_t)INT64_MAX / 2)
		need = (uint64_t)INT64_MAX / 2; /* callers pass far less; keeps budget in range */
	b->budget -= (int64_t)need;
}

uint64_t tb_wait_ns(const struct tbucket *b, uint64_t n)
{
	if (tb_can(b, n))
		return 0;
	uint64_t need = need_of(b, n);
	uint64_t target = need < b->cfg.size ? need : b->cfg.size;
	/* budget < target: the deficit is positive and below 2^63 + 2^50. A refill after t ns
	 * adds floor((t * size + carry) / refill_ns): the first t with that >= deficit. */
	u128 deficit = (u128)((int64_t)target - b->budget);
	u128 refill_ns = (u128)b->cfg.refill_ms * NS_PER_MS;
	u128 want = deficit * refill_ns - b->carry; /* carry < refill_ns <= deficit * refill_ns */
	u128 t = (want + b->cfg.size - 1) / b->cfg.size;
	return t > UINT64_MAX ? UINT64_MAX : t == 0 ? 1 : (uint64_t)t;
}

void rl_init(struct ratelimiter *r, const struct rl_config *c, uint64_t now)
{
	tb_init(&r->bw, &c->bw, now);
	tb_init(&r->ops, &c->ops, now);
}

bool rl_consume(struct ratelimiter *r, uint64_t bytes, uint64_t ops, uint64_t now,
		uint64_t *wait_ns)
{
	tb_refill(&r->bw, now);
	tb_refill(&r->ops, now);
	if (tb_can(&r->bw, bytes) && tb_can(&r->ops, ops)) {
		tb_take(&r->bw, bytes);
		tb_take(&r->ops, ops);
		return true;
	}
	if (wait_ns) {
		uint64_t a = tb_wait_ns(&r->bw, bytes), b = tb_wait_ns(&r->ops, ops);
		*wait_ns = a > b ? a : b;
		if (*wait_ns == 0)
			*wait_ns = 1;
	}
	return false;
}

void rl_update(struct ratelimiter *r, const struct rl_update *u, uint64_t now)
{
	if (u->bw_set)
		tb_init(&r->bw, &u->cfg.bw, now);
	if (u->ops_set)
		tb_init(&r->ops, &u->cfg.ops, now);
}

void rl_config_apply(struct rl_config *c, const struct rl_update *u)
{
	if (u->bw_set)
		c->bw = u->cfg.bw;
	if (u->ops_set)
		c->ops = u->cfg.ops;
}

void rl_get_config(const struct ratelimiter *r, struct rl_config *out)
{
	out->bw = r->bw.cfg;
	out->ops = r->ops.cfg;
}

void rl_timer_want(struct rl_timer *t, uint64_t at_ns)
{
	if (at_ns == 0)
		at_ns = 1;
	if (t->armed_at && t->armed_at <= at_ns)
		return;
	t->armed_at = at_ns;
	if (t->arm)
		t->arm(t->ctx, at_ns);
}

uint64_t rl_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tb_config_check(const struct tb_config *c, const char *what, char *err, size_t errlen)
{
	if (c->size > RL_MAX_TOKENS)
		return snprintf(err, errlen, "%s: size %llu is above the maximum %llu", what,
				(unsigned long long)c->size, RL_MAX_TOKENS), -1;
	if (c->one_time_burst > RL_MAX_TOKENS)
		return snprintf(err, errlen, "%s: one_time_burst %llu is above the maximum %llu", what,
				(unsigned long long)c->one_time_burst, RL_MAX_TOKENS), -1;
	if (c->refill_ms > RL_MAX_REFILL_MS)
		return snprintf(err, errlen, "%s: refill_time %llu ms is above the maximum %llu ms "
				"(a year)", what, (unsigned long long)c->refill_ms, RL_MAX_REFILL_MS), -1;
	return 0;
}

/* A decimal number with an optional K/M/G (1024-based) and, when rate, an optional "/s".
 * 0, or -1 when malformed or above RL_MAX_TOKENS. */
static int parse_amount(const char *s, size_t n, bool rate, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (n == 0)
		return -1;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > RL_MAX_TOKENS)
			return -1;
	}
	if (i == 0)
		return -1;
	if (i < n) {
		unsigned shift = 0;
		switch (s[i]) {
		case 'K': case 'k': shift = 10; break;
		case 'M': case 'm': shift = 20; break;
		case 'G': case 'g': shift = 30; break;
		default: break;
		}
		if (shift) {
			if (v > (RL_MAX_TOKENS >> shift))
				return -1;
			v <<= shift;
			i++;
		}
	}
	if (rate && n - i == 2 && s[i] == '/' && s[i + 1] == 's')
		i += 2;
	if (i != n)
		return -1;
	*out = v;
	return 0;
}

/* A rate per second as a bucket, exact, with about a tenth of a second of credit when it can
 * be: size rate/10 every 100 ms, or rate/8 every 125 ms (1024-based rates), else a second. */
static void rate_bucket(struct tb_config *c, uint64_t rate)
{
	if (rate % 10 == 0) {
		c->size = rate / 10;
		c->refill_ms = 100;
	} else if (rate % 8 == 0) {
		c->size = rate / 8;
		c->refill_ms = 125;
	} else {
		c->size = rate;
		c->refill_ms = 1000;
	}
	if (rate == 0)
		c->size = c->refill_ms = 0;
}

int rl_parse_cli(struct rl_config *c, const char *prefix, const char *p, size_t n,
		 const char *opt, char *err, size_t errlen)
{
	static const struct {
		const char *key;
		bool ops, burst, disk_only;
	} keys[] = {
		{"bw", false, false, false},     {"bw_burst", false, true, false},
		{"ops", true, false, false},     {"ops_burst", true, true, false},
		{"iops", true, false, true},     {"iops_burst", true, true, true},
	};
	size_t pl = strlen(prefix);
	const char *eq = memchr(p, '=', n);
	if (!eq || (size_t)(eq - p) <= pl || strncmp(p, prefix, pl) != 0)
		return 0;
	const char *k = p + pl, *v = eq + 1;
	size_t kl = (size_t)(eq - k), vl = n - (size_t)(v - p);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strlen(keys[i].key) != kl || strncmp(keys[i].key, k, kl) != 0)
			continue;
		if (keys[i].disk_only && pl)
			return 0;
		uint64_t amount;
		if (parse_amount(v, vl, !keys[i].burst, &amount) < 0) {
			snprintf(err, errlen, "%s %.*s='%.*s': give a %s from 0 to %llu, optionally with "
				 "K, M or G%s (e.g. %.*s=%s)", opt, (int)(eq - p), p, (int)vl, v,
				 keys[i].burst ? "number" : "rate per second", RL_MAX_TOKENS,
				 keys[i].burst ? "" : " and /s", (int)(eq - p), p,
				 keys[i].ops ? (keys[i].burst ? "100" : "1000") : (keys[i].burst ? "64M" : "10M/s"));
			return -1;
		}
		struct tb_config *b = keys[i].ops ? &c->ops : &c->bw;
		if (keys[i].burst)
			b->one_time_burst = amount;
		else
			rate_bucket(b, amount);
		return 1;
	}
	return 0;
}
