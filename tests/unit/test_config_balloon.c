/* --balloon parsing (src/vmm/config_balloon.c): accepted forms, the check against --mem, and
 * every refusal with its message. */
#include "vmm/config.h"
#include "config_parse.h"
#include "test.h"

static void accepted(void)
{
	CHECK_EQ(P("run", "k"), CONFIG_RUN);
	CHECK(!cfg.balloon.enabled);
	CHECK_EQ(P("run", "--balloon", "amount_mib=0", "k"), CONFIG_RUN);
	CHECK(cfg.balloon.enabled && cfg.balloon.amount_mib == 0 && !cfg.balloon.deflate_on_oom &&
	      cfg.balloon.stats_interval_s == 0 && !cfg.balloon.reporting);
	CHECK_EQ(P("run", "--balloon=stats=65535,reporting=on,deflate_on_oom=true,amount_mib=128", "k"),
		 CONFIG_RUN);
	CHECK(cfg.balloon.amount_mib == 128 && cfg.balloon.deflate_on_oom &&
	      cfg.balloon.stats_interval_s == 65535 && cfg.balloon.reporting);
	CHECK_EQ(P("run", "--mem", "2G", "--balloon", "amount_mib=2048,deflate_on_oom=off", "k"), CONFIG_RUN);
	CHECK(cfg.balloon.amount_mib == 2048 && !cfg.balloon.deflate_on_oom);
}

static void refused(void)
{
	static const char *const cases[][2] = {
		{"amount_mib=129", "amount_mib 129 is more than the guest's 128 MiB"},
		{"amount_mib=4294967296", "give a number of MiB"},
		{"amount_mib=-1", "give a number of MiB"},
		{"amount_mib=1x", "give a number of MiB"},
		{"amount_mib=", "give a number of MiB"},
		{"stats=1", "needs amount_mib"},
		{"amount_mib=1,stats=65536", "give 0 (off) to 65535"},
		{"amount_mib=1,stats=1.5", "give 0 (off) to 65535"},
		{"amount_mib=1,deflate_on_oom=yes", "give on or off"},
		{"amount_mib=1,reporting=", "give on or off"},
		{"amount_mib=1,amount_mib=2", "amount_mib= is given twice"},
		{"amount_mib=1,hinting=on", "unknown --balloon option 'hinting=on'"},
		{"", "unknown --balloon option ''"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(P("run", "--balloon", cases[i][0], "k"), CONFIG_ERROR);
		CHECK_STR_CONTAINS(err, cases[i][1]);
	}
	CHECK_EQ(P("run", "--balloon", "amount_mib=1", "--balloon", "amount_mib=1", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "given twice");
	CHECK_EQ(P("run", "--balloon", "amount_mib=65", "--mem", "64M", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "more than the guest's 64 MiB");
}

int main(void)
{
	test_suite_name = "config_balloon";
	RUN(accepted);
	RUN(refused);
	TEST_MAIN_END();
}
