/* The host side of the guest console: stdin/stdout of the mote process.
 * Owns: the terminal mode (raw while the VM runs, restored on every exit path, including
 * fatal signals), the escape key (Ctrl-A x quits), and input back-pressure: stdin is read
 * only while the input sink has room. It knows the device that takes input (the UART, or
 * virtio-console) only through a console_sink. */
#ifndef MOTE_CONSOLE_H
#define MOTE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stop.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

/* Where terminal input goes. push takes what it can of buf[0..n) and returns how much (0
 * when full); a device that came up short later calls console_rx_room, and the console
 * pushes the rest. */
struct console_sink {
	size_t (*push)(void *ctx, const uint8_t *buf, size_t n);
	void *ctx;
};

struct console {
	int in_fd, out_fd;
	bool in_tty;      /* stdin is a terminal: raw mode and the escape key are active */
	bool in_eof;      /* stdin closed: stop reading, the VM goes on */
	bool esc;         /* the previous byte was the escape key */
	int room_efd;     /* the sink signals here when it has room again */
	struct console_sink sink; /* push NULL (nothing attached): input waits in pend */
	struct vm_stop *stop;
	uint8_t pend[256]; /* read from stdin, not yet taken by the sink */
	size_t pend_off, pend_len;
	unsigned long dropped; /* terminal reads that did not fit (the guest was not reading) */
};

int console_init(struct console *c, int in_fd, int out_fd, struct vm_stop *stop);
void console_attach(struct console *c, const struct console_sink *sink);

/* Puts the terminal in raw mode when stdin is one. Safe to call once. */
int console_raw_enter(struct console *c);
/* Restores the terminal; idempotent and async-signal-safe. */
void console_restore(void);

/* Output and room callbacks for the devices (uart_host, vconsole_host). */
void console_tx(void *ctx, const uint8_t *buf, size_t n);
void console_rx_room(void *ctx);

/* The fd the event loop should wait on for input, or -1 (nothing to read now). */
/* What the event loop waits on: stdin (-1 while it must not be read) and the room eventfd
 * (-1 while nothing is pending). */
int console_input_fd(const struct console *c);
int console_room_fd(const struct console *c);
/* Called when the respective fd is readable (or stdin hung up). */
void console_on_input(struct console *c);
void console_on_room(struct console *c);

void console_destroy(struct console *c);

#endif
