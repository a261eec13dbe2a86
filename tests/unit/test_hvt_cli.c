/* Unit tests for the solo5-hvt compatible command line (src/hvt/cli.c). */
#include <stdint.h>
#include <string.h>

#include "hvt/cli.h"
#include "hvt/hvt.h"
#include "test.h"

static struct hvt_cli c;
static char err[256];

/* argv as the process gets it; the parser never writes to it. */
static char *const *av(const char *const *argv)
{
	return (char *const *)(uintptr_t)argv;
}

#define PARSE(...)                                                                         \
	({                                                                                 \
		static const char *argv_[] = {"solo5-hvt", __VA_ARGS__};                   \
		err[0] = '\0';                                                             \
		hvt_cli_parse((int)(sizeof(argv_) / sizeof(argv_[0])), av(argv_), &c, err, \
			      sizeof(err));                                                \
	})

static void basic(void)
{
	CHECK_EQ(PARSE("k.hvt"), HVT_CLI_RUN);
	CHECK(!strcmp(c.kernel, "k.hvt"));
	CHECK_EQ(c.nargs, 0);
	CHECK_EQ(c.mem_size, 512ull << 20);
	CHECK_EQ(PARSE("--mem=64", "--block:storage=/d", "--net:service=tap0",
		       "--net-mac:service=02:aB:00:00:00:01", "k", "a", "--b"), HVT_CLI_RUN);
	CHECK_EQ(c.mem_size, 64ull << 20);
	CHECK_EQ(c.nblocks, 1u);
	CHECK(!strcmp(c.blocks[0].name, "storage") && !strcmp(c.blocks[0].path, "/d"));
	CHECK(!strcmp(c.nets[0].iface, "tap0"));
	CHECK_EQ(c.macs[0].mac[1], 0xab);
	CHECK_EQ(c.nargs, 2);
	CHECK(!strcmp(c.args[1], "--b"));
	CHECK(!c.mem_adjusted);
	CHECK_EQ(c.nets[0].fd, -1);
	CHECK_EQ(PARSE("--mem=4096", "--net:a=@7", "k"), HVT_CLI_RUN);
	CHECK_EQ(c.mem_size, 4ull << 30);
	CHECK_EQ(c.nets[0].fd, 7);
	CHECK(!strcmp(c.nets[0].iface, ""));
	CHECK_EQ(PARSE("--mem=4097", "k"), HVT_CLI_RUN); /* rounds down to 4 GiB: allowed */
	CHECK_EQ(c.mem_size, 4ull << 30);
	CHECK(c.mem_adjusted);
	CHECK_EQ(PARSE("--mem=7", "k"), HVT_CLI_RUN);
	CHECK_EQ(c.mem_size, 6ull << 20);
	CHECK(c.mem_adjusted);
	CHECK_EQ(PARSE("--mem=1", "k"), HVT_CLI_RUN); /* at least one 2 MiB page, as solo5-hvt */
	CHECK_EQ(c.mem_size, 2ull << 20);
	CHECK(c.mem_adjusted);
	CHECK_EQ(PARSE("--", "--mem=3"), HVT_CLI_RUN);
	CHECK(!strcmp(c.kernel, "--mem=3"));
	CHECK_EQ(PARSE("--help"), HVT_CLI_HELP);
	CHECK_EQ(PARSE("--version"), HVT_CLI_VERSION);
}

static void errors(void)
{
	CHECK_EQ(PARSE("--mem=64"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Missing KERNEL operand");
	CHECK_EQ(PARSE("--mem=", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Malformed argument to --mem");
	CHECK_EQ(PARSE("--mem=0", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Malformed argument to --mem");
	CHECK_EQ(PARSE("--mem=4098", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "guest memory size 4297064448 bytes exceeds the max size 4294967296 bytes");
	CHECK_EQ(PARSE("--mem=99999999999999999999999", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "exceeds the max size 4294967296 bytes");
	CHECK_EQ(PARSE("--mem=12M", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Malformed argument to --mem");
	CHECK_EQ(PARSE("--mem=-5", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:=x", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:a", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:a=", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:a_b=x", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:a=x", "--block:a=y", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "attached twice");
	CHECK_EQ(PARSE("--net:a=0123456789abcdef", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Could not attach interface: 0123456789abcdef");
	CHECK_EQ(PARSE("--net:a=@", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--net:a=@3x", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Could not attach interface: @3x");
	CHECK_EQ(PARSE("--net:a=@-1", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--net:a=@2147483648", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "out of range");
	CHECK_EQ(PARSE("--dumpcore", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Invalid option: `--dumpcore'");
	CHECK_EQ(PARSE("--x-exec-heap", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Invalid option: `--x-exec-heap'");
	CHECK_EQ(PARSE("--net-mac:a=02:00:00:00:00:01", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "no --net:a=IFACE");
	CHECK_EQ(PARSE("--net:a=t", "--net-mac:a=02:00:00:00:00:0g", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--net:a=t", "--net-mac:a=02:00:00:00:00:01:", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--net:a=t", "--net-mac:a=03:00:00:00:00:01", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--frob", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "Invalid option: `--frob'");
	CHECK_EQ(PARSE(""), HVT_CLI_ERROR);
	char name[80];
	memset(name, 'a', sizeof(name));
	snprintf(name + 68, 12, "=x");
	static char opt[100];
	snprintf(opt, sizeof(opt), "--block:%s", name);
	CHECK_EQ(PARSE(opt, "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "longer than 67");
	CHECK(strchr(err, '\n') == NULL);
}

static void sector_size(void)
{
	CHECK_EQ(PARSE("--block-sector-size:d=4096", "--block:d=/x", "--block:e=/y", "k"), HVT_CLI_RUN);
	CHECK_EQ(c.blocks[0].sector_size, 4096u);
	CHECK_EQ(c.blocks[1].sector_size, 512u);
	CHECK_EQ(PARSE("--block:d=/x", "--block-sector-size:d=32768", "k"), HVT_CLI_RUN);
	CHECK_EQ(c.blocks[0].sector_size, 32768u);
	CHECK_EQ(PARSE("--block:d=/x", "--block-sector-size:d=65536", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "power of two from 512 to 32768");
	CHECK_EQ(PARSE("--block:d=/x", "--block-sector-size:d=256", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:d=/x", "--block-sector-size:d=1000", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:d=/x", "--block-sector-size:d=4k", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:d=/x", "--block-sector-size:d=99999999999999999999", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block:d=/x", "--block-sector-size:d=", "k"), HVT_CLI_ERROR);
	CHECK_EQ(PARSE("--block-sector-size:d=512", "--block-sector-size:d=512", "--block:d=/x", "k"),
		 HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "given twice");
	CHECK_EQ(PARSE("--block-sector-size:z=512", "--block:d=/x", "k"), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "no --block:z=PATH");
}

static void too_many(void)
{
	static char opts[70][32];
	const char *argv[72];
	argv[0] = "mote";
	for (int i = 0; i < 64; i++) {
		snprintf(opts[i], sizeof(opts[i]), "--block:d%d=/x", i);
		argv[i + 1] = opts[i];
	}
	argv[65] = "k";
	CHECK_EQ(hvt_cli_parse(64, av(argv), &c, err, sizeof(err)), HVT_CLI_ERROR); /* 63 + kernel */
	CHECK_STR_CONTAINS(err, "Missing KERNEL operand");
	CHECK_EQ(hvt_cli_parse(65, av(argv), &c, err, sizeof(err)), HVT_CLI_ERROR);
	CHECK_STR_CONTAINS(err, "too many devices (at most 63)");
	argv[64] = "k";
	CHECK_EQ(hvt_cli_parse(65, av(argv), &c, err, sizeof(err)), HVT_CLI_RUN);
	CHECK_EQ(c.nblocks, 63u);
}

static void cmdline(void)
{
	char buf[HVT_CMDLINE_SIZE];
	CHECK_EQ(PARSE("k", "a", "", "b c"), HVT_CLI_RUN);
	CHECK_EQ(hvt_cli_cmdline(&c, buf, sizeof(buf), err, sizeof(err)), 0);
	CHECK(!strcmp(buf, "a  b c"));
	CHECK_EQ(PARSE("k"), HVT_CLI_RUN);
	CHECK_EQ(hvt_cli_cmdline(&c, buf, sizeof(buf), err, sizeof(err)), 0);
	CHECK(!strcmp(buf, ""));
	static char big[HVT_CMDLINE_SIZE + 1]; /* 8192 characters: one too many */
	memset(big, 'x', sizeof(big) - 1);
	CHECK_EQ(PARSE("k", big), HVT_CLI_RUN);
	CHECK_EQ(hvt_cli_cmdline(&c, buf, sizeof(buf), err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "at most 8191 characters");
	big[sizeof(big) - 2] = '\0';
	CHECK_EQ(PARSE("k", big), HVT_CLI_RUN);
	CHECK_EQ(hvt_cli_cmdline(&c, buf, sizeof(buf), err, sizeof(err)), 0);
	CHECK_EQ(strlen(buf), (size_t)HVT_CMDLINE_SIZE - 1);
	CHECK_EQ(PARSE("k", big + 1, "y"), HVT_CLI_RUN); /* 8190 + space + 1 = 8192: too long */
	CHECK_EQ(hvt_cli_cmdline(&c, buf, sizeof(buf), err, sizeof(err)), -1);
}

static void dispatch(void)
{
	int shift = -1;
	const char *a1[] = {"/usr/local/bin/solo5-hvt", "k"};
	const char *a2[] = {"mote", "hvt", "k"};
	const char *a3[] = {"mote", "--mem", "1G", "k"};
	const char *a4[] = {"solo5-hvt-not"};
	CHECK(hvt_wanted(2, (char **)(uintptr_t)a1, &shift) && shift == 0);
	CHECK(hvt_wanted(3, (char **)(uintptr_t)a2, &shift) && shift == 1);
	CHECK(!hvt_wanted(4, (char **)(uintptr_t)a3, &shift));
	CHECK(!hvt_wanted(1, (char **)(uintptr_t)a4, &shift));
	CHECK(!hvt_wanted(0, (char **)(uintptr_t)a4, &shift));
}

int main(void)
{
	test_suite_name = "hvt_cli";
	RUN(basic);
	RUN(errors);
	RUN(sector_size);
	RUN(too_many);
	RUN(cmdline);
	RUN(dispatch);
	TEST_MAIN_END();
}
