/* GDB remote protocol commands (stub.h). Each handler parses its packet with bounds and
 * overflow checks and leaves one reply in s->out; a malformed packet gets "E01", a bad
 * address "E0E", a request mote cannot do "E16" or, for a command it does not know, the
 * empty reply gdb reads as "not supported". */
#include "gdb/stub.h"

#include <stdio.h>
#include <string.h>

#include "gdb/tdesc.h"

#define E_MALFORMED "E01"
#define E_FAULT "E0E"
#define E_INVAL "E16"
#define INT3 0xcc
#define DR6_BS (1ull << 14)

/* ---- replies ---- */

static void reply(struct gdb_stub *s, const char *txt)
{
	size_t n = strlen(txt);
	memcpy(s->out, txt, n);
	s->out_len = n;
}

static void reply_hex(struct gdb_stub *s, const uint8_t *b, size_t n)
{
	gdb_hex_encode(b, n, s->out);
	s->out_len = 2 * n;
}

static void send_out(struct gdb_stub *s)
{
	s->frame_len = gdb_frame(s->frame, sizeof(s->frame), s->out, s->out_len);
	s->ops->send(s->t, s->frame, s->frame_len);
}

/* ---- parsing ---- */

struct cur {
	const char *p, *end;
};

static bool eat(struct cur *c, char ch)
{
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool hexnum(struct cur *c, uint64_t *v) { return gdb_hex_u64(&c->p, c->end, v) == 0; }

/* "addr,len" with addr + len not wrapping; len at most max. */
static bool addr_len(struct cur *c, uint64_t *addr, uint64_t *len, uint64_t max)
{
	if (!hexnum(c, addr) || !eat(c, ',') || !hexnum(c, len))
		return false;
	if (*len > max || *addr + *len < *addr)
		return false;
	return true;
}

/* A thread id: -1 (all), 0 (any) or 1..ncpus. Returns false when malformed or unknown. */
static bool thread_id(struct gdb_stub *s, struct cur *c, int *cpu)
{
	uint64_t v;
	if (eat(c, '-')) {
		if (!eat(c, '1'))
			return false;
		*cpu = -1;
		return true;
	}
	if (!hexnum(c, &v) || v > s->ops->ncpus(s->t))
		return false;
	*cpu = v == 0 ? -1 : (int)(v - 1);
	return true;
}

/* ---- registers ---- */

static void cmd_g(struct gdb_stub *s)
{
	struct x86_cpu_state st;
	size_t n = 0;
	if (s->ops->get_state(s->t, s->g_cpu, &st) < 0)
		return reply(s, E_FAULT);
	for (unsigned r = 0; r < TDESC_NREGS; r++)
		n += tdesc_reg_get(&st, r, s->scratch + n);
	reply_hex(s, s->scratch, n);
}

static void cmd_G(struct gdb_stub *s, struct cur *c)
{
	struct x86_cpu_state st;
	size_t need = tdesc_regs_size(), off = 0;
	if ((size_t)(c->end - c->p) != 2 * need || gdb_hex_decode(c->p, need, s->scratch) < 0)
		return reply(s, E_MALFORMED);
	if (s->ops->get_state(s->t, s->g_cpu, &st) < 0)
		return reply(s, E_FAULT);
	for (unsigned r = 0; r < TDESC_NREGS; r++)
		off += tdesc_reg_set(&st, r, s->scratch + off);
	reply(s, s->ops->set_state(s->t, s->g_cpu, &st) < 0 ? E_INVAL : "OK");
}

static void cmd_p(struct gdb_stub *s, struct cur *c)
{
	struct x86_cpu_state st;
	uint64_t r;
	uint8_t v[TDESC_REG_MAX];
	if (!hexnum(c, &r) || c->p != c->end)
		return reply(s, E_MALFORMED);
	if (r >= TDESC_NREGS)
		return reply(s, E_INVAL);
	if (s->ops->get_state(s->t, s->g_cpu, &st) < 0)
		return reply(s, E_FAULT);
	reply_hex(s, v, tdesc_reg_get(&st, (unsigned)r, v));
}

static void cmd_P(struct gdb_stub *s, struct cur *c)
{
	struct x86_cpu_state st;
	uint64_t r;
	uint8_t v[TDESC_REG_MAX];
	if (!hexnum(c, &r) || !eat(c, '='))
		return reply(s, E_MALFORMED);
	if (r >= TDESC_NREGS)
		return reply(s, E_INVAL);
	unsigned size = tdesc_reg_size((unsigned)r);
	if ((size_t)(c->end - c->p) != 2 * size || gdb_hex_decode(c->p, size, v) < 0)
		return reply(s, E_MALFORMED);
	if (s->ops->get_state(s->t, s->g_cpu, &st) < 0)
		return reply(s, E_FAULT);
	tdesc_reg_set(&st, (unsigned)r, v);
	reply(s, s->ops->set_state(s->t, s->g_cpu, &st) < 0 ? E_INVAL : "OK");
}

/* ---- memory ---- */

static struct gdb_swbp *swbp_find(struct gdb_stub *s, uint64_t addr)
{
	for (unsigned i = 0; i < s->nswbp; i++)
		if (s->swbp[i].addr == addr)
			return &s->swbp[i];
	return NULL;
}

static void cmd_m(struct gdb_stub *s, struct cur *c)
{
	uint64_t addr, len;
	if (!addr_len(c, &addr, &len, UINT64_MAX) || c->p != c->end)
		return reply(s, E_MALFORMED);
	if (len == 0)
		return reply(s, E_INVAL);
	if (len > GDB_PACKET_MAX / 2)
		len = GDB_PACKET_MAX / 2; /* a shorter answer is allowed */
	if (addr + len < addr)
		return reply(s, E_FAULT);
	size_t n = s->ops->read_mem(s->t, s->g_cpu, addr, s->scratch, (size_t)len);
	if (n == 0)
		return reply(s, E_FAULT);
	for (unsigned i = 0; i < s->nswbp; i++) /* the guest's bytes, not mote's int3 */
		if (s->swbp[i].addr - addr < n)
			s->scratch[s->swbp[i].addr - addr] = s->swbp[i].saved;
	reply_hex(s, s->scratch, n);
}

/* Writes data; bytes under a software breakpoint change its saved byte instead. */
static void write_mem(struct gdb_stub *s, uint64_t addr, uint8_t *data, size_t len)
{
	for (unsigned i = 0; i < s->nswbp; i++)
		if (s->swbp[i].addr - addr < len) {
			s->swbp[i].saved = data[s->swbp[i].addr - addr];
			data[s->swbp[i].addr - addr] = INT3;
		}
	if (len == 0)
		return reply(s, "OK");
	reply(s, s->ops->write_mem(s->t, s->g_cpu, addr, data, len) == len ? "OK" : E_FAULT);
}

static void cmd_M(struct gdb_stub *s, struct cur *c)
{
	uint64_t addr, len;
	if (!addr_len(c, &addr, &len, GDB_PACKET_MAX) || !eat(c, ':') ||
	    (uint64_t)(c->end - c->p) != 2 * len || gdb_hex_decode(c->p, (size_t)len, s->scratch) < 0)
		return reply(s, E_MALFORMED);
	write_mem(s, addr, s->scratch, (size_t)len);
}

static void cmd_X(struct gdb_stub *s, struct cur *c)
{
	uint64_t addr, len;
	if (!addr_len(c, &addr, &len, GDB_PACKET_MAX) || !eat(c, ':') ||
	    (uint64_t)(c->end - c->p) != len)
		return reply(s, E_MALFORMED);
	memcpy(s->scratch, c->p, (size_t)len);
	write_mem(s, addr, s->scratch, (size_t)len);
}

/* ---- breakpoints and watchpoints ---- */

static int slot_free(const struct gdb_stub *s)
{
	for (int i = 0; i < GDB_NSLOTS; i++)
		if (s->slot[i].type == SLOT_FREE)
			return i;
	return -1;
}

static int slots_free(const struct gdb_stub *s)
{
	int n = 0;
	for (int i = 0; i < GDB_NSLOTS; i++)
		n += s->slot[i].type == SLOT_FREE;
	return n;
}

/* The aligned 1/2/4/8-byte pieces of [addr, addr + len), or -1 beyond max pieces. */
static int split(uint64_t addr, uint64_t len, uint64_t *pa, unsigned *pl, int max)
{
	int n = 0;
	while (len > 0) {
		unsigned size = 8;
		while (size > 1 && ((addr & (size - 1)) || size > len))
			size >>= 1;
		if (n == max)
			return -1;
		pa[n] = addr;
		pl[n++] = size;
		addr += size;
		len -= size;
	}
	return n;
}

static bool slots_take(struct gdb_stub *s, int zt, enum gdb_slot_type type, uint64_t addr,
		       uint64_t len)
{
	uint64_t pa[GDB_NSLOTS];
	unsigned pl[GDB_NSLOTS];
	int n = type == SLOT_EXEC ? (pa[0] = addr, pl[0] = 1, 1)
				  : split(addr, len, pa, pl, GDB_NSLOTS);
	if (n < 0 || n > slots_free(s))
		return false;
	for (int i = 0; i < n; i++) {
		int k = slot_free(s);
		s->slot[k] = (struct gdb_slot){.type = type, .addr = pa[i], .len = pl[i], .zt = zt,
					       .req_addr = addr, .req_len = len};
	}
	return true;
}

static bool slots_drop(struct gdb_stub *s, int zt, uint64_t addr, uint64_t len)
{
	bool found = false;
	for (int i = 0; i < GDB_NSLOTS; i++) {
		struct gdb_slot *k = &s->slot[i];
		if (k->type != SLOT_FREE && k->zt == zt && k->req_addr == addr &&
		    (zt <= 1 || k->req_len == len)) {
			k->type = SLOT_FREE;
			found = true;
		}
	}
	return found;
}

static bool swbp_insert(struct gdb_stub *s, uint64_t addr)
{
	uint8_t old, cc = INT3;
	if (s->nswbp == GDB_MAX_SWBP || s->ops->read_mem(s->t, s->g_cpu, addr, &old, 1) != 1)
		return false;
	if (s->ops->write_mem(s->t, s->g_cpu, addr, &cc, 1) != 1)
		return false;
	s->swbp[s->nswbp++] = (struct gdb_swbp){.addr = addr, .saved = old};
	return true;
}

static void swbp_remove(struct gdb_stub *s, struct gdb_swbp *b)
{
	s->ops->write_mem(s->t, s->g_cpu, b->addr, &b->saved, 1);
	*b = s->swbp[--s->nswbp];
}

static bool slot_exec_at(const struct gdb_stub *s, int zt, uint64_t addr)
{
	for (int i = 0; i < GDB_NSLOTS; i++)
		if (s->slot[i].type == SLOT_EXEC && s->slot[i].zt == zt && s->slot[i].addr == addr)
			return true;
	return false;
}

/* Moves every software breakpoint held in a debug register to an int3 in memory (those
 * mote can write), freeing the register for a hardware breakpoint or watchpoint. */
static void swbp_yield_slots(struct gdb_stub *s)
{
	for (int i = 0; i < GDB_NSLOTS; i++) {
		struct gdb_slot *k = &s->slot[i];
		if (k->type == SLOT_EXEC && k->zt == 0 && swbp_insert(s, k->addr))
			k->type = SLOT_FREE;
	}
}

static void cmd_Z(struct gdb_stub *s, struct cur *c, bool insert)
{
	static const enum gdb_slot_type types[] = {SLOT_EXEC, SLOT_EXEC, SLOT_WRITE, SLOT_FREE,
						   SLOT_ACCESS};
	uint64_t zt, addr, kind;
	if (!hexnum(c, &zt) || !eat(c, ',') || !hexnum(c, &addr) || !eat(c, ',') ||
	    !hexnum(c, &kind))
		return reply(s, E_MALFORMED);
	if (c->p != c->end && *c->p != ';') /* ";cond" lists are never advertised */
		return reply(s, E_MALFORMED);
	if (zt > 4 || zt == 3) /* x86 has no read-only watchpoints */
		return reply(s, "");
	if (zt >= 2 && (kind == 0 || kind > 32 || addr + kind < addr))
		return reply(s, E_INVAL);
	if (zt == 0) {
		struct gdb_swbp *b = swbp_find(s, addr);
		if (insert) {
			if (b || slot_exec_at(s, 0, addr))
				return reply(s, "OK");
			/* A free debug register first: the guest's memory stays untouched (read-only
			 * text, code the guest checksums), and it also works where int3 cannot be
			 * intercepted; then an int3 patched into memory. */
			if (slots_take(s, 0, SLOT_EXEC, addr, 1) || swbp_insert(s, addr))
				return reply(s, "OK");
			return reply(s, E_FAULT);
		}
		if (b) {
			swbp_remove(s, b);
			return reply(s, "OK");
		}
		return reply(s, slots_drop(s, 0, addr, 1) ? "OK" : E_INVAL);
	}
	if (insert) {
		if (zt == 1 && slot_exec_at(s, 1, addr))
			return reply(s, "OK");
		if (slots_take(s, (int)zt, types[zt], addr, kind))
			return reply(s, "OK");
		/* Only debug registers can do this: software breakpoints give theirs up. */
		swbp_yield_slots(s);
		return reply(s, slots_take(s, (int)zt, types[zt], addr, kind) ? "OK" : E_INVAL);
	}
	return reply(s, slots_drop(s, (int)zt, addr, kind) ? "OK" : E_INVAL);
}

static void hwdebug(const struct gdb_stub *s, struct gdb_hwdebug *d)
{
	static const unsigned rw[] = {[SLOT_EXEC] = 0, [SLOT_WRITE] = 1, [SLOT_ACCESS] = 3};
	static const unsigned lenbits[] = {[1] = 0, [2] = 1, [4] = 3, [8] = 2};
	memset(d, 0, sizeof(*d));
	d->sw_bp = s->nswbp > 0;
	for (int i = 0; i < GDB_NSLOTS; i++) {
		const struct gdb_slot *k = &s->slot[i];
		if (k->type == SLOT_FREE)
			continue;
		d->dr[i] = k->addr;
		d->dr7 |= 1ull << (2 * i); /* local enable */
		d->dr7 |= (uint64_t)rw[k->type] << (16 + 4 * i);
		d->dr7 |= (uint64_t)(k->type == SLOT_EXEC ? 0 : lenbits[k->len]) << (18 + 4 * i);
	}
	if (d->dr7)
		d->dr7 |= 1ull << 8; /* LE: exact data breakpoints */
}

/* ---- running ---- */

static void resume(struct gdb_stub *s, int step_cpu)
{
	struct gdb_hwdebug d;
	hwdebug(s, &d);
	if (s->ops->resume(s->t, step_cpu, &d) < 0)
		return reply(s, E_INVAL);
	s->state = GDB_RUNNING;
	s->out_len = (size_t)-1; /* the stop reply comes later */
}

/* c [addr], s [addr], C sig[;addr], S sig[;addr] */
static void cmd_cont(struct gdb_stub *s, struct cur *c, bool step, bool sig)
{
	uint64_t v;
	unsigned cpu = s->c_cpu >= 0 ? (unsigned)s->c_cpu : s->g_cpu;
	if (sig && (!hexnum(c, &v) || (c->p != c->end && !eat(c, ';'))))
		return reply(s, E_MALFORMED);
	if (c->p != c->end) {
		struct x86_cpu_state st;
		if (!hexnum(c, &v) || c->p != c->end)
			return reply(s, E_MALFORMED);
		if (s->ops->get_state(s->t, cpu, &st) < 0)
			return reply(s, E_FAULT);
		st.rip = v;
		if (s->ops->set_state(s->t, cpu, &st) < 0)
			return reply(s, E_INVAL);
	}
	resume(s, step ? (int)cpu : -1);
}

/* vCont;action[:thread]... : a step action picks the vCPU that steps alone; otherwise every
 * vCPU continues. Signals are accepted and not delivered. */
static void cmd_vcont(struct gdb_stub *s, struct cur *c)
{
	int step_cpu = -2; /* none */
	bool any = false;
	while (eat(c, ';')) {
		uint64_t sig;
		int cpu = -1;
		char a = c->p < c->end ? *c->p++ : 0;
		if ((a == 'C' || a == 'S') && !hexnum(c, &sig))
			return reply(s, E_MALFORMED);
		if (a != 'c' && a != 'C' && a != 's' && a != 'S')
			return reply(s, a == 't' || a == 'r' ? E_INVAL : E_MALFORMED);
		if (eat(c, ':') && !thread_id(s, c, &cpu))
			return reply(s, E_MALFORMED);
		if ((a == 's' || a == 'S') && step_cpu == -2)
			step_cpu = cpu >= 0 ? cpu : (s->c_cpu >= 0 ? s->c_cpu : (int)s->g_cpu);
		any = true;
	}
	if (!any || c->p != c->end)
		return reply(s, E_MALFORMED);
	resume(s, step_cpu >= 0 ? step_cpu : -1);
}

static void clear_debug(struct gdb_stub *s)
{
	while (s->nswbp)
		swbp_remove(s, &s->swbp[s->nswbp - 1]);
	memset(s->slot, 0, sizeof(s->slot));
}

static void detach(struct gdb_stub *s)
{
	struct gdb_hwdebug d;
	clear_debug(s);
	hwdebug(s, &d);
	if (s->state == GDB_STOPPED)
		s->ops->resume(s->t, -1, &d);
	s->state = GDB_DETACHED;
}

void gdb_stub_drop(struct gdb_stub *s)
{
	if (s->state == GDB_RUNNING)
		s->state = GDB_STOPPED; /* the caller stopped the target */
	if (s->state == GDB_STOPPED)
		detach(s);
}

/* ---- queries ---- */

static bool starts(const struct cur *c, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0;
}

static void cmd_xfer(struct gdb_stub *s, struct cur *c)
{
	uint64_t off, len;
	size_t xlen;
	const char *x = tdesc_xml(&xlen);
	if (!addr_len(c, &off, &len, UINT64_MAX) || c->p != c->end)
		return reply(s, E_MALFORMED);
	if (off > xlen)
		return reply(s, E_INVAL);
	if (len > GDB_PACKET_MAX - 1)
		len = GDB_PACKET_MAX - 1;
	size_t n = xlen - off < len ? xlen - off : (size_t)len;
	s->out[0] = off + n < xlen ? 'm' : 'l';
	memcpy(s->out + 1, x + off, n);
	s->out_len = n + 1;
}

static void cmd_threads(struct gdb_stub *s)
{
	size_t n = 0;
	unsigned cpus = s->ops->ncpus(s->t);
	s->out[n++] = 'm';
	for (unsigned i = 0; i < cpus && n < sizeof(s->out) - 24; i++)
		n += (size_t)snprintf(s->out + n, sizeof(s->out) - n, "%s%x", i ? "," : "", i + 1);
	s->out_len = n;
}

static void cmd_extra(struct gdb_stub *s, struct cur *c)
{
	int cpu;
	char name[32];
	if (!thread_id(s, c, &cpu) || cpu < 0 || c->p != c->end)
		return reply(s, E_MALFORMED);
	int n = snprintf(name, sizeof(name), "vCPU %d", cpu);
	reply_hex(s, (const uint8_t *)name, (size_t)n);
}

static void cmd_q(struct gdb_stub *s, struct cur *c)
{
	char buf[48];
	if (starts(c, "qSupported"))
		return reply(s, "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;swbreak+;"
				"hwbreak+;vContSupported+");
	if (starts(c, "qXfer:features:read:target.xml:")) {
		c->p += strlen("qXfer:features:read:target.xml:");
		return cmd_xfer(s, c);
	}
	if (starts(c, "qXfer:features:read:"))
		return reply(s, E_INVAL);
	if (starts(c, "qAttached"))
		return reply(s, "1");
	if (starts(c, "qfThreadInfo"))
		return cmd_threads(s);
	if (starts(c, "qsThreadInfo"))
		return reply(s, "l");
	if (starts(c, "qThreadExtraInfo,")) {
		c->p += strlen("qThreadExtraInfo,");
		return cmd_extra(s, c);
	}
	if (c->end - c->p == 2 && starts(c, "qC")) {
		snprintf(buf, sizeof(buf), "QC%x", s->g_cpu + 1);
		return reply(s, buf);
	}
	if (starts(c, "qSymbol:"))
		return reply(s, "OK");
	return reply(s, "");
}

static void cmd_H(struct gdb_stub *s, struct cur *c)
{
	int cpu;
	char op = c->p < c->end ? *c->p++ : 0;
	if ((op != 'g' && op != 'c') || !thread_id(s, c, &cpu) || c->p != c->end)
		return reply(s, E_MALFORMED);
	if (op == 'g')
		s->g_cpu = cpu < 0 ? s->g_cpu : (unsigned)cpu;
	else
		s->c_cpu = cpu;
	reply(s, "OK");
}

static void cmd_T(struct gdb_stub *s, struct cur *c)
{
	int cpu;
	if (!thread_id(s, c, &cpu) || cpu < 0 || c->p != c->end)
		return reply(s, E_INVAL);
	reply(s, "OK");
}

static void cmd_v(struct gdb_stub *s, struct cur *c)
{
	if (c->end - c->p == 6 && starts(c, "vCont?"))
		return reply(s, "vCont;c;C;s;S");
	if (starts(c, "vCont;") || (c->end - c->p == 5 && starts(c, "vCont"))) {
		c->p += 5;
		return cmd_vcont(s, c);
	}
	if (starts(c, "vKill")) {
		reply(s, "OK");
		s->ops->kill(s->t);
		s->state = GDB_KILLED;
		return;
	}
	reply(s, ""); /* vMustReplyEmpty and everything else */
}

/* One packet while stopped: sets s->out (out_len == -1: no reply now). */
static void dispatch(struct gdb_stub *s, const char *p, size_t n)
{
	struct cur c = {p + 1, p + n};
	s->out_len = 0;
	switch (n ? p[0] : 0) {
	case '?': return reply(s, s->stop_reply);
	case 'g': return n == 1 ? cmd_g(s) : reply(s, E_MALFORMED);
	case 'G': return cmd_G(s, &c);
	case 'p': return cmd_p(s, &c);
	case 'P': return cmd_P(s, &c);
	case 'm': return cmd_m(s, &c);
	case 'M': return cmd_M(s, &c);
	case 'X': return cmd_X(s, &c);
	case 'Z': return cmd_Z(s, &c, true);
	case 'z': return cmd_Z(s, &c, false);
	case 'c': return cmd_cont(s, &c, false, false);
	case 's': return cmd_cont(s, &c, true, false);
	case 'C': return cmd_cont(s, &c, false, true);
	case 'S': return cmd_cont(s, &c, true, true);
	case 'H': return cmd_H(s, &c);
	case 'T': return cmd_T(s, &c);
	case 'q': c.p = p; return cmd_q(s, &c);
	case 'v': c.p = p; return cmd_v(s, &c);
	case 'Q':
		if (n == 15 && memcmp(p, "QStartNoAckMode", 15) == 0) {
			reply(s, "OK");
			send_out(s);
			s->no_ack = true;
			s->out_len = (size_t)-1;
			return;
		}
		return reply(s, "");
	case 'D':
		if (n != 1 && p[1] != ';')
			return reply(s, E_MALFORMED);
		reply(s, "OK");
		send_out(s);
		s->out_len = (size_t)-1;
		return detach(s);
	case 'k':
		s->out_len = (size_t)-1; /* 'k' has no reply */
		s->ops->kill(s->t);
		s->state = GDB_KILLED;
		return;
	default:
		return reply(s, "");
	}
}

static void packet(struct gdb_stub *s, enum gdb_rx_event ev)
{
	if (!s->no_ack)
		s->ops->send(s->t, ev == GDB_RX_BAD_CHECKSUM ? "-" : "+", 1);
	if (ev == GDB_RX_BAD_CHECKSUM)
		return; /* gdb sends it again */
	if (s->state != GDB_STOPPED)
		return; /* all-stop: gdb sends nothing but 0x03 while the guest runs */
	if (ev == GDB_RX_PACKET) {
		dispatch(s, s->rx.buf, s->rx.len);
		if (s->out_len == (size_t)-1)
			return;
	} else {
		reply(s, E_MALFORMED); /* too long, or a broken run-length code */
	}
	send_out(s);
}

void gdb_stub_init(struct gdb_stub *s, const struct gdb_target_ops *ops, void *t)
{
	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->t = t;
	s->state = GDB_STOPPED;
	s->c_cpu = -1;
	gdb_rx_init(&s->rx);
	snprintf(s->stop_reply, sizeof(s->stop_reply), "T05thread:1;");
}

enum gdb_state gdb_stub_input(struct gdb_stub *s, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n && (s->state == GDB_STOPPED || s->state == GDB_RUNNING); i++) {
		enum gdb_rx_event ev = gdb_rx_byte(&s->rx, buf[i]);
		switch (ev) {
		case GDB_RX_NONE:
		case GDB_RX_ACK:
			break;
		case GDB_RX_NACK:
			if (!s->no_ack && s->frame_len)
				s->ops->send(s->t, s->frame, s->frame_len);
			break;
		case GDB_RX_INTERRUPT:
			if (s->state == GDB_RUNNING)
				s->ops->interrupt(s->t);
			break;
		default:
			packet(s, ev);
			break;
		}
	}
	return s->state;
}

/* The stop reply for a debug exit: which breakpoint, watchpoint or step it was. A software
 * breakpoint whose exit left rip after the int3 is moved back onto it. */
static void debug_reply(struct gdb_stub *s, const struct gdb_stop *st, char *r, size_t n)
{
	unsigned t = st->cpu + 1;
	if (st->exception == 0) { /* a crash: gdb may look before the VM ends */
		snprintf(r, n, "T0bthread:%x;", t);
		return;
	}
	if (st->exception == 3) {
		if (!swbp_find(s, st->pc) && st->pc > 0 && swbp_find(s, st->pc - 1)) {
			struct x86_cpu_state cs;
			if (s->ops->get_state(s->t, st->cpu, &cs) == 0) {
				cs.rip = st->pc - 1;
				s->ops->set_state(s->t, st->cpu, &cs);
			}
		}
		snprintf(r, n, "T05swbreak:;thread:%x;", t);
		return;
	}
	for (int i = 0; i < GDB_NSLOTS; i++) {
		const struct gdb_slot *k = &s->slot[i];
		if (!(st->dr6 & (1ull << i)) || k->type == SLOT_FREE)
			continue;
		if (k->type == SLOT_EXEC)
			snprintf(r, n, "T05hwbreak:;thread:%x;", t);
		else
			snprintf(r, n, "T05%s:%llx;thread:%x;", k->type == SLOT_WRITE ? "watch" : "awatch",
				 (unsigned long long)k->req_addr, t);
		return;
	}
	snprintf(r, n, "T05thread:%x;", t); /* a single step (DR6.BS) or anything else */
}

enum gdb_state gdb_stub_stopped(struct gdb_stub *s, const struct gdb_stop *st)
{
	if (s->state != GDB_RUNNING && !(s->state == GDB_STOPPED && st->kind == GDB_STOP_EXITED))
		return s->state;
	switch (st->kind) {
	case GDB_STOP_EXITED:
		snprintf(s->out, sizeof(s->out), "W%02x", st->status & 0xff);
		s->out_len = strlen(s->out);
		send_out(s);
		s->state = GDB_KILLED;
		return s->state;
	case GDB_STOP_INTERRUPT:
		snprintf(s->stop_reply, sizeof(s->stop_reply), "T02thread:%x;", st->cpu + 1);
		break;
	default:
		debug_reply(s, st, s->stop_reply, sizeof(s->stop_reply));
		break;
	}
	if (st->cpu < s->ops->ncpus(s->t))
		s->g_cpu = st->cpu;
	s->state = GDB_STOPPED;
	reply(s, s->stop_reply);
	send_out(s);
	return s->state;
}
