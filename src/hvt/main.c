/* The hvt monitor, top to bottom: command line -> unikernel file (ABI note, manifest) ->
 * devices named on the command line matched to the manifest and opened -> guest memory laid
 * out as solo5-hvt's (plus the net ring's block) -> ELF segments -> W^X page tables, GDT, boot
 * info -> KVM VM and one vCPU in 64-bit mode -> text read-only -> the net ring's thread -> run
 * the vCPU on this thread until the unikernel halts (its status), or anything else ends it
 * (status 1, as solo5-hvt) -> tear down. Messages carry solo5-hvt's wording. */
#include "hvt/hvt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "boot/elf.h"
#include "boot/image.h"
#include "core/bus.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/stop.h"
#include "gdb/server.h"
#include "hvt/cli.h"
#include "hvt/hypercall.h"
#include "hvt/layout.h"
#include "hvt/mft.h"
#include "hvt/ring.h"
#include "kvm/kvm.h"
#include "core/status.h"

#ifndef MOTE_VERSION
#define MOTE_VERSION "unknown"
#endif

#define ERRLEN 512
#define HVT_NET_MTU 1500       /* when the interface's MTU cannot be read */
#define SOLO5_VERSION "v0.12.1" /* the solo5-hvt whose interface mote reproduces */
#define HVT_STATUS_ERROR 1     /* solo5-hvt's status for every tender error */

/* Small members first, the big arrays last (the hvt's devices, the manifest's entries, the
 * command line's devices): a run touches few pages of it. */
struct hvt_vm {
	struct image kernel;
	struct guest_mem gm;
	struct kvm kvm;
	struct vm_stop stop;
	struct bus pio, mmio;
	struct vcpu vcpu;
	bool vcpu_ready;
	bool gdb_ready;                /* --gdb-socket */
	int sig_fd;
	uint64_t ring_gpa;             /* the net ring's block, or 0 */
	struct hvt_ring_host ring;
	bool ring_ready;
	size_t nro;
	struct gm_region ro[HVT_MAX_RO]; /* read-only to the guest and to mote (protect_text) */
	struct hvt hvt;
	struct hvt_mft mft;
	struct hvt_cli cli;
	char cmdline[HVT_CMDLINE_SIZE];
	struct gdb_server gdb;         /* large, and only touched with --gdb-socket */
};

bool hvt_wanted(int argc, char **argv, int *shift)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	base = base ? base + 1 : argc > 0 ? argv[0] : "";
	*shift = 0;
	if (!strcmp(base, "solo5-hvt"))
		return true;
	if (argc > 1 && !strcmp(argv[1], "hvt")) {
		*shift = 1;
		return true;
	}
	return false;
}

/* Names the declared devices of one type, for messages ("a, b" or "none"). */
static void list_declared(const struct hvt_mft *m, uint32_t type, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 1; i < m->n && n < len; i++)
		if (m->e[i].type == type)
			n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", m->e[i].name);
	if (!buf[0])
		snprintf(buf, len, "none");
}

static void random_mac(uint8_t mac[6])
{
	if (getrandom(mac, 6, 0) != 6) {
		uint64_t t = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
		memcpy(mac, &t, 6);
	}
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
}

/* One --block:/--net: option's NAME -> its manifest entry, or -1 with err set. */
static int declared(struct hvt_vm *vm, const char *opt, const char *name, uint32_t type,
		    char *err, size_t errlen)
{
	char names[256];
	int idx = hvt_mft_find(&vm->mft, name, type);
	if (idx >= 0)
		return idx;
	list_declared(&vm->mft, type, names, sizeof(names));
	return err_set(err, errlen, "%s%s: Resource not declared in manifest: '%s' (the unikernel's "
				    "%s devices: %s)", opt, name, name,
		       type == MFT_DEV_BLOCK_BASIC ? "block" : "network", names);
}

/* Command-line devices -> manifest entries; every declared device must be attached. */
static int match_devices(struct hvt_vm *vm, char *err, size_t errlen)
{
	struct hvt_mft *m = &vm->mft;
	for (unsigned i = 0; i < vm->cli.nblocks; i++) {
		int idx = declared(vm, "--block:", vm->cli.blocks[i].name, MFT_DEV_BLOCK_BASIC, err,
				   errlen);
		if (idx < 0)
			return -1;
		m->e[idx].attached = true;
	}
	for (unsigned i = 0; i < vm->cli.nnets; i++) {
		const char *name = vm->cli.nets[i].name;
		int idx = declared(vm, "--net:", name, MFT_DEV_NET_BASIC, err, errlen);
		if (idx < 0)
			return -1;
		m->e[idx].attached = true;
		random_mac(m->e[idx].mac);
		for (unsigned j = 0; j < vm->cli.nmacs; j++)
			if (!strcmp(vm->cli.macs[j].name, name))
				memcpy(m->e[idx].mac, vm->cli.macs[j].mac, 6);
	}
	for (unsigned i = 1; i < m->n; i++) {
		if (m->e[i].attached)
			continue;
		bool blk = m->e[i].type == MFT_DEV_BLOCK_BASIC;
		return err_set(err, errlen, "Device '%s' of type %s declared but not attached. All "
					    "declared devices must be attached. See --help for syntax. "
					    "Add %s%s=%s", m->e[i].name, hvt_mft_type_name(m->e[i].type),
			       blk ? "--block:" : "--net:", m->e[i].name, blk ? "PATH" : "TAP");
	}
	return 0;
}

static int open_block(struct hvt_vm *vm, const struct hvt_cli_dev *c, char *err, size_t errlen)
{
	int idx = hvt_mft_find(&vm->mft, c->name, MFT_DEV_BLOCK_BASIC);
	struct blk_backend *b = &vm->hvt.dev[idx].blk;
	char e2[ERRLEN - 64];
	if (blk_file_open(c->path, false, false, b, e2, sizeof(e2)) < 0)
		return err_set(err, errlen, "--block:%s: Could not open block device: %s", c->name, e2);
	if (b->size % c->sector_size)
		return err_set(err, errlen, "%s: Backing storage size must be block aligned (%u "
					    "bytes): %s is %llu bytes, not a whole number of %u-byte "
					    "sectors", c->name, c->sector_size, c->path,
			       (unsigned long long)b->size, c->sector_size);
	if (b->size < c->sector_size)
		return err_set(err, errlen, "%s: Backing storage must be at least 1 block (%u bytes) "
					    "in size: %s is empty", c->name, c->sector_size, c->path);
	vm->mft.e[idx].capacity = b->size;
	vm->mft.e[idx].block_size = (uint16_t)c->sector_size;
	return 0;
}

static int open_net(struct hvt_vm *vm, const struct hvt_cli_dev *c, char *err, size_t errlen)
{
	int idx = hvt_mft_find(&vm->mft, c->name, MFT_DEV_NET_BASIC);
	struct net_backend *n = &vm->hvt.dev[idx].net;
	char e2[ERRLEN - 96], at[16];
	snprintf(at, sizeof(at), "@%d", c->fd);
	const char *what = c->fd >= 0 ? at : c->iface;
	int r = c->fd >= 0 ? net_tap_adopt(c->fd, n, e2, sizeof(e2))
			   : net_tap_open(c->iface, 0, n, e2, sizeof(e2));
	if (r < 0)
		return err_set(err, errlen, "--net:%s: Could not attach interface: %s: %s", c->name,
			       what, e2);
	if (!n->up)
		return err_set(err, errlen, "--net:%s: Could not attach interface: %s: Network is "
					    "down (bring it up: ip link set %s up)", c->name, what,
			       n->ifname);
	/* The unikernel is told the tap's MTU (SIOCGIFMTU), as solo5-hvt does. */
	vm->mft.e[idx].mtu = (uint16_t)(n->mtu == 0 ? HVT_NET_MTU : n->mtu > 65535 ? 65535 : n->mtu);
	return 0;
}

/* Opens the backends of the attached devices. Returns 0, or -1 with err set. */
static int open_devices(struct hvt_vm *vm, char *err, size_t errlen)
{
	for (unsigned i = 0; i < vm->cli.nblocks; i++)
		if (open_block(vm, &vm->cli.blocks[i], err, errlen) < 0)
			return -1;
	for (unsigned i = 0; i < vm->cli.nnets; i++)
		if (open_net(vm, &vm->cli.nets[i], err, errlen) < 0)
			return -1;
	return 0;
}

/* RAM as solo5-hvt lays it out: [0, --mem) for the unikernel; with a network device one more
 * 2 MiB block on top for the net ring (within the 4 GiB maximum: at --mem=4096 it comes out of
 * the unikernel's share), whose address is the mem_size the unikernel is told. Returns the
 * RAM size; sets the ring's address (0: none) and the unikernel's limit. */
static uint64_t plan_memory(struct hvt_vm *vm)
{
	uint64_t ram = vm->cli.mem_size;
	vm->ring_gpa = 0;
	if (vm->cli.nnets > 0) {
		ram = ram + HVT_RING_BLOCK > HVT_MAX_MEM ? HVT_MAX_MEM : ram + HVT_RING_BLOCK;
		if (ram >= 2 * HVT_RING_BLOCK)
			vm->ring_gpa = ram - HVT_RING_BLOCK;
		else
			log_warn("Not enough guest memory for ring allocation: the network devices "
				 "use the hypercalls only");
	}
	vm->hvt.mem_limit = vm->ring_gpa ? vm->ring_gpa : ram;
	return ram;
}

static int load_unikernel(struct hvt_vm *vm, struct boot_entry *entry, char *err, size_t errlen)
{
	struct elf_exec x;
	const struct gm_region ram = {.gpa = 0, .size = plan_memory(vm)};
	uint64_t limit = vm->hvt.mem_limit;

	if (vm->cli.mem_adjusted)
		log_warn("adjusting memory to %llu bytes (--mem is rounded down to whole 2 MiB pages)",
			 (unsigned long long)vm->cli.mem_size);
	if (gm_fits_limit(ram.size, secure_getenv("MOTE_MEMORY_LIMIT"), err, errlen) < 0 ||
	    gm_create(&vm->gm, &ram, 1, err, errlen) < 0)
		return -1;
	char e2[ERRLEN - 64];
	if (elf_load_exec(vm->kernel.data, vm->kernel.size, &vm->gm, HVT_GUEST_MIN_BASE, &x, e2,
			  sizeof(e2)) < 0)
		return err_set(err, errlen, "invalid or unsupported executable: %s", e2);
	if (x.load_hi > limit)
		return err_set(err, errlen, "invalid or unsupported executable: it ends at 0x%llx, "
					    "beyond its %llu MiB of memory: raise --mem",
			       (unsigned long long)x.load_hi, (unsigned long long)(limit >> 20));
	if (hvt_build_paging(&vm->gm, &x, err, errlen) < 0)
		return -1;
	vm->nro = hvt_ro_ranges(&x, vm->ro, HVT_MAX_RO);
	/* The manifest is written in place (the boot info page), not staged on the stack. */
	size_t mft_size = hvt_mft_guest_size(&vm->mft);
	uint8_t *mft = gm_ptr(&vm->gm, HVT_MFT_GPA, mft_size);
	if (!mft)
		return err_set(err, errlen, "internal: manifest outside guest memory");
	hvt_mft_guest_write(&vm->mft, mft);
	/* cpu_cycle_freq is filled once the vCPU exists (create_vcpu). */
	const struct hvt_boot_params bp = {.mem_size = limit, .kernel_end = hvt_kernel_end(&x),
					   .net_ring = vm->ring_gpa, .cmdline = vm->cmdline,
					   .mft = mft, .mft_size = mft_size};
	if (hvt_write_boot_info(&vm->gm, &bp, err, errlen) < 0)
		return -1;
	*entry = (struct boot_entry){.mode = BOOT_HVT64, .rip = x.entry, .gdt_gpa = HVT_GDT_GPA,
				     .cr3 = HVT_PML4_GPA, .rdi = HVT_BOOT_INFO_GPA,
				     .rsp = limit - 8};
	return 0;
}

static uint64_t rip_of_vcpu(void *ctx)
{
	return vcpu_rip(ctx);
}

static int create_vcpu(struct hvt_vm *vm, const struct boot_entry *entry, char *err,
		       size_t errlen)
{
	const struct exit_ctx ctx = {.pio = &vm->pio, .mmio = &vm->mmio, .stop = &vm->stop};
	const struct cpuid_hide none = {0};
	if (bus_register(&vm->pio, 0, HVT_PIO_SPACE, &hvt_pio_ops, &vm->hvt, "hvt") < 0 ||
	    bus_register(&vm->mmio, 0, HVT_MMIO_SPACE, &hvt_mmio_ops, &vm->hvt, "hvt") < 0)
		return err_set(err, errlen, "cannot register the hypercall ranges");
	if (vcpu_create(&vm->vcpu, &vm->kvm, 0, 1, &none, &ctx, err, errlen) < 0)
		return -1;
	vm->vcpu_ready = true;
	vm->vcpu.hvt = true;
	vm->hvt.rip = rip_of_vcpu;
	vm->hvt.rip_ctx = &vm->vcpu;
	int64_t hz = vcpu_tsc_hz(&vm->vcpu);
	if (hz <= 0)
		return err_set(err, errlen, "KVM: ioctl (KVM_GET_TSC_KHZ) failed: KVM cannot tell the "
				            "TSC frequency, which unikernels need for their clock");
	uint64_t freq = (uint64_t)hz;
	if (gm_write(&vm->gm, HVT_BOOT_INFO_GPA + offsetof(struct hvt_boot_info, cpu_cycle_freq),
		     &freq, sizeof(freq)) < 0)
		return err_set(err, errlen, "internal: boot info outside guest memory");
	return vcpu_set_boot_state(&vm->vcpu, entry, err, errlen);
}

static void wake_vcpu(void *vcpu)
{
	vcpu_kick(vcpu);
}

/* The net ring: zeroed, its kick port wired to an eventfd in the kernel. */
static int setup_ring(struct hvt_vm *vm, char *err, size_t errlen)
{
	if (!vm->ring_gpa)
		return 0;
	if (hvt_ring_init(&vm->ring, &vm->hvt, vm->ring_gpa, err, errlen) < 0)
		return -1;
	vm->ring_ready = true;
	vm->ring.wake = wake_vcpu;
	vm->ring.wake_arg = &vm->vcpu;
	return kvm_add_pio_eventfd(&vm->kvm, HVT_RING_KICK_PORT, 4, vm->ring.kick_fd, err, errlen);
}

/* W^X by the host, as solo5-hvt does it: the text, rodata and boot info pages (all written by
 * now) become read-only in mote's own mapping, so KVM maps them read-only to the guest; a
 * guest write there ends the VM ("host/guest translation fault": KVM_RUN's EFAULT, or an MMIO
 * exit on hosts that emulate it, hypercall.c) and mote cannot write them either. One memory
 * slot, not one per range: each slot is an ioctl with an RCU grace period at start-up. */
static int protect_text(struct hvt_vm *vm, char *err, size_t errlen)
{
	for (size_t i = 0; i < vm->nro; i++)
		if (gm_protect_ro(&vm->gm, vm->ro[i].gpa, vm->ro[i].size, err, errlen) < 0)
			return -1;
	return 0;
}

/* --gdb-socket: the unikernel waits before its first instruction until gdb is connected;
 * gdb writes no breakpoint into the read-only text (the stub uses debug registers there). */
static int wait_for_gdb(struct hvt_vm *vm)
{
	char err[ERRLEN];
	if (!vm->gdb_ready)
		return 0;
	int r = gdb_server_accept(&vm->gdb, vm->sig_fd, err, sizeof(err));
	if (r < 0)
		return log_error("%s", err), -1;
	if (r > 0)
		return log_error("stopped by a signal while waiting for gdb"), -1;
	vm->gdb.sig_fd = vm->sig_fd;
	gdb_server_bind(&vm->gdb, &vm->vcpu, 1, &vm->gm, vm->ro, vm->nro, &vm->stop,
			HVT_STATUS_ERROR);
	return 0;
}

/* Everything before the run; returns 0, or -1 after one error line. */
static int setup(struct hvt_vm *vm)
{
	char err[ERRLEN];
	struct boot_entry entry;
	const char *k = vm->cli.kernel;

	if (hvt_cli_cmdline(&vm->cli, vm->cmdline, sizeof(vm->cmdline), err, sizeof(err)) < 0)
		return log_error("Guest command line too long (max=%u characters): %s",
				 HVT_CMDLINE_SIZE - 1, err), -1;
	if (vm->cli.gdb_socket) {
		vm->gdb_ready = true;
		if (gdb_server_listen(&vm->gdb, vm->cli.gdb_socket, NULL, err, sizeof(err)) < 0)
			return log_error("%s", err), -1;
	}
	if (image_map(k, "unikernel", &vm->kernel, err, sizeof(err)) < 0)
		return log_error("%s: Could not open: %s", k, err), -1;
	if (hvt_notes_parse(vm->kernel.data, vm->kernel.size, &vm->mft, err, sizeof(err)) < 0)
		return log_error("%s: %s", k, err), -1;
	if (match_devices(vm, err, sizeof(err)) < 0 || open_devices(vm, err, sizeof(err)) < 0)
		return log_error("%s", err), -1;
	if (kvm_open(&vm->kvm, err, sizeof(err)) < 0)
		return log_error("Could not open: /dev/kvm: %s", err), -1;
	if (load_unikernel(vm, &entry, err, sizeof(err)) < 0)
		return log_error("%s: %s", k, err), -1;
	image_unmap(&vm->kernel);
	if (stop_init(&vm->stop) < 0 || (vm->sig_fd = stop_signal_fd()) < 0 ||
	    vcpu_signals_init() < 0)
		return log_error("cannot create event descriptors: %s", strerror(errno)), -1;
	vm->hvt.gm = &vm->gm;
	vm->hvt.stop = &vm->stop;
	vm->hvt.mft = &vm->mft;
	vm->hvt.out_fd = STDOUT_FILENO;
	vm->hvt.sig_fd = vm->sig_fd;
	vm->hvt.ro = vm->ro;
	vm->hvt.nro = vm->nro;
	if (kvm_create_vm_bare(&vm->kvm, &vm->gm, err, sizeof(err)) < 0 ||
	    create_vcpu(vm, &entry, err, sizeof(err)) < 0 || setup_ring(vm, err, sizeof(err)) < 0 ||
	    protect_text(vm, err, sizeof(err)) < 0)
		return log_error("%s", err), -1;
	return wait_for_gdb(vm);
}

static void on_signal(void *hvt)
{
	hvt_take_signal(hvt);
}

/* Every descriptor is open: from here on the process keeps only its allowlist, and this
 * thread (the vCPU, which runs the hypercalls) and the ring's the narrower SANDBOX_HVT one. */
static int run(struct hvt_vm *vm)
{
	char err[ERRLEN];
	if (!sandbox_enabled())
		log_warn("this is the unsandboxed debug build: no seccomp filters");
	else if (sandbox_enter(SANDBOX_PROCESS, NULL, 0, err, sizeof(err)) < 0)
		return log_error("%s", err), -1;
	if (vm->ring_ready && hvt_ring_start(&vm->ring) < 0)
		return log_error("cannot start the net ring thread: %s", strerror(errno)), -1;
	if (vm->gdb_ready && vm->gdb.conn_fd >= 0 && gdb_server_start(&vm->gdb, err, sizeof(err)) < 0)
		return log_error("%s", err), -1;
	if (vcpu_run_here(&vm->vcpu, on_signal, &vm->hvt, err, sizeof(err)) < 0)
		return log_error("%s", err), -1;
	return 0;
}

static void teardown(struct hvt_vm *vm)
{
	if (vm->stop.efd >= 0 && !stop_requested(&vm->stop))
		stop_request(&vm->stop, MOTE_EXIT_INTERNAL, NULL);
	if (vm->gdb_ready) { /* gdb hears the status mote exits with */
		gdb_server_end(&vm->gdb, vm->hvt.halted ? vm->stop.status : HVT_STATUS_ERROR);
		gdb_server_close(&vm->gdb);
	}
	if (vm->ring_ready)
		hvt_ring_destroy(&vm->ring, vm->hvt.halted);
	if (vm->vcpu_ready)
		vcpu_destroy(&vm->vcpu);
	for (unsigned i = 1; i < vm->mft.n; i++) { /* only the attached entries are touched */
		struct blk_backend *b = &vm->hvt.dev[i].blk;
		if (!vm->mft.e[i].attached)
			continue;
		if (b->ops && b->ops->flush(b->be) < 0)
			log_warn("block device '%s': flush at exit failed", vm->mft.e[i].name);
		blk_close(b);
		net_close(&vm->hvt.dev[i].net);
	}
	if (vm->stop.reason[0])
		log_error("%s", vm->stop.reason);
	log_info("unikernel ended with status %d after %llu hypercalls (%llu exits)",
		 vm->stop.status, (unsigned long long)vm->hvt.hypercalls,
		 (unsigned long long)vm->vcpu.exits);
	if (vm->ring_ready)
		log_info("net ring: %llu frames sent, %llu received, %llu dropped",
			 (unsigned long long)vm->ring.sent, (unsigned long long)vm->ring.received,
			 (unsigned long long)vm->ring.dropped);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	if (vm->sig_fd >= 0)
		close(vm->sig_fd);
	if (vm->stop.efd >= 0)
		stop_destroy(&vm->stop);
	/* The VM before its memory: unmapping RAM KVM still maps makes KVM zap it page by page
	 * (its MMU notifier); once the VM is gone the unmap is cheap. */
	kvm_close(&vm->kvm);
	gm_destroy(&vm->gm);
	image_unmap(&vm->kernel);
}

static void print_version(const char *prog)
{
	fprintf(stderr, "%s tender, version %s (mote %s)\nABI version %d\n", prog, SOLO5_VERSION,
		MOTE_VERSION, HVT_ABI_VERSION);
}

int hvt_main(int argc, char **argv)
{
	static struct hvt_vm vm; /* large; lives for the whole process */
	char err[ERRLEN], prog[64];
	/* `mote hvt` or a link named solo5-hvt: messages start with that name, as solo5-hvt's. */
	bool shifted = argc > 0 && !strcmp(argv[0], "hvt");
	snprintf(prog, sizeof(prog), "%s%s", program_invocation_short_name, shifted ? " hvt" : "");
	log_set_name(program_invocation_short_name);

	/* solo5-hvt's statuses: 1 for every error of its own (and --help), the unikernel's own
	 * status when it halts. */
	switch (hvt_cli_parse(argc, argv, &vm.cli, err, sizeof(err))) {
	case HVT_CLI_HELP:
		hvt_cli_usage(stderr, prog);
		return HVT_STATUS_ERROR;
	case HVT_CLI_VERSION:
		print_version(prog);
		return MOTE_EXIT_OK;
	case HVT_CLI_ERROR:
		log_error("%s", err);
		return HVT_STATUS_ERROR;
	case HVT_CLI_RUN:
		break;
	}
	log_set_level(vm.cli.verbosity < 0 ? LOG_ERROR : vm.cli.verbosity == 0 ? LOG_WARN
											 : LOG_INFO);
	vm.sig_fd = -1;
	vm.stop.efd = -1;
	vm.kvm.sys_fd = vm.kvm.vm_fd = -1;
	vm.gm.fd = -1;
	vm.hvt.sig_fd = -1;
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	int rc = setup(&vm);
	if (rc == 0)
		rc = run(&vm);
	teardown(&vm);
	return rc == 0 && vm.hvt.halted ? vm.stop.status : HVT_STATUS_ERROR;
}
