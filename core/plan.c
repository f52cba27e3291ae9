/* plan.c: expand a procedure into concrete, validated steps; format it as a checklist. */
#include "plan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* ---------- hosts ---------- */

static void host_done(struct plan_host *h)
{
	free(h->name);
	free(h->role);
	free(h->address);
	free(h->user);
	free(h->identity);
	free(h->os);
	free(h->tmpdir);
	free(h->known_hosts);
	vars_done(&h->vars);
}

static bool is_path_var(const char *name)
{
	size_t n = strlen(name);
	static const char *const ends[] = {"dir", "_conf", "_file", "_path", NULL};
	for (size_t i = 0; ends[i]; i++) {
		size_t k = strlen(ends[i]);
		if (n >= k && strcmp(name + n - k, ends[i]) == 0)
			return true;
	}
	return false;
}

/* Every name and path of a host, before any of them can reach a command. */
/* A host's alt names, without its certname: Puppet puts the certname in every certificate's
 * SAN by itself, so naming it again (puppet.conf, --dns-alt-names) would list it twice. */
static void set_alt_names(struct plan_host *h, char *const *names)
{
	const char *certname = vars_get(&h->vars, "certname");
	char **keep = NULL;
	for (size_t i = 0; names && names[i]; i++)
		if (!certname || strcmp(names[i], certname) != 0)
			strv_push(&keep, names[i]);
	char *alt = strv_join(keep, ",");
	vars_set(&h->vars, "dns_alt_names", alt ? alt : "");
	/* `puppet cert sign` takes a bare flag for a request with alt names (no value): the
	 * legacy sign step names it through this, empty when the host has none. */
	vars_set(&h->vars, "allow_dns_alt_names", alt && *alt ? "--allow-dns-alt-names" : "");
	free(alt);
	strv_free(keep);
}

static cw_status validate_host_vars(const struct plan_host *h, struct cw_error *err)
{
	struct cw_error e;
	for (size_t i = 0; i < h->vars.n; i++) {
		const char *name = h->vars.items[i].name, *val = h->vars.items[i].value;
		if (is_path_var(name) && *val && validate_path(val, 2, &e) != CW_OK)
			return cw_error_set(err, CW_EINVAL, "host %s, %s: %s", h->name, name, e.msg);
	}
	if (validate_certname(vars_get(&h->vars, "certname"), &e) != CW_OK)
		return cw_error_set(err, CW_EINVAL, "host %s: %s", h->name, e.msg);
	char **alt = strv_split(vars_get(&h->vars, "dns_alt_names"), ',');
	for (size_t i = 0; alt && alt[i]; i++)
		if (validate_alt_name(alt[i], &e) != CW_OK) {
			strv_free(alt);
			return cw_error_set(err, CW_EINVAL, "host %s: %s", h->name, e.msg);
		}
	strv_free(alt);
	if (h->address && validate_host(h->address, &e) != CW_OK)
		return cw_error_set(err, CW_EINVAL, "host %s address: %s", h->name, e.msg);
	if (h->user && validate_user(h->user, &e) != CW_OK)
		return cw_error_set(err, CW_EINVAL, "host %s: %s", h->name, e.msg);
	if (h->tmpdir && validate_path(h->tmpdir, 2, &e) != CW_OK)
		return cw_error_set(err, CW_EINVAL, "host %s tmpdir: %s", h->name, e.msg);
	return CW_OK;
}

static cw_status add_host(struct plan *p, const struct plan_input *in, const char *name, const char *role,
			  struct cw_error *err)
{
	const struct site *s = in->site;
	struct host_cfg hc;
	struct site empty;
	if (!s) {
		site_init(&empty);
		s = &empty;
	}
	cw_status st = site_host_settings(s, name, getenv("HOME"), &hc, err);
	if (s == &empty)
		site_done(&empty);
	if (st) {
		cw_error_prefix(err, "host %s", name);
		return st;
	}
	p->hosts = xrealloc(p->hosts, (p->nhosts + 1) * sizeof *p->hosts);
	struct plan_host *h = &p->hosts[p->nhosts++];
	memset(h, 0, sizeof *h);
	h->name = xstrdup(name);
	h->role = xstrdup(role);
	vars_copy(&h->vars, &in->profile->vars);
	if (in->site)
		for (size_t i = 0; i < in->site->vars.n; i++)
			vars_set(&h->vars, in->site->vars.items[i].name, in->site->vars.items[i].value);
	vars_set(&h->vars, "certname", name);
	set_alt_names(h, hc.dns_alt_names);
	/* the plan host takes the resolved strings over */
	h->address = hc.address;
	h->user = hc.user;
	h->identity = hc.identity;
	h->known_hosts = hc.known_hosts;
	h->os = hc.os;
	h->tmpdir = hc.tmpdir;
	h->port = hc.port;
	h->connect_timeout = hc.connect_timeout;
	h->sudo = hc.sudo;
	hc.address = hc.user = hc.identity = hc.known_hosts = hc.os = hc.tmpdir = NULL;
	host_cfg_done(&hc);
	vars_set(&h->vars, "address", h->address);
	vars_set(&h->vars, "ssh_user", h->user);
	if (h->tmpdir)
		vars_set(&h->vars, "tmpdir", h->tmpdir);
	return CW_OK;
}

struct ssh_opts plan_host_ssh_opts(const struct plan_host *h)
{
	return (struct ssh_opts){
		.host = h->name,
		.address = h->address,
		.port = h->port,
		.user = h->user,
		.identity = h->identity,
		.known_hosts = h->known_hosts,
		.sudo = h->sudo,
		.connect_timeout_s = h->connect_timeout,
	};
}

static bool proc_has_role(const struct procedure *proc, const char *role)
{
	return strv_contains(proc->roles, role);
}

static cw_status build_hosts(struct plan *p, const struct plan_input *in, struct cw_error *err)
{
	const struct facts *f = in->facts;
	p->hosts = xcalloc(1, sizeof *p->hosts);
	p->nhosts = 1;
	struct plan_host *ca = &p->hosts[0];
	ca->role = xstrdup("ca");
	ca->local = true;
	vars_copy(&ca->vars, &f->vars);
	if (in->site)
		for (size_t i = 0; i < in->site->vars.n; i++)
			vars_set(&ca->vars, in->site->vars.items[i].name, in->site->vars.items[i].value);
	if (in->certname)
		vars_set(&ca->vars, "certname", in->certname);
	char **discovered = strv_split(vars_get(&ca->vars, "dns_alt_names"), ',');
	set_alt_names(ca, in->alt_names_set ? in->dns_alt_names : discovered);
	strv_free(discovered);
	ca->name = xstrdup(vars_get(&ca->vars, "certname"));
	/* Where this host's own services answer (a hosts entry for it may say, e.g. 127.0.0.10). */
	const struct host_cfg *self = in->site ? site_host(in->site, ca->name) : NULL;
	ca->address = xstrdup(self && self->address ? self->address : "127.0.0.1");
	vars_set(&ca->vars, "address", ca->address);
	ca->os = xstrdup("linux");
	cw_status st = validate_host_vars(ca, err);
	if (st)
		return st;

	if (proc_has_role(in->proc, "agent")) {
		for (size_t i = 0; in->agents && in->agents[i]; i++) {
			struct cw_error e;
			if (validate_certname(in->agents[i], &e) != CW_OK)
				return cw_error_set(err, CW_EINVAL, "agent %s", e.msg);
			if (strcmp(in->agents[i], p->hosts[0].name) == 0) /* add_host moves p->hosts */
				return cw_error_set(err, CW_EINVAL,
						    "agent %s is the CA server itself: regenerate its certificate with the "
						    "'primary' procedure instead", in->agents[i]);
			for (size_t k = 0; k < i; k++)
				if (strcmp(in->agents[k], in->agents[i]) == 0)
					return cw_error_set(err, CW_EINVAL, "agent %s is listed twice", in->agents[i]);
			if ((st = add_host(p, in, in->agents[i], "agent", err)))
				return st;
		}
	}
	static const char *const extra_roles[] = {"puppetdb", "console"};
	const char *extra_names[] = {in->puppetdb_host, in->console_host};
	for (int r = 0; r < 2; r++) {
		if (!proc_has_role(in->proc, extra_roles[r]))
			continue;
		if (!extra_names[r])
			return cw_error_set(err, CW_EINVAL,
					    "procedure %s needs the %s host: give --%s-host NAME (or %s_host in the "
					    "answers file)", in->proc->name, extra_roles[r], extra_roles[r], extra_roles[r]);
		struct cw_error e;
		if (validate_certname(extra_names[r], &e) != CW_OK)
			return cw_error_set(err, CW_EINVAL, "%s host %s", extra_roles[r], e.msg);
		if ((st = add_host(p, in, extra_names[r], extra_roles[r], err)))
			return st;
	}
	for (size_t i = 1; i < p->nhosts; i++)
		if ((st = validate_host_vars(&p->hosts[i], err)))
			return st;
	return CW_OK;
}

static size_t host_for_role(const struct plan *p, const char *role, size_t target)
{
	if (strcmp(role, "agent") == 0)
		return target;
	for (size_t i = 0; i < p->nhosts; i++)
		if (strcmp(p->hosts[i].role, role) == 0)
			return i;
	return 0;
}

/* ---------- expansion ---------- */

/* The comma list of every agent, made once per plan (a step for each of 1000 agents must
 * not rebuild it). */
static char *agents_list(const struct plan *p)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 1; i < p->nhosts; i++)
		if (strcmp(p->hosts[i].role, "agent") == 0)
			strbuf_addf(&sb, "%s%s", sb.len ? "," : "", p->hosts[i].name);
	return strbuf_detach(&sb);
}

static void context_vars(const struct plan *p, const struct plan_input *in, size_t run_host, size_t target,
			 const char *agents, struct vars *ctx)
{
	vars_copy(ctx, &p->hosts[run_host].vars);
	/* The procedure's own variables, where the site (answers file) did not set them. */
	for (size_t i = 0; i < in->proc->vars.n; i++)
		if (!vars_get(ctx, in->proc->vars.items[i].name))
			vars_set(ctx, in->proc->vars.items[i].name, in->proc->vars.items[i].value);
	vars_import(ctx, "ca", &p->hosts[0].vars);
	if (target)
		vars_import(ctx, "agent", &p->hosts[target].vars);
	for (size_t i = 1; i < p->nhosts; i++)
		if (strcmp(p->hosts[i].role, "agent") != 0)
			vars_import(ctx, p->hosts[i].role, &p->hosts[i].vars);
	vars_set(ctx, "dialect", dialect_str(p->dialect));
	vars_set(ctx, "flavour", p->flavour);
	vars_set(ctx, "profile", p->profile);
	vars_set(ctx, "procedure", p->procedure);
	vars_set(ctx, "autosign", in->site && in->site->autosign ? "true" : (in->facts->autosign ? "true" : "false"));
	vars_set(ctx, "puppetdb", in->site && in->site->puppetdb ? "true" : "false");
	vars_set(ctx, "agents", agents);
	vars_set(ctx, "windows", strcmp(p->hosts[run_host].os, "windows") == 0 ? "true" : "false");
}

static bool when_holds(char *const *when, const struct vars *ctx)
{
	for (size_t i = 0; when && when[i]; i++) {
		const char *w = when[i];
		bool neg = w[0] == '!';
		if (neg)
			w++;
		const char *eq = strchr(w, '=');
		bool v;
		if (eq) {
			char *name = xstrndup(w, (size_t)(eq - w));
			const char *val = vars_get(ctx, name);
			v = val && strcmp(val, eq + 1) == 0;
			free(name);
		} else {
			v = vars_true(ctx, w);
		}
		if (v == neg)
			return false;
	}
	return true;
}

static cw_status expand(const struct vars *ctx, const char *tmpl, const char *step_id, char **out,
			struct cw_error *err)
{
	if (!tmpl) {
		*out = NULL;
		return CW_OK;
	}
	cw_status st = vars_expand(ctx, tmpl, out, err);
	if (st)
		cw_error_prefix(err, "step %s", step_id);
	return st;
}

static cw_status expand_argv(const struct vars *ctx, const struct argv_tmpl *t, const char *step_id,
			     char ***out, bool *uses_alt, struct cw_error *err)
{
	char **argv = NULL;
	for (size_t i = 0; i < t->n; i++) {
		const struct argv_item *it = &t->items[i];
		bool drop = false;
		for (size_t k = 0; it->optional && it->words[k]; k++) {
			char **refs = vars_refs(it->words[k]);
			for (size_t r = 0; refs && refs[r]; r++) {
				const char *v = vars_get(ctx, refs[r]);
				if (!v || !*v)
					drop = true;
			}
			strv_free(refs);
		}
		if (drop)
			continue;
		for (size_t k = 0; it->words[k]; k++) {
			char *w;
			cw_status st = expand(ctx, it->words[k], step_id, &w, err);
			if (st) {
				strv_free(argv);
				return st;
			}
			if (!*w) {
				free(w);
				strv_free(argv);
				return cw_error_set(err, CW_EINVAL,
						    "step %s: word %zu ('%s') is empty once its variables are filled in; "
						    "set the variable or make the word optional", step_id, i + 1,
						    it->words[k]);
			}
			char **refs = vars_refs(it->words[k]);
			if (uses_alt && strv_contains(refs, "dns_alt_names"))
				*uses_alt = true;
			strv_free(refs);
			strv_push_owned(&argv, w);
		}
	}
	*out = argv;
	return CW_OK;
}

static void check_free(struct plan_check *c)
{
	free(c->path);
	free(c->ca);
	free(c->crl);
	free(c->cn);
	free(c->key);
	strv_free(c->san);
	free(c->other);
	free(c->address);
	strv_free(c->argv);
}

static cw_status expand_checks(const struct plan *p, const struct vars *ctx, const struct check_tmpl *tm,
			       size_t n, size_t run_host, size_t target, const char *step_id,
			       struct plan_check **out, size_t *nout, struct cw_error *err)
{
	*out = n ? xcalloc(n, sizeof **out) : NULL;
	*nout = 0;
	for (size_t i = 0; i < n; i++) {
		const struct check_tmpl *t = &tm[i];
		struct plan_check *c = &(*out)[(*nout)++];
		cw_status st;
		char *san = NULL, *port = NULL;
		c->kind = t->kind;
		c->host = t->on ? host_for_role(p, t->on, target) : run_host;
		c->other_host = t->other_on ? host_for_role(p, t->other_on, target) : c->host;
		c->changed = t->changed;
		c->unchanged = t->unchanged;
		c->same_key = t->same_key;
		c->is_ca = t->is_ca;
		c->crl_days = t->crl_days;
		if ((st = expand(ctx, t->path, step_id, &c->path, err)) ||
		    (st = expand(ctx, t->ca, step_id, &c->ca, err)) ||
		    (st = expand(ctx, t->crl, step_id, &c->crl, err)) ||
		    (st = expand(ctx, t->cn, step_id, &c->cn, err)) ||
		    (st = expand(ctx, t->key, step_id, &c->key, err)) ||
		    (st = expand(ctx, t->other, step_id, &c->other, err)) ||
		    (st = expand(ctx, t->address, step_id, &c->address, err)) ||
		    (st = expand(ctx, t->san, step_id, &san, err)) ||
		    (st = expand(ctx, t->port, step_id, &port, err)))
			return st;
		c->san = strv_split(san, ',');
		free(san);
		if (port) {
			c->port = atoi(port);
			free(port);
			if (c->port <= 0 || c->port > 65535)
				return cw_error_set(err, CW_EINVAL, "step %s: tls check port is not a port number",
						    step_id);
		}
		if (!c->address && c->kind == CHECK_TLS)
			c->address = xstrdup(p->hosts[c->host].address ? p->hosts[c->host].address : "127.0.0.1");
		if (t->kind == CHECK_COMMAND && (st = expand_argv(ctx, &t->argv, step_id, &c->argv, NULL, err)))
			return st;
	}
	return CW_OK;
}

static void step_free(struct plan_step *s)
{
	free(s->id);
	free(s->tmpl_id);
	free(s->title);
	free(s->explain);
	free(s->undo);
	free(s->target);
	strv_free(s->argv);
	strv_free(s->batch_argv);
	free(s->manual);
	free(s->service_action);
	strv_free(s->services);
	strv_free(s->service_cmds);
	strv_free(s->backup_paths);
	free(s->confirm);
	free(s->until);
	free(s->ok_exit);
	for (size_t i = 0; i < s->nrequire; i++)
		check_free(&s->require[i]);
	free(s->require);
	for (size_t i = 0; i < s->nverify; i++)
		check_free(&s->verify[i]);
	free(s->verify);
}

static void resolve_tool(const struct profile *prof, char **argv)
{
	if (!argv || !argv[0])
		return;
	const char *path = profile_tool(prof, argv[0]); /* argv[0] itself when not a profile tool */
	if (path != argv[0]) {
		free(argv[0]);
		argv[0] = xstrdup(path);
	}
}

static cw_status add_step(struct plan *p, const struct plan_input *in, const struct step_tmpl *t,
			  size_t phase, size_t target, const char *agents, bool *uses_alt, struct cw_error *err)
{
	size_t run_host = host_for_role(p, t->role, target);
	struct vars ctx;
	context_vars(p, in, run_host, target, agents, &ctx);
	if (!when_holds(t->when, &ctx) || (t->kind == STEP_RUN && !t->has_run[p->dialect])) {
		vars_done(&ctx);
		return CW_OK;
	}
	p->steps = xrealloc(p->steps, (p->nsteps + 1) * sizeof *p->steps);
	struct plan_step *s = &p->steps[p->nsteps];
	memset(s, 0, sizeof *s);
	s->index = p->nsteps++;
	s->phase = phase;
	s->tmpl_id = xstrdup(t->id);
	s->id = target ? xasprintf("%s@%s", t->id, p->hosts[target].name) : xstrdup(t->id);
	s->target = target ? xstrdup(p->hosts[target].name) : NULL;
	s->host = run_host;
	s->kind = t->kind;
	s->destructive = t->destructive;
	s->batch = t->batch;
	s->timeout_s = t->timeout_s ? t->timeout_s : (in->site ? in->site->command_timeout : 900);
	s->until = t->until ? xstrdup(t->until) : NULL;
	if (t->nok[p->dialect]) {
		s->nok = t->nok[p->dialect];
		s->ok_exit = xmalloc(s->nok * sizeof *s->ok_exit);
		memcpy(s->ok_exit, t->ok_exit[p->dialect], s->nok * sizeof *s->ok_exit);
	} else {
		s->ok_exit = xmalloc(sizeof *s->ok_exit);
		s->ok_exit[0] = 0;
		s->nok = 1;
	}
	cw_status st;
	if ((st = expand(&ctx, t->title, t->id, &s->title, err)) ||
	    (st = expand(&ctx, t->explain, t->id, &s->explain, err)) ||
	    (st = expand(&ctx, t->undo, t->id, &s->undo, err)))
		goto out;
	if (s->destructive)
		s->confirm = xstrdup(target ? p->hosts[target].name : p->hosts[run_host].name);
	switch (t->kind) {
	case STEP_RUN:
		st = expand_argv(&ctx, &t->run[p->dialect], t->id, &s->argv, t->ca_signs_alt_names ? uses_alt : NULL, err);
		if (!st && t->has_batch_run[p->dialect]) {
			vars_set(&ctx, "batch.certnames_json", PLAN_BATCH_NAMES);
			st = expand_argv(&ctx, &t->batch_run[p->dialect], t->id, &s->batch_argv, NULL, err);
		}
		break;
	case STEP_MANUAL:
		st = expand(&ctx, t->manual, t->id, &s->manual, err);
		break;
	case STEP_ACTION: {
		/* crl-refresh / ca-renew CADIR DAYS: the directory it rewrites and a sane number of days. */
		struct cw_error e;
		char *end = NULL;
		long days = 0;
		if ((st = expand_argv(&ctx, &t->action, t->id, &s->argv, NULL, err)))
			break;
		if (strv_len(s->argv) == 3)
			days = strtol(s->argv[2], &end, 10);
		if (strv_len(s->argv) != 3 || validate_path(s->argv[1], 2, &e) != CW_OK)
			st = cw_error_set(err, CW_EINVAL, "step %s: the CA directory of %s: %s", t->id, s->argv[0],
					  strv_len(s->argv) == 3 ? e.msg : "missing");
		else if ((!end || *end || days < 1 || days > 36500) && strcmp(s->argv[0], "ca-renew") == 0)
			st = cw_error_set(err, CW_EINVAL,
					  "step %s: the renewed CA lives 1 to 36500 days (ca_renew_days, in vars = { ... } "
					  "of the answers file; 5475, fifteen years, when unset), not '%s'",
					  t->id, s->argv[2]);
		else if (!end || *end || days < 1 || days > 36500)
			st = cw_error_set(err, CW_EINVAL, "step %s: a CRL's next update is 1 to 36500 days away, not '%s'",
					  t->id, s->argv[2]);
		else if (!p->hosts[run_host].local)
			st = cw_error_set(err, CW_EINVAL, "step %s: %s runs where certwiz runs: run certwiz on %s", t->id,
					  s->argv[0], p->hosts[run_host].name);
		break;
	}
	case STEP_SERVICE: {
		const struct service_group *g = profile_group(in->profile, t->service_group);
		if (!g) {
			/* The usual cause: a PE procedure with an open-source profile. Say that. */
			bool pe_proc = strncmp(in->proc->name, "pe-", 3) == 0;
			bool pe_prof = in->profile->flavour && strcmp(in->profile->flavour, "pe") == 0;
			if (pe_proc && !pe_prof)
				st = cw_error_set(err, CW_ECONFIG,
						  "procedure %s is for Puppet Enterprise and needs a PE profile, but "
						  "profile %s is open-source Puppet (its services have no group '%s'): "
						  "choose --profile pe-2019, pe-2018 or pe-3.7 (`certwiz list` shows "
						  "them), or --procedure oss-ca for open-source Puppet",
						  in->proc->name, in->profile->name, t->service_group);
			else
				st = cw_error_set(err, CW_ECONFIG,
						  "step %s uses service group '%s', which profile %s does not "
						  "define: choose a profile that has it (`certwiz list`), or add the "
						  "group to the profile's services",
						  t->id, t->service_group, in->profile->name);
			break;
		}
		s->service_action = xstrdup(t->service_action);
		s->services = strv_copy(strcmp(t->service_action, "stop") == 0 ? g->stop : g->start);
		/* The command each service's control runs, as the operator would type it. */
		const struct service_backend *b = site_backend(in->site, in->profile);
		for (size_t k = 0; s->services && s->services[k]; k++) {
			char **argv = service_argv(b, t->service_action, s->services[k]);
			strv_push_owned(&s->service_cmds, argv ? argv_display(argv) : xstrdup(""));
			strv_free(argv);
		}
		break;
	}
	case STEP_BACKUP:
		for (size_t b = 0; b < in->proc->nbackups; b++) {
			const struct backup_tmpl *bt = &in->proc->backups[b];
			if (strcmp(bt->role, t->role) != 0 || !when_holds(bt->when, &ctx))
				continue;
			for (size_t k = 0; bt->paths && bt->paths[k]; k++) {
				char *path;
				struct cw_error e;
				if ((st = expand(&ctx, bt->paths[k], t->id, &path, err)))
					goto out;
				if (validate_path(path, 2, &e) != CW_OK) {
					st = cw_error_set(err, CW_EINVAL, "step %s: backup %s", t->id, e.msg);
					free(path);
					goto out;
				}
				if (!strv_contains(s->backup_paths, path))
					strv_push(&s->backup_paths, path);
				free(path);
			}
		}
		break;
	}
	if (st)
		goto out;
	/* A Windows host cannot be driven over SSH here: the step becomes instructions. */
	if (strcmp(p->hosts[run_host].os, "windows") == 0 && s->kind != STEP_MANUAL) {
		char *cmd = s->argv ? argv_display(s->argv) : NULL;
		if (t->manual_windows)
			st = expand(&ctx, t->manual_windows, t->id, &s->manual, err);
		else if (cmd)
			s->manual = xasprintf("On this Windows host, in a shell run as Administrator: %s", cmd);
		else if (s->kind == STEP_SERVICE)
			s->manual = xasprintf("On this Windows host, as Administrator, %s the service(s): %s",
					      s->service_action, (cmd = strv_join(s->services, ", ")));
		else
			s->manual = xasprintf("On this Windows host, as Administrator: %s", s->title);
		free(cmd);
		s->kind = STEP_MANUAL;
	}
	if (st)
		goto out;
	if ((st = expand_checks(p, &ctx, t->require, t->nrequire, run_host, target, t->id, &s->require,
				&s->nrequire, err)) ||
	    (st = expand_checks(p, &ctx, t->verify, t->nverify, run_host, target, t->id, &s->verify,
				&s->nverify, err)))
		goto out;
	/* Puppet's commands from where this flavour keeps them (AIO: /opt/puppetlabs/bin). */
	resolve_tool(in->profile, s->argv);
	resolve_tool(in->profile, s->batch_argv);
	for (size_t i = 0; i < s->nrequire; i++)
		resolve_tool(in->profile, s->require[i].argv);
	for (size_t i = 0; i < s->nverify; i++)
		resolve_tool(in->profile, s->verify[i].argv);
out:
	vars_done(&ctx);
	return st;
}

cw_status plan_build(const struct plan_input *in, struct plan **out, struct cw_error *err)
{
	struct plan *p = xcalloc(1, sizeof *p);
	cw_status st;
	p->procedure = xstrdup(in->proc->name);
	p->procedure_title = xstrdup(in->proc->title);
	p->seed = xstrdup(in->proc->seed);
	p->profile = xstrdup(in->profile->name);
	p->profile_title = xstrdup(in->profile->title);
	p->flavour = xstrdup(in->profile->flavour);
	p->dialect = in->profile->dialect;
	if ((st = build_hosts(p, in, err)))
		goto fail;
	if (proc_has_role(in->proc, "agent") && p->nhosts == 1 && strcmp(in->proc->name, "agent") == 0) {
		st = cw_error_set(err, CW_EINVAL,
				  "the agent procedure needs at least one agent: give --agents a.example.com,"
				  "b.example.com, --agents-file FILE, or agents = [ ... ] in the answers file");
		goto fail;
	}
	for (size_t i = 0; in->facts->warnings && in->facts->warnings[i]; i++)
		strv_push(&p->warnings, in->facts->warnings[i]);
	if (strcmp(in->proc->name, "ca-renew") == 0 && p->flavour && strcmp(p->flavour, "pe") == 0)
		strv_push(&p->warnings, "Puppet Enterprise: PuppetDB's and the console's own copies of ca.pem are not "
					"replaced by this procedure; copy the new ca_crt.pem to them before the old CA "
					"certificate ends");
	if (proc_has_role(in->proc, "agent") && p->nhosts == 1 && strcmp(in->proc->name, "crl-refresh") == 0)
		strv_push(&p->warnings, "no agents are named: an agent keeps its old CRL until it is given the new one; "
					"name them with --agents (or --agents-file)");
	else if (proc_has_role(in->proc, "agent") && p->nhosts == 1 && strcmp(in->proc->name, "ca-renew") == 0)
		strv_push(&p->warnings, "no agents are named: an agent keeps the old CA certificate, and stops trusting "
					"the server when it ends, until it is given the new one; name them with --agents "
					"(or --agents-file)");
	else if (proc_has_role(in->proc, "agent") && p->nhosts == 1)
		strv_push(&p->warnings, "no agents are named: every agent needs a new certificate after this; "
					"name them with --agents, or run the agent procedure for them afterwards");
	bool uses_alt = false;
	char *agents = agents_list(p);
	for (size_t ph = 0; ph < in->proc->nphases; ph++) {
		const struct phase_tmpl *pt = &in->proc->phases[ph];
		size_t first = p->nsteps;
		for (size_t k = 0; k < pt->nsteps; k++) {
			const struct step_tmpl *t = &pt->steps[k];
			if (t->each) {
				for (size_t h = 1; h < p->nhosts; h++)
					if (strcmp(p->hosts[h].role, "agent") == 0 &&
					    (st = add_step(p, in, t, p->nphases, h, agents, &uses_alt, err))) {
						free(agents);
						goto fail;
					}
			} else if ((st = add_step(p, in, t, p->nphases, 0, agents, &uses_alt, err))) {
				free(agents);
				goto fail;
			}
		}
		if (p->nsteps == first)
			continue; /* nothing of this phase applies here */
		p->phases = xrealloc(p->phases, (p->nphases + 1) * sizeof *p->phases);
		struct plan_phase *phase = &p->phases[p->nphases++];
		phase->id = xstrdup(pt->id);
		phase->title = xstrdup(pt->title);
		phase->explain = xstrdup(pt->explain);
		phase->first = first;
		phase->count = p->nsteps - first;
	}
	free(agents);
	if (uses_alt && p->dialect == DIALECT_MODERN) {
		const char *ca_conf = vars_get(&p->hosts[0].vars, "ca_conf");
		if (in->facts->allow_subject_alt_names == 0)
			strv_push_owned(&p->blockers,
					xasprintf("the CA refuses certificates with alt names: set "
						  "'allow-subject-alt-names: true' in the certificate-authority section "
						  "of %s and restart puppetserver (otherwise signing answers HTTP 409)",
						  ca_conf ? ca_conf : "ca.conf"));
		else if (in->facts->allow_subject_alt_names < 0)
			strv_push_owned(&p->warnings,
					xasprintf("could not read %s to check 'allow-subject-alt-names': signing "
						  "with alt names fails with HTTP 409 unless it is true",
						  ca_conf ? ca_conf : "the CA's ca.conf"));
	}
	*out = p;
	return CW_OK;
fail:
	plan_free(p);
	return st;
}

void plan_free(struct plan *p)
{
	if (!p)
		return;
	free(p->procedure);
	free(p->procedure_title);
	free(p->seed);
	free(p->profile);
	free(p->profile_title);
	free(p->flavour);
	for (size_t i = 0; i < p->nhosts; i++)
		host_done(&p->hosts[i]);
	free(p->hosts);
	for (size_t i = 0; i < p->nphases; i++) {
		free(p->phases[i].id);
		free(p->phases[i].title);
		free(p->phases[i].explain);
	}
	free(p->phases);
	for (size_t i = 0; i < p->nsteps; i++)
		step_free(&p->steps[i]);
	free(p->steps);
	strv_free(p->warnings);
	strv_free(p->blockers);
	free(p);
}

/* ---------- the checklist ---------- */

char *argv_display(char *const *argv)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *w = argv[i];
		bool plain = *w != '\0';
		for (const char *c = w; *c; c++)
			if (!isalnum((unsigned char)*c) && !strchr("_./:=,@%+-", *c))
				plain = false;
		if (i)
			strbuf_adds(&sb, " ");
		if (plain) {
			strbuf_adds(&sb, w);
			continue;
		}
		strbuf_adds(&sb, "'");
		for (const char *c = w; *c; c++) {
			if (*c == '\'')
				strbuf_adds(&sb, "'\\''");
			else if ((unsigned char)*c < 0x20)
				strbuf_addf(&sb, "\\x%02x", (unsigned char)*c);
			else
				strbuf_add(&sb, c, 1);
		}
		strbuf_adds(&sb, "'");
	}
	return strbuf_detach(&sb);
}

static const char *host_label(const struct plan *p, size_t h)
{
	return p->hosts[h].name;
}

char *plan_check_describe(const struct plan *p, const struct plan_check *c)
{
	struct strbuf sb;
	strbuf_init(&sb);
	const char *on = host_label(p, c->host);
	switch (c->kind) {
	case CHECK_ABSENT:
		strbuf_addf(&sb, "%s is gone (on %s)", c->path, on);
		break;
	case CHECK_PRESENT:
		strbuf_addf(&sb, "%s exists (on %s)", c->path, on);
		break;
	case CHECK_EMPTY:
		strbuf_addf(&sb, "%s is empty (on %s)", c->path, on);
		break;
	case CHECK_CERT:
		strbuf_addf(&sb, "%s is a certificate (on %s)", c->path, on);
		if (c->is_ca)
			strbuf_adds(&sb, ", a CA");
		if (c->cn)
			strbuf_addf(&sb, ", for %s", c->cn);
		if (c->san) {
			char *s = strv_join(c->san, ",");
			strbuf_addf(&sb, ", with alt names %s", s);
			free(s);
		}
		if (c->ca)
			strbuf_addf(&sb, ", signed by the CA in %s", c->ca);
		if (c->crl)
			strbuf_addf(&sb, ", not revoked in %s", c->crl);
		if (c->crl && c->crl_days)
			strbuf_addf(&sb, " (its next update at least %d days away)", c->crl_days);
		if (c->key)
			strbuf_addf(&sb, ", matching the key %s", c->key);
		if (c->same_key)
			strbuf_adds(&sb, ", with the public key it had before the run");
		if (c->changed)
			strbuf_adds(&sb, ", and new (its fingerprint changed)");
		if (c->unchanged)
			strbuf_adds(&sb, ", and the same one as before the run (its fingerprint unchanged)");
		break;
	case CHECK_SIGNED:
		strbuf_addf(&sb, "every certificate in %s verifies under the CA in %s (on %s), now and a day after the "
				 "end of the CA it replaced",
			    c->path, c->ca, on);
		break;
	case CHECK_CSR:
		strbuf_addf(&sb, "%s is a certificate request (on %s)", c->path, on);
		if (c->cn)
			strbuf_addf(&sb, " for %s", c->cn);
		if (c->key)
			strbuf_addf(&sb, ", for the key %s", c->key);
		if (c->other)
			strbuf_addf(&sb, ", with the same public key as %s on %s", c->other,
				    host_label(p, c->other_host));
		break;
	case CHECK_SAME:
		strbuf_addf(&sb, "%s (on %s) has the same content as %s (on %s)", c->path, on, c->other,
			    host_label(p, c->other_host));
		break;
	case CHECK_TLS:
		strbuf_addf(&sb, "port %d on %s serves a certificate signed by the CA in %s", c->port, c->address,
			    c->ca);
		if (c->key)
			strbuf_addf(&sb, ", for the key %s (on %s)", c->key, on);
		break;
	case CHECK_COMMAND: {
		char *cmd = argv_display(c->argv);
		strbuf_addf(&sb, "`%s` succeeds (on %s)", cmd, on);
		free(cmd);
		break;
	}
	}
	return strbuf_detach(&sb);
}

void plan_format_step(const struct plan *p, const struct plan_step *s, bool brief, struct strbuf *out)
{
	char num[16];
	snprintf(num, sizeof num, "%zu.", s->index + 1);
	strbuf_addf(out, "  [ ] %-4s %s\n", num, s->title);
	strbuf_addf(out, "         on %s%s\n", host_label(p, s->host),
		    p->hosts[s->host].local ? " (this host)" : " (over SSH)");
	switch (s->kind) {
	case STEP_RUN: {
		char *cmd = argv_display(s->argv);
		strbuf_addf(out, "         $ %s\n", cmd);
		free(cmd);
		if (s->until) {
			char *line = xasprintf("success: it prints \"%s\"; certwiz then stops it (as Ctrl-C would)",
					       s->until);
			strbuf_wrap(out, "         ", line, 78);
			free(line);
		} else if (s->nok > 1 || s->ok_exit[0] != 0) {
			strbuf_adds(out, "         success: exit code");
			for (size_t i = 0; i < s->nok; i++)
				strbuf_addf(out, "%s %d", i ? "," : "", s->ok_exit[i]);
			strbuf_adds(out, "\n");
		}
		/* The first of a batch: say that certwiz run makes it one command for them all. */
		size_t n = 0;
		while (s->batch && (s->index == 0 || strcmp(p->steps[s->index - 1].tmpl_id, s->tmpl_id) != 0) &&
		       s->index + n < p->nsteps && strcmp(p->steps[s->index + n].tmpl_id, s->tmpl_id) == 0)
			n++;
		if (n > 1) {
			size_t *idx = xcalloc(n, sizeof *idx);
			for (size_t k = 0; k < n; k++)
				idx[k] = s->index + k;
			char **merged = plan_batch_argv(p, idx, n > 100 ? 100 : n);
			if (merged) {
				char *m = argv_display(merged);
				char *line = xasprintf("batch: certwiz run does this and the next %zu step%s as one command%s:",
						       n - 1, n == 2 ? "" : "s", n > 100 ? " per 100 agents" : "");
				strbuf_wrap(out, "         ", line, 78);
				strbuf_addf(out, "         $ %s%s\n", m, n > 100 ? ",..." : "");
				free(line);
				free(m);
			}
			strv_free(merged);
			free(idx);
		}
		break;
	}
	case STEP_SERVICE: {
		char *svc = strv_join(s->services, ", ");
		strbuf_addf(out, "         %s services, in this order: %s\n", s->service_action, svc);
		free(svc);
		for (size_t k = 0; s->service_cmds && s->service_cmds[k]; k++)
			if (*s->service_cmds[k])
				strbuf_addf(out, "         $ %s\n", s->service_cmds[k]);
		break;
	}
	case STEP_MANUAL:
		strbuf_adds(out, "         MANUAL: the operator does this and marks it done:\n");
		{
			/* Each line of the instructions on its own: commands stay copy-pasteable. */
			char **lines = strv_split(s->manual, '\n');
			for (size_t i = 0; lines && lines[i]; i++)
				strbuf_wrap(out, "           ", lines[i], 78);
			strv_free(lines);
		}
		break;
	case STEP_ACTION: {
		char *line = strcmp(s->argv[0], "ca-renew") == 0
				     ? xasprintf("certwiz itself: re-issue %s/ca_crt.pem (every CA certificate in it) with "
						 "the same keys, names and key identifiers, a new serial, valid for %s days, "
						 "once every certificate in %s/signed verifies under it",
						 s->argv[1], s->argv[2], s->argv[1])
				     : xasprintf("certwiz itself: re-sign %s/ca_crl.pem (and infra_crl.pem where it exists) "
						 "with the CA's own keys, same revoked entries, next update in %s days, CRL "
						 "number + 1",
						 s->argv[1], s->argv[2]);
		strbuf_wrap(out, "         ", line, 78);
		free(line);
		break;
	}
	case STEP_BACKUP: {
		char *paths = strv_join(s->backup_paths, ", ");
		char *line = xasprintf("archive with owners and modes, plus a SHA-256 manifest: %s", paths);
		strbuf_wrap(out, "         ", line, 78);
		free(line);
		free(paths);
		break;
	}
	}
	if (s->destructive)
	{
		char *line = xasprintf("DESTRUCTIVE: needs the verified backup of %s; type '%s' to run it",
				       host_label(p, s->host), s->confirm);
		strbuf_wrap(out, "         ", line, 78);
		free(line);
	}
	for (size_t i = 0; i < s->nrequire; i++) {
		char *d = plan_check_describe(p, &s->require[i]);
		strbuf_wrap(out, "         before: ", d, 78);
		free(d);
	}
	if (s->kind == STEP_BACKUP)
		strbuf_adds(out, "         verify: the archive is read back and matches its manifest\n");
	if (s->kind == STEP_SERVICE)
		strbuf_wrap(out, "         verify: ", strcmp(s->service_action, "stop") == 0
			? "each service is stopped (pid and port checked, not the control command's word)"
			: "each service is running (pid and port checked, not the control command's word)", 78);
	for (size_t i = 0; i < s->nverify; i++) {
		char *d = plan_check_describe(p, &s->verify[i]);
		strbuf_wrap(out, "         verify: ", d, 78);
		free(d);
	}
	if (s->kind == STEP_RUN && s->nverify == 0)
		strbuf_adds(out, "         verify: the exit code\n");
	if (!brief) {
		strbuf_wrap(out, "         why: ", s->explain, 78);
		if (s->undo)
			strbuf_wrap(out, "         undo: ", s->undo, 78);
	}
}

void plan_format(const struct plan *p, struct strbuf *out)
{
	strbuf_addf(out, "certwiz plan: %s\n", p->procedure_title);
	strbuf_addf(out, "  procedure  %s\n", p->procedure);
	strbuf_wrap(out, "  follows    ", p->seed, 78);
	strbuf_addf(out, "  profile    %s: %s\n", p->profile, p->profile_title);
	strbuf_addf(out, "  commands   %s dialect (%s)\n", dialect_str(p->dialect),
		    p->dialect == DIALECT_MODERN ? "puppetserver ca, puppet ssl" : "puppet cert, puppet master");
	strbuf_addf(out, "  CA server  %s (this host)\n", p->hosts[0].name);
	const char *alt = vars_get(&p->hosts[0].vars, "dns_alt_names");
	strbuf_addf(out, "  alt names  %s\n", alt && *alt ? alt : "(none)");
	for (size_t i = 1; i < p->nhosts; i++)
		strbuf_addf(out, "  %-9s  %s (%s@%s:%d%s)\n", p->hosts[i].role, p->hosts[i].name, p->hosts[i].user,
			    p->hosts[i].address, p->hosts[i].port, strcmp(p->hosts[i].os, "windows") == 0 ? ", windows" : "");
	strbuf_addf(out, "  steps      %zu in %zu phases; nothing changes until you run them\n", p->nsteps,
		    p->nphases);
	for (size_t i = 0; p->blockers && p->blockers[i]; i++)
		strbuf_wrap(out, "  BLOCKED: ", p->blockers[i], 78);
	for (size_t i = 0; p->warnings && p->warnings[i]; i++)
		strbuf_wrap(out, "  warning: ", p->warnings[i], 78);
	for (size_t ph = 0; ph < p->nphases; ph++) {
		const struct plan_phase *phase = &p->phases[ph];
		strbuf_addf(out, "\nPhase %zu: %s\n", ph + 1, phase->title);
		strbuf_wrap(out, "  ", phase->explain, 78);
		for (size_t i = phase->first; i < phase->first + phase->count; i++) {
			strbuf_adds(out, "\n");
			plan_format_step(p, &p->steps[i], false, out);
		}
	}
}

/* Steps that may share one command: batch run steps of one template, on one host, each about
 * another agent, with the same command shape (the same batch_run, or argvs of one length). */
static bool one_batch(const struct plan *p, const size_t *steps, size_t n)
{
	const struct plan_step *first = &p->steps[steps[0]];
	for (size_t k = 0; k < n; k++) {
		const struct plan_step *s = &p->steps[steps[k]];
		if (!s->batch || s->kind != STEP_RUN || !s->target || s->host != first->host ||
		    strcmp(s->tmpl_id, first->tmpl_id) != 0 ||
		    (first->batch_argv ? !strv_eq(s->batch_argv, first->batch_argv)
				       : strv_len(s->argv) != strv_len(first->argv)))
			return false;
		for (size_t k2 = 0; k2 < k; k2++)
			if (strcmp(p->steps[steps[k2]].target, s->target) == 0)
				return false; /* the same agent twice */
	}
	return true;
}

/* The step's own shared command (batch_run), the agents' names filled in where it says. */
static char **batch_argv_filled(const struct plan *p, const size_t *steps, size_t n)
{
	const struct plan_step *first = &p->steps[steps[0]];
	/* Certnames are validated (letters, digits, '.', '-', '_'): as JSON strings they need no
	 * escapes; anything else is refused rather than quoted. */
	struct strbuf names;
	strbuf_init(&names);
	for (size_t k = 0; k < n; k++) {
		const char *t = p->steps[steps[k]].target;
		if (strpbrk(t, "\"\\") || strchr(t, '\x1f')) {
			strbuf_done(&names);
			return NULL;
		}
		strbuf_addf(&names, "%s\"%s\"", k ? "," : "", t);
	}
	char **out = NULL;
	for (size_t a = 0; first->batch_argv[a]; a++) {
		const char *w = first->batch_argv[a], *at;
		struct strbuf sb;
		strbuf_init(&sb);
		while ((at = strstr(w, PLAN_BATCH_NAMES))) {
			strbuf_add(&sb, w, (size_t)(at - w));
			strbuf_add(&sb, names.buf, names.len);
			w = at + strlen(PLAN_BATCH_NAMES);
		}
		strbuf_adds(&sb, w);
		strv_push_owned(&out, strbuf_detach(&sb));
	}
	strbuf_done(&names);
	return out;
}

char **plan_batch_argv(const struct plan *p, const size_t *steps, size_t n)
{
	if (n == 0)
		return NULL;
	const struct plan_step *first = &p->steps[steps[0]];
	if (!one_batch(p, steps, n))
		return NULL;
	if (first->batch_argv)
		return batch_argv_filled(p, steps, n);
	size_t len = strv_len(first->argv);
	/* Which elements name the agent: equal to the target in every step, and nothing else differs. */
	bool *named = xcalloc(len ? len : 1, sizeof *named);
	bool any = false, ok = true;
	for (size_t a = 0; a < len && ok; a++) {
		bool all_target = true, all_same = true;
		for (size_t k = 0; k < n; k++) {
			const struct plan_step *s = &p->steps[steps[k]];
			all_target = all_target && strcmp(s->argv[a], s->target) == 0;
			all_same = all_same && strcmp(s->argv[a], first->argv[a]) == 0;
		}
		named[a] = all_target && !(n > 1 && all_same);
		any = any || named[a];
		ok = all_target || all_same;
	}
	char **out = NULL;
	if (ok && any) {
		for (size_t a = 0; a < len; a++) {
			if (!named[a]) {
				strv_push(&out, first->argv[a]);
			} else if (p->dialect == DIALECT_MODERN) {
				struct strbuf sb;
				strbuf_init(&sb);
				for (size_t k = 0; k < n; k++)
					strbuf_addf(&sb, "%s%s", k ? "," : "", p->steps[steps[k]].target);
				strv_push_owned(&out, strbuf_detach(&sb));
			} else {
				for (size_t k = 0; k < n; k++)
					strv_push(&out, p->steps[steps[k]].target);
			}
		}
	}
	free(named);
	return out;
}
