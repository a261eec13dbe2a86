/* Snapshot state streams (see stream.h): a growable writer and a bounded, fail-sticky reader. */
#include "snapshot/stream.h"

#include <stdlib.h>
#include <string.h>

void snap_out_init(struct snap_out *o)
{
	*o = (struct snap_out){0};
}

void snap_out_free(struct snap_out *o)
{
	free(o->buf);
	*o = (struct snap_out){0};
}

void snap_put(struct snap_out *o, const void *p, size_t n)
{
	if (o->failed || n == 0)
		return;
	if (n > SNAP_OUT_MAX - o->len) {
		o->failed = true;
		return;
	}
	if (o->len + n > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->len + n)
			cap *= 2;
		uint8_t *b = realloc(o->buf, cap);
		if (!b) {
			o->failed = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/* Integers are stored little-endian whatever the host (x86-64 today, aarch64 later). */
static void put_le(struct snap_out *o, uint64_t v, unsigned bytes)
{
	uint8_t b[8];
	for (unsigned i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	snap_put(o, b, bytes);
}

void snap_put_u8(struct snap_out *o, uint8_t v) { put_le(o, v, 1); }
void snap_put_u16(struct snap_out *o, uint16_t v) { put_le(o, v, 2); }
void snap_put_u32(struct snap_out *o, uint32_t v) { put_le(o, v, 4); }
void snap_put_u64(struct snap_out *o, uint64_t v) { put_le(o, v, 8); }

void snap_in_init(struct snap_in *in, const void *p, size_t n)
{
	*in = (struct snap_in){.p = p, .left = p ? n : 0};
}

bool snap_get(struct snap_in *in, void *dst, size_t n)
{
	if (in->failed || n > in->left) {
		in->failed = true;
		if (n)
			memset(dst, 0, n);
		return false;
	}
	if (n)
		memcpy(dst, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

static uint64_t get_le(struct snap_in *in, unsigned bytes)
{
	uint8_t b[8];
	uint64_t v = 0;
	snap_get(in, b, bytes);
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

uint8_t snap_get_u8(struct snap_in *in) { return (uint8_t)get_le(in, 1); }
uint16_t snap_get_u16(struct snap_in *in) { return (uint16_t)get_le(in, 2); }
uint32_t snap_get_u32(struct snap_in *in) { return (uint32_t)get_le(in, 4); }
uint64_t snap_get_u64(struct snap_in *in) { return get_le(in, 8); }
