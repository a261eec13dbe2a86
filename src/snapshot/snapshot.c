/* Whole-VM snapshots (snapshot.h): the sections of a state file, the memory file, and the
 * checks and order of a restore. */
#include "snapshot/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/dirty_log.h"
#include "core/log.h"
#include "core/sandbox.h"
#include "devices/virtio_blk.h"
#include "kvm/state.h"
#include "virtio/snap.h"

#define CONFIG_VERSION 1u
#define QUIESCE_MS 2000
#define ERRLEN 512

/* ---- small encoders --------------------------------------------------------------------- */

static void put_str(struct snap_out *o, const char *s)
{
	size_t n = strlen(s);
	snap_put_u16(o, (uint16_t)n);
	snap_put(o, s, n);
}

/* A string of at most cap - 1 bytes without NUL bytes into dst[cap]. */
static bool get_str(struct snap_in *in, char *dst, size_t cap)
{
	uint16_t n = snap_get_u16(in);
	if (!snap_in_ok(in) || n >= cap) {
		in->failed = true;
		dst[0] = '\0';
		return false;
	}
	snap_get(in, dst, n);
	dst[n] = '\0';
	if (strlen(dst) != n) {
		in->failed = true;
		return false;
	}
	return snap_in_ok(in);
}

static unsigned expected_virtio(const struct vm_config *c)
{
	return c->ndisks + (c->rng ? 1 : 0) + c->nnets + (c->vsock.enabled ? 1 : 0) +
	       (c->virtio_console ? 1 : 0) + (c->balloon.enabled ? 1 : 0);
}

/* ---- the configuration section ---------------------------------------------------------- */

/* The size of disk i (the i-th virtio-blk device of the machine), 0 when there is none. */
static uint64_t disk_size(const struct snap_vm *vm, unsigned i)
{
	for (size_t k = 0; k < vm->machine->nvirtio; k++) {
		const struct virtio_dev *d = vm->machine->virtio[k].dev;
		if (d->ops->device_id == VIRTIO_ID_BLOCK && i-- == 0)
			return ((const struct virtio_blk *)d->priv)->be.size;
	}
	return 0;
}

static void save_config(struct snap_out *o, const struct snap_vm *vm,
			const char (*net_ids)[SNAP_ID_MAX + 1])
{
	const struct vm_config *c = vm->cfg;
	snap_put_u32(o, CONFIG_VERSION);
	snap_put_u64(o, vm->gm->size);
	snap_put_u32(o, vm->nvcpus);
	snap_put_u8(o, vm->pit);
	snap_put_u8(o, c->rng);
	snap_put_u8(o, c->virtio_console);
	snap_put_u32(o, (uint32_t)vm->gm->nregions);
	for (size_t i = 0; i < vm->gm->nregions; i++) {
		snap_put_u64(o, vm->gm->regions[i].gpa);
		snap_put_u64(o, vm->gm->regions[i].size);
	}
	snap_put_u32(o, c->ndisks);
	for (unsigned i = 0; i < c->ndisks; i++) {
		const struct disk_config *d = &c->disks[i];
		put_str(o, d->path);
		snap_put_u8(o, d->read_only);
		snap_put_u8(o, d->direct);
		snap_put_u8(o, (uint8_t)d->io);
		put_str(o, d->serial);
		snap_put_u64(o, disk_size(vm, i));
	}
	snap_put_u32(o, c->nnets);
	for (unsigned i = 0; i < c->nnets; i++) {
		const struct net_config *n = &c->nets[i];
		char id[16];
		snprintf(id, sizeof(id), "net%u", i);
		put_str(o, net_ids && net_ids[i][0] ? net_ids[i] : id);
		put_str(o, n->tap);
		snap_put(o, n->mac, 6);
		snap_put_u8(o, n->mac_set);
		snap_put_u8(o, (uint8_t)(n->vhost + 1));
	}
	snap_put_u8(o, c->vsock.enabled);
	snap_put_u64(o, c->vsock.cid);
	put_str(o, c->vsock.enabled ? c->vsock.uds : "");
	snap_put_u8(o, c->balloon.enabled);
	snap_put_u32(o, c->balloon.amount_mib);
	snap_put_u8(o, c->balloon.deflate_on_oom);
	snap_put_u32(o, c->balloon.stats_interval_s);
	snap_put_u8(o, c->balloon.reporting);
	snap_put_u32(o, (uint32_t)vm->machine->nvirtio);
}

static int parse_disks(struct snap_in *in, struct snap_image *img, char *err, size_t errlen)
{
	struct vm_config *c = &img->cfg;
	c->ndisks = snap_get_u32(in);
	if (!snap_in_ok(in) || c->ndisks > CONFIG_MAX_DISKS)
		return err_set(err, errlen, "snapshot configuration: %u disks (at most %d)", c->ndisks,
			       CONFIG_MAX_DISKS);
	for (unsigned i = 0; i < c->ndisks; i++) {
		struct disk_config *d = &c->disks[i];
		get_str(in, d->path, sizeof(d->path));
		d->read_only = snap_get_u8(in) != 0;
		d->direct = snap_get_u8(in) != 0;
		d->io = snap_get_u8(in);
		get_str(in, d->serial, sizeof(d->serial));
		img->disk_size[i] = snap_get_u64(in);
		if (!snap_in_ok(in) || !d->path[0] || d->io > DISK_IO_URING)
			return err_set(err, errlen, "snapshot configuration: disk %u is malformed", i);
	}
	return 0;
}

static int parse_nets(struct snap_in *in, struct snap_image *img, char *err, size_t errlen)
{
	struct vm_config *c = &img->cfg;
	c->nnets = snap_get_u32(in);
	if (!snap_in_ok(in) || c->nnets > CONFIG_MAX_NETS)
		return err_set(err, errlen, "snapshot configuration: %u network interfaces (at most %d)",
			       c->nnets, CONFIG_MAX_NETS);
	for (unsigned i = 0; i < c->nnets; i++) {
		struct net_config *n = &c->nets[i];
		get_str(in, img->net_ids[i], sizeof(img->net_ids[i]));
		get_str(in, n->tap, sizeof(n->tap));
		snap_get(in, n->mac, 6);
		n->mac_set = snap_get_u8(in) != 0;
		uint8_t vh = snap_get_u8(in);
		n->vhost = (int)vh - 1;
		if (!snap_in_ok(in) || !n->tap[0] || !img->net_ids[i][0] || vh > 2)
			return err_set(err, errlen, "snapshot configuration: network interface %u is malformed", i);
	}
	return 0;
}

int snapshot_parse_config(const uint8_t *p, size_t len, struct snap_image *img, char *err,
			  size_t errlen)
{
	struct snap_in in;
	struct vm_config *c = &img->cfg;
	snap_in_init(&in, p, len);
	memset(c, 0, sizeof(*c));
	memset(img->net_ids, 0, sizeof(img->net_ids));
	c->cmdline = "";
	uint32_t ver = snap_get_u32(&in);
	if (snap_in_ok(&in) && ver != CONFIG_VERSION)
		return err_set(err, errlen, "snapshot configuration version %u, expected %u", ver,
			       CONFIG_VERSION);
	c->mem_size = snap_get_u64(&in);
	c->cpus = snap_get_u32(&in);
	img->pit = snap_get_u8(&in) != 0;
	c->rng = snap_get_u8(&in) != 0;
	c->virtio_console = snap_get_u8(&in) != 0;
	if (!snap_in_ok(&in))
		return err_set(err, errlen, "snapshot configuration truncated");
	if (c->mem_size < MACHINE_MEM_MIN || c->mem_size > MACHINE_MEM_MAX ||
	    (c->mem_size & (GM_PAGE_SIZE - 1)))
		return err_set(err, errlen, "snapshot configuration: guest RAM of %llu bytes is out of range",
			       (unsigned long long)c->mem_size);
	if (c->cpus < 1 || c->cpus > CONFIG_MAX_CPUS)
		return err_set(err, errlen, "snapshot configuration: %u vCPUs (1 to %d)", c->cpus,
			       CONFIG_MAX_CPUS);
	struct gm_region want[GM_MAX_REGIONS];
	size_t nwant = machine_mem_layout(c->mem_size, want);
	uint32_t nreg = snap_get_u32(&in);
	if (!snap_in_ok(&in) || nreg != nwant)
		return err_set(err, errlen, "snapshot configuration: %u RAM regions, this machine lays "
			       "out %zu", nreg, nwant);
	for (uint32_t i = 0; i < nreg; i++) {
		uint64_t gpa = snap_get_u64(&in), size = snap_get_u64(&in);
		if (snap_in_ok(&in) && (gpa != want[i].gpa || size != want[i].size))
			return err_set(err, errlen, "snapshot configuration: RAM region %u disagrees with "
				       "this machine's layout", i);
	}
	if (parse_disks(&in, img, err, errlen) < 0 || parse_nets(&in, img, err, errlen) < 0)
		return -1;
	c->vsock.enabled = snap_get_u8(&in) != 0;
	c->vsock.cid = snap_get_u64(&in);
	get_str(&in, c->vsock.uds, sizeof(c->vsock.uds));
	c->balloon.enabled = snap_get_u8(&in) != 0;
	c->balloon.amount_mib = snap_get_u32(&in);
	c->balloon.deflate_on_oom = snap_get_u8(&in) != 0;
	c->balloon.stats_interval_s = snap_get_u32(&in);
	c->balloon.reporting = snap_get_u8(&in) != 0;
	img->nvirtio = snap_get_u32(&in);
	if (!snap_in_done(&in))
		return err_set(err, errlen, "snapshot configuration is %s",
			       snap_in_ok(&in) ? "longer than expected" : "truncated");
	char e2[256];
	if (c->vsock.enabled && config_check_vsock("snapshot vsock", c->vsock.cid, c->vsock.uds, e2,
						   sizeof(e2)) < 0)
		return err_set(err, errlen, "snapshot configuration: %s", e2);
	if (c->balloon.enabled && config_check_balloon("snapshot balloon", &c->balloon, c->mem_size, e2,
						       sizeof(e2)) < 0)
		return err_set(err, errlen, "snapshot configuration: %s", e2);
	if (img->nvirtio != expected_virtio(c) || img->nvirtio > MACHINE_MAX_VIRTIO)
		return err_set(err, errlen, "snapshot configuration: %u virtio devices, its devices make %u",
			       img->nvirtio, expected_virtio(c));
	return 0;
}

/* ---- CPUID sections --------------------------------------------------------------------- */

static void save_cpuid(struct snap_out *o, const struct cpuid_entry *e, size_t n)
{
	snap_put_u32(o, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		const uint32_t v[7] = {e[i].function, e[i].index, e[i].flags, e[i].eax, e[i].ebx,
				       e[i].ecx, e[i].edx};
		for (int k = 0; k < 7; k++)
			snap_put_u32(o, v[k]);
	}
}

static int parse_cpuid(const struct snapf_section *s, struct cpuid_entry *e, size_t cap, size_t *n,
		       char *err, size_t errlen)
{
	struct snap_in in;
	snap_in_init(&in, s->data, s->len);
	uint32_t cnt = snap_get_u32(&in);
	if (!snap_in_ok(&in) || cnt > cap || cnt == 0)
		return err_set(err, errlen, "vCPU %u CPUID: %u entries (1 to %zu)", s->instance, cnt, cap);
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t v[7];
		for (int k = 0; k < 7; k++)
			v[k] = snap_get_u32(&in);
		e[i] = (struct cpuid_entry){.function = v[0], .index = v[1], .flags = v[2] & CPUID_FLAG_SIGNIFICANT_INDEX,
					    .eax = v[3], .ebx = v[4], .ecx = v[5], .edx = v[6]};
	}
	if (!snap_in_done(&in))
		return err_set(err, errlen, "vCPU %u CPUID is %s", s->instance,
			       snap_in_ok(&in) ? "longer than expected" : "truncated");
	*n = cnt;
	return 0;
}

/* Feature words checked against the host, and the bits that are not features: set by mote's
 * filter (hypervisor, HTT) or following guest state (OSXSAVE, APIC enable, OSPKE). */
static const struct {
	uint32_t function, index;
	enum cpuid_reg reg;
	uint32_t ignore;
	const char *name;
} feature_words[] = {
	{1, 0, CPUID_ECX, (1u << 31) | (1u << 27), "1.ECX"},
	{1, 0, CPUID_EDX, (1u << 28) | (1u << 9), "1.EDX"},
	{7, 0, CPUID_EBX, 0, "7.0.EBX"},
	{7, 0, CPUID_ECX, 1u << 4, "7.0.ECX"},
	{7, 0, CPUID_EDX, 0, "7.0.EDX"},
	{7, 1, CPUID_EAX, 0, "7.1.EAX"},
	{0xd, 1, CPUID_EAX, 0, "0xd.1.EAX"},
	{0x80000001, 0, CPUID_ECX, 0, "0x80000001.ECX"},
	{0x80000001, 0, CPUID_EDX, 0, "0x80000001.EDX"},
};

static uint32_t reg_of(const struct cpuid_entry *e, enum cpuid_reg r)
{
	return r == CPUID_EAX ? e->eax : r == CPUID_EBX ? e->ebx : r == CPUID_ECX ? e->ecx : e->edx;
}

static const struct cpuid_entry *find(const struct cpuid_entry *e, size_t n, uint32_t f, uint32_t i)
{
	for (size_t k = 0; k < n; k++)
		if (e[k].function == f && (e[k].index == i || !(e[k].flags & CPUID_FLAG_SIGNIFICANT_INDEX)))
			return &e[k];
	return NULL;
}

int snapshot_cpuid_check(const struct cpuid_entry *saved, size_t n, const struct cpuid_entry *host,
			 size_t m, char *err, size_t errlen)
{
	for (size_t w = 0; w < sizeof(feature_words) / sizeof(feature_words[0]); w++) {
		const struct cpuid_entry *s = find(saved, n, feature_words[w].function, feature_words[w].index);
		if (!s)
			continue;
		const struct cpuid_entry *h = find(host, m, feature_words[w].function, feature_words[w].index);
		uint32_t want = reg_of(s, feature_words[w].reg) & ~feature_words[w].ignore;
		uint32_t have = h ? reg_of(h, feature_words[w].reg) : 0;
		if (want & ~have)
			return err_set(err, errlen, "the snapshot's guest saw CPUID %s bits 0x%08x that "
				       "this host's KVM cannot give: restore on a host with the same CPU "
				       "features (or hide them with --cpu-features before the snapshot)",
				       feature_words[w].name, want & ~have);
	}
	return 0;
}

/* ---- writing ---------------------------------------------------------------------------- */

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	for (size_t i = 0; i < GM_PAGE_SIZE / 8; i++)
		if (q[i])
			return false;
	return true;
}

static int write_all(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* RAM bytes [from, to) of one region (host pointer ram, file offset base + from), zero pages
 * left as holes. */
static int write_range(int fd, const uint8_t *ram, uint64_t base, uint64_t from, uint64_t to)
{
	uint64_t run = from;
	for (uint64_t off = from; off < to; off += GM_PAGE_SIZE) {
		if (!page_is_zero(ram + off))
			continue;
		if (off > run && write_all(fd, ram + run, (size_t)(off - run), (off_t)(base + run)) < 0)
			return -1;
		run = off + GM_PAGE_SIZE;
	}
	if (to > run && write_all(fd, ram + run, (size_t)(to - run), (off_t)(base + run)) < 0)
		return -1;
	return 0;
}

/* One region at file offset base. A memfd's holes are found with SEEK_DATA (never read:
 * reading them would allocate pages); the memfd's offsets are the file's. */
static int write_region(int fd, const struct guest_mem *gm, size_t i, uint64_t base)
{
	const uint8_t *ram = gm_region_host(gm, i);
	uint64_t size = gm->regions[i].size, pos = 0;
	while (pos < size) {
		uint64_t start = pos, end = size;
		if (gm->fd >= 0) {
			off_t d = lseek(gm->fd, (off_t)(base + pos), SEEK_DATA);
			if (d < 0 || (uint64_t)d >= base + size)
				break; /* ENXIO or the next region: only holes left here */
			off_t h = lseek(gm->fd, d, SEEK_HOLE);
			start = (uint64_t)d - base;
			end = h < 0 || (uint64_t)h > base + size ? size : (uint64_t)h - base;
		}
		if (write_range(fd, ram, base, start, end) < 0)
			return -1;
		pos = end;
	}
	return 0;
}

/* The memory file: guest RAM as is (the regions back to back), a sparse file. */
static int write_memory(const struct guest_mem *gm, const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, errlen, "mem_file_path %s: %s", path, strerror(errno));
	int rc = -1;
	if (ftruncate(fd, (off_t)gm->size) < 0) {
		err_set(err, errlen, "mem_file_path %s: %s", path, strerror(errno));
		goto out;
	}
	uint64_t base = 0;
	for (size_t i = 0; i < gm->nregions; i++) {
		if (write_region(fd, gm, i, base) < 0) {
			err_set(err, errlen, "mem_file_path %s: write: %s", path, strerror(errno));
			goto out;
		}
		base += gm->regions[i].size;
	}
	if (fsync(fd) < 0) {
		err_set(err, errlen, "mem_file_path %s: fsync: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* With dirty logging on: the pages written since the last fetch. diff: they go into path as a
 * sparse Diff file; else (a Full snapshot was just written) they are dropped, so that the next
 * Diff starts here. The VM is paused and its devices locked. */
static int write_dirty(const struct snap_vm *vm, const char *path, bool diff, char *err,
		       size_t errlen)
{
	struct dirty_log dl;
	if (dirty_log_init(&dl, vm->gm, err, errlen) < 0)
		return -1;
	int rc = kvm_dirty_fetch(vm->dirty, vm->kvm, vm->gm, &dl, err, errlen);
	if (rc == 0 && diff) {
		uint64_t bytes = 0;
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = err_set(err, errlen, "mem_file_path %s: %s", path, strerror(errno));
		} else {
			rc = dirty_write_diff(fd, vm->gm, &dl, &bytes, err, errlen);
			if (rc == 0 && fsync(fd) < 0)
				rc = err_set(err, errlen, "mem_file_path %s: fsync: %s", path,
					     strerror(errno));
			close(fd);
		}
		if (rc == 0)
			log_info("snapshot: Diff of %llu dirty pages (%llu KiB) in %s",
				 (unsigned long long)dirty_log_count(&dl),
				 (unsigned long long)(bytes >> 10), path);
	}
	dirty_log_free(&dl);
	return rc;
}

static int write_file(const char *path, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, errlen, "snapshot_path %s: %s", path, strerror(errno));
	int r = write_all(fd, p, n, 0);
	if (r == 0)
		r = fsync(fd);
	if (r < 0)
		err_set(err, errlen, "snapshot_path %s: write: %s", path, strerror(errno));
	close(fd);
	return r;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
	nanosleep(&ts, NULL);
}

/* Virtio-blk requests in flight finish (the I/O thread completes them) before the state is
 * read: a restored guest must find every request it made either done or never taken. */
static int quiesce(const struct snap_vm *vm, char *err, size_t errlen)
{
	for (unsigned t = 0; t < QUIESCE_MS; t++) {
		uint32_t busy = 0;
		for (size_t i = 0; i < vm->machine->nvirtio; i++) {
			struct virtio_dev *d = vm->machine->virtio[i].dev;
			if (d->ops->device_id != VIRTIO_ID_BLOCK)
				continue;
			pthread_mutex_lock(&d->lock);
			busy += virtio_snap_inflight(d);
			pthread_mutex_unlock(&d->lock);
		}
		if (!busy)
			return 0;
		sleep_ms(1);
	}
	return err_set(err, errlen, "disk requests still in flight after %d ms; try again", QUIESCE_MS);
}

static int build_state(const struct snap_vm *vm, struct snap_out *o,
		       const char (*net_ids)[SNAP_ID_MAX + 1], char *err, size_t errlen)
{
	struct snapf_host host;
	static struct cpuid_entry cpuid[KVM_STATE_MAX_CPUID]; /* API thread only */
	snapf_host_self(&host);
	snapf_begin(o, &host);
	size_t s = snapf_section_begin(o, SNAPF_CONFIG, 0);
	save_config(o, vm, net_ids);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_VM, 0);
	if (kvm_vm_save(vm->kvm, vm->pit, o, err, errlen) < 0)
		return -1;
	snapf_section_end(o, s);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		size_t n;
		if (kvm_vcpu_cpuid_get(&vm->vcpus[i], cpuid, KVM_STATE_MAX_CPUID, &n, err, errlen) < 0)
			return -1;
		s = snapf_section_begin(o, SNAPF_CPUID, i);
		save_cpuid(o, cpuid, n);
		snapf_section_end(o, s);
		s = snapf_section_begin(o, SNAPF_VCPU, i);
		if (kvm_vcpu_save(&vm->vcpus[i], o, err, errlen) < 0)
			return -1;
		snapf_section_end(o, s);
	}
	s = snapf_section_begin(o, SNAPF_LEGACY, SNAPF_LEGACY_COM1);
	uart_save(&vm->machine->com1, o);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_LEGACY, SNAPF_LEGACY_I8042);
	i8042_save(&vm->machine->kbc, o);
	snapf_section_end(o, s);
	s = snapf_section_begin(o, SNAPF_LEGACY, SNAPF_LEGACY_ACPI_PM);
	acpi_pm_save(&vm->machine->pm, o);
	snapf_section_end(o, s);
	for (size_t i = 0; i < vm->machine->nvirtio; i++) {
		s = snapf_section_begin(o, SNAPF_VIRTIO, (uint32_t)i);
		virtio_snap_save(vm->machine->virtio[i].dev, o);
		snapf_section_end(o, s);
	}
	snapf_finish(o);
	if (!snap_out_ok(o))
		return err_set(err, errlen, "the state does not fit in memory or in %u MiB",
			       SNAP_OUT_MAX >> 20);
	return 0;
}

int snapshot_create(const struct snap_vm *vm, const char *state_path, const char *mem_path,
		    const char (*net_ids)[SNAP_ID_MAX + 1], char *err, size_t errlen)
{
	return snapshot_create_type(vm, state_path, mem_path, net_ids, false, err, errlen);
}

int snapshot_create_type(const struct snap_vm *vm, const char *state_path, const char *mem_path,
			 const char (*net_ids)[SNAP_ID_MAX + 1], bool diff, char *err,
			 size_t errlen)
{
	if (diff && !vm->dirty)
		return err_set(err, errlen, "a Diff snapshot needs dirty page tracking: set "
			       "track_dirty_pages true in PUT /machine-config (or PUT /snapshot/load) "
			       "before the microVM starts, and take a Full snapshot first");
	if (quiesce(vm, err, errlen) < 0)
		return -1;
	/* The devices stay locked from their state to the last page of memory: the I/O thread
	 * (receive paths, completions) cannot change either in between. */
	for (size_t i = 0; i < vm->machine->nvirtio; i++) {
		struct virtio_dev *d = vm->machine->virtio[i].dev;
		pthread_mutex_lock(&d->lock);
		if (d->ops->quiesce) /* before any state is read: in-flight work ends, rings say all */
			d->ops->quiesce(d);
	}
	struct snap_out o;
	snap_out_init(&o);
	int rc = build_state(vm, &o, net_ids, err, errlen);
	if (rc == 0 && !diff)
		rc = write_memory(vm->gm, mem_path, err, errlen);
	if (rc == 0 && vm->dirty)
		rc = write_dirty(vm, mem_path, diff, err, errlen);
	for (size_t i = vm->machine->nvirtio; i-- > 0;)
		pthread_mutex_unlock(&vm->machine->virtio[i].dev->lock);
	if (rc == 0)
		rc = write_file(state_path, o.buf, o.len, err, errlen);
	if (rc < 0) {
		(void)unlink(state_path);
		(void)unlink(mem_path);
	} else {
		log_info("snapshot: %zu bytes of state in %s, %llu MiB of %s memory in %s", o.len,
			 state_path, (unsigned long long)(vm->gm->size >> 20), diff ? "Diff" : "Full",
			 mem_path);
	}
	snap_out_free(&o);
	return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

int snapshot_parse_override(const char *s, struct snap_net_override *o, char *err, size_t errlen)
{
	const char *eq = strchr(s, '=');
	memset(o, 0, sizeof(*o));
	if (!eq || eq == s || (size_t)(eq - s) > SNAP_ID_MAX || !eq[1] || strlen(eq + 1) >= sizeof(o->tap))
		return err_set(err, errlen, "network override '%s': give IFACE=TAP (an interface id of "
			       "at most %d bytes, a tap name of at most 15)", s, SNAP_ID_MAX);
	memcpy(o->iface, s, (size_t)(eq - s));
	snprintf(o->tap, sizeof(o->tap), "%s", eq + 1);
	return 0;
}

int snapshot_check_image(struct snap_image *img, char *err, size_t errlen)
{
	if (snapf_parse(img->buf, img->len, &img->f, err, errlen) < 0)
		return -1;
	const struct snapf_section *c = snapf_find(&img->f, SNAPF_CONFIG, 0);
	if (!c)
		return err_set(err, errlen, "the state file has no configuration section");
	if (snapshot_parse_config(c->data, c->len, img, err, errlen) < 0)
		return -1;
	/* Exactly the sections this machine has: no more, no less. */
	size_t want = 2 + 2 * (size_t)img->cfg.cpus + 3 + img->nvirtio;
	if (!snapf_find(&img->f, SNAPF_VM, 0))
		return err_set(err, errlen, "the state file has no VM section");
	for (unsigned i = 0; i < img->cfg.cpus; i++)
		if (!snapf_find(&img->f, SNAPF_CPUID, i) || !snapf_find(&img->f, SNAPF_VCPU, i))
			return err_set(err, errlen, "the state file lacks vCPU %u's sections", i);
	for (uint32_t i = 0; i < 3; i++)
		if (!snapf_find(&img->f, SNAPF_LEGACY, i))
			return err_set(err, errlen, "the state file lacks legacy device %u's section", i);
	for (uint32_t i = 0; i < img->nvirtio; i++)
		if (!snapf_find(&img->f, SNAPF_VIRTIO, i))
			return err_set(err, errlen, "the state file lacks virtio slot %u's section", i);
	if (img->f.nsections != want)
		return err_set(err, errlen, "the state file has %zu sections, its machine needs %zu",
			       img->f.nsections, want);
	for (unsigned i = 0; i < img->cfg.cpus; i++) {
		static struct cpuid_entry e[KVM_STATE_MAX_CPUID];
		size_t n;
		if (parse_cpuid(snapf_find(&img->f, SNAPF_CPUID, i), e, KVM_STATE_MAX_CPUID, &n, err,
				errlen) < 0)
			return -1;
	}
	return 0;
}

static int read_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errlen, "snapshot_path %s: %s", path, strerror(errno));
	struct stat st;
	if (sandbox_fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > SNAPF_MAX_FILE) {
		close(fd);
		return err_set(err, errlen, "snapshot_path %s: not a regular file of at most %u MiB",
			       path, SNAPF_MAX_FILE >> 20);
	}
	*len = (size_t)st.st_size;
	*buf = malloc(*len ? *len : 1);
	if (!*buf) {
		close(fd);
		return err_set(err, errlen, "out of memory");
	}
	size_t got = 0;
	while (got < *len) {
		ssize_t r = pread(fd, *buf + got, *len - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != *len)
		return err_set(err, errlen, "snapshot_path %s: short read", path);
	return 0;
}

static int apply_overrides(struct snap_image *img, const struct snap_net_override *ov, size_t n,
			   char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		unsigned k = 0;
		while (k < img->cfg.nnets && strcmp(img->net_ids[k], ov[i].iface) != 0)
			k++;
		if (k == img->cfg.nnets)
			return err_set(err, errlen, "network override: the snapshot has no interface '%s'",
				       ov[i].iface);
		snprintf(img->cfg.nets[k].tap, sizeof(img->cfg.nets[k].tap), "%s", ov[i].tap);
	}
	return 0;
}

static int check_host(struct snap_image *img, const struct kvm *kvm, char *err, size_t errlen)
{
	struct snapf_host self;
	snapf_host_self(&self);
	if (strcmp(self.vendor, img->f.host.vendor) != 0)
		return err_set(err, errlen, "the snapshot was taken on a %s CPU, this host has a %s CPU",
			       img->f.host.vendor, self.vendor);
	if (self.signature != img->f.host.signature)
		log_info("snapshot from CPU signature 0x%x, this host is 0x%x: checking features",
			 img->f.host.signature, self.signature);
	if (kvm && img->cfg.cpus > kvm->max_vcpus)
		return err_set(err, errlen, "the snapshot has %u vCPUs, this host's KVM allows %u",
			       img->cfg.cpus, kvm->max_vcpus);
	return 0;
}

/* Every vCPU's saved CPUID against what KVM gave the first vCPU of the VM just built (mote's
 * filter over this host's KVM, read back: some hosts, PVM among them, give vCPUs more than
 * KVM_GET_SUPPORTED_CPUID lists, so the list alone would refuse their own snapshots). */
static int check_cpuid(const struct snap_image *img, struct vcpu *v0, char *err, size_t errlen)
{
	static struct cpuid_entry host[KVM_STATE_MAX_CPUID], saved[KVM_STATE_MAX_CPUID];
	size_t m, n;
	if (kvm_vcpu_cpuid_get(v0, host, KVM_STATE_MAX_CPUID, &m, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < img->cfg.cpus; i++) {
		char e[ERRLEN];
		if (parse_cpuid(snapf_find(&img->f, SNAPF_CPUID, i), saved, KVM_STATE_MAX_CPUID, &n, e,
				sizeof(e)) < 0 ||
		    snapshot_cpuid_check(saved, n, host, m, e, sizeof(e)) < 0)
			return err_set(err, errlen, "%s", e);
	}
	return 0;
}

int snapshot_open(struct snap_image *img, const char *state_path, const char *mem_path,
		  const struct snap_net_override *overrides, size_t n, const struct kvm *kvm,
		  int *status, char *err, size_t errlen)
{
	char e[ERRLEN];
	memset(img, 0, sizeof(*img));
	img->mem_fd = -1;
	*status = SNAP_STATUS_FILE;
	if (read_file(state_path, &img->buf, &img->len, err, errlen) < 0)
		return -1;
	if (snapshot_check_image(img, e, sizeof(e)) < 0)
		return err_set(err, errlen, "snapshot_path %s: %s", state_path, e);
	if (apply_overrides(img, overrides, n, err, errlen) < 0)
		return -1;
	img->mem_fd = open(mem_path, O_RDONLY | O_CLOEXEC);
	if (img->mem_fd < 0)
		return err_set(err, errlen, "memory file %s: %s", mem_path, strerror(errno));
	struct stat st;
	if (sandbox_fstat(img->mem_fd, &st) < 0 || !S_ISREG(st.st_mode))
		return err_set(err, errlen, "memory file %s: not a regular file", mem_path);
	if ((uint64_t)st.st_size != img->cfg.mem_size)
		return err_set(err, errlen, "memory file %s has %llu bytes, the snapshot's guest RAM is "
			       "%llu: not the memory file of this snapshot", mem_path,
			       (unsigned long long)st.st_size, (unsigned long long)img->cfg.mem_size);
	*status = SNAP_STATUS_HOST;
	if (check_host(img, kvm, e, sizeof(e)) < 0)
		return err_set(err, errlen, "snapshot_path %s: %s", state_path, e);
	*status = 0;
	return 0;
}

void snapshot_close(struct snap_image *img)
{
	free(img->buf);
	img->buf = NULL;
	if (img->mem_fd >= 0)
		close(img->mem_fd);
	img->mem_fd = -1;
}

static int section_in(const struct snap_image *img, uint32_t type, uint32_t inst, struct snap_in *in)
{
	const struct snapf_section *s = snapf_find(&img->f, type, inst);
	if (!s)
		return -1;
	snap_in_init(in, s->data, s->len);
	return 0;
}

int snapshot_apply(const struct snap_image *img, const struct snap_vm *vm, char *err, size_t errlen)
{
	struct snap_in in;
	static struct cpuid_entry e[KVM_STATE_MAX_CPUID];
	if (vm->nvcpus != img->cfg.cpus || vm->nvcpus == 0 || vm->machine->nvirtio != img->nvirtio)
		return err_set(err, errlen, "internal: the machine built does not match the snapshot");
	if (check_cpuid(img, &vm->vcpus[0], err, errlen) < 0)
		return -1;
	if (section_in(img, SNAPF_VM, 0, &in) < 0 || kvm_vm_load(vm->kvm, vm->pit, &in, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		size_t n;
		if (parse_cpuid(snapf_find(&img->f, SNAPF_CPUID, i), e, KVM_STATE_MAX_CPUID, &n, err,
				errlen) < 0 ||
		    kvm_vcpu_cpuid_set(&vm->vcpus[i], e, n, err, errlen) < 0)
			return -1;
		if (section_in(img, SNAPF_VCPU, i, &in) < 0 ||
		    kvm_vcpu_load(&vm->vcpus[i], &in, err, errlen) < 0)
			return -1;
	}
	if (section_in(img, SNAPF_LEGACY, SNAPF_LEGACY_COM1, &in) < 0 ||
	    uart_load(&vm->machine->com1, &in, err, errlen) < 0 ||
	    section_in(img, SNAPF_LEGACY, SNAPF_LEGACY_I8042, &in) < 0 ||
	    i8042_load(&vm->machine->kbc, &in, err, errlen) < 0 ||
	    section_in(img, SNAPF_LEGACY, SNAPF_LEGACY_ACPI_PM, &in) < 0 ||
	    acpi_pm_load(&vm->machine->pm, &in, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < vm->machine->nvirtio; i++) {
		struct virtio_dev *d = vm->machine->virtio[i].dev;
		if (section_in(img, SNAPF_VIRTIO, (uint32_t)i, &in) < 0)
			return -1;
		pthread_mutex_lock(&d->lock);
		int r = virtio_snap_load(d, &in, err, errlen);
		pthread_mutex_unlock(&d->lock);
		if (r < 0)
			return -1;
	}
	/* Every device loaded and wired: each restarts its host side and serves its rings once. */
	for (size_t i = 0; i < vm->machine->nvirtio; i++) {
		struct virtio_dev *d = vm->machine->virtio[i].dev;
		pthread_mutex_lock(&d->lock);
		if (d->ops->resume)
			d->ops->resume(d);
		pthread_mutex_unlock(&d->lock);
	}
	/* A new VM generation ID (after the irqchip: its edge would be overwritten otherwise). */
	if (vm->machine->genid.gm && vmgenid_regenerate(&vm->machine->genid, err, errlen) < 0)
		return -1;
	return 0;
}

int snapshot_check_disk(const struct snap_image *img, unsigned i, uint64_t size, char *err,
			size_t errlen)
{
	if (i >= img->cfg.ndisks || size == img->disk_size[i])
		return 0;
	return err_set(err, errlen, "disk %s has %llu bytes, at the snapshot it had %llu: give the "
		       "restored VM the image as it was then", img->cfg.disks[i].path,
		       (unsigned long long)size, (unsigned long long)img->disk_size[i]);
}
