/* x509.h: what certwiz needs to know about certificates, requests, keys and CRLs (OpenSSL 3).
 * Private keys are read only to compare them with a certificate; their contents are never
 * copied into any string this module returns. */
#ifndef CW_X509_H
#define CW_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "error.h"

/* The largest PEM text any function here accepts (a CRL of a long-lived CA is the big
 * one); larger input is CW_EINVAL. Callers reading files can pass it to file_read. */
#define X509_PEM_MAX ((size_t)32 * 1024 * 1024)

/* A serial number in hex, with its NUL. */
#define X509_SERIAL_MAX 80

struct x509_info {
	char *subject_cn;      /* heap */
	char *issuer_cn;       /* heap */
	char **san_dns;        /* strv of DNS subjectAltNames (may be NULL) */
	time_t not_before, not_after;
	char fingerprint[96];  /* SHA-256 of the DER, "AB:CD:..." upper-case hex */
	char pubkey_sha256[65];/* SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex */
	char serial[X509_SERIAL_MAX]; /* upper-case hex, no leading zeros */
	bool is_ca;
};
/* subject_cn and issuer_cn are "" when the name has no CN; control characters in names
 * are shown as '?'. The parse functions zero *out first, so x509_info_done is safe after
 * a failure too. */
void x509_info_done(struct x509_info *info);

/* The first certificate in a PEM buffer. */
cw_status x509_parse_cert(const char *pem, size_t len, struct x509_info *out, struct cw_error *err);
cw_status x509_load_cert(const char *path, struct x509_info *out, struct cw_error *err);
/* The same without fingerprint and pubkey_sha256 (left empty): for reading a whole CA. */
cw_status x509_parse_cert_brief(const char *pem, size_t len, struct x509_info *out,
				struct cw_error *err);
/* A certificate signing request: subject_cn, san_dns, pubkey_sha256 are filled. */
/* Also fingerprint (SHA-256 of the CSR's DER, as `puppetserver ca list` shows it). A CSR
 * whose signature does not match its own public key is CW_EVERIFY. */
cw_status x509_parse_csr(const char *pem, size_t len, struct x509_info *out, struct cw_error *err);
/* SHA-256 of the public key in a PEM private key (the key itself is not kept). */
/* A PEM public key ("-----BEGIN PUBLIC KEY-----", Puppet's public_keys/ files) is accepted
 * too. An encrypted key is refused (CW_EINVAL); nothing ever prompts for a passphrase. */
cw_status x509_key_pubkey_sha256(const char *pem, size_t len, char out[65], struct cw_error *err);

/* Verify the first certificate of cert_pem against the CA bundle (every certificate in
 * ca_pem is trusted; two-tier CAs work) and, when crl_pem is non-NULL, the CRLs in it
 * (all CRLs in the chain must be present then). CW_OK, or CW_EVERIFY with OpenSSL's reason. */
/* As Puppet's own verifier: the chain must end at a self-signed certificate of ca_pem,
 * any purpose, the self-signature is checked. Certificates after the first in cert_pem
 * are offered as untrusted intermediates. With CRLs, CRL_CHECK_ALL is used only when
 * there is a CRL from every CA of the chain, otherwise only the first certificate is
 * checked (CRL_CHECK, Puppet's "leaf" mode) and its issuer's CRL must be present. */
cw_status x509_verify(const char *cert_pem, size_t cert_len, const char *ca_pem, size_t ca_len,
		      const char *crl_pem, size_t crl_len, struct cw_error *err);

/* The same at a given time (X509_VERIFY_PARAM_set_time; 0: now): would it still verify then? */
cw_status x509_verify_at(const char *cert_pem, size_t cert_len, const char *ca_pem, size_t ca_len,
			 const char *crl_pem, size_t crl_len, time_t at, struct cw_error *err);

/* Does the private key belong to the certificate? */
cw_status x509_key_matches(const char *cert_pem, size_t cert_len, const char *key_pem,
			   size_t key_len, bool *match, struct cw_error *err);

/* CRL: issuer and next update. */
/* The first CRL of the text. issuer_cn and next_update may be NULL; next_update is 0 when
 * the CRL has none. */
cw_status x509_parse_crl(const char *pem, size_t len, char **issuer_cn, time_t *next_update,
			 struct cw_error *err);

/* Every CRL of a PEM text (a two-tier CA's ca_crl.pem holds the intermediate's and the
 * root's), with its revoked serials. */
struct x509_crl_info {
	char *issuer_cn;              /* heap; "" when the issuer has no CN */
	time_t last_update, next_update; /* next_update 0: none */
	char number[X509_SERIAL_MAX]; /* the CRL number extension in hex, "" when absent */
	char **revoked;               /* heap serials in hex (as x509_info.serial), sorted */
	size_t nrevoked;
};
/* *out is a heap array of *n items; free it with x509_crl_infos_free. A text without a CRL
 * or with a damaged one is CW_EINVAL. */
cw_status x509_parse_crls(const char *pem, size_t len, struct x509_crl_info **out, size_t *n,
			  struct cw_error *err);
void x509_crl_infos_free(struct x509_crl_info *c, size_t n);
/* Does the CRL list this serial (hex as x509_info.serial)? Binary search. */
bool x509_crl_lists(const struct x509_crl_info *c, const char *serial);

/* Re-sign every CRL of crl_pem (a two-tier CA's ca_crl.pem holds the intermediate's and the
 * root's) with the key of its issuer: the same revoked entries and extensions, lastUpdate now,
 * nextUpdate now + days, the CRL number one more. Issuers come from ca_pem (every certificate
 * trusted); keys are PEM private keys (a NULL-terminated list; never copied or logged). Each new
 * CRL is checked against its issuer's public key before it is kept. A CRL whose issuer or key is
 * missing fails the whole call (nothing half done). *out: heap PEM, the CRLs in their order. */
cw_status x509_crl_resign(const char *crl_pem, size_t crl_len, const char *ca_pem, size_t ca_len,
			  char *const *key_pems, time_t now, int days, char **out, size_t *resigned,
			  struct cw_error *err);

/* The serial (hex, as x509_info.serial) the authorityKeyIdentifier of the first certificate of
 * pem names its issuer by (Puppet Server's agent certificates: the intermediate's, 02); false
 * when it names none or the text is not a certificate. */
bool x509_aki_serial(const char *pem, size_t len, char out[X509_SERIAL_MAX]);

/* Re-issue every CA certificate of ca_pem (a single self-signed CA, or a two-tier CA's
 * intermediate and root, in any order) with the key of its issuer from key_pems (never copied or
 * logged): the same public key, subject, issuer, extensions and key identifiers, a new random
 * serial — except a serial listed in keep_serials (a strv of hex serials; certificates it signed
 * name it, and OpenSSL takes an issuer only with the serial they name) — notBefore a day before
 * now, notAfter now + days. An authorityKeyIdentifier that names its issuer's serial (Puppet 5's
 * CA names its own) names the issuer's new serial. A certificate that is not a CA, whose issuer
 * is not in the bundle, or whose issuer's key is not given fails the whole call. *out: heap PEM,
 * the new certificates in the bundle's order. */
cw_status x509_ca_reissue(const char *ca_pem, size_t ca_len, char *const *key_pems, char *const *keep_serials,
			  time_t now, int days, char **out, struct cw_error *err);

/* Connect to address:port (TLS, no verification), return the PEM of the certificate the
 * server presents. sni may be NULL. Gives up after timeout_ms. */
/* *pem is heap. timeout_ms covers name resolution, connect and handshake: CW_ETIMEOUT
 * when it runs out, CW_ECONNECT when the port refuses, CW_ESSL when the peer does not
 * speak TLS, CW_EINVAL for bad arguments. sni NULL sends no server name. */
cw_status x509_fetch_tls(const char *address, int port, const char *sni, int timeout_ms,
			 char **pem, struct cw_error *err);

/* True when the text holds a PEM private key marker (used to keep keys out of logs). */
/* Any "-----BEGIN <label>-----" or "-----END <label>-----" line whose label contains
 * "PRIVATE KEY" (PKCS#8, RSA, EC, DSA, ENCRYPTED, OPENSSH ...). text need not be
 * NUL-terminated; NULL is false. */
bool x509_text_has_private_key(const char *text, size_t len);

#endif
