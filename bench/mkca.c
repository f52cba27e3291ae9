/* mkca.c: write a Puppet CA directory with N signed certificates for bench/inventory.sh:
 * ROOT/etc/puppet/puppetserver/ca/{ca_crt.pem,ca_crl.pem,inventory.txt,signed/}, RSA 4096 keys
 * as Puppet makes them (one agent key for all, which changes nothing for a reader).
 * Expiries are spread over five years, so some have expired and some expire soon; every
 * 100th certificate is revoked and every 10th has an extra alt name.
 * Usage: mkca ROOT N */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define PKI_FAIL(what) (fprintf(stderr, "mkca: OpenSSL failed: %s\n", what), exit(1))
#include "testpki.h"

#define DAY (24L * 3600)

static void mkdirs(const char *path)
{
	char buf[8192];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			PKI_FAIL(buf);
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		PKI_FAIL(buf);
}

static FILE *open_out(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		PKI_FAIL(path);
	return f;
}

static EVP_PKEY *gen_rsa(void)
{
	EVP_PKEY *k = EVP_RSA_gen(4096);
	ssl_check(k != NULL, "RSA key");
	return k;
}

int main(int argc, char **argv)
{
	if (argc != 3 || atol(argv[2]) < 1) {
		fprintf(stderr, "usage: mkca ROOT N\n");
		return 2;
	}
	long n = atol(argv[2]);
	char cadir[4096], signed_dir[4200];
	snprintf(cadir, sizeof cadir, "%s/etc/puppet/puppetserver/ca", argv[1]);
	snprintf(signed_dir, sizeof signed_dir, "%s/signed", cadir);
	mkdirs(signed_dir);
	time_t now = time(NULL);
	EVP_PKEY *ca_key = gen_rsa(), *agent_key = gen_rsa();
	X509 *ca = make_cert("Puppet CA: puppet.example.com", NULL, ca_key, ca_key, true, 1, now - 1900 * DAY,
			     now + 3650 * DAY, NULL);
	FILE *f = open_out(cadir, "ca_crt.pem");
	char *pem = pem_cert(ca);
	fputs(pem, f);
	free(pem);
	fclose(f);

	FILE *inv = open_out(cadir, "inventory.txt");
	long *revoked = calloc((size_t)n / 100 + 1, sizeof *revoked);
	size_t nrevoked = 0;
	for (long i = 1; i <= n; i++) {
		char cn[64], san[160], name[96], a[32], b[32];
		snprintf(cn, sizeof cn, "agent%ld.example.com", i);
		if (i % 10 == 0)
			snprintf(san, sizeof san, "DNS:%s,DNS:alias%ld.example.com", cn, i);
		else
			snprintf(san, sizeof san, "DNS:%s", cn);
		time_t nb = now - (i * 1900 / n) * DAY - 3600, na = nb + 1825 * DAY;
		long serial = i + 1;
		X509 *x = make_cert(cn, ca, ca_key, agent_key, false, serial, nb, na, san);
		snprintf(name, sizeof name, "%s.pem", cn);
		f = open_out(signed_dir, name);
		pem = pem_cert(x);
		fputs(pem, f);
		free(pem);
		fclose(f);
		X509_free(x);
		strftime(a, sizeof a, "%Y-%m-%dT%H:%M:%SUTC", gmtime(&nb));
		strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SUTC", gmtime(&na));
		fprintf(inv, "0x%04lx %s %s /CN=%s\n", serial, a, b, cn);
		if (i % 100 == 0)
			revoked[nrevoked++] = serial;
	}
	fclose(inv);
	f = open_out(cadir, "ca_crl.pem");
	pem = pem_crl(make_crl(ca, ca_key, revoked, nrevoked, now - DAY, now + 5 * 365 * DAY));
	fputs(pem, f);
	free(pem);
	fclose(f);
	free(revoked);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(agent_key);
	return 0;
}
