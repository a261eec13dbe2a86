/* Unit tests for the logger the API configures (core/log, PUT /logger): Firecracker's line
 * format on a configured fd (timestamp, [id:thread:LEVEL:file:line]), the level filter
 * (Trace above Debug, Off silent), the module filter (whole "::" components; messages without
 * an origin dropped), module names and their validation, and lines lost to a full pipe. */
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "test.h"

static int pfd[2] = {-1, -1};

/* Everything logged to the pipe since the last call. */
static const char *drain(void)
{
	static char buf[8192];
	ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static bool matches(const char *s, const char *re)
{
	regex_t r;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return false;
	bool ok = regexec(&r, s, 0, NULL, 0) == 0;
	regfree(&r);
	return ok;
}

static void setup(void)
{
	CHECK_EQ(pipe2(pfd, O_NONBLOCK | O_CLOEXEC), 0);
	log_configure(pfd[1], 1, 1); /* the logger owns the write end from now on */
	log_set_instance_id("vm-7");
	log_set_level(LOG_DEBUG);
	log_set_module(NULL);
}

static void firecracker_format(void)
{
	log_debug("hello %d", 5);
	const char *s = drain();
	CHECK(matches(s, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9} "
			 "\\[vm-7:main:DEBUG:tests/unit/test_log_format\\.c:[0-9]+\\] hello 5\n$"));
	log_configure(-1, 0, 1);
	log_warn("origin only");
	CHECK(matches(drain(), " \\[vm-7:main:tests/unit/test_log_format\\.c:[0-9]+\\] origin only\n$"));
	log_configure(-1, 1, 0);
	log_error("level only");
	CHECK(matches(drain(), " \\[vm-7:main:ERROR\\] level only\n$"));
	log_configure(-1, 0, 0);
	log_info("bare");
	CHECK(matches(drain(), " \\[vm-7:main\\] bare\n$"));
	log_msg(LOG_INFO, "no origin");
	CHECK(matches(drain(), " \\[vm-7:main\\] no origin\n$"));
	log_configure(-1, 1, 1);
	log_msg(LOG_INFO, "no origin, shown");
	CHECK(matches(drain(), " \\[vm-7:main:INFO:\\?:0\\] no origin, shown\n$"));
	guest_error("bad ring %d", 3);
	CHECK(matches(drain(), ":WARN:tests/unit/test_log_format\\.c:[0-9]+\\] guest error: bad ring 3\n$"));
}

static void *other_thread(void *arg)
{
	(void)arg;
	log_warn("from a thread");
	log_set_thread("vcpu0");
	log_warn("named");
	return NULL;
}

static void thread_names(void)
{
	pthread_t t;
	log_configure(-1, 0, 0);
	CHECK_EQ(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, NULL);
	const char *s = drain();
	CHECK(matches(s, "\\[vm-7:-\\] from a thread\n"));
	CHECK(matches(s, "\\[vm-7:vcpu0\\] named\n$"));
	log_configure(-1, 1, 1);
}

static void level_filter(void)
{
	log_set_level(LOG_INFO);
	log_debug("hidden");
	log_info("shown");
	const char *s = drain();
	CHECK(!strstr(s, "hidden") && strstr(s, ":INFO:"));
	log_set_level(LOG_DEBUG);
	log_trace("trace hidden at debug");
	CHECK_EQ(drain()[0], '\0');
	log_set_level(LOG_TRACE);
	log_trace("traced");
	CHECK(matches(drain(), ":TRACE:tests/unit/test_log_format\\.c:[0-9]+\\] traced\n$"));
	log_set_level(LOG_OFF);
	log_error("silent error");
	CHECK_EQ(drain()[0], '\0');
	char last[64];
	log_last_error(last, sizeof(last));
	CHECK(!strcmp(last, "silent error")); /* still the reason a boot failed */
	log_set_level(LOG_DEBUG);
}

static void module_filter(void)
{
	log_set_module("devices");
	log_msg_at(LOG_WARN, "src/devices/virtio_blk.c", 10, "blk says");
	log_msg_at(LOG_WARN, "src/api/api.c", 11, "api says");
	log_msg_at(LOG_WARN, "src/devicesx/y.c", 12, "lookalike says");
	log_msg(LOG_WARN, "originless says");
	log_warn("test says");
	const char *s = drain();
	CHECK(strstr(s, "blk says") && !strstr(s, "api says") && !strstr(s, "lookalike says") &&
	      !strstr(s, "originless says") && !strstr(s, "test says"));
	log_set_module("devices::virtio_blk");
	log_msg_at(LOG_WARN, "src/devices/virtio_blk.c", 10, "blk again");
	log_msg_at(LOG_WARN, "src/devices/virtio_net.c", 10, "net says");
	log_msg_at(LOG_WARN, "src/devices/virtio_blk_x.c", 10, "prefix says");
	s = drain();
	CHECK(strstr(s, "blk again") && !strstr(s, "net says") && !strstr(s, "prefix says"));
	log_set_module("");
	log_msg_at(LOG_WARN, "src/api/api.c", 11, "all again");
	CHECK(strstr(drain(), "all again"));
}

static void module_names(void)
{
	char m[64];
	log_module_of("src/devices/virtio_blk.c", m, sizeof(m));
	CHECK(!strcmp(m, "devices::virtio_blk"));
	log_module_of("src/api/api.c", m, sizeof(m));
	CHECK(!strcmp(m, "api::api"));
	log_module_of("src/arch/x86/machine.c", m, sizeof(m));
	CHECK(!strcmp(m, "arch::x86::machine"));
	log_module_of("src/devices/virtio_blk.c", m, 8); /* truncated, terminated */
	CHECK(strlen(m) < 8);
	CHECK(log_module_valid("api") && log_module_valid("vmm") && log_module_valid("devices::virtio_blk"));
	CHECK(log_module_valid("vsock::mux") && log_module_valid("backends::blk_uring"));
	CHECK(log_module_valid("arch::x86") && log_module_valid("arch::x86::machine"));
	CHECK(!log_module_valid("") && !log_module_valid("apis") && !log_module_valid("api_server::request"));
	CHECK(!log_module_valid("devices::") && !log_module_valid("devices:x") &&
	      !log_module_valid("devices::Virtio") && !log_module_valid("devices::a:::b") &&
	      !log_module_valid("devices::a-b"));
	char longm[80];
	memset(longm, 'a', sizeof(longm));
	memcpy(longm, "api::", 5);
	longm[70] = '\0';
	CHECK(!log_module_valid(longm));
}

static void full_pipe_counts_missed_lines(void)
{
	uint64_t before = log_missed_count();
	char big[900];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 200; i++) /* 180 KB: more than a pipe holds */
		log_warn("%s", big);
	CHECK(log_missed_count() > before);
	while (drain()[0])
		;
	log_warn("after drain");
	CHECK(strstr(drain(), "after drain"));
}

int main(void)
{
	test_suite_name = "log_format";
	setup();
	RUN(firecracker_format);
	RUN(thread_names);
	RUN(level_filter);
	RUN(module_filter);
	RUN(module_names);
	RUN(full_pipe_counts_missed_lines);
	TEST_MAIN_END();
}
