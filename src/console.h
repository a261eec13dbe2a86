/* The host side of the serial console: stdin/stdout of the mote process.
 * Owns: the terminal mode (raw while the VM runs, restored on every exit path, including
 * fatal signals), the escape key (Ctrl-A x quits), and input back-pressure: stdin is read
 * only while the UART has room. It knows the UART only through uart_rx_push/uart_rx_room. */
#ifndef MOTE_CONSOLE_H
#define MOTE_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/stop.h"
#include "devices/uart8250.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console {
	int in_fd, out_fd;
	bool in_tty;      /* stdin is a terminal: raw mode and the escape key are active */
	bool in_eof;      /* stdin closed: stop reading, the VM goes on */
	bool esc;         /* the previous byte was the escape key */
	int room_efd;     /* the UART signals here when its FIFO has room again */
	struct uart8250 *uart;
	struct vm_stop *stop;
	uint8_t pend[256]; /* read from stdin, not yet taken by the UART */
	size_t pend_off, pend_len;
};

int console_init(struct console *c, int in_fd, int out_fd, struct vm_stop *stop);
void console_attach(struct console *c, struct uart8250 *uart);

/* Puts the terminal in raw mode when stdin is one. Safe to call once. */
int console_raw_enter(struct console *c);
/* Restores the terminal; idempotent and async-signal-safe. */
void console_restore(void);

/* uart_host callbacks. */
void console_tx(void *ctx, const uint8_t *buf, size_t n);
void console_rx_room(void *ctx);

/* The fd the event loop should wait on for input, or -1 (nothing to read now). */
int console_wait_fd(struct console *c);
/* Called when console_wait_fd() is readable. */
void console_on_ready(struct console *c);

void console_destroy(struct console *c);

#endif
