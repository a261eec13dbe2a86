/* The API's rate limiters (src/api/api_config.c): RateLimiter / TokenBucket bodies on PUT
 * /drives and /network-interfaces, the PATCH bodies, GET /vm/config echoing them, the config
 * file, and every refusal (types, ranges, unknown fields, refill_time 0 with a size). */
#include <stdlib.h>
#include <string.h>

#include "api/api_config.h"
#include "test.h"

static struct api_config ac;
static char err[512];

static void reset(void)
{
	static const struct vm_config base = {.cmdline = "", .verbosity = 1};
	api_config_init(&ac, &base);
	err[0] = '\0';
}

static json_t *J(const char *text)
{
	return api_body_parse(text, strlen(text), err, sizeof(err));
}

static int drive(const char *rl)
{
	char text[1024];
	snprintf(text, sizeof(text), "{\"drive_id\":\"d\",\"path_on_host\":\"/d\",\"is_root_device\":false%s%s}",
		 rl ? ",\"rate_limiter\":" : "", rl ? rl : "");
	json_t *j = J(text);
	int r = j ? api_put_drive(&ac, "d", j, err, sizeof(err)) : -1;
	json_decref(j);
	return r;
}

static int net(const char *extra)
{
	char text[1024];
	snprintf(text, sizeof(text), "{\"iface_id\":\"e\",\"host_dev_name\":\"tap0\"%s}", extra);
	json_t *j = J(text);
	int r = j ? api_put_net(&ac, "e", j, err, sizeof(err)) : -1;
	json_decref(j);
	return r;
}

static void drive_limits_map(void)
{
	reset();
	CHECK_EQ(drive("{\"bandwidth\":{\"size\":1048576,\"refill_time\":100,\"one_time_burst\":4096},"
		       "\"ops\":{\"size\":50,\"refill_time\":1000}}"), 0);
	const struct rl_config *c = &ac.cfg.disks[0].rl;
	CHECK_EQ(c->bw.size, 1048576);
	CHECK_EQ(c->bw.refill_ms, 100);
	CHECK_EQ(c->bw.one_time_burst, 4096);
	CHECK_EQ(c->ops.size, 50);
	CHECK_EQ(c->ops.refill_ms, 1000);
	CHECK_EQ(c->ops.one_time_burst, 0);
	/* a second PUT replaces everything: no limiter now */
	CHECK_EQ(drive(NULL), 0);
	CHECK(!rl_config_enabled(&ac.cfg.disks[0].rl));
	/* null and {} mean no limit; size 0 disables a bucket */
	CHECK_EQ(drive("null"), 0);
	CHECK_EQ(drive("{}"), 0);
	CHECK_EQ(drive("{\"bandwidth\":null,\"ops\":{\"size\":0,\"refill_time\":0}}"), 0);
	CHECK(!rl_config_enabled(&ac.cfg.disks[0].rl));
	CHECK_EQ(drive("{\"ops\":{\"size\":0,\"refill_time\":10,\"one_time_burst\":5}}"), 0);
	CHECK(!rl_config_enabled(&ac.cfg.disks[0].rl));
}

static void bucket_refusals(void)
{
	static const struct {
		const char *rl, *why;
	} bad[] = {
		{"5", "must be an object"},
		{"[]", "must be an object"},
		{"{\"bandwidth\":1}", "rate_limiter.bandwidth must be an object"},
		{"{\"bandwidth\":{\"size\":-1,\"refill_time\":100}}", "'size' must be an integer"},
		{"{\"bandwidth\":{\"size\":1.5,\"refill_time\":100}}", "'size' must be an integer"},
		{"{\"bandwidth\":{\"size\":\"10\",\"refill_time\":100}}", "'size' must be an integer"},
		{"{\"bandwidth\":{\"size\":10,\"refill_time\":-5}}", "'refill_time' must be an integer"},
		{"{\"bandwidth\":{\"size\":10,\"refill_time\":10,\"one_time_burst\":-1}}", "one_time_burst"},
		{"{\"bandwidth\":{\"size\":1125899906842625,\"refill_time\":10}}", "'size' must be an integer from 0 to 1125899906842624"},
		{"{\"bandwidth\":{\"size\":10,\"refill_time\":31536000001}}", "refill_time"},
		{"{\"bandwidth\":{\"size\":10}}", "missing required field 'refill_time'"},
		{"{\"ops\":{\"refill_time\":10}}", "missing required field 'size'"},
		{"{\"ops\":{\"size\":10,\"refill_time\":0}}", "refill_time 0 with size 10"},
		{"{\"ops\":{\"size\":10,\"refill_time\":10,\"rate\":1}}", "unknown field 'rate'"},
		{"{\"bytes\":{}}", "unknown field 'bytes'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reset();
		CHECK_EQ(drive("{\"bandwidth\":{\"size\":7,\"refill_time\":7}}"), 0);
		err[0] = '\0';
		CHECK_EQ(drive(bad[i].rl), -1);
		if (!strstr(err, bad[i].why))
			printf("  (case %zu: %s)\n", i, err);
		CHECK_STR_CONTAINS(err, bad[i].why);
		CHECK_STR_CONTAINS(err, "drives");
		CHECK_EQ(ac.cfg.disks[0].rl.bw.size, 7); /* unchanged */
	}
}

static void net_limits_map_and_turn_vhost_off(void)
{
	reset();
	CHECK_EQ(net(",\"rx_rate_limiter\":{\"bandwidth\":{\"size\":1000,\"refill_time\":10}},"
		     "\"tx_rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":1,\"one_time_burst\":9}}"), 0);
	const struct net_config *n = &ac.cfg.nets[0];
	CHECK_EQ(n->rx_rl.bw.size, 1000);
	CHECK(!tb_config_enabled(&n->rx_rl.ops));
	CHECK_EQ(n->tx_rl.ops.one_time_burst, 9);
	CHECK(!tb_config_enabled(&n->tx_rl.bw));
	CHECK_EQ(n->vhost, 0); /* limits need mote's own data path */
	CHECK_EQ(net(""), 0);
	CHECK_EQ(ac.cfg.nets[0].vhost, -1);
	CHECK(!rl_config_enabled(&ac.cfg.nets[0].rx_rl));
	CHECK_EQ(net(",\"tx_rate_limiter\":{\"ops\":{\"size\":5}}"), -1);
	CHECK_STR_CONTAINS(err, "network-interfaces: tx_rate_limiter.ops: missing required field 'refill_time'");
}

static void patches(void)
{
	reset();
	CHECK_EQ(drive("{\"bandwidth\":{\"size\":1000,\"refill_time\":10}}"), 0);
	CHECK_EQ(net(""), 0);
	char path[CONFIG_PATH_MAX];
	unsigned idx = 9;
	struct rl_update u, rx, tx;
	json_t *j = J("{\"drive_id\":\"d\",\"rate_limiter\":{\"ops\":{\"size\":3,\"refill_time\":30}}}");
	CHECK(j && api_parse_drive_update(&ac, "d", j, path, &idx, &u, err, sizeof(err)) == 0);
	CHECK(path[0] == '\0' && idx == 0);
	CHECK(u.ops_set && !u.bw_set && u.cfg.ops.size == 3);
	json_decref(j);
	/* both at once */
	j = J("{\"drive_id\":\"d\",\"path_on_host\":\"/n\",\"rate_limiter\":{\"bandwidth\":{\"size\":0,\"refill_time\":0}}}");
	CHECK(j && api_parse_drive_update(&ac, "d", j, path, &idx, &u, err, sizeof(err)) == 0);
	CHECK(!strcmp(path, "/n") && u.bw_set && u.cfg.bw.size == 0);
	json_decref(j);
	/* neither: refused */
	j = J("{\"drive_id\":\"d\"}");
	CHECK(j && api_parse_drive_update(&ac, "d", j, path, &idx, &u, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "rate_limiter");
	json_decref(j);
	j = J("{\"drive_id\":\"d\",\"rate_limiter\":{\"ops\":{\"size\":-3,\"refill_time\":30}}}");
	CHECK(j && api_parse_drive_update(&ac, "d", j, path, &idx, &u, err, sizeof(err)) == -1);
	json_decref(j);
	/* the old entry point still wants a path */
	j = J("{\"drive_id\":\"d\",\"rate_limiter\":{}}");
	CHECK(j && api_parse_drive_patch(&ac, "d", j, path, &idx, err, sizeof(err)) == -1);
	json_decref(j);
	/* interfaces */
	j = J("{\"iface_id\":\"e\",\"tx_rate_limiter\":{\"bandwidth\":{\"size\":10,\"refill_time\":1}}}");
	CHECK(j && api_parse_net_patch(&ac, "e", j, &idx, &rx, &tx, err, sizeof(err)) == 0);
	CHECK(idx == 0 && !rx.bw_set && !rx.ops_set && tx.bw_set && !tx.ops_set);
	json_decref(j);
	j = J("{\"iface_id\":\"x\"}");
	CHECK(j && api_parse_net_patch(&ac, "x", j, &idx, &rx, &tx, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "no interface 'x'");
	json_decref(j);
	j = J("{\"iface_id\":\"e\",\"host_dev_name\":\"tap9\"}");
	CHECK(j && api_parse_net_patch(&ac, "e", j, &idx, &rx, &tx, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "unknown field 'host_dev_name'");
	json_decref(j);
	j = J("{\"iface_id\":\"f\"}");
	CHECK(j && api_parse_net_patch(&ac, "e", j, &idx, &rx, &tx, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "differs");
	json_decref(j);
}

static void vm_config_echoes_limits(void)
{
	reset();
	CHECK_EQ(drive("{\"bandwidth\":{\"size\":1000,\"refill_time\":10,\"one_time_burst\":5}}"), 0);
	CHECK_EQ(net(",\"tx_rate_limiter\":{\"ops\":{\"size\":5,\"refill_time\":1}}"), 0);
	json_t *v = api_vm_config_json(&ac);
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(s != NULL);
	if (s) {
		CHECK_STR_CONTAINS(s, "\"rate_limiter\":{\"bandwidth\":{\"one_time_burst\":5,\"refill_time\":10,\"size\":1000}}");
		CHECK_STR_CONTAINS(s, "\"tx_rate_limiter\":{\"ops\":{\"one_time_burst\":0,\"refill_time\":1,\"size\":5}}");
		CHECK(!strstr(s, "rx_rate_limiter"));
	}
	/* and the config file takes what GET /vm/config gives */
	struct api_config ac2;
	static const struct vm_config base = {.cmdline = "", .verbosity = 1};
	api_config_init(&ac2, &base);
	json_object_set_new(v, "boot-source", json_pack("{s:s}", "kernel_image_path", "/k"));
	char *file = json_dumps(v, JSON_COMPACT);
	CHECK(file && api_config_file(&ac2, file, strlen(file), err, sizeof(err)) == 0);
	CHECK_EQ(ac2.cfg.disks[0].rl.bw.one_time_burst, 5);
	CHECK_EQ(ac2.cfg.nets[0].tx_rl.ops.size, 5);
	free(file);
	free(s);
	json_decref(v);
	api_config_release(&ac2);
}

int main(void)
{
	test_suite_name = "api_ratelimit";
	RUN(drive_limits_map);
	RUN(bucket_refusals);
	RUN(net_limits_map_and_turn_vhost_off);
	RUN(patches);
	RUN(vm_config_echoes_limits);
	api_config_release(&ac);
	TEST_MAIN_END();
}
