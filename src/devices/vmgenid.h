/* The VM generation ID (Microsoft's "Virtual Machine Generation ID", as Linux's vmgenid driver
 * and Windows read it): 16 random bytes in guest memory, described to the guest by an ACPI
 * device (_CID "VM_GEN_COUNTER", ADDR = their address, arch/x86/acpi.c), replaced on every
 * snapshot restore and announced with an ACPI Notify through a Generic Event Device interrupt.
 * A guest that sees the ID change knows it runs from a snapshot, maybe as one of many clones,
 * and must reseed its RNGs (docs/snapshot-devices.md). After the 16 bytes, a little-endian
 * 64-bit counter of restores (a mote extension for guests without ACPI, e.g. the test guests).
 * Owns: the ID page's contents and the notify edge. Knows neither KVM nor ACPI encoding: the
 * machine gives it the address (X86_VMGENID_GPA) and the interrupt line. */
#ifndef MOTE_DEVICES_VMGENID_H
#define MOTE_DEVICES_VMGENID_H

#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "core/irq.h"

#define VMGENID_SIZE 16         /* the ID: 128 bits, as the spec has it */
#define VMGENID_COUNTER_OFF 16  /* le64 restores counted (mote's extension) */
#define VMGENID_AREA 24         /* bytes in guest memory: ID + counter */

struct vmgenid {
	const struct guest_mem *gm;
	uint64_t gpa;           /* 8-byte aligned, VMGENID_AREA bytes of reserved guest RAM */
	struct irq_line irq;    /* the Generic Event Device's line (edge) */
};

/* Attaches the device to VMGENID_AREA bytes at gpa (checked: 8-byte aligned guest RAM) and
 * its line; writes nothing (a restore finds the snapshot's ID there). 0, or -1 with err. */
int vmgenid_init(struct vmgenid *g, const struct guest_mem *gm, uint64_t gpa,
		 const struct irq_line *irq, char *err, size_t errlen);

/* A cold boot: a fresh random ID and a counter of 0, no notify. 0, or -1 with err set. */
int vmgenid_boot(struct vmgenid *g, char *err, size_t errlen);

/* On restore, once guest memory holds the snapshot's contents and before the vCPUs run: a new
 * random ID (never the old one), the counter + 1, then one edge on the interrupt line (the
 * guest's GED handler runs Notify (VGEN, 0x80) once it takes interrupts). Each clone restored
 * from one snapshot gets its own ID. The page is marked written for Diff snapshots (it goes
 * through gm_write). 0, or -1 with err set. */
int vmgenid_regenerate(struct vmgenid *g, char *err, size_t errlen);

/* The current ID and counter as the guest sees them. 0, or -1 (not RAM). */
int vmgenid_read(const struct vmgenid *g, uint8_t id[VMGENID_SIZE], uint64_t *counter);

#endif
