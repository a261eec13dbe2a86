/* The balloon endpoints (src/api/api_balloon.c) without a server: PUT /balloon's fields and
 * refusals, PATCH before and after the boot, GET bodies, statistics refusals, the check at
 * InstanceStart, against a real device for the running cases. */
#include <stdlib.h>
#include <string.h>

#include "api/api_balloon.h"
#include "core/log.h"
#include "devices/virtio_balloon.h"
#include "test.h"

static struct api_config ac;
static char err[512];
static struct virtio_balloon dev;
static struct guest_mem gm;

static void reset(void)
{
	static const struct vm_config base = {.cmdline = "", .verbosity = 1};
	api_config_init(&ac, &base);
	err[0] = '\0';
}

/* One request; body text may be NULL (GET). Returns the status; *out freed by the caller. */
static unsigned req(struct virtio_balloon *d, bool started, const char *m, const char *url,
		    const char *text, json_t **out)
{
	json_t *body = text ? json_loads(text, 0, NULL) : NULL;
	json_t *o = NULL;
	err[0] = '\0';
	unsigned st = api_balloon_request(&ac, d, started, m, url, body, &o, err, sizeof(err));
	json_decref(body);
	if (out)
		*out = o;
	else
		json_decref(o);
	return st;
}

static void put_fields(void)
{
	reset();
	CHECK_EQ(req(NULL, false, "GET", "/balloon", NULL, NULL), 400u);
	CHECK_STR_CONTAINS(err, "no balloon device");
	static const char *const bad[][2] = {
		{"{\"amount_mib\":1}", "missing required field 'deflate_on_oom'"},
		{"{\"deflate_on_oom\":true}", "missing required field 'amount_mib'"},
		{"{\"amount_mib\":129,\"deflate_on_oom\":true}", "from 0 to 128"},
		{"{\"amount_mib\":1.5,\"deflate_on_oom\":true}", "must be an integer"},
		{"{\"amount_mib\":1,\"deflate_on_oom\":\"yes\"}", "must be true or false"},
		{"{\"amount_mib\":1,\"deflate_on_oom\":true,\"stats_polling_interval_s\":-1}", "stats_polling_interval_s"},
		{"{\"amount_mib\":1,\"deflate_on_oom\":true,\"free_page_reporting\":1}", "must be true or false"},
		{"{\"amount_mib\":1,\"deflate_on_oom\":true,\"free_page_hinting\":true}", "not supported"},
		{"{\"amount_mib\":1,\"deflate_on_oom\":true,\"x\":1}", "unknown field 'x'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(req(NULL, false, "PUT", "/balloon", bad[i][0], NULL), 400u);
		CHECK_STR_CONTAINS(err, bad[i][1]);
		CHECK(!ac.cfg.balloon.enabled);
	}
	CHECK_EQ(req(NULL, false, "PUT", "/balloon", "{\"amount_mib\":64,\"deflate_on_oom\":true,"
		     "\"stats_polling_interval_s\":3,\"free_page_reporting\":true,\"free_page_hinting\":false}",
		     NULL), 204u);
	CHECK(ac.cfg.balloon.enabled && ac.cfg.balloon.amount_mib == 64 && ac.cfg.balloon.reporting &&
	      ac.cfg.balloon.stats_interval_s == 3 && ac.cfg.balloon.deflate_on_oom);
	json_t *o;
	CHECK_EQ(req(NULL, false, "GET", "/balloon", NULL, &o), 200u);
	CHECK(o && json_integer_value(json_object_get(o, "amount_mib")) == 64 &&
	      json_is_true(json_object_get(o, "free_page_reporting")));
	json_decref(o);
	CHECK_EQ(req(NULL, false, "PATCH", "/balloon", "{\"amount_mib\":10}", NULL), 204u);
	CHECK_EQ(ac.cfg.balloon.amount_mib, 10u);
	CHECK_EQ(req(NULL, false, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\":0}", NULL), 204u);
	CHECK_EQ(req(NULL, false, "GET", "/balloon/statistics", NULL, NULL), 400u);
	CHECK_STR_CONTAINS(err, "not enabled");
	CHECK_EQ(req(NULL, false, "PATCH", "/balloon/hinting/start", "{}", NULL), 400u);
	CHECK_EQ(req(NULL, false, "DELETE", "/balloon", NULL, NULL), 400u);
	CHECK_EQ(req(NULL, false, "PUT", "/balloon/statistics", "{}", NULL), 400u);
	CHECK(api_balloon_url("/balloon") && api_balloon_url("/balloon/x") && !api_balloon_url("/balloons"));
	/* machine-config shrank after PUT /balloon: InstanceStart is refused. */
	CHECK_EQ(api_balloon_check(&ac, err, sizeof(err)), 0);
	ac.cfg.mem_size = 8ull << 20;
	CHECK_EQ(api_balloon_check(&ac, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "more than the guest's 8 MiB");
}

static void running(void)
{
	reset();
	CHECK_EQ(req(NULL, false, "PUT", "/balloon", "{\"amount_mib\":2,\"deflate_on_oom\":false,"
		     "\"stats_polling_interval_s\":1}", NULL), 204u);
	const struct gm_region r[] = {{.gpa = 0, .size = 16ull << 20}};
	CHECK_EQ(gm_create(&gm, r, 1, err, sizeof(err)), 0);
	const struct virtio_balloon_params p = {.target_pages = 512, .stats_interval_s = 1};
	CHECK_EQ(virtio_balloon_init(&dev, &p, &gm, err, sizeof(err)), 0);
	virtio_dev_init(&dev.dev, &dev.ops, &dev, "virtio-balloon", &gm, NULL);
	CHECK_EQ(req(&dev, true, "PUT", "/balloon", "{\"amount_mib\":2,\"deflate_on_oom\":false}", NULL), 400u);
	CHECK_STR_CONTAINS(err, "before InstanceStart");
	CHECK_EQ(req(&dev, true, "PATCH", "/balloon", "{\"amount_mib\":100}", NULL), 204u);
	CHECK_EQ(dev.num_pages, 100u * 256);
	CHECK_EQ(req(&dev, true, "PATCH", "/balloon", "{\"amount_mib\":129}", NULL), 400u);
	CHECK_EQ(dev.num_pages, 100u * 256);
	dev.actual = 512;
	json_t *o;
	CHECK_EQ(req(&dev, true, "GET", "/balloon/statistics", NULL, &o), 200u);
	CHECK(o && json_integer_value(json_object_get(o, "target_pages")) == 25600 &&
	      json_integer_value(json_object_get(o, "actual_mib")) == 2 &&
	      json_integer_value(json_object_get(o, "target_mib")) == 100 &&
	      !json_object_get(o, "free_memory")); /* no statistics received yet */
	json_decref(o);
	CHECK_EQ(req(&dev, true, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\":0}", NULL), 400u);
	CHECK_STR_CONTAINS(err, "cannot be turned off");
	CHECK_EQ(req(&dev, true, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\":9}", NULL), 204u);
	CHECK_EQ(ac.cfg.balloon.stats_interval_s, 9u);
	CHECK_EQ(req(NULL, true, "PATCH", "/balloon", "{\"amount_mib\":1}", NULL), 400u);
	CHECK_STR_CONTAINS(err, "not running");
	virtio_balloon_destroy(&dev);
	virtio_dev_destroy(&dev.dev);
	gm_destroy(&gm);
}

int main(void)
{
	test_suite_name = "api_balloon";
	log_set_level(LOG_OFF);
	RUN(put_fields);
	RUN(running);
	TEST_MAIN_END();
}
