/* An interrupt line handed to a device. The device only knows "raise/lower my line";
 * which GSI it is and how it reaches the guest belongs to the machine and the KVM layer. */
#ifndef MOTE_CORE_IRQ_H
#define MOTE_CORE_IRQ_H

struct irq_line {
	void (*set)(void *ctx, unsigned gsi, int level);
	void *ctx;
	unsigned gsi;
};

static inline void irq_set(const struct irq_line *l, int level)
{
	if (l->set)
		l->set(l->ctx, l->gsi, level);
}

#endif
