/* libFuzzer target for split virtqueues (src/virtio/virtqueue.c). The input is a 10-byte
 * header choosing the queue (size, EVENT_IDX, INDIRECT, ring addresses, some bad on purpose)
 * and then raw bytes copied to the start of a 256 KiB guest RAM, so descriptors, avail and
 * used rings and indirect tables hold fuzzer-chosen values. A device loop pops up to 64
 * chains, touches every buffer (read and write), pushes them and checks the queue's promises:
 * every iov lies inside guest RAM, counts and byte totals add up, errors carry a reason and
 * stick, used->idx and the used element match what was pushed. Any violation aborts.
 *
 * Header: [0] size: 1 << (b & 15), or b ^ 0x10 when bit 4 is set (0, and mostly not a
 *             power of two); [1] flags: bit 0 EVENT_IDX, 1 INDIRECT, 2/3/4 misalign desc/avail/used,
 *             5 defer pushes to the end (so heads stay in flight), 6 skip vq_set_notify;
 *         [2..7] desc, avail, used: little-endian u16 v, gpa = (v & 0x3fff) * 16, plus RAM
 *             (outside) when both top bits are set; [8..] written length seed (u16), then
 *             guest RAM contents. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ram.h"
#include "virtio/virtqueue.h"

#define FUZZ_RAM   (256u << 10)
#define FUZZ_HDR   10u
#define FUZZ_POPS  64u
#define TOUCH_BUDGET (1u << 20) /* bytes touched in full per input; edges always */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem *gm; /* fuzz_ram(), set on the first input */
static struct virtqueue vq;
static struct vq_chain ch;


static uint64_t ring_gpa(const uint8_t *p)
{
	uint16_t v = (uint16_t)(p[0] | p[1] << 8);
	return (uint64_t)(v & 0x3fff) * 16 + ((v >> 14) == 3 ? FUZZ_RAM : 0);
}

static void must(int cond)
{
	if (!cond)
		abort();
}

/* Every iov inside guest RAM, non-empty; counts and totals consistent; touch the bytes. */
static void check_and_touch(uint32_t *budget)
{
	uint64_t rd = 0, wr = 0;
	uint32_t n = ch.nread + ch.nwrite;

	must(ch.head < vq.size && n >= 1 && n <= VQ_MAX_IOV && ch.nread <= n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *b = ch.iov[i].base;
		uint32_t len = ch.iov[i].len;
		must(len > 0 && len <= FUZZ_RAM && b >= gm->base && b - gm->base <= FUZZ_RAM - len);
		volatile uint8_t *p = b;
		*(i < ch.nread ? &rd : &wr) += len;
		uint32_t full = len <= *budget ? len : 0;
		*budget -= full;
		p[0] ^= 0x5a;
		p[len - 1] ^= 0xa5;
		for (uint32_t k = 0; k < full; k++)
			p[k] = (uint8_t)(p[k] + 1);
	}
	must(rd == ch.read_bytes && wr == ch.write_bytes);
}

/* vq_chain_read/write return exactly what fits after off, never more than asked. */
static void check_copies(uint16_t seed)
{
	static uint8_t buf[4096];
	uint64_t off = seed % 4099u;
	size_t len = (size_t)(seed * 7u) % sizeof(buf);
	uint64_t rexp = off < ch.read_bytes ? ch.read_bytes - off : 0;
	uint64_t wexp = off < ch.write_bytes ? ch.write_bytes - off : 0;

	must(vq_chain_read(&ch, off, buf, len) == (rexp < len ? rexp : len));
	must(vq_chain_write(&ch, off, buf, len) == (wexp < len ? wexp : len));
}

static void push_checked(uint16_t head, uint32_t written, uint64_t wbytes)
{
	uint16_t before = vq.used_idx;
	uint32_t elem[2];

	must(vq_push(&vq, head, written) == 0);
	must(vq.used_idx == (uint16_t)(before + 1));
	must(__atomic_load_n((uint16_t *)(void *)(vq.used + 2), __ATOMIC_RELAXED) == vq.used_idx);
	memcpy(elem, vq.used + 4 + 8u * (before & (vq.size - 1)), sizeof(elem));
	must(elem[0] == head && elem[1] <= written && elem[1] <= wbytes);
}

static void device_loop(uint8_t flags, uint16_t wseed)
{
	uint16_t deferred[FUZZ_POPS];
	uint64_t dbytes[FUZZ_POPS];
	uint32_t ndef = 0, budget = TOUCH_BUDGET;

	for (uint32_t i = 0; i < FUZZ_POPS; i++) {
		if (!(flags & 0x40))
			vq_set_notify(&vq, i & 1);
		(void)vq_has_work(&vq);
		enum vq_result r = vq_pop(&vq, &ch);
		if (r == VQ_EMPTY)
			break;
		if (r == VQ_ERROR) {
			must(vq.why != NULL && vq_pop(&vq, &ch) == VQ_ERROR);
			break;
		}
		must(r == VQ_OK && vq.inflight <= vq.size);
		check_and_touch(&budget);
		check_copies((uint16_t)(wseed + i));
		uint32_t written = (uint32_t)wseed * (i + 1);
		if (flags & 0x20) {
			deferred[ndef] = ch.head;
			dbytes[ndef++] = ch.write_bytes;
		} else {
			push_checked(ch.head, written, ch.write_bytes);
		}
		(void)vq_should_interrupt(&vq);
	}
	for (uint32_t i = 0; i < ndef; i++)
		push_checked(deferred[i], wseed, dbytes[i]);
	must(vq.inflight == 0);
	must(vq_push(&vq, 0, 0) == -1); /* nothing is in flight any more */
	(void)vq_should_interrupt(&vq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FUZZ_HDR)
		return 0;
	gm = fuzz_ram(FUZZ_RAM, "fuzz_virtqueue");
	memset(gm->base, 0, FUZZ_RAM);
	size_t body = size - FUZZ_HDR < FUZZ_RAM ? size - FUZZ_HDR : FUZZ_RAM;
	memcpy(gm->base, data + FUZZ_HDR, body);

	uint16_t qsize = (data[0] & 0x10) ? data[0] ^ 0x10 : (uint16_t)(1u << (data[0] & 15));
	uint8_t flags = data[1];
	uint64_t d = ring_gpa(data + 2) + ((flags & 0x04) ? 8 : 0);
	uint64_t a = ring_gpa(data + 4) + ((flags & 0x08) ? 1 : 0);
	uint64_t u = ring_gpa(data + 6) + ((flags & 0x10) ? 2 : 0);
	uint16_t wseed = (uint16_t)(data[8] | data[9] << 8);

	if (vq_enable(&vq, gm, qsize, d, a, u, flags & 1, flags & 2) < 0) {
		must(vq.why != NULL && vq.size == 0 && vq_pop(&vq, &ch) == VQ_EMPTY);
		return 0;
	}
	must(vq.why == NULL && vq.size == qsize);
	device_loop(flags, wseed);
	vq_reset(&vq);
	must(vq.size == 0 && vq_pop(&vq, &ch) == VQ_EMPTY && !vq_has_work(&vq));
	must(!vq_should_interrupt(&vq) && vq_push(&vq, 0, 0) == -1);
	vq_set_notify(&vq, true);
	return 0;
}
