/* Snapshots of a whole microVM: a state file (format.h framing; docs/snapshot.md) and a
 * memory file (guest RAM as is). Owns: what goes into which section and in what order, the
 * checks a state file must pass before any VM is built from it, and the restore order (VM
 * irqchip/clock, vCPUs, legacy devices, virtio devices). Calls the KVM layer (kvm/state.h),
 * the legacy devices' and the virtio transport's save/load; knows no KVM structure itself.
 * Threads: snapshot_create runs on the API thread with every vCPU parked; snapshot_open and
 * snapshot_apply run before the restored VM's threads start (and before the sandbox). */
#ifndef MOTE_SNAPSHOT_SNAPSHOT_H
#define MOTE_SNAPSHOT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/machine.h"
#include "core/guest_mem.h"
#include "kvm/dirty.h"
#include "kvm/kvm.h"
#include "snapshot/format.h"
#include "vmm/config.h"

#define SNAP_ID_MAX 64 /* network interface ids (the API's iface_id) */

/* What a snapshot reads of a running VM (main.c fills it once the VM is built). */
struct snap_vm {
	struct kvm *kvm;
	struct guest_mem *gm;
	struct vcpu *vcpus;
	unsigned nvcpus;
	struct machine *machine;
	const struct vm_config *cfg; /* the devices and their host paths, as booted */
	bool pit;                    /* the in-kernel PIT exists */
	struct kvm_dirty *dirty;     /* dirty logging (track_dirty_pages) on, else NULL */
};

/* A network override: interface iface gets tap instead of the snapshot's. */
struct snap_net_override {
	char iface[SNAP_ID_MAX + 1];
	char tap[16];
};

/* Exit statuses of a refused restore (see status.h): the files (missing, unreadable, not a
 * snapshot, damaged, sizes disagreeing) and the host (a CPU or KVM that cannot run it). */
#define SNAP_STATUS_FILE 4
#define SNAP_STATUS_HOST 6

/* A state file read and checked, and the machine it describes. */
struct snap_image {
	uint8_t *buf;
	size_t len;
	struct snapf_file f;
	struct vm_config cfg;  /* mem_size, cpus, devices with their paths (overrides applied) */
	char net_ids[CONFIG_MAX_NETS][SNAP_ID_MAX + 1];
	uint64_t disk_size[CONFIG_MAX_DISKS]; /* bytes of each disk at the snapshot */
	bool pit;
	uint32_t nvirtio;
	int mem_fd;            /* the memory file, O_RDONLY, size checked */
};

/* Writes state_path and mem_path (both created 0600, replaced if they exist) from a VM whose
 * vCPUs are parked. Virtio-blk requests in flight are completed first (up to 2 s). net_ids:
 * the interfaces' ids (the API's iface_id), or NULL for "net0", "net1", ... On failure both
 * files are removed. Returns 0, or -1 with one line in err. */
int snapshot_create(const struct snap_vm *vm, const char *state_path, const char *mem_path,
		    const char (*net_ids)[SNAP_ID_MAX + 1], char *err, size_t errlen);
/* As snapshot_create; diff: mem_path gets only the pages written since the last snapshot
 * (or since tracking started), as a sparse file of the RAM span (holes elsewhere), layered
 * onto the previous memory file with dirty_apply_diff (mote snapshot-merge). Needs vm->dirty
 * (else -1). Every snapshot, Full or Diff, starts the next Diff's interval. */
int snapshot_create_type(const struct snap_vm *vm, const char *state_path, const char *mem_path,
			 const char (*net_ids)[SNAP_ID_MAX + 1], bool diff, char *err,
			 size_t errlen);

/* Reads and checks a state file and its memory file: framing and checksum, every section a
 * machine needs, the configuration, the CPU vendor, the vCPU count against kvm's limit (kvm:
 * an open one, or NULL to skip that), the memory file's size. overrides[0..n) replace taps.
 * The CPUID is checked by snapshot_apply, against the vCPUs KVM actually built (a probe VM
 * would cost its teardown, 10-30 ms on some hosts). Returns 0, or -1 with one line in err and
 * *status set to SNAP_STATUS_FILE or SNAP_STATUS_HOST; snapshot_close either way. */
int snapshot_open(struct snap_image *img, const char *state_path, const char *mem_path,
		  const struct snap_net_override *overrides, size_t n, const struct kvm *kvm,
		  int *status, char *err, size_t errlen);
void snapshot_close(struct snap_image *img);

/* Puts the state into a VM built from img->cfg (RAM from the memory file, devices created
 * and attached, vCPUs created, nothing run yet): first the CPUID check (every feature bit a
 * saved vCPU saw must be one KVM gave the new vCPU 0), then VM, vCPUs, legacy devices, virtio
 * devices. Returns 0, or -1 with err set (the VM must then not run). */
int snapshot_apply(const struct snap_image *img, const struct snap_vm *vm, char *err,
		   size_t errlen);

/* Disk i of the snapshot, reopened, has size bytes: 0 when that is the size it had at the
 * snapshot, else -1 with err set (an image that changed since; the guest's view would be
 * wrong). */
int snapshot_check_disk(const struct snap_image *img, unsigned i, uint64_t size, char *err,
			size_t errlen);

/* "IFACE=TAP" -> an override. 0, or -1 with err set. */
int snapshot_parse_override(const char *s, struct snap_net_override *o, char *err, size_t errlen);

/* The CPUID check (pure): every feature bit the snapshot's vCPU saw must be one the host's
 * KVM supports. 0, or -1 with err naming the leaf and bits. */
int snapshot_cpuid_check(const struct cpuid_entry *saved, size_t n, const struct cpuid_entry *host,
			 size_t m, char *err, size_t errlen);

/* Parses the configuration section into img (cfg, net_ids, pit, nvirtio); for the fuzzer and
 * the unit test as well. 0, or -1 with err set. */
int snapshot_parse_config(const uint8_t *p, size_t len, struct snap_image *img, char *err,
			  size_t errlen);

/* Every check of snapshot_open that needs no file and no host: framing, sections present,
 * configuration. img->buf/len must hold the bytes. For the fuzzer. */
int snapshot_check_image(struct snap_image *img, char *err, size_t errlen);

#endif
