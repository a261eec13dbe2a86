/* vCPUs: creation (CPUID, MSRs, FPU), the boot register state, and the KVM_RUN loop that
 * decodes each exit from the run page into a plain struct exit_info for core/exit.
 * The run page is shared with the kernel: offsets read from it are checked before use. */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "arch/x86/pvh.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "kvm/debug.h"
#include "kvm/kvm.h"
#include "core/status.h"

#define KICK_SIGNAL (SIGRTMIN + 1)
#define MAX_CPUID_ENTRIES 256

#define CR0_PE 0x1ull
#define CR0_ET 0x10ull
#define CR0_PG 0x80000000ull
#define CR0_MP 0x2ull
#define CR0_NE 0x20ull
#define CR0_WP 0x10000ull
#define CR4_PAE 0x20ull
#define CR4_OSFXSR 0x200ull
#define CR4_OSXMMEXCPT 0x400ull
#define EFER_LME 0x100ull
#define EFER_LMA 0x400ull
#define EFER_NXE 0x800ull

#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_FAST_STRING 1ull

static void kick_handler(int sig) { (void)sig; }

int vcpu_signals_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must return EINTR */
	sigemptyset(&sa.sa_mask);
	return sigaction(KICK_SIGNAL, &sa, NULL);
}

static int set_cpuid(struct vcpu *v, unsigned ncpus, const struct cpuid_hide *hide, char *err,
		     size_t errlen)
{
	const struct kvm_cpuid2 *sup = v->kvm->supported;
	struct cpuid_entry tmp[MAX_CPUID_ENTRIES];
	size_t n = sup->nent < MAX_CPUID_ENTRIES ? sup->nent : MAX_CPUID_ENTRIES;

	for (size_t i = 0; i < n; i++) {
		const struct kvm_cpuid_entry2 *s = &sup->entries[i];
		tmp[i] = (struct cpuid_entry){
			.function = s->function, .index = s->index,
			.flags = (s->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ? CPUID_FLAG_SIGNIFICANT_INDEX : 0,
			.eax = s->eax, .ebx = s->ebx, .ecx = s->ecx, .edx = s->edx};
	}
	if (cpuid_filter(tmp, &n, MAX_CPUID_ENTRIES, v->id, ncpus, hide) < 0) {
		snprintf(err, errlen, "too many CPUID entries");
		return -1;
	}
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->nent = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = tmp[i].function, .index = tmp[i].index,
			.flags = (tmp[i].flags & CPUID_FLAG_SIGNIFICANT_INDEX) ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.eax = tmp[i].eax, .ebx = tmp[i].ebx, .ecx = tmp[i].ecx, .edx = tmp[i].edx};
	}
	int r = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (r < 0) {
		snprintf(err, errlen, "KVM_SET_CPUID2: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int set_boot_msrs_fpu(struct vcpu *v, char *err, size_t errlen)
{
	union {
		struct kvm_msrs hdr;
		uint8_t buf[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msrs;
	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = 1;
	msrs.hdr.entries[0].index = MSR_IA32_MISC_ENABLE;
	msrs.hdr.entries[0].data = MISC_ENABLE_FAST_STRING;
	if (ioctl(v->fd, KVM_SET_MSRS, &msrs.hdr) != 1) {
		snprintf(err, errlen, "KVM_SET_MSRS (IA32_MISC_ENABLE) failed");
		return -1;
	}
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;     /* x87 reset value: all exceptions masked, 64-bit precision */
	fpu.mxcsr = 0x1f80;  /* SSE reset value: all exceptions masked */
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0) {
		snprintf(err, errlen, "KVM_SET_FPU: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int vcpu_create(struct vcpu *v, struct kvm *k, unsigned id, unsigned ncpus,
		const struct cpuid_hide *hide, const struct exit_ctx *ctx, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->pause_lock, NULL);
	pthread_cond_init(&v->pause_cond, NULL);
	v->kvm = k;
	v->id = id;
	v->ctx = *ctx;
	v->ctx.vcpu = id;
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return -1;
	}
	void *run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (run == MAP_FAILED) {
		snprintf(err, errlen, "mmap of vCPU %u run page: %s", id, strerror(errno));
		close(v->fd);
		v->fd = -1;
		return -1;
	}
	v->run = run;
	if (set_cpuid(v, ncpus, hide, err, errlen) < 0 || set_boot_msrs_fpu(v, err, errlen) < 0) {
		vcpu_destroy(v);
		return -1;
	}
	return 0;
}

static struct kvm_segment flat_segment(uint16_t sel, uint8_t type, uint8_t s, uint8_t db)
{
	return (struct kvm_segment){.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				    .present = 1, .dpl = 0, .db = db, .s = s, .l = 0, .g = 1};
}

/* Solo5 hvt entry (boot.h, BOOT_HVT64). EFER.NXE is what makes the loader's no-execute page
 * bits mean anything: KVM refuses it when the (filtered) CPUID lacks NX, and it is read back. */
static int set_hvt_state(struct vcpu *v, const struct boot_entry *b, char *err, size_t errlen)
{
	struct kvm_sregs s;
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	s.cs = flat_segment(0x08, 0xb, 1, 0);
	s.cs.l = 1;
	s.ds = s.es = s.fs = s.gs = s.ss = flat_segment(0x10, 0x3, 1, 1);
	s.tr = (struct kvm_segment){.limit = 0x67, .type = 0xb, .present = 1};
	s.ldt = (struct kvm_segment){.unusable = 1};
	s.gdt.base = b->gdt_gpa;
	s.gdt.limit = 3 * 8 - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s.cr3 = b->cr3;
	s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	s.efer = EFER_LME | EFER_LMA | EFER_NXE;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0 ||
	    !(s.efer & EFER_NXE)) {
		snprintf(err, errlen, "cannot enable no-execute pages (EFER.NXE): the host CPU or "
				      "KVM lacks NX, which mote's W^X protection of unikernels needs");
		return -1;
	}
	memset(&regs, 0, sizeof(regs));
	regs.rip = b->rip;
	regs.rdi = b->rdi;
	regs.rsp = b->rsp;
	regs.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int64_t vcpu_tsc_hz(struct vcpu *v)
{
	if (ioctl(v->kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) <= 0)
		return -1;
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	return khz > 0 ? (int64_t)khz * 1000 : -1;
}

int vcpu_set_boot_state(struct vcpu *v, const struct boot_entry *b, char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (b->mode == BOOT_HVT64)
		return set_hvt_state(v, b, err, errlen);
	if (b->mode != BOOT_PVH32 && b->mode != BOOT_LINUX64) {
		snprintf(err, errlen, "unsupported boot mode %d", (int)b->mode);
		return -1;
	}
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS: %s", strerror(errno));
		return -1;
	}
	/* Flat segments matching the boot GDT the loader wrote at b->gdt_gpa. */
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss =
		flat_segment(X86_SEL_DATA, 0x3, 1, 1);
	sregs.tr = (struct kvm_segment){.base = 0, .limit = 0x67, .selector = X86_SEL_TSS,
					.type = 0xb, .present = 1, .s = 0};
	sregs.gdt.base = b->gdt_gpa;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	memset(&regs, 0, sizeof(regs));
	regs.rip = b->rip;
	regs.rbx = b->rbx;
	regs.rsi = b->rsi;
	regs.rflags = 0x2;
	if (b->mode == BOOT_PVH32) {
		/* 32-bit protected mode, paging off. */
		sregs.cs = flat_segment(X86_SEL_CODE32, 0xb, 1, 1);
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr3 = 0;
		sregs.cr4 = 0;
		sregs.efer = 0;
	} else {
		/* Long mode with the loader's identity page tables. */
		sregs.cs = flat_segment(X86_SEL_CODE64, 0xb, 1, 0);
		sregs.cs.l = 1;
		sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs.cr3 = b->cr3;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
		regs.rsp = regs.rbp = X86_BOOT_STACK_GPA;
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_SET_SREGS: %s", strerror(errno));
		return -1;
	}
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(err, errlen, "KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void vcpu_dump_regs(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_error("vCPU %u: cannot read registers: %s", v->id, strerror(errno));
		return;
	}
	fprintf(stderr,
		"mote: vCPU %u registers:\n"
		"  rip %016llx  rsp %016llx  rflags %08llx\n"
		"  rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
		"  rsi %016llx  rdi %016llx  rbp %016llx\n"
		"  r8  %016llx  r9  %016llx  r10 %016llx  r11 %016llx\n"
		"  r12 %016llx  r13 %016llx  r14 %016llx  r15 %016llx\n"
		"  cr0 %016llx  cr2 %016llx  cr3 %016llx  cr4 %016llx  efer %llx\n"
		"  cs %04x (base %llx, dpl %u, l %u, db %u)  ss %04x  tr %04x\n"
		"  gdt %llx/%x  idt %llx/%x\n",
		v->id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8,
		r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
		s.cs.selector, s.cs.base, s.cs.dpl, s.cs.l, s.cs.db, s.ss.selector, s.tr.selector,
		s.gdt.base, s.gdt.limit, s.idt.base, s.idt.limit);
}

/* Turns the run page into a plain exit. Returns false (and *why) when the page is malformed. */
static bool decode_exit(struct vcpu *v, struct exit_info *e, const char **why)
{
	struct kvm_run *run = v->run;
	memset(e, 0, sizeof(*e));
	e->raw_reason = run->exit_reason;
	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint64_t size = run->io.size, count = run->io.count, off = run->io.data_offset;
		/* The data lives inside the run mapping; check before trusting the offset. */
		if (size == 0 || size > 8 || count == 0 || off > v->kvm->run_size ||
		    size * count > v->kvm->run_size - off) {
			*why = "KVM reported a port I/O exit with an impossible data area";
			return false;
		}
		e->kind = EXIT_IO;
		e->addr = run->io.port;
		e->size = (uint32_t)size;
		e->count = (uint32_t)count;
		e->is_write = run->io.direction == KVM_EXIT_IO_OUT;
		e->data = (uint8_t *)run + off;
		return true;
	}
	case KVM_EXIT_MMIO:
		e->kind = EXIT_MMIO;
		e->addr = run->mmio.phys_addr;
		e->size = run->mmio.len;
		e->count = 1;
		e->is_write = run->mmio.is_write;
		e->data = run->mmio.data;
		return true;
	case KVM_EXIT_HLT:
		e->kind = EXIT_HLT;
		return true;
	case KVM_EXIT_SHUTDOWN:
		e->kind = EXIT_SHUTDOWN;
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = EXIT_FAIL_ENTRY;
		e->code = run->fail_entry.hardware_entry_failure_reason;
		return true;
	case KVM_EXIT_INTERNAL_ERROR:
		e->kind = EXIT_INTERNAL_ERROR;
		e->code = run->internal.suberror;
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			e->kind = EXIT_SYSTEM_SHUTDOWN;
			break;
		case KVM_SYSTEM_EVENT_RESET:
			e->kind = EXIT_SYSTEM_RESET;
			break;
		default:
			e->kind = EXIT_SYSTEM_CRASH;
			break;
		}
		e->code = run->system_event.type;
		return true;
	case KVM_EXIT_INTR:
		e->kind = EXIT_INTR;
		return true;
	default:
		e->kind = EXIT_UNKNOWN;
		return true;
	}
}

/* solo5-hvt's words for the same fatal exits (its tooling and tests match them). */
static void report_fatal_hvt(struct vcpu *v, const struct exit_info *e)
{
	switch (e->kind) {
	case EXIT_INTERNAL_ERROR:
		log_error("KVM: internal error exit: suberror=0x%llx", (unsigned long long)e->code);
		break;
	case EXIT_FAIL_ENTRY:
		log_error("KVM: entry failure: hw_entry_failure_reason=0x%llx",
			  (unsigned long long)e->code);
		break;
	default:
		log_error("KVM: unhandled exit: exit_reason=0x%x, rip=0x%llx", e->raw_reason,
			  (unsigned long long)vcpu_rip(v));
		break;
	}
}

static void vcpu_park(struct vcpu *v);

static void report_fatal(struct vcpu *v, const struct exit_info *e, const char *why)
{
	struct kvm_run *run = v->run;
	if (v->hvt)
		report_fatal_hvt(v, e);
	log_error("vCPU %u: %s (exit reason %u, code 0x%llx)", v->id, why, e->raw_reason,
		  (unsigned long long)e->code);
	if (e->kind == EXIT_INTERNAL_ERROR) {
		log_error("vCPU %u: hosts without hardware virtualization (nested or PVM KVM) emulate "
			  "guest kernel code and stop here; hiding features with --cpu-features "
			  "(e.g. -xsave,-cx16) can get a guest further", v->id);
		uint32_t nd = run->internal.ndata;
		if (nd > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
			nd = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
		for (uint32_t i = 0; i < nd; i++)
			fprintf(stderr, "mote:   internal error data[%u] = 0x%llx\n", i,
				(unsigned long long)run->internal.data[i]);
	}
	vcpu_dump_regs(v);
	if (v->on_debug) { /* gdb looks at the crashed vCPU first; the VM ends when it resumes */
		vcpu_debug_fault(v);
		vcpu_park(v);
	}
	stop_request(v->ctx.stop, MOTE_EXIT_GUEST_FAULT, NULL); /* already reported above */
}

uint64_t vcpu_rip(struct vcpu *v)
{
	struct kvm_regs r;
	return ioctl(v->fd, KVM_GET_REGS, &r) < 0 ? 0 : r.rip;
}

/* Waits outside KVM_RUN while a pause is requested (and no stop). The kick that asked for the
 * pause set immediate_exit; clearing it here, before waiting, keeps a later kick (a stop)
 * effective: the loop re-checks the stop flag after the wait. */
static void vcpu_park(struct vcpu *v)
{
	pthread_mutex_lock(&v->pause_lock);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	v->parked = true;
	pthread_cond_broadcast(&v->pause_cond);
	while (atomic_load(&v->pause_req) && !stop_requested(v->ctx.stop))
		pthread_cond_wait(&v->pause_cond, &v->pause_lock);
	v->parked = false;
	pthread_mutex_unlock(&v->pause_lock);
}

static void vcpu_mark_done(struct vcpu *v)
{
	pthread_mutex_lock(&v->pause_lock);
	v->done = true;
	pthread_cond_broadcast(&v->pause_cond);
	pthread_mutex_unlock(&v->pause_lock);
}

/* What a vCPU thread may still ask of the kernel (core/sandbox.c has the rest). */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,       /* run */
	KVM_GET_REGS,  /* register dump when the guest crashes, rip for hvt messages */
	KVM_GET_SREGS, /* same */
	KVM_IRQ_LINE,  /* COM1's interrupt line (vm fd) */
};

static int vcpu_sandbox(struct vcpu *v, char *err, size_t errlen)
{
	return sandbox_enter(v->hvt ? SANDBOX_HVT : SANDBOX_VCPU, vcpu_ioctls,
			     sizeof(vcpu_ioctls) / sizeof(vcpu_ioctls[0]), err, errlen);
}

/* KVM_RUN failed with errno e: EINTR/EAGAIN (a kick or a signal) re-enter after on_intr;
 * EFAULT is the guest touching memory the host cannot give it (solo5-hvt's translation
 * fault); anything else ends the VM. *again counts EAGAIN in a row: without end it means KVM
 * cannot start its worker task for this VM (a cgroup's pids.max leaves no room for it), and
 * retrying would spin forever. Returns false to leave the loop. */
static bool run_failed(struct vcpu *v, int e, unsigned *again)
{
	if (e == EINTR || (e == EAGAIN && ++*again < 1000)) {
		/* A kick's immediate_exit has done its job once KVM_RUN returned: the loop checks
		 * the stop and pause flags next. Left set (a kick that came after vcpu_park had
		 * cleared it, as when a vCPU parked itself on a debug exit), every KVM_RUN would
		 * return EINTR at once. */
		__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
		if (v->on_intr)
			v->on_intr(v->intr_arg);
		return true;
	}
	if (e == EFAULT && v->hvt) {
		stop_request(v->ctx.stop, MOTE_EXIT_GUEST_FAULT, "KVM: host/guest translation fault: "
			     "rip=0x%llx (the guest touched memory the host maps read-only or not at "
			     "all)", (unsigned long long)vcpu_rip(v));
		return false;
	}
	log_error("vCPU %u: KVM_RUN failed: %s%s", v->id, strerror(e),
		  e == EAGAIN ? " (KVM could not start its worker task: is pids.max of mote's cgroup "
		  "below the number of vCPUs + 3?)" : "");
	stop_request(v->ctx.stop, MOTE_EXIT_INTERNAL, "vCPU %u: KVM_RUN failed", v->id);
	return false;
}

static void vcpu_loop(struct vcpu *v)
{
	unsigned again = 0; /* KVM_RUN's EAGAIN in a row */
	bool settled = false; /* a pause: KVM_RUN with immediate_exit returned, nothing pending */
	while (!stop_requested(v->ctx.stop)) {
		bool pausing = atomic_load_explicit(&v->pause_req, memory_order_acquire);
		if (pausing && settled) {
			vcpu_park(v);
			settled = false;
			continue;
		}
		/* Before parking, one KVM_RUN with immediate_exit set: KVM completes an I/O exit
		 * handled last round (a port or MMIO read's value, the rip after an OUT) and returns
		 * EINTR at once, so the state a snapshot reads is whole (api.rst, immediate_exit). */
		if (pausing)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (pausing && (errno == EINTR || errno == EAGAIN)) {
				settled = true;
				continue;
			}
			if (run_failed(v, errno, &again))
				continue;
			break;
		}
		again = 0;
		if (v->run->exit_reason == KVM_EXIT_DEBUG && v->on_debug) {
			v->exits++;
			vcpu_debug_exit(v); /* parks at the top of the loop */
			continue;
		}
		struct exit_info e;
		const char *why = NULL;
		v->exits++;
		if (!decode_exit(v, &e, &why)) {
			report_fatal(v, &e, why);
			break;
		}
		atomic_fetch_add_explicit(&v->exits_by_kind[e.kind], 1, memory_order_relaxed);
		if (e.kind == EXIT_IO || e.kind == EXIT_MMIO)
			atomic_fetch_add_explicit(&v->exits_rw[e.kind == EXIT_MMIO][e.is_write], 1,
						  memory_order_relaxed);
		enum exit_action act = exit_handle(&v->ctx, &e, &why);
		if (act == EXIT_ACT_FATAL) {
			report_fatal(v, &e, why);
			break;
		}
		if (act == EXIT_ACT_STOP)
			break;
	}
	vcpu_mark_done(v);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char tname[16];
	snprintf(tname, sizeof(tname), "vcpu%u", v->id);
	log_set_thread(tname); /* the logger's thread field (core/log.h) */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	char err[160];
	if (vcpu_sandbox(v, err, sizeof(err)) < 0) {
		stop_request(v->ctx.stop, MOTE_EXIT_INTERNAL, "vCPU %u: %s", v->id, err);
		return NULL;
	}
	vcpu_loop(v);
	return NULL;
}

int vcpu_run_here(struct vcpu *v, void (*on_intr)(void *arg), void *arg, char *err,
		  size_t errlen)
{
	sigset_t cur;
	if (pthread_sigmask(SIG_SETMASK, NULL, &cur) != 0)
		return err_set(err, errlen, "cannot read the signal mask");
	sigdelset(&cur, SIGINT);
	sigdelset(&cur, SIGTERM);
	sigdelset(&cur, SIGHUP);
	sigdelset(&cur, KICK_SIGNAL);
	union {
		struct kvm_signal_mask m;
		uint8_t buf[sizeof(struct kvm_signal_mask) + 8];
	} sm;
	sm.m.len = 8; /* the kernel's sigset: 64 signals */
	memcpy(sm.m.sigset, &cur, 8);
	if (ioctl(v->fd, KVM_SET_SIGNAL_MASK, &sm.m) < 0)
		return err_set(err, errlen, "KVM_SET_SIGNAL_MASK: %s", strerror(errno));
	v->thread = pthread_self();
	v->here = true;
	v->on_intr = on_intr;
	v->intr_arg = arg;
	if (vcpu_sandbox(v, err, errlen) < 0)
		return -1;
	vcpu_loop(v);
	return 0;
}

int vcpu_start(struct vcpu *v)
{
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r != 0) {
		errno = r;
		return -1;
	}
	v->started = true;
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->started && !v->here)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KICK_SIGNAL);
	/* A parked vCPU waits on the condition variable, not in KVM_RUN: wake it to see a stop. */
	pthread_mutex_lock(&v->pause_lock);
	pthread_cond_broadcast(&v->pause_cond);
	pthread_mutex_unlock(&v->pause_lock);
}

void vcpu_pause(struct vcpu *v)
{
	pthread_mutex_lock(&v->pause_lock);
	atomic_store_explicit(&v->pause_req, true, memory_order_release);
	pthread_mutex_unlock(&v->pause_lock);
	vcpu_kick(v);
}

int vcpu_wait_parked(struct vcpu *v, unsigned timeout_ms)
{
	if (!v->started && !v->here)
		return 0;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	int r = 0;
	pthread_mutex_lock(&v->pause_lock);
	while (!v->parked && !v->done && r == 0)
		r = pthread_cond_timedwait(&v->pause_cond, &v->pause_lock, &dl);
	bool ok = v->parked || v->done;
	pthread_mutex_unlock(&v->pause_lock);
	return ok ? 0 : -1;
}

void vcpu_resume(struct vcpu *v)
{
	pthread_mutex_lock(&v->pause_lock);
	atomic_store_explicit(&v->pause_req, false, memory_order_release);
	pthread_cond_broadcast(&v->pause_cond);
	pthread_mutex_unlock(&v->pause_lock);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
	if (v->run)
		munmap(v->run, v->kvm->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
