/* Legacy devices driven through their bus ops, as a guest would: UART registers, FIFO,
 * interrupts and loopback; i8042 reset paths; debug-exit status encoding. */
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/uart8250.h"
#include "core/status.h"
#include "test.h"

static uint8_t txbuf[256];
static size_t txlen;
static int irq_level = -1, irq_changes, room_calls;

static void fake_tx(void *ctx, const uint8_t *b, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n && txlen < sizeof(txbuf); i++)
		txbuf[txlen++] = b[i];
}
static void fake_room(void *ctx) { (void)ctx; room_calls++; }
static void fake_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	irq_level = level;
	irq_changes++;
}

static struct uart8250 u;
static uint8_t rd(uint64_t off)
{
	uint8_t v;
	uart8250_ops.read(&u, off, &v, 1);
	return v;
}
static void wr(uint64_t off, uint8_t v) { uart8250_ops.write(&u, off, &v, 1); }

static void uart_setup(void)
{
	const struct irq_line irq = {.set = fake_irq, .gsi = 4};
	const struct uart_host host = {.tx = fake_tx, .rx_room = fake_room};
	uart_init(&u, &irq, &host);
	txlen = 0;
	irq_level = -1;
	irq_changes = room_calls = 0;
}

static void uart_transmit(void)
{
	uart_setup();
	CHECK(rd(5) & 0x20); /* THRE */
	CHECK(rd(5) & 0x40); /* TEMT */
	wr(0, 'h');
	wr(0, 'i');
	CHECK_EQ(txlen, 2u);
	CHECK(txbuf[0] == 'h' && txbuf[1] == 'i');
	/* DLAB: writes to offset 0 set the divisor and are not transmitted. */
	wr(3, 0x83);
	wr(0, 0x01);
	wr(1, 0x02);
	CHECK_EQ(rd(0), 0x01);
	CHECK_EQ(rd(1), 0x02);
	CHECK_EQ(txlen, 2u);
	wr(3, 0x03);
	CHECK_EQ(rd(3), 0x03);
	wr(7, 0x5a); /* scratch */
	CHECK_EQ(rd(7), 0x5a);
	uart_destroy(&u);
}

static void uart_receive_fifo(void)
{
	uart_setup();
	CHECK(!(rd(5) & 0x01));
	uint8_t in[UART_RX_FIFO + 10];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)i;
	CHECK_EQ(uart_rx_push(&u, in, sizeof(in)), (size_t)UART_RX_FIFO); /* back-pressure */
	CHECK_EQ(uart_rx_room(&u), 0u);
	CHECK(rd(5) & 0x01);
	CHECK_EQ(rd(0), 0);
	CHECK_EQ(room_calls, 1); /* full -> room: host told once */
	for (int i = 1; i < UART_RX_FIFO; i++)
		CHECK_EQ(rd(0), (uint8_t)i);
	CHECK(!(rd(5) & 0x01));
	CHECK_EQ(rd(0), 0); /* empty FIFO reads 0, no underflow */
	CHECK_EQ(uart_rx_room(&u), (size_t)UART_RX_FIFO);
	uart_rx_push(&u, in, 5);
	wr(2, 0x03); /* FCR: enable + clear RX */
	CHECK(!(rd(5) & 0x01));
	uart_destroy(&u);
}

static void uart_interrupts(void)
{
	uart_setup();
	CHECK_EQ(rd(2) & 0x0f, 0x01); /* nothing pending */
	wr(1, 0x01);                  /* IER: receive data available */
	CHECK(irq_level != 1);
	uint8_t c = 'x';
	uart_rx_push(&u, &c, 1);
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(rd(2) & 0x0f, 0x04);
	rd(0);
	CHECK_EQ(irq_level, 0);
	wr(1, 0x03); /* enable THRE: THR is empty, so it fires at once */
	CHECK_EQ(irq_level, 1);
	CHECK_EQ(rd(2) & 0x0f, 0x02); /* reading IIR acknowledges THRE */
	CHECK_EQ(irq_level, 0);
	wr(0, 'a'); /* transmitting re-arms it */
	CHECK_EQ(irq_level, 1);
	wr(1, 0x00);
	CHECK_EQ(irq_level, 0);
	wr(2, 0x01);
	CHECK_EQ(rd(2) & 0xc0, 0xc0); /* FIFO enabled bits */
	uart_destroy(&u);
}

static void uart_loopback(void)
{
	uart_setup();
	wr(4, 0x10 | 0x0b); /* loop + OUT2 + RTS + DTR */
	wr(0, 'L');
	CHECK_EQ(txlen, 0u); /* not sent to the host */
	CHECK(rd(5) & 0x01);
	CHECK_EQ(rd(0), 'L');
	CHECK_EQ(rd(6) & 0xf0, 0x80 | 0x10 | 0x20); /* DCD(OUT2) CTS(RTS) DSR(DTR) */
	uint8_t c = 'h';
	CHECK_EQ(uart_rx_push(&u, &c, 1), 0u); /* host input held off in loopback */
	wr(4, 0x08);
	CHECK_EQ(rd(6) & 0xf0, 0xb0);
	uart_destroy(&u);
}

static void uart_wide_and_odd_accesses(void)
{
	uart_setup();
	uint8_t d[4] = {'a', 0x00, 0x00, 0x03};
	uart8250_ops.write(&u, 0, d, 4); /* THR, IER, FCR, LCR */
	CHECK_EQ(txlen, 1u);
	CHECK_EQ(rd(3), 0x03);
	uint8_t r[2];
	uart8250_ops.read(&u, 6, r, 2); /* MSR + SCR */
	CHECK_EQ(r[0], 0xb0);
	uart8250_ops.write(&u, 5, d, 1); /* LSR is read-only */
	CHECK(rd(5) & 0x20);
	uart_destroy(&u);
}

static struct vm_stop stop;

static void i8042_reset_command(void)
{
	struct i8042 k;
	CHECK_EQ(stop_init(&stop), 0);
	i8042_init(&k, &stop);
	uint8_t v = 0xaa, r;
	i8042_cmd_ops.write(&k, 0, &v, 1); /* self-test */
	i8042_cmd_ops.read(&k, 0, &r, 1);
	CHECK(r & 0x01);
	i8042_data_ops.read(&k, 0, &r, 1);
	CHECK_EQ(r, 0x55);
	i8042_cmd_ops.read(&k, 0, &r, 1);
	CHECK(!(r & 0x01));
	v = 0x20; /* read configuration byte */
	i8042_cmd_ops.write(&k, 0, &v, 1);
	i8042_data_ops.read(&k, 0, &r, 1);
	CHECK_EQ(r, 0x45);
	CHECK(!stop_requested(&stop));
	v = 0xfe;
	i8042_cmd_ops.write(&k, 0, &v, 1);
	CHECK(stop_requested(&stop));
	CHECK_EQ(stop.status, MOTE_EXIT_OK);
	i8042_destroy(&k);
	stop_destroy(&stop);
}

static void i8042_output_port_reset(void)
{
	struct i8042 k;
	stop_init(&stop);
	i8042_init(&k, &stop);
	uint8_t v = 0xd1;
	i8042_cmd_ops.write(&k, 0, &v, 1);
	v = 0x03; /* bit 0 high: no reset */
	i8042_data_ops.write(&k, 0, &v, 1);
	CHECK(!stop_requested(&stop));
	v = 0xd1;
	i8042_cmd_ops.write(&k, 0, &v, 1);
	v = 0x02; /* bit 0 low: reset */
	i8042_data_ops.write(&k, 0, &v, 1);
	CHECK(stop_requested(&stop));
	i8042_destroy(&k);
	stop_destroy(&stop);
}

static void debug_exit_status(void)
{
	static const struct {
		uint32_t v;
		uint32_t len;
		int status;
	} cases[] = {{0, 1, 1}, {3, 1, 7}, {127, 4, 255}, {128, 4, 1}, {0x12345, 4, 0x8b}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		stop_init(&stop);
		uint8_t d[4] = {(uint8_t)cases[i].v, (uint8_t)(cases[i].v >> 8),
				(uint8_t)(cases[i].v >> 16), (uint8_t)(cases[i].v >> 24)};
		debug_exit_ops.write(&stop, 0, d, cases[i].len);
		CHECK(stop_requested(&stop));
		CHECK_EQ(stop.status, cases[i].status);
		stop_destroy(&stop);
	}
	uint8_t r = 0x55;
	absent_ops.write(NULL, 0, &r, 1);
	absent_ops.read(NULL, 0, &r, 1);
	CHECK_EQ(r, 0xff);
}

/* Injected keys (SendCtrlAltDel): one rising edge of IRQ 1 per byte, since ACPI describes the
 * line as edge-triggered; the line stays low once the queue is empty. */
static int irq_rises;
static void count_rises(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	if (level && irq_level != 1)
		irq_rises++;
	irq_level = level;
}

static void i8042_key_edges(void)
{
	static const uint8_t cad[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	struct i8042 k;
	CHECK_EQ(stop_init(&stop), 0);
	i8042_init(&k, &stop);
	i8042_set_irq(&k, &(struct irq_line){.set = count_rises, .gsi = 1});
	irq_level = 0;
	irq_rises = 0;
	CHECK_EQ(i8042_send_keys(&k, cad, sizeof(cad)), 0);
	for (size_t i = 0; i < sizeof(cad); i++) {
		uint8_t r = 0;
		CHECK_EQ(irq_level, 1);
		CHECK_EQ(irq_rises, (int)i + 1);
		i8042_data_ops.read(&k, 0, &r, 1);
		CHECK_EQ(r, cad[i]);
	}
	CHECK_EQ(irq_level, 0);
	CHECK_EQ(irq_rises, (int)sizeof(cad));
	i8042_destroy(&k);
	stop_destroy(&stop);
}

int main(void)
{
	test_suite_name = "devices";
	RUN(uart_transmit);
	RUN(uart_receive_fifo);
	RUN(uart_interrupts);
	RUN(uart_loopback);
	RUN(uart_wide_and_odd_accesses);
	RUN(i8042_reset_command);
	RUN(i8042_output_port_reset);
	RUN(i8042_key_edges);
	RUN(debug_exit_status);
	TEST_MAIN_END();
}
