/* x86 boot: ACPI tables for every guest; then a bzImage through the Linux boot protocol, or
 * an ELF with a PVH note (test guests, unikernels, vmlinux) with its initrd and start info. */
#include "arch/x86/boot.h"

#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "arch/x86/linux.h"
#include "arch/x86/machine.h"
#include "arch/x86/pvh.h"
#include "boot/elf.h"

/* final = [X86_LINUX_CMDLINE " "] user [" virtio_mmio.device=SIZE@BASE:GSI" ...]: the
 * fragments name each virtio-mmio window the way Linux's command-line option (and the test
 * guests) find them. Checked against the buffer size. */
static int build_cmdline(const struct x86_boot_request *r, bool is_linux, char *final, char *err,
			 size_t errlen)
{
	size_t len = X86_CMDLINE_MAX;
	int n = snprintf(final, len, "%s%s%s", is_linux ? X86_LINUX_CMDLINE : "",
			 is_linux && *r->cmdline ? " " : "", r->cmdline);
	for (size_t i = 0; i < r->nvirtio && n >= 0 && (size_t)n < len; i++) {
		int w = snprintf(final + n, len - (size_t)n, "%svirtio_mmio.device=%u@0x%llx:%u",
				 n ? " " : "", r->virtio[i].size,
				 (unsigned long long)r->virtio[i].base, r->virtio[i].gsi);
		n = w < 0 ? w : n + w;
	}
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen,
			 "kernel command line too long with mote's additions: the limit is %llu bytes",
			 (unsigned long long)(X86_CMDLINE_MAX - 1));
		return -1;
	}
	return 0;
}

static int load_pvh(const struct x86_boot_request *r, const struct guest_mem *gm,
		    uint64_t rsdp, const struct mem_map_entry *map, size_t nmap,
		    struct boot_entry *out, char *final, char *err, size_t errlen)
{
	struct elf_image elf;
	struct pvh_params p;

	memset(&p, 0, sizeof(p));
	if (elf_load(r->kernel->data, r->kernel->size, gm, X86_HIMEM_START, &elf, err, errlen) < 0)
		return -1;
	if (build_cmdline(r, elf.is_linux, final, err, errlen) < 0)
		return -1;
	if (r->initrd) {
		uint64_t min = (elf.load_hi + GM_PAGE_SIZE - 1) & ~(uint64_t)(GM_PAGE_SIZE - 1);
		if (x86_place_initrd(gm, r->initrd->size, min, X86_HOLE_START, &p.initrd_gpa, err,
				     errlen) < 0)
			return -1;
		if (gm_write(gm, p.initrd_gpa, r->initrd->data, r->initrd->size) < 0) {
			snprintf(err, errlen, "cannot copy the initrd into guest memory");
			return -1;
		}
		p.initrd_size = r->initrd->size;
	}
	p.entry = elf.pvh_entry;
	p.cmdline = final;
	p.rsdp_gpa = rsdp;
	p.map = map;
	p.map_len = nmap;
	return pvh_setup(gm, &p, out, err, errlen);
}

int x86_boot_load(const struct x86_boot_request *r, const struct guest_mem *gm,
		  struct boot_entry *out, char *final, char *err, size_t errlen)
{
	const struct image *k = r->kernel;
	struct mem_map_entry map[X86_PVH_MEMMAP_MAX];
	uint64_t rsdp;

	memset(out, 0, sizeof(*out));
	final[0] = '\0';
	bool bz = linux_is_bzimage(k->data, k->size);
	if (!bz && !elf_is_elf(k->data, k->size)) {
		snprintf(err, errlen, "not a bootable image: mote boots Linux bzImages and ELF "
				      "kernels with a PVH entry note");
		return -1;
	}
	const struct acpi_config acpi = {.ncpus = r->ncpus, .virtio = r->virtio, .nvirtio = r->nvirtio,
					 .vmgenid_gpa = r->vmgenid_gpa, .vmgenid_gsi = r->vmgenid_gsi};
	if (acpi_build(gm, &acpi, &rsdp, err, errlen) < 0)
		return -1;
	size_t nmap = machine_mem_map(gm, map, X86_PVH_MEMMAP_MAX);
	if (!bz)
		return load_pvh(r, gm, rsdp, map, nmap, out, final, err, errlen);

	if (build_cmdline(r, true, final, err, errlen) < 0)
		return -1;
	const struct linux_params lp = {
		.cmdline = final,
		.initrd = r->initrd ? r->initrd->data : NULL,
		.initrd_size = r->initrd ? r->initrd->size : 0,
		.rsdp_gpa = rsdp,
		.map = map,
		.map_len = nmap,
	};
	return linux_load_bzimage(k->data, k->size, gm, &lp, out, err, errlen);
}

bool x86_cmdline_wants_pit(const char *c)
{
	static const char word[] = "acpi=off";
	for (const char *p = c; (p = strstr(p, word)) != NULL; p += sizeof(word) - 1) {
		char after = p[sizeof(word) - 1];
		if ((p == c || p[-1] == ' ') && (after == '\0' || after == ' '))
			return true;
	}
	return false;
}
