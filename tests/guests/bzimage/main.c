/* main.c: the bzImage test guest's only C code. Runs at ring 0 straight from the 64-bit
 * entry (head.S) and prints what the loader left in the zero page (struct boot_params,
 * Documentation/arch/x86/zero-page.rst), then exits through the debug-exit port.
 * Ring-0 code is emulated on some hosts (~1 µs per instruction): everything here is a
 * few hundred serial bytes plus one bounded hash loop. Position independent (-fpie). */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define COM1        0x3f8
#define COM1_LSR    0x3fd
#define LSR_THRE    0x20
#define DEBUG_EXIT  0xf4

/* struct boot_params offsets (zero-page.rst; setup header fields at 0x1f1 + boot.rst). */
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_TYPE_OF_LOADER    0x210
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_CMD_LINE_PTR      0x228
#define BP_CMDLINE_SIZE      0x238
#define BP_E820_TABLE        0x2d0
#define E820_ENTRY_SIZE      20
#define E820_MAX             128

#define CMDLINE_CAP  4096u        /* never print more than this many command-line bytes */
#define HASH_CAP     (64u << 10)  /* FNV-1a over at most the first 64 KiB of the initrd */

void bz_main(const u8 *zp, u64 entry_rsp, u64 entry_rflags) __attribute__((noreturn));

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static u32 rd32(const u8 *p, unsigned off)
{
	u32 v;
	__builtin_memcpy(&v, p + off, sizeof(v));
	return v;
}

static u64 rd64(const u8 *p, unsigned off)
{
	u64 v;
	__builtin_memcpy(&v, p + off, sizeof(v));
	return v;
}

static void ser_putc_raw(char c)
{
	while (!(inb(COM1_LSR) & LSR_THRE))
		;
	outb(COM1, (u8)c);
}

static void ser_putc(char c)
{
	if (c == '\n')
		ser_putc_raw('\r');
	ser_putc_raw(c);
}

static void ser_puts(const char *s)
{
	while (*s)
		ser_putc(*s++);
}

/* v in base 10 or 16, at least `width` digits (zero padded). */
static void putnum(u64 v, unsigned base, unsigned width)
{
	char buf[24];
	unsigned n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n < width && n < sizeof(buf))
		buf[n++] = '0';
	while (n)
		ser_putc(buf[--n]);
}

static void hex(const char *label, u64 v)
{
	ser_puts(label);
	ser_puts("0x");
	putnum(v, 16, 1);
}

static void dec(const char *label, u64 v)
{
	ser_puts(label);
	putnum(v, 10, 1);
}

static void print_cmdline(const u8 *zp)
{
	u64 ptr = rd32(zp, BP_CMD_LINE_PTR) | (u64)rd32(zp, BP_EXT_CMD_LINE_PTR) << 32;
	u32 cap = rd32(zp, BP_CMDLINE_SIZE) + 1; /* cmdline_size excludes the NUL */

	if (cap > CMDLINE_CAP || cap == 0)
		cap = CMDLINE_CAP;
	ser_puts("bzimage: cmdline: ");
	if (ptr) {
		const char *s = (const char *)ptr;
		for (u32 i = 0; i < cap && s[i]; i++)
			ser_putc(s[i]);
	}
	ser_putc('\n');
}

static void print_e820(const u8 *zp)
{
	unsigned n = zp[BP_E820_ENTRIES];

	if (n > E820_MAX)
		n = E820_MAX;
	for (unsigned i = 0; i < n; i++) {
		unsigned off = BP_E820_TABLE + i * E820_ENTRY_SIZE;
		hex("bzimage: e820 addr=", rd64(zp, off));
		hex(" size=", rd64(zp, off + 8));
		dec(" type=", rd32(zp, off + 16));
		ser_putc('\n');
	}
}

static void print_initrd(const u8 *zp)
{
	u64 addr = rd32(zp, BP_RAMDISK_IMAGE) | (u64)rd32(zp, BP_EXT_RAMDISK_IMAGE) << 32;
	u64 size = rd32(zp, BP_RAMDISK_SIZE) | (u64)rd32(zp, BP_EXT_RAMDISK_SIZE) << 32;

	if (!addr || !size) {
		ser_puts("bzimage: initrd none\n");
		return;
	}
	const u8 *p = (const u8 *)addr;
	u64 n = size < HASH_CAP ? size : HASH_CAP;
	u32 h = 2166136261u;
	for (u64 i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	hex("bzimage: initrd addr=", addr);
	dec(" size=", size);
	ser_puts(" fnv1a64k=0x");
	putnum(h, 16, 8);
	ser_putc('\n');
}

static void print_rsdp(const u8 *zp)
{
	u64 rsdp = rd64(zp, BP_ACPI_RSDP_ADDR);

	hex("bzimage: rsdp=", rsdp);
	if (rsdp) {
		const char *sig = (const char *)rsdp;
		ser_puts(" sig=\"");
		for (unsigned i = 0; i < 8; i++)
			ser_putc(sig[i] >= ' ' && sig[i] <= '~' ? sig[i] : '.');
		ser_putc('"');
	}
	ser_putc('\n');
}

void bz_main(const u8 *zp, u64 entry_rsp, u64 entry_rflags)
{
	u64 rip;
	u16 cs;

	hex("bzimage: entry rsi=", (u64)zp);
	hex(" rsp=", entry_rsp);
	dec(" if=", (entry_rflags >> 9) & 1);
	ser_putc('\n');
	ser_puts("bzimage: loader=0x");
	putnum(zp[BP_TYPE_OF_LOADER], 16, 2);
	ser_putc('\n');
	print_cmdline(zp);
	print_e820(zp);
	print_initrd(zp);
	print_rsdp(zp);
	__asm__ volatile("1: leaq 1b(%%rip), %0" : "=r"(rip));
	hex("bzimage: rip=", rip);
	ser_putc('\n');
	__asm__ volatile("movw %%cs, %0" : "=r"(cs));
	hex("bzimage: cs=", cs);
	ser_putc('\n');
	outb(DEBUG_EXIT, 0); /* process status (0 << 1) | 1 = 1 */
	for (;;)
		__asm__ volatile("hlt");
}
