/* Rate limits on the command line (src/vmm/config.c with core/ratelimit.c's rl_parse_cli):
 * --disk bw=/iops=/..._burst=, --net rx_/tx_ limits, the buckets they make, vhost turned off
 * by limits (and vhost=on with limits refused), and the refusals with their messages. */
#include "vmm/config.h"
#include "config_parse.h"
#include "test.h"

static void disk_limits(void)
{
	CHECK_EQ(P("run", "--disk", "/d,ro,bw=10M,iops=500,bw_burst=64M,iops_burst=20,serial=x", "k"),
		 CONFIG_RUN);
	const struct rl_config *c = &cfg.disks[0].rl;
	CHECK_EQ(c->bw.size, (10ull << 20) / 10);
	CHECK_EQ(c->bw.refill_ms, 100);
	CHECK_EQ(c->bw.one_time_burst, 64ull << 20);
	CHECK_EQ(c->ops.size, 50);
	CHECK_EQ(c->ops.one_time_burst, 20);
	CHECK(cfg.disks[0].read_only);
	CHECK(!strcmp(cfg.disks[0].serial, "x"));
	CHECK_EQ(P("run", "--disk", "/d", "--disk", "/e,ops=7,bw=3M/s", "k"), CONFIG_RUN);
	CHECK(!rl_config_enabled(&cfg.disks[0].rl));
	CHECK_EQ(cfg.disks[1].rl.ops.size, 7);
	CHECK_EQ(cfg.disks[1].rl.ops.refill_ms, 1000);
	CHECK_EQ(cfg.disks[1].rl.bw.size, (3ull << 20) / 8);
	CHECK_EQ(cfg.disks[1].rl.bw.refill_ms, 125);
}

static void net_limits(void)
{
	CHECK_EQ(P("run", "--net", "tap=t0,rx_bw=1M,tx_ops=100,tx_bw_burst=1K,rx_ops_burst=3", "k"),
		 CONFIG_RUN);
	const struct net_config *n = &cfg.nets[0];
	CHECK_EQ(n->rx_rl.bw.size, (1ull << 20) / 8);
	CHECK_EQ(n->tx_rl.ops.size, 10);
	CHECK_EQ(n->tx_rl.bw.one_time_burst, 1024);
	CHECK(!tb_config_enabled(&n->tx_rl.bw)); /* a burst without a rate limits nothing */
	CHECK_EQ(n->rx_rl.ops.one_time_burst, 3);
	CHECK_EQ(n->vhost, 0); /* limits: mote's own data path */
	CHECK_EQ(P("run", "--net", "tap=t0,vhost=off,tx_bw=1M", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.nets[0].vhost, 0);
	CHECK_EQ(P("run", "--net", "tap=t0,tx_bw=0", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.nets[0].vhost, -1); /* 0: no limit, vhost as usual */
}

static void refusals(void)
{
	static const struct {
		const char *opt, *arg, *why;
	} bad[] = {
		{"--disk", "/d,bw=-1", "--disk bw='-1': give a rate per second"},
		{"--disk", "/d,bw=", "--disk bw=''"},
		{"--disk", "/d,iops=1.5", "--disk iops='1.5'"},
		{"--disk", "/d,bw=1T", "--disk bw='1T'"},
		{"--disk", "/d,bw_burst=5/s", "--disk bw_burst='5/s': give a number"},
		{"--disk", "/d,bw=2000000000000000", "from 0 to 1125899906842624"},
		{"--disk", "/d,rx_bw=1M", "unknown --disk option 'rx_bw=1M'"},
		{"--disk", "/d,bandwidth=1M", "bw=RATE, iops=N"},
		{"--net", "tap=t,bw=1M", "unknown --net option 'bw=1M'"},
		{"--net", "tap=t,rx_iops=1", "unknown --net option 'rx_iops=1'"},
		{"--net", "tap=t,tx_ops=x", "--net tx_ops='x'"},
		{"--net", "tap=t,vhost=on,rx_ops=5", "rate limiters need mote's own data path"},
		{"--net", "tx_bw=1M,vhost=on,tap=t", "drop vhost=on or the limits"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(P("run", bad[i].opt, bad[i].arg, "k"), CONFIG_ERROR);
		if (!strstr(err, bad[i].why))
			printf("  (case %zu: %s)\n", i, err);
		CHECK_STR_CONTAINS(err, bad[i].why);
		CHECK(!strchr(err, '\n'));
	}
}

int main(void)
{
	test_suite_name = "config_ratelimit";
	RUN(disk_limits);
	RUN(net_limits);
	RUN(refusals);
	TEST_MAIN_END();
}
