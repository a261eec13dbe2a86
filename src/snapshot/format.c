/* The state file's framing (format.h): header, sections, CRC-32. Every field of a parsed file
 * is checked against the bytes actually there before anything points into them. */
#include "snapshot/format.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"

uint32_t snapf_crc32(const void *p, size_t n)
{
	uint32_t table[256];
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		table[i] = c;
	}
	const uint8_t *b = p;
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++)
		crc = table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

void snapf_host_self(struct snapf_host *h)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	memset(h, 0, sizeof(*h));
	__cpuid(0, a, b, c, d);
	memcpy(h->vendor, &b, 4);
	memcpy(h->vendor + 4, &d, 4);
	memcpy(h->vendor + 8, &c, 4);
	__cpuid(1, a, b, c, d);
	h->signature = a;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void patch32(struct snap_out *o, size_t off, uint32_t v)
{
	if (o->failed || off + 4 > o->len)
		return;
	for (int i = 0; i < 4; i++)
		o->buf[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void patch64(struct snap_out *o, size_t off, uint64_t v)
{
	patch32(o, off, (uint32_t)v);
	patch32(o, off + 4, (uint32_t)(v >> 32));
}

void snapf_begin(struct snap_out *o, const struct snapf_host *h)
{
	snap_put(o, SNAPF_MAGIC, 8);
	snap_put_u32(o, SNAPF_VERSION);
	snap_put_u32(o, SNAPF_HEADER_LEN);
	snap_put_u64(o, 0); /* file length: snapf_finish */
	snap_put_u32(o, 0); /* sections: counted by snapf_finish */
	snap_put_u32(o, h->signature);
	snap_put(o, h->vendor, 12);
	snap_put_u32(o, 0);
}

size_t snapf_section_begin(struct snap_out *o, uint32_t type, uint32_t instance)
{
	size_t start = o->len;
	snap_put_u32(o, type);
	snap_put_u32(o, instance);
	snap_put_u64(o, 0); /* length: snapf_section_end */
	return start;
}

void snapf_section_end(struct snap_out *o, size_t start)
{
	if (o->failed || start + SNAPF_SECTION_HDR > o->len)
		return;
	patch64(o, start + 8, o->len - start - SNAPF_SECTION_HDR);
	patch32(o, 24, le32(o->buf + 24) + 1);
}

void snapf_finish(struct snap_out *o)
{
	patch64(o, 16, (uint64_t)o->len + 4);
	if (!o->failed)
		snap_put_u32(o, snapf_crc32(o->buf, o->len));
}

const struct snapf_section *snapf_find(const struct snapf_file *f, uint32_t type, uint32_t instance)
{
	for (size_t i = 0; i < f->nsections; i++)
		if (f->sec[i].type == type && f->sec[i].instance == instance)
			return &f->sec[i];
	return NULL;
}

size_t snapf_count(const struct snapf_file *f, uint32_t type)
{
	size_t n = 0;
	for (size_t i = 0; i < f->nsections; i++)
		n += f->sec[i].type == type;
	return n;
}

int snapf_parse(const uint8_t *buf, size_t len, struct snapf_file *f, char *err, size_t errlen)
{
	memset(f, 0, sizeof(*f));
	if (len < 8 || memcmp(buf, SNAPF_MAGIC, 8) != 0)
		return err_set(err, errlen, "not a mote snapshot state file (no MOTESNAP magic)");
	if (len < SNAPF_HEADER_LEN + 4)
		return err_set(err, errlen, "state file truncated: %zu bytes, shorter than its header",
			       len);
	uint32_t version = le32(buf + 8);
	if (version != SNAPF_VERSION)
		return err_set(err, errlen, "state file format version %u, this mote reads version %u "
			       "only: take the snapshot again with this mote", version, SNAPF_VERSION);
	if (le32(buf + 12) != SNAPF_HEADER_LEN)
		return err_set(err, errlen, "state file header length %u, expected %u", le32(buf + 12),
			       SNAPF_HEADER_LEN);
	uint64_t flen = le64(buf + 16);
	if (flen > len)
		return err_set(err, errlen, "state file truncated: its header says %llu bytes, the file "
			       "has %zu", (unsigned long long)flen, len);
	if (flen < len)
		return err_set(err, errlen, "state file has %zu bytes, its header says %llu: trailing "
			       "data", len, (unsigned long long)flen);
	uint32_t want = le32(buf + len - 4), got = snapf_crc32(buf, len - 4);
	if (want != got)
		return err_set(err, errlen, "state file checksum mismatch (stored 0x%08x, computed "
			       "0x%08x): the file is damaged", want, got);
	uint32_t nsec = le32(buf + 24);
	if (nsec > SNAPF_MAX_SECTIONS)
		return err_set(err, errlen, "state file declares %u sections, at most %u are allowed",
			       nsec, SNAPF_MAX_SECTIONS);
	f->version = version;
	memcpy(f->host.vendor, buf + 32, 12);
	f->host.vendor[12] = '\0';
	f->host.signature = le32(buf + 28);
	size_t off = SNAPF_HEADER_LEN, end = len - 4;
	for (uint32_t i = 0; i < nsec; i++) {
		if (end - off < SNAPF_SECTION_HDR)
			return err_set(err, errlen, "state file section %u: header runs past the end", i);
		uint32_t type = le32(buf + off), inst = le32(buf + off + 4);
		uint64_t slen = le64(buf + off + 8);
		off += SNAPF_SECTION_HDR;
		if (slen > end - off)
			return err_set(err, errlen, "state file section %u (type %u): length %llu runs past "
				       "the end", i, type, (unsigned long long)slen);
		if (type == 0 || type > SNAPF_TYPE_MAX)
			return err_set(err, errlen, "state file section %u: unknown type %u", i, type);
		if (snapf_find(f, type, inst))
			return err_set(err, errlen, "state file section %u: type %u instance %u appears "
				       "twice", i, type, inst);
		f->sec[f->nsections++] = (struct snapf_section){
			.type = type, .instance = inst, .data = buf + off, .len = (size_t)slen};
		off += (size_t)slen;
	}
	if (off != end)
		return err_set(err, errlen, "state file: %zu bytes after the last of its %u sections",
			       end - off, nsec);
	return 0;
}
