/* sha256.h: SHA-256 (FIPS 180-4) for the test guests, so a guest and the host can compare
 * what crossed a channel. Integer code only (fine at ring 0 with -mgeneral-regs-only). */
#ifndef MOTE_GUEST_SHA256_H
#define MOTE_GUEST_SHA256_H

#include "rt.h"

struct sha256 {
	u32 h[8];
	u64 len;      /* bytes hashed */
	u8 block[64];
	u32 used;     /* bytes in block */
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, u64 len);
void sha256_final(struct sha256 *s, u8 out[32]);
/* 65 bytes: lower-case hex and a NUL. */
void sha256_hex(const u8 d[32], char out[65]);

#endif
