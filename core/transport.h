/* transport.h: where a command runs (this host, or another over SSH), behind one table of
 * function pointers. Commands are argv vectors; nothing here builds a shell string from input
 * except the SSH transport's one quoting function (shquote.h). */
#ifndef CW_TRANSPORT_H
#define CW_TRANSPORT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* How a command ended. */
struct proc_result {
	int exit_code;          /* 0..255, or -1 when it ended by a signal or never started */
	int term_signal;        /* signal number, 0 if none (local) */
	char signal_name[32];   /* e.g. "TERM" (SSH exit-signal), "" if none */
	bool timed_out;         /* the runner killed it after its timeout */
	bool cancelled;         /* the runner killed it on request */
	bool until_seen;        /* its output showed the runner's `until` text (then it was stopped) */
};

/* Receives a command's output as it arrives. stream: 1 stdout, 2 stderr. */
typedef void (*output_fn)(void *ctx, int stream, const char *data, size_t len);

struct transport;
struct tproc; /* one running command; opaque, owned by its transport */

struct transport_ops {
	const char *name; /* "local", "ssh" */
	/* Start argv (argv[0] looked up in PATH on the target). */
	cw_status (*start)(struct transport *t, char *const *argv, struct tproc **out,
			   struct cw_error *err);
	/* Fill at most max pollfds to wait on for this command; return how many. */
	int (*pollfds)(struct transport *t, struct tproc *p, struct pollfd *fds, int max);
	/* Without blocking: read what is available and pass it to out(); when the command has
	 * ended and all output is read, set *done and fill *res. */
	cw_status (*pump)(struct transport *t, struct tproc *p, output_fn out, void *ctx, bool *done,
			  struct proc_result *res, struct cw_error *err);
	/* Ask the command to end: hard=false SIGTERM (its process group), hard=true SIGKILL. */
	void (*kill)(struct transport *t, struct tproc *p, bool hard);
	void (*proc_free)(struct transport *t, struct tproc *p);
	void (*free)(struct transport *t);
	/* Optional: the process group of the command on this host (0 unknown). Journaled, so a
	 * resumed run can wait for a command that outlived a killed certwiz. */
	long (*proc_group)(struct transport *t, struct tproc *p);
};

struct transport {
	const struct transport_ops *ops;
	char *label;   /* host name shown to the operator; owned */
	bool is_local;
	void *impl;    /* owned by the transport */
};

/* This host: fork/exec, pipes, its own process group. */
struct transport *transport_local_new(const char *label);

/* Another host over SSH (libssh2). */
struct ssh_opts {
	const char *host;            /* name used for known_hosts and shown to the operator */
	const char *address;         /* address to connect to (default: host) */
	int port;                    /* default 22 */
	const char *user;            /* default: root */
	const char *identity;        /* private key file; NULL: ssh-agent, then ~/.ssh/id_ed25519, id_rsa */
	const char *known_hosts;     /* default ~/.ssh/known_hosts */
	bool sudo;                   /* wrap commands in sudo -n -- */
	int connect_timeout_s;       /* default 10 */
};
cw_status transport_ssh_new(const struct ssh_opts *o, struct transport **out, struct cw_error *err);
/* (Added) How the SSH transport behaves, for its callers:
 * - transport_ssh_new does no I/O. The first command connects (connect, handshake, host key,
 *   authentication: all within connect_timeout_s, all non-blocking, driven by pump); later
 *   commands reuse the session, one channel each. After a connection failure the next command
 *   connects again.
 * - Connection failures come out of pump (with *done set): CW_ECONNECT (refused, no answer
 *   within the timeout, lost), CW_EHOSTKEY (unknown, changed or revoked host key), CW_EAUTH (no
 *   key accepted; also sudo asking for a password). Name resolution happens in start.
 * - The remote command line is `printf 'certwiz-remote-pid=%s\n' "$$"; exec ARGV...`: the first
 *   line tells certwiz the remote process group (it never reaches output_fn) so that kill can
 *   signal it from a second channel (`kill -s TERM -- -PGID`, under sudo -n when configured).
 *   libssh2 1.10 cannot send the SSH "signal" request, and closing the channel does not stop a
 *   remote command. A hard kill that the host does not confirm within a few seconds drops the
 *   connection, so pump always reports the end. stdin of every command is at end of file. */

/* (Added) Blocking: connect, check the host key and authenticate now (within the connect
 * timeout) instead of at the first command; CW_OK at once if already connected. For a pre-flight
 * check of every host; the same errors as pump. */
cw_status transport_ssh_connect(struct transport *t, struct cw_error *err);

/* ---- SSH host keys (transport_ssh.c): the decision, usable without a server ---- */
enum ssh_hostkey_verdict {
	SSH_HOSTKEY_MATCH,   /* exactly this key is known for this name: go on */
	SSH_HOSTKEY_UNKNOWN, /* no key of this type for this name: a question for the operator */
	SSH_HOSTKEY_CHANGED, /* another key of this type is known for this name: hard stop */
	SSH_HOSTKEY_REVOKED, /* the key is marked @revoked in known_hosts: hard stop */
	SSH_HOSTKEY_ERROR,   /* cannot decide (unreadable known_hosts, unusable key): stop */
};
/* "SHA256:" + 43 characters + NUL */
#define SSH_FINGERPRINT_MAX 64
/* Check key (the raw host key blob as the server sent it; keytype a LIBSSH2_HOSTKEY_TYPE_*
 * value) against known_hosts_path for host, looked up as "host" when port is 22 (or 0) and as
 * "[host]:port" otherwise, plain or hashed entries; only an exact match passes (no wildcards).
 * fp_out (may be NULL) receives the key's fingerprint as OpenSSH prints it. For every verdict
 * but MATCH, err receives a message for the operator: key type, fingerprint, and what to do
 * (how to add an unknown key; "HOST KEY CHANGED" with both fingerprints for a changed one).
 * A missing known_hosts file means UNKNOWN. */
enum ssh_hostkey_verdict ssh_hostkey_check(const char *known_hosts_path, const char *host, int port,
					   const char *key, size_t keylen, int keytype,
					   char *fp_out, size_t fp_size, struct cw_error *err);
/* OpenSSH's SHA-256 fingerprint of a raw key blob: "SHA256:" + base64 without padding. */
void ssh_key_fingerprint(const void *key, size_t keylen, char *out, size_t size);
/* Append host's key (raw blob) to known_hosts_path in OpenSSH's format ("[host]:port" when port
 * is not 22), creating the file (0600) and its directory (0700) if needed. For the wizard, once
 * the operator has accepted the fingerprint. */
cw_status ssh_known_hosts_add(const char *known_hosts_path, const char *host, int port,
			      const char *key, size_t keylen, struct cw_error *err);
/* Blocking: connect (within o->connect_timeout_s) and handshake only, and return the host key the
 * server offers, unchecked: what the wizard shows the operator before asking. *key is heap-owned
 * by the caller; fp_out (may be NULL) receives its fingerprint. */
cw_status ssh_hostkey_fetch(const struct ssh_opts *o, char **key, size_t *keylen, int *keytype,
			    char *fp_out, size_t fp_size, struct cw_error *err);

void transport_free(struct transport *t);

#endif
