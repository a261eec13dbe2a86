/* vCPU debugging through KVM (debug.h): KVM_GET/SET_REGS, SREGS and FPU for the debugger's
 * view, KVM_SET_GUEST_DEBUG for breakpoints and single steps, and the KVM_EXIT_DEBUG record. */
#include "kvm/debug.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

const unsigned long vcpu_debug_ioctls[] = {
	KVM_GET_REGS, KVM_SET_REGS,   /* g/G/p/P */
	KVM_GET_SREGS, KVM_SET_SREGS, /* segments, control registers, paging for the walker */
	KVM_GET_FPU, KVM_SET_FPU,     /* x87 and SSE registers */
	KVM_SET_GUEST_DEBUG,          /* breakpoints, watchpoints, single step */
};
const unsigned vcpu_debug_nioctls = sizeof(vcpu_debug_ioctls) / sizeof(vcpu_debug_ioctls[0]);

/* kvm_regs in gdb's order (enum x86_gpr). */
static uint64_t *gpr(struct kvm_regs *r, unsigned i)
{
	uint64_t *t[16] = {(uint64_t *)&r->rax, (uint64_t *)&r->rbx, (uint64_t *)&r->rcx,
			   (uint64_t *)&r->rdx, (uint64_t *)&r->rsi, (uint64_t *)&r->rdi,
			   (uint64_t *)&r->rbp, (uint64_t *)&r->rsp, (uint64_t *)&r->r8,
			   (uint64_t *)&r->r9,  (uint64_t *)&r->r10, (uint64_t *)&r->r11,
			   (uint64_t *)&r->r12, (uint64_t *)&r->r13, (uint64_t *)&r->r14,
			   (uint64_t *)&r->r15};
	return t[i];
}

static struct kvm_segment *seg(struct kvm_sregs *s, unsigned i)
{
	struct kvm_segment *t[6] = {&s->cs, &s->ss, &s->ds, &s->es, &s->fs, &s->gs};
	return t[i];
}

static void from_kvm(struct x86_cpu_state *s, struct kvm_regs *r, struct kvm_sregs *sr,
		     const struct kvm_fpu *f)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < 16; i++)
		s->gpr[i] = *gpr(r, i);
	s->rip = r->rip;
	s->rflags = r->rflags;
	for (unsigned i = 0; i < 6; i++)
		s->sel[i] = seg(sr, i)->selector;
	s->fs_base = sr->fs.base;
	s->gs_base = sr->gs.base;
	s->cr0 = sr->cr0;
	s->cr2 = sr->cr2;
	s->cr3 = sr->cr3;
	s->cr4 = sr->cr4;
	s->cr8 = sr->cr8;
	s->efer = sr->efer;
	for (unsigned i = 0; i < 8; i++)
		memcpy(s->st[i], f->fpr[i], 10);
	s->fcw = f->fcw;
	s->fsw = f->fsw;
	s->ftw = f->ftwx;
	s->fop = f->last_opcode;
	s->fip = f->last_ip;
	s->fdp = f->last_dp;
	memcpy(s->xmm, f->xmm, sizeof(s->xmm));
	s->mxcsr = f->mxcsr;
}

static int get_all(struct vcpu *v, struct kvm_regs *r, struct kvm_sregs *sr, struct kvm_fpu *f)
{
	if (ioctl(v->fd, KVM_GET_REGS, r) < 0 || ioctl(v->fd, KVM_GET_SREGS, sr) < 0 ||
	    ioctl(v->fd, KVM_GET_FPU, f) < 0)
		return -1;
	return 0;
}

int vcpu_debug_get(struct vcpu *v, struct x86_cpu_state *s)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	struct kvm_fpu f;
	if (get_all(v, &r, &sr, &f) < 0)
		return -1;
	from_kvm(s, &r, &sr, &f);
	return 0;
}

int vcpu_debug_set(struct vcpu *v, const struct x86_cpu_state *s)
{
	struct kvm_regs r;
	struct kvm_sregs sr;
	struct kvm_fpu f;
	struct x86_cpu_state cur;
	if (get_all(v, &r, &sr, &f) < 0)
		return -1;
	from_kvm(&cur, &r, &sr, &f);
	if (memcmp(cur.gpr, s->gpr, sizeof(s->gpr)) || cur.rip != s->rip || cur.rflags != s->rflags) {
		for (unsigned i = 0; i < 16; i++)
			*gpr(&r, i) = s->gpr[i];
		r.rip = s->rip;
		r.rflags = s->rflags;
		if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
			return -1;
	}
	if (memcmp(cur.sel, s->sel, sizeof(s->sel)) || cur.fs_base != s->fs_base ||
	    cur.gs_base != s->gs_base || cur.cr0 != s->cr0 || cur.cr2 != s->cr2 ||
	    cur.cr3 != s->cr3 || cur.cr4 != s->cr4 || cur.cr8 != s->cr8 || cur.efer != s->efer) {
		for (unsigned i = 0; i < 6; i++)
			seg(&sr, i)->selector = s->sel[i];
		sr.fs.base = s->fs_base;
		sr.gs.base = s->gs_base;
		sr.cr0 = s->cr0;
		sr.cr2 = s->cr2;
		sr.cr3 = s->cr3;
		sr.cr4 = s->cr4;
		sr.cr8 = s->cr8;
		sr.efer = s->efer;
		if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
			return -1;
	}
	if (memcmp(cur.st, s->st, sizeof(s->st)) || cur.fcw != s->fcw || cur.fsw != s->fsw ||
	    cur.ftw != s->ftw || cur.fop != s->fop || cur.fip != s->fip || cur.fdp != s->fdp ||
	    memcmp(cur.xmm, s->xmm, sizeof(s->xmm)) || cur.mxcsr != s->mxcsr) {
		for (unsigned i = 0; i < 8; i++)
			memcpy(f.fpr[i], s->st[i], 10);
		f.fcw = s->fcw;
		f.fsw = s->fsw;
		f.ftwx = (uint8_t)s->ftw;
		f.last_opcode = s->fop;
		f.last_ip = s->fip;
		f.last_dp = s->fdp;
		memcpy(f.xmm, s->xmm, sizeof(f.xmm));
		f.mxcsr = s->mxcsr;
		if (ioctl(v->fd, KVM_SET_FPU, &f) < 0)
			return -1;
	}
	return 0;
}

int vcpu_debug_control(struct vcpu *v, bool sw_bp, const uint64_t dr[4], uint64_t dr7,
		       bool step)
{
	struct kvm_guest_debug d;
	memset(&d, 0, sizeof(d));
	if (sw_bp)
		d.control |= KVM_GUESTDBG_USE_SW_BP;
	if (dr7) {
		d.control |= KVM_GUESTDBG_USE_HW_BP;
		for (unsigned i = 0; i < 4; i++)
			d.arch.debugreg[i] = dr[i];
		d.arch.debugreg[7] = dr7;
	}
	if (step)
		d.control |= KVM_GUESTDBG_SINGLESTEP;
	if (d.control)
		d.control |= KVM_GUESTDBG_ENABLE;
	return ioctl(v->fd, KVM_SET_GUEST_DEBUG, &d);
}

static void record(struct vcpu *v, uint32_t exception, uint64_t pc, uint64_t dr6)
{
	pthread_mutex_lock(&v->pause_lock);
	v->dbg.exception = exception;
	v->dbg.pc = pc;
	v->dbg.dr6 = dr6;
	v->dbg.pending = true;
	atomic_store_explicit(&v->pause_req, true, memory_order_release);
	pthread_mutex_unlock(&v->pause_lock);
	v->on_debug(v->debug_arg);
}

void vcpu_debug_exit(struct vcpu *v)
{
	const struct kvm_debug_exit_arch *a = &v->run->debug.arch;
	record(v, a->exception, a->pc, a->dr6);
}

void vcpu_debug_fault(struct vcpu *v)
{
	record(v, 0, vcpu_rip(v), 0);
}
