/* wizard.c: set up a session: site config, answers, profiles, detection, facts, plan. */
#include "wizard.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "validate.h"

#include "observer.h"

static cw_status load_profiles(struct wizard *w, struct cw_error *err)
{
	char **names = config_list(w->datadir, "profiles");
	if (!names)
		return cw_error_set(err, CW_ECONFIG,
				    "no profiles found: certwiz looks in $CERTWIZ_DATADIR/config/profiles, %s/config/"
				    "profiles and the source tree; reinstall or pass --datadir", CW_DATADIR);
	for (size_t i = 0; names[i]; i++) {
		char *rel = xasprintf("profiles/%s.cfg", names[i]);
		char *path = config_find(w->datadir, rel);
		free(rel);
		struct profile *p;
		cw_status st = profile_load(path, &p, err);
		free(path);
		if (st) {
			strv_free(names);
			return st;
		}
		w->profiles = xrealloc(w->profiles, (w->nprofiles + 1) * sizeof *w->profiles);
		w->profiles[w->nprofiles++] = p;
	}
	strv_free(names);
	return CW_OK;
}

static const struct profile *find_profile(const struct wizard *w, const char *name)
{
	for (size_t i = 0; i < w->nprofiles; i++)
		if (strcmp(w->profiles[i]->name, name) == 0)
			return w->profiles[i];
	return NULL;
}

static cw_status discover(struct wizard *w, struct cw_error *err)
{
	if (w->have_facts)
		facts_done(&w->facts);
	w->have_facts = false;
	cw_status st = facts_discover(w->site.root, w->profile, &w->facts, err);
	if (st)
		return st;
	w->have_facts = true;
	return CW_OK;
}

cw_status wizard_choose_profile(struct wizard *w, const char *name, struct cw_error *err)
{
	if (!name || strcmp(name, "auto") == 0) {
		free(w->detect_note);
		w->detect_note = NULL;
		const struct profile *p = profile_detect(w->site.root, w->profiles, w->nprofiles, &w->detect_note);
		if (!p)
			return cw_error_set(err, CW_ECONFIG,
					    "no profile matches this host (%s). Choose one with --profile NAME; "
					    "`certwiz list` shows them", w->detect_note);
		w->profile = p;
	} else {
		const struct profile *p = find_profile(w, name);
		if (!p) {
			struct strbuf sb;
			strbuf_init(&sb);
			for (size_t i = 0; i < w->nprofiles; i++)
				strbuf_addf(&sb, "%s%s", i ? ", " : "", w->profiles[i]->name);
			cw_status st = cw_error_set(err, CW_EINVAL, "unknown profile '%s': choose one of %s", name,
						    sb.buf ? sb.buf : "(none installed)");
			strbuf_done(&sb);
			return st;
		}
		w->profile = p;
	}
	plan_free(w->plan);
	w->plan = NULL;
	return discover(w, err);
}

cw_status wizard_procedure_info(struct wizard *w, const char *name, struct procedure **out,
				struct cw_error *err)
{
	struct cw_error e;
	if (!strv_contains(w->procedure_names, name)) {
		char *list = strv_join(w->procedure_names, ", ");
		cw_status st = cw_error_set(err, CW_EINVAL, "unknown procedure '%s': choose one of %s", name, list);
		free(list);
		return st;
	}
	if (validate_certname(name, &e) != CW_OK) /* also keeps '/' and '..' out of the path */
		return cw_error_set(err, CW_EINVAL, "procedure name '%s' is not valid", name);
	char *rel = xasprintf("procedures/%s.cfg", name);
	char *path = config_find(w->datadir, rel);
	free(rel);
	if (!path)
		return cw_error_set(err, CW_ECONFIG, "procedure '%s' is not installed", name);
	cw_status st = procedure_load(path, out, err);
	free(path);
	return st;
}

cw_status wizard_choose_procedure(struct wizard *w, const char *name, struct cw_error *err)
{
	struct procedure *p;
	cw_status st = wizard_procedure_info(w, name, &p, err);
	if (st)
		return st;
	procedure_free(w->proc);
	w->proc = p;
	plan_free(w->plan);
	w->plan = NULL;
	return CW_OK;
}

cw_status wizard_set_certname(struct wizard *w, const char *certname, struct cw_error *err)
{
	cw_status st = validate_certname(certname, err);
	if (st)
		return st;
	free(w->site.certname);
	w->site.certname = xstrdup(certname);
	return CW_OK;
}

static cw_status parse_names(const char *list, bool alt, char ***out, struct cw_error *err)
{
	char **v = strv_split(list, ',');
	for (size_t i = 0; v && v[i]; i++) {
		cw_status st = alt ? validate_alt_name(v[i], err) : validate_certname(v[i], err);
		if (st) {
			strv_free(v);
			return st;
		}
	}
	*out = v;
	return CW_OK;
}

cw_status wizard_set_alt_names(struct wizard *w, const char *comma_list, struct cw_error *err)
{
	char **v;
	cw_status st = parse_names(comma_list, true, &v, err);
	if (st)
		return st;
	strv_free(w->site.dns_alt_names);
	w->site.dns_alt_names = v;
	w->site.alt_names_set = true;
	return CW_OK;
}

cw_status wizard_set_agents(struct wizard *w, const char *comma_list, struct cw_error *err)
{
	char **v;
	cw_status st = parse_names(comma_list, false, &v, err);
	if (st)
		return st;
	strv_free(w->site.agents);
	w->site.agents = v;
	return CW_OK;
}

/* The step a name in skip or manual_done means: a step of the procedure (every agent's), or
 * one step of the plan ("clean@web1.example.com"). NULL when it names none. */
static const struct step_tmpl *named_step(const struct wizard *w, const char *name)
{
	for (size_t a = 0; a < w->proc->nphases; a++)
		for (size_t i = 0; i < w->proc->phases[a].nsteps; i++)
			if (strcmp(w->proc->phases[a].steps[i].id, name) == 0)
				return &w->proc->phases[a].steps[i];
	for (size_t i = 0; w->plan && i < w->plan->nsteps; i++)
		if (strcmp(w->plan->steps[i].id, name) == 0)
			return named_step(w, w->plan->steps[i].tmpl_id);
	return NULL;
}

/* Every id in skip / manual_done names a step (manual_done: a manual one): a typo would
 * otherwise skip nothing, or leave a step undone. */
static cw_status check_step_ids(const struct wizard *w, const char *key, char *const *ids, const char *file,
				int line, bool manual, struct cw_error *err)
{
	for (size_t k = 0; ids && ids[k]; k++) {
		const struct step_tmpl *t = named_step(w, ids[k]);
		if (t && (!manual || t->kind == STEP_MANUAL))
			continue;
		struct strbuf want;
		strbuf_init(&want);
		for (size_t a = 0; a < w->proc->nphases; a++)
			for (size_t i = 0; i < w->proc->phases[a].nsteps; i++) {
				const struct step_tmpl *s = &w->proc->phases[a].steps[i];
				if (!manual || s->kind == STEP_MANUAL)
					strbuf_addf(&want, "%s%s", want.len ? ", " : "", s->id);
			}
		cw_status st;
		if (manual && !want.len)
			st = cw_error_set_at(err, CW_ECONFIG, file, line,
					     "manual_done names '%s', but procedure %s has no manual steps: "
					     "expected no manual_done for it; remove the setting",
					     ids[k], w->proc->name);
		else
			st = cw_error_set_at(
			err, CW_ECONFIG, file, line,
			"%s names '%s', which is %s of procedure %s: expected %s%s; correct the id "
			"(`certwiz plan` lists every step's id)",
			key, ids[k], t ? "not a manual step" : "no step", w->proc->name,
			manual ? "a manual step: " : "a step id (or ID@HOST for one agent): ",
			want.len ? want.buf : "(none)");
		strbuf_done(&want);
		return st;
	}
	return CW_OK;
}

/* ---- every variable of the site names something ---- */

static void refs_add(char ***names, const char *tmpl)
{
	char **r = vars_refs(tmpl);
	for (size_t i = 0; r && r[i]; i++)
		if (!strv_contains(*names, r[i]))
			strv_push(names, r[i]);
	strv_free(r);
}

static void argv_refs(char ***names, const struct argv_tmpl *a)
{
	for (size_t i = 0; i < a->n; i++)
		for (size_t k = 0; a->items[i].words && a->items[i].words[k]; k++)
			refs_add(names, a->items[i].words[k]);
}

/* "name", "!name", "name=value": the name. */
static void when_refs(char ***names, char *const *when)
{
	for (size_t i = 0; when && when[i]; i++) {
		const char *c = when[i] + (when[i][0] == '!');
		char *name = xstrndup(c, strcspn(c, "="));
		if (!strv_contains(*names, name))
			strv_push(names, name);
		free(name);
	}
}

static void checks_refs(char ***names, const struct check_tmpl *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *strs[] = { c[i].path, c[i].ca, c[i].crl, c[i].cn, c[i].san, c[i].key, c[i].other,
				       c[i].address, c[i].port };
		for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++)
			refs_add(names, strs[k]);
		argv_refs(names, &c[i].argv);
	}
}

static void procedure_names_used(char ***names, const struct procedure *p)
{
	for (size_t a = 0; a < p->nphases; a++)
		for (size_t i = 0; i < p->phases[a].nsteps; i++) {
			const struct step_tmpl *t = &p->phases[a].steps[i];
			const char *strs[] = { t->title, t->explain, t->undo, t->manual, t->manual_windows };
			for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++)
				refs_add(names, strs[k]);
			argv_refs(names, &t->run[0]);
			argv_refs(names, &t->run[1]);
			argv_refs(names, &t->action);
			when_refs(names, t->when);
			checks_refs(names, t->require, t->nrequire);
			checks_refs(names, t->verify, t->nverify);
		}
	for (size_t i = 0; i < p->vars.n; i++)
		if (!strv_contains(*names, p->vars.items[i].name))
			strv_push(names, p->vars.items[i].name);
	for (size_t i = 0; i < p->nbackups; i++) {
		for (size_t k = 0; p->backups[i].paths && p->backups[i].paths[k]; k++)
			refs_add(names, p->backups[i].paths[k]);
		when_refs(names, p->backups[i].when);
	}
}

/* Every name in use: ${NAME} in any template of any installed procedure (a site file serves
 * them all), NAME in a condition, the profile's and this host's variables, and names the
 * site's own variables refer to. Names of another host's facts ("agent.certname") are left
 * out: a site does not set those. */
static char **used_names(struct wizard *w)
{
	char **names = NULL;
	procedure_names_used(&names, w->proc);
	for (size_t i = 0; w->procedure_names && w->procedure_names[i]; i++) {
		struct procedure *p = NULL;
		if (strcmp(w->procedure_names[i], w->proc->name) != 0 &&
		    wizard_procedure_info(w, w->procedure_names[i], &p, NULL) == CW_OK)
			procedure_names_used(&names, p);
		procedure_free(p);
	}
	const struct vars *vs[] = { &w->profile->vars, &w->facts.vars, &w->site.vars };
	for (size_t k = 0; k < sizeof vs / sizeof vs[0]; k++)
		for (size_t i = 0; i < vs[k]->n; i++) {
			refs_add(&names, vs[k]->items[i].value);
			if (k < 2 && !strv_contains(names, vs[k]->items[i].name))
				strv_push(&names, vs[k]->items[i].name);
		}
	char **out = NULL;
	for (size_t i = 0; names && names[i]; i++)
		if (!strchr(names[i], '.'))
			strv_push(&out, names[i]);
	strv_free(names);
	return out;
}

/* A variable of the site that nothing uses is most likely a misspelt one: an error. */
static cw_status check_site_vars(struct wizard *w, struct cw_error *err)
{
	if (!w->site.vars.n)
		return CW_OK;
	char **names = used_names(w);
	cw_status st = CW_OK;
	for (size_t i = 0; i < w->site.vars.n && !st; i++) {
		const char *name = w->site.vars.items[i].name;
		if (strv_contains(names, name))
			continue;
		const char *where = vars_get(&w->site.vars_where, name);
		char *file = xstrdup(where ? where : "");
		char *colon = strrchr(file, ':');
		int line = colon ? atoi(colon + 1) : 0;
		if (colon)
			*colon = '\0';
		char *list = strv_join(names, ", ");
		st = cw_error_set_at(err, CW_ECONFIG, file[0] ? file : NULL, line,
				     "vars: '%s' is a variable that no procedure and not profile %s uses: "
				     "expected one of %s; found '%s' (correct its spelling or remove it)",
				     name, w->profile->name, list, name);
		free(list);
		free(file);
	}
	strv_free(names);
	return st;
}

cw_status wizard_build_plan(struct wizard *w, struct cw_error *err)
{
	if (!w->proc)
		return cw_error_set(err, CW_EINVAL, "no procedure chosen: give --procedure NAME (`certwiz list` "
						    "shows them)");
	if (!w->have_facts)
		return cw_error_set(err, CW_EINVAL, "no profile chosen");
	char **agents = strv_copy(w->site.agents);
	if (w->site.agents_file) {
		cw_status st = agents_file_read(w->site.agents_file, &agents, err);
		if (st) {
			strv_free(agents);
			return st;
		}
	}
	struct plan_input in = {
		.proc = w->proc,
		.profile = w->profile,
		.facts = &w->facts,
		.site = &w->site,
		.certname = w->site.certname,
		.dns_alt_names = w->site.dns_alt_names,
		.alt_names_set = w->site.alt_names_set,
		.agents = agents,
		.puppetdb_host = w->site.puppetdb_host,
		.console_host = w->site.console_host,
	};
	plan_free(w->plan);
	w->plan = NULL;
	cw_status st = plan_build(&in, &w->plan, err);
	strv_free(agents);
	if (st == CW_OK)
		st = check_site_vars(w, err);
	if (st == CW_OK)
		st = check_step_ids(w, "skip", w->site.skip, w->site.skip_file, w->site.skip_line, false, err);
	if (st == CW_OK)
		st = check_step_ids(w, "manual_done", w->site.manual_done, w->site.manual_done_file,
				    w->site.manual_done_line, true, err);
	return st;
}

static void set_str(char **dst, const char *src)
{
	if (src) {
		free(*dst);
		*dst = xstrdup(src);
	}
}

/* Answers files: validated names, and paths and titles escaped for libconfig's strings. */
static void cfg_str(struct strbuf *sb, const char *key, const char *v)
{
	if (!v)
		return;
	strbuf_addf(sb, "%s = \"", key);
	for (const char *c = v; *c; c++)
		strbuf_addf(sb, "%s%c", *c == '"' || *c == '\\' ? "\\" : "", *c);
	strbuf_adds(sb, "\";\n");
}

static void cfg_list(struct strbuf *sb, const char *key, char *const *v)
{
	strbuf_addf(sb, "%s = [", key);
	for (size_t i = 0; v && v[i]; i++)
		strbuf_addf(sb, "%s\"%s\"", i ? ", " : "", v[i]); /* validated names: no quotes */
	strbuf_adds(sb, "];\n");
}

cw_status wizard_write_answers(const struct wizard *w, const char *who, const char *operator_name,
			       const char *header, char **path_out, struct cw_error *err)
{
	const struct plan *p = w->plan;
	if (!p)
		return cw_error_set(err, CW_EINVAL, "no plan to write answers for");
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
	char *path = xasprintf("%s/%s-%s-%s.cfg", w->site.journal_dir, who, ts, p->procedure);
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_adds(&sb, header);
	cfg_str(&sb, "procedure", p->procedure);
	cfg_str(&sb, "profile", p->profile);
	cfg_str(&sb, "operator", operator_name);
	cfg_str(&sb, "certname", p->hosts[0].name);
	char **alt = strv_split(vars_get(&p->hosts[0].vars, "dns_alt_names"), ',');
	cfg_list(&sb, "dns_alt_names", alt);
	strv_free(alt);
	char **agents = NULL;
	for (size_t h = 1; h < p->nhosts; h++)
		if (strcmp(p->hosts[h].role, "agent") == 0)
			strv_push(&agents, p->hosts[h].name);
	if (agents)
		cfg_list(&sb, "agents", agents);
	strv_free(agents);
	cfg_str(&sb, "puppetdb_host", w->site.puppetdb_host);
	cfg_str(&sb, "console_host", w->site.console_host);
	cfg_str(&sb, "backup_dir", w->site.backup_dir);
	cfg_str(&sb, "journal_dir", w->site.journal_dir);
	cfg_str(&sb, "report_dir", w->site.report_dir);
	cfg_str(&sb, "on_failure", w->site.on_failure);
	cw_status st = mkdir_p(w->site.journal_dir, 0700, err);
	if (!st)
		st = file_write_atomic(path, sb.buf, sb.len, 0600, err);
	strbuf_done(&sb);
	if (st) {
		free(path);
		return st;
	}
	*path_out = path;
	return CW_OK;
}

/* A relative agents_file in a config or answers file names a file next to it, so the run
 * reads the same file whatever the current directory (and `certwiz resume` finds it). */
static void anchor_to_file(char **path, const char *file)
{
	if (!*path || (*path)[0] == '/' || !file)
		return;
	char *dir = path_absolute(file, NULL);
	char *slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	char *abs = path_absolute(*path, dir);
	free(dir);
	free(*path);
	*path = abs;
}

cw_status wizard_open(const struct wizard_opts *o, struct wizard **out, struct cw_error *err)
{
	struct wizard *w = xcalloc(1, sizeof *w);
	cw_status st;
	site_init(&w->site);
	w->datadir = xstrdup(o->datadir);
	const char *cfg = o->config_path;
	char *installed = xasprintf("%s/certwiz.cfg", CW_SYSCONFDIR);
	if (!cfg && access(installed, R_OK) == 0)
		cfg = installed;
	if (cfg && (st = site_load(&w->site, cfg, err)))
		goto fail;
	anchor_to_file(&w->site.agents_file, cfg);
	if (o->answers_path && (st = site_load(&w->site, o->answers_path, err)))
		goto fail;
	anchor_to_file(&w->site.agents_file, o->answers_path);
	if ((st = site_load_ssh_config(&w->site, getenv("HOME"), err)))
		goto fail;
	set_str(&w->site.operator_name, o->operator_name);
	set_str(&w->site.root, o->root);
	set_str(&w->site.puppetdb_host, o->puppetdb_host);
	set_str(&w->site.console_host, o->console_host);
	set_str(&w->site.agents_file, o->agents_file);
	set_str(&w->site.backup_dir, o->backup_dir);
	set_str(&w->site.journal_dir, o->journal_dir);
	/* Checked as the config file's are (the command line makes them absolute first). */
	const char *const dir_opts[][2] = {{"--backup-dir", o->backup_dir}, {"--journal-dir", o->journal_dir}};
	for (size_t i = 0; i < 2; i++)
		if (dir_opts[i][1] && (st = validate_path(dir_opts[i][1], 1, err))) {
			cw_error_prefix(err, "%s", dir_opts[i][0]);
			goto fail;
		}
	if (o->on_failure) {
		if (strcmp(o->on_failure, "stop") != 0 && strcmp(o->on_failure, "rollback") != 0) {
			st = cw_error_set(err, CW_EINVAL, "--on-failure takes stop or rollback, not '%s'", o->on_failure);
			goto fail;
		}
		set_str(&w->site.on_failure, o->on_failure);
	}
	if (o->parallel)
		w->site.parallel = o->parallel;
	if (o->certname && (st = wizard_set_certname(w, o->certname, err)))
		goto fail;
	if (o->dns_alt_names && (st = wizard_set_alt_names(w, o->dns_alt_names, err)))
		goto fail;
	if (o->agents && (st = wizard_set_agents(w, o->agents, err)))
		goto fail;
	if (!w->site.backup_dir)
		w->site.backup_dir = xstrdup("/var/lib/certwiz/backups");
	if (!w->site.journal_dir)
		w->site.journal_dir = xstrdup("/var/lib/certwiz/runs");
	if ((st = load_profiles(w, err)))
		goto fail;
	w->procedure_names = config_list(w->datadir, "procedures");
	const char *profile = o->profile ? o->profile : w->site.profile;
	if ((st = wizard_choose_profile(w, profile, err)))
		goto fail;
	const char *proc = o->procedure ? o->procedure : w->site.procedure;
	if (proc && (st = wizard_choose_procedure(w, proc, err)))
		goto fail;
	free(installed);
	*out = w;
	return CW_OK;
fail:
	free(installed);
	wizard_free(w);
	return st;
}

void wizard_free(struct wizard *w)
{
	if (!w)
		return;
	plan_free(w->plan);
	if (w->have_facts)
		facts_done(&w->facts);
	procedure_free(w->proc);
	strv_free(w->procedure_names);
	for (size_t i = 0; i < w->nprofiles; i++)
		profile_free(w->profiles[i]);
	free(w->profiles);
	free(w->detect_note);
	site_done(&w->site);
	free(w->datadir);
	free(w);
}

const char *host_state_str(enum host_state s)
{
	static const char *const names[] = {"pending", "running", "done", "failed", "skipped"};
	return (unsigned)s < 5 ? names[s] : "?";
}
