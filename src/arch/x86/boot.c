/* x86 boot: ELF with a PVH note -> segments in RAM, initrd above the kernel in low RAM,
 * hvm_start_info with command line and memory map. */
#include "arch/x86/boot.h"

#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/machine.h"
#include "arch/x86/pvh.h"
#include "boot/elf.h"

static int is_bzimage(const struct image *k)
{
	return k->size >= 0x206 && memcmp(k->data + 0x202, "HdrS", 4) == 0;
}

int x86_boot_load(const struct image *kernel, const struct image *initrd, const char *cmdline,
		  const struct guest_mem *gm, struct boot_entry *out, char *err, size_t errlen)
{
	struct elf_image elf;
	struct pvh_params p;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	if (!elf_is_elf(kernel->data, kernel->size)) {
		if (is_bzimage(kernel))
			snprintf(err, errlen, "this is a Linux bzImage; this version of mote boots "
					      "ELF kernels with a PVH entry note (e.g. vmlinux)");
		else
			snprintf(err, errlen, "not a bootable image: mote boots ELF kernels with a PVH "
					      "entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
		return -1;
	}
	if (elf_load(kernel->data, kernel->size, gm, X86_HIMEM_START, &elf, err, errlen) < 0)
		return -1;

	if (initrd) {
		uint64_t min = (elf.load_hi + GM_PAGE_SIZE - 1) & ~(uint64_t)(GM_PAGE_SIZE - 1);
		if (x86_place_initrd(gm, initrd->size, min, X86_HOLE_START, &p.initrd_gpa, err, errlen) < 0)
			return -1;
		if (gm_write(gm, p.initrd_gpa, initrd->data, initrd->size) < 0) {
			snprintf(err, errlen, "cannot copy the initrd into guest memory");
			return -1;
		}
		p.initrd_size = initrd->size;
	}

	struct mem_map_entry map[X86_PVH_MEMMAP_MAX];
	p.entry = elf.pvh_entry;
	p.cmdline = cmdline;
	p.map = map;
	p.map_len = machine_mem_map(gm, map, X86_PVH_MEMMAP_MAX);
	return pvh_setup(gm, &p, out, err, errlen);
}
