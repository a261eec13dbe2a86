/* seccomp allowlists (libseccomp). Each entry says why the class needs it; a new syscall in a
 * thread class needs a new line here, with its reason, and make check shows when it is missing
 * ("forbidden system call N": scmp_sys_resolver N names it). */
#include "core/sandbox.h"

#include <errno.h>
#include <sched.h> /* CLONE_THREAD */
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "core/log.h"
#include "core/status.h"

#define NO_ARG 0

/* An allowlist entry: a syscall, optionally one argument condition, and why. */
struct rule {
	int nr;
	int cond;           /* NO_ARG, or COND_* below */
	uint64_t val;
	const char *why;
};

enum { COND_NONE = NO_ARG, COND_ARG0_EQ, COND_ARG0_SELF, COND_ARG1_EQ, COND_NO_EXEC_ARG2, COND_THREAD_ARG0 };

#define R(name, why) {SCMP_SYS(name), COND_NONE, 0, why}
#define RA(name, cond, val, why) {SCMP_SYS(name), cond, val, why}

/* Memory, threads, signals and time: what libc itself needs in any thread. */
#define LIBC_RULES                                                                                \
	RA(mmap, COND_NO_EXEC_ARG2, 0, "malloc arenas and thread stacks; never executable"),     \
	RA(mprotect, COND_NO_EXEC_ARG2, 0, "thread stack guard pages; never executable"),        \
	R(munmap, "free"), R(brk, "malloc"), R(madvise, "thread exit releases its stack"),        \
	R(futex, "locks, condition variables, thread join"),                                     \
	R(rt_sigprocmask, "pthread_sigmask at thread start and exit"),                          \
	R(rt_sigreturn, "return from the vCPU kick and SIGSYS handlers"),                       \
	R(restart_syscall, "a syscall interrupted by the kick"),                                 \
	R(clock_gettime, "log rate limit (when the vDSO is unavailable)"),                       \
	R(clock_nanosleep, "short sleeps"), R(nanosleep, "short sleeps"),                        \
	R(sched_yield, "lock back-off"), R(exit, "thread exit"), R(exit_group, "process exit"),  \
	R(sigaltstack, "sanitizer runtimes (the ASan test builds) at exit; changes no privilege"), \
	R(fstat, "fstat of an open descriptor (sandbox_fstat); newfstatat is refused below"),     \
	RA(tgkill, COND_ARG0_SELF, 0, "vCPU kicks, raise() of a fatal signal; this process only"), \
	R(getpid, "raise(), pthread_kill"), R(gettid, "raise(), pthread_kill")

static const struct rule process_rules[] = {
	LIBC_RULES,
	R(read, "console input, eventfds, signalfd, disk reads"),
	R(readv, "frames and disk reads"),
	R(pread64, "disk reads"), R(preadv, "disk reads"), R(preadv2, "disk reads"),
	R(write, "console output, eventfds, log"), R(writev, "frames, log"),
	R(pwrite64, "disk writes"), R(pwritev, "disk writes"), R(pwritev2, "disk writes"),
	R(fsync, "virtio-blk flush"), R(fdatasync, "virtio-blk flush, flush at exit"),
	R(ioctl, "KVM vCPU and VM requests, terminal mode; narrowed per thread class"),
	R(poll, "main loop"), R(ppoll, "main loop"),
	R(epoll_wait, "I/O thread"), R(epoll_pwait, "I/O thread"),
	R(epoll_ctl, "I/O thread: an fd's events on and off (back-pressure)"),
	RA(clone, COND_THREAD_ARG0, 0, "vCPU and I/O threads; never a new process"),
	R(set_robust_list, "a new thread's start"), R(rseq, "a new thread's start"),
	R(getrandom, "virtio-rng"),
	R(io_uring_enter, "asynchronous disk I/O (rings are restricted: backends/blk_uring.c)"),
	R(io_uring_register, "teardown unregisters a disk ring's file (the only register op the "
			     "restricted ring takes)"),
	R(close, "teardown"),
	RA(rt_sigaction, COND_ARG0_EQ, 32, "glibc's own thread signals, set up by the first "
					   "pthread_create"),
	RA(rt_sigaction, COND_ARG0_EQ, 33, "same"),
	R(seccomp, "vCPU and I/O threads add their narrower filters (a filter only restricts)"),
};

/* API mode only (SANDBOX_PROCESS_API), on top of process_rules: libmicrohttpd's thread serves
 * the socket, and a few requests open files after the boot (docs/api.md). */
static const struct rule api_rules[] = {
	R(accept4, "API server: a new client on the Unix socket"),
	R(recvfrom, "API server: requests"), R(recvmsg, "API server: requests"),
	R(sendto, "API server: responses"), R(sendmsg, "API server: responses"),
	R(shutdown, "API server: closing a connection, and the listening socket at exit"),
	R(openat, "PUT /logger and /metrics open their file, PATCH /drives the new disk image"),
	R(flock, "PATCH /drives locks the new disk image as --disk does"),
	R(unlink, "the API socket is removed at exit"), R(unlinkat, "same"),
	R(ftruncate, "PUT /snapshot/create sizes the memory file (sparse: holes stay holes)"),
	R(lseek, "PUT /snapshot/create finds guest RAM's data in its memfd (SEEK_DATA/SEEK_HOLE)"),
};

/* SANDBOX_X_UNIX_SOCKETS, for the process list and the I/O thread's: the vsock device maps
 * guest connections to Unix sockets (src/vsock/uds.c) on the I/O thread while the VM runs. */
static const struct rule unix_socket_rules[] = {
	RA(socket, COND_ARG0_EQ, AF_UNIX, "vsock: a guest connection to PATH_<port>; AF_UNIX only"),
	R(connect, "vsock: a guest connection to PATH_<port> (AF_UNIX: the socket rule)"),
	R(accept4, "vsock: a host program connecting to the device's socket"),
	R(shutdown, "vsock: the guest shut its sending side (SHUT_WR to the host program)"),
	R(close, "vsock: a connection ends"),
	R(timerfd_settime, "vsock: connection deadlines (request, shutdown) arm and disarm a timer"),
};

/* SANDBOX_X_UNIX_SOCKETS, process list only: the device's socket is removed at exit. */
static const struct rule unix_socket_process_rules[] = {
	R(unlink, "vsock: the device's listening socket is removed at exit"),
};

static const struct rule vcpu_rules[] = {
	LIBC_RULES,
	/* + the ioctl requests the caller passes (the KVM layer knows which it issues) */
	RA(ioctl, COND_ARG1_EQ, TCSETSF, "terminal restore when this thread ends mote"),
	R(read, "device reads through eventfds"),
	R(write, "console output, eventfd kicks, log"), R(writev, "log"),
	R(io_uring_enter, "a virtio-blk reset (a register write) waits for its disk requests in "
			  "flight; a short one is finished through the ring, never with preadv"),
};

static const struct rule io_rules[] = {
	LIBC_RULES,
	RA(ioctl, COND_ARG1_EQ, TCSETSF, "terminal restore when this thread ends mote"),
	R(read, "eventfds"), R(readv, "frames"),
	R(pread64, "disk reads"), R(preadv, "disk reads"), R(preadv2, "disk reads"),
	R(write, "eventfds, console output, log"), R(writev, "frames, log"),
	R(pwrite64, "disk writes"), R(pwritev, "disk writes"), R(pwritev2, "disk writes"),
	R(fsync, "virtio-blk flush"), R(fdatasync, "virtio-blk flush"),
	R(epoll_wait, "the loop"), R(epoll_pwait, "the loop"), R(epoll_ctl, "back-pressure"),
	R(getrandom, "virtio-rng"),
	R(io_uring_enter, "asynchronous disk I/O"),
};

static const struct rule hvt_rules[] = {
	LIBC_RULES,
	/* + the ioctl requests the caller passes (KVM_RUN and the register dumps) */
	R(write, "puts hypercall, log"), R(writev, "net write hypercall (tap frames), log"),
	R(readv, "net read hypercall (tap frames)"), R(read, "eventfds"),
	R(pread64, "block read hypercall"), R(preadv, "block read hypercall"),
	R(pwrite64, "block write hypercall"), R(pwritev, "block write hypercall"),
	R(ppoll, "poll hypercall: blocks until a frame, the timeout or a stop request"),
	R(fdatasync, "block devices are flushed at exit: the hvt vCPU runs on the main thread"),
	R(close, "teardown, on the same thread"),
};

static const char *const class_names[] = {"process", "vCPU", "I/O", "hvt vCPU", "process"};

static void (*violation_hook)(void);
static _Thread_local enum sandbox_class thread_class;

void sandbox_on_violation(void (*fn)(void)) { violation_hook = fn; }

int sandbox_fstat(int fd, struct stat *st)
{
	/* x86-64: the kernel's struct stat is glibc's */
	return (int)syscall(SYS_fstat, fd, st);
}

bool sandbox_enabled(void)
{
#ifdef MOTE_NO_SANDBOX
	return false;
#else
	return true;
#endif
}

/* Async-signal-safe decimal formatting for the report. */
static size_t fmt_uint(char *out, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(tmp));
	while (n)
		out[i++] = tmp[--n];
	return i;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	char msg[128];
	size_t n = 0;
	const char *a = "mote: seccomp: ", *b = " thread made forbidden system call ",
		   *c = class_names[thread_class];
	memcpy(msg + n, a, strlen(a)), n += strlen(a);
	memcpy(msg + n, c, strlen(c)), n += strlen(c);
	memcpy(msg + n, b, strlen(b)), n += strlen(b);
	n += fmt_uint(msg + n, (unsigned long)si->si_syscall);
	msg[n++] = '\n';
	if (violation_hook)
		violation_hook();
	ssize_t w = write(STDERR_FILENO, msg, n);
	(void)w;
	_exit(MOTE_EXIT_INTERNAL);
}

/* One argument comparison, every field named (libseccomp's SCMP_Ax macros leave datum_b out). */
static int allow_if(scmp_filter_ctx f, int nr, unsigned arg, enum scmp_compare op, uint64_t a,
		    uint64_t b)
{
	const struct scmp_arg_cmp c = {.arg = arg, .op = op, .datum_a = a, .datum_b = b};
	return seccomp_rule_add_array(f, SCMP_ACT_ALLOW, nr, 1, &c);
}

static int add_rule(scmp_filter_ctx f, const struct rule *r)
{
	switch (r->cond) {
	case COND_ARG0_EQ:
		return allow_if(f, r->nr, 0, SCMP_CMP_EQ, r->val, 0);
	case COND_ARG0_SELF:
		return allow_if(f, r->nr, 0, SCMP_CMP_EQ, (uint64_t)getpid(), 0);
	case COND_ARG1_EQ:
		return allow_if(f, r->nr, 1, SCMP_CMP_EQ, r->val, 0);
	case COND_NO_EXEC_ARG2:
		return allow_if(f, r->nr, 2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	case COND_THREAD_ARG0:
		return allow_if(f, r->nr, 0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	default:
		return seccomp_rule_add(f, SCMP_ACT_ALLOW, r->nr, 0);
	}
}

/* Adds a rule table; stops at the first failure (r stays non-zero). */
static int add_rules(scmp_filter_ctx f, const struct rule *r, size_t n)
{
	int e = 0;
	for (size_t i = 0; i < n && e == 0; i++)
		e = add_rule(f, &r[i]);
	return e;
}

#define NRULES(t) (sizeof(t) / sizeof((t)[0]))

int sandbox_enter(enum sandbox_class c, const unsigned long *ioctls, size_t nioctls, char *err,
		  size_t errlen)
{
	return sandbox_enter_extra(c, 0, ioctls, nioctls, err, errlen);
}

int sandbox_enter_extra(enum sandbox_class c, unsigned extras, const unsigned long *ioctls,
			size_t nioctls, char *err, size_t errlen)
{
	if (!sandbox_enabled())
		return 0;
	static const struct {
		const struct rule *r;
		size_t n;
	} lists[] = {
		[SANDBOX_PROCESS] = {process_rules, sizeof(process_rules) / sizeof(process_rules[0])},
		[SANDBOX_VCPU] = {vcpu_rules, sizeof(vcpu_rules) / sizeof(vcpu_rules[0])},
		[SANDBOX_IO] = {io_rules, sizeof(io_rules) / sizeof(io_rules[0])},
		[SANDBOX_HVT] = {hvt_rules, sizeof(hvt_rules) / sizeof(hvt_rules[0])},
		[SANDBOX_PROCESS_API] = {process_rules, sizeof(process_rules) / sizeof(process_rules[0])},
	};
	bool process = c == SANDBOX_PROCESS || c == SANDBOX_PROCESS_API;
	if ((unsigned)c >= sizeof(lists) / sizeof(lists[0]))
		return err_set(err, errlen, "seccomp: unknown thread class %d", (int)c);
	if (process) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return err_set(err, errlen, "seccomp: SIGSYS handler: %s", strerror(errno));
		/* seccomp without CAP_SYS_ADMIN requires it; it also stops set-uid gains. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return err_set(err, errlen, "seccomp: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	}
	scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
	if (!f)
		return err_set(err, errlen, "seccomp: cannot create a filter");
	int r = 0;
	for (size_t i = 0; i < lists[c].n && r == 0; i++)
		r = add_rule(f, &lists[c].r[i]);
	for (size_t i = 0; c == SANDBOX_PROCESS_API && i < sizeof(api_rules) / sizeof(api_rules[0]) && r == 0; i++)
		r = add_rule(f, &api_rules[i]);
	bool unix_socks = (extras & SANDBOX_X_UNIX_SOCKETS) && (process || c == SANDBOX_IO);
	if (r == 0 && unix_socks)
		r = add_rules(f, unix_socket_rules, NRULES(unix_socket_rules));
	if (r == 0 && unix_socks && process)
		r = add_rules(f, unix_socket_process_rules, NRULES(unix_socket_process_rules));
	for (size_t i = 0; i < nioctls && r == 0; i++)
		r = allow_if(f, SCMP_SYS(ioctl), 1, SCMP_CMP_EQ, ioctls[i], 0);
	/* glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH), and stdio calls it to size a
	 * stream's buffer; but AT_EMPTY_PATH allows an empty path, it does not require one, and
	 * a filter cannot read the path: every class refuses it (EACCES, the kernel looks up
	 * nothing; stdio then takes its default buffer). mote's code calls sandbox_fstat. */
	if (r == 0)
		r = seccomp_rule_add(f, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(newfstatat), 0);
	/* glibc tries clone3 first; ENOSYS makes it use clone, whose flags the filter can see. */
	if (r == 0 && process)
		r = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r == 0 && process)
		r = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r == 0) /* set once above, inherited: the narrower filters must not need prctl */
		r = seccomp_attr_set(f, SCMP_FLTATR_CTL_NNP, 0);
	if (r == 0)
		r = seccomp_load(f);
	seccomp_release(f);
	if (r < 0)
		return err_set(err, errlen, "seccomp: cannot load the %s filter: %s", class_names[c],
			       strerror(-r));
	thread_class = c;
	/* The proof that the filters are in force in mote's real threads: with
	 * MOTE_SANDBOX_SELFTEST=<class name>, each thread of that class makes one forbidden call
	 * right after entering (tests/integration/sandbox.sh expects the report and status 10). */
	const char *t = secure_getenv("MOTE_SANDBOX_SELFTEST");
	if (t && strcmp(t, class_names[c]) == 0)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	return 0;
}
