/* balloon: a tiny virtio-balloon driver (virtio 1.2, 5.5; device id 5) through rt/virtio.c.
 * Touches `mib=` MiB (default 64) from `base=` (default 32 MiB), every page holding a pattern,
 * then serves the device for ever: it follows num_pages in the configuration space, inflating
 * the balloon with pages of the touched area (256 PFNs per request, `actual` updated after
 * each) and deflating it again, after which it checks that every returned page reads zeroes
 * (the host released it) and reuses it (pattern written and read back). It checks the pages
 * outside the balloon keep their pattern. With the statistics queue it answers every poll
 * with fresh figures (minor_faults counts the answers). Options:
 *   `report=N`  after touching, N more MiB touched and reported free (free page reporting,
 *               2 MiB per buffer), then checked to read zeroes;
 *   `hostile`   before serving: inflate/deflate requests with PFNs outside RAM, in the device
 *               hole, repeated, 16384 in one buffer, a length that is not a multiple of 4, and
 *               a deflate of pages never inflated; then the touched pattern must be intact;
 *   `event_idx=0|1` (default 1), `quiet`.
 * Lines: `balloon: touched N MiB`, `balloon: inflated to N pages`, `balloon: deflated to N
 * pages (Z zero, R reused)`, `balloon: reported N MiB (Z zero pages)`, `balloon: hostile done`,
 * `balloon: stats answered N`. Exit values: 1 no device, 2 setup failed, 3 a request failed,
 * 4 a returned page was not zero, 5 a page outside the balloon lost its pattern, 6 bad
 * command line / area not RAM. */
#include "virtio.h"

#define PAGE 4096u
#define F_STATS_VQ 1
#define F_DEFLATE_ON_OOM 2
#define F_REPORTING 5
#define BATCH 256
#define NSTATS 11

static struct virtq iq, dq, sq, rq;
static u32 pfns[BATCH];
static u32 huge[16384];
static u8 stats_buf[NSTATS * 10];
static u64 base, npages, held, answered, ram_bytes, ram_end;
static struct virtio_dev d;

static u64 pattern(u64 page) { return page * 0x9e3779b97f4a7c15ull ^ 0x5a5a5a5a12345678ull; }

static volatile u64 *word(u64 page, unsigned k) { return (volatile u64 *)(uptr)(base + page * PAGE + k * 2048); }

static void fill_page(u64 page)
{
	*word(page, 0) = pattern(page);
	*word(page, 1) = ~pattern(page);
}

static int page_ok(u64 page) { return *word(page, 0) == pattern(page) && *word(page, 1) == ~pattern(page); }

static int page_zero(u64 gpa)
{
	const volatile u64 *p = (const volatile u64 *)(uptr)gpa;
	for (unsigned i = 0; i < PAGE / 8; i++)
		if (p[i])
			return 0;
	return 1;
}

static void put_stat(unsigned i, u16 tag, u64 val)
{
	u8 *e = stats_buf + i * 10;
	e[0] = (u8)tag;
	e[1] = (u8)(tag >> 8);
	for (int k = 0; k < 8; k++)
		e[2 + k] = (u8)(val >> (8 * k));
}

static void stats_fill(void)
{
	u64 free = (npages - held) * PAGE;
	put_stat(0, 0, 0);                 /* swap_in */
	put_stat(1, 1, 0);                 /* swap_out */
	put_stat(2, 2, 7);                 /* major_faults */
	put_stat(3, 3, answered);          /* minor_faults: the answers so far */
	put_stat(4, 4, free);              /* free_memory */
	put_stat(5, 5, ram_bytes);         /* total_memory */
	put_stat(6, 6, free + 4096);       /* available_memory */
	put_stat(7, 7, 12345 * PAGE);      /* disk_caches */
	put_stat(8, 8, 3);                 /* hugetlb_allocations */
	put_stat(9, 9, 1);                 /* hugetlb_failures */
	put_stat(10, 0x7777, 42);          /* a tag the device does not know: skipped */
}

static int stats_submit(void)
{
	stats_fill();
	struct virtio_buf b = {(uptr)stats_buf, sizeof(stats_buf), 0};
	int r = virtq_submit(&sq, &b, 1);
	if (r < 0)
		return r;
	virtq_kick(&sq);
	return 0;
}

/* The device handed the stats buffer back: answer with fresh figures. */
static int stats_poll(void)
{
	u32 id, len;
	int r = virtq_poll(&sq, &id, &len);
	if (r <= 0)
		return r;
	answered++;
	return stats_submit();
}

static void set_actual(void) { mmio_write32(d.base + VIRTIO_MMIO_CONFIG + 4, (u32)held); }

/* One request of n PFNs (bytes: n * 4 unless given) on q. */
static int send(struct virtq *q, const u32 *p, u32 bytes)
{
	struct virtio_buf b = {(uptr)p, bytes, 0};
	u32 len;
	int r = virtq_xfer(q, &b, 1, &len, VIRTIO_TIMEOUT_MS);
	if (r)
		rt_printf("balloon: request failed: %s (status 0x%x)\n", virtio_strerror(r), virtio_status(&d));
	return r;
}

/* Inflate: pages [held, held + n) of the area, from its start. */
static int inflate(u64 n)
{
	for (u64 i = 0; i < n; i++)
		pfns[i] = (u32)((base >> 12) + held + i);
	if (send(&iq, pfns, (u32)(n * 4)))
		return 3;
	held += n;
	set_actual();
	return 0;
}

static u64 zeroes, reused;

/* Deflate the last n inflated pages, then check and reuse them. */
static int deflate(u64 n)
{
	for (u64 i = 0; i < n; i++)
		pfns[i] = (u32)((base >> 12) + held - n + i);
	if (send(&dq, pfns, (u32)(n * 4)))
		return 3;
	held -= n;
	set_actual();
	for (u64 i = 0; i < n; i++) {
		u64 page = held + i;
		if (!page_zero(base + page * PAGE)) {
			rt_printf("balloon: page 0x%llx came back not zero (0x%llx)\n", base + page * PAGE,
				  (u64)*word(page, 0));
			return 4;
		}
		zeroes++;
		fill_page(page);
		if (!page_ok(page))
			return 4;
		reused++;
	}
	return 0;
}

static int check_outside(void)
{
	for (u64 p = held; p < npages; p++)
		if (!page_ok(p)) {
			rt_printf("balloon: page 0x%llx outside the balloon lost its pattern\n", base + p * PAGE);
			return 5;
		}
	return 0;
}

static int hostile(void)
{
	u32 top = (u32)(ram_end >> 12), first = (u32)(base >> 12);
	u32 bad[] = {0xffffffffu, top, top + 1, 0xd0000, 0xfee00, 0xfffff};
	if (send(&iq, bad, sizeof(bad)) || send(&dq, bad, sizeof(bad)))
		return 3;
	/* The first page twice in one request and once more in another, then deflated twice. */
	u32 rep[3] = {first, first, first};
	if (send(&iq, rep, sizeof(rep)) || send(&iq, rep, 4) || send(&dq, rep, 4) || send(&dq, rep, 4))
		return 3;
	fill_page(0); /* it was released: give it its pattern back */
	for (unsigned i = 0; i < sizeof(huge) / 4; i++)
		huge[i] = 0xfffffff0u;
	if (send(&iq, huge, sizeof(huge)))
		return 3;
	u32 odd[2] = {0xffffffffu, 0xffffffffu};
	if (send(&iq, odd, 6))
		return 3;
	u32 never[2] = {first + 5, first + 6};
	if (send(&dq, never, sizeof(never)))
		return 3;
	int r = check_outside();
	if (r)
		return r;
	rt_puts("balloon: hostile done\n");
	return 0;
}

/* Touches [end, end + mib) and reports it free, 2 MiB per buffer; it must read zeroes. */
static int report(u64 mib)
{
	u64 start = base + npages * PAGE, len = mib << 20, z = 0;
	for (u64 a = start; a < start + len; a += PAGE)
		*(volatile u64 *)(uptr)a = a | 1;
	struct virtio_buf b[8];
	unsigned n = 0;
	for (u64 a = start; a < start + len && n < 8; a += 2u << 20)
		b[n++] = (struct virtio_buf){a, 2u << 20, 1};
	u32 used;
	int r = virtq_xfer(&rq, b, n, &used, VIRTIO_TIMEOUT_MS);
	if (r) {
		rt_printf("balloon: report failed: %s\n", virtio_strerror(r));
		return 3;
	}
	for (u64 a = start; a < start + (u64)n * (2u << 20); a += PAGE)
		z += page_zero(a);
	rt_printf("balloon: reported %llu MiB (%llu zero pages)\n", (u64)n * 2, z);
	return z == (u64)n * 512 ? 0 : 4;
}

static int area_is_ram(u64 start, u64 end)
{
	for (u32 i = 0; i < rt_memmap_count(); i++) {
		const struct rt_memmap_entry *e = rt_memmap(i);
		if (e->type == 1 && e->addr <= start && end <= e->addr + e->size)
			return 1;
	}
	return 0;
}

int main(void)
{
	base = rt_cmdline_u64("base", 32u << 20);
	u64 mib = rt_cmdline_u64("mib", 64), rep = rt_cmdline_u64("report", 0);
	npages = (mib << 20) / PAGE;
	for (u32 i = 0; i < rt_memmap_count(); i++)
		if (rt_memmap(i)->type == 1) {
			ram_bytes += rt_memmap(i)->size;
			if (rt_memmap(i)->addr + rt_memmap(i)->size > ram_end)
				ram_end = rt_memmap(i)->addr + rt_memmap(i)->size;
		}
	if ((base & (PAGE - 1)) || !mib || rep > 16 || !area_is_ram(base, base + ((mib + rep) << 20))) {
		rt_puts("balloon: base/mib/report do not name RAM (base page aligned, report <= 16)\n");
		return 6;
	}
	if (virtio_find(VIRTIO_ID_BALLOON, 0, &d, rt_cmdline_has("quiet"))) {
		rt_puts("balloon: no virtio-balloon device\n");
		return 1;
	}
	u64 want = (1ull << F_STATS_VQ) | (1ull << F_DEFLATE_ON_OOM) | (1ull << F_REPORTING);
	if (rt_cmdline_u64("event_idx", 1))
		want |= 1ull << VIRTIO_F_EVENT_IDX;
	int r = virtio_init(&d, want);
	u16 next = 2;
	int has_stats = (d.features >> F_STATS_VQ) & 1, has_rep = (d.features >> F_REPORTING) & 1;
	if (!r)
		r = virtq_setup(&d, &iq, 0, 64);
	if (!r)
		r = virtq_setup(&d, &dq, 1, 64);
	if (!r && has_stats)
		r = virtq_setup(&d, &sq, next++, 8);
	if (!r && has_rep)
		r = virtq_setup(&d, &rq, next++, 16);
	if (!r)
		r = virtio_driver_ok(&d);
	if (r) {
		rt_printf("balloon: setup failed: %s\n", virtio_strerror(r));
		return 2;
	}
	rt_printf("balloon: device at 0x%lx, features 0x%llx, num_pages %u\n", d.base, d.features,
		  virtio_config32(&d, 0));
	for (u64 p = 0; p < npages; p++)
		fill_page(p);
	rt_printf("balloon: touched %llu MiB\n", mib);
	if (has_stats && stats_submit() < 0)
		return 3;
	if (rep && (!has_rep || (r = report(rep)))) {
		if (!has_rep)
			rt_puts("balloon: the device does not offer free page reporting\n");
		return r ? r : 3;
	}
	if (rt_cmdline_has("hostile") && (r = hostile()))
		return r;
	u64 told = 0;
	for (;;) {
		u64 target = virtio_config32(&d, 0);
		if (target > npages)
			target = npages; /* the test area is all this driver gives */
		if (held < target) {
			u64 n = target - held < BATCH ? target - held : BATCH;
			if ((r = inflate(n)))
				return r;
			if (held == target) {
				if ((r = check_outside()))
					return r;
				rt_printf("balloon: inflated to %llu pages\n", held);
			}
		} else if (held > target) {
			u64 n = held - target < BATCH ? held - target : BATCH;
			if ((r = deflate(n)))
				return r;
			if (held == target)
				rt_printf("balloon: deflated to %llu pages (%llu zero, %llu reused)\n", held,
					  zeroes, reused);
		} else {
			u64 t0 = virtio_now_us();
			while (virtio_now_us() - t0 < 2000)
				cpu_relax();
		}
		if (has_stats && stats_poll() < 0)
			return 3;
		if (answered != told && answered % 4 == 0) {
			told = answered;
			rt_printf("balloon: stats answered %llu\n", answered);
		}
	}
}
