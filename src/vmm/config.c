/* CLI parsing: `mote run [options] KERNEL`, `mote --help`, `mote --version`.
 * Hand-written (no getopt global state) so it can be unit-tested call after call. */
#include "vmm/config.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/machine.h"
#include "core/log.h"
#include "gdb/addr.h"

void config_usage(FILE *out)
{
	char names[1024];
	cpuid_feature_names(names, sizeof(names));
	fprintf(out,
		"Usage: mote [-v|-q] run [options] KERNEL\n"
		"   or: mote hvt [options] UNIKERNEL [ARGS...]\n"
		"   or: mote [-v|-q] restore --snapshot FILE --mem-file FILE [--paused] [--track-dirty-pages]\n"
		"                 [--net-override IFACE=TAP]... [--api-sock PATH [--id ID]]\n"
		"   or: mote [-v|-q] --api-sock PATH [--id ID]\n"
		"   or: mote [-v|-q] --config-file FILE [--api-sock PATH] [--id ID]\n"
		"   or: mote --help | --version\n"
		"\n"
		"mote hvt runs Solo5 hvt unikernels (mote hvt --help lists its options).\n"
		"mote restore resumes a snapshot taken with PUT /snapshot/create: FILE is the state file,\n"
		"--mem-file its memory file (mapped copy-on-write: many restores may share it);\n"
		"--paused leaves the vCPUs stopped (resume with PATCH /vm through --api-sock);\n"
		"--track-dirty-pages (with --api-sock) allows Diff snapshots of the restored VM;\n"
		"--net-override gives interface IFACE (its iface_id, or net0, net1, ...) tap TAP.\n"
		"Refused snapshots: status 4 (files), 6 (this host cannot run it). See docs/snapshot.md.\n"
		"mote snapshot-merge BASE DIFF layers a Diff snapshot's memory file onto BASE (a copy of\n"
		"the Full one), in place, for mote restore.\n"
		"\n"
		"--api-sock serves a Firecracker-compatible REST API on a new Unix socket (mode 0600)\n"
		"and boots on PUT /actions InstanceStart; --config-file boots at once from a JSON file of\n"
		"the same schema (boot-source, machine-config, drives, ...). See docs/api.md.\n"
		"\n"
		"Boots KERNEL (an ELF file with a PVH entry note) in a KVM virtual machine whose\n"
		"serial console (COM1) is this terminal. Ctrl-A x quits; Ctrl-A Ctrl-A sends Ctrl-A.\n"
		"\n"
		"options:\n"
		"  --mem SIZE           guest RAM: MiB, or with a suffix K, M, G (default 128M, 2M..256G)\n"
		"  --cpus N             number of vCPUs (default 1, at most %d)\n"
		"  --cmdline STR        kernel command line (at most %llu bytes)\n"
		"  --initrd FILE        initial ramdisk (PVH module / Linux initrd)\n"
		"  --disk PATH[,ro][,direct][,serial=ID][,io=uring|sync][,bw=RATE][,iops=N]\n"
		"             [,bw_burst=BYTES][,iops_burst=N]\n"
		"                       a virtio-blk disk on a raw image or block device (up to %d);\n"
		"                       io: io_uring (default when the kernel has it) or preadv/pwritev;\n"
		"                       bw: bytes/s (K, M, G: 1024-based, e.g. 10M), iops: requests/s,\n"
		"                       *_burst: a one-time allowance spent first (docs/api.md)\n"
		"  --rng                a virtio-rng entropy device (host getrandom)\n"
		"  --net tap=NAME[,mac=MAC][,vhost=on|off|auto][,rx_bw=RATE][,tx_bw=RATE]\n"
		"            [,rx_ops=N][,tx_ops=N][,rx_bw_burst=BYTES][,tx_bw_burst=BYTES]...\n"
		"                       a virtio-net interface on an existing tap (up to %d); MAC\n"
		"                       default: derived from NAME; vhost-net when available (auto);\n"
		"                       rx_/tx_ limits: frame bytes/s and frames/s (no vhost then)\n"
		"  --vsock cid=N,uds=PATH\n"
		"                       a virtio-vsock device with guest CID N (3 or more): host\n"
		"                       programs connect to PATH and write \"CONNECT <port>\\n\"; guest\n"
		"                       connections to host port P go to PATH_P (docs/vsock.md)\n"
		"  --balloon amount_mib=N[,deflate_on_oom=on|off][,stats=S][,reporting=on|off]\n"
		"                       a virtio-balloon device: the guest gives N MiB back to the\n"
		"                       host; statistics every S seconds; free page reporting\n"
		"                       (docs/balloon.md; PATCH /balloon changes N at run time)\n"
		"  --virtio-console     a virtio console (Linux: hvc0): terminal input goes to it\n"
		"                       instead of COM1; the output of both reaches this terminal\n"
		"  --cpu-features LIST  hide CPU features from the guest, e.g. -xsave,-cx16\n"
		"  --pit, --no-pit      an in-kernel 8254 timer, or none; by default only a guest\n"
		"                       booted with acpi=off gets one (ACPI and PVH guests do not\n"
		"                       use it, and it slows VM exit)\n"
		"  --mem-hugepages      guest RAM in transparent huge pages (2 MiB): faster O_DIRECT\n"
		"                       disks and guest memory access, RSS grows in 2 MiB steps\n"
		"  --gdb-socket PATH    wait for gdb on Unix socket PATH before the first instruction\n"
		"                       (gdb: target remote PATH; docs/debugging.md)\n"
		"  --gdb-tcp 127.0.0.1:PORT\n"
		"                       the same on a loopback TCP port (0: any free port)\n"
		"  -v, --verbose        more messages (repeat for debug)\n"
		"  -q, --quiet          only errors\n"
		"\n"
		"exit status: the guest's debug-exit value v as (v << 1) | 1 (odd), 0 when the guest\n"
		"resets or powers off, 2 usage error, 4 bad kernel/initrd file, 6 host lacks KVM support,\n"
		"8 guest crashed (triple fault etc.), 10 VMM resource failure, 12 stopped by the user.\n"
		"\n"
		"features --cpu-features can hide: %s\n",
		CONFIG_MAX_CPUS, (unsigned long long)(X86_CMDLINE_MAX - 1), CONFIG_MAX_DISKS,
		CONFIG_MAX_NETS, names);
}

int config_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t v = 0;
	if (!isdigit((unsigned char)*p))
		goto bad;
	while (isdigit((unsigned char)*p)) {
		unsigned d = (unsigned)(*p++ - '0');
		if (v > (UINT64_MAX - d) / 10)
			goto too_big;
		v = v * 10 + d;
	}
	unsigned shift = 20; /* no suffix: MiB */
	switch (toupper((unsigned char)*p)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		p++;
		break;
	case 'M':
		shift = 20;
		p++;
		break;
	case 'G':
		shift = 30;
		p++;
		break;
	default:
		goto bad;
	}
	if (*p && strcmp(p, "iB") != 0 && strcmp(p, "B") != 0)
		goto bad;
	if (v > (UINT64_MAX >> shift))
		goto too_big;
	*bytes = v << shift;
	return 0;
bad:
	snprintf(err, errlen, "invalid size '%s': use a number of MiB or a size like 512M or 2G", s);
	return -1;
too_big:
	snprintf(err, errlen, "size '%s' is too large", s);
	return -1;
}

static int parse_mem(const char *s, uint64_t *mem, char *err, size_t errlen)
{
	if (config_parse_size(s, mem, err, errlen) < 0) {
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "--mem: %s", err);
		snprintf(err, errlen, "%s", tmp);
		return -1;
	}
	if (*mem < MACHINE_MEM_MIN) {
		snprintf(err, errlen, "--mem %s is too small: mote needs at least 2 MiB", s);
		return -1;
	}
	if (*mem > MACHINE_MEM_MAX) {
		snprintf(err, errlen, "--mem %s is too large: the limit is 256 GiB", s);
		return -1;
	}
	if (*mem % 4096) {
		snprintf(err, errlen, "--mem %s is not a whole number of 4 KiB pages", s);
		return -1;
	}
	return 0;
}

static int parse_cpus(const char *s, unsigned *cpus, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v < 1 || v > CONFIG_MAX_CPUS) {
		snprintf(err, errlen, "--cpus '%s': give a number from 1 to %d", s, CONFIG_MAX_CPUS);
		return -1;
	}
	*cpus = (unsigned)v;
	return 0;
}

/* --disk PATH[,ro][,direct][,serial=ID][,io=uring|sync]: PATH may not contain commas. */
static int parse_disk(const char *val, struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->ndisks == CONFIG_MAX_DISKS) {
		snprintf(err, errlen, "too many --disk options: at most %d", CONFIG_MAX_DISKS);
		return -1;
	}
	struct disk_config *d = &cfg->disks[cfg->ndisks];
	memset(d, 0, sizeof(*d));
	const char *comma = strchr(val, ',');
	size_t plen = comma ? (size_t)(comma - val) : strlen(val);
	if (plen == 0) {
		snprintf(err, errlen, "--disk needs a file: --disk PATH[,ro][,direct][,serial=ID]");
		return -1;
	}
	if (plen >= sizeof(d->path)) {
		snprintf(err, errlen, "--disk path is longer than %zu bytes", sizeof(d->path) - 1);
		return -1;
	}
	memcpy(d->path, val, plen);
	d->path[plen] = '\0';
	for (const char *p = comma; p && *p;) {
		p++; /* skip the comma */
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n == 2 && !strncmp(p, "ro", 2)) {
			d->read_only = true;
		} else if (n == 6 && !strncmp(p, "direct", 6)) {
			d->direct = true;
		} else if (n == 8 && !strncmp(p, "io=uring", 8)) {
			d->io = DISK_IO_URING;
		} else if (n == 7 && !strncmp(p, "io=sync", 7)) {
			d->io = DISK_IO_SYNC;
		} else if (n >= 3 && !strncmp(p, "io=", 3)) {
			snprintf(err, errlen, "--disk io='%.*s': use io=uring or io=sync", (int)(n - 3),
				 p + 3);
			return -1;
		} else if (n >= 7 && !strncmp(p, "serial=", 7)) {
			if (n - 7 > CONFIG_SERIAL_MAX) {
				snprintf(err, errlen, "--disk serial '%.*s' is longer than %d bytes",
					 (int)(n - 7), p + 7, CONFIG_SERIAL_MAX);
				return -1;
			}
			memcpy(d->serial, p + 7, n - 7);
			d->serial[n - 7] = '\0';
		} else {
			int r = rl_parse_cli(&d->rl, "", p, n, "--disk", err, errlen);
			if (r < 0)
				return -1;
			if (r == 0) {
				snprintf(err, errlen, "unknown --disk option '%.*s': use ro, direct, serial=ID, "
					 "io=uring|sync, bw=RATE, iops=N, bw_burst=BYTES or iops_burst=N",
					 (int)n, p);
				return -1;
			}
		}
		p = end;
	}
	cfg->ndisks++;
	return 0;
}

/* MAC "xx:xx:xx:xx:xx:xx" (hex, either case): 0, or -1 when malformed. */
static int parse_mac(const char *s, size_t n, uint8_t mac[6])
{
	if (n != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return -1;
		char hex[3] = {p[0], p[1], '\0'};
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return 0;
}

/* One key=value of --net. */
static int parse_net_opt(const char *p, size_t n, struct net_config *c, char *err, size_t errlen)
{
	if (n >= 4 && !strncmp(p, "tap=", 4)) {
		if (n - 4 == 0 || n - 4 > sizeof(c->tap) - 1) {
			snprintf(err, errlen, "--net tap='%.*s': give an interface name of 1 to %zu bytes",
				 (int)(n - 4), p + 4, sizeof(c->tap) - 1);
			return -1;
		}
		for (size_t i = 4; i < n; i++) {
			if (p[i] == '/' || p[i] == ':' || (unsigned char)p[i] <= ' ' || p[i] == 0x7f) {
				snprintf(err, errlen, "--net tap='%.*s': interface names may not contain "
					 "'/', ':', spaces or control characters", (int)(n - 4), p + 4);
				return -1;
			}
		}
		memcpy(c->tap, p + 4, n - 4);
		c->tap[n - 4] = '\0';
	} else if (n >= 4 && !strncmp(p, "mac=", 4)) {
		if (parse_mac(p + 4, n - 4, c->mac) < 0) {
			snprintf(err, errlen, "--net mac='%.*s': give six hex bytes like 02:00:00:00:00:01",
				 (int)(n - 4), p + 4);
			return -1;
		}
		if (c->mac[0] & 1) {
			snprintf(err, errlen, "--net mac=%.*s is a multicast address: the first byte "
				 "must be even (e.g. 02:...)", (int)(n - 4), p + 4);
			return -1;
		}
		static const uint8_t zero[6];
		if (!memcmp(c->mac, zero, 6)) {
			snprintf(err, errlen, "--net mac=%.*s: the all-zero address is not valid",
				 (int)(n - 4), p + 4);
			return -1;
		}
		c->mac_set = true;
	} else if (n >= 6 && !strncmp(p, "vhost=", 6)) {
		const char *v = p + 6;
		size_t vn = n - 6;
		if (vn == 2 && !strncmp(v, "on", 2))
			c->vhost = 1;
		else if (vn == 3 && !strncmp(v, "off", 3))
			c->vhost = 0;
		else if (vn == 4 && !strncmp(v, "auto", 4))
			c->vhost = -1;
		else {
			snprintf(err, errlen, "--net vhost='%.*s': use on, off or auto", (int)vn, v);
			return -1;
		}
	} else {
		int r = rl_parse_cli(&c->rx_rl, "rx_", p, n, "--net", err, errlen);
		if (r == 0)
			r = rl_parse_cli(&c->tx_rl, "tx_", p, n, "--net", err, errlen);
		if (r < 0)
			return -1;
		if (r == 0) {
			snprintf(err, errlen, "unknown --net option '%.*s': use tap=NAME, mac=MAC, "
				 "vhost=on|off|auto, rx_bw=RATE, tx_bw=RATE, rx_ops=N, tx_ops=N "
				 "(and *_burst=)", (int)n, p);
			return -1;
		}
	}
	return 0;
}

/* --net tap=NAME[,mac=MAC][,vhost=on|off|auto] */
static int parse_net(const char *val, struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->nnets == CONFIG_MAX_NETS) {
		snprintf(err, errlen, "too many --net options: at most %d", CONFIG_MAX_NETS);
		return -1;
	}
	struct net_config *c = &cfg->nets[cfg->nnets];
	memset(c, 0, sizeof(*c));
	c->vhost = -1;
	for (const char *p = val; p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (parse_net_opt(p, n, c, err, errlen) < 0)
			return -1;
		p = end ? end + 1 : NULL;
	}
	if (!c->tap[0]) {
		snprintf(err, errlen, "--net needs a tap: --net tap=NAME[,mac=MAC][,vhost=on|off|auto]");
		return -1;
	}
	if (rl_config_enabled(&c->rx_rl) || rl_config_enabled(&c->tx_rl)) {
		/* vhost-net moves frames in the kernel, past mote's limiters. */
		if (c->vhost == 1) {
			snprintf(err, errlen, "--net tap=%s: rate limiters need mote's own data path, "
				 "and vhost=on bypasses it: drop vhost=on or the limits", c->tap);
			return -1;
		}
		c->vhost = 0;
	}
	for (unsigned i = 0; i < cfg->nnets; i++) {
		if (!strcmp(cfg->nets[i].tap, c->tap)) {
			snprintf(err, errlen, "--net tap=%s is given twice: one device per tap", c->tap);
			return -1;
		}
		if (c->mac_set && cfg->nets[i].mac_set && !memcmp(cfg->nets[i].mac, c->mac, 6)) {
			snprintf(err, errlen, "--net tap=%s: its MAC is already used by tap %s", c->tap,
				 cfg->nets[i].tap);
			return -1;
		}
	}
	cfg->nnets++;
	return 0;
}

int config_check_vsock(const char *what, uint64_t cid, const char *uds, char *err, size_t errlen)
{
	if (cid < 3 || cid > 0xfffffffeull)
		return err_set(err, errlen, "%s: guest CID %llu: give 3 to 4294967294 (0-2 are reserved, "
			       "the upper 32 bits must be 0)", what, (unsigned long long)cid);
	size_t n = strlen(uds);
	if (n == 0 || n > CONFIG_VSOCK_PATH_MAX)
		return err_set(err, errlen, "%s: uds path of %zu bytes: give 1 to %d bytes (PATH_<port> "
			       "must fit a Unix socket address)", what, n, CONFIG_VSOCK_PATH_MAX);
	return 0;
}

/* --vsock cid=N,uds=PATH: PATH may not contain commas. */
static int parse_vsock(const char *val, struct vm_config *cfg, char *err, size_t errlen)
{
	struct vsock_config *v = &cfg->vsock;
	bool have_cid = false, have_uds = false;
	if (v->enabled)
		return err_set(err, errlen, "--vsock is given twice: a VM has one vsock device");
	for (const char *p = val; p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if ((n >= 4 && !strncmp(p, "cid=", 4) && have_cid) ||
		    (n >= 4 && !strncmp(p, "uds=", 4) && have_uds))
			return err_set(err, errlen, "--vsock %.3s= is given twice", p);
		if (n >= 4 && !strncmp(p, "cid=", 4)) {
			char num[24], *e;
			unsigned long long c = 0;
			bool ok = n - 4 > 0 && n - 4 < sizeof(num) && isdigit((unsigned char)p[4]);
			if (ok) {
				memcpy(num, p + 4, n - 4);
				num[n - 4] = '\0';
				errno = 0;
				c = strtoull(num, &e, 10);
				ok = !*e && !errno;
			}
			if (!ok)
				return err_set(err, errlen, "--vsock cid='%.*s': give a decimal number from 3 "
					       "to 4294967294", (int)(n - 4), p + 4);
			v->cid = c;
			have_cid = true;
		} else if (n >= 4 && !strncmp(p, "uds=", 4)) {
			if (n - 4 > CONFIG_VSOCK_PATH_MAX)
				return err_set(err, errlen, "--vsock uds= is longer than %d bytes (PATH_<port> must "
					       "fit a Unix socket address)", CONFIG_VSOCK_PATH_MAX);
			memcpy(v->uds, p + 4, n - 4);
			v->uds[n - 4] = '\0';
			have_uds = true;
		} else {
			return err_set(err, errlen, "unknown --vsock option '%.*s': use cid=N,uds=PATH",
				       (int)n, p);
		}
		p = end ? end + 1 : NULL;
	}
	if (!have_cid || !have_uds)
		return err_set(err, errlen, "--vsock needs both cid=N and uds=PATH");
	if (config_check_vsock("--vsock", v->cid, v->uds, err, errlen) < 0)
		return -1;
	v->enabled = true;
	return 0;
}

/* Matches "--name VALUE" or "--name=VALUE"; advances *i past a separate value. */
static int take_value(const char *opt, int argc, char *const argv[], int *i, const char **val,
		      char *err, size_t errlen, int *matched)
{
	const char *a = argv[*i];
	size_t n = strlen(opt);
	*matched = 0;
	if (strncmp(a, opt, n) != 0 || (a[n] != '\0' && a[n] != '='))
		return 0;
	*matched = 1;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 0;
	}
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "option %s needs a value (see mote --help)", opt);
		return -1;
	}
	*val = argv[++*i];
	return 0;
}

/* -v/--verbose (once more each) and -q/--quiet, which every command takes: whether a was one. */
static bool take_verbosity(const char *a, struct vm_config *cfg)
{
	if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
		cfg->verbosity++;
		return true;
	}
	if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
		cfg->verbosity = -1;
		return true;
	}
	return false;
}

static bool is_api_option(const char *a)
{
	static const char *const opts[] = {"--api-sock", "--config-file", "--id"};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		size_t n = strlen(opts[i]);
		if (!strncmp(a, opts[i], n) && (a[n] == '\0' || a[n] == '='))
			return true;
	}
	return false;
}

/* mote [-v|-q] --api-sock PATH | --config-file FILE [--api-sock PATH], plus --id ID. */
static enum config_action parse_api_mode(int argc, char *const argv[], int first,
					 struct vm_config *cfg, char *err, size_t errlen)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		int m;
		if (take_verbosity(a, cfg))
			continue;
		const char **slot = NULL;
		const char *names[] = {"--api-sock", "--config-file", "--id"};
		const char **slots[] = {&cfg->api_sock, &cfg->config_file, &cfg->instance_id};
		for (size_t k = 0; k < 3 && !slot; k++) {
			if (take_value(names[k], argc, argv, &i, &val, err, errlen, &m) < 0)
				return CONFIG_ERROR;
			if (m) {
				slot = slots[k];
				if (*slot) {
					snprintf(err, errlen, "%s given twice", names[k]);
					return CONFIG_ERROR;
				}
				if (!*val || strlen(val) >= CONFIG_PATH_MAX) {
					snprintf(err, errlen, "%s needs a value of 1 to %d bytes", names[k],
						 CONFIG_PATH_MAX - 1);
					return CONFIG_ERROR;
				}
			}
		}
		if (slot) {
			*slot = val;
			continue;
		}
		snprintf(err, errlen,
			 "'%s' cannot be combined with --api-sock/--config-file: the VM is configured "
			 "through the API or the file (see mote --help)", a);
		return CONFIG_ERROR;
	}
	if (!cfg->api_sock && !cfg->config_file) {
		snprintf(err, errlen, "--id needs --api-sock PATH or --config-file FILE");
		return CONFIG_ERROR;
	}
	if (cfg->instance_id && strlen(cfg->instance_id) > 64) {
		snprintf(err, errlen, "--id is longer than 64 bytes");
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}

/* mote restore --snapshot FILE --mem-file FILE [--paused] [--net-override IFACE=TAP]...
 * [--api-sock PATH] [--id ID] (docs/snapshot.md). */
static enum config_action parse_restore(int argc, char *const argv[], int first,
					struct vm_config *cfg, char *err, size_t errlen)
{
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		int m;
		if (take_verbosity(a, cfg))
			continue;
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return CONFIG_HELP;
		if (!strcmp(a, "--paused")) {
			cfg->restore_paused = true;
			continue;
		}
		if (!strcmp(a, "--track-dirty-pages")) { /* Diff snapshots of it, through the API */
			cfg->track_dirty = true;
			continue;
		}
		static const char *const names[] = {"--snapshot", "--mem-file", "--api-sock", "--id",
						    "--net-override"};
		const char **slots[] = {&cfg->restore_state, &cfg->restore_mem, &cfg->api_sock,
					&cfg->instance_id, NULL};
		size_t k = 0;
		for (; k < sizeof(names) / sizeof(names[0]); k++) {
			if (take_value(names[k], argc, argv, &i, &val, err, errlen, &m) < 0)
				return CONFIG_ERROR;
			if (m)
				break;
		}
		if (k == sizeof(names) / sizeof(names[0])) {
			snprintf(err, errlen, "mote restore: unknown option '%s' (see mote --help)", a);
			return CONFIG_ERROR;
		}
		if (!*val || strlen(val) >= CONFIG_PATH_MAX) {
			snprintf(err, errlen, "%s needs a value of 1 to %d bytes", names[k], CONFIG_PATH_MAX - 1);
			return CONFIG_ERROR;
		}
		if (!slots[k]) { /* --net-override: checked against the snapshot when it is read */
			if (cfg->nnet_overrides == CONFIG_MAX_NETS || !strchr(val, '=')) {
				snprintf(err, errlen, "--net-override %s: give IFACE=TAP, at most %d times",
					 val, CONFIG_MAX_NETS);
				return CONFIG_ERROR;
			}
			cfg->net_overrides[cfg->nnet_overrides++] = val;
			continue;
		}
		if (*slots[k]) {
			snprintf(err, errlen, "%s given twice", names[k]);
			return CONFIG_ERROR;
		}
		*slots[k] = val;
	}
	if (!cfg->restore_state || !cfg->restore_mem) {
		snprintf(err, errlen, "mote restore needs --snapshot FILE and --mem-file FILE");
		return CONFIG_ERROR;
	}
	if (cfg->track_dirty && !cfg->api_sock) {
		snprintf(err, errlen, "--track-dirty-pages needs --api-sock PATH: Diff snapshots are "
			 "taken through the API");
		return CONFIG_ERROR;
	}
	if (cfg->restore_paused && !cfg->api_sock) {
		snprintf(err, errlen, "--paused needs --api-sock PATH: nothing else could resume the VM");
		return CONFIG_ERROR;
	}
	if (cfg->instance_id && (!cfg->api_sock || strlen(cfg->instance_id) > 64)) {
		snprintf(err, errlen, "--id needs --api-sock and at most 64 bytes");
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}

/* --gdb-socket PATH, --gdb-tcp HOST:PORT (one of them, once). *m: whether argv[*i] was one. */
static int parse_gdb(int argc, char *const argv[], int *i, struct vm_config *cfg, int *m,
		     char *err, size_t errlen)
{
	const char *val = NULL;
	int v6;
	uint32_t ip4;
	uint16_t port;
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "--gdb-tcp" : "--gdb-socket";
		if (take_value(name, argc, argv, i, &val, err, errlen, m) < 0)
			return -1;
		if (!*m)
			continue;
		if (cfg->gdb_socket || cfg->gdb_tcp)
			return err_set(err, errlen, "%s: give one of --gdb-socket and --gdb-tcp, once", name);
		if (k ? gdb_parse_tcp(name, val, &v6, &ip4, &port, err, errlen)
		      : gdb_check_socket_path(name, val, err, errlen))
			return -1;
		*(k ? &cfg->gdb_tcp : &cfg->gdb_socket) = val;
		return 0;
	}
	return 0;
}

enum config_action config_parse(int argc, char *const argv[], struct vm_config *cfg, char *err,
				size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CONFIG_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->cmdline = "";

	/* -v / -q may also come before the command: mote -v run KERNEL. */
	int first = 1;
	for (; first < argc; first++) {
		if (!strcmp(argv[first], "-v") || !strcmp(argv[first], "--verbose"))
			cfg->verbosity++;
		else if (!strcmp(argv[first], "-q") || !strcmp(argv[first], "--quiet"))
			cfg->verbosity = -1;
		else
			break;
	}
	if (first >= argc) {
		snprintf(err, errlen, "no command given: try 'mote run KERNEL' or 'mote --help'");
		return CONFIG_ERROR;
	}
	const char *cmd = argv[first];
	if (is_api_option(cmd))
		return parse_api_mode(argc, argv, first, cfg, err, errlen);
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
		return CONFIG_HELP;
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V") || !strcmp(cmd, "version"))
		return CONFIG_VERSION;
	if (!strcmp(cmd, "restore"))
		return parse_restore(argc, argv, first + 1, cfg, err, errlen);
	if (strcmp(cmd, "run") != 0) {
		snprintf(err, errlen, "unknown command '%s': try 'mote run KERNEL' or 'mote --help'", cmd);
		return CONFIG_ERROR;
	}

	bool opts_done = false;
	for (int i = first + 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		int m;
		if (opts_done || a[0] != '-' || a[1] == '\0') {
			if (cfg->kernel) {
				snprintf(err, errlen, "unexpected argument '%s': give one KERNEL file", a);
				return CONFIG_ERROR;
			}
			cfg->kernel = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			opts_done = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return CONFIG_HELP;
		if (take_verbosity(a, cfg))
			continue;
		if (take_value("--mem", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (parse_mem(val, &cfg->mem_size, err, errlen) < 0)
				return CONFIG_ERROR;
			continue;
		}
		if (take_value("--cpus", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (parse_cpus(val, &cfg->cpus, err, errlen) < 0)
				return CONFIG_ERROR;
			continue;
		}
		if (take_value("--cmdline", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (strlen(val) > X86_CMDLINE_MAX - 1) {
				snprintf(err, errlen, "--cmdline is too long: %zu bytes, the limit is %llu",
					 strlen(val), (unsigned long long)(X86_CMDLINE_MAX - 1));
				return CONFIG_ERROR;
			}
			cfg->cmdline = val;
			continue;
		}
		if (take_value("--initrd", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (!*val) {
				snprintf(err, errlen, "--initrd needs a file name");
				return CONFIG_ERROR;
			}
			cfg->initrd = val;
			continue;
		}
		if (!strcmp(a, "--no-pit") || !strcmp(a, "--pit")) {
			cfg->pit = a[2] == 'p' ? PIT_ON : PIT_OFF;
			continue;
		}
		if (!strcmp(a, "--mem-hugepages")) {
			cfg->mem_hugepages = true;
			continue;
		}
		if (!strcmp(a, "--rng")) {
			cfg->rng = true;
			continue;
		}
		if (!strcmp(a, "--virtio-console")) {
			cfg->virtio_console = true;
			continue;
		}
		if (take_value("--disk", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (parse_disk(val, cfg, err, errlen) < 0)
				return CONFIG_ERROR;
			continue;
		}
		if (take_value("--net", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (parse_net(val, cfg, err, errlen) < 0)
				return CONFIG_ERROR;
			continue;
		}
		if (take_value("--vsock", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (parse_vsock(val, cfg, err, errlen) < 0)
				return CONFIG_ERROR;
			continue;
		}
		if (take_value("--balloon", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (config_parse_balloon(val, &cfg->balloon, err, errlen) < 0)
				return CONFIG_ERROR;
			continue;
		}
		if (take_value("--cpu-features", argc, argv, &i, &val, err, errlen, &m) < 0)
			return CONFIG_ERROR;
		if (m) {
			if (cpuid_parse_features(val, &cfg->hide, err, errlen) < 0)
				return CONFIG_ERROR;
			continue;
		}
		if (parse_gdb(argc, argv, &i, cfg, &m, err, errlen) < 0)
			return CONFIG_ERROR;
		if (m)
			continue;
		snprintf(err, errlen, "unknown option '%s' (see mote --help)", a);
		return CONFIG_ERROR;
	}
	if (!cfg->kernel) {
		snprintf(err, errlen, "no KERNEL given: usage: mote run [options] KERNEL");
		return CONFIG_ERROR;
	}
	if (cfg->balloon.enabled &&
	    config_check_balloon("--balloon", &cfg->balloon, cfg->mem_size, err, errlen) < 0)
		return CONFIG_ERROR;
	return CONFIG_RUN;
}
