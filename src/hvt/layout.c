/* hvt guest memory: GDT, W^X page tables, boot info (see layout.h for the map).
 * Every byte goes through gm_ptr/gm_write; the tables are built in host memory from the
 * checked ELF segment list and copied in. */
#include "hvt/layout.h"

#include <elf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "hvt/abi.h"

uint64_t hvt_mem_round(uint64_t bytes)
{
	return bytes & ~(HVT_PAGE_2M - 1);
}

static uint64_t up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

uint64_t hvt_kernel_end(const struct elf_exec *x)
{
	return up(x->load_hi, GM_PAGE_SIZE);
}

static int write_gdt(const struct guest_mem *gm)
{
	const uint64_t gdt[3] = {
		0,
		0x00af9b000000ffffull, /* 64-bit code, DPL 0, present, accessed */
		0x00cf93000000ffffull, /* data, read/write, DPL 0, present, accessed */
	};
	return gm_write(gm, HVT_GDT_GPA, gdt, sizeof(gdt));
}

/* The PTE for one segment's pages. */
static uint64_t seg_pte(uint32_t flags)
{
	if (flags & PF_X)
		return PTE_P | PTE_SEG;
	if (flags & PF_W)
		return PTE_P | PTE_RW | PTE_NX | PTE_SEG;
	return PTE_P | PTE_NX | PTE_SEG;
}

static int map_segments(uint64_t *pt, uint64_t npages, const struct elf_exec *x, char *err,
			size_t errlen)
{
	for (unsigned i = 0; i < x->nseg; i++) {
		const struct elf_segment *s = &x->seg[i];
		if ((s->flags & PF_W) && (s->flags & PF_X))
			return err_set(err, errlen, "segment at 0x%" PRIx64 " is both writable and "
					            "executable: mote enforces W^X", s->gpa);
		uint64_t first = s->gpa / GM_PAGE_SIZE;
		uint64_t last = (s->gpa + s->memsz - 1) / GM_PAGE_SIZE; /* no wrap: elf.c checked */
		if (last >= npages)
			return err_set(err, errlen, "internal: segment beyond the 4 KiB map");
		for (uint64_t p = first; p <= last; p++) {
			uint64_t v = (p * GM_PAGE_SIZE) | seg_pte(s->flags);
			if ((pt[p] & PTE_SEG) && pt[p] != v)
				return err_set(err, errlen, "segments share the page at 0x%" PRIx64
						            " with different permissions: mote maps "
						            "segments with 4 KiB W^X pages; link with "
						            "page-aligned segments", p * GM_PAGE_SIZE);
			pt[p] = v;
		}
	}
	return 0;
}

int hvt_build_paging(const struct guest_mem *gm, const struct elf_exec *x, char *err,
		     size_t errlen)
{
	uint64_t mem = gm->size;
	uint64_t area = up(hvt_kernel_end(x), HVT_PAGE_2M); /* 4 KiB-mapped [0, area) */
	uint64_t npt = area / HVT_PAGE_2M, npages = area / GM_PAGE_SIZE;

	if (mem < HVT_MIN_MEM || mem % HVT_PAGE_2M || mem > 4ull * 512 * HVT_PAGE_2M)
		return err_set(err, errlen, "internal: bad hvt memory size %" PRIu64, mem);
	if (area > mem)
		return err_set(err, errlen, "the unikernel (%" PRIu64 " KiB) does not fit in %" PRIu64
				            " MiB of guest memory with its page tables: raise --mem",
			       x->load_hi >> 10, mem >> 20);
	if (npt * GM_PAGE_SIZE > HVT_PT_END - HVT_PT_GPA)
		return err_set(err, errlen, "the unikernel ends at %" PRIu64 " MiB; mote maps at most "
				            "the first %llu MiB with 4 KiB pages", x->load_hi >> 20,
			       (unsigned long long)((HVT_PT_END - HVT_PT_GPA) / GM_PAGE_SIZE * 2));
	uint64_t *pt = calloc(npages, sizeof(uint64_t));
	if (!pt)
		return err_set(err, errlen, "out of memory for page tables");
	for (uint64_t p = 0; p < npages; p++) {
		uint64_t a = p * GM_PAGE_SIZE;
		if (a >= HVT_BOOT_INFO_GPA && a < HVT_RO_END)
			pt[p] = a | PTE_P | PTE_NX;
		else if (a >= HVT_GUEST_MIN_BASE)
			pt[p] = a | PTE_P | PTE_RW | PTE_NX;
		/* else: page zero, GDT, page tables, reserved: not present */
	}
	int r = map_segments(pt, npages, x, err, errlen);
	if (r == 0 && gm_write(gm, HVT_PT_GPA, pt, npages * sizeof(uint64_t)) < 0)
		r = err_set(err, errlen, "internal: page tables outside guest memory");
	free(pt);
	if (r < 0)
		return -1;

	uint64_t pd[4 * 512];
	memset(pd, 0, sizeof(pd));
	for (uint64_t i = 0; i < mem / HVT_PAGE_2M; i++)
		pd[i] = i < npt ? (HVT_PT_GPA + i * GM_PAGE_SIZE) | PTE_P | PTE_RW
				: (i * HVT_PAGE_2M) | PTE_P | PTE_RW | PTE_PS | PTE_NX;
	uint64_t pdpt[512], pml4[512], pd_mmio[512];
	memset(pdpt, 0, sizeof(pdpt));
	memset(pml4, 0, sizeof(pml4));
	memset(pd_mmio, 0, sizeof(pd_mmio));
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (HVT_PD_GPA + i * GM_PAGE_SIZE) | PTE_P | PTE_RW;
	pdpt[4] = HVT_PD_MMIO_GPA | PTE_P | PTE_RW;
	pd_mmio[0] = HVT_HYPERCALL_MMIO_BASE | PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT | PTE_NX;
	pml4[0] = HVT_PDPT_GPA | PTE_P | PTE_RW;
	if (gm_write(gm, HVT_PML4_GPA, pml4, sizeof(pml4)) < 0 ||
	    gm_write(gm, HVT_PDPT_GPA, pdpt, sizeof(pdpt)) < 0 ||
	    gm_write(gm, HVT_PD_GPA, pd, sizeof(pd)) < 0 ||
	    gm_write(gm, HVT_PD_MMIO_GPA, pd_mmio, sizeof(pd_mmio)) < 0 || write_gdt(gm) < 0)
		return err_set(err, errlen, "internal: paging structures outside guest memory");
	return 0;
}

int hvt_write_boot_info(const struct guest_mem *gm, uint64_t kernel_end, uint64_t tsc_hz,
			const char *cmdline, const uint8_t *mft, size_t mft_size, char *err,
			size_t errlen)
{
	size_t cl = strlen(cmdline) + 1;
	const struct hvt_boot_info bi = {
		.mem_size = gm->size,
		.kernel_end = kernel_end,
		.cpu_cycle_freq = tsc_hz,
		.cmdline = HVT_CMDLINE_GPA,
		.mft = HVT_MFT_GPA,
	};
	if (cl > HVT_CMDLINE_SIZE || mft_size > HVT_RO_END - HVT_MFT_GPA)
		return err_set(err, errlen, "internal: command line or manifest too large");
	if (gm_write(gm, HVT_BOOT_INFO_GPA, &bi, sizeof(bi)) < 0 ||
	    gm_write(gm, HVT_CMDLINE_GPA, cmdline, cl) < 0 ||
	    gm_write(gm, HVT_MFT_GPA, mft, mft_size) < 0)
		return err_set(err, errlen, "internal: boot info outside guest memory");
	return 0;
}
