/* The GDB stub: the remote protocol's commands over a target that lists vCPUs, reads and
 * writes their state and their guest-virtual memory, and runs or single-steps them (all-stop:
 * while gdb looks, every vCPU is stopped). The stub owns the breakpoints: software ones are
 * int3 bytes it patches into guest memory (and hides from reads), hardware breakpoints and
 * watchpoints are debug-register slots (DR0-DR3, DR7) it hands to the target on each resume.
 * A software breakpoint (Z0) takes a free debug register first (no guest memory changes: it
 * works on read-only text, and on hosts that cannot intercept int3), an int3 when all four
 * debug registers are in use.
 * Pure code: no sockets, no KVM; every packet is hostile (see packet.h), every answer to a
 * bad one is an error reply. */
#ifndef MOTE_GDB_STUB_H
#define MOTE_GDB_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"
#include "gdb/packet.h"

#define GDB_MAX_SWBP 64
#define GDB_NSLOTS 4 /* DR0-DR3 */

/* The debug state a resume applies to every vCPU (KVM_SET_GUEST_DEBUG). */
struct gdb_hwdebug {
	bool sw_bp;       /* int3 exits to the stub instead of reaching the guest */
	uint64_t dr[GDB_NSLOTS];
	uint64_t dr7;     /* 0: no hardware breakpoints */
};

/* Why the target stopped while running. */
enum gdb_stop_kind { GDB_STOP_DEBUG, GDB_STOP_INTERRUPT, GDB_STOP_EXITED };
struct gdb_stop {
	enum gdb_stop_kind kind;
	unsigned cpu;       /* DEBUG, INTERRUPT: the vCPU to report */
	uint32_t exception; /* DEBUG: 1 (#DB: step, hardware breakpoint) or 3 (#BP: int3);
			       0: the guest crashed its vCPU (reported as SIGSEGV) */
	uint64_t dr6;       /* DEBUG */
	uint64_t pc;        /* DEBUG: the guest's rip as the exit reported it */
	int status;         /* EXITED: the VM's exit status */
};

struct gdb_target_ops {
	unsigned (*ncpus)(void *t);
	int (*get_state)(void *t, unsigned cpu, struct x86_cpu_state *s); /* 0 or -1 */
	int (*set_state)(void *t, unsigned cpu, const struct x86_cpu_state *s);
	/* Guest-virtual memory as vCPU cpu sees it: the bytes done (up to len; fewer at the first
	 * unmapped or unwritable page). */
	size_t (*read_mem)(void *t, unsigned cpu, uint64_t va, uint8_t *buf, size_t len);
	size_t (*write_mem)(void *t, unsigned cpu, uint64_t va, const uint8_t *buf, size_t len);
	/* Lets the guest run: every vCPU (step_cpu < 0) or vCPU step_cpu alone, one instruction.
	 * The target later reports the stop with gdb_stub_stopped. 0 or -1. */
	int (*resume)(void *t, int step_cpu, const struct gdb_hwdebug *d);
	void (*interrupt)(void *t); /* 0x03 while running: stop every vCPU, then report */
	void (*kill)(void *t);      /* 'k': end the VM */
	/* Sends bytes to gdb (the whole buffer, or the connection is dead). */
	void (*send)(void *t, const char *buf, size_t len);
};

enum gdb_slot_type { SLOT_FREE, SLOT_EXEC, SLOT_WRITE, SLOT_ACCESS };

struct gdb_swbp {
	uint64_t addr;
	uint8_t saved;
};

struct gdb_slot {
	enum gdb_slot_type type;
	uint64_t addr;
	unsigned len;      /* 1, 2, 4, 8 */
	int zt;            /* the Z type that asked (0 .. 4) */
	uint64_t req_addr; /* the request it belongs to (a watch may take several slots) */
	uint64_t req_len;
};

enum gdb_state { GDB_STOPPED, GDB_RUNNING, GDB_DETACHED, GDB_KILLED };

struct gdb_stub {
	const struct gdb_target_ops *ops;
	void *t;
	enum gdb_state state;
	bool no_ack;
	unsigned g_cpu;     /* Hg: registers and memory */
	int c_cpu;          /* Hc: -1 = all */
	unsigned nswbp;
	struct gdb_swbp swbp[GDB_MAX_SWBP];
	struct gdb_slot slot[GDB_NSLOTS];
	char stop_reply[64];
	struct gdb_rx rx;
	size_t out_len;
	char out[GDB_PACKET_MAX + 64];
	size_t frame_len;   /* the last frame sent, for a '-' */
	char frame[GDB_FRAME_MAX];
	uint8_t scratch[GDB_PACKET_MAX];
};

/* The stub starts stopped (the VM waits before its first instruction, on vCPU 0). */
void gdb_stub_init(struct gdb_stub *s, const struct gdb_target_ops *ops, void *t);

/* Bytes received from gdb. Returns the state afterwards. */
enum gdb_state gdb_stub_input(struct gdb_stub *s, const uint8_t *buf, size_t n);

/* The target stopped (it was running): sends the stop reply. Returns the state afterwards. */
enum gdb_state gdb_stub_stopped(struct gdb_stub *s, const struct gdb_stop *st);

/* gdb went away without detaching: breakpoints out, debugging off, the guest runs on. The
 * caller has stopped the target first (a running target was resumed with the old debug
 * state, whose breakpoints would otherwise still fire). */
void gdb_stub_drop(struct gdb_stub *s);

#endif
