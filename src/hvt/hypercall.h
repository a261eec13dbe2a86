/* The hvt hypercalls: walltime, puts, poll, block read/write, net read/write, halt.
 * Owns: the per-VM monitor state (struct hvt: the manifest, the attached backends) and one
 * handler per hypercall. Every argument struct is copied out of guest memory through the gate,
 * checked, and only output fields are written back. A guest-supplied pointer or length that
 * is not wholly in the unikernel's memory (or that the tender would write and that reaches
 * into the tender's area or the read-only text), an unknown hypercall number or a malformed
 * exit ends the VM (stop request, MOTE_EXIT_GUEST_FAULT, one message in solo5-hvt's words:
 * "Invalid guest access", "Invalid guest hypercall", "Invalid guest port access", "KVM:
 * host/guest translation fault"); a bad handle or a block request that is misaligned or
 * beyond the capacity returns SOLO5_R_EINVAL to the guest. No KVM here: the handlers run on
 * the vCPU thread from the bus callbacks below, and are unit-testable. */
#ifndef MOTE_HVT_HYPERCALL_H
#define MOTE_HVT_HYPERCALL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backends/blk.h"
#include "backends/net.h"
#include "core/bus.h"
#include "core/guest_mem.h"
#include "core/stop.h"
#include "hvt/mft.h"

struct hvt_device {
	struct blk_backend blk; /* BLOCK_BASIC, when attached */
	struct net_backend net; /* NET_BASIC, when attached */
	pthread_mutex_t net_lock; /* around net send/recv: the vCPU's hypercalls and the net
				     ring's thread may both drive the backend (zeroed = ready) */
};

struct hvt {
	const struct guest_mem *gm;
	struct vm_stop *stop;
	const struct hvt_mft *mft;           /* checked; attached entries have a backend */
	int out_fd;                          /* where puts writes (stdout) */
	uint64_t mem_limit;                  /* the unikernel's memory is [0, mem_limit) (its
						boot info's mem_size; 0: all of gm); the net ring
						block above it is not its to pass to hypercalls */
	const struct gm_region *ro;          /* read-only ranges (text, rodata), sorted: the */
	size_t nro;                          /* tender never writes there for the guest */
	int sig_fd;                          /* stop signals (signalfd, -1: none): poll wakes */
	uint64_t (*rip)(void *ctx);          /* the vCPU's rip, for messages (may be NULL) */
	void *rip_ctx;
	bool halted;                         /* the unikernel halted: the stop status is its own */
	uint64_t hypercalls;                 /* handled, for -v statistics */
	uint64_t bytes_read, bytes_written;  /* block */
	struct hvt_device dev[MFT_MAX_ENTRIES]; /* indexed like the manifest (the handle); last:
						   a run touches only the entries it uses */
};

/* Performs hypercall nr (1..HVT_HYPERCALL_MAX-1) whose argument struct is at guest-physical
 * gpa. Returns 0 when the guest continues, -1 after requesting the stop (halt, or a guest
 * error that ends the VM). */
int hvt_hypercall(struct hvt *h, unsigned nr, uint64_t gpa);

/* Host pointer for the guest range [gpa, gpa + len) the tender reads (out false) or writes
 * (out true), or NULL after ending the VM ("Invalid guest access: gpa=..., sz=..." and what
 * the range is for). Shared with the net ring, whose buffers follow the same rules. */
void *hvt_guest_range(struct hvt *h, const char *what, uint64_t gpa, uint64_t len, bool out);
/* The same with the message's noun in two parts ("block read", " buffer"): nothing is formatted
 * unless the range is refused. */
void *hvt_guest_range2(struct hvt *h, const char *what, const char *kind, uint64_t gpa,
		       uint64_t len, bool out);

/* The attached device of the given type at a guest handle, or NULL (a hostile handle). */
struct hvt_device *hvt_attached(struct hvt *h, uint64_t handle, uint32_t type);

/* Reads one pending stop signal from h->sig_fd, if any, and requests the stop (status
 * MOTE_EXIT_USER, "Exiting on signal N" as solo5-hvt says). */
void hvt_take_signal(struct hvt *h);

/* Bus callbacks for the whole port space and the whole MMIO space (dev = struct hvt): the
 * hypercall ports and the MMIO hypercall window dispatch to hvt_hypercall; every other access
 * ends the VM with a message naming it. */
extern const struct bus_ops hvt_pio_ops;
extern const struct bus_ops hvt_mmio_ops;
#define HVT_PIO_SPACE 0x10000ull
#define HVT_MMIO_SPACE (1ull << 52)

#endif
