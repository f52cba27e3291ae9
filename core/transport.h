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

void transport_free(struct transport *t);

#endif
