/* CPUID filter: hypervisor bit, KVM leaves, hidden features and dependents, topology. */
#include "arch/x86/cpuid.h"
#include "test.h"

#define CAP 16
static struct cpuid_entry e[CAP];
static size_t n;

static void host(void)
{
	memset(e, 0, sizeof(e));
	n = 0;
	e[n++] = (struct cpuid_entry){.function = 0, .eax = 0xd};
	e[n++] = (struct cpuid_entry){.function = 1, .ebx = 0x00020800, .ecx = 0xfffab2ffu, .edx = 0xffffffffu};
	e[n++] = (struct cpuid_entry){.function = 6, .eax = 0x77, .ecx = 9};
	e[n++] = (struct cpuid_entry){.function = 7, .flags = CPUID_FLAG_SIGNIFICANT_INDEX, .ebx = 0xffffffffu};
	e[n++] = (struct cpuid_entry){.function = 0xb, .index = 0, .flags = CPUID_FLAG_SIGNIFICANT_INDEX};
	e[n++] = (struct cpuid_entry){.function = 0xb, .index = 1, .flags = CPUID_FLAG_SIGNIFICANT_INDEX};
	e[n++] = (struct cpuid_entry){.function = 0xd, .index = 0, .flags = CPUID_FLAG_SIGNIFICANT_INDEX, .eax = 7};
}

static void hypervisor_and_kvm_leaves(void)
{
	host();
	CHECK_EQ(cpuid_filter(e, &n, CAP, 0, 1, NULL), 0);
	CHECK(cpuid_find(e, n, 1, 0)->ecx & (1u << 31));
	struct cpuid_entry *sig = cpuid_find(e, n, 0x40000000, 0);
	CHECK(sig != NULL);
	char s[13];
	memcpy(s, &sig->ebx, 4);
	memcpy(s + 4, &sig->ecx, 4);
	memcpy(s + 8, &sig->edx, 4);
	s[12] = 0;
	CHECK(!strcmp(s, "KVMKVMKVM"));
	CHECK(cpuid_find(e, n, 0x40000001, 0) != NULL);
	/* No room for the missing leaves: refused, not overflowed. */
	host();
	CHECK_EQ(cpuid_filter(e, &n, n, 0, 1, NULL), -1);
}

static void always_hidden(void)
{
	host();
	cpuid_filter(e, &n, CAP, 0, 1, NULL);
	struct cpuid_entry *l1 = cpuid_find(e, n, 1, 0);
	CHECK(!(l1->ecx & (1u << 3)));  /* monitor */
	CHECK(!(l1->ecx & (1u << 5)));  /* vmx */
	CHECK(!(l1->ecx & (1u << 15))); /* pdcm */
	CHECK(l1->ecx & (1u << 26));    /* xsave kept */
	CHECK(!(l1->edx & (1u << 29))); /* tm */
	CHECK(l1->edx & (1u << 25));    /* sse kept */
	struct cpuid_entry *l6 = cpuid_find(e, n, 6, 0);
	CHECK(l6->eax == 0 && l6->ecx == 0);
}

static void user_hidden_and_dependents(void)
{
	struct cpuid_hide hide;
	char err[256];
	CHECK_EQ(cpuid_parse_features("-xsave,-sse4_2,-rdrand", &hide, err, sizeof(err)), 0);
	host();
	cpuid_filter(e, &n, CAP, 0, 1, &hide);
	struct cpuid_entry *l1 = cpuid_find(e, n, 1, 0);
	CHECK(!(l1->ecx & (1u << 26))); /* xsave */
	CHECK(!(l1->ecx & (1u << 27))); /* osxsave */
	CHECK(!(l1->ecx & (1u << 28))); /* avx, a dependent */
	CHECK(!(l1->ecx & (1u << 20))); /* sse4_2 */
	CHECK(!(l1->ecx & (1u << 30))); /* rdrand */
	CHECK(l1->ecx & (1u << 19));    /* sse4_1 untouched */
	CHECK(!(cpuid_find(e, n, 7, 0)->ebx & (1u << 5))); /* avx2, a dependent */
	CHECK_EQ(cpuid_find(e, n, 0xd, 0)->eax, 0u);      /* xsave leaf emptied */
}

static void parse_errors(void)
{
	struct cpuid_hide hide;
	char err[256];
	CHECK_EQ(cpuid_parse_features("", &hide, err, sizeof(err)), 0);
	CHECK_EQ(hide.n, 0u);
	CHECK_EQ(cpuid_parse_features("+xsave", &hide, err, sizeof(err)), -1);
	CHECK_EQ(cpuid_parse_features("-xsav", &hide, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "xsav");
	CHECK_EQ(cpuid_parse_features("-xsave,", &hide, err, sizeof(err)), 0);
	CHECK_EQ(cpuid_parse_features("-xsave,,-avx", &hide, err, sizeof(err)), -1);
	static char many[64 * 8 + 16];
	many[0] = 0;
	for (int i = 0; i < 65; i++)
		strcat(many, i ? ",-sse" : "-sse");
	CHECK_EQ(cpuid_parse_features(many, &hide, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "too many");
}

static void topology(void)
{
	host();
	cpuid_filter(e, &n, CAP, 3, 4, NULL);
	struct cpuid_entry *l1 = cpuid_find(e, n, 1, 0);
	CHECK_EQ(l1->ebx >> 24, 3u);
	CHECK_EQ((l1->ebx >> 16) & 0xff, 4u);
	CHECK_EQ(l1->ebx & 0xffff, 0x0800u); /* CLFLUSH line size kept */
	CHECK(l1->edx & (1u << 28));
	CHECK_EQ(cpuid_find(e, n, 0xb, 0)->edx, 3u);
	CHECK_EQ(cpuid_find(e, n, 0xb, 1)->ebx, 4u);
	CHECK_EQ(cpuid_find(e, n, 0xb, 1)->eax, 2u);
}

static void names(void)
{
	char buf[2048];
	cpuid_feature_names(buf, sizeof(buf));
	CHECK_STR_CONTAINS(buf, "xsave");
	CHECK_STR_CONTAINS(buf, "cx16");
	char tiny[8];
	cpuid_feature_names(tiny, sizeof(tiny)); /* truncates, never overflows */
	CHECK(strlen(tiny) < sizeof(tiny));
}

int main(void)
{
	test_suite_name = "cpuid";
	RUN(hypervisor_and_kvm_leaves);
	RUN(always_hidden);
	RUN(user_hidden_and_dependents);
	RUN(parse_errors);
	RUN(topology);
	RUN(names);
	TEST_MAIN_END();
}
