/* test_carenew.c: unit tests for re-issuing a CA with its own keys (x509_ca_reissue, ca_renew):
 * a Puppet 5 style single CA and a two-tier CA made at test time (testpki.h); every result is
 * read back and verified with OpenSSL itself, at a time after the old CA's end. */
#include "testutil.h"

#include <sys/stat.h>

#include "carenew.h"
#include "plan.h"
#include "transport.h"
#include "verify.h"
#include "util.h"
#include "x509.h"
#include "testpki.h"

#define DAY (24L * 3600)

static char *key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	ssl_check(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), "write key");
	return bio_text(b);
}

/* A certificate with the authorityKeyIdentifier aki: Puppet 5's CA is self-signed with
 * "issuer:always" (its own name and serial 1, no key id); Puppet 5's agents have "keyid:always";
 * Puppet Server's agents "keyid:always,issuer:always" (the intermediate's serial, 02). */
static X509 *p5_cert(const char *cn, X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *key, bool ca, long serial,
		     time_t nb, time_t na, const char *aki)
{
	X509 *x = X509_new();
	ssl_check(x && X509_set_version(x, 2), "X509_new");
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	ssl_check(ASN1_TIME_set(X509_getm_notBefore(x), nb) && ASN1_TIME_set(X509_getm_notAfter(x), na), "dates");
	X509_NAME *name = X509_get_subject_name(x);
	ssl_check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0), "CN");
	ssl_check(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), "issuer");
	ssl_check(X509_set_pubkey(x, key), "pubkey");
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	add_ext(x, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	add_ext(x, &v3, NID_authority_key_identifier, aki);
	ssl_check(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "sign");
	return x;
}

/* Verify leaf against bundle at a time, with OpenSSL alone (not certwiz's verifier). */
static bool openssl_verifies(const char *leaf_pem, const char *bundle, time_t at)
{
	X509_STORE *store = X509_STORE_new();
	BIO *b = BIO_new_mem_buf(bundle, -1);
	X509 *x;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		X509_STORE_add_cert(store, x);
		X509_free(x);
	}
	BIO_free(b);
	ERR_clear_error();
	b = BIO_new_mem_buf(leaf_pem, -1);
	X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_STORE_CTX_init(ctx, store, leaf, NULL);
	X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), at);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_CHECK_SS_SIGNATURE);
	bool ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

/* The nth certificate of a bundle. */
static X509 *nth(const char *pem, int n)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = NULL;
	for (int i = 0; i <= n; i++) {
		X509_free(x);
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	}
	BIO_free(b);
	assert_non_null(x);
	return x;
}

static time_t t_of(const ASN1_TIME *t)
{
	struct tm tm = {0};
	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return timegm(&tm);
}

static void assert_same_ext(X509 *a, X509 *b, int nid)
{
	int ia = X509_get_ext_by_NID(a, nid, -1), ib = X509_get_ext_by_NID(b, nid, -1);
	assert_true(ia >= 0 && ib >= 0);
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(X509_get_ext(a, ia)),
					       X509_EXTENSION_get_data(X509_get_ext(b, ib))),
			 0);
}

/* What must hold between an old CA certificate and its new issue. */
static void assert_reissued(X509 *old, X509 *fresh, time_t now, int days)
{
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(old), X509_get0_pubkey(fresh)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(old), X509_get_subject_name(fresh)), 0);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(old), X509_get_issuer_name(fresh)), 0);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get_serialNumber(old), X509_get_serialNumber(fresh)), 0);
	assert_same_ext(old, fresh, NID_subject_key_identifier);
	assert_same_ext(old, fresh, NID_basic_constraints);
	assert_same_ext(old, fresh, NID_key_usage);
	assert_int_equal(X509_get_ext_count(old), X509_get_ext_count(fresh));
	assert_int_equal(t_of(X509_get0_notBefore(fresh)), now - DAY);
	assert_int_equal(t_of(X509_get0_notAfter(fresh)), now + (time_t)days * DAY);
}

struct dir {
	char *top, *cadir, *ca, *signed_dir;
};

static void mkca(struct dir *d, const char *bundle, const char *ca_key, const char *root_key)
{
	d->top = test_tmpdir();
	d->cadir = path_join(d->top, "ca");
	d->ca = path_join(d->cadir, "ca_crt.pem");
	d->signed_dir = path_join(d->cadir, "signed");
	assert_int_equal(mkdir(d->cadir, 0750), 0);
	assert_int_equal(mkdir(d->signed_dir, 0755), 0);
	test_write(d->ca, bundle);
	char *p = path_join(d->cadir, "ca_key.pem");
	test_write(p, ca_key);
	free(p);
	if (root_key) {
		p = path_join(d->cadir, "root_key.pem");
		test_write(p, root_key);
		free(p);
	}
}

static void add_signed(struct dir *d, const char *name, const char *pem)
{
	char *p = path_join(d->signed_dir, name);
	test_write(p, pem);
	free(p);
}

static void rmca(struct dir *d)
{
	test_rmrf(d->top);
	free(d->top);
	free(d->cadir);
	free(d->ca);
	free(d->signed_dir);
}

/* Puppet 5: one self-signed CA five days from its end, a leaf that outlives it. */
static void test_single_ca(void **state)
{
	(void)state;
	time_t now = time(NULL);
	EVP_PKEY *ca_key = gen_ec(), *leaf_key = gen_ec();
	X509 *ca = p5_cert("Puppet CA: puppet.example.com", NULL, NULL, ca_key, true, 1, now - 1820 * DAY,
			   now + 5 * DAY, "issuer:always");
	X509 *leaf = p5_cert("agent1.example.com", ca, ca_key, leaf_key, false, 5, now - 10 * DAY,
			     now + 1000 * DAY, "keyid:always");
	char *ca_pem = pem_cert(ca), *leaf_pem = pem_cert(leaf), *kp = key_pem(ca_key);
	struct dir d;
	mkca(&d, ca_pem, kp, NULL);
	add_signed(&d, "agent1.example.com.pem", leaf_pem);
	assert_int_equal(chmod(d.ca, 0644), 0);
	uid_t owner = geteuid() == 0 ? 65534 : geteuid(); /* as root: a file of another owner */
	assert_int_equal(chown(d.ca, owner, owner == 65534 ? 65534 : getegid()), 0);

	time_t after_old = now + 6 * DAY;
	assert_true(openssl_verifies(leaf_pem, ca_pem, now));
	assert_false(openssl_verifies(leaf_pem, ca_pem, after_old)); /* the fixture can fail */

	struct strbuf out;
	strbuf_init(&out);
	struct cw_error err = {0};
	assert_int_equal(ca_renew(NULL, d.cadir, 5475, now, &out, &err), CW_OK);
	char *fresh = test_slurp(d.ca);
	X509 *n = nth(fresh, 0);
	assert_reissued(ca, n, now, 5475);
	/* Puppet 5's AKI names the issuer's serial: the new one, its own. */
	AUTHORITY_KEYID *akid = X509_get_ext_d2i(n, NID_authority_key_identifier, NULL, NULL);
	assert_non_null(akid);
	assert_non_null(akid->serial);
	assert_int_equal(ASN1_INTEGER_cmp(akid->serial, X509_get_serialNumber(n)), 0);
	AUTHORITY_KEYID_free(akid);
	assert_int_equal(X509_check_issued(n, n), X509_V_OK);
	assert_true(openssl_verifies(leaf_pem, fresh, now));
	assert_true(openssl_verifies(leaf_pem, fresh, after_old));
	assert_true(openssl_verifies(leaf_pem, fresh, now + 999 * DAY));
	assert_true(openssl_verifies(fresh, fresh, now + 5000 * DAY));
	/* Owner and mode kept; no key in the report. */
	struct stat st;
	assert_int_equal(stat(d.ca, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(st.st_uid, owner);
	assert_non_null(strstr(out.buf, "re-issued with its own key"));
	assert_non_null(strstr(out.buf, "1 certificates verify under the new CA bundle now, 1 of them also at"));
	assert_false(x509_text_has_private_key(out.buf, out.len));
	assert_false(x509_text_has_private_key(fresh, strlen(fresh)));

	X509_free(n);
	free(fresh);
	strbuf_done(&out);
	rmca(&d);
	free(ca_pem);
	free(leaf_pem);
	free(kp);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
}

/* Puppet 6+: ca_crt.pem holds the intermediate, then the root; root_key.pem signs both. */
static void test_two_tier(void **state)
{
	(void)state;
	time_t now = time(NULL);
	EVP_PKEY *root_key = gen_ec(), *int_key = gen_ec(), *leaf_key = gen_ec();
	X509 *root = make_cert("Puppet Root CA: 0123456789abcd", NULL, root_key, root_key, true, 1, now - 1820 * DAY,
			       now + 20 * DAY, NULL);
	X509 *in = make_cert("Puppet CA: puppet.example.com", root, root_key, int_key, true, 2, now - 1820 * DAY,
			     now + 20 * DAY, NULL);
	X509 *leaf = make_cert("agent1.example.com", in, int_key, leaf_key, false, 3, now - 10 * DAY, now + 1000 * DAY,
			       "DNS:agent1.example.com");
	char *a = pem_cert(in), *b = pem_cert(root), *leaf_pem = pem_cert(leaf);
	char *bundle = xasprintf("%s%s", a, b);
	char *ik = key_pem(int_key), *rk = key_pem(root_key);
	struct dir d;
	mkca(&d, bundle, ik, rk);
	add_signed(&d, "agent1.example.com.pem", leaf_pem);
	assert_int_equal(chmod(d.ca, 0640), 0);
	struct strbuf out;
	strbuf_init(&out);
	struct cw_error err = {0};
	assert_int_equal(ca_renew(NULL, d.cadir, 3650, now, &out, &err), CW_OK);
	char *fresh = test_slurp(d.ca);
	X509 *n_int = nth(fresh, 0), *n_root = nth(fresh, 1);
	assert_reissued(in, n_int, now, 3650);
	assert_reissued(root, n_root, now, 3650);
	assert_same_ext(in, n_int, NID_authority_key_identifier);
	assert_same_ext(root, n_root, NID_authority_key_identifier);
	/* The intermediate is signed by the root's key, the root by its own. */
	assert_int_equal(X509_verify(n_int, root_key), 1);
	assert_int_equal(X509_verify(n_root, root_key), 1);
	assert_int_not_equal(X509_verify(n_int, int_key), 1);
	ERR_clear_error();
	assert_true(openssl_verifies(leaf_pem, fresh, now + 21 * DAY));
	assert_false(openssl_verifies(leaf_pem, bundle, now + 21 * DAY));
	assert_true(openssl_verifies(fresh, fresh, now + 3000 * DAY)); /* the intermediate itself */
	struct stat st;
	assert_int_equal(stat(d.ca, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	X509_free(n_int);
	X509_free(n_root);
	free(fresh);
	strbuf_done(&out);
	rmca(&d);
	free(a);
	free(b);
	free(bundle);
	free(leaf_pem);
	free(ik);
	free(rk);
	X509_free(root);
	X509_free(in);
	X509_free(leaf);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(leaf_key);
}

/* A key that is not the CA's, a missing root key, a bad lifetime: refused, the file untouched. */
static void test_refusals(void **state)
{
	(void)state;
	time_t now = time(NULL);
	EVP_PKEY *ca_key = gen_ec(), *other = gen_ec(), *int_key = gen_ec();
	X509 *ca = p5_cert("Puppet CA: puppet.example.com", NULL, NULL, ca_key, true, 1, now - DAY, now + 5 * DAY,
			   "issuer:always");
	X509 *in = make_cert("Puppet CA: int", ca, ca_key, int_key, true, 2, now - DAY, now + 5 * DAY, NULL);
	char *ca_pem = pem_cert(ca), *in_pem = pem_cert(in), *wrong = key_pem(other), *right = key_pem(ca_key);
	char *ik = key_pem(int_key);
	char *out = NULL;
	struct cw_error err = {0};
	char *wrong_only[] = {wrong, NULL};
	assert_int_equal(x509_ca_reissue(ca_pem, strlen(ca_pem), wrong_only, NULL, now, 100, &out, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "no private key given belongs to 'Puppet CA: puppet.example.com'"));
	assert_null(out);
	/* The intermediate alone: its issuer (the root) is not in the bundle. */
	char *both[] = {ik, right, NULL};
	assert_int_equal(x509_ca_reissue(in_pem, strlen(in_pem), both, NULL, now, 100, &out, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "is not in the bundle"));
	/* A leaf is not a CA. */
	char *bundle = xasprintf("%s%s", in_pem, ca_pem);
	char *int_only[] = {ik, NULL};
	assert_int_equal(x509_ca_reissue(bundle, strlen(bundle), int_only, NULL, now, 100, &out, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "no private key given belongs to"));
	assert_int_equal(x509_ca_reissue(ca_pem, strlen(ca_pem), both, NULL, now, 0, &out, &err), CW_EINVAL);
	assert_int_equal(x509_ca_reissue(ca_pem, strlen(ca_pem), both, NULL, now, 36501, &out, &err), CW_EINVAL);
	assert_null(out);

	/* On a directory: the wrong ca_key.pem changes nothing. */
	struct dir d;
	mkca(&d, ca_pem, wrong, NULL);
	struct strbuf sb;
	strbuf_init(&sb);
	assert_int_equal(ca_renew(NULL, d.cadir, 5475, now, &sb, &err), CW_EINVAL);
	char *after = test_slurp(d.ca);
	assert_string_equal(after, ca_pem);
	free(after);
	rmca(&d);
	strbuf_done(&sb);
	free(bundle);
	free(ca_pem);
	free(in_pem);
	free(wrong);
	free(right);
	free(ik);
	X509_free(ca);
	X509_free(in);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other);
	EVP_PKEY_free(int_key);
}

/* Puppet Server's agent certificates name the intermediate's serial (02) in their AKI: the
 * intermediate keeps it, the root (named by no one) gets a new one, and the agents verify after
 * the old end. */
static void test_serial_named_by_leaves(void **state)
{
	(void)state;
	time_t now = time(NULL);
	EVP_PKEY *root_key = gen_ec(), *int_key = gen_ec(), *leaf_key = gen_ec();
	X509 *root = make_cert("Puppet Root CA: 0123", NULL, root_key, root_key, true, 1, now - DAY, now + 5 * DAY, NULL);
	X509 *in = make_cert("Puppet CA: puppet.example.com", root, root_key, int_key, true, 2, now - DAY, now + 5 * DAY,
			     NULL);
	X509 *leaf = p5_cert("web.example.com", in, int_key, leaf_key, false, 7, now - DAY, now + 900 * DAY,
			     "keyid:always,issuer:always");
	X509 *plain = p5_cert("db.example.com", in, int_key, leaf_key, false, 8, now - DAY, now + 900 * DAY,
			      "keyid:always");
	char *a = pem_cert(in), *b = pem_cert(root), *leaf_pem = pem_cert(leaf), *plain_pem = pem_cert(plain);
	char *bundle = xasprintf("%s%s", a, b), *ik = key_pem(int_key), *rk = key_pem(root_key);
	char serial[X509_SERIAL_MAX];
	assert_true(x509_aki_serial(leaf_pem, strlen(leaf_pem), serial));
	assert_string_equal(serial, "2");
	assert_false(x509_aki_serial(plain_pem, strlen(plain_pem), serial));
	assert_true(openssl_verifies(leaf_pem, bundle, now));
	struct dir d;
	mkca(&d, bundle, ik, rk);
	add_signed(&d, "web.example.com.pem", leaf_pem);
	add_signed(&d, "db.example.com.pem", plain_pem);
	struct strbuf sb;
	strbuf_init(&sb);
	struct cw_error err = {0};
	assert_int_equal(ca_renew(NULL, d.cadir, 5475, now, &sb, &err), CW_OK);
	char *fresh = test_slurp(d.ca);
	X509 *n_int = nth(fresh, 0), *n_root = nth(fresh, 1);
	assert_int_equal(ASN1_INTEGER_get(X509_get_serialNumber(n_int)), 2);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get_serialNumber(n_root), X509_get_serialNumber(root)), 0);
	assert_non_null(strstr(sb.buf, "serial 2 -> 2 (kept: the certificates it signed name it)"));
	assert_true(openssl_verifies(leaf_pem, fresh, now + 6 * DAY));
	assert_true(openssl_verifies(plain_pem, fresh, now + 6 * DAY));
	assert_false(openssl_verifies(leaf_pem, bundle, now + 6 * DAY));

	/* The guard behind it: with a new serial for the intermediate, that agent's certificate would
	 * no longer verify, and the check of the signed directory says so (ca_renew writes nothing then). */
	char *both[] = {ik, rk, NULL}, *renewed = NULL;
	assert_int_equal(x509_ca_reissue(bundle, strlen(bundle), both, NULL, now, 5475, &renewed, &err), CW_OK);
	strbuf_reset(&sb);
	assert_int_equal(ca_renew_check_signed(d.signed_dir, bundle, strlen(bundle), renewed, strlen(renewed), now, &sb,
					       &err),
			 CW_EVERIFY);
	assert_non_null(strstr(err.msg, "1 certificate(s)"));
	assert_non_null(strstr(sb.buf, "web.example.com.pem: does not verify under the new CA bundle"));
	assert_null(strstr(sb.buf, "db.example.com.pem: does not"));

	free(renewed);
	X509_free(n_int);
	X509_free(n_root);
	free(fresh);
	rmca(&d);
	strbuf_done(&sb);
	free(a);
	free(b);
	free(bundle);
	free(leaf_pem);
	free(plain_pem);
	free(ik);
	free(rk);
	X509_free(root);
	X509_free(in);
	X509_free(leaf);
	X509_free(plain);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(int_key);
	EVP_PKEY_free(leaf_key);
}

/* certwiz's verifier at a given time agrees with OpenSSL's. */
static void test_verify_at(void **state)
{
	(void)state;
	time_t now = time(NULL);
	EVP_PKEY *ca_key = gen_ec(), *leaf_key = gen_ec();
	X509 *ca = make_cert("CA", NULL, ca_key, ca_key, true, 1, now - DAY, now + 5 * DAY, NULL);
	X509 *leaf = make_cert("leaf", ca, ca_key, leaf_key, false, 2, now - DAY, now + 50 * DAY, NULL);
	char *ca_pem = pem_cert(ca), *leaf_pem = pem_cert(leaf);
	struct cw_error err = {0};
	assert_int_equal(x509_verify_at(leaf_pem, strlen(leaf_pem), ca_pem, strlen(ca_pem), NULL, 0, now, &err), CW_OK);
	assert_int_equal(x509_verify_at(leaf_pem, strlen(leaf_pem), ca_pem, strlen(ca_pem), NULL, 0, now + 6 * DAY, &err),
			 CW_EVERIFY);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(ca_bundle_end(ca_pem, strlen(ca_pem)), now + 5 * DAY);
	free(ca_pem);
	free(leaf_pem);
	X509_free(ca);
	X509_free(leaf);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
}

/* What the run saw before it changed anything (exec.c journals it): a stand-in. */
struct before {
	struct transport *t;
	const char *path, *fingerprint, *pubkey;
	time_t end;
};

static struct transport *before_transport(void *ctx, size_t host)
{
	(void)host;
	return ((struct before *)ctx)->t;
}

static const char *before_fp(void *ctx, size_t host, const char *path)
{
	struct before *b = ctx;
	(void)host;
	return strcmp(path, b->path) == 0 ? b->fingerprint : NULL;
}

static bool before_key(void *ctx, size_t host, const char *path, char pubkey[65], time_t *end)
{
	struct before *b = ctx;
	(void)host;
	if (!b->pubkey || strcmp(path, b->path) != 0)
		return false;
	snprintf(pubkey, 65, "%s", b->pubkey);
	*end = b->end;
	return true;
}

/* The verify checks of the ca-reissue and agent-run steps: same_key, changed, unchanged and
 * signed, judged against what the files were before the run. */
static void test_verify_checks(void **state)
{
	(void)state;
	time_t now = time(NULL);
	EVP_PKEY *ca_key = gen_ec(), *leaf_key = gen_ec(), *other_key = gen_ec();
	X509 *ca = p5_cert("Puppet CA: puppet.example.com", NULL, NULL, ca_key, true, 1, now - 100 * DAY, now + 5 * DAY,
			   "issuer:always");
	X509 *leaf = p5_cert("agent1.example.com", ca, ca_key, leaf_key, false, 5, now - DAY, now + 900 * DAY,
			     "keyid:always");
	char *ca_pem = pem_cert(ca), *leaf_pem = pem_cert(leaf), *kp = key_pem(ca_key);
	struct dir d;
	mkca(&d, ca_pem, kp, NULL);
	add_signed(&d, "agent1.example.com.pem", leaf_pem);
	char *leaf_path = path_join(d.signed_dir, "agent1.example.com.pem");
	struct x509_info old = {0}, li = {0};
	assert_int_equal(x509_parse_cert(ca_pem, strlen(ca_pem), &old, NULL), CW_OK);
	assert_int_equal(x509_parse_cert(leaf_pem, strlen(leaf_pem), &li, NULL), CW_OK);
	struct strbuf sb;
	strbuf_init(&sb);
	struct cw_error err = {0};
	assert_int_equal(ca_renew(NULL, d.cadir, 5475, now, &sb, &err), CW_OK);

	struct plan_host h = {.name = "localhost", .local = true};
	struct plan p = {.hosts = &h, .nhosts = 1};
	struct before b = {transport_local_new("localhost"), d.ca, old.fingerprint, old.pubkey_sha256,
			   now + 5 * DAY};
	struct verify_env env = {.ctx = &b, .transport = before_transport, .before = before_fp, .before_key = before_key};
	char *line = NULL;
	struct plan_check c = {.kind = CHECK_CERT, .path = d.ca, .is_ca = true, .same_key = true, .changed = true};
	assert_true(verify_check(&p, &c, &env, &line));
	assert_non_null(strstr(line, "the same public key as before the run"));
	free(line);
	/* Another key before the run, or none known: it fails. */
	char other[65];
	char *opem = key_pem(other_key);
	assert_int_equal(x509_key_pubkey_sha256(opem, strlen(opem), other, NULL), CW_OK);
	b.pubkey = other;
	assert_false(verify_check(&p, &c, &env, &line));
	assert_non_null(strstr(line, "PUBLIC KEYS DIFFER"));
	free(line);
	b.pubkey = NULL;
	assert_false(verify_check(&p, &c, &env, &line));
	assert_non_null(strstr(line, "its public key before the run is not known"));
	free(line);
	b.pubkey = old.pubkey_sha256;

	/* signed: every certificate under the new bundle, now and a day after the old end. */
	struct plan_check sc = {.kind = CHECK_SIGNED, .path = d.signed_dir, .ca = d.ca};
	assert_true(verify_check(&p, &sc, &env, &line));
	assert_non_null(strstr(line, "1 certificates verify under the new CA bundle now, 1 of them also at"));
	free(line);
	/* The old bundle in place of the new one: its end comes first, so it fails. */
	char *old_path = path_join(d.top, "old-ca.pem");
	test_write(old_path, ca_pem);
	sc.ca = old_path;
	b.path = old_path;
	assert_false(verify_check(&p, &sc, &env, &line));
	assert_non_null(strstr(line, "does not verify under the new CA bundle at"));
	free(line);
	sc.ca = d.ca;
	b.path = d.ca;
	/* A certificate of another CA in signed/: it fails too. */
	X509 *stranger = make_cert("stranger.example.com", NULL, other_key, other_key, false, 9, now - DAY, now + 90 * DAY,
				   NULL);
	char *spem = pem_cert(stranger);
	add_signed(&d, "stranger.example.com.pem", spem);
	assert_false(verify_check(&p, &sc, &env, &line));
	assert_non_null(strstr(line, "stranger.example.com.pem: does not verify"));
	free(line);

	/* unchanged: the agent's own certificate is the one it was. */
	struct plan_check uc = {.kind = CHECK_CERT, .path = leaf_path, .ca = d.ca, .unchanged = true};
	b.path = leaf_path;
	b.fingerprint = li.fingerprint;
	assert_true(verify_check(&p, &uc, &env, &line));
	free(line);
	b.fingerprint = old.fingerprint;
	assert_false(verify_check(&p, &uc, &env, &line));
	assert_non_null(strstr(line, "it is not the certificate it was before the run"));
	free(line);

	transport_free(b.t);
	x509_info_done(&old);
	x509_info_done(&li);
	strbuf_done(&sb);
	rmca(&d);
	free(old_path);
	free(leaf_path);
	free(ca_pem);
	free(leaf_pem);
	free(kp);
	free(opem);
	free(spem);
	X509_free(ca);
	X509_free(leaf);
	X509_free(stranger);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_ca),
		cmocka_unit_test(test_two_tier),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_serial_named_by_leaves),
		cmocka_unit_test(test_verify_at),
		cmocka_unit_test(test_verify_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
