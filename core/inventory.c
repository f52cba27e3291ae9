/* inventory.c: read a Puppet CA directory (signed/, ca_crt.pem, ca_crl.pem, inventory.txt)
 * into one table of certificates with their expiry and revocation. */
#include "inventory.h"

#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "validate.h"

#define DAY 86400L

const char *inv_state_str(enum inv_state s)
{
	static const char *const names[] = {"ok", "expiring", "expired", "revoked", "unreadable"};
	return s < INV_STATE_COUNT ? names[s] : "?";
}

long inventory_days_left(long t, long now)
{
	long d = t - now;
	return d >= 0 ? d / DAY : -((-d + DAY - 1) / DAY);
}

/* ok / expiring / expired of a date against now and the threshold. */
static enum inv_state date_state(long t, long now, int within)
{
	if (t <= now)
		return INV_EXPIRED;
	return inventory_days_left(t, now) < within ? INV_EXPIRING : INV_OK;
}

static char *rooted(const char *root, const char *path)
{
	return root && *root ? path_join(root, path) : xstrdup(path);
}

static char *printable(const char *s)
{
	char *d = xstrdup(s);
	for (char *p = d; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return d;
}

/* ---- inventory.txt: "0x002A 2021-06-01T12:00:00UTC 2026-05-31T12:00:00UTC /CN=name" ---- */

struct inv_line {
	char serial[X509_SERIAL_MAX]; /* as x509_info.serial */
	long not_after;
	char *cn;                     /* heap */
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "0x00002A" -> "2A"; false when it is not hex. */
static bool norm_serial(const char *in, char out[X509_SERIAL_MAX])
{
	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	while (in[0] == '0' && in[1])
		in++;
	size_t n = strlen(in);
	if (n == 0 || n >= X509_SERIAL_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
		out[i] = c;
	}
	out[n] = '\0';
	return true;
}

static bool parse_utc(const char *s, long *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec, &n) != 6 || n < 19)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = (long)timegm(&tm);
	return true;
}

/* The lines of inventory.txt that can be read; *bad counts the others. */
static struct inv_line *read_inventory_txt(char *text, size_t *n, size_t *bad)
{
	struct inv_line *lines = NULL;
	size_t cap = 0;
	*n = *bad = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char serial[81], nb[41], na[41], subject[1025];
		long t;
		if (sscanf(line, "%80s %40s %40s %1024[^\n]", serial, nb, na, subject) != 4) {
			(*bad)++;
			continue;
		}
		struct inv_line l = {0};
		char *cn = strstr(subject, "/CN=");
		if (!norm_serial(serial, l.serial) || !parse_utc(na, &t) || !cn) {
			(*bad)++;
			continue;
		}
		cn += 4;
		l.cn = xstrndup(cn, strcspn(cn, "/\r"));
		l.not_after = t;
		if (*n == cap) {
			cap = cap ? 2 * cap : 256;
			lines = xrealloc(lines, cap * sizeof *lines);
		}
		lines[(*n)++] = l;
	}
	return lines;
}

/* ---- signed/ ---- */

static int entry_cmp(const void *a, const void *b)
{
	const struct inventory_entry *x = a, *y = b;
	/* Unreadable first (they are the ones to look at), then soonest expiry. */
	bool ux = x->state == INV_UNREADABLE, uy = y->state == INV_UNREADABLE;
	if (ux != uy)
		return ux ? -1 : 1;
	if (x->cert.not_after != y->cert.not_after)
		return x->cert.not_after < y->cert.not_after ? -1 : 1;
	return strcmp(x->certname, y->certname);
}

static const struct x509_crl_info *crl_of(const struct inventory *inv, const char *issuer_cn)
{
	for (size_t i = 0; i < inv->ncrls; i++)
		if (issuer_cn && strcmp(inv->crls[i].issuer_cn, issuer_cn) == 0)
			return &inv->crls[i];
	return NULL;
}

static bool issued_here(const struct inventory *inv, const char *issuer_cn)
{
	for (size_t i = 0; i < inv->ncas; i++)
		if (issuer_cn && strcmp(inv->cas[i].subject_cn, issuer_cn) == 0)
			return true;
	return false;
}

/* Every certificate of ca_crt.pem, in order. */
static cw_status read_cas(const char *path, struct inventory *inv, struct cw_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	cw_status st = file_read(path, X509_PEM_MAX, &pem, &len, err);
	if (st != CW_OK)
		return st;
	const char *p = pem, *end = pem + len;
	static const char marker[] = "-----BEGIN CERTIFICATE-----";
	while (st == CW_OK && (p = strstr(p, marker)) != NULL) {
		struct x509_info info;
		st = x509_parse_cert_brief(p, (size_t)(end - p), &info, err);
		if (st == CW_OK) {
			inv->cas = xrealloc(inv->cas, (inv->ncas + 1) * sizeof *inv->cas);
			inv->cas[inv->ncas++] = info;
		}
		p += sizeof marker - 1;
	}
	free(pem);
	if (st == CW_OK && inv->ncas == 0)
		st = cw_error_set(err, CW_EINVAL, "no certificate in it");
	if (st != CW_OK)
		cw_error_prefix(err, "%s", path);
	return st;
}

static void read_signed(const char *dir, struct inventory *inv)
{
	DIR *d = opendir(dir);
	if (!d) {
		strv_push_owned(&inv->warnings, xasprintf("%s cannot be read: no signed certificates listed", dir));
		return;
	}
	size_t cap = 0;
	struct dirent *de;
	struct strbuf path;
	strbuf_init(&path);
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		if (nl <= 4 || strcmp(de->d_name + nl - 4, ".pem") != 0 || de->d_name[0] == '.')
			continue;
		if (inv->n == cap) {
			cap = cap ? 2 * cap : 1024;
			inv->entries = xrealloc(inv->entries, cap * sizeof *inv->entries);
		}
		struct inventory_entry *e = &inv->entries[inv->n++];
		memset(e, 0, sizeof *e);
		char *name = xstrndup(de->d_name, nl - 4);
		e->certname = printable(name);
		e->valid_name = strcmp(name, e->certname) == 0 && validate_certname(name, NULL) == CW_OK;
		free(name);
		strbuf_reset(&path);
		strbuf_addf(&path, "%s/%s", dir, de->d_name);
		char *pem = NULL;
		size_t len = 0;
		struct cw_error ce = {0};
		if (file_read(path.buf, X509_PEM_MAX, &pem, &len, &ce) != CW_OK ||
		    x509_parse_cert_brief(pem, len, &e->cert, &ce) != CW_OK) {
			e->state = INV_UNREADABLE;
			e->error = xstrdup(ce.msg);
		}
		free(pem);
	}
	strbuf_done(&path);
	closedir(d);
}

/* Revocation, dates, inventory.txt and issuer of every entry. */
static void judge(struct inventory *inv, const char *const *inv_serials, size_t ninv)
{
	size_t no_crl = 0, foreign = 0;
	const char *foreign_issuer = NULL, *no_crl_issuer = NULL;
	for (size_t i = 0; i < inv->n; i++) {
		struct inventory_entry *e = &inv->entries[i];
		if (e->state == INV_UNREADABLE)
			continue;
		e->days_left = inventory_days_left((long)e->cert.not_after, inv->now);
		const char *serial = e->cert.serial;
		e->in_inventory = ninv && bsearch(&serial, inv_serials, ninv, sizeof *inv_serials, str_cmp);
		if (!issued_here(inv, e->cert.issuer_cn)) {
			foreign++;
			foreign_issuer = e->cert.issuer_cn;
		}
		const struct x509_crl_info *crl = crl_of(inv, e->cert.issuer_cn);
		if (!crl) {
			no_crl++;
			no_crl_issuer = e->cert.issuer_cn;
		}
		e->state = crl && x509_crl_lists(crl, serial) ? INV_REVOKED
							       : date_state((long)e->cert.not_after, inv->now, inv->within);
	}
	if (foreign)
		strv_push_owned(&inv->warnings,
				xasprintf("%zu signed certificate(s) were not issued by this CA (e.g. by '%s'): left "
					  "over from an earlier CA; they no longer verify",
					  foreign, foreign_issuer));
	if (no_crl && inv->ncrls)
		strv_push_owned(&inv->warnings,
				xasprintf("%zu signed certificate(s) have no CRL from their issuer '%s' in ca_crl.pem: "
					  "their revocation was not checked",
					  no_crl, no_crl_issuer));
}

/* inventory.txt: which serials the CA recorded, and valid certificates with no signed/ file. */
static void read_inventory(const char *path, struct inventory *inv, char ***serials, size_t *nserials)
{
	char *text = NULL;
	size_t len = 0, n = 0, bad = 0;
	*serials = NULL;
	*nserials = 0;
	if (file_read(path, 256u << 20, &text, &len, NULL) != CW_OK)
		return;
	inv->has_inventory_txt = true;
	struct inv_line *lines = read_inventory_txt(text, &n, &bad);
	free(text);
	inv->inventory_lines = n;
	if (bad)
		strv_push_owned(&inv->warnings, xasprintf("%s: %zu line(s) not in Puppet's inventory format "
							  "(SERIAL NOT_BEFORE NOT_AFTER /CN=NAME)", path, bad));
	char **s = xcalloc(n + 1, sizeof *s);
	for (size_t i = 0; i < n; i++)
		s[i] = lines[i].serial;
	qsort(s, n, sizeof *s, str_cmp);
	/* Certnames with a file in signed/, sorted, to find those without one. */
	char **names = xcalloc(inv->n + 1, sizeof *names);
	for (size_t i = 0; i < inv->n; i++)
		names[i] = inv->entries[i].certname;
	qsort(names, inv->n, sizeof *names, str_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct inv_line *l = &lines[i];
		const char *cn = l->cn;
		bool revoked = false;
		for (size_t c = 0; c < inv->ncrls && !revoked; c++)
			revoked = x509_crl_lists(&inv->crls[c], l->serial);
		if (revoked || l->not_after <= inv->now || issued_here(inv, cn) ||
		    bsearch(&cn, names, inv->n, sizeof *names, str_cmp))
			continue;
		char when[32], *pcn = printable(cn);
		strv_push_owned(&inv->unlisted, xasprintf("%s serial %s, expires %s", pcn, l->serial,
							  time_iso8601(l->not_after, when)));
		free(pcn);
	}
	free(names);
	/* The serial strings live in lines: copy them out before freeing it. */
	for (size_t i = 0; i < n; i++)
		s[i] = xstrdup(s[i]);
	for (size_t i = 0; i < n; i++)
		free(lines[i].cn);
	free(lines);
	*serials = s;
	*nserials = n;
}

cw_status inventory_read(const char *root, const char *cadir, const char *ssldir, long now, int within,
			 struct inventory *inv, struct cw_error *err)
{
	memset(inv, 0, sizeof *inv);
	inv->now = now ? now : (long)time(NULL);
	inv->within = within;
	if (!cadir || !*cadir)
		return cw_error_set(err, CW_EINVAL, "no cadir: set it in puppet.conf or in certwiz.cfg (vars = { cadir = ...; })");
	char *dir = xstrdup(cadir);
	char *cafile = xasprintf("%s/ca_crt.pem", dir), *rcafile = rooted(root, cafile);
	if (!path_exists(rcafile) && ssldir && *ssldir) {
		/* A CA still in the old place ($ssldir/ca) is the one Puppet uses. */
		char *old = xasprintf("%s/ca", ssldir), *oldca = xasprintf("%s/ca_crt.pem", old);
		char *roldca = rooted(root, oldca);
		if (strcmp(old, dir) != 0 && path_exists(roldca)) {
			inv->cadir_note = xasprintf("%s has no ca_crt.pem; the CA is in %s (the place Puppet 5 used)",
						    dir, old);
			free(dir);
			free(cafile);
			free(rcafile);
			dir = old;
			cafile = oldca;
			rcafile = roldca;
		} else {
			free(old);
			free(oldca);
			free(roldca);
		}
	}
	inv->cadir = dir;
	size_t sl = ssldir ? strlen(ssldir) : 0;
	inv->cadir_in_ssldir = sl && strncmp(dir, ssldir, sl) == 0 && dir[sl] == '/';
	if (!path_exists(rcafile)) {
		cw_status st = cw_error_set(err, CW_ENOTFOUND,
					    "no CA here: %s does not exist; run certwiz inventory on the CA server, or "
					    "set cadir (puppet.conf, or vars = { cadir = ...; } in certwiz.cfg)",
					    cafile);
		free(cafile);
		free(rcafile);
		inventory_done(inv);
		return st;
	}
	cw_status st = read_cas(rcafile, inv, err);
	free(cafile);
	free(rcafile);
	if (st != CW_OK) {
		inventory_done(inv);
		return st;
	}

	char *rdir = rooted(root, dir);
	char *crlfile = path_join(rdir, "ca_crl.pem"), *crl = NULL;
	size_t len = 0;
	struct cw_error ce = {0};
	if (file_read(crlfile, X509_PEM_MAX, &crl, &len, &ce) != CW_OK)
		strv_push_owned(&inv->warnings, xasprintf("no CRL: %s; revocation was not checked", ce.msg));
	else if (x509_parse_crls(crl, len, &inv->crls, &inv->ncrls, &ce) != CW_OK)
		strv_push_owned(&inv->warnings,
				xasprintf("%s cannot be read (%s); revocation was not checked", crlfile, ce.msg));
	free(crl);
	free(crlfile);

	char *signed_dir = path_join(rdir, "signed");
	read_signed(signed_dir, inv);
	free(signed_dir);

	char **serials;
	size_t nserials;
	char *invfile = path_join(rdir, "inventory.txt");
	read_inventory(invfile, inv, &serials, &nserials);
	free(invfile);
	free(rdir);
	judge(inv, (const char *const *)serials, nserials);
	strv_free(serials);
	if (inv->has_inventory_txt) {
		size_t missing = 0;
		for (size_t i = 0; i < inv->n; i++)
			missing += inv->entries[i].state != INV_UNREADABLE && !inv->entries[i].in_inventory;
		if (missing)
			strv_push_owned(&inv->warnings,
					xasprintf("%zu signed certificate(s) are not in inventory.txt (imported or "
						  "copied in by hand)", missing));
	}
	if (inv->n)
		qsort(inv->entries, inv->n, sizeof *inv->entries, entry_cmp);
	for (size_t i = 0; i < inv->n; i++)
		inv->counts[inv->entries[i].state]++;
	return CW_OK;
}

void inventory_done(struct inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++) {
		free(inv->entries[i].certname);
		free(inv->entries[i].error);
		x509_info_done(&inv->entries[i].cert);
	}
	free(inv->entries);
	for (size_t i = 0; i < inv->ncas; i++)
		x509_info_done(&inv->cas[i]);
	free(inv->cas);
	x509_crl_infos_free(inv->crls, inv->ncrls);
	free(inv->cadir);
	free(inv->cadir_note);
	strv_free(inv->unlisted);
	strv_free(inv->warnings);
	memset(inv, 0, sizeof *inv);
}

int inventory_worst(const struct inventory *inv)
{
	int worst = inv->counts[INV_EXPIRED] || inv->counts[INV_UNREADABLE] ? 2 : inv->counts[INV_EXPIRING] ? 1 : 0;
	for (size_t i = 0; i < inv->ncas; i++) {
		enum inv_state s = date_state((long)inv->cas[i].not_after, inv->now, inv->within);
		worst = s == INV_EXPIRED ? 2 : s == INV_EXPIRING && worst < 1 ? 1 : worst;
	}
	for (size_t i = 0; i < inv->ncrls; i++) {
		if (!inv->crls[i].next_update)
			continue;
		enum inv_state s = date_state((long)inv->crls[i].next_update, inv->now, inv->within);
		worst = s == INV_EXPIRED ? 2 : s == INV_EXPIRING && worst < 1 ? 1 : worst;
	}
	return worst;
}

char **inventory_expiring_agents(const struct inventory *inv, const char *skip)
{
	char **out = NULL;
	for (size_t i = 0; i < inv->n; i++) {
		const struct inventory_entry *e = &inv->entries[i];
		if ((e->state == INV_EXPIRING || e->state == INV_EXPIRED) && e->valid_name && !e->cert.is_ca &&
		    !(skip && strcmp(e->certname, skip) == 0))
			strv_push(&out, e->certname);
	}
	return out;
}

char *inventory_agents_file_text(const struct inventory *inv, char *const *agents)
{
	struct strbuf sb;
	char when[32];
	strbuf_init(&sb);
	strbuf_addf(&sb,
		    "# Agents whose certificates expire within %d days (or have expired), from the CA in %s\n"
		    "# at %s, written by certwiz inventory. Regenerate them with:\n"
		    "#   certwiz plan --procedure agent --agents-file THIS_FILE\n",
		    inv->within, inv->cadir, time_iso8601(inv->now, when));
	for (size_t i = 0; agents && agents[i]; i++)
		strbuf_addf(&sb, "%s\n", agents[i]);
	return strbuf_detach(&sb);
}

/* ---- output ---- */

static bool listed(const struct inventory_entry *e, bool only_expiring)
{
	return !only_expiring || e->state == INV_EXPIRING || e->state == INV_EXPIRED || e->state == INV_UNREADABLE;
}

/* Alt names other than the certname itself, comma separated ("-" when none). Heap. */
static char *alt_names(const struct inventory_entry *e)
{
	char **v = NULL;
	for (size_t i = 0; e->cert.san_dns && e->cert.san_dns[i]; i++)
		if (strcmp(e->cert.san_dns[i], e->certname) != 0)
			strv_push(&v, e->cert.san_dns[i]);
	char *s = v ? strv_join(v, ",") : xstrdup("-");
	strv_free(v);
	return s;
}

static const char *days_word(long days, char buf[48])
{
	if (days < 0)
		snprintf(buf, 48, "expired %ld days ago", -days);
	else
		snprintf(buf, 48, "in %ld days", days);
	return buf;
}

void inventory_format_text(const struct inventory *inv, bool only_expiring, struct strbuf *sb)
{
	char when[32], dw[48];
	strbuf_addf(sb, "CA directory   %s (%s)\n", inv->cadir,
		    inv->cadir_in_ssldir ? "inside the ssldir: Puppet 5 and PE before 2021"
					 : "the puppetserver layout: Puppet 6 and later");
	if (inv->cadir_note)
		strbuf_addf(sb, "               %s\n", inv->cadir_note);
	for (size_t i = 0; i < inv->ncas; i++) {
		const struct x509_info *c = &inv->cas[i];
		long d = inventory_days_left((long)c->not_after, inv->now);
		strbuf_addf(sb, "%-14s %s, expires %s (%s), serial %s%s\n",
			    i == 0 ? "CA certificate" : "", c->subject_cn, time_iso8601((long)c->not_after, when),
			    days_word(d, dw), c->serial,
			    inv->ncas > 1 ? (strcmp(c->subject_cn, c->issuer_cn) == 0 ? " (root)" : " (intermediate)") : "");
	}
	for (size_t i = 0; i < inv->ncrls; i++) {
		const struct x509_crl_info *c = &inv->crls[i];
		if (c->next_update)
			strbuf_addf(sb, "%-14s from %s, next update %s (%s), %zu revoked%s%s\n", i == 0 ? "CRL" : "",
				    c->issuer_cn, time_iso8601((long)c->next_update, when),
				    days_word(inventory_days_left((long)c->next_update, inv->now), dw), c->nrevoked,
				    c->number[0] ? ", number " : "", c->number);
		else
			strbuf_addf(sb, "%-14s from %s, no next update, %zu revoked\n", i == 0 ? "CRL" : "",
				    c->issuer_cn, c->nrevoked);
	}
	strbuf_addf(sb, "%-14s %zu: %zu ok, %zu expiring within %d days, %zu expired, %zu revoked, %zu unreadable\n",
		    "signed", inv->n, inv->counts[INV_OK], inv->counts[INV_EXPIRING], inv->within,
		    inv->counts[INV_EXPIRED], inv->counts[INV_REVOKED], inv->counts[INV_UNREADABLE]);
	if (inv->has_inventory_txt)
		strbuf_addf(sb, "%-14s %zu certificates recorded\n", "inventory.txt", inv->inventory_lines);
	size_t width = 8;
	for (size_t i = 0; i < inv->n; i++)
		if (listed(&inv->entries[i], only_expiring) && strlen(inv->entries[i].certname) > width)
			width = strlen(inv->entries[i].certname);
	if (width > 60)
		width = 60;
	bool header = false;
	for (size_t i = 0; i < inv->n; i++) {
		const struct inventory_entry *e = &inv->entries[i];
		if (!listed(e, only_expiring))
			continue;
		if (!header) {
			strbuf_addf(sb, "\n%-10s %6s  %-20s  %-*s  %-10s  %s\n", "STATE", "DAYS", "EXPIRES", (int)width,
				    "CERTNAME", "SERIAL", "ALT NAMES");
			header = true;
		}
		if (e->state == INV_UNREADABLE) {
			strbuf_addf(sb, "%-10s %6s  %-20s  %-*s  %s\n", "unreadable", "-", "-", (int)width, e->certname,
				    e->error);
			continue;
		}
		char *alt = alt_names(e);
		strbuf_addf(sb, "%-10s %6ld  %-20s  %-*s  %-10s  %s\n", inv_state_str(e->state), e->days_left,
			    time_iso8601((long)e->cert.not_after, when), (int)width, e->certname, e->cert.serial, alt);
		free(alt);
	}
	if (!header && only_expiring)
		strbuf_addf(sb, "\nNo signed certificate expires within %d days.\n", inv->within);
	size_t nun = strv_len(inv->unlisted);
	if (nun) {
		strbuf_addf(sb, "\ninventory.txt lists %zu valid, unrevoked certificate(s) with no file in signed/ "
			    "(deleted without revoking: revoke them with the CA if they are no longer used):\n", nun);
		for (size_t i = 0; i < nun && i < 20; i++)
			strbuf_addf(sb, "  %s\n", inv->unlisted[i]);
		if (nun > 20)
			strbuf_addf(sb, "  ... and %zu more (--json lists all)\n", nun - 20);
	}
	for (size_t i = 0; inv->warnings && inv->warnings[i]; i++)
		strbuf_addf(sb, "%sWARN %s\n", i == 0 ? "\n" : "", inv->warnings[i]);
}

static json_object *jtime(long t)
{
	char buf[32];
	return t ? json_object_new_string(time_iso8601(t, buf)) : NULL;
}

static json_object *jstrv(char *const *v)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; v && v[i]; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

void inventory_format_json(const struct inventory *inv, bool only_expiring, struct strbuf *sb)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "format", json_object_new_string("certwiz-inventory-1"));
	json_object_object_add(o, "cadir", json_object_new_string(inv->cadir));
	json_object_object_add(o, "layout", json_object_new_string(inv->cadir_in_ssldir ? "ssldir" : "puppetserver"));
	json_object_object_add(o, "now", jtime(inv->now));
	json_object_object_add(o, "within_days", json_object_new_int(inv->within));
	json_object *cas = json_object_new_array();
	for (size_t i = 0; i < inv->ncas; i++) {
		const struct x509_info *c = &inv->cas[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "subject", json_object_new_string(c->subject_cn));
		json_object_object_add(j, "issuer", json_object_new_string(c->issuer_cn));
		json_object_object_add(j, "serial", json_object_new_string(c->serial));
		json_object_object_add(j, "not_before", jtime((long)c->not_before));
		json_object_object_add(j, "not_after", jtime((long)c->not_after));
		json_object_object_add(j, "days_left", json_object_new_int64(inventory_days_left((long)c->not_after, inv->now)));
		json_object_object_add(j, "state", json_object_new_string(inv_state_str(
			date_state((long)c->not_after, inv->now, inv->within))));
		json_object_array_add(cas, j);
	}
	json_object_object_add(o, "ca", cas);
	json_object *crls = json_object_new_array();
	for (size_t i = 0; i < inv->ncrls; i++) {
		const struct x509_crl_info *c = &inv->crls[i];
		json_object *j = json_object_new_object();
		json_object_object_add(j, "issuer", json_object_new_string(c->issuer_cn));
		json_object_object_add(j, "last_update", jtime((long)c->last_update));
		json_object_object_add(j, "next_update", jtime((long)c->next_update));
		if (c->next_update) {
			json_object_object_add(j, "days_left",
					       json_object_new_int64(inventory_days_left((long)c->next_update, inv->now)));
			json_object_object_add(j, "state", json_object_new_string(inv_state_str(
				date_state((long)c->next_update, inv->now, inv->within))));
		}
		json_object_object_add(j, "number", c->number[0] ? json_object_new_string(c->number) : NULL);
		json_object_object_add(j, "revoked", json_object_new_int64((int64_t)c->nrevoked));
		json_object_array_add(crls, j);
	}
	json_object_object_add(o, "crls", crls);
	json_object *counts = json_object_new_object();
	json_object_object_add(counts, "signed", json_object_new_int64((int64_t)inv->n));
	for (int s = 0; s < INV_STATE_COUNT; s++)
		json_object_object_add(counts, inv_state_str((enum inv_state)s), json_object_new_int64((int64_t)inv->counts[s]));
	json_object_object_add(o, "counts", counts);
	json_object_object_add(o, "worst", json_object_new_int(inventory_worst(inv)));
	json_object_object_add(o, "unlisted", jstrv(inv->unlisted));
	json_object_object_add(o, "warnings", jstrv(inv->warnings));
	/* The certificates are written one at a time, so a CA of 10,000 never holds them all as
	 * JSON objects at once: the head without its closing brace, then the array. */
	const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
	const char *head = json_object_to_json_string_ext(o, flags);
	strbuf_add(sb, head, strlen(head) - 1);
	strbuf_adds(sb, ",\"certificates\":[");
	bool first = true;
	for (size_t i = 0; i < inv->n; i++) {
		const struct inventory_entry *e = &inv->entries[i];
		if (!listed(e, only_expiring))
			continue;
		json_object *j = json_object_new_object();
		json_object_object_add(j, "certname", json_object_new_string(e->certname));
		json_object_object_add(j, "state", json_object_new_string(inv_state_str(e->state)));
		if (e->state == INV_UNREADABLE) {
			json_object_object_add(j, "error", json_object_new_string(e->error));
		} else {
			json_object_object_add(j, "serial", json_object_new_string(e->cert.serial));
			json_object_object_add(j, "not_before", jtime((long)e->cert.not_before));
			json_object_object_add(j, "not_after", jtime((long)e->cert.not_after));
			json_object_object_add(j, "days_left", json_object_new_int64(e->days_left));
			json_object_object_add(j, "revoked", json_object_new_boolean(e->state == INV_REVOKED));
			json_object_object_add(j, "issuer", json_object_new_string(e->cert.issuer_cn));
			json_object_object_add(j, "dns_alt_names", jstrv(e->cert.san_dns));
			json_object_object_add(j, "in_inventory_txt", json_object_new_boolean(e->in_inventory));
		}
		strbuf_adds(sb, first ? "\n" : ",\n");
		strbuf_adds(sb, json_object_to_json_string_ext(j, flags));
		json_object_put(j);
		first = false;
	}
	strbuf_adds(sb, "]}\n");
	json_object_put(o);
}

char **inventory_fixes(const struct inventory *inv, const char *self, const char *ca_procedure,
		       char *const *agents, const char *agents_file)
{
	char **out = NULL;
	size_t n = strv_len(agents);
	if (n && agents_file)
		strv_push_owned(&out, xasprintf("%zu agent certificate(s) expire within %d days (listed in %s): "
						"certwiz plan --procedure agent --agents-file %s",
						n, inv->within, agents_file, agents_file));
	else if (n)
		strv_push_owned(&out, xasprintf("%zu agent certificate(s) expire within %d days: certwiz inventory "
						"--within %d --write-agents expiring-agents.txt, then certwiz plan "
						"--procedure agent --agents-file expiring-agents.txt",
						n, inv->within, inv->within));
	for (size_t i = 0; self && i < inv->n; i++) {
		const struct inventory_entry *e = &inv->entries[i];
		if (strcmp(e->certname, self) == 0 && (e->state == INV_EXPIRING || e->state == INV_EXPIRED))
			strv_push_owned(&out, xasprintf("the CA server's own certificate (%s) %s: certwiz plan "
							"--procedure primary", self,
							e->state == INV_EXPIRED ? "has expired" : "expires soon"));
	}
	for (size_t i = 0; i < inv->ncas; i++) {
		if (date_state((long)inv->cas[i].not_after, inv->now, inv->within) != INV_OK) {
			strv_push_owned(&out, xasprintf("the CA certificate (%s) expires: %s; if its key must change "
							"too: certwiz plan --procedure %s",
							inv->cas[i].subject_cn, INVENTORY_CA_FIX,
							ca_procedure ? ca_procedure : "oss-ca"));
			break;
		}
	}
	for (size_t i = 0; i < inv->ncrls; i++) {
		if (inv->crls[i].next_update &&
		    date_state((long)inv->crls[i].next_update, inv->now, inv->within) != INV_OK) {
			strv_push_owned(&out, xasprintf("the CRL from %s is due for its next update: %s",
							inv->crls[i].issuer_cn, INVENTORY_CRL_FIX));
			break;
		}
	}
	return out;
}
