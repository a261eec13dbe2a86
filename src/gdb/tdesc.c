/* The target description and register file (tdesc.h). The XML follows gdb's documented
 * feature names (org.gnu.gdb.i386.core, .sse, .segments) so stock gdb uses its amd64
 * support; org.mote.x86.sys adds cr0, cr2, cr3, cr4, cr8 and efer as plain registers. */
#include "gdb/tdesc.h"

#include <string.h>

static const char xml[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
	"<target version=\"1.0\">\n"
	"<architecture>i386:x86-64</architecture>\n"
	"<feature name=\"org.gnu.gdb.i386.core\">\n"
	"<flags id=\"i386_eflags\" size=\"4\">\n"
	"<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"\" start=\"1\" end=\"1\"/>\n"
	"<field name=\"PF\" start=\"2\" end=\"2\"/><field name=\"AF\" start=\"4\" end=\"4\"/>\n"
	"<field name=\"ZF\" start=\"6\" end=\"6\"/><field name=\"SF\" start=\"7\" end=\"7\"/>\n"
	"<field name=\"TF\" start=\"8\" end=\"8\"/><field name=\"IF\" start=\"9\" end=\"9\"/>\n"
	"<field name=\"DF\" start=\"10\" end=\"10\"/><field name=\"OF\" start=\"11\" end=\"11\"/>\n"
	"<field name=\"NT\" start=\"14\" end=\"14\"/><field name=\"RF\" start=\"16\" end=\"16\"/>\n"
	"<field name=\"VM\" start=\"17\" end=\"17\"/><field name=\"AC\" start=\"18\" end=\"18\"/>\n"
	"<field name=\"VIF\" start=\"19\" end=\"19\"/><field name=\"VIP\" start=\"20\" end=\"20\"/>\n"
	"<field name=\"ID\" start=\"21\" end=\"21\"/>\n"
	"</flags>\n"
	"<reg name=\"rax\" bitsize=\"64\" type=\"int64\" regnum=\"0\"/>\n"
	"<reg name=\"rbx\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rcx\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rdx\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rsi\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rdi\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rbp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
	"<reg name=\"rsp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
	"<reg name=\"r8\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r9\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r10\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r11\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r12\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r13\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r14\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"r15\" bitsize=\"64\" type=\"int64\"/>\n"
	"<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>\n"
	"<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>\n"
	"<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"es\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"</feature>\n"
	"<feature name=\"org.gnu.gdb.i386.sse\">\n"
	"<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
	"<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
	"<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
	"<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
	"<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
	"<union id=\"vec128\">\n"
	"<field name=\"v4_float\" type=\"v4f\"/><field name=\"v2_double\" type=\"v2d\"/>\n"
	"<field name=\"v16_int8\" type=\"v16i8\"/><field name=\"v8_int16\" type=\"v8i16\"/>\n"
	"<field name=\"v4_int32\" type=\"v4i32\"/><field name=\"v2_int64\" type=\"v2i64\"/>\n"
	"<field name=\"uint128\" type=\"uint128\"/>\n"
	"</union>\n"
	"<flags id=\"i386_mxcsr\" size=\"4\">\n"
	"<field name=\"IE\" start=\"0\" end=\"0\"/><field name=\"DE\" start=\"1\" end=\"1\"/>\n"
	"<field name=\"ZE\" start=\"2\" end=\"2\"/><field name=\"OE\" start=\"3\" end=\"3\"/>\n"
	"<field name=\"UE\" start=\"4\" end=\"4\"/><field name=\"PE\" start=\"5\" end=\"5\"/>\n"
	"<field name=\"DAZ\" start=\"6\" end=\"6\"/><field name=\"IM\" start=\"7\" end=\"7\"/>\n"
	"<field name=\"DM\" start=\"8\" end=\"8\"/><field name=\"ZM\" start=\"9\" end=\"9\"/>\n"
	"<field name=\"OM\" start=\"10\" end=\"10\"/><field name=\"UM\" start=\"11\" end=\"11\"/>\n"
	"<field name=\"PM\" start=\"12\" end=\"12\"/><field name=\"FZ\" start=\"15\" end=\"15\"/>\n"
	"</flags>\n"
	"<reg name=\"xmm0\" bitsize=\"128\" type=\"vec128\" regnum=\"40\"/>\n"
	"<reg name=\"xmm1\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm2\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm3\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm4\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm5\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm6\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm7\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm8\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm9\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm10\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm11\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm12\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm13\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm14\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"xmm15\" bitsize=\"128\" type=\"vec128\"/>\n"
	"<reg name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" group=\"vector\"/>\n"
	"</feature>\n"
	"<feature name=\"org.gnu.gdb.i386.segments\">\n"
	"<reg name=\"fs_base\" bitsize=\"64\" type=\"int\" regnum=\"57\"/>\n"
	"<reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/>\n"
	"</feature>\n"
	"<feature name=\"org.mote.x86.sys\">\n"
	"<reg name=\"cr0\" bitsize=\"64\" type=\"uint64\" group=\"system\" regnum=\"59\"/>\n"
	"<reg name=\"cr2\" bitsize=\"64\" type=\"uint64\" group=\"system\"/>\n"
	"<reg name=\"cr3\" bitsize=\"64\" type=\"uint64\" group=\"system\"/>\n"
	"<reg name=\"cr4\" bitsize=\"64\" type=\"uint64\" group=\"system\"/>\n"
	"<reg name=\"cr8\" bitsize=\"64\" type=\"uint64\" group=\"system\"/>\n"
	"<reg name=\"efer\" bitsize=\"64\" type=\"uint64\" group=\"system\"/>\n"
	"</feature>\n"
	"</target>\n";

const char *tdesc_xml(size_t *len)
{
	*len = sizeof(xml) - 1;
	return xml;
}

unsigned tdesc_reg_size(unsigned n)
{
	if (n <= TDESC_REG_PC)
		return 8;
	if (n <= 23)
		return 4; /* eflags, selectors */
	if (n <= 31)
		return 10; /* st0-7 */
	if (n <= 39)
		return 4; /* x87 control */
	if (n <= 55)
		return 16; /* xmm */
	if (n == 56)
		return 4; /* mxcsr */
	return n < TDESC_NREGS ? 8 : 0;
}

unsigned tdesc_regs_size(void)
{
	unsigned s = 0;
	for (unsigned n = 0; n < TDESC_NREGS; n++)
		s += tdesc_reg_size(n);
	return s;
}

static void le(uint8_t *out, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t from_le(const uint8_t *in, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)in[i] << (8 * i);
	return v;
}

/* gdb's ftag is the full x87 tag word (2 bits per register, 3 = empty); KVM keeps the
 * abridged FXSAVE byte (1 bit per register, 1 = in use). In-use registers read as valid. */
static uint16_t ftag_full(uint16_t abridged)
{
	uint16_t t = 0;
	for (unsigned i = 0; i < 8; i++)
		if (!(abridged & (1u << i)))
			t |= (uint16_t)(3u << (2 * i));
	return t;
}

static uint16_t ftag_abridged(uint64_t full)
{
	uint16_t t = 0;
	for (unsigned i = 0; i < 8; i++)
		if (((full >> (2 * i)) & 3) != 3)
			t |= (uint16_t)(1u << i);
	return t;
}

/* The 64-bit-sized registers by number (rip .. r15, fs_base, control registers). */
static uint64_t *reg64(struct x86_cpu_state *s, unsigned n)
{
	static const unsigned sys_first = 59;
	if (n < 16)
		return &s->gpr[n];
	if (n == TDESC_REG_PC)
		return &s->rip;
	if (n == 57)
		return &s->fs_base;
	if (n == 58)
		return &s->gs_base;
	uint64_t *sys[] = {&s->cr0, &s->cr2, &s->cr3, &s->cr4, &s->cr8, &s->efer};
	if (n >= sys_first && n < sys_first + 6)
		return sys[n - sys_first];
	return NULL;
}

unsigned tdesc_reg_get(const struct x86_cpu_state *s, unsigned n, uint8_t *out)
{
	struct x86_cpu_state c = *s; /* reg64 hands out pointers; s stays const */
	unsigned size = tdesc_reg_size(n);
	uint64_t *p = reg64(&c, n);
	if (size == 0)
		return 0;
	if (p)
		le(out, *p, 8);
	else if (n == 17)
		le(out, s->rflags, 4);
	else if (n <= 23)
		le(out, s->sel[n - 18], 4);
	else if (n <= 31)
		memcpy(out, s->st[n - 24], 10);
	else if (n <= 39) {
		const uint64_t x87[] = {s->fcw, s->fsw, ftag_full(s->ftw), (s->fip >> 32) & 0xffff,
					s->fip & 0xffffffff, (s->fdp >> 32) & 0xffff,
					s->fdp & 0xffffffff, s->fop & 0x7ff};
		le(out, x87[n - 32], 4);
	} else if (n <= 55)
		memcpy(out, s->xmm[n - 40], 16);
	else
		le(out, s->mxcsr, 4);
	return size;
}

unsigned tdesc_reg_set(struct x86_cpu_state *s, unsigned n, const uint8_t *in)
{
	unsigned size = tdesc_reg_size(n);
	uint64_t *p = reg64(s, n);
	if (size == 0)
		return 0;
	uint64_t v = size <= 8 ? from_le(in, size) : 0;
	if (p)
		*p = v;
	else if (n == 17)
		s->rflags = v;
	else if (n <= 23)
		s->sel[n - 18] = (uint16_t)v;
	else if (n <= 31)
		memcpy(s->st[n - 24], in, 10);
	else if (n == 32)
		s->fcw = (uint16_t)v;
	else if (n == 33)
		s->fsw = (uint16_t)v;
	else if (n == 34)
		s->ftw = ftag_abridged(v);
	else if (n == 35)
		s->fip = (s->fip & 0xffffffffull) | (v & 0xffff) << 32;
	else if (n == 36)
		s->fip = (s->fip & ~0xffffffffull) | (v & 0xffffffff);
	else if (n == 37)
		s->fdp = (s->fdp & 0xffffffffull) | (v & 0xffff) << 32;
	else if (n == 38)
		s->fdp = (s->fdp & ~0xffffffffull) | (v & 0xffffffff);
	else if (n == 39)
		s->fop = (uint16_t)(v & 0x7ff);
	else if (n <= 55)
		memcpy(s->xmm[n - 40], in, 16);
	else
		s->mxcsr = (uint32_t)v;
	return size;
}
