/* service.h: stop, start and query a named service through a backend (systemd, sysv,
 * puppet-resource, command). A stop or start is judged by the real state (pid alive, port
 * answering), never by the control command's exit code alone (PUPPET7-NOTES.md). */
#ifndef CW_SERVICE_H
#define CW_SERVICE_H

#include <stdatomic.h>
#include <stdbool.h>

#include "error.h"
#include "transport.h"

enum service_state { SERVICE_UNKNOWN, SERVICE_STOPPED, SERVICE_RUNNING };
const char *service_state_str(enum service_state s);

/* How certwiz controls services on a host. Templates may use ${service}. */
enum service_backend_kind {
	BACKEND_SYSTEMD,        /* systemctl stop|start|is-active NAME */
	BACKEND_SYSV,           /* service NAME stop|start|status */
	BACKEND_PUPPET_RESOURCE,/* puppet resource service NAME ensure=stopped|running (as the seeds) */
	BACKEND_COMMAND,        /* argv templates from the config */
};
struct service_backend {
	enum service_backend_kind kind;
	char **start, **stop, **status; /* strv templates (BACKEND_COMMAND only); owned */
	char *puppet;                   /* puppet-resource: the puppet command (NULL: "puppet"); owned */
};
cw_status service_backend_parse(const char *name, enum service_backend_kind *kind,
				struct cw_error *err);
const char *service_backend_str(enum service_backend_kind kind);

/* One service as a profile describes it. */
struct service_def {
	char *name;     /* e.g. "puppetserver", "pe-puppetdb" */
	char *pidfile;  /* optional: the real pid lives here */
	int port;       /* optional: TCP port it answers on when running (e.g. 8140) */
	bool tls;       /* the port serves TLS with a certificate from the Puppet CA */
};

struct service_status {
	enum service_state state;
	long pid;            /* 0 unknown */
	int port_open;       /* -1 unknown/not applicable, 0 no, 1 yes */
	int cert_current;    /* -1 unknown, 0 the served certificate does not chain to the CA, 1 it does */
	char detail[256];    /* what was seen, for the operator */
};

/* What a service call needs besides the service. */
struct service_ctx {
	struct transport *t;            /* the host the service lives on */
	const struct service_backend *backend;
	const char *address;            /* where its port is reached from here (default 127.0.0.1) */
	const char *ca_bundle_path;     /* on the host; to judge cert_current (may be NULL) */
	int timeout_s;                  /* how long a stop/start may take to show in the real state
					 * (0: 180 s); the control command gets the same time */
	output_fn out;                  /* output of control commands (may be NULL) */
	void *out_ctx;
	/* Added: may be NULL. Once *cancel is true (set from any thread), a stop/start in progress
	 * ends soon with CW_ECANCEL: its control command is cancelled (runner_cancel) and the wait
	 * for the real state stops. */
	const atomic_bool *cancel;
};

cw_status service_query(const struct service_ctx *c, const struct service_def *def,
			struct service_status *st, struct cw_error *err);
/* Stop/start, then wait until the real state agrees (or fail with what was seen).
 * (Clarified:) the real state is polled every 250 ms until timeout_s. "Agrees" for a start
 * means every check that applies says up: pid alive (pidfile) and port answering (port), or
 * the status command says running when the service has neither. A control command that exits
 * 0 while the state does not agree is CW_EVERIFY ("X reported success but S is still running
 * (pid N)"); one that fails is CW_EEXEC unless the state agrees within 2 s anyway, which is
 * CW_OK with a "note: ..." in st->detail. st is filled with the last state seen in every case.
 * service_query: the status command is used only when neither pidfile nor port is defined. */
cw_status service_stop(const struct service_ctx *c, const struct service_def *def,
		       struct service_status *st, struct cw_error *err);
cw_status service_start(const struct service_ctx *c, const struct service_def *def,
			struct service_status *st, struct cw_error *err);

/* The argv the backend will run for action "start"|"stop"|"status" (strv, caller frees). */
char **service_argv(const struct service_backend *b, const char *action, const char *service);

#endif
