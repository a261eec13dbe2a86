/* KVM vCPU and VM state for snapshots (state.h). Each kernel structure travels as a blob
 * (u32 length + bytes) whose length must equal this kernel's sizeof; MSRs travel as (index,
 * value) pairs. The order of the ioctls follows the kernel's documentation
 * (Documentation/virt/kvm/api.rst): MP state is read first (reading it accepts pending INIT/
 * SIPI events), vCPU events are written last (the other writes may change them). */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/log.h"
#include "kvm/state.h"

#define STATE_VERSION 1u
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define FPU_LEGACY 0u /* struct kvm_fpu */
#define FPU_XSAVE 1u  /* struct kvm_xsave, this host's size */

static void put_blob(struct snap_out *o, const void *p, size_t n)
{
	snap_put_u32(o, (uint32_t)n);
	snap_put(o, p, n);
}

/* Reads a blob of exactly n bytes into dst. */
static int get_blob(struct snap_in *in, void *dst, size_t n, const char *what, char *err,
		    size_t errlen)
{
	uint32_t len = snap_get_u32(in);
	if (!snap_in_ok(in))
		return err_set(err, errlen, "vCPU/VM state truncated at %s", what);
	if (len != n)
		return err_set(err, errlen, "%s is %u bytes, this host's KVM uses %zu (a snapshot "
			       "from another kernel ABI?)", what, len, n);
	if (!snap_get(in, dst, n))
		return err_set(err, errlen, "vCPU/VM state truncated in %s", what);
	return 0;
}

static bool has_cap(const struct kvm *k, int cap)
{
	return ioctl(k->sys_fd, KVM_CHECK_EXTENSION, cap) > 0;
}

/* Bytes of this host's XSAVE area for KVM (KVM_CAP_XSAVE2), at least struct kvm_xsave. */
static size_t xsave_size(const struct kvm *k)
{
	int n = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	return n > (int)sizeof(struct kvm_xsave) ? (size_t)n : sizeof(struct kvm_xsave);
}

/* ---- MSRs ------------------------------------------------------------------------------- */

/* KVM_GET_MSR_INDEX_LIST into a new array (free it); NULL with err set. */
static uint32_t *msr_index_list(const struct kvm *k, uint32_t *n, char *err, size_t errlen)
{
	struct kvm_msr_list probe = {.nmsrs = 0};
	if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
		err_set(err, errlen, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		return NULL;
	}
	uint32_t cnt = probe.nmsrs > KVM_STATE_MAX_MSRS ? KVM_STATE_MAX_MSRS : probe.nmsrs;
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + cnt * sizeof(uint32_t));
	uint32_t *out = calloc(cnt ? cnt : 1, sizeof(uint32_t));
	if (!l || !out) {
		free(l);
		free(out);
		err_set(err, errlen, "out of memory");
		return NULL;
	}
	l->nmsrs = cnt;
	if (ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		err_set(err, errlen, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		free(l);
		free(out);
		return NULL;
	}
	memcpy(out, l->indices, l->nmsrs * sizeof(uint32_t));
	*n = l->nmsrs;
	free(l);
	return out;
}

/* Reads every listed MSR the vCPU has; KVM_GET_MSRS stops at the first it cannot read, which
 * is skipped (the list names MSRs of features this vCPU's CPUID may lack). */
static int save_msrs(struct vcpu *v, struct snap_out *o, char *err, size_t errlen)
{
	uint32_t n = 0;
	uint32_t *idx = msr_index_list(v->kvm, &n, err, errlen);
	if (!idx)
		return -1;
	struct kvm_msrs *m = calloc(1, sizeof(*m) + (n ? n : 1) * sizeof(struct kvm_msr_entry));
	struct kvm_msr_entry *keep = calloc(n ? n : 1, sizeof(*keep));
	if (!m || !keep) {
		free(idx);
		free(m);
		free(keep);
		return err_set(err, errlen, "out of memory");
	}
	uint32_t kept = 0;
	for (uint32_t i = 0; i < n;) {
		m->nmsrs = n - i;
		for (uint32_t j = 0; j < m->nmsrs; j++)
			m->entries[j] = (struct kvm_msr_entry){.index = idx[i + j]};
		int r = ioctl(v->fd, KVM_GET_MSRS, m);
		if (r < 0) {
			err_set(err, errlen, "vCPU %u: KVM_GET_MSRS: %s", v->id, strerror(errno));
			free(idx);
			free(m);
			free(keep);
			return -1;
		}
		for (int j = 0; j < r; j++)
			keep[kept++] = m->entries[j];
		i += (uint32_t)r + 1; /* entry i + r could not be read: skip it */
	}
	snap_put_u32(o, kept);
	for (uint32_t i = 0; i < kept; i++) {
		snap_put_u32(o, keep[i].index);
		snap_put_u64(o, keep[i].data);
	}
	free(idx);
	free(m);
	free(keep);
	return 0;
}

static int set_msrs(struct vcpu *v, const struct kvm_msr_entry *e, uint32_t n, char *err,
		    size_t errlen)
{
	if (n == 0)
		return 0;
	struct kvm_msrs *m = calloc(1, sizeof(*m) + n * sizeof(*e));
	if (!m)
		return err_set(err, errlen, "out of memory");
	m->nmsrs = n;
	memcpy(m->entries, e, n * sizeof(*e));
	int r = ioctl(v->fd, KVM_SET_MSRS, m);
	free(m);
	if (r < 0)
		return err_set(err, errlen, "vCPU %u: KVM_SET_MSRS: %s", v->id, strerror(errno));
	if ((uint32_t)r != n)
		return err_set(err, errlen, "vCPU %u: KVM refuses MSR 0x%x = 0x%llx of the snapshot "
			       "(a host without that feature?)", v->id, e[r].index,
			       (unsigned long long)e[r].data);
	return 0;
}

/* ---- vCPU ------------------------------------------------------------------------------- */

#define GET(req, p, what)                                                                         \
	do {                                                                                      \
		if (ioctl(v->fd, req, p) < 0)                                                     \
			return err_set(err, errlen, "vCPU %u: %s: %s", v->id, what, strerror(errno)); \
	} while (0)

int kvm_vcpu_save(struct vcpu *v, struct snap_out *o, char *err, size_t errlen)
{
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_debugregs dbg;
	const struct kvm *k = v->kvm;

	GET(KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE"); /* first: it accepts pending events */
	GET(KVM_GET_REGS, &regs, "KVM_GET_REGS");
	GET(KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	snap_put_u32(o, STATE_VERSION);
	snap_put_u32(o, mp.mp_state);
	put_blob(o, &regs, sizeof(regs));
	put_blob(o, &sregs, sizeof(sregs));
	if (has_cap(k, KVM_CAP_XSAVE)) {
		size_t n = xsave_size(k);
		struct kvm_xsave *x = calloc(1, n);
		if (!x)
			return err_set(err, errlen, "out of memory");
		int r = ioctl(v->fd, n > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, x);
		if (r < 0) {
			free(x);
			return err_set(err, errlen, "vCPU %u: KVM_GET_XSAVE: %s", v->id, strerror(errno));
		}
		snap_put_u32(o, FPU_XSAVE);
		put_blob(o, x, n);
		free(x);
	} else {
		struct kvm_fpu fpu;
		GET(KVM_GET_FPU, &fpu, "KVM_GET_FPU");
		snap_put_u32(o, FPU_LEGACY);
		put_blob(o, &fpu, sizeof(fpu));
	}
	bool xcr = has_cap(k, KVM_CAP_XCRS);
	if (xcr)
		GET(KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS");
	snap_put_u8(o, xcr);
	if (xcr)
		put_blob(o, &xcrs, sizeof(xcrs));
	GET(KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
	put_blob(o, &lapic, sizeof(lapic));
	GET(KVM_GET_DEBUGREGS, &dbg, "KVM_GET_DEBUGREGS");
	put_blob(o, &dbg, sizeof(dbg));
	if (save_msrs(v, o, err, errlen) < 0)
		return -1;
	GET(KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS");
	put_blob(o, &ev, sizeof(ev));
	int khz = has_cap(k, KVM_CAP_GET_TSC_KHZ) ? ioctl(v->fd, KVM_GET_TSC_KHZ, 0) : 0;
	snap_put_u32(o, khz > 0 ? (uint32_t)khz : 0);
	return snap_out_ok(o) ? 0 : err_set(err, errlen, "vCPU %u: state too large", v->id);
}

#define SET(req, p, what)                                                                         \
	do {                                                                                      \
		if (ioctl(v->fd, req, p) < 0) {                                                   \
			err_set(err, errlen, "vCPU %u: KVM refuses the snapshot's %s: %s", v->id, \
				what, strerror(errno));                                           \
			goto out;                                                                 \
		}                                                                                 \
	} while (0)

/* The parsed vCPU state, checked for shape before any of it reaches KVM. */
struct vcpu_state {
	uint32_t mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	uint32_t fpu_kind;
	struct kvm_fpu fpu;
	struct kvm_xsave *xsave; /* xsave_len bytes (at least this host's size) */
	bool has_xcrs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_debugregs dbg;
	uint32_t nmsrs;
	struct kvm_msr_entry *msrs;
	struct kvm_vcpu_events ev;
	uint32_t tsc_khz;
};

static int parse_vcpu(struct vcpu *v, struct snap_in *in, struct vcpu_state *s, char *err,
		      size_t errlen)
{
	uint32_t ver = snap_get_u32(in);
	if (!snap_in_ok(in) || ver != STATE_VERSION)
		return err_set(err, errlen, "vCPU %u state: version %u, expected %u", v->id, ver,
			       STATE_VERSION);
	s->mp = snap_get_u32(in);
	if (s->mp > KVM_MP_STATE_AP_RESET_HOLD)
		return err_set(err, errlen, "vCPU %u state: MP state %u is not one KVM has", v->id, s->mp);
	if (get_blob(in, &s->regs, sizeof(s->regs), "regs", err, errlen) < 0 ||
	    get_blob(in, &s->sregs, sizeof(s->sregs), "sregs", err, errlen) < 0)
		return -1;
	s->fpu_kind = snap_get_u32(in);
	if (s->fpu_kind == FPU_LEGACY) {
		if (get_blob(in, &s->fpu, sizeof(s->fpu), "FPU", err, errlen) < 0)
			return -1;
	} else if (s->fpu_kind == FPU_XSAVE) {
		if (!has_cap(v->kvm, KVM_CAP_XSAVE))
			return err_set(err, errlen, "the snapshot holds XSAVE state; this host's KVM has no XSAVE");
		size_t host = xsave_size(v->kvm);
		uint32_t len = snap_get_u32(in);
		if (!snap_in_ok(in) || len < sizeof(struct kvm_xsave) || len > host)
			return err_set(err, errlen, "vCPU %u: XSAVE area of %u bytes; this host's is %zu",
				       v->id, len, host);
		s->xsave = calloc(1, host);
		if (!s->xsave)
			return err_set(err, errlen, "out of memory");
		if (!snap_get(in, s->xsave, len))
			return err_set(err, errlen, "vCPU %u state truncated in XSAVE", v->id);
	} else {
		return err_set(err, errlen, "vCPU %u state: unknown FPU kind %u", v->id, s->fpu_kind);
	}
	s->has_xcrs = snap_get_u8(in) != 0;
	if (s->has_xcrs && get_blob(in, &s->xcrs, sizeof(s->xcrs), "XCRs", err, errlen) < 0)
		return -1;
	if (s->has_xcrs && s->xcrs.nr_xcrs > KVM_MAX_XCRS)
		return err_set(err, errlen, "vCPU %u state: %u XCRs", v->id, s->xcrs.nr_xcrs);
	if (get_blob(in, &s->lapic, sizeof(s->lapic), "LAPIC", err, errlen) < 0 ||
	    get_blob(in, &s->dbg, sizeof(s->dbg), "debug registers", err, errlen) < 0)
		return -1;
	s->nmsrs = snap_get_u32(in);
	if (!snap_in_ok(in) || s->nmsrs > KVM_STATE_MAX_MSRS)
		return err_set(err, errlen, "vCPU %u state: %u MSRs (at most %u)", v->id, s->nmsrs,
			       KVM_STATE_MAX_MSRS);
	s->msrs = calloc(s->nmsrs ? s->nmsrs : 1, sizeof(*s->msrs));
	if (!s->msrs)
		return err_set(err, errlen, "out of memory");
	for (uint32_t i = 0; i < s->nmsrs; i++) {
		s->msrs[i].index = snap_get_u32(in);
		s->msrs[i].data = snap_get_u64(in);
	}
	if (get_blob(in, &s->ev, sizeof(s->ev), "vCPU events", err, errlen) < 0)
		return -1;
	s->tsc_khz = snap_get_u32(in);
	if (!snap_in_done(in))
		return err_set(err, errlen, "vCPU %u state is %s", v->id,
			       snap_in_ok(in) ? "longer than expected" : "truncated");
	return 0;
}

/* The guest's TSC runs at the rate it had: KVM scales it when the host's differs. */
static int set_tsc_khz(struct vcpu *v, uint32_t khz, char *err, size_t errlen)
{
	int cur = has_cap(v->kvm, KVM_CAP_GET_TSC_KHZ) ? ioctl(v->fd, KVM_GET_TSC_KHZ, 0) : 0;
	if (khz == 0 || cur <= 0 || (uint32_t)cur == khz)
		return 0;
	if (!has_cap(v->kvm, KVM_CAP_TSC_CONTROL) || ioctl(v->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
		return err_set(err, errlen, "the snapshot's TSC runs at %u kHz, this host's at %d kHz "
			       "and KVM cannot scale it", khz, cur);
	return 0;
}

int kvm_vcpu_load(struct vcpu *v, struct snap_in *in, char *err, size_t errlen)
{
	struct vcpu_state s;
	memset(&s, 0, sizeof(s));
	int rc = -1;
	if (parse_vcpu(v, in, &s, err, errlen) < 0)
		goto out;
	if (set_tsc_khz(v, s.tsc_khz, err, errlen) < 0)
		goto out;
	SET(KVM_SET_SREGS, &s.sregs, "sregs");
	SET(KVM_SET_REGS, &s.regs, "regs");
	if (s.fpu_kind == FPU_XSAVE)
		SET(KVM_SET_XSAVE, s.xsave, "XSAVE area");
	else
		SET(KVM_SET_FPU, &s.fpu, "FPU state");
	if (s.has_xcrs) {
		if (!has_cap(v->kvm, KVM_CAP_XCRS)) {
			err_set(err, errlen, "the snapshot holds XCRs; this host's KVM has none");
			goto out;
		}
		SET(KVM_SET_XCRS, &s.xcrs, "XCRs");
	}
	if (set_msrs(v, s.msrs, s.nmsrs, err, errlen) < 0)
		goto out;
	struct kvm_mp_state mp = {.mp_state = s.mp};
	SET(KVM_SET_MP_STATE, &mp, "MP state");
	SET(KVM_SET_LAPIC, &s.lapic, "LAPIC");
	for (uint32_t i = 0; i < s.nmsrs; i++) /* the deadline is armed through the LAPIC */
		if (s.msrs[i].index == MSR_IA32_TSC_DEADLINE && set_msrs(v, &s.msrs[i], 1, err, errlen) < 0)
			goto out;
	SET(KVM_SET_DEBUGREGS, &s.dbg, "debug registers");
	s.ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	SET(KVM_SET_VCPU_EVENTS, &s.ev, "vCPU events");
	rc = 0;
out:
	free(s.xsave);
	free(s.msrs);
	return rc;
}

#undef GET
#undef SET

/* ---- CPUID ------------------------------------------------------------------------------ */

int kvm_vcpu_cpuid_get(struct vcpu *v, struct cpuid_entry *out, size_t cap, size_t *n, char *err,
		       size_t errlen)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return err_set(err, errlen, "out of memory");
	c->nent = (uint32_t)cap;
	if (ioctl(v->fd, KVM_GET_CPUID2, c) < 0) {
		free(c);
		return err_set(err, errlen, "vCPU %u: KVM_GET_CPUID2: %s", v->id, strerror(errno));
	}
	for (uint32_t i = 0; i < c->nent && i < cap; i++) {
		const struct kvm_cpuid_entry2 *s = &c->entries[i];
		out[i] = (struct cpuid_entry){
			.function = s->function, .index = s->index,
			.flags = (s->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ? CPUID_FLAG_SIGNIFICANT_INDEX : 0,
			.eax = s->eax, .ebx = s->ebx, .ecx = s->ecx, .edx = s->edx};
	}
	*n = c->nent < cap ? c->nent : cap;
	free(c);
	return 0;
}

int kvm_vcpu_cpuid_set(struct vcpu *v, const struct cpuid_entry *e, size_t n, char *err,
		       size_t errlen)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return err_set(err, errlen, "out of memory");
	c->nent = (uint32_t)n;
	for (size_t i = 0; i < n; i++)
		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = e[i].function, .index = e[i].index,
			.flags = (e[i].flags & CPUID_FLAG_SIGNIFICANT_INDEX) ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.eax = e[i].eax, .ebx = e[i].ebx, .ecx = e[i].ecx, .edx = e[i].edx};
	int r = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (r < 0)
		return err_set(err, errlen, "vCPU %u: KVM refuses the snapshot's CPUID: %s", v->id,
			       strerror(errno));
	return 0;
}

/* ---- the VM ----------------------------------------------------------------------------- */

int kvm_vm_save(struct kvm *k, bool pit, struct snap_out *o, char *err, size_t errlen)
{
	struct kvm_clock_data clock;
	memset(&clock, 0, sizeof(clock));
	if (ioctl(k->vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return err_set(err, errlen, "KVM_GET_CLOCK: %s", strerror(errno));
	snap_put_u32(o, STATE_VERSION);
	put_blob(o, &clock, sizeof(clock));
	for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_IOAPIC; chip++) {
		struct kvm_irqchip c;
		memset(&c, 0, sizeof(c));
		c.chip_id = chip;
		if (ioctl(k->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
			return err_set(err, errlen, "KVM_GET_IRQCHIP %u: %s", chip, strerror(errno));
		put_blob(o, &c, sizeof(c));
	}
	snap_put_u8(o, pit);
	if (pit) {
		struct kvm_pit_state2 p;
		if (ioctl(k->vm_fd, KVM_GET_PIT2, &p) < 0)
			return err_set(err, errlen, "KVM_GET_PIT2: %s", strerror(errno));
		put_blob(o, &p, sizeof(p));
	}
	return snap_out_ok(o) ? 0 : err_set(err, errlen, "VM state too large");
}

int kvm_vm_load(struct kvm *k, bool pit, struct snap_in *in, char *err, size_t errlen)
{
	struct kvm_clock_data clock;
	struct kvm_irqchip chips[3];
	struct kvm_pit_state2 p;
	uint32_t ver = snap_get_u32(in);
	if (!snap_in_ok(in) || ver != STATE_VERSION)
		return err_set(err, errlen, "VM state: version %u, expected %u", ver, STATE_VERSION);
	if (get_blob(in, &clock, sizeof(clock), "KVM clock", err, errlen) < 0)
		return -1;
	for (uint32_t i = 0; i < 3; i++) {
		if (get_blob(in, &chips[i], sizeof(chips[i]), "irqchip", err, errlen) < 0)
			return -1;
		if (chips[i].chip_id != KVM_IRQCHIP_PIC_MASTER + i)
			return err_set(err, errlen, "VM state: irqchip %u has id %u", i, chips[i].chip_id);
	}
	bool had_pit = snap_get_u8(in) != 0;
	if (had_pit != pit)
		return err_set(err, errlen, "VM state: PIT %s in the state, %s in the machine",
			       had_pit ? "present" : "absent", pit ? "present" : "absent");
	if (pit && get_blob(in, &p, sizeof(p), "PIT", err, errlen) < 0)
		return -1;
	if (!snap_in_done(in))
		return err_set(err, errlen, "VM state is %s", snap_in_ok(in) ? "longer than expected" : "truncated");
	for (uint32_t i = 0; i < 3; i++)
		if (ioctl(k->vm_fd, KVM_SET_IRQCHIP, &chips[i]) < 0)
			return err_set(err, errlen, "KVM refuses the snapshot's irqchip %u: %s", i,
				       strerror(errno));
	if (pit && ioctl(k->vm_fd, KVM_SET_PIT2, &p) < 0)
		return err_set(err, errlen, "KVM refuses the snapshot's PIT: %s", strerror(errno));
	/* The guest's clock goes on from where it was (no jump for the time it was stored). */
	struct kvm_clock_data c = {.clock = clock.clock};
	if (ioctl(k->vm_fd, KVM_SET_CLOCK, &c) < 0)
		return err_set(err, errlen, "KVM refuses the snapshot's clock: %s", strerror(errno));
	return 0;
}


const unsigned long kvm_state_save_ioctls[] = {
	KVM_CHECK_EXTENSION, KVM_GET_MSR_INDEX_LIST, KVM_GET_MP_STATE, KVM_GET_REGS,
	KVM_GET_SREGS, KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_GET_FPU, KVM_GET_XCRS, KVM_GET_LAPIC,
	KVM_GET_DEBUGREGS, KVM_GET_MSRS, KVM_GET_VCPU_EVENTS, KVM_GET_TSC_KHZ, KVM_GET_CPUID2,
	KVM_GET_CLOCK, KVM_GET_IRQCHIP, KVM_GET_PIT2,
};
const size_t kvm_state_nsave_ioctls = sizeof(kvm_state_save_ioctls) / sizeof(kvm_state_save_ioctls[0]);
