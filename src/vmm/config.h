/* Command line -> struct vm_config. Pure: no files opened, no KVM; every value checked here
 * is reported as a one-line message naming the option and how to fix it. */
#ifndef MOTE_CONFIG_H
#define MOTE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "arch/x86/cpuid.h"
#include "core/ratelimit.h"

#define CONFIG_DEFAULT_MEM (128ull << 20)
#define CONFIG_MAX_CPUS 64
#define CONFIG_MAX_DISKS 6       /* with --rng and --virtio-console: 8 virtio-mmio devices */
#define CONFIG_SERIAL_MAX 20     /* virtio-blk GET_ID: 20 bytes */

#define CONFIG_PATH_MAX 4096
#define CONFIG_MAX_NETS 4

/* --net tap=NAME[,mac=MAC][,vhost=on|off|auto] (virtio-net) */
struct net_config {
	char tap[16];       /* interface name, NUL-terminated, at most 15 bytes */
	uint8_t mac[6];
	bool mac_set;       /* false: a stable MAC is generated from the tap name */
	int vhost;          /* -1 auto (default), 0 off, 1 on */
	struct rl_config rx_rl, tx_rl; /* rx_bw=, tx_ops=, ...: rate limiters (0: none) */
};

/* --vsock cid=N,uds=PATH (virtio-vsock, host side on Unix sockets: docs/vsock.md) */
#define CONFIG_VSOCK_PATH_MAX 96 /* PATH_<port> must fit a Unix socket address (108 bytes) */
struct vsock_config {
	bool enabled;
	uint64_t cid;                          /* 3 .. 0xfffffffe */
	char uds[CONFIG_VSOCK_PATH_MAX + 1];   /* host programs connect here; PATH_<port> */
};

/* Checks a guest CID and a socket path for --vsock and PUT /vsock; what names the source in
 * the message. 0, or -1 with a one-line reason in err. */
int config_check_vsock(const char *what, uint64_t cid, const char *uds, char *err, size_t errlen);

/* --balloon amount_mib=N[,deflate_on_oom=on|off][,stats=S][,reporting=on|off] and PUT /balloon
 * (virtio-balloon: docs/balloon.md). */
#define CONFIG_BALLOON_STATS_MAX 65535u /* seconds (Firecracker: u16) */
struct balloon_config {
	bool enabled;
	uint32_t amount_mib;        /* the initial target, at most the guest's RAM */
	bool deflate_on_oom;
	unsigned stats_interval_s;  /* 0: no statistics */
	bool reporting;             /* free page reporting */
};

/* Checks a balloon configuration against guest RAM of mem_size bytes; what names the source
 * in the message. 0, or -1 with a one-line reason in err. */
int config_check_balloon(const char *what, const struct balloon_config *b, uint64_t mem_size,
			 char *err, size_t errlen);
/* The value of --balloon into cfg->balloon (config_balloon.c). 0, or -1 with err set. */
int config_parse_balloon(const char *val, struct balloon_config *b, char *err,
			 size_t errlen);

enum { DISK_IO_AUTO = 0, DISK_IO_SYNC = 1, DISK_IO_URING = 2 };

struct disk_config {
	char path[CONFIG_PATH_MAX];
	bool read_only;
	bool direct;             /* O_DIRECT */
	int io;                  /* DISK_IO_AUTO (uring when the kernel has it), _SYNC, _URING */
	char serial[CONFIG_SERIAL_MAX + 1];
	struct rl_config rl;     /* bw=, iops=, ...: the rate limiter (0: none) */
};

struct vm_config {
	const char *kernel;
	const char *initrd;  /* NULL: none */
	const char *cmdline; /* never NULL after parsing ("" by default) */
	uint64_t mem_size;   /* bytes, a multiple of 4 KiB */
	unsigned cpus;
	struct cpuid_hide hide; /* --cpu-features */
	struct disk_config disks[CONFIG_MAX_DISKS];
	unsigned ndisks;
	struct net_config nets[CONFIG_MAX_NETS];
	unsigned nnets;
	bool rng;               /* --rng: a virtio entropy device */
	struct vsock_config vsock; /* --vsock */
	/* The in-kernel 8254 PIT: PIT_AUTO (the default) creates it only for a guest that turns
	 * ACPI off (`acpi=off` on its command line: legacy Linux wants the PIT there); --pit and
	 * --no-pit force it on or off. Linux on mote's hardware-reduced ACPI machine, PVH guests
	 * and unikernels never use it, and it costs VM teardown time (docs/performance.md). */
	enum config_pit { PIT_AUTO, PIT_ON, PIT_OFF } pit;
	bool mem_hugepages;     /* --mem-hugepages: anonymous guest RAM in transparent huge pages */
	bool virtio_console;    /* --virtio-console: terminal input goes to it, not to COM1 */
	int verbosity;          /* 0 default (warnings), -1 quiet, 1.. more */
	/* API mode (mote --api-sock PATH [--config-file FILE]): kernel is NULL after parsing and
	 * the API or the config file fills the rest (src/api/). */
	const char *api_sock;   /* NULL: no API socket */
	const char *config_file; /* NULL: configure through the API */
	const char *instance_id; /* --id: the instance id GET / reports ("anonymous-instance") */
	struct balloon_config balloon; /* --balloon */
	/* A GDB stub (docs/debugging.md): the VM waits for gdb on this Unix socket or loopback
	 * HOST:PORT before its first instruction. NULL: none. */
	const char *gdb_socket;
	const char *gdb_tcp;
	/* mote restore (or PUT /snapshot/load): resume a snapshot instead of booting a kernel
	 * (docs/snapshot.md). The machine comes from the state file, not from these fields. */
	const char *restore_state;  /* NULL: boot KERNEL */
	const char *restore_mem;    /* the memory file */
	bool restore_paused;        /* --paused / resume_vm false: vCPUs wait for PATCH /vm */
	const char *net_overrides[CONFIG_MAX_NETS]; /* --net-override IFACE=TAP */
	unsigned nnet_overrides;
	bool track_dirty;           /* track_dirty_pages: dirty logging for Diff snapshots */
};

enum config_action { CONFIG_RUN, CONFIG_HELP, CONFIG_VERSION, CONFIG_ERROR };

enum config_action config_parse(int argc, char *const argv[], struct vm_config *cfg, char *err,
				size_t errlen);

/* "128" (MiB), "512M", "2G", "65536K", "1GiB". Returns 0, or -1 with err set. */
int config_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

void config_usage(FILE *out);

#endif
