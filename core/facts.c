/* facts.c: what this host is, read from files only. */
#include "facts.h"

#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "validate.h"

static char *rooted(const char *root, const char *path)
{
	if (!root || !*root)
		return xstrdup(path);
	return path_join(root, path);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Resolve $name and ${name} references to known settings. */
static char *interpolate(const char *val, const struct vars *a, const struct vars *b)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (const char *p = val; *p;) {
		if (*p == '$') {
			const char *start = p + 1, *end;
			bool brace = *start == '{';
			if (brace)
				start++;
			end = start;
			while (isalnum((unsigned char)*end) || *end == '_')
				end++;
			char *name = xstrndup(start, (size_t)(end - start));
			const char *v = vars_get(b, name);
			if (!v)
				v = vars_get(a, name);
			if (v && end > start && (!brace || *end == '}')) {
				strbuf_adds(&sb, v);
				p = brace ? end + 1 : end;
				free(name);
				continue;
			}
			free(name);
		}
		strbuf_add(&sb, p, 1);
		p++;
	}
	return strbuf_detach(&sb);
}

cw_status puppetconf_parse(const char *text, const char *const *sections, const struct vars *base,
			   struct vars *out, struct cw_error *err)
{
	size_t nsec = 0;
	while (sections[nsec])
		nsec++;
	/* rank[i] = index of the section that set out's setting; lower wins. */
	struct vars found;
	vars_init(&found);
	struct vars rank;
	vars_init(&rank);
	char *copy = xstrdup(text ? text : "");
	int cur = -1; /* settings before any [section] belong to main */
	for (size_t i = 0; i < nsec; i++)
		if (strcmp(sections[i], "main") == 0)
			cur = (int)i;
	int lineno = 0;
	char *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end) {
				cw_status st = cw_error_set(err, CW_ECONFIG,
							    "puppet.conf line %d: section header '%s' has no ']'", lineno, s);
				free(copy);
				vars_done(&found);
				vars_done(&rank);
				return st;
			}
			*end = '\0';
			cur = -1;
			for (size_t i = 0; i < nsec; i++)
				if (strcmp(sections[i], trim(s + 1)) == 0)
					cur = (int)i;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq)
			continue; /* Puppet ignores such lines too */
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		/* Trailing "{ owner = ... }" metadata is Puppet's, not part of the value. */
		char *meta = strchr(val, '{');
		if (meta && meta > val) {
			*meta = '\0';
			val = trim(val);
		}
		if (cur < 0)
			continue;
		const char *prev = vars_get(&rank, key);
		if (prev && atoi(prev) <= cur)
			continue;
		char r[16];
		snprintf(r, sizeof r, "%d", cur);
		vars_set(&rank, key, r);
		vars_set(&found, key, val);
	}
	free(copy);
	/* Resolve in dependency order: confdir, vardir, ssldir first. */
	static const char *const first[] = {"confdir", "vardir", "ssldir", "certname", NULL};
	struct vars resolved;
	vars_copy(&resolved, base);
	for (size_t i = 0; first[i]; i++) {
		const char *v = vars_get(&found, first[i]);
		if (v) {
			char *x = interpolate(v, &resolved, &resolved);
			vars_set(&resolved, first[i], x);
			vars_set(out, first[i], x);
			free(x);
		}
	}
	for (size_t i = 0; i < found.n; i++) {
		if (strv_contains((char *const *)first, found.items[i].name))
			continue;
		char *x = interpolate(found.items[i].value, &resolved, &resolved);
		vars_set(out, found.items[i].name, x);
		free(x);
	}
	vars_done(&resolved);
	vars_done(&found);
	vars_done(&rank);
	return CW_OK;
}

cw_status puppet_version_read(const char *path, char **version, struct cw_error *err)
{
	char *text;
	cw_status st = file_read(path, 1 << 20, &text, NULL, err);
	if (st)
		return st;
	const char *p = strstr(text, "PUPPETVERSION");
	if (p) {
		p = strpbrk(p, "'\"");
		if (p) {
			char q = *p++;
			const char *e = strchr(p, q);
			if (e && e > p && e - p < 32) {
				*version = xstrndup(p, (size_t)(e - p));
				free(text);
				return CW_OK;
			}
		}
	}
	free(text);
	return cw_error_set(err, CW_ENOTFOUND, "%s does not say PUPPETVERSION = '...'", path);
}

static int major_of(const char *version)
{
	return version ? atoi(version) : 0;
}

const struct profile *profile_detect(const char *root, struct profile *const *profiles, size_t n,
				     char **why)
{
	struct strbuf sb;
	strbuf_init(&sb);
	const struct profile *hit = NULL;
	for (size_t i = 0; i < n && !hit; i++) {
		const struct profile *p = profiles[i];
		bool all = p->detect_paths != NULL;
		const char *missing = NULL;
		for (size_t k = 0; p->detect_paths && p->detect_paths[k]; k++) {
			char *path = rooted(root, p->detect_paths[k]);
			if (!path_exists(path)) {
				all = false;
				missing = p->detect_paths[k];
			}
			free(path);
			if (!all)
				break;
		}
		if (!all) {
			strbuf_addf(&sb, "%s: %s missing; ", p->name, missing ? missing : "no detect paths");
			continue;
		}
		const char *present = NULL;
		for (size_t k = 0; p->detect_absent && p->detect_absent[k] && !present; k++) {
			char *path = rooted(root, p->detect_absent[k]);
			if (path_exists(path))
				present = p->detect_absent[k];
			free(path);
		}
		if (present) {
			strbuf_addf(&sb, "%s: %s present; ", p->name, present);
			continue;
		}
		char *version = NULL;
		if (p->version_file) {
			char *vf = rooted(root, p->version_file);
			puppet_version_read(vf, &version, NULL);
			free(vf);
		}
		int major = major_of(version);
		if ((p->min_major && major && major < p->min_major) || (p->max_major && major && major > p->max_major)) {
			strbuf_addf(&sb, "%s: Puppet %s is outside %d..%d; ", p->name, version, p->min_major,
				    p->max_major);
			free(version);
			continue;
		}
		/* The match first (a screen shows one line), then why the others were not it. */
		char *rest = strbuf_detach(&sb);
		strbuf_init(&sb);
		strbuf_addf(&sb, "%s: matches (Puppet %s)", p->name, version ? version : "version unknown");
		if (*rest) {
			size_t len = strlen(rest);
			strbuf_addf(&sb, "; %.*s", (int)(len >= 2 && rest[len - 2] == ';' ? len - 2 : len), rest);
		}
		free(rest);
		free(version);
		hit = p;
	}
	if (why)
		*why = strbuf_detach(&sb);
	else
		strbuf_done(&sb);
	return hit;
}

static char *default_certname(void)
{
	char host[256] = "";
	if (gethostname(host, sizeof host - 1) != 0 || !*host)
		return xstrdup("localhost");
	for (char *c = host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return xstrdup(host);
}

/* Read an optional certificate under root; a missing file is not an error. */
static bool load_cert(const char *root, const char *path, struct x509_info *info, char ***warnings)
{
	char *p = rooted(root, path);
	struct cw_error e;
	bool ok = false;
	if (path_exists(p)) {
		if (x509_load_cert(p, info, &e) == CW_OK)
			ok = true;
		else
			strv_push_owned(warnings, xasprintf("%s cannot be read as a certificate: %s", path, e.msg));
	}
	free(p);
	return ok;
}

static int read_allow_san(const char *root, const char *ca_conf)
{
	if (!ca_conf)
		return -1;
	char *p = rooted(root, ca_conf), *text = NULL;
	int result = -1;
	if (file_read(p, 1 << 20, &text, NULL, NULL) == CW_OK) {
		result = 0;
		for (char *line = text; line && *line;) {
			char *nl = strchr(line, '\n');
			if (nl)
				*nl = '\0';
			char *s = trim(line);
			if (*s != '#' && strncmp(s, "allow-subject-alt-names", 23) == 0) {
				char *v = trim(s + 23);
				if (*v == ':' || *v == '=')
					v = trim(v + 1);
				result = strncmp(v, "true", 4) == 0;
			}
			line = nl ? nl + 1 : NULL;
		}
		free(text);
	}
	free(p);
	return result;
}

cw_status facts_discover(const char *root, const struct profile *p, struct facts *f, struct cw_error *err)
{
	memset(f, 0, sizeof *f);
	vars_copy(&f->vars, &p->vars);
	const char *confdir = vars_get(&p->vars, "confdir");
	char *conf_path = path_join(confdir, "puppet.conf");
	char *rp = rooted(root, conf_path), *text = NULL;
	static const char *const server_sections[] = {"server", "master", "main", NULL};
	struct vars conf;
	vars_init(&conf);
	if (file_read(rp, 1 << 20, &text, NULL, NULL) == CW_OK) {
		cw_status st = puppetconf_parse(text, server_sections, &p->vars, &conf, err);
		free(text);
		if (st) {
			cw_error_prefix(err, "%s", conf_path);
			free(rp);
			free(conf_path);
			vars_done(&conf);
			facts_done(f);
			return st;
		}
	} else {
		strv_push_owned(&f->warnings, xasprintf("%s not found: using %s defaults", conf_path, p->name));
	}
	free(rp);
	free(conf_path);
	static const char *const taken[] = {"certname", "server", "ssldir", "cadir", "vardir",
					    "client_datadir", "confdir", NULL};
	for (size_t i = 0; taken[i]; i++) {
		const char *v = vars_get(&conf, taken[i]);
		if (v && *v)
			vars_set(&f->vars, taken[i], v);
	}
	if (!vars_get(&f->vars, "certname") || !*vars_get(&f->vars, "certname")) {
		char *c = default_certname();
		vars_set(&f->vars, "certname", c);
		free(c);
	}
	const char *autosign = vars_get(&conf, "autosign");
	f->autosign = autosign && strcmp(autosign, "true") == 0;
	f->conf_alt_names = strv_split(vars_get(&conf, "dns_alt_names"), ',');
	vars_done(&conf);

	const char *certname = vars_get(&f->vars, "certname");
	struct cw_error e;
	if (validate_certname(certname, &e) != CW_OK) {
		cw_status st = cw_error_set(err, CW_EINVAL, "puppet.conf: %s", e.msg);
		facts_done(f);
		return st;
	}
	const char *ssldir = vars_get(&f->vars, "ssldir"), *cadir = vars_get(&f->vars, "cadir");
	char *hostcert = xasprintf("%s/certs/%s.pem", ssldir, certname);
	f->has_hostcert = load_cert(root, hostcert, &f->hostcert, &f->warnings);
	free(hostcert);
	char *cacert = xasprintf("%s/ca_crt.pem", cadir);
	f->has_ca = load_cert(root, cacert, &f->cacert, &f->warnings);
	free(cacert);
	if (!f->has_ca) {
		char *local = xasprintf("%s/certs/ca.pem", ssldir);
		load_cert(root, local, &f->cacert, &f->warnings);
		free(local);
	}
	if (f->has_hostcert) {
		for (size_t i = 0; f->hostcert.san_dns && f->hostcert.san_dns[i]; i++)
			if (strcmp(f->hostcert.san_dns[i], certname) != 0)
				strv_push(&f->cert_alt_names, f->hostcert.san_dns[i]);
	}
	/* The alt names the plan uses: the union, and say so when they disagree (the certname
	 * itself is in every certificate's SAN, so it does not count as a difference). */
	char **alt = strv_copy(f->conf_alt_names);
	strv_union(&alt, f->cert_alt_names);
	bool differ = false;
	if (f->has_hostcert)
		for (size_t i = 0; alt && alt[i]; i++)
			if (strcmp(alt[i], certname) != 0 &&
			    (!strv_contains(f->conf_alt_names, alt[i]) || !strv_contains(f->cert_alt_names, alt[i])))
				differ = true;
	if (differ) {
		char *a = strv_join(f->conf_alt_names, ","), *b = strv_join(f->cert_alt_names, ",");
		strv_push_owned(&f->warnings,
				xasprintf("dns_alt_names differ: puppet.conf has '%s', the current certificate has "
					  "'%s'; the plan uses both", a, b));
		free(a);
		free(b);
	}
	char *joined = strv_join(alt, ",");
	vars_set(&f->vars, "dns_alt_names", joined);
	free(joined);
	strv_free(alt);

	if (p->version_file) {
		char *vf = rooted(root, p->version_file);
		if (puppet_version_read(vf, &f->puppet_version, NULL) == CW_OK)
			f->puppet_major = major_of(f->puppet_version);
		free(vf);
	}
	if (f->puppet_version)
		vars_set(&f->vars, "puppet_version", f->puppet_version);
	f->allow_subject_alt_names = read_allow_san(root, vars_get(&f->vars, "ca_conf"));
	return CW_OK;
}

void facts_done(struct facts *f)
{
	vars_done(&f->vars);
	strv_free(f->conf_alt_names);
	strv_free(f->cert_alt_names);
	free(f->puppet_version);
	if (f->has_hostcert)
		x509_info_done(&f->hostcert);
	x509_info_done(&f->cacert);
	strv_free(f->warnings);
	memset(f, 0, sizeof *f);
}
