/* Unit tests for the vsock host side on real Unix sockets (src/vsock/uds.c) with the
 * multiplexer, the loop run on the test's own thread (event_run_once): the socket's mode and
 * removal, a host program's CONNECT/OK handshake and data both ways, a guest connection to
 * PATH_<port> and to a port nobody serves, the deadline timer, and the refusals of open. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sandbox.h"
#include "test.h"
#include "vsock/mux.h"
#include "vsock/uds.h"

#define CID 5
static char dir[64], path[128];
static struct vsock_uds u;
static struct vsock_mux m;
static struct event_loop loop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char err[512];

static void run(int rounds)
{
	for (int i = 0; i < rounds; i++)
		if (event_run_once(&loop, 20) <= 0)
			break;
}

static int unix_connect(const char *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(p) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, p, strlen(p) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int grecv(struct vsock_hdr *h, uint8_t *buf, uint32_t cap)
{
	struct iovec v = { buf, cap };
	return vsock_mux_recv(&m, h, &v, 1, cap);
}

static void gsend(uint32_t sport, uint32_t dport, uint16_t op, const void *d, uint32_t len)
{
	struct vsock_hdr h = { .src_cid = CID, .dst_cid = 2, .src_port = sport, .dst_port = dport,
			       .len = len, .type = VSOCK_TYPE_STREAM, .op = op, .buf_alloc = 65536 };
	struct iovec v = { (void *)(uintptr_t)d, len };
	vsock_mux_send(&m, &h, &v, len ? 1 : 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mote-test-vsock.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	uint32_t max = 16;
	CHECK_EQ(event_init(&loop), 0);
	CHECK_EQ(vsock_uds_open(&u, path, &max, err, sizeof(err)), 0);
	CHECK_EQ(max, 16u);
	CHECK_EQ(vsock_mux_init(&m, CID, max, &vsock_uds_ops, &u, err, sizeof(err)), 0);
	CHECK_EQ(vsock_uds_attach(&u, &loop, &lock, &m, err, sizeof(err)), 0);
	CHECK(loop.sandbox_extras & SANDBOX_X_UNIX_SOCKETS);
	vsock_mux_request_start(&m);
	vsock_mux_work(&m);
}

static void teardown(void)
{
	vsock_mux_destroy(&m);
	vsock_uds_close(&u);
	event_destroy(&loop);
	struct stat st;
	CHECK(stat(path, &st) < 0 && errno == ENOENT); /* removed */
	rmdir(dir);
}

static void host_program_handshake_and_data(void)
{
	setup();
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	struct vsock_hdr h;
	uint8_t buf[4096];
	int c = unix_connect(path);
	CHECK(c >= 0);
	CHECK_EQ(write(c, "CONNECT 88\nhi", 13), 13);
	run(4);
	pthread_mutex_lock(&lock);
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK(h.op == VSOCK_OP_REQUEST && h.dst_port == 88 && h.src_port >= VSOCK_LOCAL_PORT_MIN);
	uint32_t lp = h.src_port;
	gsend(88, lp, VSOCK_OP_RESPONSE, NULL, 0);
	pthread_mutex_unlock(&lock);
	char ok[32];
	ssize_t n = read(c, ok, sizeof(ok) - 1);
	CHECK(n > 0);
	ok[n > 0 ? n : 0] = 0;
	char want[32];
	snprintf(want, sizeof(want), "OK %u\n", lp);
	CHECK(!strcmp(ok, want));
	run(4); /* "hi" is readable now */
	pthread_mutex_lock(&lock);
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK(h.op == VSOCK_OP_RW && h.len == 2 && !memcmp(buf, "hi", 2));
	gsend(88, lp, VSOCK_OP_RW, "there", 5);
	pthread_mutex_unlock(&lock);
	n = read(c, buf, sizeof(buf));
	CHECK(n == 5 && !memcmp(buf, "there", 5));
	close(c); /* the program closes: SHUTDOWN to the guest, the guest's RST ends it */
	run(4);
	pthread_mutex_lock(&lock);
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK_EQ(h.op, VSOCK_OP_SHUTDOWN);
	gsend(88, lp, VSOCK_OP_RST, NULL, 0);
	CHECK_EQ(m.nused, 0u);
	pthread_mutex_unlock(&lock);
	teardown();
}

static void guest_connections(void)
{
	setup();
	struct vsock_hdr h;
	uint8_t buf[4096];
	char lpath[160];
	snprintf(lpath, sizeof(lpath), "%s_4000", path);
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	CHECK(strlen(lpath) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, lpath, strlen(lpath) + 1);
	CHECK_EQ(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_EQ(listen(l, 4), 0);
	pthread_mutex_lock(&lock);
	gsend(1500, 4000, VSOCK_OP_REQUEST, NULL, 0);
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK_EQ(h.op, VSOCK_OP_RESPONSE);
	gsend(1500, 4000, VSOCK_OP_RW, "abc", 3);
	gsend(1501, 4001, VSOCK_OP_REQUEST, NULL, 0); /* nobody serves 4001 */
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK(h.op == VSOCK_OP_RST && h.src_port == 4001);
	pthread_mutex_unlock(&lock);
	int a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	CHECK(read(a, buf, 3) == 3 && !memcmp(buf, "abc", 3));
	/* The guest closes: the program sees EOF. */
	pthread_mutex_lock(&lock);
	struct vsock_hdr s = { .src_cid = CID, .dst_cid = 2, .src_port = 1500, .dst_port = 4000,
			       .type = VSOCK_TYPE_STREAM, .op = VSOCK_OP_SHUTDOWN, .flags = 3 };
	vsock_mux_send(&m, &s, NULL, 0);
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK_EQ(h.op, VSOCK_OP_RST);
	pthread_mutex_unlock(&lock);
	CHECK_EQ(read(a, buf, sizeof(buf)), 0);
	close(a);
	close(l);
	unlink(lpath);
	teardown();
}

/* A request the guest never answers: the timerfd's ticks end it after 2 s. */
static void deadline_timer(void)
{
	setup();
	struct vsock_hdr h;
	uint8_t buf[64];
	int c = unix_connect(path);
	CHECK_EQ(write(c, "CONNECT 9\n", 10), 10);
	run(3);
	pthread_mutex_lock(&lock);
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK_EQ(h.op, VSOCK_OP_REQUEST);
	CHECK_EQ(m.ndeadlines, 1u);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 300 && !vsock_mux_pending(&m); i++) /* 2 s on the real clock */
		run(1);
	pthread_mutex_lock(&lock);
	CHECK_EQ(grecv(&h, buf, sizeof(buf)), 1);
	CHECK_EQ(h.op, VSOCK_OP_RST);
	CHECK_EQ(m.nused, 0u);
	CHECK_EQ(m.ndeadlines, 0u);
	pthread_mutex_unlock(&lock);
	CHECK_EQ(read(c, buf, 1), 0); /* closed by mote, no OK */
	close(c);
	teardown();
}

static void open_refusals(void)
{
	uint32_t max = 4;
	char p[200];
	snprintf(p, sizeof(p), "/tmp/%0100d", 0);
	CHECK_EQ(vsock_uds_open(&u, p, &max, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "1 to 96 bytes");
	vsock_uds_close(&u);
	CHECK_EQ(vsock_uds_open(&u, "/nonexistent-dir/v.sock", &max, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "--vsock uds /nonexistent-dir/v.sock: No such file or directory");
	vsock_uds_close(&u);
	/* A hard fd limit too low for the table: the limit shrinks, with a warning. */
	struct rlimit old, low = { 300, 300 };
	getrlimit(RLIMIT_NOFILE, &old);
	if (fork() == 0) {
		setrlimit(RLIMIT_NOFILE, &low);
		uint32_t want = 1024;
		char d[64];
		snprintf(d, sizeof(d), "/tmp/mote-test-vsock-fd.%d", getpid());
		int r = vsock_uds_open(&u, d, &want, err, sizeof(err));
		vsock_uds_close(&u);
		_exit(r == 0 && want < 1024 && want >= 16 ? 0 : 1);
	}
	int st = 0;
	wait(&st);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	test_suite_name = "vsock_uds";
	log_set_level(LOG_ERROR);
	RUN(host_program_handshake_and_data);
	RUN(guest_connections);
	RUN(deadline_timer);
	RUN(open_refusals);
	TEST_MAIN_END();
}
