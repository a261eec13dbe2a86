/* Unit tests for the API's request-body parsers and their mapping onto struct vm_config
 * (src/api/api_config.c): valid bodies, every refusal class (malformed, wrong type, unknown
 * field, unsupported feature, out of range, id mismatch), refusals leaving the staged
 * configuration unchanged, the config file, root-drive ordering and the exported command line. */
#include <stdlib.h>
#include <string.h>

#include "api/api_config.h"
#include "core/log.h"
#include "arch/x86/machine.h"
#include "test.h"

static struct api_config ac;
static char err[512];

static void reset(void)
{
	static const struct vm_config base = {.cmdline = "", .verbosity = 1};
	api_config_init(&ac, &base);
	err[0] = '\0';
}

/* Parses text and applies fn-like calls through a switch: 0 / -1 as the parser returns. */
static json_t *J(const char *text)
{
	json_t *j = api_body_parse(text, strlen(text), err, sizeof(err));
	return j;
}

static int boot(const char *text)
{
	json_t *j = J(text);
	int r = j ? api_put_boot_source(&ac, j, err, sizeof(err)) : -1;
	json_decref(j);
	return r;
}

static int machine(const char *text, bool partial)
{
	json_t *j = J(text);
	int r = j ? api_put_machine_config(&ac, j, partial, err, sizeof(err)) : -1;
	json_decref(j);
	return r;
}

static int drive(const char *id, const char *text)
{
	json_t *j = J(text);
	int r = j ? api_put_drive(&ac, id, j, err, sizeof(err)) : -1;
	json_decref(j);
	return r;
}

static int net(const char *id, const char *text)
{
	json_t *j = J(text);
	int r = j ? api_put_net(&ac, id, j, err, sizeof(err)) : -1;
	json_decref(j);
	return r;
}

static void body_parse_refuses_bad_json(void)
{
	reset();
	CHECK(J("{\"a\":") == NULL);
	CHECK_STR_CONTAINS(err, "malformed JSON");
	CHECK(J("[1]") == NULL);
	CHECK_STR_CONTAINS(err, "JSON object");
	CHECK(J("{\"a\":1,\"a\":2}") == NULL);
	CHECK_STR_CONTAINS(err, "duplicate");
	CHECK(J("") == NULL);
	CHECK_STR_CONTAINS(err, "JSON body");
	CHECK(J("{\"a\":\"x\\u0000y\"}") == NULL); /* NUL inside a string */
	char *big = malloc(API_BODY_MAX + 2);
	memset(big, ' ', API_BODY_MAX + 1);
	big[API_BODY_MAX + 1] = '\0';
	CHECK(api_body_parse(big, API_BODY_MAX + 1, err, sizeof(err)) == NULL);
	CHECK_STR_CONTAINS(err, "larger than");
	free(big);
}

static void boot_source_maps_to_config(void)
{
	reset();
	CHECK_EQ(boot("{\"kernel_image_path\":\"/k.elf\",\"initrd_path\":\"/i\",\"boot_args\":\"a=1\"}"), 0);
	CHECK_EQ(api_config_check(&ac, err, sizeof(err)), 0);
	struct vm_config c;
	api_config_export(&ac, &c);
	CHECK(!strcmp(c.kernel, "/k.elf"));
	CHECK(c.initrd && !strcmp(c.initrd, "/i"));
	CHECK(!strcmp(c.cmdline, "a=1"));
	CHECK_EQ(c.cpus, 1u);
	CHECK_EQ(c.mem_size, CONFIG_DEFAULT_MEM);
	CHECK_EQ(c.verbosity, 1); /* CLI fields survive */
}

static void boot_source_refusals(void)
{
	reset();
	CHECK_EQ(boot("{}"), -1);
	CHECK_STR_CONTAINS(err, "missing required field 'kernel_image_path'");
	CHECK_EQ(boot("{\"kernel_image_path\":5}"), -1);
	CHECK_STR_CONTAINS(err, "must be a string");
	CHECK_EQ(boot("{\"kernel_image_path\":\"\"}"), -1);
	CHECK_EQ(boot("{\"kernel_image_path\":\"/k\",\"color\":1}"), -1);
	CHECK_STR_CONTAINS(err, "unknown field 'color'");
	CHECK(!ac.boot_source_set); /* refusals change nothing */
	CHECK_EQ(api_config_check(&ac, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "boot-source");
	char *args = malloc(X86_CMDLINE_MAX + 64);
	strcpy(args, "{\"kernel_image_path\":\"/k\",\"boot_args\":\"");
	size_t n = strlen(args);
	memset(args + n, 'a', X86_CMDLINE_MAX);
	strcpy(args + n + X86_CMDLINE_MAX, "\"}");
	CHECK_EQ(boot(args), -1);
	CHECK_STR_CONTAINS(err, "longer than");
	free(args);
}

static void machine_config_ranges(void)
{
	reset();
	CHECK_EQ(machine("{\"vcpu_count\":4,\"mem_size_mib\":512}", false), 0);
	CHECK_EQ(ac.cfg.cpus, 4u);
	CHECK_EQ(ac.cfg.mem_size, 512ull << 20);
	CHECK_EQ(machine("{\"vcpu_count\":0,\"mem_size_mib\":512}", false), -1);
	CHECK_STR_CONTAINS(err, "vcpu_count");
	CHECK_EQ(machine("{\"vcpu_count\":65,\"mem_size_mib\":512}", false), -1);
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":1}", false), -1);
	CHECK_STR_CONTAINS(err, "mem_size_mib");
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":-5}", false), -1);
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":1.5}", false), -1);
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":99999999999999}", false), -1);
	CHECK_EQ(machine("{\"vcpu_count\":1}", false), -1);
	CHECK_STR_CONTAINS(err, "missing required field 'mem_size_mib'");
	CHECK_EQ(ac.cfg.cpus, 4u); /* unchanged by the refusals */
	CHECK_EQ(machine("{\"mem_size_mib\":64}", true), 0); /* PATCH keeps vcpu_count */
	CHECK_EQ(ac.cfg.cpus, 4u);
	CHECK_EQ(ac.cfg.mem_size, 64ull << 20);
	CHECK_EQ(machine("{\"vcpu_count\":2,\"mem_size_mib\":64}", false), 0); /* PUT resets */
}

static void machine_config_unsupported_features(void)
{
	reset();
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"smt\":false,\"cpu_template\":\"None\","
			 "\"track_dirty_pages\":false,\"huge_pages\":\"None\"}", false), 0);
	CHECK_EQ(machine("{\"vcpu_count\":2,\"mem_size_mib\":64,\"smt\":true}", false), -1);
	CHECK_STR_CONTAINS(err, "smt is not supported");
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"cpu_template\":\"T2\"}", false), -1);
	CHECK_STR_CONTAINS(err, "cpu_template 'T2' is not supported");
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"huge_pages\":\"2M\"}", false), -1);
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"track_dirty_pages\":true}", false), 0);
	CHECK(ac.cfg.track_dirty);
	CHECK_EQ(machine("{\"vcpu_count\":2}", true), 0); /* PATCH keeps it */
	CHECK(ac.cfg.track_dirty);
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64}", false), 0); /* PUT resets */
	CHECK(!ac.cfg.track_dirty);
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"track_dirty_pages\":\"yes\"}", false), -1);
	CHECK_STR_CONTAINS(err, "track_dirty_pages must be true or false");
}

static void machine_config_gdb_socket(void)
{
	reset();
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"gdb_socket_path\":\"/g\"}", false), 0);
	CHECK(strcmp(ac.gdb_socket, "/g") == 0);
	CHECK_EQ(machine("{\"vcpu_count\":2}", true), 0); /* PATCH keeps it */
	CHECK(strcmp(ac.gdb_socket, "/g") == 0);
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"gdb_socket_path\":\"\"}", false), -1);
	CHECK_STR_CONTAINS(err, "gdb_socket_path needs a path");
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64,\"gdb_socket_path\":5}", false), -1);
	CHECK_STR_CONTAINS(err, "must be a string");
	char big[300];
	int n = snprintf(big, sizeof(big), "{\"vcpu_count\":1,\"mem_size_mib\":64,\"gdb_socket_path\":\"");
	memset(big + n, 'a', 120);
	snprintf(big + n + 120, sizeof(big) - (size_t)n - 120, "\"}");
	CHECK_EQ(machine(big, false), -1);
	CHECK_STR_CONTAINS(err, "longer than 107 bytes");
	CHECK_EQ(machine("{\"vcpu_count\":1,\"mem_size_mib\":64}", false), 0); /* PUT replaces */
	CHECK_EQ(ac.gdb_socket[0], 0);
}

static void drives_map_and_root_goes_first(void)
{
	reset();
	CHECK_EQ(drive("data", "{\"drive_id\":\"data\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			       "\"is_read_only\":true}"), 0);
	CHECK_EQ(drive("root", "{\"drive_id\":\"root\",\"path_on_host\":\"/r\",\"is_root_device\":true}"), 0);
	CHECK_EQ(ac.cfg.ndisks, 2u);
	CHECK(!strcmp(ac.drive_id[0], "root"));
	CHECK(!strcmp(ac.cfg.disks[0].path, "/r"));
	CHECK(!strcmp(ac.cfg.disks[0].serial, "root"));
	CHECK(ac.cfg.disks[1].read_only);
	CHECK_EQ(ac.cfg.disks[1].io, DISK_IO_SYNC); /* Firecracker's default engine */
	CHECK_EQ(boot("{\"kernel_image_path\":\"/k\",\"boot_args\":\"quiet\"}"), 0);
	CHECK_EQ(api_config_check(&ac, err, sizeof(err)), 0);
	struct vm_config c;
	api_config_export(&ac, &c);
	CHECK(!strcmp(c.cmdline, "quiet root=/dev/vda rw"));
	/* Updating an id replaces it; a second root is refused. */
	CHECK_EQ(drive("data", "{\"drive_id\":\"data\",\"path_on_host\":\"/d2\",\"is_root_device\":false}"), 0);
	CHECK_EQ(ac.cfg.ndisks, 2u);
	CHECK(!strcmp(ac.cfg.disks[1].path, "/d2"));
	CHECK_EQ(drive("data", "{\"drive_id\":\"data\",\"path_on_host\":\"/d2\",\"is_root_device\":true}"), -1);
	CHECK_STR_CONTAINS(err, "already the root device");
	CHECK_EQ(drive("root", "{\"drive_id\":\"root\",\"path_on_host\":\"/r\",\"is_root_device\":true,"
			       "\"partuuid\":\"0eaa91a0-01\",\"is_read_only\":true}"), 0);
	CHECK_EQ(api_config_check(&ac, err, sizeof(err)), 0);
	api_config_export(&ac, &c);
	CHECK(!strcmp(c.cmdline, "quiet root=PARTUUID=0eaa91a0-01 ro"));
}

static void drive_io_engine(void)
{
	reset();
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			    "\"io_engine\":\"Async\"}"), 0);
	CHECK_EQ(ac.cfg.disks[0].io, DISK_IO_URING);
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			    "\"io_engine\":\"Sync\"}"), 0);
	CHECK_EQ(ac.cfg.disks[0].io, DISK_IO_SYNC);
}

static void drive_refusals(void)
{
	reset();
	CHECK_EQ(drive("a", "{\"drive_id\":\"b\",\"path_on_host\":\"/d\",\"is_root_device\":false}"), -1);
	CHECK_STR_CONTAINS(err, "differs");
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"path_on_host\":\"/d\"}"), -1);
	CHECK_STR_CONTAINS(err, "is_root_device");
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			    "\"rate_limiter\":{\"iops\":1}}"), -1);
	CHECK_STR_CONTAINS(err, "unknown field 'iops'");
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"socket\":\"/s\",\"is_root_device\":false}"), -1);
	CHECK_STR_CONTAINS(err, "'socket' is not supported");
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			    "\"io_engine\":\"Turbo\"}"), -1);
	CHECK_STR_CONTAINS(err, "io_engine");
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			    "\"cache_type\":\"Bogus\"}"), -1);
	CHECK_EQ(drive("a-b", "{\"drive_id\":\"a-b\",\"path_on_host\":\"/d\",\"is_root_device\":false}"), -1);
	CHECK_EQ(ac.cfg.ndisks, 0u);
	char body[256];
	for (int i = 0; i < CONFIG_MAX_DISKS; i++) {
		char id[8];
		snprintf(id, sizeof(id), "d%d", i);
		snprintf(body, sizeof(body), "{\"drive_id\":\"%s\",\"path_on_host\":\"/d\",\"is_root_device\":false}", id);
		CHECK_EQ(drive(id, body), 0);
	}
	CHECK_EQ(drive("x", "{\"drive_id\":\"x\",\"path_on_host\":\"/d\",\"is_root_device\":false}"), -1);
	CHECK_STR_CONTAINS(err, "too many drives");
}

static void network_interfaces_fill_net_config(void)
{
	reset();
	CHECK_EQ(net("eth0", "{\"iface_id\":\"eth0\",\"host_dev_name\":\"tap0\",\"guest_mac\":\"06:00:AC:10:00:02\"}"), 0);
	CHECK_EQ(ac.cfg.nnets, 1u);
	CHECK(!strcmp(ac.cfg.nets[0].tap, "tap0"));
	CHECK(ac.cfg.nets[0].mac_set);
	CHECK_EQ(ac.cfg.nets[0].mac[2], 0xac);
	CHECK_EQ(ac.cfg.nets[0].vhost, -1);
	CHECK_EQ(net("eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap0\"}"), -1);
	CHECK_STR_CONTAINS(err, "already used");
	CHECK_EQ(net("eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"06:00:ac:10:00:02\"}"), -1);
	CHECK_EQ(net("eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"a-name-longer-than-15\"}"), -1);
	CHECK_STR_CONTAINS(err, "not a valid interface name");
	CHECK_EQ(net("eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"06:00:ac:10:00\"}"), -1);
	CHECK_EQ(net("eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"guest_mac\":\"07:00:ac:10:00:02\"}"), -1);
	CHECK_STR_CONTAINS(err, "multicast");
	CHECK_EQ(net("eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"mtu\":1500}"), -1);
	CHECK_STR_CONTAINS(err, "'mtu' is not supported");
	CHECK_EQ(net("eth1", "{\"iface_id\":\"eth1\",\"host_dev_name\":\"tap1\",\"rx_rate_limiter\":5}"), -1);
	CHECK_EQ(ac.cfg.nnets, 1u);
}

static void actions_states_logger_metrics(void)
{
	reset();
	enum api_action a;
	bool p;
	json_t *j = J("{\"action_type\":\"FlushMetrics\"}");
	CHECK(j && api_parse_action(j, &a, err, sizeof(err)) == 0 && a == API_ACTION_FLUSH_METRICS);
	json_decref(j);
	j = J("{\"action_type\":\"instancestart\"}");
	CHECK(j && api_parse_action(j, &a, err, sizeof(err)) == -1);
	json_decref(j);
	j = J("{\"state\":\"Resumed\"}");
	CHECK(j && api_parse_vm_state(j, &p, err, sizeof(err)) == 0 && !p);
	json_decref(j);
	j = J("{\"state\":true}");
	CHECK(j && api_parse_vm_state(j, &p, err, sizeof(err)) == -1);
	json_decref(j);
	struct api_logger_cfg l;
	j = J("{\"level\":\"warning\",\"show_level\":true}");
	CHECK(j && api_parse_logger(j, &l, err, sizeof(err)) == 0 && l.level == 1 && l.show_level);
	json_decref(j);
	j = J("{\"level\":\"Loud\"}");
	CHECK(j && api_parse_logger(j, &l, err, sizeof(err)) == -1);
	json_decref(j);
	j = J("{\"module\":\"x\"}");
	CHECK(j && api_parse_logger(j, &l, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "module 'x' is not a mote module");
	json_decref(j);
	j = J("{\"module\":\"devices::virtio_blk\",\"level\":\"TRACE\"}");
	CHECK(j && api_parse_logger(j, &l, err, sizeof(err)) == 0 && l.level == LOG_TRACE &&
	      !strcmp(l.module, "devices::virtio_blk"));
	json_decref(j);
	j = J("{\"level\":\"wArN\"}");
	CHECK(j && api_parse_logger(j, &l, err, sizeof(err)) == 0 && l.level == LOG_WARN && !l.module[0]);
	json_decref(j);
	static const char *const bad_modules[] = {"\"\"", "\"devices::\"", "\"devices:x\"",
						  "\"devices::Virtio\"", "\"api_server::request\"", "1"};
	for (size_t i = 0; i < sizeof(bad_modules) / sizeof(bad_modules[0]); i++) {
		char body[64];
		snprintf(body, sizeof(body), "{\"module\":%s}", bad_modules[i]);
		j = J(body);
		CHECK(j && api_parse_logger(j, &l, err, sizeof(err)) == -1);
		json_decref(j);
	}
	struct api_metrics_cfg m;
	j = J("{\"metrics_path\":\"/m\",\"properties\":{\"k\":\"v\"}}");
	CHECK(j && api_parse_metrics(j, &m, err, sizeof(err)) == 0 && m.properties);
	api_metrics_cfg_release(&m);
	json_decref(j);
	j = J("{\"metrics_path\":\"/m\",\"properties\":{\"k\":1}}");
	CHECK(j && api_parse_metrics(j, &m, err, sizeof(err)) == -1);
	json_decref(j);
	j = J("{\"emit_id\":true}");
	CHECK(j && api_parse_metrics(j, &m, err, sizeof(err)) == -1);
	json_decref(j);
}

static void drive_patch_needs_a_known_drive(void)
{
	reset();
	char path[CONFIG_PATH_MAX];
	unsigned idx = 99;
	CHECK_EQ(drive("root", "{\"drive_id\":\"root\",\"path_on_host\":\"/r\",\"is_root_device\":true}"), 0);
	json_t *j = J("{\"drive_id\":\"root\",\"path_on_host\":\"/new\"}");
	CHECK(j && api_parse_drive_patch(&ac, "root", j, path, &idx, err, sizeof(err)) == 0);
	CHECK(!strcmp(path, "/new") && idx == 0);
	json_decref(j);
	j = J("{\"drive_id\":\"other\",\"path_on_host\":\"/new\"}");
	CHECK(j && api_parse_drive_patch(&ac, "other", j, path, &idx, err, sizeof(err)) == -1);
	CHECK_STR_CONTAINS(err, "no drive");
	json_decref(j);
	j = J("{\"drive_id\":\"root\"}");
	CHECK(j && api_parse_drive_patch(&ac, "root", j, path, &idx, err, sizeof(err)) == -1);
	json_decref(j);
}

static void config_file_whole_schema(void)
{
	reset();
	const char *f = "{\"boot-source\":{\"kernel_image_path\":\"/k\"},"
			"\"machine-config\":{\"vcpu_count\":2,\"mem_size_mib\":96},"
			"\"drives\":[{\"drive_id\":\"r\",\"path_on_host\":\"/r\",\"is_root_device\":true}],"
			"\"network-interfaces\":[{\"iface_id\":\"n0\",\"host_dev_name\":\"tapx\"}],"
			"\"entropy\":{},\"logger\":{\"level\":\"Off\"},\"metrics\":{\"metrics_path\":\"/m\"}}";
	CHECK_EQ(api_config_file(&ac, f, strlen(f), err, sizeof(err)), 0);
	CHECK_EQ(ac.cfg.cpus, 2u);
	CHECK_EQ(ac.cfg.ndisks, 1u);
	CHECK_EQ(ac.cfg.nnets, 1u);
	CHECK(ac.cfg.rng);
	CHECK(ac.logger.set && ac.logger.level == -1);
	CHECK(ac.metrics.set);
	json_t *v = api_vm_config_json(&ac);
	CHECK(v != NULL);
	CHECK(json_object_get(v, "boot-source") && json_object_get(v, "drives"));
	CHECK_EQ(json_array_size(json_object_get(v, "drives")), 1u);
	json_decref(v);
	api_config_release(&ac);

	reset();
	const char *g = "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"vsock\":{}}";
	CHECK_EQ(api_config_file(&ac, g, strlen(g), err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "vsock: missing required field 'guest_cid'");
	reset();
	const char *g2 = "{\"boot-source\":{\"kernel_image_path\":\"/k\"},"
			 "\"vsock\":{\"guest_cid\":7,\"uds_path\":\"/run/v.sock\"}}";
	CHECK_EQ(api_config_file(&ac, g2, strlen(g2), err, sizeof(err)), 0);
	CHECK(ac.cfg.vsock.enabled && ac.cfg.vsock.cid == 7 && !strcmp(ac.cfg.vsock.uds, "/run/v.sock"));
	reset();
	const char *g3 = "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"balloon\":{}}";
	CHECK_EQ(api_config_file(&ac, g3, strlen(g3), err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "balloon: missing required field 'amount_mib'");
	reset();
	const char *g4 = "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"balloon\":{\"amount_mib\":"
			 "16,\"deflate_on_oom\":true,\"stats_polling_interval_s\":2}}";
	CHECK_EQ(api_config_file(&ac, g4, strlen(g4), err, sizeof(err)), 0);
	CHECK(ac.cfg.balloon.enabled && ac.cfg.balloon.amount_mib == 16 &&
	      ac.cfg.balloon.deflate_on_oom && ac.cfg.balloon.stats_interval_s == 2 &&
	      !ac.cfg.balloon.reporting);
	reset();
	const char *h = "{\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64}}";
	CHECK_EQ(api_config_file(&ac, h, strlen(h), err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "boot-source");
	const char *k = "{\"boot-source\":{\"kernel_image_path\":\"/k\"},\"drives\":{}}";
	CHECK_EQ(api_config_file(&ac, k, strlen(k), err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "must be an array");
	api_config_release(&ac);
}

static int vsock(const char *text)
{
	json_t *j = J(text);
	int r = j ? api_put_vsock(&ac, j, err, sizeof(err)) : -1;
	json_decref(j);
	return r;
}

static void vsock_maps_and_refuses(void)
{
	reset();
	CHECK_EQ(vsock("{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\",\"vsock_id\":\"old\"}"), 0);
	CHECK(ac.cfg.vsock.enabled && ac.cfg.vsock.cid == 3 && !strcmp(ac.cfg.vsock.uds, "/tmp/v.sock"));
	json_t *j = api_vm_config_json(&ac);
	char *t = json_dumps(j, JSON_COMPACT);
	CHECK(t && strstr(t, "\"vsock\":{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\"}"));
	free(t);
	json_decref(j);
	/* A second PUT replaces the device's configuration. */
	CHECK_EQ(vsock("{\"guest_cid\":4294967294,\"uds_path\":\"v\"}"), 0);
	CHECK(ac.cfg.vsock.cid == 4294967294ull && !strcmp(ac.cfg.vsock.uds, "v"));
	struct vsock_config before = ac.cfg.vsock;
	static const char *const bad[][2] = {
		{"{\"guest_cid\":2,\"uds_path\":\"/v\"}", "guest_cid"},
		{"{\"guest_cid\":4294967295,\"uds_path\":\"/v\"}", "guest_cid"},
		{"{\"guest_cid\":-3,\"uds_path\":\"/v\"}", "guest_cid"},
		{"{\"guest_cid\":\"3\",\"uds_path\":\"/v\"}", "guest_cid"},
		{"{\"uds_path\":\"/v\"}", "missing required field 'guest_cid'"},
		{"{\"guest_cid\":3}", "missing required field 'uds_path'"},
		{"{\"guest_cid\":3,\"uds_path\":\"\"}", "1 to 96 bytes"},
		{"{\"guest_cid\":3,\"uds_path\":7}", "must be a string"},
		{"{\"guest_cid\":3,\"uds_path\":\"/v\",\"port\":1}", "unknown field 'port'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ(vsock(bad[i][0]), -1);
		CHECK_STR_CONTAINS(err, bad[i][1]);
	}
	char longp[200];
	snprintf(longp, sizeof(longp), "{\"guest_cid\":3,\"uds_path\":\"/%0100d\"}", 0);
	CHECK_EQ(vsock(longp), -1);
	CHECK_STR_CONTAINS(err, "longer than 96 bytes");
	CHECK(!memcmp(&before, &ac.cfg.vsock, sizeof(before))); /* refusals changed nothing */
}

static void null_means_absent(void)
{
	reset();
	CHECK_EQ(drive("a", "{\"drive_id\":\"a\",\"path_on_host\":\"/d\",\"is_root_device\":false,"
			    "\"rate_limiter\":null,\"partuuid\":null,\"io_engine\":null}"), 0);
	CHECK_EQ(net("n", "{\"iface_id\":\"n\",\"host_dev_name\":\"t\",\"guest_mac\":null,\"mtu\":null}"), 0);
	CHECK(!ac.cfg.nets[0].mac_set);
	CHECK_EQ(drive("b", "{\"drive_id\":\"b\",\"path_on_host\":null,\"is_root_device\":false}"), -1);
	CHECK_STR_CONTAINS(err, "missing required field 'path_on_host'");
}

static void ids(void)
{
	CHECK(api_id_valid("root_1"));
	CHECK(!api_id_valid(""));
	CHECK(!api_id_valid("a/b"));
	CHECK(!api_id_valid("a b"));
	char longid[80];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[79] = '\0';
	CHECK(!api_id_valid(longid));
}

int main(void)
{
	test_suite_name = "api";
	RUN(body_parse_refuses_bad_json);
	RUN(boot_source_maps_to_config);
	RUN(boot_source_refusals);
	RUN(machine_config_ranges);
	RUN(machine_config_unsupported_features);
	RUN(machine_config_gdb_socket);
	RUN(drives_map_and_root_goes_first);
	RUN(drive_io_engine);
	RUN(drive_refusals);
	RUN(network_interfaces_fill_net_config);
	RUN(actions_states_logger_metrics);
	RUN(drive_patch_needs_a_known_drive);
	RUN(config_file_whole_schema);
	RUN(vsock_maps_and_refuses);
	RUN(null_means_absent);
	RUN(ids);
	TEST_MAIN_END();
}
