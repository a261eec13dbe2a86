/* --balloon amount_mib=N[,deflate_on_oom=on|off][,stats=S][,reporting=on|off], and the checks
 * the CLI, PUT /balloon and the config file share. Pure: no files, no KVM. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "vmm/config.h"

int config_check_balloon(const char *what, const struct balloon_config *b, uint64_t mem_size,
			 char *err, size_t errlen)
{
	uint64_t mib = mem_size >> 20;
	if (b->amount_mib > mib)
		return err_set(err, errlen, "%s: amount_mib %u is more than the guest's %llu MiB of "
			       "RAM: give 0 to %llu", what, b->amount_mib, (unsigned long long)mib,
			       (unsigned long long)mib);
	if (b->stats_interval_s > CONFIG_BALLOON_STATS_MAX)
		return err_set(err, errlen, "%s: a statistics interval of %u s: give 0 (off) to %u "
			       "seconds", what, b->stats_interval_s, CONFIG_BALLOON_STATS_MAX);
	return 0;
}

/* A decimal number of at most 10 digits in [p, p + n) into *out (<= max). */
static int number(const char *p, size_t n, unsigned long max, unsigned long *out)
{
	char num[12], *e;
	if (n == 0 || n >= sizeof(num) || !isdigit((unsigned char)p[0]))
		return -1;
	memcpy(num, p, n);
	num[n] = '\0';
	errno = 0;
	unsigned long v = strtoul(num, &e, 10);
	if (*e || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static int on_off(const char *p, size_t n, bool *out)
{
	if ((n == 2 && !strncmp(p, "on", 2)) || (n == 4 && !strncmp(p, "true", 4)))
		*out = true;
	else if ((n == 3 && !strncmp(p, "off", 3)) || (n == 5 && !strncmp(p, "false", 5)))
		*out = false;
	else
		return -1;
	return 0;
}

int config_parse_balloon(const char *val, struct balloon_config *b, char *err, size_t errlen)
{
	static const char *const keys[] = {"amount_mib=", "deflate_on_oom=", "stats=", "reporting="};
	bool seen[4] = {false};
	struct balloon_config c = {.enabled = true};
	if (b->enabled)
		return err_set(err, errlen, "--balloon is given twice: a VM has one balloon device");
	for (const char *p = val; p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		size_t k = 0;
		while (k < 4 && strncmp(p, keys[k], strlen(keys[k])) != 0)
			k++;
		if (k == 4)
			return err_set(err, errlen, "unknown --balloon option '%.*s': use amount_mib=N, "
				       "deflate_on_oom=on|off, stats=SECONDS, reporting=on|off",
				       (int)(n > 64 ? 64 : n), p);
		if (seen[k])
			return err_set(err, errlen, "--balloon %s is given twice", keys[k]);
		seen[k] = true;
		const char *v = p + strlen(keys[k]);
		size_t vn = n - strlen(keys[k]);
		unsigned long x = 0;
		int r = 0;
		if (k == 0 && (r = number(v, vn, UINT32_MAX, &x)) == 0)
			c.amount_mib = (uint32_t)x;
		else if (k == 1)
			r = on_off(v, vn, &c.deflate_on_oom);
		else if (k == 2 && (r = number(v, vn, CONFIG_BALLOON_STATS_MAX, &x)) == 0)
			c.stats_interval_s = (unsigned)x;
		else if (k == 3)
			r = on_off(v, vn, &c.reporting);
		if (r < 0)
			return err_set(err, errlen, "--balloon %s'%.*s': %s", keys[k],
				       (int)(vn > 32 ? 32 : vn), v,
				       k == 0   ? "give a number of MiB"
				       : k == 2 ? "give 0 (off) to 65535 seconds"
						: "give on or off");
		p = end ? end + 1 : NULL;
	}
	if (!seen[0])
		return err_set(err, errlen, "--balloon needs amount_mib=N (the MiB the guest gives "
			       "back; 0 for none at the start)");
	*b = c;
	return 0;
}
