/* 8250/16550A UART (COM1 on x86): register file, receive FIFO, interrupt logic.
 * Owns: the UART state, serialised by its own lock. It knows neither the host terminal nor
 * its bus address: output goes to a tx callback, input comes through uart_rx_push(), and
 * the interrupt through an irq_line. */
#ifndef MOTE_DEVICES_UART8250_H
#define MOTE_DEVICES_UART8250_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"

#define UART_REG_COUNT 8
#define UART_RX_FIFO 64

struct uart_host {
	/* Guest wrote bytes; called with the UART lock held, keep it short. */
	void (*tx)(void *ctx, const uint8_t *buf, size_t n);
	/* The receive FIFO went from full to having room; the host may push again. */
	void (*rx_room)(void *ctx);
	void *ctx;
};

struct uart8250 {
	pthread_mutex_t lock;
	struct irq_line irq;
	struct uart_host host;
	uint8_t ier, lcr, mcr, lsr_extra, scr, dll, dlm, fcr;
	int thr_irq_pending; /* THR-empty interrupt latched, cleared by an IIR read or THR write */
	int irq_level;
	uint8_t rx[UART_RX_FIFO];
	size_t rx_head, rx_len;
	/* For the metrics (Firecracker's uart.read_count / write_count): bytes the guest read
	 * from RBR, bytes it sent through THR to the host. */
	atomic_ulong read_count, write_count;
};

extern const struct bus_ops uart8250_ops;

void uart_init(struct uart8250 *u, const struct irq_line *irq, const struct uart_host *host);
void uart_destroy(struct uart8250 *u);

/* Queues input bytes for the guest; returns how many were accepted (0 when the FIFO is full). */
size_t uart_rx_push(struct uart8250 *u, const uint8_t *buf, size_t n);

/* Free bytes in the receive FIFO. */
size_t uart_rx_room(struct uart8250 *u);

/* Snapshots: the register file, latched interrupt and the receive FIFO. load validates every
 * field (the stream is a hostile file) and changes nothing when it refuses. */
struct snap_out;
struct snap_in;
void uart_save(struct uart8250 *u, struct snap_out *o);
int uart_load(struct uart8250 *u, struct snap_in *in, char *err, size_t errlen);

#endif
