/* test_x509.c: unit tests for core/x509: a throw-away PKI is made at test time with the OpenSSL C API. */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "util.h"
#include "x509.h"

#define DAY (24L * 3600)

/* ---- a known answer: made once with the openssl CLI (its key was discarded) ----
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=puppet.example.com \
 *     -addext subjectAltName=DNS:puppet,DNS:puppet.example.com,IP:127.0.0.1 \
 *     -addext basicConstraints=critical,CA:FALSE -set_serial 0x1F2E3D4C -days 3650
 * Expected values from `openssl x509 -noout -fingerprint -sha256 -serial -startdate -enddate`
 * and `openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum`. */
static const char known_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBqTCCAU+gAwIBAgIEHy49TDAKBggqhkjOPQQDAjAdMRswGQYDVQQDDBJwdXBw\n"
	"ZXQuZXhhbXBsZS5jb20wHhcNMjYxMTIzMDkyNTA0WhcNMzYxMTIwMDkyNTA0WjAd\n"
	"MRswGQYDVQQDDBJwdXBwZXQuZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjO\n"
	"PQMBBwNCAARB9F7Jcqwcb5aimYumV1pDQFx0If+SPmhSgMh7qHHtL1vhWi1HxPiS\n"
	"0DEyzLiIa2BPA96ouHo799GBX3bOjje7o30wezAdBgNVHQ4EFgQUbun4EHrlPdPA\n"
	"tAA8lF34N/DYbH4wHwYDVR0jBBgwFoAUbun4EHrlPdPAtAA8lF34N/DYbH4wKwYD\n"
	"VR0RBCQwIoIGcHVwcGV0ghJwdXBwZXQuZXhhbXBsZS5jb22HBH8AAAEwDAYDVR0T\n"
	"AQH/BAIwADAKBggqhkjOPQQDAgNIADBFAiEAzRrFYPyNhpr88KRIRUgDORTViiV3\n"
	"LSrB76NraMFp2kgCIA0VflCASq/d690zvjpypoRi7VIOXGzJCzd04PHjud+B\n"
	"-----END CERTIFICATE-----\n";
static const char known_fp[] = "54:84:65:17:16:3D:92:B3:A3:D4:41:F2:B8:E6:2E:11:"
			       "BE:EB:C0:8E:EA:85:2D:91:1F:3E:F2:FE:52:D7:7F:A7";
static const char known_pub[] = "3670f99955d00d0ad5ff1d434f41ed27c825844757f4b4abfa70fb5242591003";
#define KNOWN_NOT_BEFORE 1795425904L /* Nov 23 09:25:04 2026 GMT */
#define KNOWN_NOT_AFTER 2110785904L  /* Nov 20 09:25:04 2036 GMT */

/* ---- the PKI every test shares ---- */

struct pki {
	char *dir;
	time_t now;
	EVP_PKEY *root_key, *int_key, *single_key, *other_key, *leaf_key, *rsa_key;
	X509 *root, *intermediate, *single, *other, *leaf;
	/* PEM texts (heap) */
	char *root_pem, *int_pem, *single_pem, *other_pem;
	char *bundle_two_tier;   /* intermediate + root, as `puppetserver ca setup` writes it */
	char *leaf_pem;          /* agent1.example.com, by the intermediate, EC key */
	char *leaf_key_pem;      /* PKCS#8 "PRIVATE KEY" */
	char *leaf_key_ec_pem;   /* traditional "EC PRIVATE KEY" */
	char *leaf_key_enc_pem;  /* "ENCRYPTED PRIVATE KEY" */
	char *leaf_pub_pem;      /* "PUBLIC KEY" */
	char *agent_pem;         /* agent2.example.com, by the single CA, RSA key */
	char *rsa_key_pem;       /* PKCS#1 "RSA PRIVATE KEY", as Puppet writes keys */
	char *other_key_pem;
	char *other_leaf_pem;    /* by a different CA */
	char *expired_pem, *notyet_pem;
	char *revoked_pem;       /* serial 42, by the single CA, on single_crl */
	char *revoked2_pem;      /* serial 0x1002, by the intermediate, on int_crl */
	char *single_crl, *single_crl_expired, *int_crl, *root_crl, *root_crl_revoking_int, *other_crl;
	char *csr_pem, *csr_badsig_pem;
	time_t leaf_nb, leaf_na, crl_next;
};

#include "testpki.h"

static X509_REQ *make_csr(const char *cn, EVP_PKEY *key, EVP_PKEY *sign_key, const char *san)
{
	X509_REQ *req = X509_REQ_new();
	ssl_check(req && X509_REQ_set_version(req, 0), "X509_REQ_new");
	ssl_check(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
					     (const unsigned char *)cn, -1, -1, 0),
		  "CSR CN");
	ssl_check(X509_REQ_set_pubkey(req, key), "CSR key");
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
	ssl_check(e && sk_X509_EXTENSION_push(exts, e), "CSR SAN");
	ssl_check(X509_REQ_add_extensions(req, exts), "CSR extensions");
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	ssl_check(X509_REQ_sign(req, sign_key, EVP_sha256()) > 0, "CSR sign");
	return req;
}

static char *pem_req(X509_REQ *r)
{
	BIO *b = BIO_new(BIO_s_mem());
	ssl_check(PEM_write_bio_X509_REQ(b, r), "write CSR");
	return bio_text(b);
}
static char *pem_key(EVP_PKEY *k, bool traditional)
{
	BIO *b = BIO_new(BIO_s_mem());
	ssl_check(traditional ? PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL)
			      : PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL),
		  "write key");
	return bio_text(b);
}
static char *pem_key_encrypted(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	char pass[] = "correct horse";
	ssl_check(PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), pass, (int)strlen(pass),
						NULL, NULL),
		  "write encrypted key");
	return bio_text(b);
}
static char *pem_pub(EVP_PKEY *k)
{
	BIO *b = BIO_new(BIO_s_mem());
	ssl_check(PEM_write_bio_PUBKEY(b, k), "write public key");
	return bio_text(b);
}

/* Fingerprint and public-key hash computed here, not through core/x509. */
static void indep_fingerprint(const unsigned char *der, int n, char out[96])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 3 * i, i < 31 ? "%02X:" : "%02X", md[i]);
}
static void indep_cert_fingerprint(X509 *x, char out[96])
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	indep_fingerprint(der, n, out);
	OPENSSL_free(der);
}
static void indep_pubkey_sha256(EVP_PKEY *k, char out[65])
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	int n = i2d_PUBKEY(k, &der);
	assert_true(n > 0);
	assert_int_equal(EVP_Digest(der, (size_t)n, md, &len, EVP_sha256(), NULL), 1);
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	OPENSSL_free(der);
}

static int setup_pki(void **state)
{
	struct pki *p = xcalloc(1, sizeof *p);
	p->dir = test_tmpdir();
	p->now = time(NULL);
	time_t now = p->now;

	p->root_key = gen_ec();
	p->int_key = gen_ec();
	p->single_key = gen_ec();
	p->other_key = gen_ec();
	p->leaf_key = gen_ec();
	p->rsa_key = EVP_RSA_gen(2048);
	ssl_check(p->rsa_key != NULL, "RSA key");

	p->root = make_cert("Puppet Root CA: test", NULL, p->root_key, p->root_key, true, 1,
			    now - DAY, now + 3650 * DAY, NULL);
	p->intermediate = make_cert("Puppet CA: test", p->root, p->root_key, p->int_key, true, 2,
				    now - DAY, now + 3650 * DAY, NULL);
	p->single = make_cert("Puppet CA: single.example.com", NULL, p->single_key, p->single_key,
			      true, 1, now - DAY, now + 3650 * DAY, NULL);
	p->other = make_cert("Puppet CA: other.example.com", NULL, p->other_key, p->other_key, true, 1,
			     now - DAY, now + 3650 * DAY, NULL);
	p->leaf_nb = now - 3600;
	p->leaf_na = now + 365 * DAY;
	p->leaf = make_cert("agent1.example.com", p->intermediate, p->int_key, p->leaf_key, false,
			    0x1001, p->leaf_nb, p->leaf_na, "DNS:puppet,DNS:agent1.example.com");

	p->root_pem = pem_cert(p->root);
	p->int_pem = pem_cert(p->intermediate);
	p->single_pem = pem_cert(p->single);
	p->other_pem = pem_cert(p->other);
	p->bundle_two_tier = xasprintf("%s%s", p->int_pem, p->root_pem);
	p->leaf_pem = pem_cert(p->leaf);
	p->leaf_key_pem = pem_key(p->leaf_key, false);
	p->leaf_key_ec_pem = pem_key(p->leaf_key, true);
	p->leaf_key_enc_pem = pem_key_encrypted(p->leaf_key);
	p->leaf_pub_pem = pem_pub(p->leaf_key);
	p->rsa_key_pem = pem_key(p->rsa_key, true);
	p->other_key_pem = pem_key(p->other_key, false);

	X509 *x;
	x = make_cert("agent2.example.com", p->single, p->single_key, p->rsa_key, false, 0x2001,
		      now - 3600, now + 365 * DAY, "DNS:agent2.example.com");
	p->agent_pem = pem_cert(x);
	X509_free(x);
	x = make_cert("agent3.example.com", p->other, p->other_key, p->leaf_key, false, 0x3001,
		      now - 3600, now + 365 * DAY, NULL);
	p->other_leaf_pem = pem_cert(x);
	X509_free(x);
	x = make_cert("old.example.com", p->single, p->single_key, p->leaf_key, false, 0x2002,
		      now - 10 * DAY, now - DAY, NULL);
	p->expired_pem = pem_cert(x);
	X509_free(x);
	x = make_cert("future.example.com", p->single, p->single_key, p->leaf_key, false, 0x2003,
		      now + DAY, now + 10 * DAY, NULL);
	p->notyet_pem = pem_cert(x);
	X509_free(x);
	x = make_cert("revoked.example.com", p->single, p->single_key, p->leaf_key, false, 42,
		      now - 3600, now + 365 * DAY, NULL);
	p->revoked_pem = pem_cert(x);
	X509_free(x);
	x = make_cert("revoked2.example.com", p->intermediate, p->int_key, p->leaf_key, false, 0x1002,
		      now - 3600, now + 365 * DAY, NULL);
	p->revoked2_pem = pem_cert(x);
	X509_free(x);

	long rev_single[] = { 7, 42 }, rev_int[] = { 0x1002 }, rev_root_int[] = { 2 };
	p->crl_next = now + 30 * DAY;
	p->single_crl = pem_crl(make_crl(p->single, p->single_key, rev_single, 2, now - 3600, p->crl_next));
	p->single_crl_expired =
		pem_crl(make_crl(p->single, p->single_key, rev_single, 2, now - 10 * DAY, now - DAY));
	p->int_crl = pem_crl(make_crl(p->intermediate, p->int_key, rev_int, 1, now - 3600, p->crl_next));
	p->root_crl = pem_crl(make_crl(p->root, p->root_key, NULL, 0, now - 3600, p->crl_next));
	p->root_crl_revoking_int =
		pem_crl(make_crl(p->root, p->root_key, rev_root_int, 1, now - 3600, p->crl_next));
	p->other_crl = pem_crl(make_crl(p->other, p->other_key, NULL, 0, now - 3600, p->crl_next));

	X509_REQ *r = make_csr("agent1.example.com", p->leaf_key, p->leaf_key,
			       "DNS:puppet,DNS:agent1.example.com");
	p->csr_pem = pem_req(r);
	X509_REQ_free(r);
	r = make_csr("agent1.example.com", p->leaf_key, p->other_key, "DNS:agent1.example.com");
	p->csr_badsig_pem = pem_req(r);
	X509_REQ_free(r);

	*state = p;
	return 0;
}

static int teardown_pki(void **state)
{
	struct pki *p = *state;
	EVP_PKEY *keys[] = { p->root_key, p->int_key, p->single_key, p->other_key, p->leaf_key, p->rsa_key };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		EVP_PKEY_free(keys[i]);
	X509 *certs[] = { p->root, p->intermediate, p->single, p->other, p->leaf };
	for (size_t i = 0; i < sizeof certs / sizeof *certs; i++)
		X509_free(certs[i]);
	char *texts[] = { p->root_pem, p->int_pem, p->single_pem, p->other_pem, p->bundle_two_tier,
			  p->leaf_pem, p->leaf_key_pem, p->leaf_key_ec_pem, p->leaf_key_enc_pem,
			  p->leaf_pub_pem, p->agent_pem, p->rsa_key_pem, p->other_key_pem,
			  p->other_leaf_pem, p->expired_pem, p->notyet_pem, p->revoked_pem,
			  p->revoked2_pem, p->single_crl, p->single_crl_expired, p->int_crl,
			  p->root_crl, p->root_crl_revoking_int, p->other_crl, p->csr_pem,
			  p->csr_badsig_pem };
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
		free(texts[i]);
	test_rmrf(p->dir);
	free(p->dir);
	free(p);
	return 0;
}

/* ---- assertion helpers ---- */

#define expect_ok(expr, errp)                                                                  \
	do {                                                                                   \
		cw_status st_ = (expr);                                                        \
		if (st_ != CW_OK)                                                              \
			fail_msg("%s: expected ok, got %s: %s", #expr, cw_status_str(st_),     \
				 (errp)->msg);                                                 \
	} while (0)

#define expect_fail(expr, code, errp, needle)                                                  \
	do {                                                                                   \
		cw_status st_ = (expr);                                                        \
		if (st_ != (code))                                                             \
			fail_msg("%s: expected %s, got %s: %s", #expr, cw_status_str(code),    \
				 cw_status_str(st_), (errp)->msg);                             \
		if ((errp)->msg[0] == '\0' || !strstr((errp)->msg, (needle)))                  \
			fail_msg("%s: message \"%s\" does not say \"%s\"", #expr, (errp)->msg, \
				 (needle));                                                    \
	} while (0)

static cw_status verify(const char *cert, const char *ca, const char *crl, struct cw_error *err)
{
	cw_error_clear(err);
	return x509_verify(cert, strlen(cert), ca, strlen(ca), crl, crl ? strlen(crl) : 0, err);
}

/* ---- parsing certificates ---- */

static void test_parse_cert_known_answer(void **state)
{
	struct x509_info info;
	struct cw_error err = { 0 };
	expect_ok(x509_parse_cert(known_pem, strlen(known_pem), &info, &err), &err);
	assert_string_equal(info.subject_cn, "puppet.example.com");
	assert_string_equal(info.issuer_cn, "puppet.example.com");
	assert_int_equal(strv_len(info.san_dns), 2); /* the IP alt name is not a DNS name */
	assert_string_equal(info.san_dns[0], "puppet");
	assert_string_equal(info.san_dns[1], "puppet.example.com");
	assert_string_equal(info.fingerprint, known_fp);
	assert_string_equal(info.pubkey_sha256, known_pub);
	assert_string_equal(info.serial, "1F2E3D4C");
	assert_int_equal((long)info.not_before, KNOWN_NOT_BEFORE);
	assert_int_equal((long)info.not_after, KNOWN_NOT_AFTER);
	assert_false(info.is_ca);
	x509_info_done(&info);
	assert_null(info.subject_cn);
}

static void test_parse_cert_generated(void **state)
{
	struct pki *p = *state;
	struct x509_info info;
	struct cw_error err = { 0 };
	char fp[96], pub[65];

	expect_ok(x509_parse_cert(p->leaf_pem, strlen(p->leaf_pem), &info, &err), &err);
	assert_string_equal(info.subject_cn, "agent1.example.com");
	assert_string_equal(info.issuer_cn, "Puppet CA: test");
	assert_int_equal(strv_len(info.san_dns), 2);
	assert_string_equal(info.san_dns[0], "puppet");
	assert_string_equal(info.san_dns[1], "agent1.example.com");
	assert_int_equal((long)info.not_before, (long)p->leaf_nb);
	assert_int_equal((long)info.not_after, (long)p->leaf_na);
	indep_cert_fingerprint(p->leaf, fp);
	assert_string_equal(info.fingerprint, fp);
	indep_pubkey_sha256(p->leaf_key, pub);
	assert_string_equal(info.pubkey_sha256, pub);
	assert_string_equal(info.serial, "1001");
	assert_false(info.is_ca);
	x509_info_done(&info);

	/* A CA, and the first certificate of a bundle is the one described. */
	expect_ok(x509_parse_cert(p->bundle_two_tier, strlen(p->bundle_two_tier), &info, &err), &err);
	assert_string_equal(info.subject_cn, "Puppet CA: test");
	assert_string_equal(info.issuer_cn, "Puppet Root CA: test");
	assert_null(info.san_dns);
	assert_true(info.is_ca);
	indep_cert_fingerprint(p->intermediate, fp);
	assert_string_equal(info.fingerprint, fp);
	x509_info_done(&info);
}

static void test_parse_cert_unterminated_and_surrounded(void **state)
{
	struct pki *p = *state;
	struct x509_info info;
	struct cw_error err = { 0 };

	/* Exactly the bytes, no NUL after them: ASan catches any read past the end. */
	size_t n = strlen(p->leaf_pem);
	char *exact = xmalloc(n);
	memcpy(exact, p->leaf_pem, n);
	expect_ok(x509_parse_cert(exact, n, &info, &err), &err);
	assert_string_equal(info.subject_cn, "agent1.example.com");
	x509_info_done(&info);
	/* One byte short of the END line: no longer a certificate. */
	assert_int_not_equal(x509_parse_cert(exact, n - 2, &info, &err), CW_OK);
	free(exact);

	/* Text and a public key before the certificate are skipped. */
	char *mixed = xasprintf("subject=CN = agent1\n%s\n%s", p->leaf_pub_pem, p->leaf_pem);
	expect_ok(x509_parse_cert(mixed, strlen(mixed), &info, &err), &err);
	assert_string_equal(info.subject_cn, "agent1.example.com");
	x509_info_done(&info);
	free(mixed);
}

/* Names are for showing on a terminal: no escape sequences get through; no CN is "". */
static void test_parse_cert_odd_names(void **state)
{
	struct pki *p = *state;
	struct x509_info info;
	struct cw_error err = { 0 };

	X509 *x = make_cert("evil\x1b[2Jhost\x7f", p->single, p->single_key, p->leaf_key, false, 9,
			    p->now - 60, p->now + DAY, "DNS:a\x1b]0;b");
	char *pem = pem_cert(x);
	expect_ok(x509_parse_cert(pem, strlen(pem), &info, &err), &err);
	assert_string_equal(info.subject_cn, "evil?[2Jhost?");
	assert_string_equal(info.issuer_cn, "Puppet CA: single.example.com");
	assert_int_equal(strv_len(info.san_dns), 1);
	assert_string_equal(info.san_dns[0], "a?]0;b");
	x509_info_done(&info);
	free(pem);
	X509_free(x);

	x = make_cert(NULL, p->single, p->single_key, p->leaf_key, false, 10, p->now - 60,
		      p->now + DAY, NULL);
	pem = pem_cert(x);
	expect_ok(x509_parse_cert(pem, strlen(pem), &info, &err), &err);
	assert_non_null(info.subject_cn);
	assert_string_equal(info.subject_cn, "");
	x509_info_done(&info);
	free(pem);
	X509_free(x);
}

static void test_load_cert_file(void **state)
{
	struct pki *p = *state;
	struct x509_info info;
	struct cw_error err = { 0 };

	char *path = path_join(p->dir, "agent1.pem");
	test_write(path, p->leaf_pem);
	expect_ok(x509_load_cert(path, &info, &err), &err);
	assert_string_equal(info.subject_cn, "agent1.example.com");
	x509_info_done(&info);

	char *missing = path_join(p->dir, "nope.pem");
	expect_fail(x509_load_cert(missing, &info, &err), CW_ENOTFOUND, &err, "nope.pem");
	assert_null(info.subject_cn);

	char *junk = path_join(p->dir, "junk.pem");
	test_write(junk, "this is not a certificate\n");
	expect_fail(x509_load_cert(junk, &info, &err), CW_EINVAL, &err, junk);
	assert_non_null(strstr(err.msg, "no certificate found"));
	free(path);
	free(missing);
	free(junk);
}

static void test_parse_cert_rejects_bad_input(void **state)
{
	struct pki *p = *state;
	struct x509_info info;
	struct cw_error err = { 0 };

	expect_fail(x509_parse_cert(NULL, 10, &info, &err), CW_EINVAL, &err, "empty");
	expect_fail(x509_parse_cert("", 0, &info, &err), CW_EINVAL, &err, "empty");
	expect_fail(x509_parse_cert("hello", 5, &info, &err), CW_EINVAL, &err, "no certificate found");
	assert_null(info.subject_cn);
	assert_null(info.san_dns);

	/* A damaged body: base64 changed in the middle. */
	char *bad = xstrdup(p->leaf_pem);
	char *mid = bad + strlen("-----BEGIN CERTIFICATE-----\n") + 100;
	memcpy(mid, "!!!!", 4);
	expect_fail(x509_parse_cert(bad, strlen(bad), &info, &err), CW_EINVAL, &err, "damaged");
	free(bad);
	/* A valid base64 body that is not DER. */
	static const char notder[] = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQK\n-----END CERTIFICATE-----\n";
	expect_fail(x509_parse_cert(notder, strlen(notder), &info, &err), CW_EINVAL, &err, "damaged");

	/* A private key handed over as a certificate: refused, and not quoted. */
	expect_fail(x509_parse_cert(p->leaf_key_pem, strlen(p->leaf_key_pem), &info, &err), CW_EINVAL,
		    &err, "no certificate found");
	assert_false(x509_text_has_private_key(err.msg, strlen(err.msg)));

	/* Over the limit: refused before parsing. Under it but garbage: refused too. */
	size_t huge = X509_PEM_MAX + 1;
	char *big = xmalloc(huge);
	memset(big, 'A', huge);
	expect_fail(x509_parse_cert(big, huge, &info, &err), CW_EINVAL, &err, "too large");
	static const char begin[] = "-----BEGIN CERTIFICATE-----\n";
	memcpy(big, begin, sizeof begin - 1);
	expect_fail(x509_parse_cert(big, 4 * 1024 * 1024, &info, &err), CW_EINVAL, &err, "certificate");
	free(big);
}

/* ---- requests and keys ---- */

static void test_csr_parse_and_pubkey_match(void **state)
{
	struct pki *p = *state;
	struct x509_info csr, cert;
	struct cw_error err = { 0 };
	char keyhash[65], pub[65], fp[96];

	expect_ok(x509_parse_csr(p->csr_pem, strlen(p->csr_pem), &csr, &err), &err);
	assert_string_equal(csr.subject_cn, "agent1.example.com");
	assert_int_equal(strv_len(csr.san_dns), 2);
	assert_string_equal(csr.san_dns[0], "puppet");
	assert_string_equal(csr.san_dns[1], "agent1.example.com");
	assert_null(csr.issuer_cn);

	/* The request, the key and the certificate issued for that key agree. */
	indep_pubkey_sha256(p->leaf_key, pub);
	assert_string_equal(csr.pubkey_sha256, pub);
	expect_ok(x509_key_pubkey_sha256(p->leaf_key_pem, strlen(p->leaf_key_pem), keyhash, &err), &err);
	assert_string_equal(keyhash, pub);
	expect_ok(x509_parse_cert(p->leaf_pem, strlen(p->leaf_pem), &cert, &err), &err);
	assert_string_equal(cert.pubkey_sha256, csr.pubkey_sha256);
	x509_info_done(&cert);

	/* Fingerprint of the request's DER, as `puppetserver ca list` shows it. */
	BIO *b = BIO_new_mem_buf(p->csr_pem, -1);
	X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
	unsigned char *der = NULL;
	int n = i2d_X509_REQ(req, &der);
	indep_fingerprint(der, n, fp);
	OPENSSL_free(der);
	X509_REQ_free(req);
	BIO_free(b);
	assert_string_equal(csr.fingerprint, fp);

	/* Another key does not match. */
	expect_ok(x509_key_pubkey_sha256(p->other_key_pem, strlen(p->other_key_pem), keyhash, &err), &err);
	assert_string_not_equal(keyhash, csr.pubkey_sha256);
	x509_info_done(&csr);
}

static void test_csr_rejects_bad_input(void **state)
{
	struct pki *p = *state;
	struct x509_info csr;
	struct cw_error err = { 0 };

	expect_fail(x509_parse_csr(p->csr_badsig_pem, strlen(p->csr_badsig_pem), &csr, &err),
		    CW_EVERIFY, &err, "not signed by its own key");
	assert_null(csr.subject_cn);
	expect_fail(x509_parse_csr(p->leaf_pem, strlen(p->leaf_pem), &csr, &err), CW_EINVAL, &err,
		    "no certificate request found");
	expect_fail(x509_parse_csr("", 0, &csr, &err), CW_EINVAL, &err, "empty");
}

/* No piece of a key's base64 body may appear in an error message. */
static void assert_no_key_material(const char *msg, const char *key_pem)
{
	const char *body = strchr(key_pem, '\n') + 1;
	const char *body_end = strstr(body, "-----END");
	assert_non_null(body_end);
	for (const char *s = body; s + 12 <= body_end; s += 12) {
		char piece[13];
		memcpy(piece, s, 12);
		piece[12] = '\0';
		if (strchr(piece, '\n'))
			continue;
		if (strstr(msg, piece))
			fail_msg("error message quotes the key: \"%s\"", msg);
	}
	assert_false(x509_text_has_private_key(msg, strlen(msg)));
}

static void test_key_pubkey_formats(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	char want[65], got[65];

	indep_pubkey_sha256(p->leaf_key, want);
	assert_non_null(strstr(p->leaf_key_pem, "-----BEGIN PRIVATE KEY-----"));
	expect_ok(x509_key_pubkey_sha256(p->leaf_key_pem, strlen(p->leaf_key_pem), got, &err), &err);
	assert_string_equal(got, want);
	assert_non_null(strstr(p->leaf_key_ec_pem, "-----BEGIN EC PRIVATE KEY-----"));
	expect_ok(x509_key_pubkey_sha256(p->leaf_key_ec_pem, strlen(p->leaf_key_ec_pem), got, &err), &err);
	assert_string_equal(got, want);
	expect_ok(x509_key_pubkey_sha256(p->leaf_pub_pem, strlen(p->leaf_pub_pem), got, &err), &err);
	assert_string_equal(got, want);

	assert_non_null(strstr(p->rsa_key_pem, "-----BEGIN RSA PRIVATE KEY-----"));
	indep_pubkey_sha256(p->rsa_key, want);
	expect_ok(x509_key_pubkey_sha256(p->rsa_key_pem, strlen(p->rsa_key_pem), got, &err), &err);
	assert_string_equal(got, want);

	/* Encrypted: refused without prompting for a passphrase. */
	assert_non_null(strstr(p->leaf_key_enc_pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	expect_fail(x509_key_pubkey_sha256(p->leaf_key_enc_pem, strlen(p->leaf_key_enc_pem), got, &err),
		    CW_EINVAL, &err, "passphrase");
	expect_fail(x509_key_pubkey_sha256("", 0, got, &err), CW_EINVAL, &err, "empty");
	expect_fail(x509_key_pubkey_sha256("xyz", 3, got, &err), CW_EINVAL, &err, "no private key found");
	static const char openssh[] = "-----BEGIN OPENSSH PRIVATE KEY-----\n"
				      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz\n"
				      "-----END OPENSSH PRIVATE KEY-----\n";
	expect_fail(x509_key_pubkey_sha256(openssh, strlen(openssh), got, &err), CW_EINVAL, &err,
		    "OpenSSH key");
	assert_no_key_material(err.msg, openssh);
}

static void test_key_matches(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	bool match = false;

	expect_ok(x509_key_matches(p->leaf_pem, strlen(p->leaf_pem), p->leaf_key_pem,
				   strlen(p->leaf_key_pem), &match, &err), &err);
	assert_true(match);
	expect_ok(x509_key_matches(p->leaf_pem, strlen(p->leaf_pem), p->leaf_key_ec_pem,
				   strlen(p->leaf_key_ec_pem), &match, &err), &err);
	assert_true(match);
	expect_ok(x509_key_matches(p->agent_pem, strlen(p->agent_pem), p->rsa_key_pem,
				   strlen(p->rsa_key_pem), &match, &err), &err);
	assert_true(match);

	expect_ok(x509_key_matches(p->leaf_pem, strlen(p->leaf_pem), p->other_key_pem,
				   strlen(p->other_key_pem), &match, &err), &err);
	assert_false(match);
	match = true; /* an EC certificate and an RSA key: a mismatch, not an error */
	expect_ok(x509_key_matches(p->leaf_pem, strlen(p->leaf_pem), p->rsa_key_pem,
				   strlen(p->rsa_key_pem), &match, &err), &err);
	assert_false(match);
}

static void test_key_errors_never_show_key(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	bool match = true;
	char out[65];

	/* A key with a damaged body. */
	char *bad = xstrdup(p->rsa_key_pem);
	char *mid = bad + strlen("-----BEGIN RSA PRIVATE KEY-----\n") + 200;
	memcpy(mid, "!!!!", 4);
	expect_fail(x509_key_matches(p->agent_pem, strlen(p->agent_pem), bad, strlen(bad), &match, &err),
		    CW_EINVAL, &err, "private key");
	assert_false(match);
	assert_no_key_material(err.msg, p->rsa_key_pem);
	expect_fail(x509_key_pubkey_sha256(bad, strlen(bad), out, &err), CW_EINVAL, &err, "private key");
	assert_no_key_material(err.msg, p->rsa_key_pem);
	free(bad);

	/* A key where the certificate should be, and a certificate where the key should be. */
	expect_fail(x509_key_matches(p->leaf_key_pem, strlen(p->leaf_key_pem), p->leaf_key_pem,
				     strlen(p->leaf_key_pem), &match, &err),
		    CW_EINVAL, &err, "no certificate found");
	assert_no_key_material(err.msg, p->leaf_key_pem);
	expect_fail(x509_key_matches(p->leaf_pem, strlen(p->leaf_pem), p->leaf_pem, strlen(p->leaf_pem),
				     &match, &err),
		    CW_EINVAL, &err, "no private key found");
	expect_fail(x509_key_matches(p->leaf_pem, strlen(p->leaf_pem), p->leaf_key_enc_pem,
				     strlen(p->leaf_key_enc_pem), &match, &err),
		    CW_EINVAL, &err, "encrypted");
	assert_no_key_material(err.msg, p->leaf_key_enc_pem);
	assert_false(match);
}

/* ---- verification ---- */

static void test_verify_single_ca(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	expect_ok(verify(p->agent_pem, p->single_pem, NULL, &err), &err);
	expect_ok(verify(p->agent_pem, p->single_pem, p->single_crl, &err), &err);
	/* The CA certificate verifies against itself. */
	expect_ok(verify(p->single_pem, p->single_pem, NULL, &err), &err);
}

static void test_verify_two_tier(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };

	expect_ok(verify(p->leaf_pem, p->bundle_two_tier, NULL, &err), &err);
	char *reversed = xasprintf("%s%s", p->root_pem, p->int_pem);
	expect_ok(verify(p->leaf_pem, reversed, NULL, &err), &err);
	free(reversed);
	/* The intermediate may come with the certificate instead of in the bundle. */
	char *chain = xasprintf("%s%s", p->leaf_pem, p->int_pem);
	expect_ok(verify(chain, p->root_pem, NULL, &err), &err);
	free(chain);
	/* Without the root the chain does not end at a trusted root (as for Puppet). */
	expect_fail(verify(p->leaf_pem, p->int_pem, NULL, &err), CW_EVERIFY, &err,
		    "unable to get issuer certificate");
	assert_non_null(strstr(err.msg, "agent1.example.com"));
	/* A leaf of the single CA against the two-tier bundle. */
	expect_fail(verify(p->agent_pem, p->bundle_two_tier, NULL, &err), CW_EVERIFY, &err,
		    "unable to get local issuer certificate");
}

static void test_verify_wrong_ca(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	expect_fail(verify(p->other_leaf_pem, p->single_pem, NULL, &err), CW_EVERIFY, &err,
		    "unable to get local issuer certificate");
	assert_non_null(strstr(err.msg, "agent3.example.com"));
	assert_non_null(strstr(err.msg, "Puppet CA: other.example.com"));
	assert_non_null(strstr(err.msg, "different CA"));

	/* Same CA name, different key: a regenerated CA. */
	EVP_PKEY *k = gen_ec();
	X509 *imposter = make_cert("Puppet CA: single.example.com", NULL, k, k, true, 1,
				   p->now - DAY, p->now + DAY, NULL);
	char *imposter_pem = pem_cert(imposter);
	expect_fail(verify(p->agent_pem, imposter_pem, NULL, &err), CW_EVERIFY, &err, "agent2.example.com");
	free(imposter_pem);
	X509_free(imposter);
	EVP_PKEY_free(k);
}

/* A CA certificate whose own signature is damaged (one bit of it flipped) is refused even
 * though it is a trust anchor: Puppet checks the root's self-signature too. */
static void test_verify_damaged_root(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	unsigned char *der = NULL;
	int n = i2d_X509(p->single, &der);
	assert_true(n > 10);
	der[n - 1] ^= 0x01; /* the last byte of the ECDSA signature */
	const unsigned char *q = der;
	X509 *broken = d2i_X509(NULL, &q, n);
	assert_non_null(broken);
	char *broken_pem = pem_cert(broken);
	expect_fail(verify(p->agent_pem, broken_pem, NULL, &err), CW_EVERIFY, &err,
		    "certificate signature failure");
	assert_non_null(strstr(err.msg, "Puppet CA: single.example.com"));
	free(broken_pem);
	X509_free(broken);
	OPENSSL_free(der);
}

static void test_verify_validity(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	expect_fail(verify(p->expired_pem, p->single_pem, NULL, &err), CW_EVERIFY, &err,
		    "certificate has expired");
	assert_non_null(strstr(err.msg, "old.example.com"));
	expect_fail(verify(p->notyet_pem, p->single_pem, NULL, &err), CW_EVERIFY, &err,
		    "certificate is not yet valid");
	assert_non_null(strstr(err.msg, "clock"));
}

static void test_verify_revoked_single(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	/* Without a CRL it verifies; with its CA's CRL it is revoked. */
	expect_ok(verify(p->revoked_pem, p->single_pem, NULL, &err), &err);
	expect_fail(verify(p->revoked_pem, p->single_pem, p->single_crl, &err), CW_EVERIFY, &err,
		    "revoked");
	assert_non_null(strstr(err.msg, "revoked.example.com"));
	/* A CRL file with several CRLs, the right one last. */
	char *crls = xasprintf("%s%s", p->other_crl, p->single_crl);
	expect_fail(verify(p->revoked_pem, p->single_pem, crls, &err), CW_EVERIFY, &err, "revoked");
	expect_ok(verify(p->agent_pem, p->single_pem, crls, &err), &err);
	free(crls);
}

static void test_verify_revoked_two_tier(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	char *both = xasprintf("%s%s", p->int_crl, p->root_crl);

	expect_ok(verify(p->leaf_pem, p->bundle_two_tier, both, &err), &err);
	expect_ok(verify(p->leaf_pem, p->bundle_two_tier, p->int_crl, &err), &err);
	expect_fail(verify(p->revoked2_pem, p->bundle_two_tier, both, &err), CW_EVERIFY, &err, "revoked");
	expect_fail(verify(p->revoked2_pem, p->bundle_two_tier, p->int_crl, &err), CW_EVERIFY, &err,
		    "revoked");
	free(both);
}

/* CRL_CHECK_ALL only with a CRL from every CA of the chain; else the leaf only. */
static void test_verify_crl_check_all(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };

	/* The root revoked the intermediate: with both CRLs the whole chain is checked. */
	char *all = xasprintf("%s%s", p->int_crl, p->root_crl_revoking_int);
	expect_fail(verify(p->leaf_pem, p->bundle_two_tier, all, &err), CW_EVERIFY, &err, "revoked");
	assert_non_null(strstr(err.msg, "Puppet CA: test"));
	free(all);
	/* Only the intermediate's CRL: the leaf alone is checked, and it is fine. */
	expect_ok(verify(p->leaf_pem, p->bundle_two_tier, p->int_crl, &err), &err);
	/* Only the root's CRL: the leaf's own CA's CRL is missing. */
	expect_fail(verify(p->leaf_pem, p->bundle_two_tier, p->root_crl, &err), CW_EVERIFY, &err,
		    "unable to get certificate CRL");
	assert_non_null(strstr(err.msg, "Puppet CA: test"));
}

static void test_verify_crl_problems(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	expect_fail(verify(p->agent_pem, p->single_pem, p->other_crl, &err), CW_EVERIFY, &err,
		    "unable to get certificate CRL");
	expect_fail(verify(p->agent_pem, p->single_pem, p->single_crl_expired, &err), CW_EVERIFY, &err,
		    "CRL has expired");
	expect_fail(verify(p->agent_pem, p->single_pem, "garbage", &err), CW_EINVAL, &err, "no CRL found");
	cw_error_clear(&err);
	expect_fail(x509_verify(p->agent_pem, strlen(p->agent_pem), p->single_pem, strlen(p->single_pem),
				p->single_crl, 0, &err),
		    CW_EINVAL, &err, "empty");
}

static void test_verify_bad_input(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	expect_fail(verify("", p->single_pem, NULL, &err), CW_EINVAL, &err, "certificate is empty");
	expect_fail(verify(p->agent_pem, "", NULL, &err), CW_EINVAL, &err, "CA bundle is empty");
	expect_fail(verify(p->agent_pem, "nothing here", NULL, &err), CW_EINVAL, &err,
		    "no CA bundle found");
	/* A bundle whose second certificate is damaged is not silently cut short. */
	char *damaged = xasprintf("%s%s", p->single_pem, p->int_pem);
	char *second = strstr(damaged + 10, "-----BEGIN CERTIFICATE-----") + 60;
	memcpy(second, "!!!!", 4);
	expect_fail(verify(p->agent_pem, damaged, NULL, &err), CW_EINVAL, &err, "damaged");
	free(damaged);
	expect_fail(x509_verify(p->agent_pem, X509_PEM_MAX + 1, p->single_pem, strlen(p->single_pem), NULL,
				0, &err),
		    CW_EINVAL, &err, "too large");
}

/* ---- CRLs ---- */

static void test_parse_crl(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	char *issuer = NULL;
	time_t next = 0;

	expect_ok(x509_parse_crl(p->single_crl, strlen(p->single_crl), &issuer, &next, &err), &err);
	assert_string_equal(issuer, "Puppet CA: single.example.com");
	assert_int_equal((long)next, (long)p->crl_next);
	free(issuer);
	/* The first of several. */
	char *two = xasprintf("%s%s", p->root_crl, p->int_crl);
	expect_ok(x509_parse_crl(two, strlen(two), &issuer, NULL, &err), &err);
	assert_string_equal(issuer, "Puppet Root CA: test");
	free(issuer);
	free(two);

	expect_fail(x509_parse_crl(p->leaf_pem, strlen(p->leaf_pem), &issuer, &next, &err), CW_EINVAL,
		    &err, "no CRL found");
	assert_null(issuer);
	assert_int_equal((long)next, 0);
	expect_fail(x509_parse_crl(NULL, 0, &issuer, &next, &err), CW_EINVAL, &err, "empty");
}

/* ---- fetching a served certificate over loopback ---- */

enum server_mode { SERVE_TLS, SERVE_BANNER };

struct server {
	int lfd, port;
	enum server_mode mode;
	SSL_CTX *ctx;
	pthread_t tid;
	char sni[256];
	bool handshake_ok;
};

static int listen_loopback_backlog(int *port, int backlog)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, backlog), 0);
	socklen_t l = sizeof a;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int listen_loopback(int *port)
{
	return listen_loopback_backlog(port, 1);
}

/* One connection, then the thread ends. No cmocka calls here (not the test thread). */
static void *server_main(void *arg)
{
	struct server *s = arg;
	struct pollfd pf = { .fd = s->lfd, .events = POLLIN };
	if (poll(&pf, 1, 10000) != 1)
		return NULL;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (s->mode == SERVE_BANNER) {
		static const char banner[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
		ssize_t w = write(fd, banner, sizeof banner - 1);
		(void)w;
		char buf[512];
		while (read(fd, buf, sizeof buf) > 0)
			;
	} else {
		SSL *ssl = SSL_new(s->ctx);
		SSL_set_fd(ssl, fd);
		if (SSL_accept(ssl) == 1) {
			s->handshake_ok = true;
			const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
			if (name)
				snprintf(s->sni, sizeof s->sni, "%s", name);
			char buf[512];
			while (SSL_read(ssl, buf, sizeof buf) > 0)
				;
		}
		SSL_free(ssl);
		ERR_clear_error();
	}
	close(fd);
	return NULL;
}

static void server_start(struct server *s, enum server_mode mode, struct pki *p)
{
	memset(s, 0, sizeof *s);
	s->mode = mode;
	s->lfd = listen_loopback(&s->port);
	if (mode == SERVE_TLS) {
		s->ctx = SSL_CTX_new(TLS_server_method());
		assert_non_null(s->ctx);
		assert_int_equal(SSL_CTX_use_certificate(s->ctx, p->leaf), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, p->leaf_key), 1);
	}
	assert_int_equal(pthread_create(&s->tid, NULL, server_main, s), 0);
}

static void server_stop(struct server *s)
{
	pthread_join(s->tid, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_fetch_tls(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	struct server s;
	struct x509_info info;
	char *pem = NULL;
	char fp[96];

	indep_cert_fingerprint(p->leaf, fp);

	server_start(&s, SERVE_TLS, p);
	expect_ok(x509_fetch_tls("127.0.0.1", s.port, "agent1.example.com", 5000, &pem, &err), &err);
	server_stop(&s);
	assert_true(s.handshake_ok);
	assert_string_equal(s.sni, "agent1.example.com");
	assert_non_null(pem);
	expect_ok(x509_parse_cert(pem, strlen(pem), &info, &err), &err);
	assert_string_equal(info.fingerprint, fp);
	/* What the port serves verifies against its CA (the caller's next step). */
	expect_ok(verify(pem, p->bundle_two_tier, NULL, &err), &err);
	x509_info_done(&info);
	free(pem);

	/* No server name asked for: none sent. */
	server_start(&s, SERVE_TLS, p);
	expect_ok(x509_fetch_tls("127.0.0.1", s.port, NULL, 5000, &pem, &err), &err);
	server_stop(&s);
	assert_string_equal(s.sni, "");
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	free(pem);
}

/* A name (not an address literal) goes through the resolver with its deadline. */
static void test_fetch_tls_by_name(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	struct server s;
	char *pem = NULL;

	/* Only when "localhost" is exactly 127.0.0.1 here: tests talk to 127.0.0.1 only. */
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	bool only_v4_loopback = getaddrinfo("localhost", "1", &hints, &res) == 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		if (ai->ai_family != AF_INET ||
		    ((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			only_v4_loopback = false;
	if (res)
		freeaddrinfo(res);
	if (!only_v4_loopback)
		skip();

	server_start(&s, SERVE_TLS, p);
	expect_ok(x509_fetch_tls("localhost", s.port, NULL, 5000, &pem, &err), &err);
	server_stop(&s);
	assert_true(s.handshake_ok);
	free(pem);
}

static void test_fetch_tls_timeout(void **state)
{
	struct cw_error err = { 0 };
	char *pem = NULL;
	int port;
	/* Listening, so the kernel completes the connection, but nobody ever answers. */
	int lfd = listen_loopback(&port);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cw_status st = x509_fetch_tls("127.0.0.1", port, NULL, 300, &pem, &err);
	long ms = elapsed_ms(&t0);
	close(lfd);
	if (st != CW_ETIMEOUT && st != CW_ECONNECT)
		fail_msg("expected a timeout, got %s: %s", cw_status_str(st), err.msg);
	assert_null(pem);
	assert_true(ms < 300 + 5000); /* slack for a busy machine, far below a hang */
	if (st == CW_ETIMEOUT) {
		assert_true(ms >= 280);
		assert_non_null(strstr(err.msg, "300 ms"));
	}

	/* The connect itself stalls: with a backlog of 0 and one connection already queued,
	 * Linux drops further SYNs, so the handshake of TCP never completes. */
	lfd = listen_loopback_backlog(&port, 0);
	int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof a), 0);
	cw_error_clear(&err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	st = x509_fetch_tls("127.0.0.1", port, NULL, 300, &pem, &err);
	ms = elapsed_ms(&t0);
	close(filler);
	close(lfd);
	expect_fail(st, CW_ETIMEOUT, &err, "did not accept a connection within 300 ms");
	assert_null(pem);
	assert_true(ms >= 280 && ms < 300 + 5000);
}

static void test_fetch_tls_refused_and_not_tls(void **state)
{
	struct pki *p = *state;
	struct cw_error err = { 0 };
	char *pem = NULL;
	int port;

	/* A port nobody listens on (it was just released). */
	int fd = listen_loopback(&port);
	close(fd);
	expect_fail(x509_fetch_tls("127.0.0.1", port, NULL, 2000, &pem, &err), CW_ECONNECT, &err,
		    "Connection refused");
	assert_null(pem);

	/* Something that is not TLS (an SSH banner). */
	struct server s;
	server_start(&s, SERVE_BANNER, p);
	cw_error_clear(&err);
	expect_fail(x509_fetch_tls("127.0.0.1", s.port, NULL, 5000, &pem, &err), CW_ESSL, &err, "TLS");
	server_stop(&s);
	assert_null(pem);
}

static void test_fetch_tls_bad_args(void **state)
{
	struct cw_error err = { 0 };
	char *pem = (char *)"unchanged";
	expect_fail(x509_fetch_tls(NULL, 8140, NULL, 1000, &pem, &err), CW_EINVAL, &err, "address");
	assert_null(pem);
	expect_fail(x509_fetch_tls("", 8140, NULL, 1000, &pem, &err), CW_EINVAL, &err, "address");
	expect_fail(x509_fetch_tls("127.0.0.1", 0, NULL, 1000, &pem, &err), CW_EINVAL, &err, "port");
	expect_fail(x509_fetch_tls("127.0.0.1", 65536, NULL, 1000, &pem, &err), CW_EINVAL, &err, "port");
	expect_fail(x509_fetch_tls("127.0.0.1", 8140, NULL, 0, &pem, &err), CW_EINVAL, &err, "timeout");
	expect_fail(x509_fetch_tls("127.0.0.1", 8140, "", 1000, &pem, &err), CW_EINVAL, &err, "server name");
}

/* ---- private key markers ---- */

static bool has_key_in_middle(const char *marker)
{
	/* In the middle of other text, in a buffer with no NUL after it. */
	char *s = xasprintf("step 3 output:\n%s\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n...", marker);
	size_t n = strlen(s);
	char *buf = xmalloc(n);
	memcpy(buf, s, n);
	bool r = x509_text_has_private_key(buf, n);
	free(buf);
	free(s);
	return r;
}

static void test_private_key_markers(void **state)
{
	struct pki *p = *state;
	static const char *const keys[] = {
		"-----BEGIN PRIVATE KEY-----",     "-----BEGIN RSA PRIVATE KEY-----",
		"-----BEGIN EC PRIVATE KEY-----",  "-----BEGIN ENCRYPTED PRIVATE KEY-----",
		"-----BEGIN OPENSSH PRIVATE KEY-----", "-----BEGIN DSA PRIVATE KEY-----",
		"-----END RSA PRIVATE KEY-----",
	};
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		if (!has_key_in_middle(keys[i]))
			fail_msg("not detected: %s", keys[i]);

	static const char *const clean[] = {
		"-----BEGIN CERTIFICATE-----", "-----BEGIN PUBLIC KEY-----",
		"-----BEGIN X509 CRL-----",    "-----BEGIN CERTIFICATE REQUEST-----",
		"the private key is at /etc/puppet/ssl/private_keys/agent1.pem",
		"-----BEGIN RSA PRIVATE KEY", /* no closing dashes */
		"-----BEGIN RSA\nPRIVATE KEY-----",
	};
	for (size_t i = 0; i < sizeof clean / sizeof *clean; i++)
		if (has_key_in_middle(clean[i]))
			fail_msg("wrongly detected: %s", clean[i]);

	/* At the very start and the very end of the buffer; cut one byte short. */
	static const char m[] = "-----BEGIN PRIVATE KEY-----";
	assert_true(x509_text_has_private_key(m, sizeof m - 1));
	assert_false(x509_text_has_private_key(m, sizeof m - 2));
	assert_false(x509_text_has_private_key(NULL, 10));
	assert_false(x509_text_has_private_key("", 0));

	/* Real keys and a real certificate. */
	assert_true(x509_text_has_private_key(p->leaf_key_pem, strlen(p->leaf_key_pem)));
	assert_true(x509_text_has_private_key(p->rsa_key_pem, strlen(p->rsa_key_pem)));
	assert_true(x509_text_has_private_key(p->leaf_key_enc_pem, strlen(p->leaf_key_enc_pem)));
	assert_false(x509_text_has_private_key(p->leaf_pem, strlen(p->leaf_pem)));
	assert_false(x509_text_has_private_key(p->leaf_pub_pem, strlen(p->leaf_pub_pem)));
}

int main(void)
{
	/* The TLS server thread may write to a connection the client already closed. */
	signal(SIGPIPE, SIG_IGN);
	/* A fetch that hangs must fail the run, not stall it (generous for valgrind). */
	alarm(300);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cert_known_answer),
		cmocka_unit_test(test_parse_cert_generated),
		cmocka_unit_test(test_parse_cert_unterminated_and_surrounded),
		cmocka_unit_test(test_parse_cert_odd_names),
		cmocka_unit_test(test_load_cert_file),
		cmocka_unit_test(test_parse_cert_rejects_bad_input),
		cmocka_unit_test(test_csr_parse_and_pubkey_match),
		cmocka_unit_test(test_csr_rejects_bad_input),
		cmocka_unit_test(test_key_pubkey_formats),
		cmocka_unit_test(test_key_matches),
		cmocka_unit_test(test_key_errors_never_show_key),
		cmocka_unit_test(test_verify_single_ca),
		cmocka_unit_test(test_verify_two_tier),
		cmocka_unit_test(test_verify_wrong_ca),
		cmocka_unit_test(test_verify_damaged_root),
		cmocka_unit_test(test_verify_validity),
		cmocka_unit_test(test_verify_revoked_single),
		cmocka_unit_test(test_verify_revoked_two_tier),
		cmocka_unit_test(test_verify_crl_check_all),
		cmocka_unit_test(test_verify_crl_problems),
		cmocka_unit_test(test_verify_bad_input),
		cmocka_unit_test(test_parse_crl),
		cmocka_unit_test(test_fetch_tls),
		cmocka_unit_test(test_fetch_tls_by_name),
		cmocka_unit_test(test_fetch_tls_timeout),
		cmocka_unit_test(test_fetch_tls_refused_and_not_tls),
		cmocka_unit_test(test_fetch_tls_bad_args),
		cmocka_unit_test(test_private_key_markers),
	};
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
