/* --vsock parsing (src/vmm/config.c): accepted forms and every refusal with its message. */
#include "vmm/config.h"
#include "config_parse.h"
#include "test.h"

static void accepted(void)
{
	CHECK_EQ(P("run", "k"), CONFIG_RUN);
	CHECK(!cfg.vsock.enabled);
	CHECK_EQ(P("run", "--vsock", "cid=3,uds=/tmp/v.sock", "k"), CONFIG_RUN);
	CHECK(cfg.vsock.enabled && cfg.vsock.cid == 3 && !strcmp(cfg.vsock.uds, "/tmp/v.sock"));
	CHECK_EQ(P("run", "--vsock=uds=rel.sock,cid=4294967294", "k"), CONFIG_RUN);
	CHECK(cfg.vsock.cid == 4294967294ull && !strcmp(cfg.vsock.uds, "rel.sock"));
	char p96[120];
	snprintf(p96, sizeof(p96), "cid=9,uds=/%095d", 0); /* 96 bytes: the longest */
	CHECK_EQ(P("run", "--vsock", p96, "k"), CONFIG_RUN);
	CHECK_EQ(strlen(cfg.vsock.uds), 96u);
}

static void refused(void)
{
	static const char *const cases[][2] = {
		{"cid=2,uds=/v", "guest CID 2"},
		{"cid=0,uds=/v", "guest CID 0"},
		{"cid=4294967295,uds=/v", "guest CID 4294967295"},
		{"cid=18446744073709551616,uds=/v", "cid='18446744073709551616'"},
		{"cid=-3,uds=/v", "cid='-3'"},
		{"cid=3x,uds=/v", "cid='3x'"},
		{"cid=,uds=/v", "cid=''"},
		{"cid=3", "needs both"},
		{"uds=/v", "needs both"},
		{"cid=3,uds=", "1 to 96 bytes"},
		{"cid=3,uds=/v,cid=4", "cid= is given twice"},
		{"cid=3,uds=/v,uds=/w", "uds= is given twice"},
		{"cid=3,uds=/v,port=5", "unknown --vsock option 'port=5'"},
		{"", "unknown --vsock option ''"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(P("run", "--vsock", cases[i][0], "k"), CONFIG_ERROR);
		CHECK_STR_CONTAINS(err, cases[i][1]);
	}
	char p97[120];
	snprintf(p97, sizeof(p97), "cid=9,uds=/%096d", 0);
	CHECK_EQ(P("run", "--vsock", p97, "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "longer than 96 bytes");
	CHECK_EQ(P("run", "--vsock", "cid=3,uds=/a", "--vsock", "cid=4,uds=/b", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "one vsock device");
	CHECK_EQ(P("run", "--vsock", "k"), CONFIG_ERROR); /* k taken as the value, then no kernel */
	CHECK_EQ(P("run", "k", "--vsock"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "needs a value");
}

int main(void)
{
	test_suite_name = "config_vsock";
	RUN(accepted);
	RUN(refused);
	TEST_MAIN_END();
}
