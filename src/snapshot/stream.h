/* Snapshot state streams: how a device writes its own state into a snapshot and reads it back.
 * Owns: a growable byte buffer (snap_out) and a bounded reader (snap_in), both little-endian
 * on x86-64 hosts (the format records the host; see docs/snapshot.md). Knows nothing of files,
 * KVM or the format's sections: the snapshot module frames each device's bytes in a section.
 * Errors are sticky: after one failed put/get every later call does nothing, so a save or load
 * function can make all its calls and check snap_out_ok()/snap_in_ok() once at the end.
 * A reader never reads past its bounds: loaded data is hostile input (a crafted state file). */
#ifndef MOTE_SNAPSHOT_STREAM_H
#define MOTE_SNAPSHOT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_OUT_MAX (64u << 20) /* one stream never grows beyond this (a device bug, not data) */

struct snap_out {
	uint8_t *buf;
	size_t len, cap;
	bool failed; /* out of memory or over SNAP_OUT_MAX */
};

struct snap_in {
	const uint8_t *p;
	size_t left;
	bool failed; /* a get asked for more than was left */
};

void snap_out_init(struct snap_out *o);
void snap_out_free(struct snap_out *o);
void snap_put(struct snap_out *o, const void *p, size_t n);
void snap_put_u8(struct snap_out *o, uint8_t v);
void snap_put_u16(struct snap_out *o, uint16_t v);
void snap_put_u32(struct snap_out *o, uint32_t v);
void snap_put_u64(struct snap_out *o, uint64_t v);
static inline bool snap_out_ok(const struct snap_out *o) { return !o->failed; }

void snap_in_init(struct snap_in *in, const void *p, size_t n);
/* Copies n bytes out, or (too few left) zero-fills dst and fails the reader. */
bool snap_get(struct snap_in *in, void *dst, size_t n);
uint8_t snap_get_u8(struct snap_in *in);
uint16_t snap_get_u16(struct snap_in *in);
uint32_t snap_get_u32(struct snap_in *in);
uint64_t snap_get_u64(struct snap_in *in);
/* Whether every get succeeded. A complete load also checks in->left == 0 (snap_in_done). */
static inline bool snap_in_ok(const struct snap_in *in) { return !in->failed; }
static inline bool snap_in_done(const struct snap_in *in) { return !in->failed && in->left == 0; }

#endif
