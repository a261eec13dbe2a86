/* The unikernel's Solo5 notes: the ABI1 note (target and version) and the MFT1 application
 * manifest (the devices it declares). Owns: strict validation of both from the hostile ELF
 * file, into plain host structs, and the guest copy of the manifest (with what the tender
 * attached). No KVM, no guest memory: the caller writes the guest copy through the gate. */
#ifndef MOTE_HVT_MFT_H
#define MOTE_HVT_MFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hvt/abi.h"

struct hvt_mft_entry {
	char name[MFT_NAME_SIZE]; /* NUL-terminated; "" for the reserved first entry */
	uint32_t type;            /* enum mft_type */
	bool attached;
	/* Filled by the tender when attached. */
	uint64_t capacity;        /* BLOCK_BASIC: bytes */
	uint16_t block_size;      /* BLOCK_BASIC: bytes */
	uint8_t mac[6];           /* NET_BASIC */
	uint16_t mtu;             /* NET_BASIC */
};

struct hvt_mft {
	unsigned n; /* entries, 1..MFT_MAX_ENTRIES; e[0] is the reserved first entry; e[n..]
		       are not cleared by the parser: nothing reads past n */
	struct hvt_mft_entry e[MFT_MAX_ENTRIES];
};

/* Checks the manifest bytes (struct mft, without the note's 4 alignment bytes): version,
 * 1 <= entries <= MFT_MAX_ENTRIES, size exactly header + entries, entry 0 the reserved one with
 * an empty name, every name NUL-terminated inside its 68 bytes, device names non-empty,
 * [A-Za-z0-9] only and unique, types BLOCK_BASIC or NET_BASIC, attached false.
 * Returns 0 and fills *out, or -1 with a one-line reason in err. */
int hvt_mft_parse(const uint8_t *mft, size_t size, struct hvt_mft *out, char *err, size_t errlen);

/* Finds and checks both notes in an ELF file: exactly one ABI1 note saying target hvt,
 * version HVT_ABI_VERSION, and exactly one MFT1 note (parsed as above).
 * Returns 0, or -1 with a one-line reason in err. */
int hvt_notes_parse(const uint8_t *elf, size_t len, struct hvt_mft *out, char *err,
		    size_t errlen);

/* Index of the device called name with the given type, or -1. */
int hvt_mft_find(const struct hvt_mft *m, const char *name, uint32_t type);

/* "BLOCK_BASIC" / "NET_BASIC" / "RESERVED_FIRST" / "unknown". */
const char *hvt_mft_type_name(uint32_t type);

/* Bytes of the guest copy (header + entries). */
size_t hvt_mft_guest_size(const struct hvt_mft *m);

/* Writes the guest copy into buf (hvt_mft_guest_size bytes): the manifest with attached
 * flags and per-device info filled in, host-private fields zero. */
void hvt_mft_guest_write(const struct hvt_mft *m, uint8_t *buf);

#endif
