/*
 * runone: runs one command and reports its wall time and peak RSS.
 *
 * usage: runone OUTFILE COMMAND [ARG...]
 *
 * The command runs with stdin from /dev/null and stdout and stderr written to
 * OUTFILE. On success runone prints one line to its own stdout:
 *
 *   wall_ns=N maxrss_kib=N status=N cpu_us=N
 *
 * wall_ns is CLOCK_MONOTONIC from just before fork() to just after wait4()
 * returns; maxrss_kib is ru_maxrss of that single child, from wait4(); status
 * is the exit status, or 128 + the signal number if the child was killed;
 * cpu_us is the child's user + system time, with its own waited-for children.
 *
 * With RUNONE_FIRST_BYTE=1 in the environment the child's stdout is a pipe instead: runone
 * reads it until the first byte, then kills the child (SIGKILL) and prints
 * "first_byte_ns=N " in front of the same line (wall_ns then includes the kill). This is
 * exec-to-first-output without the fork cost of a script (bench/snapshot.py uses it).
 *
 * Why C and not Python: ru_maxrss is a high-water mark that survives exec.
 * A child forked from Python starts with Python's anonymous pages (several
 * MiB) and one made with vfork/posix_spawn shares the parent's whole address
 * space, so both would report the parent's RSS for a VMM that needs less.
 * A child forked from this small program starts with a few hundred KiB at
 * most (see rss_floor_kib in bench/startup.sh, measured with /bin/true).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct rusage ru;
	long long t0, t1;
	int out, in, wstatus, status, pfd[2] = { -1, -1 };
	long long first = -1;
	pid_t pid, r;
	const char *fb = getenv("RUNONE_FIRST_BYTE");
	int first_byte = fb && strcmp(fb, "1") == 0;

	if (argc < 3) {
		fprintf(stderr, "usage: runone OUTFILE COMMAND [ARG...]\n");
		return 2;
	}
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		fprintf(stderr, "runone: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		fprintf(stderr, "runone: /dev/null: %s\n", strerror(errno));
		return 2;
	}

	if (first_byte && pipe2(pfd, O_CLOEXEC) < 0) {
		fprintf(stderr, "runone: pipe: %s\n", strerror(errno));
		return 2;
	}
	t0 = now_ns();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runone: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		if (dup2(in, 0) < 0 || dup2(first_byte ? pfd[1] : out, 1) < 0 || dup2(out, 2) < 0)
			_exit(126);
		execvp(argv[2], argv + 2);
		dprintf(2, "runone: exec %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	if (first_byte) {
		char c;
		ssize_t n;

		close(pfd[1]);
		do
			n = read(pfd[0], &c, 1);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			first = now_ns() - t0;
		kill(pid, SIGKILL);
	}
	do
		r = wait4(pid, &wstatus, 0, &ru);
	while (r < 0 && errno == EINTR);
	t1 = now_ns();
	if (r < 0) {
		fprintf(stderr, "runone: wait4: %s\n", strerror(errno));
		return 2;
	}
	if (WIFEXITED(wstatus))
		status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		status = 128 + WTERMSIG(wstatus);
	else
		status = 255;
	long long cpu_us = (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
			   ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
	if (first_byte) {
		if (first < 0) {
			fprintf(stderr, "runone: %s wrote nothing to stdout (status %d)\n", argv[2], status);
			return 1;
		}
		printf("first_byte_ns=%lld ", first);
	}
	printf("wall_ns=%lld maxrss_kib=%ld status=%d cpu_us=%lld\n", t1 - t0, ru.ru_maxrss, status,
	       cpu_us);
	return 0;
}
