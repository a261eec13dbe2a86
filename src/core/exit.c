/* Exit policy: I/O goes to the buses; everything else is a decision made here.
 * Inputs are hostile (guest-chosen addresses and sizes); nothing here trusts them. */
#include "core/exit.h"

#include <string.h>

#include "core/log.h"
#include "core/status.h"

static void do_io(const struct exit_ctx *ctx, const struct exit_info *e)
{
	const struct bus *bus = e->kind == EXIT_IO ? ctx->pio : ctx->mmio;
	uint8_t *p = e->data;

	for (uint32_t i = 0; i < e->count; i++, p += e->size) {
		if (bus_access(bus, e->addr, e->is_write, p, e->size))
			continue;
		if (!e->is_write)
			memset(p, 0xff, e->size);
		guest_error("vCPU %u: unhandled %s %s at 0x%llx (size %u)%s", ctx->vcpu,
			    e->kind == EXIT_IO ? "port" : "MMIO", e->is_write ? "write" : "read",
			    (unsigned long long)e->addr, e->size,
			    e->is_write ? ", dropped" : ", reads as all ones");
		/* One report per string instruction is enough. */
		if (!e->is_write && e->count > 1)
			memset(p, 0xff, (size_t)(e->count - i) * e->size);
		break;
	}
}

enum exit_action exit_handle(const struct exit_ctx *ctx, struct exit_info *e, const char **why)
{
	*why = NULL;
	switch (e->kind) {
	case EXIT_IO:
	case EXIT_MMIO:
		if (!e->data || e->size == 0 || e->size > BUS_MAX_ACCESS || e->count == 0) {
			*why = "malformed I/O exit from the hypervisor";
			return EXIT_ACT_FATAL;
		}
		do_io(ctx, e);
		break;
	case EXIT_INTR:
		break;
	case EXIT_SYSTEM_SHUTDOWN:
		stop_request(ctx->stop, MOTE_EXIT_OK, NULL);
		break;
	case EXIT_SYSTEM_RESET:
		stop_request(ctx->stop, MOTE_EXIT_OK, NULL);
		break;
	case EXIT_HLT:
		*why = "guest halted with interrupts that can never arrive (HLT exit)";
		return EXIT_ACT_FATAL;
	case EXIT_SHUTDOWN:
		*why = "guest triple fault (KVM_EXIT_SHUTDOWN)";
		return EXIT_ACT_FATAL;
	case EXIT_SYSTEM_CRASH:
		*why = "guest reported a crash (system event)";
		return EXIT_ACT_FATAL;
	case EXIT_INTERNAL_ERROR:
		*why = "the hypervisor could not emulate a guest instruction (KVM_EXIT_INTERNAL_ERROR)";
		return EXIT_ACT_FATAL;
	case EXIT_FAIL_ENTRY:
		*why = "the CPU refused to enter the guest (KVM_EXIT_FAIL_ENTRY)";
		return EXIT_ACT_FATAL;
	case EXIT_UNKNOWN:
	default:
		*why = "unexpected exit reason from the hypervisor";
		return EXIT_ACT_FATAL;
	}
	return stop_requested(ctx->stop) ? EXIT_ACT_STOP : EXIT_ACT_CONTINUE;
}
