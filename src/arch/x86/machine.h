/* The x86 board: RAM layout around the device hole, the port map and the device inventory.
 * This is the one visible place that lists every device and picks its address and IRQ. */
#ifndef MOTE_ARCH_X86_MACHINE_H
#define MOTE_ARCH_X86_MACHINE_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "core/bus.h"
#include "core/guest_mem.h"
#include "core/irq.h"
#include "core/stop.h"
#include "arch/x86/acpi.h"
#include "devices/acpi_pm.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "devices/vmgenid.h"
#include "virtio/device.h"

#define MACHINE_COM1_PORT 0x3f8
#define MACHINE_COM1_IRQ 4
#define MACHINE_I8042_DATA_PORT 0x60
#define MACHINE_I8042_CMD_PORT 0x64
#define MACHINE_I8042_IRQ 1
#define MACHINE_POST_PORT 0x80
#define MACHINE_DEBUG_EXIT_PORT 0xf4
#define MACHINE_PCI_CONF_PORT 0xcf8 /* config mechanism #1: no PCI, reads all ones */
/* COM2-COM4 are absent (8 ports each, reads all ones): Linux's 8250 driver probes them on every
 * boot, which is normal guest behaviour, so they are quiet rather than "guest error" lines. */
#define MACHINE_COM2_PORT 0x2f8
#define MACHINE_COM3_PORT 0x3e8
#define MACHINE_COM4_PORT 0x2e8
/* The CMOS/RTC ports (0x70-0x77, with the extended bank) are absent too: Linux writes the warm-reset code there
 * before starting each secondary vCPU (SMP boot), and reads nothing it needs. */
#define MACHINE_CMOS_PORT 0x70
/* The ISA DMA page registers (0x81-0x8f; 0x80 is the POST port) are absent: a kernel built with
 * ISA DMA support reads 0x87 once to find the 8237 (all ones: none, as on chipsets since 2015). */
#define MACHINE_DMA_PAGE_PORT 0x81
#define MACHINE_DMA_PAGE_PORTS 15
/* The VM generation ID's Generic Event Device (devices/vmgenid.h): ISA line 3, which no device
 * of this board uses (COM2's by convention; there is no COM2). */
#define MACHINE_VMGENID_GSI 3

/* virtio-mmio windows in the device hole, one GSI each: the first eight on IOAPIC pins 16-23
 * (away from the ISA IRQs the in-kernel 8259 also sees), then the ISA lines no device of this
 * board uses (machine_virtio_gsi): 5, 6, 7, 9, 10, 11, 14, 15. Taken: 0 the PIT, 1 the i8042
 * keyboard, 2 the 8259 cascade, 3 the VM generation ID's event device, 4 COM1, 8 the RTC, 12 the i8042 aux
 * port, 13 the FPU. A hardware-reduced ACPI machine has no SCI. The DSDT and the
 * virtio_mmio.device= fragments both take the GSI from machine_virtio_list. */
#define MACHINE_VIRTIO_BASE 0xd0000000ull
#define MACHINE_VIRTIO_STRIDE 0x1000ull
#define MACHINE_VIRTIO_GSI 16
#define MACHINE_MAX_VIRTIO 16 /* 6 disks + 4 nets + rng + console fit */

#define MACHINE_MEM_MIN (2ull << 20)   /* 2 MiB */
#define MACHINE_MEM_MAX (256ull << 30) /* 256 GiB */

struct machine_virtio {
	struct virtio_dev *dev;
	uint64_t base; /* window of VIRTIO_MMIO_WINDOW bytes */
	unsigned gsi;
};

struct machine {
	struct bus pio;
	struct bus mmio;
	struct uart8250 com1;
	struct i8042 kbc;
	struct acpi_pm pm;
	struct machine_virtio virtio[MACHINE_MAX_VIRTIO];
	size_t nvirtio;
	struct vmgenid genid; /* machine_add_vmgenid; genid.gm NULL: none */
};

/* Guest RAM regions for mem bytes: [0, min(mem, 3 GiB)) and, above the device hole,
 * [4 GiB, 4 GiB + rest). Returns the number of regions written to r (at most 2). */
size_t machine_mem_layout(uint64_t mem, struct gm_region *r);

/* The memory map the guest is told about (RAM below 640 KiB, from 1 MiB, above 4 GiB).
 * Returns the number of entries written (at most max). */
size_t machine_mem_map(const struct guest_mem *gm, struct mem_map_entry *map, size_t max);

/* Creates the devices and registers them on the buses. set_irq/irq_ctx deliver interrupts. */
int machine_init(struct machine *m, struct vm_stop *stop,
		 void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx,
		 const struct uart_host *console, char *err, size_t errlen);
void machine_destroy(struct machine *m);

/* Places a virtio device in the next window with the next GSI and registers its transport on
 * the MMIO bus. Returns 0, or -1 with err set (too many devices). */
int machine_add_virtio(struct machine *m, struct virtio_dev *d, char *err, size_t errlen);

/* The GSI of virtio slot i (< MACHINE_MAX_VIRTIO). */
unsigned machine_virtio_gsi(size_t i);

/* The placed virtio windows, as ACPI describes them (and the command line names them). */
size_t machine_virtio_list(const struct machine *m, struct acpi_mmio_dev *out, size_t max);

/* Attaches the VM generation ID (devices/vmgenid.h) at X86_VMGENID_GPA, its event device on
 * MACHINE_VMGENID_GSI (a boot then writes a fresh ID with vmgenid_boot; a restore calls
 * vmgenid_regenerate(&m->genid, ...)). After guest memory exists. 0, or -1 with err set. */
int machine_add_vmgenid(struct machine *m, const struct guest_mem *gm,
			void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx,
			char *err, size_t errlen);

#endif
