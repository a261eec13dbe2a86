/* A minimal Solo5 hvt bindings layer for mote's test unikernels, written from the ABI
 * (struct layouts and constants only): hypercall wrappers, the manifest and ABI notes,
 * device lookup in the manifest the tender passed, a tiny printf, CPU exception reporting. */
#ifndef HVT_RT_H
#define HVT_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { HC_WALLTIME = 1, HC_PUTS, HC_POLL, HC_BLOCK_WRITE, HC_BLOCK_READ, HC_NET_WRITE,
       HC_NET_READ, HC_HALT };
enum { R_OK = 0, R_AGAIN = 1, R_EINVAL = 2, R_EUNSPEC = 3 };
enum { DEV_BLOCK = 1, DEV_NET = 2, DEV_RESERVED_FIRST = 1u << 30 };

struct boot_info {
	uint64_t mem_size, kernel_end, cpu_cycle_freq;
	const char *cmdline;
	const void *mft;
	uint32_t host_features, guest_features; /* Solo5 0.12: bit 0 = the net ring */
	uint64_t net_ring;
};

/* Solo5 0.12's shared-memory net ring (the layout from the ABI's facts: 64-byte lines for
 * the unikernel's and the tender's indexes, 1024 entries of 32 bytes, 1024 commits of 16). */
#define RING_SIZE 1024u
#define RING_KICK_PORT 0x600
enum { RING_OP_WRITE = 1, RING_OP_READ = 2 };
struct ring_entry { uint32_t op, handle; uint64_t data; uint32_t len, id; uint64_t reserved; };
struct ring_commit { uint32_t id; int32_t ret; uint32_t len, reserved; };
struct ring {
	volatile uint32_t ent_tail, com_head; /* ours */
	uint8_t pad0[56];
	volatile uint32_t ent_head, com_tail, needs_kick; /* the tender's */
	uint8_t pad1[52];
	struct ring_entry e[RING_SIZE];
	struct ring_commit c[RING_SIZE];
};
_Static_assert(sizeof(struct ring) == 49280, "ring");
/* The ring the tender offers, or NULL. */
struct ring *ring_get(void);
/* Queues one entry (waits while the ring is full) and kicks the tender if it sleeps. */
void ring_put(struct ring *r, uint32_t op, uint64_t handle, const void *buf, uint32_t len,
	      uint32_t id);
/* Reads one frame through the ring: one read entry, then waits for its commit. Returns the
 * commit's result (R_OK with *len set, R_AGAIN when no frame was waiting). */
int ring_net_read(struct ring *r, uint64_t handle, void *buf, uint64_t *len);

/* One manifest entry, 104 bytes. */
struct mft_entry {
	char name[68];
	uint32_t type;
	union {
		struct { uint64_t capacity; uint16_t block_size; } blk;
		struct { uint8_t mac[6]; uint16_t mtu; } net;
	} u;
	uint64_t host;
	bool attached;
};
_Static_assert(sizeof(struct mft_entry) == 104, "mft_entry");

/* The manifest note of N entries (entry 0 reserved) in section .note.solo5.manifest. */
#define MFT_NOTE(N, ...)                                                                   \
	struct mft_note_##N {                                                              \
		uint32_t namesz, descsz, type;                                             \
		char name[8];                                                              \
		struct {                                                                   \
			uint32_t version, entries;                                         \
			struct mft_entry e[N];                                             \
		} m; /* 8-aligned: 4 bytes of padding after the 20-byte header */          \
	};                                                                                 \
	__attribute__((section(".note.solo5.manifest"), used, aligned(8)))                \
	const struct mft_note_##N mft_note = {                                             \
		.namesz = 6, .descsz = sizeof(struct mft_note_##N) - 20,                   \
		.type = 0x3154464d, .name = "Solo5",                                       \
		.m = {.version = 1, .entries = N,                                          \
		      .e = {{.name = "", .type = DEV_RESERVED_FIRST}, __VA_ARGS__}}}

extern const struct boot_info *bi;

/* The test's entry (after the runtime set up its GDT and IDT). Returns the exit status. */
int hvt_main(const char *cmdline);

void hypercall(int nr, volatile void *arg);
void hypercall_mmio(int nr, volatile void *arg);
void puts_n(const char *s, size_t n);
void printf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void halt(int status, void *cookie) __attribute__((noreturn));
uint64_t walltime(void);
uint64_t rdtsc(void);
int poll_ns(uint64_t timeout_ns, uint64_t *ready);
int block_io(bool write, uint64_t handle, uint64_t off, void *buf, uint64_t len);
int net_write(uint64_t handle, const void *buf, uint64_t len);
int net_read(uint64_t handle, void *buf, uint64_t *len);
/* Handle of the attached device `name` of `type` in the tender's manifest, or -1. */
int acquire(const char *name, uint32_t type, const struct mft_entry **e);
bool streq(const char *a, const char *b);
bool starts(const char *s, const char *prefix);
size_t slen(const char *s);
void *mset(void *d, int c, size_t n);
void *mcpy(void *d, const void *s, size_t n);

#endif
