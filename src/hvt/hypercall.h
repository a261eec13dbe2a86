/* The hvt hypercalls: walltime, puts, poll, block read/write, net read/write, halt.
 * Owns: the per-VM monitor state (struct hvt: the manifest, the attached backends) and one
 * handler per hypercall. Every argument struct is copied out of guest memory through the gate,
 * checked, and only output fields are written back. A guest-supplied pointer or length that
 * is not wholly in guest RAM, an unknown hypercall number or a malformed exit ends the VM
 * (stop request, MOTE_EXIT_GUEST_FAULT, one message); a bad handle or a block request that is
 * misaligned or beyond the capacity returns SOLO5_R_EINVAL to the guest. No KVM here: the
 * handlers run on the vCPU thread from the bus callbacks below, and are unit-testable. */
#ifndef MOTE_HVT_HYPERCALL_H
#define MOTE_HVT_HYPERCALL_H

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
};

struct hvt {
	const struct guest_mem *gm;
	struct vm_stop *stop;
	const struct hvt_mft *mft;           /* checked; attached entries have a backend */
	struct hvt_device dev[MFT_MAX_ENTRIES]; /* indexed like the manifest (the handle) */
	int out_fd;                          /* where puts writes (stdout) */
	uint64_t hypercalls;                 /* handled, for -v statistics */
	uint64_t bytes_read, bytes_written;  /* block */
};

/* Performs hypercall nr (1..HVT_HYPERCALL_MAX-1) whose argument struct is at guest-physical
 * gpa. Returns 0 when the guest continues, -1 after requesting the stop (halt, or a guest
 * error that ends the VM). */
int hvt_hypercall(struct hvt *h, unsigned nr, uint64_t gpa);

/* Bus callbacks for the whole port space and the whole MMIO space (dev = struct hvt): the
 * hypercall ports and the MMIO hypercall window dispatch to hvt_hypercall; every other access
 * ends the VM with a message naming it. */
extern const struct bus_ops hvt_pio_ops;
extern const struct bus_ops hvt_mmio_ops;
#define HVT_PIO_SPACE 0x10000ull
#define HVT_MMIO_SPACE (1ull << 52)

#endif
