/* i8042 keyboard controller, only as much as a guest needs: the reset line (command 0xFE,
 * or pulsing bit 0 of the output port) and harmless answers to probes. No keyboard or mouse.
 * Ports: data at offset 0 of its "data" window, status/command at offset 0 of "cmd". */
#ifndef MOTE_DEVICES_I8042_H
#define MOTE_DEVICES_I8042_H

#include <pthread.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/irq.h"
#include "core/stop.h"

#define I8042_KEY_QUEUE 16 /* scancodes waiting behind the output buffer */

struct i8042 {
	pthread_mutex_t lock;
	struct vm_stop *stop;
	uint8_t cmd_byte;   /* controller configuration byte */
	uint8_t out;        /* output buffer */
	int out_full;
	uint8_t pending;    /* command waiting for its data byte (0x60, 0xd1), or 0 */
	uint8_t status_cmd; /* last write went to the command port */
	/* Keys injected by the host (the API's SendCtrlAltDel), delivered one byte at a time
	 * through the output buffer with IRQ 1 raised while a key byte waits (when enabled). */
	struct irq_line irq;
	uint8_t keys[I8042_KEY_QUEUE];
	unsigned nkeys;
	int out_is_key;
	int irq_level;
};

extern const struct bus_ops i8042_data_ops; /* 1 byte window at the data port (0x60) */
extern const struct bus_ops i8042_cmd_ops;  /* 1 byte window at the command port (0x64) */

void i8042_init(struct i8042 *k, struct vm_stop *stop);
void i8042_destroy(struct i8042 *k);

/* The keyboard interrupt line (IRQ 1); without one, injected keys can only be polled. */
void i8042_set_irq(struct i8042 *k, const struct irq_line *irq);

/* Queues set-1 scancodes as if typed (any thread). Returns 0, or -1 when they do not fit. */
int i8042_send_keys(struct i8042 *k, const uint8_t *codes, size_t n);

/* Snapshots: controller byte, output buffer, pending command, queued keys. load validates
 * every field and changes nothing when it refuses. */
struct snap_out;
struct snap_in;
void i8042_save(struct i8042 *k, struct snap_out *o);
int i8042_load(struct i8042 *k, struct snap_in *in, char *err, size_t errlen);

#endif
