/* rt.h: the API of the freestanding test-guest runtime (tests/guests/rt).
 * A guest defines `int main(void)`; its return value goes to rt_exit().
 * main() runs at ring 3 with IOPL=3 (port I/O allowed), or at ring 0 when
 * the command line holds the word `ring0`. All memory below 4 GiB is
 * identity-mapped and user-accessible. */
#ifndef MOTE_GUEST_RT_H
#define MOTE_GUEST_RT_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long uptr;

#define RT_NORETURN __attribute__((noreturn))
#define RT_PRINTF(a, b) __attribute__((format(printf, a, b)))
/* A large buffer the guest writes before it reads: left out of the .bss zeroing (guest.ld). */
#define RT_NOINIT __attribute__((section(".noinit")))

int main(void);

/* Port I/O (one instruction each, so one VM exit each). */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* MMIO: a single plain mov of the given width (easy for any VMM to decode). */
static inline u8 mmio_read8(uptr a) { u8 v; __asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory"); return v; }
static inline u16 mmio_read16(uptr a) { u16 v; __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline u32 mmio_read32(uptr a) { u32 v; __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline u64 mmio_read64(uptr a) { u64 v; __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory"); return v; }
static inline void mmio_write8(uptr a, u8 v) { __asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(a) : "memory"); }
static inline void mmio_write16(uptr a, u16 v) { __asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(a) : "memory"); }
static inline void mmio_write32(uptr a, u32 v) { __asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(a) : "memory"); }
static inline void mmio_write64(uptr a, u64 v) { __asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(a) : "memory"); }

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
/* Current privilege level (0 or 3). */
static inline unsigned rt_cpl(void) { u16 cs; __asm__ volatile("mov %%cs, %0" : "=r"(cs)); return cs & 3; }

/* Serial console (8250 UART at COM1, polled). rt_putc turns '\n' into "\r\n". */
void rt_putc(char c);
void rt_puts(const char *s); /* no newline added */
int rt_printf(const char *fmt, ...) RT_PRINTF(1, 2); /* %s %c %d %i %u %x %X %p %%, l/ll/z, 0/- width */
int rt_getc(void);           /* blocks until a byte arrives */

/* Ending the VM. */
RT_NORETURN void rt_exit(u32 v); /* debug-exit port 0xf4: status (v << 1) | 1 */
RT_NORETURN void rt_reset(void); /* i8042 reset (0xfe to port 0x64) */
RT_NORETURN void rt_hang(void);  /* spin on `pause` forever */

/* Command line (copied to a 4 KiB buffer at boot; words separated by spaces). */
const char *rt_cmdline(void);
int rt_cmdline_has(const char *word);          /* exact word present? */
u64 rt_cmdline_u64(const char *key, u64 dflt); /* key=N (decimal or 0x hex) */

/* PVH start info, copied at boot. */
struct rt_memmap_entry { u64 addr, size; u32 type, reserved; }; /* type 1 = RAM */
#define RT_MEMMAP_MAX 32
u32 rt_memmap_count(void);
const struct rt_memmap_entry *rt_memmap(u32 i); /* NULL when out of range */
u32 rt_module_count(void);                      /* nr_modules from start info */
int rt_module(u64 *paddr, u64 *size);           /* first module (initrd); 0 if none */
u64 rt_start_info_paddr(void);                  /* EBX at entry */

/* Starts the application processor with local APIC ID apic_id (INIT, then SIPI twice, through
 * the local APIC at 0xfee00000; callable at ring 3, the page tables map it): it runs fn at
 * ring 0, with interrupts off, on the stack ending at stack_top. Uses the low page at
 * 0x3000 for its start-up code. One AP at a time (the page holds one set of parameters). */
void rt_start_ap(unsigned apic_id, void (*fn)(void), void *stack_top);

/* Tiny libc pieces the compiler may call on its own. */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);
unsigned long strlen(const char *s);
int strcmp(const char *a, const char *b);

#endif
