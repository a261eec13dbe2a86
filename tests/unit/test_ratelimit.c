/* core/ratelimit: token bucket arithmetic (refill, burst first, debt, wait times), the
 * two-bucket limiter (both or neither), updates, range checks and the CLI options. Time is
 * simulated: every function takes "now". */
#include "test.h"

#include <stdint.h>

#include "core/ratelimit.h"

#define MS 1000000ull
#define S (1000 * MS)

static void disabled_is_unlimited(void)
{
	struct tbucket b;
	tb_init(&b, &(struct tb_config){0, 0, 0}, 0);
	CHECK(!tb_enabled(&b));
	CHECK(tb_can(&b, UINT64_MAX));
	tb_take(&b, 1ull << 40);
	CHECK(tb_can(&b, 1));
	CHECK_EQ(tb_wait_ns(&b, 1ull << 40), 0);
	/* size without refill_time (and the reverse) is disabled too, as in Firecracker */
	tb_init(&b, &(struct tb_config){100, 0, 0}, 0);
	CHECK(!tb_enabled(&b));
	tb_init(&b, &(struct tb_config){0, 5, 100}, 0);
	CHECK(!tb_enabled(&b));
	struct ratelimiter r;
	rl_init(&r, &(struct rl_config){{0, 0, 0}, {0, 0, 0}}, 0);
	CHECK(!rl_enabled(&r));
	for (int i = 0; i < 1000; i++)
		CHECK(rl_consume(&r, 1u << 20, 1, 0, NULL));
}

static void starts_full_then_throttles(void)
{
	struct tbucket b;
	tb_init(&b, &(struct tb_config){1000, 0, 100}, 5 * S);
	CHECK(tb_can(&b, 1000));
	CHECK(tb_can(&b, 5000)); /* larger than the bucket: passes on a full one */
	tb_take(&b, 600);
	CHECK(tb_can(&b, 400));
	CHECK(!tb_can(&b, 401));
	tb_take(&b, 400);
	CHECK(!tb_can(&b, 1));
	/* 1000 tokens per 100 ms: one token per 100 us */
	CHECK_EQ(tb_wait_ns(&b, 1), 100000);
	CHECK_EQ(tb_wait_ns(&b, 10), 1000000);
	tb_refill(&b, 5 * S + 50 * MS);
	CHECK_EQ(b.budget, 500);
	tb_refill(&b, 5 * S + 10 * S);
	CHECK_EQ(b.budget, 1000); /* capped at size */
}

static void refill_is_exact(void)
{
	/* 3 tokens per 1000 ms, refilled in 1 ns steps: no token lost to rounding */
	struct tbucket b;
	tb_init(&b, &(struct tb_config){3, 0, 1000}, 0);
	tb_take(&b, 3);
	uint64_t t = 0;
	for (int i = 0; i < 100000; i++) {
		t += 7919; /* a prime step */
		tb_refill(&b, t);
	}
	/* 100000 * 7919 ns = 0.7919 s -> floor(2.3757) = 2 tokens */
	CHECK_EQ(b.budget, 2);
	tb_refill(&b, S); /* exactly one second since empty: 3 */
	CHECK_EQ(b.budget, 3);
	/* a clock that goes back adds nothing and does not break later refills */
	tb_take(&b, 3);
	tb_refill(&b, S / 2);
	CHECK_EQ(b.budget, 0);
	tb_refill(&b, S + S / 3 + 1);
	CHECK_EQ(b.budget, 1);
}

static void wait_matches_refill(void)
{
	struct tbucket b;
	tb_init(&b, &(struct tb_config){4096, 0, 7}, 0);
	tb_take(&b, 4096);
	for (uint64_t n = 1; n <= 4096; n = n * 3 + 1) {
		struct tbucket c = b;
		uint64_t w = tb_wait_ns(&c, n);
		CHECK(w > 0);
		struct tbucket d = c;
		tb_refill(&d, w - 1);
		CHECK(!tb_can(&d, n)); /* one ns earlier is too early */
		tb_refill(&c, w);
		CHECK(tb_can(&c, n)); /* and at w it passes */
	}
}

static void burst_first(void)
{
	struct tbucket b;
	tb_init(&b, &(struct tb_config){100, 1000, 1000}, 0);
	CHECK(tb_can(&b, 1100));
	tb_take(&b, 700);
	CHECK_EQ(b.burst, 300);
	CHECK_EQ(b.budget, 100); /* the budget is untouched while the burst lasts */
	tb_take(&b, 350);
	CHECK_EQ(b.burst, 0);
	CHECK_EQ(b.budget, 50);
	/* the burst is never refilled */
	tb_refill(&b, 100 * S);
	CHECK_EQ(b.burst, 0);
	CHECK_EQ(b.budget, 100);
	CHECK(tb_can(&b, 100));
	tb_take(&b, 1);
	CHECK(!tb_can(&b, 100));
	CHECK(!tb_can(&b, 101)); /* oversize passes only on a full bucket */
}

static void oversize_requests_leave_debt(void)
{
	/* 64 KiB per 100 ms; 1 MiB requests: each passes on a full bucket, then the debt keeps the
	 * long-run rate at 640 KiB/s */
	struct ratelimiter r;
	rl_init(&r, &(struct rl_config){{65536, 0, 100}, {0, 0, 0}}, 0);
	uint64_t now = 0, done = 0, w;
	while (now < 10 * S) {
		if (rl_consume(&r, 1u << 20, 1, now, &w)) {
			done += 1u << 20;
			continue;
		}
		CHECK(w > 0);
		now += w;
	}
	/* 10 s at 640 KiB/s = 6.25 MiB, plus the first request on the full bucket */
	double rate = (double)done / 10.0;
	CHECK(rate > 640.0 * 1024 * 0.95 && rate < 640.0 * 1024 * 1.15);
	CHECK(!tb_can(&r.bw, 1u << 20) || r.bw.budget >= 65536);
}

static void limiter_both_or_neither(void)
{
	struct ratelimiter r;
	rl_init(&r, &(struct rl_config){{1000, 0, 1000}, {2, 0, 1000}}, 0);
	uint64_t w;
	CHECK(rl_consume(&r, 100, 1, 0, &w));
	CHECK(rl_consume(&r, 100, 1, 0, &w));
	/* ops empty: refused, and the bytes were not taken */
	CHECK(!rl_consume(&r, 100, 1, 0, &w));
	CHECK_EQ(r.bw.budget, 800);
	CHECK_EQ(w, 500 * MS); /* one op per 500 ms */
	/* bytes short: refused, the op not taken */
	CHECK(rl_consume(&r, 0, 0, 0, &w)); /* nothing asked: passes */
	CHECK(rl_consume(&r, 500, 0, 500 * MS, &w)); /* bw 1000 (capped) -> 500, ops 1 */
	CHECK(!rl_consume(&r, 900, 1, 500 * MS, &w));
	CHECK_EQ(r.ops.budget, 1);
	CHECK_EQ(r.bw.budget, 500);
	CHECK_EQ(w, 400 * MS); /* 400 bytes at 1000/s */
}

static void simulated_rate(void)
{
	/* a device serving 64 KiB requests as fast as allowed for 2 s at 4 MiB/s (the CLI's
	 * bucket: 512 KiB per 125 ms) gets 8 MiB plus the initial bucket */
	struct rl_config c = {{0, 0, 0}, {0, 0, 0}};
	char err[200];
	CHECK_EQ(rl_parse_cli(&c, "", "bw=4M", 5, "--disk", err, sizeof(err)), 1);
	struct ratelimiter r;
	rl_init(&r, &c, 0);
	uint64_t now = 0, done = 0, w;
	while (now <= 2 * S) {
		if (rl_consume(&r, 65536, 1, now, &w))
			done += 65536;
		else
			now += w;
	}
	uint64_t want = 8ull << 20, initial = (4ull << 20) / 8;
	CHECK(done >= want + initial - 65536 && done <= want + initial + 65536);
}

static void update_replaces_or_keeps(void)
{
	struct ratelimiter r;
	rl_init(&r, &(struct rl_config){{1000, 0, 1000}, {10, 0, 1000}}, 0);
	rl_consume(&r, 1000, 10, 0, NULL);
	struct rl_update u = {.cfg = {{5000, 100, 1000}, {0, 0, 0}}, .bw_set = true};
	rl_update(&r, &u, 1);
	CHECK_EQ(r.bw.budget, 5000); /* replaced: full, with its burst */
	CHECK_EQ(r.bw.burst, 100);
	CHECK_EQ(r.ops.budget, 0);   /* left alone */
	u = (struct rl_update){.cfg = {{0, 0, 0}, {0, 0, 0}}, .ops_set = true};
	rl_update(&r, &u, 2);
	CHECK(!tb_enabled(&r.ops));  /* size 0: disabled */
	CHECK(tb_enabled(&r.bw));
	struct rl_config g;
	rl_get_config(&r, &g);
	CHECK_EQ(g.bw.size, 5000);
	CHECK_EQ(g.bw.one_time_burst, 100);
	CHECK_EQ(g.ops.size, 0);
}

static void extremes_do_not_overflow(void)
{
	struct tbucket b;
	tb_init(&b, &(struct tb_config){RL_MAX_TOKENS, RL_MAX_TOKENS, 1}, 0);
	tb_take(&b, RL_MAX_TOKENS * 2);
	CHECK_EQ(b.budget, 0);
	tb_refill(&b, UINT64_MAX);
	CHECK_EQ(b.budget, (int64_t)RL_MAX_TOKENS);
	tb_init(&b, &(struct tb_config){1, 0, RL_MAX_REFILL_MS}, 0);
	tb_take(&b, 1);
	uint64_t w = tb_wait_ns(&b, 1);
	CHECK_EQ(w, RL_MAX_REFILL_MS * MS);
	tb_init(&b, &(struct tb_config){1, 0, RL_MAX_REFILL_MS}, 0);
	tb_take(&b, UINT64_MAX); /* absurd: clamped debt, still a finite wait */
	CHECK(b.budget < 0);
	CHECK(tb_wait_ns(&b, 1) > 0);
	char err[200];
	CHECK_EQ(tb_config_check(&(struct tb_config){RL_MAX_TOKENS + 1, 0, 1}, "x", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "size");
	CHECK_EQ(tb_config_check(&(struct tb_config){1, RL_MAX_TOKENS + 1, 1}, "x", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "one_time_burst");
	CHECK_EQ(tb_config_check(&(struct tb_config){1, 1, RL_MAX_REFILL_MS + 1}, "x", err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "refill_time");
	CHECK_EQ(tb_config_check(&(struct tb_config){RL_MAX_TOKENS, RL_MAX_TOKENS, RL_MAX_REFILL_MS}, "x",
				 err, sizeof(err)), 0);
}

static int cli(struct rl_config *c, const char *prefix, const char *opt, char *err)
{
	return rl_parse_cli(c, prefix, opt, strlen(opt), "--disk", err, 200);
}

static void cli_options(void)
{
	struct rl_config c = {{0, 0, 0}, {0, 0, 0}};
	char err[200];
	CHECK_EQ(cli(&c, "", "bw=10M/s", err), 1);
	CHECK_EQ(c.bw.size, 1048576);   /* a tenth every 100 ms */
	CHECK_EQ(c.bw.refill_ms, 100);
	CHECK_EQ(cli(&c, "", "bw=3M", err), 1);
	CHECK_EQ(c.bw.size, 3145728 / 8); /* an eighth every 125 ms */
	CHECK_EQ(c.bw.refill_ms, 125);
	CHECK_EQ(cli(&c, "", "bw=999", err), 1);
	CHECK_EQ(c.bw.size, 999);       /* else a second's worth per second */
	CHECK_EQ(c.bw.refill_ms, 1000);
	CHECK_EQ(cli(&c, "", "bw=1000", err), 1);
	CHECK_EQ(c.bw.size, 100);
	CHECK_EQ(c.bw.refill_ms, 100);
	CHECK_EQ(cli(&c, "", "bw_burst=64K", err), 1);
	CHECK_EQ(c.bw.one_time_burst, 65536);
	CHECK_EQ(cli(&c, "", "iops=500", err), 1);
	CHECK_EQ(c.ops.size, 50);
	CHECK_EQ(cli(&c, "", "ops_burst=7", err), 1);
	CHECK_EQ(c.ops.one_time_burst, 7);
	CHECK_EQ(cli(&c, "", "bw=0", err), 1);
	CHECK(!tb_config_enabled(&c.bw));
	CHECK_EQ(cli(&c, "", "bw=2g", err), 1);
	CHECK_EQ(c.bw.size, (2ull << 30) / 8);
	/* not ours */
	CHECK_EQ(cli(&c, "", "serial=x", err), 0);
	CHECK_EQ(cli(&c, "", "ro", err), 0);
	CHECK_EQ(cli(&c, "", "bwx=1", err), 0);
	CHECK_EQ(cli(&c, "rx_", "iops=1", err), 0);  /* iops is the disks' alias only */
	CHECK_EQ(cli(&c, "rx_", "bw=1", err), 0);
	CHECK_EQ(cli(&c, "rx_", "rx_=1", err), 0);
	/* net prefixes */
	struct rl_config t = {{0, 0, 0}, {0, 0, 0}};
	CHECK_EQ(cli(&t, "tx_", "tx_bw=1M", err), 1);
	CHECK_EQ(t.bw.size, 1048576 / 8);
	CHECK_EQ(cli(&t, "tx_", "tx_ops=20", err), 1);
	CHECK_EQ(t.ops.size, 2);
	CHECK_EQ(cli(&t, "tx_", "rx_ops=20", err), 0);
	/* bad values */
	const char *bad[] = {"bw=", "bw=-1", "bw=1x", "bw=1M/", "bw=1Ms", "bw= 1", "bw=1.5M",
			     "bw=99999999999999999999", "bw=2000000000000000", "bw=1048577G",
			     "bw_burst=1M/s", "iops=1/", "ops=K", NULL};
	for (int i = 0; bad[i]; i++) {
		err[0] = 0;
		CHECK_EQ(cli(&c, "", bad[i], err), -1);
		CHECK_STR_CONTAINS(err, "--disk");
	}
	CHECK_EQ(cli(&c, "", "bw=1x", err), -1);
	CHECK_STR_CONTAINS(err, "bw='1x'");
}

int main(void)
{
	test_suite_name = "ratelimit";
	RUN(disabled_is_unlimited);
	RUN(starts_full_then_throttles);
	RUN(refill_is_exact);
	RUN(wait_matches_refill);
	RUN(burst_first);
	RUN(oversize_requests_leave_debt);
	RUN(limiter_both_or_neither);
	RUN(simulated_rate);
	RUN(update_replaces_or_keeps);
	RUN(extremes_do_not_overflow);
	RUN(cli_options);
	TEST_MAIN_END();
}
