/* x509.c: certificates, requests, keys and CRLs with OpenSSL 3; fetching the certificate a TLS port serves. */
#include "x509.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "util.h"

/* ---- small helpers ---- */

/* Never let OpenSSL prompt on the terminal for a passphrase (the wizard owns the terminal):
 * refuse, and note that one was asked for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	if (u)
		*(bool *)u = true;
	return -1;
}

/* The reason of the oldest queued OpenSSL error (the cause; later ones are wrappers such as
 * "ASN1 lib"), in words, or a fallback. Clears the queue. */
static const char *ssl_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, size, "%s", r ? r : "unknown OpenSSL error");
	ERR_clear_error();
	return buf;
}

static bool last_error_is_no_start_line(void)
{
	unsigned long e = ERR_peek_last_error();
	return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

static cw_status check_input(const char *what, const char *pem, size_t len, struct cw_error *err)
{
	if (!pem || len == 0)
		return cw_error_set(err, CW_EINVAL, "the %s is empty", what);
	if (len > X509_PEM_MAX)
		return cw_error_set(err, CW_EINVAL, "the %s is too large (%zu bytes; at most %zu)", what,
				    len, X509_PEM_MAX);
	return CW_OK;
}

/* A read-only memory BIO over the caller's buffer (no copy, no NUL needed). */
static BIO *mem_bio(const char *pem, size_t len)
{
	return BIO_new_mem_buf(pem, (int)len); /* len <= X509_PEM_MAX < INT_MAX */
}

/* "Could not read" for a PEM object: no block at all, or a damaged one. */
static cw_status pem_failed(const char *what, const char *marker, struct cw_error *err)
{
	char why[256];
	if (last_error_is_no_start_line()) {
		ERR_clear_error();
		return cw_error_set(err, CW_EINVAL, "no %s found: the text has no \"%s\" line", what,
				    marker);
	}
	if (ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_ASN1)
		return cw_error_set(err, CW_EINVAL,
				    "the %s is damaged: its PEM block does not hold a valid %s (%s)",
				    what, what, ssl_reason(why, sizeof why));
	return cw_error_set(err, CW_EINVAL, "the %s is damaged or not in PEM format: %s", what,
			    ssl_reason(why, sizeof why));
}

/* A copy safe to show on a terminal: control characters and NUL become '?'. */
static char *printable_dup(const unsigned char *s, size_t n)
{
	char *d = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		d[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
	d[n] = '\0';
	return d;
}

/* The (first) CN of a name as UTF-8, "" when there is none. Heap. */
static char *name_cn(const X509_NAME *name)
{
	int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
	if (i < 0)
		return xstrdup("");
	const ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, d);
	if (n < 0) {
		ERR_clear_error();
		return xstrdup("");
	}
	char *s = printable_dup(utf8, (size_t)n);
	OPENSSL_free(utf8);
	return s;
}

/* DNS names of a GENERAL_NAMES (frees it) appended to *v. */
static void push_dns_names(GENERAL_NAMES *gens, char ***v)
{
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS)
			continue;
		const ASN1_STRING *s = g->d.dNSName;
		strv_push_owned(v, printable_dup(ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s)));
	}
	GENERAL_NAMES_free(gens);
}

static bool asn1_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return false;
	*out = timegm(&tm);
	return true;
}

/* "AB:CD:..." of a digest; out holds 3 * n bytes. */
static void hex_colons(const unsigned char *md, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", md[i]);
	if (n == 0)
		out[0] = '\0';
}

/* SHA-256 of the DER SubjectPublicKeyInfo: the same for a key, its CSR and its certificate. */
static bool pubkey_sha256(const EVP_PKEY *pk, char out[65])
{
	unsigned char *der = NULL;
	int n = pk ? i2d_PUBKEY(pk, &der) : -1;
	if (n <= 0) {
		ERR_clear_error();
		return false;
	}
	sha256_hex(der, (size_t)n, out);
	OPENSSL_free(der);
	return true;
}

/* Upper-case hex without leading zeros ("0" for zero): one spelling for a serial, whether it
 * comes from a certificate, a CRL or inventory.txt. */
static bool serial_hex(const ASN1_INTEGER *serial, char out[X509_SERIAL_MAX])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	BN_free(bn);
	const char *digits = hex;
	while (digits && digits[0] == '0' && digits[1])
		digits++;
	bool ok = digits && strlen(digits) < X509_SERIAL_MAX;
	if (ok)
		snprintf(out, X509_SERIAL_MAX, "%s", digits);
	OPENSSL_free(hex);
	ERR_clear_error();
	return ok;
}

void x509_info_done(struct x509_info *info)
{
	if (!info)
		return;
	free(info->subject_cn);
	free(info->issuer_cn);
	strv_free(info->san_dns);
	memset(info, 0, sizeof *info);
}

/* ---- certificates ---- */

static cw_status read_cert(const char *what, const char *pem, size_t len, X509 **out,
			   struct cw_error *err)
{
	cw_status st = check_input(what, pem, len, err);
	if (st != CW_OK)
		return st;
	BIO *bio = mem_bio(pem, len);
	if (!bio)
		return cw_error_set(err, CW_ESSL, "cannot read the %s: out of memory", what);
	ERR_clear_error();
	*out = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!*out)
		return pem_failed(what, "-----BEGIN CERTIFICATE-----", err);
	ERR_clear_error();
	return CW_OK;
}

static cw_status cert_info(X509 *cert, struct x509_info *out, struct cw_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
		char why[256];
		return cw_error_set(err, CW_ESSL, "cannot compute the certificate fingerprint: %s",
				    ssl_reason(why, sizeof why));
	}
	if (!pubkey_sha256(X509_get0_pubkey(cert), out->pubkey_sha256))
		return cw_error_set(err, CW_EINVAL,
				    "the certificate's public key is damaged or of an unknown type");

	if (!serial_hex(X509_get0_serialNumber(cert), out->serial))
		return cw_error_set(err, CW_EINVAL,
				    "the certificate's serial number is damaged or longer than 20 bytes");

	if (!asn1_time_to_time_t(X509_get0_notBefore(cert), &out->not_before) ||
	    !asn1_time_to_time_t(X509_get0_notAfter(cert), &out->not_after)) {
		ERR_clear_error();
		return cw_error_set(err, CW_EINVAL, "the certificate's validity dates are damaged");
	}

	hex_colons(md, mdlen, out->fingerprint);
	out->subject_cn = name_cn(X509_get_subject_name(cert));
	out->issuer_cn = name_cn(X509_get_issuer_name(cert));
	push_dns_names(X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL), &out->san_dns);
	out->is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0;
	ERR_clear_error();
	return CW_OK;
}

cw_status x509_parse_cert(const char *pem, size_t len, struct x509_info *out, struct cw_error *err)
{
	X509 *cert = NULL;
	memset(out, 0, sizeof *out);
	cw_status st = read_cert("certificate", pem, len, &cert, err);
	if (st != CW_OK)
		return st;
	st = cert_info(cert, out, err);
	X509_free(cert);
	if (st != CW_OK)
		x509_info_done(out);
	return st;
}

/* ---- the brief reading: the TBSCertificate walked as DER ----
 * OpenSSL 3 decodes a certificate's public key through its provider decoders whenever it
 * parses a certificate (about 150 us an RSA key, most of the cost), and the inventory needs
 * no key. So the fields it needs are taken from the DER here: each piece (serial, names,
 * times, extensions) is still decoded by OpenSSL's own d2i functions. */

struct der {
	const unsigned char *p;
	size_t n;
};

/* The next TLV of d: its tag, its content, and the whole of it. Single-byte tags, definite
 * lengths (DER). false when it does not fit. */
static bool der_next(struct der *d, unsigned char *tag, struct der *content, struct der *whole)
{
	if (d->n < 2)
		return false;
	const unsigned char *start = d->p;
	size_t hdr = 2, len = start[1];
	if ((start[0] & 0x1f) == 0x1f)
		return false;
	if (len & 0x80) {
		size_t k = len & 0x7f;
		if (k == 0 || k > 4 || d->n < 2 + k)
			return false;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | start[2 + i];
		hdr += k;
	}
	if (len > d->n - hdr)
		return false;
	*tag = start[0];
	content->p = start + hdr;
	content->n = len;
	if (whole) {
		whole->p = start;
		whole->n = hdr + len;
	}
	d->p += hdr + len;
	d->n -= hdr + len;
	return true;
}

static bool der_time(const struct der *w, time_t *out)
{
	const unsigned char *p = w->p;
	ASN1_TIME *t = d2i_ASN1_TIME(NULL, &p, (long)w->n);
	bool ok = t && asn1_time_to_time_t(t, out);
	ASN1_TIME_free(t);
	return ok;
}

static char *der_name_cn(const struct der *w)
{
	const unsigned char *p = w->p;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)w->n);
	char *cn = name ? name_cn(name) : NULL;
	X509_NAME_free(name);
	return cn;
}

/* Fill out from the DER of a certificate; a message for what is damaged, NULL when fine. */
static const char *brief_from_der(const unsigned char *der, size_t n, struct x509_info *out)
{
	struct der d = {der, n}, cert, tbs, f, w;
	unsigned char tag;
	if (!der_next(&d, &tag, &cert, NULL) || tag != 0x30 || !der_next(&cert, &tag, &tbs, NULL) || tag != 0x30)
		return "it is not a DER certificate";
	if (!der_next(&tbs, &tag, &f, &w))
		return "it has no serial number";
	if (tag == 0xa0 && !der_next(&tbs, &tag, &f, &w)) /* [0] version */
		return "it has no serial number";
	const unsigned char *p = w.p;
	ASN1_INTEGER *serial = tag == 0x02 ? d2i_ASN1_INTEGER(NULL, &p, (long)w.n) : NULL;
	bool ok = serial && serial_hex(serial, out->serial);
	ASN1_INTEGER_free(serial);
	if (!ok)
		return "its serial number is damaged or longer than 20 bytes";
	if (!der_next(&tbs, &tag, &f, NULL) || tag != 0x30) /* signature algorithm */
		return "its signature algorithm is damaged";
	if (!der_next(&tbs, &tag, &f, &w) || tag != 0x30 || !(out->issuer_cn = der_name_cn(&w)))
		return "its issuer name is damaged";
	struct der validity, t1, t2;
	if (!der_next(&tbs, &tag, &validity, NULL) || tag != 0x30 || !der_next(&validity, &tag, &f, &t1) ||
	    !der_next(&validity, &tag, &f, &t2) || !der_time(&t1, &out->not_before) ||
	    !der_time(&t2, &out->not_after))
		return "its validity dates are damaged";
	if (!der_next(&tbs, &tag, &f, &w) || tag != 0x30 || !(out->subject_cn = der_name_cn(&w)))
		return "its subject name is damaged";
	if (!der_next(&tbs, &tag, &f, NULL) || tag != 0x30) /* subjectPublicKeyInfo: not decoded */
		return "its public key is damaged";
	while (tbs.n) {
		if (!der_next(&tbs, &tag, &f, NULL))
			return "its extensions are damaged";
		if (tag != 0xa3) /* [1], [2] unique identifiers */
			continue;
		p = f.p;
		STACK_OF(X509_EXTENSION) *exts = d2i_X509_EXTENSIONS(NULL, &p, (long)f.n);
		if (!exts)
			return "its extensions are damaged";
		push_dns_names(X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL), &out->san_dns);
		BASIC_CONSTRAINTS *bc = X509V3_get_d2i(exts, NID_basic_constraints, NULL, NULL);
		out->is_ca = bc && bc->ca;
		BASIC_CONSTRAINTS_free(bc);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	return NULL;
}

cw_status x509_parse_cert_brief(const char *pem, size_t len, struct x509_info *out,
				struct cw_error *err)
{
	memset(out, 0, sizeof *out);
	cw_status st = check_input("certificate", pem, len, err);
	if (st != CW_OK)
		return st;
	BIO *bio = mem_bio(pem, len);
	char *name = NULL, *header = NULL;
	unsigned char *der = NULL;
	long n = 0;
	ERR_clear_error();
	/* The first PEM block that is a certificate (as PEM_read_bio_X509 takes it). */
	while (bio && PEM_read_bio(bio, &name, &header, &der, &n) == 1) {
		bool cert = strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0 ||
			    strcmp(name, PEM_STRING_X509_TRUSTED) == 0;
		OPENSSL_free(name);
		OPENSSL_free(header);
		if (cert)
			break;
		OPENSSL_free(der);
		der = NULL;
	}
	BIO_free(bio);
	if (!der)
		return pem_failed("certificate", "-----BEGIN CERTIFICATE-----", err);
	const char *why = brief_from_der(der, (size_t)n, out);
	OPENSSL_free(der);
	ERR_clear_error();
	if (why) {
		x509_info_done(out);
		return cw_error_set(err, CW_EINVAL, "the certificate is damaged: %s", why);
	}
	return CW_OK;
}

cw_status x509_load_cert(const char *path, struct x509_info *out, struct cw_error *err)
{
	char *data = NULL;
	size_t len = 0;
	memset(out, 0, sizeof *out);
	cw_status st = file_read(path, X509_PEM_MAX, &data, &len, err);
	if (st != CW_OK)
		return st;
	st = x509_parse_cert(data, len, out, err);
	free(data);
	if (st != CW_OK)
		cw_error_prefix(err, "%s", path);
	return st;
}

/* ---- requests ---- */

cw_status x509_parse_csr(const char *pem, size_t len, struct x509_info *out, struct cw_error *err)
{
	static const char what[] = "certificate request";
	memset(out, 0, sizeof *out);
	cw_status st = check_input(what, pem, len, err);
	if (st != CW_OK)
		return st;
	BIO *bio = mem_bio(pem, len);
	if (!bio)
		return cw_error_set(err, CW_ESSL, "cannot read the %s: out of memory", what);
	ERR_clear_error();
	X509_REQ *req = PEM_read_bio_X509_REQ(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!req)
		return pem_failed(what, "-----BEGIN CERTIFICATE REQUEST-----", err);

	EVP_PKEY *pk = X509_REQ_get0_pubkey(req);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!pubkey_sha256(pk, out->pubkey_sha256)) {
		st = cw_error_set(err, CW_EINVAL,
				  "the certificate request's public key is damaged or of an unknown type");
	} else if (X509_REQ_verify(req, pk) != 1) {
		st = cw_error_set(err, CW_EVERIFY,
				  "the certificate request is not signed by its own key (damaged or "
				  "tampered with); the CA would refuse it");
	} else if (X509_REQ_digest(req, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
		char why[256];
		st = cw_error_set(err, CW_ESSL, "cannot compute the request fingerprint: %s",
				  ssl_reason(why, sizeof why));
	} else {
		hex_colons(md, mdlen, out->fingerprint);
		out->subject_cn = name_cn(X509_REQ_get_subject_name(req));
		STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
		if (exts) {
			push_dns_names(X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL),
				       &out->san_dns);
			sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		}
	}
	X509_REQ_free(req);
	ERR_clear_error();
	if (st != CW_OK)
		x509_info_done(out);
	return st;
}

/* ---- keys ---- */

/* The private key of a PEM text. Messages never quote the text. */
static cw_status read_private_key(const char *pem, size_t len, EVP_PKEY **out, struct cw_error *err)
{
	static const char what[] = "private key";
	bool asked = false;
	cw_status st = check_input(what, pem, len, err);
	if (st != CW_OK)
		return st;
	BIO *bio = mem_bio(pem, len);
	if (!bio)
		return cw_error_set(err, CW_ESSL, "cannot read the %s: out of memory", what);
	ERR_clear_error();
	*out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, &asked);
	BIO_free(bio);
	if (*out) {
		ERR_clear_error();
		return CW_OK;
	}
	if (asked) {
		ERR_clear_error();
		return cw_error_set(err, CW_EINVAL,
				    "the private key is encrypted with a passphrase; certwiz does not "
				    "decrypt keys (Puppet's own keys are not encrypted)");
	}
	if (!x509_text_has_private_key(pem, len)) {
		ERR_clear_error();
		return cw_error_set(err, CW_EINVAL,
				    "no private key found: the text has no \"-----BEGIN ... PRIVATE "
				    "KEY-----\" line");
	}
	if (memmem(pem, len, "OPENSSH PRIVATE KEY", 19)) {
		ERR_clear_error();
		return cw_error_set(err, CW_EINVAL,
				    "this is an OpenSSH key, not the PEM private key of a Puppet "
				    "certificate");
	}
	char why[256];
	return cw_error_set(err, CW_EINVAL,
			    "the private key is damaged or of a kind OpenSSL cannot read (%s)",
			    ssl_reason(why, sizeof why));
}

cw_status x509_key_pubkey_sha256(const char *pem, size_t len, char out[65], struct cw_error *err)
{
	EVP_PKEY *pk = NULL;
	cw_status st;

	out[0] = '\0';
	if (pem && len > 0 && len <= X509_PEM_MAX && !x509_text_has_private_key(pem, len)) {
		/* No private key in the text: maybe a public key (ssldir/public_keys/). */
		BIO *bio = mem_bio(pem, len);
		if (!bio)
			return cw_error_set(err, CW_ESSL, "cannot read the key: out of memory");
		ERR_clear_error();
		pk = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
		BIO_free(bio);
		ERR_clear_error();
	}
	if (!pk) {
		st = read_private_key(pem, len, &pk, err);
		if (st != CW_OK)
			return st;
	}
	st = CW_OK;
	if (!pubkey_sha256(pk, out))
		st = cw_error_set(err, CW_EINVAL, "the key's public part cannot be encoded (unknown key type)");
	EVP_PKEY_free(pk);
	return st;
}

cw_status x509_key_matches(const char *cert_pem, size_t cert_len, const char *key_pem,
			   size_t key_len, bool *match, struct cw_error *err)
{
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;

	*match = false;
	cw_status st = read_cert("certificate", cert_pem, cert_len, &cert, err);
	if (st != CW_OK)
		return st;
	st = read_private_key(key_pem, key_len, &key, err);
	if (st != CW_OK) {
		X509_free(cert);
		return st;
	}
	/* 1: same key; 0: different; -1: different types (also a mismatch); -2: cannot tell. */
	int r = EVP_PKEY_eq(X509_get0_pubkey(cert), key);
	if (r == -2)
		st = cw_error_set(err, CW_EUNSUPPORTED,
				  "cannot compare this kind of key with the certificate's public key");
	*match = r == 1;
	EVP_PKEY_free(key);
	X509_free(cert);
	ERR_clear_error();
	return st;
}

/* ---- CRLs ---- */

cw_status x509_parse_crl(const char *pem, size_t len, char **issuer_cn, time_t *next_update,
			 struct cw_error *err)
{
	static const char what[] = "CRL";
	if (issuer_cn)
		*issuer_cn = NULL;
	if (next_update)
		*next_update = 0;
	cw_status st = check_input(what, pem, len, err);
	if (st != CW_OK)
		return st;
	BIO *bio = mem_bio(pem, len);
	if (!bio)
		return cw_error_set(err, CW_ESSL, "cannot read the CRL: out of memory");
	ERR_clear_error();
	X509_CRL *crl = PEM_read_bio_X509_CRL(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!crl)
		return pem_failed(what, "-----BEGIN X509 CRL-----", err);
	time_t next = 0;
	const ASN1_TIME *t = X509_CRL_get0_nextUpdate(crl);
	if (t && !asn1_time_to_time_t(t, &next)) {
		X509_CRL_free(crl);
		ERR_clear_error();
		return cw_error_set(err, CW_EINVAL, "the CRL's next-update date is damaged");
	}
	if (next_update)
		*next_update = next;
	if (issuer_cn)
		*issuer_cn = name_cn(X509_CRL_get_issuer(crl));
	X509_CRL_free(crl);
	ERR_clear_error();
	return CW_OK;
}

/* ---- verification ---- */

/* Every certificate of a PEM text. A damaged block is an error, not the end. */
static cw_status read_cert_stack(const char *what, const char *pem, size_t len, STACK_OF(X509) **out,
				 struct cw_error *err)
{
	*out = NULL;
	cw_status st = check_input(what, pem, len, err);
	if (st != CW_OK)
		return st;
	BIO *bio = mem_bio(pem, len);
	STACK_OF(X509) *sk = sk_X509_new_null();
	if (!bio || !sk) {
		BIO_free(bio);
		sk_X509_free(sk);
		return cw_error_set(err, CW_ESSL, "cannot read the %s: out of memory", what);
	}
	ERR_clear_error();
	X509 *x;
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	BIO_free(bio);
	/* Running out of blocks ends with "no start line"; anything else is damage. */
	if (sk_X509_num(sk) == 0 || !last_error_is_no_start_line()) {
		int n = sk_X509_num(sk);
		sk_X509_pop_free(sk, X509_free);
		if (n == 0)
			return pem_failed(what, "-----BEGIN CERTIFICATE-----", err);
		char why[256];
		return cw_error_set(err, CW_EINVAL, "the %s is damaged after its certificate number %d: %s",
				    what, n, ssl_reason(why, sizeof why));
	}
	ERR_clear_error();
	*out = sk;
	return CW_OK;
}

static cw_status read_crl_stack(const char *pem, size_t len, STACK_OF(X509_CRL) **out,
				struct cw_error *err)
{
	static const char what[] = "CRL file";
	*out = NULL;
	cw_status st = check_input(what, pem, len, err);
	if (st != CW_OK)
		return st;
	BIO *bio = mem_bio(pem, len);
	STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
	if (!bio || !sk) {
		BIO_free(bio);
		sk_X509_CRL_free(sk);
		return cw_error_set(err, CW_ESSL, "cannot read the %s: out of memory", what);
	}
	ERR_clear_error();
	X509_CRL *c;
	while ((c = PEM_read_bio_X509_CRL(bio, NULL, no_passphrase, NULL)) != NULL)
		if (!sk_X509_CRL_push(sk, c)) {
			X509_CRL_free(c);
			break;
		}
	BIO_free(bio);
	if (sk_X509_CRL_num(sk) == 0 || !last_error_is_no_start_line()) {
		int n = sk_X509_CRL_num(sk);
		sk_X509_CRL_pop_free(sk, X509_CRL_free);
		if (n == 0)
			return pem_failed("CRL", "-----BEGIN X509 CRL-----", err);
		char why[256];
		return cw_error_set(err, CW_EINVAL, "the %s is damaged after its CRL number %d: %s", what,
				    n, ssl_reason(why, sizeof why));
	}
	ERR_clear_error();
	*out = sk;
	return CW_OK;
}

static int serial_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

cw_status x509_parse_crls(const char *pem, size_t len, struct x509_crl_info **out, size_t *n,
			  struct cw_error *err)
{
	*out = NULL;
	*n = 0;
	STACK_OF(X509_CRL) *sk;
	cw_status st = read_crl_stack(pem, len, &sk, err);
	if (st != CW_OK)
		return st;
	size_t count = (size_t)sk_X509_CRL_num(sk);
	struct x509_crl_info *infos = xcalloc(count, sizeof *infos);
	for (size_t i = 0; i < count && st == CW_OK; i++) {
		X509_CRL *crl = sk_X509_CRL_value(sk, (int)i);
		struct x509_crl_info *c = &infos[i];
		c->issuer_cn = name_cn(X509_CRL_get_issuer(crl));
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		if (!asn1_time_to_time_t(X509_CRL_get0_lastUpdate(crl), &c->last_update) ||
		    (next && !asn1_time_to_time_t(next, &c->next_update))) {
			st = cw_error_set(err, CW_EINVAL, "CRL number %zu (from %s): its dates are damaged", i + 1,
					  c->issuer_cn);
			break;
		}
		ASN1_INTEGER *number = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
		if (number && !serial_hex(number, c->number))
			c->number[0] = '\0';
		ASN1_INTEGER_free(number);
		STACK_OF(X509_REVOKED) *rev = X509_CRL_get_REVOKED(crl);
		int nrev = rev ? sk_X509_REVOKED_num(rev) : 0; /* no entries: no list at all */
		c->nrevoked = nrev > 0 ? (size_t)nrev : 0;
		c->revoked = xcalloc(c->nrevoked + 1, sizeof *c->revoked);
		for (size_t j = 0; j < c->nrevoked; j++) {
			char hex[X509_SERIAL_MAX];
			if (!serial_hex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rev, (int)j)), hex)) {
				st = cw_error_set(err, CW_EINVAL,
						  "CRL from %s: revoked entry %zu has a damaged serial number",
						  c->issuer_cn, j + 1);
				break;
			}
			c->revoked[j] = xstrdup(hex);
		}
		if (st == CW_OK)
			qsort(c->revoked, c->nrevoked, sizeof *c->revoked, serial_cmp);
	}
	sk_X509_CRL_pop_free(sk, X509_CRL_free);
	ERR_clear_error();
	if (st != CW_OK) {
		x509_crl_infos_free(infos, count);
		return st;
	}
	*out = infos;
	*n = count;
	return CW_OK;
}

void x509_crl_infos_free(struct x509_crl_info *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].issuer_cn);
		for (size_t j = 0; j < c[i].nrevoked && c[i].revoked; j++)
			free(c[i].revoked[j]);
		free(c[i].revoked);
	}
	free(c);
}

bool x509_crl_lists(const struct x509_crl_info *c, const char *serial)
{
	return c->nrevoked && serial &&
	       bsearch(&serial, c->revoked, c->nrevoked, sizeof *c->revoked, serial_cmp) != NULL;
}

/* Is there a CRL issued by every CA of the chain (chain[1..], the root included)? */
static bool crls_cover_chain(STACK_OF(X509) *chain, STACK_OF(X509_CRL) *crls)
{
	for (int i = 1; i < sk_X509_num(chain); i++) {
		const X509_NAME *ca = X509_get_subject_name(sk_X509_value(chain, i));
		bool found = false;
		for (int j = 0; !found && j < sk_X509_CRL_num(crls); j++)
			found = X509_NAME_cmp(X509_CRL_get_issuer(sk_X509_CRL_value(crls, j)), ca) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* The reason a verification failed, in the words of OpenSSL and of an operator. */
static cw_status verify_failed(X509_STORE_CTX *ctx, X509 *leaf, struct cw_error *err)
{
	int e = X509_STORE_CTX_get_error(ctx);
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
	char *leaf_cn = name_cn(X509_get_subject_name(leaf));
	char *cur_cn = name_cn(cur ? X509_get_subject_name(cur) : NULL);
	char *iss_cn = name_cn(cur ? X509_get_issuer_name(cur) : NULL);
	char when[32] = "?", hint[512] = "";
	time_t t;

	switch (e) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		if (cur && asn1_time_to_time_t(X509_get0_notAfter(cur), &t))
			time_iso8601((long)t, when);
		snprintf(hint, sizeof hint,
			 "it expired on %s; regenerate it, or check this host's clock", when);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		if (cur && asn1_time_to_time_t(X509_get0_notBefore(cur), &t))
			time_iso8601((long)t, when);
		snprintf(hint, sizeof hint,
			 "it is valid only from %s; check that this host's clock agrees with the CA "
			 "server's", when);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		snprintf(hint, sizeof hint,
			 "its issuer '%s' is not in the CA bundle: it was signed by a different CA, "
			 "or the bundle lacks a certificate of the chain", iss_cn);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		snprintf(hint, sizeof hint, "it is self-signed and is not in the CA bundle");
		break;
	case X509_V_ERR_CERT_REVOKED:
		snprintf(hint, sizeof hint, "it is on the CRL of '%s'; it must be regenerated", iss_cn);
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		snprintf(hint, sizeof hint, "the CRL file holds no CRL issued by '%s'", iss_cn);
		break;
	case X509_V_ERR_CRL_HAS_EXPIRED:
		snprintf(hint, sizeof hint,
			 "the CRL of '%s' is past its next update; the CA must publish a fresh one, "
			 "or check this host's clock", iss_cn);
		break;
	case X509_V_ERR_CRL_NOT_YET_VALID:
		snprintf(hint, sizeof hint,
			 "the CRL of '%s' is not yet valid; check this host's clock", iss_cn);
		break;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		snprintf(hint, sizeof hint,
			 "it was not signed by the key of '%s' in the CA bundle: a different CA "
			 "with the same name, or a damaged file", iss_cn);
		break;
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
		snprintf(hint, sizeof hint,
			 "the CRL naming '%s' as issuer was not signed by that CA (a CRL of an "
			 "older CA?)", iss_cn);
		break;
	case X509_V_ERR_INVALID_CA:
		snprintf(hint, sizeof hint, "it signs certificates but is not a CA");
		break;
	default:
		break;
	}

	const char *why = X509_verify_cert_error_string(e);
	cw_status st;
	if (depth > 0 && cur)
		st = cw_error_set(err, CW_EVERIFY,
				  "certificate '%s' does not verify: CA certificate '%s' of its chain: "
				  "%s%s%s%s",
				  leaf_cn, cur_cn, why, hint[0] ? " (" : "", hint, hint[0] ? ")" : "");
	else
		st = cw_error_set(err, CW_EVERIFY, "certificate '%s' does not verify: %s%s%s%s",
				  leaf_cn, why, hint[0] ? " (" : "", hint, hint[0] ? ")" : "");
	free(leaf_cn);
	free(cur_cn);
	free(iss_cn);
	return st;
}

/* One X509_verify_cert; *chain_out (may be NULL) gets the chain built on success. */
static cw_status verify_once(X509_STORE *store, X509 *leaf, STACK_OF(X509) *untrusted,
			     STACK_OF(X509_CRL) *crls, unsigned long flags,
			     STACK_OF(X509) **chain_out, struct cw_error *err)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (!ctx || X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		X509_STORE_CTX_free(ctx);
		char why[256];
		return cw_error_set(err, CW_ESSL, "cannot set up verification: %s",
				    ssl_reason(why, sizeof why));
	}
	if (crls)
		X509_STORE_CTX_set0_crls(ctx, crls);
	if (flags)
		X509_STORE_CTX_set_flags(ctx, flags);
	ERR_clear_error();
	int r = X509_verify_cert(ctx);
	cw_status st = CW_OK;
	if (r != 1) {
		if (X509_STORE_CTX_get_error(ctx) == X509_V_OK) {
			char why[256];
			st = cw_error_set(err, CW_ESSL, "certificate verification could not run: %s",
					  ssl_reason(why, sizeof why));
		} else {
			st = verify_failed(ctx, leaf, err);
		}
	} else if (chain_out) {
		*chain_out = X509_STORE_CTX_get1_chain(ctx);
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return st;
}

cw_status x509_verify(const char *cert_pem, size_t cert_len, const char *ca_pem, size_t ca_len,
		      const char *crl_pem, size_t crl_len, struct cw_error *err)
{
	return x509_verify_at(cert_pem, cert_len, ca_pem, ca_len, crl_pem, crl_len, 0, err);
}

cw_status x509_verify_at(const char *cert_pem, size_t cert_len, const char *ca_pem, size_t ca_len,
			 const char *crl_pem, size_t crl_len, time_t at, struct cw_error *err)
{
	STACK_OF(X509) *certs = NULL, *cas = NULL, *chain = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	X509_STORE *store = NULL;

	cw_status st = read_cert_stack("certificate", cert_pem, cert_len, &certs, err);
	if (st == CW_OK)
		st = read_cert_stack("CA bundle", ca_pem, ca_len, &cas, err);
	if (st == CW_OK && crl_pem)
		st = read_crl_stack(crl_pem, crl_len, &crls, err);
	if (st != CW_OK)
		goto out;

	store = X509_STORE_new();
	if (!store) {
		st = cw_error_set(err, CW_ESSL, "cannot set up verification: out of memory");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(cas); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(cas, i)) != 1) {
			char why[256];
			st = cw_error_set(err, CW_ESSL, "cannot use certificate %d of the CA bundle: %s",
					  i + 1, ssl_reason(why, sizeof why));
			goto out;
		}
	/* Puppet's verifier (SSLProvider#create_x509_store): any purpose, check the root's
	 * self-signature, no partial chains. */
	X509_STORE_set_flags(store, X509_V_FLAG_CHECK_SS_SIGNATURE);
	X509_STORE_set_purpose(store, X509_PURPOSE_ANY);
	if (at)
		X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), at);

	/* The leaf is certs[0]; the rest are untrusted intermediates offered with it. */
	X509 *leaf = sk_X509_shift(certs);
	st = verify_once(store, leaf, certs, NULL, 0, crls ? &chain : NULL, err);
	/* Then revocation, over the whole chain only when every CA of it has its CRL here. */
	if (st == CW_OK && crls) {
		unsigned long flags = X509_V_FLAG_CRL_CHECK;
		if (crls_cover_chain(chain, crls))
			flags |= X509_V_FLAG_CRL_CHECK_ALL;
		st = verify_once(store, leaf, certs, crls, flags, NULL, err);
	}
	X509_free(leaf);
out:
	X509_STORE_free(store);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(cas, X509_free);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	ERR_clear_error();
	return st;
}

/* ---- fetching the certificate a TLS port serves ---- */

static long ms_until(const struct timespec *end)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long ms = (long)(end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? ms : 0;
}

/* poll one descriptor until the deadline: 1 ready, 0 timed out, -1 error (errno). */
static int poll_until(int fd, short events, const struct timespec *end)
{
	for (;;) {
		long ms = ms_until(end);
		if (ms <= 0)
			return 0;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, ms > INT32_MAX ? INT32_MAX : (int)ms);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r > 0;
	}
}

/* getaddrinfo cannot be given a timeout, so a name is resolved on a detached thread and
 * abandoned when the deadline passes; the last of the two to let go frees the job. */
struct resolve_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;
	bool done;
	char *name;
	char port[8];
	int rc;
	struct addrinfo *res;
};

static void resolve_job_unref(struct resolve_job *j)
{
	pthread_mutex_lock(&j->mu);
	int refs = --j->refs;
	pthread_mutex_unlock(&j->mu);
	if (refs > 0)
		return;
	if (j->res)
		freeaddrinfo(j->res);
	free(j->name);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

static void *resolve_thread(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(j->name, j->port, &hints, &res);
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	j->res = res;
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	resolve_job_unref(j);
	return NULL;
}

static cw_status resolve(const char *address, int port, const struct timespec *end,
			 struct addrinfo **res, struct cw_error *err)
{
	char portstr[8];
	snprintf(portstr, sizeof portstr, "%d", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_NUMERICHOST };
	if (getaddrinfo(address, portstr, &hints, res) == 0)
		return CW_OK; /* an address literal: nothing to wait for */

	struct resolve_job *j = xcalloc(1, sizeof *j);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&j->mu, NULL);
	j->refs = 2;
	j->name = xstrdup(address);
	memcpy(j->port, portstr, sizeof portstr);

	pthread_attr_t attr;
	pthread_t tid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&tid, &attr, resolve_thread, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		j->refs = 1;
		resolve_job_unref(j);
		return cw_error_set(err, CW_EIO, "cannot resolve %s: cannot start a thread: %s",
				    address, strerror(rc));
	}

	pthread_mutex_lock(&j->mu);
	while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, end) != ETIMEDOUT)
		;
	bool done = j->done;
	int gai = j->rc;
	*res = j->res;
	j->res = NULL;
	pthread_mutex_unlock(&j->mu);
	resolve_job_unref(j);

	if (!done)
		return cw_error_set(err, CW_ETIMEOUT, "resolving the name %s took too long", address);
	if (gai != 0)
		return cw_error_set(err, CW_ECONNECT, "cannot resolve the name %s: %s", address,
				    gai_strerror(gai));
	return CW_OK;
}

static cw_status tcp_connect(const char *address, int port, int timeout_ms,
			     const struct timespec *end, int *fd_out, struct cw_error *err)
{
	struct addrinfo *res = NULL;
	cw_status st = resolve(address, port, end, &res, err);
	if (st != CW_OK)
		return st;
	int last_errno = ECONNREFUSED;
	st = CW_ECONNECT;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			*fd_out = fd;
			st = CW_OK;
			break;
		}
		if (errno != EINPROGRESS) {
			last_errno = errno;
			close(fd);
			continue;
		}
		int r = poll_until(fd, POLLOUT, end);
		if (r == 0) {
			close(fd);
			st = CW_ETIMEOUT;
			break;
		}
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		if (r < 0)
			soerr = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			soerr = errno;
		if (soerr == 0) {
			*fd_out = fd;
			st = CW_OK;
			break;
		}
		last_errno = soerr;
		close(fd);
	}
	freeaddrinfo(res);
	if (st == CW_ETIMEOUT)
		return cw_error_set(err, CW_ETIMEOUT, "%s port %d did not accept a connection within %d ms",
				    address, port, timeout_ms);
	if (st != CW_OK)
		return cw_error_set(err, CW_ECONNECT, "cannot connect to %s port %d: %s%s", address,
				    port, strerror(last_errno),
				    last_errno == ECONNREFUSED ? " (is the service running?)" : "");
	return CW_OK;
}

/* Send what TLS wrote into the network side of the BIO pair. */
static cw_status tls_flush(BIO *net, int fd, const struct timespec *end, struct cw_error *err)
{
	char buf[4096];
	int n;
	while ((n = BIO_read(net, buf, sizeof buf)) > 0) {
		for (int off = 0; off < n;) {
			ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
			if (w > 0) {
				off += (int)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				int r = poll_until(fd, POLLOUT, end);
				if (r == 0)
					return CW_ETIMEOUT;
				if (r > 0)
					continue;
			}
			return cw_error_set(err, CW_ECONNECT, "the connection failed while sending: %s",
					    strerror(errno));
		}
	}
	return CW_OK;
}

/* Receive some bytes for TLS into the network side of the BIO pair. */
static cw_status tls_fill(BIO *net, int fd, const struct timespec *end, struct cw_error *err)
{
	char buf[4096];
	for (;;) {
		int r = poll_until(fd, POLLIN, end);
		if (r == 0)
			return CW_ETIMEOUT;
		if (r < 0)
			return cw_error_set(err, CW_ECONNECT, "the connection failed: %s", strerror(errno));
		size_t room = BIO_ctrl_get_write_guarantee(net);
		if (room == 0)
			return cw_error_set(err, CW_ESSL, "TLS buffer full during the handshake");
		ssize_t n = recv(fd, buf, room < sizeof buf ? room : sizeof buf, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n < 0)
			return cw_error_set(err, CW_ECONNECT, "the connection failed: %s", strerror(errno));
		if (n == 0)
			return cw_error_set(err, CW_ESSL,
					    "the server closed the connection during the TLS handshake "
					    "(is it a TLS port?)");
		if (BIO_write(net, buf, (int)n) != (int)n)
			return cw_error_set(err, CW_ESSL, "TLS buffer full during the handshake");
		return CW_OK;
	}
}

cw_status x509_fetch_tls(const char *address, int port, const char *sni, int timeout_ms,
			 char **pem, struct cw_error *err)
{
	*pem = NULL;
	if (!address || !*address)
		return cw_error_set(err, CW_EINVAL, "no address to fetch a certificate from");
	if (port < 1 || port > 65535)
		return cw_error_set(err, CW_EINVAL, "port %d is not a TCP port (1-65535)", port);
	if (timeout_ms <= 0)
		return cw_error_set(err, CW_EINVAL, "timeout %d ms is not positive", timeout_ms);
	if (sni && (!*sni || strlen(sni) > 255))
		return cw_error_set(err, CW_EINVAL, "the TLS server name must be 1 to 255 characters");

	struct timespec end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}

	int fd = -1;
	cw_status st = tcp_connect(address, port, timeout_ms, &end, &fd, err);
	if (st != CW_OK)
		return st;

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx) {
		/* Only the certificate is wanted and nothing secret is sent, so old servers
		 * (TLS 1.0, SHA-1, short keys) are allowed; the caller verifies the certificate. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	}
	SSL *ssl = ctx ? SSL_new(ctx) : NULL;
	BIO *inner = NULL, *net = NULL;
	X509 *peer = NULL;
	char why[256];
	if (!ssl || BIO_new_bio_pair(&inner, 0, &net, 0) != 1) {
		st = cw_error_set(err, CW_ESSL, "cannot set up TLS: %s", ssl_reason(why, sizeof why));
		goto out;
	}
	/* TLS runs over a BIO pair and this function moves the bytes, so every wait has the
	 * deadline and a vanished peer is EPIPE, never SIGPIPE. */
	SSL_set_bio(ssl, inner, inner);
	inner = NULL;
	if (sni && SSL_set_tlsext_host_name(ssl, sni) != 1) {
		st = cw_error_set(err, CW_EINVAL, "cannot use '%s' as the TLS server name", sni);
		goto out;
	}
	SSL_set_connect_state(ssl);

	for (;;) {
		ERR_clear_error();
		int r = SSL_do_handshake(ssl);
		int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
		if (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL) {
			/* Send the alert if any, then report. */
			ssl_reason(why, sizeof why);
			tls_flush(net, fd, &end, NULL);
			st = cw_error_set(err, CW_ESSL,
					  "%s port %d did not complete a TLS handshake: %s (is it a TLS "
					  "port?)", address, port, why);
			goto out;
		}
		st = tls_flush(net, fd, &end, err);
		if (st == CW_OK && e == SSL_ERROR_WANT_READ)
			st = tls_fill(net, fd, &end, err);
		if (st == CW_ETIMEOUT)
			st = cw_error_set(err, CW_ETIMEOUT,
					  "%s port %d did not complete a TLS handshake within %d ms",
					  address, port, timeout_ms);
		if (st != CW_OK)
			goto out;
		if (r == 1)
			break;
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
			st = cw_error_set(err, CW_ESSL, "TLS handshake with %s port %d failed (error %d)",
					  address, port, e);
			goto out;
		}
	}

	peer = SSL_get1_peer_certificate(ssl);
	if (!peer) {
		st = cw_error_set(err, CW_ESSL, "%s port %d presented no certificate", address, port);
		goto out;
	}
	BIO *mem = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n = 0;
	if (!mem || PEM_write_bio_X509(mem, peer) != 1 || (n = BIO_get_mem_data(mem, &data)) <= 0) {
		st = cw_error_set(err, CW_ESSL, "cannot encode the server's certificate: %s",
				  ssl_reason(why, sizeof why));
	} else {
		*pem = xstrndup(data, (size_t)n);
	}
	BIO_free(mem);
out:
	X509_free(peer);
	SSL_free(ssl); /* frees the inner BIO */
	BIO_free(inner);
	BIO_free(net);
	SSL_CTX_free(ctx);
	close(fd);
	ERR_clear_error();
	return st;
}

/* ---- log hygiene ---- */

bool x509_text_has_private_key(const char *text, size_t len)
{
	static const char dashes[] = "-----";
	static const char *const openers[] = { "-----BEGIN ", "-----END " };
	if (!text)
		return false;
	const char *end = text + len;
	for (size_t k = 0; k < sizeof openers / sizeof *openers; k++) {
		size_t olen = strlen(openers[k]);
		const char *p = text;
		while (p < end && (p = memmem(p, (size_t)(end - p), openers[k], olen)) != NULL) {
			const char *label = p + olen, *q = label;
			/* A PEM label: one line, up to the closing dashes. */
			while (q < end && q - label < 80 && *q != '-' && *q != '\n' && *q != '\r')
				q++;
			if ((size_t)(end - q) >= sizeof dashes - 1 &&
			    memcmp(q, dashes, sizeof dashes - 1) == 0 &&
			    memmem(label, (size_t)(q - label), "PRIVATE KEY", 11))
				return true;
			p = label;
		}
	}
	return false;
}

/* ---- re-signing CRLs (a CRL near its next update, the CA's key kept) ---- */

/* The private keys of a NULL-terminated list of PEM texts (heap array of *n, free with
 * keys_free). */
static cw_status keys_read(char *const *key_pems, EVP_PKEY ***keys, size_t *n, struct cw_error *err)
{
	*n = strv_len(key_pems);
	*keys = xcalloc(*n + 1, sizeof **keys);
	for (size_t i = 0; i < *n; i++) {
		cw_status st = read_private_key(key_pems[i], strlen(key_pems[i]), &(*keys)[i], err);
		if (st)
			return st;
	}
	return CW_OK;
}

static void keys_free(EVP_PKEY **keys, size_t n)
{
	for (size_t i = 0; keys && i < n; i++)
		EVP_PKEY_free(keys[i]);
	free(keys);
}

/* The text a memory BIO holds (heap). */
static char *bio_dup(BIO *bio)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	return xstrndup(data, (size_t)len);
}

/* The key of keys that belongs to cert, or NULL. */
static EVP_PKEY *key_of_cert(X509 *cert, EVP_PKEY *const *keys, size_t nkeys)
{
	for (size_t i = 0; i < nkeys; i++)
		if (X509_check_private_key(cert, keys[i]) == 1)
			return keys[i];
	ERR_clear_error();
	return NULL;
}

/* A copy of crl with new dates, its number one more, signed again by key. */
static X509_CRL *resign_one(const X509_CRL *crl, EVP_PKEY *key, time_t now, int days, struct cw_error *err)
{
	X509_CRL *n = X509_CRL_dup(crl);
	ASN1_TIME *last = ASN1_TIME_set(NULL, now), *next = ASN1_TIME_set(NULL, now + (time_t)days * 86400);
	bool ok = n && last && next && X509_CRL_set1_lastUpdate(n, last) && X509_CRL_set1_nextUpdate(n, next);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	int crit = 0;
	ASN1_INTEGER *num = ok ? X509_CRL_get_ext_d2i(n, NID_crl_number, &crit, NULL) : NULL;
	if (num) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(num, NULL);
		ok = bn && BN_add_word(bn, 1) && BN_to_ASN1_INTEGER(bn, num) &&
		     X509_CRL_add1_ext_i2d(n, NID_crl_number, num, crit, X509V3_ADD_REPLACE) == 1;
		BN_free(bn);
		ASN1_INTEGER_free(num);
	}
	if (ok)
		ok = X509_CRL_sign(n, key, EVP_sha256()) > 0;
	if (!ok) {
		char why[256];
		cw_error_set(err, CW_ESSL, "cannot re-sign the CRL: %s", ssl_reason(why, sizeof why));
		X509_CRL_free(n);
		return NULL;
	}
	return n;
}

cw_status x509_crl_resign(const char *crl_pem, size_t crl_len, const char *ca_pem, size_t ca_len,
			  char *const *key_pems, time_t now, int days, char **out, size_t *resigned,
			  struct cw_error *err)
{
	*out = NULL;
	*resigned = 0;
	if (days < 1 || days > 36500)
		return cw_error_set(err, CW_EINVAL, "a CRL's next update is 1 to 36500 days away, not %d", days);
	STACK_OF(X509_CRL) *crls = NULL;
	STACK_OF(X509) *cas = NULL;
	EVP_PKEY **keys = NULL;
	size_t nkeys = 0;
	BIO *bio = NULL;
	cw_status st;
	if ((st = read_crl_stack(crl_pem, crl_len, &crls, err)) ||
	    (st = read_cert_stack("CA bundle", ca_pem, ca_len, &cas, err)))
		goto done;
	if ((st = keys_read(key_pems, &keys, &nkeys, err)))
		goto done;
	bio = BIO_new(BIO_s_mem());
	if (!bio) {
		st = cw_error_set(err, CW_ESSL, "out of memory");
		goto done;
	}
	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(crls, i);
		X509 *issuer = NULL;
		for (int j = 0; j < sk_X509_num(cas) && !issuer; j++)
			if (X509_NAME_cmp(X509_get_subject_name(sk_X509_value(cas, j)), X509_CRL_get_issuer(crl)) == 0)
				issuer = sk_X509_value(cas, j);
		char *cn = name_cn(X509_CRL_get_issuer(crl));
		EVP_PKEY *key = issuer ? key_of_cert(issuer, keys, nkeys) : NULL;
		X509_CRL *n = NULL;
		if (!issuer)
			st = cw_error_set(err, CW_EINVAL, "the CRL from '%s' has no issuer certificate in the CA bundle", cn);
		else if (!key)
			st = cw_error_set(err, CW_EINVAL, "no private key given belongs to '%s', the CRL's issuer", cn);
		else if ((n = resign_one(crl, key, now, days, err)) == NULL)
			st = CW_ESSL;
		else if (X509_CRL_verify(n, X509_get0_pubkey(issuer)) != 1 ||
			 sk_X509_REVOKED_num(X509_CRL_get_REVOKED(n)) != sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)))
			st = cw_error_set(err, CW_EVERIFY, "the re-signed CRL from '%s' does not verify or lost entries", cn);
		else if (!PEM_write_bio_X509_CRL(bio, n))
			st = cw_error_set(err, CW_ESSL, "out of memory");
		free(cn);
		X509_CRL_free(n);
		if (st)
			goto done;
		(*resigned)++;
	}
	*out = bio_dup(bio);
done:
	BIO_free(bio);
	keys_free(keys, nkeys);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	sk_X509_pop_free(cas, X509_free);
	ERR_clear_error();
	if (st)
		*resigned = 0;
	return st;
}

/* ---- re-issuing CA certificates with their own keys (a CA near its end, ca-renew) ---- */

/* A positive random serial of 16 bytes: it cannot meet Puppet's counted serials. */
static bool random_serial(ASN1_INTEGER *out)
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1)
		return false;
	b[0] = (unsigned char)((b[0] & 0x7F) | 0x40);
	BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
	bool ok = bn && BN_to_ASN1_INTEGER(bn, out);
	BN_free(bn);
	return ok;
}

/* The digest the old certificate was signed with (NULL for keys that take none, Ed25519). */
static const EVP_MD *old_digest(const X509 *x)
{
	int md = NID_undef, pk = NID_undef;
	if (!OBJ_find_sigid_algs(X509_get_signature_nid(x), &md, &pk) || md == NID_undef)
		return md == NID_undef && pk != NID_undef ? NULL : EVP_sha256();
	const EVP_MD *d = EVP_get_digestbynid(md);
	return d ? d : EVP_sha256();
}

/* Key identifiers as DER, for comparing an old certificate with its new issue. */
static bool same_ext(const X509 *a, const X509 *b, int nid)
{
	int ia = X509_get_ext_by_NID(a, nid, -1), ib = X509_get_ext_by_NID(b, nid, -1);
	if (ia < 0 || ib < 0)
		return ia == ib;
	const ASN1_OCTET_STRING *da = X509_EXTENSION_get_data(X509_get_ext(a, ia));
	const ASN1_OCTET_STRING *db = X509_EXTENSION_get_data(X509_get_ext(b, ib));
	return ASN1_OCTET_STRING_cmp(da, db) == 0;
}

/* An authorityKeyIdentifier that names its issuer by serial (Puppet 5's self-signed CA:
 * DirName and serial:01) must name the issuer's new serial, or OpenSSL no longer takes the
 * issuer for this certificate's. The key identifier and the issuer name stay as they were. */
static bool aki_follow_serial(X509 *x, const ASN1_INTEGER *issuer_serial, bool *changed)
{
	int crit = 0;
	*changed = false;
	AUTHORITY_KEYID *akid = X509_get_ext_d2i(x, NID_authority_key_identifier, &crit, NULL);
	if (!akid) {
		ERR_clear_error();
		return true;
	}
	bool ok = true;
	if (akid->serial && ASN1_INTEGER_cmp(akid->serial, issuer_serial) != 0) {
		ASN1_INTEGER_free(akid->serial);
		akid->serial = ASN1_INTEGER_dup(issuer_serial);
		ok = akid->serial && X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, crit, X509V3_ADD_REPLACE) == 1;
		*changed = ok;
	}
	AUTHORITY_KEYID_free(akid);
	return ok;
}

bool x509_aki_serial(const char *pem, size_t len, char out[X509_SERIAL_MAX])
{
	out[0] = '\0';
	X509 *x = NULL;
	if (read_cert("certificate", pem, len, &x, NULL) != CW_OK)
		return false;
	AUTHORITY_KEYID *akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	bool named = akid && akid->serial && serial_hex(akid->serial, out);
	AUTHORITY_KEYID_free(akid);
	X509_free(x);
	ERR_clear_error();
	return named;
}

cw_status x509_ca_reissue(const char *ca_pem, size_t ca_len, char *const *key_pems, char *const *keep_serials,
			  time_t now, int days, char **out, struct cw_error *err)
{
	*out = NULL;
	if (days < 1 || days > 36500)
		return cw_error_set(err, CW_EINVAL, "a CA certificate lives 1 to 36500 days, not %d", days);
	STACK_OF(X509) *cas = NULL;
	X509 **fresh = NULL;
	int *issuer = NULL;
	EVP_PKEY **keys = NULL;
	size_t nkeys = 0;
	BIO *bio = NULL;
	char why[256];
	cw_status st = read_cert_stack("CA bundle", ca_pem, ca_len, &cas, err);
	if (st)
		return st;
	int n = sk_X509_num(cas);
	fresh = xcalloc((size_t)n, sizeof *fresh);
	issuer = xcalloc((size_t)n, sizeof *issuer);
	if ((st = keys_read(key_pems, &keys, &nkeys, err)))
		goto done;
	/* Each certificate's issuer in the bundle: the same name and a signature its key checks. */
	for (int i = 0; i < n; i++) {
		X509 *x = sk_X509_value(cas, i);
		char *cn = name_cn(X509_get_subject_name(x));
		issuer[i] = -1;
		for (int j = 0; j < n && issuer[i] < 0; j++) {
			X509 *c = sk_X509_value(cas, j);
			if (X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(x)) == 0 &&
			    X509_verify(x, X509_get0_pubkey(c)) == 1)
				issuer[i] = j;
		}
		ERR_clear_error();
		if (X509_check_ca(x) == 0)
			st = cw_error_set(err, CW_EINVAL, "certificate %d of the bundle ('%s') is not a CA certificate", i + 1, cn);
		else if (issuer[i] < 0)
			st = cw_error_set(err, CW_EINVAL,
					  "the issuer of '%s' is not in the bundle (or did not sign it): certwiz re-issues "
					  "a whole CA chain, root included", cn);
		else if (!key_of_cert(sk_X509_value(cas, issuer[i]), keys, nkeys))
			st = cw_error_set(err, CW_EINVAL,
					  "no private key given belongs to '%s', which signs '%s': refusing to re-issue it "
					  "with another key", i == issuer[i] ? cn : "its issuer", cn);
		free(cn);
		if (st)
			goto done;
	}
	/* New serials first: a certificate's authorityKeyIdentifier may name its issuer's. One that
	 * a signed certificate names in its own (keep_serials) stays. */
	ASN1_TIME *nb = ASN1_TIME_set(NULL, now - 86400), *na = ASN1_TIME_set(NULL, now + (time_t)days * 86400);
	for (int i = 0; i < n && !st; i++) {
		char serial[X509_SERIAL_MAX] = "";
		fresh[i] = X509_dup(sk_X509_value(cas, i));
		bool keep = fresh[i] && serial_hex(X509_get_serialNumber(fresh[i]), serial) &&
			    strv_contains(keep_serials, serial);
		if (!fresh[i] || !nb || !na || (!keep && !random_serial(X509_get_serialNumber(fresh[i]))) ||
		    !X509_set1_notBefore(fresh[i], nb) || !X509_set1_notAfter(fresh[i], na))
			st = cw_error_set(err, CW_ESSL, "cannot make the new CA certificate: %s", ssl_reason(why, sizeof why));
	}
	ASN1_TIME_free(nb);
	ASN1_TIME_free(na);
	if (st)
		goto done;
	bio = BIO_new(BIO_s_mem());
	for (int i = 0; i < n && !st; i++) {
		X509 *old = sk_X509_value(cas, i), *x = fresh[i];
		X509 *by_old = sk_X509_value(cas, issuer[i]);
		EVP_PKEY *key = key_of_cert(by_old, keys, nkeys);
		char *cn = name_cn(X509_get_subject_name(old));
		bool aki_changed = false;
		if (!aki_follow_serial(x, X509_get_serialNumber(fresh[issuer[i]]), &aki_changed) ||
		    X509_sign(x, key, old_digest(old)) <= 0)
			st = cw_error_set(err, CW_ESSL, "cannot sign the new certificate of '%s': %s", cn,
					  ssl_reason(why, sizeof why));
		/* What must not change: the key, the names, the key identifiers, the extensions. */
		else if (EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(old)) != 1 ||
			 X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(old)) != 0 ||
			 X509_NAME_cmp(X509_get_issuer_name(x), X509_get_issuer_name(old)) != 0 ||
			 !same_ext(x, old, NID_subject_key_identifier) ||
			 (!aki_changed && !same_ext(x, old, NID_authority_key_identifier)) ||
			 X509_get_ext_count(x) != X509_get_ext_count(old) || X509_check_ca(x) != X509_check_ca(old))
			st = cw_error_set(err, CW_EVERIFY, "the new certificate of '%s' lost its key, name or extensions", cn);
		else if (X509_verify(x, X509_get0_pubkey(fresh[issuer[i]])) != 1)
			st = cw_error_set(err, CW_EVERIFY, "the new certificate of '%s' does not verify against its issuer", cn);
		else if (!bio || !PEM_write_bio_X509(bio, x))
			st = cw_error_set(err, CW_ESSL, "out of memory");
		free(cn);
	}
	if (!st)
		*out = bio_dup(bio);
done:
	BIO_free(bio);
	for (int i = 0; fresh && i < n; i++)
		X509_free(fresh[i]);
	free(fresh);
	free(issuer);
	keys_free(keys, nkeys);
	sk_X509_pop_free(cas, X509_free);
	ERR_clear_error();
	return st;
}
