/* The snapshot state file's framing: header, typed sections, checksum. Pure: bytes in, bytes
 * out; no files, no KVM, no device. The payload of each section belongs to its owner (the KVM
 * layer, a device, snapshot.c's configuration); this file only frames and checks them.
 * Layout (little-endian; docs/snapshot.md):
 *   0  magic "MOTESNAP"        8  u32 version       12 u32 header length (48)
 *   16 u64 file length         24 u32 sections       28 u32 host CPUID.1:EAX (family/model)
 *   32 char[12] host vendor    44 u32 reserved (0)
 *   48 sections: u32 type, u32 instance, u64 length, payload
 *   end: u32 CRC-32 (IEEE, as zlib's crc32) of every byte before it.
 * snapf_parse treats the bytes as hostile: every length is checked before it is used, and a
 * file is accepted whole or not at all. */
#ifndef MOTE_SNAPSHOT_FORMAT_H
#define MOTE_SNAPSHOT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snapshot/stream.h"

#define SNAPF_MAGIC "MOTESNAP"
#define SNAPF_VERSION 1u
#define SNAPF_HEADER_LEN 48u
#define SNAPF_SECTION_HDR 16u
#define SNAPF_MAX_SECTIONS 256u
#define SNAPF_MAX_FILE (64u << 20) /* a state file above this is refused unread */

enum snapf_type {
	SNAPF_CONFIG = 1, /* the machine: RAM, vCPUs, devices and their host paths (one) */
	SNAPF_CPUID = 2,  /* instance = vCPU: the CPUID entries that vCPU saw */
	SNAPF_VCPU = 3,   /* instance = vCPU: its KVM state (kvm/state.c) */
	SNAPF_VM = 4,     /* the VM's KVM state: clock, irqchip, PIT (one) */
	SNAPF_LEGACY = 5, /* instance = enum snapf_legacy: a port-I/O device */
	SNAPF_VIRTIO = 6, /* instance = virtio-mmio slot: transport + device state */
	SNAPF_TYPE_MAX = SNAPF_VIRTIO,
};

enum snapf_legacy { SNAPF_LEGACY_COM1 = 0, SNAPF_LEGACY_I8042 = 1, SNAPF_LEGACY_ACPI_PM = 2 };

struct snapf_host {
	char vendor[13];    /* CPUID.0 vendor string, NUL-terminated */
	uint32_t signature; /* CPUID.1:EAX */
};

struct snapf_section {
	uint32_t type, instance;
	const uint8_t *data; /* inside the parsed buffer */
	size_t len;
};

struct snapf_file {
	uint32_t version;
	struct snapf_host host;
	size_t nsections;
	struct snapf_section sec[SNAPF_MAX_SECTIONS];
};

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32(0, p, n)). */
uint32_t snapf_crc32(const void *p, size_t n);

/* The host this process runs on (the CPUID instruction). */
void snapf_host_self(struct snapf_host *h);

/* Writing: begin (the header with placeholders), then per section begin/put/end, then finish
 * (patches counts and lengths, appends the checksum). Errors are the stream's (sticky). */
void snapf_begin(struct snap_out *o, const struct snapf_host *h);
size_t snapf_section_begin(struct snap_out *o, uint32_t type, uint32_t instance);
void snapf_section_end(struct snap_out *o, size_t start);
void snapf_finish(struct snap_out *o);

/* Checks and indexes a whole state file. Refuses: shorter than a header, wrong magic or
 * version, a length field disagreeing with the bytes (truncated or trailing), a checksum
 * mismatch, an unknown section type, a section running past the end, a duplicate section,
 * more than SNAPF_MAX_SECTIONS. Returns 0, or -1 with one line in err. f->sec[].data points
 * into buf. */
int snapf_parse(const uint8_t *buf, size_t len, struct snapf_file *f, char *err, size_t errlen);

/* The section (type, instance), or NULL. */
const struct snapf_section *snapf_find(const struct snapf_file *f, uint32_t type,
				       uint32_t instance);

/* How many sections of a type the file has. */
size_t snapf_count(const struct snapf_file *f, uint32_t type);

#endif
