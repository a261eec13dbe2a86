/* The hardware-reduced ACPI sleep and reset registers (FADT SLEEP_CONTROL_REG,
 * SLEEP_STATUS_REG, RESET_REG): one byte each, at offsets 0, 1 and 2 of an ACPI_PM_PORTS
 * window. S5 (power off) and reset end the VM with status 0; other sleep types are refused
 * by waking at once. The machine file picks the ports (ACPI_SLEEP_CONTROL_PORT, ...). */
#ifndef MOTE_DEVICES_ACPI_PM_H
#define MOTE_DEVICES_ACPI_PM_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/stop.h"

#define ACPI_PM_SLEEP_CONTROL 0 /* offsets inside the window */
#define ACPI_PM_SLEEP_STATUS 1
#define ACPI_PM_RESET 2
#define ACPI_WAK_STS 0x80 /* sleep status: the platform woke; write 1 to clear */

/* No lock: the only state is one atomic byte; stop_request() serialises itself. */
struct acpi_pm {
	struct vm_stop *stop;
	atomic_uint sleep_status; /* ACPI_WAK_STS or 0 */
};

extern const struct bus_ops acpi_pm_ops; /* dev: struct acpi_pm *, window ACPI_PM_PORTS */

/* Nothing to destroy. */
void acpi_pm_init(struct acpi_pm *pm, struct vm_stop *stop);

/* Snapshots: the sleep status byte. */
struct snap_out;
struct snap_in;
void acpi_pm_save(struct acpi_pm *pm, struct snap_out *o);
int acpi_pm_load(struct acpi_pm *pm, struct snap_in *in, char *err, size_t errlen);

#endif
