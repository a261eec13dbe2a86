/* The x86 board. The device inventory is the body of machine_init(), in port order. */
#include "arch/x86/machine.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/acpi.h"
#include "devices/debug_exit.h"
#include "virtio/mmio.h"

size_t machine_mem_layout(uint64_t mem, struct gm_region *r)
{
	uint64_t low = mem < X86_HOLE_START ? mem : X86_HOLE_START;
	size_t n = 0;
	r[n++] = (struct gm_region){.gpa = 0, .size = low};
	if (mem > low)
		r[n++] = (struct gm_region){.gpa = X86_HOLE_END, .size = mem - low};
	return n;
}

size_t machine_mem_map(const struct guest_mem *gm, struct mem_map_entry *map, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < gm->nregions && n < max; i++) {
		const struct gm_region *r = &gm->regions[i];
		if (r->gpa == 0) {
			/* Low RAM: the first 640 KiB (minus the EBDA) and from 1 MiB up; between
			 * them the legacy BIOS area, which holds mote's ACPI tables. */
			map[n++] = (struct mem_map_entry){0, X86_EBDA_START, MEM_RAM};
			if (n < max)
				map[n++] = (struct mem_map_entry){X86_EBDA_START,
								  X86_HIMEM_START - X86_EBDA_START,
								  MEM_RESERVED};
			if (r->size > X86_HIMEM_START && n < max)
				map[n++] = (struct mem_map_entry){X86_HIMEM_START,
								  r->size - X86_HIMEM_START, MEM_RAM};
		} else {
			map[n++] = (struct mem_map_entry){r->gpa, r->size, MEM_RAM};
		}
	}
	return n;
}

static int reg(struct bus *bus, uint64_t base, uint64_t size, const struct bus_ops *ops,
	       void *dev, const char *name, char *err, size_t errlen)
{
	if (bus_register(bus, base, size, ops, dev, name) == 0)
		return 0;
	snprintf(err, errlen, "cannot place %s at %s 0x%llx: %s", name, bus->name,
		 (unsigned long long)base, strerror(errno));
	return -1;
}

int machine_init(struct machine *m, struct vm_stop *stop,
		 void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx,
		 const struct uart_host *console, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	bus_init(&m->pio, "port");
	bus_init(&m->mmio, "MMIO address");

	const struct irq_line com1_irq = {.set = set_irq, .ctx = irq_ctx, .gsi = MACHINE_COM1_IRQ};
	uart_init(&m->com1, &com1_irq, console);
	i8042_init(&m->kbc, stop);
	i8042_set_irq(&m->kbc, &(struct irq_line){.set = set_irq, .ctx = irq_ctx, .gsi = MACHINE_I8042_IRQ});
	acpi_pm_init(&m->pm, stop);

	if (reg(&m->pio, MACHINE_I8042_DATA_PORT, 1, &i8042_data_ops, &m->kbc, "i8042 data", err, errlen) ||
	    reg(&m->pio, MACHINE_I8042_CMD_PORT, 1, &i8042_cmd_ops, &m->kbc, "i8042 command", err, errlen) ||
	    reg(&m->pio, MACHINE_POST_PORT, 1, &absent_ops, NULL, "POST code", err, errlen) ||
	    reg(&m->pio, MACHINE_DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, &debug_exit_ops, stop, "debug-exit", err, errlen) ||
	    reg(&m->pio, MACHINE_COM1_PORT, UART_REG_COUNT, &uart8250_ops, &m->com1, "COM1", err, errlen) ||
	    reg(&m->pio, ACPI_SLEEP_CONTROL_PORT, ACPI_PM_PORTS, &acpi_pm_ops, &m->pm, "ACPI PM", err, errlen) ||
	    reg(&m->pio, MACHINE_PCI_CONF_PORT, 8, &absent_ops, NULL, "PCI config (no PCI)", err, errlen) ||
	    reg(&m->pio, MACHINE_COM2_PORT, UART_REG_COUNT, &absent_ops, NULL, "COM2 (absent)", err, errlen) ||
	    reg(&m->pio, MACHINE_COM3_PORT, UART_REG_COUNT, &absent_ops, NULL, "COM3 (absent)", err, errlen) ||
	    reg(&m->pio, MACHINE_COM4_PORT, UART_REG_COUNT, &absent_ops, NULL, "COM4 (absent)", err, errlen) ||
	    reg(&m->pio, MACHINE_CMOS_PORT, 8, &absent_ops, NULL, "CMOS/RTC (absent)", err, errlen) ||
	    reg(&m->pio, MACHINE_DMA_PAGE_PORT, MACHINE_DMA_PAGE_PORTS, &absent_ops, NULL,
		"DMA page registers (absent)", err, errlen)) {
		machine_destroy(m);
		return -1;
	}
	return 0;
}

void machine_destroy(struct machine *m)
{
	bus_free(&m->pio);
	bus_free(&m->mmio);
	uart_destroy(&m->com1);
	i8042_destroy(&m->kbc);
}

unsigned machine_virtio_gsi(size_t i)
{
	static const unsigned isa_free[] = {5, 6, 7, 9, 10, 11, 14, 15};
	_Static_assert(8 + sizeof(isa_free) / sizeof(isa_free[0]) == MACHINE_MAX_VIRTIO,
		       "one GSI per virtio slot");
	if (i < 8)
		return MACHINE_VIRTIO_GSI + (unsigned)i;
	return i - 8 < sizeof(isa_free) / sizeof(isa_free[0]) ? isa_free[i - 8] : 0;
}

int machine_add_virtio(struct machine *m, struct virtio_dev *d, char *err, size_t errlen)
{
	if (m->nvirtio == MACHINE_MAX_VIRTIO) {
		snprintf(err, errlen, "too many virtio devices: the machine has %d slots",
			 MACHINE_MAX_VIRTIO);
		return -1;
	}
	struct machine_virtio *v = &m->virtio[m->nvirtio];
	v->dev = d;
	v->base = MACHINE_VIRTIO_BASE + m->nvirtio * MACHINE_VIRTIO_STRIDE;
	v->gsi = machine_virtio_gsi(m->nvirtio);
	if (reg(&m->mmio, v->base, VIRTIO_MMIO_WINDOW, &virtio_mmio_ops, d, d->name, err, errlen) < 0)
		return -1;
	m->nvirtio++;
	return 0;
}

size_t machine_virtio_list(const struct machine *m, struct acpi_mmio_dev *out, size_t max)
{
	size_t n = 0;
	for (; n < m->nvirtio && n < max; n++)
		out[n] = (struct acpi_mmio_dev){
			.base = m->virtio[n].base, .size = VIRTIO_MMIO_WINDOW, .gsi = m->virtio[n].gsi};
	return n;
}

int machine_add_vmgenid(struct machine *m, const struct guest_mem *gm,
			void (*set_irq)(void *ctx, unsigned gsi, int level), void *irq_ctx,
			char *err, size_t errlen)
{
	const struct irq_line irq = {.set = set_irq, .ctx = irq_ctx, .gsi = MACHINE_VMGENID_GSI};
	return vmgenid_init(&m->genid, gm, X86_VMGENID_GPA, &irq, err, errlen);
}
