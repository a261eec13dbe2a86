/* Least privilege after setup: seccomp allowlists per thread class.
 * Owns: the allowlists (one table per class, a reason per entry) and the SIGSYS report.
 * Order (see main.c): every file, device and KVM descriptor is opened first; then the main
 * thread calls sandbox_enter(SANDBOX_PROCESS), which applies the process-wide list to every
 * thread that exists (TSYNC) and to every thread created later; then each vCPU thread and the
 * I/O thread add their own, narrower list on entry. Filters stack: a syscall must pass all.
 * A syscall outside the lists is not run: the thread's SIGSYS handler restores the terminal,
 * prints "mote: seccomp: <class> thread made forbidden system call N" and ends the process
 * with MOTE_EXIT_INTERNAL. MOTE_SANDBOX_SELFTEST=process|vCPU|I/O makes each thread of that
 * class make one forbidden call right after entering (the test that mote's threads are
 * really filtered). Building with -DMOTE_NO_SANDBOX (make build/mote-unsandboxed)
 * turns sandbox_enter into a warning for debugging. */
#ifndef MOTE_CORE_SANDBOX_H
#define MOTE_CORE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum sandbox_class {
	SANDBOX_PROCESS, /* all threads: the union of what any thread may do after setup */
	SANDBOX_VCPU,    /* KVM_RUN and exit handling (device registers, console output) */
	SANDBOX_IO,      /* the I/O thread: virtqueues and their backends */
	SANDBOX_HVT,     /* the vCPU thread of a Solo5 hvt unikernel: hypercalls do disk, tap
			    and console I/O and block in ppoll on that thread */
	SANDBOX_PROCESS_API, /* SANDBOX_PROCESS plus what the API server (--api-sock) needs after
				the boot: its connections, and the files PUT /logger, PUT /metrics
				and PATCH /drives open. Used instead of SANDBOX_PROCESS in API mode. */
	SANDBOX_GDB,     /* the GDB server's thread (--gdb-socket, --gdb-tcp): its one connection
			    and the vCPUs' debug ioctls (kvm/debug.c passes them) */
};

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
