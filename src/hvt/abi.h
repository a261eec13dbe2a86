/* The Solo5 hvt guest ABI, version 2, as facts: constants, and the byte layouts of the boot
 * info, the hypercall argument structs, the manifest (MFT1 note) and the ABI1 note. Written
 * from Solo5's public headers (include/solo5/hvt_abi.h, mft_abi.h, elf_abi.h); no Solo5 code.
 * Every struct here is what the guest shares with the tender: the tender copies it out of
 * guest memory through the gate, checks the copy, and writes back only output fields.
 * No KVM, no guest memory access here. */
#ifndef MOTE_HVT_ABI_H
#define MOTE_HVT_ABI_H

#include <stddef.h>
#include <stdint.h>

#define HVT_ABI_VERSION 2
#define HVT_ABI_TARGET 1          /* enum abi_target: HVT_ABI_TARGET = 1 */
#define HVT_GUEST_MIN_BASE 0x100000ull /* lowest address a unikernel segment may load at */

/* x86: `outl %eax, $(HVT_HYPERCALL_PIO_BASE + nr)` with eax = the 32-bit guest-physical
 * address of the argument struct. */
#define HVT_HYPERCALL_PIO_BASE 0x500u
/* The MMIO encoding (the ABI's aarch64 mechanism, accepted on x86 too): a 32-bit store of the
 * argument address to HVT_HYPERCALL_MMIO_BASE + (nr << 3). */
#define HVT_HYPERCALL_MMIO_BASE 0x100000000ull

#define HVT_CMDLINE_SIZE 8192u    /* guest command line, including the NUL */
#define HVT_HALT_COOKIE_MAX 512u  /* bytes the halt cookie must point to */

enum hvt_hypercall {
	HVT_HYPERCALL_WALLTIME = 1,
	HVT_HYPERCALL_PUTS = 2,
	HVT_HYPERCALL_POLL = 3,
	HVT_HYPERCALL_BLOCK_WRITE = 4,
	HVT_HYPERCALL_BLOCK_READ = 5,
	HVT_HYPERCALL_NET_WRITE = 6,
	HVT_HYPERCALL_NET_READ = 7,
	HVT_HYPERCALL_HALT = 8,
	HVT_HYPERCALL_MAX = 9,
};

/* solo5_result_t */
enum { SOLO5_R_OK = 0, SOLO5_R_AGAIN = 1, SOLO5_R_EINVAL = 2, SOLO5_R_EUNSPEC = 3 };
#define SOLO5_EXIT_ABORT 255      /* the status solo5_abort() halts with */

/* Passed by address (rdi) to the unikernel's entry point. The last three fields are
 * Solo5 0.12's: older unikernels read only the first five, which keep their offsets. */
struct hvt_boot_info {
	uint64_t mem_size;       /* bytes the unikernel may use: [0, mem_size) */
	uint64_t kernel_end;     /* first free guest-physical byte after the kernel */
	uint64_t cpu_cycle_freq; /* TSC frequency, Hz */
	uint64_t cmdline;        /* guest-physical address of a NUL-terminated string */
	uint64_t mft;            /* guest-physical address of struct mft */
	uint32_t host_features;  /* HVT_FEATURE_* the tender offers */
	uint32_t guest_features; /* zero; the tender does not read it */
	uint64_t net_ring;       /* HVT_FEATURE_NET_RING: the ring's guest-physical address */
};
#define HVT_FEATURE_NET_RING 0x1u

/* The shared-memory network ring (Solo5 0.12, host_features & HVT_FEATURE_NET_RING): one
 * struct hvt_ring at boot_info.net_ring == mem_size, in a 2 MiB block at the top of guest
 * RAM that mem_size leaves out. The unikernel produces entries (ent_tail), the tender
 * consumes them in order (ent_head) and produces one commit per read entry (com_tail) that
 * the unikernel consumes (com_head); indexes run freely, slot = index % HVT_RING_SIZE. A
 * write entry sends data[0..len) on the handle's tap and has no commit; a read entry reads
 * one frame into data[0..len) and commits {id, ret (solo5_result_t), len}. The tender sets
 * needs_kick before it sleeps: the unikernel then writes 32 bits to port HVT_RING_KICK_PORT
 * after adding entries (a KVM ioeventfd, no exit to the tender). */
#define HVT_RING_SIZE 1024u
#define HVT_RING_OP_NET_WRITE 1u
#define HVT_RING_OP_NET_READ 2u
#define HVT_RING_KICK_PORT 0x600u
#define HVT_RING_BLOCK 0x200000ull /* bytes reserved at the top of RAM for the ring */
struct hvt_ring_entry { uint32_t operation, handle; uint64_t data; uint32_t len, id; uint64_t reserved; };
struct hvt_ring_commit { uint32_t id; int32_t ret; uint32_t len, reserved; };
/* Byte offsets inside struct hvt_ring (64-byte lines: the unikernel's, then the tender's). */
#define HVT_RING_ENT_TAIL 0        /* uint32, written by the unikernel */
#define HVT_RING_COM_HEAD 4        /* uint32, written by the unikernel */
#define HVT_RING_ENT_HEAD 64       /* uint32, written by the tender */
#define HVT_RING_COM_TAIL 68       /* uint32, written by the tender */
#define HVT_RING_NEEDS_KICK 72     /* uint32, written by the tender */
#define HVT_RING_ENTRIES 128       /* struct hvt_ring_entry[HVT_RING_SIZE] */
#define HVT_RING_COMMITS (HVT_RING_ENTRIES + HVT_RING_SIZE * 32)
#define HVT_RING_BYTES (HVT_RING_COMMITS + HVT_RING_SIZE * 16)

struct hvt_hc_walltime { uint64_t nsecs; };
struct hvt_hc_puts { uint64_t data; uint64_t len; };
struct hvt_hc_block_write { uint64_t handle, offset, data, len; int32_t ret; uint32_t pad; };
struct hvt_hc_block_read { uint64_t handle, offset, data, len; int32_t ret; uint32_t pad; };
struct hvt_hc_net_write { uint64_t handle, data, len; int32_t ret; uint32_t pad; };
struct hvt_hc_net_read { uint64_t handle, data, len; int32_t ret; uint32_t pad; };
struct hvt_hc_poll { uint64_t timeout_nsecs, ready_set; int32_t ret; uint32_t pad; };
struct hvt_hc_halt { uint64_t cookie; int32_t exit_status; uint32_t pad; };

_Static_assert(sizeof(struct hvt_boot_info) == 56, "hvt_boot_info layout");
_Static_assert(offsetof(struct hvt_boot_info, net_ring) == 48, "hvt_boot_info layout");
_Static_assert(sizeof(struct hvt_ring_entry) == 32, "hvt_ring_entry layout");
_Static_assert(sizeof(struct hvt_ring_commit) == 16, "hvt_ring_commit layout");
_Static_assert(HVT_RING_BYTES == 49280, "hvt_ring layout");
_Static_assert(sizeof(struct hvt_hc_puts) == 16, "hvt_hc_puts layout");
_Static_assert(sizeof(struct hvt_hc_block_write) == 40, "hvt_hc_block_write layout");
_Static_assert(offsetof(struct hvt_hc_block_read, ret) == 32, "hvt_hc_block_read layout");
_Static_assert(sizeof(struct hvt_hc_net_read) == 32, "hvt_hc_net_read layout");
_Static_assert(offsetof(struct hvt_hc_net_write, ret) == 24, "hvt_hc_net_write layout");
_Static_assert(sizeof(struct hvt_hc_poll) == 24, "hvt_hc_poll layout");
_Static_assert(sizeof(struct hvt_hc_halt) == 16, "hvt_hc_halt layout");

/* The x86 trap frame Solo5 bindings pass as the halt cookie after a CPU exception. */
struct hvt_trap_regs { uint64_t cr2, ec, rip, cs, rflags, rsp, ss; };

/* ELF notes: name "Solo5" (6 bytes with the NUL, padded to 8), header 20 bytes. */
#define SOLO5_NOTE_NAME "Solo5"
#define HVT_NOTE_ABI1 0x31494241u /* "ABI1": struct abi1_info, 16 bytes */
#define HVT_NOTE_MFT1 0x3154464du /* "MFT1": 4 bytes of alignment padding, then struct mft */
#define HVT_ABI1_DESC_SIZE 16u    /* abi_target, abi_version, reserved0, reserved1 */
#define HVT_MFT1_DESC_PAD 4u      /* struct mft is 8-aligned after the 20-byte note header */

/* The manifest (struct mft, MFT_VERSION 1): a 8-byte header then entries of 104 bytes. */
#define MFT_VERSION 1
#define MFT_MAX_ENTRIES 64
#define MFT_NAME_SIZE 68          /* bytes, including the NUL */
#define MFT_NAME_MAX 67
#define MFT_HDR_SIZE 8            /* uint32 version, uint32 entries */
#define MFT_ENTRY_SIZE 104
#define MFT_MAX_SIZE (MFT_HDR_SIZE + MFT_MAX_ENTRIES * MFT_ENTRY_SIZE)
enum mft_type {
	MFT_DEV_BLOCK_BASIC = 1,
	MFT_DEV_NET_BASIC = 2,
	MFT_RESERVED_FIRST = 1u << 30,
};
/* Byte offsets inside one entry. */
#define MFT_E_NAME 0
#define MFT_E_TYPE 68             /* uint32 */
#define MFT_E_BLK_CAPACITY 72     /* uint64 */
#define MFT_E_BLK_BLOCK_SIZE 80   /* uint16 */
#define MFT_E_NET_MAC 72          /* uint8[6] */
#define MFT_E_NET_MTU 78          /* uint16 */
#define MFT_E_HOST 88             /* 8 bytes private to the tender (host fd): zero in the guest */
#define MFT_E_ATTACHED 96         /* bool */

#endif
