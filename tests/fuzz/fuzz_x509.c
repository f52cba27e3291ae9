/* fuzz_x509.c: the certificate, request, CRL and key readers, chain verification of the
 * input against itself, and the private-key marker scan. */
#include "fuzz.h"

#include "x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *pem = (const char *)data;
	struct x509_info info;
	struct cw_error err;
	memset(&info, 0, sizeof info);
	if (x509_parse_cert(pem, size, &info, &err) == CW_OK)
		x509_info_done(&info);
	memset(&info, 0, sizeof info);
	if (x509_parse_csr(pem, size, &info, &err) == CW_OK)
		x509_info_done(&info);
	char *issuer = NULL;
	time_t next = 0;
	if (x509_parse_crl(pem, size, &issuer, &next, &err) == CW_OK)
		free(issuer);
	char hex[65];
	x509_key_pubkey_sha256(pem, size, hex, &err);
	x509_verify(pem, size, pem, size, pem, size, &err);
	bool match;
	x509_key_matches(pem, size, pem, size, &match, &err);
	x509_text_has_private_key(pem, size);
	return 0;
}
