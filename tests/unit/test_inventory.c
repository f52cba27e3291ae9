/* test_inventory.c: unit tests for core/inventory: CA directories in both layouts are made at
 * test time with the OpenSSL C API (testpki.h) and read back. */
#include "testutil.h"

#include <json-c/json.h>
#include <sys/stat.h>

#include "inventory.h"
#include "util.h"
#include "testpki.h"

#define DAY (24L * 3600)

struct fx {
	char *root;
	time_t now;
};

static void put(const char *root, const char *rel, const char *text)
{
	test_put(root, rel, text);
}

static void put_cert(const char *root, const char *rel, X509 *x)
{
	char *pem = pem_cert(x);
	put(root, rel, pem);
	free(pem);
}

/* "0x002A 2026-01-01T00:00:00UTC 2031-01-01T00:00:00UTC /CN=name" */
static void inv_line(struct strbuf *sb, long serial, time_t nb, time_t na, const char *cn)
{
	char a[32], b[32];
	strftime(a, sizeof a, "%Y-%m-%dT%H:%M:%SUTC", gmtime(&nb));
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SUTC", gmtime(&na));
	strbuf_addf(sb, "0x%04lx %s %s /CN=%s\n", serial, a, b, cn);
}

/* A CA in cadir (below root): two-tier (root + intermediate, as `puppetserver ca setup`
 * makes it) or a single self-signed CA (Puppet 5). Signed certificates:
 *   puppet.example.com  the CA server, alt names puppet, puppet.example.com, 20 days left
 *   agent1.example.com  365 days          agent2.example.com  10 days
 *   agent3.example.com  expired 2 days ago   revoked.example.com  on the CRL
 *   junk.pem            not a certificate
 * inventory.txt also lists ghost.example.com (valid, not revoked, no file), gone.example.com
 * (revoked, no file) and one damaged line. */
static void make_ca(const char *root, const char *cadir, bool two_tier, time_t now)
{
	EVP_PKEY *rk = gen_ec(), *ik = two_tier ? gen_ec() : NULL, *lk = gen_ec();
	X509 *rootca = make_cert(two_tier ? "Puppet Root CA: test" : "Puppet CA: puppet.example.com", NULL, rk, rk,
				 true, 1, now - 400 * DAY, now + 3000 * DAY, NULL);
	X509 *issuer = rootca;
	EVP_PKEY *issuer_key = rk;
	if (two_tier) {
		issuer = make_cert("Puppet CA: puppet.example.com", rootca, rk, ik, true, 2, now - 400 * DAY,
				   now + 2000 * DAY, NULL);
		issuer_key = ik;
	}
	struct strbuf rel, inv;
	strbuf_init(&rel);
	strbuf_init(&inv);
	strbuf_addf(&rel, "%s/ca_crt.pem", cadir);
	if (two_tier) {
		char *a = pem_cert(issuer), *b = pem_cert(rootca), *bundle = xasprintf("%s%s", a, b);
		put(root, rel.buf, bundle);
		free(a);
		free(b);
		free(bundle);
	} else {
		put_cert(root, rel.buf, rootca);
	}
	struct {
		const char *cn;
		long serial;
		long nb, na; /* days from now */
		const char *san;
	} certs[] = {
		{"puppet.example.com", 3, -400, 20, "DNS:puppet,DNS:puppet.example.com"},
		{"agent1.example.com", 4, -1, 365, "DNS:agent1.example.com"},
		{"agent2.example.com", 5, -355, 10, NULL},
		{"agent3.example.com", 6, -365, -2, NULL},
		{"revoked.example.com", 0x1A, -10, 300, NULL},
	};
	for (size_t i = 0; i < sizeof certs / sizeof *certs; i++) {
		X509 *x = make_cert(certs[i].cn, issuer, issuer_key, lk, false, certs[i].serial,
				    now + certs[i].nb * DAY, now + certs[i].na * DAY, certs[i].san);
		strbuf_reset(&rel);
		strbuf_addf(&rel, "%s/signed/%s.pem", cadir, certs[i].cn);
		put_cert(root, rel.buf, x);
		inv_line(&inv, certs[i].serial, now + certs[i].nb * DAY, now + certs[i].na * DAY, certs[i].cn);
		X509_free(x);
	}
	strbuf_reset(&rel);
	strbuf_addf(&rel, "%s/signed/junk.pem", cadir);
	put(root, rel.buf, "not a certificate\n");
	inv_line(&inv, 0x20, now - 30 * DAY, now + 100 * DAY, "ghost.example.com");
	inv_line(&inv, 0x21, now - 30 * DAY, now + 100 * DAY, "gone.example.com");
	inv_line(&inv, 0x22, now - 900 * DAY, now - 100 * DAY, "old.example.com");
	strbuf_adds(&inv, "garbage line\n");
	strbuf_reset(&rel);
	strbuf_addf(&rel, "%s/inventory.txt", cadir);
	put(root, rel.buf, inv.buf);

	long revoked[] = {0x1A, 0x21};
	char *crl = pem_crl(make_crl(issuer, issuer_key, revoked, 2, now - DAY, now + 5 * 365 * DAY));
	if (two_tier) {
		char *rcrl = pem_crl(make_crl(rootca, rk, NULL, 0, now - DAY, now + 5 * 365 * DAY));
		char *both = xasprintf("%s%s", crl, rcrl);
		free(crl);
		free(rcrl);
		crl = both;
	}
	strbuf_reset(&rel);
	strbuf_addf(&rel, "%s/ca_crl.pem", cadir);
	put(root, rel.buf, crl);
	free(crl);
	strbuf_done(&rel);
	strbuf_done(&inv);
	if (two_tier)
		X509_free(issuer);
	X509_free(rootca);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(lk);
}

#define MODERN_CADIR "/etc/puppet/puppetserver/ca"
#define MODERN_SSLDIR "/var/lib/puppet/ssl"
#define OLD_SSLDIR "/etc/puppetlabs/puppet/ssl"
#define OLD_CADIR "/etc/puppetlabs/puppet/ssl/ca"

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->root = test_tmpdir();
	f->now = time(NULL);
	make_ca(f->root, MODERN_CADIR, true, f->now);
	make_ca(f->root, OLD_CADIR, false, f->now);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	test_rmrf(f->root);
	free(f->root);
	free(f);
	return 0;
}

static const struct inventory_entry *find(const struct inventory *inv, const char *certname)
{
	for (size_t i = 0; i < inv->n; i++)
		if (strcmp(inv->entries[i].certname, certname) == 0)
			return &inv->entries[i];
	fail_msg("no entry for %s", certname);
	return NULL;
}

/* What both layouts must show. */
static void check_common(const struct inventory *inv)
{
	assert_int_equal(inv->n, 6);
	assert_int_equal(inv->counts[INV_OK], 1);
	assert_int_equal(inv->counts[INV_EXPIRING], 2);
	assert_int_equal(inv->counts[INV_EXPIRED], 1);
	assert_int_equal(inv->counts[INV_REVOKED], 1);
	assert_int_equal(inv->counts[INV_UNREADABLE], 1);

	const struct inventory_entry *e = find(inv, "agent1.example.com");
	assert_int_equal(e->state, INV_OK);
	assert_int_equal(e->days_left, 365);
	assert_string_equal(e->cert.serial, "4");
	assert_true(e->in_inventory);
	e = find(inv, "agent2.example.com");
	assert_int_equal(e->state, INV_EXPIRING);
	e = find(inv, "agent3.example.com");
	assert_int_equal(e->state, INV_EXPIRED);
	assert_int_equal(e->days_left, -2);
	e = find(inv, "revoked.example.com");
	assert_int_equal(e->state, INV_REVOKED);
	assert_string_equal(e->cert.serial, "1A");
	e = find(inv, "puppet.example.com");
	assert_int_equal(e->state, INV_EXPIRING);
	assert_non_null(e->cert.san_dns);
	assert_string_equal(e->cert.san_dns[0], "puppet");
	e = find(inv, "junk");
	assert_int_equal(e->state, INV_UNREADABLE);
	assert_non_null(strstr(e->error, "BEGIN CERTIFICATE"));
	/* Unreadable first, then the soonest notAfter. */
	assert_string_equal(inv->entries[0].certname, "junk");
	assert_string_equal(inv->entries[1].certname, "agent3.example.com");
	assert_string_equal(inv->entries[2].certname, "agent2.example.com");

	assert_true(inv->has_inventory_txt);
	assert_int_equal(inv->inventory_lines, 8);
	/* ghost: valid, unrevoked, no file. gone (revoked) and old (expired) are not listed. */
	assert_int_equal(strv_len(inv->unlisted), 1);
	assert_non_null(strstr(inv->unlisted[0], "ghost.example.com serial 20"));
	assert_int_equal(inventory_worst(inv), 2);

	char **agents = inventory_expiring_agents(inv, "puppet.example.com");
	assert_int_equal(strv_len(agents), 2);
	assert_string_equal(agents[0], "agent3.example.com");
	assert_string_equal(agents[1], "agent2.example.com");
	strv_free(agents);
}

static void test_two_tier_puppetserver_layout(void **state)
{
	struct fx *f = *state;
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, MODERN_CADIR, MODERN_SSLDIR, (long)f->now, 30, &inv, &err), CW_OK);
	assert_string_equal(inv.cadir, MODERN_CADIR);
	assert_false(inv.cadir_in_ssldir);
	assert_null(inv.cadir_note);
	assert_int_equal(inv.ncas, 2);
	assert_string_equal(inv.cas[0].subject_cn, "Puppet CA: puppet.example.com");
	assert_string_equal(inv.cas[1].subject_cn, "Puppet Root CA: test");
	assert_int_equal(inv.ncrls, 2);
	assert_int_equal(inv.crls[0].nrevoked, 2);
	assert_int_equal(inv.crls[1].nrevoked, 0);
	check_common(&inv);
	inventory_done(&inv);
}

static void test_single_ca_in_ssldir(void **state)
{
	struct fx *f = *state;
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, OLD_CADIR, OLD_SSLDIR, (long)f->now, 30, &inv, &err), CW_OK);
	assert_true(inv.cadir_in_ssldir);
	assert_int_equal(inv.ncas, 1);
	assert_int_equal(inv.ncrls, 1);
	check_common(&inv);
	inventory_done(&inv);
}

/* A Puppet 6+ profile whose CA still lives in $ssldir/ca: that one is read, and said so. */
static void test_old_place_found(void **state)
{
	struct fx *f = *state;
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, "/etc/puppetlabs/puppetserver/ca", OLD_SSLDIR, (long)f->now, 30, &inv,
					&err),
			 CW_OK);
	assert_string_equal(inv.cadir, OLD_CADIR);
	assert_non_null(inv.cadir_note);
	assert_non_null(strstr(inv.cadir_note, "the CA is in " OLD_CADIR));
	inventory_done(&inv);
}

static void test_no_ca(void **state)
{
	struct fx *f = *state;
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, "/srv/nothing/ca", "/srv/nothing/ssl", 0, 30, &inv, &err),
			 CW_ENOTFOUND);
	assert_non_null(strstr(err.msg, "/srv/nothing/ca/ca_crt.pem does not exist"));
	assert_non_null(strstr(err.msg, "run certwiz inventory on the CA server"));
	assert_null(inv.entries);
}

/* A CA with nothing signed yet, no CRL and no inventory.txt: nothing to do, and said why. */
static void test_empty_ca(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *k = gen_ec();
	X509 *ca = make_cert("Puppet CA: empty", NULL, k, k, true, 1, f->now - DAY, f->now + 900 * DAY, NULL);
	char *pem = pem_cert(ca);
	test_put(f->root, "/srv/empty/ca/ca_crt.pem", pem);
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, "/srv/empty/ca", "/srv/empty", (long)f->now, 30, &inv, &err), CW_OK);
	assert_int_equal(inv.n, 0);
	assert_int_equal(inv.ncrls, 0);
	assert_true(inv.cadir_in_ssldir);
	assert_false(inv.has_inventory_txt);
	assert_int_equal(inventory_worst(&inv), 0);
	char *w = strv_join(inv.warnings, "\n");
	assert_non_null(strstr(w, "no CRL"));
	assert_non_null(strstr(w, "/srv/empty/ca/signed cannot be read"));
	free(w);
	assert_null(inventory_expiring_agents(&inv, NULL));
	inventory_done(&inv);
	free(pem);
	X509_free(ca);
	EVP_PKEY_free(k);
}

/* The threshold moves entries between ok and expiring; the exit code follows. */
static void test_threshold_and_worst(void **state)
{
	struct fx *f = *state;
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, OLD_CADIR, OLD_SSLDIR, (long)f->now, 5, &inv, &err), CW_OK);
	assert_int_equal(inv.counts[INV_EXPIRING], 0);
	assert_int_equal(inv.counts[INV_OK], 3);
	inventory_done(&inv);
	/* Three days earlier, agent3 is still valid (1 day left), but junk.pem stays a failure. */
	assert_int_equal(inventory_read(f->root, OLD_CADIR, OLD_SSLDIR, (long)f->now - 3 * DAY, 5, &inv, &err),
			 CW_OK);
	assert_int_equal(inv.counts[INV_EXPIRED], 0);
	assert_int_equal(inv.counts[INV_EXPIRING], 1);
	assert_int_equal(inventory_worst(&inv), 2);
	inventory_done(&inv);
	/* Without the junk file: warn (1) then ok (0). */
	char *junk = path_join(f->root, OLD_CADIR "/signed/junk.pem");
	assert_int_equal(unlink(junk), 0);
	assert_int_equal(inventory_read(f->root, OLD_CADIR, OLD_SSLDIR, (long)f->now - 3 * DAY, 5, &inv, &err),
			 CW_OK);
	assert_int_equal(inventory_worst(&inv), 1);
	inventory_done(&inv);
	assert_int_equal(inventory_read(f->root, OLD_CADIR, OLD_SSLDIR, (long)f->now - 3 * DAY, 0, &inv, &err),
			 CW_OK);
	assert_int_equal(inventory_worst(&inv), 0);
	inventory_done(&inv);
	/* A CRL past its next update fails even when every certificate is fine. */
	assert_int_equal(inventory_read(f->root, OLD_CADIR, OLD_SSLDIR, (long)f->now + 6 * 365 * DAY, 0, &inv, &err),
			 CW_OK);
	bool crl_expired = inv.crls[0].next_update < (time_t)inv.now;
	assert_true(crl_expired);
	assert_int_equal(inventory_worst(&inv), 2);
	inventory_done(&inv);
	test_write(junk, "not a certificate\n");
	free(junk);
}

static void test_days_left_rounds_down(void **state)
{
	(void)state;
	assert_int_equal(inventory_days_left(1000, 1000), 0);
	assert_int_equal(inventory_days_left(1000 + DAY - 1, 1000), 0);
	assert_int_equal(inventory_days_left(1000 + DAY, 1000), 1);
	assert_int_equal(inventory_days_left(999, 1000), -1);
	assert_int_equal(inventory_days_left(1000 - DAY, 1000), -1);
	assert_int_equal(inventory_days_left(1000 - DAY - 1, 1000), -2);
}

static void test_text_and_fixes(void **state)
{
	struct fx *f = *state;
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, MODERN_CADIR, MODERN_SSLDIR, (long)f->now, 30, &inv, &err), CW_OK);
	struct strbuf sb;
	strbuf_init(&sb);
	inventory_format_text(&inv, true, &sb);
	assert_non_null(strstr(sb.buf, "CA directory   " MODERN_CADIR " (the puppetserver layout"));
	assert_non_null(strstr(sb.buf, "signed         6: 1 ok, 2 expiring within 30 days, 1 expired, 1 revoked, 1 unreadable"));
	assert_non_null(strstr(sb.buf, "(intermediate)"));
	assert_non_null(strstr(sb.buf, "ghost.example.com serial 20"));
	assert_non_null(strstr(sb.buf, "agent2.example.com"));
	/* only_expiring: the valid and the revoked ones are counted, not listed. */
	assert_null(strstr(sb.buf, "agent1.example.com"));
	assert_null(strstr(sb.buf, "revoked.example.com"));
	strbuf_reset(&sb);
	inventory_format_text(&inv, false, &sb);
	assert_non_null(strstr(sb.buf, "agent1.example.com"));
	assert_non_null(strstr(sb.buf, "revoked "));
	/* Alt names other than the certname itself, after the serial column. */
	const char *line = strstr(sb.buf, "puppet.example.com ");
	assert_non_null(line);
	assert_true(strncmp(line + strcspn(line, "\n") - 18, "3           puppet", 18) == 0);
	strbuf_done(&sb);

	char **agents = inventory_expiring_agents(&inv, "puppet.example.com");
	char **fixes = inventory_fixes(&inv, "puppet.example.com", "oss-ca", agents, "/root/expiring.txt");
	char *all = strv_join(fixes, "\n");
	assert_non_null(strstr(all, "2 agent certificate(s) expire within 30 days (listed in /root/expiring.txt): "
				    "certwiz plan --procedure agent --agents-file /root/expiring.txt"));
	assert_non_null(strstr(all, "(puppet.example.com) expires soon: certwiz plan --procedure primary"));
	assert_null(strstr(all, "CA certificate")); /* years left */
	free(all);
	strv_free(fixes);
	fixes = inventory_fixes(&inv, "puppet.example.com", "oss-ca", agents, NULL);
	assert_non_null(strstr(fixes[0], "--write-agents expiring-agents.txt"));
	strv_free(fixes);
	char *text = inventory_agents_file_text(&inv, agents);
	assert_non_null(strstr(text, "\nagent3.example.com\nagent2.example.com\n"));
	assert_null(strstr(text, "puppet.example.com\n"));
	free(text);
	strv_free(agents);
	inventory_done(&inv);

	/* Within 10 years, the CA is due too. */
	assert_int_equal(inventory_read(f->root, MODERN_CADIR, MODERN_SSLDIR, (long)f->now, 3650, &inv, &err), CW_OK);
	fixes = inventory_fixes(&inv, "puppet.example.com", "pe-monolithic", NULL, NULL);
	all = strv_join(fixes, "\n");
	assert_non_null(strstr(all, "the CA certificate (Puppet CA: puppet.example.com) expires: renew it with its own "
				    "key: certwiz inventory --within 36500 --write-agents all-agents.txt (every agent), "
				    "then certwiz plan --procedure ca-renew --agents-file all-agents.txt"));
	assert_non_null(strstr(all, "if its key must change too: certwiz plan --procedure pe-monolithic"));
	assert_non_null(strstr(all, "the CRL from Puppet CA: puppet.example.com is due for its next update: certwiz "
				    "inventory --within 36500 --write-agents all-agents.txt (every agent), then certwiz "
				    "plan --procedure crl-refresh --agents-file all-agents.txt"));
	free(all);
	strv_free(fixes);
	inventory_done(&inv);
}

static void test_json(void **state)
{
	struct fx *f = *state;
	struct inventory inv;
	struct cw_error err = {0};
	assert_int_equal(inventory_read(f->root, OLD_CADIR, OLD_SSLDIR, (long)f->now, 30, &inv, &err), CW_OK);
	struct strbuf sb;
	strbuf_init(&sb);
	inventory_format_json(&inv, false, &sb);
	json_object *o = json_tokener_parse(sb.buf);
	assert_non_null(o);
	json_object *v, *certs, *c;
	assert_true(json_object_object_get_ex(o, "layout", &v));
	assert_string_equal(json_object_get_string(v), "ssldir");
	assert_true(json_object_object_get_ex(o, "worst", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(o, "certificates", &certs));
	assert_int_equal(json_object_array_length(certs), 6);
	bool seen = false;
	for (size_t i = 0; i < json_object_array_length(certs); i++) {
		c = json_object_array_get_idx(certs, i);
		json_object_object_get_ex(c, "certname", &v);
		if (strcmp(json_object_get_string(v), "revoked.example.com") != 0)
			continue;
		seen = true;
		json_object_object_get_ex(c, "revoked", &v);
		assert_true(json_object_get_boolean(v));
		json_object_object_get_ex(c, "serial", &v);
		assert_string_equal(json_object_get_string(v), "1A");
		json_object_object_get_ex(c, "state", &v);
		assert_string_equal(json_object_get_string(v), "revoked");
	}
	assert_true(seen);
	json_object_put(o);
	strbuf_reset(&sb);
	inventory_format_json(&inv, true, &sb);
	o = json_tokener_parse(sb.buf);
	json_object_object_get_ex(o, "certificates", &certs);
	assert_int_equal(json_object_array_length(certs), 4); /* junk, agent3, agent2, puppet */
	json_object_put(o);
	strbuf_done(&sb);
	inventory_done(&inv);
}

/* The brief reading (DER walked by certwiz) gives what the full one (OpenSSL's X509) gives. */
static void test_brief_equals_full(void **state)
{
	(void)state;
	time_t now = time(NULL);
	EVP_PKEY *k = gen_ec();
	X509 *ca = make_cert("Puppet CA: brief", NULL, k, k, true, 0x0100, now - DAY, now + 9 * DAY, NULL);
	X509 *leaf = make_cert("web.example.com", ca, k, k, false, 0x7FEDCBA987654321L, now - 2 * DAY, now + 3 * DAY,
			       "DNS:web.example.com,IP:192.0.2.1,DNS:www.example.com");
	X509 *certs[] = {ca, leaf};
	for (size_t i = 0; i < 2; i++) {
		char *pem = pem_cert(certs[i]);
		struct x509_info full, brief;
		assert_int_equal(x509_parse_cert(pem, strlen(pem), &full, NULL), CW_OK);
		assert_int_equal(x509_parse_cert_brief(pem, strlen(pem), &brief, NULL), CW_OK);
		assert_string_equal(brief.subject_cn, full.subject_cn);
		assert_string_equal(brief.issuer_cn, full.issuer_cn);
		assert_string_equal(brief.serial, full.serial);
		assert_int_equal(brief.not_before, full.not_before);
		assert_int_equal(brief.not_after, full.not_after);
		assert_int_equal(brief.is_ca, full.is_ca);
		assert_int_equal(strv_len(brief.san_dns), strv_len(full.san_dns));
		for (size_t j = 0; j < strv_len(full.san_dns); j++)
			assert_string_equal(brief.san_dns[j], full.san_dns[j]);
		assert_string_equal(brief.fingerprint, "");
		x509_info_done(&full);
		x509_info_done(&brief);
		free(pem);
	}
	struct x509_info info;
	char *pem = pem_cert(leaf);
	assert_int_equal(x509_parse_cert_brief(pem, strlen(pem), &info, NULL), CW_OK);
	assert_string_equal(info.serial, "7FEDCBA987654321");
	assert_int_equal(strv_len(info.san_dns), 2);
	x509_info_done(&info);
	free(pem);

	/* Every truncation of the DER is refused, none read out of bounds (ASan build). */
	unsigned char *der = NULL;
	int n = i2d_X509(leaf, &der);
	assert_true(n > 0);
	for (int cut = 0; cut < n; cut++) {
		char b64[4096];
		int m = EVP_EncodeBlock((unsigned char *)b64, der, cut);
		char *text = xasprintf("-----BEGIN CERTIFICATE-----\n%.*s\n-----END CERTIFICATE-----\n", m, b64);
		struct cw_error err = {0};
		assert_int_not_equal(x509_parse_cert_brief(text, strlen(text), &info, &err), CW_OK);
		assert_null(info.subject_cn);
		free(text);
	}
	OPENSSL_free(der);
	X509_free(leaf);
	X509_free(ca);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_tier_puppetserver_layout),
		cmocka_unit_test(test_single_ca_in_ssldir),
		cmocka_unit_test(test_old_place_found),
		cmocka_unit_test(test_no_ca),
		cmocka_unit_test(test_empty_ca),
		cmocka_unit_test(test_threshold_and_worst),
		cmocka_unit_test(test_days_left_rounds_down),
		cmocka_unit_test(test_text_and_fixes),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_brief_equals_full),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
