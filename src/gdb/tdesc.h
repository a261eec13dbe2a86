/* The x86-64 target description gdb reads (qXfer:features:read:target.xml) and the register
 * file it describes: gdb's standard core, SSE and segment-base features, plus mote's own
 * feature with the control registers and EFER. Register n of the description is register
 * n of the g/G/p/P packets. Pure data and conversions, no KVM. */
#ifndef MOTE_GDB_TDESC_H
#define MOTE_GDB_TDESC_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/cpu_state.h"

#define TDESC_NREGS 65
#define TDESC_REG_MAX 16   /* bytes of the widest register (xmm) */
#define TDESC_REG_PC 16    /* rip */

/* The XML document and its length. */
const char *tdesc_xml(size_t *len);

/* Bytes of register n (0 when n is not a register). */
unsigned tdesc_reg_size(unsigned n);

/* Sum of every register's size: the g packet's length in bytes. */
unsigned tdesc_regs_size(void);

/* Register n of s in target (little-endian) byte order into out (tdesc_reg_size(n) bytes).
 * Returns the size, or 0 when n is not a register. */
unsigned tdesc_reg_get(const struct x86_cpu_state *s, unsigned n, uint8_t *out);

/* Sets register n of s from in (tdesc_reg_size(n) bytes). Returns the size, or 0. */
unsigned tdesc_reg_set(struct x86_cpu_state *s, unsigned n, const uint8_t *in);

#endif
