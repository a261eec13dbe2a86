/* The KVM layer: the only code that talks to /dev/kvm (and the only includer of <linux/kvm.h>).
 * Owns: the system and VM file descriptors, memory slots, the in-kernel irqchip and PIT,
 * vCPU fds, their run pages and threads. It decodes each exit into a plain struct exit_info
 * and hands it to core/exit; it knows no device. */
#ifndef MOTE_KVM_KVM_H
#define MOTE_KVM_KVM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpuid.h"
#include "boot/boot.h"
#include "core/exit.h"
#include "core/guest_mem.h"

struct kvm_run;
struct kvm_cpuid2;

struct kvm {
	int sys_fd;
	int vm_fd;
	size_t run_size;               /* bytes of each vCPU's shared run page(s) */
	unsigned max_vcpus;
	struct kvm_cpuid2 *supported;  /* KVM_GET_SUPPORTED_CPUID, fetched once */
};

/* Opens /dev/kvm and checks the API version and every capability mote relies on.
 * Returns 0, or -1 with a one-line reason (what is missing and what to do) in err. */
int kvm_open(struct kvm *k, char *err, size_t errlen);

/* Creates the VM: TSS and identity-map addresses, in-kernel irqchip, the in-kernel PIT when
 * `pit`, and one memory slot per guest RAM region. Returns 0, or -1 with err set. */
int kvm_create_vm(struct kvm *k, const struct guest_mem *gm, bool pit, char *err, size_t errlen);

/* The same without interrupt controller or PIT (Solo5 hvt unikernels take no interrupts): a
 * guest's HLT then exits to mote instead of sleeping in the kernel forever. Nor the real-mode
 * helper pages: the guest starts in long mode, and its RAM may reach 4 GiB. */
int kvm_create_vm_bare(struct kvm *k, const struct guest_mem *gm, char *err, size_t errlen);

void kvm_close(struct kvm *k);

/* Sets the level of an interrupt line (GSI) on the in-kernel irqchip; an irq_line callback. */
void kvm_irq_set(void *kvm, unsigned gsi, int level);
/* kvm_irq_set's ioctl request, for the seccomp lists of the threads that raise a line. */
extern const unsigned long kvm_irq_line_ioctl;

/* A guest MMIO write of `len` bytes equal to `datamatch` at `addr` signals eventfd `fd` inside
 * the kernel instead of exiting to userspace. Returns 0, or -1 with err set. */
int kvm_add_ioeventfd(struct kvm *k, uint64_t addr, uint32_t len, uint64_t datamatch, int fd,
		      char *err, size_t errlen);

/* A guest port write of `len` bytes (any value) to `port` signals eventfd `fd` inside the
 * kernel instead of exiting to userspace. Returns 0, or -1 with err set. */
int kvm_add_pio_eventfd(struct kvm *k, uint16_t port, uint32_t len, int fd, char *err,
			size_t errlen);

/* Each write to eventfd `fd` injects one edge on `gsi`. Returns 0, or -1 with err set. */
int kvm_add_irqfd(struct kvm *k, unsigned gsi, int fd, char *err, size_t errlen);

struct vcpu {
	struct kvm *kvm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct exit_ctx ctx;
	uint64_t exits; /* exits handled, for --verbose statistics */
	bool hvt;       /* set before vcpu_start: Solo5 hypercalls run on this thread, so it
			   enters the SANDBOX_HVT allowlist instead of SANDBOX_VCPU, and fatal
			   exits are reported in solo5-hvt's words */
	bool here;      /* runs on the thread that called vcpu_run_here (thread = that one) */
	void (*on_intr)(void *arg); /* vcpu_run_here: KVM_RUN ended by a signal */
	void *intr_arg;
	/* Exits by kind (index: enum exit_kind), read by other threads for metrics. */
	atomic_ullong exits_by_kind[EXIT_UNKNOWN + 1];
	/* EXIT_IO and EXIT_MMIO split by direction: [mmio][is_write] (Firecracker's
	 * exit_io_in/out, exit_mmio_read/write). */
	atomic_ullong exits_rw[2][2];
	/* Pause (the API's PATCH /vm): pause_lock guards parked/done and the waits on pause_cond;
	 * pause_req is also read without the lock at the top of each KVM_RUN round. */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_req;
	bool parked; /* the thread waits in vcpu_park, outside KVM_RUN */
	bool done;   /* the thread has left its loop */
	/* A debugger (kvm/debug.h): on_debug(debug_arg) runs on this thread after each
	 * KVM_EXIT_DEBUG, recorded in dbg under pause_lock; NULL: such an exit is fatal. */
	void (*on_debug)(void *arg);
	void *debug_arg;
	struct {
		bool pending;       /* an exit the debugger has not taken yet */
		uint32_t exception; /* 1 (#DB) or 3 (#BP) */
		uint64_t pc, dr6;
	} dbg;
};

/* Creates vCPU `id` of `ncpus` with the filtered CPUID and boot MSRs. */
int vcpu_create(struct vcpu *v, struct kvm *k, unsigned id, unsigned ncpus,
		const struct cpuid_hide *hide, const struct exit_ctx *ctx, char *err, size_t errlen);

/* Puts the boot vCPU into the state a loader asked for (e.g. PVH 32-bit entry). */
int vcpu_set_boot_state(struct vcpu *v, const struct boot_entry *b, char *err, size_t errlen);

/* The vCPU's TSC frequency in Hz (KVM_GET_TSC_KHZ), or -1 when KVM cannot tell. */
int64_t vcpu_tsc_hz(struct vcpu *v);

/* Starts the vCPU thread (KVM_RUN loop until a stop is requested). The calling thread must
 * have the VM's control signals blocked; the vCPU thread unblocks only its kick signal. */
int vcpu_start(struct vcpu *v);

/* Runs the vCPU's KVM_RUN loop on the calling thread until a stop is requested, in its
 * thread class's allowlist (the hvt monitor: its only vCPU needs no thread of its own). The
 * caller has SIGINT, SIGTERM and SIGHUP blocked (stop_signal_fd); inside KVM_RUN only they
 * are unblocked (KVM_SET_SIGNAL_MASK), so a pending one ends KVM_RUN with EINTR, stays
 * pending, and on_intr(arg) turns it into a stop (it reads the signalfd). Returns 0, or -1
 * with err set when the loop could not start. */
int vcpu_run_here(struct vcpu *v, void (*on_intr)(void *arg), void *arg, char *err,
		  size_t errlen);

/* The guest's rip (KVM_GET_REGS), or 0 when it cannot be read; for messages. */
uint64_t vcpu_rip(struct vcpu *v);

/* Makes a running vCPU leave KVM_RUN soon (immediate_exit + a signal); safe from any thread. */
void vcpu_kick(struct vcpu *v);

/* Pause: vcpu_pause asks the thread to leave KVM_RUN (a kick) and park; vcpu_wait_parked waits
 * until it has (or has ended, or was never started), up to timeout_ms, and returns 0 or -1 on
 * timeout; vcpu_resume lets it run again. Any thread may call them, never the vCPU itself. */
void vcpu_pause(struct vcpu *v);
int vcpu_wait_parked(struct vcpu *v, unsigned timeout_ms);
void vcpu_resume(struct vcpu *v);

/* Joins the thread (if started) and releases the fd and run page. */
void vcpu_destroy(struct vcpu *v);

/* Installs the process-wide handler for the kick signal; call once before vcpu_start. */
int vcpu_signals_init(void);

/* Prints the vCPU's registers (one block on stderr), for fatal exits. */
void vcpu_dump_regs(struct vcpu *v);

#endif
