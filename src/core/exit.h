/* VM exits as plain data, and the policy for each kind.
 * Owns: the decoded exit (struct exit_info, filled by the KVM layer from its run page)
 * and exit_handle(), which routes I/O to the buses and decides what every other exit
 * means. No KVM headers here, so every path is unit-testable with synthetic exits. */
#ifndef MOTE_CORE_EXIT_H
#define MOTE_CORE_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/stop.h"

enum exit_kind {
	EXIT_IO,              /* port I/O */
	EXIT_MMIO,            /* access to guest-physical space that is not RAM */
	EXIT_HLT,             /* guest halted with nothing to wake it (no in-kernel irqchip) */
	EXIT_SHUTDOWN,        /* triple fault */
	EXIT_SYSTEM_SHUTDOWN, /* hypervisor-reported power off */
	EXIT_SYSTEM_RESET,    /* hypervisor-reported reset */
	EXIT_SYSTEM_CRASH,    /* hypervisor-reported guest crash */
	EXIT_INTERNAL_ERROR,  /* the hypervisor could not emulate something */
	EXIT_FAIL_ENTRY,      /* the CPU refused to enter the guest (bad state) */
	EXIT_INTR,            /* KVM_RUN interrupted by a signal: a kick, not a guest event */
	EXIT_UNKNOWN,
};

struct exit_info {
	enum exit_kind kind;
	/* EXIT_IO / EXIT_MMIO: count elements of size bytes at data (count > 1 only for
	 * string port I/O). data is owned by the caller and holds size * count bytes. */
	uint64_t addr;
	uint32_t size;
	uint32_t count;
	bool is_write;
	uint8_t *data;
	/* Other kinds: the hypervisor's raw reason and detail code, for messages. */
	uint32_t raw_reason;
	uint64_t code;
};

struct exit_ctx {
	const struct bus *pio;
	const struct bus *mmio;
	struct vm_stop *stop;
	unsigned vcpu;
};

enum exit_action {
	EXIT_ACT_CONTINUE, /* re-enter the guest */
	EXIT_ACT_STOP,     /* a stop was requested: leave the run loop */
	EXIT_ACT_FATAL,    /* the guest cannot continue: the caller dumps state and stops with
			      MOTE_EXIT_GUEST_FAULT, using *why */
};

/* Handles one exit. Unclaimed reads see all-ones bytes and unclaimed writes are dropped
 * (as on a real bus), each reported through guest_error(). Never aborts on guest input. */
enum exit_action exit_handle(const struct exit_ctx *ctx, struct exit_info *e, const char **why);

#endif
