/* Unit tests for the API mode's command line (mote --api-sock / --config-file / --id) and the
 * logger the API configures (core/log: log_configure, levels, log_last_error). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/config.h"
#include "core/log.h"
#include "test.h"

static struct vm_config cfg;
static char err[512];

static enum config_action parse(int argc, const char *const *argv)
{
	err[0] = '\0';
	return config_parse(argc, (char *const *)(uintptr_t)argv, &cfg, err, sizeof(err));
}

static void api_sock_alone(void)
{
	const char *const a[] = {"mote", "--api-sock", "/tmp/s", NULL};
	CHECK_EQ(parse(3, a), CONFIG_RUN);
	CHECK(cfg.api_sock && !strcmp(cfg.api_sock, "/tmp/s"));
	CHECK(cfg.kernel == NULL && cfg.config_file == NULL);
}

static void config_file_with_socket_and_verbosity(void)
{
	const char *const a[] = {"mote", "-v", "--config-file=/c.json", "--api-sock", "/s", "--id", "vm1", NULL};
	CHECK_EQ(parse(7, a), CONFIG_RUN);
	CHECK(!strcmp(cfg.config_file, "/c.json"));
	CHECK(!strcmp(cfg.api_sock, "/s"));
	CHECK(!strcmp(cfg.instance_id, "vm1"));
	CHECK_EQ(cfg.verbosity, 1);
}

static void refusals(void)
{
	const char *const a[] = {"mote", "--api-sock", NULL};
	CHECK_EQ(parse(2, a), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "needs a value");
	const char *const b[] = {"mote", "--api-sock", "/s", "--api-sock", "/t", NULL};
	CHECK_EQ(parse(5, b), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "given twice");
	const char *const c[] = {"mote", "--api-sock", "/s", "--mem", "64", NULL};
	CHECK_EQ(parse(5, c), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "cannot be combined");
	const char *const d[] = {"mote", "--id", "x", NULL};
	CHECK_EQ(parse(3, d), CONFIG_ERROR);
	CHECK_STR_CONTAINS(err, "--api-sock");
	const char *const e[] = {"mote", "--api-sock=", NULL};
	CHECK_EQ(parse(2, e), CONFIG_ERROR);
	const char *const f[] = {"mote", "run", "--api-sock", "/s", "k", NULL};
	CHECK_EQ(parse(5, f), CONFIG_ERROR); /* not a run option */
}

static void logger_to_file_with_levels(void)
{
	char path[] = "/tmp/mote-test-log.XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	int wfd = open(path, O_WRONLY | O_APPEND);
	log_configure(wfd, 1, 1);
	log_set_level(LOG_INFO);
	log_info("hello %d", 42);
	log_debug("not shown");
	log_set_level(LOG_OFF);
	log_error("boot failed: %s", "because");
	char buf[4096] = {0};
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	CHECK(n > 0);
	CHECK_STR_CONTAINS(buf, ":INFO:tests/unit/test_api_cli.c:"); /* Firecracker's format */
	CHECK_STR_CONTAINS(buf, "] hello 42\n");
	CHECK(strstr(buf, "not shown") == NULL);
	CHECK(strstr(buf, "because") == NULL); /* Off */
	char last[128];
	log_last_error(last, sizeof(last));
	CHECK(!strcmp(last, "boot failed: because"));
	log_configure(dup(STDERR_FILENO), 0, 0); /* back to (a copy of) stderr */
	log_set_level(LOG_WARN);
	close(fd);
	unlink(path);
}

int main(void)
{
	test_suite_name = "api_cli";
	RUN(api_sock_alone);
	RUN(config_file_with_socket_and_verbosity);
	RUN(refusals);
	RUN(logger_to_file_with_levels);
	TEST_MAIN_END();
}
