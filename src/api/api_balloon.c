/* /balloon and /balloon/statistics: Firecracker's schema onto mote's balloon configuration and
 * its running device. Bodies are user input: every field is checked (type, range against the
 * guest's RAM), unknown fields are refused, free page hinting is refused by name. */
#include "api/api_balloon.h"

#include <string.h>

#include "core/log.h"
#include "devices/virtio_balloon.h"

#define PAGES_PER_MIB (1u << (20 - VIRTIO_BALLOON_PFN_SHIFT))

/* Firecracker's names for the statistics tags (virtio 1.2 5.5.6.3, 10-15 as Linux has them). */
static const char *const stat_names[VIRTIO_BALLOON_S_NR] = {
	"swap_in", "swap_out", "major_faults", "minor_faults", "free_memory", "total_memory",
	"available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures", "oom_kill",
	"alloc_stall", "async_scan", "direct_scan", "async_reclaim", "direct_reclaim",
};

bool api_balloon_url(const char *url)
{
	return !strncmp(url, "/balloon", 8) && (url[8] == '\0' || url[8] == '/');
}

static uint64_t ram_mib(const struct api_config *ac) { return ac->cfg.mem_size >> 20; }

int api_put_balloon(struct api_config *ac, const json_t *body, char *err, size_t errlen)
{
	static const char *const known[] = {"amount_mib", "deflate_on_oom",
					    "stats_polling_interval_s", "free_page_reporting",
					    "free_page_hinting", NULL};
	const char *what = "balloon";
	unsigned long long mib = 0, stats = 0;
	bool hinting = false;
	struct balloon_config b = {.enabled = true};
	if (api_check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    api_get_uint(body, what, "amount_mib", true, 0, ram_mib(ac), &mib, err, errlen) < 0 ||
	    api_get_bool(body, what, "deflate_on_oom", true, &b.deflate_on_oom, err, errlen) < 0 ||
	    api_get_uint(body, what, "stats_polling_interval_s", false, 0, CONFIG_BALLOON_STATS_MAX,
			 &stats, err, errlen) < 0 ||
	    api_get_bool(body, what, "free_page_reporting", false, &b.reporting, err, errlen) < 0 ||
	    api_get_bool(body, what, "free_page_hinting", false, &hinting, err, errlen) < 0)
		return -1;
	if (hinting)
		return err_set(err, errlen, "balloon: free_page_hinting is not supported by mote (use "
			       "free_page_reporting)");
	b.amount_mib = (uint32_t)mib;
	b.stats_interval_s = (unsigned)stats;
	ac->cfg.balloon = b;
	return 0;
}

int api_balloon_check(const struct api_config *ac, char *err, size_t errlen)
{
	if (!ac->cfg.balloon.enabled)
		return 0;
	return config_check_balloon("balloon", &ac->cfg.balloon, ac->cfg.mem_size, err, errlen);
}

json_t *api_balloon_json(const struct api_config *ac)
{
	const struct balloon_config *b = &ac->cfg.balloon;
	if (!b->enabled)
		return NULL;
	return json_pack("{s:I, s:b, s:I, s:b}", "amount_mib", (json_int_t)b->amount_mib,
			 "deflate_on_oom", b->deflate_on_oom, "stats_polling_interval_s",
			 (json_int_t)b->stats_interval_s, "free_page_reporting", b->reporting);
}

static json_t *stats_json(struct virtio_balloon *dev)
{
	struct virtio_balloon_info info;
	virtio_balloon_info(dev, &info);
	json_t *o = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)info.target_pages,
			      "actual_pages", (json_int_t)info.actual_pages, "target_mib",
			      (json_int_t)(info.target_pages / PAGES_PER_MIB), "actual_mib",
			      (json_int_t)(info.actual_pages / PAGES_PER_MIB));
	for (unsigned t = 0; o && t < VIRTIO_BALLOON_S_NR; t++)
		if (info.stats.present & (1u << t)) /* JSON integers are signed 64-bit: clamp */
			json_object_set_new(o, stat_names[t],
					    json_integer(info.stats.val[t] > (uint64_t)INT64_MAX
							 ? INT64_MAX : (json_int_t)info.stats.val[t]));
	return o;
}

static unsigned patch_balloon(struct api_config *ac, struct virtio_balloon *dev, bool started,
			      const json_t *body, char *err, size_t errlen)
{
	static const char *const known[] = {"amount_mib", NULL};
	unsigned long long mib = 0;
	if (api_check_keys(body, "balloon", known, NULL, err, errlen) < 0 ||
	    api_get_uint(body, "balloon", "amount_mib", true, 0, ram_mib(ac), &mib, err, errlen) < 0)
		return 400;
	if (started && !dev) {
		err_set(err, errlen, "balloon: the microVM is not running");
		return 400;
	}
	ac->cfg.balloon.amount_mib = (uint32_t)mib;
	if (dev)
		virtio_balloon_set_target(dev, (uint32_t)mib * PAGES_PER_MIB);
	return 204;
}

static unsigned patch_stats(struct api_config *ac, struct virtio_balloon *dev, bool started,
			    const json_t *body, char *err, size_t errlen)
{
	static const char *const known[] = {"stats_polling_interval_s", NULL};
	const char *what = "balloon/statistics";
	unsigned long long s = 0;
	if (api_check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    api_get_uint(body, what, "stats_polling_interval_s", true, 0, CONFIG_BALLOON_STATS_MAX,
			 &s, err, errlen) < 0)
		return 400;
	if (!started) { /* before the boot anything goes, as with PUT */
		ac->cfg.balloon.stats_interval_s = (unsigned)s;
		return 204;
	}
	if (!dev) {
		err_set(err, errlen, "balloon/statistics: the microVM is not running");
		return 400;
	}
	if (virtio_balloon_set_stats_interval(dev, (unsigned)s, err, errlen) < 0)
		return 400;
	ac->cfg.balloon.stats_interval_s = (unsigned)s;
	return 204;
}

unsigned api_balloon_request(struct api_config *ac, struct virtio_balloon *dev, bool started,
			     const char *method, const char *url, const json_t *body, json_t **out,
			     char *err, size_t errlen)
{
	bool get = !strcmp(method, "GET"), put = !strcmp(method, "PUT"),
	     patch = !strcmp(method, "PATCH");
	bool root = !strcmp(url, "/balloon"), stats = !strcmp(url, "/balloon/statistics");
	*out = NULL;
	if (!strncmp(url, "/balloon/hinting", 16)) {
		err_set(err, errlen, "/balloon/hinting: free page hinting is not supported by mote "
			"(free_page_reporting is)");
		return 400;
	}
	if (!(root && (get || put || patch)) && !(stats && (get || patch))) {
		err_set(err, errlen, "invalid request method and/or path: %.16s %.200s", method, url);
		return 400;
	}
	if (put) {
		if (started) {
			err_set(err, errlen, "PUT /balloon is only possible before InstanceStart: the "
				"microVM is already started (PATCH /balloon changes the target)");
			return 400;
		}
		return api_put_balloon(ac, body, err, errlen) < 0 ? 400 : 204;
	}
	if (!ac->cfg.balloon.enabled) {
		err_set(err, errlen, "balloon: no balloon device is configured (PUT /balloon before "
			"InstanceStart)");
		return 400;
	}
	if (root && patch)
		return patch_balloon(ac, dev, started, body, err, errlen);
	if (root) {
		*out = api_balloon_json(ac);
		return *out ? 200 : (err_set(err, errlen, "out of memory"), 400);
	}
	if (patch)
		return patch_stats(ac, dev, started, body, err, errlen);
	if (!ac->cfg.balloon.stats_interval_s) {
		err_set(err, errlen, "balloon/statistics: statistics are not enabled (a non-zero "
			"stats_polling_interval_s in PUT /balloon before InstanceStart)");
		return 400;
	}
	if (!dev) {
		err_set(err, errlen, "balloon/statistics: the microVM is not running");
		return 400;
	}
	*out = stats_json(dev);
	return *out ? 200 : (err_set(err, errlen, "out of memory"), 400);
}
