/* `mote restore` on the command line (src/vmm/config.c): the options, and every refusal. */
#include "config_parse.h"
#include "test.h"

static void restore_options(void)
{
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m"), CONFIG_RUN);
	CHECK(!strcmp(cfg.restore_state, "s") && !strcmp(cfg.restore_mem, "m"));
	CHECK(!cfg.restore_paused && !cfg.api_sock && cfg.nnet_overrides == 0 && !cfg.kernel);
	CHECK_EQ(P("-v", "restore", "--snapshot=s", "--mem-file=m", "--paused", "--api-sock", "a",
		   "--id", "x", "--net-override", "net0=tap1", "--net-override", "eth1=tap2", "-q"),
		 CONFIG_RUN);
	CHECK(cfg.restore_paused && !strcmp(cfg.api_sock, "a") && !strcmp(cfg.instance_id, "x"));
	CHECK_EQ(cfg.nnet_overrides, 2u);
	CHECK(!strcmp(cfg.net_overrides[1], "eth1=tap2"));
	CHECK_EQ(cfg.verbosity, -1);
	CHECK_EQ(P("restore", "--help"), CONFIG_HELP);
}

static void restore_refusals(void)
{
	CHECK_EQ(P("restore"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "needs --snapshot FILE and --mem-file FILE");
	CHECK_EQ(P("restore", "--snapshot", "s"), CONFIG_ERROR);
	CHECK_EQ(P("restore", "--mem-file", "m"), CONFIG_ERROR);
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m", "--snapshot", "t"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "given twice");
	CHECK_EQ(P("restore", "--snapshot", "", "--mem-file", "m"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "needs a value");
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file"), CONFIG_ERROR);
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m", "--mem", "64"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "unknown option '--mem'");
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m", "kernel"), CONFIG_ERROR);
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m", "--paused"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "--paused needs --api-sock");
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m", "--id", "x"), CONFIG_ERROR);
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m", "--net-override", "tap0"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "IFACE=TAP");
	CHECK_EQ(P("restore", "--snapshot", "s", "--mem-file", "m", "--net-override", "a=1",
		   "--net-override", "b=2", "--net-override", "c=3", "--net-override", "d=4",
		   "--net-override", "e=5"), CONFIG_ERROR);
	CHECK(!strchr(err, '\n'));
}

int main(void)
{
	test_suite_name = "config_restore";
	RUN(restore_options);
	RUN(restore_refusals);
	TEST_MAIN_END();
}
