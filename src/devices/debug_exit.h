/* The isa-debug-exit convention (as QEMU's device): a write of value v ends the VM with
 * process status (v << 1) | 1, so test guests report results through the exit status.
 * Also absent_ops: a window where the board has nothing but guests are known to look
 * (the POST-code port, PCI configuration without PCI): reads all ones, writes dropped, silently. */
#ifndef MOTE_DEVICES_DEBUG_EXIT_H
#define MOTE_DEVICES_DEBUG_EXIT_H

#include "core/bus.h"
#include "core/stop.h"

#define DEBUG_EXIT_SIZE 4 /* bytes of port space, as iosize=4 */

extern const struct bus_ops debug_exit_ops; /* dev: struct vm_stop * */
extern const struct bus_ops absent_ops;     /* dev: unused */

#endif
