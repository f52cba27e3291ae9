/* test_crl.c: unit tests for re-signing CRLs (x509_crl_resign), on a two-tier CA made at test
 * time (testpki.h); every result is read back with OpenSSL itself. */
#include "testutil.h"

#include <sys/stat.h>

#include "crl.h"
#include "plan.h"
#include "transport.h"
#include "util.h"
#include "verify.h"
#include "x509.h"
#include "testpki.h"

#define DAY (24L * 3600)

struct fx {
	time_t now;
	EVP_PKEY *root_key, *int_key;
	X509 *root, *intermediate;
	char *bundle, *crls, *root_key_pem, *int_key_pem;
};

/* A CRL with a CRL number (make_crl has none): added, then signed again. */
static char *numbered_crl(X509 *ca, EVP_PKEY *key, const long *serials, size_t n, time_t last, long number)
{
	X509_CRL *c = make_crl(ca, key, serials, n, last, last + 30 * DAY);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	ssl_check(num && ASN1_INTEGER_set(num, number) && X509_CRL_add1_ext_i2d(c, NID_crl_number, num, 0, 0) == 1 &&
			  X509_CRL_sign(c, key, EVP_sha256()) > 0,
		  "CRL number");
	ASN1_INTEGER_free(num);
	return pem_crl(c);
}

static char *key_pem(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	ssl_check(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), "write key");
	return bio_text(b);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->now = time(NULL);
	f->root_key = gen_ec();
	f->int_key = gen_ec();
	f->root = make_cert("Puppet Root CA: test", NULL, f->root_key, f->root_key, true, 1, f->now - 900 * DAY,
			    f->now + 900 * DAY, NULL);
	f->intermediate = make_cert("Puppet CA: puppet.example.com", f->root, f->root_key, f->int_key, true, 2,
				    f->now - 900 * DAY, f->now + 900 * DAY, NULL);
	char *a = pem_cert(f->intermediate), *b = pem_cert(f->root);
	f->bundle = xasprintf("%s%s", a, b);
	free(a);
	free(b);
	long revoked[] = {0x1A, 0x21, 0x300};
	char *ic = numbered_crl(f->intermediate, f->int_key, revoked, 3, f->now - 100 * DAY, 5);
	char *rc = numbered_crl(f->root, f->root_key, NULL, 0, f->now - 100 * DAY, 1);
	f->crls = xasprintf("%s%s", ic, rc);
	free(ic);
	free(rc);
	f->root_key_pem = key_pem(f->root_key);
	f->int_key_pem = key_pem(f->int_key);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	X509_free(f->root);
	X509_free(f->intermediate);
	EVP_PKEY_free(f->root_key);
	EVP_PKEY_free(f->int_key);
	free(f->bundle);
	free(f->crls);
	free(f->root_key_pem);
	free(f->int_key_pem);
	free(f);
	return 0;
}

/* The n-th CRL of a PEM text, read by OpenSSL. */
static X509_CRL *nth_crl(const char *pem, int n)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509_CRL *c = NULL;
	for (int i = 0; i <= n; i++) {
		X509_CRL_free(c);
		c = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
		assert_non_null(c);
	}
	BIO_free(b);
	return c;
}

static void test_two_tier_resigned(void **state)
{
	struct fx *f = *state;
	char *keys[] = {f->root_key_pem, f->int_key_pem, NULL};
	char *out = NULL;
	size_t n = 0;
	struct cw_error err = {0};
	assert_int_equal(x509_crl_resign(f->crls, strlen(f->crls), f->bundle, strlen(f->bundle), keys, f->now, 1825,
					 &out, &n, &err),
			 CW_OK);
	assert_int_equal(n, 2);
	struct x509_crl_info *before, *after;
	size_t nb, na;
	assert_int_equal(x509_parse_crls(f->crls, strlen(f->crls), &before, &nb, NULL), CW_OK);
	assert_int_equal(x509_parse_crls(out, strlen(out), &after, &na, NULL), CW_OK);
	assert_int_equal(na, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(after[i].issuer_cn, before[i].issuer_cn);
		assert_int_equal(after[i].nrevoked, before[i].nrevoked);
		for (size_t j = 0; j < before[i].nrevoked; j++)
			assert_string_equal(after[i].revoked[j], before[i].revoked[j]);
		assert_int_equal(after[i].last_update, f->now);
		assert_int_equal(after[i].next_update, f->now + 1825 * DAY);
	}
	assert_string_equal(after[0].number, "6");
	assert_string_equal(after[1].number, "2");
	x509_crl_infos_free(before, nb);
	x509_crl_infos_free(after, na);
	/* Signed by the right keys, as OpenSSL sees it. */
	X509_CRL *c = nth_crl(out, 0);
	assert_int_equal(X509_CRL_verify(c, f->int_key), 1);
	assert_int_not_equal(X509_CRL_verify(c, f->root_key), 1);
	X509_CRL_free(c);
	c = nth_crl(out, 1);
	assert_int_equal(X509_CRL_verify(c, f->root_key), 1);
	X509_CRL_free(c);
	ERR_clear_error();
	assert_false(x509_text_has_private_key(out, strlen(out)));
	free(out);
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	char *only_int[] = {f->int_key_pem, NULL};
	char *out = NULL;
	size_t n = 7;
	struct cw_error err = {0};
	assert_int_equal(x509_crl_resign(f->crls, strlen(f->crls), f->bundle, strlen(f->bundle), only_int, f->now, 30,
					 &out, &n, &err),
			 CW_EINVAL);
	assert_non_null(strstr(err.msg, "no private key given belongs to 'Puppet Root CA: test'"));
	assert_null(out);
	assert_int_equal(n, 0);
	char *root_pem = pem_cert(f->root);
	char *both[] = {f->root_key_pem, f->int_key_pem, NULL};
	assert_int_equal(x509_crl_resign(f->crls, strlen(f->crls), root_pem, strlen(root_pem), both, f->now, 30, &out,
					 &n, &err),
			 CW_EINVAL);
	assert_non_null(strstr(err.msg, "the CRL from 'Puppet CA: puppet.example.com' has no issuer certificate"));
	free(root_pem);
	assert_int_equal(x509_crl_resign(f->crls, strlen(f->crls), f->bundle, strlen(f->bundle), both, f->now, 0, &out,
					 &n, &err),
			 CW_EINVAL);
	assert_int_equal(x509_crl_resign("junk", 4, f->bundle, strlen(f->bundle), both, f->now, 30, &out, &n, &err),
			 CW_EINVAL);
	assert_null(out);
}

/* crl_refresh on a CA directory: both CRL files re-signed in place, owner and mode kept; a
 * missing key changes nothing. */
static void test_refresh_directory(void **state)
{
	struct fx *f = *state;
	char *dir = test_tmpdir();
	test_put(dir, "ca/ca_crt.pem", f->bundle);
	test_put(dir, "ca/ca_key.pem", f->int_key_pem);
	test_put(dir, "ca/root_key.pem", f->root_key_pem);
	test_put(dir, "ca/ca_crl.pem", f->crls);
	long infra[] = {0x99};
	char *infra_crl = numbered_crl(f->intermediate, f->int_key, infra, 1, f->now - 100 * DAY, 9);
	test_put(dir, "ca/infra_crl.pem", infra_crl);
	char *crlpath = path_join(dir, "ca/ca_crl.pem"), *cadir = path_join(dir, "ca");
	assert_int_equal(chmod(crlpath, 0640), 0);
	uid_t owner = geteuid() == 0 ? 65534 : geteuid(); /* as root: a file of another owner */
	assert_int_equal(chown(crlpath, owner, owner == 65534 ? 65534 : getegid()), 0);
	struct strbuf out;
	strbuf_init(&out);
	struct cw_error err = {0};
	assert_int_equal(crl_refresh(NULL, cadir, 365, f->now, &out, &err), CW_OK);
	struct stat st;
	assert_int_equal(stat(crlpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_uid, owner);
	assert_non_null(strstr(out.buf, "ca_crl.pem: CRL from Puppet CA: puppet.example.com re-signed: 3 revoked "
					"entries kept, number 5 -> 6, next update "));
	assert_non_null(strstr(out.buf, "ca_crl.pem: CRL from Puppet Root CA: test re-signed: 0 revoked entries kept, "
					"number 1 -> 2"));
	assert_non_null(strstr(out.buf, "infra_crl.pem: CRL from Puppet CA: puppet.example.com re-signed: 1 revoked "
					"entries kept, number 9 -> 10"));
	assert_false(x509_text_has_private_key(out.buf, out.len));
	char *pem = NULL;
	size_t len = 0, n = 0;
	struct x509_crl_info *c = NULL;
	assert_int_equal(file_read(crlpath, 1 << 20, &pem, &len, NULL), CW_OK);
	assert_int_equal(x509_parse_crls(pem, len, &c, &n, NULL), CW_OK);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].next_update, f->now + 365 * DAY);
	x509_crl_infos_free(c, n);

	/* Without the root's key nothing is written. */
	char *rk = path_join(dir, "ca/root_key.pem");
	assert_int_equal(unlink(rk), 0);
	strbuf_reset(&out);
	assert_int_equal(crl_refresh(NULL, cadir, 30, f->now + 10, &out, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "no private key given belongs to 'Puppet Root CA: test'"));
	char *after = NULL;
	assert_int_equal(file_read(crlpath, 1 << 20, &after, &len, NULL), CW_OK);
	assert_string_equal(after, pem);
	free(after);
	free(pem);
	free(rk);
	strbuf_done(&out);
	free(infra_crl);
	free(crlpath);
	free(cadir);
	test_rmrf(dir);
	free(dir);
}

static struct transport *the_transport(void *ctx, size_t host)
{
	(void)host;
	return ctx;
}

/* A cert check with crl_days: a CRL merely valid fails it, a freshly re-signed one passes. */
static void test_verify_crl_days(void **state)
{
	struct fx *f = *state;
	char *dir = test_tmpdir();
	X509 *leaf = make_cert("puppet.example.com", f->intermediate, f->int_key, f->int_key, false, 0x77,
			       f->now - DAY, f->now + 300 * DAY, NULL);
	char *leaf_pem = pem_cert(leaf), *keys[] = {f->root_key_pem, f->int_key_pem, NULL}, *crl10 = NULL;
	size_t n;
	assert_int_equal(x509_crl_resign(f->crls, strlen(f->crls), f->bundle, strlen(f->bundle), keys, f->now, 10,
					 &crl10, &n, NULL),
			 CW_OK);
	test_put(dir, "leaf.pem", leaf_pem);
	test_put(dir, "ca.pem", f->bundle);
	test_put(dir, "crl.pem", crl10);
	struct plan_host h = {.name = "localhost", .local = true};
	struct plan p = {.hosts = &h, .nhosts = 1};
	struct plan_check c = {.kind = CHECK_CERT, .host = 0, .crl_days = 5};
	c.path = path_join(dir, "leaf.pem");
	c.ca = path_join(dir, "ca.pem");
	c.crl = path_join(dir, "crl.pem");
	struct transport *t = transport_local_new("localhost");
	struct verify_env env = {.ctx = t, .transport = the_transport};
	char *line = NULL;
	assert_true(verify_check(&p, &c, &env, &line));
	free(line);
	c.crl_days = 20;
	assert_false(verify_check(&p, &c, &env, &line));
	assert_non_null(strstr(line, "has its next update at "));
	assert_non_null(strstr(line, "not at least 20 days away"));
	free(line);
	transport_free(t);
	free(c.path);
	free(c.ca);
	free(c.crl);
	free(crl10);
	free(leaf_pem);
	X509_free(leaf);
	test_rmrf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_tier_resigned),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_refresh_directory),
		cmocka_unit_test(test_verify_crl_days),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
