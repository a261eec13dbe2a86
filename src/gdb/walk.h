/* Guest virtual -> guest physical, as the guest's MMU would: a page-table walker for the
 * x86 paging modes (none, 32-bit, PAE, 4-level and 5-level), reading the tables only through
 * the guest-memory gate. For the debugger: a page that is not present, or a table outside
 * guest RAM, is "not mapped" (an error to gdb), never a fault in mote. Access rights (U/S,
 * R/W, NX) are not checked: a debugger reads what the guest kernel could. */
#ifndef MOTE_GDB_WALK_H
#define MOTE_GDB_WALK_H

#include <stdint.h>

#include "core/guest_mem.h"

struct x86_paging {
	uint64_t cr0, cr3, cr4, efer;
};

/* Translates va. Returns 0 with *gpa and *left (bytes from va to the end of its page, >= 1),
 * or -1 when va is not mapped (not present, not canonical, beyond 4 GiB without long mode,
 * or a table outside guest RAM). */
int walk_translate(const struct guest_mem *gm, const struct x86_paging *p, uint64_t va,
		   uint64_t *gpa, uint64_t *left);

#endif
