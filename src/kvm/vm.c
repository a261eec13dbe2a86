/* /dev/kvm and the VM fd: capability checks, memory slots, irqchip, PIT, IRQ lines.
 * The only file besides vcpu.c that includes <linux/kvm.h>. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "core/log.h"
#include "kvm/kvm.h"

#define MAX_CPUID_ENTRIES 256

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP (in-kernel interrupt controller)"},
	{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
	{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
	{KVM_CAP_PIT2, "KVM_CAP_PIT2 (in-kernel PIT)"},
	{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
	{KVM_CAP_NR_MEMSLOTS, "KVM_CAP_NR_MEMSLOTS"},
	{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD (queue notifications without a userspace exit)"},
	{KVM_CAP_IRQFD, "KVM_CAP_IRQFD (interrupts from the I/O thread)"},
};

int kvm_open(struct kvm *k, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->vm_fd = -1;
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "/dev/kvm does not exist: this host has no KVM "
					      "(load kvm_intel or kvm_amd, or enable virtualization in the firmware)");
		else if (errno == EACCES || errno == EPERM)
			snprintf(err, errlen, "no permission to open /dev/kvm: run as root or add "
					      "your user to the 'kvm' group");
		else
			snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(errno));
		return -1;
	}
	int api = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, mote needs %d: the host kernel is too old or unusual",
			 api, KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(k->sys_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "the host KVM lacks %s, which mote needs: use a newer kernel",
				 required_caps[i].name);
			goto fail;
		}
	}
	int run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE returned %d", run_size);
		goto fail;
	}
	k->run_size = (size_t)run_size;
	int maxv = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (maxv <= 0)
		maxv = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	k->max_vcpus = maxv > 0 ? (unsigned)maxv : 4;

	k->supported = calloc(1, sizeof(*k->supported) +
					 MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2));
	if (!k->supported) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	k->supported->nent = MAX_CPUID_ENTRIES;
	if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, k->supported) < 0) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	kvm_close(k);
	return -1;
}

static int create_vm(struct kvm *k, const struct guest_mem *gm, bool irqchip, bool pit, char *err,
		     size_t errlen);

int kvm_create_vm(struct kvm *k, const struct guest_mem *gm, bool pit, char *err, size_t errlen)
{
	return create_vm(k, gm, true, pit, err, errlen);
}

int kvm_create_vm_bare(struct kvm *k, const struct guest_mem *gm, char *err, size_t errlen)
{
	return create_vm(k, gm, false, false, err, errlen);
}

static int create_vm(struct kvm *k, const struct guest_mem *gm, bool irqchip, bool pit, char *err,
		     size_t errlen)
{
	do {
		k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	} while (k->vm_fd < 0 && errno == EINTR);
	if (k->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	(void)fcntl(k->vm_fd, F_SETFD, FD_CLOEXEC);
	/* The real-mode helper pages (Intel without unrestricted guest) sit just below 4 GiB: a
	 * bare VM starts in long mode and needs them not (on Intel they are one more memory slot),
	 * and its RAM may reach there (a 4 GiB hvt unikernel's does). */
	bool realmode = irqchip;
	if (realmode && ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_GPA) < 0) {
		snprintf(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	uint64_t idmap = X86_IDENTITY_MAP_GPA;
	if (realmode && ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		snprintf(err, errlen, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
		return -1;
	}
	if (irqchip && ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	struct kvm_pit_config pit_cfg = {.flags = 0};
	if (pit && ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit_cfg) < 0) {
		snprintf(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}
	int nslots = ioctl(k->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	if (nslots > 0 && gm->nregions > (size_t)nslots) {
		snprintf(err, errlen, "KVM offers %d memory slots, mote needs %zu", nslots, gm->nregions);
		return -1;
	}
	for (size_t i = 0; i < gm->nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.guest_phys_addr = gm->regions[i].gpa,
			.memory_size = gm->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)gm_region_host(gm, i),
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
			snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION (slot %zu, %llu MiB): %s", i,
				 (unsigned long long)(r.memory_size >> 20), strerror(errno));
			return -1;
		}
	}
	return 0;
}

void kvm_close(struct kvm *k)
{
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->supported);
	k->supported = NULL;
	k->vm_fd = k->sys_fd = -1;
}

const unsigned long kvm_irq_line_ioctl = KVM_IRQ_LINE;

void kvm_irq_set(void *ctx, unsigned gsi, int level)
{
	struct kvm *k = ctx;
	struct kvm_irq_level irq = {.irq = gsi, .level = (uint32_t)(level != 0)};
	if (ioctl(k->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

int kvm_add_ioeventfd(struct kvm *k, uint64_t addr, uint32_t len, uint64_t datamatch, int fd,
		      char *err, size_t errlen)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		snprintf(err, errlen, "KVM_IOEVENTFD at 0x%llx: %s", (unsigned long long)addr,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int kvm_add_pio_eventfd(struct kvm *k, uint16_t port, uint32_t len, int fd, char *err,
			size_t errlen)
{
	struct kvm_ioeventfd io = {.addr = port, .len = len, .fd = fd, .flags = KVM_IOEVENTFD_FLAG_PIO};
	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return err_set(err, errlen, "KVM_IOEVENTFD at port 0x%x: %s", port, strerror(errno));
	return 0;
}

int kvm_add_irqfd(struct kvm *k, unsigned gsi, int fd, char *err, size_t errlen)
{
	struct kvm_irqfd irq = {.fd = (uint32_t)fd, .gsi = gsi};
	if (ioctl(k->vm_fd, KVM_IRQFD, &irq) < 0) {
		snprintf(err, errlen, "KVM_IRQFD for GSI %u: %s", gsi, strerror(errno));
		return -1;
	}
	return 0;
}
