/* Unit tests for the KVM side of the GDB stub (kvm/debug.c) on a real /dev/kvm (skipped
 * without one): the debugger's register view round-trips through KVM (general, segment base,
 * x87, SSE), and KVM_SET_GUEST_DEBUG as mote issues it gives KVM_EXIT_DEBUG for a single step
 * (DR6.BS), a DR0 instruction breakpoint, a DR1 write watchpoint and an int3, on a vCPU in real
 * mode (the last two skipped on PVM hosts, whose emulator checks neither). */
#include <linux/kvm.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/guest_mem.h"
#include "kvm/debug.h"
#include "kvm/kvm.h"
#include "test.h"

static struct kvm k;
static bool pvm; /* PVM emulates real mode: no data breakpoints, no #BP intercept there */
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
static void enter(const uint8_t *code, size_t n)
{
	struct kvm_sregs sr;
	struct kvm_regs r;
	CHECK_EQ(gm_write(&gm, 0x1000, code, n), 0);
	CHECK_EQ(ioctl(v.fd, KVM_GET_SREGS, &sr), 0);
	sr.cs.base = 0;
	sr.cs.selector = 0;
	CHECK_EQ(ioctl(v.fd, KVM_SET_SREGS, &sr), 0);
	memset(&r, 0, sizeof(r));
	r.rip = 0x1000;
	r.rflags = 0x2;
	CHECK_EQ(ioctl(v.fd, KVM_SET_REGS, &r), 0);
}

static void enter_code(void)
{
	static const uint8_t code[] = {0x90, 0x90, 0xf4}; /* nop; nop; hlt */
	enter(code, sizeof(code));
}

static void write_watchpoint(void)
{
	static const uint8_t code[] = {0xa2, 0x00, 0x20, 0x90, 0xf4}; /* mov [0x2000], al; nop; hlt */
	const uint64_t dr[4] = {0, 0x2000, 0, 0};
	const uint64_t none[4] = {0};
	enter(code, sizeof(code));
	/* slot 1: L1, RW1 = 01 (write), LEN1 = 00 (1 byte), LE: as the stub encodes Z2 */
	CHECK_EQ(vcpu_debug_control(&v, false, dr, 0x4 | (1u << 20) | 0x100, false), 0);
	CHECK_EQ(ioctl(v.fd, KVM_RUN, 0), 0);
	CHECK_EQ(v.run->exit_reason, KVM_EXIT_DEBUG);
	CHECK(v.run->debug.arch.dr6 & 2);
	CHECK_EQ(v.run->debug.arch.pc, 0x1003); /* a trap: after the write */
	CHECK_EQ(vcpu_debug_control(&v, false, none, 0, false), 0);
}

static void int3_exit(void)
{
	static const uint8_t code[] = {0xcc, 0xf4}; /* int3; hlt */
	const uint64_t none[4] = {0};
	enter(code, sizeof(code));
	CHECK_EQ(vcpu_debug_control(&v, true, none, 0, false), 0);
	CHECK_EQ(ioctl(v.fd, KVM_RUN, 0), 0);
	CHECK_EQ(v.run->exit_reason, KVM_EXIT_DEBUG);
	CHECK_EQ(v.run->debug.arch.exception, 3);
	CHECK(v.run->debug.arch.pc == 0x1000 || v.run->debug.arch.pc == 0x1001);
	CHECK_EQ(vcpu_debug_control(&v, false, none, 0, false), 0);
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
	pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
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
	if (pvm) { /* tried: the VM runs on to its hlt */
		printf("skip gdb_kvm.write_watchpoint: PVM's emulator checks no data breakpoints\n");
		printf("skip gdb_kvm.int3_exit: PVM's emulator runs int3 without the #BP intercept\n");
	} else {
		RUN(write_watchpoint);
		RUN(int3_exit);
	}
	vcpu_destroy(&v);
	kvm_close(&k);
	gm_destroy(&gm);
	TEST_MAIN_END();
}
