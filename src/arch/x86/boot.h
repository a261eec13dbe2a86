/* Loading a guest on x86: picks the loader for the image format, writes the ACPI tables,
 * builds the final command line, places the initrd, and writes the boot structures.
 * Writes guest memory only through the gate. */
#ifndef MOTE_ARCH_X86_BOOT_H
#define MOTE_ARCH_X86_BOOT_H

#include <stdbool.h>

#include "arch/x86/acpi.h"
#include "boot/boot.h"
#include "boot/image.h"
#include "core/guest_mem.h"

/* What mote puts before the user's command line for Linux kernels (bzImage, or an ELF with a
 * "Linux" note): the console on COM1, reboot through the i8042 (which ends mote), a panic
 * that reboots at once (so ends mote), no i8042 aux/mux probing, no PCI (mote has none).
 * The user's words come after, so they win where a parameter is given twice. */
#define X86_LINUX_CMDLINE "console=ttyS0 reboot=k panic=-1 i8042.noaux i8042.nomux i8042.dumbkbd pci=off"

struct x86_boot_request {
	const struct image *kernel;
	const struct image *initrd; /* NULL: none */
	const char *cmdline;        /* the user's */
	unsigned ncpus;
	const struct acpi_mmio_dev *virtio; /* virtio-mmio windows for ACPI */
	size_t nvirtio;
	uint64_t vmgenid_gpa;  /* the VM generation ID for ACPI (devices/vmgenid.h), 0: none */
	unsigned vmgenid_gsi;
};

/* Loads the guest. The command line the guest gets is written to final_cmdline (which must
 * hold X86_CMDLINE_MAX bytes). Returns 0 with *out filled, or -1 with a one-line reason. */
int x86_boot_load(const struct x86_boot_request *r, const struct guest_mem *gm,
		  struct boot_entry *out, char *final_cmdline, char *err, size_t errlen);

/* Whether a guest with this final command line wants the legacy 8254 PIT: one that turns ACPI
 * off (the word `acpi=off`; Linux then checks the PIT's IRQ 0 through the IOAPIC). Linux on
 * mote's hardware-reduced ACPI machine (no legacy PIC or PIT there), PVH guests and
 * unikernels never program it. */
bool x86_cmdline_wants_pit(const char *final_cmdline);

#endif
