/* solo5-hvt compatible argument parsing (see cli.h). Options end at the first word that
 * does not start with '-', or after "--"; the rest is the unikernel and its arguments. */
#include "hvt/cli.h"

#include <limits.h>
#include <string.h>

#include "core/log.h"
#include "gdb/addr.h"

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* "NAME=VALUE" after the option prefix: NAME is 1..MFT_NAME_MAX letters or digits. */
static int split_name(const char *opt, const char *s, char *name, const char **value, char *err,
		      size_t errlen)
{
	size_t n = 0;
	while (is_alnum(s[n]))
		n++;
	if (n > MFT_NAME_MAX)
		return err_set(err, errlen, "Invalid option: `%s': device name longer than %d "
				            "characters", opt, MFT_NAME_MAX);
	if (s[n] != '=' || n == 0)
		return err_set(err, errlen, "Invalid option: `%s': expected %.*sNAME=VALUE with "
				            "NAME made of letters and digits", opt, (int)(s - opt), opt);
	memcpy(name, s, n);
	name[n] = '\0';
	*value = s + n + 1;
	return 0;
}

/* --mem=MiB as solo5-hvt: a whole number of MiB, rounded down to whole 2 MiB pages (at
 * least one), at most 4 GiB after the rounding. solo5-hvt's sscanf also takes trailing
 * characters ("512M" is 512); mote refuses them rather than guess. */
static int parse_mem(const char *opt, const char *v, struct hvt_cli *c, char *err, size_t errlen)
{
	uint64_t mib = 0;
	bool big = false;
	if (!*v)
		return err_set(err, errlen, "%s: Malformed argument to --mem: expected a number "
				            "of MiB, e.g. --mem=512", opt);
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return err_set(err, errlen, "%s: Malformed argument to --mem: expected a "
					            "whole number of MiB, e.g. --mem=512", opt);
		if (!big)
			mib = mib * 10 + (uint64_t)(*p - '0');
		big |= mib > (HVT_MAX_MEM >> 20) * 2;
	}
	if (mib == 0)
		return err_set(err, errlen, "%s: Malformed argument to --mem: guest memory cannot "
				            "be 0 MiB", opt);
	uint64_t bytes = big ? UINT64_MAX : mib << 20;
	uint64_t rounded = bytes & ~(uint64_t)(HVT_MEM_PAGE - 1);
	if (rounded == 0)
		rounded = HVT_MEM_PAGE;
	if (rounded > HVT_MAX_MEM)
		return big ? err_set(err, errlen, "%s: guest memory size exceeds the max size %llu "
					          "bytes (4096 MiB)", opt, HVT_MAX_MEM)
			   : err_set(err, errlen, "%s: guest memory size %llu bytes exceeds the max "
					          "size %llu bytes (4096 MiB)", opt,
				     (unsigned long long)rounded, HVT_MAX_MEM);
	c->mem_size = rounded;
	c->mem_adjusted = rounded != bytes;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_mac(const char *opt, const char *v, uint8_t mac[6], char *err, size_t errlen)
{
	for (int i = 0; i < 6; i++) {
		int hi = hexval(v[0]), lo = hi < 0 ? -1 : hexval(v[1]);
		char sep = lo < 0 ? 'x' : v[2];
		if (hi < 0 || lo < 0 || sep != (i == 5 ? '\0' : ':'))
			return err_set(err, errlen, "%s: expected a MAC address like 02:00:00:00:00:01",
				       opt);
		mac[i] = (uint8_t)(hi << 4 | lo);
		v += 3;
	}
	if (mac[0] & 1)
		return err_set(err, errlen, "%s: a multicast address cannot name a network device",
			       opt);
	return 0;
}

/* @FD of --net:NAME=@FD: a decimal descriptor number the process inherited (0 to INT_MAX). */
static int parse_fd(const char *opt, const char *v, int *fd, char *err, size_t errlen)
{
	long long n = 0;
	if (!*v)
		return err_set(err, errlen, "%s: expected @FD, a file descriptor number", opt);
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return err_set(err, errlen, "%s: Could not attach interface: @%s: Invalid "
					            "argument (expected @FD, a descriptor number)", opt, v);
		n = n * 10 + (*p - '0');
		if (n > INT_MAX)
			return err_set(err, errlen, "%s: Could not attach interface: @%s: Numerical "
					            "result out of range", opt, v);
	}
	*fd = (int)n;
	return 0;
}

static bool name_taken(const struct hvt_cli *c, const char *name)
{
	for (unsigned i = 0; i < c->nblocks; i++)
		if (!strcmp(c->blocks[i].name, name))
			return true;
	for (unsigned i = 0; i < c->nnets; i++)
		if (!strcmp(c->nets[i].name, name))
			return true;
	return false;
}

static int add_device(struct hvt_cli *c, const char *opt, bool net, const char *s, char *err,
		      size_t errlen)
{
	char name[MFT_NAME_SIZE];
	const char *v;
	if (split_name(opt, s, name, &v, err, errlen) < 0)
		return -1;
	if (name_taken(c, name))
		return err_set(err, errlen, "%s: device '%s' is attached twice", opt, name);
	if (c->nblocks + c->nnets >= HVT_MAX_DEVICES)
		return err_set(err, errlen, "%s: too many devices (at most %d)", opt,
			       HVT_MAX_DEVICES);
	struct hvt_cli_dev *d = net ? &c->nets[c->nnets] : &c->blocks[c->nblocks];
	memset(d, 0, sizeof(*d));
	memcpy(d->name, name, sizeof(name));
	if (!*v)
		return err_set(err, errlen, "%s: empty %s", opt, net ? "interface name" : "path");
	if (net) {
		d->fd = -1;
		if (v[0] == '@') {
			if (parse_fd(opt, v + 1, &d->fd, err, errlen) < 0)
				return -1;
		} else if (strlen(v) > HVT_IFNAME_MAX) {
			return err_set(err, errlen, "%s: Could not attach interface: %s: File name "
					            "too long (interface names have at most %d "
					            "characters)", opt, v, HVT_IFNAME_MAX);
		} else {
			memcpy(d->iface, v, strlen(v) + 1);
		}
		c->nnets++;
	} else {
		d->path = v;
		d->sector_size = HVT_SECTOR_DEFAULT;
		c->nblocks++;
	}
	return 0;
}

static int add_mac(struct hvt_cli *c, const char *opt, const char *s, char *err, size_t errlen)
{
	struct hvt_cli_mac m;
	const char *v;
	if (split_name(opt, s, m.name, &v, err, errlen) < 0 ||
	    parse_mac(opt, v, m.mac, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < c->nmacs; i++)
		if (!strcmp(c->macs[i].name, m.name))
			return err_set(err, errlen, "%s: MAC of '%s' given twice", opt, m.name);
	if (c->nmacs >= HVT_MAX_DEVICES)
		return err_set(err, errlen, "%s: too many --net-mac options", opt);
	c->macs[c->nmacs++] = m;
	return 0;
}

/* --block-sector-size:NAME=N, N a power of two from 512 to HVT_SECTOR_MAX (solo5-hvt 0.7.4+). */
static int add_sector_size(struct hvt_cli *c, const char *opt, const char *s, char *err,
			   size_t errlen)
{
	char name[MFT_NAME_SIZE];
	const char *v;
	uint64_t n = 0;
	if (split_name(opt, s, name, &v, err, errlen) < 0)
		return -1;
	for (const char *p = v; *p && n <= HVT_SECTOR_MAX; p++) {
		if (*p < '0' || *p > '9') {
			n = 0;
			break;
		}
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n < HVT_SECTOR_DEFAULT || n > HVT_SECTOR_MAX || (n & (n - 1)))
		return err_set(err, errlen, "%s: Block size must be a multiple of 2 greater than or "
				            "equal 512: a power of two from %u to %u", opt,
			       HVT_SECTOR_DEFAULT, HVT_SECTOR_MAX);
	for (unsigned i = 0; i < c->nsectors; i++)
		if (!strcmp(c->sectors[i].name, name))
			return err_set(err, errlen, "%s: sector size of '%s' given twice", opt, name);
	if (c->nsectors >= HVT_MAX_DEVICES)
		return err_set(err, errlen, "%s: too many --block-sector-size options", opt);
	memcpy(c->sectors[c->nsectors].name, name, sizeof(name));
	c->sectors[c->nsectors++].size = (uint32_t)n;
	return 0;
}

static int parse_option(struct hvt_cli *c, const char *a, char *err, size_t errlen)
{
	if (!strncmp(a, "--mem=", 6))
		return parse_mem(a, a + 6, c, err, errlen);
	if (!strncmp(a, "--block-sector-size:", 20))
		return add_sector_size(c, a, a + 20, err, errlen);
	if (!strncmp(a, "--block:", 8))
		return add_device(c, a, false, a + 8, err, errlen);
	if (!strncmp(a, "--net:", 6))
		return add_device(c, a, true, a + 6, err, errlen);
	if (!strncmp(a, "--net-mac:", 10))
		return add_mac(c, a, a + 10, err, errlen);
	if (!strncmp(a, "--gdb-socket=", 13)) {
		if (c->gdb_socket)
			return err_set(err, errlen, "%s: --gdb-socket is given twice", a);
		c->gdb_socket = a + 13;
		return gdb_check_socket_path("--gdb-socket", c->gdb_socket, err, errlen);
	}
	if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
		c->verbosity = 1;
		return 0;
	}
	if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
		c->verbosity = -1;
		return 0;
	}
	/* solo5-hvt's optional modules: not in its default build (0.12.1 has core, block, net). */
	if (!strcmp(a, "--dumpcore") || !strncmp(a, "--dumpcore=", 11))
		return err_set(err, errlen, "Invalid option: `%s': solo5-hvt's dumpcore module "
				            "is not supported by mote (its default build has none)", a);
	if (!strcmp(a, "--x-exec-heap"))
		return err_set(err, errlen, "Invalid option: `%s': an executable heap is refused "
				            "(mote enforces W^X)", a);
	return err_set(err, errlen, "Invalid option: `%s' (see --help)", a);
}

enum hvt_cli_action hvt_cli_parse(int argc, char *const argv[], struct hvt_cli *out, char *err,
				  size_t errlen)
{
	int i = 1;

	/* Only the scalars: the arrays are filled entry by entry and read up to their counts
	 * (so parsing touches no more of them than the command line names). */
	out->mem_size = (uint64_t)HVT_DEFAULT_MEM_MIB << 20;
	out->mem_adjusted = false;
	out->nblocks = out->nnets = out->nmacs = out->nsectors = 0;
	out->verbosity = 0;
	out->kernel = NULL;
	out->gdb_socket = NULL;
	out->nargs = 0;
	out->args = NULL;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return HVT_CLI_HELP;
		if (!strcmp(a, "--version"))
			return HVT_CLI_VERSION;
		if (parse_option(out, a, err, errlen) < 0)
			return HVT_CLI_ERROR;
	}
	if (i >= argc) {
		err_set(err, errlen, "Missing KERNEL operand: name the unikernel file to run (see "
			"--help)");
		return HVT_CLI_ERROR;
	}
	if (!argv[i][0]) {
		err_set(err, errlen, "empty UNIKERNEL file name");
		return HVT_CLI_ERROR;
	}
	for (unsigned m = 0; m < out->nmacs; m++) {
		bool found = false;
		for (unsigned n = 0; n < out->nnets; n++)
			found |= !strcmp(out->nets[n].name, out->macs[m].name);
		if (!found) {
			err_set(err, errlen, "--net-mac:%s: no --net:%s=IFACE to give it to",
				out->macs[m].name, out->macs[m].name);
			return HVT_CLI_ERROR;
		}
	}
	for (unsigned k = 0; k < out->nsectors; k++) {
		bool found = false;
		for (unsigned b = 0; b < out->nblocks; b++) {
			if (!strcmp(out->blocks[b].name, out->sectors[k].name)) {
				out->blocks[b].sector_size = out->sectors[k].size;
				found = true;
			}
		}
		if (!found) {
			err_set(err, errlen, "--block-sector-size:%s: no --block:%s=PATH to give it to",
				out->sectors[k].name, out->sectors[k].name);
			return HVT_CLI_ERROR;
		}
	}
	out->kernel = argv[i++];
	out->nargs = argc - i;
	out->args = argv + i;
	return HVT_CLI_RUN;
}

int hvt_cli_cmdline(const struct hvt_cli *c, char *buf, size_t size, char *err, size_t errlen)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < c->nargs; i++) {
		size_t l = strlen(c->args[i]);
		size_t need = l + (i > 0);
		if (need >= size - n)
			return err_set(err, errlen, "unikernel arguments too long: at most %zu "
					            "characters", size - 1);
		if (i > 0)
			buf[n++] = ' ';
		memcpy(buf + n, c->args[i], l);
		n += l;
		buf[n] = '\0';
	}
	return 0;
}

void hvt_cli_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [ CORE OPTIONS ] [ MODULE OPTIONS ] [ -- ] KERNEL [ ARGS ]\n"
		"KERNEL is the filename of the unikernel to run.\n"
		"ARGS are optional arguments passed to the unikernel.\n"
		"Core options:\n"
		"  [ --mem=512 ] (guest memory in MB)\n"
		"    --help (display this help)\n"
		"    --version (display version information)\n"
		"Compiled-in modules: core block net \n"
		"Compiled-in module options:\n"
		"    --block:NAME=PATH (attach block device/file at PATH as block storage NAME)\n"
		"  [ --block-sector-size:NAME=SECTORSIZE ] (set sector size for block device NAME; "
		"must be a power of two greater than or equal 512)\n"
		"    --net:NAME=IFACE | @NN (attach tap at IFACE or at fd @NN as network NAME)\n"
		"  [ --net-mac:NAME=HWADDR ] (set HWADDR for network NAME)\n"
		"mote options:\n"
		"  [ -v | -q ] (more or fewer messages from mote on stderr)\n"
		"  [ --gdb-socket=PATH ] (wait for gdb on Unix socket PATH before the first "
		"instruction)\n",
		prog);
}
