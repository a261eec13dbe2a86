/* Debugging a vCPU through KVM (for the GDB stub): its whole state as plain data, the guest
 * debug controls (int3 exits, DR0-DR3/DR7 hardware breakpoints, single step), and the
 * KVM_EXIT_DEBUG hook. Every call but the hook is made from the debugger's thread while the
 * vCPU is parked (vcpu_pause + vcpu_wait_parked) or not yet running. */
#ifndef MOTE_KVM_DEBUG_H
#define MOTE_KVM_DEBUG_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"
#include "kvm/kvm.h"

/* Registers, segment bases, control registers, x87/SSE state. 0, or -1 (errno set). */
int vcpu_debug_get(struct vcpu *v, struct x86_cpu_state *s);

/* Writes back what differs from the vCPU's current state. 0, or -1 when KVM refuses it. */
int vcpu_debug_set(struct vcpu *v, const struct x86_cpu_state *s);

/* KVM_SET_GUEST_DEBUG: sw_bp makes int3 exit to mote; dr7 != 0 arms dr[0..3]; step makes
 * the next instruction exit. All off disables guest debugging. 0, or -1 (errno set). */
int vcpu_debug_control(struct vcpu *v, bool sw_bp, const uint64_t dr[4], uint64_t dr7,
		       bool step);

/* What the debugger's thread may ask of KVM on a vCPU fd (its seccomp list). */
extern const unsigned long vcpu_debug_ioctls[];
extern const unsigned vcpu_debug_nioctls;

/* Called on the vCPU's thread for KVM_EXIT_DEBUG when v->on_debug is set: records the exit
 * in v->dbg, asks the vCPU to park (it does before its next KVM_RUN), then calls on_debug. */
void vcpu_debug_exit(struct vcpu *v);

/* The same for a fatal exit (triple fault, emulation failure) on the vCPU's thread: records
 * exception 0 and the rip, asks the vCPU to park; the caller parks it, then ends the VM. */
void vcpu_debug_fault(struct vcpu *v);

#endif
