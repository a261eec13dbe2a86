/* The solo5-hvt (0.12.1) compatible command line:
 *   mote hvt [--mem=MiB] [--block:NAME=PATH] [--block-sector-size:NAME=N]
 *            [--net:NAME=IFACE|@FD] [--net-mac:NAME=MAC] [-v|-q] [--] UNIKERNEL [ARGS...]
 * (the same words after `solo5-hvt` when mote is started through a link of that name).
 * Pure: no files opened; each error is one line naming the argument and the fix, and
 * contains solo5-hvt's own wording for the same error where it has one. */
#ifndef MOTE_HVT_CLI_H
#define MOTE_HVT_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hvt/abi.h"

#define HVT_DEFAULT_MEM_MIB 512u  /* as solo5-hvt */
#define HVT_MAX_MEM (4ull << 30)  /* as solo5-hvt: RAM is [0, 4 GiB) at most, no hole */
#define HVT_MEM_PAGE (2ull << 20) /* RAM comes in whole 2 MiB pages */
#define HVT_IFNAME_MAX 15
#define HVT_MAX_DEVICES (MFT_MAX_ENTRIES - 1) /* entry 0 is reserved */

#define HVT_SECTOR_DEFAULT 512u
#define HVT_SECTOR_MAX 32768u     /* the manifest's block_size is 16 bits */

struct hvt_cli_dev {
	char name[MFT_NAME_SIZE];
	const char *path;              /* --block: the file (points into argv) */
	uint32_t sector_size;          /* --block: from --block-sector-size, else 512 */
	char iface[HVT_IFNAME_MAX + 1]; /* --net: the tap interface ("" with fd) */
	int fd;                         /* --net:NAME=@FD: an inherited tap descriptor, else -1 */
};

struct hvt_cli_mac {
	char name[MFT_NAME_SIZE];
	uint8_t mac[6];
};

struct hvt_cli_sector {
	char name[MFT_NAME_SIZE];
	uint32_t size;
};

/* The scalars first, the arrays after: a run touches the first page and the entries it uses. */
struct hvt_cli {
	uint64_t mem_size;  /* bytes: --mem rounded down to whole 2 MiB pages, at least 2 MiB */
	bool mem_adjusted;  /* the rounding changed what --mem asked for (solo5-hvt warns) */
	int verbosity;      /* -1 quiet, 0 default, 1 -v */
	const char *kernel;
	const char *gdb_socket; /* --gdb-socket=PATH: wait for gdb there (docs/debugging.md) */
	int nargs;          /* unikernel arguments */
	char *const *args;
	unsigned nblocks, nnets, nmacs, nsectors;
	struct hvt_cli_dev blocks[HVT_MAX_DEVICES];
	struct hvt_cli_dev nets[HVT_MAX_DEVICES];
	struct hvt_cli_mac macs[HVT_MAX_DEVICES];
	struct hvt_cli_sector sectors[HVT_MAX_DEVICES]; /* --block-sector-size */
};

enum hvt_cli_action { HVT_CLI_RUN, HVT_CLI_HELP, HVT_CLI_VERSION, HVT_CLI_ERROR };

/* argv[0] is the program (or "hvt" after `mote`); options start at argv[1]. The arrays of
 * *out are valid up to their counts only. */
enum hvt_cli_action hvt_cli_parse(int argc, char *const argv[], struct hvt_cli *out, char *err,
				  size_t errlen);

/* Guest command line: the arguments joined by single spaces. Returns 0, or -1 with err set
 * when it does not fit in HVT_CMDLINE_SIZE bytes (NUL included). */
int hvt_cli_cmdline(const struct hvt_cli *c, char *buf, size_t size, char *err, size_t errlen);

/* solo5-hvt's usage text (the same options and lines), then mote's own options. */
void hvt_cli_usage(FILE *out, const char *prog);

#endif
