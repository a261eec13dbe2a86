/* CLI parsing: accepted forms, defaults, and every refusal with its message. */
#include "vmm/config.h"
#include "config_parse.h"
#include "test.h"

static void defaults(void)
{
	CHECK_EQ(P("run", "k.elf"), CONFIG_RUN);
	CHECK(!strcmp(cfg.kernel, "k.elf"));
	CHECK_EQ(cfg.mem_size, 128ull << 20);
	CHECK_EQ(cfg.cpus, 1u);
	CHECK(!strcmp(cfg.cmdline, ""));
	CHECK(cfg.initrd == NULL);
	CHECK_EQ(cfg.hide.n, 0u);
	CHECK_EQ(cfg.pit, PIT_AUTO);
	CHECK_EQ(P("run", "--no-pit", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.pit, PIT_OFF);
	CHECK_EQ(P("run", "--pit", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.pit, PIT_ON);
	CHECK_EQ(P("run", "--pit", "--no-pit", "k"), CONFIG_RUN); /* the last one wins */
	CHECK_EQ(cfg.pit, PIT_OFF);
	CHECK_EQ(P("run", "--pitt", "k"), CONFIG_ERROR);
	CHECK(!cfg.mem_hugepages);
	CHECK_EQ(P("run", "--mem-hugepages", "k"), CONFIG_RUN);
	CHECK(cfg.mem_hugepages);
}

static void all_options(void)
{
	CHECK_EQ(P("run", "--mem", "2G", "--cpus=4", "--cmdline", "a b", "--initrd=i.img",
		   "--cpu-features", "-xsave,-avx2", "-v", "-v", "k.elf"),
		 CONFIG_RUN);
	CHECK_EQ(cfg.mem_size, 2ull << 30);
	CHECK_EQ(cfg.cpus, 4u);
	CHECK(!strcmp(cfg.cmdline, "a b"));
	CHECK(!strcmp(cfg.initrd, "i.img"));
	CHECK_EQ(cfg.hide.n, 2u);
	CHECK_EQ(cfg.verbosity, 2);
	CHECK_EQ(P("-v", "-v", "run", "k.elf"), CONFIG_RUN);
	CHECK_EQ(cfg.verbosity, 2);
	CHECK_EQ(P("-v"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "no command");
	CHECK_EQ(P("run", "-q", "--", "-weird-name.elf"), CONFIG_RUN);
	CHECK(!strcmp(cfg.kernel, "-weird-name.elf"));
	CHECK_EQ(cfg.verbosity, -1);
}

static void help_version(void)
{
	CHECK_EQ(P("--help"), CONFIG_HELP);
	CHECK_EQ(P("-h"), CONFIG_HELP);
	CHECK_EQ(P("run", "--help"), CONFIG_HELP);
	CHECK_EQ(P("--version"), CONFIG_VERSION);
}

static void sizes(void)
{
	uint64_t v;
	CHECK(config_parse_size("128", &v, err, sizeof(err)) == 0 && v == 128ull << 20);
	CHECK(config_parse_size("512K", &v, err, sizeof(err)) == 0 && v == 512ull << 10);
	CHECK(config_parse_size("3g", &v, err, sizeof(err)) == 0 && v == 3ull << 30);
	CHECK(config_parse_size("1GiB", &v, err, sizeof(err)) == 0 && v == 1ull << 30);
	CHECK(config_parse_size("64MB", &v, err, sizeof(err)) == 0 && v == 64ull << 20);
	CHECK(config_parse_size("", &v, err, sizeof(err)) < 0);
	CHECK(config_parse_size("M", &v, err, sizeof(err)) < 0);
	CHECK(config_parse_size("12X", &v, err, sizeof(err)) < 0);
	CHECK(config_parse_size("12MiBs", &v, err, sizeof(err)) < 0);
	CHECK(config_parse_size(" 12", &v, err, sizeof(err)) < 0);
	CHECK(config_parse_size("1.5G", &v, err, sizeof(err)) < 0);
	CHECK(config_parse_size("18446744073709551615", &v, err, sizeof(err)) < 0);
	CHECK(config_parse_size("17179869184G", &v, err, sizeof(err)) < 0); /* 2^34 G overflows */
	CHECK_STR_CONTAINS(err, "too large");
	CHECK(config_parse_size("17179869183G", &v, err, sizeof(err)) == 0);
}

static void refusals(void)
{
	CHECK_EQ(parse(1, (const char *const[]){"mote"}), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "no command");
	CHECK_EQ(P("start"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "unknown command 'start'");
	CHECK_EQ(P("run"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "no KERNEL");
	CHECK_EQ(P("run", "a", "b"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "unexpected argument 'b'");
	CHECK_EQ(P("run", "--nope", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "unknown option '--nope'");
	CHECK_EQ(P("run", "--memory", "1G", "k"), CONFIG_ERROR); /* prefix of no option */
	CHECK_EQ(P("run", "k", "--mem"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "--mem needs a value");
	CHECK_EQ(P("run", "--mem", "1M", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "too small");
	CHECK_EQ(P("run", "--mem", "2M", "k"), CONFIG_RUN);
	CHECK_EQ(P("run", "--mem", "256G", "k"), CONFIG_RUN);
	CHECK_EQ(P("run", "--mem", "257G", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "too large");
	CHECK_EQ(P("run", "--mem", "4097K", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpus", "0", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpus", "64", "k"), CONFIG_RUN);
	CHECK_EQ(P("run", "--cpus", "65", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpus", "-1", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpus", "4x", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpus", "99999999999999999999", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--initrd=", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpu-features", "xsave", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpu-features", "-nosuch", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "nosuch");
	CHECK_EQ(P("run", "--cpu-features", "-", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--cpu-features", "-xsave,,", "k"), CONFIG_ERROR);
}

static void cmdline_limit(void)
{
	static char longest[4096], too_long[4097];
	memset(longest, 'a', 4095);
	memset(too_long, 'a', 4096);
	CHECK_EQ(P("run", "--cmdline", longest, "k"), CONFIG_RUN);
	CHECK_EQ(strlen(cfg.cmdline), 4095u);
	CHECK_EQ(P("run", "--cmdline", too_long, "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "too long");
}

static void disks(void)
{
	CHECK_EQ(P("run", "--disk", "a.img", "--disk=b.img,ro,serial=SN1,direct", "--rng", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.ndisks, 2u);
	CHECK(!strcmp(cfg.disks[0].path, "a.img"));
	CHECK(!cfg.disks[0].read_only && !cfg.disks[0].direct && cfg.disks[0].serial[0] == 0);
	CHECK(!strcmp(cfg.disks[1].path, "b.img"));
	CHECK(cfg.disks[1].read_only && cfg.disks[1].direct);
	CHECK(!strcmp(cfg.disks[1].serial, "SN1"));
	CHECK(cfg.rng);
	CHECK_EQ(cfg.disks[0].io, DISK_IO_AUTO);
	CHECK_EQ(P("run", "--disk", "a.img,io=sync", "--disk", "b.img,direct,io=uring", "k"), CONFIG_RUN);
	CHECK_EQ(cfg.disks[0].io, DISK_IO_SYNC);
	CHECK_EQ(cfg.disks[1].io, DISK_IO_URING);
	CHECK(cfg.disks[1].direct);
	CHECK_EQ(P("run", "--disk", "a.img,io=aio", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "--disk io='aio': use io=uring or io=sync");
	CHECK_EQ(P("run", "--disk", "a.img,io=", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--disk", "x,serial=12345678901234567890", "k"), CONFIG_RUN);
	CHECK_EQ(strlen(cfg.disks[0].serial), 20u);
	CHECK_EQ(P("run", "--disk", "x,serial=123456789012345678901", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "longer than 20");
	CHECK_EQ(P("run", "--disk", ",ro", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "needs a file");
	CHECK_EQ(P("run", "--disk", "", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--disk", "x,rw", "k"), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "unknown --disk option 'rw'");
	CHECK_EQ(P("run", "--disk", "x,", "k"), CONFIG_ERROR);
	CHECK_EQ(P("run", "--disk", "1", "--disk", "2", "--disk", "3", "--disk", "4", "--disk", "5",
		   "--disk", "6", "--disk", "7", "k"),
		 CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "too many --disk");
	static char longpath[5000];
	memset(longpath, 'p', sizeof(longpath) - 1);
	CHECK_EQ(P("run", "--disk", longpath, "k"), CONFIG_ERROR);
}

int main(void)
{
	test_suite_name = "config";
	RUN(disks);
	RUN(defaults);
	RUN(all_options);
	RUN(help_version);
	RUN(sizes);
	RUN(refusals);
	RUN(cmdline_limit);
	TEST_MAIN_END();
}
