/* Loading a guest on x86: picks the loader for the image format, places the initrd, and
 * writes the boot structures. Writes guest memory only through the gate. */
#ifndef MOTE_ARCH_X86_BOOT_H
#define MOTE_ARCH_X86_BOOT_H

#include "boot/boot.h"
#include "boot/image.h"
#include "core/guest_mem.h"

/* initrd may be NULL. Returns 0 with *out filled, or -1 with a one-line reason in err. */
int x86_boot_load(const struct image *kernel, const struct image *initrd, const char *cmdline,
		  const struct guest_mem *gm, struct boot_entry *out, char *err, size_t errlen);

#endif
