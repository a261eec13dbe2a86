/* seccomp allowlists, one table per thread class, compiled to BPF at build time. Each entry
 * says why the class needs it; a new syscall in a thread class needs a new line in its table,
 * with its reason (`make` regenerates the filters), and make check shows when it is missing
 * ("forbidden system call N": `ausyscall N` or /usr/include/asm/unistd_64.h names it).
 * tools/seccomp_gen.c includes this file with SANDBOX_GEN defined (the tables only) and writes
 * build/gen/seccomp_bpf.h; the run-time part below (not compiled into the generator) installs
 * those programs with seccomp(2), no libseccomp. */
#ifndef SANDBOX_GEN
#include "core/sandbox.h"
#endif

#include <errno.h>
#include <fcntl.h> /* FALLOC_FL_* */
#include <linux/falloc.h>
#include <sched.h> /* CLONE_THREAD */
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
#include <linux/fs.h> /* BLKGETSIZE64, BLKSSZGET */

#ifdef SANDBOX_GEN
#define NO_ARG 0

/* An allowlist entry: a syscall, optionally one argument condition, and why. */
struct rule {
	int nr;
	int cond;           /* NO_ARG, or COND_* below */
	uint64_t val;
	const char *why;
};

enum { COND_NONE = NO_ARG, COND_ARG0_EQ, COND_ARG0_SELF, COND_ARG1_EQ, COND_NO_EXEC_ARG2, COND_THREAD_ARG0 };

#define R(name, why) {__NR_##name, COND_NONE, 0, why}
#define RA(name, cond, val, why) {__NR_##name, cond, val, why}

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
	R(io_uring_register, "teardown unregisters a disk ring's file, PATCH /drives updates its "
			     "slot (the only register ops the restricted ring takes)"),
	R(close, "teardown"),
	R(timerfd_settime, "rate limiters: the I/O thread arms a throttled queue's wake-up; "
			  "PATCH /balloon/statistics re-arms the balloon's statistics timer"),
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
	R(time, "libmicrohttpd's clock: its libc.so, dlopen()ed by the static mote, has no vDSO"),
	R(gettimeofday, "same"),
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
	RA(setsockopt, COND_ARG1_EQ, SOL_SOCKET, "vsock: SO_SNDBUF on mote's end of a stream "
	   "(socket-level options only)"),
};

/* SANDBOX_X_UNIX_SOCKETS, process list only: the device's socket is removed at exit. */
static const struct rule unix_socket_process_rules[] = {
	R(unlink, "vsock: the device's listening socket is removed at exit"),
};

/* SANDBOX_X_BALLOON, process list and I/O thread: pages the guest gives back are released
 * (gm_discard; anonymous RAM uses madvise, which every thread has). */
static const struct rule balloon_rules[] = {
	RA(fallocate, COND_ARG1_EQ, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
	   "balloon: punch a hole in guest RAM's memfd (inflated or reported pages); no other mode"),
};

static const struct rule vcpu_rules[] = {
	LIBC_RULES,
	/* + the ioctl requests the caller passes (the KVM layer knows which it issues) */
	RA(ioctl, COND_ARG1_EQ, TCSETSF, "terminal restore when this thread ends mote"),
	RA(ioctl, COND_ARG1_EQ, TCGETS, "same: glibc's tcsetattr reads the attributes first"),
	R(read, "device reads through eventfds"),
	R(write, "console output, eventfd kicks, log"), R(writev, "log"),
	R(io_uring_enter, "a virtio-blk reset (a register write) waits for its disk requests in "
			  "flight; a short one is finished through the ring, never with preadv"),
};

static const struct rule io_rules[] = {
	LIBC_RULES,
	RA(ioctl, COND_ARG1_EQ, TCSETSF, "terminal restore when this thread ends mote"),
	RA(ioctl, COND_ARG1_EQ, TCGETS, "same: glibc's tcsetattr reads the attributes first"),
	R(read, "eventfds"), R(readv, "frames"),
	R(pread64, "disk reads"), R(preadv, "disk reads"), R(preadv2, "disk reads"),
	R(write, "eventfds, console output, log"), R(writev, "frames, log"),
	R(pwrite64, "disk writes"), R(pwritev, "disk writes"), R(pwritev2, "disk writes"),
	R(fsync, "virtio-blk flush"), R(fdatasync, "virtio-blk flush"),
	R(epoll_wait, "the loop"), R(epoll_pwait, "the loop"), R(epoll_ctl, "back-pressure"),
	R(getrandom, "virtio-rng"),
	R(io_uring_enter, "asynchronous disk I/O; a tap's transmit batches (backends/net_tap.c)"),
	R(timerfd_settime, "rate limiters: a throttled queue's wake-up (vmm/attach_rl.c)"),
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

/* The main thread once every other thread runs (issue 19, item 4): its loop, then teardown.
 * + the ioctl requests main.c passes (KVM_IRQ_LINE: console input raises COM1's line;
 * vhost-net's stop at teardown). What only some modes need (unlink, shutdown) is also in
 * that mode's process list: the two filters stack. */
static const struct rule main_rules[] = {
	LIBC_RULES,
	RA(ioctl, COND_ARG1_EQ, TCSETSF, "terminal restore at exit"),
	RA(ioctl, COND_ARG1_EQ, TCGETS, "same: glibc's tcsetattr reads the attributes first"),
	R(poll, "the run loop: stop request, signals, console input"), R(ppoll, "same"),
	R(read, "signalfd, console input, eventfds"),
	R(write, "console output, eventfd kicks, log"), R(writev, "log"),
	R(close, "teardown"),
	R(io_uring_enter, "teardown waits for each disk's requests in flight"),
	R(io_uring_register, "a disk ring's (and a tap ring's) file unregistered at close"),
	R(fsync, "flush at exit"), R(fdatasync, "flush at exit"),
	R(unlink, "the API socket and the vsock socket removed at exit (process list: those "
		  "modes only)"),
	R(unlinkat, "same"),
	R(shutdown, "libmicrohttpd's stop closes the listening socket (API mode only)"),
	R(epoll_ctl, "libmicrohttpd's stop takes its open connections out of its epoll set"),
	R(timerfd_settime, "vsock's teardown disarms its deadline timer (process list: vsock "
			   "mode only)"),
};

/* The API's metrics thread: it waits on a condition variable and writes a line. */
static const struct rule metrics_rules[] = {
	LIBC_RULES,
	RA(ioctl, COND_ARG1_EQ, TCSETSF, "terminal restore when this thread ends mote"),
	RA(ioctl, COND_ARG1_EQ, TCGETS, "same: glibc's tcsetattr reads the attributes first"),
	R(write, "the metrics line, log"), R(writev, "log"),
};

/* The API's HTTP thread (libmicrohttpd's own) once the VM runs: its connections, and what
 * the requests served after the boot do (docs/api.md). + the ioctl requests passed by the API
 * (KVM_IRQ_LINE: SendCtrlAltDel raises the keyboard's line; the KVM_GET_* requests of
 * PUT /snapshot/create, listed in kvm/state.c). */
static const struct rule api_thread_rules[] = {
	LIBC_RULES,
	RA(ioctl, COND_ARG1_EQ, TCSETSF, "terminal restore when this thread ends mote"),
	RA(ioctl, COND_ARG1_EQ, TCGETS, "same: glibc's tcsetattr reads the attributes first"),
	RA(ioctl, COND_ARG1_EQ, BLKGETSIZE64, "PATCH /drives: the size of a block device"),
	RA(ioctl, COND_ARG1_EQ, BLKSSZGET, "PATCH /drives: the block size of a block device"),
	R(read, "libmicrohttpd's wake-up eventfd"), R(write, "its wake-up eventfd, log, "
							    "FlushMetrics"),
	R(writev, "log"),
	R(epoll_wait, "libmicrohttpd's loop"), R(epoll_pwait, "same"), R(epoll_ctl, "same"),
	R(poll, "same (when it polls)"), R(ppoll, "same"),
	R(accept4, "a new client on the Unix socket"),
	R(recvfrom, "requests"), R(recvmsg, "requests"),
	R(sendto, "responses"), R(sendmsg, "responses"),
	R(shutdown, "closing a connection"), R(close, "a connection ends; the old log file"),
	R(openat, "PUT /logger and /metrics open their file, PATCH /drives the new disk image"),
	R(flock, "PATCH /drives locks the new disk image as --disk does"),
	R(fsync, "PATCH /drives flushes the old disk"), R(fdatasync, "same"),
	R(io_uring_enter, "PATCH /drives on an Async drive waits for its requests in flight"),
	R(io_uring_register, "PATCH /drives on an Async drive: the ring's one file slot updated"),
	R(timerfd_settime, "PATCH of rate limits re-arms a device's wake-up; PATCH "
			   "/balloon/statistics the statistics timer"),
	R(pwrite64, "PUT /snapshot/create writes the state and memory files"),
	R(ftruncate, "PUT /snapshot/create sizes the memory file (sparse: holes stay holes)"),
	R(lseek, "PUT /snapshot/create finds guest RAM's data in its memfd (SEEK_DATA/SEEK_HOLE)"),
	R(unlink, "PUT /snapshot/create removes both files when it fails"), R(unlinkat, "same"),
	R(time, "libmicrohttpd's clock: its libc.so, dlopen()ed by the static mote, has no vDSO"),
	R(gettimeofday, "same"),
};

/* SANDBOX_GDB: the debugger's thread (src/gdb/server.c). The connection was accepted before
 * the sandbox; vCPU registers and debug controls go through the ioctls kvm/debug.c passes. */
static const struct rule gdb_rules[] = {
	LIBC_RULES,
	R(read, "gdb's packets, the wake-up eventfd, the stop signals (hvt)"),
	R(write, "replies to gdb, log"), R(writev, "log"),
	R(poll, "the connection and the wake-up eventfd"), R(ppoll, "same"),
	R(close, "the connection when gdb detaches or the VM ends"),
};

/* Every table, for the generator (each becomes gen_<table> in build/gen/seccomp_bpf.h). */
#define SANDBOX_TABLES(X)                                                                  \
	X(process_rules) X(api_rules) X(unix_socket_rules) X(unix_socket_process_rules)    \
	X(balloon_rules) X(vcpu_rules) X(io_rules) X(hvt_rules) X(main_rules) X(metrics_rules) \
	X(api_thread_rules) X(gdb_rules)
#endif /* SANDBOX_GEN */

#ifndef SANDBOX_GEN
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include "core/log.h"
#include "core/status.h"
#include "seccomp_bpf.h" /* build/gen, from tools/seccomp_gen.c */

static const char *const class_names[] = {"process", "vCPU", "I/O", "hvt vCPU", "process",
					  "main", "metrics", "API", "gdb"};

static void (*violation_hook)(void);
static void on_enter_signal(int sig, siginfo_t *si, void *uc);

/* The proof that the filters are in force in mote's real threads: with
 * MOTE_SANDBOX_SELFTEST=<class name>, each thread of that class makes one forbidden call
 * right after entering, socket(AF_INET); with <class name>:ioctl, an ioctl its list lacks,
 * TIOCSTI on no descriptor (tests/integration/sandbox.sh expects the report and status 10). */
enum selftest { SELFTEST_NONE, SELFTEST_SOCKET, SELFTEST_IOCTL };
static enum selftest selftest_wanted(enum sandbox_class c)
{
	const char *t = secure_getenv("MOTE_SANDBOX_SELFTEST");
	size_t n = strlen(class_names[c]);
	if (!t || strncmp(t, class_names[c], n) != 0)
		return SELFTEST_NONE;
	return t[n] == '\0' ? SELFTEST_SOCKET : strcmp(t + n, ":ioctl") == 0 ? SELFTEST_IOCTL
									 : SELFTEST_NONE;
}

/* The forbidden call of a self-test (async-signal-safe). */
static void selftest_run(enum selftest t)
{
	if (t == SELFTEST_SOCKET)
		syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	else if (t == SELFTEST_IOCTL)
		syscall(SYS_ioctl, -1, TIOCSTI, "x");
}

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

/* A filter being put together from the generated fragments, on the caller's stack (8 KiB;
 * mote's largest filter is about 200 instructions). */
#define PROG_MAX 1024
#define IOCTLS_MAX 128
struct prog {
	struct sock_filter insn[PROG_MAX];
	unsigned n;
};

/* sandbox_enter_thread's request: the program, and the target's answer. */
static struct {
	struct prog p;
	struct sock_fprog fp;
	enum sandbox_class c;
	enum selftest selftest;
	bool probe;        /* sandbox_probe_thread: the target only tells its id */
	atomic_int result; /* 0 or errno, set by the target; the id when probing */
	sem_t done;
	bool ready;        /* the handler and the semaphore are set up */
} remote;

/* SANDBOX_SIGNAL's handler and the semaphore, once (before the sandbox: rt_sigaction). */
static int remote_init(void)
{
	if (remote.ready)
		return 0;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_enter_signal; /* no SA_RESTART: the target's wait returns EINTR */
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sem_init(&remote.done, 0, 0) < 0 || sigaction(SANDBOX_SIGNAL, &sa, NULL) < 0)
		return -1;
	remote.ready = true;
	return 0;
}

/* Appends fragment b, with the process id in the instructions it lists. -1 when full. */
static int prog_add(struct prog *p, const struct sandbox_bpf *b)
{
	if (b->n > PROG_MAX - p->n)
		return -1;
	memcpy(p->insn + p->n, b->insn, b->n * sizeof(b->insn[0]));
	for (unsigned i = 0; i < b->npid; i++)
		p->insn[p->n + b->pid[i]].k = (uint32_t)getpid();
	p->n += b->n;
	return 0;
}

/* Appends "ioctl with one of the requests ioctls[0..n) is allowed" (the request compared on
 * all 64 bits, as the generated rules do). The only BPF assembled at run time: the numbers
 * come from the module that issues them. */
static int prog_add_ioctls(struct prog *p, const unsigned long *ioctls, size_t n)
{
	if (n == 0)
		return 0;
	if (n > IOCTLS_MAX || n + 7 > PROG_MAX - p->n)
		return -1;
	struct sock_filter *f = p->insn + p->n;
	unsigned k = 0;
	uint8_t m = (uint8_t)n;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, m + 5);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[1]) + 4);
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, m + 3);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, args[1]));
	for (size_t i = 0; i < n; i++) {
		if (ioctls[i] > UINT32_MAX)
			return -1;
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ioctls[i],
						      (uint8_t)(n - i), 0);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_JMP | BPF_JA, 1);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	p->n += k;
	return 0;
}

/* Class c's filter with the extras and ioctls asked for. -1 when it would not fit. */
static int prog_build(struct prog *p, enum sandbox_class c, unsigned extras,
		      const unsigned long *ioctls, size_t nioctls)
{
	static const struct sandbox_bpf *const lists[] = {
		[SANDBOX_PROCESS] = &gen_process_rules,
		[SANDBOX_VCPU] = &gen_vcpu_rules,
		[SANDBOX_IO] = &gen_io_rules,
		[SANDBOX_HVT] = &gen_hvt_rules,
		[SANDBOX_PROCESS_API] = &gen_process_rules,
		[SANDBOX_MAIN] = &gen_main_rules,
		[SANDBOX_METRICS] = &gen_metrics_rules,
		[SANDBOX_API] = &gen_api_thread_rules,
		[SANDBOX_GDB] = &gen_gdb_rules,
	};
	bool process = c == SANDBOX_PROCESS || c == SANDBOX_PROCESS_API;
	bool unix_socks = (extras & SANDBOX_X_UNIX_SOCKETS) && (process || c == SANDBOX_IO);
	int r = prog_add(p, &gen_head) | prog_add(p, lists[c]);

	if (c == SANDBOX_PROCESS_API)
		r |= prog_add(p, &gen_api_rules);
	if (unix_socks)
		r |= prog_add(p, &gen_unix_socket_rules);
	if (unix_socks && process)
		r |= prog_add(p, &gen_unix_socket_process_rules);
	if ((extras & SANDBOX_X_BALLOON) && (process || c == SANDBOX_IO))
		r |= prog_add(p, &gen_balloon_rules);
	r |= prog_add_ioctls(p, ioctls, nioctls);
	/* glibc's fstat() is newfstatat(fd, "", AT_EMPTY_PATH), and stdio calls it to size a
	 * stream's buffer; but AT_EMPTY_PATH allows an empty path, it does not require one, and
	 * a filter cannot read the path: every class refuses it (EACCES, the kernel looks up
	 * nothing; stdio then takes its default buffer). mote's code calls sandbox_fstat.
	 * glibc tries clone3 first; ENOSYS makes it use clone, whose flags the filter can see. */
	r |= prog_add(p, process ? &gen_tail_process : &gen_tail);
	return r;
}

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
	bool process = c == SANDBOX_PROCESS || c == SANDBOX_PROCESS_API;
	if ((unsigned)c >= sizeof(class_names) / sizeof(class_names[0]))
		return err_set(err, errlen, "seccomp: unknown thread class %d", (int)c);
	if (process) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSYS, &sa, NULL) < 0)
			return err_set(err, errlen, "seccomp: SIGSYS handler: %s", strerror(errno));
		if (remote_init() < 0)
			return err_set(err, errlen, "seccomp: %s handler: %s", "SANDBOX_SIGNAL",
				       strerror(errno));
		/* seccomp without CAP_SYS_ADMIN requires it; it also stops set-uid gains. TSYNC
		 * gives it to every thread; threads created later inherit it. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return err_set(err, errlen, "seccomp: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	}
	struct prog p;
	p.n = 0;
	if (prog_build(&p, c, extras, ioctls, nioctls) != 0)
		return err_set(err, errlen, "seccomp: the %s filter does not fit (%zu ioctls)",
			       class_names[c], nioctls);
	struct sock_fprog fp = {.len = (unsigned short)p.n, .filter = p.insn};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			 process ? SECCOMP_FILTER_FLAG_TSYNC : 0, &fp);
	if (r > 0)
		return err_set(err, errlen, "seccomp: thread %ld could not take the %s filter", r,
			       class_names[c]);
	if (r < 0)
		return err_set(err, errlen, "seccomp: cannot load the %s filter: %s", class_names[c],
			       strerror(errno));
	thread_class = c;
	selftest_run(selftest_wanted(c));
	return 0;
}


/* SANDBOX_SIGNAL: the target thread installs the prepared filter on itself. */
static void on_enter_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	int saved = errno;
	pid_t self = (pid_t)syscall(SYS_gettid);
	if ((si->si_code != SI_TKILL && si->si_code != SI_USER) || si->si_pid != getpid())
		return; /* only mote's own requests */
	if (remote.probe) {
		if (self != getpid()) { /* the main thread asks; another answers */
			atomic_store(&remote.result, (int)self);
			sem_post(&remote.done);
		}
		errno = saved;
		return;
	}
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &remote.fp);
	atomic_store(&remote.result, r == 0 ? 0 : errno);
	if (r == 0)
		thread_class = remote.c;
	sem_post(&remote.done);
	if (r == 0) /* a self-test's report comes from this thread, in this handler */
		selftest_run(remote.selftest);
	errno = saved;
}

/* Waits up to a second for the target's answer: 0, or -1. */
static int remote_wait(void)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 1;
	int w;
	while ((w = sem_timedwait(&remote.done, &dl)) < 0 && errno == EINTR)
		;
	return w;
}

pid_t sandbox_probe_thread(void)
{
	sigset_t one, old;
	sigemptyset(&one);
	sigaddset(&one, SANDBOX_SIGNAL);
	if (remote_init() < 0 || pthread_sigmask(SIG_BLOCK, &one, &old) != 0)
		return -1;
	remote.probe = true;
	atomic_store(&remote.result, -1);
	int w = kill(getpid(), SANDBOX_SIGNAL) < 0 ? -1 : remote_wait();
	pid_t tid = w < 0 ? -1 : (pid_t)atomic_load(&remote.result);
	pthread_sigmask(SIG_SETMASK, &old, NULL); /* an unanswered probe lands here: ignored */
	remote.probe = false;
	return tid;
}

int sandbox_enter_thread(pid_t tid, enum sandbox_class c, const unsigned long *ioctls,
			 size_t nioctls, char *err, size_t errlen)
{
	if (!sandbox_enabled())
		return 0;
	if ((unsigned)c >= sizeof(class_names) / sizeof(class_names[0]) || c == SANDBOX_PROCESS ||
	    c == SANDBOX_PROCESS_API)
		return err_set(err, errlen, "seccomp: thread class %d cannot be given to a thread",
			       (int)c);
	remote.p.n = 0;
	if (prog_build(&remote.p, c, 0, ioctls, nioctls) != 0)
		return err_set(err, errlen, "seccomp: the %s filter does not fit", class_names[c]);
	remote.fp = (struct sock_fprog){.len = (unsigned short)remote.p.n, .filter = remote.p.insn};
	remote.c = c;
	remote.probe = false;
	remote.selftest = selftest_wanted(c);
	atomic_store(&remote.result, -1);
	if (syscall(SYS_tgkill, getpid(), tid, SANDBOX_SIGNAL) < 0)
		return err_set(err, errlen, "seccomp: thread %d for the %s filter: %s", (int)tid,
			       class_names[c], strerror(errno));
	int w = remote_wait();
	int res = atomic_load(&remote.result);
	if (w < 0 || res != 0)
		return err_set(err, errlen, "seccomp: thread %d did not take the %s filter: %s",
			       (int)tid, class_names[c], w < 0 ? "no answer" : strerror(res));
	return 0;
}


#endif /* !SANDBOX_GEN */
