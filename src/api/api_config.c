/* Firecracker-schema JSON -> staged struct api_config. Every handler validates into local
 * copies first and commits only when the whole body is good, so a refused request changes
 * nothing. Bodies come from the API socket or a config file: hostile-ish user input. */
#include "api/api_config.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "api/api_balloon.h"
#include "arch/x86/machine.h"
#include "core/log.h"
#include "gdb/addr.h"

#define MIB (1ull << 20)

void api_config_init(struct api_config *ac, const struct vm_config *base)
{
	memset(ac, 0, sizeof(*ac));
	ac->cfg = *base;
	ac->cfg.kernel = NULL;
	ac->cfg.initrd = NULL;
	ac->cfg.cmdline = "";
	ac->cfg.mem_size = CONFIG_DEFAULT_MEM;
	ac->cfg.cpus = 1;
	ac->cfg.ndisks = 0;
	ac->cfg.nnets = 0;
	ac->cfg.rng = false;
	ac->cfg.vsock.enabled = false;
	ac->cfg.balloon = (struct balloon_config){0};
	ac->logger.level = LOG_INFO;
}

void api_metrics_cfg_release(struct api_metrics_cfg *m)
{
	if (m->properties)
		json_decref(m->properties);
	m->properties = NULL;
}

void api_config_release(struct api_config *ac) { api_metrics_cfg_release(&ac->metrics); }

json_t *api_body_parse(const char *buf, size_t len, char *err, size_t errlen)
{
	if (len > API_BODY_MAX) {
		err_set(err, errlen, "request body of %zu bytes is larger than the limit of %d bytes",
			len, API_BODY_MAX);
		return NULL;
	}
	if (len == 0) {
		err_set(err, errlen, "the request needs a JSON body");
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		err_set(err, errlen, "malformed JSON at line %d, column %d: %s", je.line, je.column,
			je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		err_set(err, errlen, "the request body must be a JSON object");
		return NULL;
	}
	return j;
}

/* jansson's iteration macros take non-const objects; they do not modify them. */
static json_t *unconst(const json_t *j) { return (json_t *)(uintptr_t)j; }

bool api_id_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > API_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Every key of obj must be in known; keys in unsupported name a Firecracker feature mote lacks. */
static int check_keys(const json_t *obj, const char *what, const char *const *known,
		      const char *const *unsupported, char *err, size_t errlen)
{
	const char *key;
	json_t *val;
	json_object_foreach(unconst(obj), key, val) {
		bool ok = json_is_null(val); /* null means "not given" (as Firecracker's optional fields) */
		for (const char *const *k = known; *k && !ok; k++)
			ok = !strcmp(key, *k);
		if (ok)
			continue;
		for (const char *const *k = unsupported; k && *k; k++)
			if (!strcmp(key, *k))
				return err_set(err, errlen, "%s: '%s' is not supported by mote", what, key);
		return err_set(err, errlen, "%s: unknown field '%.64s'", what, key);
	}
	return 0;
}

/* Looks up obj.key into *v (JSON null counts as absent). Returns 1 when present, 0 when absent
 * and optional, -1 (err set) when absent and required. The get_* below leave *out as is when
 * the field is absent. */
static int field(const json_t *obj, const char *what, const char *key, bool required,
		 const json_t **v, char *err, size_t errlen)
{
	*v = json_object_get(obj, key);
	if (*v && json_is_null(*v))
		*v = NULL;
	if (*v)
		return 1;
	if (required)
		return err_set(err, errlen, "%s: missing required field '%s'", what, key);
	return 0;
}

/* String field: too long or not a string fails. */
static int get_str(const json_t *obj, const char *what, const char *key, bool required,
		   const char **out, size_t maxlen, char *err, size_t errlen)
{
	const json_t *v;
	int r = field(obj, what, key, required, &v, err, errlen);
	if (r <= 0)
		return r;
	if (!json_is_string(v))
		return err_set(err, errlen, "%s: '%s' must be a string", what, key);
	if (json_string_length(v) > maxlen)
		return err_set(err, errlen, "%s: '%s' is longer than %zu bytes", what, key, maxlen);
	*out = json_string_value(v);
	return 0;
}

static int get_bool(const json_t *obj, const char *what, const char *key, bool required,
		    bool *out, char *err, size_t errlen)
{
	const json_t *v;
	int r = field(obj, what, key, required, &v, err, errlen);
	if (r <= 0)
		return r;
	if (!json_is_boolean(v))
		return err_set(err, errlen, "%s: '%s' must be true or false", what, key);
	*out = json_is_true(v);
	return 0;
}

static int get_uint(const json_t *obj, const char *what, const char *key, bool required,
		    unsigned long long lo, unsigned long long hi, unsigned long long *out,
		    char *err, size_t errlen)
{
	const json_t *v;
	int r = field(obj, what, key, required, &v, err, errlen);
	if (r <= 0)
		return r;
	json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
	if (!json_is_integer(v) || x < 0 || (unsigned long long)x < lo || (unsigned long long)x > hi)
		return err_set(err, errlen, "%s: '%s' must be an integer from %llu to %llu", what,
			       key, lo, hi);
	*out = (unsigned long long)x;
	return 0;
}

/* A string field whose only accepted value is what mote does (e.g. "None"). */
static int only_value(const json_t *obj, const char *what, const char *key, const char *ok,
		      char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return err_set(err, errlen, "%s: '%s' must be a string", what, key);
	if (strcmp(json_string_value(v), ok) != 0)
		return err_set(err, errlen, "%s: %s '%.32s' is not supported by mote (only \"%s\")",
			       what, key, json_string_value(v), ok);
	return 0;
}

static int only_false(const json_t *obj, const char *what, const char *key, char *err,
		      size_t errlen)
{
	bool b = false;
	if (get_bool(obj, what, key, false, &b, err, errlen) < 0)
		return -1;
	if (b)
		return err_set(err, errlen, "%s: %s is not supported by mote (only false)", what, key);
	return 0;
}

/* A TokenBucket {size, refill_time, one_time_burst}: size 0 disables it (the way to remove a
 * limit); a size with refill_time 0 is refused (it would never refill; Firecracker silently
 * disables such a bucket). */
static int get_bucket(const json_t *v, const char *what, struct tb_config *out, char *err,
		      size_t errlen)
{
	static const char *const known[] = {"size", "one_time_burst", "refill_time", NULL};
	unsigned long long size = 0, burst = 0, refill = 0;
	if (!json_is_object(v))
		return err_set(err, errlen, "%s must be an object {\"size\", \"refill_time\"[, "
			       "\"one_time_burst\"]}", what);
	if (check_keys(v, what, known, NULL, err, errlen) < 0 ||
	    get_uint(v, what, "size", true, 0, RL_MAX_TOKENS, &size, err, errlen) < 0 ||
	    get_uint(v, what, "refill_time", true, 0, RL_MAX_REFILL_MS, &refill, err, errlen) < 0 ||
	    get_uint(v, what, "one_time_burst", false, 0, RL_MAX_TOKENS, &burst, err, errlen) < 0)
		return -1;
	if (size > 0 && refill == 0)
		return err_set(err, errlen, "%s: refill_time 0 with size %llu: the bucket would never "
			       "refill; give refill_time in ms, or size 0 to remove the limit", what, size);
	*out = (struct tb_config){size, burst, refill};
	return 0;
}

/* A RateLimiter {bandwidth, ops} field of obj: absent or null sets nothing; each bucket given
 * is set in *u. what: "drives" etc. */
static int get_rate_limiter(const json_t *obj, const char *what, const char *key,
			    struct rl_update *u, char *err, size_t errlen)
{
	static const char *const known[] = {"bandwidth", "ops", NULL};
	char w[96];
	const json_t *v;
	*u = (struct rl_update){0};
	int r = field(obj, what, key, false, &v, err, errlen);
	if (r <= 0)
		return r;
	snprintf(w, sizeof(w), "%s: %s", what, key);
	if (!json_is_object(v))
		return err_set(err, errlen, "%s must be an object {\"bandwidth\", \"ops\"}", w);
	if (check_keys(v, w, known, NULL, err, errlen) < 0)
		return -1;
	const json_t *b = json_object_get(v, "bandwidth"), *o = json_object_get(v, "ops");
	if (b && !json_is_null(b)) {
		snprintf(w, sizeof(w), "%s: %s.bandwidth", what, key);
		if (get_bucket(b, w, &u->cfg.bw, err, errlen) < 0)
			return -1;
		u->bw_set = true;
	}
	if (o && !json_is_null(o)) {
		snprintf(w, sizeof(w), "%s: %s.ops", what, key);
		if (get_bucket(o, w, &u->cfg.ops, err, errlen) < 0)
			return -1;
		u->ops_set = true;
	}
	return 0;
}

int api_put_boot_source(struct api_config *ac, const json_t *body, char *err, size_t errlen)
{
	static const char *const known[] = {"kernel_image_path", "initrd_path", "boot_args", NULL};
	const char *what = "boot-source", *kernel = NULL, *initrd = NULL, *args = NULL;
	if (check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    get_str(body, what, "kernel_image_path", true, &kernel, CONFIG_PATH_MAX - 1, err, errlen) < 0 ||
	    get_str(body, what, "initrd_path", false, &initrd, CONFIG_PATH_MAX - 1, err, errlen) < 0 ||
	    get_str(body, what, "boot_args", false, &args, X86_CMDLINE_MAX - 1, err, errlen) < 0)
		return -1;
	if (!*kernel)
		return err_set(err, errlen, "boot-source: kernel_image_path is empty: name the kernel file");
	if (initrd && !*initrd)
		return err_set(err, errlen, "boot-source: initrd_path is empty: omit it or name a file");
	snprintf(ac->kernel, sizeof(ac->kernel), "%s", kernel);
	snprintf(ac->initrd, sizeof(ac->initrd), "%s", initrd ? initrd : "");
	snprintf(ac->cmdline, sizeof(ac->cmdline), "%s", args ? args : "");
	ac->cmdline_set = args != NULL;
	ac->boot_source_set = true;
	return 0;
}

int api_put_machine_config(struct api_config *ac, const json_t *body, bool partial, char *err,
			   size_t errlen)
{
	static const char *const known[] = {"vcpu_count", "mem_size_mib", "smt", "cpu_template",
					    "track_dirty_pages", "huge_pages", "gdb_socket_path", NULL};
	const char *what = "machine-config", *gdb = NULL;
	unsigned long long cpus = partial ? ac->cfg.cpus : 1;
	unsigned long long mib = partial ? ac->cfg.mem_size / MIB : CONFIG_DEFAULT_MEM / MIB;
	if (check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    get_str(body, what, "gdb_socket_path", false, &gdb, GDB_SOCKET_PATH_MAX - 1, err,
		    errlen) < 0 ||
	    (gdb && gdb_check_socket_path("machine-config: gdb_socket_path", gdb, err, errlen) < 0) ||
	    get_uint(body, what, "vcpu_count", !partial, 1, CONFIG_MAX_CPUS, &cpus, err, errlen) < 0 ||
	    get_uint(body, what, "mem_size_mib", !partial, MACHINE_MEM_MIN / MIB,
		     MACHINE_MEM_MAX / MIB, &mib, err, errlen) < 0 ||
	    only_false(body, what, "smt", err, errlen) < 0 ||
	    only_value(body, what, "cpu_template", "None", err, errlen) < 0 ||
	    only_value(body, what, "huge_pages", "None", err, errlen) < 0)
		return -1;
	const json_t *td = json_object_get(body, "track_dirty_pages");
	if (td && !json_is_null(td) && !json_is_boolean(td))
		return err_set(err, errlen, "%s: track_dirty_pages must be true or false", what);
	if (td && json_is_boolean(td))
		ac->cfg.track_dirty = json_is_true(td);
	else if (!partial)
		ac->cfg.track_dirty = false;
	ac->cfg.cpus = (unsigned)cpus;
	ac->cfg.mem_size = mib * MIB;
	if (gdb || !partial) /* the VM waits for gdb there (docs/debugging.md) */
		snprintf(ac->gdb_socket, sizeof(ac->gdb_socket), "%s", gdb ? gdb : "");
	return 0;
}

static int find_drive(const struct api_config *ac, const char *id)
{
	for (unsigned i = 0; i < ac->cfg.ndisks; i++)
		if (!strcmp(ac->drive_id[i], id))
			return (int)i;
	return -1;
}

/* Moves drive i to slot 0 (the root drive is /dev/vda), keeping the others' order. */
static void drive_to_front(struct api_config *ac, unsigned i)
{
	struct disk_config d = ac->cfg.disks[i];
	char id[API_ID_MAX + 1], pu[API_ID_MAX + 1];
	bool root = ac->drive_root[i];
	memcpy(id, ac->drive_id[i], sizeof(id));
	memcpy(pu, ac->drive_partuuid[i], sizeof(pu));
	for (unsigned k = i; k > 0; k--) {
		ac->cfg.disks[k] = ac->cfg.disks[k - 1];
		memcpy(ac->drive_id[k], ac->drive_id[k - 1], sizeof(id));
		memcpy(ac->drive_partuuid[k], ac->drive_partuuid[k - 1], sizeof(pu));
		ac->drive_root[k] = ac->drive_root[k - 1];
	}
	ac->cfg.disks[0] = d;
	memcpy(ac->drive_id[0], id, sizeof(id));
	memcpy(ac->drive_partuuid[0], pu, sizeof(pu));
	ac->drive_root[0] = root;
}

static int body_id(const json_t *body, const char *what, const char *key, const char *path_id,
		   const char **id, char *err, size_t errlen)
{
	if (get_str(body, what, key, true, id, API_ID_MAX, err, errlen) < 0)
		return -1;
	if (!api_id_valid(*id))
		return err_set(err, errlen, "%s: %s '%.64s' must be 1 to %d letters, digits or '_'",
			       what, key, *id, API_ID_MAX);
	if (path_id && strcmp(path_id, *id) != 0)
		return err_set(err, errlen, "%s: %s in the body ('%s') differs from the one in the path",
			       what, key, *id);
	return 0;
}

int api_put_drive(struct api_config *ac, const char *path_id, const json_t *body, char *err,
		  size_t errlen)
{
	static const char *const known[] = {"drive_id", "is_root_device", "path_on_host",
					    "is_read_only", "partuuid", "cache_type", "io_engine",
					    "rate_limiter", NULL};
	static const char *const unsupported[] = {"socket", NULL};
	struct rl_update rl;
	const char *what = "drives", *id = NULL, *path = NULL, *partuuid = NULL, *cache = NULL;
	const char *engine = NULL;
	bool root = false, ro = false;
	if (check_keys(body, what, known, unsupported, err, errlen) < 0 ||
	    body_id(body, what, "drive_id", path_id, &id, err, errlen) < 0 ||
	    get_bool(body, what, "is_root_device", true, &root, err, errlen) < 0 ||
	    get_str(body, what, "path_on_host", true, &path, CONFIG_PATH_MAX - 1, err, errlen) < 0 ||
	    get_bool(body, what, "is_read_only", false, &ro, err, errlen) < 0 ||
	    get_str(body, what, "partuuid", false, &partuuid, API_ID_MAX, err, errlen) < 0 ||
	    get_str(body, what, "cache_type", false, &cache, 16, err, errlen) < 0 ||
	    get_str(body, what, "io_engine", false, &engine, 16, err, errlen) < 0 ||
	    get_rate_limiter(body, what, "rate_limiter", &rl, err, errlen) < 0)
		return -1;
	/* Firecracker's engines: Sync (the default) is the preadv/pwritev backend, Async io_uring. */
	if (engine && strcmp(engine, "Sync") != 0 && strcmp(engine, "Async") != 0)
		return err_set(err, errlen, "drives: io_engine must be \"Sync\" or \"Async\"");
	if (!*path)
		return err_set(err, errlen, "drives: path_on_host is empty: name a disk image");
	if (cache && strcmp(cache, "Unsafe") != 0 && strcmp(cache, "Writeback") != 0)
		return err_set(err, errlen, "drives: cache_type must be \"Unsafe\" or \"Writeback\"");
	if (partuuid && (!*partuuid || strspn(partuuid, "0123456789abcdefABCDEF-") != strlen(partuuid)))
		return err_set(err, errlen, "drives: partuuid must be hex digits and '-'");
	int i = find_drive(ac, id);
	for (unsigned k = 0; k < ac->cfg.ndisks; k++)
		if (root && ac->drive_root[k] && (int)k != i)
			return err_set(err, errlen, "drives: drive '%s' is already the root device", ac->drive_id[k]);
	if (i < 0) {
		if (ac->cfg.ndisks == CONFIG_MAX_DISKS)
			return err_set(err, errlen, "drives: too many drives: at most %d", CONFIG_MAX_DISKS);
		i = (int)ac->cfg.ndisks++;
	}
	struct disk_config *d = &ac->cfg.disks[i];
	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "%s", path);
	d->read_only = ro;
	d->io = engine && !strcmp(engine, "Async") ? DISK_IO_URING : DISK_IO_SYNC;
	rl_config_apply(&d->rl, &rl); /* after the memset: buckets not given are unlimited */
	/* The guest reads the drive id as the disk's serial (GET_ID), as with Firecracker. */
	snprintf(d->serial, sizeof(d->serial), "%.20s", id);
	snprintf(ac->drive_id[i], sizeof(ac->drive_id[i]), "%s", id);
	snprintf(ac->drive_partuuid[i], sizeof(ac->drive_partuuid[i]), "%s", partuuid ? partuuid : "");
	ac->drive_root[i] = root;
	if (root)
		drive_to_front(ac, (unsigned)i);
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;
	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
				      &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]) || !isprint((unsigned char)s[i]))
			return false;
	return true;
}

int api_put_net(struct api_config *ac, const char *path_id, const json_t *body, char *err,
		size_t errlen)
{
	static const char *const known[] = {"iface_id", "host_dev_name", "guest_mac",
					    "rx_rate_limiter", "tx_rate_limiter", NULL};
	static const char *const unsupported[] = {"mtu", NULL};
	const char *what = "network-interfaces", *id = NULL, *tap = NULL, *mac_s = NULL;
	uint8_t mac[6];
	struct rl_update rx, tx;
	if (check_keys(body, what, known, unsupported, err, errlen) < 0 ||
	    body_id(body, what, "iface_id", path_id, &id, err, errlen) < 0 ||
	    get_str(body, what, "host_dev_name", true, &tap, 64, err, errlen) < 0 ||
	    get_str(body, what, "guest_mac", false, &mac_s, 64, err, errlen) < 0 ||
	    get_rate_limiter(body, what, "rx_rate_limiter", &rx, err, errlen) < 0 ||
	    get_rate_limiter(body, what, "tx_rate_limiter", &tx, err, errlen) < 0)
		return -1;
	if (!ifname_valid(tap))
		return err_set(err, errlen, "network-interfaces: host_dev_name '%.64s' is not a valid "
			       "interface name (1 to 15 bytes, no '/', ':' or spaces)", tap);
	if (mac_s && parse_mac(mac_s, mac) < 0)
		return err_set(err, errlen, "network-interfaces: guest_mac '%.64s' is not a MAC like "
			       "06:00:ac:10:00:02", mac_s);
	if (mac_s && (mac[0] & 1))
		return err_set(err, errlen, "network-interfaces: guest_mac %s is a multicast address", mac_s);
	int i = -1;
	for (unsigned k = 0; k < ac->cfg.nnets; k++) {
		if (!strcmp(ac->net_id[k], id)) {
			i = (int)k;
			continue;
		}
		if (!strcmp(ac->cfg.nets[k].tap, tap))
			return err_set(err, errlen, "network-interfaces: host_dev_name %s is already used by "
				       "interface '%s'", tap, ac->net_id[k]);
		if (mac_s && ac->cfg.nets[k].mac_set && !memcmp(ac->cfg.nets[k].mac, mac, 6))
			return err_set(err, errlen, "network-interfaces: guest_mac %s is already used by "
				       "interface '%s'", mac_s, ac->net_id[k]);
	}
	if (i < 0) {
		if (ac->cfg.nnets == CONFIG_MAX_NETS)
			return err_set(err, errlen, "network-interfaces: too many interfaces: at most %d",
				       CONFIG_MAX_NETS);
		i = (int)ac->cfg.nnets++;
	}
	struct net_config *n = &ac->cfg.nets[i];
	memset(n, 0, sizeof(*n));
	snprintf(n->tap, sizeof(n->tap), "%s", tap);
	if (mac_s) {
		memcpy(n->mac, mac, 6);
		n->mac_set = true;
	}
	n->vhost = -1;
	rl_config_apply(&n->rx_rl, &rx);
	rl_config_apply(&n->tx_rl, &tx);
	/* vhost-net would move the frames past mote's limiters: mote's own path then. PATCH can
	 * add limits later only where vhost is not in use (see api.c). */
	if (rl_config_enabled(&n->rx_rl) || rl_config_enabled(&n->tx_rl))
		n->vhost = 0;
	snprintf(ac->net_id[i], sizeof(ac->net_id[i]), "%s", id);
	return 0;
}

int api_parse_net_patch(const struct api_config *ac, const char *path_id, const json_t *body,
			unsigned *index, struct rl_update *rx, struct rl_update *tx, char *err,
			size_t errlen)
{
	static const char *const known[] = {"iface_id", "rx_rate_limiter", "tx_rate_limiter", NULL};
	const char *what = "network-interfaces", *id = NULL;
	if (check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    body_id(body, what, "iface_id", path_id, &id, err, errlen) < 0 ||
	    get_rate_limiter(body, what, "rx_rate_limiter", rx, err, errlen) < 0 ||
	    get_rate_limiter(body, what, "tx_rate_limiter", tx, err, errlen) < 0)
		return -1;
	for (unsigned k = 0; k < ac->cfg.nnets; k++) {
		if (!strcmp(ac->net_id[k], id)) {
			*index = k;
			return 0;
		}
	}
	return err_set(err, errlen, "network-interfaces: no interface '%s' is configured", id);
}

int api_put_entropy(struct api_config *ac, const json_t *body, char *err, size_t errlen)
{
	static const char *const known[] = {NULL};
	static const char *const unsupported[] = {"rate_limiter", NULL};
	if (check_keys(body, "entropy", known, unsupported, err, errlen) < 0)
		return -1;
	ac->cfg.rng = true;
	return 0;
}

int api_put_vsock(struct api_config *ac, const json_t *body, char *err, size_t errlen)
{
	static const char *const known[] = {"guest_cid", "uds_path", "vsock_id", NULL};
	const char *what = "vsock", *uds = NULL, *id = NULL;
	unsigned long long cid = 0;
	if (check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    get_uint(body, what, "guest_cid", true, 3, 0xfffffffeull, &cid, err, errlen) < 0 ||
	    get_str(body, what, "uds_path", true, &uds, CONFIG_VSOCK_PATH_MAX, err, errlen) < 0 ||
	    get_str(body, what, "vsock_id", false, &id, API_ID_MAX, err, errlen) < 0 || /* deprecated */
	    config_check_vsock(what, cid, uds, err, errlen) < 0)
		return -1;
	struct vsock_config *v = &ac->cfg.vsock;
	v->enabled = true;
	v->cid = cid;
	snprintf(v->uds, sizeof(v->uds), "%s", uds);
	return 0;
}

int api_parse_logger(const json_t *body, struct api_logger_cfg *out, char *err, size_t errlen)
{
	static const char *const known[] = {"level", "log_path", "show_level", "show_log_origin",
					    "module", NULL};
	/* Firecracker's names, any case; "Warn" too (Firecracker's parser takes it). */
	static const struct { const char *name; int level; } levels[] = {
		{"Error", LOG_ERROR}, {"Warning", LOG_WARN}, {"Warn", LOG_WARN}, {"Info", LOG_INFO},
		{"Debug", LOG_DEBUG}, {"Trace", LOG_TRACE}, {"Off", LOG_OFF}};
	const char *what = "logger", *level = NULL, *path = NULL, *module = NULL;
	struct api_logger_cfg l = {.set = true, .level = LOG_INFO};
	if (check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    get_str(body, what, "level", false, &level, 16, err, errlen) < 0 ||
	    get_str(body, what, "log_path", false, &path, CONFIG_PATH_MAX - 1, err, errlen) < 0 ||
	    get_bool(body, what, "show_level", false, &l.show_level, err, errlen) < 0 ||
	    get_bool(body, what, "show_log_origin", false, &l.show_origin, err, errlen) < 0 ||
	    get_str(body, what, "module", false, &module, sizeof(l.module) - 1, err, errlen) < 0)
		return -1;
	if (level) {
		size_t k = 0, n = sizeof(levels) / sizeof(levels[0]);
		while (k < n && strcasecmp(level, levels[k].name) != 0)
			k++;
		if (k == n)
			return err_set(err, errlen, "logger: level '%s' is not one of Error, Warning, "
				       "Info, Debug, Trace, Off", level);
		l.level = levels[k].level;
	}
	if (path && !*path)
		return err_set(err, errlen, "logger: log_path is empty: omit it or name a file or pipe");
	if (module && !log_module_valid(module))
		return err_set(err, errlen, "logger: module '%.64s' is not a mote module: one of %s, "
			       "or FOLDER::FILE (e.g. devices::virtio_blk)", module, LOG_MODULE_FOLDERS);
	snprintf(l.path, sizeof(l.path), "%s", path ? path : "");
	snprintf(l.module, sizeof(l.module), "%s", module ? module : "");
	*out = l;
	return 0;
}

int api_parse_metrics(const json_t *body, struct api_metrics_cfg *out, char *err, size_t errlen)
{
	static const char *const known[] = {"metrics_path", "emit_id", "properties", NULL};
	const char *what = "metrics", *path = NULL;
	struct api_metrics_cfg m = {.set = true};
	if (check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    get_str(body, what, "metrics_path", true, &path, CONFIG_PATH_MAX - 1, err, errlen) < 0 ||
	    get_bool(body, what, "emit_id", false, &m.emit_id, err, errlen) < 0)
		return -1;
	if (!*path)
		return err_set(err, errlen, "metrics: metrics_path is empty: name a file or pipe");
	const json_t *props = json_object_get(body, "properties");
	if (props && !json_is_null(props)) {
		const char *k;
		json_t *v;
		if (!json_is_object(props))
			return err_set(err, errlen, "metrics: properties must be an object of strings");
		if (json_object_size(props) > 64)
			return err_set(err, errlen, "metrics: properties has more than 64 entries");
		json_object_foreach(unconst(props), k, v) {
			if (!json_is_string(v) || json_string_length(v) > 256 || strlen(k) > 64)
				return err_set(err, errlen, "metrics: properties.%.64s must be a string of "
					       "at most 256 bytes (keys at most 64)", k);
		}
		m.properties = json_deep_copy(props);
		if (!m.properties)
			return err_set(err, errlen, "metrics: out of memory");
	}
	snprintf(m.path, sizeof(m.path), "%s", path);
	*out = m;
	return 0;
}

int api_parse_action(const json_t *body, enum api_action *out, char *err, size_t errlen)
{
	static const char *const known[] = {"action_type", NULL};
	const char *t = NULL;
	if (check_keys(body, "actions", known, NULL, err, errlen) < 0 ||
	    get_str(body, "actions", "action_type", true, &t, 64, err, errlen) < 0)
		return -1;
	if (!strcmp(t, "InstanceStart"))
		*out = API_ACTION_START;
	else if (!strcmp(t, "SendCtrlAltDel"))
		*out = API_ACTION_CTRL_ALT_DEL;
	else if (!strcmp(t, "FlushMetrics"))
		*out = API_ACTION_FLUSH_METRICS;
	else
		return err_set(err, errlen, "actions: action_type '%.64s' is not one of InstanceStart, "
			       "SendCtrlAltDel, FlushMetrics", t);
	return 0;
}

int api_parse_vm_state(const json_t *body, bool *paused, char *err, size_t errlen)
{
	static const char *const known[] = {"state", NULL};
	const char *s = NULL;
	if (check_keys(body, "vm", known, NULL, err, errlen) < 0 ||
	    get_str(body, "vm", "state", true, &s, 64, err, errlen) < 0)
		return -1;
	if (!strcmp(s, "Paused"))
		*paused = true;
	else if (!strcmp(s, "Resumed"))
		*paused = false;
	else
		return err_set(err, errlen, "vm: state '%.64s' is not Paused or Resumed", s);
	return 0;
}

int api_parse_drive_update(const struct api_config *ac, const char *path_id, const json_t *body,
			   char *path, unsigned *index, struct rl_update *rl, char *err,
			   size_t errlen)
{
	static const char *const known[] = {"drive_id", "path_on_host", "rate_limiter", NULL};
	const char *what = "drives", *id = NULL, *p = NULL;
	if (check_keys(body, what, known, NULL, err, errlen) < 0 ||
	    body_id(body, what, "drive_id", path_id, &id, err, errlen) < 0 ||
	    get_str(body, what, "path_on_host", false, &p, CONFIG_PATH_MAX - 1, err, errlen) < 0 ||
	    get_rate_limiter(body, what, "rate_limiter", rl, err, errlen) < 0)
		return -1;
	int i = find_drive(ac, id);
	if (i < 0)
		return err_set(err, errlen, "drives: no drive '%s' is configured", id);
	bool has_rl = json_object_get(body, "rate_limiter") &&
		      !json_is_null(json_object_get(body, "rate_limiter"));
	if (!p && !has_rl)
		return err_set(err, errlen, "drives: give path_on_host (the new backing file) or "
			       "rate_limiter (new limits): the properties mote can update");
	if (p && !*p)
		return err_set(err, errlen, "drives: path_on_host is empty: name a disk image");
	snprintf(path, CONFIG_PATH_MAX, "%s", p ? p : "");
	*index = (unsigned)i;
	return 0;
}

int api_parse_drive_patch(const struct api_config *ac, const char *path_id, const json_t *body,
			  char *path, unsigned *index, char *err, size_t errlen)
{
	struct rl_update rl;
	if (api_parse_drive_update(ac, path_id, body, path, index, &rl, err, errlen) < 0)
		return -1;
	if (!path[0])
		return err_set(err, errlen, "drives: give path_on_host, the new backing file");
	return 0;
}

static int each_in_array(struct api_config *ac, const json_t *arr, const char *what,
			 int (*put)(struct api_config *, const char *, const json_t *, char *, size_t),
			 char *err, size_t errlen)
{
	size_t i;
	json_t *v;
	if (!json_is_array(arr))
		return err_set(err, errlen, "%s must be an array", what);
	json_array_foreach(arr, i, v) {
		if (!json_is_object(v))
			return err_set(err, errlen, "%s[%zu] must be an object", what, i);
		if (put(ac, NULL, v, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int api_config_file(struct api_config *ac, const char *text, size_t len, char *err, size_t errlen)
{
	static const char *const known[] = {"boot-source", "machine-config", "drives",
					    "network-interfaces", "logger", "metrics", "entropy", "vsock",
					    "balloon", NULL};
	static const char *const unsupported[] = {"mmds-config", "cpu-config",
						  "pmem", "memory-hotplug", "serial", NULL};
	json_t *j = api_body_parse(text, len, err, errlen);
	if (!j)
		return -1;
	int r = -1;
	const json_t *v;
	if (check_keys(j, "config file", known, unsupported, err, errlen) < 0)
		goto out;
	if (!(v = json_object_get(j, "boot-source"))) {
		err_set(err, errlen, "config file: missing \"boot-source\" (kernel_image_path)");
		goto out;
	}
	if (!json_is_object(v)) {
		err_set(err, errlen, "boot-source must be an object");
		goto out;
	}
	if (api_put_boot_source(ac, v, err, errlen) < 0)
		goto out;
	if ((v = json_object_get(j, "machine-config")) &&
	    (!json_is_object(v) ? err_set(err, errlen, "machine-config must be an object")
				: api_put_machine_config(ac, v, false, err, errlen)) < 0)
		goto out;
	if ((v = json_object_get(j, "drives")) && each_in_array(ac, v, "drives", api_put_drive, err, errlen) < 0)
		goto out;
	if ((v = json_object_get(j, "network-interfaces")) &&
	    each_in_array(ac, v, "network-interfaces", api_put_net, err, errlen) < 0)
		goto out;
	if ((v = json_object_get(j, "entropy")) &&
	    (!json_is_object(v) ? err_set(err, errlen, "entropy must be an object")
				: api_put_entropy(ac, v, err, errlen)) < 0)
		goto out;
	if ((v = json_object_get(j, "vsock")) &&
	    (!json_is_object(v) ? err_set(err, errlen, "vsock must be an object")
				: api_put_vsock(ac, v, err, errlen)) < 0)
		goto out;
	if ((v = json_object_get(j, "balloon")) &&
	    (!json_is_object(v) ? err_set(err, errlen, "balloon must be an object")
				: api_put_balloon(ac, v, err, errlen)) < 0)
		goto out;
	if ((v = json_object_get(j, "logger")) &&
	    (!json_is_object(v) ? err_set(err, errlen, "logger must be an object")
				: api_parse_logger(v, &ac->logger, err, errlen)) < 0)
		goto out;
	if ((v = json_object_get(j, "metrics"))) {
		struct api_metrics_cfg m;
		if (!json_is_object(v)) {
			err_set(err, errlen, "metrics must be an object");
			goto out;
		}
		if (api_parse_metrics(v, &m, err, errlen) < 0)
			goto out;
		api_metrics_cfg_release(&ac->metrics);
		ac->metrics = m;
	}
	r = 0;
out:
	json_decref(j);
	return r;
}

/* boot_args plus the root drive's root= (as Firecracker adds it). */
static int build_cmdline(const struct api_config *ac, char *out, size_t outlen)
{
	int n;
	if (ac->cfg.ndisks && ac->drive_root[0]) {
		const char *mode = ac->cfg.disks[0].read_only ? "ro" : "rw";
		if (ac->drive_partuuid[0][0])
			n = snprintf(out, outlen, "%s%sroot=PARTUUID=%s %s", ac->cmdline,
				     ac->cmdline[0] ? " " : "", ac->drive_partuuid[0], mode);
		else
			n = snprintf(out, outlen, "%s%sroot=/dev/vda %s", ac->cmdline,
				     ac->cmdline[0] ? " " : "", mode);
	} else {
		n = snprintf(out, outlen, "%s", ac->cmdline);
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int api_config_check(struct api_config *ac, char *err, size_t errlen)
{
	if (!ac->boot_source_set)
		return err_set(err, errlen, "no boot source: PUT /boot-source with kernel_image_path "
			       "before InstanceStart");
	if (build_cmdline(ac, ac->export_cmdline, sizeof(ac->export_cmdline)) < 0)
		return err_set(err, errlen, "boot_args plus the root drive's root= exceed %llu bytes",
			       (unsigned long long)(X86_CMDLINE_MAX - 1));
	return api_balloon_check(ac, err, errlen);
}

void api_config_export(struct api_config *ac, struct vm_config *out)
{
	*out = ac->cfg;
	out->kernel = ac->kernel;
	out->initrd = ac->initrd[0] ? ac->initrd : NULL;
	out->cmdline = ac->export_cmdline;
	out->gdb_socket = ac->gdb_socket[0] ? ac->gdb_socket : NULL;
}

json_t *api_machine_json(const struct api_config *ac)
{
	json_t *j = json_pack("{s:I, s:I, s:b, s:b, s:s}", "vcpu_count", (json_int_t)ac->cfg.cpus,
			      "mem_size_mib", (json_int_t)(ac->cfg.mem_size / MIB), "smt", 0,
			      "track_dirty_pages", ac->cfg.track_dirty, "huge_pages", "None");
	if (j && ac->gdb_socket[0])
		json_object_set_new(j, "gdb_socket_path", json_string(ac->gdb_socket));
	return j;
}

static const char *level_str(int level)
{
	switch (level) {
	case LOG_OFF: return "Off";
	case LOG_ERROR: return "Error";
	case LOG_WARN: return "Warning";
	case LOG_INFO: return "Info";
	case LOG_TRACE: return "Trace";
	default: return "Debug";
	}
}

/* A RateLimiter with the buckets that limit something. */
static json_t *rate_limiter_json(const struct rl_config *c)
{
	json_t *o = json_object();
	const struct tb_config *b[2] = {&c->bw, &c->ops};
	const char *name[2] = {"bandwidth", "ops"};
	for (int k = 0; k < 2 && o; k++)
		if (tb_config_enabled(b[k]))
			json_object_set_new(o, name[k], json_pack("{s:I, s:I, s:I}", "size",
					    (json_int_t)b[k]->size, "one_time_burst",
					    (json_int_t)b[k]->one_time_burst, "refill_time",
					    (json_int_t)b[k]->refill_ms));
	return o;
}

json_t *api_vm_config_json(const struct api_config *ac)
{
	json_t *j = json_object(), *drives = json_array(), *nets = json_array();
	if (!j || !drives || !nets)
		goto fail;
	if (ac->boot_source_set) {
		json_t *b = json_pack("{s:s}", "kernel_image_path", ac->kernel);
		if (!b || json_object_set_new(j, "boot-source", b) < 0)
			goto fail;
		if (ac->initrd[0])
			json_object_set_new(b, "initrd_path", json_string(ac->initrd));
		if (ac->cmdline_set)
			json_object_set_new(b, "boot_args", json_string(ac->cmdline));
	}
	json_object_set_new(j, "machine-config", api_machine_json(ac));
	for (unsigned i = 0; i < ac->cfg.ndisks; i++) {
		const struct disk_config *d = &ac->cfg.disks[i];
		json_t *o = json_pack("{s:s, s:b, s:s, s:b, s:s, s:s}", "drive_id", ac->drive_id[i],
				      "is_root_device", ac->drive_root[i], "path_on_host", d->path,
				      "is_read_only", d->read_only, "cache_type", "Writeback",
				      "io_engine", d->io == DISK_IO_URING ? "Async" : "Sync");
		if (o && ac->drive_partuuid[i][0])
			json_object_set_new(o, "partuuid", json_string(ac->drive_partuuid[i]));
		if (o && rl_config_enabled(&d->rl))
			json_object_set_new(o, "rate_limiter", rate_limiter_json(&d->rl));
		json_array_append_new(drives, o);
	}
	for (unsigned i = 0; i < ac->cfg.nnets; i++) {
		const struct net_config *n = &ac->cfg.nets[i];
		json_t *o = json_pack("{s:s, s:s}", "iface_id", ac->net_id[i], "host_dev_name", n->tap);
		if (o && n->mac_set) {
			char mac[18];
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac[0], n->mac[1],
				 n->mac[2], n->mac[3], n->mac[4], n->mac[5]);
			json_object_set_new(o, "guest_mac", json_string(mac));
		}
		if (o && rl_config_enabled(&n->rx_rl))
			json_object_set_new(o, "rx_rate_limiter", rate_limiter_json(&n->rx_rl));
		if (o && rl_config_enabled(&n->tx_rl))
			json_object_set_new(o, "tx_rate_limiter", rate_limiter_json(&n->tx_rl));
		json_array_append_new(nets, o);
	}
	json_object_set_new(j, "drives", drives);
	json_object_set_new(j, "network-interfaces", nets);
	drives = nets = NULL;
	if (ac->cfg.rng)
		json_object_set_new(j, "entropy", json_object());
	if (ac->cfg.vsock.enabled)
		json_object_set_new(j, "vsock", json_pack("{s:I, s:s}", "guest_cid",
							  (json_int_t)ac->cfg.vsock.cid, "uds_path",
							  ac->cfg.vsock.uds));
	if (ac->cfg.balloon.enabled)
		json_object_set_new(j, "balloon", api_balloon_json(ac));
	if (ac->logger.set) {
		json_t *l = json_pack("{s:s, s:b, s:b}", "level", level_str(ac->logger.level),
				      "show_level", ac->logger.show_level, "show_log_origin",
				      ac->logger.show_origin);
		if (l && ac->logger.path[0])
			json_object_set_new(l, "log_path", json_string(ac->logger.path));
		if (l && ac->logger.module[0])
			json_object_set_new(l, "module", json_string(ac->logger.module));
		json_object_set_new(j, "logger", l);
	}
	if (ac->metrics.set) {
		json_t *m = json_pack("{s:s, s:b}", "metrics_path", ac->metrics.path, "emit_id",
				      ac->metrics.emit_id);
		if (m && ac->metrics.properties)
			json_object_set(m, "properties", ac->metrics.properties);
		json_object_set_new(j, "metrics", m);
	}
	return j;
fail:
	json_decref(j);
	json_decref(drives);
	json_decref(nets);
	return NULL;
}

/* The field helpers above, for the other parsers of this folder (api_balloon.c). */
int api_check_keys(const json_t *obj, const char *what, const char *const *known,
		   const char *const *unsupported, char *err, size_t errlen)
{
	return check_keys(obj, what, known, unsupported, err, errlen);
}

int api_get_uint(const json_t *obj, const char *what, const char *key, bool required,
		 unsigned long long lo, unsigned long long hi, unsigned long long *out, char *err,
		 size_t errlen)
{
	return get_uint(obj, what, key, required, lo, hi, out, err, errlen);
}

int api_get_bool(const json_t *obj, const char *what, const char *key, bool required, bool *out,
		 char *err, size_t errlen)
{
	return get_bool(obj, what, key, required, out, err, errlen);
}
