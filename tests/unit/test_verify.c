/* test_verify.c: the checks behind a step's "verify:" lines, against a throw-away PKI made at
 * test time with the openssl command: a certificate that chains, one from another CA, one that
 * is revoked, a key that is not its own, an unchanged certificate, requests with the wrong key. */
#include "testutil.h"

#include <signal.h>
#include <stdbool.h>

#include "plan.h"
#include "transport.h"
#include "util.h"
#include "verify.h"
#include "x509.h"

/* The PKI: CA "ca" (ca.pem, ca.key); agent1 (a.key, a.csr, a.pem, by ca); another key b.key and
 * a request b.csr for agent1 with it; r.pem (by ca, revoked on crl.pem; crl0.pem revokes
 * nothing); a CA "ca2" and x.pem (agent1, by ca2). */
static const char PKI_SCRIPT[] =
	"set -e; cd \"$1\"\n"
	"key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out \"$1\"; }\n"
	"ca() { key $1.key; openssl req -x509 -new -key $1.key -out $1.pem -subj /CN=$1 -days 30 "
	"  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign; }\n"
	"ca ca; ca ca2\n"
	"printf 'subjectAltName=DNS:agent1,DNS:agent1.example.com\\n' > ext\n"
	"key a.key; key b.key; key r.key\n"
	"openssl req -new -key a.key -out a.csr -subj /CN=agent1.example.com\n"
	"openssl req -new -key b.key -out b.csr -subj /CN=agent1.example.com\n"
	"openssl req -new -key r.key -out r.csr -subj /CN=revoked.example.com\n"
	"openssl x509 -req -in a.csr -CA ca.pem -CAkey ca.key -set_serial 10 -days 10 -extfile ext "
	"  -out a.pem\n"
	"openssl x509 -req -in r.csr -CA ca.pem -CAkey ca.key -set_serial 11 -days 10 -out r.pem\n"
	"openssl x509 -req -in a.csr -CA ca2.pem -CAkey ca2.key -set_serial 12 -days 10 -extfile ext "
	"  -out x.pem\n"
	"printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\ncertificate=ca.pem\\n"
	"private_key=ca.key\\ndefault_md=sha256\\ndefault_crl_days=30\\ncrlnumber=crlnumber\\n' > ca.cnf\n"
	"touch index.txt; echo 01 > crlnumber\n"
	"openssl ca -config ca.cnf -gencrl -out crl0.pem -batch\n"
	"openssl ca -config ca.cnf -revoke r.pem -batch\n"
	"openssl ca -config ca.cnf -gencrl -out crl.pem -batch\n";

struct fx {
	char *dir;
	struct transport *t;
	struct plan plan;
	struct plan_host hosts[2];
	const char *before_fp; /* what env.before answers */
	struct verify_env env;
};

static struct transport *fx_transport(void *ctx, size_t host)
{
	(void)host;
	return ((struct fx *)ctx)->t;
}

static const char *fx_before(void *ctx, size_t host, const char *path)
{
	(void)host;
	(void)path;
	return ((struct fx *)ctx)->before_fp;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->dir = test_tmpdir();
	char *const argv[] = { "sh", "-c", (char *)PKI_SCRIPT, "sh", f->dir, NULL };
	test_run_quiet(argv);
	f->t = transport_local_new("ca.example.com");
	f->hosts[0].name = "ca.example.com";
	f->hosts[1].name = "agent1.example.com";
	f->plan.hosts = f->hosts;
	f->plan.nhosts = 2;
	f->env.ctx = f;
	f->env.transport = fx_transport;
	f->env.before = fx_before;
	f->env.tls_wait_s = 1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	transport_free(f->t);
	test_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* A path in the PKI directory (heap; the checks own none of their strings here). */
static char *F(const struct fx *f, const char *name)
{
	return name ? xasprintf("%s/%s", f->dir, name) : NULL;
}

/* Run one check; the test fails unless it comes out as `want` with a line holding `part`. */
static void expect(struct fx *f, struct plan_check *c, bool want, const char *part)
{
	char *line = NULL;
	bool ok = verify_check(&f->plan, c, &f->env, &line);
	assert_non_null(line);
	if (ok != want || !strstr(line, part))
		fail_msg("check %s (wanted %s) said: %s\n(expected it to say \"%s\")", ok ? "held" : "failed",
			 want ? "to hold" : "to fail", line, part);
	free(line);
}

static void cert_check(struct fx *f, struct plan_check *c, const char *cert, const char *ca,
		       const char *crl, const char *key)
{
	memset(c, 0, sizeof *c);
	c->kind = CHECK_CERT;
	c->path = F(f, cert);
	c->ca = F(f, ca);
	c->crl = F(f, crl);
	c->key = F(f, key);
}

static void cert_check_done(struct plan_check *c)
{
	free(c->path);
	free(c->ca);
	free(c->crl);
	free(c->key);
	free(c->other);
}

static void test_cert_good(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	cert_check(f, &c, "a.pem", "ca.pem", "crl0.pem", "a.key");
	c.cn = "agent1.example.com";
	char *san[] = { "DNS:agent1", "agent1.example.com", NULL };
	c.san = san;
	expect(f, &c, true, "a.pem on ca.example.com: agent1.example.com, expires ");
	/* the revoked certificate chains too, when its CRL is not consulted */
	cert_check_done(&c);
	cert_check(f, &c, "r.pem", "ca.pem", "crl0.pem", NULL);
	expect(f, &c, true, "revoked.example.com");
	cert_check_done(&c);
}

static void test_cert_does_not_chain(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	cert_check(f, &c, "x.pem", "ca.pem", NULL, NULL);
	expect(f, &c, false, "it does not verify against");
	cert_check_done(&c);
	/* the same certificate against its own CA holds: the failure is the chain's */
	cert_check(f, &c, "x.pem", "ca2.pem", NULL, NULL);
	expect(f, &c, true, "agent1.example.com");
	cert_check_done(&c);
}

static void test_cert_revoked(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	cert_check(f, &c, "r.pem", "ca.pem", "crl.pem", NULL);
	expect(f, &c, false, "revoked");
	cert_check_done(&c);
	/* a certificate the CRL does not list still holds with it */
	cert_check(f, &c, "a.pem", "ca.pem", "crl.pem", NULL);
	expect(f, &c, true, "agent1.example.com");
	cert_check_done(&c);
}

static void test_cert_key_mismatch(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	cert_check(f, &c, "a.pem", "ca.pem", NULL, "b.key");
	expect(f, &c, false, "does not belong to the private key");
	cert_check_done(&c);
	/* the private key is compared, never shown */
	cert_check(f, &c, "a.pem", NULL, NULL, "b.key");
	char *line = NULL;
	assert_false(verify_check(&f->plan, &c, &f->env, &line));
	assert_null(strstr(line, "PRIVATE KEY-----"));
	free(line);
	cert_check_done(&c);
}

static void test_cert_unchanged(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	struct x509_info info = { 0 };
	char *p = F(f, "a.pem");
	struct cw_error err;
	assert_int_equal(x509_load_cert(p, &info, &err), CW_OK);
	free(p);
	cert_check(f, &c, "a.pem", "ca.pem", NULL, NULL);
	c.changed = true;
	f->before_fp = info.fingerprint;
	expect(f, &c, false, "it is still the old certificate");
	/* another certificate before: changed */
	f->before_fp = "00:11:22";
	expect(f, &c, true, "agent1.example.com");
	/* none before (a first run): changed */
	f->before_fp = "";
	expect(f, &c, true, "agent1.example.com");
	f->before_fp = NULL;
	cert_check_done(&c);
	x509_info_done(&info);
}

static void test_cert_wrong_subject_and_alt_names(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	cert_check(f, &c, "a.pem", NULL, NULL, NULL);
	c.cn = "agent2.example.com";
	expect(f, &c, false, "its subject is 'agent1.example.com', expected 'agent2.example.com'");
	c.cn = NULL;
	char *san[] = { "DNS:puppet", NULL };
	c.san = san;
	expect(f, &c, false, "alt name 'puppet' is missing");
	c.san = NULL;
	c.is_ca = true;
	expect(f, &c, false, "it is not a CA certificate");
	cert_check_done(&c);
	cert_check(f, &c, "a.key", NULL, NULL, NULL);
	expect(f, &c, false, "is not a certificate");
	cert_check_done(&c);
	cert_check(f, &c, "missing.pem", NULL, NULL, NULL);
	expect(f, &c, false, "missing.pem on ca.example.com");
	cert_check_done(&c);
}

static void test_csr_key(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	memset(&c, 0, sizeof c);
	c.kind = CHECK_CSR;
	c.path = F(f, "a.csr");
	c.key = F(f, "a.key");
	c.cn = "agent1.example.com";
	expect(f, &c, true, "request for agent1.example.com, public key SHA-256");
	/* a request made with another key is refused and says so */
	free(c.key);
	c.key = F(f, "b.key");
	expect(f, &c, false, "PUBLIC KEYS DIFFER");
	free(c.key);
	c.key = NULL;
	/* the other end (the CA's copy of the request) must hold the same key */
	c.other = F(f, "b.csr");
	c.other_host = 1;
	expect(f, &c, false, "PUBLIC KEYS DIFFER");
	free(c.other);
	c.other = F(f, "a.csr");
	expect(f, &c, true, "(the same on both ends)");
	/* or a certificate: the one signed from this request */
	free(c.other);
	c.other = F(f, "a.pem");
	expect(f, &c, true, "(the same on both ends)");
	free(c.other);
	c.other = F(f, "x.pem"); /* the same key, another CA: the key is what is compared */
	expect(f, &c, true, "(the same on both ends)");
	free(c.other);
	c.other = NULL;
	c.cn = "agent2.example.com";
	expect(f, &c, false, "it asks for 'agent1.example.com', expected 'agent2.example.com'");
	cert_check_done(&c);
}

static void test_files_and_commands(void **state)
{
	struct fx *f = *state;
	struct plan_check c;
	memset(&c, 0, sizeof c);
	c.kind = CHECK_PRESENT;
	c.path = F(f, "a.pem");
	expect(f, &c, true, "exists");
	c.kind = CHECK_ABSENT;
	expect(f, &c, false, "still exists");
	free(c.path);
	c.path = F(f, "nothing");
	expect(f, &c, true, "is gone");
	c.kind = CHECK_EMPTY;
	expect(f, &c, true, "is gone (so empty)");
	free(c.path);
	c.path = xstrdup(f->dir);
	expect(f, &c, false, "still holds");
	free(c.path);
	/* the same file on both ends, and not */
	c.kind = CHECK_SAME;
	c.path = F(f, "a.pem");
	c.other = F(f, "a.pem");
	expect(f, &c, true, "is a copy of");
	free(c.other);
	c.other = F(f, "x.pem");
	expect(f, &c, false, "differs from");
	cert_check_done(&c);
	memset(&c, 0, sizeof c);
	c.kind = CHECK_COMMAND;
	char *yes[] = { "true", NULL }, *no[] = { "false", NULL };
	c.argv = yes;
	expect(f, &c, true, "`true` succeeded on ca.example.com");
	c.argv = no;
	expect(f, &c, false, "`false` failed on ca.example.com (non-zero exit)");
}

/* Replace a check's path with another file of the PKI (NULL: none). */
static void refill(char **field, const struct fx *f, const char *name)
{
	free(*field);
	*field = F(f, name);
}

/* A served certificate: `tls` holds when the port serves a certificate of the CA, and with `key`
 * only when it is the certificate of that key (a service that loaded another certificate of the
 * same CA, or kept an old one, fails). openssl s_server serves a.pem on a free loopback port. */
static void test_tls_key(void **state)
{
	struct fx *f = *state;
	char *out = F(f, "s_server.out"), *cert = F(f, "a.pem"), *key = F(f, "a.key");
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("openssl", "openssl", "s_server", "-accept", "127.0.0.1:0", "-www", "-cert", cert, "-key", key,
		       (char *)NULL);
		_exit(127);
	}
	int port = 0;
	for (int i = 0; i < 200 && !port; i++) { /* at most 20 s on a loaded machine */
		char *txt = test_slurp(out);
		const char *a = txt ? strstr(txt, "ACCEPT 127.0.0.1:") : NULL;
		if (a)
			port = atoi(a + strlen("ACCEPT 127.0.0.1:"));
		free(txt);
		if (!port)
			usleep(100000);
	}
	struct plan_check c;
	memset(&c, 0, sizeof c);
	c.kind = CHECK_TLS;
	c.address = "127.0.0.1";
	c.port = port;
	if (port) {
		refill(&c.ca, f, "ca.pem");
		expect(f, &c, true, "serves agent1.example.com");
		refill(&c.key, f, "a.key");
		expect(f, &c, true, ", for the key ");
		refill(&c.key, f, "b.key");
		expect(f, &c, false, "PUBLIC KEY DIFFERS");
		refill(&c.key, f, NULL);
		refill(&c.ca, f, "ca2.pem");
		expect(f, &c, false, "does not verify against");
		refill(&c.ca, f, NULL);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(out);
	free(cert);
	free(key);
	if (!port)
		fail_msg("openssl s_server did not say which port it listens on");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cert_good, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_does_not_chain, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_revoked, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_key_mismatch, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_unchanged, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_cert_wrong_subject_and_alt_names, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_csr_key, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_files_and_commands, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_key, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
