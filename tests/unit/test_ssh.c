/* test_ssh.c: the SSH transport against a real sshd that the test starts itself (unprivileged
 * configuration, 127.0.0.1, a free high port, host and client keys made at test time), plus the
 * known_hosts decisions without a server. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "runner.h"
#include "transport.h"
#include "util.h"

/* CW_TEST_SSHD overrides where sshd is (a missing one makes the server tests skip). */
#define SSHD (getenv("CW_TEST_SSHD") ? getenv("CW_TEST_SSHD") : "/usr/sbin/sshd")
#define KEYGEN "/usr/bin/ssh-keygen"

/* Everything the tests share: one sshd for the whole run. */
static struct {
	bool keys_ok;  /* ssh-keygen worked: the server-less tests can run */
	bool sshd_ok;  /* sshd is up */
	char why[256]; /* why not */
	char *dir;
	int port;
	pid_t sshd_pid;
	char user[64];
	char *kh;         /* known_hosts with the right key */
	char *client;     /* authorised client key (ed25519, .pub beside it) */
	char *client_rsa; /* authorised RSA key without a .pub beside it */
	char *wrong;      /* a key the server does not know */
	char *hostkey_pub, *hostkey2_pub, *hostkey_rsa_pub;
	char fp[64], fp2[64]; /* host key fingerprints as ssh-keygen prints them */
} g;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run argv quietly; return its exit code (-1 if it did not exit). stdout into out if non-NULL. */
static int run_local(char *const argv[], char **out)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(out ? pfd[1] : devnull, 1);
		dup2(devnull, 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	struct strbuf sb;
	strbuf_init(&sb);
	char buf[4096];
	ssize_t n;
	while ((n = read(pfd[0], buf, sizeof buf)) > 0)
		strbuf_add(&sb, buf, (size_t)n);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (out)
		*out = strbuf_detach(&sb);
	strbuf_done(&sb);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool keygen(const char *path, const char *type)
{
	char *argv[] = { KEYGEN, "-q",           "-t", (char *)type, "-N", "",
			 "-C",   "certwiz-test", "-f", (char *)path, NULL };
	return run_local(argv, NULL) == 0;
}

/* "SHA256:..." of a .pub file, by ssh-keygen: computed independently of the code under test. */
static bool keygen_fp(const char *pub, char *fp, size_t size)
{
	char *out = NULL;
	char *argv[] = { KEYGEN, "-l", "-E", "sha256", "-f", (char *)pub, NULL };
	if (run_local(argv, &out) != 0) {
		free(out);
		return false;
	}
	char *p = strstr(out, "SHA256:");
	bool ok = p != NULL;
	if (ok)
		snprintf(fp, size, "%.*s", (int)strcspn(p, " \n"), p);
	free(out);
	return ok;
}

/* The raw key blob of a .pub file. */
static char *pub_blob(const char *pub, size_t *len)
{
	char *text = test_slurp(pub);
	assert_non_null(text);
	char **f = strv_split(text, ' ');
	assert_true(strv_len(f) >= 2);
	size_t bl = strlen(f[1]);
	unsigned char *raw = xmalloc(bl);
	int n = EVP_DecodeBlock(raw, (const unsigned char *)f[1], (int)bl);
	assert_true(n > 0);
	while (bl && f[1][bl - 1] == '=') {
		n--;
		bl--;
	}
	*len = (size_t)n;
	strv_free(f);
	free(text);
	return (char *)raw;
}

/* "[127.0.0.1]:PORT ssh-ed25519 AAAA..." for a .pub file. */
static char *kh_line(const char *name, const char *pub)
{
	char *text = test_slurp(pub);
	assert_non_null(text);
	char **f = strv_split(text, ' ');
	char *line = xasprintf("%s %s %s\n", name, f[0], f[1]);
	strv_free(f);
	free(text);
	return line;
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return ntohs(a.sin_port);
}

static bool port_answers(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	close(fd);
	return ok;
}

static char *write_config(bool penalties)
{
	char *cfg = path_join(g.dir, "sshd_config");
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_addf(&sb, "Port %d\nListenAddress 127.0.0.1\n", g.port);
	strbuf_addf(&sb, "HostKey %s/hostkey\n", g.dir);
	strbuf_addf(&sb, "AuthorizedKeysFile %s/authorized_keys\n", g.dir);
	strbuf_addf(&sb, "PidFile %s/sshd.pid\n", g.dir);
	strbuf_adds(&sb, "StrictModes no\nUsePAM no\nPubkeyAuthentication yes\n"
			 "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
			 "UseDNS no\nPrintMotd no\nLogLevel VERBOSE\n"
			 /* 50 connections at once from one address */
			 "MaxStartups 200\nMaxSessions 64\nMaxAuthTries 10\n");
	if (geteuid() == 0)
		strbuf_adds(&sb, "PermitRootLogin yes\n");
	/* The fake sudo of the sudo tests comes first in PATH; HOME is the test's own, so the
	 * login shell reads the test's start-up files, not the real account's. */
	strbuf_addf(&sb, "SetEnv PATH=%s/bin:/usr/local/bin:/usr/bin:/bin HOME=%s/remote-home\n",
		    g.dir, g.dir);
	if (penalties)
		strbuf_adds(
			&sb,
			"PerSourcePenalties no\n"); /* OpenSSH >= 9.8 would punish our failures */
	test_write(cfg, sb.buf);
	strbuf_done(&sb);
	return cfg;
}

static const char fake_sudo[] =
	"#!/bin/sh\n"
	"# A stand-in for sudo: records its arguments, then acts as told by sudo-mode.\n"
	"dir=$(dirname \"$0\")/..\n"
	"printf '%s\\n' \"$*\" >> \"$dir/sudo-args\"\n"
	"if [ \"$(cat \"$dir/sudo-mode\" 2>/dev/null)\" = password ]; then\n"
	"  echo 'sudo: a password is required' >&2\n"
	"  exit 1\n"
	"fi\n"
	"[ \"$1\" = -n ] && [ \"$2\" = -- ] || { echo 'fake sudo: expected -n --' >&2; exit 99; }\n"
	"shift 2\n"
	"exec \"$@\"\n";

static int group_setup(void **state)
{
	(void)state;
	memset(&g, 0, sizeof g);
	unsetenv("SSH_AUTH_SOCK");
	signal(SIGPIPE, SIG_IGN);
	g.dir = test_tmpdir();
	struct passwd *pw = getpwuid(geteuid());
	snprintf(g.user, sizeof g.user, "%s", pw ? pw->pw_name : "root");

	if (access(KEYGEN, X_OK) != 0) {
		snprintf(g.why, sizeof g.why, "%s is not installed", KEYGEN);
		return 0;
	}
	char *hostkey = path_join(g.dir, "hostkey");
	char *hostkey2 = path_join(g.dir, "hostkey2");
	char *hostkey_rsa = path_join(g.dir, "hostkey_rsa");
	g.client = path_join(g.dir, "client");
	g.wrong = path_join(g.dir, "wrong");
	char *rsa = path_join(g.dir, "client_rsa.tmp");
	g.client_rsa = path_join(g.dir, "client_rsa");
	if (!keygen(hostkey, "ed25519") || !keygen(hostkey2, "ed25519") ||
	    !keygen(g.client, "ed25519") || !keygen(g.wrong, "ed25519") || !keygen(rsa, "rsa") ||
	    !keygen(hostkey_rsa, "rsa")) {
		snprintf(g.why, sizeof g.why, "ssh-keygen failed");
		return 0;
	}
	/* The RSA key without its .pub beside it: libssh2 derives the public key. */
	char *rsa_pub = xasprintf("%s.pub", rsa);
	rename(rsa, g.client_rsa);
	char *auth = path_join(g.dir, "authorized_keys");
	char *client_pub = xasprintf("%s.pub", g.client);
	char *a1 = test_slurp(client_pub), *a2 = test_slurp(rsa_pub);
	char *authtext = xasprintf("%s%s", a1, a2);
	test_write(auth, authtext);
	chmod(auth, 0600);
	g.hostkey_pub = xasprintf("%s.pub", hostkey);
	g.hostkey2_pub = xasprintf("%s.pub", hostkey2);
	g.hostkey_rsa_pub = xasprintf("%s.pub", hostkey_rsa);
	if (!keygen_fp(g.hostkey_pub, g.fp, sizeof g.fp) ||
	    !keygen_fp(g.hostkey2_pub, g.fp2, sizeof g.fp2)) {
		snprintf(g.why, sizeof g.why, "ssh-keygen -l failed");
		return 0;
	}
	g.keys_ok = true;

	/* The remote login shell's home: a .bashrc that speaks when asked to (bash reads it when
	 * started by sshd). */
	char *rhome = path_join(g.dir, "remote-home");
	mkdir(rhome, 0755);
	char *bashrc = path_join(rhome, ".bashrc");
	test_write(bashrc, "[ -f \"$HOME/noisy\" ] && echo 'rc-noise from .bashrc'\n");
	free(bashrc);
	free(rhome);

	/* The fake sudo. */
	char *bin = path_join(g.dir, "bin");
	mkdir(bin, 0755);
	char *sudo = path_join(bin, "sudo");
	test_write(sudo, fake_sudo);
	chmod(sudo, 0755);

	if (access(SSHD, X_OK) != 0) {
		snprintf(g.why, sizeof g.why,
			 "%s is not installed (apt-get install openssh-server)", SSHD);
		return 0;
	}
	/* sshd started by root needs its privilege separation directory (what the package's init
	 * script creates; empty, root's). Nothing in /etc/ssh or ~/.ssh is touched. */
	if (geteuid() == 0 && !path_is_dir("/run/sshd"))
		mkdir("/run/sshd", 0755);

	for (int attempt = 0; attempt < 5 && !g.sshd_ok; attempt++) {
		g.port = free_port();
		char *cfg = write_config(true);
		char *tcheck[] = { (char *)SSHD, "-t", "-f", cfg, NULL };
		if (run_local(tcheck, NULL) != 0) {
			free(cfg);
			cfg = write_config(false);
			char *tcheck2[] = { (char *)SSHD, "-t", "-f", cfg, NULL };
			if (run_local(tcheck2, NULL) != 0) {
				snprintf(g.why, sizeof g.why,
					 "sshd -t rejects the generated config");
				free(cfg);
				break;
			}
		}
		char *log = path_join(g.dir, "sshd.log");
		pid_t pid = fork();
		if (pid == 0) {
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
			dup2(fd, 2);
			int devnull = open("/dev/null", O_RDWR);
			dup2(devnull, 0);
			dup2(devnull, 1);
			execl(SSHD, SSHD, "-D", "-e", "-f", cfg, (char *)NULL);
			_exit(127);
		}
		g.sshd_pid = pid;
		for (int i = 0; i < 100; i++) {
			if (port_answers(g.port)) {
				g.sshd_ok = true;
				break;
			}
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				g.sshd_pid = 0;
				break;
			}
			usleep(50000);
		}
		if (!g.sshd_ok && g.sshd_pid) {
			kill(g.sshd_pid, SIGTERM);
			waitpid(g.sshd_pid, NULL, 0);
			g.sshd_pid = 0;
		}
		if (!g.sshd_ok)
			snprintf(g.why, sizeof g.why, "sshd did not start (see %s)", log);
		free(log);
		free(cfg);
	}
	if (g.sshd_ok) {
		g.kh = path_join(g.dir, "known_hosts");
		char *name = xasprintf("[127.0.0.1]:%d", g.port);
		char *line = kh_line(name, g.hostkey_pub);
		test_write(g.kh, line);
		free(line);
		free(name);
	}
	free(hostkey);
	free(hostkey2);
	free(rsa);
	free(rsa_pub);
	free(auth);
	free(authtext);
	free(a1);
	free(a2);
	free(client_pub);
	free(hostkey_rsa);
	free(bin);
	free(sudo);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (g.sshd_pid > 0) {
		kill(g.sshd_pid, SIGTERM);
		waitpid(g.sshd_pid, NULL, 0);
	}
	if (g.dir)
		test_rmrf(g.dir);
	free(g.dir);
	free(g.kh);
	free(g.client);
	free(g.client_rsa);
	free(g.wrong);
	free(g.hostkey_pub);
	free(g.hostkey2_pub);
	free(g.hostkey_rsa_pub);
	return 0;
}

#define NEED_KEYS() test_need(g.keys_ok, "ssh-keygen: %s", g.why)
#define NEED_SSHD() test_need(g.sshd_ok, "no test sshd: %s", g.why)

/* On a failure, the end of sshd's log says what the server saw. */
static void sshd_log_tail(void)
{
	if (!g.dir)
		return;
	char *log = path_join(g.dir, "sshd.log");
	char *text = test_slurp(log);
	if (text) {
		size_t len = strlen(text), n = 0, i = len;
		while (i > 0 && n < 40)
			if (text[--i] == '\n')
				n++;
		print_message("---- end of %s ----\n%s\n----\n", log, text + i);
	}
	free(text);
	free(log);
}
#define FAIL(...)                                                                                  \
	do {                                                                                       \
		sshd_log_tail();                                                                   \
		fail_msg(__VA_ARGS__);                                                             \
	} while (0)

/* ---- driving commands through the transport ops, as the runner does ---- */

struct run {
	struct transport *t;
	struct tproc *p;
	struct strbuf out, err;
	bool done;
	cw_status st;
	struct cw_error e;
	struct proc_result res;
};

static void cap_fn(void *ctx, int stream, const char *data, size_t len)
{
	struct run *r = ctx;
	assert_true(stream == 1 || stream == 2);
	strbuf_add(stream == 1 ? &r->out : &r->err, data, len);
}

static struct transport *ssh_new(const char *kh, const char *identity, int timeout_s)
{
	struct ssh_opts o = {
		.host = "127.0.0.1",
		.port = g.port,
		.user = g.user,
		.identity = identity,
		.known_hosts = kh,
		.connect_timeout_s = timeout_s,
	};
	struct transport *t = NULL;
	struct cw_error e;
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_OK);
	assert_non_null(t);
	assert_string_equal(t->ops->name, "ssh");
	assert_false(t->is_local);
	return t;
}

static void run_init(struct run *r, struct transport *t)
{
	memset(r, 0, sizeof *r);
	r->t = t;
	strbuf_init(&r->out);
	strbuf_init(&r->err);
	strbuf_adds(&r->out, "");
	strbuf_adds(&r->err, "");
}

static void run_start(struct run *r, char *const *argv)
{
	cw_status st = r->t->ops->start(r->t, argv, &r->p, &r->e);
	if (st != CW_OK)
		FAIL("start failed: %s", r->e.msg);
	assert_non_null(r->p);
}

static void run_done(struct run *r)
{
	if (r->p)
		r->t->ops->proc_free(r->t, r->p);
	r->p = NULL;
	strbuf_done(&r->out);
	strbuf_done(&r->err);
}

static void pump_one(struct run *r)
{
	if (r->done)
		return;
	bool done = false;
	struct proc_result res;
	memset(&res, 0, sizeof res);
	struct cw_error e;
	cw_error_clear(&e);
	cw_status st = r->t->ops->pump(r->t, r->p, cap_fn, r, &done, &res, &e);
	if (st != CW_OK || done) {
		r->done = true;
		r->st = st;
		r->res = res;
		r->e = e;
		if (st != CW_OK)
			assert_true(done); /* an error ends the command */
	}
}

/* One poll loop for all runs (like runner_poll_many). poll_ms bounds each wait; *stalls counts
 * waits that ended by time although nothing timed was due: with poll_ms long, a lost wake-up
 * shows there. Returns how many ended before limit_ms. */
static long drive_wakes; /* how many times drive's poll returned, for the busy-loop test */

static size_t drive(struct run **runs, size_t n, int limit_ms, int poll_ms, int *stalls)
{
	int64_t end = now_ms() + limit_ms;
	struct pollfd *fds = xcalloc(n * 4 + 1, sizeof *fds);
	for (;;) {
		size_t ended = 0;
		int nfds = 0;
		for (size_t i = 0; i < n; i++) {
			if (runs[i]->done) {
				ended++;
				continue;
			}
			nfds += runs[i]->t->ops->pollfds(runs[i]->t, runs[i]->p, fds + nfds, 4);
		}
		if (ended == n || now_ms() >= end) {
			free(fds);
			return ended;
		}
		int r = poll(fds, (nfds_t)nfds, poll_ms);
		drive_wakes++;
		if (r == 0 && stalls)
			(*stalls)++;
		for (size_t i = 0; i < n; i++)
			pump_one(runs[i]);
	}
}

static void run_to_end(struct run *r, int limit_ms)
{
	struct run *one[] = { r };
	if (drive(one, 1, limit_ms, 100, NULL) != 1)
		FAIL("the command did not end within %d ms", limit_ms);
}

/* Run argv on t to its end. */
static void run_argv(struct run *r, struct transport *t, char *const *argv)
{
	run_init(r, t);
	run_start(r, argv);
	run_to_end(r, 60000);
}

/* ---- processes on this machine (sshd is local) ---- */

/* pid of a process whose command line is exactly argv-joined-by-spaces, or 0. */
static pid_t find_process(const char *cmdline)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;
	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		char path[64], buf[512];
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		while (n && buf[n - 1] == ' ')
			n--;
		buf[n] = '\0';
		if (strcmp(buf, cmdline) == 0) {
			found = (pid_t)pid;
			break;
		}
	}
	if (d)
		closedir(d);
	return found;
}

static bool process_gone_within(const char *cmdline, int ms)
{
	int64_t end = now_ms() + ms;
	do {
		if (!find_process(cmdline))
			return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

/* The state letter of a process (R, S, T, Z...), or 0 when there is no such process. */
static char pid_state(long pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')'); /* the name may hold blanks and parentheses */
	return paren && paren[1] == ' ' ? paren[2] : 0;
}

/* Wait until the process is in one of states ("" + 0: gone; "Z" counts as gone too). */
static bool pid_reaches_within(long pid, const char *states, int ms)
{
	int64_t end = now_ms() + ms;
	do {
		char c = pid_state(pid);
		if (c == 0 || c == 'Z' || c == 'X' ? strchr(states, 'X') != NULL : strchr(states, c) != NULL)
			return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

/* The sleeper of a command that printed "started" may not have been exec'd yet: wait for it
 * (a condition, with a limit far above what a busy machine needs). */
static bool process_appears_within(const char *cmdline, int ms)
{
	int64_t end = now_ms() + ms;
	do {
		if (find_process(cmdline) > 0)
			return true;
		usleep(20000);
	} while (now_ms() < end);
	return false;
}

/* "sleep N" with an N unique to this test process and to n: a process the tests can look for
 * without mistaking another run's for it. */
static const char *sleeper(int n)
{
	static char buf[10][48];
	snprintf(buf[n], sizeof buf[n], "sleep 7%07d%d", (int)getpid(), n);
	return buf[n];
}

/* Pump until stdout holds want (the command is running). */
static void wait_output(struct run *r, const char *want, int limit_ms)
{
	int64_t end = now_ms() + limit_ms;
	struct run *one[] = { r };
	while (!strstr(r->out.buf, want)) {
		if (r->done)
			FAIL("ended before printing \"%s\": %s (stderr: %s)", want, r->e.msg,
			     r->err.buf);
		if (now_ms() >= end)
			FAIL("no \"%s\" within %d ms", want, limit_ms);
		drive(one, 1, 100, 50, NULL);
	}
}

/* ---- tests with the server ---- */

static void test_exit_codes_and_streams(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;

	/* Several commands in sequence on one transport, each on its own channel. */
	char *a1[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	run_argv(&r, t, a1);
	if (r.st != CW_OK)
		FAIL("%s", r.e.msg);
	assert_string_equal(r.out.buf, "out\n");
	assert_string_equal(r.err.buf, "err\n");
	assert_int_equal(r.res.exit_code, 3);
	assert_int_equal(r.res.term_signal, 0);
	assert_string_equal(r.res.signal_name, "");
	run_done(&r);

	char *a2[] = { "true", NULL };
	run_argv(&r, t, a2);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, 0);
	assert_string_equal(r.out.buf, "");
	assert_string_equal(r.err.buf, "");
	run_done(&r);

	char *a3[] = { "sh", "-c", "printf 'no newline'; exit 255", NULL };
	run_argv(&r, t, a3);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, 255);
	assert_string_equal(r.out.buf, "no newline");
	run_done(&r);

	/* A command that is not there: the remote shell's 127. */
	char *a4[] = { "certwiz-no-such-command", NULL };
	run_argv(&r, t, a4);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, 127);
	assert_non_null(strstr(r.err.buf, "certwiz-no-such-command"));
	run_done(&r);

	/* stdin is at end of file: cat returns at once. */
	char *a5[] = { "cat", NULL };
	run_argv(&r, t, a5);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, 0);
	run_done(&r);

	/* Output that starts like the pid marker is passed on untouched. */
	char *a6[] = { "printf", "certwiz-remote-pid=12\ncertwiz-remote-pid=\n", NULL };
	run_argv(&r, t, a6);
	assert_int_equal(r.st, CW_OK);
	assert_string_equal(r.out.buf, "certwiz-remote-pid=12\ncertwiz-remote-pid=\n");
	run_done(&r);

	t->ops->free(t);
}

static void test_signals(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;
	char *a1[] = { "sh", "-c", "echo before; kill -TERM $$; echo after", NULL };
	run_argv(&r, t, a1);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, -1);
	assert_string_equal(r.res.signal_name, "TERM");
	assert_int_equal(r.res.term_signal, SIGTERM);
	assert_string_equal(r.out.buf, "before\n");
	run_done(&r);

	char *a2[] = { "sh", "-c", "kill -KILL $$", NULL };
	run_argv(&r, t, a2);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, -1);
	assert_string_equal(r.res.signal_name, "KILL");
	assert_int_equal(r.res.term_signal, SIGKILL);
	run_done(&r);
	t->ops->free(t);
}

static void test_large_output_both_streams(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;
	run_init(&r, t);
	/* Both streams at once, a few MB each: nothing may be lost, nothing may block. */
	char *argv[] = { "sh", "-c",
			 "head -c 4000000 /dev/zero | tr '\\000' o & "
			 "head -c 3000000 /dev/zero | tr '\\000' e >&2; wait; echo end",
			 NULL };
	run_start(&r, argv);
	struct run *one[] = { &r };
	int stalls = 0;
	int64_t t0 = now_ms();
	/* Long poll waits: a lost wake-up would show as a stall. */
	assert_int_equal(drive(one, 1, 120000, 5000, &stalls), 1);
	print_message("7 MB in %lld ms\n", (long long)(now_ms() - t0));
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, 0);
	assert_int_equal(r.out.len, 4000000 + 4);
	assert_int_equal(r.err.len, 3000000);
	for (size_t i = 0; i < 4000000; i++)
		if (r.out.buf[i] != 'o')
			FAIL("stdout byte %zu is %d", i, r.out.buf[i]);
	assert_memory_equal(r.out.buf + 4000000, "end\n", 4);
	for (size_t i = 0; i < r.err.len; i++)
		if (r.err.buf[i] != 'e')
			FAIL("stderr byte %zu is %d", i, r.err.buf[i]);
	assert_int_equal(stalls, 0);
	run_done(&r);
	t->ops->free(t);
}

static const char *const tricky[] = {
	"plain",
	"",
	"two words",
	"it's",
	"'",
	"\"dq\"",
	"back\\slash",
	"$(touch /tmp/certwiz-ssh-pwned)",
	"`touch /tmp/certwiz-ssh-pwned`",
	"$HOME $$ $?",
	"*",
	"[a-z]*",
	"a;b|c&d",
	"<in",
	">/tmp/certwiz-ssh-pwned",
	"line1\nline2\n",
	"tab\there",
	"#hash",
	"~root",
	"{a,b}",
	"!x",
	"A=1",
	"-n",
	"--",
	"%s %d %%",
	"caf\xc3\xa9 \xe2\x9c\x93",
	"\xff\xfe not utf-8",
	NULL,
};

static void test_argv_verbatim(void **state)
{
	(void)state;
	NEED_SSHD();
	unlink("/tmp/certwiz-ssh-pwned");
	struct transport *t = ssh_new(g.kh, g.client, 20);
	char **argv = NULL;
	strv_push(&argv, "printf");
	strv_push(&argv, "%s\\0");
	for (size_t i = 0; tricky[i]; i++)
		strv_push(&argv, tricky[i]);
	struct run r;
	run_argv(&r, t, argv);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, 0);
	size_t off = 0;
	for (size_t i = 0; tricky[i]; i++) {
		size_t wl = strlen(tricky[i]);
		if (off + wl >= r.out.len || memcmp(r.out.buf + off, tricky[i], wl) != 0 ||
		    r.out.buf[off + wl] != '\0')
			FAIL("word %zu (\"%s\") did not arrive verbatim", i, tricky[i]);
		off += wl + 1;
	}
	assert_int_equal(off, r.out.len);
	assert_false(path_exists("/tmp/certwiz-ssh-pwned"));
	run_done(&r);
	strv_free(argv);
	t->ops->free(t);
}

/* Run `true` on a new transport and return how it ended. */
static cw_status connect_once(const char *kh, const char *identity, int timeout_s,
			      struct cw_error *e)
{
	struct transport *t = ssh_new(kh, identity, timeout_s);
	struct run r;
	char *argv[] = { "true", NULL };
	run_argv(&r, t, argv);
	cw_status st = r.st;
	*e = r.e;
	if (st == CW_OK)
		assert_int_equal(r.res.exit_code, 0);
	else
		assert_int_equal(r.res.exit_code, -1);
	run_done(&r);
	t->ops->free(t);
	return st;
}

static void test_unknown_host_refused(void **state)
{
	(void)state;
	NEED_SSHD();
	struct cw_error e;
	char *kh = path_join(g.dir, "kh-empty");
	test_write(kh, "# nothing here\n");
	assert_int_equal(connect_once(kh, g.client, 20, &e), CW_EHOSTKEY);
	print_message("%s\n", e.msg);
	assert_non_null(strstr(e.msg, g.fp)); /* the fingerprint, as ssh-keygen prints it */
	assert_non_null(strstr(e.msg, "ED25519"));
	assert_non_null(strstr(e.msg, "ssh-keyscan"));
	assert_non_null(strstr(e.msg, "-t ed25519"));
	assert_non_null(strstr(e.msg, kh));

	/* A missing file is the same question. */
	char *missing = path_join(g.dir, "no-such-known-hosts");
	assert_int_equal(connect_once(missing, g.client, 20, &e), CW_EHOSTKEY);
	assert_non_null(strstr(e.msg, g.fp));
	assert_false(path_exists(missing)); /* never written behind the operator's back */

	/* An entry for the address without the port does not count for another port. */
	char *line = kh_line("127.0.0.1", g.hostkey_pub);
	test_write(kh, line);
	assert_int_equal(connect_once(kh, g.client, 20, &e), CW_EHOSTKEY);
	assert_non_null(strstr(e.msg, g.fp));
	free(line);
	free(missing);
	free(kh);
}

static void test_changed_host_key_refused(void **state)
{
	(void)state;
	NEED_SSHD();
	struct cw_error e;
	char *kh = path_join(g.dir, "kh-changed");
	char *name = xasprintf("[127.0.0.1]:%d", g.port);
	char *line = kh_line(name, g.hostkey2_pub);
	test_write(kh, line);
	assert_int_equal(connect_once(kh, g.client, 20, &e), CW_EHOSTKEY);
	print_message("%s\n", e.msg);
	assert_non_null(strstr(e.msg, "HOST KEY CHANGED"));
	assert_non_null(strstr(e.msg, g.fp));  /* what the server offers now */
	assert_non_null(strstr(e.msg, g.fp2)); /* what was known */
	free(line);
	free(name);
	free(kh);
}

static void test_hashed_known_hosts_accepted(void **state)
{
	(void)state;
	NEED_SSHD();
	struct cw_error e;
	char *kh = path_join(g.dir, "kh-hashed");
	char *name = xasprintf("[127.0.0.1]:%d", g.port);
	char *line = kh_line(name, g.hostkey_pub);
	test_write(kh, line);
	char *argv[] = { KEYGEN, "-H", "-f", kh, NULL };
	assert_int_equal(run_local(argv, NULL), 0);
	char *text = test_slurp(kh);
	assert_null(strstr(text, "127.0.0.1")); /* really hashed */
	assert_int_equal(connect_once(kh, g.client, 20, &e), CW_OK);
	free(text);
	free(line);
	free(name);
	free(kh);
}

static void test_wrong_client_key_refused(void **state)
{
	(void)state;
	NEED_SSHD();
	struct cw_error e;
	assert_int_equal(connect_once(g.kh, g.wrong, 20, &e), CW_EAUTH);
	print_message("%s\n", e.msg);
	assert_non_null(strstr(e.msg, g.wrong));
	assert_non_null(strstr(e.msg, g.user));

	char *missing = path_join(g.dir, "no-such-key");
	assert_int_equal(connect_once(g.kh, missing, 20, &e), CW_EAUTH);
	free(missing);
}

/* An identity file without its .pub beside it: libssh2 derives the public key. */
static void test_identity_without_pub(void **state)
{
	(void)state;
	NEED_SSHD();
	struct cw_error e;
	char *nopub = path_join(g.dir, "client_nopub");
	char *text = test_slurp(g.client);
	test_write(nopub, text);
	chmod(nopub, 0600);
	cw_status st = connect_once(g.kh, nopub, 20, &e);
	if (st != CW_OK)
		FAIL("%s", e.msg);
	free(text);
	free(nopub);
}

/* RSA keys: libssh2 1.10 signs with ssh-rsa (SHA-1), which this sshd (OpenSSH >= 8.8) refuses
 * by default. The refusal must say so; a libssh2 that signs with rsa-sha2 must get in. */
static void test_rsa_key(void **state)
{
	(void)state;
	NEED_SSHD();
	struct cw_error e;
	char *pub = xasprintf("%s.pub", g.client_rsa);
	assert_false(path_exists(pub));
	cw_status st = connect_once(g.kh, g.client_rsa, 20, &e);
#if LIBSSH2_VERSION_NUM < 0x010b00
	print_message("%s\n", e.msg);
	assert_int_equal(st, CW_EAUTH);
	assert_non_null(strstr(e.msg, "an RSA key"));
	assert_non_null(strstr(e.msg, "ed25519"));
#else
	if (st != CW_OK)
		FAIL("%s", e.msg);
#endif
	free(pub);
}

static void test_default_identity(void **state)
{
	(void)state;
	NEED_SSHD();
	struct cw_error e;
	char *old_home = xstrdup(getenv("HOME"));
	char *home = path_join(g.dir, "home");
	char *ssh = path_join(home, ".ssh");
	assert_int_equal(mkdir_p(ssh, 0700, NULL), CW_OK);
	setenv("HOME", home, 1);

	/* No key anywhere: a clear refusal. */
	assert_int_equal(connect_once(g.kh, NULL, 20, &e), CW_EAUTH);
	assert_non_null(strstr(e.msg, "id_ed25519"));

	/* ~/.ssh/id_ed25519 is used when no identity is set. */
	char *key = path_join(ssh, "id_ed25519");
	char *src = test_slurp(g.client);
	test_write(key, src);
	chmod(key, 0600);
	cw_status st = connect_once(g.kh, NULL, 20, &e);
	if (st != CW_OK)
		FAIL("%s", e.msg);

	/* and ~/.ssh/known_hosts when no known_hosts is set */
	char *kh = path_join(ssh, "known_hosts");
	char *text = test_slurp(g.kh);
	test_write(kh, text);
	assert_int_equal(connect_once(NULL, NULL, 20, &e), CW_OK);

	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_home);
	free(text);
	free(kh);
	free(src);
	free(key);
	free(ssh);
	free(home);
}

/* Keys from ssh-agent, when no identity file is set: the first key is refused, the second
 * accepted. */
static void test_ssh_agent(void **state)
{
	(void)state;
	NEED_SSHD();
	test_need(access("/usr/bin/ssh-agent", X_OK) == 0 && access("/usr/bin/ssh-add", X_OK) == 0,
		  "ssh-agent is not installed");
	char *sock = path_join(g.dir, "agent.sock");
	unlink(sock);
	pid_t agent = fork();
	if (agent == 0) {
		int devnull = open("/dev/null", O_RDWR);
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		execl("/usr/bin/ssh-agent", "ssh-agent", "-D", "-a", sock, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !path_exists(sock); i++)
		usleep(20000);
	assert_true(path_exists(sock));
	setenv("SSH_AUTH_SOCK", sock, 1);
	char *old_home = xstrdup(getenv("HOME"));
	char *home = path_join(g.dir, "agent-home"); /* no keys in ~/.ssh */
	mkdir(home, 0700);
	setenv("HOME", home, 1);

	char *add_wrong[] = { "/usr/bin/ssh-add", g.wrong, NULL };
	char *add_right[] = { "/usr/bin/ssh-add", g.client, NULL };
	char *del_all[] = { "/usr/bin/ssh-add", "-D", NULL };
	assert_int_equal(run_local(add_wrong, NULL), 0);
	assert_int_equal(run_local(add_right, NULL), 0);
	struct cw_error e;
	cw_status st = connect_once(g.kh, NULL, 20, &e);
	if (st != CW_OK)
		FAIL("%s", e.msg);

	/* Only a key the server does not know: refused, and the message says what was tried. */
	assert_int_equal(run_local(del_all, NULL), 0);
	assert_int_equal(run_local(add_wrong, NULL), 0);
	assert_int_equal(connect_once(g.kh, NULL, 20, &e), CW_EAUTH);
	print_message("%s\n", e.msg);
	assert_non_null(strstr(e.msg, "ssh-agent"));

	/* An identity file set: the agent is not used. */
	assert_int_equal(connect_once(g.kh, g.wrong, 20, &e), CW_EAUTH);
	assert_null(strstr(e.msg, "ssh-agent"));

	unsetenv("SSH_AUTH_SOCK");
	kill(agent, SIGTERM);
	waitpid(agent, NULL, 0);
	if (old_home)
		setenv("HOME", old_home, 1);
	free(old_home);
	free(home);
	free(sock);
}

/* A listening socket that never answers: the connect timeout must end it. */
static void test_connect_timeout(void **state)
{
	(void)state;
	NEED_KEYS();
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof a;
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(ls, 8), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	int port = ntohs(a.sin_port);

	struct ssh_opts o = { .host = "silent.test",
			      .address = "127.0.0.1",
			      .port = port,
			      .user = g.user,
			      .identity = g.client,
			      .known_hosts = g.kh,
			      .connect_timeout_s = 2 };
	struct transport *t;
	struct cw_error e;
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_OK);
	assert_string_equal(t->label, "silent.test");
	struct run r;
	run_init(&r, t);
	char *argv[] = { "true", NULL };
	int64_t t0 = now_ms();
	run_start(&r, argv);
	run_to_end(&r, 10000);
	int64_t took = now_ms() - t0;
	print_message("%s (after %lld ms)\n", r.e.msg, (long long)took);
	assert_int_equal(r.st, CW_ECONNECT);
	assert_non_null(strstr(r.e.msg, "silent.test"));
	assert_non_null(strstr(r.e.msg, "2 s"));
	assert_true(took >= 1900);
	assert_true(took < 4000);
	run_done(&r);

	/* The same for a pre-flight connect. */
	t0 = now_ms();
	assert_int_equal(transport_ssh_connect(t, &e), CW_ECONNECT);
	took = now_ms() - t0;
	assert_true(took >= 1900 && took < 4000);

	/* The same through the runner. */
	struct proc_result res;
	t0 = now_ms();
	assert_int_equal(runner_run(t, argv, NULL, &res, &e), CW_ECONNECT);
	took = now_ms() - t0;
	assert_true(took >= 1900 && took < 4000);
	assert_int_equal(res.exit_code, -1);
	t->ops->free(t);
	close(ls);

	/* A closed port fails at once. */
	o.port = free_port();
	o.host = "127.0.0.1";
	o.address = NULL;
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_OK);
	t0 = now_ms();
	cw_status st = runner_run(t, argv, NULL, &res, &e);
	assert_int_equal(st, CW_ECONNECT);
	assert_true(now_ms() - t0 < 1500);
	assert_non_null(strstr(e.msg, "refused"));
	t->ops->free(t);

	/* A name that does not resolve: at start. */
	o.host = "certwiz-no-such-host.invalid";
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_OK);
	struct tproc *p = NULL;
	assert_int_equal(t->ops->start(t, argv, &p, &e), CW_ECONNECT);
	assert_null(p);
	assert_non_null(strstr(e.msg, "certwiz-no-such-host.invalid"));
	t->ops->free(t);
}

static void test_kill_soft_and_hard(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;

	/* SIGTERM reaches the command and what it started (the remote process group). */
	run_init(&r, t);
	char *script1 = xasprintf("echo started; %s; echo never", sleeper(1));
	char *a1[] = { "sh", "-c", script1, NULL };
	run_start(&r, a1);
	wait_output(&r, "started\n", 20000);
	assert_true(process_appears_within(sleeper(1), 20000));
	int64_t t0 = now_ms();
	t->ops->kill(t, r.p, false);
	run_to_end(&r, 10000);
	print_message("TERM: ended after %lld ms\n", (long long)(now_ms() - t0));
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, -1);
	assert_string_equal(r.res.signal_name, "TERM");
	assert_null(strstr(r.out.buf, "never"));
	assert_true(process_gone_within(sleeper(1), 20000));
	free(script1);
	run_done(&r);

	/* A command that ignores SIGTERM: the hard kill. */
	run_init(&r, t);
	char *script2 = xasprintf("trap '' TERM; echo started; %s; echo never", sleeper(2));
	char *a2[] = { "sh", "-c", script2, NULL };
	run_start(&r, a2);
	wait_output(&r, "started\n", 20000);
	t->ops->kill(t, r.p, false);
	struct run *one[] = { &r };
	drive(one, 1, 1000, 50, NULL);
	assert_false(r.done); /* TERM is ignored */
	assert_true(process_appears_within(sleeper(2), 20000));
	t->ops->kill(t, r.p, true);
	run_to_end(&r, 10000);
	assert_int_equal(r.res.exit_code, -1);
	assert_string_equal(r.res.signal_name, "KILL");
	assert_true(process_gone_within(sleeper(2), 20000));
	free(script2);
	run_done(&r);

	/* The transport still works afterwards. */
	char *a3[] = { "echo", "still here", NULL };
	run_argv(&r, t, a3);
	assert_int_equal(r.st, CW_OK);
	assert_string_equal(r.out.buf, "still here\n");
	run_done(&r);

	/* A kill before the command even connected: it never runs. */
	struct transport *t2 = ssh_new(g.kh, g.client, 20);
	run_init(&r, t2);
	run_start(&r, a3);
	t2->ops->kill(t2, r.p, false);
	run_to_end(&r, 5000);
	assert_int_equal(r.res.exit_code, -1);
	assert_string_equal(r.out.buf, "");
	run_done(&r);
	/* ... and the next command connects afresh. */
	run_argv(&r, t2, a3);
	assert_int_equal(r.st, CW_OK);
	assert_string_equal(r.out.buf, "still here\n");
	run_done(&r);
	t2->ops->free(t2);
	t->ops->free(t);
}

/* The runner's command timeout on an SSH command: SIGTERM, and the remote command is gone. */
static void test_runner_timeout(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	char *script3 = xasprintf("echo started; %s", sleeper(3));
	char *argv[] = { "sh", "-c", script3, NULL };
	struct runner_opts o = { .timeout_s = 1 };
	struct proc_result res;
	struct cw_error e;
	int64_t t0 = now_ms();
	cw_status st = runner_run(t, argv, &o, &res, &e);
	int64_t took = now_ms() - t0;
	print_message("%s (after %lld ms)\n", e.msg, (long long)took);
	assert_int_equal(st, CW_ETIMEOUT);
	assert_true(res.timed_out);
	assert_int_equal(res.exit_code, -1);
	assert_true(took < 5000);
	assert_true(process_gone_within(sleeper(3), 20000));
	free(script3);

	/* And a normal run through the runner, output captured. */
	char *a2[] = { "sh", "-c", "echo hello; echo oops >&2; exit 4", NULL };
	char *out = NULL, *err = NULL;
	assert_int_equal(runner_capture(t, a2, 30, 1 << 20, &out, &err, &res, &e), CW_OK);
	assert_string_equal(out, "hello\n");
	assert_string_equal(err, "oops\n");
	assert_int_equal(res.exit_code, 4);
	free(out);
	free(err);
	t->ops->free(t);
}

/* The connection dies under a running command: reported, not waited on; the next command
 * connects again. */
static void test_connection_lost(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;
	run_init(&r, t);
	/* $PPID is sshd's process for this connection. */
	char *a1[] = { "sh", "-c", "echo started; kill -9 $PPID; sleep 3", NULL };
	run_start(&r, a1);
	run_to_end(&r, 10000);
	print_message("%s\n", r.e.msg);
	assert_int_equal(r.st, CW_ECONNECT);
	assert_non_null(strstr(r.e.msg, "127.0.0.1"));
	run_done(&r);

	char *a2[] = { "echo", "again", NULL };
	run_argv(&r, t, a2);
	assert_int_equal(r.st, CW_OK);
	assert_string_equal(r.out.buf, "again\n");
	run_done(&r);
	t->ops->free(t);
}

/* The connection dies while no command runs (an sshd restart, a forgetful NAT): the next command
 * connects again instead of failing. */
static void test_idle_session_died(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;
	char *a1[] = { "sh", "-c", "echo $PPID", NULL };
	run_argv(&r, t, a1);
	assert_int_equal(r.st, CW_OK);
	long sshd_child = strtol(r.out.buf, NULL, 10);
	assert_true(sshd_child > 1);
	run_done(&r);
	/* sshd's process for this connection (a child of the test's sshd) */
	assert_int_equal(kill((pid_t)sshd_child, SIGKILL), 0);
	assert_true(pid_reaches_within(sshd_child, "X", 20000)); /* gone (or a zombie) */

	char *a2[] = { "echo", "reconnected", NULL };
	run_argv(&r, t, a2);
	if (r.st != CW_OK)
		FAIL("%s", r.e.msg);
	assert_string_equal(r.out.buf, "reconnected\n");
	run_done(&r);
	t->ops->free(t);
}

/* The host stops answering mid-command (its sshd process is stopped): a hard kill still ends the
 * command within a few seconds. */
static void test_host_stops_answering(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;
	run_init(&r, t);
	char *script4 = xasprintf("echo ppid=$PPID; sleep 1; kill -STOP $PPID; %s", sleeper(4));
	char *a1[] = { "sh", "-c", script4, NULL };
	run_start(&r, a1);
	wait_output(&r, "\n", 20000);
	long sshd_child = 0;
	assert_int_equal(sscanf(r.out.buf, "ppid=%ld", &sshd_child), 1);
	assert_true(sshd_child > 1);
	assert_true(pid_reaches_within(sshd_child, "T", 20000)); /* now stopped */
	int64_t t0 = now_ms();
	t->ops->kill(t, r.p, false);
	t->ops->kill(t, r.p, true);
	run_to_end(&r, 15000);
	int64_t took = now_ms() - t0;
	print_message("ended %lld ms after the hard kill\n", (long long)took);
	assert_true(took < 15000);
	assert_int_equal(r.res.exit_code, -1);
	run_done(&r);

	/* Clean up what this test started: the stopped sshd process, and its sleep. */
	kill((pid_t)sshd_child, SIGKILL);
	pid_t sl = find_process(sleeper(4));
	free(script4);
	if (sl > 0)
		kill(sl, SIGKILL);

	/* The transport connects again. */
	char *a2[] = { "echo", "again", NULL };
	run_argv(&r, t, a2);
	assert_int_equal(r.st, CW_OK);
	assert_string_equal(r.out.buf, "again\n");
	run_done(&r);
	t->ops->free(t);
}

/* A login script that prints: its output comes before the pid line and is passed on; kill
 * still finds the command. */
static void test_login_script_output(void **state)
{
	(void)state;
	NEED_SSHD();
	struct passwd *pw = getpwuid(geteuid());
	if (!pw || !strstr(pw->pw_shell, "bash")) {
		print_message("skipped: the login shell is not bash\n");
		skip();
	}
	char *noisy = path_join(g.dir, "remote-home/noisy");
	test_write(noisy, "");
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;
	char *a1[] = { "echo", "hi", NULL };
	run_argv(&r, t, a1);
	assert_int_equal(r.st, CW_OK);
	assert_string_equal(r.out.buf, "rc-noise from .bashrc\nhi\n");
	run_done(&r);

	run_init(&r, t);
	char *script6 = xasprintf("echo started; %s", sleeper(6));
	char *a2[] = { "sh", "-c", script6, NULL };
	run_start(&r, a2);
	wait_output(&r, "started\n", 20000);
	t->ops->kill(t, r.p, false);
	run_to_end(&r, 10000);
	assert_string_equal(r.res.signal_name, "TERM");
	assert_string_equal(r.out.buf, "rc-noise from .bashrc\nstarted\n");
	assert_true(process_gone_within(sleeper(6), 20000));
	free(script6);
	run_done(&r);
	unlink(noisy);
	free(noisy);
	t->ops->free(t);
}

static void test_sudo(void **state)
{
	(void)state;
	NEED_SSHD();
	char *mode = path_join(g.dir, "sudo-mode");
	char *args = path_join(g.dir, "sudo-args");
	struct ssh_opts o = { .host = "127.0.0.1",
			      .port = g.port,
			      .user = g.user,
			      .identity = g.client,
			      .known_hosts = g.kh,
			      .sudo = true,
			      .connect_timeout_s = 20 };
	struct transport *t;
	struct cw_error e;
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_OK);
	struct run r;

	/* sudo -n -- ARGV, the words intact. */
	test_write(mode, "ok\n");
	unlink(args);
	char *a1[] = { "printf", "%s|", "it's", "a b", NULL };
	run_argv(&r, t, a1);
	if (r.st != CW_OK)
		FAIL("%s", r.e.msg);
	assert_int_equal(r.res.exit_code, 0);
	assert_string_equal(r.out.buf, "it's|a b|");
	char *got = test_slurp(args);
	assert_string_equal(got, "-n -- printf %s| it's a b\n");
	free(got);
	run_done(&r);

	/* A kill goes through sudo too (the command may be root's). */
	unlink(args);
	run_init(&r, t);
	char *script5 = xasprintf("echo started; %s", sleeper(5));
	char *a2[] = { "sh", "-c", script5, NULL };
	run_start(&r, a2);
	wait_output(&r, "started\n", 20000);
	t->ops->kill(t, r.p, false);
	run_to_end(&r, 10000);
	assert_string_equal(r.res.signal_name, "TERM");
	assert_true(process_gone_within(sleeper(5), 20000));
	free(script5);
	got = test_slurp(args);
	assert_non_null(strstr(got, "-n -- kill -s TERM -- -"));
	free(got);
	run_done(&r);

	/* sudo that wants a password: a clear error. */
	test_write(mode, "password\n");
	char *a3[] = { "id", NULL };
	run_argv(&r, t, a3);
	print_message("%s\n", r.e.msg);
	assert_int_equal(r.st, CW_EAUTH);
	assert_non_null(strstr(r.e.msg, "sudo on 127.0.0.1 needs a password"));
	assert_non_null(strstr(r.e.msg, "NOPASSWD"));
	run_done(&r);

	/* The same words from a command that is not sudo are just its output. */
	struct transport *t2 = ssh_new(g.kh, g.client, 20);
	char *a4[] = { "sh", "-c", "echo 'sudo: a password is required' >&2; exit 1", NULL };
	run_argv(&r, t2, a4);
	assert_int_equal(r.st, CW_OK);
	assert_int_equal(r.res.exit_code, 1);
	run_done(&r);
	t2->ops->free(t2);
	t->ops->free(t);
	unlink(mode);
	free(mode);
	free(args);
}

/* 50 hosts at once (50 transports to one sshd), one poll loop for all. */
#define NHOSTS 50
static void test_fifty_concurrent(void **state)
{
	(void)state;
	NEED_SSHD();
	struct run runs[NHOSTS], *rp[NHOSTS];
	char idx[NHOSTS][16];
	int64_t t0 = now_ms();
	for (int i = 0; i < NHOSTS; i++) {
		struct transport *t = ssh_new(g.kh, g.client, 60);
		run_init(&runs[i], t);
		rp[i] = &runs[i];
		snprintf(idx[i], sizeof idx[i], "%d", i);
		char *argv[] = {
			"sh",
			"-c",
			"echo out-$1; echo err-$1 >&2; sleep 0.$(($1 % 3)); exit $(($1 % 7))",
			"sh",
			idx[i],
			NULL
		};
		run_start(&runs[i], argv);
	}
	int stalls = 0;
	size_t ended = drive(rp, NHOSTS, 120000, 5000, &stalls);
	print_message("%d hosts in %lld ms\n", NHOSTS, (long long)(now_ms() - t0));
	assert_int_equal(ended, NHOSTS);
	for (int i = 0; i < NHOSTS; i++) {
		struct run *r = &runs[i];
		if (r->st != CW_OK)
			FAIL("host %d: %s", i, r->e.msg);
		char want[32];
		snprintf(want, sizeof want, "out-%d\n", i);
		assert_string_equal(r->out.buf, want);
		snprintf(want, sizeof want, "err-%d\n", i);
		assert_string_equal(r->err.buf, want);
		assert_int_equal(r->res.exit_code, i % 7);
	}
	assert_int_equal(stalls, 0);
	/* A second round on the same 50 sessions. */
	for (int i = 0; i < NHOSTS; i++) {
		struct transport *t = runs[i].t;
		run_done(&runs[i]);
		run_init(&runs[i], t);
		char *argv[] = { "echo", idx[i], NULL };
		run_start(&runs[i], argv);
	}
	assert_int_equal(drive(rp, NHOSTS, 60000, 100, NULL), NHOSTS);
	for (int i = 0; i < NHOSTS; i++) {
		char want[32];
		snprintf(want, sizeof want, "%d\n", i);
		assert_int_equal(runs[i].st, CW_OK);
		assert_string_equal(runs[i].out.buf, want);
		struct transport *t = runs[i].t;
		run_done(&runs[i]);
		t->ops->free(t);
	}
}

/* Two commands at once on one transport (one session, two channels). */
static void test_two_commands_one_session(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run a, b, *both[] = { &a, &b };
	run_init(&a, t);
	run_init(&b, t);
	char *a1[] = { "sh", "-c", "sleep 0.3; echo A", NULL };
	char *a2[] = { "sh", "-c", "echo B; exit 2", NULL };
	run_start(&a, a1);
	run_start(&b, a2);
	assert_int_equal(drive(both, 2, 30000, 100, NULL), 2);
	assert_int_equal(a.st, CW_OK);
	assert_int_equal(b.st, CW_OK);
	assert_string_equal(a.out.buf, "A\n");
	assert_string_equal(b.out.buf, "B\n");
	assert_int_equal(a.res.exit_code, 0);
	assert_int_equal(b.res.exit_code, 2);
	run_done(&a);
	run_done(&b);
	t->ops->free(t);
}

/* Waiting for the server (a channel being opened, a command running) sleeps in poll: it is
 * woken by what arrives, not over and over by a socket that is merely writable. A fleet of a
 * few hundred agents pays for every needless wake-up in CPU. A channel open is one round trip
 * and a short command a few packets; spinning made that hundreds of wakes per command. */
static void test_waiting_does_not_spin(void **state)
{
	(void)state;
	NEED_SSHD();
	struct transport *t = ssh_new(g.kh, g.client, 20);
	struct run r;
	char *connect[] = { "true", NULL };
	run_argv(&r, t, connect); /* connected and authenticated: not counted */
	assert_int_equal(r.st, CW_OK);
	run_done(&r);
	enum { N = 20 };
	drive_wakes = 0;
	for (int i = 0; i < N; i++) {
		char *argv[] = { "sh", "-c", "sleep 0.05; echo x", NULL };
		run_argv(&r, t, argv);
		assert_int_equal(r.st, CW_OK);
		assert_string_equal(r.out.buf, "x\n");
		run_done(&r);
	}
	if (drive_wakes > 20 * N)
		FAIL("%ld wake-ups for %d short commands (a busy loop)", drive_wakes, N);
	t->ops->free(t);
}

/* What the wizard does for an unknown host: fetch the key, show it, record the operator's yes. */
static void test_fetch_and_record_hostkey(void **state)
{
	(void)state;
	NEED_SSHD();
	struct ssh_opts o = { .host = "127.0.0.1", .port = g.port, .connect_timeout_s = 20 };
	char *key = NULL;
	size_t keylen = 0;
	int keytype = 0;
	char fp[SSH_FINGERPRINT_MAX];
	struct cw_error e;
	cw_status st = ssh_hostkey_fetch(&o, &key, &keylen, &keytype, fp, sizeof fp, &e);
	if (st != CW_OK)
		FAIL("%s", e.msg);
	assert_string_equal(fp, g.fp);
	assert_int_equal(keytype, LIBSSH2_HOSTKEY_TYPE_ED25519);
	size_t bl;
	char *blob = pub_blob(g.hostkey_pub, &bl);
	assert_int_equal(keylen, bl);
	assert_memory_equal(key, blob, bl);

	char *kh = path_join(g.dir, "recorded/sub/known_hosts");
	/* Before: the host is unknown, and a pre-flight connect says so. */
	struct transport *t = ssh_new(kh, g.client, 20);
	assert_int_equal(transport_ssh_connect(t, &e), CW_EHOSTKEY);
	assert_non_null(strstr(e.msg, g.fp));
	assert_int_equal(ssh_known_hosts_add(kh, "127.0.0.1", g.port, key, keylen, &e), CW_OK);
	/* After: connected up front, then a command on the same session. */
	st = transport_ssh_connect(t, &e);
	if (st != CW_OK)
		FAIL("%s", e.msg);
	assert_int_equal(transport_ssh_connect(t, &e), CW_OK);
	struct run r;
	char *argv[] = { "echo", "recorded", NULL };
	run_argv(&r, t, argv);
	assert_int_equal(r.st, CW_OK);
	assert_string_equal(r.out.buf, "recorded\n");
	run_done(&r);
	t->ops->free(t);
	struct stat sb;
	assert_int_equal(stat(kh, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(connect_once(kh, g.client, 20, &e), CW_OK);
	free(kh);
	free(blob);
	free(key);
}

/* ---- known_hosts decisions, no server ---- */

static void test_hostkey_check_decisions(void **state)
{
	(void)state;
	NEED_KEYS();
	size_t len, len2;
	char *key = pub_blob(g.hostkey_pub, &len);
	char *key2 = pub_blob(g.hostkey2_pub, &len2);
	char *kh = path_join(g.dir, "kh-unit");
	char fp[SSH_FINGERPRINT_MAX];
	struct cw_error e;
	const int ED = LIBSSH2_HOSTKEY_TYPE_ED25519;

	/* The fingerprint is OpenSSH's. */
	ssh_key_fingerprint(key, len, fp, sizeof fp);
	assert_string_equal(fp, g.fp);

	/* Missing file: unknown, with what to do. */
	unlink(kh);
	assert_int_equal(
		ssh_hostkey_check(kh, "agent1.example.com", 22, key, len, ED, fp, sizeof fp, &e),
		SSH_HOSTKEY_UNKNOWN);
	assert_string_equal(fp, g.fp);
	assert_int_equal(e.code, CW_EHOSTKEY);
	assert_non_null(strstr(e.msg, g.fp));
	assert_non_null(strstr(e.msg, "ssh-keyscan -t ed25519 agent1.example.com >> "));
	assert_null(strstr(e.msg, "-p 22"));

	/* Port 22: the plain name. */
	char *l22 = kh_line("agent1.example.com", g.hostkey_pub);
	test_write(kh, l22);
	assert_int_equal(ssh_hostkey_check(kh, "agent1.example.com", 22, key, len, ED, NULL, 0, &e),
			 SSH_HOSTKEY_MATCH);
	assert_int_equal(ssh_hostkey_check(kh, "agent1.example.com", 0, key, len, ED, NULL, 0, &e),
			 SSH_HOSTKEY_MATCH);
	/* ... which says nothing about another port, another name, or a prefix of the name. */
	assert_int_equal(
		ssh_hostkey_check(kh, "agent1.example.com", 2222, key, len, ED, NULL, 0, &e),
		SSH_HOSTKEY_UNKNOWN);
	assert_non_null(strstr(e.msg, "-p 2222"));
	assert_non_null(strstr(e.msg, "[agent1.example.com]:2222"));
	assert_int_equal(ssh_hostkey_check(kh, "agent1", 22, key, len, ED, NULL, 0, &e),
			 SSH_HOSTKEY_UNKNOWN);
	assert_int_equal(ssh_hostkey_check(kh, "agent2.example.com", 22, key, len, ED, NULL, 0, &e),
			 SSH_HOSTKEY_UNKNOWN);

	/* Another key of the same type: changed, a hard stop, both fingerprints. */
	assert_int_equal(
		ssh_hostkey_check(kh, "agent1.example.com", 22, key2, len2, ED, NULL, 0, &e),
		SSH_HOSTKEY_CHANGED);
	assert_non_null(strstr(e.msg, "HOST KEY CHANGED"));
	assert_non_null(strstr(e.msg, g.fp));
	assert_non_null(strstr(e.msg, g.fp2));

	/* [host]:port entries, comments, blank lines, a line libssh2 cannot read, a
	 * @cert-authority line: only the exact entry counts. */
	char *lport = kh_line("[agent1.example.com]:2222", g.hostkey_pub);
	char *other = kh_line("other.example.com", g.hostkey2_pub);
	char *text = xasprintf("# comment\n\n@cert-authority *.example.com ssh-ed25519 AAAA\n"
			       "garbage line\n%s%s",
			       other, lport);
	test_write(kh, text);
	assert_int_equal(
		ssh_hostkey_check(kh, "agent1.example.com", 2222, key, len, ED, NULL, 0, &e),
		SSH_HOSTKEY_MATCH);
	assert_int_equal(ssh_hostkey_check(kh, "agent1.example.com", 22, key, len, ED, NULL, 0, &e),
			 SSH_HOSTKEY_UNKNOWN);
	assert_int_equal(
		ssh_hostkey_check(kh, "other.example.com", 22, key2, len2, ED, NULL, 0, &e),
		SSH_HOSTKEY_MATCH);

	/* Hashed entries (ssh-keygen -H) match too. */
	char *clean = xasprintf("%s%s", other, lport);
	test_write(kh, clean);
	free(clean);
	char *argv[] = { KEYGEN, "-H", "-f", kh, NULL };
	assert_int_equal(run_local(argv, NULL), 0);
	assert_int_equal(
		ssh_hostkey_check(kh, "agent1.example.com", 2222, key, len, ED, NULL, 0, &e),
		SSH_HOSTKEY_MATCH);
	assert_int_equal(
		ssh_hostkey_check(kh, "agent1.example.com", 2222, key2, len2, ED, NULL, 0, &e),
		SSH_HOSTKEY_CHANGED);

	/* @revoked: refused whatever else the file says. */
	char *b64 = strchr(strchr(l22, ' ') + 1, ' ') + 1;
	b64[strcspn(b64, "\n")] = '\0';
	char *rev = xasprintf("%s\n@revoked * ssh-ed25519 %s\n", l22, b64);
	test_write(kh, rev);
	assert_int_equal(ssh_hostkey_check(kh, "agent1.example.com", 22, key, len, ED, NULL, 0, &e),
			 SSH_HOSTKEY_REVOKED);
	assert_non_null(strstr(e.msg, "revoked"));

	/* Only a key of another type known for the host: still unknown (not changed), said so. */
	char *ltype = kh_line("agent1.example.com", g.hostkey_rsa_pub);
	test_write(kh, ltype);
	assert_int_equal(ssh_hostkey_check(kh, "agent1.example.com", 22, key, len, ED, NULL, 0, &e),
			 SSH_HOSTKEY_UNKNOWN);
	assert_non_null(strstr(e.msg, "other types"));
	/* A mislabelled entry (an ED25519 key filed as ssh-rsa) never matches. */
	char *mis = xasprintf("agent1.example.com ssh-rsa %s\n", b64);
	test_write(kh, mis);
	assert_int_not_equal(
		ssh_hostkey_check(kh, "agent1.example.com", 22, key, len, ED, NULL, 0, &e),
		SSH_HOSTKEY_MATCH);
	free(mis);

	/* Unreadable file: an error, not a yes. */
	if (geteuid() != 0) {
		test_write(kh, l22);
		chmod(kh, 0);
		assert_int_equal(
			ssh_hostkey_check(kh, "agent1.example.com", 22, key, len, ED, NULL, 0, &e),
			SSH_HOSTKEY_ERROR);
		chmod(kh, 0600);
	}
	/* A directory where the file should be. */
	char *dir = path_join(g.dir, "kh-dir");
	mkdir(dir, 0700);
	assert_int_equal(
		ssh_hostkey_check(dir, "agent1.example.com", 22, key, len, ED, NULL, 0, &e),
		SSH_HOSTKEY_ERROR);

	free(dir);
	free(ltype);
	free(rev);
	free(text);
	free(other);
	free(lport);
	free(l22);
	free(kh);
	free(key);
	free(key2);
}

static void test_known_hosts_add(void **state)
{
	(void)state;
	NEED_KEYS();
	size_t len;
	char *key = pub_blob(g.hostkey_pub, &len);
	char *kh = path_join(g.dir, "kh-add");
	struct cw_error e;
	/* An existing file whose last line lacks its newline. */
	test_write(kh, "# mine");
	assert_int_equal(ssh_known_hosts_add(kh, "agent1.example.com", 22, key, len, &e), CW_OK);
	assert_int_equal(ssh_known_hosts_add(kh, "agent2.example.com", 2222, key, len, &e), CW_OK);
	char *text = test_slurp(kh);
	char *pub = test_slurp(g.hostkey_pub);
	char **f = strv_split(pub, ' ');
	char *want = xasprintf("# mine\nagent1.example.com ssh-ed25519 %s\n"
			       "[agent2.example.com]:2222 ssh-ed25519 %s\n",
			       f[1], f[1]);
	assert_string_equal(text, want);
	assert_int_equal(ssh_hostkey_check(kh, "agent1.example.com", 22, key, len,
					   LIBSSH2_HOSTKEY_TYPE_ED25519, NULL, 0, &e),
			 SSH_HOSTKEY_MATCH);
	assert_int_equal(ssh_hostkey_check(kh, "agent2.example.com", 2222, key, len,
					   LIBSSH2_HOSTKEY_TYPE_ED25519, NULL, 0, &e),
			 SSH_HOSTKEY_MATCH);
	/* ssh itself reads what was written. */
	char *argv[] = { KEYGEN, "-F", "[agent2.example.com]:2222", "-f", kh, NULL };
	assert_int_equal(run_local(argv, NULL), 0);
	/* Names that would break the file are refused. */
	assert_int_equal(ssh_known_hosts_add(kh, "a b", 22, key, len, &e), CW_EINVAL);
	assert_int_equal(ssh_known_hosts_add(kh, "a,b", 22, key, len, &e), CW_EINVAL);
	assert_int_equal(ssh_known_hosts_add(kh, "*.example.com", 22, key, len, &e), CW_EINVAL);
	assert_int_equal(ssh_known_hosts_add(kh, "x\n", 22, key, len, &e), CW_EINVAL);
	assert_int_equal(ssh_known_hosts_add(kh, "ok.example.com", 22, "junk", 4, &e), CW_EINVAL);
	free(want);
	strv_free(f);
	free(pub);
	free(text);
	free(kh);
	free(key);
}

static void test_bad_options(void **state)
{
	(void)state;
	struct transport *t = NULL;
	struct cw_error e;
	struct ssh_opts o = { .host = NULL };
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_EINVAL);
	o.host = "";
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_EINVAL);
	o.host = "h";
	o.port = 70000;
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_EINVAL);
	o.port = 0;
	assert_int_equal(transport_ssh_new(&o, &t, &e), CW_OK); /* no I/O yet */
	struct tproc *p = NULL;
	char *none[] = { NULL };
	assert_int_equal(t->ops->start(t, none, &p, &e), CW_EINVAL);
	t->ops->free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_hostkey_check_decisions),
		cmocka_unit_test(test_known_hosts_add),
		cmocka_unit_test(test_exit_codes_and_streams),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_large_output_both_streams),
		cmocka_unit_test(test_argv_verbatim),
		cmocka_unit_test(test_unknown_host_refused),
		cmocka_unit_test(test_changed_host_key_refused),
		cmocka_unit_test(test_hashed_known_hosts_accepted),
		cmocka_unit_test(test_wrong_client_key_refused),
		cmocka_unit_test(test_identity_without_pub),
		cmocka_unit_test(test_rsa_key),
		cmocka_unit_test(test_login_script_output),
		cmocka_unit_test(test_default_identity),
		cmocka_unit_test(test_ssh_agent),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_kill_soft_and_hard),
		cmocka_unit_test(test_runner_timeout),
		cmocka_unit_test(test_connection_lost),
		cmocka_unit_test(test_idle_session_died),
		cmocka_unit_test(test_host_stops_answering),
		cmocka_unit_test(test_sudo),
		cmocka_unit_test(test_two_commands_one_session),
		cmocka_unit_test(test_waiting_does_not_spin),
		cmocka_unit_test(test_fetch_and_record_hostkey),
		cmocka_unit_test(test_fifty_concurrent),
	};
	/* CW_TEST_FILTER=test_sudo runs one test (cmocka's pattern). */
	if (getenv("CW_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CW_TEST_FILTER"));
	int failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
	/* Without an sshd most of this binary was skipped: say so to the harness (77, SKIP),
	 * rather than PASS. */
	if (failed == 0 && !g.sshd_ok)
		return 77;
	return failed;
}
