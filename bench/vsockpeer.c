/*
 * vsockpeer: the host side of bench/vsock.sh, in C so that the numbers are the transport's
 * and not a script's. Speaks Firecracker's hybrid vsock protocol (connect to PATH, write
 * "CONNECT <port>\n", read "OK <port>\n").
 *
 *   vsockpeer rtt PATH PORT N        N one-byte round trips through the guest's echo port
 *   vsockpeer source PATH PORT MIB   MIB MiB to the guest, then waits until it closes
 *   vsockpeer sink LPATH             accepts one connection on LPATH, reads it to EOF
 *   vsockpeer pair N MIB             the same on a host socketpair (the peer: a forked child
 *                                    echoing / draining): the physical limit here
 *
 * Prints `name: value` lines: rtt_us_median, rtt_us_mean, mib_s, bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
	fprintf(stderr, "vsockpeer: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		die("path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(path);
	return fd;
}

/* Connects to guest port `port` through PATH: the handshake, then a plain stream. */
static int vsock_connect(const char *path, const char *port)
{
	int fd = unix_connect(path);
	char line[64];
	int n = snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (write(fd, line, (size_t)n) != n)
		die("write CONNECT");
	for (int i = 0; i < (int)sizeof(line) - 1; i++) { /* byte by byte: data may follow */
		if (read(fd, line + i, 1) != 1)
			die("no OK from mote");
		if (line[i] == '\n') {
			line[i + 1] = 0;
			if (strncmp(line, "OK ", 3))
				die("bad answer");
			return fd;
		}
	}
	die("answer too long");
	return -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void rtt(int fd, long n, const char *prefix)
{
	double *t = malloc(sizeof(double) * (size_t)n), sum = 0;
	char c = 'x';
	if (!t)
		die("malloc");
	for (long i = -100; i < n; i++) { /* 100 warm-up rounds */
		double t0 = now_us();
		if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1)
			die("round trip");
		if (i >= 0)
			sum += t[i] = now_us() - t0;
	}
	qsort(t, (size_t)n, sizeof(double), cmp);
	printf("%srtt_us_median: %.1f\n%srtt_us_mean: %.1f\n", prefix, t[n / 2], prefix, sum / n);
	free(t);
}

static void send_mib(int fd, long mib)
{
	static char buf[CHUNK];
	memset(buf, 0x5a, sizeof(buf));
	for (long i = 0; i < mib; i++)
		for (size_t off = 0; off < sizeof(buf);) {
			ssize_t w = write(fd, buf + off, sizeof(buf) - off);
			if (w <= 0)
				die("write");
			off += (size_t)w;
		}
}

static long drain(int fd, double *t_first)
{
	static char buf[CHUNK];
	long total = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		if (!total)
			*t_first = now_us();
		total += r;
	}
	return total;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "rtt")) {
		int fd = vsock_connect(argv[2], argv[3]);
		rtt(fd, atol(argv[4]), "");
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "source")) {
		int fd = vsock_connect(argv[2], argv[3]);
		long mib = atol(argv[4]);
		double t0 = now_us();
		send_mib(fd, mib);
		shutdown(fd, SHUT_WR);
		char c;
		while (read(fd, &c, 1) > 0) /* until the guest closes: everything arrived */
			;
		double s = (now_us() - t0) / 1e6;
		printf("mib_s: %.1f\nbytes: %ld\n", mib / s, mib << 20);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "sink")) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
		unlink(argv[2]);
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0)
			die(argv[2]);
		printf("listening\n");
		fflush(stdout);
		int fd = accept(l, NULL, NULL);
		double t0 = 0;
		long total = drain(fd, &t0);
		double s = (now_us() - t0) / 1e6;
		printf("mib_s: %.1f\nbytes: %ld\n", (double)total / (1 << 20) / s, total);
		unlink(argv[2]);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "pair")) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			die("socketpair");
		pid_t p = fork();
		if (p == 0) { /* echo one byte at a time, then drain */
			close(sv[0]);
			char c;
			for (long i = -100; i < atol(argv[2]); i++)
				if (read(sv[1], &c, 1) != 1 || write(sv[1], &c, 1) != 1)
					_exit(1);
			double t0;
			drain(sv[1], &t0);
			_exit(0);
		}
		close(sv[1]);
		rtt(sv[0], atol(argv[2]), "pair_");
		double t0 = now_us();
		send_mib(sv[0], atol(argv[3]));
		close(sv[0]);
		int st;
		waitpid(p, &st, 0);
		printf("pair_mib_s: %.1f\n", atol(argv[3]) / ((now_us() - t0) / 1e6));
		return 0;
	}
	fprintf(stderr, "usage: vsockpeer rtt PATH PORT N | source PATH PORT MIB | sink LPATH | pair N MIB\n");
	return 2;
}
