/* netpeer: the host side of bench/net.sh (UDP over a tap, run inside the benchmark's
 * network namespace).
 *   netpeer echo IP PORT COUNT SIZE   COUNT sequential round trips (one datagram in flight):
 *                                     each SIZE-byte payload must come back byte for byte.
 *                                     Prints "echo: rt=N lost=L us=T rt_per_s=R mean_us=M".
 *   netpeer sink PORT IDLE_MS MAX_S   counts datagrams (recvmmsg, 64 at a time, up to 2048
 *                                     bytes each) on PORT until IDLE_MS pass without one
 *                                     (after the first) or MAX_S seconds in all. Prints
 *                                     "sink: frames=N bytes=B us=T frames_per_s=F mbit_per_s=M"
 *                                     (T: first to last datagram; bytes: UDP payload).
 *   netpeer quit IP PORT              sends "quit" (the net guest then exits).
 * Exit 0, or 1 with a message on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int udp_socket(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0) {
		perror("netpeer: socket");
		exit(1);
	}
	int big = 8 << 20;
	setsockopt(s, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return s;
}

static struct sockaddr_in addr(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	if (ip && inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "netpeer: bad address %s\n", ip);
		exit(1);
	}
	return a;
}

static int echo(char **argv)
{
	struct sockaddr_in to = addr(argv[0], argv[1]);
	long count = atol(argv[2]), size = atol(argv[3]), lost = 0, done = 0;
	unsigned char out[2048], in[2048];
	if (count < 1 || size < 1 || size > (long)sizeof(out)) {
		fprintf(stderr, "netpeer: echo COUNT >= 1, SIZE 1..2048\n");
		return 1;
	}
	int s = udp_socket();
	double t0 = now_us();
	for (long i = 0; i < count; i++) {
		for (long k = 0; k < size; k++)
			out[k] = (unsigned char)(i * 31 + k);
		if (sendto(s, out, (size_t)size, 0, (struct sockaddr *)&to, sizeof(to)) != size) {
			perror("netpeer: sendto");
			return 1;
		}
		struct pollfd p = { .fd = s, .events = POLLIN };
		for (;;) {
			if (poll(&p, 1, 1000) != 1) {
				lost++;
				break;
			}
			ssize_t n = recv(s, in, sizeof(in), 0);
			if (n == size && memcmp(in, out, (size_t)size) == 0) {
				done++;
				break;
			}
			/* a late echo of an earlier (lost) datagram: keep waiting for ours */
		}
	}
	double us = now_us() - t0;
	printf("echo: rt=%ld lost=%ld us=%.0f rt_per_s=%.0f mean_us=%.1f\n", done, lost, us,
	       done ? done / (us / 1e6) : 0.0, done ? us / (double)done : 0.0);
	return lost > count / 100 ? 1 : 0;
}

static int sink(char **argv)
{
	struct sockaddr_in me = addr(NULL, argv[0]);
	int idle_ms = atoi(argv[1]);
	double max_us = atof(argv[2]) * 1e6;
	static unsigned char buf[64][2048];
	struct mmsghdr msgs[64];
	struct iovec iov[64];
	for (int i = 0; i < 64; i++) {
		iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = sizeof(buf[i]) };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	int s = udp_socket();
	if (bind(s, (struct sockaddr *)&me, sizeof(me)) < 0) {
		perror("netpeer: bind");
		return 1;
	}
	printf("sink: listening\n");
	fflush(stdout);
	long frames = 0;
	double bytes = 0, first = 0, last = 0, start = now_us();
	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		int wait = frames ? idle_ms : 1000;
		if (now_us() - start > max_us)
			break;
		if (poll(&p, 1, wait) != 1) {
			if (frames)
				break;
			continue;
		}
		int n;
		/* recvmmsg: the sink should cost as little as possible, whichever VMM sends */
		while ((n = recvmmsg(s, msgs, 64, MSG_DONTWAIT, NULL)) > 0) {
			last = now_us();
			if (!frames)
				first = last;
			frames += n;
			for (int i = 0; i < n; i++)
				bytes += (double)msgs[i].msg_len;
		}
	}
	double us = last - first;
	printf("sink: frames=%ld bytes=%.0f us=%.0f frames_per_s=%.0f mbit_per_s=%.1f\n", frames,
	       bytes, us, us > 0 ? frames / (us / 1e6) : 0.0, us > 0 ? bytes * 8 / us : 0.0);
	return frames ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "echo"))
		return echo(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "sink"))
		return sink(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "quit")) {
		struct sockaddr_in to = addr(argv[2], argv[3]);
		int s = udp_socket();
		return sendto(s, "quit", 4, 0, (struct sockaddr *)&to, sizeof(to)) == 4 ? 0 : 1;
	}
	fprintf(stderr, "usage: netpeer echo IP PORT COUNT SIZE | sink PORT IDLE_MS MAX_S | quit IP PORT\n");
	return 1;
}
