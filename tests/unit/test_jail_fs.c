/* Unit tests for the jailer's host-side parts: the mount table and the choice of cgroup
 * hierarchies (src/jail/cgroup.c, pure), cgroup creation refusing an unknown file and leaving
 * nothing (on a fake tree in /tmp), and the jail directory made and removed (src/jail/build.c).
 * The directory checks expect to run as root, as make check does. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jail/build.h"
#include "jail/cgroup.h"
#include "jail/jail.h"
#include "jail/plan.h"
#include "test.h"

static char err[1024];
static struct jail_config c;
static struct jail_cg_mounts ms;
static struct jail_cgroup cg;

static char *const *av(const char *const *argv)
{
	return (char *const *)(uintptr_t)argv;
}

static const char mounts[] =
	"proc /proc proc rw,relatime 0 0\n"
	"cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,nosuid,cpu,cpuacct 0 0\n"
	"cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
	"cgroup /sys/fs/cgroup/pids\\040x cgroup rw,pids 0 0\n"
	"cgroup /sys/fs/cgroup/systemd cgroup rw,name=systemd 0 0\n"
	"cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nsdelegate 0 0\n"
	"tmpfs /tmp tmpfs rw 0 0";

static void parse_mounts(void)
{
	jail_cg_parse_mounts(mounts, strlen(mounts), &ms);
	CHECK_EQ(ms.n, 5u);
	CHECK(!strcmp(ms.m[0].path, "/sys/fs/cgroup/cpu,cpuacct") && ms.m[0].version == 1);
	CHECK(!strcmp(ms.m[2].path, "/sys/fs/cgroup/pids x")); /* \040 decoded */
	CHECK(!strcmp(ms.m[1].options, "rw,relatime,memory"));
	CHECK(ms.m[4].version == 2 && !strcmp(ms.m[4].path, "/sys/fs/cgroup/unified"));
	jail_cg_parse_mounts("cgroup relative cgroup rw 0 0\n\n\ngarbage", 40, &ms);
	CHECK_EQ(ms.n, 0u);
}

#define CFG(...)                                                                           \
	do {                                                                               \
		static const char *argv_[] = {"mote-jailer", "--id", "j1", "--exec-file", "/m", \
					      "--uid", "5", "--gid", "5", __VA_ARGS__};    \
		CHECK_EQ(jail_parse((int)(sizeof(argv_) / sizeof(argv_[0])), av(argv_), &c, err, \
				    sizeof(err)), JAIL_PARSE_RUN);                         \
	} while (0)

static void choose_hierarchies(void)
{
	jail_cg_parse_mounts(mounts, strlen(mounts), &ms);
	strcpy(ms.m[4].available, "hugetlb"); /* this project's hosts: v2 holds hugetlb only */
	CFG("--cgroup", "memory.limit_in_bytes=64M", "--cgroup", "pids.max=9", "--cgroup", "cpu.shares=5",
	    "--cgroup", "cpuacct.usage=0");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), 0);
	CHECK_EQ(cg.version, 1); /* auto: v2 lacks memory */
	CHECK_EQ(cg.ndirs, 3u);  /* cpu and cpuacct share one hierarchy */
	CHECK(!strcmp(cg.dir[0].path, "/sys/fs/cgroup/memory/m/j1"));
	CHECK(!strcmp(cg.dir[1].path, "/sys/fs/cgroup/pids x/m/j1"));
	CHECK(!strcmp(cg.dir[2].controllers, "cpu cpuacct"));

	CFG("--cgroup", "memory.max=64M", "--cgroup-version", "2");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "--cgroup-version 2: the cgroup v2 hierarchy at /sys/fs/cgroup/unified "
				"has no memory controller (it offers: hugetlb)");
	CFG("--cgroup", "io.max=1", "--parent-cgroup", "a/b");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "no cgroup v1 hierarchy with the io controller");
	CFG("--cgroup", "hugetlb.2MB.max=0", "--parent-cgroup", "a/b");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), 0);
	CHECK(cg.version == 2 && cg.ndirs == 1 && !strcmp(cg.dir[0].path, "/sys/fs/cgroup/unified/a/b/j1"));
	strcpy(ms.m[4].available, "cpuset cpu io memory hugetlb pids");
	CFG("--cgroup", "memory.max=64M", "--cgroup", "pids.max=5");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), 0);
	CHECK(cg.version == 2 && cg.ndirs == 1 && !strcmp(cg.dir[0].controllers, "memory pids"));
	CFG("--cgroup", "memory.limit_in_bytes=64M", "--cgroup-version", "1");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), 0);
	CHECK_EQ(cg.version, 1);
	CFG("--bind", "/a:/b");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), 0);
	CHECK_EQ(cg.version, 0); /* no --cgroup: no cgroup */
}

static char tmp[64];

/* A fake v1 hierarchy: mkdir works, but the new cgroup has no memory.max file. */
static void unknown_file_leaves_nothing(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/mote-jail-cg.XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
	char text[256];
	snprintf(text, sizeof(text), "cgroup %s cgroup rw,memory 0 0\n", tmp);
	jail_cg_parse_mounts(text, strlen(text), &ms);
	CFG("--cgroup", "memory.max=64M", "--parent-cgroup", "x/y");
	CHECK_EQ(jail_cg_plan(&c, &ms, &cg, err, sizeof(err)), 0);
	CHECK_EQ(jail_cg_create(&cg, &c, err, sizeof(err)), JAIL_EXIT_USAGE);
	CHECK_STR_CONTAINS(err, "--cgroup memory.max: unknown cgroup file");
	CHECK_STR_CONTAINS(err, "this cgroup version calls it memory.limit_in_bytes");
	char p[128];
	snprintf(p, sizeof(p), "%s/x", tmp);
	CHECK(access(p, F_OK) < 0); /* every level it made is gone */
	/* an existing id */
	snprintf(p, sizeof(p), "%s/x/y/j1", tmp);
	CHECK_EQ(system((snprintf(text, sizeof(text), "mkdir -p %s", p), text)), 0);
	CHECK_EQ(jail_cg_create(&cg, &c, err, sizeof(err)), JAIL_EXIT_EXISTS);
	CHECK_STR_CONTAINS(err, "already exists: another jail uses --id j1");
	CHECK(access(p, F_OK) == 0); /* not ours: left alone */
	snprintf(text, sizeof(text), "rm -rf %s", tmp);
	CHECK_EQ(system(text), 0);
}

static struct jail_plan plan;
static struct jail_libs libs;
static struct jail_made made;

static void jail_dir_made_and_removed(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/mote-jail-b.XXXXXX");
	CHECK(mkdtemp(tmp) != NULL);
	char base[128], disk[128], path[JAIL_PATH_MAX + 64];
	snprintf(base, sizeof(base), "%s/new/base", tmp);
	snprintf(disk, sizeof(disk), "%s/disk.img", tmp);
	close(open(disk, O_WRONLY | O_CREAT, 0600));
	const char *argv[] = {"mote-jailer", "--id", "b1", "--exec-file", "/bin/true", "--uid", "5",
			      "--gid", "5", "--chroot-base-dir", base, "--bind", NULL};
	snprintf(path, sizeof(path), "%s:/data/disk.img", disk);
	argv[12] = path;
	CHECK_EQ(jail_parse(13, av(argv), &c, err, sizeof(err)), JAIL_PARSE_RUN);
	memset(&libs, 0, sizeof(libs));
	CHECK_EQ(jail_plan_make(&c, &libs, false, &plan, err, sizeof(err)), 0);
	CHECK_EQ(jail_build(&c, &plan, &made, err, sizeof(err)), 0);
	struct stat st;
	snprintf(path, sizeof(path), "%s/true", plan.root);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0111) && st.st_uid == 0);
	snprintf(path, sizeof(path), "%s/data/disk.img", plan.root);
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0); /* a placeholder */
	CHECK(made.nbase == 2 && made.exec_dir && made.jail_dir);
	static struct jail_made again;
	CHECK_EQ(jail_build(&c, &plan, &again, err, sizeof(err)), JAIL_EXIT_EXISTS);
	CHECK_STR_CONTAINS(err, "already exists: another VM uses --id b1");
	CHECK(access(plan.root, F_OK) == 0); /* the first jail is untouched */
	CHECK_EQ(jail_unbuild(&plan, &made, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/new", tmp);
	CHECK(access(path, F_OK) < 0); /* the base levels it made are gone too */

	/* A base others can write is refused, and leaves nothing. */
	snprintf(base, sizeof(base), "%s/open", tmp);
	mkdir(base, 0777);
	chmod(base, 0777);
	argv[10] = base;
	argv[11] = NULL;
	CHECK_EQ(jail_parse(11, av(argv), &c, err, sizeof(err)), JAIL_PARSE_RUN);
	CHECK_EQ(jail_plan_make(&c, &libs, false, &plan, err, sizeof(err)), 0);
	CHECK_EQ(jail_build(&c, &plan, &made, err, sizeof(err)), JAIL_EXIT_HOST);
	CHECK_STR_CONTAINS(err, "writable by others (mode 0777)");
	snprintf(path, sizeof(path), "%s/true", base);
	CHECK(access(path, F_OK) < 0);
	/* An exec-name directory that is a symbolic link is refused. */
	chmod(base, 0755);
	snprintf(path, sizeof(path), "%s/true", base);
	CHECK_EQ(symlink("/etc", path), 0);
	CHECK_EQ(jail_build(&c, &plan, &made, err, sizeof(err)), JAIL_EXIT_HOST);
	CHECK_STR_CONTAINS(err, "(a symbolic link: refused)");
	snprintf(path, sizeof(path), "rm -rf %s", tmp);
	CHECK_EQ(system(path), 0);
}

int main(void)
{
	test_suite_name = "jail_fs";
	RUN(parse_mounts);
	RUN(choose_hierarchies);
	RUN(unknown_file_leaves_nothing);
	RUN(jail_dir_made_and_removed);
	TEST_MAIN_END();
}
