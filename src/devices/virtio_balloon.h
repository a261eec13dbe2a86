/* virtio-balloon, the memory balloon (virtio 1.2, 5.5): device id 5. The host sets a target
 * (num_pages, in 4 KiB pages) in the configuration space; the driver inflates the balloon by
 * sending page frame numbers on the inflate queue (the device releases those pages to the host
 * with gm_discard, so host RSS drops) and deflates it on the deflate queue (the pages fault
 * back in as zeroes). Optional: the statistics queue (VIRTIO_BALLOON_F_STATS_VQ, polled every
 * stats interval by a timerfd on the I/O thread), VIRTIO_BALLOON_F_DEFLATE_ON_OOM, free page
 * reporting (VIRTIO_BALLOON_F_REPORTING: ranges of free guest memory the device discards).
 * Owns: the page bitmap (which RAM pages are in the balloon), the stats buffer it holds, the
 * counters. Every PFN is hostile: outside RAM, in a hole, repeated, too many in one request
 * are ignored and counted (virtio_dev_ops.counters); only guest RAM is ever released, through
 * the gate. Knows neither KVM nor its address (habit 5). */
#ifndef MOTE_DEVICES_VIRTIO_BALLOON_H
#define MOTE_DEVICES_VIRTIO_BALLOON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/device.h"
#include "virtio/virtqueue.h"

#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_REPORTING 5

#define VIRTIO_BALLOON_PFN_SHIFT 12
#define VIRTIO_BALLOON_PAGE (1u << VIRTIO_BALLOON_PFN_SHIFT)
#define VIRTIO_BALLOON_QUEUE_SIZE 256
/* num_pages, actual, free_page_hint_cmd_id, poison_val (the last two read 0: not offered). */
#define VIRTIO_BALLOON_CONFIG_SIZE 16
/* PFNs taken from one inflate/deflate chain (Linux sends 256); the rest are counted, ignored. */
#define VIRTIO_BALLOON_MAX_PFNS 4096
/* Statistics tags (5.5.6.3; 10-15 as Linux defines them). */
#define VIRTIO_BALLOON_S_NR 16
#define VIRTIO_BALLOON_STAT_SIZE 10 /* le16 tag, le64 val, packed */
#define VIRTIO_BALLOON_STATS_INTERVAL_MAX 65535u /* seconds (Firecracker: u16) */

/* What the machine asks for (the configuration: --balloon, PUT /balloon). */
struct virtio_balloon_params {
	uint32_t target_pages;     /* initial num_pages */
	bool deflate_on_oom;       /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	unsigned stats_interval_s; /* 0: no statistics queue; else offer STATS_VQ and poll */
	bool reporting;            /* offer VIRTIO_BALLOON_F_REPORTING */
};

/* The latest statistics the driver sent (values by tag; present: bit per tag). */
struct virtio_balloon_stats {
	uint64_t val[VIRTIO_BALLOON_S_NR];
	uint32_t present;
	uint64_t updates; /* stats buffers received */
};

struct virtio_balloon_counters {
	atomic_ulong inflated, deflated;  /* pages put into / taken out of the balloon */
	atomic_ulong reported;            /* pages released through free page reporting */
	atomic_ulong bad_pfns;            /* PFNs outside guest RAM (holes, past the end) */
	atomic_ulong repeated;            /* inflate of a page already in the balloon */
	atomic_ulong not_inflated;        /* deflate of a page not in the balloon */
	atomic_ulong capped;              /* PFNs beyond VIRTIO_BALLOON_MAX_PFNS in one chain */
	atomic_ulong bad_lengths;         /* chain bytes not a multiple of 4 (inflate/deflate) or of
					     10 (stats): the tail is ignored */
	atomic_ulong bad_ranges;          /* reported ranges with no whole page of RAM */
	atomic_ulong discard_errors;      /* the host refused to release a page */
	atomic_ulong stats_updates;       /* statistics buffers received */
	atomic_ulong stats_requests;      /* statistics buffers handed back (timer ticks) */
};

struct virtio_balloon {
	struct virtio_dev dev;        /* the machine: virtio_dev_init(&b->dev, &b->ops, b, ...) */
	struct virtio_dev_ops ops;    /* features and queue count follow the parameters */
	const struct guest_mem *gm;
	struct vq_chain chain;        /* the chain being served (16 KiB: off the stack) */
	/* Below: d->lock held, except the atomics. */
	uint32_t num_pages;           /* target (the configuration space) */
	uint32_t actual;              /* what the driver says the balloon holds */
	struct virtio_balloon_params p;
	atomic_uint stats_interval_s; /* current polling interval (PATCH may change it) */
	int timer_fd;                 /* the stats timer (timerfd, owned), or -1 */
	int stats_q, report_q;        /* queue indices after negotiation, -1 when absent */
	bool stats_held;              /* the driver's stats buffer is with the device */
	uint16_t stats_head;
	struct virtio_balloon_stats stats;
	uint8_t *bitmap;              /* one bit per RAM page (by RAM offset): in the balloon */
	uint64_t ram_pages;
	uint64_t held;                /* pages set in bitmap */
	struct virtio_balloon_counters c;
};

/* Sets up the device-specific state for guest memory gm (the page bitmap; the stats timer when
 * p->stats_interval_s > 0, armed at once: it only hands a buffer back when the driver gave
 * one). Call before virtio_dev_init(&b->dev, &b->ops, b, ...). 0, or -1 with err set. */
int virtio_balloon_init(struct virtio_balloon *b, const struct virtio_balloon_params *p,
			const struct guest_mem *gm, char *err, size_t errlen);
void virtio_balloon_destroy(struct virtio_balloon *b);

/* The stats timer's fd for the I/O thread (-1: none); on readable, call on_timer there. */
int virtio_balloon_timer_fd(const struct virtio_balloon *b);
void virtio_balloon_on_timer(struct virtio_balloon *b);

/* Any thread (takes d->lock): a new target; the driver gets a configuration change. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t pages);
/* Any thread: a new polling interval (1..MAX; statistics cannot be turned on or off once the
 * device exists); the next poll is at once. 0, or -1 with err set. */
int virtio_balloon_set_stats_interval(struct virtio_balloon *b, unsigned s, char *err,
				      size_t errlen);

/* A consistent copy for GET /balloon/statistics (takes d->lock). */
struct virtio_balloon_info {
	uint32_t target_pages, actual_pages;
	unsigned stats_interval_s;
	struct virtio_balloon_stats stats;
};
void virtio_balloon_info(struct virtio_balloon *b, struct virtio_balloon_info *out);

/* For tests and fuzzers: the PFN path of one inflate (inflate true) or deflate request of n
 * little-endian 32-bit PFNs. d->lock held. */
void virtio_balloon_pfns(struct virtio_balloon *b, bool inflate, const uint8_t *pfns, size_t n);

#endif
