/* The Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst, zero-page.rst): checks a
 * hostile bzImage against its file size and guest RAM, then writes the kernel, initrd, command
 * line, zero page, boot GDT and identity page tables through the guest-memory gate only.
 * Every check runs before the first write, so a refusal leaves guest memory untouched. The
 * header is memcpy'd once into a local copy; only the copy is used. No KVM here. */
#include "arch/x86/linux.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "core/log.h"
#include "arch/x86/pvh.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "linux.c reads little-endian bzImage fields with memcpy and needs a little-endian host"
#endif

/* The setup header as it sits in the file at LX_HDR_OFF and in the zero page at the same
 * offset (boot.rst, "The Real-Mode Kernel Header"; layout is a fact of the ABI). */
struct lx_setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

#define LX_HDR_OFF   0x1f1u
#define LX_AT(field) (LX_HDR_OFF + offsetof(struct lx_setup_header, field))
_Static_assert(LX_AT(syssize) == 0x1f4, "syssize at 0x1f4");
_Static_assert(LX_AT(vid_mode) == 0x1fa, "vid_mode at 0x1fa");
_Static_assert(LX_AT(boot_flag) == 0x1fe, "boot_flag at 0x1fe");
_Static_assert(LX_AT(header) == 0x202, "HdrS at 0x202");
_Static_assert(LX_AT(version) == 0x206, "version at 0x206");
_Static_assert(LX_AT(type_of_loader) == 0x210, "type_of_loader at 0x210");
_Static_assert(LX_AT(code32_start) == 0x214, "code32_start at 0x214");
_Static_assert(LX_AT(ramdisk_image) == 0x218, "ramdisk_image at 0x218");
_Static_assert(LX_AT(heap_end_ptr) == 0x224, "heap_end_ptr at 0x224");
_Static_assert(LX_AT(cmd_line_ptr) == 0x228, "cmd_line_ptr at 0x228");
_Static_assert(LX_AT(initrd_addr_max) == 0x22c, "initrd_addr_max at 0x22c");
_Static_assert(LX_AT(kernel_alignment) == 0x230, "kernel_alignment at 0x230");
_Static_assert(LX_AT(relocatable_kernel) == 0x234, "relocatable_kernel at 0x234");
_Static_assert(LX_AT(xloadflags) == 0x236, "xloadflags at 0x236");
_Static_assert(LX_AT(cmdline_size) == 0x238, "cmdline_size at 0x238");
_Static_assert(LX_AT(setup_data) == 0x250, "setup_data at 0x250");
_Static_assert(LX_AT(pref_address) == 0x258, "pref_address at 0x258");
_Static_assert(LX_AT(init_size) == 0x260, "init_size at 0x260");
_Static_assert(LX_AT(kernel_info_offset) == 0x268, "kernel_info_offset at 0x268");
_Static_assert(sizeof(struct lx_setup_header) == 0x26c - LX_HDR_OFF, "header ends at 0x26c");

#define LX_HDR_END      (LX_HDR_OFF + sizeof(struct lx_setup_header)) /* 0x26c */
#define LX_HDR_MIN_END  (LX_AT(init_size) + 4) /* the last field mote reads (2.10+) */
#define LX_BOOT_FLAG    0xaa55u
#define LX_MAGIC        "HdrS"
#define LX_LOADED_HIGH  0x01u /* loadflags: protected-mode code runs at 1 MiB */
#define LX_QUIET_FLAG   0x20u
#define LX_CAN_USE_HEAP 0x80u
#define LX_XLF_KERNEL_64 0x0001u /* xloadflags: 64-bit entry at load address + 0x200 */
#define LX_ENTRY64_OFF  0x200u
#define LX_LOADER_UNDEFINED 0xffu /* type_of_loader: no assigned boot loader id */
#define LX_HEAP_END     0xe000u   /* boot.rst sample configuration, protocol 2.02+ */
#define LX_ACPI_RSDP_PROTOCOL 0x020eu /* acpi_rsdp_addr is read from 2.14 on */

/* struct boot_params (the zero page): the offsets mote writes (zero-page.rst). */
#define BP_SIZE             4096u
#define BP_ACPI_RSDP_ADDR   0x070u
#define BP_EXT_RAMDISK_IMAGE 0x0c0u
#define BP_EXT_RAMDISK_SIZE 0x0c4u
#define BP_EXT_CMD_LINE_PTR 0x0c8u
#define BP_E820_ENTRIES     0x1e8u
#define BP_E820_TABLE       0x2d0u
#define BP_E820_MAX         128u
#define BP_EDDBUF           0xd00u

struct lx_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct lx_e820_entry) == 20, "e820 entries are 20 bytes");
_Static_assert(BP_E820_TABLE + BP_E820_MAX * sizeof(struct lx_e820_entry) <= BP_EDDBUF,
	       "e820 table ends before eddbuf");
_Static_assert(BP_E820_ENTRIES < LX_HDR_OFF && LX_HDR_END <= BP_E820_TABLE,
	       "the header sits between e820_entries and e820_table");

/* Identity page tables: PML4 -> one PDPT -> four PDs of 512 x 2 MiB pages = 4 GiB. */
#define PT_PAGE      4096u
#define PT_ENTRIES   512u
#define PT_NPD       4u
#define PT_PRESENT   0x001ull
#define PT_WRITABLE  0x002ull
#define PT_PS        0x080ull /* in a PD entry: 2 MiB page */
#define PT_2M        (1ull << 21)
#define PT_MAPPED_END ((uint64_t)PT_NPD << 30) /* 4 GiB */

/* The boot structures must not overlap each other or the kernel (loaded at 1 MiB or above). */
#define LX_GDT_BYTES (X86_SEL_TSS + 8u) /* x86_write_boot_gdt: through the TSS descriptor */
_Static_assert(X86_BOOT_GDT_GPA + LX_GDT_BYTES <= X86_PVH_INFO_GPA, "GDT below start info");
_Static_assert(X86_PVH_MEMMAP_GPA + X86_PVH_MEMMAP_MAX * sizeof(struct hvm_memmap_table_entry) <=
		       X86_ZERO_PAGE_GPA,
	       "PVH structures below the zero page");
_Static_assert(X86_ZERO_PAGE_GPA % PT_PAGE == 0, "zero page is page aligned");
_Static_assert(X86_ZERO_PAGE_GPA + BP_SIZE <= X86_BOOT_PML4_GPA, "zero page below the PML4");
_Static_assert(X86_BOOT_PML4_GPA % PT_PAGE == 0 && X86_BOOT_PDPT_GPA % PT_PAGE == 0 &&
		       X86_BOOT_PD_GPA % PT_PAGE == 0,
	       "page tables are page aligned");
_Static_assert(X86_BOOT_PML4_GPA + PT_PAGE <= X86_BOOT_PDPT_GPA, "PML4 below the PDPT");
_Static_assert(X86_BOOT_PDPT_GPA + PT_PAGE <= X86_BOOT_PD_GPA, "PDPT below the PDs");
_Static_assert(X86_BOOT_PD_GPA + PT_NPD * PT_PAGE <= X86_CMDLINE_GPA, "PDs below the cmdline");
_Static_assert(X86_CMDLINE_GPA + X86_CMDLINE_MAX <= X86_EBDA_START, "cmdline below the EBDA");
_Static_assert(X86_EBDA_START <= X86_ACPI_GPA && X86_ACPI_END <= X86_HIMEM_START,
	       "ACPI tables below 1 MiB");
_Static_assert(X86_HOLE_START <= PT_MAPPED_END, "all low RAM is identity mapped");

#define MIB (1ull << 20)

/* Everything the checks and the writes share: the input, the checked copy and the plan. */
struct lx_ctx {
	const uint8_t *buf;
	size_t len;
	const struct guest_mem *gm;
	const struct linux_params *p;
	struct lx_setup_header h;
	unsigned hdr_end;      /* file offset where the setup header ends (0x202 + jump byte) */
	uint64_t kernel_off;   /* protected-mode kernel: file offset and size */
	uint64_t kernel_size;
	uint64_t load_gpa;     /* where the protected-mode kernel is copied */
	uint64_t run_gpa;      /* the range the kernel runs in before it reads its memory map */
	uint64_t run_size;
	uint64_t kernel_end;   /* page-aligned end of everything the kernel occupies */
	const char *cmdline;
	size_t cmdline_len;
	uint64_t initrd_gpa;   /* 0 when there is no initrd */
	char *err;
	size_t errlen;
};

/* Refuses the image: one-line message into the caller's buffer, returns -1. */
#define lx_fail(c, ...) err_set((c)->err, (c)->errlen, __VA_ARGS__)

static uint64_t mib_up(uint64_t bytes) { return (bytes >> 20) + ((bytes & (MIB - 1)) != 0); }

static uint64_t page_up(uint64_t v)
{
	return (v + (PT_PAGE - 1)) & ~(uint64_t)(PT_PAGE - 1); /* callers keep v < 4 GiB */
}

static void put32(uint8_t *dst, unsigned off, uint32_t v) { memcpy(dst + off, &v, sizeof(v)); }
static void put64(uint8_t *dst, unsigned off, uint64_t v) { memcpy(dst + off, &v, sizeof(v)); }

int linux_is_bzimage(const uint8_t *buf, size_t len)
{
	return buf && len >= LX_AT(header) + 4 && memcmp(buf + LX_AT(header), LX_MAGIC, 4) == 0;
}

/* Check 1: the header is present, is a bzImage header, and offers the 64-bit entry. */
static int lx_check_header(struct lx_ctx *c)
{
	const struct lx_setup_header *h = &c->h;

	if (!c->buf || c->len < LX_HDR_END)
		return lx_fail(c,
			       "truncated bzImage: the setup header ends at byte 0x%zx but the file "
			       "has %zu bytes",
			       (size_t)LX_HDR_END, c->buf ? c->len : 0);
	memcpy(&c->h, c->buf + LX_HDR_OFF, sizeof(c->h));
	if (h->boot_flag != LX_BOOT_FLAG)
		return lx_fail(c, "not a bzImage: boot_flag at 0x1fe is 0x%04x, not 0x%04x",
			       h->boot_flag, LX_BOOT_FLAG);
	if (memcmp(c->buf + LX_AT(header), LX_MAGIC, 4) != 0)
		return lx_fail(c, "not a bzImage: no \"HdrS\" signature at 0x202");
	if (h->version < LINUX_MIN_PROTOCOL)
		return lx_fail(c,
			       "Linux boot protocol %u.%02u is too old: mote needs %u.%02u or newer "
			       "(Linux 3.8+)",
			       h->version >> 8, h->version & 0xffu, LINUX_MIN_PROTOCOL >> 8,
			       LINUX_MIN_PROTOCOL & 0xffu);
	/* The jump at 0x200 (0xeb, offset from 0x202) doubles as the header length. */
	c->hdr_end = LX_AT(header) + c->buf[LX_AT(jump) + 1];
	if (c->hdr_end < LX_HDR_MIN_END)
		return lx_fail(c,
			       "malformed bzImage: the setup header ends at byte 0x%x (jump at "
			       "0x200) but protocol %u.%02u headers reach at least 0x%zx",
			       c->hdr_end, h->version >> 8, h->version & 0xffu,
			       (size_t)LX_HDR_MIN_END);
	if (!(h->loadflags & LX_LOADED_HIGH))
		return lx_fail(c,
			       "not a bzImage: loadflags 0x%02x lacks LOADED_HIGH (a zImage runs "
			       "at 64 KiB; mote loads kernels at 1 MiB or above)",
			       h->loadflags);
	if (!(h->xloadflags & LX_XLF_KERNEL_64))
		return lx_fail(c,
			       "kernel has no 64-bit entry point (xloadflags 0x%04x lacks "
			       "XLF_KERNEL_64): mote boots 64-bit x86 kernels only",
			       h->xloadflags);
	return 0;
}

/* Check 2: where the protected-mode kernel lies in the file (overflow-free: at most
 * 256 sectors of setup, and the file length fits in a size_t). */
static int lx_check_file(struct lx_ctx *c)
{
	unsigned sects = c->h.setup_sects ? c->h.setup_sects : 4; /* 0 means 4 */
	uint64_t claimed = (uint64_t)c->h.syssize * 16;           /* 16-byte paragraphs */

	c->kernel_off = ((uint64_t)sects + 1) * 512;
	if (c->kernel_off >= c->len)
		return lx_fail(c,
			       "truncated bzImage: %u setup sectors put the protected-mode kernel "
			       "at byte 0x%" PRIx64 " but the file has %zu bytes",
			       sects, c->kernel_off, c->len);
	c->kernel_size = c->len - c->kernel_off;
	if (c->kernel_size <= LX_ENTRY64_OFF)
		return lx_fail(c,
			       "truncated bzImage: the protected-mode kernel has %" PRIu64
			       " bytes, too few for the 64-bit entry at +0x%x",
			       c->kernel_size, LX_ENTRY64_OFF);
	if (claimed > c->kernel_size)
		return lx_fail(c,
			       "truncated bzImage: syssize says the protected-mode kernel has %" PRIu64
			       " bytes but the file holds %" PRIu64 " after the setup code",
			       claimed, c->kernel_size);
	return 0;
}

/* True when [gpa, gpa + size) is guest RAM inside the identity-mapped first 4 GiB. */
static bool lx_range_ok(const struct lx_ctx *c, uint64_t gpa, uint64_t size)
{
	return gpa < PT_MAPPED_END && size <= PT_MAPPED_END - gpa && gm_ptr(c->gm, gpa, size);
}

/* Check 3: the load address (boot.rst, init_size: runtime start for relocatable kernels is
 * the load address aligned up; a non-relocatable one moves itself to pref_address). */
static int lx_place_kernel(struct lx_ctx *c)
{
	const struct lx_setup_header *h = &c->h;
	uint64_t align = h->kernel_alignment;
	uint64_t pref = h->pref_address;

	if (h->relocatable_kernel) {
		if (align == 0 || (align & (align - 1)) != 0)
			return lx_fail(c, "bzImage kernel_alignment 0x%" PRIx64
					  " is not a power of two",
				       align);
		if (pref < X86_HIMEM_START)
			pref = X86_HIMEM_START;
		if (pref >= PT_MAPPED_END)
			return lx_fail(c,
				       "the kernel asks to be loaded at 0x%" PRIx64
				       " (pref_address), beyond the first 4 GiB that mote maps",
				       pref);
		c->load_gpa = (pref + align - 1) & ~(align - 1); /* pref, align < 2^33 */
		c->run_gpa = c->load_gpa;
	} else {
		if (pref < X86_HIMEM_START || pref >= PT_MAPPED_END)
			return lx_fail(c,
				       "non-relocatable kernel runs at 0x%" PRIx64
				       " (pref_address); mote needs 1 MiB to 4 GiB",
				       pref);
		c->load_gpa = X86_HIMEM_START;
		c->run_gpa = pref;
	}
	c->run_size = h->init_size > c->kernel_size ? h->init_size : c->kernel_size;
	if (!lx_range_ok(c, c->load_gpa, c->kernel_size) ||
	    !lx_range_ok(c, c->run_gpa, c->run_size))
		return lx_fail(c,
			       "the kernel needs guest RAM at 0x%" PRIx64 "-0x%" PRIx64
			       " (init_size %" PRIu64 " MiB) but the VM has %" PRIu64
			       " MiB: give the VM more memory (--mem)",
			       c->run_gpa, c->run_gpa + c->run_size, mib_up(c->run_size),
			       c->gm->size >> 20);
	uint64_t end = c->load_gpa + c->kernel_size;
	if (c->run_gpa + c->run_size > end)
		end = c->run_gpa + c->run_size;
	c->kernel_end = page_up(end); /* end <= 4 GiB */
	return 0;
}

/* Check 4: command line against the kernel's cmdline_size and mote's buffer. */
static int lx_check_cmdline(struct lx_ctx *c)
{
	c->cmdline = c->p->cmdline ? c->p->cmdline : "";
	c->cmdline_len = strlen(c->cmdline);
	if (c->cmdline_len > c->h.cmdline_size)
		return lx_fail(c,
			       "kernel command line too long: %zu bytes, but this kernel accepts at "
			       "most %" PRIu32 " (cmdline_size)",
			       c->cmdline_len, c->h.cmdline_size);
	if (c->cmdline_len >= X86_CMDLINE_MAX)
		return lx_fail(c, "kernel command line too long: %zu bytes, the limit is %llu",
			       c->cmdline_len, X86_CMDLINE_MAX - 1);
	return 0;
}

/* Check 5: the memory map fits the zero page and has no wrapping entry. */
static int lx_check_map(struct lx_ctx *c)
{
	const struct linux_params *p = c->p;

	if (!p->map || p->map_len == 0 || p->map_len > BP_E820_MAX)
		return lx_fail(c, "memory map has %zu entries; the Linux zero page takes 1 to %u",
			       p->map ? p->map_len : 0, BP_E820_MAX);
	for (size_t i = 0; i < p->map_len; i++)
		if (p->map[i].addr + p->map[i].size < p->map[i].addr)
			return lx_fail(c,
				       "memory map entry %zu (0x%" PRIx64 " + 0x%" PRIx64
				       ") wraps the address space",
				       i, p->map[i].addr, p->map[i].size);
	return 0;
}

/* Check 6: the initrd goes as high as it can below initrd_addr_max and the device hole,
 * above everything the kernel occupies. */
static int lx_place_initrd(struct lx_ctx *c)
{
	uint64_t addr_max_end = (uint64_t)c->h.initrd_addr_max + 1; /* highest safe byte + 1 */
	uint64_t max_end = addr_max_end < X86_HOLE_START ? addr_max_end : X86_HOLE_START;
	uint64_t ram_end = gm_region_end(c->gm, c->kernel_end);

	c->initrd_gpa = 0;
	if (!c->p->initrd)
		return 0;
	if (x86_place_initrd(c->gm, c->p->initrd_size, c->kernel_end, max_end, &c->initrd_gpa,
			     c->err, c->errlen) == 0)
		return 0;
	/* Say so when the kernel's own limit, not the VM's memory, is what is too low. */
	if (c->p->initrd_size > 0 && addr_max_end < X86_HOLE_START && addr_max_end < ram_end)
		return lx_fail(c,
			       "initrd (%" PRIu64 " MiB) does not fit between the end of the kernel "
			       "(0x%" PRIx64 ") and the kernel's initrd_addr_max (0x%" PRIx32 ")",
			       mib_up(c->p->initrd_size), c->kernel_end, c->h.initrd_addr_max);
	return -1;
}

/* Check 7: the fixed boot structures of layout.h are guest RAM. */
static int lx_check_targets(struct lx_ctx *c)
{
	const struct {
		uint64_t gpa, len;
		const char *what;
	} t[] = {
		{ X86_BOOT_GDT_GPA, LX_GDT_BYTES, "boot GDT" },
		{ X86_ZERO_PAGE_GPA, BP_SIZE, "zero page" },
		{ X86_BOOT_PML4_GPA, PT_PAGE, "boot PML4" },
		{ X86_BOOT_PDPT_GPA, PT_PAGE, "boot PDPT" },
		{ X86_BOOT_PD_GPA, PT_NPD * PT_PAGE, "boot page directories" },
		{ X86_CMDLINE_GPA, c->cmdline_len + 1, "command line" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (!gm_ptr(c->gm, t[i].gpa, t[i].len))
			return lx_fail(c, "guest memory has no room for the %s at 0x%" PRIx64,
				       t[i].what, t[i].gpa);
	return 0;
}

/* The zero page: zeroed, the image's setup header copied in (as far as its jump says, at
 * most the fields mote knows), then the loader's fields. All inputs were checked. */
static void lx_build_zero_page(const struct lx_ctx *c, uint8_t *zp)
{
	struct lx_setup_header h = c->h;
	unsigned end = c->hdr_end < LX_HDR_END ? c->hdr_end : (unsigned)LX_HDR_END;
	uint64_t initrd_size = c->initrd_gpa ? c->p->initrd_size : 0;
	const struct linux_params *p = c->p;

	h.type_of_loader = LX_LOADER_UNDEFINED;
	h.loadflags = (uint8_t)((h.loadflags | LX_CAN_USE_HEAP) & ~LX_QUIET_FLAG);
	h.heap_end_ptr = LX_HEAP_END - 0x200;
	h.code32_start = (uint32_t)c->load_gpa; /* < 4 GiB */
	h.cmd_line_ptr = (uint32_t)X86_CMDLINE_GPA;
	h.ramdisk_image = (uint32_t)c->initrd_gpa;
	h.ramdisk_size = (uint32_t)initrd_size;
	h.setup_data = 0; /* mote passes no setup_data list */

	memset(zp, 0, BP_SIZE);
	memcpy(zp + LX_HDR_OFF, &h, end - LX_HDR_OFF); /* end >= LX_HDR_MIN_END */
	put32(zp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(c->initrd_gpa >> 32));
	put32(zp, BP_EXT_RAMDISK_SIZE, (uint32_t)(initrd_size >> 32));
	put32(zp, BP_EXT_CMD_LINE_PTR, (uint32_t)(X86_CMDLINE_GPA >> 32));
	if (c->h.version >= LX_ACPI_RSDP_PROTOCOL && p->rsdp_gpa)
		put64(zp, BP_ACPI_RSDP_ADDR, p->rsdp_gpa);
	zp[BP_E820_ENTRIES] = (uint8_t)p->map_len; /* <= 128 */
	for (size_t i = 0; i < p->map_len; i++) {
		struct lx_e820_entry e = { p->map[i].addr, p->map[i].size, p->map[i].type };
		memcpy(zp + BP_E820_TABLE + i * sizeof(e), &e, sizeof(e));
	}
}

int linux_load_bzimage(const uint8_t *buf, size_t len, const struct guest_mem *gm,
		       const struct linux_params *p, struct boot_entry *out, char *err,
		       size_t errlen)
{
	struct lx_ctx c = { .buf = buf, .len = len, .gm = gm, .p = p, .err = err, .errlen = errlen };
	uint8_t zp[BP_SIZE];
	uint64_t cr3 = 0;
	int rc = 0;

	if (!p || !out)
		return lx_fail(&c, "internal error: no boot parameters for the bzImage");
	if (lx_check_header(&c) < 0 || lx_check_file(&c) < 0 || lx_place_kernel(&c) < 0 ||
	    lx_check_cmdline(&c) < 0 || lx_check_map(&c) < 0 || lx_place_initrd(&c) < 0 ||
	    lx_check_targets(&c) < 0)
		return -1;

	/* Every range was checked above; these writes cannot be refused. */
	lx_build_zero_page(&c, zp);
	rc |= gm_write(gm, c.load_gpa, buf + c.kernel_off, c.kernel_size);
	if (c.initrd_gpa)
		rc |= gm_write(gm, c.initrd_gpa, p->initrd, p->initrd_size);
	rc |= gm_write(gm, X86_CMDLINE_GPA, c.cmdline, c.cmdline_len + 1);
	rc |= gm_write(gm, X86_ZERO_PAGE_GPA, zp, sizeof(zp));
	rc |= x86_write_boot_gdt(gm);
	rc |= x86_write_boot_page_tables(gm, &cr3);
	if (rc < 0)
		return lx_fail(&c, "internal error: Linux boot structures refused by guest memory");

	memset(out, 0, sizeof(*out));
	out->mode = BOOT_LINUX64;
	out->rip = c.load_gpa + LX_ENTRY64_OFF;
	out->rsi = X86_ZERO_PAGE_GPA;
	out->gdt_gpa = X86_BOOT_GDT_GPA;
	out->cr3 = cr3;
	return 0;
}

int x86_write_boot_page_tables(const struct guest_mem *gm, uint64_t *cr3)
{
	uint64_t t[PT_ENTRIES];

	if (!gm_ptr(gm, X86_BOOT_PML4_GPA, PT_PAGE) || !gm_ptr(gm, X86_BOOT_PDPT_GPA, PT_PAGE) ||
	    !gm_ptr(gm, X86_BOOT_PD_GPA, PT_NPD * PT_PAGE))
		return -1;

	memset(t, 0, sizeof(t));
	t[0] = X86_BOOT_PDPT_GPA | PT_PRESENT | PT_WRITABLE;
	if (gm_write(gm, X86_BOOT_PML4_GPA, t, sizeof(t)) < 0)
		return -1;

	memset(t, 0, sizeof(t));
	for (unsigned i = 0; i < PT_NPD; i++)
		t[i] = (X86_BOOT_PD_GPA + i * PT_PAGE) | PT_PRESENT | PT_WRITABLE;
	if (gm_write(gm, X86_BOOT_PDPT_GPA, t, sizeof(t)) < 0)
		return -1;

	for (unsigned i = 0; i < PT_NPD; i++) {
		for (unsigned j = 0; j < PT_ENTRIES; j++)
			t[j] = ((uint64_t)i * PT_ENTRIES + j) * PT_2M | PT_PRESENT | PT_WRITABLE |
			       PT_PS;
		if (gm_write(gm, X86_BOOT_PD_GPA + i * PT_PAGE, t, sizeof(t)) < 0)
			return -1;
	}
	if (cr3)
		*cr3 = X86_BOOT_PML4_GPA;
	return 0;
}
