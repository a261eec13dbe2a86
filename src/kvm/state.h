/* KVM state for snapshots: what KVM holds of a vCPU and of the VM, saved into a snapshot
 * stream and put back. Owns the KVM_GET_* / KVM_SET_* wrappers and their order; the bytes are
 * the host kernel's own structures, framed with their sizes (a file from another kernel ABI is
 * refused by size). Knows nothing of files or devices (snapshot/snapshot.c frames sections).
 * Save: the vCPUs are parked (outside KVM_RUN, pending I/O completed). Load: into a VM and
 * vCPUs just created, before any KVM_RUN; the stream is hostile, every length is checked, and
 * whatever KVM refuses is reported by name (the VM then never runs). */
#ifndef MOTE_KVM_STATE_H
#define MOTE_KVM_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "arch/x86/cpuid.h"
#include "kvm/kvm.h"
#include "snapshot/stream.h"

#define KVM_STATE_MAX_CPUID 256
#define KVM_STATE_MAX_MSRS 1024

/* Per vCPU: MP state, regs, sregs, FPU/XSAVE, XCRs, debug registers, LAPIC, the MSRs of
 * KVM_GET_MSR_INDEX_LIST that read back, vCPU events, TSC frequency. 0, or -1 with err. */
int kvm_vcpu_save(struct vcpu *v, struct snap_out *o, char *err, size_t errlen);
/* Restores in the kernel's order: sregs, regs, XSAVE, XCRs, MSRs, MP state, LAPIC, the TSC
 * deadline again (it needs the LAPIC), debug registers, events last. */
int kvm_vcpu_load(struct vcpu *v, struct snap_in *in, char *err, size_t errlen);

/* The VM: KVM clock, PIC master/slave and IOAPIC, the PIT (when pit). */
int kvm_vm_save(struct kvm *k, bool pit, struct snap_out *o, char *err, size_t errlen);
int kvm_vm_load(struct kvm *k, bool pit, struct snap_in *in, char *err, size_t errlen);

/* The CPUID a vCPU has (KVM_GET_CPUID2) / gets (KVM_SET_CPUID2, before its first run). */
int kvm_vcpu_cpuid_get(struct vcpu *v, struct cpuid_entry *out, size_t cap, size_t *n, char *err,
		       size_t errlen);
int kvm_vcpu_cpuid_set(struct vcpu *v, const struct cpuid_entry *e, size_t n, char *err,
		       size_t errlen);

/* The ioctl requests kvm_vcpu_save, kvm_vm_save and kvm_vcpu_cpuid_get issue (for the seccomp
 * list of the thread that takes snapshots: the API's). */
extern const unsigned long kvm_state_save_ioctls[];
extern const size_t kvm_state_nsave_ioctls;

#endif
