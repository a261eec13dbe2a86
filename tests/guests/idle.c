/* idle: the idle microVM of the density benchmark (bench/density.sh). It prints
 * `idle: ready (...)` and then, by mode:
 *   ring0 irq  waits for console input with the vCPU halted: COM1's receive interrupt (IRQ 4,
 *              IOAPIC pin 4, vector 0x30) wakes it. Every line typed is answered
 *              `idle: got N bytes`; the line `quit` exits with status 1. Needs interrupt
 *              delivery to guest ring 0, which hosts without hardware virtualization (PVM)
 *              do not emulate (the guest triple-faults there); QEMU TCG and VT-x/AMD-V do.
 *   ring0      halts with interrupts off for good (`cli; hlt`): idle at no host cost on any
 *              host; only a signal to the VMM ends it.
 *   (ring 3)   cannot halt: polls the console as `ring0 irq` answers it. */
#include "rt.h"

#define IDLE_VECTOR 0x30
#define LAPIC_BASE 0xfee00000ul
#define LAPIC_SVR 0xf0
#define IOAPIC_BASE 0xfec00000ul
#define COM1 0x3f8

/* The interrupt entry: acknowledge at the LAPIC (EOI), return. rax is the only register used. */
void idle_irq(void);
__asm__(".text\n.globl idle_irq\nidle_irq:\n"
	"\tpushq %rax\n\tmovabsq $0xfee000b0, %rax\n\tmovl $0, (%rax)\n\tpopq %rax\n\tiretq\n");

struct gate {
	u16 off0, sel;
	u8 ist, type;
	u16 off1;
	u32 off2, zero;
} __attribute__((packed));

static struct gate idt[IDLE_VECTOR + 1] __attribute__((aligned(16)));

static void ioapic_write(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_BASE, reg);
	mmio_write32(IOAPIC_BASE + 0x10, v);
}

/* Ring 0 only: an IDT with the one gate, the LAPIC on, IOAPIC pin 4 -> vector, UART RX irq on. */
static void irq_setup(void)
{
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	uptr h = (uptr)idle_irq;
	idt[IDLE_VECTOR] = (struct gate){.off0 = (u16)h, .sel = cs, .type = 0x8e,
					 .off1 = (u16)(h >> 16), .off2 = (u32)(h >> 32)};
	struct { u16 limit; u64 base; } __attribute__((packed)) idtr = {sizeof(idt) - 1, (u64)(uptr)idt};
	__asm__ volatile("lidt %0" : : "m"(idtr));
	mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x1ff); /* software-enabled, spurious vector 0xff */
	ioapic_write(0x10 + 2 * 4, IDLE_VECTOR);     /* pin 4: fixed, physical, edge, high, unmasked */
	ioapic_write(0x11 + 2 * 4, 0);               /* to APIC ID 0 */
	outb(COM1 + 1, 0x01);                        /* IER: received data available */
}

int main(void)
{
	int ring0 = rt_cpl() == 0;
	if (ring0 && !rt_cmdline_has("irq")) {
		rt_puts("idle: ready (halted for good)\n");
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	if (ring0)
		irq_setup();
	rt_printf("idle: ready (%s)\n", ring0 ? "halted while waiting" : "polling at ring 3");
	char line[8];
	unsigned n = 0, total = 0;
	for (;;) {
		int c;
		if (ring0) {
			if (!(inb(COM1 + 5) & 1)) {
				__asm__ volatile("sti; hlt; cli" ::: "memory"); /* sti's shadow covers hlt */
				continue;
			}
			c = inb(COM1);
		} else {
			c = rt_getc();
		}
		if (c != '\r' && c != '\n') {
			if (n < sizeof(line))
				line[n] = (char)c;
			n++;
			continue;
		}
		if (n == 4 && !memcmp(line, "quit", 4))
			break;
		if (n) {
			total += n;
			rt_printf("idle: got %u bytes\n", total);
		}
		n = 0;
	}
	rt_puts("idle: bye\n");
	return 0;
}
