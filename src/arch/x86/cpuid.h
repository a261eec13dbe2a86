/* The CPUID filter: what the guest is told about its CPU.
 * Owns: pure logic over a plain array of CPUID entries (the hypervisor's supported list in,
 * the guest's list out) and the table of feature names users may hide. No KVM here. */
#ifndef MOTE_ARCH_X86_CPUID_H
#define MOTE_ARCH_X86_CPUID_H

#include <stddef.h>
#include <stdint.h>

struct cpuid_entry {
	uint32_t function;
	uint32_t index;
	uint32_t flags; /* CPUID_FLAG_SIGNIFICANT_INDEX when index matters */
	uint32_t eax, ebx, ecx, edx;
};
#define CPUID_FLAG_SIGNIFICANT_INDEX 1u

enum cpuid_reg { CPUID_EAX, CPUID_EBX, CPUID_ECX, CPUID_EDX };

struct cpuid_feature {
	const char *name; /* as in /proc/cpuinfo */
	uint32_t function, index;
	enum cpuid_reg reg;
	uint8_t bit;
};

#define CPUID_MAX_HIDDEN 64
struct cpuid_hide {
	size_t n;
	const struct cpuid_feature *features[CPUID_MAX_HIDDEN];
};

/* Parses a comma-separated list like "-xsave,-avx2" (each item a feature to hide, with
 * a leading '-'). Returns 0, or -1 with a one-line message in err naming the bad item. */
int cpuid_parse_features(const char *list, struct cpuid_hide *out, char *err, size_t errlen);

/* Rewrites entries[0..*n) in place for vCPU `vcpu` of `ncpus`: sets the hypervisor bit and
 * the KVM signature leaves, hides what mote does not emulate (MONITOR/MWAIT, VMX/SMX,
 * thermal and power management, PDCM), hides the user's list (and what depends on it),
 * and sets the APIC IDs and topology. cap is the array capacity (a missing KVM leaf may
 * be appended). Returns 0, or -1 when cap is too small. */
int cpuid_filter(struct cpuid_entry *entries, size_t *n, size_t cap, unsigned vcpu,
		 unsigned ncpus, const struct cpuid_hide *hide);

/* The entry for (function, index), or NULL. */
struct cpuid_entry *cpuid_find(struct cpuid_entry *entries, size_t n, uint32_t function,
			       uint32_t index);

/* Writes the names of all hideable features, space separated, for --help and errors. */
void cpuid_feature_names(char *buf, size_t len);

#endif
