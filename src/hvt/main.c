/* The hvt monitor, top to bottom: command line -> unikernel file (ABI note, manifest) ->
 * devices named on the command line matched to the manifest and opened -> guest memory ->
 * ELF segments -> W^X page tables, GDT, boot info -> KVM VM and one vCPU in 64-bit mode ->
 * run until the unikernel halts (its status), aborts (255), misbehaves or a signal arrives ->
 * tear down. Statuses: see hvt/cli.c usage and docs/unikernels.md. */
#include "hvt/hvt.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "boot/elf.h"
#include "boot/image.h"
#include "core/bus.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/stop.h"
#include "hvt/cli.h"
#include "hvt/hypercall.h"
#include "hvt/layout.h"
#include "hvt/mft.h"
#include "kvm/kvm.h"
#include "status.h"

#ifndef MOTE_VERSION
#define MOTE_VERSION "unknown"
#endif

#define ERRLEN 512
#define HVT_NET_MTU 1500

struct hvt_vm {
	struct hvt_cli cli;
	struct image kernel;
	struct hvt_mft mft;
	struct hvt hvt;
	struct guest_mem gm;
	struct kvm kvm;
	struct vm_stop stop;
	struct bus pio, mmio;
	struct vcpu vcpu;
	bool vcpu_ready;
	int sig_fd;
	char cmdline[HVT_CMDLINE_SIZE];
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

/* Command-line devices -> manifest entries; every declared device must be attached. */
static int match_devices(struct hvt_vm *vm, char *err, size_t errlen)
{
	struct hvt_mft *m = &vm->mft;
	char names[256];
	for (unsigned i = 0; i < vm->cli.nblocks; i++) {
		const char *name = vm->cli.blocks[i].name;
		int idx = hvt_mft_find(m, name, MFT_DEV_BLOCK_BASIC);
		if (idx < 0) {
			list_declared(m, MFT_DEV_BLOCK_BASIC, names, sizeof(names));
			return err_set(err, errlen, "--block:%s: the unikernel declares no block device "
					            "'%s' (it declares: %s)", name, name, names);
		}
		m->e[idx].attached = true;
	}
	for (unsigned i = 0; i < vm->cli.nnets; i++) {
		const char *name = vm->cli.nets[i].name;
		int idx = hvt_mft_find(m, name, MFT_DEV_NET_BASIC);
		if (idx < 0) {
			list_declared(m, MFT_DEV_NET_BASIC, names, sizeof(names));
			return err_set(err, errlen, "--net:%s: the unikernel declares no network device "
					            "'%s' (it declares: %s)", name, name, names);
		}
		m->e[idx].attached = true;
		m->e[idx].mtu = HVT_NET_MTU;
		random_mac(m->e[idx].mac);
		for (unsigned j = 0; j < vm->cli.nmacs; j++)
			if (!strcmp(vm->cli.macs[j].name, name))
				memcpy(m->e[idx].mac, vm->cli.macs[j].mac, 6);
	}
	for (unsigned i = 1; i < m->n; i++) {
		if (m->e[i].attached)
			continue;
		bool blk = m->e[i].type == MFT_DEV_BLOCK_BASIC;
		return err_set(err, errlen, "the unikernel declares %s device '%s' but it is not "
				            "attached: add %s%s=%s", blk ? "block" : "network",
			       m->e[i].name, blk ? "--block:" : "--net:", m->e[i].name,
			       blk ? "PATH" : "TAP");
	}
	return 0;
}

/* Opens the backends of the attached devices. Returns a status, 0 when all opened. */
static int open_devices(struct hvt_vm *vm, char *err, size_t errlen)
{
	for (unsigned i = 0; i < vm->cli.nblocks; i++) {
		const struct hvt_cli_dev *c = &vm->cli.blocks[i];
		int idx = hvt_mft_find(&vm->mft, c->name, MFT_DEV_BLOCK_BASIC);
		struct blk_backend *b = &vm->hvt.dev[idx].blk;
		char e2[ERRLEN - 64];
		if (blk_file_open(c->path, false, false, b, e2, sizeof(e2)) < 0) {
			err_set(err, errlen, "--block:%s: %s", c->name, e2);
			return MOTE_EXIT_IMAGE;
		}
		if (b->size < c->sector_size || b->size % c->sector_size) {
			err_set(err, errlen, "--block:%s: %s is %llu bytes, not a whole number of "
					     "%u-byte sectors", c->name, c->path,
				(unsigned long long)b->size, c->sector_size);
			return MOTE_EXIT_IMAGE;
		}
		vm->mft.e[idx].capacity = b->size;
		vm->mft.e[idx].block_size = (uint16_t)c->sector_size;
	}
	for (unsigned i = 0; i < vm->cli.nnets; i++) {
		const struct hvt_cli_dev *c = &vm->cli.nets[i];
		int idx = hvt_mft_find(&vm->mft, c->name, MFT_DEV_NET_BASIC);
		char e2[ERRLEN - 64];
		if (net_tap_open(c->iface, 0, &vm->hvt.dev[idx].net, e2, sizeof(e2)) < 0) {
			err_set(err, errlen, "--net:%s: %s", c->name, e2);
			return MOTE_EXIT_HOST;
		}
	}
	return 0;
}

static int load_unikernel(struct hvt_vm *vm, struct boot_entry *entry, char *err, size_t errlen)
{
	struct elf_exec x;
	uint8_t mft[MFT_MAX_SIZE];
	const struct gm_region ram = {.gpa = 0, .size = hvt_mem_round(vm->cli.mem_size)};

	if (ram.size != vm->cli.mem_size)
		log_warn("guest memory rounded down to %llu MiB (whole 2 MiB pages)",
			 (unsigned long long)(ram.size >> 20));
	if (gm_fits_limit(ram.size, secure_getenv("MOTE_MEMORY_LIMIT"), err, errlen) < 0 ||
	    gm_create(&vm->gm, &ram, 1, err, errlen) < 0)
		return MOTE_EXIT_INTERNAL;
	if (elf_load_exec(vm->kernel.data, vm->kernel.size, &vm->gm, HVT_GUEST_MIN_BASE, &x, err,
			  errlen) < 0 ||
	    hvt_build_paging(&vm->gm, &x, err, errlen) < 0)
		return MOTE_EXIT_IMAGE;
	hvt_mft_guest_write(&vm->mft, mft);
	/* cpu_cycle_freq is filled once the vCPU exists (write_tsc). */
	if (hvt_write_boot_info(&vm->gm, hvt_kernel_end(&x), 0, vm->cmdline, mft,
				hvt_mft_guest_size(&vm->mft), err, errlen) < 0)
		return MOTE_EXIT_INTERNAL;
	*entry = (struct boot_entry){.mode = BOOT_HVT64, .rip = x.entry, .gdt_gpa = HVT_GDT_GPA,
				     .cr3 = HVT_PML4_GPA, .rdi = HVT_BOOT_INFO_GPA,
				     .rsp = vm->gm.size - 8};
	return 0;
}

static int setup_signals(struct hvt_vm *vm)
{
	vm->sig_fd = stop_signal_fd();
	return vm->sig_fd < 0 || vcpu_signals_init() < 0 ? -1 : 0;
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
	int64_t hz = vcpu_tsc_hz(&vm->vcpu);
	if (hz <= 0)
		return err_set(err, errlen, "KVM cannot tell the TSC frequency (KVM_GET_TSC_KHZ), "
				            "which unikernels need for their clock");
	uint64_t freq = (uint64_t)hz;
	if (gm_write(&vm->gm, HVT_BOOT_INFO_GPA + offsetof(struct hvt_boot_info, cpu_cycle_freq),
		     &freq, sizeof(freq)) < 0)
		return err_set(err, errlen, "internal: boot info outside guest memory");
	return vcpu_set_boot_state(&vm->vcpu, entry, err, errlen);
}

static void run(struct hvt_vm *vm)
{
	while (!stop_requested(&vm->stop)) {
		struct pollfd p[2] = {{.fd = vm->stop.efd, .events = POLLIN},
				      {.fd = vm->sig_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			stop_request(&vm->stop, MOTE_EXIT_INTERNAL, "poll: %s", strerror(errno));
			break;
		}
		struct signalfd_siginfo si;
		if ((p[1].revents & POLLIN) &&
		    read(vm->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			stop_request(&vm->stop, MOTE_EXIT_USER, "stopped by signal %s",
				     strsignal((int)si.ssi_signo));
	}
}

static int boot_and_run(struct hvt_vm *vm)
{
	char err[ERRLEN];
	struct boot_entry entry;
	int st;

	if (hvt_cli_cmdline(&vm->cli, vm->cmdline, sizeof(vm->cmdline), err, sizeof(err)) < 0)
		return log_error("%s", err), MOTE_EXIT_USAGE;
	if (image_map(vm->cli.kernel, "unikernel", &vm->kernel, err, sizeof(err)) < 0)
		return log_error("%s", err), MOTE_EXIT_IMAGE;
	if (hvt_notes_parse(vm->kernel.data, vm->kernel.size, &vm->mft, err, sizeof(err)) < 0)
		return log_error("%s: %s", vm->cli.kernel, err), MOTE_EXIT_IMAGE;
	if (match_devices(vm, err, sizeof(err)) < 0)
		return log_error("%s", err), MOTE_EXIT_USAGE;
	if ((st = open_devices(vm, err, sizeof(err))) != 0)
		return log_error("%s", err), st;
	if ((st = load_unikernel(vm, &entry, err, sizeof(err))) != 0)
		return log_error("%s: %s", vm->cli.kernel, err), st;
	image_unmap(&vm->kernel);
	if (stop_init(&vm->stop) < 0 || setup_signals(vm) < 0)
		return log_error("cannot create event descriptors"), MOTE_EXIT_INTERNAL;
	vm->hvt.gm = &vm->gm;
	vm->hvt.stop = &vm->stop;
	vm->hvt.mft = &vm->mft;
	vm->hvt.out_fd = STDOUT_FILENO;
	if (kvm_open(&vm->kvm, err, sizeof(err)) < 0 ||
	    kvm_create_vm_bare(&vm->kvm, &vm->gm, err, sizeof(err)) < 0 ||
	    create_vcpu(vm, &entry, err, sizeof(err)) < 0)
		return log_error("%s", err), MOTE_EXIT_HOST;
	/* Every descriptor is open: from here on the process keeps only its allowlist, and the
	 * vCPU thread (which runs the hypercalls) the narrower SANDBOX_HVT one. */
	vm->vcpu.hvt = true;
	if (!sandbox_enabled())
		log_warn("this is the unsandboxed debug build: no seccomp filters");
	else if (sandbox_enter(SANDBOX_PROCESS, NULL, 0, err, sizeof(err)) < 0)
		return log_error("%s", err), MOTE_EXIT_INTERNAL;
	if (vcpu_start(&vm->vcpu) < 0)
		return log_error("cannot start the vCPU thread: %s", strerror(errno)),
		       MOTE_EXIT_INTERNAL;
	run(vm);
	return vm->stop.status;
}

static void teardown(struct hvt_vm *vm)
{
	if (vm->vcpu_ready) {
		vcpu_kick(&vm->vcpu);
		vcpu_destroy(&vm->vcpu);
	}
	for (unsigned i = 0; i < MFT_MAX_ENTRIES; i++) {
		struct blk_backend *b = &vm->hvt.dev[i].blk;
		if (b->ops && b->ops->flush(b->be) < 0)
			log_warn("block device '%s': flush at exit failed", vm->mft.e[i].name);
		blk_close(b);
		net_close(&vm->hvt.dev[i].net);
	}
	if (vm->stop.reason[0])
		log_msg(vm->stop.status == MOTE_EXIT_USER ? LOG_INFO : LOG_ERROR, "%s",
			vm->stop.reason);
	log_info("unikernel ended with status %d after %llu hypercalls (%llu exits)",
		 vm->stop.status, (unsigned long long)vm->hvt.hypercalls,
		 (unsigned long long)vm->vcpu.exits);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	if (vm->sig_fd >= 0)
		close(vm->sig_fd);
	if (vm->stop.efd >= 0)
		stop_destroy(&vm->stop);
	gm_destroy(&vm->gm);
	kvm_close(&vm->kvm);
	image_unmap(&vm->kernel);
}

int hvt_main(int argc, char **argv)
{
	static struct hvt_vm vm; /* large; lives for the whole process */
	char err[ERRLEN];
	const char *prog = argc > 0 ? argv[0] : "solo5-hvt";

	switch (hvt_cli_parse(argc, argv, &vm.cli, err, sizeof(err))) {
	case HVT_CLI_HELP:
		hvt_cli_usage(stdout, prog);
		return MOTE_EXIT_OK;
	case HVT_CLI_VERSION:
		printf("mote %s (Solo5 hvt ABI version %d)\n", MOTE_VERSION, HVT_ABI_VERSION);
		return MOTE_EXIT_OK;
	case HVT_CLI_ERROR:
		log_error("%s", err);
		return MOTE_EXIT_USAGE;
	case HVT_CLI_RUN:
		break;
	}
	log_set_level(vm.cli.verbosity < 0 ? LOG_ERROR : vm.cli.verbosity == 0 ? LOG_WARN
											 : LOG_INFO);
	vm.sig_fd = -1;
	vm.stop.efd = -1;
	vm.kvm.sys_fd = vm.kvm.vm_fd = -1;
	vm.gm.fd = -1;
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	int status = boot_and_run(&vm);
	teardown(&vm);
	return status;
}
