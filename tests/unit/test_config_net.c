/* --net parsing (src/vmm/config.c): accepted forms, defaults, and every refusal with its message. */
#include "vmm/config.h"
#include "config_parse.h"
#include "test.h"

static void accepted(void)
{
	CHECK_EQ(P("run", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.nnets, 0u);
	CHECK_EQ(P("run", "--net", "tap=tap0", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.nnets, 1u);
	CHECK(!strcmp(cfg.nets[0].tap, "tap0"));
	CHECK(!cfg.nets[0].mac_set);
	CHECK_EQ(cfg.nets[0].vhost, -1);
	CHECK_EQ(P("run", "--net=tap=a,mac=02:AB:cd:00:00:01,vhost=off", "--net", "vhost=on,tap=b",
		   "--net", "tap=c,vhost=auto", "--net", "tap=123456789012345", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.nnets, 4u);
	CHECK(cfg.nets[0].mac_set);
	CHECK_EQ(cfg.nets[0].mac[0], 0x02);
	CHECK_EQ(cfg.nets[0].mac[1], 0xab);
	CHECK_EQ(cfg.nets[0].mac[2], 0xcd);
	CHECK_EQ(cfg.nets[0].mac[5], 0x01);
	CHECK_EQ(cfg.nets[0].vhost, 0);
	CHECK(!strcmp(cfg.nets[1].tap, "b"));
	CHECK_EQ(cfg.nets[1].vhost, 1);
	CHECK_EQ(cfg.nets[2].vhost, -1);
	CHECK(!strcmp(cfg.nets[3].tap, "123456789012345"));
}

static void refused(void)
{
	CHECK_EQ(P("run", "--net", "mac=02:00:00:00:00:01", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "--net needs a tap");
	CHECK_EQ(P("run", "--net", "tap=", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "1 to 15 bytes");
	CHECK_EQ(P("run", "--net", "tap=1234567890123456", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "1 to 15 bytes");
	CHECK_EQ(P("run", "--net", "tap=a/b", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "may not contain");
	CHECK_EQ(P("run", "--net", "tap=a b", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "may not contain");
	CHECK_EQ(P("run", "--net", "tap=t,mac=02:00:00:00:00", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "six hex bytes");
	CHECK_EQ(P("run", "--net", "tap=t,mac=02-00-00-00-00-01", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "six hex bytes");
	CHECK_EQ(P("run", "--net", "tap=t,mac=0g:00:00:00:00:01", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "six hex bytes");
	CHECK_EQ(P("run", "--net", "tap=t,mac=01:00:5e:00:00:01", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "multicast");
	CHECK_EQ(P("run", "--net", "tap=t,mac=ff:ff:ff:ff:ff:ff", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "multicast");
	CHECK_EQ(P("run", "--net", "tap=t,mac=00:00:00:00:00:00", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "all-zero");
	CHECK_EQ(P("run", "--net", "tap=t,vhost=yes", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "on, off or auto");
	CHECK_EQ(P("run", "--net", "tap=t,queues=2", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "unknown --net option 'queues=2'");
	CHECK_EQ(P("run", "--net", "tap=t,", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "unknown --net option ''");
	CHECK_EQ(P("run", "--net", "tap=t", "--net", "tap=t", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "given twice");
	CHECK_EQ(P("run", "--net", "tap=t,mac=02:00:00:00:00:01", "--net",
		   "tap=u,mac=02:00:00:00:00:01", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "already used by tap t");
	CHECK_EQ(P("run", "--net", "tap=a", "--net", "tap=b", "--net", "tap=c", "--net", "tap=d",
		   "--net", "tap=e", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "at most 4");
	CHECK_EQ(P("run", "--net"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "needs a value");
	/* One line each. */
	CHECK(strchr(err, '\n') == NULL);
}

int main(void)
{
	test_suite_name = "config_net";
	RUN(accepted);
	RUN(refused);
	TEST_MAIN_END();
}
