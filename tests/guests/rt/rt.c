/* rt.c: the C half of the test-guest runtime: start-info copy, serial
 * console, printf, command-line parsing, exits, and the few libc functions
 * gcc may call. Runs at ring 3 (or ring 0 with `ring0`); see rt.h. */
#include "rt.h"

#define COM1 0x3f8
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define DEBUG_EXIT_PORT 0xf4
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	u32 magic, version, flags, nr_modules;
	u64 modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	u32 memmap_entries, reserved;
};
struct hvm_modlist_entry { u64 paddr, size, cmdline_paddr, reserved; };

extern u64 rt_start_info; /* EBX at entry, saved by entry.S */
void rt_init(void);

static char cmdline[4096];
static struct rt_memmap_entry memmap[RT_MEMMAP_MAX];
static u32 memmap_n, module_n, have_module;
static u64 mod_paddr, mod_size;
static int uart_dead; /* LSR never showed THRE: stop polling */

/* Called once from entry.S (at ring 3, or ring 0 with `ring0`) before main.
 * Address 0 is valid memory here. */
void rt_init(void)
{
	const struct hvm_start_info *si = (const void *)(uptr)rt_start_info;
	if (si->magic != HVM_START_MAGIC)
		return;
	if (si->cmdline_paddr) {
		const char *s = (const char *)(uptr)si->cmdline_paddr;
		unsigned n = 0;
		while (n < sizeof(cmdline) - 1 && s[n])
			n++;
		memcpy(cmdline, s, n);
	}
	if (si->version >= 1 && si->memmap_paddr) {
		memmap_n = si->memmap_entries < RT_MEMMAP_MAX ? si->memmap_entries : RT_MEMMAP_MAX;
		memcpy(memmap, (const void *)(uptr)si->memmap_paddr, memmap_n * sizeof(memmap[0]));
	}
	module_n = si->nr_modules;
	if (module_n && si->modlist_paddr) {
		const struct hvm_modlist_entry *m = (const void *)(uptr)si->modlist_paddr;
		mod_paddr = m->paddr;
		mod_size = m->size;
		have_module = 1;
	}
}

u64 rt_start_info_paddr(void) { return rt_start_info; }
u32 rt_memmap_count(void) { return memmap_n; }
const struct rt_memmap_entry *rt_memmap(u32 i) { return i < memmap_n ? &memmap[i] : 0; }
u32 rt_module_count(void) { return module_n; }
int rt_module(u64 *paddr, u64 *size)
{
	*paddr = mod_paddr;
	*size = mod_size;
	return (int)have_module;
}

/* ---- serial ---- */
static void uart_tx(u8 c)
{
	for (unsigned n = 0; !uart_dead && !(inb(COM1 + 5) & LSR_THRE); n++) {
		if (n > 100000)
			uart_dead = 1;
		cpu_relax();
	}
	outb(COM1, c);
}

void rt_putc(char c)
{
	if (c == '\n')
		uart_tx('\r');
	uart_tx((u8)c);
}

void rt_puts(const char *s)
{
	while (*s)
		rt_putc(*s++);
}

int rt_getc(void)
{
	while (!(inb(COM1 + 5) & LSR_DR))
		cpu_relax();
	return inb(COM1);
}

/* ---- printf ---- */
static int put_num(u64 v, unsigned base, int neg, int width, int zero, int left, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int n = 0, out = 0;
	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + neg;
	if (neg && zero) {
		rt_putc('-');
		out++;
	}
	for (; !left && len < width; width--, out++)
		rt_putc(zero ? '0' : ' ');
	if (neg && !zero) {
		rt_putc('-');
		out++;
	}
	for (; n; out++)
		rt_putc(buf[--n]);
	for (; left && len < width; width--, out++)
		rt_putc(' ');
	return out;
}

int rt_printf(const char *fmt, ...)
{
	__builtin_va_list ap;
	int out = 0;
	__builtin_va_start(ap, fmt);
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			rt_putc(*p);
			out++;
			continue;
		}
		int zero = 0, left = 0, width = 0, lng = 0;
		for (p++; *p == '0' || *p == '-'; p++)
			*p == '0' ? (zero = 1) : (left = 1);
		for (; *p >= '0' && *p <= '9'; p++)
			width = width * 10 + (*p - '0');
		for (; *p == 'l' || *p == 'z'; p++)
			lng++;
		if (left)
			zero = 0;
		u64 v;
		switch (*p) {
		case 'd': case 'i': {
			long long s = lng ? __builtin_va_arg(ap, long long) : __builtin_va_arg(ap, int);
			v = s < 0 ? -(u64)s : (u64)s;
			out += put_num(v, 10, s < 0, width, zero, left, 0);
			break;
		}
		case 'u': case 'x': case 'X':
			v = lng ? __builtin_va_arg(ap, u64) : __builtin_va_arg(ap, unsigned);
			out += put_num(v, *p == 'u' ? 10 : 16, 0, width, zero, left, *p == 'X');
			break;
		case 'p':
			rt_puts("0x");
			out += 2 + put_num((uptr)__builtin_va_arg(ap, void *), 16, 0, width, zero, left, 0);
			break;
		case 'c':
			rt_putc((char)__builtin_va_arg(ap, int));
			out++;
			break;
		case 's': {
			const char *s = __builtin_va_arg(ap, const char *);
			int len = (int)strlen(s ? s : "(null)");
			for (; !left && len < width; width--, out++)
				rt_putc(' ');
			rt_puts(s ? s : "(null)");
			for (out += len; left && len < width; width--, out++)
				rt_putc(' ');
			break;
		}
		case '%':
			rt_putc('%');
			out++;
			break;
		default: /* unknown or truncated conversion: print it raw */
			rt_putc('%');
			out++;
			if (!*p)
				p--;
			else
				rt_putc(*p), out++;
			break;
		}
	}
	__builtin_va_end(ap);
	return out;
}

/* ---- exits ---- */
void rt_hang(void)
{
	for (;;)
		cpu_relax();
}

void rt_exit(u32 v)
{
	outl(DEBUG_EXIT_PORT, v);
	rt_hang();
}

void rt_reset(void)
{
	outb(0x64, 0xfe);
	rt_hang();
}

/* ---- command line ---- */
/* Like want_ring0 in entry.S: any control character or space separates words. */
static int is_space(char c) { return c && (u8)c <= ' '; }

/* The next space-separated word at or after p (length in *len), or NULL. */
static const char *next_word(const char *p, unsigned *len)
{
	while (is_space(*p))
		p++;
	*len = 0;
	while (p[*len] && !is_space(p[*len]))
		(*len)++;
	return *len ? p : 0;
}

const char *rt_cmdline(void) { return cmdline; }

int rt_cmdline_has(const char *word)
{
	unsigned len, wl = (unsigned)strlen(word);
	for (const char *w = cmdline; (w = next_word(w, &len)); w += len)
		if (len == wl && !memcmp(w, word, wl))
			return 1;
	return 0;
}

static int parse_u64(const char *s, unsigned len, u64 *out)
{
	unsigned base = 10, i = 0;
	u64 v = 0;
	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, i = 2;
	if (i == len)
		return 0;
	for (; i < len; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return 0;
		v = v * base + d;
	}
	*out = v;
	return 1;
}

/* key=value; the last valid occurrence wins; dflt if none. */
u64 rt_cmdline_u64(const char *key, u64 dflt)
{
	unsigned len, kl = (unsigned)strlen(key);
	u64 v = dflt, t;
	for (const char *w = cmdline; (w = next_word(w, &len)); w += len)
		if (len > kl + 1 && !memcmp(w, key, kl) && w[kl] == '=' &&
		    parse_u64(w + kl + 1, len - kl - 1, &t))
			v = t;
	return v;
}

/* ---- libc bits ---- */
/* rep-prefixed string instructions: fast natively, and an emulator (ring 0
 * on some hosts) runs them far faster than a loop of single instructions. */
void *memset(void *d, int c, unsigned long n)
{
	void *p = d;
	__asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
	return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	void *p = d;
	__asm__ volatile("rep movsb" : "+D"(p), "+S"(s), "+c"(n) : : "memory");
	return d;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

unsigned long strlen(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (u8)*a - (u8)*b;
}

extern const u8 rt_ap_tramp[], rt_ap_tramp_end[], rt_ap_params[];
extern u8 rt_pml4[];

#define AP_BASE 0x3000ul
#define LAPIC_ICR_LO 0xfee00300ul
#define LAPIC_ICR_HI 0xfee00310ul

static void icr(unsigned apic_id, u32 lo)
{
	mmio_write32(LAPIC_ICR_HI, apic_id << 24);
	mmio_write32(LAPIC_ICR_LO, lo);
	for (volatile u32 i = 0; i < 200000; i++) /* the spec's delays, roughly */
		;
}

void rt_start_ap(unsigned apic_id, void (*fn)(void), void *stack_top)
{
	u8 *dst = (u8 *)AP_BASE;
	unsigned long n = (unsigned long)(rt_ap_tramp_end - rt_ap_tramp);
	memcpy(dst, rt_ap_tramp, n);
	u64 *params = (u64 *)(dst + (rt_ap_params - rt_ap_tramp));
	params[0] = (u64)(uptr)rt_pml4;
	params[1] = (u64)(uptr)fn;
	params[2] = (u64)(uptr)stack_top;
	__asm__ volatile("" ::: "memory");
	mmio_write32(0xfee000f0ul, 0x1ff);          /* SVR: the local APIC software-enabled */
	icr(apic_id, 0x4500);                      /* INIT, level assert */
	icr(apic_id, 0x4600 | (u32)(AP_BASE >> 12)); /* SIPI at page 3 */
	icr(apic_id, 0x4600 | (u32)(AP_BASE >> 12));
}
