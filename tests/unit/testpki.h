/* testpki.h: a throw-away PKI made with the OpenSSL C API, for the unit tests and the
 * inventory benchmark: keys, certificates (self-signed or by an issuer) and CRLs, as PEM.
 * Define PKI_FAIL(what) before including to fail outside cmocka. */
#ifndef CW_TESTPKI_H
#define CW_TESTPKI_H

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#ifndef PKI_FAIL
#define PKI_FAIL(what) fail_msg("OpenSSL fixture step failed: %s", what)
#endif

static inline void ssl_check(int ok, const char *what)
{
	if (!ok) {
		ERR_print_errors_fp(stderr);
		PKI_FAIL(what);
	}
}

static inline EVP_PKEY *gen_ec(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	ssl_check(k != NULL, "EC key");
	return k;
}

static inline void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	ssl_check(e != NULL, value);
	ssl_check(X509_add_ext(x, e, -1), "add extension");
	X509_EXTENSION_free(e);
}

/* A certificate for key, signed by issuer (NULL: self-signed). */
static inline X509 *make_cert(const char *cn, X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *key, bool ca,
		       long serial, time_t nb, time_t na, const char *san)
{
	X509 *x = X509_new();
	ssl_check(x && X509_set_version(x, 2), "X509_new");
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	ssl_check(ASN1_TIME_set(X509_getm_notBefore(x), nb) != NULL, "notBefore");
	ssl_check(ASN1_TIME_set(X509_getm_notAfter(x), na) != NULL, "notAfter");
	X509_NAME *name = X509_get_subject_name(x);
	/* cn NULL: a name without a CN (only an O). */
	ssl_check(X509_NAME_add_entry_by_txt(name, cn ? "CN" : "O", MBSTRING_UTF8,
					     (const unsigned char *)(cn ? cn : "Puppet"), -1, -1, 0),
		  "CN");
	ssl_check(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), "issuer");
	ssl_check(X509_set_pubkey(x, key), "pubkey");
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	add_ext(x, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (ca)
		add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
	add_ext(x, &v3, NID_subject_key_identifier, "hash");
	add_ext(x, &v3, NID_authority_key_identifier, "keyid:always");
	if (san)
		add_ext(x, &v3, NID_subject_alt_name, san);
	ssl_check(X509_sign(x, issuer_key, EVP_sha256()) > 0, "sign");
	return x;
}

static inline X509_CRL *make_crl(X509 *ca, EVP_PKEY *ca_key, const long *serials, size_t n, time_t last,
			  time_t next)
{
	X509_CRL *crl = X509_CRL_new();
	ssl_check(crl && X509_CRL_set_version(crl, 1), "X509_CRL_new");
	ssl_check(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)), "CRL issuer");
	ASN1_TIME *t = ASN1_TIME_set(NULL, last), *u = ASN1_TIME_set(NULL, next);
	ssl_check(X509_CRL_set1_lastUpdate(crl, t) && X509_CRL_set1_nextUpdate(crl, u), "CRL dates");
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_INTEGER_set(s, serials[i]);
		ssl_check(X509_REVOKED_set_serialNumber(r, s) && X509_REVOKED_set_revocationDate(r, t),
			  "revoked entry");
		ssl_check(X509_CRL_add0_revoked(crl, r), "add revoked");
		ASN1_INTEGER_free(s);
	}
	ASN1_TIME_free(t);
	ASN1_TIME_free(u);
	ssl_check(X509_CRL_sort(crl) && X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0, "CRL sign");
	return crl;
}


/* PEM of one object via a memory BIO (heap, NUL-terminated). */
static inline char *bio_text(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	ssl_check(n > 0, "PEM text");
	char *s = strndup(data, (size_t)n);
	ssl_check(s != NULL, "out of memory");
	BIO_free(b);
	return s;
}
static inline char *pem_cert(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	ssl_check(PEM_write_bio_X509(b, x), "write cert");
	return bio_text(b);
}
static inline char *pem_crl(X509_CRL *c)
{
	BIO *b = BIO_new(BIO_s_mem());
	ssl_check(PEM_write_bio_X509_CRL(b, c), "write CRL");
	X509_CRL_free(c);
	return bio_text(b);
}

#endif
