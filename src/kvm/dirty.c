/* KVM dirty-page logging (see dirty.h). The only other file of the KVM layer that includes
 * <linux/kvm.h>; it touches memory slots only through the same region table as vm.c. */
#include "kvm/dirty.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "core/log.h"

static int set_slots(struct kvm *k, const struct guest_mem *gm, uint32_t flags, char *err,
		     size_t errlen)
{
	for (size_t i = 0; i < gm->nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.flags = flags,
			.guest_phys_addr = gm->regions[i].gpa,
			.memory_size = gm->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)gm_region_host(gm, i),
		};
		if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return err_set(err, errlen, "KVM_SET_USER_MEMORY_REGION (slot %zu, dirty "
				       "logging %s): %s", i, flags ? "on" : "off", strerror(errno));
	}
	return 0;
}

static void free_scratch(struct kvm_dirty *kd)
{
	for (size_t i = 0; i < GM_MAX_REGIONS; i++) {
		free(kd->slot_bits[i]);
		kd->slot_bits[i] = NULL;
		kd->slot_words[i] = 0;
	}
	kd->nslots = 0;
}

int kvm_dirty_start(struct kvm_dirty *kd, struct kvm *k, struct guest_mem *gm, char *err,
		    size_t errlen)
{
	memset(kd, 0, sizeof(*kd));
	for (size_t i = 0; i < gm->nregions; i++) {
		/* KVM's bitmap for a slot is whole longs: npages rounded up to 64. */
		kd->slot_words[i] = (size_t)((gm->regions[i].size / GM_PAGE_SIZE + 63) / 64);
		kd->slot_bits[i] = calloc(kd->slot_words[i], sizeof(uint64_t));
		if (!kd->slot_bits[i]) {
			free_scratch(kd);
			return err_set(err, errlen, "out of memory for the dirty-page bitmaps");
		}
	}
	kd->nslots = gm->nregions;
	/* Manual protect: GET returns the bits without re-protecting; CLEAR re-protects only the
	 * pages we took (cheaper for big guests with few dirty pages). Without it, GET clears. */
	int caps = ioctl(k->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (caps > 0 && (caps & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE)) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE},
		};
		kd->manual = ioctl(k->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
	}
	if (set_slots(k, gm, KVM_MEM_LOG_DIRTY_PAGES, err, errlen) < 0 ||
	    gm_track_writes(gm, true, err, errlen) < 0) {
		free_scratch(kd);
		return -1;
	}
	kd->on = true;
	return 0;
}

/* KVM's bitmap for slot i into kd->slot_bits[i], cleared in KVM. 0, or -1 with err. */
static int fetch_slot(struct kvm_dirty *kd, struct kvm *k, const struct guest_mem *gm, size_t i,
		      char *err, size_t errlen)
{
	memset(kd->slot_bits[i], 0, kd->slot_words[i] * sizeof(uint64_t));
	struct kvm_dirty_log log = {.slot = (uint32_t)i, .dirty_bitmap = kd->slot_bits[i]};
	if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return err_set(err, errlen, "KVM_GET_DIRTY_LOG (slot %zu): %s", i, strerror(errno));
	if (!kd->manual)
		return 0;
	struct kvm_clear_dirty_log clr = {
		.slot = (uint32_t)i,
		.num_pages = (uint32_t)(gm->regions[i].size / GM_PAGE_SIZE),
		.first_page = 0,
		.dirty_bitmap = kd->slot_bits[i],
	};
	if (ioctl(k->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr) < 0)
		return err_set(err, errlen, "KVM_CLEAR_DIRTY_LOG (slot %zu): %s", i, strerror(errno));
	return 0;
}

int kvm_dirty_fetch(struct kvm_dirty *kd, struct kvm *k, const struct guest_mem *gm,
		    struct dirty_log *out, char *err, size_t errlen)
{
	if (!kd->on)
		return err_set(err, errlen, "dirty-page tracking is off (enable track_dirty_pages)");
	if (out->npages != gm_ram_pages(gm) || kd->nslots != gm->nregions)
		return err_set(err, errlen, "the dirty-page bitmap does not match guest memory");
	for (size_t i = 0; i < gm->nregions; i++) {
		if (fetch_slot(kd, k, gm, i, err, errlen) < 0)
			return -1;
		uint64_t base = gm_region_offset(gm, i) / GM_PAGE_SIZE;
		uint64_t pos = 0, first, count, n = gm->regions[i].size / GM_PAGE_SIZE;
		while (dirty_next_run(kd->slot_bits[i], n, &pos, &first, &count))
			dirty_log_set(out, base + first, count);
	}
	gm_take_written(gm, out->bits, out->nwords);
	return 0;
}

int kvm_dirty_stop(struct kvm_dirty *kd, struct kvm *k, struct guest_mem *gm, char *err,
		   size_t errlen)
{
	int r = 0;
	if (kd->on)
		r = set_slots(k, gm, 0, err, errlen);
	gm_track_writes(gm, false, NULL, 0);
	free_scratch(kd);
	kd->on = false;
	return r;
}

const unsigned long kvm_dirty_fetch_ioctls[] = {KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG};
const size_t kvm_dirty_nfetch_ioctls =
	sizeof(kvm_dirty_fetch_ioctls) / sizeof(kvm_dirty_fetch_ioctls[0]);
