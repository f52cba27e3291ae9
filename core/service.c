/* service.c: stop, start and query a service through its backend (systemd, sysv, puppet-resource,
 * command), judging every outcome by the real state: the pid in its pidfile alive, its port
 * answering, the certificate it serves (PUPPET7-NOTES.md: control commands lie). */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "util.h"
#include "x509.h"

#define DEFAULT_TIMEOUT_S 180   /* a stop/start without c->timeout_s (puppetserver: 20-35 s) */
#define STATUS_TIMEOUT_S 60     /* a status command */
#define POLL_INTERVAL_MS 250
#define FAILED_SETTLE_MS 2000   /* how long the real state is watched after a failed command */
#define CONNECT_TIMEOUT_MS 1500
#define TLS_TIMEOUT_MS 5000
#define PIDFILE_MAX 4096
#define CA_BUNDLE_MAX (4u << 20)
#define STATUS_OUTPUT_MAX 65536
#define TAIL_MAX 2048

const char *service_state_str(enum service_state s)
{
	switch (s) {
	case SERVICE_STOPPED: return "stopped";
	case SERVICE_RUNNING: return "running";
	case SERVICE_UNKNOWN: break;
	}
	return "unknown";
}

/* A service name lands in argv (and, for sysv/systemd, in a unit or script lookup): letters,
 * digits and ._@:+- only, not starting with '-' (it would read as an option). */
static bool service_name_ok(const char *name)
{
	if (!name || !name[0] || name[0] == '-')
		return false;
	for (const char *s = name; *s; s++) {
		char ch = *s;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || strchr("._@:+-", ch);
		if (!ok)
			return false;
	}
	return true;
}

/* What every service request needs: a host, a backend, and a service with a valid name. */
static cw_status check_request(const struct service_ctx *c, const struct service_def *def, struct cw_error *err)
{
	if (!c || !c->t || !c->backend || !def)
		return cw_error_set(err, CW_EINVAL, "service: missing host, backend or service");
	if (!service_name_ok(def->name))
		return cw_error_set(err, CW_EINVAL,
				    "invalid service name \"%s\": letters, digits and ._@:+- only",
				    def->name ? def->name : "");
	return CW_OK;
}

/* Replace every literal "${service}" in tmpl; nothing else is a variable. */
static char *subst_service(const char *tmpl, const char *service)
{
	static const char var[] = "${service}";
	struct strbuf sb;
	strbuf_init(&sb);
	const char *s = tmpl;
	for (;;) {
		const char *hit = strstr(s, var);
		if (!hit) {
			strbuf_adds(&sb, s);
			break;
		}
		strbuf_add(&sb, s, (size_t)(hit - s));
		strbuf_adds(&sb, service);
		s = hit + sizeof var - 1;
	}
	return strbuf_detach(&sb);
}

enum action { ACT_START, ACT_STOP, ACT_STATUS };

static int action_parse(const char *action)
{
	if (!action)
		return -1;
	if (strcmp(action, "start") == 0)
		return ACT_START;
	if (strcmp(action, "stop") == 0)
		return ACT_STOP;
	if (strcmp(action, "status") == 0)
		return ACT_STATUS;
	return -1;
}

/* ---- the backends: one table, indexed by enum service_backend_kind ---- */

static const char *const verb_systemctl[] = { "start", "stop", "is-active" };
static const char *const verb_service[] = { "start", "stop", "status" };

static char **systemd_argv(const struct service_backend *b, int act, const char *service)
{
	(void)b;
	char **argv = NULL;
	strv_push(&argv, "systemctl");
	strv_push(&argv, verb_systemctl[act]);
	strv_push(&argv, service);
	return argv;
}

/* is-active: exit 0 active; otherwise it prints inactive, failed, activating, deactivating... */
static enum service_state systemd_judge(int exit_code, const char *out)
{
	size_t n = strcspn(out, " \t\r\n");
	if (exit_code == 0)
		return SERVICE_RUNNING;
	if ((n == 8 && strncmp(out, "inactive", n) == 0) || (n == 6 && strncmp(out, "failed", n) == 0) ||
	    (n == 0 && exit_code == 3))
		return SERVICE_STOPPED;
	return SERVICE_UNKNOWN; /* in transition, or systemd not there */
}

static char **sysv_argv(const struct service_backend *b, int act, const char *service)
{
	(void)b;
	char **argv = NULL;
	strv_push(&argv, "service");
	strv_push(&argv, service);
	strv_push(&argv, verb_service[act]);
	return argv;
}

/* LSB: 0 running, 1 dead with a pidfile left, 2 dead with a lock file left, 3 not running,
 * 4 unknown. */
static enum service_state sysv_judge(int exit_code, const char *out)
{
	(void)out;
	if (exit_code == 0)
		return SERVICE_RUNNING;
	if (exit_code >= 1 && exit_code <= 3)
		return SERVICE_STOPPED;
	return SERVICE_UNKNOWN;
}

static char **presource_argv(const struct service_backend *b, int act, const char *service)
{
	char **argv = NULL;
	strv_push(&argv, b->puppet ? b->puppet : "puppet");
	strv_push(&argv, "resource");
	strv_push(&argv, "service");
	strv_push(&argv, service);
	if (act != ACT_STATUS)
		strv_push(&argv, act == ACT_START ? "ensure=running" : "ensure=stopped");
	return argv;
}

/* service { 'puppetserver':
 *   ensure   => 'running',  ...
 * Only what it prints counts, and only with exit 0. (On Debian 12 it lies: PUPPET7-NOTES.md;
 * give such services a pidfile or a port.) */
static enum service_state presource_judge(int exit_code, const char *out)
{
	if (exit_code != 0)
		return SERVICE_UNKNOWN;
	for (const char *e = strstr(out, "ensure"); e; e = strstr(e + 6, "ensure")) {
		const char *v = e + 6;
		while (*v == ' ' || *v == '\t')
			v++;
		if (v[0] != '=' || v[1] != '>')
			continue;
		v += 2;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '\'' || *v == '"')
			v++;
		if (strncmp(v, "running", 7) == 0)
			return SERVICE_RUNNING;
		if (strncmp(v, "stopped", 7) == 0)
			return SERVICE_STOPPED;
		return SERVICE_UNKNOWN;
	}
	return SERVICE_UNKNOWN;
}

static char **command_argv(const struct service_backend *b, int act, const char *service)
{
	char **tmpl = act == ACT_START ? b->start : act == ACT_STOP ? b->stop : b->status;
	if (!tmpl || !tmpl[0] || !tmpl[0][0])
		return NULL;
	char **argv = NULL;
	for (size_t i = 0; tmpl[i]; i++)
		strv_push_owned(&argv, subst_service(tmpl[i], service));
	return argv;
}

static enum service_state command_judge(int exit_code, const char *out)
{
	(void)out;
	return exit_code == 0 ? SERVICE_RUNNING : SERVICE_STOPPED;
}

struct backend_ops {
	const char *name;   /* as in the configuration */
	const char *label;  /* how the operator knows its control command; NULL: argv[0] */
	/* The argv for act, or NULL when there is none (a command backend without template). */
	char **(*argv)(const struct service_backend *b, int act, const char *service);
	/* The state from the status command's exit code (0..255) and standard output. */
	enum service_state (*judge)(int exit_code, const char *out);
};

static const struct backend_ops backends[] = {
	[BACKEND_SYSTEMD] = { "systemd", "systemctl", systemd_argv, systemd_judge },
	[BACKEND_SYSV] = { "sysv", "service", sysv_argv, sysv_judge },
	[BACKEND_PUPPET_RESOURCE] = { "puppet-resource", "puppet resource", presource_argv,
				      presource_judge },
	[BACKEND_COMMAND] = { "command", NULL, command_argv, command_judge },
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

static const struct backend_ops *backend_ops(const struct service_backend *b)
{
	return b && (size_t)b->kind < NBACKENDS ? &backends[b->kind] : NULL;
}

cw_status service_backend_parse(const char *name, enum service_backend_kind *kind,
				struct cw_error *err)
{
	for (size_t i = 0; name && i < NBACKENDS; i++) {
		if (strcmp(name, backends[i].name) == 0) {
			*kind = (enum service_backend_kind)i;
			return CW_OK;
		}
	}
	return cw_error_set(err, CW_ECONFIG,
			    "unknown service backend \"%s\": expected one of systemd, sysv, "
			    "puppet-resource, command",
			    name ? name : "");
}

const char *service_backend_str(enum service_backend_kind kind)
{
	if ((size_t)kind < NBACKENDS)
		return backends[kind].name;
	return "unknown";
}

char **service_argv(const struct service_backend *b, const char *action, const char *service)
{
	int act = action_parse(action);
	const struct backend_ops *ops = backend_ops(b);
	if (!ops || act < 0 || !service_name_ok(service))
		return NULL;
	return ops->argv(b, act, service);
}

/* How the operator knows the control command: "puppet resource", "systemctl", "stop.sh". */
static const char *control_label(const struct service_backend *b, char *const *argv)
{
	const struct backend_ops *ops = backend_ops(b);
	if (ops && ops->label)
		return ops->label;
	const char *slash = strrchr(argv[0], '/');
	return slash && slash[1] ? slash + 1 : argv[0];
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- the real state ---- */

/* "1234\n" → 1234; anything else → 0. Only the first line counts. */
static long parse_pid(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	char *end;
	long v = strtol(s, &end, 10);
	if (errno || v <= 0 || v > INT_MAX)
		return 0;
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (*end && *end != '\n')
		return 0;
	return v;
}

/* Is pid alive on the transport's host? A zombie counts as dead. 1 yes, 0 no. */
static cw_status pid_alive(struct transport *t, long pid, int *alive, struct cw_error *err)
{
	if (t->is_local) {
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			*alive = 0;
			return CW_OK;
		}
		/* It exists (EPERM: someone else's). A zombie has ended already. */
		char path[64], *stat = NULL;
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		*alive = 1;
		if (file_read(path, 4096, &stat, NULL, NULL) == CW_OK) {
			const char *rp = strrchr(stat, ')');
			if (rp && (rp[1] == ' ') && (rp[2] == 'Z' || rp[2] == 'X'))
				*alive = 0;
			free(stat);
		} else if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			*alive = 0; /* ended meanwhile */
		}
		return CW_OK;
	}
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%ld", pid);
	char *argv[] = { "test", "-d", dir, NULL };
	struct proc_result res;
	struct runner_opts o = { .timeout_s = STATUS_TIMEOUT_S };
	cw_status s = runner_run(t, argv, &o, &res, err);
	if (s != CW_OK) {
		cw_error_prefix(err, "cannot tell whether pid %ld runs on %s", pid, t->label);
		return s;
	}
	if (res.exit_code != 0 && res.exit_code != 1)
		return cw_error_set(err, CW_EIO, "cannot tell whether pid %ld runs on %s: test ended "
				    "with %d", pid, t->label, res.exit_code);
	*alive = res.exit_code == 0;
	return CW_OK;
}

/* TCP connect to address:port within timeout_ms: 1 answers, 0 does not. */
static cw_status tcp_probe(const char *address, int port, int timeout_ms, int *open_,
			   char *why, size_t whylen, struct cw_error *err)
{
	char portstr[16];
	snprintf(portstr, sizeof portstr, "%d", port);
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	int g = getaddrinfo(address, portstr, &hints, &ai);
	if (g != 0)
		return cw_error_set(err, CW_ECONNECT, "cannot resolve %s: %s", address,
				    gai_strerror(g));
	*open_ = 0;
	snprintf(why, whylen, "no address");
	int64_t deadline = now_ms() + timeout_ms;
	for (struct addrinfo *a = ai; a && !*open_; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				a->ai_protocol);
		if (fd < 0) {
			snprintf(why, whylen, "%s", strerror(errno));
			continue;
		}
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		int e = r == 0 ? 0 : errno;
		if (r != 0 && (e == EINPROGRESS || e == EINTR)) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int left = (int)(deadline - now_ms());
			int pr = left > 0 ? poll(&pfd, 1, left) : 0;
			if (pr > 0) {
				socklen_t l = sizeof e;
				if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) != 0)
					e = errno;
			} else {
				e = ETIMEDOUT;
			}
		}
		if (e == 0)
			*open_ = 1;
		else
			snprintf(why, whylen, "%s", strerror(e));
		close(fd);
	}
	freeaddrinfo(ai);
	return CW_OK;
}

/* What one look at the service found. */
struct probe {
	struct service_status st;
	bool up;     /* every check that applies says it runs (and, with a port, answers) */
	bool down;   /* no check that applies says it runs */
};

static void detail_sep(struct strbuf *d)
{
	if (d->len)
		strbuf_adds(d, "; ");
}

/* The last non-empty line of text, for messages ("" if none). */
static void last_line(const char *text, char *buf, size_t size)
{
	size_t len = strlen(text);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	size_t b = len;
	while (b && text[b - 1] != '\n')
		b--;
	snprintf(buf, size, "%.*s", (int)(len - b), text + b);
}

/* systemd, sysv, puppet-resource, command: the state from the backend's status command. */
static cw_status status_by_command(const struct service_ctx *c, const struct service_def *def,
				   enum service_state *state, struct strbuf *d, struct cw_error *err)
{
	char **argv = service_argv(c->backend, "status", def->name);
	if (!argv)
		return cw_error_set(err, CW_ECONFIG,
				    "cannot tell whether %s runs: it has no pidfile and no port, and "
				    "the %s backend has no status command for it",
				    def->name, service_backend_str(c->backend->kind));
	char *out = NULL, *errout = NULL;
	struct proc_result res;
	cw_status s = runner_capture(c->t, argv, STATUS_TIMEOUT_S, STATUS_OUTPUT_MAX, &out, &errout,
				     &res, err);
	char *cmd = strv_join(argv, " ");
	strv_free(argv);
	if (s != CW_OK) {
		cw_error_prefix(err, "cannot tell whether %s runs (%s)", def->name, cmd);
		goto done;
	}
	char why[256];
	last_line(errout[0] ? errout : out, why, sizeof why);
	if (res.exit_code == 126 || res.exit_code == 127) {
		s = cw_error_set(err, CW_EEXEC, "cannot tell whether %s runs: %s", def->name,
				 why[0] ? why : "its status command cannot run");
		goto done;
	}
	*state = SERVICE_UNKNOWN;
	if (res.exit_code < 0) {
		detail_sep(d);
		strbuf_addf(d, "%s was killed by signal %d", cmd, res.term_signal);
		goto done;
	}
	*state = backend_ops(c->backend)->judge(res.exit_code, out);
	detail_sep(d);
	strbuf_addf(d, "%s: exit %d", cmd, res.exit_code);
	if (*state == SERVICE_UNKNOWN && why[0])
		strbuf_addf(d, " (%s)", why);
done:
	free(cmd);
	free(out);
	free(errout);
	return s;
}

/* The certificate its port serves: does it chain to the CA bundle on the host? */
static void check_cert(const struct service_ctx *c, const char *address, int port,
		       struct service_status *st, struct strbuf *d)
{
	char *pem = NULL, *ca = NULL;
	size_t calen = 0;
	struct cw_error e;
	cw_error_clear(&e);
	detail_sep(d);
	if (x509_fetch_tls(address, port, NULL, TLS_TIMEOUT_MS, &pem, &e) != CW_OK) {
		strbuf_addf(d, "its certificate could not be fetched: %s", e.msg);
		goto done;
	}
	cw_error_clear(&e);
	if (transport_read_file(c->t, c->ca_bundle_path, CA_BUNDLE_MAX, &ca, &calen, &e) != CW_OK) {
		strbuf_addf(d, "cannot judge its certificate: %s", e.msg);
		goto done;
	}
	cw_error_clear(&e);
	cw_status v = x509_verify(pem, strlen(pem), ca, calen, NULL, 0, &e);
	if (v == CW_OK) {
		st->cert_current = 1;
		strbuf_addf(d, "its certificate chains to the CA in %s", c->ca_bundle_path);
	} else if (v == CW_EVERIFY) {
		st->cert_current = 0;
		strbuf_addf(d, "its certificate does not chain to the CA in %s: %s",
			    c->ca_bundle_path, e.msg);
	} else {
		strbuf_addf(d, "cannot judge its certificate: %s", e.msg);
	}
done:
	free(pem);
	free(ca);
}

static cw_status probe_service(const struct service_ctx *c, const struct service_def *def,
			       bool check_tls, struct probe *pr, struct cw_error *err)
{
	memset(pr, 0, sizeof *pr);
	pr->st.state = SERVICE_UNKNOWN;
	pr->st.port_open = -1;
	pr->st.cert_current = -1;
	cw_status bad = check_request(c, def, err);
	if (bad)
		return bad;

	struct strbuf d;
	strbuf_init(&d);
	cw_status s = CW_OK;
	bool has_pidfile = def->pidfile && def->pidfile[0];
	bool has_port = def->port > 0;
	const char *address = c->address && c->address[0] ? c->address : "127.0.0.1";
	int alive = -1;
	long pid = 0;

	if (has_pidfile) {
		char *text = NULL;
		struct cw_error e;
		cw_error_clear(&e);
		s = transport_read_file(c->t, def->pidfile, PIDFILE_MAX, &text, NULL, &e);
		if (s == CW_ENOTFOUND) {
			s = CW_OK;
			alive = 0;
			strbuf_addf(&d, "no pidfile %s", def->pidfile);
		} else if (s != CW_OK) {
			if (err)
				*err = e;
			cw_error_prefix(err, "cannot tell whether %s runs", def->name);
			goto out;
		} else {
			pid = parse_pid(text);
			free(text);
			if (pid == 0) {
				alive = 0;
				strbuf_addf(&d, "pidfile %s holds no pid", def->pidfile);
			} else {
				s = pid_alive(c->t, pid, &alive, err);
				if (s != CW_OK)
					goto out;
				strbuf_addf(&d, "pid %ld %s", pid, alive ? "alive" : "gone");
			}
		}
	}
	if (has_port) {
		int open_ = 0;
		char why[128];
		s = tcp_probe(address, def->port, CONNECT_TIMEOUT_MS, &open_, why, sizeof why, err);
		if (s != CW_OK) {
			cw_error_prefix(err, "cannot tell whether %s answers", def->name);
			goto out;
		}
		pr->st.port_open = open_;
		detail_sep(&d);
		if (open_)
			strbuf_addf(&d, "port %s:%d answers", address, def->port);
		else
			strbuf_addf(&d, "port %s:%d does not answer (%s)", address, def->port, why);
	}

	if (has_pidfile || has_port) {
		bool any_up = alive == 1 || pr->st.port_open == 1;
		pr->st.state = any_up ? SERVICE_RUNNING : SERVICE_STOPPED;
		pr->up = (!has_pidfile || alive == 1) && (!has_port || pr->st.port_open == 1);
		pr->down = !any_up;
	} else {
		enum service_state state = SERVICE_UNKNOWN;
		s = status_by_command(c, def, &state, &d, err);
		if (s != CW_OK)
			goto out;
		pr->st.state = state;
		pr->up = state == SERVICE_RUNNING;
		pr->down = state == SERVICE_STOPPED;
	}
	if (alive == 1)
		pr->st.pid = pid;

	if (check_tls && def->tls && has_port && pr->st.port_open == 1 && c->ca_bundle_path &&
	    c->ca_bundle_path[0])
		check_cert(c, address, def->port, &pr->st, &d);
out:
	snprintf(pr->st.detail, sizeof pr->st.detail, "%s", d.buf ? d.buf : "");
	strbuf_done(&d);
	return s;
}

cw_status service_query(const struct service_ctx *c, const struct service_def *def,
			struct service_status *st, struct cw_error *err)
{
	struct probe pr;
	cw_status s = probe_service(c, def, true, &pr, err);
	if (st)
		*st = pr.st;
	return s;
}

/* ---- stop / start ---- */

/* Passes a control command's output on, keeping its tail for messages. */
struct tee {
	output_fn out;
	void *ctx;
	struct strbuf tail[2];
};

static void tee_out(void *ctx, int stream, const char *data, size_t len)
{
	struct tee *t = ctx;
	if (t->out)
		t->out(t->ctx, stream, data, len);
	struct strbuf *sb = &t->tail[stream == 2 ? 1 : 0];
	strbuf_add(sb, data, len);
	if (sb->len > 2 * TAIL_MAX) {
		memmove(sb->buf, sb->buf + sb->len - TAIL_MAX, TAIL_MAX);
		sb->len = TAIL_MAX;
		sb->buf[sb->len] = '\0';
	}
}

/* The last non-empty line of the command's stderr, else of its stdout. */
static void tee_last_line(const struct tee *t, char *buf, size_t size)
{
	last_line(t->tail[1].buf ? t->tail[1].buf : "", buf, size);
	if (!buf[0])
		last_line(t->tail[0].buf ? t->tail[0].buf : "", buf, size);
}

static bool cancelled(const struct service_ctx *c)
{
	return c->cancel && atomic_load(c->cancel);
}

/* "still running (pid 1234)", "not running (no pidfile /run/x.pid)" */
static void describe_state(const struct probe *pr, bool want_up, const char *name,
			   struct strbuf *sb)
{
	if (want_up) {
		strbuf_addf(sb, "%s is %s (%s)", name,
			    pr->st.state == SERVICE_RUNNING ? "not fully up" : "not running",
			    pr->st.detail);
	} else if (pr->st.pid > 0) {
		strbuf_addf(sb, "%s is still running (pid %ld)", name, pr->st.pid);
	} else if (pr->st.state == SERVICE_RUNNING) {
		strbuf_addf(sb, "%s is still running (%s)", name, pr->st.detail);
	} else {
		strbuf_addf(sb, "%s is not known to be stopped (%s)", name, pr->st.detail);
	}
}

static cw_status control(const struct service_ctx *c, const struct service_def *def, int act,
			 struct service_status *st_out, struct cw_error *err)
{
	struct service_status dummy;
	struct service_status *st = st_out ? st_out : &dummy;
	memset(st, 0, sizeof *st);
	st->state = SERVICE_UNKNOWN;
	st->port_open = -1;
	st->cert_current = -1;
	const char *action = act == ACT_START ? "start" : "stop";
	bool want_up = act == ACT_START;

	cw_status bad = check_request(c, def, err);
	if (bad)
		return bad;
	char **argv = service_argv(c->backend, action, def->name);
	if (!argv)
		return cw_error_set(err, CW_ECONFIG, "no %s command for %s (backend %s)", action,
				    def->name, service_backend_str(c->backend->kind));
	const char *label = control_label(c->backend, argv);
	cw_status s;
	int timeout_s = c->timeout_s > 0 ? c->timeout_s : DEFAULT_TIMEOUT_S;
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;

	struct tee tee = { .out = c->out, .ctx = c->out_ctx };
	strbuf_init(&tee.tail[0]);
	strbuf_init(&tee.tail[1]);
	struct runner_opts o = { .timeout_s = timeout_s, .out = tee_out, .ctx = &tee };
	struct proc_result res;
	memset(&res, 0, sizeof res);
	res.exit_code = -1;
	struct cw_error rerr;
	cw_error_clear(&rerr);
	struct runner_job *job = NULL;
	cw_status rs = runner_start(c->t, argv, &o, &job, &rerr);
	if (rs == CW_OK) {
		while (!runner_step(job)) {
			if (cancelled(c))
				runner_cancel(job);
			runner_poll_many(&job, 1, POLL_INTERVAL_MS);
		}
		rs = runner_finish(job, &res, &rerr);
	}
	if (rs == CW_ECANCEL || cancelled(c)) {
		strbuf_done(&tee.tail[0]);
		strbuf_done(&tee.tail[1]);
		struct probe pc;
		if (probe_service(c, def, false, &pc, NULL) == CW_OK)
			*st = pc.st;
		s = cw_error_set(err, CW_ECANCEL, "%s of %s cancelled (%s: %s)", action, def->name,
				 service_state_str(st->state), st->detail);
		strv_free(argv);
		return s;
	}
	bool cmd_ok = rs == CW_OK && res.exit_code == 0;
	char line[256];
	tee_last_line(&tee, line, sizeof line);
	strbuf_done(&tee.tail[0]);
	strbuf_done(&tee.tail[1]);

	/* How the control command failed, for messages. */
	struct strbuf how;
	strbuf_init(&how);
	if (rs != CW_OK)
		strbuf_addf(&how, "%s", rerr.msg);
	else if (res.exit_code >= 0)
		strbuf_addf(&how, "exit code %d", res.exit_code);
	else
		strbuf_addf(&how, "killed by SIG%s", res.signal_name[0] ? res.signal_name : "?");
	if (!cmd_ok && line[0])
		strbuf_addf(&how, ": %s", line);

	struct probe pr;
	struct strbuf msg;
	strbuf_init(&msg);
	if (cmd_ok) {
		/* Believe nothing: watch the real state until it agrees or time is up. */
		for (;;) {
			s = probe_service(c, def, false, &pr, err);
			if (s != CW_OK)
				goto out;
			if (want_up ? pr.up : pr.down)
				break;
			if (cancelled(c)) {
				*st = pr.st;
				s = cw_error_set(err, CW_ECANCEL, "%s of %s cancelled while waiting "
						 "(%s: %s)", action, def->name,
						 service_state_str(pr.st.state), pr.st.detail);
				goto out;
			}
			int64_t left = deadline - now_ms();
			if (left <= 0)
				break;
			sleep_ms(left < POLL_INTERVAL_MS ? left : POLL_INTERVAL_MS);
		}
		if (want_up ? pr.up : pr.down) {
			if (want_up && def->tls) {
				struct probe full;
				if (probe_service(c, def, true, &full, NULL) == CW_OK)
					pr = full;
			}
			s = CW_OK;
		} else {
			strbuf_addf(&msg, "%s reported success but ", label);
			describe_state(&pr, want_up, def->name, &msg);
			strbuf_addf(&msg, " after %d s", timeout_s);
			s = cw_error_set(err, CW_EVERIFY, "%s", msg.buf);
		}
		*st = pr.st;
		goto out;
	}

	/* The command failed; the real state may be what was wanted all the same (it may have
	 * done its work and failed after, e.g. signalled the daemon, which takes a moment to
	 * go). Watch briefly, not for the whole time-out: a failed command usually means it
	 * will not happen. */
	int64_t settle_end = now_ms() + FAILED_SETTLE_MS;
	if (settle_end > deadline)
		settle_end = deadline;
	if (rs == CW_OK && (res.exit_code == 126 || res.exit_code == 127))
		settle_end = 0; /* it could not even run: it changed nothing; one look */
	for (;;) {
		s = probe_service(c, def, false, &pr, err);
		if (s != CW_OK)
			goto out;
		if (want_up ? pr.up : pr.down)
			break;
		int64_t left = settle_end - now_ms();
		if (left <= 0)
			break;
		sleep_ms(left < POLL_INTERVAL_MS ? left : POLL_INTERVAL_MS);
	}
	if (want_up && pr.up && def->tls) {
		struct probe full;
		if (probe_service(c, def, true, &full, NULL) == CW_OK)
			pr = full;
	}
	*st = pr.st;
	if (want_up ? pr.up : pr.down) {
		strbuf_addf(&msg, "note: %s %s failed (%s), but %s is %s already", label, action,
			    how.buf, def->name, want_up ? "running" : "stopped");
		if (pr.st.detail[0])
			strbuf_addf(&msg, " (%s)", pr.st.detail);
		snprintf(st->detail, sizeof st->detail, "%s", msg.buf);
		s = CW_OK;
	} else {
		strbuf_addf(&msg, "%s %s failed (%s); ", label, action, how.buf);
		describe_state(&pr, want_up, def->name, &msg);
		s = cw_error_set(err, rs == CW_ETIMEOUT || rs == CW_ECANCEL ? rs : CW_EEXEC, "%s",
				 msg.buf);
	}
out:
	strbuf_done(&msg);
	strbuf_done(&how);
	strv_free(argv);
	return s;
}

cw_status service_stop(const struct service_ctx *c, const struct service_def *def,
		       struct service_status *st, struct cw_error *err)
{
	return control(c, def, ACT_STOP, st, err);
}

cw_status service_start(const struct service_ctx *c, const struct service_def *def,
			struct service_status *st, struct cw_error *err)
{
	return control(c, def, ACT_START, st, err);
}
