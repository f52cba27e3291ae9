/* discovery.c: screen 3: what certwiz found on this host: certname and alt names (editable,
 * validated as typed; puppet.conf and the certificate compared), ssldir, cadir, Puppet version
 * and dialect, CA and host certificate, the services and their state; the agents for the
 * procedures that regenerate agents. */
#include "screens.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "picker.h"
#include "util.h"
#include "validate.h"

enum { F_CERTNAME, F_ALT, F_AGENTS, F_COUNT };
#define MSG_SIZE 1400 /* a validator message: core's message and the name it is about */

struct discovery {
	bool filled;
	unsigned facts_gen;
	struct tui_field f[F_COUNT];
	bool has_agents;
	int focus;
	char msg[F_COUNT][MSG_SIZE];
	struct agent_picker picker;  /* F2: the agents from the CA's own list */
};

static const struct tui_help_entry help[] = {
	{NULL, "Discovery"},
	{"Tab  Down", "next field; Shift-Tab / Up: previous"},
	{"Enter", "take these names, build the plan and go on to the pre-flight checks"},
	{"Certname", "the name in the CA/primary server's certificate (Puppet's certname setting)"},
	{"Alt names", "other DNS names the server answers to (dns_alt_names), comma separated. certwiz "
		      "starts from puppet.conf and the current certificate together: agents that reach the "
		      "server by any of them keep working"},
	{"Agents", "the agents that get new certificates, comma separated, or the path of a file with one "
		   "certname a line (# comments)"},
	{"F2", "choose the agents from the CA's signed certificates: each with its expiry date and whether it "
	       "is revoked; / filters by name, e shows those expiring within N days, Space selects, a selects "
	       "all shown, Enter takes them"},
	{"Esc", "back to the deployment type; nothing has changed yet"},
	{NULL, NULL},
};

/* ---- validators (tui_validate_fn over core's validate.h) ---- */

static const char *v_certname(const char *v, void *ctx)
{
	char *msg = ctx;
	struct cw_error e = {0};
	if (validate_certname(v, &e) == CW_OK)
		return NULL;
	snprintf(msg, MSG_SIZE, "%s", e.msg);
	return msg;
}

static const char *v_alt(const char *v, void *ctx)
{
	char *msg = ctx;
	char **names = strv_split(v, ',');
	const char *result = NULL;
	for (size_t i = 0; names && names[i]; i++) {
		struct cw_error e = {0};
		if (validate_alt_name(names[i], &e) != CW_OK) {
			snprintf(msg, MSG_SIZE, "%s", e.msg);
			result = msg;
			break;
		}
	}
	strv_free(names);
	return result;
}

static const char *v_agents(const char *v, void *ctx)
{
	char *msg = ctx;
	struct cw_error e = {0};
	if (*v == '/') {
		if (validate_path(v, 1, &e) != CW_OK) {
			snprintf(msg, MSG_SIZE, "%s", e.msg);
			return msg;
		}
		char **names = NULL;
		if (agents_file_read(v, &names, &e) != CW_OK) {
			snprintf(msg, MSG_SIZE, "%s", e.msg);
			return msg;
		}
		for (size_t i = 0; names && names[i]; i++)
			if (validate_certname(names[i], &e) != CW_OK) {
				snprintf(msg, MSG_SIZE, "in the file: '%s': %s", names[i], e.msg);
				strv_free(names);
				return msg;
			}
		strv_free(names);
		return NULL;
	}
	char **names = strv_split(v, ',');
	const char *result = NULL;
	for (size_t i = 0; names && names[i] && !result; i++) {
		if (validate_certname(names[i], &e) != CW_OK) {
			snprintf(msg, MSG_SIZE, "%s", e.msg);
			result = msg;
		}
		for (size_t k = 0; k < i && !result; k++)
			if (strcmp(names[k], names[i]) == 0) {
				snprintf(msg, MSG_SIZE, "%s is listed twice", names[i]);
				result = msg;
			}
	}
	strv_free(names);
	return result;
}

/* The names in the agents field: its list, or the file it names (heap strv). */
static char **field_names(const struct discovery *s)
{
	const char *v = tui_field_value(&s->f[F_AGENTS]);
	char **names = NULL;
	struct cw_error e = {0};
	if (*v == '/')
		agents_file_read(v, &names, &e);
	else
		names = strv_split(v, ',');
	return names;
}

static void agents_hint(struct discovery *s, const struct wizard *w)
{
	const char *v = tui_field_value(&s->f[F_AGENTS]);
	char **names = field_names(s);
	size_t n = strv_len(names);
	strv_free(names);
	char buf[160];
	bool needed = w->proc && strcmp(w->proc->name, "agent") == 0;
	if (!n)
		snprintf(buf, sizeof buf, "%s: a,b,... or a file (one a line); F2: the CA's list",
			 needed ? "needed" : "optional");
	else
		snprintf(buf, sizeof buf, "%zu agent%s%s", n, n == 1 ? "" : "s", *v == '/' ? " in the file" : "");
	tui_field_set_hint(&s->f[F_AGENTS], buf);
}

static bool proc_has_agents(const struct wizard *w)
{
	return w->proc && strv_contains(w->proc->roles, "agent");
}

/* Query this host's services in the background (each query may wait for a port). */
static void start_services(struct app *a)
{
	if (a->local_svc_state && a->local_svc_gen == a->facts_gen)
		return;
	if (app_busy(a))
		return;
	const struct profile *p = a->w->profile;
	tui_services_done(&a->local_svc);
	tui_services_init(&a->local_svc, a->read_only ? "Services on this host (the real ones: --root does not apply)"
						      : "Services on this host");
	char **names = NULL;
	for (size_t i = 0; i < p->nservices; i++) {
		struct tui_service_row *r = tui_services_row(&a->local_svc, p->services[i].name);
		r->port = p->services[i].port;
		strv_push(&names, p->services[i].name);
	}
	const char *ssldir = vars_get(&a->w->facts.vars, "ssldir");
	char *ca = xasprintf("%s/certs/ca.pem", ssldir ? ssldir : "/");
	if (a->w->site.root && *a->w->site.root) {
		char *r = path_join(a->w->site.root, ca);
		free(ca);
		ca = r;
	}
	struct app_job j = {.kind = JOB_LOCAL_SERVICES, .services = names, .ca_bundle = ca, .gen = a->facts_gen};
	if (app_job_start(a, &j)) {
		a->local_svc_state = true;
		a->local_svc_gen = a->facts_gen;
	}
}

static void fill(struct app *a, struct discovery *s)
{
	const struct wizard *w = a->w;
	const char *certname = w->site.certname ? w->site.certname : vars_get(&w->facts.vars, "certname");
	tui_field_set(&s->f[F_CERTNAME], certname ? certname : "");
	char *alt = w->site.alt_names_set ? strv_join(w->site.dns_alt_names, ",")
					  : xstrdup(vars_get(&w->facts.vars, "dns_alt_names"));
	tui_field_set(&s->f[F_ALT], alt ? alt : "");
	s->f[F_ALT].cur = 0; /* show where the list starts */
	free(alt);
	char *agents = strv_join(w->site.agents, ",");
	tui_field_set(&s->f[F_AGENTS], *agents || !w->site.agents_file ? agents : w->site.agents_file);
	free(agents);
	agents_hint(s, a->w);
	s->filled = true;
	s->facts_gen = a->facts_gen;
}

static void init(struct app *a)
{
	struct discovery *s = a->priv[SCR_DISCOVERY];
	if (!s) {
		s = a->priv[SCR_DISCOVERY] = xcalloc(1, sizeof *s);
		static const char *const labels[F_COUNT] = {"Certname", "DNS alt names", "Agents"};
		static const size_t max[F_COUNT] = {253, 4096, 65536};
		const tui_validate_fn fns[F_COUNT] = {v_certname, v_alt, v_agents};
		for (int i = 0; i < F_COUNT; i++) {
			tui_field_init(&s->f[i], labels[i], max[i]);
			s->f[i].label_w = 15;
			tui_field_set_validator(&s->f[i], fns[i], s->msg[i]);
		}
		tui_field_set_hint(&s->f[F_CERTNAME], "the CA/primary server's certname (puppet.conf)");
		tui_field_set_hint(&s->f[F_ALT], "from puppet.conf and the certificate, comma-separated");
	}
	if (!s->filled || s->facts_gen != a->facts_gen)
		fill(a, s);
	s->has_agents = proc_has_agents(a->w);
	agents_hint(s, a->w); /* needed or optional: the procedure may have changed */
	if (!s->has_agents && s->focus == F_AGENTS)
		s->focus = F_CERTNAME;
	start_services(a);
}

static const struct tui_hint hints[] = {
	{"Tab", "next field"}, {"Enter", "continue"}, {"Esc", "back"}, {"F1", "help"}, {"C-c", "quit"}, {NULL, NULL},
};

static const struct tui_hint hints_agents[] = {
	{"Tab", "next field"}, {"F2", "agents from the CA"}, {"Enter", "continue"}, {"Esc", "back"}, {"F1", "help"},
	{"C-c", "quit"}, {NULL, NULL},
};
static const struct tui_hint hints_picker[] = {
	{"/", "filter"}, {"e", "expiring within"}, {"Tab", "next"}, {NULL, NULL},
};

static const struct tui_hint *get_hints(struct app *a)
{
	struct discovery *s = a->priv[SCR_DISCOVERY];
	if (s->picker.open)
		return hints_picker;
	return s->has_agents ? hints_agents : hints;
}

/* The alt names of puppet.conf and of the certificate, without the certname. */
static bool alt_differ(const struct facts *f, const char *certname)
{
	if (!f->has_hostcert)
		return false;
	for (size_t i = 0; f->conf_alt_names && f->conf_alt_names[i]; i++)
		if (strcmp(f->conf_alt_names[i], certname) != 0 && !strv_contains(f->cert_alt_names, f->conf_alt_names[i]))
			return true;
	for (size_t i = 0; f->cert_alt_names && f->cert_alt_names[i]; i++)
		if (!strv_contains(f->conf_alt_names, f->cert_alt_names[i]))
			return true;
	return false;
}

static int label(WINDOW *w, int y, struct tui_rect r, const char *l)
{
	tui_puts(w, y, r.x, 10, term_style(TUI_TITLE), l);
	return 11;
}

static void cert_lines(WINDOW *w, int *y, struct tui_rect r, const char *what, const struct x509_info *c,
		       const char *missing, int max_y)
{
	int x = label(w, *y, r, what);
	if (!c) {
		tui_puts(w, (*y)++, r.x + x, r.w - x, term_style(TUI_WARN), missing);
		return;
	}
	char exp[64], fp[128];
	app_expiry((long)c->not_after, exp, sizeof exp);
	bool expired = (long)c->not_after <= (long)time(NULL);
	int cx = tui_printf(w, *y, r.x + x, r.w - x, A_NORMAL, "%s, expires ", c->subject_cn ? c->subject_cn : "?");
	tui_puts(w, (*y)++, r.x + x + cx, r.w - x - cx, expired ? term_style(TUI_FAIL) : A_NORMAL, exp);
	if (*y < max_y) {
		app_short_fp(c->fingerprint, fp, sizeof fp, (size_t)(r.w - x - 10));
		tui_printf(w, (*y)++, r.x + x, r.w - x, term_style(TUI_DIM), "SHA-256 %s", fp);
	}
}

static void draw(struct app *a, WINDOW *w, struct tui_rect r)
{
	struct discovery *s = a->priv[SCR_DISCOVERY];
	const struct wizard *wz = a->w;
	const struct facts *f = &wz->facts;
	int y = r.y, end = r.y + r.h;
	bool overlay = app_overlay_open(a);
	for (int i = 0; i < F_COUNT; i++) {
		if (i == F_AGENTS)
			continue;
		s->f[i].focused = s->focus == i && !overlay;
		tui_field_draw(&s->f[i], w, (struct tui_rect){y, r.x, 2, r.w});
		y += 2;
	}
	const char *certname = vars_get(&f->vars, "certname");
	if (wz->have_facts && alt_differ(f, certname ? certname : "")) {
		/* both without the certname, which every certificate carries anyway */
		char **conf_v = NULL;
		for (size_t i = 0; f->conf_alt_names && f->conf_alt_names[i]; i++)
			if (!certname || strcmp(f->conf_alt_names[i], certname) != 0)
				strv_push(&conf_v, f->conf_alt_names[i]);
		char *conf = strv_join(conf_v, ", "), *cert = strv_join(f->cert_alt_names, ", ");
		strv_free(conf_v);
		tui_puts(w, y++, r.x, r.w, term_style(TUI_WARN),
			 "! puppet.conf and the current certificate disagree; the plan uses both:");
		tui_printf(w, y++, r.x, r.w, A_NORMAL, "  puppet.conf  %s", *conf ? conf : "(none)");
		tui_printf(w, y++, r.x, r.w, A_NORMAL, "  certificate  %s", *cert ? cert : "(none)");
		free(conf);
		free(cert);
	}
	if (s->has_agents) {
		s->f[F_AGENTS].focused = s->focus == F_AGENTS && !overlay;
		tui_field_draw(&s->f[F_AGENTS], w, (struct tui_rect){y, r.x, 2, r.w});
		y += 2;
	}
	tui_hline(w, y++, r.x, r.w, term_style(TUI_DIM));
	if (!wz->have_facts) {
		tui_puts(w, y++, r.x, r.w, term_style(TUI_FAIL), "No facts: choose another profile (Esc, then p).");
		return;
	}
	int x = label(w, y, r, "Puppet");
	if (f->puppet_version)
		tui_printf(w, y++, r.x + x, r.w - x, A_NORMAL, "%s, %s dialect (%s)", f->puppet_version,
			   dialect_str(wz->profile->dialect),
			   wz->profile->dialect == DIALECT_MODERN ? "puppetserver ca, puppet ssl" : "puppet cert, puppet master");
	else
		tui_printf(w, y++, r.x + x, r.w - x, term_style(TUI_WARN), "version unknown (no %s); %s dialect of %s",
			   wz->profile->version_file ? wz->profile->version_file : "version file",
			   dialect_str(wz->profile->dialect), wz->profile->name);
	x = label(w, y, r, "ssldir");
	const char *ssldir = vars_get(&f->vars, "ssldir"), *cadir = vars_get(&f->vars, "cadir");
	int used = tui_puts(w, y, r.x + x, r.w - x, A_NORMAL, ssldir ? ssldir : "?");
	int cx = x + used + 3 > 40 ? x + used + 3 : 40;
	cx += tui_puts(w, y, r.x + cx, r.w - cx, term_style(TUI_TITLE), "cadir ");
	tui_puts(w, y++, r.x + cx, r.w - cx, A_NORMAL, cadir ? cadir : "?");
	char missing[512];
	snprintf(missing, sizeof missing, "none in %s/ca_crt.pem or %s/certs/ca.pem", cadir, ssldir);
	cert_lines(w, &y, r, f->has_ca ? "CA cert" : "CA (agent copy)", f->cacert.fingerprint[0] ? &f->cacert : NULL,
		   missing, end - 4);
	snprintf(missing, sizeof missing, "none at %s/certs/%s.pem", ssldir, certname);
	cert_lines(w, &y, r, "Host cert", f->has_hostcert ? &f->hostcert : NULL, missing, end - 4);
	if (wz->proc && strv_contains(wz->proc->roles, "puppetdb")) {
		x = label(w, y, r, "PuppetDB host");
		tui_puts(w, y++, r.x + x, r.w - x, wz->site.puppetdb_host ? A_NORMAL : term_style(TUI_WARN),
			 wz->site.puppetdb_host ? wz->site.puppetdb_host : "not given: quit and start certwiz with --puppetdb-host NAME");
	}
	if (wz->proc && strv_contains(wz->proc->roles, "console") && y < end - 3) {
		x = label(w, y, r, "Console host");
		tui_puts(w, y++, r.x + x, r.w - x, wz->site.console_host ? A_NORMAL : term_style(TUI_WARN),
			 wz->site.console_host ? wz->site.console_host : "not given: quit and start certwiz with --console-host NAME");
	}
	for (size_t i = 0; f->warnings && f->warnings[i] && y < end - 3; i++) {
		if (strncmp(f->warnings[i], "dns_alt_names differ", 20) == 0)
			continue;
		tui_printf(w, y++, r.x, r.w, term_style(TUI_WARN), "! %s", f->warnings[i]);
	}
	if (y < end - 2) {
		struct tui_rect sr = {y, r.x, end - y, r.w};
		tui_services_draw(&a->local_svc, w, sr);
		char busy[64];
		bool checking = app_busy(a) && a->job.kind == JOB_LOCAL_SERVICES;
		snprintf(busy, sizeof busy, "%s", checking ? "checking" : "checked");
		if (checking)
			snprintf(busy + strlen(busy), sizeof busy - strlen(busy), "%s", tui_glyph(TUI_G_ELLIPSIS));
		tui_puts_right(w, y, r.x + r.w, 12, term_style(checking ? TUI_RUNNING : TUI_DIM), busy);
	}
	if (s->picker.open)
		picker_draw(&s->picker, w, r);
}

static void open_picker(struct app *a, struct discovery *s)
{
	const struct wizard *wz = a->w;
	char **chosen = field_names(s);
	picker_open(&s->picker, wz->site.root, vars_get(&wz->facts.vars, "cadir"), vars_get(&wz->facts.vars, "ssldir"),
		    tui_field_value(&s->f[F_CERTNAME]), chosen);
	strv_free(chosen);
}

static int picker_keys(struct app *a, struct discovery *s, int k)
{
	int r = picker_key(&s->picker, k);
	if (r & TUI_SELECT) {
		char **names = picker_selected(&s->picker);
		char *joined = strv_join(names, ",");
		tui_field_set(&s->f[F_AGENTS], joined);
		s->f[F_AGENTS].cur = 0;
		agents_hint(s, a->w);
		app_notice(a, "%zu agent%s chosen from the CA's list", strv_len(names), strv_len(names) == 1 ? "" : "s");
		free(joined);
		strv_free(names);
		s->focus = F_AGENTS;
	}
	if (r & (TUI_SELECT | TUI_BACK)) {
		picker_close(&s->picker);
		return TUI_HANDLED | TUI_REDRAW;
	}
	return r | TUI_HANDLED;
}

static int next_focus(const struct discovery *s, int dir)
{
	int n = s->has_agents ? F_COUNT : F_AGENTS;
	return (s->focus + dir + n) % n;
}

static int apply(struct app *a, struct discovery *s)
{
	for (int i = 0; i < F_COUNT; i++) {
		if (i == F_AGENTS && !s->has_agents)
			continue;
		if (!tui_field_valid(&s->f[i])) {
			s->focus = i;
			app_notice(a, "Fix the field marked %s first", tui_glyph(TUI_G_CROSS));
			return TUI_HANDLED | TUI_REDRAW;
		}
	}
	struct wizard *w = a->w;
	struct cw_error err = {0};
	cw_status st = wizard_set_certname(w, tui_field_value(&s->f[F_CERTNAME]), &err);
	if (!st)
		st = wizard_set_alt_names(w, tui_field_value(&s->f[F_ALT]), &err);
	if (!st && s->has_agents) {
		const char *v = tui_field_value(&s->f[F_AGENTS]);
		if (*v == '/' && w->site.agents_file && strcmp(v, w->site.agents_file) == 0) {
			st = wizard_set_agents(w, "", &err); /* the plan reads --agents-file itself */
		} else if (*v == '/') {
			char **names = NULL;
			st = agents_file_read(v, &names, &err);
			if (!st) {
				char *joined = strv_join(names, ",");
				st = wizard_set_agents(w, joined, &err);
				free(joined);
			}
			strv_free(names);
		} else {
			st = wizard_set_agents(w, v, &err);
		}
	}
	if (!st)
		st = wizard_build_plan(w, &err);
	app_plan_changed(a);
	if (st) {
		app_error(a, "The plan cannot be built", &err);
		return TUI_HANDLED | TUI_REDRAW;
	}
	return TUI_HANDLED | TUI_REDRAW | TUI_NEXT;
}

static int key(struct app *a, int k)
{
	struct discovery *s = a->priv[SCR_DISCOVERY];
	if (s->picker.open && k != TUI_KEY_WAKE && k != TUI_KEY_IDLE)
		return picker_keys(a, s, k);
	switch (k) {
	case TUI_KEY_WAKE:
	case TUI_KEY_IDLE:
		start_services(a); /* when an earlier job kept it from starting */
		return TUI_UNHANDLED;
	case KEY_F(2):
		if (!s->has_agents)
			return TUI_UNHANDLED;
		open_picker(a, s);
		return TUI_HANDLED | TUI_REDRAW;
	case '\t':
	case KEY_DOWN:
		s->focus = next_focus(s, 1);
		return TUI_HANDLED | TUI_REDRAW;
	case KEY_BTAB:
	case KEY_UP:
		s->focus = next_focus(s, -1);
		return TUI_HANDLED | TUI_REDRAW;
	case '\n':
		return apply(a, s);
	default: {
		int r = tui_field_key(&s->f[s->focus], k);
		if (s->focus == F_AGENTS && (r & TUI_REDRAW))
			agents_hint(s, a->w);
		return r;
	}
	}
}

static void done(struct app *a)
{
	struct discovery *s = a->priv[SCR_DISCOVERY];
	for (int i = 0; i < F_COUNT; i++)
		tui_field_done(&s->f[i]);
	picker_close(&s->picker);
	free(s);
	a->priv[SCR_DISCOVERY] = NULL;
}

const struct screen screen_discovery = {
	.name = "discovery",
	.title = "Discovery",
	.help = help,
	.init = init,
	.hints = get_hints,
	.draw = draw,
	.key = key,
	.done = done,
};
