/* mote: the boot story, top to bottom.
 * config -> files (kernel, initrd, disks) -> KVM -> guest memory -> machine and devices ->
 * load the guest (ACPI, command line, kernel) -> VM -> wire devices (irqfd, ioeventfd, I/O
 * thread) -> vCPUs -> console -> run until a stop is requested -> tear down -> exit status
 * (see status.h). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "api/api.h"
#include "arch/x86/boot.h"
#include "vmm/attach.h"
#include "backends/blk.h"
#include "arch/x86/layout.h"
#include "arch/x86/machine.h"
#include "boot/image.h"
#include "vmm/config.h"
#include "vmm/console.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "devices/virtio_vsock.h"
#include "vsock/uds.h"
#include "hvt/hvt.h"
#include "snapshot/merge.h"
#include "snapshot/snapshot.h"
#include "core/event.h"
#include "core/guest_mem.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "core/stop.h"
#include "gdb/server.h"
#include "kvm/kvm.h"
#include "core/status.h"

#ifndef MOTE_VERSION
#define MOTE_VERSION "unknown"
#endif

#define ERRLEN 512

struct vm {
	struct vm_config cfg;
	struct image kernel, initrd;
	struct kvm kvm;
	struct guest_mem gm;
	struct vm_stop stop;
	struct machine machine;
	struct console console;
	struct vcpu vcpus[CONFIG_MAX_CPUS];
	unsigned nvcpus; /* created so far */
	bool machine_ready;
	bool pit;        /* the in-kernel 8254 PIT (see config.h's enum config_pit) */
	struct blk_backend disk_be[CONFIG_MAX_DISKS];
	unsigned ndisks; /* backends opened so far */
	bool no_uring;   /* the kernel refused io_uring once: later disks do not ask again */
	struct virtio_blk blk[CONFIG_MAX_DISKS];
	char blk_names[CONFIG_MAX_DISKS][24];
	unsigned nblk;   /* devices created so far */
	struct virtio_rng rng;
	bool rng_ready;
	struct net_backend net_be[CONFIG_MAX_NETS];
	unsigned nnet_be; /* taps opened so far */
	struct virtio_net net[CONFIG_MAX_NETS];
	char net_names[CONFIG_MAX_NETS][24];
	unsigned nnet;    /* devices created so far */
	struct vsock_uds vsock_uds;  /* --vsock: the host side's sockets */
	bool vsock_uds_ready;
	struct virtio_vsock vsock;
	bool vsock_ready;
	struct virtio_console vcon;
	bool vcon_ready;
	struct virtio_balloon balloon; /* --balloon, PUT /balloon */
	bool balloon_ready;
	struct event_loop io;
	bool io_ready;
	struct attached attached[MACHINE_MAX_VIRTIO];
	unsigned nattached;
	int sig_fd;
	struct api *api; /* --api-sock / --config-file mode, else NULL */
	bool restoring;          /* mote restore / PUT /snapshot/load: state from a snapshot */
	struct snap_image snap;  /* the snapshot being restored */
	struct snap_vm snapvm;   /* what PUT /snapshot/create reads */
	struct kvm_dirty dirty;  /* track_dirty_pages: Diff snapshots */
	struct gdb_server gdb; /* --gdb-socket / --gdb-tcp */
	bool gdb_ready;
};

/* Waits for the stop request while moving console input; signals become stop requests. */
static void run_loop(struct vm *vm)
{
	while (!stop_requested(&vm->stop)) {
		struct pollfd p[4] = {
			{.fd = vm->stop.efd, .events = POLLIN},
			{.fd = vm->sig_fd, .events = POLLIN},
			{.fd = console_input_fd(&vm->console), .events = POLLIN},
			{.fd = console_room_fd(&vm->console), .events = POLLIN},
		};
		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			stop_request(&vm->stop, MOTE_EXIT_INTERNAL, "poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(vm->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				stop_note_signal(&vm->stop, (int)si.ssi_signo); /* metrics */
				stop_request(&vm->stop, MOTE_EXIT_USER, "stopped by signal %s",
					     strsignal((int)si.ssi_signo));
			}
		}
		if (p[3].revents & POLLIN)
			console_on_room(&vm->console);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			console_on_input(&vm->console);
	}
}

static int setup_signals(struct vm *vm)
{
	/* Blocked here, so every vCPU thread inherits the block; only the main loop reads them. */
	vm->sig_fd = stop_signal_fd();
	return vm->sig_fd < 0 || vcpu_signals_init() < 0 ? -1 : 0;
}

/* Once every other thread runs (a thread inherits its creator's list): the API's threads and
 * this one take their own, narrower seccomp lists (docs/security.md). */
static int enter_thread_lists(struct vm *vm, char *err, size_t errlen)
{
	unsigned long ioctls[1 + 16];
	size_t n = 0;
	bool vhost = false;

	ioctls[n++] = kvm_irq_line_ioctl; /* console input raises COM1's line */
	for (unsigned i = 0; i < vm->cfg.nnets; i++)
		vhost = vhost || vm->cfg.nets[i].vhost != 0;
	for (size_t i = 0; vhost && i < vhost_net_nruntime_ioctls && n < 17; i++)
		ioctls[n++] = vhost_net_runtime_ioctls[i]; /* vhost-net's stop at teardown */
	if (vm->api && api_sandbox_threads(vm->api, err, errlen) < 0)
		return -1;
	return sandbox_enter(SANDBOX_MAIN, ioctls, n, err, errlen);
}

static int fail(int status, const char *msg)
{
	log_error("%s", msg);
	return status;
}

_Static_assert(DISK_IO_AUTO == (int)BLK_IO_AUTO && DISK_IO_SYNC == (int)BLK_IO_SYNC &&
		       DISK_IO_URING == (int)BLK_IO_URING, "--disk io= values are blk_io_mode values");

/* Every file the user named, before anything else: a typo costs no VM setup. */
static int open_files(struct vm *vm, char *err, size_t errlen)
{
	if (!vm->restoring && image_map(vm->cfg.kernel, "kernel", &vm->kernel, err, errlen) < 0)
		return -1;
	if (!vm->restoring && vm->cfg.initrd &&
	    image_map(vm->cfg.initrd, "initrd", &vm->initrd, err, errlen) < 0)
		return -1;
	for (; vm->ndisks < vm->cfg.ndisks; vm->ndisks++) {
		const struct disk_config *d = &vm->cfg.disks[vm->ndisks];
		if (blk_open(d->path, d->read_only, d->direct, (enum blk_io_mode)d->io,
			     VIRTIO_BLK_QUEUE_SIZE, &vm->no_uring, &vm->disk_be[vm->ndisks], err,
			     errlen) < 0)
			return -1;
	}
	for (; vm->nnet_be < vm->cfg.nnets; vm->nnet_be++) /* taps: like files, missing = 4 */
		if (net_tap_open(vm->cfg.nets[vm->nnet_be].tap, VIRTIO_NET_HDR_LEN,
				 &vm->net_be[vm->nnet_be], err, errlen) < 0)
			return -1;
	return 0;
}

_Static_assert(CONFIG_VSOCK_PATH_MAX == VSOCK_UDS_PATH_MAX, "--vsock uds= fits the host side");

/* --vsock: the socket host programs connect to, created now (a bad path costs no VM setup). */
static int open_vsock(struct vm *vm, char *err, size_t errlen)
{
	uint32_t max = VSOCK_MAX_CONNS; /* the fd limit may lower it (vsock_uds.max) */
	if (!vm->cfg.vsock.enabled)
		return 0;
	vm->vsock_uds_ready = true;
	return vsock_uds_open(&vm->vsock_uds, vm->cfg.vsock.uds, &max, err, errlen);
}

/* Terminal input sinks: the COM1 UART, or the virtio console with --virtio-console. */
static size_t uart_input(void *ctx, const uint8_t *buf, size_t n)
{
	return uart_rx_push(ctx, buf, n);
}

static size_t vcon_input(void *ctx, const uint8_t *buf, size_t n)
{
	return virtio_console_rx_push(ctx, buf, n);
}

/* The board and its devices, placed but not yet connected to KVM. */
static int create_machine(struct vm *vm, char *err, size_t errlen)
{
	const struct uart_host host = {.tx = console_tx, .rx_room = console_rx_room, .ctx = &vm->console};
	if (machine_init(&vm->machine, &vm->stop, kvm_irq_set, &vm->kvm, &host, err, errlen) < 0)
		return -1;
	vm->machine_ready = true;
	if (machine_add_vmgenid(&vm->machine, &vm->gm, kvm_irq_set, &vm->kvm, err, errlen) < 0)
		return -1;
	const struct console_sink com1_input = {.push = uart_input, .ctx = &vm->machine.com1};
	console_attach(&vm->console, &com1_input);

	static const struct irq_line unwired = {0};
	for (unsigned i = 0; i < vm->ndisks; i++) {
		struct virtio_blk *b = &vm->blk[i];
		snprintf(vm->blk_names[i], sizeof(vm->blk_names[i]), "virtio-blk%u", i);
		if (virtio_blk_init(b, &vm->disk_be[i], vm->cfg.disks[i].serial, err, errlen) < 0)
			return -1;
		vm->nblk++;
		virtio_blk_ratelimit_init(b, &vm->cfg.disks[i].rl);
		b->path = vm->cfg.disks[i].path; /* for snapshots: the disk's identity, messages */
		virtio_dev_init(&b->dev, virtio_blk_ops_for(b), b, vm->blk_names[i], &vm->gm, &unwired);
		if (machine_add_virtio(&vm->machine, &b->dev, err, errlen) < 0)
			return -1;
	}
	if (vm->cfg.rng) {
		if (virtio_rng_init(&vm->rng) < 0) {
			snprintf(err, errlen, "cannot create the virtio-rng device");
			return -1;
		}
		vm->rng_ready = true;
		virtio_dev_init(&vm->rng.dev, &virtio_rng_ops, &vm->rng, "virtio-rng", &vm->gm, &unwired);
		if (machine_add_virtio(&vm->machine, &vm->rng.dev, err, errlen) < 0)
			return -1;
	}
	for (unsigned i = 0; i < vm->nnet_be; i++) {
		struct virtio_net *n = &vm->net[i];
		const struct net_config *c = &vm->cfg.nets[i];
		snprintf(vm->net_names[i], sizeof(vm->net_names[i]), "virtio-net%u", i);
		if (virtio_net_init(n, &vm->net_be[i], c->mac_set ? c->mac : NULL, err, errlen) < 0)
			return -1;
		vm->nnet++;
		virtio_net_ratelimit_init(n, &c->rx_rl, &c->tx_rl);
		virtio_dev_init(&n->dev, &n->ops, n, vm->net_names[i], &vm->gm, &unwired);
		if (machine_add_virtio(&vm->machine, &n->dev, err, errlen) < 0)
			return -1;
	}
	if (vm->cfg.vsock.enabled) {
		struct virtio_vsock *v = &vm->vsock;
		if (virtio_vsock_init(v, vm->cfg.vsock.cid, vm->vsock_uds.max, &vsock_uds_ops,
				      &vm->vsock_uds, err, errlen) < 0)
			return -1;
		vm->vsock_ready = true;
		virtio_dev_init(&v->dev, &virtio_vsock_ops, v, "virtio-vsock", &vm->gm, &unwired);
		if (machine_add_virtio(&vm->machine, &v->dev, err, errlen) < 0)
			return -1;
	}
	if (vm->cfg.balloon.enabled) {
		const struct balloon_config *c = &vm->cfg.balloon;
		const struct virtio_balloon_params p = {
			.target_pages = c->amount_mib << (20 - VIRTIO_BALLOON_PFN_SHIFT),
			.deflate_on_oom = c->deflate_on_oom, .stats_interval_s = c->stats_interval_s,
			.reporting = c->reporting};
		if (virtio_balloon_init(&vm->balloon, &p, &vm->gm, err, errlen) < 0)
			return -1;
		vm->balloon_ready = true;
		virtio_dev_init(&vm->balloon.dev, &vm->balloon.ops, &vm->balloon, "virtio-balloon",
				&vm->gm, &unwired);
		if (machine_add_virtio(&vm->machine, &vm->balloon.dev, err, errlen) < 0)
			return -1;
	}
	if (vm->cfg.virtio_console) { /* last: the other devices keep their addresses */
		const struct vconsole_host vh = {.tx = console_tx, .rx_room = console_rx_room,
						 .ctx = &vm->console};
		virtio_console_init(&vm->vcon, &vh);
		vm->vcon_ready = true;
		virtio_dev_init(&vm->vcon.dev, &virtio_console_ops, &vm->vcon, "virtio-console", &vm->gm,
				&unwired);
		if (machine_add_virtio(&vm->machine, &vm->vcon.dev, err, errlen) < 0)
			return -1;
		/* COM1 keeps printing (early messages); terminal input goes to the guest's hvc0. */
		const struct console_sink hvc_input = {.push = vcon_input, .ctx = &vm->vcon};
		console_attach(&vm->console, &hvc_input);
	}
	return 0;
}

/* ACPI tables, command line, kernel, initrd, boot structures: into guest memory. */
static int load_guest(struct vm *vm, struct boot_entry *entry, char *err, size_t errlen)
{
	struct acpi_mmio_dev virtio[MACHINE_MAX_VIRTIO];
	static char cmdline[X86_CMDLINE_MAX];
	const struct x86_boot_request req = {
		.kernel = &vm->kernel,
		.initrd = vm->cfg.initrd ? &vm->initrd : NULL,
		.cmdline = vm->cfg.cmdline,
		.ncpus = vm->cfg.cpus,
		.virtio = virtio,
		.nvirtio = machine_virtio_list(&vm->machine, virtio, MACHINE_MAX_VIRTIO),
		.vmgenid_gpa = X86_VMGENID_GPA,
		.vmgenid_gsi = MACHINE_VMGENID_GSI,
	};
	if (x86_boot_load(&req, &vm->gm, entry, cmdline, err, errlen) < 0 ||
	    vmgenid_boot(&vm->machine.genid, err, errlen) < 0)
		return -1;
	log_info("kernel command line: %s", cmdline[0] ? cmdline : "(empty)");
	vm->pit = vm->cfg.pit == PIT_ON || (vm->cfg.pit == PIT_AUTO && x86_cmdline_wants_pit(cmdline));
	if (vm->pit)
		log_info("in-kernel 8254 PIT: on (%s)", vm->cfg.pit == PIT_ON ? "--pit" : "acpi=off");
	/* Image files are in guest memory now; drop the mappings before the guest runs. */
	image_unmap(&vm->kernel);
	image_unmap(&vm->initrd);
	return 0;
}

/* Interrupts and notifications of every virtio device through KVM and the I/O thread. */
static int attach_devices(struct vm *vm, char *err, size_t errlen)
{
	if (event_init(&vm->io) < 0) {
		snprintf(err, errlen, "cannot create the I/O thread's event loop: %s", strerror(errno));
		return -1;
	}
	vm->io_ready = true;
	unsigned inet = 0;
	bool told = false; /* "no vhost-net" is said once */
	for (size_t i = 0; i < vm->machine.nvirtio; i++) {
		const struct machine_virtio *v = &vm->machine.virtio[i];
		if (attach_virtio(&vm->attached[i], v->dev, v->base, v->gsi, &vm->kvm, &vm->io, err,
				  errlen) < 0)
			return -1;
		vm->nattached++;
		if (v->dev->ops->device_id == VIRTIO_ID_NET &&
		    attach_net(&vm->attached[i], v->dev->priv, vm->cfg.nets[inet++].vhost,
			       &vhost_net_host_ops, &vm->gm, &told, err, errlen) < 0)
			return -1;
		if ((v->dev->ops->device_id == VIRTIO_ID_BLOCK &&
		     attach_blk_ratelimit(&vm->attached[i], v->dev->priv, err, errlen) < 0) ||
		    (v->dev->ops->device_id == VIRTIO_ID_NET &&
		     attach_net_ratelimit(&vm->attached[i], v->dev->priv, err, errlen) < 0))
			return -1;
		if (v->dev->ops->device_id == VIRTIO_ID_VSOCK &&
		    attach_vsock(&vm->attached[i], v->dev->priv, &vm->vsock_uds, err, errlen) < 0)
			return -1;
		if (v->dev->ops->device_id == VIRTIO_ID_BALLOON &&
		    attach_balloon(&vm->attached[i], v->dev->priv, err, errlen) < 0)
			return -1;
	}
	for (unsigned i = 0; i < vm->nblk; i++) { /* asynchronous disks: their completions */
		int fd = vm->blk[i].be.completion_fd;
		if (fd >= 0 && event_add(&vm->io, fd, virtio_blk_on_complete, &vm->blk[i]) < 0) {
			snprintf(err, errlen, "%s: cannot watch disk completions: %s",
				 vm->blk_names[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int create_vcpus(struct vm *vm, const struct boot_entry *entry, char *err, size_t errlen)
{
	const struct exit_ctx ctx = {.pio = &vm->machine.pio, .mmio = &vm->machine.mmio, .stop = &vm->stop};
	for (unsigned i = 0; i < vm->cfg.cpus; i++) {
		if (vcpu_create(&vm->vcpus[i], &vm->kvm, i, vm->cfg.cpus, &vm->cfg.hide, &ctx, err,
				errlen) < 0)
			return -1;
		vm->nvcpus++;
	}
	vm->snapvm = (struct snap_vm){.kvm = &vm->kvm, .gm = &vm->gm, .vcpus = vm->vcpus,
				      .nvcpus = vm->nvcpus, .machine = &vm->machine, .cfg = &vm->cfg,
				      .pit = vm->pit};
	if (vm->restoring)
		return snapshot_apply(&vm->snap, &vm->snapvm, err, errlen);
	return vcpu_set_boot_state(&vm->vcpus[0], entry, err, errlen);
}

/* mote restore / PUT /snapshot/load: the state file is read and checked before anything else
 * (a bad one costs no VM), and the machine it describes replaces the configured one. */
static int open_snapshot(struct vm *vm, char *err, size_t errlen)
{
	struct snap_net_override ov[CONFIG_MAX_NETS];
	int status;
	for (unsigned i = 0; i < vm->cfg.nnet_overrides; i++)
		if (snapshot_parse_override(vm->cfg.net_overrides[i], &ov[i], err, errlen) < 0)
			return MOTE_EXIT_USAGE;
	if (snapshot_open(&vm->snap, vm->cfg.restore_state, vm->cfg.restore_mem, ov,
			  vm->cfg.nnet_overrides, NULL, &status, err, errlen) < 0)
		return status;
	const struct vm_config *m = &vm->snap.cfg;
	vm->cfg.mem_size = m->mem_size;
	vm->cfg.cpus = m->cpus;
	memcpy(vm->cfg.disks, m->disks, sizeof(m->disks));
	vm->cfg.ndisks = m->ndisks;
	memcpy(vm->cfg.nets, m->nets, sizeof(m->nets));
	vm->cfg.nnets = m->nnets;
	vm->cfg.rng = m->rng;
	vm->cfg.vsock = m->vsock;
	vm->cfg.virtio_console = m->virtio_console;
	vm->cfg.balloon = m->balloon;
	vm->cfg.mem_hugepages = false; /* RAM is the memory file, copy-on-write */
	vm->pit = vm->snap.pit;
	return 0;
}

static int boot_and_run(struct vm *vm)
{
	char err[ERRLEN];
	struct gm_region regions[GM_MAX_REGIONS];
	struct boot_entry entry;

	int rs;
	if (vm->restoring && (rs = open_snapshot(vm, err, sizeof(err))) != 0)
		return fail(rs, err);
	if (open_files(vm, err, sizeof(err)) < 0)
		return fail(MOTE_EXIT_IMAGE, err);
	for (unsigned i = 0; vm->restoring && i < vm->ndisks; i++)
		if (snapshot_check_disk(&vm->snap, i, vm->disk_be[i].size, err, sizeof(err)) < 0)
			return fail(MOTE_EXIT_IMAGE, err);
	if (open_vsock(vm, err, sizeof(err)) < 0)
		return fail(MOTE_EXIT_USAGE, err);
	if (vm->cfg.gdb_socket || vm->cfg.gdb_tcp) {
		vm->gdb_ready = true;
		if (gdb_server_listen(&vm->gdb, vm->cfg.gdb_socket, vm->cfg.gdb_tcp, err, sizeof(err)) < 0)
			return fail(MOTE_EXIT_USAGE, err);
	}
	if (kvm_open(&vm->kvm, err, sizeof(err)) < 0)
		return fail(MOTE_EXIT_HOST, err);
	if (vm->cfg.cpus > vm->kvm.max_vcpus) {
		snprintf(err, sizeof(err), "%s %u: this host's KVM allows at most %u vCPUs",
			 vm->restoring ? "the snapshot's vCPUs:" : "--cpus", vm->cfg.cpus, vm->kvm.max_vcpus);
		return fail(vm->restoring ? MOTE_EXIT_HOST : MOTE_EXIT_USAGE, err);
	}
	size_t nreg = machine_mem_layout(vm->cfg.mem_size, regions);
	if (gm_fits_limit(vm->cfg.mem_size, secure_getenv("MOTE_MEMORY_LIMIT"), err, sizeof(err)) < 0 ||
	    (vm->restoring ? gm_create_from_file(&vm->gm, regions, nreg, vm->snap.mem_fd, err, sizeof(err))
			   : gm_create_opt(&vm->gm, regions, nreg, vm->cfg.mem_hugepages, err, sizeof(err))) < 0)
		return fail(MOTE_EXIT_INTERNAL, err);
	if (stop_init(&vm->stop) < 0 || setup_signals(vm) < 0 ||
	    console_init(&vm->console, STDIN_FILENO, STDOUT_FILENO, &vm->stop) < 0)
		return fail(MOTE_EXIT_INTERNAL, "cannot create event descriptors");
	if (create_machine(vm, err, sizeof(err)) < 0)
		return fail(MOTE_EXIT_USAGE, err);
	if (!vm->restoring && load_guest(vm, &entry, err, sizeof(err)) < 0) {
		log_error("%s: %s", vm->cfg.kernel, err);
		return MOTE_EXIT_IMAGE;
	}
	if (kvm_create_vm(&vm->kvm, &vm->gm, vm->pit, err, sizeof(err)) < 0 ||
	    attach_devices(vm, err, sizeof(err)) < 0 || create_vcpus(vm, &entry, err, sizeof(err)) < 0)
		return fail(MOTE_EXIT_HOST, err);
	if (vm->restoring) {
		snapshot_close(&vm->snap); /* RAM maps the memory file; the state is applied */
		if (vm->vsock_ready) /* connections do not survive a snapshot (docs/vsock.md) */
			virtio_vsock_transport_reset(&vm->vsock);
		log_info("restored %s: %u vCPUs, %llu MiB%s", vm->cfg.restore_state, vm->nvcpus,
			 (unsigned long long)(vm->gm.size >> 20), vm->cfg.restore_paused ? ", paused" : "");
	}
	if (vm->cfg.track_dirty) { /* setup-time ioctls: before the sandbox and the vCPUs */
		if (kvm_dirty_start(&vm->dirty, &vm->kvm, &vm->gm, err, sizeof(err)) < 0)
			return fail(MOTE_EXIT_HOST, err);
		vm->snapvm.dirty = &vm->dirty;
	}
	if (vm->gdb_ready) { /* the VM waits for gdb before its first instruction */
		int r = gdb_server_accept(&vm->gdb, vm->sig_fd, err, sizeof(err));
		if (r != 0)
			return r < 0 ? fail(MOTE_EXIT_INTERNAL, err) : MOTE_EXIT_USER;
		gdb_server_bind(&vm->gdb, vm->vcpus, vm->nvcpus, &vm->gm, NULL, 0, &vm->stop,
				MOTE_EXIT_USER);
	}

	if (console_raw_enter(&vm->console) < 0)
		log_warn("cannot put the terminal in raw mode: %s", strerror(errno));
	/* Every descriptor is open: from here on, each thread class keeps only its allowlist. */
	sandbox_on_violation(console_restore);
	if (!sandbox_enabled())
		log_warn("this is the unsandboxed debug build: no seccomp filters");
	else if (sandbox_enter_extra(vm->api ? SANDBOX_PROCESS_API : SANDBOX_PROCESS,
				     (vm->cfg.vsock.enabled ? SANDBOX_X_UNIX_SOCKETS : 0) |
					     (vm->cfg.balloon.enabled ? SANDBOX_X_BALLOON : 0), NULL, 0, err,
				     sizeof(err)) < 0)
		return fail(MOTE_EXIT_INTERNAL, err);
	if (event_start(&vm->io) < 0)
		stop_request(&vm->stop, MOTE_EXIT_INTERNAL, "cannot start the I/O thread: %s",
			     strerror(errno));
	for (unsigned i = 0; i < vm->nvcpus && vm->restoring && vm->cfg.restore_paused; i++)
		vcpu_pause(&vm->vcpus[i]); /* they park before their first guest instruction */
	if (vm->gdb_ready && vm->gdb.conn_fd >= 0 && gdb_server_start(&vm->gdb, err, sizeof(err)) < 0)
		stop_request(&vm->stop, MOTE_EXIT_INTERNAL, "%s", err);
	for (unsigned i = 0; i < vm->nvcpus && !stop_requested(&vm->stop); i++) {
		if (vcpu_start(&vm->vcpus[i]) < 0) {
			stop_request(&vm->stop, MOTE_EXIT_INTERNAL, "cannot start vCPU thread %u: %s", i,
				     strerror(errno));
			break;
		}
	}
	if (vm->api) /* InstanceStart answers now; the API may pause vCPUs and read counters */
		api_vm_running(vm->api, &(struct api_vm_view){.vcpus = vm->vcpus, .nvcpus = vm->nvcpus,
				.machine = &vm->machine, .blk = vm->blk, .nblk = vm->nblk, .stop = &vm->stop,
				.net = vm->net, .nnet = vm->nnet,
				.balloon = vm->balloon_ready ? &vm->balloon : NULL,
				.snap = &vm->snapvm, .paused = vm->restoring && vm->cfg.restore_paused});
	if (sandbox_enabled() && !stop_requested(&vm->stop) &&
	    enter_thread_lists(vm, err, sizeof(err)) < 0)
		stop_request(&vm->stop, MOTE_EXIT_INTERNAL, "%s", err);
	run_loop(vm);
	return vm->stop.status;
}

static void teardown(struct vm *vm)
{
	if (vm->gdb_ready) /* gdb hears the exit status; its thread ends before the vCPUs go */
		gdb_server_end(&vm->gdb, vm->stop.status);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	if (vm->io_ready)
		event_destroy(&vm->io); /* no device work runs after this */
	for (unsigned i = 0; i < vm->nblk; i++) { /* what the guest wrote reaches the disk */
		virtio_blk_quiesce(&vm->blk[i]); /* requests in flight end while guest RAM exists */
		const struct blk_backend *be = &vm->blk[i].be; /* the device owns its backend */
		if (!be->read_only && be->ops->flush(be->be) < 0)
			log_warn("%s: flush at exit failed", vm->cfg.disks[i].path);
	}
	console_restore();
	if (vm->stop.reason[0])
		log_msg(vm->stop.status == MOTE_EXIT_USER ? LOG_INFO : LOG_ERROR, "%s", vm->stop.reason);
	if (log_get_level() >= LOG_INFO) {
		uint64_t exits = 0;
		for (unsigned i = 0; i < vm->nvcpus; i++)
			exits += vm->vcpus[i].exits;
		log_info("guest ended with status %d after %llu exits", vm->stop.status,
			 (unsigned long long)exits);
	}
}

/* Frees what boot_and_run created, in reverse order; each step skips what was never made. */
static void release(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nattached; i++)
		attach_release(&vm->attached[i]);
	for (unsigned i = 0; i < vm->nblk; i++) {
		virtio_blk_destroy(&vm->blk[i]);
		virtio_dev_destroy(&vm->blk[i].dev);
	}
	if (vm->rng_ready)
		virtio_dev_destroy(&vm->rng.dev);
	for (unsigned i = 0; i < vm->nnet; i++) {
		virtio_net_destroy(&vm->net[i]);
		virtio_dev_destroy(&vm->net[i].dev);
	}
	for (unsigned i = vm->nnet; i < vm->nnet_be; i++) /* opened, but no device took them */
		net_close(&vm->net_be[i]);
	if (vm->vsock_ready) { /* its streams close; the I/O thread is gone */
		virtio_vsock_destroy(&vm->vsock);
		virtio_dev_destroy(&vm->vsock.dev);
	}
	if (vm->vsock_uds_ready)
		vsock_uds_close(&vm->vsock_uds); /* the socket file goes */
	if (vm->vcon_ready)
		virtio_dev_destroy(&vm->vcon.dev);
	if (vm->balloon_ready) {
		virtio_balloon_destroy(&vm->balloon);
		virtio_dev_destroy(&vm->balloon.dev);
	}
	for (unsigned i = vm->nblk; i < vm->ndisks; i++) /* opened, but no device took them */
		vm->disk_be[i].ops->close(vm->disk_be[i].be);
	if (vm->machine_ready)
		machine_destroy(&vm->machine);
	console_destroy(&vm->console);
	if (vm->gdb_ready)
		gdb_server_close(&vm->gdb);
	if (vm->sig_fd >= 0)
		close(vm->sig_fd);
	if (vm->stop.efd >= 0)
		stop_destroy(&vm->stop);
	gm_destroy(&vm->gm);
	snapshot_close(&vm->snap);
	kvm_close(&vm->kvm);
	image_unmap(&vm->kernel);
	image_unmap(&vm->initrd);
}

int main(int argc, char **argv)
{
	static struct vm vm; /* large (vCPU array); lives for the whole process */
	char err[ERRLEN];
	int hvt_shift;

	if (hvt_wanted(argc, argv, &hvt_shift)) /* `mote hvt ...` or a link named solo5-hvt */
		return hvt_main(argc - hvt_shift, argv + hvt_shift);
	if (snapshot_merge_wanted(argc, argv)) /* layering a Diff memory file (docs/snapshot.md) */
		return snapshot_merge_main(argc, argv);

	switch (config_parse(argc, argv, &vm.cfg, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout);
		return MOTE_EXIT_OK;
	case CONFIG_VERSION:
		printf("mote %s\n", MOTE_VERSION);
		return MOTE_EXIT_OK;
	case CONFIG_ERROR:
		log_error("%s", err);
		return MOTE_EXIT_USAGE;
	case CONFIG_RUN:
		break;
	}
	log_set_level(vm.cfg.verbosity < 0 ? LOG_ERROR
			: vm.cfg.verbosity == 0 ? LOG_WARN
			: vm.cfg.verbosity == 1 ? LOG_INFO : LOG_DEBUG);
	/* Everything teardown may release starts as "not created". */
	vm.sig_fd = -1;
	vm.stop.efd = -1;
	vm.console.room_efd = -1;
	vm.kvm.sys_fd = vm.kvm.vm_fd = -1;
	vm.gm.fd = -1;
	vm.snap.mem_fd = -1;

	static struct api api; /* API mode: configured through the socket or the config file */
	if (vm.cfg.api_sock || vm.cfg.config_file) {
		vm.api = &api;
		if (api_init(&api, &vm.cfg, err, sizeof(err)) < 0) {
			log_error("%s", err);
			api_destroy(&api);
			return MOTE_EXIT_USAGE;
		}
		if (vm.cfg.restore_state) /* mote restore --api-sock: the API serves the restored VM */
			api_restore_started(&api);
		else if (api_wait_start(&api, &vm.cfg) < 0) {
			api_destroy(&api);
			return MOTE_EXIT_USER;
		}
	}
	vm.restoring = vm.cfg.restore_state != NULL;

	int status = boot_and_run(&vm);
	if (vm.api)
		api_vm_ended(vm.api, status);
	teardown(&vm);
	release(&vm);
	if (vm.api)
		api_destroy(vm.api); /* the socket goes last: a client sees it until mote is done */
	return status;
}
