/* The vsock multiplexer's connection table (see conn.h): slots, free list, keyed hash, the
 * queue of slots with packets owed, deadlines, and the check of their invariants. Must not:
 * interpret states beyond freeing a slot, or touch host streams except to close them. */
#include "vsock/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/log.h"

_Static_assert((VSOCK_CONN_BUF & (VSOCK_CONN_BUF - 1)) == 0, "the ring index is a mask");

static uint32_t table_hash(const struct vsock_mux *m, uint32_t local, uint32_t peer)
{
	uint64_t x = ((uint64_t)local << 32 | peer) ^ m->seed;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x & (m->nbuckets - 1);
}

struct vsock_conn *table_lookup(struct vsock_mux *m, uint32_t local, uint32_t peer)
{
	for (int32_t i = m->buckets[table_hash(m, local, peer)]; i >= 0; i = m->conns[i].hnext) {
		struct vsock_conn *c = &m->conns[i];
		if (c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

unsigned table_id(const struct vsock_mux *m, const struct vsock_conn *c)
{
	return (unsigned)(c - m->conns);
}

void table_insert(struct vsock_mux *m, struct vsock_conn *c)
{
	uint32_t b = table_hash(m, c->local_port, c->peer_port);
	c->hnext = m->buckets[b];
	m->buckets[b] = (int32_t)table_id(m, c);
}

void table_remove(struct vsock_mux *m, struct vsock_conn *c)
{
	int32_t *p = &m->buckets[table_hash(m, c->local_port, c->peer_port)];
	while (*p >= 0 && *p != (int32_t)table_id(m, c))
		p = &m->conns[*p].hnext;
	if (*p >= 0)
		*p = c->hnext;
}

struct vsock_conn *table_alloc(struct vsock_mux *m, int fd)
{
	if (m->free_head < 0)
		return NULL;
	struct vsock_conn *c = &m->conns[m->free_head];
	m->free_head = c->free_next;
	*c = (struct vsock_conn){ .fd = fd, .hnext = -1, .rxq_prev = -1, .rxq_next = -1,
				   .free_next = -1 };
	m->nused++;
	atomic_fetch_add_explicit(&m->stats.conns_active, 1, memory_order_relaxed);
	return c;
}

void table_deadline(struct vsock_mux *m, struct vsock_conn *c, uint64_t after_ms)
{
	if (!c->deadline && after_ms && m->ndeadlines++ == 0)
		m->ops->timer(m->host, true);
	if (c->deadline && !after_ms && --m->ndeadlines == 0)
		m->ops->timer(m->host, false);
	c->deadline = after_ms ? m->ops->now_ms(m->host) + after_ms : 0;
}

/* Frees the slot: the stream closed, out of the hash and the queue. */
void table_free(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->state == C_FREE)
		return;
	table_rxq_remove(m, c);
	if (c->fd >= 0)
		m->ops->close(m->host, table_id(m, c), c->fd);
	if (c->state != C_LINE)
		table_remove(m, c);
	table_deadline(m, c, 0);
	free(c->buf);
	c->buf = NULL;
	c->state = C_FREE;
	c->fd = -1;
	c->free_next = m->free_head;
	m->free_head = (int32_t)table_id(m, c);
	m->nused--;
	atomic_fetch_sub_explicit(&m->stats.conns_active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->stats.conns_closed, 1, memory_order_relaxed);
}

void table_rxq_push(struct vsock_mux *m, struct vsock_conn *c)
{
	if (c->in_rxq || !conn_has_pending(c))
		return;
	int32_t id = (int32_t)table_id(m, c);
	c->in_rxq = true;
	c->rxq_next = -1;
	c->rxq_prev = m->rxq_tail;
	if (m->rxq_tail >= 0)
		m->conns[m->rxq_tail].rxq_next = id;
	else
		m->rxq_head = id;
	m->rxq_tail = id;
}

void table_rxq_remove(struct vsock_mux *m, struct vsock_conn *c)
{
	if (!c->in_rxq)
		return;
	if (c->rxq_prev >= 0)
		m->conns[c->rxq_prev].rxq_next = c->rxq_next;
	else
		m->rxq_head = c->rxq_next;
	if (c->rxq_next >= 0)
		m->conns[c->rxq_next].rxq_prev = c->rxq_prev;
	else
		m->rxq_tail = c->rxq_prev;
	c->in_rxq = false;
	c->rxq_prev = c->rxq_next = -1;
}

struct vsock_conn *table_rxq_pop(struct vsock_mux *m)
{
	if (m->rxq_head < 0)
		return NULL;
	struct vsock_conn *c = &m->conns[m->rxq_head];
	table_rxq_remove(m, c);
	return c;
}

int table_init(struct vsock_mux *m, uint32_t max, char *err, size_t errlen)
{
	m->max = max;
	m->free_head = m->rxq_head = m->rxq_tail = -1;
	if (max == 0 || max > (1u << 20))
		return err_set(err, errlen, "vsock: a connection limit of %u is out of range", max);
	m->nbuckets = 16;
	while (m->nbuckets < 2 * max)
		m->nbuckets *= 2;
	m->conns = calloc(max, sizeof(*m->conns));
	m->buckets = malloc(m->nbuckets * sizeof(*m->buckets));
	if (!m->conns || !m->buckets) {
		table_destroy(m);
		return err_set(err, errlen, "vsock: out of memory for %u connections", max);
	}
	for (uint32_t i = 0; i < m->nbuckets; i++)
		m->buckets[i] = -1;
	for (uint32_t i = max; i-- > 0;) {
		m->conns[i].fd = -1;
		m->conns[i].free_next = m->free_head;
		m->free_head = (int32_t)i;
	}
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != (ssize_t)sizeof(m->seed))
		m->seed = (uint64_t)(uintptr_t)m ^ 0x9e3779b97f4a7c15ull;
	return 0;
}

void table_destroy(struct vsock_mux *m)
{
	if (m->conns)
		for (uint32_t i = 0; i < m->max; i++)
			table_free(m, &m->conns[i]);
	free(m->conns);
	free(m->buckets);
	m->conns = NULL;
	m->buckets = NULL;
}

const char *table_check(const struct vsock_mux *m)
{
	uint32_t used = 0, deadlines = 0, free_n = 0, hashed = 0, queued = 0;
	for (uint32_t i = 0; i < m->max; i++) {
		const struct vsock_conn *c = &m->conns[i];
		if (c->state == C_FREE) {
			if (c->in_rxq || c->deadline || c->fd >= 0 || c->buf)
				return "a free slot is queued, timed, holds a stream or a buffer";
			continue;
		}
		used++;
		deadlines += c->deadline != 0;
		if (c->rx_cnt - c->fwd_cnt > VSOCK_CONN_BUF)
			return "a connection buffers more than VSOCK_CONN_BUF";
		if (c->state != C_LINE && table_lookup((struct vsock_mux *)(uintptr_t)m, c->local_port,
						       c->peer_port) != c)
			return "a connection is not found under its ports";
		if (c->state == C_DYING && c->fd >= 0)
			return "a dying connection still holds its stream";
	}
	for (int32_t i = m->free_head; i >= 0 && free_n <= m->max; i = m->conns[i].free_next)
		free_n++;
	for (uint32_t b = 0; b < m->nbuckets; b++)
		for (int32_t i = m->buckets[b]; i >= 0 && hashed <= m->max; i = m->conns[i].hnext)
			hashed++;
	for (int32_t i = m->rxq_head; i >= 0 && queued <= m->max; i = m->conns[i].rxq_next) {
		if (!m->conns[i].in_rxq || m->conns[i].state == C_FREE)
			return "the queue holds a slot that is not queued";
		queued++;
	}
	if (used != m->nused || free_n != m->max - used)
		return "slot counts disagree (in use, free list)";
	if (hashed > used)
		return "the hash holds more than the slots in use";
	if (deadlines != m->ndeadlines)
		return "the deadline count disagrees";
	if (queued > used)
		return "the queue is longer than the slots in use";
	return NULL;
}
