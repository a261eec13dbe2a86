/* 8250/16550A UART emulation. Transmission is instant (THR is always empty), reception goes
 * through a FIFO with back-pressure to the host, loopback mode works (Linux probes it), and
 * the interrupt line follows IER/IIR as on the real part. Guest register writes are masked
 * to the bits that exist; nothing the guest writes can index outside this struct. */
#include "devices/uart8250.h"
#include "snapshot/stream.h"
#include "core/log.h"

#include <string.h>

enum {
	REG_DATA = 0, /* RBR (read) / THR (write); DLL when LCR.DLAB */
	REG_IER = 1,  /* DLM when LCR.DLAB */
	REG_IIR = 2,  /* IIR (read) / FCR (write) */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define LCR_DLAB 0x80
#define IER_RDA 0x01
#define IER_THRE 0x02
#define IIR_NONE 0x01
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_FIFO 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_LOOP 0x10
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_DCD 0x80

static uint8_t iir_locked(const struct uart8250 *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
	if ((u->ier & IER_RDA) && u->rx_len)
		return IIR_RDA | fifo;
	if ((u->ier & IER_THRE) && u->thr_irq_pending)
		return IIR_THRE | fifo;
	return IIR_NONE | fifo;
}

static void update_irq_locked(struct uart8250 *u)
{
	int level = !(iir_locked(u) & IIR_NONE);
	if (level != u->irq_level) {
		u->irq_level = level;
		irq_set(&u->irq, level);
	}
}

static void rx_put_locked(struct uart8250 *u, uint8_t c)
{
	if (u->rx_len == UART_RX_FIFO) {
		u->lsr_extra |= 0x02; /* overrun */
		return;
	}
	u->rx[(u->rx_head + u->rx_len) % UART_RX_FIFO] = c;
	u->rx_len++;
}

static uint8_t rx_get_locked(struct uart8250 *u, int *made_room)
{
	if (!u->rx_len)
		return 0;
	uint8_t c = u->rx[u->rx_head];
	*made_room = u->rx_len == UART_RX_FIFO;
	u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
	u->rx_len--;
	atomic_fetch_add_explicit(&u->read_count, 1, memory_order_relaxed);
	return c;
}

static uint8_t read_reg(struct uart8250 *u, unsigned reg, int *made_room)
{
	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return rx_get_locked(u, made_room);
	case REG_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case REG_IIR: {
		uint8_t iir = iir_locked(u);
		if ((iir & 0x0f) == IIR_THRE)
			u->thr_irq_pending = 0; /* reading IIR acknowledges THR-empty */
		return iir;
	}
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR: {
		uint8_t lsr = LSR_THRE | LSR_TEMT | u->lsr_extra | (u->rx_len ? LSR_DR : 0);
		u->lsr_extra = 0; /* error bits clear on read */
		return lsr;
	}
	case REG_MSR:
		if (u->mcr & MCR_LOOP) /* DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			return (uint8_t)(((u->mcr & 0x01) << 5) | ((u->mcr & 0x02) << 3) |
					 ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
		return MSR_DCD | MSR_DSR | MSR_CTS;
	case REG_SCR:
	default:
		return u->scr;
	}
}

static void write_reg(struct uart8250 *u, unsigned reg, uint8_t val)
{
	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB) {
			u->dll = val;
		} else if (u->mcr & MCR_LOOP) {
			rx_put_locked(u, val);
			u->thr_irq_pending = 1;
		} else {
			if (u->host.tx)
				u->host.tx(u->host.ctx, &val, 1);
			atomic_fetch_add_explicit(&u->write_count, 1, memory_order_relaxed);
			u->thr_irq_pending = 1; /* sent at once, so THR is empty again */
		}
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = val;
		} else {
			if ((val & IER_THRE) && !(u->ier & IER_THRE))
				u->thr_irq_pending = 1;
			u->ier = val & 0x0f;
		}
		break;
	case REG_IIR: /* FCR */
		u->fcr = val & (FCR_ENABLE | 0xc0);
		if (val & FCR_CLEAR_RX)
			u->rx_len = 0;
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		u->mcr = val & 0x1f;
		break;
	case REG_SCR:
		u->scr = val;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

static void uart_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct uart8250 *u = dev;
	int made_room = 0;
	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < len; i++) /* wider accesses touch consecutive registers */
		data[i] = off + i < UART_REG_COUNT ? read_reg(u, (unsigned)(off + i), &made_room) : 0xff;
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
	if (made_room && u->host.rx_room)
		u->host.rx_room(u->host.ctx);
}

static void uart_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct uart8250 *u = dev;
	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < len; i++)
		if (off + i < UART_REG_COUNT)
			write_reg(u, (unsigned)(off + i), data[i]);
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
}

const struct bus_ops uart8250_ops = {.read = uart_read, .write = uart_write};

void uart_init(struct uart8250 *u, const struct irq_line *irq, const struct uart_host *host)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->irq = *irq;
	u->host = *host;
	u->dll = 0x0c; /* 9600 baud, as after a BIOS */
	u->lcr = 0x03; /* 8N1 */
	u->mcr = 0x08; /* OUT2 */
}

void uart_destroy(struct uart8250 *u) { pthread_mutex_destroy(&u->lock); }

size_t uart_rx_push(struct uart8250 *u, const uint8_t *buf, size_t n)
{
	size_t done = 0;
	pthread_mutex_lock(&u->lock);
	if (!(u->mcr & MCR_LOOP)) {
		while (done < n && u->rx_len < UART_RX_FIFO)
			rx_put_locked(u, buf[done++]);
		update_irq_locked(u);
	}
	pthread_mutex_unlock(&u->lock);
	return done;
}

size_t uart_rx_room(struct uart8250 *u)
{
	pthread_mutex_lock(&u->lock);
	size_t room = UART_RX_FIFO - u->rx_len;
	pthread_mutex_unlock(&u->lock);
	return room;
}

#define UART_SNAP_VERSION 1u

void uart_save(struct uart8250 *u, struct snap_out *o)
{
	pthread_mutex_lock(&u->lock);
	snap_put_u32(o, UART_SNAP_VERSION);
	const uint8_t regs[] = {u->ier, u->lcr, u->mcr, u->lsr_extra, u->scr, u->dll, u->dlm, u->fcr,
				(uint8_t)u->thr_irq_pending, (uint8_t)u->irq_level};
	snap_put(o, regs, sizeof(regs));
	snap_put_u8(o, (uint8_t)u->rx_len);
	for (size_t i = 0; i < u->rx_len; i++)
		snap_put_u8(o, u->rx[(u->rx_head + i) % UART_RX_FIFO]);
	pthread_mutex_unlock(&u->lock);
}

int uart_load(struct uart8250 *u, struct snap_in *in, char *err, size_t errlen)
{
	uint8_t regs[10], rx[UART_RX_FIFO];
	uint32_t ver = snap_get_u32(in);
	snap_get(in, regs, sizeof(regs));
	uint8_t n = snap_get_u8(in);
	if (!snap_in_ok(in) || ver != UART_SNAP_VERSION)
		return err_set(err, errlen, "COM1 state: %s", snap_in_ok(in) ? "unknown version" : "truncated");
	if (n > UART_RX_FIFO || regs[8] > 1 || regs[9] > 1 || (regs[0] & 0xf0))
		return err_set(err, errlen, "COM1 state: a value out of range");
	snap_get(in, rx, n);
	if (!snap_in_done(in))
		return err_set(err, errlen, "COM1 state is %s", snap_in_ok(in) ? "longer than expected" : "truncated");
	pthread_mutex_lock(&u->lock);
	u->ier = regs[0];
	u->lcr = regs[1];
	u->mcr = regs[2] & 0x1f;
	u->lsr_extra = regs[3];
	u->scr = regs[4];
	u->dll = regs[5];
	u->dlm = regs[6];
	u->fcr = regs[7];
	u->thr_irq_pending = regs[8];
	u->irq_level = regs[9]; /* the line itself is in the restored irqchip */
	memcpy(u->rx, rx, n);
	u->rx_head = 0;
	u->rx_len = n;
	pthread_mutex_unlock(&u->lock);
	return 0;
}
