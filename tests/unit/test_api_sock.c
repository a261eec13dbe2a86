/* Unit tests for the API socket (src/api/api_sock.c): created 0600, a stale socket replaced,
 * a regular file and a live socket refused (and left alone), an over-long path refused. */
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api_sock.h"
#include "test.h"

static char dir[64], path[128];
static char err[512];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mote-test-sock.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/api.sock", dir);
}

static void created_0600_then_live_refused(void)
{
	int fd = -1, fd2 = -1;
	bool created = false, created2 = false;
	CHECK_EQ(api_sock_create(path, &fd, &created, 4, err, sizeof(err)), 0);
	CHECK(created && fd >= 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	CHECK_EQ(api_sock_create(path, &fd2, &created2, 4, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "another process serves");
	CHECK(!created2);
	close(fd); /* now stale: the file stays, nobody listens */
	CHECK(stat(path, &st) == 0);
	fd = -1;
	created = false;
	CHECK_EQ(api_sock_create(path, &fd, &created, 4, err, sizeof(err)), 0);
	CHECK(created);
	close(fd);
	unlink(path);
}

static void regular_file_refused(void)
{
	int fd = -1;
	bool created = false;
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f)
		fclose(f);
	CHECK_EQ(api_sock_create(path, &fd, &created, 4, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "not a socket");
	struct stat st;
	CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode)); /* left alone */
	unlink(path);
}

static void long_path_refused(void)
{
	char p[200];
	int fd = -1;
	bool created = false;
	memset(p, 'a', sizeof(p) - 1);
	p[0] = '/';
	p[sizeof(p) - 1] = '\0';
	CHECK_EQ(api_sock_create(p, &fd, &created, 4, err, sizeof(err)), -1);
	CHECK_STR_CONTAINS(err, "longer than");
}

int main(void)
{
	test_suite_name = "api_sock";
	setup();
	RUN(created_0600_then_live_refused);
	RUN(regular_file_refused);
	RUN(long_path_refused);
	rmdir(dir);
	TEST_MAIN_END();
}
