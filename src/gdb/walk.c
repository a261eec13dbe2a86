/* The page-table walker (walk.h). Tables are read one 8- or 4-byte entry at a time through
 * gm_read: a hostile guest can point CR3 or any entry anywhere; outside RAM the walk ends. */
#include "gdb/walk.h"

#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)
#define PTE_P 1ull
#define PTE_PS (1ull << 7)
#define ADDR_MASK 0x000ffffffffff000ull /* bits 51:12 */

static uint64_t page_left(uint64_t va, unsigned shift)
{
	uint64_t size = 1ull << shift;
	return size - (va & (size - 1));
}

/* 64-bit entries: PAE (3 levels from a 32-byte-aligned PDPT), 4 and 5 levels. */
static int walk64(const struct guest_mem *gm, uint64_t table, int levels, uint64_t va,
		  uint64_t *gpa, uint64_t *left)
{
	for (int lvl = levels; lvl >= 1; lvl--) {
		unsigned shift = 12 + 9 * (unsigned)(lvl - 1);
		uint64_t idx = (va >> shift) & (lvl == 3 && levels == 3 ? 3 : 511);
		uint64_t e;
		if (gm_read(gm, table + idx * 8, &e, 8) < 0 || !(e & PTE_P))
			return -1;
		/* A large page: 1 GiB at the PDPT level, 2 MiB at the PD level. */
		if (lvl == 1 || ((lvl == 2 || lvl == 3) && (e & PTE_PS) && !(levels == 3 && lvl == 3))) {
			uint64_t mask = (1ull << shift) - 1;
			*gpa = ((e & ADDR_MASK) & ~mask) | (va & mask);
			*left = page_left(va, shift);
			return 0;
		}
		table = e & ADDR_MASK;
	}
	return -1;
}

/* 32-bit paging: two levels of 4-byte entries, 4 MiB pages with CR4.PSE. */
static int walk32(const struct guest_mem *gm, uint64_t cr3, int pse, uint64_t va, uint64_t *gpa,
		  uint64_t *left)
{
	uint32_t pde, pte;
	if (gm_read(gm, (cr3 & 0xfffff000u) + ((va >> 22) & 1023) * 4, &pde, 4) < 0 || !(pde & 1))
		return -1;
	if (pse && (pde & PTE_PS)) {
		uint64_t base = (pde & 0xffc00000u) | ((uint64_t)(pde >> 13 & 0xff) << 32);
		*gpa = base | (va & 0x3fffff);
		*left = page_left(va, 22);
		return 0;
	}
	if (gm_read(gm, (pde & 0xfffff000u) + ((va >> 12) & 1023) * 4, &pte, 4) < 0 || !(pte & 1))
		return -1;
	*gpa = (pte & 0xfffff000u) | (va & 0xfff);
	*left = page_left(va, 12);
	return 0;
}

int walk_translate(const struct guest_mem *gm, const struct x86_paging *p, uint64_t va,
		   uint64_t *gpa, uint64_t *left)
{
	bool lma = p->efer & EFER_LMA;
	if (!(p->cr0 & CR0_PG)) {
		if (va > 0xffffffffull && !lma)
			return -1;
		*gpa = va;
		*left = page_left(va, 12);
		return 0;
	}
	if (lma) {
		int levels = (p->cr4 & CR4_LA57) ? 5 : 4;
		unsigned bits = levels == 5 ? 57 : 48;
		uint64_t top = va >> (bits - 1); /* canonical: all ones or all zeroes */
		if (top != 0 && top != (~0ull >> (bits - 1)))
			return -1;
		return walk64(gm, p->cr3 & ADDR_MASK, levels, va, gpa, left);
	}
	if (va > 0xffffffffull)
		return -1;
	if (p->cr4 & CR4_PAE)
		return walk64(gm, p->cr3 & 0xffffffe0u, 3, va, gpa, left);
	return walk32(gm, p->cr3, (p->cr4 & CR4_PSE) != 0, va, gpa, left);
}
