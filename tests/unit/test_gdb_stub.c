/* Unit tests for the GDB stub's commands (gdb/stub.c) over the fake target of
 * tests/fuzz/fuzz_gdb_fake.h: registers, memory with breakpoints hidden, Z/z software and
 * hardware breakpoints and watchpoints (DR7 encoding), resumes, stop replies, thread queries,
 * no-ack mode, and error replies for malformed, oversized and out-of-range requests. */
#include <stdlib.h>

#include "../fuzz/fuzz_gdb_fake.h"
#include "gdb/tdesc.h"
#include "test.h"

static struct fake f;
static struct gdb_stub s;

static void start(void)
{
	memset(&f, 0, sizeof(f));
	gdb_stub_init(&s, &fake_ops, &f);
	s.no_ack = true;
}

/* Sends one packet; returns the reply payload (static buffer). */
static const char *cmd(const char *payload)
{
	static char frame[GDB_FRAME_MAX], out[GDB_FRAME_MAX];
	size_t n = gdb_frame(frame, sizeof(frame), payload, strlen(payload));
	f.nsent = 0;
	gdb_stub_input(&s, (const uint8_t *)frame, n);
	if (f.nsent < 4 || f.sent[0] != '$')
		return f.nsent ? "<not a frame>" : "<nothing>";
	memcpy(out, f.sent + 1, f.nsent - 4);
	out[f.nsent - 4] = '\0';
	return out;
}

#define SAYS(p, want) CHECK(strcmp(cmd(p), want) == 0)

static void queries(void)
{
	start();
	CHECK_STR_CONTAINS(cmd("qSupported:multiprocess+;swbreak+"), "PacketSize=4000");
	SAYS("?", "T05thread:1;");
	SAYS("qfThreadInfo", "m1,2");
	SAYS("qsThreadInfo", "l");
	SAYS("qAttached", "1");
	SAYS("vCont?", "vCont;c;C;s;S");
	SAYS("vMustReplyEmpty", "");
	SAYS("Hg2", "OK");
	SAYS("qC", "QC2");
	SAYS("Hg3", "E01");
	SAYS("T2", "OK");
	SAYS("T3", "E16");
	const char *x = cmd("qXfer:features:read:target.xml:0,20");
	CHECK(x[0] == 'm' && strlen(x) == 0x21);
	CHECK_STR_CONTAINS(cmd("qXfer:features:read:target.xml:0,4000"), "i386:x86-64");
	CHECK(cmd("qXfer:features:read:target.xml:0,4000")[0] == 'l');
	SAYS("qXfer:features:read:target.xml:ffffff,10", "E16");
	SAYS("qXfer:features:read:other.xml:0,10", "E16");
}

static void registers(void)
{
	start();
	f.cpu[0].gpr[X86_RAX] = 0x1122334455667788ull;
	f.cpu[0].rip = 0x100000;
	const char *g = cmd("g");
	CHECK_EQ(strlen(g), 2 * tdesc_regs_size());
	CHECK(strncmp(g, "8877665544332211", 16) == 0);
	SAYS("p10", "0000100000000000");
	SAYS("P10=0010100000000000", "OK");
	CHECK_EQ(f.cpu[0].rip, 0x101000);
	SAYS("P10=00", "E01");         /* wrong length */
	SAYS("P10=zz10100000000000", "E01");
	SAYS("p41", "E16");            /* past the last register */
	SAYS("pffffffffffffffffff", "E01");
	SAYS("p3d", "0000000000000000"); /* cr3 */
	SAYS("G00", "E01");
	char G[2 * 1024 + 2] = "G";
	memset(G + 1, '0', 2 * tdesc_regs_size());
	G[1 + 2 * tdesc_regs_size()] = '\0';
	SAYS(G, "OK");
	CHECK_EQ(f.cpu[0].rip, 0);
	f.cpu[1].gpr[X86_RBX] = 7;
	SAYS("Hg2", "OK");
	SAYS("p1", "0700000000000000");
}

static void memory(void)
{
	start();
	f.mem[0] = 0xab;
	SAYS("m10000,2", "ab00");
	SAYS("M10000,2:1234", "OK");
	CHECK(f.mem[0] == 0x12 && f.mem[1] == 0x34);
	SAYS("X10002,2:\x01\x02", "OK");
	CHECK(f.mem[2] == 1 && f.mem[3] == 2);
	SAYS("m0,10", "E0E");                  /* unmapped */
	SAYS("m1fffe,10", "0000");             /* a short read at the end */
	SAYS("mffffffffffffffff,2", "E01");    /* wraps */
	SAYS("m10000,0", "E16");
	SAYS("m10000", "E01");
	SAYS("mxyz,1", "E01");
	SAYS("M10000,2:12", "E01");            /* too few digits */
	SAYS("M10000,1:1g", "E01");
	SAYS("M1f000,1:00", "E0E");            /* read-only page */
	SAYS("X10000,5:ab", "E01");
	SAYS("M10000,ffffffffffffffff:00", "E01");
	SAYS("M10000,10000000000000000:00", "E01");
	CHECK_EQ(strlen(cmd("m10000,100000")), GDB_PACKET_MAX); /* capped at PacketSize */
}

static void breakpoints(void)
{
	start();
	f.mem[0x20] = 0x55;
	SAYS("Z1,10030,1", "OK");             /* slot 0 */
	SAYS("Z2,10040,8", "OK");             /* slot 1 */
	SAYS("Z0,1f010,1", "OK");             /* slot 2: a debug register first */
	SAYS("Z0,10060,1", "OK");             /* slot 3 */
	CHECK(f.mem[0x60] == 0);              /* memory untouched */
	SAYS("Z0,10020,1", "OK");             /* no slot left: int3 */
	CHECK(f.mem[0x20] == 0xcc);
	SAYS("m10020,1", "55");               /* hidden from reads */
	SAYS("Z0,10020,1", "OK");             /* again: nothing changes */
	SAYS("Z0,1f020,1", "E0E");            /* read-only and no slot */
	SAYS("Z0,0,1", "E0E");                /* unmapped and no slot */
	SAYS("Z4,10051,2", "E16");
	SAYS("Z3,10040,8", "");               /* no read watchpoints on x86 */
	SAYS("Z9,10040,8", "");
	SAYS("Z2,10040,0", "E16");
	SAYS("Z2,ffffffffffffffff,8", "E16");
	SAYS("Z0,10020", "E01");
	SAYS("vCont;c", "<nothing>");
	CHECK_EQ(f.resumes, 1);
	CHECK_EQ(f.last_step, -1);
	CHECK(f.last_dbg.sw_bp);
	/* Z4 above moved the Z0 at 10060 to an int3 (and still found too few registers) */
	CHECK(f.mem[0x60] == 0xcc);
	CHECK(f.last_dbg.dr[0] == 0x10030 && f.last_dbg.dr[1] == 0x10040 &&
	      f.last_dbg.dr[2] == 0x1f010 && f.last_dbg.dr[3] == 0);
	/* DR7: L0-L2, slot 1 write (01) of 8 bytes (10), LE */
	CHECK_EQ(f.last_dbg.dr7, 0x15 | (0x1ull << 20) | (0x2ull << 22) | 0x100);
	SAYS("g", "<nothing>");               /* running: no replies but to 0x03 */
	gdb_stub_input(&s, (const uint8_t *)"\003", 1);
	CHECK_EQ(f.interrupts, 1);
	f.nsent = 0;
	gdb_stub_stopped(&s, &(struct gdb_stop){.kind = GDB_STOP_DEBUG, .cpu = 1, .exception = 1,
						.dr6 = 1u << 1});
	CHECK(f.nsent > 0 && strstr(f.sent, "T05watch:10040;thread:2;"));
	SAYS("qC", "QC2");
	SAYS("z2,10040,8", "OK");
	SAYS("z2,10040,8", "E16");
	SAYS("z0,1f010,1", "OK");
	SAYS("z0,10020,1", "OK");
	CHECK(f.mem[0x20] == 0x55);
	SAYS("z0,10060,1", "OK");
	CHECK(f.mem[0x60] == 0);
	SAYS("s", "<nothing>");
	CHECK_EQ(f.last_step, 1);
	CHECK(!f.last_dbg.sw_bp);
	f.nsent = 0;
	gdb_stub_stopped(&s, &(struct gdb_stop){.kind = GDB_STOP_DEBUG, .cpu = 1, .exception = 1,
						.dr6 = 1u << 14});
	CHECK(strstr(f.sent, "T05thread:2;"));
	SAYS("?", "T05thread:2;");
	f.nsent = 0;
	SAYS("c", "<nothing>");
	gdb_stub_stopped(&s, &(struct gdb_stop){.kind = GDB_STOP_DEBUG, .cpu = 0, .exception = 1,
						.dr6 = 1u << 0});
	SAYS("?", "T05hwbreak:;thread:1;");
}

/* A hardware breakpoint or watchpoint wanting a debug register takes one from a software
 * breakpoint, which moves to an int3 (gdb inserts breakpoints in address order). */
static void slots_yield(void)
{
	start();
	SAYS("Z0,10020,1", "OK");             /* slot 0, memory untouched */
	SAYS("Z0,1f010,1", "OK");             /* slot 1, read-only: cannot move */
	CHECK(f.mem[0x20] == 0);
	SAYS("Z1,10030,1", "OK");
	SAYS("Z1,10031,1", "OK");             /* all four taken */
	SAYS("Z1,10032,1", "OK");             /* the Z0 at 10020 moves to an int3 */
	CHECK(f.mem[0x20] == 0xcc);
	SAYS("m10020,1", "00");
	SAYS("Z2,10040,4", "E16");            /* the read-only one cannot move */
	SAYS("z0,10020,1", "OK");             /* removed from memory */
	CHECK(f.mem[0x20] == 0);
	SAYS("z0,1f010,1", "OK");
	SAYS("Z2,10040,4", "OK");
}

static void swbreak_pc(void)
{
	start();
	for (int i = 0; i < 4; i++) { /* the debug registers taken */
		char z[32];
		snprintf(z, sizeof(z), "Z1,%x,1", 0x10100 + i);
		SAYS(z, "OK");
	}
	f.cpu[0].rip = 0x10021;
	SAYS("Z0,10020,1", "OK");
	CHECK(f.mem[0x20] == 0xcc);
	SAYS("c", "<nothing>");
	f.nsent = 0;
	gdb_stub_stopped(&s, &(struct gdb_stop){.kind = GDB_STOP_DEBUG, .exception = 3, .pc = 0x10021});
	CHECK(strstr(f.sent, "T05swbreak:;thread:1;"));
	CHECK_EQ(f.cpu[0].rip, 0x10020); /* moved back onto the int3 */
	SAYS("vCont;s:2;c", "<nothing>");
	CHECK_EQ(f.last_step, 1);
	gdb_stub_stopped(&s, &(struct gdb_stop){.kind = GDB_STOP_INTERRUPT, .cpu = 0});
	SAYS("?", "T02thread:1;");
	SAYS("vCont;x", "E01");
	SAYS("vCont;s:5", "E01");
	SAYS("vCont", "E01");
	SAYS("c zz", "E01");
	SAYS("D", "OK");
	CHECK(f.mem[0x20] == 0);          /* breakpoints out before the guest runs on */
	CHECK_EQ(s.state, GDB_DETACHED);
	CHECK_EQ(f.resumes, 3);
	CHECK_EQ(f.last_dbg.dr7, 0);
	CHECK(!f.last_dbg.sw_bp);
}

static void exit_and_kill(void)
{
	start();
	SAYS("c", "<nothing>");
	gdb_stub_stopped(&s, &(struct gdb_stop){.kind = GDB_STOP_DEBUG, .cpu = 1, .exception = 0});
	SAYS("?", "T0bthread:2;"); /* a crashed vCPU: SIGSEGV */
	start();
	SAYS("c", "<nothing>");
	f.nsent = 0;
	gdb_stub_stopped(&s, &(struct gdb_stop){.kind = GDB_STOP_EXITED, .status = 0x101});
	CHECK(strstr(f.sent, "$W01#"));
	CHECK_EQ(s.state, GDB_KILLED);
	start();
	SAYS("k", "<nothing>");
	CHECK_EQ(f.kills, 1);
	CHECK_EQ(s.state, GDB_KILLED);
}

static void framing(void)
{
	start();
	s.no_ack = false;
	f.nsent = 0;
	gdb_stub_input(&s, (const uint8_t *)"$g#00", 5); /* bad checksum */
	CHECK(f.nsent == 1 && f.sent[0] == '-');
	f.nsent = 0;
	gdb_stub_input(&s, (const uint8_t *)"$?#3f", 5);
	CHECK(f.nsent > 1 && f.sent[0] == '+' && strstr(f.sent, "$T05thread:1;#"));
	f.nsent = 0;
	gdb_stub_input(&s, (const uint8_t *)"-", 1); /* resend */
	CHECK(f.nsent > 1 && f.sent[0] == '$');
	f.nsent = 0;
	gdb_stub_input(&s, (const uint8_t *)"$QStartNoAckMode#b0", 19);
	CHECK(strstr(f.sent, "+$OK#9a"));
	CHECK(s.no_ack);
	f.nsent = 0;
	gdb_stub_input(&s, (const uint8_t *)"$g#00", 5);
	CHECK_EQ(f.nsent, 0); /* no-ack: a bad packet is dropped silently */
	/* oversized: an error reply, and the stub works on */
	size_t n = GDB_PACKET_MAX + 10;
	char *big = malloc(n + 5);
	uint8_t sum = 0;
	big[0] = '$';
	for (size_t i = 1; i <= n; i++)
		big[i] = 'm', sum = (uint8_t)(sum + 'm');
	snprintf(big + n + 1, 4, "#%02x", sum & 0xff);
	f.nsent = 0;
	gdb_stub_input(&s, (const uint8_t *)big, n + 4);
	CHECK(strstr(f.sent, "$E01#"));
	free(big);
	SAYS("?", "T05thread:1;");
}

int main(void)
{
	test_suite_name = "gdb_stub";
	RUN(queries);
	RUN(registers);
	RUN(memory);
	RUN(breakpoints);
	RUN(slots_yield);
	RUN(swbreak_pc);
	RUN(exit_and_kill);
	RUN(framing);
	TEST_MAIN_END();
}
