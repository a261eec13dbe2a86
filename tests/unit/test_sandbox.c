/* Unit tests for the seccomp allowlists (core/sandbox): each case forks a child that enters a
 * thread class and then makes one system call; a forbidden one must end the child with
 * MOTE_EXIT_INTERNAL and the report on stderr, an allowed one must run. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <signal.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/falloc.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
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

/* The balloon's rule set: holes punched in guest RAM's memfd, no other fallocate mode; the
 * statistics timer re-armed (the process list has timerfd_settime for the rate limiters too). The descriptors exist before the filters, as in mote. */
static int balloon_fd = -1, balloon_timer = -1;

static int do_punch_hole(void)
{
	return fallocate(balloon_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0 ? 0 : 1;
}

static int do_fallocate_grow(void)
{
	return fallocate(balloon_fd, 0, 0, 1 << 20) == 0 ? 0 : 1;
}

static int do_timer_rearm(void)
{
	struct itimerspec t = {.it_interval = {.tv_sec = 1}, .it_value = {.tv_sec = 1}};
	return timerfd_settime(balloon_timer, 0, &t, NULL) == 0 ? 0 : 1;
}

static void balloon_rule_set(void)
{
	balloon_fd = memfd_create("test-balloon", MFD_CLOEXEC);
	balloon_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	CHECK(balloon_fd >= 0 && ftruncate(balloon_fd, 1 << 16) == 0 && balloon_timer >= 0);
	child_extras = 0;
	expect_killed(SANDBOX_IO, do_punch_hole, "I/O thread");
	child_extras = SANDBOX_X_BALLOON;
	expect_runs(SANDBOX_IO, do_punch_hole);
	expect_runs(SANDBOX_PROCESS, do_punch_hole);
	expect_runs(SANDBOX_PROCESS, do_timer_rearm);
	expect_killed(SANDBOX_IO, do_fallocate_grow, "I/O thread"); /* only the hole-punch mode */
	expect_killed(SANDBOX_PROCESS, do_fallocate_grow, "process thread");
	expect_killed(SANDBOX_VCPU, do_punch_hole, "vCPU thread"); /* vCPUs get none of it */
	child_extras = 0;
	close(balloon_fd);
	close(balloon_timer);
}

static int do_tiocsti(void)
{
	syscall(SYS_ioctl, -1, 0x5412ul /* TIOCSTI */, "x");
	return 0;
}

static int do_read(void)
{
	char c;
	return syscall(SYS_read, -1, &c, 1) < 0 ? 0 : 1;
}

/* The main, metrics and API threads' own lists (issue 19, item 4): no KVM ioctl, no TIOCSTI,
 * no new files but in the API thread; each keeps its own work. */
static void main_metrics_api_lists(void)
{
	static const enum sandbox_class three[] = {SANDBOX_MAIN, SANDBOX_METRICS, SANDBOX_API};
	static const char *const names[] = {"main thread", "metrics thread", "API thread"};
	for (size_t i = 0; i < 3; i++) {
		expect_killed(three[i], do_kvm_create_vm, names[i]);
		expect_killed(three[i], do_tiocsti, names[i]);
		expect_killed(three[i], do_socket, names[i]);
		expect_killed(three[i], do_exec_mapping, names[i]);
		expect_runs(three[i], do_write);
		expect_runs(three[i], do_listed_ioctl); /* the requests the caller passes */
	}
	expect_killed(SANDBOX_MAIN, do_openat, "main thread");
	expect_killed(SANDBOX_METRICS, do_openat, "metrics thread");
	expect_killed(SANDBOX_METRICS, do_read, "metrics thread");
	expect_runs(SANDBOX_MAIN, do_read);
	expect_killed(SANDBOX_API, do_unlink, "API thread");
}

/* sandbox_probe_thread finds the one thread that does not block SANDBOX_SIGNAL, and
 * sandbox_enter_thread gives it a list from another thread: it then dies on a call outside
 * it (reported under its class), while the caller keeps its own. */
static atomic_int other_go, other_started;
static void *other_thread(void *arg)
{
	(void)arg;
	atomic_store(&other_started, 1);
	while (!atomic_load(&other_go)) {
		struct timespec t = {0, 1000000};
		nanosleep(&t, NULL);
	}
	syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
	return NULL;
}

static int remote_child(void)
{
	pthread_t t;
	char err[160];
	if (pthread_create(&t, NULL, other_thread, NULL) != 0)
		return 2;
	while (!atomic_load(&other_started)) { /* its start-up (ASan's too) before any list */
		struct timespec d = {0, 1000000};
		nanosleep(&d, NULL);
	}
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, SANDBOX_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &one, NULL); /* only the other thread may answer */
	pid_t tid = sandbox_probe_thread();
	if (tid <= 0 || tid == getpid())
		return 3;
	if (sandbox_enter(SANDBOX_PROCESS, NULL, 0, err, sizeof(err)) < 0 ||
	    sandbox_enter_thread(tid, SANDBOX_METRICS, NULL, 0, err, sizeof(err)) < 0) {
		ssize_t w = write(STDERR_FILENO, err, strlen(err));
		(void)w;
		return 4;
	}
	if (sandbox_enter_thread(tid, SANDBOX_PROCESS, NULL, 0, err, sizeof(err)) == 0)
		return 5; /* the process list is the caller's own, never given */
	atomic_store(&other_go, 1);
	pthread_join(t, NULL);
	return 6; /* not reached: the other thread's openat ends the process */
}

static void lists_given_to_another_thread(void)
{
	char out[512];
	int pipefd[2];
	CHECK_EQ(pipe(pipefd), 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) { /* no list yet: the probe comes before the sandbox */
		dup2(pipefd[1], STDERR_FILENO);
		_exit(remote_child());
	}
	close(pipefd[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < sizeof(out) && (r = read(pipefd[0], out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(pipefd[0]);
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 10);
	CHECK_STR_CONTAINS(out, "metrics thread made forbidden system call 257");
	if (!strstr(out, "metrics thread made forbidden system call 257"))
		printf("note sandbox: the child said: %s\n", out);
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
	RUN(balloon_rule_set);
	RUN(main_metrics_api_lists);
	RUN(lists_given_to_another_thread);
	TEST_MAIN_END();
}
