/* Snapshot request bodies (api_snapshot.h). */
#include "api/api_snapshot.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"

/* Every key of obj must be in known; a key in later is refused as not supported (yet). */
static int keys_ok(const json_t *obj, const char *what, const char *const *known, char *err,
		   size_t errlen)
{
	const char *k;
	json_t *v;
	if (!json_is_object(obj))
		return err_set(err, errlen, "%s: the body must be a JSON object", what);
	json_object_foreach((json_t *)(uintptr_t)obj, k, v) {
		size_t i = 0;
		while (known[i] && strcmp(known[i], k) != 0)
			i++;
		if (!known[i])
			return err_set(err, errlen, "%s: unknown field '%.64s'", what, k);
	}
	return 0;
}

/* A path field: required or not; *out "" when absent. */
static int get_path(const json_t *obj, const char *what, const char *key, bool required, char *out,
		    char *err, size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	out[0] = '\0';
	if (!v || json_is_null(v)) {
		if (required)
			return err_set(err, errlen, "%s: %s is required", what, key);
		return 0;
	}
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) >= CONFIG_PATH_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return err_set(err, errlen, "%s: %s must be a file path of 1 to %d bytes", what, key,
			       CONFIG_PATH_MAX - 1);
	snprintf(out, CONFIG_PATH_MAX, "%s", json_string_value(v));
	return 0;
}

static int get_flag(const json_t *obj, const char *what, const char *key, bool *out, char *err,
		    size_t errlen)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return err_set(err, errlen, "%s: %s must be true or false", what, key);
	*out = json_is_true(v);
	return 0;
}

int api_parse_snapshot_create(const json_t *body, struct api_snapshot_create *out, char *err,
			      size_t errlen)
{
	static const char *const known[] = {"snapshot_type", "snapshot_path", "mem_file_path", NULL};
	const char *what = "snapshot/create";
	memset(out, 0, sizeof(*out));
	if (keys_ok(body, what, known, err, errlen) < 0)
		return -1;
	const json_t *t = json_object_get(body, "snapshot_type");
	if (t && !json_is_null(t)) {
		if (!json_is_string(t))
			return err_set(err, errlen, "%s: snapshot_type must be \"Full\" or \"Diff\"", what);
		if (!strcmp(json_string_value(t), "Diff"))
			out->diff = true;
		else if (strcmp(json_string_value(t), "Full") != 0)
			return err_set(err, errlen, "%s: snapshot_type '%.32s' is not Full or Diff", what,
				       json_string_value(t));
	}
	if (get_path(body, what, "snapshot_path", true, out->state, err, errlen) < 0 ||
	    get_path(body, what, "mem_file_path", true, out->mem, err, errlen) < 0)
		return -1;
	if (!strcmp(out->state, out->mem))
		return err_set(err, errlen, "%s: snapshot_path and mem_file_path name the same file", what);
	return 0;
}

static int parse_overrides(const json_t *arr, struct api_snapshot_load *out, char *err, size_t errlen)
{
	static const char *const known[] = {"iface_id", "host_dev_name", NULL};
	const char *what = "snapshot/load: network_overrides";
	size_t i;
	json_t *v;
	if (!json_is_array(arr))
		return err_set(err, errlen, "%s must be an array", what);
	if (json_array_size(arr) > CONFIG_MAX_NETS)
		return err_set(err, errlen, "%s: at most %d entries", what, CONFIG_MAX_NETS);
	json_array_foreach(arr, i, v) {
		if (keys_ok(v, what, known, err, errlen) < 0)
			return -1;
		const json_t *id = json_object_get(v, "iface_id"), *dev = json_object_get(v, "host_dev_name");
		if (!json_is_string(id) || !json_is_string(dev))
			return err_set(err, errlen, "%s: each entry needs iface_id and host_dev_name strings", what);
		char spec[SNAP_ID_MAX + 64];
		if (json_string_length(id) > SNAP_ID_MAX || json_string_length(dev) > 15 ||
		    strchr(json_string_value(id), '='))
			return err_set(err, errlen, "%s: iface_id of at most %d bytes, host_dev_name of at "
				       "most 15", what, SNAP_ID_MAX);
		snprintf(spec, sizeof(spec), "%s=%s", json_string_value(id), json_string_value(dev));
		if (snapshot_parse_override(spec, &out->ov[out->nov], err, errlen) < 0)
			return -1;
		out->nov++;
	}
	return 0;
}

int api_parse_snapshot_load(const json_t *body, struct api_snapshot_load *out, char *err,
			    size_t errlen)
{
	static const char *const known[] = {"snapshot_path", "mem_file_path", "mem_backend",
					    "enable_diff_snapshots", "track_dirty_pages", "resume_vm",
					    "network_overrides", "vsock_override", "clock_realtime",
					    "huge_pages", NULL};
	static const char *const backend_keys[] = {"backend_type", "backend_path", NULL};
	const char *what = "snapshot/load";
	bool diff = false, track = false, realtime = false;
	memset(out, 0, sizeof(*out));
	if (keys_ok(body, what, known, err, errlen) < 0 ||
	    get_path(body, what, "snapshot_path", true, out->state, err, errlen) < 0 ||
	    get_path(body, what, "mem_file_path", false, out->mem, err, errlen) < 0 ||
	    get_flag(body, what, "resume_vm", &out->resume, err, errlen) < 0 ||
	    get_flag(body, what, "enable_diff_snapshots", &diff, err, errlen) < 0 ||
	    get_flag(body, what, "track_dirty_pages", &track, err, errlen) < 0 ||
	    get_flag(body, what, "clock_realtime", &realtime, err, errlen) < 0)
		return -1;
	out->track = track || diff; /* enable_diff_snapshots: the older name */
	if (realtime)
		return err_set(err, errlen, "%s: clock_realtime is not supported: the guest clock goes "
			       "on from the snapshot", what);
	const json_t *hp = json_object_get(body, "huge_pages");
	if (hp && !json_is_null(hp) &&
	    (!json_is_string(hp) || (strcmp(json_string_value(hp), "None") != 0 &&
				     strcmp(json_string_value(hp), "Snapshot") != 0)))
		return err_set(err, errlen, "%s: huge_pages: a restored guest's RAM is its memory file "
			       "(None)", what);
	const json_t *vo = json_object_get(body, "vsock_override");
	if (vo && !json_is_null(vo))
		return err_set(err, errlen, "%s: vsock_override is not supported", what);
	const json_t *mb = json_object_get(body, "mem_backend");
	if (mb && !json_is_null(mb)) {
		if (out->mem[0])
			return err_set(err, errlen, "%s: give mem_backend or mem_file_path, not both", what);
		if (keys_ok(mb, "snapshot/load: mem_backend", backend_keys, err, errlen) < 0)
			return -1;
		const json_t *t = json_object_get(mb, "backend_type");
		if (!json_is_string(t))
			return err_set(err, errlen, "%s: mem_backend.backend_type is required (File)", what);
		if (!strcmp(json_string_value(t), "Uffd"))
			return err_set(err, errlen, "%s: the Uffd memory backend is not supported: use File", what);
		if (strcmp(json_string_value(t), "File") != 0)
			return err_set(err, errlen, "%s: mem_backend.backend_type '%.32s' is not File", what,
				       json_string_value(t));
		if (get_path(mb, "snapshot/load: mem_backend", "backend_path", true, out->mem, err, errlen) < 0)
			return -1;
	} else if (!out->mem[0]) {
		return err_set(err, errlen, "%s: give mem_backend {\"backend_type\": \"File\", "
			       "\"backend_path\": ...} (or the older mem_file_path)", what);
	}
	const json_t *no = json_object_get(body, "network_overrides");
	if (no && !json_is_null(no) && parse_overrides(no, out, err, errlen) < 0)
		return -1;
	return 0;
}
