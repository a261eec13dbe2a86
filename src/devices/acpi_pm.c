/* ACPI PM registers of a hardware-reduced machine. S5 and reset are the guest asking to go
 * away: the VM ends with MOTE_EXIT_OK (mote has no reboot). Suspend (any other SLP_TYP) is
 * not supported: the platform "wakes" at once (WAK_STS set), so the guest's wait for the
 * wake loop ends instead of spinning forever. Guest mistakes are rate-limited guest_error()s. */
#include "devices/acpi_pm.h"
#include "snapshot/stream.h"

#include <string.h>

#include "arch/x86/acpi.h"
#include "core/log.h"
#include "core/status.h"

#define SLP_TYP_MASK 0x07u

static void sleep_control_write(struct acpi_pm *pm, uint8_t v)
{
	if (!(v & ACPI_SLP_EN))
		return; /* SLP_TYP without SLP_EN only sets the field: nothing happens */
	unsigned typ = (v >> ACPI_SLP_TYP_SHIFT) & SLP_TYP_MASK;
	if (typ == ACPI_S5_SLP_TYP) {
		log_info("guest powered off (ACPI S5)");
		stop_request(pm->stop, MOTE_EXIT_OK, NULL);
		return;
	}
	guest_error("ACPI sleep type %u is not supported (only S5, power off); waking at once",
		    typ);
	atomic_fetch_or_explicit(&pm->sleep_status, ACPI_WAK_STS, memory_order_relaxed);
}

static void reset_write(struct acpi_pm *pm, uint8_t v)
{
	if (v != ACPI_RESET_VALUE) {
		guest_error("ACPI reset register: value 0x%02x ignored (reset is 0x%02x)", v,
			    ACPI_RESET_VALUE);
		return;
	}
	log_info("guest reset through the ACPI reset register");
	stop_request(pm->stop, MOTE_EXIT_OK, NULL);
}

static void pm_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct acpi_pm *pm = dev;
	memset(data, 0, len);
	/* Sleep control (SLP_EN is write-only) and reset read as 0. */
	for (uint32_t i = 0; i < len; i++)
		if (off + i == ACPI_PM_SLEEP_STATUS)
			data[i] = (uint8_t)atomic_load_explicit(&pm->sleep_status,
								memory_order_relaxed);
}

/* A wider access touches several registers; each byte goes to its own, in address order. */
static void pm_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct acpi_pm *pm = dev;
	for (uint32_t i = 0; i < len; i++) {
		switch (off + i) {
		case ACPI_PM_SLEEP_CONTROL:
			sleep_control_write(pm, data[i]);
			break;
		case ACPI_PM_SLEEP_STATUS: /* write 1 to clear */
			atomic_fetch_and_explicit(&pm->sleep_status, ~(unsigned)data[i],
						  memory_order_relaxed);
			break;
		case ACPI_PM_RESET:
			reset_write(pm, data[i]);
			break;
		default:
			break;
		}
	}
}

const struct bus_ops acpi_pm_ops = {.read = pm_read, .write = pm_write};

void acpi_pm_init(struct acpi_pm *pm, struct vm_stop *stop)
{
	pm->stop = stop;
	atomic_init(&pm->sleep_status, 0);
}

void acpi_pm_save(struct acpi_pm *pm, struct snap_out *o)
{
	snap_put_u32(o, 1);
	snap_put_u8(o, (uint8_t)atomic_load(&pm->sleep_status));
}

int acpi_pm_load(struct acpi_pm *pm, struct snap_in *in, char *err, size_t errlen)
{
	uint32_t ver = snap_get_u32(in);
	uint8_t st = snap_get_u8(in);
	if (!snap_in_done(in) || ver != 1)
		return err_set(err, errlen, "ACPI PM state: truncated, too long or an unknown version");
	if (st != 0 && st != ACPI_WAK_STS)
		return err_set(err, errlen, "ACPI PM state: sleep status 0x%x is not one the device has", st);
	atomic_store(&pm->sleep_status, st);
	return 0;
}
