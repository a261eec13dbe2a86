/* API request bodies and the config file -> a staged struct vm_config (Firecracker's schema:
 * boot-source, machine-config, drives, network-interfaces, entropy, vsock, logger, metrics).
 * Pure: parses and validates JSON only; opens no file, touches no socket, no KVM. Every
 * refusal is one line in err naming the field and what to do; the server answers it as
 * 400 {"fault_message": err}. Unknown fields are refused; fields of Firecracker features mote
 * lacks (vhost-user, SMT, CPU templates, huge pages, ...) are refused by name. */
#ifndef MOTE_API_API_CONFIG_H
#define MOTE_API_API_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "arch/x86/layout.h"
#include "vmm/config.h"

#define API_ID_MAX 64           /* drive_id / iface_id: [A-Za-z0-9_], 1..64 bytes */
#define API_BODY_MAX (64 * 1024) /* request bodies and config files above this are refused */

struct api_logger_cfg {
	bool set;
	char path[CONFIG_PATH_MAX]; /* "" keeps stderr */
	int level;                  /* enum log_level (LOG_OFF .. LOG_TRACE) */
	bool show_level, show_origin;
	char module[72];            /* "" all; else a valid log module (core/log.h) */
};

struct api_metrics_cfg {
	bool set;
	char path[CONFIG_PATH_MAX];
	bool emit_id;
	json_t *properties; /* NULL, or an object of strings (owned) */
};

struct api_config {
	struct vm_config cfg; /* cpus, mem_size, disks, nets, rng; the strings below */
	bool boot_source_set;
	char kernel[CONFIG_PATH_MAX];
	char initrd[CONFIG_PATH_MAX]; /* "" none */
	char cmdline[X86_CMDLINE_MAX];
	bool cmdline_set;           /* boot_args given (GET /vm/config reports it) */
	char drive_id[CONFIG_MAX_DISKS][API_ID_MAX + 1];
	bool drive_root[CONFIG_MAX_DISKS];
	char drive_partuuid[CONFIG_MAX_DISKS][API_ID_MAX + 1];
	char net_id[CONFIG_MAX_NETS][API_ID_MAX + 1];
	char export_cmdline[X86_CMDLINE_MAX]; /* api_config_export: boot_args + root= */
	struct api_logger_cfg logger;
	struct api_metrics_cfg metrics;
	char gdb_socket[108];       /* machine-config gdb_socket_path, "" none */
};

enum api_action { API_ACTION_START, API_ACTION_CTRL_ALT_DEL, API_ACTION_FLUSH_METRICS };

/* Defaults (1 vCPU, 128 MiB, nothing else); base supplies verbosity and other CLI fields. */
void api_config_init(struct api_config *ac, const struct vm_config *base);
void api_config_release(struct api_config *ac);

/* A request body: a JSON object of at most API_BODY_MAX bytes, no duplicate keys.
 * Returns the object (caller json_decref) or NULL with err set. */
json_t *api_body_parse(const char *buf, size_t len, char *err, size_t errlen);

/* Each returns 0, or -1 with err set and ac unchanged. */
int api_put_boot_source(struct api_config *ac, const json_t *body, char *err, size_t errlen);
/* partial: PATCH (only the fields given change); else PUT (both required, the rest default). */
int api_put_machine_config(struct api_config *ac, const json_t *body, bool partial, char *err,
			   size_t errlen);
/* path_id: the {drive_id} of the URL (must equal the body's), or NULL (config file). */
int api_put_drive(struct api_config *ac, const char *path_id, const json_t *body, char *err,
		  size_t errlen);
int api_put_net(struct api_config *ac, const char *path_id, const json_t *body, char *err,
		size_t errlen);
int api_put_entropy(struct api_config *ac, const json_t *body, char *err, size_t errlen);
/* PUT /vsock {"guest_cid", "uds_path"[, "vsock_id" (deprecated, ignored)]}: one device; a
 * second PUT replaces the first's configuration (before the boot). */
int api_put_vsock(struct api_config *ac, const json_t *body, char *err, size_t errlen);

int api_parse_logger(const json_t *body, struct api_logger_cfg *out, char *err, size_t errlen);
/* On success *out owns a reference to properties (release with api_metrics_cfg_release). */
int api_parse_metrics(const json_t *body, struct api_metrics_cfg *out, char *err, size_t errlen);
void api_metrics_cfg_release(struct api_metrics_cfg *m);
int api_parse_action(const json_t *body, enum api_action *out, char *err, size_t errlen);
int api_parse_vm_state(const json_t *body, bool *paused, char *err, size_t errlen);
/* PATCH /drives/{id}: the new backing file in path (size CONFIG_PATH_MAX); fails unless the
 * id names a configured drive (*index set) and path_on_host is given. */
int api_parse_drive_patch(const struct api_config *ac, const char *path_id, const json_t *body,
			  char *path, unsigned *index, char *err, size_t errlen);

/* PATCH /drives/{id} with rate limits too: path is "" when path_on_host is not given; *rl
 * says which buckets change. Fails unless the id names a drive and one of the two is given. */
int api_parse_drive_update(const struct api_config *ac, const char *path_id, const json_t *body,
			   char *path, unsigned *index, struct rl_update *rl, char *err,
			   size_t errlen);
/* PATCH /network-interfaces/{id}: {"iface_id", "rx_rate_limiter", "tx_rate_limiter"}; *index
 * the interface, *rx / *tx the buckets that change. */
int api_parse_net_patch(const struct api_config *ac, const char *path_id, const json_t *body,
			unsigned *index, struct rl_update *rx, struct rl_update *tx, char *err,
			size_t errlen);

/* A whole config file (the same schema as GET /vm/config). Returns 0 or -1 with err set. */
int api_config_file(struct api_config *ac, const char *text, size_t len, char *err,
		    size_t errlen);

/* Whether the staged configuration can boot (a boot source, the root= addition fits). */
int api_config_check(struct api_config *ac, char *err, size_t errlen);

/* The vm_config to boot: strings point into ac (which must outlive it); the root drive comes
 * first and its root= is appended to the command line, as Firecracker does. Call
 * api_config_check first. */
void api_config_export(struct api_config *ac, struct vm_config *out);

/* GET /machine-config and GET /vm/config bodies (new references). */
json_t *api_machine_json(const struct api_config *ac);
json_t *api_vm_config_json(const struct api_config *ac);

/* Whether s is a valid drive/interface id. */
bool api_id_valid(const char *s);

/* Field helpers for the other parsers of src/api/ (the same rules as every handler here):
 * unknown keys refused (unsupported: named as a Firecracker feature mote lacks), JSON null
 * counts as absent, absent optional fields leave *out as is. 0, or -1 with err set. */
int api_check_keys(const json_t *obj, const char *what, const char *const *known,
		   const char *const *unsupported, char *err, size_t errlen);
int api_get_uint(const json_t *obj, const char *what, const char *key, bool required,
		 unsigned long long lo, unsigned long long hi, unsigned long long *out, char *err,
		 size_t errlen);
int api_get_bool(const json_t *obj, const char *what, const char *key, bool required, bool *out,
		 char *err, size_t errlen);

#endif
