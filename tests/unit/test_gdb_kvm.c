/* Unit tests for the KVM side of the GDB stub (kvm/debug.c) on a real /dev/kvm (skipped
 * without one): the debugger's register view round-trips through KVM (general, segment base,
 * x87, SSE), and KVM_SET_GUEST_DEBUG as mote issues it gives KVM_EXIT_DEBUG for a single step
 * (DR6.BS) and for a DR0 instruction breakpoint, on a vCPU in real mode running nop; nop; hlt. */
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "kvm/debug.h"
#include "kvm/kvm.h"
#include "test.h"

static struct kvm k;
static struct guest_mem gm;
static struct vcpu v;

static void registers_round_trip(void)
{
	struct x86_cpu_state s, t;
	CHECK_EQ(vcpu_debug_get(&v, &s), 0);
	s.gpr[X86_RAX] = 0x1122334455667788ull;
	s.gpr[X86_R15] = 15;
	s.rip = 0x1000;
	s.rflags = 0x2;
	s.fs_base = 0x5000;
	s.gs_base = 0x6000;
	s.xmm[3][0] = 0xab;
	s.xmm[15][15] = 0xcd;
	s.fcw = 0x27f;
	s.st[1][0] = 1;
	s.mxcsr = 0x1f80;
	CHECK_EQ(vcpu_debug_set(&v, &s), 0);
	CHECK_EQ(vcpu_debug_get(&v, &t), 0);
	CHECK_EQ(t.gpr[X86_RAX], 0x1122334455667788ull);
	CHECK_EQ(t.gpr[X86_R15], 15);
	CHECK_EQ(t.rip, 0x1000);
	CHECK_EQ(t.fs_base, 0x5000);
	CHECK_EQ(t.gs_base, 0x6000);
	CHECK_EQ(t.xmm[3][0], 0xab);
	CHECK_EQ(t.xmm[15][15], 0xcd);
	CHECK_EQ(t.fcw, 0x27f);
	CHECK_EQ(t.st[1][0], 1);
	CHECK_EQ(t.cr0, s.cr0);
	CHECK_EQ(vcpu_debug_set(&v, &t), 0); /* nothing changed: nothing written */
}

/* Real mode at cs = 0, code at 0x1000. */
static void enter_code(void)
{
	static const uint8_t code[] = {0x90, 0x90, 0xf4}; /* nop; nop; hlt */
	struct kvm_sregs sr;
	struct kvm_regs r;
	CHECK_EQ(gm_write(&gm, 0x1000, code, sizeof(code)), 0);
	CHECK_EQ(ioctl(v.fd, KVM_GET_SREGS, &sr), 0);
	sr.cs.base = 0;
	sr.cs.selector = 0;
	CHECK_EQ(ioctl(v.fd, KVM_SET_SREGS, &sr), 0);
	memset(&r, 0, sizeof(r));
	r.rip = 0x1000;
	r.rflags = 0x2;
	CHECK_EQ(ioctl(v.fd, KVM_SET_REGS, &r), 0);
}

static void single_step(void)
{
	const uint64_t dr[4] = {0};
	enter_code();
	CHECK_EQ(vcpu_debug_control(&v, false, dr, 0, true), 0);
	CHECK_EQ(ioctl(v.fd, KVM_RUN, 0), 0);
	CHECK_EQ(v.run->exit_reason, KVM_EXIT_DEBUG);
	CHECK_EQ(v.run->debug.arch.exception, 1);
	CHECK(v.run->debug.arch.dr6 & (1u << 14));
	CHECK_EQ(v.run->debug.arch.pc, 0x1001);
	CHECK_EQ(vcpu_debug_control(&v, false, dr, 0, false), 0);
}

static void hardware_breakpoint(void)
{
	const uint64_t dr[4] = {0x1001, 0, 0, 0};
	enter_code();
	CHECK_EQ(vcpu_debug_control(&v, true, dr, 0x1 | 0x100, false), 0); /* L0, exec */
	CHECK_EQ(ioctl(v.fd, KVM_RUN, 0), 0);
	CHECK_EQ(v.run->exit_reason, KVM_EXIT_DEBUG);
	CHECK_EQ(v.run->debug.arch.exception, 1);
	CHECK(v.run->debug.arch.dr6 & 1);
	CHECK_EQ(v.run->debug.arch.pc, 0x1001);
	const uint64_t none[4] = {0};
	CHECK_EQ(vcpu_debug_control(&v, false, none, 0, false), 0); /* off: runs to the hlt */
	CHECK_EQ(ioctl(v.fd, KVM_RUN, 0), 0);
	CHECK_EQ(v.run->exit_reason, KVM_EXIT_HLT);
}

int main(void)
{
	char err[256];
	const struct gm_region r = {.gpa = 0, .size = 2u << 20};
	const struct cpuid_hide none = {0};
	const struct exit_ctx ctx = {0};
	test_suite_name = "gdb_kvm";
	if (access("/dev/kvm", R_OK | W_OK) != 0) {
		printf("skip gdb_kvm: no usable /dev/kvm\n");
		return 0;
	}
	if (kvm_open(&k, err, sizeof(err)) < 0 || gm_create(&gm, &r, 1, err, sizeof(err)) < 0 ||
	    kvm_create_vm_bare(&k, &gm, err, sizeof(err)) < 0 ||
	    vcpu_create(&v, &k, 0, 1, &none, &ctx, err, sizeof(err)) < 0) {
		printf("fail gdb_kvm.setup: %s\n", err);
		return 1;
	}
	RUN(registers_round_trip);
	RUN(single_step);
	RUN(hardware_breakpoint);
	vcpu_destroy(&v);
	kvm_close(&k);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
