/* Unit tests for the Solo5 manifest and notes (src/hvt/mft.c): valid manifests parse, every
 * malformed one is refused with a specific one-line message, and the guest copy carries the
 * attached devices' info at the ABI's byte offsets. */
#include <stdint.h>
#include <string.h>

#include "hvt/mft.h"
#include "test.h"

static uint8_t buf[MFT_MAX_SIZE + 512];
static char err[256];
static struct hvt_mft m;

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint8_t *ent(unsigned i) { return buf + MFT_HDR_SIZE + (size_t)i * MFT_ENTRY_SIZE; }

/* A manifest of n entries: reserved, then devices "d1", "d2"... alternating block/net. */
static size_t build(unsigned n)
{
	memset(buf, 0, sizeof(buf));
	put32(buf, MFT_VERSION);
	put32(buf + 4, n);
	put32(ent(0) + MFT_E_TYPE, MFT_RESERVED_FIRST);
	for (unsigned i = 1; i < n && i < MFT_MAX_ENTRIES; i++) {
		char name[8];
		snprintf(name, sizeof(name), "d%u", i);
		memcpy(ent(i), name, strlen(name));
		put32(ent(i) + MFT_E_TYPE, i % 2 ? MFT_DEV_BLOCK_BASIC : MFT_DEV_NET_BASIC);
	}
	return MFT_HDR_SIZE + (size_t)n * MFT_ENTRY_SIZE;
}

static int parse(size_t len)
{
	err[0] = '\0';
	return hvt_mft_parse(buf, len, &m, err, sizeof(err));
}

static void valid(void)
{
	CHECK_EQ(parse(build(1)), 0);
	CHECK_EQ(m.n, 1u);
	CHECK_EQ(parse(build(3)), 0);
	CHECK_EQ(m.n, 3u);
	CHECK(!strcmp(m.e[1].name, "d1"));
	CHECK_EQ(m.e[2].type, (uint32_t)MFT_DEV_NET_BASIC);
	CHECK_EQ(hvt_mft_find(&m, "d1", MFT_DEV_BLOCK_BASIC), 1);
	CHECK_EQ(hvt_mft_find(&m, "d1", MFT_DEV_NET_BASIC), -1);
	CHECK_EQ(hvt_mft_find(&m, "", MFT_RESERVED_FIRST), -1);
	CHECK_EQ(parse(build(MFT_MAX_ENTRIES)), 0);
}

static void refused(void)
{
	size_t l = build(2);
	CHECK_EQ(parse(7), -1);
	CHECK_STR_CONTAINS(err, "shorter than its 8-byte header");
	put32(buf, 2);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "manifest version 2");
	l = build(2);
	put32(buf + 4, 0);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "0 entries");
	put32(buf + 4, MFT_MAX_ENTRIES + 1);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "65 entries");
	put32(buf + 4, 0xffffffffu);
	CHECK_EQ(parse(l), -1);
	l = build(2);
	CHECK_EQ(parse(l + 1), -1);
	CHECK_STR_CONTAINS(err, "but 2 entries need");
	CHECK_EQ(parse(l - 1), -1);
	build(2);
	memset(ent(1), 'a', MFT_NAME_SIZE);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "not NUL-terminated");
	build(2);
	put32(ent(1) + MFT_E_TYPE, 3);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "unknown device type 3");
	build(2);
	put32(ent(1) + MFT_E_TYPE, MFT_RESERVED_FIRST);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "unknown device type");
	build(2);
	ent(1)[MFT_E_ATTACHED] = 1;
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "'attached' is set");
	build(2);
	put32(ent(0) + MFT_E_TYPE, MFT_DEV_BLOCK_BASIC);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "entry 0 must be the reserved entry");
	build(2);
	ent(0)[0] = 'x';
	CHECK_EQ(parse(l), -1);
	build(2);
	ent(1)[0] = '\0';
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "1 to 67 letters or digits");
	build(2);
	ent(1)[1] = '-';
	CHECK_EQ(parse(l), -1);
	l = build(4);
	memcpy(ent(3), "d1", 3);
	put32(ent(3) + MFT_E_TYPE, MFT_DEV_NET_BASIC);
	CHECK_EQ(parse(l), -1);
	CHECK_STR_CONTAINS(err, "declares device 'd1' twice");
	CHECK(strchr(err, '\n') == NULL);
}

static void guest_copy(void)
{
	uint8_t out[MFT_MAX_SIZE];
	uint64_t cap;
	uint16_t bs, mtu;
	CHECK_EQ(parse(build(3)), 0);
	m.e[1].attached = true;
	m.e[1].capacity = 1ull << 40;
	m.e[1].block_size = 512;
	m.e[2].attached = true;
	memcpy(m.e[2].mac, "\x02\x01\x02\x03\x04\x05", 6);
	m.e[2].mtu = 1500;
	CHECK_EQ(hvt_mft_guest_size(&m), (size_t)(8 + 3 * 104));
	memset(out, 0xaa, sizeof(out));
	hvt_mft_guest_write(&m, out);
	const uint8_t *e1 = out + 8 + 104, *e2 = out + 8 + 208;
	memcpy(&cap, e1 + 72, 8);
	memcpy(&bs, e1 + 80, 2);
	memcpy(&mtu, e2 + 78, 2);
	CHECK_EQ(cap, 1ull << 40);
	CHECK_EQ(bs, 512);
	CHECK_EQ(mtu, 1500);
	CHECK(!memcmp(e2 + 72, "\x02\x01\x02\x03\x04\x05", 6));
	CHECK_EQ(e1[96], 1);
	CHECK_EQ(out[8 + 96], 0); /* reserved entry: not attached */
	for (int i = 88; i < 96; i++)
		CHECK_EQ(e1[i], 0); /* host-private bytes are zero */
	CHECK(!strcmp((const char *)e1, "d1"));
	CHECK_EQ(out[8 + 3 * 104], 0xaa); /* nothing written past the copy */
}

static void names(void)
{
	CHECK(!strcmp(hvt_mft_type_name(MFT_DEV_BLOCK_BASIC), "BLOCK_BASIC"));
	CHECK(!strcmp(hvt_mft_type_name(MFT_DEV_NET_BASIC), "NET_BASIC"));
	CHECK(!strcmp(hvt_mft_type_name(99), "unknown"));
}

static void notes_not_elf(void)
{
	static const uint8_t junk[16] = "not an elf";
	CHECK_EQ(hvt_notes_parse(junk, sizeof(junk), &m, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not an ELF file");
}

int main(void)
{
	test_suite_name = "hvt_mft";
	RUN(valid);
	RUN(refused);
	RUN(guest_copy);
	RUN(names);
	RUN(notes_not_elf);
	TEST_MAIN_END();
}
