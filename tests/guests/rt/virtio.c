/* virtio.c: the polling virtio-mmio driver of the test runtime (see virtio.h).
 * Command-line discovery, probe, the 3.1.1 initialization sequence, split virtqueues
 * (2.7) with a free list of descriptors, EVENT_IDX-aware kicks, and bounded polling. */
#include "virtio.h"

const char *virtio_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case VIRTIO_ENODEV: return "no device";
	case VIRTIO_ELEGACY: return "legacy (version 1) device";
	case VIRTIO_EFEATURES: return "feature negotiation failed";
	case VIRTIO_ENOQUEUE: return "queue not available";
	case VIRTIO_EREADY: return "QueueReady did not stick";
	case VIRTIO_ENOSPC: return "no free descriptors";
	case VIRTIO_ETIMEDOUT: return "timed out";
	case VIRTIO_EBADID: return "device returned a bad used id";
	case VIRTIO_ENEEDSRESET: return "device needs reset";
	case VIRTIO_EINVAL: return "invalid argument";
	default: return "unknown error";
	}
}

/* ---- time ---- */
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (u64)hi << 32 | lo;
}

static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static u64 tsc_mhz;

u64 virtio_now_us(void)
{
	if (!tsc_mhz)
		tsc_mhz = rt_cmdline_u64("tsc_mhz", 0); /* the host says (CPUID may not) */
	if (!tsc_mhz) {
		u32 a, b, c, d, max;
		cpuid(0, &max, &b, &c, &d);
		if (max >= 0x15) {
			cpuid(0x15, &a, &b, &c, &d); /* TSC = crystal (ecx Hz) * ebx / eax */
			if (a && b && c)
				tsc_mhz = (u64)c * b / a / 1000000;
		}
		if (!tsc_mhz && max >= 0x16) {
			cpuid(0x16, &a, &b, &c, &d); /* base frequency, MHz */
			tsc_mhz = a & 0xffff;
		}
		if (!tsc_mhz)
			tsc_mhz = 2000;
	}
	return rdtsc() / tsc_mhz;
}

/* ---- command line (Linux: drivers/virtio/virtio_mmio.c, vm_cmdline_set) ---- */
static int is_space(char c) { return c && (u8)c <= ' '; }

static int digit(char c, unsigned base)
{
	unsigned d;
	if (c >= '0' && c <= '9')
		d = (unsigned)(c - '0');
	else if (c >= 'a' && c <= 'z')
		d = (unsigned)(c - 'a' + 10);
	else if (c >= 'A' && c <= 'Z')
		d = (unsigned)(c - 'A' + 10);
	else
		return -1;
	return d < base ? (int)d : -1;
}

/* strtoull(s, &end, 0) over [s, e): 0x hex, leading 0 octal, else decimal. 0 if no digits. */
static int parse_num(const char **sp, const char *e, u64 *out)
{
	const char *s = *sp;
	unsigned base = 10;
	u64 v = 0;
	if (s < e && *s == '0') {
		base = 8;
		if (s + 2 < e && (s[1] == 'x' || s[1] == 'X') && digit(s[2], 16) >= 0)
			base = 16, s += 2;
	}
	if (s >= e || digit(*s, base) < 0)
		return 0;
	for (; s < e && digit(*s, base) >= 0; s++)
		v = v * base + (u64)digit(*s, base);
	*out = v;
	*sp = s;
	return 1;
}

/* One word's value: <size>@<base>:<irq>[:<id>]. */
static int parse_dev(const char *s, const char *e, struct virtio_cmdline_dev *d)
{
	u64 v;
	if (!parse_num(&s, e, &d->size)) /* memparse: number + optional suffix */
		return 0;
	if (s < e) {
		unsigned shift = 0;
		switch (*s) {
		case 'E': case 'e': shift += 10; /* fall through */
		case 'P': case 'p': shift += 10; /* fall through */
		case 'T': case 't': shift += 10; /* fall through */
		case 'G': case 'g': shift += 10; /* fall through */
		case 'M': case 'm': shift += 10; /* fall through */
		case 'K': case 'k': shift += 10; s++; break;
		}
		d->size <<= shift;
	}
	if (s >= e || *s++ != '@' || !parse_num(&s, e, &d->base)) /* "@%lli" */
		return 0;
	if (s >= e || *s++ != ':' || !parse_num(&s, e, &v) || v > 0xffffffffu) /* ":%u" */
		return 0;
	d->irq = (u32)v;
	d->has_id = 0;
	if (s < e && *s == ':') { /* ":%d" (the id is Linux's first platform-device id) */
		s++;
		if (!parse_num(&s, e, &v) || v > 0x7fffffff)
			return 0;
		d->id = (u32)v, d->has_id = 1;
	}
	return s == e && d->irq != 0; /* nothing may follow; irq 0 is invalid */
}

int virtio_cmdline_devices(struct virtio_cmdline_dev *out, int max)
{
	static const char key[] = "virtio_mmio.device=";
	const unsigned kl = sizeof(key) - 1;
	int n = 0;
	for (const char *w = rt_cmdline(); *w;) {
		while (is_space(*w))
			w++;
		const char *e = w;
		while (*e && !is_space(*e))
			e++;
		if ((unsigned)(e - w) >= kl && !memcmp(w, key, kl)) {
			struct virtio_cmdline_dev d;
			if (!parse_dev(w + kl, e, &d)) {
				rt_puts("virtio: ignoring malformed '");
				for (const char *p = w; p < e; p++)
					rt_putc(*p);
				rt_puts("'\n");
			} else if (n < max) {
				out[n++] = d;
			}
		}
		w = e;
	}
	return n;
}

/* ---- probe ---- */
int virtio_probe(const struct virtio_cmdline_dev *c, struct virtio_dev *d)
{
	memset(d, 0, sizeof(*d));
	d->base = (uptr)c->base;
	d->size = c->size;
	d->irq = c->irq;
	if (c->base >= 0x100000000ull || c->base + 0x100 > 0x100000000ull || c->size < 0x100 ||
	    (c->base & 3)) {
		rt_printf("virtio: 0x%llx (size 0x%llx): not in the runtime's 4 GiB identity map or too small\n",
			  c->base, c->size);
		return VIRTIO_ENODEV;
	}
	u32 magic = virtio_read(d, VIRTIO_MMIO_MAGIC_VALUE);
	if (magic != VIRTIO_MMIO_MAGIC) {
		rt_printf("virtio: 0x%llx: bad MagicValue 0x%08x\n", c->base, magic);
		return VIRTIO_ENODEV;
	}
	d->version = virtio_read(d, VIRTIO_MMIO_VERSION);
	if (d->version == 1) {
		rt_printf("virtio: 0x%llx: legacy virtio-mmio (Version 1) is not supported; "
			  "only modern (Version 2) devices are\n", c->base);
		return VIRTIO_ELEGACY;
	}
	if (d->version != 2) {
		rt_printf("virtio: 0x%llx: unknown Version %u\n", c->base, d->version);
		return VIRTIO_ENODEV;
	}
	d->device_id = virtio_read(d, VIRTIO_MMIO_DEVICE_ID);
	d->vendor_id = virtio_read(d, VIRTIO_MMIO_VENDOR_ID);
	if (!d->device_id)
		return VIRTIO_ENODEV; /* a placeholder window */
	return 0;
}

int virtio_find(u32 device_id, int nth, struct virtio_dev *d, int quiet)
{
	struct virtio_cmdline_dev c[VIRTIO_MAX_DEVS];
	int n = virtio_cmdline_devices(c, VIRTIO_MAX_DEVS);
	for (int i = 0; i < n; i++) {
		struct virtio_dev t;
		if (virtio_probe(&c[i], &t))
			continue;
		if (!quiet)
			rt_printf("virtio: found device id %u at 0x%llx size 0x%llx irq %u vendor 0x%x\n",
				  t.device_id, c[i].base, c[i].size, c[i].irq, t.vendor_id);
		if (t.device_id == device_id && nth-- == 0) {
			*d = t;
			return 0;
		}
	}
	return VIRTIO_ENODEV;
}

/* ---- config space ---- */
u8 virtio_config8(const struct virtio_dev *d, u32 off) { return mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off); }
u16 virtio_config16(const struct virtio_dev *d, u32 off) { return mmio_read16(d->base + VIRTIO_MMIO_CONFIG + off); }
u32 virtio_config32(const struct virtio_dev *d, u32 off) { return mmio_read32(d->base + VIRTIO_MMIO_CONFIG + off); }
u64 virtio_config64(const struct virtio_dev *d, u32 off)
{
	u32 gen, lo, hi, tries = 0;
	do {
		gen = virtio_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = virtio_config32(d, off);
		hi = virtio_config32(d, off + 4);
	} while (gen != virtio_read(d, VIRTIO_MMIO_CONFIG_GENERATION) && ++tries < 100);
	return (u64)hi << 32 | lo;
}

/* ---- status and initialization ---- */
u32 virtio_wait_status(struct virtio_dev *d, u32 bits, u32 timeout_ms, int *timed_out)
{
	u64 end = virtio_now_us() + (u64)timeout_ms * 1000;
	*timed_out = 0;
	for (;;) {
		u32 s = virtio_status(d);
		if (s & bits)
			return s;
		if (virtio_now_us() > end) {
			*timed_out = 1;
			return 0;
		}
		for (int i = 0; i < 1000; i++)
			cpu_relax();
	}
}

u32 virtio_isr_ack(struct virtio_dev *d)
{
	u32 isr = virtio_read(d, VIRTIO_MMIO_INTERRUPT_STATUS);
	if (isr)
		virtio_write(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
	return isr;
}

int virtio_reset(struct virtio_dev *d)
{
	virtio_write(d, VIRTIO_MMIO_STATUS, 0);
	/* 4.2.3.1: after writing 0 the driver waits until Status reads 0. */
	u64 end = virtio_now_us() + 1000 * 1000;
	while (virtio_status(d) != 0) {
		if (virtio_now_us() > end) {
			rt_printf("virtio: 0x%lx: Status did not read 0 after reset\n", d->base);
			return VIRTIO_ETIMEDOUT;
		}
		cpu_relax();
	}
	return 0;
}

static void set_status(struct virtio_dev *d, u32 bits)
{
	virtio_write(d, VIRTIO_MMIO_STATUS, virtio_status(d) | bits);
}

int virtio_init(struct virtio_dev *d, u64 want)
{
	int err = virtio_reset(d);
	if (err)
		return err;
	set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(d, VIRTIO_STATUS_DRIVER);
	virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	u64 f = virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (u64)virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	d->device_features = f;
	if (!(f >> VIRTIO_F_VERSION_1 & 1)) {
		rt_printf("virtio: 0x%lx: device does not offer VERSION_1 (features 0x%llx)\n", d->base, f);
		set_status(d, VIRTIO_STATUS_FAILED);
		return VIRTIO_EFEATURES;
	}
	d->features = f & (want | 1ull << VIRTIO_F_VERSION_1);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)d->features);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (u32)(d->features >> 32));
	set_status(d, VIRTIO_STATUS_FEATURES_OK);
	u32 s = virtio_status(d);
	if (!(s & VIRTIO_STATUS_FEATURES_OK)) {
		rt_printf("virtio: 0x%lx: FEATURES_OK not accepted (status 0x%x, features 0x%llx)\n",
			  d->base, s, d->features);
		set_status(d, VIRTIO_STATUS_FAILED);
		return VIRTIO_EFEATURES;
	}
	return 0;
}

int virtio_driver_ok(struct virtio_dev *d)
{
	set_status(d, VIRTIO_STATUS_DRIVER_OK);
	return virtio_status(d) & VIRTIO_STATUS_NEEDS_RESET ? VIRTIO_ENEEDSRESET : 0;
}

/* ---- virtqueues ---- */
static volatile u16 *used_event(struct virtq *q) { return &q->avail->ring[q->num]; }
static volatile u16 *avail_event(struct virtq *q) { return (volatile u16 *)&q->used->ring[q->num]; }

/* Publishes the interrupt wish for the next used buffer. */
static void set_irq_wish(struct virtq *q)
{
	if (q->event_idx) /* interrupt when used->idx passes last_used (or never: last_used - 1) */
		*used_event(q) = q->no_irq ? (u16)(q->last_used - 1) : q->last_used;
	else
		q->avail->flags = q->no_irq ? VIRTQ_AVAIL_F_NO_INTERRUPT : 0;
}

int virtq_setup_raw(struct virtio_dev *d, struct virtq *q, u16 index, u16 num,
		    u64 desc, u64 avail, u64 used)
{
	if (num == 0 || num > VIRTQ_MAX)
		return VIRTIO_EINVAL;
	int no_irq = q->no_irq;
	memset(q, 0, sizeof(*q));
	q->no_irq = no_irq;
	q->desc = desc ? (volatile struct virtq_desc *)(uptr)desc : q->desc_mem;
	q->avail = avail ? (volatile struct virtq_avail *)(uptr)avail : (volatile struct virtq_avail *)q->avail_mem;
	q->used = used ? (volatile struct virtq_used *)(uptr)used : (volatile struct virtq_used *)q->used_mem;
	q->dev = d;
	q->index = index;
	q->num = num;
	q->event_idx = (int)(d->features >> VIRTIO_F_EVENT_IDX & 1);
	for (u16 i = 0; i < num; i++)
		q->next[i] = (u16)(i + 1);
	q->num_free = num;
	set_irq_wish(q);

	virtio_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (virtio_read(d, VIRTIO_MMIO_QUEUE_READY)) {
		rt_printf("virtio: 0x%lx: queue %u is already ready\n", d->base, index);
		return VIRTIO_ENOQUEUE;
	}
	if (!virtio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX)) {
		rt_printf("virtio: 0x%lx: queue %u does not exist (QueueNumMax 0)\n", d->base, index);
		return VIRTIO_ENOQUEUE;
	}
	virtio_write(d, VIRTIO_MMIO_QUEUE_NUM, num);
	u64 dp = (uptr)q->desc, ap = (uptr)q->avail, up = (uptr)q->used;
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (u32)dp);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (u32)(dp >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (u32)ap);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (u32)(ap >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (u32)up);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (u32)(up >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (virtio_read(d, VIRTIO_MMIO_QUEUE_READY) != 1)
		return VIRTIO_EREADY;
	return 0;
}

int virtq_setup(struct virtio_dev *d, struct virtq *q, u16 index, u16 want)
{
	if (want == 0 || want > VIRTQ_MAX)
		return VIRTIO_EINVAL;
	virtio_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	u32 max = virtio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max) {
		rt_printf("virtio: 0x%lx: queue %u does not exist (QueueNumMax 0)\n", d->base, index);
		return VIRTIO_ENOQUEUE;
	}
	u16 num = (u16)(max < want ? max : want);
	while (num & (num - 1)) /* a split queue's size is a power of two (2.7) */
		num &= (u16)(num - 1);
	return virtq_setup_raw(d, q, index, num, 0, 0, 0);
}

int virtq_submit(struct virtq *q, const struct virtio_buf *bufs, unsigned n)
{
	if (n == 0)
		return VIRTIO_EINVAL;
	if (n > q->num_free)
		return VIRTIO_ENOSPC;
	u16 head = q->free_head, i = head, last = head;
	for (unsigned k = 0; k < n; k++) {
		volatile struct virtq_desc *d = &q->desc[i];
		d->addr = bufs[k].addr;
		d->len = bufs[k].len;
		d->flags = (u16)((bufs[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		d->next = k + 1 < n ? q->next[i] : 0;
		last = i;
		i = q->next[i];
	}
	q->free_head = q->next[last];
	q->num_free = (u16)(q->num_free - n);
	q->chain_len[head] = (u16)n;
	q->avail->ring[q->avail_idx % q->num] = head;
	virtio_barrier(); /* ring entry and descriptors before the index (2.7.13) */
	q->avail->idx = ++q->avail_idx;
	return head;
}

void virtq_notify(struct virtq *q)
{
	virtio_mb();
	virtio_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
	q->kicks++;
}

int virtq_kick(struct virtq *q)
{
	virtio_mb(); /* avail->idx visible before reading the suppression fields */
	int need;
	u16 old = q->kicked_idx, now = q->avail_idx;
	if (q->event_idx) { /* vring_need_event(avail_event, new, old) (2.7.10) */
		u16 ev = *avail_event(q);
		need = (u16)(now - ev - 1) < (u16)(now - old);
	} else {
		need = !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	}
	q->kicked_idx = now;
	if (!need) {
		q->kicks_suppressed++;
		return 0;
	}
	virtio_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
	q->kicks++;
	return 1;
}

int virtq_poll(struct virtq *q, u32 *id, u32 *len)
{
	if (q->used->idx == q->last_used)
		return 0;
	virtio_barrier(); /* the index before the element */
	volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->num];
	u32 i = e->id, l = e->len;
	if (i >= q->num || !q->chain_len[i]) {
		rt_printf("virtio: 0x%lx: queue %u: used id %u is not an in-flight head\n",
			  q->dev->base, q->index, i);
		return VIRTIO_EBADID;
	}
	q->last_used++;
	/* Free the chain by the driver's own links. */
	u16 n = q->chain_len[i], last = (u16)i;
	for (u16 k = 1; k < n; k++)
		last = q->next[last];
	q->next[last] = q->free_head;
	q->free_head = (u16)i;
	q->num_free = (u16)(q->num_free + n);
	q->chain_len[i] = 0;
	set_irq_wish(q);
	*id = i;
	*len = l;
	return 1;
}

int virtq_wait(struct virtq *q, u32 *id, u32 *len, u32 timeout_ms)
{
	u64 end = virtio_now_us() + (u64)timeout_ms * 1000;
	for (;;) {
		for (int k = 0; k < 4096; k++) {
			int r = virtq_poll(q, id, len);
			if (r)
				return r < 0 ? r : 0;
			cpu_relax();
		}
		if (virtio_now_us() > end)
			break;
	}
	if (virtio_status(q->dev) & VIRTIO_STATUS_NEEDS_RESET)
		return VIRTIO_ENEEDSRESET;
	return VIRTIO_ETIMEDOUT;
}

int virtq_xfer(struct virtq *q, const struct virtio_buf *bufs, unsigned n, u32 *len, u32 timeout_ms)
{
	int head = virtq_submit(q, bufs, n);
	if (head < 0)
		return head;
	virtq_kick(q);
	u32 id;
	int r = virtq_wait(q, &id, len, timeout_ms);
	if (r)
		return r;
	if (id != (u32)head) {
		rt_printf("virtio: 0x%lx: queue %u: used id %u, expected head %d\n", q->dev->base, q->index, id, head);
		return VIRTIO_EBADID;
	}
	return 0;
}
