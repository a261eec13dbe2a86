/* libFuzzer target for the API's request-body parsers (src/api/api_config.c): the first byte
 * picks the endpoint, the rest is the body, fed through the same functions the server calls
 * (api_body_parse, then the endpoint's parser), then the GET /vm/config rendering of whatever
 * configuration resulted. A second pass feeds the bytes as a whole config file. The PATCH /vm
 * case also feeds the snapshot bodies (src/api/api_snapshot.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_config.h"
#include "api/api_snapshot.h"

static struct api_config ac; /* large: static, re-initialised per input */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vm_config base = {.cmdline = ""};
	char err[512];
	if (size < 1)
		return 0;
	unsigned which = data[0] % 12;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;

	api_config_init(&ac, &base);
	json_t *j = api_body_parse(body, len, err, sizeof(err));
	if (j) {
		struct api_logger_cfg l;
		struct api_metrics_cfg m;
		enum api_action act;
		bool paused;
		char path[CONFIG_PATH_MAX];
		unsigned idx;
		/* Two calls each, so updates of an existing id are exercised too. */
		for (int k = 0; k < 2; k++) {
			switch (which) {
			case 0: api_put_boot_source(&ac, j, err, sizeof(err)); break;
			case 1: api_put_machine_config(&ac, j, false, err, sizeof(err)); break;
			case 2: api_put_machine_config(&ac, j, true, err, sizeof(err)); break;
			case 3: api_put_drive(&ac, k ? NULL : "root", j, err, sizeof(err)); break;
			case 4: {
				struct rl_update rx, tx;
				api_put_net(&ac, k ? NULL : "eth0", j, err, sizeof(err));
				api_parse_net_patch(&ac, "eth0", j, &idx, &rx, &tx, err, sizeof(err));
				break;
			}
			case 5: api_put_entropy(&ac, j, err, sizeof(err)); break;
			case 6: api_parse_logger(j, &l, err, sizeof(err)); break;
			case 7:
				if (api_parse_metrics(j, &m, err, sizeof(err)) == 0)
					api_metrics_cfg_release(&m);
				break;
			case 8: api_parse_action(j, &act, err, sizeof(err)); break;
			case 9: { /* PATCH /vm, and the snapshot bodies (api_snapshot.c) */
				static struct api_snapshot_create sc;
				static struct api_snapshot_load sl;
				api_parse_vm_state(j, &paused, err, sizeof(err));
				if (api_parse_snapshot_create(j, &sc, err, sizeof(err)) == 0 &&
				    (!sc.state[0] || !sc.mem[0]))
					abort();
				if (api_parse_snapshot_load(j, &sl, err, sizeof(err)) == 0 &&
				    (!sl.state[0] || !sl.mem[0] || sl.nov > CONFIG_MAX_NETS))
					abort();
				break;
			}
			case 10:
				api_put_drive(&ac, NULL, j, err, sizeof(err));
				api_parse_drive_patch(&ac, "root", j, path, &idx, err, sizeof(err));
				{
					struct rl_update rl;
					api_parse_drive_update(&ac, "root", j, path, &idx, &rl, err,
							       sizeof(err));
				}
				break;
			default: break;
			}
		}
		json_decref(j);
	}
	if (which == 11) {
		api_config_release(&ac);
		api_config_init(&ac, &base);
		api_config_file(&ac, body, len, err, sizeof(err));
	}
	if (api_config_check(&ac, err, sizeof(err)) == 0) {
		struct vm_config out;
		api_config_export(&ac, &out);
		if (strlen(out.cmdline) >= X86_CMDLINE_MAX)
			abort();
	}
	json_t *v = api_vm_config_json(&ac);
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
	free(s);
	json_decref(v);
	api_config_release(&ac);
	return 0;
}
