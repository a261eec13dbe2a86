/* Host console: raw mode with guaranteed restore, Ctrl-A escapes, stdin -> the input sink
 * (UART or virtio-console) with back-pressure, device output -> stdout. The saved terminal
 * state is the one file-level variable: a fatal-signal handler must be able to reach it. */
#include "vmm/console.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

#include "core/event.h"
#include "core/log.h"
#include "core/status.h"

static struct {
	volatile sig_atomic_t active;
	int fd;
	struct termios saved;
} term_state;

void console_restore(void)
{
	if (term_state.active) {
		tcsetattr(term_state.fd, TCSAFLUSH, &term_state.saved);
		term_state.active = 0;
	}
}

/* Installed with SA_RESETHAND: the default action is back in place, so raise() ends mote
 * with the signal itself, and no rt_sigaction is needed (the seccomp lists have none). */
static void fatal_signal(int sig)
{
	console_restore();
	raise(sig);
}

int console_init(struct console *c, int in_fd, int out_fd, struct vm_stop *stop)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->stop = stop;
	c->in_tty = isatty(in_fd);
	c->room_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return c->room_efd < 0 ? -1 : 0;
}

void console_attach(struct console *c, const struct console_sink *sink) { c->sink = *sink; }

int console_raw_enter(struct console *c)
{
	if (!c->in_tty || term_state.active)
		return 0;
	struct termios t;
	if (tcgetattr(c->in_fd, &t) < 0)
		return -1;
	term_state.saved = t;
	term_state.fd = c->in_fd;
	/* Restore on every way out: normal exit, exit() from anywhere, and fatal signals. */
	static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGQUIT};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fatal_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	atexit(console_restore);
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* host messages printed while raw still start at column 0 */
	if (tcsetattr(c->in_fd, TCSAFLUSH, &t) < 0)
		return -1;
	term_state.active = 1;
	return 0;
}

void console_tx(void *ctx, const uint8_t *buf, size_t n)
{
	struct console *c = ctx;
	while (n) {
		ssize_t w = write(c->out_fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* stdout gone: the guest's output is lost, the guest is not stopped */
		buf += w;
		n -= (size_t)w;
	}
}

void console_rx_room(void *ctx)
{
	struct console *c = ctx;
	event_signal(c->room_efd);
}

int console_input_fd(const struct console *c)
{
	if (c->in_eof)
		return -1;
	/* A terminal is always read, so the escape key works even while the guest takes no
	 * input (what does not fit is dropped, like a UART overrun); other input only when
	 * nothing is pending: strict back-pressure, nothing lost. */
	return c->in_tty || !c->pend_len ? c->in_fd : -1;
}

int console_room_fd(const struct console *c) { return c->pend_len ? c->room_efd : -1; }

/* Escape handling: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A, Ctrl-A other sends both. */
static size_t filter_escapes(struct console *c, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t b = in[i];
		if (c->esc) {
			c->esc = false;
			if (b == 'x' || b == 'X') {
				stop_request(c->stop, MOTE_EXIT_USER, "quit from the console (Ctrl-A x)");
				return o;
			}
			if (b != CONSOLE_ESCAPE)
				out[o++] = CONSOLE_ESCAPE;
			out[o++] = b;
		} else if (b == CONSOLE_ESCAPE) {
			c->esc = true;
		} else {
			out[o++] = b;
		}
	}
	return o;
}

static void push_pending(struct console *c)
{
	if (c->sink.push && c->pend_len) {
		size_t took = c->sink.push(c->sink.ctx, c->pend + c->pend_off, c->pend_len);
		c->pend_off += took;
		c->pend_len -= took;
	}
}

void console_on_input(struct console *c)
{
	uint8_t raw[128], in[256];
	ssize_t r = read(c->in_fd, raw, sizeof(raw));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		c->in_eof = true;
		return;
	}
	size_t n = c->in_tty ? filter_escapes(c, raw, (size_t)r, in) : (memcpy(in, raw, (size_t)r), (size_t)r);
	/* Compact, then append what fits. */
	memmove(c->pend, c->pend + c->pend_off, c->pend_len);
	c->pend_off = 0;
	size_t room = sizeof(c->pend) - c->pend_len, keep = n < room ? n : room;
	memcpy(c->pend + c->pend_len, in, keep);
	c->pend_len += keep;
	if (keep < n && !c->dropped++)
		log_warn("console input dropped: the guest is not reading it (Ctrl-A x quits)");
	push_pending(c);
}

void console_on_room(struct console *c)
{
	uint64_t v;
	ssize_t r = read(c->room_efd, &v, sizeof(v));
	(void)r;
	push_pending(c);
}

void console_destroy(struct console *c)
{
	if (c->room_efd >= 0)
		close(c->room_efd);
	c->room_efd = -1;
}
