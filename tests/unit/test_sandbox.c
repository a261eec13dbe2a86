/* Unit tests for the seccomp allowlists (core/sandbox): each case forks a child that enters a
 * thread class and then makes one system call; a forbidden one must end the child with
 * MOTE_EXIT_INTERNAL and the report on stderr, an allowed one must run. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sandbox.h"
#include "core/status.h"
#include "test.h"

#define ALLOWED_IOCTL 0xAE80ul /* KVM_RUN's number; any value the caller lists */

static unsigned child_extras; /* enum sandbox_extra sets the child's classes add */
static const unsigned long one_ioctl[] = {ALLOWED_IOCTL};
static const unsigned long *child_ioctls = one_ioctl; /* what the child's class lists */
static size_t child_nioctls = 1;

/* Runs action() in a child after entering class c (and the process class first, as mote
 * does). Returns the child's exit status (or 128 + signal) and its stderr in out. */
static int in_child(enum sandbox_class c, int (*action)(void), char *out, size_t cap)
{
	int pipefd[2];
	if (pipe(pipefd) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		char err[160];
		if (sandbox_enter_extra(SANDBOX_PROCESS, child_extras, NULL, 0, err, sizeof(err)) < 0 ||
		    (c != SANDBOX_PROCESS && sandbox_enter_extra(c, child_extras, child_ioctls,
								 child_nioctls, err, sizeof(err)) < 0)) {
			ssize_t w = write(STDERR_FILENO, err, strlen(err));
			(void)w;
			_exit(99);
		}
		_exit(action());
	}
	close(pipefd[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(pipefd[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(pipefd[0]);
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int do_openat(void)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
	return fd >= 0 ? 0 : 1;
}

static int do_execve(void)
{
	static char name[] = "true";
	char *const argv[] = {name, NULL};
	syscall(SYS_execve, "/bin/true", argv, NULL);
	return 1;
}

static int do_fork(void)
{
	/* clone without CLONE_THREAD: a new process */
	long r = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		_exit(0);
	return 0;
}

static int do_exec_mapping(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 1 : 0;
}

static int do_data_mapping(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? 1 : 0;
}

static int do_socket(void) { return syscall(SYS_socket, 2 /* AF_INET */, 1, 0) >= 0 ? 0 : 1; }

static int do_write_pipe(void)
{
	int p[2];
	if (pipe(p) < 0) /* pipe2: not allowed */
		return 2;
	return 0;
}

/* Signals stay inside the process: tgkill of another process's thread is refused. */
static int do_tgkill_other(void) { return syscall(SYS_tgkill, 1, 1, 0) == 0 ? 0 : 1; }

static int do_tgkill_self(void)
{
	return syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), 0) == 0 ? 0 : 1;
}

static int do_write(void) { return write(STDERR_FILENO, "x", 1) == 1 ? 0 : 1; }

/* An ioctl the class lists reaches the kernel (which refuses it on stderr: ENOTTY). */
static int do_listed_ioctl(void)
{
	return (ioctl(STDERR_FILENO, ALLOWED_IOCTL, 0) < 0 && errno == ENOTTY) ? 0 : 1;
}

static int do_unlisted_ioctl(void)
{
	ioctl(STDERR_FILENO, 0xAE81ul, 0);
	return 0;
}

/* KVM_RUN's number in the low half, a high half set: not the listed request. */
static int do_ioctl_high_bits(void)
{
	syscall(SYS_ioctl, STDERR_FILENO, 0x100000000ul | ALLOWED_IOCTL, 0);
	return 0;
}

/* A system call through the i386 entry (arch AUDIT_ARCH_I386): getpid there is 20. */
static int do_int80(void)
{
	long r = 20;
	__asm__ volatile("int $0x80" : "+a"(r) : : "memory");
	return 0;
}

/* An x32 system call number (bit 30 set). */
static int do_x32(void)
{
	syscall(0x40000000l | SYS_getpid);
	return 0;
}

static int do_kvm_create_vm(void)
{
	ioctl(STDERR_FILENO, 0xAE01ul /* KVM_CREATE_VM */, 0);
	return 0;
}

/* newfstatat (glibc's stat and fstat) is refused in every class, paths included; the fstat
 * system call (sandbox_fstat) runs. 0 when that holds. */
static int do_stat_shadow(void)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	long r = syscall(SYS_newfstatat, AT_FDCWD, "/etc/shadow", &st, AT_EMPTY_PATH);
	if (r != -1 || errno != EACCES || st.st_size != 0 || st.st_mode != 0)
		return 1;
	if (stat("/etc/shadow", &st) == 0 || fstat(STDERR_FILENO, &st) == 0)
		return 2;
	if (sandbox_fstat(STDERR_FILENO, &st) != 0 || !S_ISFIFO(st.st_mode))
		return 3; /* stderr is the test's pipe */
	return 0;
}

static void expect_killed(enum sandbox_class c, int (*action)(void), const char *class_name)
{
	char out[512];
	int st = in_child(c, action, out, sizeof(out));
	CHECK_EQ(st, MOTE_EXIT_INTERNAL);
	CHECK_STR_CONTAINS(out, "mote: seccomp: ");
	CHECK_STR_CONTAINS(out, class_name);
	CHECK_STR_CONTAINS(out, "forbidden system call");
}

static void expect_runs(enum sandbox_class c, int (*action)(void))
{
	char out[512];
	int st = in_child(c, action, out, sizeof(out));
	CHECK_EQ(st, 0);
	CHECK(strstr(out, "forbidden") == NULL);
}

static void process_refuses_open_exec_fork_socket(void)
{
	expect_killed(SANDBOX_PROCESS, do_openat, "process thread");
	expect_killed(SANDBOX_PROCESS, do_execve, "process thread");
	expect_killed(SANDBOX_PROCESS, do_fork, "process thread");
	expect_killed(SANDBOX_PROCESS, do_socket, "process thread");
	expect_killed(SANDBOX_PROCESS, do_write_pipe, "process thread");
	expect_killed(SANDBOX_PROCESS, do_tgkill_other, "process thread");
	expect_runs(SANDBOX_VCPU, do_tgkill_self);
}

static void process_refuses_executable_memory(void)
{
	expect_killed(SANDBOX_PROCESS, do_exec_mapping, "process thread");
	expect_runs(SANDBOX_PROCESS, do_data_mapping);
}

static void process_allows_its_work(void)
{
	expect_runs(SANDBOX_PROCESS, do_write);
	expect_runs(SANDBOX_PROCESS, do_listed_ioctl);
}

static void vcpu_ioctls_are_listed_ones_only(void)
{
	expect_runs(SANDBOX_VCPU, do_listed_ioctl);
	expect_killed(SANDBOX_VCPU, do_unlisted_ioctl, "vCPU thread");
	expect_killed(SANDBOX_VCPU, do_kvm_create_vm, "vCPU thread");
	expect_runs(SANDBOX_VCPU, do_write);
}

static void io_thread_has_no_kvm(void)
{
	expect_runs(SANDBOX_IO, do_write);
	expect_killed(SANDBOX_IO, do_kvm_create_vm, "I/O thread");
	expect_killed(SANDBOX_IO, do_openat, "I/O thread");
}

/* vsock's rule set: AF_UNIX sockets made, their send buffer set, connected and closed;
 * never AF_INET, no option of another level. */
static int do_unix_socket(void)
{
	int fd = (int)syscall(SYS_socket, 1 /* AF_UNIX */, 1, 0);
	if (fd < 0)
		return 1;
	int sz = 256 << 10;
	if (syscall(SYS_setsockopt, fd, 1 /* SOL_SOCKET */, 7 /* SO_SNDBUF */, &sz, sizeof(sz)) < 0)
		return 1;
	struct { unsigned short family; char path[108]; } sa = { 1, "/nonexistent/mote-sock" };
	long r = syscall(SYS_connect, fd, &sa, sizeof(sa));
	syscall(SYS_close, fd);
	return r < 0 && errno == ENOENT ? 0 : 1;
}

/* A socket option at another level than SOL_SOCKET (here IPPROTO_TCP's TCP_NODELAY). */
static int do_tcp_sockopt(void)
{
	int one = 1;
	syscall(SYS_setsockopt, 0, 6 /* IPPROTO_TCP */, 1 /* TCP_NODELAY */, &one, sizeof(one));
	return 0;
}

static int do_unlink(void)
{
	syscall(SYS_unlink, "/nonexistent/mote-file");
	return 0;
}

static void unix_socket_rule_set(void)
{
	child_extras = 0;
	expect_killed(SANDBOX_IO, do_unix_socket, "I/O thread");
	expect_killed(SANDBOX_PROCESS, do_unlink, "process thread");
	child_extras = SANDBOX_X_UNIX_SOCKETS;
	expect_runs(SANDBOX_IO, do_unix_socket);
	expect_runs(SANDBOX_PROCESS, do_unix_socket);
	expect_runs(SANDBOX_PROCESS, do_unlink);
	expect_killed(SANDBOX_IO, do_socket, "I/O thread"); /* AF_INET stays out */
	expect_killed(SANDBOX_IO, do_tcp_sockopt, "I/O thread"); /* SOL_SOCKET options only */
	expect_killed(SANDBOX_PROCESS, do_socket, "process thread");
	expect_killed(SANDBOX_IO, do_unlink, "I/O thread");
	expect_killed(SANDBOX_VCPU, do_unix_socket, "vCPU thread"); /* vCPUs get none of it */
	child_extras = 0;
}

/* The filters compiled at build time (tools/seccomp_gen.c) plus the ioctl list appended at
 * run time: a long list works to its last entry; the request is compared on 64 bits; a list
 * that does not fit is refused at entry with a reason; i386 and x32 calls end the process
 * (the filters' head), in every class. */
static void built_filters_and_ioctl_lists(void)
{
	static unsigned long many[128];
	char out[512];
	for (size_t i = 0; i < 128; i++)
		many[i] = 0x4000AE00ul + i; /* none of them ALLOWED_IOCTL */
	many[127] = ALLOWED_IOCTL;
	child_ioctls = many;
	child_nioctls = 128;
	expect_runs(SANDBOX_VCPU, do_listed_ioctl);
	expect_killed(SANDBOX_VCPU, do_unlisted_ioctl, "vCPU thread");
	expect_killed(SANDBOX_VCPU, do_ioctl_high_bits, "vCPU thread");
	child_nioctls = 129;
	CHECK_EQ(in_child(SANDBOX_VCPU, do_listed_ioctl, out, sizeof(out)), 99);
	CHECK_STR_CONTAINS(out, "does not fit");
	child_ioctls = one_ioctl;
	child_nioctls = 1;
	static const enum sandbox_class all[] = {SANDBOX_PROCESS, SANDBOX_VCPU, SANDBOX_IO,
						 SANDBOX_HVT};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		CHECK_EQ(in_child(all[i], do_int80, out, sizeof(out)), 128 + SIGSYS);
		CHECK_EQ(in_child(all[i], do_x32, out, sizeof(out)), 128 + SIGSYS);
	}
}

static void no_stat_of_paths(void)
{
	expect_runs(SANDBOX_PROCESS, do_stat_shadow);
	expect_runs(SANDBOX_VCPU, do_stat_shadow);
	expect_runs(SANDBOX_IO, do_stat_shadow);
	expect_runs(SANDBOX_HVT, do_stat_shadow);
}

int main(void)
{
	test_suite_name = "sandbox";
	if (!sandbox_enabled()) {
		printf("skip sandbox: built with MOTE_NO_SANDBOX\n");
		return 0;
	}
	RUN(process_refuses_open_exec_fork_socket);
	RUN(process_refuses_executable_memory);
	RUN(process_allows_its_work);
	RUN(vcpu_ioctls_are_listed_ones_only);
	RUN(io_thread_has_no_kvm);
	RUN(unix_socket_rule_set);
	RUN(no_stat_of_paths);
	RUN(built_filters_and_ioctl_lists);
	TEST_MAIN_END();
}
