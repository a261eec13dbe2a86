/* Least privilege after setup: seccomp allowlists per thread class.
 * Owns: the allowlists (one table per class, a reason per entry) and the SIGSYS report.
 * Order (see main.c): every file, device and KVM descriptor is opened first; then the main
 * thread calls sandbox_enter(SANDBOX_PROCESS), which applies the process-wide list to every
 * thread that exists (TSYNC) and to every thread created later; then each vCPU thread and the
 * I/O thread add their own, narrower list on entry. Filters stack: a syscall must pass all.
 * A syscall outside the lists is not run: the thread's SIGSYS handler restores the terminal,
 * prints "mote: seccomp: <class> thread made forbidden system call N" and ends the process
 * with MOTE_EXIT_INTERNAL. Once every thread exists, the main thread and the API's threads
 * (metrics, HTTP) take their own narrower lists too (sandbox_enter, sandbox_enter_thread): a
 * thread created after that inherits its creator's list, so create threads before.
 * MOTE_SANDBOX_SELFTEST=<class name> (process, vCPU, I/O, main, metrics, API; with
 * ":ioctl" appended, an ioctl the list lacks instead) makes each thread of that
 * class make one forbidden call right after entering (the test that mote's threads are
 * really filtered). Building with -DMOTE_NO_SANDBOX (make build/mote-unsandboxed)
 * turns sandbox_enter into a warning for debugging. */
#ifndef MOTE_CORE_SANDBOX_H
#define MOTE_CORE_SANDBOX_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sandbox_class {
	SANDBOX_PROCESS, /* all threads: the union of what any thread may do after setup */
	SANDBOX_VCPU,    /* KVM_RUN and exit handling (device registers, console output) */
	SANDBOX_IO,      /* the I/O thread: virtqueues and their backends */
	SANDBOX_HVT,     /* the vCPU thread of a Solo5 hvt unikernel: hypercalls do disk, tap
			    and console I/O and block in ppoll on that thread */
	SANDBOX_PROCESS_API, /* SANDBOX_PROCESS plus what the API server (--api-sock) needs after
				the boot: its connections, and the files PUT /logger, PUT /metrics
				and PATCH /drives open. Used instead of SANDBOX_PROCESS in API mode. */
	SANDBOX_MAIN,    /* the main thread once every thread runs: its poll loop (signals,
			    console input), then teardown (joins, flush at exit, closes, the
			    sockets removed) */
	SANDBOX_METRICS, /* the API's metrics thread: waits, renders and writes a line */
	SANDBOX_API,     /* the API's HTTP thread (libmicrohttpd's): connections and the
			    requests served after the boot */
	SANDBOX_GDB,     /* the GDB server's thread (--gdb-socket, --gdb-tcp): its one connection
			    and the vCPUs' debug ioctls (kvm/debug.c passes them) */
};

/* The signal sandbox_enter_thread sends (a real-time one; mote's vCPU kick is SIGRTMIN + 1).
 * Its handler is installed with the process list; the target must not block it. */
#define SANDBOX_SIGNAL (SIGRTMIN + 4)

/* Applies class c's list (with the ioctl requests given) to thread tid of this process, not
 * to the caller, for threads whose code mote does not run (libmicrohttpd's): the filter is
 * built here and the thread installs it itself in the SANDBOX_SIGNAL handler (one seccomp
 * call, async-signal-safe); the caller waits up to a second for that. After the process
 * list (sandbox_enter(SANDBOX_PROCESS...)). 0, or -1 with a reason in err. One caller at a
 * time. */
int sandbox_enter_thread(pid_t tid, enum sandbox_class c, const unsigned long *ioctls,
			 size_t nioctls, char *err, size_t errlen);

/* The id of the one thread of this process that does not block SANDBOX_SIGNAL, the caller
 * excepted (a library's thread mote did not create, e.g. libmicrohttpd's): a process-directed
 * SANDBOX_SIGNAL, answered from that thread. Before the sandbox. The id, or -1 when no thread
 * answered within a second. */
pid_t sandbox_probe_thread(void);

/* Applies class c's allowlist to the calling thread (SANDBOX_PROCESS: to every thread of the
 * process), plus the ioctl requests in ioctls[0..nioctls) (the module that issues them knows
 * them: kvm/vcpu.c passes KVM_RUN and the few others a vCPU thread needs). Returns 0, or -1
 * with a one-line reason in err. */
int sandbox_enter(enum sandbox_class c, const unsigned long *ioctls, size_t nioctls, char *err,
		  size_t errlen);

/* Rule sets a class adds on top of its list when a device needs them after setup, as a bit
 * set (the process list and the class lists of the threads that issue the calls). */
enum sandbox_extra {
	SANDBOX_X_UNIX_SOCKETS = 1u << 0, /* vsock: AF_UNIX sockets made, connected, accepted,
					     shut down and closed while the VM runs, a deadline
					     timer, the listening socket removed at exit (process
					     list and I/O thread) */
	SANDBOX_X_BALLOON = 1u << 8,      /* virtio-balloon: holes punched in guest RAM's memfd
					     (I/O thread), its statistics timer re-armed by
					     PATCH /balloon/statistics (API thread); process list
					     and I/O thread */
};

/* sandbox_enter plus the rule sets in extras (enum sandbox_extra bits). */
int sandbox_enter_extra(enum sandbox_class c, unsigned extras, const unsigned long *ioctls,
			size_t nioctls, char *err, size_t errlen);

/* fn runs in the SIGSYS handler before the report (async-signal-safe: terminal restore). */
void sandbox_on_violation(void (*fn)(void));

/* fstat(2) as the lists allow it (the fstat system call): use it instead of fstat(), which
 * glibc implements with newfstatat, refused in every class (it could stat any path). */
struct stat;
int sandbox_fstat(int fd, struct stat *st);

/* Whether this build enforces the sandbox (false for the debug build). */
bool sandbox_enabled(void);

#endif
