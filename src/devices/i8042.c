/* i8042: a guest reset through the keyboard controller ends the VM with status 0
 * (mote has no reboot; a reset is the guest asking to go away). */
#include "devices/i8042.h"
#include "snapshot/stream.h"

#include <string.h>

#include "core/log.h"
#include "core/status.h"

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_CMD 0x08
#define ST_UNLOCKED 0x10 /* keyboard not inhibited (else Linux warns "Keylock active") */

static void reset(struct i8042 *k)
{
	log_info("guest reset through the i8042 controller");
	stop_request(k->stop, MOTE_EXIT_OK, NULL);
}

static void put_out(struct i8042 *k, uint8_t v)
{
	k->out = v;
	k->out_full = 1;
	k->out_is_key = 0;
}

/* IRQ 1 follows "a key byte waits and the keyboard interrupt is enabled". k->lock held. */
static void update_irq(struct i8042 *k)
{
	int level = k->out_full && k->out_is_key && (k->cmd_byte & 1);
	if (level != k->irq_level) {
		k->irq_level = level;
		irq_set(&k->irq, level);
	}
}

static void next_key(struct i8042 *k)
{
	if (k->out_full || k->nkeys == 0)
		return;
	k->out = k->keys[0];
	k->out_full = 1;
	k->out_is_key = 1;
	memmove(k->keys, k->keys + 1, --k->nkeys);
}

static void data_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	(void)off;
	pthread_mutex_lock(&k->lock);
	memset(data, 0, len);
	data[0] = k->out;
	k->out_full = 0;
	/* One edge per byte, as the real controller pulses IRQ 1: the line drops before the next
	 * queued key raises it again (an edge-triggered IOAPIC pin, as ACPI describes IRQ 1,
	 * would otherwise see the first key only: Linux then never reads Alt and Del). */
	if (k->irq_level) {
		k->irq_level = 0;
		irq_set(&k->irq, 0);
	}
	next_key(k);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static void data_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	(void)off;
	(void)len;
	int do_reset = 0;
	pthread_mutex_lock(&k->lock);
	k->status_cmd = 0;
	if (k->pending == 0x60)
		k->cmd_byte = data[0];
	else if (k->pending == 0xd1 && !(data[0] & 1)) /* output port bit 0 low = reset */
		do_reset = 1;
	else if (k->pending == 0)
		put_out(k, 0xfe); /* a byte for the keyboard: no keyboard, "resend" */
	k->pending = 0;
	pthread_mutex_unlock(&k->lock);
	if (do_reset)
		reset(k);
}

static void cmd_read(void *dev, uint64_t off, uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	(void)off;
	pthread_mutex_lock(&k->lock);
	memset(data, 0, len);
	data[0] = (uint8_t)((k->out_full ? ST_OBF : 0) | ST_SYS | ST_UNLOCKED | (k->status_cmd ? ST_CMD : 0));
	pthread_mutex_unlock(&k->lock);
}

static void cmd_write(void *dev, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct i8042 *k = dev;
	(void)off;
	(void)len;
	int do_reset = 0;
	pthread_mutex_lock(&k->lock);
	k->status_cmd = 1;
	k->pending = 0;
	switch (data[0]) {
	case 0x20: /* read configuration byte */
		put_out(k, k->cmd_byte);
		break;
	case 0x60: /* write configuration byte: next data byte */
	case 0xd1: /* write output port: next data byte */
		k->pending = data[0];
		break;
	case 0xaa: /* controller self-test */
		put_out(k, 0x55);
		break;
	case 0xa9: /* aux interface test */
	case 0xab: /* keyboard interface test */
		put_out(k, 0x00);
		break;
	case 0xfe: /* pulse reset line */
		do_reset = 1;
		break;
	default: /* enable/disable keyboard and aux, and the rest: accepted, no effect */
		break;
	}
	pthread_mutex_unlock(&k->lock);
	if (do_reset)
		reset(k);
}

const struct bus_ops i8042_data_ops = {.read = data_read, .write = data_write};
const struct bus_ops i8042_cmd_ops = {.read = cmd_read, .write = cmd_write};

void i8042_init(struct i8042 *k, struct vm_stop *stop)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->stop = stop;
	k->cmd_byte = 0x45; /* keyboard interrupt enabled, system flag, translation */
}

void i8042_destroy(struct i8042 *k) { pthread_mutex_destroy(&k->lock); }

void i8042_set_irq(struct i8042 *k, const struct irq_line *irq) { k->irq = *irq; }

int i8042_send_keys(struct i8042 *k, const uint8_t *codes, size_t n)
{
	pthread_mutex_lock(&k->lock);
	if (n > I8042_KEY_QUEUE - k->nkeys) {
		pthread_mutex_unlock(&k->lock);
		return -1;
	}
	memcpy(k->keys + k->nkeys, codes, n);
	k->nkeys += (unsigned)n;
	next_key(k);
	update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

#define I8042_SNAP_VERSION 1u

void i8042_save(struct i8042 *k, struct snap_out *o)
{
	pthread_mutex_lock(&k->lock);
	snap_put_u32(o, I8042_SNAP_VERSION);
	const uint8_t st[] = {k->cmd_byte, k->out, (uint8_t)k->out_full, k->pending, k->status_cmd,
			      (uint8_t)k->out_is_key, (uint8_t)k->irq_level, (uint8_t)k->nkeys};
	snap_put(o, st, sizeof(st));
	snap_put(o, k->keys, k->nkeys);
	pthread_mutex_unlock(&k->lock);
}

int i8042_load(struct i8042 *k, struct snap_in *in, char *err, size_t errlen)
{
	uint8_t st[8], keys[I8042_KEY_QUEUE];
	uint32_t ver = snap_get_u32(in);
	snap_get(in, st, sizeof(st));
	if (!snap_in_ok(in) || ver != I8042_SNAP_VERSION)
		return err_set(err, errlen, "i8042 state: %s", snap_in_ok(in) ? "unknown version" : "truncated");
	if (st[2] > 1 || st[5] > 1 || st[6] > 1 || st[7] > I8042_KEY_QUEUE ||
	    (st[3] != 0 && st[3] != 0x60 && st[3] != 0xd1))
		return err_set(err, errlen, "i8042 state: a value out of range");
	snap_get(in, keys, st[7]);
	if (!snap_in_done(in))
		return err_set(err, errlen, "i8042 state is %s", snap_in_ok(in) ? "longer than expected" : "truncated");
	pthread_mutex_lock(&k->lock);
	k->cmd_byte = st[0];
	k->out = st[1];
	k->out_full = st[2];
	k->pending = st[3];
	k->status_cmd = st[4];
	k->out_is_key = st[5];
	k->irq_level = st[6]; /* the line itself is in the restored irqchip */
	k->nkeys = st[7];
	memcpy(k->keys, keys, st[7]);
	pthread_mutex_unlock(&k->lock);
	return 0;
}
