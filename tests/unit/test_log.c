/* Unit tests for host logging and the guest-error rate limiter (core/log). stderr is
 * captured into a temporary file with dup2 around each step. The limiter is process-wide
 * state, so the cases run in a fixed order and the first one sees a full bucket. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "test.h"

struct capture {
	FILE *f;
	int saved;
};

static int capture_begin(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	c->saved = dup(STDERR_FILENO);
	if (!c->f || c->saved < 0 || dup2(fileno(c->f), STDERR_FILENO) < 0)
		return -1;
	return 0;
}

/* Restores stderr and returns what was written to it (NUL-terminated, truncated to cap). */
static size_t capture_end(struct capture *c, char *buf, size_t cap)
{
	size_t n = 0;

	fflush(stderr);
	if (c->saved >= 0) {
		dup2(c->saved, STDERR_FILENO);
		close(c->saved);
	}
	if (c->f) {
		rewind(c->f);
		n = fread(buf, 1, cap - 1, c->f);
		fclose(c->f);
	}
	buf[n] = '\0';
	return n;
}

static size_t count_substr(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static char out[64 * 1024];
static size_t burst_printed; /* guest-error lines printed by the burst case */

static void default_level_is_warn(void) { CHECK_EQ(log_get_level(), LOG_WARN); }

static void guest_error_burst_is_limited(void)
{
	struct capture c;
	uint64_t before = guest_error_count();

	CHECK_EQ(capture_begin(&c), 0);
	double t0 = now_s();
	for (int i = 0; i < 100; i++)
		guest_error("burst %d", i);
	double elapsed = now_s() - t0;
	capture_end(&c, out, sizeof(out));

	CHECK_EQ(guest_error_count(), before + 100);
	burst_printed = count_substr(out, "guest error:");
	CHECK(burst_printed >= 1);
	CHECK(burst_printed <= GUEST_ERROR_BURST);
	CHECK_EQ(count_lines(out), burst_printed); /* nothing else was printed */
	/* A fresh bucket holds exactly GUEST_ERROR_BURST; refill is 1/s, so a fast burst
	 * prints exactly that many, the first ones, in order. */
	if (elapsed < 0.5) {
		CHECK_EQ(burst_printed, (size_t)GUEST_ERROR_BURST);
		char want[64];
		snprintf(want, sizeof(want), "mote: guest error: burst 0\nmote: guest error: burst 1\n");
		CHECK(strncmp(out, want, strlen(want)) == 0);
		snprintf(want, sizeof(want), "guest error: burst %d\n", GUEST_ERROR_BURST - 1);
		CHECK_STR_CONTAINS(out, want);
		snprintf(want, sizeof(want), "burst %d\n", GUEST_ERROR_BURST);
		CHECK(strstr(out, want) == NULL);
	}
	CHECK(strstr(out, "burst 99") == NULL);
}

/* After a pause the bucket refills and the next message reports how many were dropped. */
static void guest_error_refill_reports_suppressed(void)
{
	struct capture c;
	uint64_t before = guest_error_count();

	sleep_s(1.2);
	CHECK_EQ(capture_begin(&c), 0);
	guest_error("after the pause");
	capture_end(&c, out, sizeof(out));

	CHECK_EQ(guest_error_count(), before + 1);
	char want[128];
	snprintf(want, sizeof(want),
		 "mote: guest error: (%zu similar messages suppressed)\n"
		 "mote: guest error: after the pause\n",
		 100 - burst_printed);
	CHECK(strcmp(out, want) == 0);
	if (strcmp(out, want) != 0)
		printf("  got: %s", out);
}

static void guest_error_silent_below_warn_but_counted(void)
{
	struct capture c;
	uint64_t before = guest_error_count();

	sleep_s(1.1); /* tokens available: silence comes from the level, not the bucket */
	log_set_level(LOG_ERROR);
	CHECK_EQ(capture_begin(&c), 0);
	for (int i = 0; i < 5; i++)
		guest_error("quiet %d", i);
	capture_end(&c, out, sizeof(out));
	log_set_level(LOG_WARN);
	CHECK_EQ(out[0], '\0');
	CHECK_EQ(guest_error_count(), before + 5);
}

static void log_msg_respects_level(void)
{
	static const char *const want[4] = {
		"mote: e0\n",
		"mote: e1\nmote: w1\n",
		"mote: e2\nmote: w2\nmote: i2\n",
		"mote: e3\nmote: w3\nmote: i3\nmote: d3\n",
	};
	struct capture c;

	for (int lvl = LOG_ERROR; lvl <= LOG_DEBUG; lvl++) {
		log_set_level((enum log_level)lvl);
		CHECK_EQ(log_get_level(), (enum log_level)lvl);
		CHECK_EQ(capture_begin(&c), 0);
		log_error("e%d", lvl);
		log_warn("w%d", lvl);
		log_info("i%d", lvl);
		log_debug("d%d", lvl);
		log_msg(LOG_DEBUG + 1, "never"); /* more verbose than any level */
		capture_end(&c, out, sizeof(out));
		CHECK(strcmp(out, want[lvl]) == 0);
	}
	log_set_level(LOG_WARN);
}

static void log_msg_truncates_long_lines(void)
{
	static char big[3000];
	struct capture c;

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_EQ(capture_begin(&c), 0);
	log_error("%s", big);
	size_t n = capture_end(&c, out, sizeof(out));
	CHECK(n > 6 && n < sizeof(big));
	CHECK(strncmp(out, "mote: yyy", 9) == 0);
	CHECK_EQ(out[n - 1], '\n');
	CHECK_EQ(count_lines(out), 1u);
}

struct spam_arg {
	int n;
	pthread_barrier_t *go;
};

static void *spam(void *arg)
{
	const struct spam_arg *a = arg;

	pthread_barrier_wait(a->go);
	for (int i = 0; i < a->n; i++)
		guest_error("thread spam %d", i);
	return NULL;
}

static void guest_error_count_is_thread_safe(void)
{
	enum { NT = 4, PER = 20000 };
	pthread_t t[NT];
	pthread_barrier_t go;
	struct spam_arg a = {.n = PER, .go = &go};
	uint64_t before = guest_error_count();
	struct capture c;

	log_set_level(LOG_ERROR);
	CHECK_EQ(capture_begin(&c), 0);
	pthread_barrier_init(&go, NULL, NT);
	for (int i = 0; i < NT; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, spam, &a), 0);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	capture_end(&c, out, sizeof(out));
	log_set_level(LOG_WARN);
	CHECK_EQ(guest_error_count(), before + (uint64_t)NT * PER);
	CHECK_EQ(out[0], '\0');
}

int main(void)
{
	test_suite_name = "log";
	RUN(default_level_is_warn);
	RUN(guest_error_burst_is_limited);
	RUN(guest_error_refill_reports_suppressed);
	RUN(guest_error_silent_below_warn_but_counted);
	RUN(log_msg_respects_level);
	RUN(log_msg_truncates_long_lines);
	RUN(guest_error_count_is_thread_safe);
	TEST_MAIN_END();
}
