/* ACPI tables for a hardware-reduced machine: RSDP, XSDT, FADT, MADT, DSDT (with one device
 * per virtio-mmio window, as QEMU microvm describes them, and \_S5 for power off).
 * Written into guest memory at X86_ACPI_GPA through the gate; every table checksummed. */
#ifndef MOTE_ARCH_X86_ACPI_H
#define MOTE_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"

/* The hardware-reduced sleep and reset registers (FADT), one I/O port each. */
#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_SLEEP_STATUS_PORT 0x601
#define ACPI_RESET_PORT 0x602
#define ACPI_PM_PORTS 3
#define ACPI_RESET_VALUE 0x01
#define ACPI_S5_SLP_TYP 5 /* the value \_S5 gives; written as SLP_TYP with SLP_EN */
#define ACPI_SLP_EN 0x20
#define ACPI_SLP_TYP_SHIFT 2

struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

struct acpi_config {
	unsigned ncpus;
	const struct acpi_mmio_dev *virtio; /* virtio-mmio windows, may be empty */
	size_t nvirtio;
	/* The VM generation ID (devices/vmgenid.h), 0: none. The DSDT then has Device (VGEN)
	 * (_CID "VM_GEN_COUNTER", ADDR = this address) and a Generic Event Device (ACPI0013) on
	 * vmgenid_gsi whose _EVT does Notify (\_SB.VGEN, 0x80). */
	uint64_t vmgenid_gpa;
	unsigned vmgenid_gsi;
};

/* Builds the tables; *rsdp_gpa receives the RSDP address. Returns 0, or -1 with err set. */
int acpi_build(const struct guest_mem *gm, const struct acpi_config *c, uint64_t *rsdp_gpa,
	       char *err, size_t errlen);

/* The AML PkgLength encoding, exposed for tests. Encodes the length of a package whose body
 * (everything after the PkgLength) is body bytes: the encoded value counts the PkgLength's
 * own 1-4 bytes too. Writes the shortest encoding to out and returns its size, or 0 when
 * the package would exceed the AML limit of 2^28 - 1 bytes. */
size_t acpi_aml_pkglen(uint8_t out[4], size_t body);

#endif
