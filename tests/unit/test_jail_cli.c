/* Unit tests for mote-jailer's pure logic: the command line (src/jail/cli.c), the path and
 * name rules (src/jail/path.c) and the step plan (src/jail/plan.c). */
#include <stdint.h>
#include <string.h>

#include "jail/jail.h"
#include "jail/path.h"
#include "jail/plan.h"
#include "test.h"

static struct jail_config c;
static char err[512];

static char *const *av(const char *const *argv)
{
	return (char *const *)(uintptr_t)argv;
}

#define PARSE(...)                                                                         \
	({                                                                                 \
		static const char *argv_[] = {"mote-jailer", __VA_ARGS__};                 \
		err[0] = '\0';                                                             \
		jail_parse((int)(sizeof(argv_) / sizeof(argv_[0])), av(argv_), &c, err,   \
			   sizeof(err));                                                   \
	})

#define BASE "--id", "vm-1", "--exec-file", "/usr/bin/mote", "--uid", "123", "--gid", "100"

static void defaults(void)
{
	CHECK_EQ(PARSE(BASE), JAIL_PARSE_RUN);
	CHECK(!strcmp(c.id, "vm-1") && !strcmp(c.exec_name, "mote"));
	CHECK(c.uid == 123 && c.gid == 100);
	CHECK(!strcmp(c.base, "/srv/jailer"));
	CHECK(!strcmp(c.parent_cgroup, "mote")); /* Firecracker: the exec file's name */
	CHECK(!c.netns && !c.new_pid_ns && !c.daemonize && c.cgroup_version == 0);
	CHECK(c.ncgroups == 0 && c.nbinds == 0 && c.nargs == 0);
	CHECK_EQ(PARSE("--help"), JAIL_PARSE_HELP);
	CHECK_EQ(PARSE("--version"), JAIL_PARSE_VERSION);
}

static void every_option(void)
{
	CHECK_EQ(PARSE(BASE, "--chroot-base-dir=/var//jail/", "--netns", "/run/netns/a",
		       "--cgroup", "memory.max=64M", "--cgroup=cpu.max=50000 100000",
		       "--cgroup-version", "2", "--parent-cgroup", "tenants/a", "--resource-limit",
		       "fsize=1000", "--resource-limit=no-file=unlimited", "--new-pid-ns", "--daemonize",
		       "--bind", "/d.img:disk.img", "--bind-ro", "/k:/boot/./k", "--", "run", "--mem",
		       "64M", "/boot/k"), JAIL_PARSE_RUN);
	CHECK(!strcmp(c.base, "/var/jail"));
	CHECK(!strcmp(c.netns, "/run/netns/a"));
	CHECK_EQ(c.ncgroups, 2u);
	CHECK(!strcmp(c.cgroups[0].file, "memory.max") && !strcmp(c.cgroups[0].value, "64M"));
	CHECK(!strcmp(c.cgroups[0].controller, "memory"));
	CHECK(!strcmp(c.cgroups[1].file, "cpu.max") && !strcmp(c.cgroups[1].value, "50000 100000"));
	CHECK_EQ(c.cgroup_version, 2);
	CHECK(!strcmp(c.parent_cgroup, "tenants/a"));
	CHECK(c.rlimit_set[JAIL_RLIMIT_FSIZE] && c.rlimit[JAIL_RLIMIT_FSIZE] == 1000);
	CHECK(c.rlimit_set[JAIL_RLIMIT_NOFILE] && c.rlimit[JAIL_RLIMIT_NOFILE] == UINT64_MAX);
	CHECK(c.new_pid_ns && c.daemonize);
	CHECK_EQ(c.nbinds, 2u);
	CHECK(!strcmp(c.binds[0].src, "/d.img") && !strcmp(c.binds[0].dst, "/disk.img"));
	CHECK(!c.binds[0].read_only && c.binds[1].read_only);
	CHECK(!strcmp(c.binds[1].dst, "/boot/k"));
	CHECK_EQ(c.nargs, 4);
	CHECK(!strcmp(c.args[0], "run") && !strcmp(c.args[3], "/boot/k"));
}

#define REFUSED(frag, ...)                                                                 \
	do {                                                                               \
		CHECK_EQ(PARSE(__VA_ARGS__), JAIL_PARSE_ERROR);                            \
		CHECK_STR_CONTAINS(err, frag);                                             \
		CHECK(strchr(err, '\n') == NULL);                                          \
	} while (0)

static void bad_ids_and_users(void)
{
	REFUSED("--id ID is required", "--exec-file", "/m", "--uid", "1", "--gid", "1");
	REFUSED("character '/' not allowed", "--id", "a/b", "--exec-file", "/m", "--uid", "1", "--gid", "1");
	REFUSED("character '_' not allowed", "--id", "a_b", "--exec-file", "/m", "--uid", "1", "--gid", "1");
	REFUSED("'..' is not a name", "--id", "..", "--exec-file", "/m", "--uid", "1", "--gid", "1");
	REFUSED("65 characters, at most 64", "--id",
		"12345678901234567890123456789012345678901234567890123456789012345",
		"--exec-file", "/m", "--uid", "1", "--gid", "1");
	CHECK_EQ(PARSE("--id", "1234567890123456789012345678901234567890123456789012345678901234",
		       "--exec-file", "/m", "--uid", "1", "--gid", "1"), JAIL_PARSE_RUN);
	REFUSED("--exec-file FILE is required", "--id", "a", "--uid", "1", "--gid", "1");
	REFUSED("--exec-file's name: empty", "--id", "a", "--exec-file", "/usr/bin/", "--uid", "1", "--gid", "1");
	REFUSED("--uid UID and --gid GID are required", "--id", "a", "--exec-file", "/m", "--uid", "1");
	REFUSED("--uid 0: the VMM would keep root's access", "--id", "a", "--exec-file", "/m", "--uid", "0", "--gid", "1");
	REFUSED("--gid 0", "--id", "a", "--exec-file", "/m", "--uid", "5", "--gid", "0");
	REFUSED("not a decimal number", "--id", "a", "--exec-file", "/m", "--uid", "-1", "--gid", "1");
	REFUSED("out of range", "--id", "a", "--exec-file", "/m", "--uid", "4294967295", "--gid", "1");
	REFUSED("unknown option --frobnicate", BASE, "--frobnicate");
	REFUSED("--id needs a value", "--id");
}

static void bad_values(void)
{
	REFUSED("must be an absolute path", BASE, "--chroot-base-dir", "srv");
	REFUSED("not the host's root", BASE, "--chroot-base-dir", "//");
	REFUSED("'..' would leave the jail", BASE, "--chroot-base-dir", "/srv/../etc");
	REFUSED("expected FILE=VALUE", BASE, "--cgroup", "memory.max");
	REFUSED("expected FILE=VALUE", BASE, "--cgroup", "memory.max=");
	REFUSED("expected CONTROLLER.NAME", BASE, "--cgroup", "memory=1");
	REFUSED("'cgroup' is not a cgroup controller", BASE, "--cgroup", "cgroup.procs=1");
	REFUSED("'bogus' is not a cgroup controller", BASE, "--cgroup", "bogus.max=1");
	REFUSED("character '/' not allowed", BASE, "--cgroup", "memory.../../x=1");
	REFUSED("control character", BASE, "--cgroup", "memory.max=1\n2");
	REFUSED("memory.max given twice", BASE, "--cgroup", "memory.max=1", "--cgroup", "memory.max=2");
	REFUSED("expected 1 or 2", BASE, "--cgroup-version", "3");
	REFUSED("drop the leading '/'", BASE, "--parent-cgroup", "/a");
	REFUSED("'..' is not a name", BASE, "--parent-cgroup", "a/../b");
	REFUSED("trailing '/'", BASE, "--parent-cgroup", "a/");
	REFUSED("expected fsize=BYTES or no-file=N", BASE, "--resource-limit", "nproc=5");
	REFUSED("is not a decimal number", BASE, "--resource-limit", "fsize=1k");
	REFUSED("no-file=0", BASE, "--resource-limit", "no-file=0");
	REFUSED("fsize given twice", BASE, "--resource-limit", "fsize=1", "--resource-limit", "fsize=2");
}

static void bad_binds(void)
{
	REFUSED("expected HOST_PATH:JAIL_PATH", BASE, "--bind", "/a");
	REFUSED("expected HOST_PATH:JAIL_PATH", BASE, "--bind", ":/a");
	REFUSED("expected HOST_PATH:JAIL_PATH", BASE, "--bind-ro", "/a:/b:/c");
	REFUSED("'..' would leave the jail", BASE, "--bind", "/a:../../etc/passwd");
	REFUSED("'..' would leave the jail", BASE, "--bind", "/a:/x/../../y");
	REFUSED("the jail's root itself", BASE, "--bind", "/a:/");
	REFUSED("the jail's root itself", BASE, "--bind", "/a:/./");
	REFUSED("one is inside the other", BASE, "--bind", "/a:/d", "--bind", "/b:/d/x");
	REFUSED("one is inside the other", BASE, "--bind", "/a:/d", "--bind-ro", "/b:d");
	CHECK_EQ(PARSE(BASE, "--bind", "/a:/d", "--bind", "/b:/dx"), JAIL_PARSE_RUN);
}

static void paths(void)
{
	char out[64];
	CHECK_EQ(jail_path_normalise("a//b/./c", "p", out, sizeof(out), err, sizeof(err)), 0);
	CHECK(!strcmp(out, "/a/b/c"));
	CHECK_EQ(jail_path_normalise("/a/b/", "p", out, sizeof(out), err, sizeof(err)), 0);
	CHECK(!strcmp(out, "/a/b"));
	CHECK_EQ(jail_path_normalise("", "p", out, sizeof(out), err, sizeof(err)), -1);
	CHECK_EQ(jail_path_normalise("a/..b", "p", out, sizeof(out), err, sizeof(err)), 0); /* a name */
	CHECK_EQ(jail_path_normalise("/a/..", "p", out, sizeof(out), err, sizeof(err)), -1);
	CHECK_EQ(jail_path_normalise("a\tb", "p", out, sizeof(out), err, sizeof(err)), -1);
	CHECK_EQ(jail_path_normalise("/0123456789/0123456789/0123456789/0123456789/0123456789/0123456789",
				     "p", out, sizeof(out), err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "too long");
	CHECK(jail_path_contains("/lib", "/lib/x.so") && jail_path_contains("/lib", "/lib"));
	CHECK(!jail_path_contains("/li", "/lib") && !jail_path_contains("/lib/x", "/lib"));
	CHECK_EQ(jail_path_join(out, sizeof(out), "/", "/x"), 0);
	CHECK(!strcmp(out, "/x"));
	CHECK_EQ(jail_path_join(out, sizeof(out), "/a/", "b"), 0);
	CHECK(!strcmp(out, "/a/b"));
	CHECK_EQ(jail_path_join(out, 4, "/abc", "d"), -1);
	CHECK(!strcmp(jail_path_base("a/b/mote"), "mote") && !strcmp(jail_path_base("m"), "m"));
}

static struct jail_plan p;
static struct jail_libs libs;

static void plan_paths_and_devices(void)
{
	CHECK_EQ(PARSE(BASE, "--chroot-base-dir", "/j", "--", "run", "/k"), JAIL_PARSE_RUN);
	memset(&libs, 0, sizeof(libs));
	CHECK_EQ(jail_plan_make(&c, &libs, true, &p, err, sizeof(err)), 0);
	CHECK(!strcmp(p.exec_dir, "/j/mote") && !strcmp(p.jail_dir, "/j/mote/vm-1"));
	CHECK(!strcmp(p.root, "/j/mote/vm-1/root"));
	CHECK(!strcmp(p.exec_path, "/mote") && !strcmp(p.pid_file, "/j/mote/vm-1/mote.pid"));
	CHECK_EQ(p.ndevs, 1u); /* no taps asked for: /dev/kvm only */
	CHECK(!strcmp(p.devs[0].path, "/dev/kvm") && p.devs[0].probe);
	CHECK(p.rlimit_on[JAIL_RLIMIT_NOFILE] && !p.rlimit_explicit[JAIL_RLIMIT_NOFILE]);
	CHECK_EQ(p.rlimit[JAIL_RLIMIT_NOFILE], JAIL_DEFAULT_NOFILE);
	CHECK(!p.rlimit_on[JAIL_RLIMIT_FSIZE]);

	CHECK_EQ(PARSE(BASE, "--", "run", "--net", "tap=t0", "/k"), JAIL_PARSE_RUN);
	CHECK_EQ(jail_plan_make(&c, &libs, true, &p, err, sizeof(err)), 0);
	CHECK_EQ(p.ndevs, 3u);
	CHECK(!strcmp(p.devs[1].path, "/dev/net/tun") && !strcmp(p.devs[2].path, "/dev/vhost-net"));
	CHECK(!p.devs[2].probe);
	CHECK_EQ(jail_plan_make(&c, &libs, false, &p, err, sizeof(err)), 0);
	CHECK_EQ(p.ndevs, 2u);
}

static void tun_from_args(void)
{
	const char *const a1[] = {"hvt", "--net:service=tap0", "k"}, *const a2[] = {"--api-sock", "/s"};
	const char *const a3[] = {"--config-file=/c"}, *const a4[] = {"run", "--rng", "k"};
	const char *const a5[] = {"hvt", "--", "k", "--net"};
	CHECK(jail_args_need_tun(av(a1), 3) && jail_args_need_tun(av(a2), 2));
	CHECK(jail_args_need_tun(av(a3), 1) && !jail_args_need_tun(av(a4), 3));
	CHECK(!jail_args_need_tun(av(a5), 4)); /* the unikernel's own argument */
	const char *const a6[] = {"run", "--net", "tap=t0", "k"}, *const a7[] = {"--", "--api-sock"};
	CHECK(jail_args_use_api(av(a2), 2) && jail_args_use_api(av(a3), 1));
	CHECK(!jail_args_use_api(av(a4), 3) && !jail_args_use_api(av(a6), 4));
	CHECK(!jail_args_use_api(av(a7), 2));
}

static void plan_mounts(void)
{
	memset(&libs, 0, sizeof(libs));
	libs.n = 2;
	strcpy(libs.lib[0].jail_path, "/lib64/ld-linux-x86-64.so.2");
	strcpy(libs.lib[0].host_path, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
	strcpy(libs.lib[1].jail_path, "/lib/x86_64-linux-gnu/libc.so.6");
	strcpy(libs.lib[1].host_path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	CHECK_EQ(PARSE(BASE, "--bind-ro", "/h/k:/k", "--bind", "/h/d:/data/d.img", "--resource-limit",
		       "no-file=64"), JAIL_PARSE_RUN);
	CHECK_EQ(jail_plan_make(&c, &libs, false, &p, err, sizeof(err)), 0);
	CHECK_EQ(p.nmounts, 4u);
	CHECK(p.mounts[0].lib && p.mounts[0].read_only);
	CHECK(!strcmp(p.mounts[1].src, "/usr/lib/x86_64-linux-gnu/libc.so.6"));
	CHECK(!strcmp(p.mounts[2].dst, "/k") && p.mounts[2].read_only && !p.mounts[2].lib);
	CHECK(!strcmp(p.mounts[3].dst, "/data/d.img") && !p.mounts[3].read_only);
	CHECK(p.rlimit_explicit[JAIL_RLIMIT_NOFILE] && p.rlimit[JAIL_RLIMIT_NOFILE] == 64);
	CHECK_EQ(p.nlib_roots, 2u); /* the libraries' tmpfs directories */
	CHECK(!strcmp(p.lib_roots[0], "/lib64") && !strcmp(p.lib_roots[1], "/lib"));
	static const char *const lib_named[] = {"mote-jailer", "--id", "a", "--exec-file", "/bin/lib",
						"--uid", "1", "--gid", "1"};
	CHECK_EQ(jail_parse(9, av(lib_named), &c, err, sizeof(err)), JAIL_PARSE_RUN);
	CHECK_EQ(jail_plan_make(&c, &libs, false, &p, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "/lib would be hidden by the libraries' directory /lib");

	static const char *const clash[][2] = {
		{"/x:/mote", "keeps /mote"}, {"/x:/mote/y", "keeps /mote"},
		{"/x:/dev", "keeps /dev"}, {"/x:/dev/kvm", "keeps /dev"},
		{"/x:/lib", "keeps /lib for the exec file's libraries"},
		{"/x:/lib64/ld-linux-x86-64.so.2", "keeps /lib64 for"}, {"/x:/lib/other", "keeps /lib for"},
	};
	for (size_t i = 0; i < sizeof(clash) / sizeof(clash[0]); i++) {
		const char *argv[] = {"mote-jailer", BASE, "--bind", clash[i][0]};
		CHECK_EQ(jail_parse((int)(sizeof(argv) / sizeof(argv[0])), av(argv), &c, err, sizeof(err)),
			 JAIL_PARSE_RUN);
		CHECK_EQ(jail_plan_make(&c, &libs, false, &p, err, sizeof(err)), -1);
		CHECK_STR_CONTAINS(err, clash[i][1]);
	}
}

int main(void)
{
	test_suite_name = "jail_cli";
	RUN(defaults);
	RUN(every_option);
	RUN(bad_ids_and_users);
	RUN(bad_values);
	RUN(bad_binds);
	RUN(paths);
	RUN(plan_paths_and_devices);
	RUN(tun_from_args);
	RUN(plan_mounts);
	TEST_MAIN_END();
}
