/* Solo5 notes and the application manifest, validated strictly from hostile bytes.
 * Multi-byte fields are read with memcpy (little-endian host, as elf.c) from local offsets;
 * nothing is trusted until every check passed, and only the checked copy is used after. */
#include "hvt/mft.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "boot/elf.h"
#include "core/log.h"

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

const char *hvt_mft_type_name(uint32_t type)
{
	switch (type) {
	case MFT_DEV_BLOCK_BASIC: return "BLOCK_BASIC";
	case MFT_DEV_NET_BASIC: return "NET_BASIC";
	case MFT_RESERVED_FIRST: return "RESERVED_FIRST";
	default: return "unknown";
	}
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static int check_entry(const uint8_t *e, unsigned i, struct hvt_mft_entry *out, char *err,
		       size_t errlen)
{
	if (memchr(e + MFT_E_NAME, '\0', MFT_NAME_SIZE) == NULL)
		return err_set(err, errlen, "manifest entry %u: name is not NUL-terminated within "
				            "%d bytes", i, MFT_NAME_SIZE);
	memcpy(out->name, e + MFT_E_NAME, MFT_NAME_SIZE);
	out->type = rd32(e + MFT_E_TYPE);
	if (e[MFT_E_ATTACHED] != 0)
		return err_set(err, errlen, "manifest entry %u: 'attached' is set in the file; "
				            "only the tender attaches devices", i);
	if (i == 0) {
		if (out->type != MFT_RESERVED_FIRST || out->name[0])
			return err_set(err, errlen, "manifest entry 0 must be the reserved entry "
					            "(type RESERVED_FIRST, empty name)");
		return 0;
	}
	if (out->type != MFT_DEV_BLOCK_BASIC && out->type != MFT_DEV_NET_BASIC)
		return err_set(err, errlen, "manifest entry %u has unknown device type %" PRIu32
				            " (mote knows BLOCK_BASIC and NET_BASIC)", i, out->type);
	if (!name_ok(out->name))
		return err_set(err, errlen, "manifest entry %u: device name must be 1 to %d "
				            "letters or digits", i, MFT_NAME_MAX);
	return 0;
}

int hvt_mft_parse(const uint8_t *mft, size_t size, struct hvt_mft *out, char *err, size_t errlen)
{
	out->n = 0; /* entries are cleared one by one: a small manifest touches little */
	if (size < MFT_HDR_SIZE)
		return err_set(err, errlen, "manifest is %zu bytes, shorter than its %d-byte header",
			       size, MFT_HDR_SIZE);
	uint32_t version = rd32(mft), n = rd32(mft + 4);
	if (version != MFT_VERSION)
		return err_set(err, errlen, "manifest version %" PRIu32 ", mote reads version %d",
			       version, MFT_VERSION);
	if (n < 1 || n > MFT_MAX_ENTRIES)
		return err_set(err, errlen, "manifest has %" PRIu32 " entries; 1 to %d are allowed",
			       n, MFT_MAX_ENTRIES);
	if (size != MFT_HDR_SIZE + (size_t)n * MFT_ENTRY_SIZE)
		return err_set(err, errlen, "manifest is %zu bytes but %" PRIu32 " entries need %zu",
			       size, n, MFT_HDR_SIZE + (size_t)n * MFT_ENTRY_SIZE);
	for (unsigned i = 0; i < n; i++) {
		memset(&out->e[i], 0, sizeof(out->e[i]));
		if (check_entry(mft + MFT_HDR_SIZE + (size_t)i * MFT_ENTRY_SIZE, i, &out->e[i], err,
				errlen) < 0)
			return -1;
		for (unsigned j = 1; j < i; j++)
			if (strcmp(out->e[j].name, out->e[i].name) == 0)
				return err_set(err, errlen, "manifest declares device '%s' twice",
					       out->e[i].name);
	}
	out->n = n;
	return 0;
}

int hvt_notes_parse(const uint8_t *elf, size_t len, struct hvt_mft *out, char *err,
		    size_t errlen)
{
	struct elf_note abi, mft;

	if (elf_find_note(elf, len, SOLO5_NOTE_NAME, HVT_NOTE_ABI1, &abi, err, errlen) < 0 ||
	    elf_find_note(elf, len, SOLO5_NOTE_NAME, HVT_NOTE_MFT1, &mft, err, errlen) < 0)
		return -1;
	if (abi.count == 0)
		return err_set(err, errlen, "No Solo5 ABI information found in executable (no "
				            "Solo5 ABI1 note): not a Solo5 unikernel");
	if (abi.count > 1 || mft.count > 1)
		return err_set(err, errlen, "more than one Solo5 %s note", abi.count > 1 ? "ABI1" : "MFT1");
	if (abi.descsz != HVT_ABI1_DESC_SIZE)
		return err_set(err, errlen, "No Solo5 ABI information found in executable: its ABI1 "
				            "note is %" PRIu32 " bytes, expected %u", abi.descsz,
			       HVT_ABI1_DESC_SIZE);
	uint32_t target = rd32(abi.desc), version = rd32(abi.desc + 4);
	if (target != HVT_ABI_TARGET)
		return err_set(err, errlen, "Executable is not for the solo5-hvt target: it is built "
				            "for Solo5 target %" PRIu32 " (1 hvt, 2 spt, 3 virtio, 4 "
				            "muen, 5 genode)", target);
	if (version != HVT_ABI_VERSION)
		return err_set(err, errlen, "Executable requests unsupported ABI version %" PRIu32
				            " (the unikernel uses hvt ABI version %" PRIu32 "; mote "
				            "runs version %d)", version, version, HVT_ABI_VERSION);
	if (mft.count == 0)
		return err_set(err, errlen, "No Solo5 manifest found in executable (MFT1 note)");
	char why[200];
	if (mft.descsz < HVT_MFT1_DESC_PAD)
		snprintf(why, sizeof(why), "Solo5 MFT1 note is %" PRIu32 " bytes, too short",
			 mft.descsz);
	else if (mft.descsz - HVT_MFT1_DESC_PAD > MFT_MAX_SIZE)
		snprintf(why, sizeof(why), "Solo5 MFT1 note is %" PRIu32 " bytes; at most %u fit %d "
					   "entries", mft.descsz,
			 (unsigned)(MFT_MAX_SIZE + HVT_MFT1_DESC_PAD), MFT_MAX_ENTRIES);
	else if (hvt_mft_parse(mft.desc + HVT_MFT1_DESC_PAD, mft.descsz - HVT_MFT1_DESC_PAD, out,
			       why, sizeof(why)) == 0)
		return 0;
	return err_set(err, errlen, "Solo5 manifest is invalid: %s", why);
}

int hvt_mft_find(const struct hvt_mft *m, const char *name, uint32_t type)
{
	for (unsigned i = 1; i < m->n; i++)
		if (m->e[i].type == type && strcmp(m->e[i].name, name) == 0)
			return (int)i;
	return -1;
}

size_t hvt_mft_guest_size(const struct hvt_mft *m)
{
	return MFT_HDR_SIZE + (size_t)m->n * MFT_ENTRY_SIZE;
}

void hvt_mft_guest_write(const struct hvt_mft *m, uint8_t *buf)
{
	uint32_t version = MFT_VERSION, n = m->n;

	memset(buf, 0, hvt_mft_guest_size(m));
	memcpy(buf, &version, 4);
	memcpy(buf + 4, &n, 4);
	for (unsigned i = 0; i < m->n; i++) {
		const struct hvt_mft_entry *e = &m->e[i];
		uint8_t *p = buf + MFT_HDR_SIZE + (size_t)i * MFT_ENTRY_SIZE;
		memcpy(p + MFT_E_NAME, e->name, MFT_NAME_SIZE);
		memcpy(p + MFT_E_TYPE, &e->type, 4);
		if (!e->attached)
			continue;
		p[MFT_E_ATTACHED] = 1;
		if (e->type == MFT_DEV_BLOCK_BASIC) {
			memcpy(p + MFT_E_BLK_CAPACITY, &e->capacity, 8);
			memcpy(p + MFT_E_BLK_BLOCK_SIZE, &e->block_size, 2);
		} else if (e->type == MFT_DEV_NET_BASIC) {
			memcpy(p + MFT_E_NET_MAC, e->mac, 6);
			memcpy(p + MFT_E_NET_MTU, &e->mtu, 2);
		}
	}
}
