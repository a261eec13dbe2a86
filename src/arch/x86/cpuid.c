/* CPUID filter: start from what the host hypervisor supports, then say "hypervisor", hide
 * what mote does not emulate or the user asked to hide, and give each vCPU its APIC ID. */
#include "arch/x86/cpuid.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define KVM_SIGNATURE_LEAF 0x40000000u
#define KVM_FEATURES_LEAF 0x40000001u

/* Features a user may hide with --cpu-features (names as in /proc/cpuinfo). */
static const struct cpuid_feature features[] = {
	{"sse3", 1, 0, CPUID_ECX, 0},        {"pclmulqdq", 1, 0, CPUID_ECX, 1},
	{"monitor", 1, 0, CPUID_ECX, 3},     {"vmx", 1, 0, CPUID_ECX, 5},
	{"ssse3", 1, 0, CPUID_ECX, 9},       {"fma", 1, 0, CPUID_ECX, 12},
	{"cx16", 1, 0, CPUID_ECX, 13},       {"pdcm", 1, 0, CPUID_ECX, 15},
	{"pcid", 1, 0, CPUID_ECX, 17},       {"sse4_1", 1, 0, CPUID_ECX, 19},
	{"sse4_2", 1, 0, CPUID_ECX, 20},     {"x2apic", 1, 0, CPUID_ECX, 21},
	{"movbe", 1, 0, CPUID_ECX, 22},      {"popcnt", 1, 0, CPUID_ECX, 23},
	{"tsc_deadline_timer", 1, 0, CPUID_ECX, 24},
	{"aes", 1, 0, CPUID_ECX, 25},        {"xsave", 1, 0, CPUID_ECX, 26},
	{"avx", 1, 0, CPUID_ECX, 28},        {"f16c", 1, 0, CPUID_ECX, 29},
	{"rdrand", 1, 0, CPUID_ECX, 30},     {"mce", 1, 0, CPUID_EDX, 7},
	{"mca", 1, 0, CPUID_EDX, 14},        {"sse", 1, 0, CPUID_EDX, 25},
	{"sse2", 1, 0, CPUID_EDX, 26},       {"fsgsbase", 7, 0, CPUID_EBX, 0},
	{"bmi1", 7, 0, CPUID_EBX, 3},        {"hle", 7, 0, CPUID_EBX, 4},
	{"avx2", 7, 0, CPUID_EBX, 5},        {"smep", 7, 0, CPUID_EBX, 7},
	{"bmi2", 7, 0, CPUID_EBX, 8},        {"erms", 7, 0, CPUID_EBX, 9},
	{"invpcid", 7, 0, CPUID_EBX, 10},    {"rtm", 7, 0, CPUID_EBX, 11},
	{"avx512f", 7, 0, CPUID_EBX, 16},    {"rdseed", 7, 0, CPUID_EBX, 18},
	{"adx", 7, 0, CPUID_EBX, 19},        {"smap", 7, 0, CPUID_EBX, 20},
	{"clflushopt", 7, 0, CPUID_EBX, 23}, {"sha_ni", 7, 0, CPUID_EBX, 29},
	{"umip", 7, 0, CPUID_ECX, 2},        {"pku", 7, 0, CPUID_ECX, 3},
	{"la57", 7, 0, CPUID_ECX, 16},       {"rdpid", 7, 0, CPUID_ECX, 22},
	{"xsaveopt", 0xd, 1, CPUID_EAX, 0},  {"xsavec", 0xd, 1, CPUID_EAX, 1},
	{"xsaves", 0xd, 1, CPUID_EAX, 3},    {"lahf_lm", 0x80000001, 0, CPUID_ECX, 0},
	{"abm", 0x80000001, 0, CPUID_ECX, 5}, {"nx", 0x80000001, 0, CPUID_EDX, 20},
	{"pdpe1gb", 0x80000001, 0, CPUID_EDX, 26}, {"rdtscp", 0x80000001, 0, CPUID_EDX, 27},
	{"kvmclock", KVM_FEATURES_LEAF, 0, CPUID_EAX, 3},
	{"kvm_pv_eoi", KVM_FEATURES_LEAF, 0, CPUID_EAX, 6},
	{"kvm_pv_unhalt", KVM_FEATURES_LEAF, 0, CPUID_EAX, 7},
};

/* Hidden always: features mote does not emulate or that make no sense in a microVM. */
static const struct {
	uint32_t function;
	enum cpuid_reg reg;
	uint32_t mask;
} always_hidden[] = {
	/* MONITOR(3) VMX(5) SMX(6) EST(7) TM2(8) PDCM(15): no MWAIT, no nesting, no power mgmt. */
	{1, CPUID_ECX, (1u << 3) | (1u << 5) | (1u << 6) | (1u << 7) | (1u << 8) | (1u << 15)},
	/* DS(21) ACPI thermal(22) TM(29) PBE(31): no debug store or thermal monitor. */
	{1, CPUID_EDX, (1u << 21) | (1u << 22) | (1u << 29) | (1u << 31)},
};

static uint32_t *reg_of(struct cpuid_entry *e, enum cpuid_reg r)
{
	switch (r) {
	case CPUID_EAX:
		return &e->eax;
	case CPUID_EBX:
		return &e->ebx;
	case CPUID_ECX:
		return &e->ecx;
	case CPUID_EDX:
	default:
		return &e->edx;
	}
}

struct cpuid_entry *cpuid_find(struct cpuid_entry *entries, size_t n, uint32_t function,
			       uint32_t index)
{
	for (size_t i = 0; i < n; i++) {
		struct cpuid_entry *e = &entries[i];
		if (e->function != function)
			continue;
		if ((e->flags & CPUID_FLAG_SIGNIFICANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

static const struct cpuid_feature *feature_lookup(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		if (strlen(features[i].name) == len && strncmp(features[i].name, name, len) == 0)
			return &features[i];
	return NULL;
}

void cpuid_feature_names(char *buf, size_t len)
{
	size_t off = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]) && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s", i ? " " : "", features[i].name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

int cpuid_parse_features(const char *list, struct cpuid_hide *out, char *err, size_t errlen)
{
	out->n = 0;
	const char *p = list;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len < 2 || p[0] != '-') {
			snprintf(err, errlen,
				 "bad --cpu-features item '%.*s': write -NAME to hide a feature, e.g. -xsave",
				 (int)len, p);
			return -1;
		}
		const struct cpuid_feature *f = feature_lookup(p + 1, len - 1);
		if (!f) {
			snprintf(err, errlen,
				 "unknown CPU feature '%.*s' in --cpu-features (mote --help lists them)",
				 (int)(len - 1), p + 1);
			return -1;
		}
		if (out->n == CPUID_MAX_HIDDEN) {
			snprintf(err, errlen, "too many --cpu-features items (at most %d)",
				 CPUID_MAX_HIDDEN);
			return -1;
		}
		out->features[out->n++] = f;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void clear_bit(struct cpuid_entry *entries, size_t n, uint32_t function, uint32_t index,
		      enum cpuid_reg reg, uint32_t mask)
{
	struct cpuid_entry *e = cpuid_find(entries, n, function, index);
	if (e)
		*reg_of(e, reg) &= ~mask;
}

/* Hiding a feature also hides what cannot work without it. */
static void hide_dependents(struct cpuid_entry *entries, size_t n, const struct cpuid_feature *f)
{
	if (f->function == 1 && f->reg == CPUID_ECX && f->bit == 26) {
		/* No XSAVE: no OSXSAVE, AVX, FMA, F16C, and no XSAVE sub-leaves or AVX2/AVX-512. */
		clear_bit(entries, n, 1, 0, CPUID_ECX, (1u << 27) | (1u << 28) | (1u << 12) | (1u << 29));
		clear_bit(entries, n, 7, 0, CPUID_EBX, (1u << 5) | (1u << 16) | (1u << 17) | (1u << 28) |
						       (1u << 30) | (1u << 31));
		for (size_t i = 0; i < n; i++)
			if (entries[i].function == 0xd)
				entries[i].eax = entries[i].ebx = entries[i].ecx = entries[i].edx = 0;
	}
	if (f->function == 1 && f->reg == CPUID_ECX && f->bit == 28) /* no AVX: no AVX2/FMA */
		clear_bit(entries, n, 7, 0, CPUID_EBX, (1u << 5) | (1u << 16));
}

static int ensure_kvm_leaves(struct cpuid_entry *entries, size_t *n, size_t cap)
{
	struct cpuid_entry *sig = cpuid_find(entries, *n, KVM_SIGNATURE_LEAF, 0);
	if (!sig) {
		if (*n == cap)
			return -1;
		sig = &entries[(*n)++];
		memset(sig, 0, sizeof(*sig));
		sig->function = KVM_SIGNATURE_LEAF;
	}
	/* "KVMKVMKVM\0\0\0" in EBX, ECX, EDX; EAX = highest hypervisor leaf. */
	sig->eax = KVM_FEATURES_LEAF;
	sig->ebx = 0x4b4d564b;
	sig->ecx = 0x564b4d56;
	sig->edx = 0x0000004d;
	if (!cpuid_find(entries, *n, KVM_FEATURES_LEAF, 0)) {
		if (*n == cap)
			return -1;
		struct cpuid_entry *f = &entries[(*n)++];
		memset(f, 0, sizeof(*f));
		f->function = KVM_FEATURES_LEAF;
	}
	return 0;
}

static unsigned bits_for(unsigned count)
{
	unsigned b = 0;
	while ((1u << b) < count)
		b++;
	return b;
}

static void set_topology(struct cpuid_entry *entries, size_t n, unsigned vcpu, unsigned ncpus)
{
	struct cpuid_entry *l1 = cpuid_find(entries, n, 1, 0);
	if (l1) {
		/* EBX[31:24] initial APIC ID, [23:16] logical processors, [15:8] CLFLUSH size. */
		l1->ebx = (vcpu << 24) | ((ncpus & 0xff) << 16) | (l1->ebx & 0xffff);
		if (ncpus > 1)
			l1->edx |= 1u << 28; /* HTT: the count in EBX[23:16] is valid */
		l1->ecx |= 1u << 31;         /* running under a hypervisor */
	}
	for (size_t i = 0; i < n; i++) {
		struct cpuid_entry *e = &entries[i];
		if (e->function == 4 && (e->eax & 0x1f)) {
			/* Cores per package - 1 in EAX[31:26]; one thread shares each cache. */
			unsigned cores = ncpus > 64 ? 64 : ncpus;
			e->eax = (e->eax & 0x3ff) | ((cores - 1) << 26);
		}
		if (e->function == 0xb || e->function == 0x1f) {
			/* Extended topology: level 0 = SMT (1 thread), level 1 = core (ncpus). */
			e->edx = vcpu;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0;
			} else if (e->index == 1) {
				e->eax = bits_for(ncpus);
				e->ebx = ncpus;
				e->ecx = (2u << 8) | 1;
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index & 0xff;
			}
		}
	}
}

int cpuid_filter(struct cpuid_entry *entries, size_t *n, size_t cap, unsigned vcpu,
		 unsigned ncpus, const struct cpuid_hide *hide)
{
	if (ensure_kvm_leaves(entries, n, cap) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(always_hidden) / sizeof(always_hidden[0]); i++)
		clear_bit(entries, *n, always_hidden[i].function, 0, always_hidden[i].reg,
			  always_hidden[i].mask);
	/* Leaf 6 (thermal and power management): nothing of it is emulated. */
	struct cpuid_entry *l6 = cpuid_find(entries, *n, 6, 0);
	if (l6)
		l6->eax = l6->ebx = l6->ecx = l6->edx = 0;
	for (size_t i = 0; hide && i < hide->n; i++) {
		const struct cpuid_feature *f = hide->features[i];
		clear_bit(entries, *n, f->function, f->index, f->reg, 1u << f->bit);
		hide_dependents(entries, *n, f);
	}
	set_topology(entries, *n, vcpu, ncpus);
	return 0;
}
