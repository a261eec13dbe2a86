/*
 * vsockt: a tiny socat for the Linux vsock test (tests/linux/vsock.sh). Built static
 * (tests/linux/linux.mk) so that the same binary runs in the Linux guest (AF_VSOCK, through
 * Linux's vmw_vsock_virtio_transport) and in the nested test host's busybox world (AF_UNIX,
 * mote's hybrid vsock: docs/vsock.md). busybox has no vsock and the nested host no socat.
 *
 *   vsockt [-e] [-k] [-c N] [-n BYTES] [-t SECS] ADDRESS
 *
 * ADDRESS:
 *   vsock-listen:PORT          accept on AF_VSOCK PORT (any CID)
 *   vsock-connect:CID:PORT     connect to CID (2: the host) PORT
 *   unix-listen:PATH           accept on a Unix socket (mote's PATH_<port>, guest-initiated)
 *   unix-connect:PATH:PORT     connect to mote's PATH, "CONNECT PORT\n", wait for "OK ...\n"
 *
 * Without -e: stdin goes to the socket and the socket to stdout; at stdin's EOF the sending
 * side is shut down, and it ends once both the socket's EOF came and all of stdin went out. With
 * -k stdin's EOF changes nothing and it ends at the socket's EOF. Either way it also ends once
 * -n BYTES came from the socket. With -e: what the socket sends goes back to it, until its
 * EOF. Listening, each connection is served by a child; -c N: exit after N (default 1; 0: forever).
 * -t SECS (default 120): give up (status 3) after that long. Prints "vsockt: sent S received R"
 * on stderr at the end; status 0, or 1 with one line on an error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define BUFSZ 65536

static char buf_out[BUFSZ], buf_in[BUFSZ];

static void die(const char *what)
{
	fprintf(stderr, "vsockt: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: vsockt [-e] [-k] [-c N] [-n BYTES] [-t SECS] "
			"vsock-listen:PORT|vsock-connect:CID:PORT|unix-listen:PATH|unix-connect:PATH:PORT\n");
	exit(2);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "vsockt: timed out\n";
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	_exit(3);
}

static unsigned long num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "vsockt: bad %s '%s' (a decimal number)\n", what, s);
		exit(2);
	}
	return v;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "vsockt: path too long: %s\n", path);
		exit(2);
	}
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* The hybrid vsock handshake: "CONNECT PORT\n", then a line starting "OK ". */
static void handshake(int fd, unsigned long port)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "CONNECT %lu\n", port);
	if (write(fd, line, (size_t)n) != n)
		die("write CONNECT");
	size_t len = 0;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "vsockt: no OK from mote for CONNECT %lu (%s)\n", port,
				r == 0 ? "closed" : strerror(errno));
			exit(1);
		}
		if (c == '\n')
			break;
		if (len + 1 < sizeof(line))
			line[len++] = c;
	}
	line[len] = 0;
	if (strncmp(line, "OK ", 3) != 0) {
		fprintf(stderr, "vsockt: mote answered '%s', not OK\n", line);
		exit(1);
	}
	fprintf(stderr, "vsockt: %s\n", line);
}

/* Relay (or echo) on a connected socket; returns the exit status. */
static int serve(int s, int echo, int keep, unsigned long long limit)
{
	unsigned long long sent = 0, recvd = 0;
	size_t out_len = 0, out_off = 0, in_len = 0, in_off = 0;
	int in_eof = echo, sock_eof = 0, shut = 0;
	char *obuf = echo ? buf_in : buf_out; /* echo: what came in goes out */

	if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl");
	while (!(limit && recvd >= limit)) {
		struct pollfd p[2] = {{.fd = s}, {.fd = 0}};
		nfds_t np = 1;
		size_t pending = echo ? in_len - in_off : out_len - out_off;
		if (!echo && in_eof && !pending && !shut && !keep) {
			if (shutdown(s, SHUT_WR) < 0)
				die("shutdown");
			shut = 1;
		}
		/* Done: the socket's EOF, and (relaying without -k) all of stdin sent. */
		if (sock_eof && (echo || keep || shut))
			break;
		if (pending)
			p[0].events |= POLLOUT;
		if (!sock_eof && (echo ? !pending : 1))
			p[0].events |= POLLIN;
		if (!echo && !in_eof && !pending) {
			p[1].events = POLLIN;
			np = 2;
		}
		if (poll(p, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (np == 2 && (p[1].revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(0, buf_out, BUFSZ);
			if (r < 0 && errno != EINTR)
				die("read stdin");
			if (r == 0)
				in_eof = 1;
			if (r > 0) {
				out_len = (size_t)r;
				out_off = 0;
			}
		}
		if (p[0].revents & POLLOUT) {
			size_t *off = echo ? &in_off : &out_off, len = echo ? in_len : out_len;
			ssize_t w = write(s, obuf + *off, len - *off);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				die("write socket");
			if (w > 0) {
				*off += (size_t)w;
				sent += (unsigned long long)w;
			}
		}
		if (!sock_eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if (echo && in_len - in_off)
				continue;
			size_t room = BUFSZ;
			if (limit && limit - recvd < room)
				room = (size_t)(limit - recvd);
			ssize_t r = read(s, buf_in, room);
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				die("read socket");
			if (r == 0)
				sock_eof = 1;
			if (r > 0) {
				recvd += (unsigned long long)r;
				if (echo) {
					in_len = (size_t)r;
					in_off = 0;
				} else {
					for (ssize_t o = 0; o < r;) {
						ssize_t w = write(1, buf_in + o, (size_t)(r - o));
						if (w < 0 && errno == EINTR)
							continue;
						if (w <= 0)
							die("write stdout");
						o += w;
					}
				}
			}
		}
	}
	/* Echo: what is still buffered goes out before the close. */
	if (fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK) < 0)
		die("fcntl");
	while (echo && in_off < in_len) {
		ssize_t w = write(s, buf_in + in_off, in_len - in_off);
		if (w <= 0)
			break;
		in_off += (size_t)w;
		sent += (unsigned long long)w;
	}
	fprintf(stderr, "vsockt: sent %llu received %llu\n", sent, recvd);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	int echo = 0, keep = 0, opt;
	unsigned long count = 1, secs = 120;
	unsigned long long limit = 0;
	while ((opt = getopt(argc, argv, "ekc:n:t:")) != -1) {
		switch (opt) {
		case 'e': echo = 1; break;
		case 'k': keep = 1; break;
		case 'c': count = num(optarg, "count"); break;
		case 'n': limit = num(optarg, "byte count"); break;
		case 't': secs = num(optarg, "timeout"); break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	signal(SIGALRM, on_alarm);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)secs);

	char *a = strdup(argv[optind]), *colon;
	if (!a)
		die("strdup");
	int listening = 0, s;
	if (!strncmp(a, "vsock-listen:", 13) || !strncmp(a, "vsock-connect:", 14)) {
		struct sockaddr_vm vm = {.svm_family = AF_VSOCK};
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0)
			die("socket(AF_VSOCK) (is vmw_vsock_virtio_transport loaded?)");
		if (a[6] == 'l') {
			vm.svm_cid = VMADDR_CID_ANY;
			vm.svm_port = (unsigned)num(a + 13, "port");
			if (bind(s, (struct sockaddr *)&vm, sizeof(vm)) < 0 || listen(s, 64) < 0)
				die("bind/listen vsock");
			listening = 1;
		} else {
			colon = strchr(a + 14, ':');
			if (!colon)
				usage();
			*colon = 0;
			vm.svm_cid = (unsigned)num(a + 14, "CID");
			vm.svm_port = (unsigned)num(colon + 1, "port");
			if (connect(s, (struct sockaddr *)&vm, sizeof(vm)) < 0)
				die("connect vsock");
		}
	} else if (!strncmp(a, "unix-listen:", 12)) {
		struct sockaddr_un sa;
		unix_addr(a + 12, &sa);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 64) < 0)
			die(a + 12);
		listening = 1;
	} else if (!strncmp(a, "unix-connect:", 13)) {
		struct sockaddr_un sa;
		colon = strrchr(a + 13, ':');
		if (!colon)
			usage();
		*colon = 0;
		unix_addr(a + 13, &sa);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			die(a + 13);
		handshake(s, num(colon + 1, "port"));
	} else {
		usage();
	}
	if (!listening)
		return serve(s, echo, keep, limit);

	/* Listening: a child per connection; the parent waits for them at the end. */
	int status = 0;
	for (unsigned long n = 0; count == 0 || n < count; n++) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(s);
			_exit(serve(c, echo, keep, limit));
		}
		close(c);
	}
	close(s);
	int st;
	while (wait(&st) > 0)
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			status = 1;
	return status;
}
