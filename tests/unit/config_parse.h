/* Shared by the command-line tests: P("run", ...) parses `mote run ...` into cfg, with the
 * one-line refusal in err. */
#ifndef MOTE_TEST_CONFIG_PARSE_H
#define MOTE_TEST_CONFIG_PARSE_H

#include <stdint.h>

#include "vmm/config.h"

static struct vm_config cfg;
static char err[512];

static enum config_action parse(int argc, const char *const *argv)
{
	err[0] = '\0';
	return config_parse(argc, (char *const *)(uintptr_t)argv, &cfg, err, sizeof(err));
}
#define P(...)                                                                   \
	({                                                                       \
		const char *const a_[] = {"mote", __VA_ARGS__};                  \
		parse((int)(sizeof(a_) / sizeof(a_[0])), a_);                    \
	})

#endif
