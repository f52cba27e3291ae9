/* check.c: pre-flight and expiry checks, from files and the live TLS port only. */
#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "inventory.h"
#include "util.h"
#include "x509.h"

const char *check_level_str(enum check_level l)
{
	return l == LEVEL_OK ? "ok" : l == LEVEL_WARN ? "WARN" : "FAIL";
}

static void add(struct check_report *r, const char *name, enum check_level level, char *found,
		const char *fix_fmt, ...) __attribute__((format(printf, 5, 6)));
static void add(struct check_report *r, const char *name, enum check_level level, char *found,
		const char *fix_fmt, ...)
{
	r->items = xrealloc(r->items, (r->n + 1) * sizeof *r->items);
	struct check_item *it = &r->items[r->n++];
	it->name = xstrdup(name);
	it->level = level;
	it->found = found;
	it->fix = NULL;
	if (fix_fmt && level != LEVEL_OK) {
		va_list ap;
		va_start(ap, fix_fmt);
		if (vasprintf(&it->fix, fix_fmt, ap) < 0)
			it->fix = NULL;
		va_end(ap);
	}
	if (level > r->worst)
		r->worst = level;
}

static char *rooted(const char *root, const char *path)
{
	return root && *root ? path_join(root, path) : xstrdup(path);
}

/* Expiry of one certificate: fail when expired, warn within the threshold. */
static void expiry(struct check_report *r, const char *name, const struct x509_info *c, long now, int within,
		   const char *fix_fmt, ...) __attribute__((format(printf, 6, 7)));
static void expiry(struct check_report *r, const char *name, const struct x509_info *c, long now, int within,
		   const char *fix_fmt, ...)
{
	va_list ap;
	va_start(ap, fix_fmt);
	char *fix = NULL;
	if (vasprintf(&fix, fix_fmt, ap) < 0)
		fix = NULL;
	va_end(ap);
	char when[32];
	time_iso8601((long)c->not_after, when);
	long days = ((long)c->not_after - now) / 86400;
	enum check_level level = (long)c->not_after <= now ? LEVEL_FAIL : days < within ? LEVEL_WARN : LEVEL_OK;
	add(r, name, level,
	    xasprintf("%s, expires %s (%s%ld days), SHA-256 %s", c->subject_cn ? c->subject_cn : "?", when,
		      level == LEVEL_FAIL ? "expired " : "in ", level == LEVEL_FAIL ? -days : days, c->fingerprint),
	    "%s", fix ? fix : "");
	free(fix);
}

/* On the CA server: the signed certificates, and the command that renews the expiring ones. */
static void signed_certs(struct check_report *r, const struct wizard *w, long now, int within)
{
	const struct facts *f = &w->facts;
	struct inventory inv;
	struct cw_error e = {0};
	if (inventory_read(w->site.root, vars_get(&f->vars, "cadir"), vars_get(&f->vars, "ssldir"), now, within, &inv,
			   &e) != CW_OK) {
		add(r, "signed certificates", LEVEL_WARN, xasprintf("cannot read them: %s", e.msg),
		    "check the cadir setting (puppet.conf, or vars in certwiz.cfg)");
		return;
	}
	const char *self = vars_get(&f->vars, "certname");
	size_t due = inv.counts[INV_EXPIRING] + inv.counts[INV_EXPIRED];
	enum check_level level = inv.counts[INV_EXPIRED] || inv.counts[INV_UNREADABLE] ? LEVEL_FAIL
				 : inv.counts[INV_EXPIRING]                         ? LEVEL_WARN
										    : LEVEL_OK;
	char **agents = inventory_expiring_agents(&inv, self);
	char **fixes = inventory_fixes(&inv, self, NULL, agents, NULL);
	/* The agents' fix comes first when there is one; the CA server's own is the host
	 * certificate's line, the CA's and the CRL's their own lines. */
	const char *fix = agents && fixes ? fixes[0] : inv.counts[INV_UNREADABLE] ? "certwiz inventory lists the "
										    "unreadable files: move them out of signed/"
										  : "certwiz inventory shows them";
	add(r, "signed certificates", level,
	    xasprintf("%zu in %s: %zu expiring within %d days, %zu expired, %zu revoked, %zu unreadable%s", inv.n,
		      inv.cadir, inv.counts[INV_EXPIRING], within, inv.counts[INV_EXPIRED], inv.counts[INV_REVOKED],
		      inv.counts[INV_UNREADABLE], due && !agents ? " (the CA server's own only)" : ""),
	    "%s", fix);
	strv_free(fixes);
	strv_free(agents);
	inventory_done(&inv);
}

static unsigned long long tree_size(const char *root, const char *path)
{
	/* Total size of the files below path (a CA may hold thousands of signed certificates). */
	char *p = rooted(root, path);
	unsigned long long total = 0;
	char **stack = NULL;
	strv_push(&stack, p);
	while (strv_len(stack)) {
		size_t n = strv_len(stack);
		char *dir = stack[n - 1];
		stack[n - 1] = NULL;
		DIR *d = opendir(dir);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d))) {
				if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
					continue;
				char *child = path_join(dir, de->d_name);
				struct stat st;
				if (lstat(child, &st) == 0) {
					total += (unsigned long long)st.st_size;
					if (S_ISDIR(st.st_mode)) {
						strv_push_owned(&stack, child);
						continue;
					}
				}
				free(child);
			}
			closedir(d);
		}
		free(dir);
	}
	strv_free(stack);
	free(p);
	return total;
}

static bool in_path(const char *prog)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	const char *path = getenv("PATH");
	char **dirs = strv_split(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin", ':');
	bool found = false;
	for (size_t i = 0; dirs && dirs[i] && !found; i++) {
		char *p = path_join(dirs[i], prog);
		found = access(p, X_OK) == 0;
		free(p);
	}
	strv_free(dirs);
	return found;
}

/* The expiry checks: CA, host certificate, on the CA server every signed certificate
 * (scan_ca), and the CRL. Files only: no network. */
static void expiry_checks(struct check_report *r, const struct wizard *w, long now, int within, bool scan_ca)
{
	const struct facts *f = &w->facts;
	const char *root = w->site.root;
	const char *ssldir = vars_get(&f->vars, "ssldir"), *cadir = vars_get(&f->vars, "cadir");
	const char *certname = vars_get(&f->vars, "certname");

	const char *ca_proc = check_ca_procedure(w->profile);
	bool pe = strcmp(ca_proc, "oss-ca") != 0;
	char *fix = xasprintf("%s%s; if its key must change too, regenerate the CA and every certificate: certwiz plan "
			      "--procedure %s%s",
			      INVENTORY_CA_FIX,
			      pe ? " (Puppet Enterprise: PuppetDB's and the console's own copies of ca.pem are not "
				   "replaced by it; copy the new ca_crt.pem to them)"
				 : "",
			      ca_proc, pe ? " (pe-split for a split install)" : "");
	if (f->has_ca)
		expiry(r, "CA certificate", &f->cacert, now, within, "%s", fix);
	else if (f->cacert.fingerprint[0])
		expiry(r, "CA certificate (agent copy)", &f->cacert, now, within, "on the CA server: %s", fix);
	else
		add(r, "CA certificate", LEVEL_WARN, xasprintf("no CA certificate in %s/ca_crt.pem or %s/certs/ca.pem", cadir, ssldir),
		    "run certwiz on the CA server, or check cadir/ssldir in puppet.conf");
	free(fix);

	if (f->has_hostcert && f->has_ca)
		expiry(r, "host certificate", &f->hostcert, now, within, "regenerate it with its alt names: %s",
		       "certwiz plan --procedure primary");
	else if (f->has_hostcert)
		expiry(r, "host certificate", &f->hostcert, now, within,
		       "on the CA server: certwiz plan --procedure agent --agents %s", certname);
	else
		add(r, "host certificate", LEVEL_WARN, xasprintf("no certificate at %s/certs/%s.pem", ssldir, certname),
		    "if this host should have one, bootstrap it: puppet ssl bootstrap");

	if (f->has_ca && scan_ca)
		signed_certs(r, w, now, within);

	/* The CRL: an expired one makes agents refuse the server. */
	char *crl_path = xasprintf("%s/%s", f->has_ca ? cadir : ssldir, f->has_ca ? "ca_crl.pem" : "crl.pem");
	char *rp = rooted(root, crl_path), *pem = NULL;
	size_t len = 0;
	if (file_read(rp, 16 << 20, &pem, &len, NULL) == CW_OK) {
		char *issuer = NULL;
		time_t next = 0;
		struct cw_error e = {0};
		if (x509_parse_crl(pem, len, &issuer, &next, &e) == CW_OK) {
			char when[32];
			time_iso8601((long)next, when);
			long days = ((long)next - now) / 86400;
			enum check_level level = (long)next <= now ? LEVEL_FAIL : days < within ? LEVEL_WARN : LEVEL_OK;
			add(r, "CRL", level, xasprintf("%s from %s, next update %s", crl_path, issuer ? issuer : "?", when),
			    "%s", INVENTORY_CRL_FIX);
		} else {
			add(r, "CRL", LEVEL_FAIL, xasprintf("%s cannot be read: %s", crl_path, e.msg),
			    "restore it from a backup or regenerate the CA");
		}
		free(issuer);
		free(pem);
	} else {
		add(r, "CRL", LEVEL_WARN, xasprintf("no CRL at %s", crl_path), "check the ssldir/cadir settings");
	}
	free(rp);
	free(crl_path);

}

cw_status checks_run(struct wizard *w, int within, long now, struct check_report *r, struct cw_error *err)
{
	memset(r, 0, sizeof *r);
	if (!now)
		now = (long)time(NULL);
	const struct facts *f = &w->facts;
	const char *root = w->site.root;
	const char *ssldir = vars_get(&f->vars, "ssldir"), *cadir = vars_get(&f->vars, "cadir");
	const char *certname = vars_get(&f->vars, "certname");

	if (geteuid() == 0)
		add(r, "root", LEVEL_OK, xstrdup("running as root"), NULL);
	else
		add(r, "root", LEVEL_FAIL, xasprintf("running as uid %d", (int)geteuid()),
		    "run certwiz as root (sudo certwiz ...): Puppet's SSL files belong to root and puppet");

	add(r, "profile", LEVEL_OK,
	    xasprintf("%s (%s dialect), Puppet %s", w->profile->name, dialect_str(w->profile->dialect),
		      f->puppet_version ? f->puppet_version : "version unknown"),
	    NULL);
	for (size_t i = 0; f->warnings && f->warnings[i]; i++)
		add(r, "facts", LEVEL_WARN, xstrdup(f->warnings[i]),
		    "check puppet.conf (puppet config print certname dns_alt_names) and the current certificate");

	expiry_checks(r, w, now, within, true);

	const char *alt = vars_get(&f->vars, "dns_alt_names");
	if (alt && *alt && w->profile->dialect == DIALECT_MODERN && f->has_ca) {
		if (f->allow_subject_alt_names == 1) {
			/* The file's own name (ca.conf, PE's pe-puppet-server.conf): a screen line is short. */
			const char *conf = vars_get(&f->vars, "ca_conf"), *base = conf ? strrchr(conf, '/') : NULL;
			add(r, "alt names allowed", LEVEL_OK,
			    xasprintf("allow-subject-alt-names: true in %s", base ? base + 1 : conf ? conf : "ca.conf"),
			    NULL);
		} else {
			add(r, "alt names allowed", LEVEL_WARN,
			    xasprintf("this host uses alt names (%s) but %s does not set allow-subject-alt-names: true", alt,
				      vars_get(&f->vars, "ca_conf") ? vars_get(&f->vars, "ca_conf") : "ca.conf"),
			    "add 'allow-subject-alt-names: true' to the certificate-authority section of %s and restart "
			    "puppetserver; otherwise signing a certificate with alt names answers HTTP 409",
			    vars_get(&f->vars, "ca_conf") ? vars_get(&f->vars, "ca_conf") : "ca.conf");
		}
	}

	/* Room for the backup: twice the size of what it holds. */
	const char *bdir = w->site.backup_dir;
	char *probe = rooted(root, bdir);
	/* The nearest existing directory, for a backup_dir not created yet. */
	while (!path_is_dir(probe) && strlen(probe) > 1) {
		char *slash = strrchr(probe, '/');
		if (slash == probe)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	struct statvfs sv;
	unsigned long long need = 2 * (tree_size(root, ssldir) + tree_size(root, cadir)) + (1u << 20);
	if (statvfs(probe, &sv) == 0) {
		unsigned long long avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
		add(r, "backup space", avail >= need ? LEVEL_OK : LEVEL_FAIL,
		    xasprintf("%llu MiB free for %s, about %llu MiB needed", avail >> 20, bdir, (need >> 20) + 1),
		    "free space in %s or choose another backup_dir (--backup-dir DIR)", bdir);
	} else {
		add(r, "backup space", LEVEL_WARN, xasprintf("cannot check free space in %s", bdir),
		    "create %s (mode 0700) or choose another with --backup-dir", bdir);
	}
	free(probe);

	/* Services: the tool that controls each of them is there. */
	const struct service_backend *b = site_backend(&w->site, w->profile);
	char **missing = NULL, **tools = NULL;
	for (size_t i = 0; i < w->profile->nservices; i++) {
		char **argv = service_argv(b, "status", w->profile->services[i].name);
		if (argv && argv[0] && !strv_contains(tools, argv[0])) {
			strv_push(&tools, argv[0]);
			if (!in_path(argv[0]))
				strv_push(&missing, argv[0]);
		}
		strv_free(argv);
	}
	char *toollist = strv_join(tools, ", "), *missinglist = strv_join(missing, ", ");
	add(r, "service control", missing ? LEVEL_FAIL : LEVEL_OK,
	    xasprintf("%s backend via %s%s%s", service_backend_str(b->kind), toollist, missing ? "; not found: " : "",
		      missing ? missinglist : ""),
	    "install %s or set services = { backend = ...; } in certwiz.cfg", missinglist);
	free(toollist);
	free(missinglist);
	strv_free(tools);
	strv_free(missing);

	/* The CA answers, with a certificate from the current CA. */
	if (f->has_ca) {
		const struct host_cfg *self = site_host(&w->site, certname);
		const char *addr = self && self->address ? self->address : "127.0.0.1";
		char *served = NULL;
		struct cw_error e = {0};
		if (x509_fetch_tls(addr, 8140, certname, 3000, &served, &e) == CW_OK) {
			char *ca = NULL, *cap = rooted(root, cadir);
			char *capath = path_join(cap, "ca_crt.pem");
			size_t calen = 0;
			struct x509_info info = {0};
			x509_parse_cert(served, strlen(served), &info, NULL);
			if (file_read(capath, 1 << 20, &ca, &calen, NULL) == CW_OK &&
			    x509_verify(served, strlen(served), ca, calen, NULL, 0, &e) == CW_OK)
				add(r, "CA server", LEVEL_OK,
				    xasprintf("%s:8140 serves %s, issued by the current CA", addr, info.subject_cn ? info.subject_cn : "?"),
				    NULL);
			else
				add(r, "CA server", LEVEL_FAIL,
				    xasprintf("%s:8140 serves %s, which does not verify against %s/ca_crt.pem: %s", addr,
					      info.subject_cn ? info.subject_cn : "?", cadir, e.msg),
				    "restart puppetserver so it loads the current certificate, or regenerate it "
				    "(certwiz --procedure primary)");
			x509_info_done(&info);
			free(ca);
			free(capath);
			free(cap);
			free(served);
		} else {
			add(r, "CA server", LEVEL_WARN, xasprintf("nothing answers TLS on %s:8140: %s", addr, e.msg),
			    "start puppetserver (service puppetserver start) if it should be running");
		}
	}
	(void)err;
	return CW_OK;
}

void check_report_done(struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].name);
		free(r->items[i].found);
		free(r->items[i].fix);
	}
	free(r->items);
	memset(r, 0, sizeof *r);
}

const char *check_ca_procedure(const struct profile *p)
{
	return p && p->flavour && strcmp(p->flavour, "pe") == 0 ? "pe-monolithic" : "oss-ca";
}

char **check_expiry_findings(const struct wizard *w, int within, long now)
{
	struct check_report r = {0};
	expiry_checks(&r, w, now ? now : (long)time(NULL), within, false);
	char **out = NULL;
	for (size_t i = 0; i < r.n; i++)
		if (r.items[i].level != LEVEL_OK && r.items[i].fix)
			strv_push_owned(&out, xasprintf("%s %s: %s", r.items[i].name,
							r.items[i].level == LEVEL_FAIL ? "has a problem" : "needs attention",
							r.items[i].fix));
	check_report_done(&r);
	return out;
}
