/* Unit tests for the GDB stub's listening addresses (gdb/addr.c): loopback only, ports in
 * range, socket paths that fit sun_path; each refusal one line naming the option. */
#include "gdb/addr.h"
#include "test.h"

static int tcp(const char *s, int *v6, uint32_t *ip, uint16_t *port, char *err)
{
	return gdb_parse_tcp("--gdb-tcp", s, v6, ip, port, err, 256);
}

static void loopback_only(void)
{
	int v6;
	uint32_t ip = 0;
	uint16_t port = 0;
	char err[256];
	CHECK_EQ(tcp("127.0.0.1:1234", &v6, &ip, &port, err), 0);
	CHECK(!v6 && ip == 0x7f000001 && port == 1234);
	CHECK_EQ(tcp("127.1.2.3:0", &v6, &ip, &port, err), 0);
	CHECK(ip == 0x7f010203 && port == 0);
	CHECK_EQ(tcp("localhost:65535", &v6, &ip, &port, err), 0);
	CHECK(ip == 0x7f000001 && port == 65535);
	CHECK_EQ(tcp("[::1]:9", &v6, &ip, &port, err), 0);
	CHECK(v6 && port == 9);
	CHECK_EQ(tcp("0.0.0.0:1234", &v6, &ip, &port, err), -1);
	CHECK_STR_CONTAINS(err, "non-loopback");
	CHECK_STR_CONTAINS(err, "--gdb-tcp");
	CHECK(!strchr(err, '\n'));
	CHECK_EQ(tcp("10.0.0.1:1", &v6, &ip, &port, err), -1);
	CHECK_EQ(tcp("[::]:1", &v6, &ip, &port, err), -1);
	CHECK_EQ(tcp("example.org:1", &v6, &ip, &port, err), -1);
}

static void malformed(void)
{
	int v6;
	uint32_t ip;
	uint16_t port;
	char err[256];
	const char *bad[] = {"127.0.0.1", "127.0.0.1:", ":1", "127.0.0.1:65536", "127.0.0.1:-1",
			     "127.0.0.1:1x", "127.0.0:1", "127.0.0.256:1", "127.0.0.1.1:1",
			     "1270.0.0.1:1", "127..0.1:1", "", "127.0.0.1:99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECK_EQ(tcp(bad[i], &v6, &ip, &port, err), -1);
		CHECK(err[0] != '\0');
	}
	CHECK_EQ(gdb_parse_tcp("--gdb-tcp", NULL, &v6, &ip, &port, err, sizeof(err)), -1);
}

static void socket_paths(void)
{
	char err[256], path[200];
	CHECK_EQ(gdb_check_socket_path("--gdb-socket", "/tmp/gdb.sock", err, sizeof(err)), 0);
	CHECK_EQ(gdb_check_socket_path("--gdb-socket", "", err, sizeof(err)), -1);
	CHECK_EQ(gdb_check_socket_path("--gdb-socket", NULL, err, sizeof(err)), -1);
	memset(path, 'a', 107);
	path[107] = '\0';
	CHECK_EQ(gdb_check_socket_path("--gdb-socket", path, err, sizeof(err)), 0);
	path[107] = 'a';
	path[108] = '\0';
	CHECK_EQ(gdb_check_socket_path("--gdb-socket", path, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "longer than 107");
}

int main(void)
{
	test_suite_name = "gdb_addr";
	RUN(loopback_only);
	RUN(malformed);
	RUN(socket_paths);
	TEST_MAIN_END();
}
