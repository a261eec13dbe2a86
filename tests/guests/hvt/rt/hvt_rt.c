/* The test bindings (see hvt_rt.h). Runs at ring 0; keep it short: this host emulates ring 0. */
#include "hvt_rt.h"

#include <stdarg.h>

__attribute__((section(".note.solo5.abi"), used, aligned(4)))
const struct { uint32_t namesz, descsz, type; char name[8]; uint32_t target, version, r0, r1; }
abi_note = {6, 16, 0x31494241, "Solo5", 1, 2, 0, 0};

const struct boot_info *bi;

size_t slen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
bool streq(const char *a, const char *b) { while (*a && *a == *b) a++, b++; return *a == *b; }
bool starts(const char *s, const char *p) { while (*p && *s == *p) s++, p++; return !*p; }
void *mset(void *d, int c, size_t n) { volatile uint8_t *p = d; while (n--) *p++ = (uint8_t)c; return d; }
void *mcpy(void *d, const void *s, size_t n)
{
	volatile uint8_t *o = d;
	const uint8_t *i = s;
	while (n--)
		*o++ = *i++;
	return d;
}

void hypercall(int nr, volatile void *arg)
{
	__asm__ volatile("outl %0, %1" : : "a"((uint32_t)(uintptr_t)arg), "d"((uint16_t)(0x500 + nr))
			 : "memory");
}

void hypercall_mmio(int nr, volatile void *arg)
{
	volatile uint32_t *p = (volatile uint32_t *)(0x100000000ull + ((uint64_t)nr << 3));
	*p = (uint32_t)(uintptr_t)arg;
	__asm__ volatile("" : : : "memory");
}

void puts_n(const char *s, size_t n)
{
	volatile struct { uint64_t data, len; } a = {(uintptr_t)s, n};
	hypercall(HC_PUTS, &a);
}

void halt(int status, void *cookie)
{
	volatile struct { uint64_t cookie; int32_t status; uint32_t pad; } a = {(uintptr_t)cookie, status, 0};
	hypercall(HC_HALT, &a);
	for (;;)
		;
}

uint64_t walltime(void)
{
	volatile struct { uint64_t ns; } a = {0};
	hypercall(HC_WALLTIME, &a);
	return a.ns;
}

uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

int poll_ns(uint64_t timeout_ns, uint64_t *ready)
{
	volatile struct { uint64_t timeout, ready; int32_t ret; uint32_t pad; } a = {timeout_ns, 0, -1, 0};
	hypercall(HC_POLL, &a);
	if (ready)
		*ready = a.ready;
	return a.ret;
}

int block_io(bool write, uint64_t handle, uint64_t off, void *buf, uint64_t len)
{
	volatile struct { uint64_t h, off, data, len; int32_t ret; uint32_t pad; } a =
		{handle, off, (uintptr_t)buf, len, -1, 0};
	hypercall(write ? HC_BLOCK_WRITE : HC_BLOCK_READ, &a);
	return a.ret;
}

int net_write(uint64_t handle, const void *buf, uint64_t len)
{
	volatile struct { uint64_t h, data, len; int32_t ret; uint32_t pad; } a = {handle, (uintptr_t)buf, len, -1, 0};
	hypercall(HC_NET_WRITE, &a);
	return a.ret;
}

int net_read(uint64_t handle, void *buf, uint64_t *len)
{
	volatile struct { uint64_t h, data, len; int32_t ret; uint32_t pad; } a = {handle, (uintptr_t)buf, *len, -1, 0};
	hypercall(HC_NET_READ, &a);
	*len = a.len;
	return a.ret;
}

struct ring *ring_get(void)
{
	return (bi->host_features & 1) ? (struct ring *)(uintptr_t)bi->net_ring : 0;
}

/* A full barrier at any CPL without SSE state (as the PVH runtime's virtio driver). */
static void mb(void)
{
	__asm__ volatile("lock addl $0, (%%rsp)" : : : "memory");
}

void ring_put(struct ring *r, uint32_t op, uint64_t handle, const void *buf, uint32_t len,
	      uint32_t id)
{
	while (r->ent_tail - r->ent_head >= RING_SIZE)
		;
	struct ring_entry *e = &r->e[r->ent_tail % RING_SIZE];
	e->op = op;
	e->handle = (uint32_t)handle;
	e->data = (uintptr_t)buf;
	e->len = len;
	e->id = id;
	__asm__ volatile("" : : : "memory"); /* x86 keeps stores in order */
	r->ent_tail = r->ent_tail + 1;
	mb(); /* ent_tail before needs_kick: the tender orders the other way */
	if (r->needs_kick)
		__asm__ volatile("outl %0, %1" : : "a"(0), "d"((uint16_t)RING_KICK_PORT) : "memory");
}

int ring_net_read(struct ring *r, uint64_t handle, void *buf, uint64_t *len)
{
	static uint32_t next_id;
	uint32_t id = ++next_id;
	ring_put(r, RING_OP_READ, handle, buf, (uint32_t)*len, id);
	while (r->com_tail == r->com_head)
		;
	struct ring_commit c = r->c[r->com_head % RING_SIZE];
	r->com_head = r->com_head + 1;
	if (c.id != id)
		return R_EUNSPEC;
	*len = c.len;
	return c.ret;
}

int acquire(const char *name, uint32_t type, const struct mft_entry **e)
{
	const uint32_t *hdr = bi->mft;
	const struct mft_entry *ent = (const struct mft_entry *)(hdr + 2);
	for (uint32_t i = 0; i < hdr[1]; i++) {
		if (ent[i].type == type && streq(ent[i].name, name) && ent[i].attached) {
			*e = &ent[i];
			return (int)i;
		}
	}
	return -1;
}

static char *num(char *o, char *end, uint64_t v, unsigned base, bool neg)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg && o < end)
		*o++ = '-';
	while (n && o < end)
		*o++ = tmp[--n];
	return o;
}

void printf_(const char *fmt, ...)
{
	char buf[256], *o = buf, *end = buf + sizeof(buf);
	va_list ap;
	va_start(ap, fmt);
	for (const char *f = fmt; *f && o < end; f++) {
		if (*f != '%') {
			*o++ = *f;
			continue;
		}
		f++;
		bool l = false;
		while (*f == 'l')
			l = true, f++;
		switch (*f) {
		case 's':
			for (const char *s = va_arg(ap, const char *); *s && o < end; s++)
				*o++ = *s;
			break;
		case 'd': {
			int64_t v = l ? va_arg(ap, int64_t) : va_arg(ap, int);
			o = num(o, end, v < 0 ? (uint64_t)-v : (uint64_t)v, 10, v < 0);
			break;
		}
		case 'u':
			o = num(o, end, l ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false);
			break;
		case 'x':
			o = num(o, end, l ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false);
			break;
		default:
			*o++ = *f;
			break;
		}
	}
	va_end(ap);
	puts_n(buf, (size_t)(o - buf));
}

/* Own GDT (the tender's is not mapped) with the same selectors, and an IDT for vectors 0-19. */
static uint64_t gdt[3] = {0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
static struct { uint16_t lo, sel; uint8_t ist, attr; uint16_t mid; uint32_t hi, zero; } idt[20];
extern const uint64_t trap_table[20];
static uint64_t cookie[64]; /* 512 bytes: cr2, ec, rip, cs, rflags, rsp, ss */

static void cpu_init(void)
{
	struct __attribute__((packed)) { uint16_t limit; uint64_t base; } d;
	d.limit = sizeof(gdt) - 1;
	d.base = (uintptr_t)gdt;
	__asm__ volatile("lgdt %0" : : "m"(d));
	for (int i = 0; i < 20; i++) {
		uint64_t a = trap_table[i];
		idt[i].lo = (uint16_t)a;
		idt[i].sel = 0x08;
		idt[i].attr = 0x8e;
		idt[i].mid = (uint16_t)(a >> 16);
		idt[i].hi = (uint32_t)(a >> 32);
	}
	d.limit = sizeof(idt) - 1;
	d.base = (uintptr_t)idt;
	__asm__ volatile("lidt %0" : : "m"(d));
}

void hvt_trap(const uint64_t *f);
void hvt_trap(const uint64_t *f)
{
	uint64_t cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	printf_("trap: vector %u error code 0x%lx rip 0x%lx cr2 0x%lx\n", (unsigned)f[0], f[1],
		f[2], cr2);
	cookie[0] = cr2;
	for (int i = 1; i < 7; i++)
		cookie[i] = f[i];
	halt(255, cookie);
}

void hvt_start(const struct boot_info *b);
void hvt_start(const struct boot_info *b)
{
	bi = b;
	cpu_init();
	halt(hvt_main(b->cmdline), 0);
}
