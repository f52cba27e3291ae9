/* config.c: load certwiz.cfg / answers files, profiles and procedures with libconfig. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "validate.h"

/* ---------- typed getters that explain themselves ---------- */

struct ld {
	const char *file;
	struct cw_error *err;
};

static const char *type_name(int t)
{
	switch (t) {
	case CONFIG_TYPE_GROUP: return "a group { ... }";
	case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
	case CONFIG_TYPE_LIST: return "a list ( ... )";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "a number";
	case CONFIG_TYPE_FLOAT: return "a decimal number";
	case CONFIG_TYPE_BOOL: return "true/false";
	default: return "nothing";
	}
}

static int line_of(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

static cw_status bad(struct ld *l, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static cw_status bad(struct ld *l, const config_setting_t *s, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cw_error_set_at(l->err, CW_ECONFIG, l->file, line_of(s), "%s", msg);
}

static const char *setting_label(const config_setting_t *s)
{
	const char *n = config_setting_name(s);
	return n ? n : "item";
}

/* Where a group is, in words: "'ssh'", "an entry of 'hosts'", "the top level". */
static void group_where(const config_setting_t *grp, char *buf, size_t size)
{
	const char *n = config_setting_name(grp);
	const config_setting_t *parent = config_setting_parent(grp);
	const char *pn = parent ? config_setting_name(parent) : NULL;
	if (n)
		snprintf(buf, size, "'%s'", n);
	else if (pn)
		snprintf(buf, size, "entry %d of '%s'", config_setting_index(grp) + 1, pn);
	else if (parent)
		snprintf(buf, size, "an entry of a list");
	else
		snprintf(buf, size, "the top level of the file");
}

/* Only the listed keys may appear in a group: a typo is an error, not silently ignored. */
static cw_status check_keys(struct ld *l, const config_setting_t *grp, const char *const *allowed)
{
	int n = config_setting_length(grp);
	for (int i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(m);
		bool ok = false;
		for (size_t k = 0; allowed[k]; k++)
			if (strcmp(allowed[k], name) == 0)
				ok = true;
		if (!ok) {
			struct strbuf sb;
			strbuf_init(&sb);
			for (size_t k = 0; allowed[k]; k++)
				strbuf_addf(&sb, "%s%s", k ? ", " : "", allowed[k]);
			char where[160];
			group_where(grp, where, sizeof where);
			cw_status st = bad(l, m, "unknown setting '%s' in %s: expected one of %s, found '%s' "
					   "(a misspelt setting would be ignored, so it is an error: correct or "
					   "remove it)",
					   name, where, sb.buf, name);
			strbuf_done(&sb);
			return st;
		}
	}
	return CW_OK;
}

static cw_status get_str(struct ld *l, const config_setting_t *grp, const char *key, bool required,
			 char **out)
{
	config_setting_t *s = config_setting_get_member(grp, key);
	if (!s) {
		if (required)
			return bad(l, grp, "'%s' needs the setting '%s' (a string), found nothing",
				   setting_label(grp), key);
		return CW_OK;
	}
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return bad(l, s, "'%s' must be a string in double quotes, found %s", key,
			   type_name(config_setting_type(s)));
	free(*out);
	*out = xstrdup(config_setting_get_string(s));
	return CW_OK;
}

static cw_status get_int(struct ld *l, const config_setting_t *grp, const char *key, int min, int max,
			 int *out)
{
	config_setting_t *s = config_setting_get_member(grp, key);
	if (!s)
		return CW_OK;
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return bad(l, s, "'%s' must be a whole number, found %s", key, type_name(t));
	long long v = config_setting_get_int64(s);
	if (v < min || v > max)
		return bad(l, s, "'%s' must be between %d and %d, found %lld", key, min, max, v);
	*out = (int)v;
	return CW_OK;
}

static cw_status get_bool(struct ld *l, const config_setting_t *grp, const char *key, bool *out,
			  bool *was_set)
{
	config_setting_t *s = config_setting_get_member(grp, key);
	if (!s)
		return CW_OK;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return bad(l, s, "'%s' must be true or false (no quotes), found %s", key,
			   type_name(config_setting_type(s)));
	*out = config_setting_get_bool(s);
	if (was_set)
		*was_set = true;
	return CW_OK;
}

/* A string, or an array/list of strings; a single string "a,b" is split on commas when
 * split is true. */
static cw_status get_strv(struct ld *l, const config_setting_t *grp, const char *key, bool split,
			  char ***out, bool *was_set)
{
	config_setting_t *s = config_setting_get_member(grp, key);
	if (!s)
		return CW_OK;
	char **v = NULL;
	int t = config_setting_type(s);
	if (t == CONFIG_TYPE_STRING) {
		if (split)
			v = strv_split(config_setting_get_string(s), ',');
		else
			strv_push(&v, config_setting_get_string(s));
	} else if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST) {
		int n = config_setting_length(s);
		for (int i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				strv_free(v);
				return bad(l, e, "every item of '%s' must be a string, found %s", key,
					   type_name(config_setting_type(e)));
			}
			strv_push(&v, config_setting_get_string(e));
		}
	} else {
		return bad(l, s, "'%s' must be a string or a list of strings [\"a\", \"b\"], found %s", key,
			   type_name(t));
	}
	strv_free(*out);
	*out = v;
	if (was_set)
		*was_set = true;
	return CW_OK;
}

static cw_status get_group(struct ld *l, const config_setting_t *parent, const char *key,
			   bool required, config_setting_t **out)
{
	config_setting_t *s = parent ? config_setting_get_member(parent, key) : NULL;
	*out = NULL;
	if (!s) {
		if (required)
			return bad(l, parent, "missing '%s = { ... };'", key);
		return CW_OK;
	}
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return bad(l, s, "'%s' must be a group { ... }, found %s", key, type_name(config_setting_type(s)));
	*out = s;
	return CW_OK;
}

static cw_status get_list(struct ld *l, const config_setting_t *parent, const char *key,
			  bool required, config_setting_t **out)
{
	config_setting_t *s = config_setting_get_member(parent, key);
	*out = NULL;
	if (!s) {
		if (required)
			return bad(l, parent, "missing '%s = ( ... );'", key);
		return CW_OK;
	}
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_LIST && !(t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0))
		return bad(l, s, "'%s' must be a list ( {...}, {...} ), found %s", key, type_name(t));
	*out = s;
	return CW_OK;
}

/* Read a file into a libconfig object, with the syntax error in our form. */
static cw_status read_cfg(config_t *cfg, const char *path, struct cw_error *err)
{
	if (access(path, R_OK) != 0)
		return cw_error_set(err, CW_ENOTFOUND, "cannot read %s: %s", path, strerror(errno));
	config_init(cfg);
	if (config_read_file(cfg, path) != CONFIG_TRUE) {
		/* libconfig's own text is mostly just "syntax error": say what is expected. */
		const char *what = config_error_text(cfg);
		bool plain = !what || strcmp(what, "syntax error") == 0;
		cw_status st = cw_error_set_at(err, CW_ECONFIG, path, config_error_line(cfg),
					       "syntax error%s%s%s in this line or at the end of the one "
					       "before: expected settings written as name = value; (strings in "
					       "double quotes, groups in { }, lists in ( ), arrays in [ ], each "
					       "setting ended by ';')",
					       plain ? "" : " (", plain ? "" : what, plain ? "" : ")");
		config_destroy(cfg);
		return st;
	}
	return CW_OK;
}

/* ---------- vars, backends ---------- */

static cw_status load_vars(struct ld *l, const config_setting_t *grp, struct vars *v)
{
	int n = config_setting_length(grp);
	for (int i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(m);
		int t = config_setting_type(m);
		if (t == CONFIG_TYPE_STRING) {
			vars_set(v, name, config_setting_get_string(m));
		} else if (t == CONFIG_TYPE_BOOL) {
			vars_set(v, name, config_setting_get_bool(m) ? "true" : "false");
		} else if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
			char buf[32];
			snprintf(buf, sizeof buf, "%lld", config_setting_get_int64(m));
			vars_set(v, name, buf);
		} else if (t == CONFIG_TYPE_ARRAY) {
			char **items = NULL;
			cw_status st = get_strv(l, grp, name, false, &items, NULL);
			if (st)
				return st;
			char *joined = strv_join(items, ",");
			vars_set(v, name, joined);
			free(joined);
			strv_free(items);
		} else {
			return bad(l, m, "variable '%s' must be a string, number, true/false or an array of "
				   "strings, found %s", name, type_name(t));
		}
	}
	return CW_OK;
}

/* in_profile: a profile's services also hold the list of services and their groups; a site's
 * only say how to control them. */
static cw_status load_backend(struct ld *l, const config_setting_t *grp, bool in_profile,
			      struct service_backend *b)
{
	static const char *const keys[] = {"backend", "start", "stop", "status", "list", "groups", NULL};
	static const char *const site_keys[] = {"backend", "start", "stop", "status", NULL};
	char *kind = NULL;
	cw_status st = get_str(l, grp, "backend", true, &kind);
	if (st)
		return st;
	for (const char *const *k = keys + 4; !in_profile && *k; k++) {
		const config_setting_t *m = config_setting_get_member(grp, *k);
		if (m) {
			free(kind);
			return bad(l, m, "services: '%s' belongs to a profile (config/profiles/NAME.cfg), "
				   "not to this file: here services only says how to control them (backend, "
				   "start, stop, status); remove '%s' or write a profile of your own", *k, *k);
		}
	}
	if ((st = check_keys(l, grp, in_profile ? keys : site_keys))) {
		free(kind);
		return st;
	}
	st = service_backend_parse(kind, &b->kind, l->err);
	free(kind);
	if (st) {
		cw_error_set_at(l->err, CW_ECONFIG, l->file, line_of(config_setting_get_member(grp, "backend")),
				"%s", l->err->msg);
		return CW_ECONFIG;
	}
	if ((st = get_strv(l, grp, "start", false, &b->start, NULL)) ||
	    (st = get_strv(l, grp, "stop", false, &b->stop, NULL)) ||
	    (st = get_strv(l, grp, "status", false, &b->status, NULL)))
		return st;
	if (b->kind == BACKEND_COMMAND && (!b->start || !b->stop || !b->status))
		return bad(l, grp, "the command backend needs start, stop and status, each an argv such as "
			   "[\"/usr/local/bin/ctl\", \"${service}\", \"start\"]");
	return CW_OK;
}

/* ---------- site / answers ---------- */

void site_init(struct site *s)
{
	memset(s, 0, sizeof *s);
	s->ssh_sudo = 0;
	s->parallel = 10;
	s->command_timeout = 900;
	vars_init(&s->vars);
	vars_init(&s->vars_where);
}

void host_cfg_done(struct host_cfg *h)
{
	free(h->name);
	free(h->address);
	free(h->user);
	free(h->identity);
	free(h->os);
	free(h->tmpdir);
	free(h->known_hosts);
	strv_free(h->dns_alt_names);
}

static void backend_done(struct service_backend *b)
{
	strv_free(b->start);
	strv_free(b->stop);
	strv_free(b->status);
	free(b->puppet);
}

void site_done(struct site *s)
{
	free(s->file);
	free(s->operator_name);
	free(s->procedure);
	free(s->profile);
	free(s->certname);
	strv_free(s->dns_alt_names);
	free(s->backup_dir);
	free(s->journal_dir);
	free(s->report_dir);
	free(s->root);
	free(s->on_failure);
	free(s->ssh_user);
	free(s->ssh_identity);
	free(s->ssh_known_hosts);
	free(s->ssh_config);
	sshcfg_done(&s->sshcfg);
	for (size_t i = 0; i < s->nhosts; i++)
		host_cfg_done(&s->hosts[i]);
	free(s->hosts);
	strv_free(s->agents);
	free(s->agents_file);
	free(s->puppetdb_host);
	free(s->console_host);
	backend_done(&s->backend);
	vars_done(&s->vars);
	vars_done(&s->vars_where);
	strv_free(s->skip);
	free(s->skip_reason);
	strv_free(s->manual_done);
	free(s->skip_file);
	free(s->manual_done_file);
	memset(s, 0, sizeof *s);
}

const struct host_cfg *site_host(const struct site *s, const char *name)
{
	for (size_t i = 0; i < s->nhosts; i++)
		if (strcmp(s->hosts[i].name, name) == 0)
			return &s->hosts[i];
	return NULL;
}

cw_status site_load_ssh_config(struct site *s, const char *home, struct cw_error *err)
{
	sshcfg_done(&s->sshcfg);
	if (s->ssh_config && !*s->ssh_config)
		return CW_OK;
	if (!s->ssh_config && !home)
		return CW_OK;
	char *path = s->ssh_config ? xstrdup(s->ssh_config) : xasprintf("%s/.ssh/config", home);
	cw_status st = sshcfg_load(path, &s->sshcfg, err);
	free(path);
	return st;
}

cw_status site_host_settings(const struct site *s, const char *name, const char *home, struct host_cfg *out,
			     struct cw_error *err)
{
	const struct host_cfg *hc = site_host(s, name);
	struct sshcfg_host sc = {0};
	memset(out, 0, sizeof *out);
	cw_status st = sshcfg_lookup(&s->sshcfg, name, home, &sc, err);
	if (st)
		return st;
#define FIRST(a, b, c, d) ((a) ? (a) : (b) ? (b) : (c) ? (c) : (d))
	out->name = xstrdup(name);
	out->address = xstrdup(FIRST(hc ? hc->address : NULL, (char *)NULL, sc.hostname, name));
	out->user = xstrdup(FIRST(hc ? hc->user : NULL, s->ssh_user, sc.user, "root"));
	out->identity = xstrdup(FIRST(hc ? hc->identity : NULL, s->ssh_identity, sc.identity, (char *)NULL));
	out->known_hosts = xstrdup(FIRST((char *)NULL, s->ssh_known_hosts, sc.known_hosts, (char *)NULL));
	out->port = FIRST(hc ? hc->port : 0, s->ssh_port, sc.port, 22);
	out->connect_timeout = FIRST(0, s->ssh_connect_timeout, sc.connect_timeout, 0);
#undef FIRST
	out->sudo = hc && hc->sudo >= 0 ? hc->sudo : s->ssh_sudo != 0;
	out->os = xstrdup(hc && hc->os ? hc->os : "linux");
	out->tmpdir = xstrdup(hc ? hc->tmpdir : NULL);
	out->dns_alt_names = strv_copy(hc ? hc->dns_alt_names : NULL);
	sshcfg_host_done(&sc);
	return CW_OK;
}

static cw_status load_host(struct ld *l, const config_setting_t *h, struct host_cfg *out)
{
	static const char *const keys[] = {"name", "address", "port", "user", "identity", "sudo", "os",
					   "tmpdir", "dns_alt_names", NULL};
	cw_status st;
	memset(out, 0, sizeof *out);
	out->sudo = -1;
	if (config_setting_type(h) != CONFIG_TYPE_GROUP)
		return bad(l, h, "each host must be a group { name = \"...\"; ... }, found %s",
			   type_name(config_setting_type(h)));
	bool sudo = false, sudo_set = false;
	if ((st = check_keys(l, h, keys)) || (st = get_str(l, h, "name", true, &out->name)) ||
	    (st = get_str(l, h, "address", false, &out->address)) ||
	    (st = get_int(l, h, "port", 1, 65535, &out->port)) ||
	    (st = get_str(l, h, "user", false, &out->user)) ||
	    (st = get_str(l, h, "identity", false, &out->identity)) ||
	    (st = get_bool(l, h, "sudo", &sudo, &sudo_set)) ||
	    (st = get_str(l, h, "os", false, &out->os)) ||
	    (st = get_str(l, h, "tmpdir", false, &out->tmpdir)) ||
	    (st = get_strv(l, h, "dns_alt_names", true, &out->dns_alt_names, NULL)))
		return st;
	if (sudo_set)
		out->sudo = sudo;
	struct cw_error e;
	if (validate_host(out->name, &e) != CW_OK)
		return bad(l, config_setting_get_member(h, "name"), "%s", e.msg);
	if (out->address && validate_host(out->address, &e) != CW_OK)
		return bad(l, config_setting_get_member(h, "address"), "%s", e.msg);
	if (out->user && validate_user(out->user, &e) != CW_OK)
		return bad(l, config_setting_get_member(h, "user"), "%s", e.msg);
	if (out->os && strcmp(out->os, "linux") != 0 && strcmp(out->os, "windows") != 0)
		return bad(l, config_setting_get_member(h, "os"), "os must be \"linux\" or \"windows\", found \"%s\"",
			   out->os);
	for (size_t i = 0; out->dns_alt_names && out->dns_alt_names[i]; i++)
		if (validate_alt_name(out->dns_alt_names[i], &e) != CW_OK)
			return bad(l, config_setting_get_member(h, "dns_alt_names"), "%s", e.msg);
	return CW_OK;
}

cw_status site_load(struct site *s, const char *path, struct cw_error *err)
{
	static const char *const keys[] = {
		"operator", "procedure", "profile", "certname", "dns_alt_names", "backup_dir",
		"journal_dir", "report_dir", "root", "autosign", "puppetdb", "on_failure", "ssh", "hosts",
		"agents", "agents_file", "puppetdb_host", "console_host", "services", "vars",
		"confirm_destructive", "skip", "skip_reason", "manual_done", NULL};
	static const char *const ssh_keys[] = {"user", "port", "identity", "known_hosts", "sudo",
					       "connect_timeout", "parallel", "command_timeout", "config", NULL};
	config_t cfg;
	struct ld l = {path, err};
	cw_status st = read_cfg(&cfg, path, err);
	if (st)
		return st;
	config_setting_t *root = config_root_setting(&cfg), *g;
	free(s->file);
	s->file = xstrdup(path);
	bool sudo = false, sudo_set = false;
	if ((st = check_keys(&l, root, keys)) || (st = get_str(&l, root, "operator", false, &s->operator_name)) ||
	    (st = get_str(&l, root, "procedure", false, &s->procedure)) ||
	    (st = get_str(&l, root, "profile", false, &s->profile)) ||
	    (st = get_str(&l, root, "certname", false, &s->certname)) ||
	    (st = get_strv(&l, root, "dns_alt_names", true, &s->dns_alt_names, &s->alt_names_set)) ||
	    (st = get_str(&l, root, "backup_dir", false, &s->backup_dir)) ||
	    (st = get_str(&l, root, "journal_dir", false, &s->journal_dir)) ||
	    (st = get_str(&l, root, "report_dir", false, &s->report_dir)) ||
	    (st = get_str(&l, root, "root", false, &s->root)) ||
	    (st = get_bool(&l, root, "autosign", &s->autosign, NULL)) ||
	    (st = get_bool(&l, root, "puppetdb", &s->puppetdb, NULL)) ||
	    (st = get_str(&l, root, "on_failure", false, &s->on_failure)) ||
	    (st = get_strv(&l, root, "agents", true, &s->agents, NULL)) ||
	    (st = get_str(&l, root, "agents_file", false, &s->agents_file)) ||
	    (st = get_str(&l, root, "puppetdb_host", false, &s->puppetdb_host)) ||
	    (st = get_str(&l, root, "console_host", false, &s->console_host)) ||
	    (st = get_bool(&l, root, "confirm_destructive", &s->confirm_destructive, NULL)) ||
	    (st = get_strv(&l, root, "skip", true, &s->skip, NULL)) ||
	    (st = get_str(&l, root, "skip_reason", false, &s->skip_reason)) ||
	    (st = get_strv(&l, root, "manual_done", true, &s->manual_done, NULL)))
		goto out;
	/* Remember where the step ids were given: a typo there is an error once the procedure is
	 * known (wizard_build_plan). */
	if ((g = config_setting_get_member(root, "skip"))) {
		free(s->skip_file);
		s->skip_file = xstrdup(path);
		s->skip_line = line_of(g);
	}
	if ((g = config_setting_get_member(root, "manual_done"))) {
		free(s->manual_done_file);
		s->manual_done_file = xstrdup(path);
		s->manual_done_line = line_of(g);
	}
	if (s->on_failure && strcmp(s->on_failure, "stop") != 0 && strcmp(s->on_failure, "rollback") != 0) {
		st = bad(&l, config_setting_get_member(root, "on_failure"),
			 "on_failure must be \"stop\" or \"rollback\", found \"%s\"", s->on_failure);
		goto out;
	}
	if ((st = get_group(&l, root, "ssh", false, &g)))
		goto out;
	if (g && ((st = check_keys(&l, g, ssh_keys)) || (st = get_str(&l, g, "user", false, &s->ssh_user)) ||
		  (st = get_int(&l, g, "port", 1, 65535, &s->ssh_port)) ||
		  (st = get_str(&l, g, "identity", false, &s->ssh_identity)) ||
		  (st = get_str(&l, g, "known_hosts", false, &s->ssh_known_hosts)) ||
		  (st = get_str(&l, g, "config", false, &s->ssh_config)) ||
		  (st = get_bool(&l, g, "sudo", &sudo, &sudo_set)) ||
		  (st = get_int(&l, g, "connect_timeout", 1, 600, &s->ssh_connect_timeout)) ||
		  (st = get_int(&l, g, "parallel", 1, 256, &s->parallel)) ||
		  (st = get_int(&l, g, "command_timeout", 1, 86400, &s->command_timeout))))
		goto out;
	if (sudo_set)
		s->ssh_sudo = sudo;
	if ((st = get_list(&l, root, "hosts", false, &g)))
		goto out;
	for (int i = 0; g && i < config_setting_length(g); i++) {
		struct host_cfg h;
		if ((st = load_host(&l, config_setting_get_elem(g, (unsigned)i), &h))) {
			host_cfg_done(&h);
			goto out;
		}
		s->hosts = xrealloc(s->hosts, (s->nhosts + 1) * sizeof *s->hosts);
		s->hosts[s->nhosts++] = h;
	}
	if ((st = get_group(&l, root, "services", false, &g)))
		goto out;
	if (g) {
		backend_done(&s->backend);
		memset(&s->backend, 0, sizeof s->backend);
		if ((st = load_backend(&l, g, false, &s->backend)))
			goto out;
		s->has_backend = true;
	}
	if ((st = get_group(&l, root, "vars", false, &g)))
		goto out;
	if (g && (st = load_vars(&l, g, &s->vars)))
		goto out;
	for (int i = 0; g && i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		char *where = xasprintf("%s:%d", path, line_of(m));
		vars_set(&s->vars_where, config_setting_name(m), where);
		free(where);
	}
	/* Validate names now, so an answers file with a bad name fails before anything runs. */
	struct cw_error e;
	if (s->certname && validate_certname(s->certname, &e) != CW_OK) {
		st = bad(&l, config_setting_get_member(root, "certname"), "%s", e.msg);
		goto out;
	}
	for (size_t i = 0; s->dns_alt_names && s->dns_alt_names[i]; i++)
		if (validate_alt_name(s->dns_alt_names[i], &e) != CW_OK) {
			st = bad(&l, config_setting_get_member(root, "dns_alt_names"), "%s", e.msg);
			goto out;
		}
	for (size_t i = 0; s->agents && s->agents[i]; i++)
		if (validate_certname(s->agents[i], &e) != CW_OK) {
			st = bad(&l, config_setting_get_member(root, "agents"), "agent %s", e.msg);
			goto out;
		}
	static const char *const path_keys[] = {"backup_dir", "journal_dir", "report_dir", "root", NULL};
	const char *paths[] = {s->backup_dir, s->journal_dir, s->report_dir, s->root};
	for (size_t i = 0; path_keys[i]; i++)
		if (paths[i] && validate_path(paths[i], 1, &e) != CW_OK) {
			st = bad(&l, config_setting_get_member(root, path_keys[i]), "%s: %s", path_keys[i], e.msg);
			goto out;
		}
	st = CW_OK;
out:
	config_destroy(&cfg);
	return st;
}

cw_status agents_file_read(const char *path, char ***agents, struct cw_error *err)
{
	char *text;
	cw_status st = file_read(path, 16 << 20, &text, NULL, err);
	if (st)
		return st;
	int lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char **words = strv_split(line, ' ');
		if (!words)
			continue;
		struct cw_error e;
		if (strv_len(words) > 1 || validate_certname(words[0], &e) != CW_OK) {
			st = cw_error_set_at(err, CW_EINVAL, path, lineno,
					     "expected one agent certname per line, found '%s'%s%s", line,
					     strv_len(words) > 1 ? "" : ": ", strv_len(words) > 1 ? "" : e.msg);
			strv_free(words);
			free(text);
			return st;
		}
		if (!strv_contains(*agents, words[0]))
			strv_push(agents, words[0]);
		strv_free(words);
	}
	free(text);
	return CW_OK;
}

/* ---------- profiles ---------- */

const char *dialect_str(enum dialect d)
{
	return d == DIALECT_LEGACY ? "legacy" : "modern";
}

const struct service_backend *site_backend(const struct site *s, const struct profile *p)
{
	return s && s->has_backend ? &s->backend : &p->backend;
}

const char *profile_tool(const struct profile *p, const char *name)
{
	for (size_t i = 0; p && p->tools && p->tools[i]; i++)
		if (strcmp(strrchr(p->tools[i], '/') + 1, name) == 0)
			return p->tools[i];
	return name;
}

const struct service_def *profile_service(const struct profile *p, const char *name)
{
	for (size_t i = 0; i < p->nservices; i++)
		if (strcmp(p->services[i].name, name) == 0)
			return &p->services[i];
	return NULL;
}

const struct service_group *profile_group(const struct profile *p, const char *name)
{
	for (size_t i = 0; i < p->ngroups; i++)
		if (strcmp(p->groups[i].name, name) == 0)
			return &p->groups[i];
	return NULL;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->name);
	free(p->title);
	free(p->flavour);
	strv_free(p->detect_paths);
	strv_free(p->detect_absent);
	strv_free(p->tools);
	free(p->version_file);
	vars_done(&p->vars);
	backend_done(&p->backend);
	for (size_t i = 0; i < p->nservices; i++) {
		free(p->services[i].name);
		free(p->services[i].pidfile);
	}
	free(p->services);
	for (size_t i = 0; i < p->ngroups; i++) {
		free(p->groups[i].name);
		strv_free(p->groups[i].stop);
		strv_free(p->groups[i].start);
	}
	free(p->groups);
	free(p);
}

static cw_status load_services(struct ld *l, config_setting_t *svc, struct profile *p)
{
	static const char *const skeys[] = {"name", "pidfile", "port", "tls", NULL};
	static const char *const gkeys[] = {"name", "stop", "start", NULL};
	config_setting_t *list;
	cw_status st;
	if ((st = load_backend(l, svc, true, &p->backend)) || (st = get_list(l, svc, "list", true, &list)))
		return st;
	for (int i = 0; i < config_setting_length(list); i++) {
		config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		struct service_def d = {0};
		p->services = xrealloc(p->services, (p->nservices + 1) * sizeof *p->services);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return bad(l, e, "each service must be a group { name = \"...\"; }, found %s",
				   type_name(config_setting_type(e)));
		st = check_keys(l, e, skeys);
		if (!st)
			st = get_str(l, e, "name", true, &d.name);
		if (!st)
			st = get_str(l, e, "pidfile", false, &d.pidfile);
		if (!st)
			st = get_int(l, e, "port", 1, 65535, &d.port);
		if (!st)
			st = get_bool(l, e, "tls", &d.tls, NULL);
		p->services[p->nservices++] = d;
		if (st)
			return st;
	}
	if ((st = get_list(l, svc, "groups", true, &list)))
		return st;
	for (int i = 0; i < config_setting_length(list); i++) {
		config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		struct service_group g = {0};
		p->groups = xrealloc(p->groups, (p->ngroups + 1) * sizeof *p->groups);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return bad(l, e, "each service group must be a group { name = \"...\"; stop = [...]; "
				   "start = [...]; }, found %s", type_name(config_setting_type(e)));
		st = check_keys(l, e, gkeys);
		if (!st)
			st = get_str(l, e, "name", true, &g.name);
		if (!st)
			st = get_strv(l, e, "stop", false, &g.stop, NULL);
		if (!st)
			st = get_strv(l, e, "start", false, &g.start, NULL);
		p->groups[p->ngroups++] = g;
		if (st)
			return st;
		char **both[] = {g.stop, g.start};
		for (int k = 0; k < 2; k++)
			for (size_t j = 0; both[k] && both[k][j]; j++)
				if (!profile_service(p, both[k][j]))
					return bad(l, e, "service group '%s' names '%s', which is not in the "
						   "service list", g.name, both[k][j]);
	}
	return CW_OK;
}

cw_status profile_load(const char *path, struct profile **out, struct cw_error *err)
{
	static const char *const keys[] = {"name", "title", "flavour", "dialect", "detect", "vars",
					   "services", "tools", NULL};
	static const char *const dkeys[] = {"paths", "absent", "version_file", "min_major", "max_major", NULL};
	static const char *const required_vars[] = {"confdir", "ssldir", "cadir", "client_datadir", NULL};
	config_t cfg;
	struct ld l = {path, err};
	cw_status st = read_cfg(&cfg, path, err);
	if (st)
		return st;
	struct profile *p = xcalloc(1, sizeof *p);
	vars_init(&p->vars);
	p->file = xstrdup(path);
	config_setting_t *root, *g;
	char *dialect = NULL;
	if ((st = get_group(&l, config_root_setting(&cfg), "profile", true, &root)))
		goto out;
	if ((st = check_keys(&l, root, keys)) || (st = get_str(&l, root, "name", true, &p->name)) ||
	    (st = get_str(&l, root, "title", true, &p->title)) ||
	    (st = get_str(&l, root, "flavour", true, &p->flavour)) ||
	    (st = get_str(&l, root, "dialect", true, &dialect)))
		goto out;
	if (strcmp(dialect, "modern") == 0) {
		p->dialect = DIALECT_MODERN;
	} else if (strcmp(dialect, "legacy") == 0) {
		p->dialect = DIALECT_LEGACY;
	} else {
		st = bad(&l, config_setting_get_member(root, "dialect"),
			 "dialect must be \"modern\" (puppetserver ca, Puppet 6+) or \"legacy\" (puppet cert, "
			 "Puppet 5 and older), found \"%s\"", dialect);
		goto out;
	}
	if (strcmp(p->flavour, "oss") != 0 && strcmp(p->flavour, "pe") != 0) {
		st = bad(&l, config_setting_get_member(root, "flavour"),
			 "flavour must be \"oss\" or \"pe\", found \"%s\"", p->flavour);
		goto out;
	}
	if ((st = get_group(&l, root, "detect", false, &g)))
		goto out;
	if (g && ((st = check_keys(&l, g, dkeys)) || (st = get_strv(&l, g, "paths", false, &p->detect_paths, NULL)) ||
		  (st = get_strv(&l, g, "absent", false, &p->detect_absent, NULL)) ||
		  (st = get_str(&l, g, "version_file", false, &p->version_file)) ||
		  (st = get_int(&l, g, "min_major", 0, 99, &p->min_major)) ||
		  (st = get_int(&l, g, "max_major", 0, 99, &p->max_major))))
		goto out;
	if ((st = get_group(&l, root, "vars", true, &g)) || (st = load_vars(&l, g, &p->vars)))
		goto out;
	for (size_t i = 0; required_vars[i]; i++)
		if (!vars_get(&p->vars, required_vars[i])) {
			st = bad(&l, g, "profile vars need '%s' (a path), found nothing", required_vars[i]);
			goto out;
		}
	if ((st = get_group(&l, root, "services", true, &g)) || (st = load_services(&l, g, p)))
		goto out;
	if ((st = get_strv(&l, root, "tools", false, &p->tools, NULL)))
		goto out;
	for (size_t i = 0; p->tools && p->tools[i]; i++) {
		const char *slash = strrchr(p->tools[i], '/');
		if (p->tools[i][0] != '/' || !slash[1]) {
			st = bad(&l, config_setting_get_member(root, "tools"),
				 "tools lists the absolute paths of Puppet's commands (\"/opt/puppetlabs/bin/puppet\"), "
				 "found \"%s\"", p->tools[i]);
			goto out;
		}
	}
	if (strcmp(profile_tool(p, "puppet"), "puppet") != 0)
		p->backend.puppet = xstrdup(profile_tool(p, "puppet"));
	st = CW_OK;
out:
	free(dialect);
	config_destroy(&cfg);
	if (st) {
		profile_free(p);
		return st;
	}
	*out = p;
	return CW_OK;
}

/* ---------- procedures ---------- */

const char *step_kind_str(enum step_kind k)
{
	static const char *const names[] = {"run", "service", "manual", "backup", "action"};
	return names[k];
}

const char *check_kind_str(enum check_kind k)
{
	static const char *const names[] = {"absent", "present", "empty", "cert", "csr", "same", "tls",
					    "command", "signed"};
	return names[k];
}

static void argv_tmpl_done(struct argv_tmpl *a)
{
	for (size_t i = 0; i < a->n; i++)
		strv_free(a->items[i].words);
	free(a->items);
	a->items = NULL;
	a->n = 0;
}

static void check_done(struct check_tmpl *c)
{
	free(c->path);
	free(c->on);
	free(c->ca);
	free(c->crl);
	free(c->cn);
	free(c->san);
	free(c->key);
	free(c->other);
	free(c->other_on);
	free(c->address);
	free(c->port);
	argv_tmpl_done(&c->argv);
}

static void step_done(struct step_tmpl *s)
{
	free(s->id);
	free(s->title);
	free(s->explain);
	free(s->undo);
	free(s->role);
	free(s->each);
	strv_free(s->when);
	argv_tmpl_done(&s->run[0]);
	argv_tmpl_done(&s->action);
	argv_tmpl_done(&s->run[1]);
	argv_tmpl_done(&s->batch_run[0]);
	argv_tmpl_done(&s->batch_run[1]);
	free(s->manual);
	free(s->manual_windows);
	free(s->service_action);
	free(s->service_group);
	free(s->until);
	free(s->ok_exit[0]);
	free(s->ok_exit[1]);
	for (size_t i = 0; i < s->nrequire; i++)
		check_done(&s->require[i]);
	free(s->require);
	for (size_t i = 0; i < s->nverify; i++)
		check_done(&s->verify[i]);
	free(s->verify);
}

void procedure_free(struct procedure *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->name);
	free(p->title);
	free(p->summary);
	free(p->when_to_use);
	free(p->seed);
	strv_free(p->roles);
	vars_done(&p->vars);
	for (size_t i = 0; i < p->nbackups; i++) {
		free(p->backups[i].role);
		strv_free(p->backups[i].paths);
		strv_free(p->backups[i].when);
	}
	free(p->backups);
	for (size_t i = 0; i < p->nphases; i++) {
		struct phase_tmpl *ph = &p->phases[i];
		free(ph->id);
		free(ph->title);
		free(ph->explain);
		for (size_t j = 0; j < ph->nsteps; j++)
			step_done(&ph->steps[j]);
		free(ph->steps);
	}
	free(p->phases);
	free(p);
}

/* argv: a list whose items are strings or arrays of strings (optional groups). */
static cw_status load_argv(struct ld *l, config_setting_t *s, const char *what, struct argv_tmpl *a)
{
	int t = config_setting_type(s);
	if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
		return bad(l, s, "'%s' must be a command as a list of words (\"puppet\", \"ssl\", \"clean\"), "
			   "found %s", what, type_name(t));
	if (config_setting_length(s) == 0)
		return bad(l, s, "'%s' is an empty command", what);
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		struct argv_item it = {NULL, false};
		int et = config_setting_type(e);
		if (et == CONFIG_TYPE_STRING) {
			strv_push(&it.words, config_setting_get_string(e));
		} else if (et == CONFIG_TYPE_ARRAY) {
			it.optional = true;
			for (int k = 0; k < config_setting_length(e); k++) {
				config_setting_t *w = config_setting_get_elem(e, (unsigned)k);
				if (config_setting_type(w) != CONFIG_TYPE_STRING) {
					strv_free(it.words);
					return bad(l, w, "optional words in '%s' must be strings", what);
				}
				strv_push(&it.words, config_setting_get_string(w));
			}
		} else {
			return bad(l, e, "word %d of '%s' must be a string or an optional group [\"--flag\", "
				   "\"${var}\"], found %s", i + 1, what, type_name(et));
		}
		if (i == 0 && it.optional) {
			strv_free(it.words);
			return bad(l, e, "the first word of '%s' (the program) cannot be optional", what);
		}
		a->items = xrealloc(a->items, (a->n + 1) * sizeof *a->items);
		a->items[a->n++] = it;
	}
	return CW_OK;
}

/* run = ("a", "b") for both dialects (where both_allowed), or { modern = (...); legacy = (...); }. */
static cw_status load_dialect_argv(struct ld *l, config_setting_t *set, const char *what, bool both_allowed,
				   struct argv_tmpl out[2], bool has[2])
{
	static const char *const dkeys[] = {"modern", "legacy", NULL};
	cw_status st;
	if (config_setting_type(set) != CONFIG_TYPE_GROUP) {
		if (!both_allowed)
			return bad(l, set, "%s must be { modern = (...); } or { legacy = (...); }", what);
		for (int d = 0; d < 2; d++) {
			if ((st = load_argv(l, set, what, &out[d])))
				return st;
			has[d] = true;
		}
		return CW_OK;
	}
	if ((st = check_keys(l, set, dkeys)))
		return st;
	for (int d = 0; d < 2; d++) {
		config_setting_t *m = config_setting_get_member(set, dkeys[d]);
		if (m) {
			if ((st = load_argv(l, m, dkeys[d], &out[d])))
				return st;
			has[d] = true;
		}
	}
	return CW_OK;
}

static cw_status load_check(struct ld *l, config_setting_t *e, struct check_tmpl *c)
{
	static const char *const keys[] = {"absent", "present", "empty", "cert", "csr", "same", "tls",
					   "command", "on", "ca", "crl", "crl_days", "cn", "san", "key", "as", "as_on",
					   "changed", "unchanged", "same_key", "is_ca", "address", "port", "signed", NULL};
	static const struct {
		const char *key;
		enum check_kind kind;
	} kinds[] = {{"absent", CHECK_ABSENT}, {"present", CHECK_PRESENT}, {"empty", CHECK_EMPTY},
		     {"cert", CHECK_CERT},     {"csr", CHECK_CSR},         {"same", CHECK_SAME},
		     {"tls", CHECK_TLS},       {"command", CHECK_COMMAND}, {"signed", CHECK_SIGNED}};
	cw_status st;
	memset(c, 0, sizeof *c);
	c->line = line_of(e);
	if (config_setting_type(e) != CONFIG_TYPE_GROUP)
		return bad(l, e, "each check must be a group such as { absent = \"${ssldir}\"; }, found %s",
			   type_name(config_setting_type(e)));
	if ((st = check_keys(l, e, keys)))
		return st;
	int found = 0;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		config_setting_t *m = config_setting_get_member(e, kinds[i].key);
		if (!m)
			continue;
		found++;
		c->kind = kinds[i].kind;
		if (c->kind == CHECK_COMMAND) {
			if ((st = load_argv(l, m, "command", &c->argv)))
				return st;
		} else if (c->kind == CHECK_TLS) {
			if ((st = get_str(l, e, "tls", true, &c->port)))
				return st;
		} else if ((st = get_str(l, e, kinds[i].key, true, &c->path))) {
			return st;
		}
	}
	if (found != 1)
		return bad(l, e, "a check needs exactly one of absent, present, empty, cert, csr, same, tls, "
			   "command, signed; found %d", found);
	if ((st = get_str(l, e, "on", false, &c->on)) || (st = get_str(l, e, "ca", false, &c->ca)) ||
	    (st = get_str(l, e, "crl", false, &c->crl)) || (st = get_str(l, e, "cn", false, &c->cn)) ||
	    (st = get_str(l, e, "san", false, &c->san)) || (st = get_str(l, e, "key", false, &c->key)) ||
	    (st = get_str(l, e, "as", false, &c->other)) || (st = get_str(l, e, "as_on", false, &c->other_on)) ||
	    (st = get_bool(l, e, "changed", &c->changed, NULL)) ||
	    (st = get_bool(l, e, "unchanged", &c->unchanged, NULL)) ||
	    (st = get_bool(l, e, "same_key", &c->same_key, NULL)) ||
	    (st = get_bool(l, e, "is_ca", &c->is_ca, NULL)) ||
	    (st = get_int(l, e, "crl_days", 1, 36500, &c->crl_days)) ||
	    (st = get_str(l, e, "address", false, &c->address)))
		return st;
	if (c->kind == CHECK_SAME && !c->other)
		return bad(l, e, "a 'same' check needs 'as' (the file it must equal)");
	if (c->kind == CHECK_SIGNED && !c->ca)
		return bad(l, e, "a 'signed' check needs 'ca' (the CA bundle its certificates must verify under)");
	if (c->changed && c->unchanged)
		return bad(l, e, "a check cannot want a certificate both changed and unchanged");
	if (c->kind == CHECK_TLS && !c->ca)
		return bad(l, e, "a 'tls' check needs 'ca' (the CA bundle the served certificate must chain to)");
	return CW_OK;
}

static cw_status load_checks(struct ld *l, config_setting_t *st_grp, const char *key,
			     struct check_tmpl **out, size_t *n)
{
	config_setting_t *list;
	cw_status st = get_list(l, st_grp, key, false, &list);
	if (st || !list)
		return st;
	for (int i = 0; i < config_setting_length(list); i++) {
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		st = load_check(l, config_setting_get_elem(list, (unsigned)i), &(*out)[*n]);
		(*n)++;
		if (st)
			return st;
	}
	return CW_OK;
}

static cw_status load_step(struct ld *l, config_setting_t *e, const char *const *roles, struct step_tmpl *s)
{
	static const char *const keys[] = {"id", "title", "explain", "undo", "role", "each", "when",
					   "run", "batch_run", "manual", "manual_windows", "service", "backup", "action",
					   "destructive", "ok_exit", "timeout", "require", "verify",
					   "ca_signs_alt_names", "batch", "until", NULL};
	cw_status st;
	memset(s, 0, sizeof *s);
	s->line = line_of(e);
	if (config_setting_type(e) != CONFIG_TYPE_GROUP)
		return bad(l, e, "each step must be a group { id = \"...\"; ... }, found %s",
			   type_name(config_setting_type(e)));
	if ((st = check_keys(l, e, keys)) || (st = get_str(l, e, "id", true, &s->id)) ||
	    (st = get_str(l, e, "title", true, &s->title)) || (st = get_str(l, e, "explain", true, &s->explain)) ||
	    (st = get_str(l, e, "undo", false, &s->undo)) || (st = get_str(l, e, "role", true, &s->role)) ||
	    (st = get_str(l, e, "each", false, &s->each)) || (st = get_strv(l, e, "when", false, &s->when, NULL)) ||
	    (st = get_str(l, e, "manual", false, &s->manual)) ||
	    (st = get_str(l, e, "manual_windows", false, &s->manual_windows)) ||
	    (st = get_bool(l, e, "destructive", &s->destructive, NULL)) ||
	    (st = get_bool(l, e, "ca_signs_alt_names", &s->ca_signs_alt_names, NULL)) ||
	    (st = get_bool(l, e, "batch", &s->batch, NULL)) ||
	    (st = get_str(l, e, "until", false, &s->until)) ||
	    (st = get_int(l, e, "timeout", 1, 86400, &s->timeout_s)))
		return st;
	if (!strv_contains((char *const *)roles, s->role))
		return bad(l, config_setting_get_member(e, "role"),
			   "step '%s' has role '%s', which the procedure's roles do not list", s->id, s->role);
	if (strcmp(s->role, "agent") == 0 && !s->each)
		s->each = xstrdup("agent");
	if (s->each && strcmp(s->each, "agent") != 0)
		return bad(l, config_setting_get_member(e, "each"), "each must be \"agent\", found \"%s\"", s->each);
	if (s->batch && (!s->each || strcmp(s->role, "agent") == 0 || !config_setting_get_member(e, "run")))
		return bad(l, config_setting_get_member(e, "batch"),
			   "batch = true is for a command run off the agents for each agent (each = \"agent\", a role "
			   "other than agent, and run), found it on step '%s'", s->id);
	int kinds = 0;
	config_setting_t *run = config_setting_get_member(e, "run");
	if (run) {
		kinds++;
		s->kind = STEP_RUN;
		if ((st = load_dialect_argv(l, run, "run", true, s->run, s->has_run)))
			return st;
	}
	config_setting_t *brun = config_setting_get_member(e, "batch_run");
	if (brun) {
		if (!s->batch)
			return bad(l, brun, "batch_run is the command of a batch step (batch = true), found it on step '%s'",
				   s->id);
		if ((st = load_dialect_argv(l, brun, "batch_run", false, s->batch_run, s->has_batch_run)))
			return st;
	}
	config_setting_t *svc = config_setting_get_member(e, "service");
	if (svc) {
		static const char *const skeys[] = {"action", "group", NULL};
		kinds++;
		s->kind = STEP_SERVICE;
		if (config_setting_type(svc) != CONFIG_TYPE_GROUP)
			return bad(l, svc, "service must be { action = \"stop\"; group = \"agent\"; }");
		if ((st = check_keys(l, svc, skeys)) || (st = get_str(l, svc, "action", true, &s->service_action)) ||
		    (st = get_str(l, svc, "group", true, &s->service_group)))
			return st;
		if (strcmp(s->service_action, "stop") != 0 && strcmp(s->service_action, "start") != 0)
			return bad(l, svc, "service action must be \"stop\" or \"start\", found \"%s\"",
				   s->service_action);
	}
	config_setting_t *bk = config_setting_get_member(e, "backup");
	if (bk) {
		bool b = false;
		kinds++;
		s->kind = STEP_BACKUP;
		if ((st = get_bool(l, e, "backup", &b, NULL)))
			return st;
	}
	config_setting_t *act = config_setting_get_member(e, "action");
	if (act) {
		kinds++;
		s->kind = STEP_ACTION;
		if ((st = load_argv(l, act, "action", &s->action)))
			return st;
		const char *name = s->action.n && s->action.items[0].words ? s->action.items[0].words[0] : "";
		if ((strcmp(name, "crl-refresh") != 0 && strcmp(name, "ca-renew") != 0) || s->action.n != 3)
			return bad(l, act, "action must be (\"crl-refresh\", CADIR, DAYS) or (\"ca-renew\", CADIR, DAYS), "
				   "found '%s' with %zu words", name, s->action.n);
	}
	if (s->manual && !run && !svc && !bk && !act) {
		kinds++;
		s->kind = STEP_MANUAL;
	}
	if (kinds != 1)
		return bad(l, e, "step '%s' needs exactly one of run, service, backup, action or manual; found %d", s->id,
			   kinds);
	config_setting_t *ok = config_setting_get_member(e, "ok_exit");
	if (ok) {
		/* [0, 24] for both dialects, or { modern = [0]; legacy = [0, 1]; } */
		config_setting_t *lists[2] = {ok, ok};
		if (config_setting_type(ok) == CONFIG_TYPE_GROUP) {
			static const char *const okeys[] = {"modern", "legacy", NULL};
			if ((st = check_keys(l, ok, okeys)))
				return st;
			lists[0] = config_setting_get_member(ok, "modern");
			lists[1] = config_setting_get_member(ok, "legacy");
		}
		for (int d = 0; d < 2; d++) {
			config_setting_t *a = lists[d];
			if (!a)
				continue;
			if (config_setting_type(a) != CONFIG_TYPE_ARRAY)
				return bad(l, a, "ok_exit must be an array of exit codes [0, 24], or "
					   "{ modern = [...]; legacy = [...]; }");
			for (int i = 0; i < config_setting_length(a); i++) {
				config_setting_t *c = config_setting_get_elem(a, (unsigned)i);
				if (config_setting_type(c) != CONFIG_TYPE_INT)
					return bad(l, c, "ok_exit items must be numbers");
				s->ok_exit[d] = xrealloc(s->ok_exit[d], (s->nok[d] + 1) * sizeof *s->ok_exit[d]);
				s->ok_exit[d][s->nok[d]++] = config_setting_get_int(c);
			}
		}
	}
	if ((st = load_checks(l, e, "require", &s->require, &s->nrequire)) ||
	    (st = load_checks(l, e, "verify", &s->verify, &s->nverify)))
		return st;
	if (s->destructive && s->kind == STEP_RUN && s->nverify == 0)
		return bad(l, e, "destructive step '%s' needs a verify list: certwiz proves every destructive "
			   "step did what it says", s->id);
	return CW_OK;
}

/* A phase may be written in place, or taken from another procedure: use = "agent/regenerate". */
static cw_status load_phases(struct ld *l, config_setting_t *list, struct procedure *p,
			     const char *dir, int depth);

static cw_status include_phase(struct ld *l, config_setting_t *e, const char *ref, struct procedure *p,
			       const char *dir, int depth)
{
	const char *slash = strchr(ref, '/');
	if (!slash || depth > 2)
		return bad(l, e, "use must be \"PROCEDURE/PHASE\" (at most two levels), found \"%s\"", ref);
	char *pname = xstrndup(ref, (size_t)(slash - ref));
	char *path = xasprintf("%s/%s.cfg", dir, pname);
	free(pname);
	config_t cfg;
	cw_status st = read_cfg(&cfg, path, l->err);
	if (st) {
		cw_error_set_at(l->err, CW_ECONFIG, l->file, line_of(e), "use = \"%s\": %s", ref, l->err->msg);
		free(path);
		return CW_ECONFIG;
	}
	struct ld l2 = {path, l->err};
	config_setting_t *root, *phases;
	struct procedure tmp = {0};
	tmp.roles = p->roles;
	st = get_group(&l2, config_root_setting(&cfg), "procedure", true, &root);
	if (!st)
		st = get_list(&l2, root, "phases", true, &phases);
	if (!st)
		st = load_phases(&l2, phases, &tmp, dir, depth + 1);
	bool found = false;
	/* On an error, every phase loaded so far is freed (none is taken). */
	for (size_t i = 0; i < tmp.nphases; i++) {
		if (!st && !found && tmp.phases[i].id && strcmp(tmp.phases[i].id, slash + 1) == 0) {
			p->phases = xrealloc(p->phases, (p->nphases + 1) * sizeof *p->phases);
			p->phases[p->nphases++] = tmp.phases[i];
			found = true;
			continue;
		}
		struct phase_tmpl *ph = &tmp.phases[i];
		free(ph->id);
		free(ph->title);
		free(ph->explain);
		for (size_t j = 0; j < ph->nsteps; j++)
			step_done(&ph->steps[j]);
		free(ph->steps);
	}
	free(tmp.phases);
	config_destroy(&cfg);
	free(path);
	if (!st && !found)
		return bad(l, e, "use = \"%s\": that procedure has no phase '%s'", ref, slash + 1);
	return st;
}

static cw_status load_phases(struct ld *l, config_setting_t *list, struct procedure *p,
			     const char *dir, int depth)
{
	static const char *const keys[] = {"id", "title", "explain", "steps", "use", NULL};
	for (int i = 0; i < config_setting_length(list); i++) {
		config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		cw_status st;
		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			return bad(l, e, "each phase must be a group { id = \"...\"; steps = ( ... ); }");
		if ((st = check_keys(l, e, keys)))
			return st;
		config_setting_t *use = config_setting_get_member(e, "use");
		if (use) {
			if (config_setting_type(use) != CONFIG_TYPE_STRING)
				return bad(l, use, "use must be a string \"PROCEDURE/PHASE\"");
			if ((st = include_phase(l, e, config_setting_get_string(use), p, dir, depth)))
				return st;
			continue;
		}
		p->phases = xrealloc(p->phases, (p->nphases + 1) * sizeof *p->phases);
		struct phase_tmpl *ph = &p->phases[p->nphases++];
		memset(ph, 0, sizeof *ph);
		ph->line = line_of(e);
		config_setting_t *steps;
		if ((st = get_str(l, e, "id", true, &ph->id)) || (st = get_str(l, e, "title", true, &ph->title)) ||
		    (st = get_str(l, e, "explain", true, &ph->explain)) ||
		    (st = get_list(l, e, "steps", true, &steps)))
			return st;
		for (int k = 0; k < config_setting_length(steps); k++) {
			ph->steps = xrealloc(ph->steps, (ph->nsteps + 1) * sizeof *ph->steps);
			st = load_step(l, config_setting_get_elem(steps, (unsigned)k), (const char *const *)p->roles,
				       &ph->steps[ph->nsteps]);
			ph->nsteps++;
			if (st)
				return st;
		}
	}
	return CW_OK;
}

cw_status procedure_load(const char *path, struct procedure **out, struct cw_error *err)
{
	static const char *const keys[] = {"name", "title", "summary", "when_to_use", "seed", "roles",
					   "backup", "phases", "vars", NULL};
	static const char *const bkeys[] = {"role", "paths", "when", NULL};
	static const char *const known_roles[] = {"ca", "agent", "puppetdb", "console", NULL};
	config_t cfg;
	struct ld l = {path, err};
	cw_status st = read_cfg(&cfg, path, err);
	if (st)
		return st;
	struct procedure *p = xcalloc(1, sizeof *p);
	p->file = xstrdup(path);
	config_setting_t *root, *list;
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if ((st = get_group(&l, config_root_setting(&cfg), "procedure", true, &root)))
		goto out;
	if ((st = check_keys(&l, root, keys)) || (st = get_str(&l, root, "name", true, &p->name)) ||
	    (st = get_str(&l, root, "title", true, &p->title)) ||
	    (st = get_str(&l, root, "summary", true, &p->summary)) ||
	    (st = get_str(&l, root, "when_to_use", true, &p->when_to_use)) ||
	    (st = get_str(&l, root, "seed", true, &p->seed)) ||
	    (st = get_strv(&l, root, "roles", false, &p->roles, NULL)))
		goto out;
	for (size_t i = 0; p->roles && p->roles[i]; i++)
		if (!strv_contains((char *const *)known_roles, p->roles[i])) {
			st = bad(&l, config_setting_get_member(root, "roles"),
				 "unknown role '%s': expected ca, agent, puppetdb or console", p->roles[i]);
			goto out;
		}
	if ((st = get_list(&l, root, "backup", true, &list)))
		goto out;
	for (int i = 0; i < config_setting_length(list); i++) {
		config_setting_t *e = config_setting_get_elem(list, (unsigned)i);
		p->backups = xrealloc(p->backups, (p->nbackups + 1) * sizeof *p->backups);
		struct backup_tmpl *b = &p->backups[p->nbackups++];
		memset(b, 0, sizeof *b);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			st = bad(&l, e, "each backup must be { role = \"ca\"; paths = [ ... ]; }");
			goto out;
		}
		if ((st = check_keys(&l, e, bkeys)) || (st = get_str(&l, e, "role", true, &b->role)) ||
		    (st = get_strv(&l, e, "paths", false, &b->paths, NULL)) ||
		    (st = get_strv(&l, e, "when", false, &b->when, NULL)))
			goto out;
	}
	if ((st = get_list(&l, root, "phases", true, &list)) || (st = load_phases(&l, list, p, dir, 0)))
		goto out;
	config_setting_t *vg = NULL;
	if ((st = get_group(&l, root, "vars", false, &vg)) || (vg && (st = load_vars(&l, vg, &p->vars))))
		goto out;
	/* Step ids are how the journal, skip lists and sign-offs name steps: unique. */
	for (size_t a = 0; a < p->nphases; a++)
		for (size_t i = 0; i < p->phases[a].nsteps; i++)
			for (size_t b = a; b < p->nphases; b++)
				for (size_t k = (b == a ? i + 1 : 0); k < p->phases[b].nsteps; k++)
					if (strcmp(p->phases[a].steps[i].id, p->phases[b].steps[k].id) == 0) {
						st = cw_error_set_at(err, CW_ECONFIG, path, p->phases[b].steps[k].line,
								     "step id '%s' is used twice (also at line %d); "
								     "ids must be unique", p->phases[b].steps[k].id,
								     p->phases[a].steps[i].line);
						goto out;
					}
	st = CW_OK;
out:
	free(dir);
	config_destroy(&cfg);
	if (st) {
		procedure_free(p);
		return st;
	}
	*out = p;
	return CW_OK;
}

/* ---------- where data lives ---------- */

char *config_find(const char *datadir, const char *rel)
{
	const char *env = getenv("CERTWIZ_DATADIR");
	const char *dirs[] = {datadir, env, CW_DATADIR, CW_SRCDIR};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (!dirs[i] || !*dirs[i])
			continue;
		char *p = xasprintf("%s/config/%s", dirs[i], rel);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **config_list(const char *datadir, const char *subdir)
{
	char *dir = config_find(datadir, subdir);
	char **names = NULL;
	if (!dir)
		return NULL;
	DIR *d = opendir(dir);
	free(dir);
	if (!d)
		return NULL;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".cfg") == 0)
			strv_push_owned(&names, xstrndup(de->d_name, n - 4));
	}
	closedir(d);
	if (names)
		qsort(names, strv_len(names), sizeof *names, cmp_str);
	return names;
}
