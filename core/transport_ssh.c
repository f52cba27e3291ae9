/* transport_ssh.c: the SSH transport: libssh2 in non-blocking mode, one session per transport and
 * a channel per command, all driven from the caller's poll loop; host keys checked exactly
 * against known_hosts. */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shquote.h"
#include "util.h"

#define DEFAULT_PORT 22
#define DEFAULT_USER "root"
#define DEFAULT_CONNECT_TIMEOUT_S 10
/* After a hard kill, how long the host has to end the command before the connection is dropped
 * (the kill runs as a second command: a login shell's start-up files can take a few seconds). */
#define HARD_KILL_GRACE_MS 10000
/* The first line of every remote command: the remote shell's pid, which is also its process
 * group (sshd starts each command in a session of its own). */
#define PID_MARKER "certwiz-remote-pid="
/* Output before the marker (a login script's) is passed on; after this much we stop looking. */
#define MARKER_SCAN_MAX 65536
/* The start of stderr is kept to recognise sudo's complaints. */
#define ERRHEAD_MAX 1024
#define READ_CHUNK 32768
/* At most this much output per pump, so that one busy host does not starve the others sharing
 * the poll loop (what is left queued inside libssh2 makes pollfds ask for an immediate wake). */
#define PUMP_BYTES_MAX (1024 * 1024)

/* ---- libssh2 initialisation: once per process ---- */

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc = -1; /* written once under pthread_once; libssh2_init is process-wide */

static void ssh_init_once(void)
{
	ssh_init_rc = libssh2_init(0);
}

static cw_status ssh_global_init(struct cw_error *err)
{
	pthread_once(&ssh_once, ssh_init_once);
	if (ssh_init_rc != 0)
		return cw_error_set(err, CW_EIO, "libssh2 could not be initialised (%d)",
				    ssh_init_rc);
	return CW_OK;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && h[0])
		return h;
	struct passwd *pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "/";
}

static const char *ssh_errmsg(LIBSSH2_SESSION *session)
{
	char *msg = NULL;
	if (!session)
		return "no session";
	libssh2_session_last_error(session, &msg, NULL, 0);
	return msg && msg[0] ? msg : "unknown libssh2 error";
}

/* ---- host keys ---- */

void ssh_key_fingerprint(const void *key, size_t keylen, char *out, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	if (!out || size == 0)
		return;
	if (EVP_Digest(key, keylen, md, &mdlen, EVP_sha256(), NULL) != 1) {
		snprintf(out, size, "SHA256:?");
		return;
	}
	int n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(out, size, "SHA256:%.*s", n, (const char *)b64);
}

static char *b64_encode(const void *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Decode base64 (padding allowed); NULL on bad input. */
static unsigned char *b64_decode(const char *s, size_t *len)
{
	size_t sl = strlen(s);
	if (sl == 0 || sl % 4 != 0)
		return NULL;
	unsigned char *out = xmalloc(sl / 4 * 3 + 1);
	int n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)sl);
	if (n < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as data */
	if (sl >= 1 && s[sl - 1] == '=')
		n--;
	if (sl >= 2 && s[sl - 2] == '=')
		n--;
	*len = (size_t)n;
	return out;
}

/* The algorithm name a key blob starts with ("ssh-ed25519"), or "" if it is malformed. */
static void key_type_name(const char *key, size_t keylen, char *out, size_t size)
{
	out[0] = '\0';
	if (keylen < 4)
		return;
	const unsigned char *k = (const unsigned char *)key;
	uint32_t n = (uint32_t)k[0] << 24 | (uint32_t)k[1] << 16 | (uint32_t)k[2] << 8 | k[3];
	if (n == 0 || n > keylen - 4 || n >= size)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (k[4 + i] <= ' ' || k[4 + i] >= 0x7f)
			return;
	memcpy(out, key + 4, n);
	out[n] = '\0';
}

struct key_kind {
	int hostkey_type;    /* LIBSSH2_HOSTKEY_TYPE_* */
	int knownhost_mask;  /* LIBSSH2_KNOWNHOST_KEY_* */
	const char *label;   /* for the operator */
	const char *keyscan; /* ssh-keyscan -t, and the name of sshd's key file */
	const char *methods; /* host key algorithms that produce this kind of key */
};

static const struct key_kind key_kinds[] = {
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ED25519", "ed25519",
	  "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ECDSA", "ecdsa",
	  "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ECDSA", "ecdsa",
	  "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ECDSA", "ecdsa",
	  "ecdsa-sha2-nistp521" },
	{ LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "RSA", "rsa",
	  "rsa-sha2-512,rsa-sha2-256,ssh-rsa" },
	{ LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "DSA", "dsa", "ssh-dss" },
};

static const struct key_kind *kind_of(int hostkey_type)
{
	for (size_t i = 0; i < sizeof key_kinds / sizeof key_kinds[0]; i++)
		if (key_kinds[i].hostkey_type == hostkey_type)
			return &key_kinds[i];
	return NULL;
}

/* The name known_hosts uses for host:port. Heap string. */
static char *known_name(const char *host, int port)
{
	if (port <= 0 || port == DEFAULT_PORT)
		return xstrdup(host);
	return xasprintf("[%s]:%d", host, port);
}

/* A word for a shell command shown to the operator: quoted only when it needs to be. */
static char *shown_word(const char *w)
{
	if (w[0] && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			      "_-./:@%+=,") == strlen(w))
		return xstrdup(w);
	return shquote_word(w);
}

/* known_hosts loaded for one decision: libssh2's collection plus the @revoked keys it does not
 * understand. */
struct known {
	LIBSSH2_KNOWNHOSTS *kh;
	char **revoked; /* base64 keys */
	bool missing;   /* the file does not exist */
	int skipped;    /* lines libssh2 could not parse (kept out, never fatal) */
};

static void known_done(struct known *k)
{
	if (k->kh)
		libssh2_knownhost_free(k->kh);
	strv_free(k->revoked);
	memset(k, 0, sizeof *k);
}

/* Load path line by line: one line libssh2 cannot parse (a marker, a key type it does not know)
 * must not make every other host unknown. */
static cw_status known_load(LIBSSH2_SESSION *session, const char *path, struct known *k,
			    struct cw_error *err)
{
	memset(k, 0, sizeof *k);
	k->kh = libssh2_knownhost_init(session);
	if (!k->kh)
		return cw_error_set(err, CW_EIO, "cannot set up the known hosts check");
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT || errno == ENOTDIR) {
			k->missing = true;
			return CW_OK;
		}
		cw_status s =
			cw_error_set(err, CW_EIO, "cannot read %s: %s", path, strerror(errno));
		known_done(k);
		return s;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		known_done(k);
		return cw_error_set(err, CW_EIO, "%s is not a file", path);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strlen(p);
		while (len && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' ' ||
			       p[len - 1] == '\t'))
			p[--len] = '\0';
		if (len == 0 || p[0] == '#')
			continue;
		if (p[0] == '@') {
			/* @revoked HOSTS TYPE KEY: the key is refused whatever the host.
			 * @cert-authority: certificates are not supported; such lines never match. */
			char **f4 = strv_split(p, ' ');
			if (f4 && strcmp(f4[0], "@revoked") == 0 && strv_len(f4) >= 4)
				strv_push(&k->revoked, f4[3]);
			strv_free(f4);
			continue;
		}
		if (libssh2_knownhost_readline(k->kh, p, len, LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
			k->skipped++;
	}
	free(line);
	bool failed = ferror(f);
	fclose(f);
	if (failed) {
		known_done(k);
		return cw_error_set(err, CW_EIO, "cannot read %s", path);
	}
	return CW_OK;
}

/* Is name known with a key of this knownhost type? (Any key: probe with one that cannot match.) */
static bool known_has_type(const struct known *k, const char *name, int mask)
{
	static const char probe[] = "certwiz-probe";
	if (!k->kh || k->missing)
		return false;
	int rc = libssh2_knownhost_checkp(
		k->kh, name, -1, probe, sizeof probe - 1,
		LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | mask, NULL);
	return rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH || rc == LIBSSH2_KNOWNHOST_CHECK_MATCH;
}

/* The host key algorithms to ask for: those known_hosts holds a key of for this name, so that a
 * host known by its RSA key is not asked for its ECDSA key. NULL: none known, libssh2's order. */
static char *known_methods(const struct known *k, const char *name)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 0; i < sizeof key_kinds / sizeof key_kinds[0]; i++) {
		if (!known_has_type(k, name, key_kinds[i].knownhost_mask))
			continue;
		if (sb.len)
			strbuf_adds(&sb, ",");
		strbuf_adds(&sb, key_kinds[i].methods);
	}
	if (!sb.len)
		return NULL;
	return strbuf_detach(&sb);
}

/* The decision and the operator's message. address is what an operator would scan. */
static enum ssh_hostkey_verdict hostkey_decide(LIBSSH2_SESSION *session, const char *kh_path,
					       const char *host, const char *address, int port,
					       const char *key, size_t keylen, int keytype,
					       char *fp_out, size_t fp_size, struct cw_error *err)
{
	char fp[SSH_FINGERPRINT_MAX];
	ssh_key_fingerprint(key, keylen, fp, sizeof fp);
	if (fp_out && fp_size)
		snprintf(fp_out, fp_size, "%s", fp);
	if (port <= 0)
		port = DEFAULT_PORT;

	const struct key_kind *kind = kind_of(keytype);
	char tname[64];
	key_type_name(key, keylen, tname, sizeof tname);
	if (!kind || !tname[0]) {
		cw_error_set(err, CW_EHOSTKEY,
			     "%s offers a host key of a type certwiz cannot check (%s, %s)", host,
			     tname[0] ? tname : "unknown", fp);
		return SSH_HOSTKEY_ERROR;
	}

	struct known k;
	if (known_load(session, kh_path, &k, err) != CW_OK) {
		cw_error_prefix(err, "cannot check the host key of %s", host);
		if (err)
			err->code = CW_EHOSTKEY;
		return SSH_HOSTKEY_ERROR;
	}

	enum ssh_hostkey_verdict v;
	char *name = known_name(host, port);
	char *b64 = b64_encode(key, keylen);
	struct libssh2_knownhost *found = NULL;
	int rc = LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;
	if (strv_contains(k.revoked, b64)) {
		v = SSH_HOSTKEY_REVOKED;
	} else if (k.missing) {
		v = SSH_HOSTKEY_UNKNOWN;
	} else {
		rc = libssh2_knownhost_checkp(k.kh, name, -1, key, keylen,
					      LIBSSH2_KNOWNHOST_TYPE_PLAIN |
						      LIBSSH2_KNOWNHOST_KEYENC_RAW |
						      kind->knownhost_mask,
					      &found);
		if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
			v = SSH_HOSTKEY_MATCH;
		else if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			v = SSH_HOSTKEY_CHANGED;
		else if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
			v = SSH_HOSTKEY_UNKNOWN;
		else
			v = SSH_HOSTKEY_ERROR;
	}

	char *q_kh = shown_word(kh_path);
	char *q_name = shown_word(name);
	switch (v) {
	case SSH_HOSTKEY_MATCH:
		break;
	case SSH_HOSTKEY_UNKNOWN: {
		struct strbuf sb;
		strbuf_init(&sb);
		strbuf_addf(&sb, "the host key of %s is not known: %s has no %s key for %s", host,
			    kh_path, kind->label, name);
		if (k.missing)
			strbuf_adds(&sb, " (the file does not exist)");
		else if (known_has_type(&k, name, 0))
			strbuf_adds(&sb, " (only keys of other types)");
		strbuf_addf(
			&sb,
			". The server offers an %s key with fingerprint %s. Compare it with the "
			"host's own (on %s: ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub) and, "
			"if they are the same, add the key: ssh-keyscan",
			kind->label, fp, host, kind->keyscan);
		if (port != DEFAULT_PORT)
			strbuf_addf(&sb, " -p %d", port);
		char *q_addr = shown_word(address);
		strbuf_addf(&sb, " -t %s %s", kind->keyscan, q_addr);
		free(q_addr);
		if (strcmp(address, host) != 0) {
			/* ssh-keyscan names the entry after the address; certwiz looks up the host. */
			char *sed = xasprintf("s/^[^ ]*/%s/", name);
			char *q_sed = shquote_word(sed);
			strbuf_addf(&sb, " | sed %s", q_sed);
			free(q_sed);
			free(sed);
		}
		strbuf_addf(&sb, " >> %s", q_kh);
		cw_error_set(err, CW_EHOSTKEY, "%s", sb.buf);
		strbuf_done(&sb);
		break;
	}
	case SSH_HOSTKEY_CHANGED: {
		char oldfp[SSH_FINGERPRINT_MAX] = "unknown";
		size_t oldlen = 0;
		unsigned char *old = found && found->key ? b64_decode(found->key, &oldlen) : NULL;
		if (old)
			ssh_key_fingerprint(old, oldlen, oldfp, sizeof oldfp);
		free(old);
		cw_error_set(
			err, CW_EHOSTKEY,
			"HOST KEY CHANGED for %s: %s holds a different %s key for %s (%s), "
			"the server now offers %s. Someone may be intercepting the connection "
			"(man-in-the-middle), or the host was reinstalled. certwiz will not "
			"connect to %s. If the change is expected, confirm the new fingerprint "
			"with the host's administrator, remove the old key (ssh-keygen -R %s -f %s) "
			"and add the new one",
			host, kh_path, kind->label, name, oldfp, fp, host, q_name, q_kh);
		break;
	}
	case SSH_HOSTKEY_REVOKED:
		cw_error_set(
			err, CW_EHOSTKEY,
			"the %s host key %s offered by %s is marked @revoked in %s: certwiz will "
			"not connect",
			kind->label, fp, host, kh_path);
		break;
	case SSH_HOSTKEY_ERROR:
		cw_error_set(err, CW_EHOSTKEY, "cannot check the host key of %s against %s (%d)",
			     host, kh_path, rc);
		break;
	}
	free(q_kh);
	free(q_name);
	free(b64);
	free(name);
	known_done(&k);
	return v;
}

enum ssh_hostkey_verdict ssh_hostkey_check(const char *known_hosts_path, const char *host, int port,
					   const char *key, size_t keylen, int keytype,
					   char *fp_out, size_t fp_size, struct cw_error *err)
{
	if (fp_out && fp_size)
		fp_out[0] = '\0';
	if (!known_hosts_path || !host || !host[0] || !key || keylen == 0) {
		cw_error_set(err, CW_EINVAL, "no host, key or known_hosts file to check");
		return SSH_HOSTKEY_ERROR;
	}
	if (ssh_global_init(err) != CW_OK)
		return SSH_HOSTKEY_ERROR;
	/* The known hosts API needs a session for its allocations; this one never connects. */
	LIBSSH2_SESSION *session = libssh2_session_init();
	if (!session) {
		cw_error_set(err, CW_EIO, "cannot create an SSH session");
		return SSH_HOSTKEY_ERROR;
	}
	enum ssh_hostkey_verdict v = hostkey_decide(session, known_hosts_path, host, host, port,
						    key, keylen, keytype, fp_out, fp_size, err);
	libssh2_session_free(session);
	return v;
}

static bool name_ok_for_known_hosts(const char *host)
{
	if (!host || !host[0])
		return false;
	for (const unsigned char *p = (const unsigned char *)host; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == ',' || *p == '#' || *p == '|' || *p == '*' ||
		    *p == '?' || *p == '!' || *p == '[' || *p == ']')
			return false;
	return true;
}

cw_status ssh_known_hosts_add(const char *known_hosts_path, const char *host, int port,
			      const char *key, size_t keylen, struct cw_error *err)
{
	if (!known_hosts_path || !known_hosts_path[0])
		return cw_error_set(err, CW_EINVAL, "no known_hosts file named");
	if (!name_ok_for_known_hosts(host))
		return cw_error_set(err, CW_EINVAL,
				    "\"%s\" cannot be written to known_hosts as a host name",
				    host ? host : "");
	char tname[64] = "";
	if (key)
		key_type_name(key, keylen, tname, sizeof tname);
	if (!tname[0])
		return cw_error_set(err, CW_EINVAL, "not an SSH public key");

	char *dir = xstrdup(known_hosts_path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (!path_is_dir(dir)) {
			cw_status s = mkdir_p(dir, 0700, err);
			if (s != CW_OK) {
				free(dir);
				return s;
			}
		}
	}
	free(dir);

	int fd = open(known_hosts_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cw_error_set(err, CW_EIO, "cannot open %s: %s", known_hosts_path,
				    strerror(errno));
	/* A file whose last line has no newline gets one first. */
	bool need_nl = false;
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		int rfd = open(known_hosts_path, O_RDONLY | O_CLOEXEC);
		char last;
		if (rfd >= 0 && pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n')
			need_nl = true;
		if (rfd >= 0)
			close(rfd);
	}
	char *name = known_name(host, port);
	char *b64 = b64_encode(key, keylen);
	char *line = xasprintf("%s%s %s %s\n", need_nl ? "\n" : "", name, tname, b64);
	cw_status s = CW_OK;
	if (write_all(fd, line, strlen(line)) != 0)
		s = cw_error_set(err, CW_EIO, "cannot write %s: %s", known_hosts_path, strerror(errno));
	if (s == CW_OK && fsync(fd) != 0)
		s = cw_error_set(err, CW_EIO, "cannot write %s: %s", known_hosts_path,
				 strerror(errno));
	if (close(fd) != 0 && s == CW_OK)
		s = cw_error_set(err, CW_EIO, "cannot write %s: %s", known_hosts_path,
				 strerror(errno));
	free(line);
	free(b64);
	free(name);
	return s;
}

/* ---- the session ---- */

enum sess_state {
	SESS_IDLE,      /* not connected: the next command connects */
	SESS_CONNECT,   /* TCP connect in progress */
	SESS_HANDSHAKE, /* SSH handshake, then the host key check */
	SESS_AUTH_LIST, /* asking which authentication methods the server accepts */
	SESS_AUTH,      /* trying keys */
	SESS_READY,     /* authenticated: commands open channels */
	SESS_FETCHED,   /* ssh_hostkey_fetch only: handshake done, key copied */
};

enum auth_kind { AUTH_FILE, AUTH_AGENT };

struct auth_method {
	enum auth_kind kind;
	char *priv; /* AUTH_FILE: private key file; owned */
	char *pub;  /* AUTH_FILE: its .pub beside it, or NULL (libssh2 derives it); owned */
};

struct ssh_impl {
	struct transport *t; /* the transport this is the impl of (NULL for a fetch) */
	/* options, copied */
	char *host, *address, *user, *identity, *known_hosts;
	int port;
	bool sudo;
	int connect_timeout_s;

	enum sess_state st;
	int sock;
	LIBSSH2_SESSION *session;
	struct addrinfo *ai_list, *ai_cur;
	char connect_why[256]; /* last connect() error, for the message */
	int64_t deadline_ms;   /* connect + handshake + authentication */

	struct auth_method auth[3];
	size_t nauth, cur_auth;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *agent_id;
	bool agent_ready;
	int agent_keys;
	struct strbuf auth_notes; /* what was tried, for the message */
	bool fetch_only;
	char *fetched_key;
	size_t fetched_len;
	int fetched_type;

	char *hostkey_methods; /* what was asked for (known_hosts' types), or NULL */

	unsigned served;             /* commands started on this connection */
	uint64_t rx_bytes;           /* read from the socket by libssh2 (counting_recv) */
	struct tproc *procs;         /* commands not yet freed */
	LIBSSH2_CHANNEL **opener;    /* whose channel is being opened (one at a time) */
	LIBSSH2_CHANNEL **graveyard; /* channels left behind, still to close and free */
	size_t ngrave;
	struct cw_error fail; /* why the last connection failed */
	cw_status fail_status;
};

enum proc_state {
	P_WAIT,  /* waiting for the session */
	P_OPEN,  /* opening the channel */
	P_EXEC,  /* exec request sent */
	P_RUN,   /* reading output */
	P_CLOSE, /* end of output seen: closing, then exit status */
};

/* A second channel that runs `kill` for a command. */
enum { KILL_NONE, KILL_TERM, KILL_KILL };
struct killer {
	LIBSSH2_CHANNEL *ch;
	int stage; /* 0 idle, 1 opening, 2 exec, 3 draining, 4 closing */
	int sig;   /* what it is sending: KILL_TERM or KILL_KILL */
};

struct tproc {
	struct ssh_impl *s;
	struct tproc *next;
	char *cmdline;
	LIBSSH2_CHANNEL *ch;
	enum proc_state st;
	bool eof_sent;
	bool retried; /* connected again once after finding its session dead */
	uint64_t seen_rx; /* the session's rx_bytes when this command last tried to advance */
	/* the pid marker */
	bool marker_done;
	long rpid; /* remote process group, 0 until known */
	struct strbuf line;
	size_t scanned;
	char errhead[ERRHEAD_MAX + 1];
	size_t errhead_len;
	/* kill: KILL_NONE < KILL_TERM < KILL_KILL */
	int want_sig; /* the strongest signal asked for */
	int sent_sig; /* the strongest signal a kill command was started for */
	struct killer k;
	bool hard;
	int64_t hard_deadline;
	/* outcome */
	bool finished;
	cw_status fstatus;
	struct cw_error ferr;
	struct proc_result res;
};

static void proc_finish(struct tproc *p, cw_status st, const struct cw_error *e)
{
	if (p->finished)
		return;
	/* An open it started is taken over by the next opener (libssh2 finishes it for them). */
	if (p->s->opener == &p->ch || p->s->opener == &p->k.ch)
		p->s->opener = NULL;
	if (p->k.stage == 1)
		p->k.stage = 0;
	p->finished = true;
	p->fstatus = st;
	if (st != CW_OK && e)
		p->ferr = *e;
	if (st != CW_OK || p->st < P_CLOSE) {
		p->res.exit_code = -1;
		p->res.term_signal = 0;
		p->res.signal_name[0] = '\0';
	}
}

static void grave_push(struct ssh_impl *s, LIBSSH2_CHANNEL *ch)
{
	if (!ch)
		return;
	s->graveyard = xrealloc(s->graveyard, (s->ngrave + 1) * sizeof *s->graveyard);
	s->graveyard[s->ngrave++] = ch;
}

/* Close and free what was left behind, as far as possible without blocking. */
static void grave_advance(struct ssh_impl *s)
{
	if (!s->session)
		return;
	for (size_t i = 0; i < s->ngrave;) {
		LIBSSH2_CHANNEL *ch = s->graveyard[i];
		int rc = libssh2_channel_close(ch);
		if (rc != LIBSSH2_ERROR_EAGAIN)
			rc = libssh2_channel_free(ch);
		if (rc == LIBSSH2_ERROR_EAGAIN) {
			i++;
			continue;
		}
		s->graveyard[i] = s->graveyard[--s->ngrave];
	}
}

static void auth_reset(struct ssh_impl *s)
{
	for (size_t i = 0; i < s->nauth; i++) {
		free(s->auth[i].priv);
		free(s->auth[i].pub);
	}
	memset(s->auth, 0, sizeof s->auth);
	s->nauth = s->cur_auth = 0;
	if (s->agent) {
		libssh2_agent_disconnect(s->agent);
		libssh2_agent_free(s->agent);
		s->agent = NULL;
	}
	s->agent_id = NULL;
	s->agent_ready = false;
	s->agent_keys = 0;
	strbuf_reset(&s->auth_notes);
}

/* Drop the connection. Channels die with the session: forget every pointer to one. */
static void sess_drop(struct ssh_impl *s, bool polite)
{
	for (struct tproc *p = s->procs; p; p = p->next) {
		p->ch = NULL;
		p->k.ch = NULL;
		p->k.stage = 0;
	}
	free(s->graveyard);
	s->graveyard = NULL;
	s->ngrave = 0;
	s->opener = NULL;
	s->served = 0;
	auth_reset(s);
	if (s->session) {
		if (polite && s->st == SESS_READY)
			libssh2_session_disconnect(s->session, "certwiz: done"); /* one try */
		/* With the socket shut down, nothing in the teardown can wait for the peer. */
		if (s->sock >= 0)
			shutdown(s->sock, SHUT_RDWR);
		for (int i = 0; i < 3 && libssh2_session_free(s->session) == LIBSSH2_ERROR_EAGAIN;
		     i++)
			;
		s->session = NULL;
	}
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
	if (s->ai_list)
		freeaddrinfo(s->ai_list);
	s->ai_list = s->ai_cur = NULL;
	s->st = SESS_IDLE;
}

/* The connection failed: every command on it (but except) ends with this error. */
static cw_status sess_vfail(struct ssh_impl *s, struct tproc *except, cw_status code,
			    const char *fmt, va_list ap)
{
	char msg[sizeof s->fail.msg];
	vsnprintf(msg, sizeof msg, fmt, ap);
	cw_error_set(&s->fail, code, "%s", msg);
	s->fail_status = code;
	for (struct tproc *p = s->procs; p; p = p->next)
		if (p != except)
			proc_finish(p, code, &s->fail);
	sess_drop(s, false);
	return code;
}

static cw_status sess_fail(struct ssh_impl *s, cw_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static cw_status sess_fail(struct ssh_impl *s, cw_status code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cw_status st = sess_vfail(s, NULL, code, fmt, ap);
	va_end(ap);
	return st;
}

static cw_status sess_fail_ex(struct ssh_impl *s, struct tproc *except, cw_status code,
			      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static cw_status sess_fail_ex(struct ssh_impl *s, struct tproc *except, cw_status code,
			      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cw_status st = sess_vfail(s, except, code, fmt, ap);
	va_end(ap);
	return st;
}

static const char *stage_name(enum sess_state st)
{
	switch (st) {
	case SESS_CONNECT:
		return "while connecting";
	case SESS_HANDSHAKE:
		return "during the SSH handshake";
	case SESS_AUTH_LIST:
	case SESS_AUTH:
		return "during authentication";
	default:
		return "";
	}
}

/* Start a TCP connect to the next address; false when there is none left. */
/* libssh2's socket reads, counted per session: a command waiting for the server's answer has
 * nothing to do until bytes arrive, on the socket (poll says so) or read by another command's
 * call on the same session (this count says so). Errors as libssh2's own reader: -errno. */
static ssize_t counting_recv(libssh2_socket_t sock, void *buf, size_t len, int flags, void **abstract)
{
	struct ssh_impl *s = *abstract;
	ssize_t n = recv(sock, buf, len, flags);
	if (n < 0)
		return errno == ENOENT ? -EAGAIN : -errno;
	s->rx_bytes += (uint64_t)n;
	return n;
}

/* libssh2 1.10 takes its callbacks as void *. */
static void *recv_cb_ptr(void)
{
	union {
		ssize_t (*fn)(libssh2_socket_t, void *, size_t, int, void **);
		void *ptr;
	} u = {.fn = counting_recv};
	return u.ptr;
}

static bool connect_next(struct ssh_impl *s)
{
	for (; s->ai_cur; s->ai_cur = s->ai_cur->ai_next) {
		struct addrinfo *ai = s->ai_cur;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) {
			snprintf(s->connect_why, sizeof s->connect_why, "%s", strerror(errno));
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
			s->sock = fd;
			return true;
		}
		snprintf(s->connect_why, sizeof s->connect_why, "%s", strerror(errno));
		close(fd);
	}
	return false;
}

static cw_status sess_begin(struct ssh_impl *s)
{
	struct cw_error e;
	if (ssh_global_init(&e) != CW_OK)
		return sess_fail(s, e.code, "%s", e.msg);
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	char port[16];
	snprintf(port, sizeof port, "%d", s->port);
	int rc = getaddrinfo(s->address, port, &hints, &s->ai_list);
	if (rc != 0) {
		s->ai_list = NULL;
		return sess_fail(s, CW_ECONNECT, "%s: cannot resolve %s: %s", s->host, s->address,
				 gai_strerror(rc));
	}
	s->ai_cur = s->ai_list;
	s->connect_why[0] = '\0';
	s->deadline_ms = now_ms() + (int64_t)s->connect_timeout_s * 1000;
	if (!connect_next(s))
		return sess_fail(s, CW_ECONNECT, "%s: cannot connect to %s port %d: %s", s->host,
				 s->address, s->port, s->connect_why);
	s->st = SESS_CONNECT;
	return CW_OK;
}

/* The socket is connected (or failed): check, then set up the SSH session. */
static cw_status sess_connected(struct ssh_impl *s)
{
	struct pollfd pfd = { .fd = s->sock, .events = POLLOUT };
	if (poll(&pfd, 1, 0) <= 0)
		return CW_OK; /* still connecting */
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (getsockopt(s->sock, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		soerr = errno;
	if (soerr != 0) {
		snprintf(s->connect_why, sizeof s->connect_why, "%s", strerror(soerr));
		close(s->sock);
		s->sock = -1;
		s->ai_cur = s->ai_cur->ai_next;
		if (!connect_next(s))
			return sess_fail(s, CW_ECONNECT, "%s: cannot connect to %s port %d: %s",
					 s->host, s->address, s->port, s->connect_why);
		return CW_OK;
	}

	s->session = libssh2_session_init_ex(NULL, NULL, NULL, s);
	if (!s->session)
		return sess_fail(s, CW_EIO, "%s: cannot create an SSH session", s->host);
	libssh2_session_set_blocking(s->session, 0);
	libssh2_session_callback_set(s->session, LIBSSH2_CALLBACK_RECV, recv_cb_ptr());
	/* Ask for the kind of host key known_hosts holds for this host, if any. */
	if (!s->fetch_only) {
		struct known k;
		struct cw_error e;
		if (known_load(s->session, s->known_hosts, &k, &e) == CW_OK) {
			char *name = known_name(s->host, s->port);
			free(s->hostkey_methods);
			s->hostkey_methods = known_methods(&k, name);
			if (s->hostkey_methods &&
			    libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY,
							s->hostkey_methods) != 0) {
				free(s->hostkey_methods);
				s->hostkey_methods = NULL;
			}
			free(name);
			known_done(&k);
		}
	}
	s->st = SESS_HANDSHAKE;
	return CW_OK;
}

static void auth_add_file(struct ssh_impl *s, const char *priv, bool must_exist)
{
	if (!must_exist && !path_exists(priv))
		return;
	struct auth_method *m = &s->auth[s->nauth++];
	m->kind = AUTH_FILE;
	m->priv = xstrdup(priv);
	char *pub = xasprintf("%s.pub", priv);
	if (path_exists(pub))
		m->pub = pub;
	else
		free(pub);
}

static void auth_plan(struct ssh_impl *s)
{
	auth_reset(s);
	if (s->identity) {
		auth_add_file(s, s->identity, true);
		return;
	}
	const char *sock = getenv("SSH_AUTH_SOCK");
	if (sock && sock[0])
		s->auth[s->nauth++].kind = AUTH_AGENT;
	char *ed = path_join(home_dir(), ".ssh/id_ed25519");
	char *rsa = path_join(home_dir(), ".ssh/id_rsa");
	auth_add_file(s, ed, false);
	auth_add_file(s, rsa, false);
	free(ed);
	free(rsa);
}

static void note(struct ssh_impl *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ssh_impl *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (s->auth_notes.len)
		strbuf_adds(&s->auth_notes, "; ");
	strbuf_adds(&s->auth_notes, buf);
}

/* Is this key blob, or the key in this file, an RSA key? */
static bool blob_is_rsa(const unsigned char *blob, size_t len)
{
	char name[64];
	key_type_name((const char *)blob, len, name, sizeof name);
	return strcmp(name, "ssh-rsa") == 0;
}

static bool key_file_is_rsa(const struct auth_method *m)
{
	char *text = NULL;
	size_t len = 0;
	bool rsa = false;
	if (m->pub && file_read(m->pub, 1 << 16, &text, &len, NULL) == CW_OK) {
		rsa = strncmp(text, "ssh-rsa ", 8) == 0;
	} else if (file_read(m->priv, 1 << 16, &text, &len, NULL) == CW_OK) {
		if (strstr(text, "BEGIN RSA PRIVATE KEY")) {
			rsa = true;
		} else if (strstr(text, "BEGIN OPENSSH PRIVATE KEY")) {
			/* openssh-key-v1: the public key, in the clear, names its type. */
			struct strbuf b64;
			strbuf_init(&b64);
			const char *p = strchr(strstr(text, "BEGIN OPENSSH PRIVATE KEY"), '\n');
			for (; p && *p && *p != '-'; p++)
				if (*p != '\n' && *p != '\r')
					strbuf_add(&b64, p, 1);
			size_t rl = 0;
			unsigned char *raw = b64.len ? b64_decode(b64.buf, &rl) : NULL;
			static const char tag[] = "\0\0\0\7ssh-rsa";
			rsa = raw && memmem(raw, rl, tag, sizeof tag - 1) != NULL;
			free(raw);
			strbuf_done(&b64);
		}
	}
	free(text);
	return rsa;
}

#if LIBSSH2_VERSION_NUM < 0x010b00
#define RSA_NOTE                                                                                   \
	" (an RSA key: libssh2 before 1.11 signs only with ssh-rsa/SHA-1, which "                  \
	"OpenSSH 8.8 and later refuse by default; use an ed25519 or ECDSA key)"
#else
#define RSA_NOTE ""
#endif

static bool is_socket_error(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
	       rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_NONE ||
	       rc == LIBSSH2_ERROR_BAD_SOCKET || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT;
}

/* One step of key authentication. Returns 1 authenticated, 0 in progress, <0 failed (done). */
static int auth_step(struct ssh_impl *s)
{
	while (s->cur_auth < s->nauth) {
		struct auth_method *m = &s->auth[s->cur_auth];
		if (m->kind == AUTH_FILE) {
			int rc = libssh2_userauth_publickey_fromfile_ex(s->session, s->user,
									(unsigned)strlen(s->user),
									m->pub, m->priv, NULL);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return 0;
			if (rc == 0)
				return 1;
			if (is_socket_error(rc)) {
				sess_fail(s, CW_ECONNECT,
					  "%s: connection lost during authentication: %s", s->host,
					  ssh_errmsg(s->session));
				return -1;
			}
			if (rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
				note(s,
				     "%s could not be used (%s; a key with a passphrase must be "
				     "loaded into ssh-agent)",
				     m->priv, ssh_errmsg(s->session));
			else
				note(s, "%s was refused%s", m->priv,
				     key_file_is_rsa(m) ? RSA_NOTE : "");
			s->cur_auth++;
			continue;
		}
		/* ssh-agent: the agent is local, so connecting and listing do not wait on the host. */
		if (!s->agent_ready) {
			s->agent = libssh2_agent_init(s->session);
			if (!s->agent || libssh2_agent_connect(s->agent) != 0) {
				note(s, "ssh-agent could not be reached");
				s->cur_auth++;
				continue;
			}
			if (libssh2_agent_list_identities(s->agent) != 0) {
				note(s, "ssh-agent did not list its keys");
				s->cur_auth++;
				continue;
			}
			s->agent_ready = true;
			s->agent_id = NULL;
			if (libssh2_agent_get_identity(s->agent, &s->agent_id, NULL) != 0) {
				note(s, "ssh-agent holds no key");
				s->cur_auth++;
				continue;
			}
		}
		int rc = libssh2_agent_userauth(s->agent, s->user, s->agent_id);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		if (rc == 0)
			return 1;
		if (is_socket_error(rc)) {
			sess_fail(s, CW_ECONNECT, "%s: connection lost during authentication: %s",
				  s->host, ssh_errmsg(s->session));
			return -1;
		}
		s->agent_keys++;
		if (blob_is_rsa(s->agent_id->blob, s->agent_id->blob_len) && RSA_NOTE[0] &&
		    !strstr(s->auth_notes.buf ? s->auth_notes.buf : "", "ssh-agent's RSA key"))
			note(s, "ssh-agent's RSA key %s was refused%s",
			     s->agent_id->comment ? s->agent_id->comment : "", RSA_NOTE);
		struct libssh2_agent_publickey *prev = s->agent_id;
		if (libssh2_agent_get_identity(s->agent, &s->agent_id, prev) != 0) {
			note(s, "ssh-agent's %d key%s refused", s->agent_keys,
			     s->agent_keys == 1 ? " was" : "s were");
			s->cur_auth++;
		}
	}
	if (s->nauth == 0)
		sess_fail(
			s, CW_EAUTH,
			"%s: no key to log in as %s with: no identity file is set, no ssh-agent is "
			"running and there is no ~/.ssh/id_ed25519 or ~/.ssh/id_rsa",
			s->host, s->user);
	else
		sess_fail(
			s, CW_EAUTH,
			"%s: the server did not accept any key for %s (%s). Add the public key to "
			"~%s/.ssh/authorized_keys on %s, or set the identity file",
			s->host, s->user, s->auth_notes.buf, s->user, s->host);
	return -1;
}

/* Advance the connection as far as it goes without blocking. CW_OK while it is in progress or
 * ready (s->st tells which); the failure otherwise (the session is then dropped). */
static cw_status sess_advance(struct ssh_impl *s)
{
	for (;;) {
		enum sess_state before = s->st;
		if (s->st != SESS_IDLE && s->st != SESS_READY && s->st != SESS_FETCHED &&
		    now_ms() >= s->deadline_ms)
			return sess_fail(s, CW_ECONNECT,
					 "%s (%s port %d): no answer within %d s %s", s->host,
					 s->address, s->port, s->connect_timeout_s,
					 stage_name(s->st));
		switch (s->st) {
		case SESS_IDLE: {
			cw_status st = sess_begin(s);
			if (st != CW_OK)
				return st;
			break;
		}
		case SESS_CONNECT: {
			cw_status st = sess_connected(s);
			if (st != CW_OK)
				return st;
			break;
		}
		case SESS_HANDSHAKE: {
			int rc = libssh2_session_handshake(s->session, s->sock);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return CW_OK;
			if (rc == LIBSSH2_ERROR_KEX_FAILURE && s->hostkey_methods)
				return sess_fail(
					s, CW_EHOSTKEY,
					"%s (%s port %d): the server offers no host key of the "
					"types %s holds for it (%s): its host keys may have "
					"CHANGED. certwiz will not connect; check the host's keys "
					"with its administrator (%s)",
					s->host, s->address, s->port, s->known_hosts,
					s->hostkey_methods, ssh_errmsg(s->session));
			if (rc != 0)
				return sess_fail(
					s, CW_ECONNECT, "%s (%s port %d): SSH handshake failed: %s",
					s->host, s->address, s->port, ssh_errmsg(s->session));
			size_t klen = 0;
			int ktype = 0;
			const char *key = libssh2_session_hostkey(s->session, &klen, &ktype);
			if (!key || klen == 0)
				return sess_fail(s, CW_EHOSTKEY, "%s: the server sent no host key",
						 s->host);
			if (s->fetch_only) {
				s->fetched_key = xmalloc(klen);
				memcpy(s->fetched_key, key, klen);
				s->fetched_len = klen;
				s->fetched_type = ktype;
				s->st = SESS_FETCHED;
				return CW_OK;
			}
			struct cw_error e;
			cw_error_clear(&e);
			enum ssh_hostkey_verdict v =
				hostkey_decide(s->session, s->known_hosts, s->host, s->address,
					       s->port, key, klen, ktype, NULL, 0, &e);
			if (v != SSH_HOSTKEY_MATCH)
				return sess_fail(s, CW_EHOSTKEY, "%s", e.msg);
			auth_plan(s);
			s->st = SESS_AUTH_LIST;
			break;
		}
		case SESS_AUTH_LIST: {
			char *list = libssh2_userauth_list(s->session, s->user,
							   (unsigned)strlen(s->user));
			if (!list) {
				if (libssh2_userauth_authenticated(s->session)) {
					s->st = SESS_READY;
					break;
				}
				int rc = libssh2_session_last_errno(s->session);
				if (rc == LIBSSH2_ERROR_EAGAIN)
					return CW_OK;
				return sess_fail(s, CW_EAUTH,
						 "%s: cannot start authentication as %s: %s",
						 s->host, s->user, ssh_errmsg(s->session));
			}
			if (!strstr(list, "publickey"))
				return sess_fail(
					s, CW_EAUTH,
					"%s: the server does not accept keys for %s (it offers: %s); "
					"certwiz logs in with keys only",
					s->host, s->user, list);
			s->st = SESS_AUTH;
			break;
		}
		case SESS_AUTH: {
			int rc = auth_step(s);
			if (rc < 0)
				return s->fail_status;
			if (rc == 0)
				return CW_OK;
			auth_reset(s);
			s->st = SESS_READY;
			break;
		}
		case SESS_READY:
		case SESS_FETCHED:
			return CW_OK;
		}
		if (s->st == before)
			return CW_OK;
	}
}

/* ---- commands ---- */

/* Open a channel into *slot, one opener at a time (libssh2 keeps one open in progress per
 * session). 1 opened, 0 in progress, <0 failed (message in e). */
static int chan_open(struct ssh_impl *s, LIBSSH2_CHANNEL **slot, struct cw_error *e)
{
	if (s->opener && s->opener != slot)
		return 0;
	s->opener = slot;
	LIBSSH2_CHANNEL *ch = libssh2_channel_open_session(s->session);
	if (!ch) {
		int rc = libssh2_session_last_errno(s->session);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return 0;
		s->opener = NULL;
		if (is_socket_error(rc)) {
			cw_error_set(e, CW_ECONNECT, "%s: connection lost: %s", s->host,
				     ssh_errmsg(s->session));
			return -2;
		}
		cw_error_set(e, CW_EIO,
			     "%s: the server refused a new session channel: %s "
			     "(sshd's MaxSessions?)",
			     s->host, ssh_errmsg(s->session));
		return -1;
	}
	s->opener = NULL;
	*slot = ch;
	return 1;
}

static void emit(output_fn out, void *ctx, int stream, const char *data, size_t len)
{
	if (out && len)
		out(ctx, stream, data, len);
}

/* Could buf[0..len) be (the start of) the marker line, without its newline? With complete, is
 * it the whole marker line? */
static bool marker_match(const char *buf, size_t len, bool complete)
{
	size_t ml = strlen(PID_MARKER);
	size_t n = len < ml ? len : ml;
	if (memcmp(buf, PID_MARKER, n) != 0)
		return false;
	if (len > ml + 18)
		return false;
	for (size_t i = ml; i < len; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return false;
	return !complete || len > ml;
}

static void marker_flush(struct tproc *p, output_fn out, void *ctx)
{
	emit(out, ctx, 1, p->line.buf, p->line.len);
	strbuf_reset(&p->line);
}

/* stdout: look for the marker line first; everything else is passed on as it comes. */
static void stdout_data(struct tproc *p, const char *data, size_t len, output_fn out, void *ctx)
{
	if (p->marker_done) {
		emit(out, ctx, 1, data, len);
		return;
	}
	p->scanned += len;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) + 1 : len;
		strbuf_add(&p->line, data, take);
		data += take;
		len -= take;
		if (!nl) {
			if (!marker_match(p->line.buf, p->line.len, false))
				marker_flush(p, out, ctx);
			break;
		}
		if (marker_match(p->line.buf, p->line.len - 1, true)) {
			p->line.buf[p->line.len - 1] = '\0';
			p->rpid = strtol(p->line.buf + strlen(PID_MARKER), NULL, 10);
			strbuf_reset(&p->line);
			p->marker_done = true;
			emit(out, ctx, 1, data, len);
			return;
		}
		marker_flush(p, out, ctx);
	}
	if (p->scanned > MARKER_SCAN_MAX) {
		p->marker_done = true;
		marker_flush(p, out, ctx);
	}
}

static void stderr_data(struct tproc *p, const char *data, size_t len, output_fn out, void *ctx)
{
	if (p->errhead_len < ERRHEAD_MAX) {
		size_t n = ERRHEAD_MAX - p->errhead_len;
		if (n > len)
			n = len;
		memcpy(p->errhead + p->errhead_len, data, n);
		p->errhead_len += n;
		p->errhead[p->errhead_len] = '\0';
	}
	emit(out, ctx, 2, data, len);
}

/* Is the peer gone? (libssh2 1.10 reports a lost connection in a read as "no data".) */
static bool peer_closed(int sock)
{
	char c;
	ssize_t n = recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Read both streams in turn until neither has anything. 1 at end of output, 0 for now, <0 a
 * libssh2 error. */
static int read_output(struct tproc *p, output_fn out, void *ctx)
{
	char buf[READ_CHUNK];
	size_t total = 0;
	for (;;) {
		bool progress = false, zero = false;
		if (total >= PUMP_BYTES_MAX)
			return 0;
		ssize_t n = libssh2_channel_read_ex(p->ch, 0, buf, sizeof buf);
		if (n > 0) {
			stdout_data(p, buf, (size_t)n, out, ctx);
			total += (size_t)n;
			progress = true;
		} else if (n == 0) {
			zero = true;
		} else if (n != LIBSSH2_ERROR_EAGAIN) {
			return (int)n;
		}
		n = libssh2_channel_read_ex(p->ch, SSH_EXTENDED_DATA_STDERR, buf, sizeof buf);
		if (n > 0) {
			stderr_data(p, buf, (size_t)n, out, ctx);
			total += (size_t)n;
			progress = true;
		} else if (n == 0) {
			zero = true;
		} else if (n != LIBSSH2_ERROR_EAGAIN) {
			return (int)n;
		}
		if (progress)
			continue;
		if (libssh2_channel_eof(p->ch))
			return 1;
		/* Reading one stream may have queued data of the other. */
		unsigned long avail = 0;
		libssh2_channel_window_read_ex(p->ch, &avail, NULL);
		if (avail > 0)
			continue;
		if (zero && peer_closed(p->s->sock))
			return LIBSSH2_ERROR_SOCKET_DISCONNECT;
		return 0;
	}
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{ "HUP", SIGHUP },   { "INT", SIGINT },   { "QUIT", SIGQUIT }, { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "BUS", SIGBUS },   { "FPE", SIGFPE },
	{ "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ }, { "SYS", SIGSYS },
};

static int signal_number(const char *name)
{
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
		if (strcmp(signals[i].name, name) == 0)
			return signals[i].sig;
	return 0;
}

/* Exit status and signal, after the channel closed. */
static void collect_exit(struct tproc *p)
{
	struct proc_result *r = &p->res;
	memset(r, 0, sizeof *r);
	char *sig = NULL;
	size_t siglen = 0;
	libssh2_channel_get_exit_signal(p->ch, &sig, &siglen, NULL, NULL, NULL, NULL);
	if (sig && siglen) {
		r->exit_code = -1;
		snprintf(r->signal_name, sizeof r->signal_name, "%.*s", (int)siglen, sig);
		r->term_signal = signal_number(r->signal_name);
	} else {
		r->exit_code = libssh2_channel_get_exit_status(p->ch) & 0xff;
	}
	if (sig)
		libssh2_free(p->s->session, sig);
}

/* sudo's own refusals, recognised on stderr. */
static cw_status sudo_check(struct tproc *p, struct cw_error *e)
{
	struct ssh_impl *s = p->s;
	if (!s->sudo)
		return CW_OK;
	if (p->res.exit_code == 1 && (strstr(p->errhead, "sudo: a password is required") ||
				      strstr(p->errhead, "sudo: a terminal is required")))
		return cw_error_set(e, CW_EAUTH,
				    "sudo on %s needs a password: configure NOPASSWD for this user "
				    "(%s) or connect as root",
				    s->host, s->user);
	if (p->res.exit_code == 127 && (strstr(p->errhead, "sudo: not found") ||
					strstr(p->errhead, "sudo: command not found")))
		return cw_error_set(e, CW_EEXEC, "sudo is not installed on %s (or not in PATH)",
				    s->host);
	return CW_OK;
}

/* Build the kill command for p's process group. */
static char *kill_cmdline(struct tproc *p, int sig)
{
	char pg[32];
	snprintf(pg, sizeof pg, "-%ld", p->rpid);
	const char *signame = sig == KILL_KILL ? "KILL" : "TERM";
	char *sudo_argv[] = { "sudo", "-n", "--", "kill", "-s", (char *)signame, "--", pg, NULL };
	char **argv = p->s->sudo ? sudo_argv : sudo_argv + 3;
	return shquote_argv(argv);
}

/* Drive the kill channel: start one when a stronger signal is wanted and the pid is known. */
static void killer_advance(struct tproc *p)
{
	struct ssh_impl *s = p->s;
	struct killer *k = &p->k;
	if (!s->session || s->st != SESS_READY)
		return;
	if (k->stage == 0) {
		if (p->want_sig <= p->sent_sig || p->rpid <= 0 || p->st != P_RUN)
			return;
		k->sig = p->want_sig;
		k->stage = 1;
	}
	if (k->stage == 1) {
		struct cw_error e;
		int rc = chan_open(s, &k->ch, &e);
		if (rc == 0)
			return;
		if (rc == -2) {
			sess_fail(s, CW_ECONNECT, "%s", e.msg);
			return;
		}
		if (rc < 0) {
			/* Could not send the signal; a hard kill still drops the connection. */
			p->sent_sig = k->sig;
			k->stage = 0;
			return;
		}
		k->stage = 2;
	}
	if (k->stage == 2) {
		char *cmd = kill_cmdline(p, k->sig);
		int rc = libssh2_channel_exec(k->ch, cmd);
		free(cmd);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return;
		p->sent_sig = k->sig;
		if (rc != 0) {
			grave_push(s, k->ch);
			k->ch = NULL;
			k->stage = 0;
			return;
		}
		/* No end-of-file on its stdin: kill reads none, and a send that would block must not
		 * be left half done (libssh2 wants the same call repeated). */
		k->stage = 3;
	}
	if (k->stage == 3) {
		char buf[1024];
		for (;;) {
			ssize_t a = libssh2_channel_read_ex(k->ch, 0, buf, sizeof buf);
			ssize_t b = libssh2_channel_read_ex(k->ch, SSH_EXTENDED_DATA_STDERR, buf,
							    sizeof buf);
			if (a > 0 || b > 0)
				continue;
			break;
		}
		if (!libssh2_channel_eof(k->ch))
			return;
		k->stage = 4;
	}
	if (k->stage == 4) {
		int rc = libssh2_channel_close(k->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return;
		grave_push(s, k->ch); /* frees it without waiting */
		k->ch = NULL;
		k->stage = 0;
	}
}

/* Advance one command as far as it goes. */
static void proc_advance(struct tproc *p, output_fn out, void *ctx)
{
	struct ssh_impl *s = p->s;
	struct cw_error e;
	if (p->finished)
		return;
	p->seen_rx = s->rx_bytes;

	if (p->hard && now_ms() >= p->hard_deadline) {
		/* The host did not confirm the end in time: stop following it. */
		proc_finish(p, CW_OK, NULL);
		cw_error_set(&s->fail, CW_ECONNECT, "%s: connection dropped after a kill", s->host);
		s->fail_status = CW_ECONNECT;
		for (struct tproc *o = s->procs; o; o = o->next)
			if (o != p)
				proc_finish(o, CW_ECONNECT, &s->fail);
		sess_drop(s, false);
		return;
	}

	if (p->st == P_WAIT) {
		if (sess_advance(s) != CW_OK || p->finished)
			return;
		if (s->st != SESS_READY)
			return;
		p->st = P_OPEN;
	}
	if (p->st == P_OPEN) {
		int rc = chan_open(s, &p->ch, &e);
		if (rc == 0 || p->finished)
			return;
		if (rc == -2 && s->served > 0 && !p->retried) {
			/* A session that served earlier commands died while idle (an sshd restart, a
			 * NAT that forgot it): nothing of this command ran yet, so connect again, once.
			 * Commands still running on the old connection are lost with it. */
			p->retried = true;
			sess_fail_ex(s, p, CW_ECONNECT, "%s", e.msg);
			p->st = P_WAIT;
			proc_advance(p, out, ctx);
			return;
		}
		if (rc == -2) {
			sess_fail(s, CW_ECONNECT, "%s", e.msg);
			return;
		}
		if (rc < 0) {
			proc_finish(p, e.code, &e);
			return;
		}
		p->st = P_EXEC;
	}
	if (p->st == P_EXEC) {
		int rc = libssh2_channel_exec(p->ch, p->cmdline);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return;
		if (rc != 0) {
			if (is_socket_error(rc)) {
				sess_fail(s, CW_ECONNECT, "%s: connection lost: %s", s->host,
					  ssh_errmsg(s->session));
				return;
			}
			cw_error_set(&e, CW_EEXEC, "%s: the server refused to run the command: %s",
				     s->host, ssh_errmsg(s->session));
			grave_push(s, p->ch);
			p->ch = NULL;
			proc_finish(p, CW_EEXEC, &e);
			return;
		}
		p->st = P_RUN;
		s->served++;
	}
	if (p->st == P_RUN) {
		if (!p->eof_sent) {
			/* The command's stdin is at end of file, as with ssh -n. */
			int rc = libssh2_channel_send_eof(p->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return; /* libssh2 wants this same call again before any other send */
			if (rc != 0 && is_socket_error(rc)) {
				sess_fail(s, CW_ECONNECT, "%s: connection lost: %s", s->host,
					  ssh_errmsg(s->session));
				return;
			}
			p->eof_sent = true;
		}
		int rc = read_output(p, out, ctx);
		if (rc < 0) {
			sess_fail(s, CW_ECONNECT, "%s: connection lost while the command ran: %s",
				  s->host,
				  rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ? "closed by the server"
									: ssh_errmsg(s->session));
			return;
		}
		killer_advance(p);
		if (p->finished)
			return;
		if (rc == 0)
			return;
		if (!p->marker_done) {
			p->marker_done = true;
			marker_flush(p, out, ctx);
		}
		p->st = P_CLOSE;
	}
	if (p->st == P_CLOSE) {
		/* A kill still on its way has nothing left to do: let it go. */
		if (s->opener == &p->k.ch)
			s->opener = NULL;
		grave_push(s, p->k.ch);
		p->k.ch = NULL;
		p->k.stage = 0;
		int rc = libssh2_channel_close(p->ch);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return;
		if (rc == 0) {
			rc = libssh2_channel_wait_closed(p->ch);
			if (rc == LIBSSH2_ERROR_EAGAIN)
				return;
		}
		if (rc != 0) {
			sess_fail(s, CW_ECONNECT,
				  "%s: connection lost at the end of the command: %s", s->host,
				  ssh_errmsg(s->session));
			return;
		}
		collect_exit(p);
		if (libssh2_channel_free(p->ch) == LIBSSH2_ERROR_EAGAIN)
			grave_push(s, p->ch);
		p->ch = NULL;
		cw_status st = sudo_check(p, &e);
		p->finished = true;
		p->fstatus = st;
		if (st != CW_OK)
			p->ferr = e;
	}
}

static struct ssh_impl *impl_of(struct transport *t)
{
	return t->impl;
}

static cw_status ssh_start(struct transport *t, char *const *argv, struct tproc **out,
			   struct cw_error *err)
{
	struct ssh_impl *s = impl_of(t);
	if (!argv || !argv[0] || !argv[0][0])
		return cw_error_set(err, CW_EINVAL, "no command to run");
	char **full = NULL;
	if (s->sudo) {
		strv_push(&full, "sudo");
		strv_push(&full, "-n");
		strv_push(&full, "--");
	}
	for (size_t i = 0; argv[i]; i++)
		strv_push(&full, argv[i]);
	char *quoted = shquote_argv(full);
	strv_free(full);

	struct tproc *p = xcalloc(1, sizeof *p);
	p->s = s;
	p->cmdline = xasprintf("printf '" PID_MARKER "%%s\\n' \"$$\"; exec %s", quoted);
	free(quoted);
	strbuf_init(&p->line);
	p->st = P_WAIT;
	p->res.exit_code = -1;
	p->next = s->procs;
	s->procs = p;

	grave_advance(s);
	/* Resolve and start connecting now: a name that does not resolve fails here. */
	if (s->st == SESS_IDLE) {
		sess_advance(s);
		if (p->finished && p->fstatus != CW_OK) {
			if (err)
				*err = p->ferr;
			cw_status st = p->fstatus;
			t->ops->proc_free(t, p);
			return st;
		}
	}
	*out = p;
	return CW_OK;
}

/* A connection attempt nobody waits for any more is dropped: the next command starts afresh
 * (with a fresh connect timeout). */
static void abandon_connect(struct ssh_impl *s)
{
	if (s->st == SESS_IDLE || s->st == SESS_READY)
		return;
	for (struct tproc *o = s->procs; o; o = o->next)
		if (!o->finished)
			return;
	sess_drop(s, false);
}

static bool proc_has_work(struct ssh_impl *s, struct tproc *p)
{
	if (p->st == P_WAIT)
		return s->st == SESS_READY;
	if (p->st == P_OPEN) /* free to open; or opening, and the session read something since */
		return !s->opener || (s->opener == &p->ch && s->rx_bytes != p->seen_rx);
	if (p->st == P_RUN && p->ch) {
		unsigned long avail = 0;
		libssh2_channel_window_read_ex(p->ch, &avail, NULL);
		return avail > 0 || libssh2_channel_eof(p->ch);
	}
	return false;
}

static int ssh_pollfds(struct transport *t, struct tproc *p, struct pollfd *fds, int max)
{
	struct ssh_impl *s = impl_of(t);
	if (max <= 0 || p->finished || s->sock < 0)
		return 0;
	short ev = 0;
	if (s->st == SESS_CONNECT) {
		ev = POLLOUT;
	} else if (s->session) {
		int dir = libssh2_session_block_directions(s->session);
		if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
			ev |= POLLIN;
		if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			ev |= POLLOUT;
		if (!ev)
			ev = POLLIN;
		/* Work that needs no I/O (output another command's read queued inside libssh2, the
		 * session another command connected): ask for writability, which is there at once. */
		if (proc_has_work(s, p))
			ev |= POLLOUT;
	} else {
		return 0;
	}
	fds[0].fd = s->sock;
	fds[0].events = ev;
	fds[0].revents = 0;
	return 1;
}

static cw_status ssh_pump(struct transport *t, struct tproc *p, output_fn out, void *ctx,
			  bool *done, struct proc_result *res, struct cw_error *err)
{
	struct ssh_impl *s = impl_of(t);
	*done = false;
	grave_advance(s);
	proc_advance(p, out, ctx);
	if (!p->finished)
		return CW_OK;
	*done = true;
	if (res)
		*res = p->res;
	if (p->fstatus != CW_OK && err)
		*err = p->ferr;
	return p->fstatus;
}

static void ssh_kill(struct transport *t, struct tproc *p, bool hard)
{
	struct ssh_impl *s = impl_of(t);
	if (p->finished)
		return;
	if (p->st == P_WAIT || p->st == P_OPEN) {
		/* Nothing runs yet: it never will. */
		if (s->opener == &p->ch)
			s->opener = NULL;
		proc_finish(p, CW_OK, NULL);
		abandon_connect(s);
		return;
	}
	int sig = hard ? KILL_KILL : KILL_TERM;
	if (sig > p->want_sig)
		p->want_sig = sig;
	if (hard && !p->hard) {
		p->hard = true;
		p->hard_deadline = now_ms() + HARD_KILL_GRACE_MS;
	}
	killer_advance(p);
}

static void proc_unlink(struct ssh_impl *s, struct tproc *p)
{
	for (struct tproc **pp = &s->procs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

static void ssh_proc_free(struct transport *t, struct tproc *p)
{
	if (!p)
		return;
	struct ssh_impl *s = impl_of(t);
	proc_unlink(s, p);
	if (s->opener == &p->ch || s->opener == &p->k.ch)
		s->opener = NULL;
	/* A channel still open (the command was not followed to its end) is closed later. */
	grave_push(s, p->ch);
	grave_push(s, p->k.ch);
	grave_advance(s);
	abandon_connect(s);
	strbuf_done(&p->line);
	free(p->cmdline);
	free(p);
}

static void impl_free(struct ssh_impl *s)
{
	while (s->procs) {
		struct tproc *p = s->procs;
		s->procs = p->next;
		strbuf_done(&p->line);
		free(p->cmdline);
		free(p);
	}
	sess_drop(s, true);
	strbuf_done(&s->auth_notes);
	free(s->fetched_key);
	free(s->hostkey_methods);
	free(s->host);
	free(s->address);
	free(s->user);
	free(s->identity);
	free(s->known_hosts);
	free(s);
}

static void ssh_free(struct transport *t)
{
	if (!t)
		return;
	impl_free(impl_of(t));
	free(t->label);
	free(t);
}

static const struct transport_ops ssh_ops = {
	.name = "ssh",
	.start = ssh_start,
	.pollfds = ssh_pollfds,
	.pump = ssh_pump,
	.kill = ssh_kill,
	.proc_free = ssh_proc_free,
	.free = ssh_free,
};

static cw_status impl_new(const struct ssh_opts *o, struct ssh_impl **out, struct cw_error *err)
{
	if (!o || !o->host || !o->host[0])
		return cw_error_set(err, CW_EINVAL, "no host name for the SSH connection");
	if (o->port < 0 || o->port > 65535)
		return cw_error_set(err, CW_EINVAL, "%s: port %d is not a TCP port", o->host,
				    o->port);
	cw_status st = ssh_global_init(err);
	if (st != CW_OK)
		return st;
	struct ssh_impl *s = xcalloc(1, sizeof *s);
	s->host = xstrdup(o->host);
	s->address = xstrdup(o->address && o->address[0] ? o->address : o->host);
	s->port = o->port ? o->port : DEFAULT_PORT;
	s->user = xstrdup(o->user && o->user[0] ? o->user : DEFAULT_USER);
	s->identity = o->identity && o->identity[0] ? xstrdup(o->identity) : NULL;
	s->known_hosts = o->known_hosts && o->known_hosts[0]
				 ? xstrdup(o->known_hosts)
				 : path_join(home_dir(), ".ssh/known_hosts");
	s->sudo = o->sudo;
	s->connect_timeout_s =
		o->connect_timeout_s > 0 ? o->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT_S;
	s->sock = -1;
	s->st = SESS_IDLE;
	strbuf_init(&s->auth_notes);
	*out = s;
	return CW_OK;
}

cw_status transport_ssh_new(const struct ssh_opts *o, struct transport **out, struct cw_error *err)
{
	struct ssh_impl *s;
	cw_status st = impl_new(o, &s, err);
	if (st != CW_OK)
		return st;
	struct transport *t = xcalloc(1, sizeof *t);
	t->ops = &ssh_ops;
	t->label = xstrdup(o->host);
	t->is_local = false;
	t->impl = s;
	s->t = t;
	*out = t;
	return CW_OK;
}

/* Blocking: advance the connection until it reaches want (or fails), waiting on its socket. */
static cw_status sess_wait_for(struct ssh_impl *s, enum sess_state want, struct cw_error *err)
{
	for (;;) {
		cw_status st = sess_advance(s);
		if (st != CW_OK) {
			if (err)
				*err = s->fail;
			return st;
		}
		if (s->st == want)
			return CW_OK;
		struct pollfd pfd = { .fd = s->sock, .events = POLLIN };
		if (s->st == SESS_CONNECT) {
			pfd.events = POLLOUT;
		} else if (s->session && (libssh2_session_block_directions(s->session) &
					  LIBSSH2_SESSION_BLOCK_OUTBOUND)) {
			pfd.events |= POLLOUT;
		}
		int64_t left = s->deadline_ms - now_ms();
		poll(&pfd, 1, left < 0 ? 0 : left > 1000 ? 1000 : (int)left);
	}
}

cw_status transport_ssh_connect(struct transport *t, struct cw_error *err)
{
	if (!t || t->ops != &ssh_ops)
		return cw_error_set(err, CW_EINVAL, "not an SSH transport");
	struct ssh_impl *s = impl_of(t);
	if (s->st == SESS_READY)
		return CW_OK;
	return sess_wait_for(s, SESS_READY, err);
}

cw_status ssh_hostkey_fetch(const struct ssh_opts *o, char **key, size_t *keylen, int *keytype,
			    char *fp_out, size_t fp_size, struct cw_error *err)
{
	struct ssh_impl *s;
	cw_status st = impl_new(o, &s, err);
	if (st != CW_OK)
		return st;
	s->fetch_only = true;
	st = sess_wait_for(s, SESS_FETCHED, err);
	if (st == CW_OK) {
		*key = s->fetched_key;
		s->fetched_key = NULL;
		if (keylen)
			*keylen = s->fetched_len;
		if (keytype)
			*keytype = s->fetched_type;
		if (fp_out && fp_size)
			ssh_key_fingerprint(*key, s->fetched_len, fp_out, fp_size);
	}
	impl_free(s);
	return st;
}
