/* KVM dirty-page logging, for Diff snapshots (docs/snapshot-devices.md).
 * Owns: turning KVM_MEM_LOG_DIRTY_PAGES on and off on the guest RAM slots (slot i = region i,
 * as kvm_create_vm made them), fetching and clearing KVM's per-slot bitmaps (KVM_GET_DIRTY_LOG,
 * then KVM_CLEAR_DIRTY_LOG when KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 is there), and the host-side
 * write tracking of guest_mem that goes with it (what mote's devices write into guest RAM
 * is not in KVM's log). Fills a struct dirty_log (core/dirty_log.h) by RAM offset. */
#ifndef MOTE_KVM_DIRTY_H
#define MOTE_KVM_DIRTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dirty_log.h"
#include "core/guest_mem.h"
#include "kvm/kvm.h"

struct kvm_dirty {
	bool on;
	bool manual;    /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: a fetch clears what it got */
	size_t nslots;
	uint64_t *slot_bits[GM_MAX_REGIONS]; /* scratch, one bitmap per slot */
	size_t slot_words[GM_MAX_REGIONS];
};

/* Starts logging: re-registers every RAM slot with KVM_MEM_LOG_DIRTY_PAGES and turns on
 * guest_mem's host-side tracking. From here every page either side writes is in the next
 * fetch. Before the sandbox (KVM_SET_USER_MEMORY_REGION and KVM_ENABLE_CAP are setup-time
 * ioctls); the VM not running, or paused. 0, or -1 with err set. */
int kvm_dirty_start(struct kvm_dirty *kd, struct kvm *k, struct guest_mem *gm, char *err,
		    size_t errlen);

/* Fetch-and-clear: ORs into out (dirty_log_init'ed for gm) every page written since the last
 * fetch (or the start), by the guest (KVM's bitmaps) or by mote (guest_mem's), and clears
 * both. The VM paused and its devices quiesced, so that nothing is written meanwhile. Needs
 * only KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG (allowed where the API thread runs). 0, or -1
 * with err set. */
int kvm_dirty_fetch(struct kvm_dirty *kd, struct kvm *k, const struct guest_mem *gm,
		    struct dirty_log *out, char *err, size_t errlen);

/* Stops logging (slots re-registered without the flag, host tracking off) and frees the
 * scratch. Setup-time ioctls, like start. 0, or -1 with err set (the scratch is freed anyway). */
int kvm_dirty_stop(struct kvm_dirty *kd, struct kvm *k, struct guest_mem *gm, char *err,
		   size_t errlen);

/* The ioctls kvm_dirty_fetch needs (KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG), for the seccomp
 * list of the thread that takes Diff snapshots (api/api_sandbox.c). */
extern const unsigned long kvm_dirty_fetch_ioctls[];
extern const size_t kvm_dirty_nfetch_ioctls;

#endif
