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

/* The PTE for one segment's pages (see hvt_build_paging: non-writable segments are
 * read-only in the host, PTE_HOSTRO, and writable here). */
static uint64_t seg_pte(uint32_t flags)
{
	if (flags & PF_X)
		return PTE_P | PTE_RW | PTE_SEG | PTE_HOSTRO;
	if (flags & PF_W)
		return PTE_P | PTE_RW | PTE_NX | PTE_SEG;
	return PTE_P | PTE_RW | PTE_NX | PTE_SEG | PTE_HOSTRO;
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

	/* One PD page per GiB of RAM (written one page at a time: no 16 KiB on the stack, and
	 * no guest page touched that the RAM does not need). */
	uint64_t npd = (mem + (1ull << 30) - 1) >> 30;
	uint64_t pd[512];
	for (uint64_t g = 0; g < npd; g++) {
		memset(pd, 0, sizeof(pd));
		for (uint64_t k = 0; k < 512; k++) {
			uint64_t i = g * 512 + k;
			if (i >= mem / HVT_PAGE_2M)
				break;
			pd[k] = i < npt ? (HVT_PT_GPA + i * GM_PAGE_SIZE) | PTE_P | PTE_RW
					: (i * HVT_PAGE_2M) | PTE_P | PTE_RW | PTE_PS | PTE_NX;
		}
		if (gm_write(gm, HVT_PD_GPA + g * GM_PAGE_SIZE, pd, sizeof(pd)) < 0)
			return err_set(err, errlen, "internal: page directory outside guest memory");
	}
	uint64_t table[512];
	memset(table, 0, sizeof(table));
	for (unsigned i = 0; i < npd; i++)
		table[i] = (HVT_PD_GPA + i * GM_PAGE_SIZE) | PTE_P | PTE_RW;
	table[4] = HVT_PD_MMIO_GPA | PTE_P | PTE_RW;
	if (gm_write(gm, HVT_PDPT_GPA, table, sizeof(table)) < 0)
		return err_set(err, errlen, "internal: paging structures outside guest memory");
	memset(table, 0, sizeof(table));
	table[0] = HVT_HYPERCALL_MMIO_BASE | PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT | PTE_NX;
	if (gm_write(gm, HVT_PD_MMIO_GPA, table, sizeof(table)) < 0)
		return err_set(err, errlen, "internal: paging structures outside guest memory");
	memset(table, 0, sizeof(table));
	table[0] = HVT_PDPT_GPA | PTE_P | PTE_RW;
	if (gm_write(gm, HVT_PML4_GPA, table, sizeof(table)) < 0 || write_gdt(gm) < 0)
		return err_set(err, errlen, "internal: paging structures outside guest memory");
	return 0;
}

int hvt_write_boot_info(const struct guest_mem *gm, const struct hvt_boot_params *p, char *err,
			size_t errlen)
{
	size_t cl = strlen(p->cmdline) + 1;
	const struct hvt_boot_info bi = {
		.mem_size = p->mem_size,
		.kernel_end = p->kernel_end,
		.cpu_cycle_freq = p->tsc_hz,
		.cmdline = HVT_CMDLINE_GPA,
		.mft = HVT_MFT_GPA,
		.host_features = p->net_ring ? HVT_FEATURE_NET_RING : 0,
		.net_ring = p->net_ring,
	};
	if (cl > HVT_CMDLINE_SIZE || p->mft_size > HVT_RO_END - HVT_MFT_GPA)
		return err_set(err, errlen, "internal: command line or manifest too large");
	if (gm_write(gm, HVT_BOOT_INFO_GPA, &bi, sizeof(bi)) < 0 ||
	    gm_write(gm, HVT_CMDLINE_GPA, p->cmdline, cl) < 0 ||
	    (p->mft != gm_ptr(gm, HVT_MFT_GPA, p->mft_size) &&
	     gm_write(gm, HVT_MFT_GPA, p->mft, p->mft_size) < 0))
		return err_set(err, errlen, "internal: boot info outside guest memory");
	return 0;
}

size_t hvt_ro_ranges(const struct elf_exec *x, struct gm_region *out, size_t max)
{
	size_t n = 0;
	if (max == 0)
		return 0;
	/* The boot info pages, and the reserved rest below 1 MiB (nothing uses it), so that a text
	 * segment at 1 MiB continues the same range: one read-only slot in KVM, not two (each
	 * memory slot is an ioctl with an RCU grace period, in the start-up's critical path). */
	out[n++] = (struct gm_region){.gpa = HVT_BOOT_INFO_GPA,
				      .size = HVT_GUEST_MIN_BASE - HVT_BOOT_INFO_GPA};
	/* Segments in address order (elf.c refuses overlaps; they are few: insertion order). */
	uint64_t last = 0;
	for (;;) {
		const struct elf_segment *next = NULL;
		for (unsigned i = 0; i < x->nseg; i++) {
			const struct elf_segment *sg = &x->seg[i];
			if (!(sg->flags & PF_W) && sg->gpa >= last && (!next || sg->gpa < next->gpa))
				next = sg;
		}
		if (!next)
			return n;
		uint64_t lo = next->gpa & ~(uint64_t)(GM_PAGE_SIZE - 1);
		uint64_t hi = up(next->gpa + next->memsz, GM_PAGE_SIZE);
		last = next->gpa + next->memsz;
		if (out[n - 1].gpa + out[n - 1].size >= lo && lo >= out[n - 1].gpa) {
			if (hi > out[n - 1].gpa + out[n - 1].size)
				out[n - 1].size = hi - out[n - 1].gpa;
		} else if (n < max) {
			out[n++] = (struct gm_region){.gpa = lo, .size = hi - lo};
		} else {
			return n;
		}
	}
}
