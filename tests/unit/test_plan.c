/* test_plan.c: procedures expanded into concrete, validated steps. */
#include "testutil.h"

#include "config.h"
#include "plan.h"
#include "util.h"

static struct profile *load_profile(const char *name)
{
	char *rel = xasprintf("profiles/%s.cfg", name);
	char *path = config_find(CW_TEST_SRCDIR, rel);
	struct profile *p = NULL;
	struct cw_error e = {0};
	if (!path || profile_load(path, &p, &e) != CW_OK)
		fail_msg("%s: %s", name, e.msg);
	free(rel);
	free(path);
	return p;
}

static struct procedure *load_proc(const char *name)
{
	char *rel = xasprintf("procedures/%s.cfg", name);
	char *path = config_find(CW_TEST_SRCDIR, rel);
	struct procedure *p = NULL;
	struct cw_error e = {0};
	if (!path || procedure_load(path, &p, &e) != CW_OK)
		fail_msg("%s: %s:%d %s", name, e.file, e.line, e.msg);
	free(rel);
	free(path);
	return p;
}

struct fixture {
	struct profile *profile;
	struct procedure *proc;
	struct facts facts;
	struct site site;
	char **agents;
	struct plan *plan;
};

static void fixture_init(struct fixture *fx, const char *profile, const char *proc)
{
	memset(fx, 0, sizeof *fx);
	fx->profile = load_profile(profile);
	fx->proc = load_proc(proc);
	vars_copy(&fx->facts.vars, &fx->profile->vars);
	vars_set(&fx->facts.vars, "certname", "puppet.example.com");
	vars_set(&fx->facts.vars, "dns_alt_names", "puppet,puppet.example.com");
	fx->facts.allow_subject_alt_names = 1;
	site_init(&fx->site);
}

static void fixture_done(struct fixture *fx)
{
	plan_free(fx->plan);
	strv_free(fx->agents);
	site_done(&fx->site);
	vars_done(&fx->facts.vars);
	procedure_free(fx->proc);
	profile_free(fx->profile);
}

static cw_status build(struct fixture *fx, struct cw_error *e)
{
	struct plan_input in = {.proc = fx->proc, .profile = fx->profile, .facts = &fx->facts, .site = &fx->site,
				.agents = fx->agents};
	plan_free(fx->plan);
	fx->plan = NULL;
	return plan_build(&in, &fx->plan, e);
}

static const struct plan_step *step(const struct plan *p, const char *id)
{
	for (size_t i = 0; i < p->nsteps; i++)
		if (strcmp(p->steps[i].id, id) == 0)
			return &p->steps[i];
	return NULL;
}

static void assert_argv(char **argv, const char *expected)
{
	char *got = argv_display(argv);
	if (strcmp(got, expected) != 0)
		fail_msg("argv '%s', expected '%s'", got, expected);
	free(got);
}

static void test_agent_two_hosts(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_init(&fx, "oss-debian", "agent");
	fx.agents = strv_split("a1.example.com,a2.example.com", ',');
	struct cw_error e = {0};
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	const struct plan *p = fx.plan;
	assert_int_equal(p->nhosts, 3);
	assert_int_equal(p->nsteps, 1 + 2 + 2 + 8 * 2);
	const struct plan_step *s = step(p, "ca-clean@a2.example.com");
	assert_non_null(s);
	assert_int_equal(s->host, 0); /* runs on the CA */
	assert_true(s->destructive);
	assert_string_equal(s->confirm, "a2.example.com");
	assert_argv(s->argv, "puppetserver ca clean --certname a2.example.com");
	assert_int_equal(s->nok, 2);
	s = step(p, "agent-delete-ssl@a1.example.com");
	assert_int_equal(s->host, 1);
	assert_argv(s->argv, "rm -rf -- /var/lib/puppet/ssl");
	s = step(p, "agent-request@a1.example.com");
	assert_argv(s->argv, "puppet ssl submit_request --certname a1.example.com"); /* no alt names: group dropped */
	assert_int_equal(s->nok, 1);
	s = step(p, "ca-sign@a1.example.com");
	assert_int_equal(s->nrequire, 1);
	assert_int_equal(s->require[0].host, 0);
	assert_int_equal(s->require[0].other_host, 1);
	assert_string_equal(s->require[0].other, "/var/lib/puppet/ssl/certificate_requests/a1.example.com.pem");
	s = step(p, "agent-stop@a2.example.com");
	assert_int_equal(s->kind, STEP_SERVICE);
	assert_string_equal(s->services[0], "puppet");
	/* every backup precedes every destructive step */
	size_t last_backup = 0, first_destructive = p->nsteps;
	for (size_t i = 0; i < p->nsteps; i++) {
		if (p->steps[i].kind == STEP_BACKUP)
			last_backup = i;
		if (p->steps[i].destructive && i < first_destructive)
			first_destructive = i;
	}
	assert_true(last_backup < first_destructive);
	struct strbuf sb;
	strbuf_init(&sb);
	plan_format(p, &sb);
	assert_non_null(strstr(sb.buf, "$ puppetserver ca sign --certname a2.example.com"));
	assert_non_null(strstr(sb.buf, "'a1.example.com' to run it"));
	strbuf_done(&sb);
	fixture_done(&fx);
}

static void test_agent_options(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_init(&fx, "oss-debian", "agent");
	fx.agents = strv_split("a1.example.com,win.example.com", ',');
	fx.site.autosign = true;
	fx.site.hosts = xcalloc(2, sizeof *fx.site.hosts);
	fx.site.nhosts = 2;
	fx.site.hosts[0] = (struct host_cfg){.name = xstrdup("a1.example.com"), .address = xstrdup("127.0.0.11"),
					     .dns_alt_names = strv_split("a1,a1.internal", ','), .sudo = -1};
	fx.site.hosts[1] = (struct host_cfg){.name = xstrdup("win.example.com"), .os = xstrdup("windows"), .sudo = -1};
	struct cw_error e = {0};
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	const struct plan *p = fx.plan;
	assert_null(step(p, "ca-sign@a1.example.com")); /* autosign: no signing step */
	assert_argv(step(p, "agent-request@a1.example.com")->argv,
		    "puppet ssl submit_request --certname a1.example.com --dns_alt_names a1,a1.internal");
	assert_string_equal(p->hosts[1].address, "127.0.0.11");
	const struct plan_step *w = step(p, "agent-delete-ssl@win.example.com");
	assert_int_equal(w->kind, STEP_MANUAL);
	assert_non_null(strstr(w->manual, "Administrator confdir"));
	w = step(p, "agent-request@win.example.com");
	assert_int_equal(w->kind, STEP_MANUAL);
	assert_non_null(strstr(w->manual, "puppet ssl submit_request --certname win.example.com"));
	fixture_done(&fx);
}

static void test_refusals(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_init(&fx, "oss-debian", "agent");
	struct cw_error e = {0};
	assert_int_equal(build(&fx, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "needs at least one agent"));
	fx.agents = strv_split("puppet.example.com", ',');
	assert_int_equal(build(&fx, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "'primary' procedure"));
	strv_free(fx.agents);
	fx.agents = strv_split("ok.example.com,ok.example.com", ',');
	assert_int_equal(build(&fx, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "listed twice"));
	strv_free(fx.agents);
	fx.agents = NULL;
	strv_push(&fx.agents, "x;reboot");
	assert_int_equal(build(&fx, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "character ';'"));
	strv_free(fx.agents);
	fx.agents = strv_split("ok.example.com", ',');
	vars_set(&fx.site.vars, "ssldir", "/");
	assert_int_equal(build(&fx, &e), CW_EINVAL);
	assert_non_null(strstr(e.msg, "ssldir"));
	assert_non_null(strstr(e.msg, "too close to /"));
	fixture_done(&fx);
}

static void test_legacy_dialect(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_init(&fx, "oss-aio-5", "agent");
	fx.agents = strv_split("a1.example.com", ',');
	struct cw_error e = {0};
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	/* AIO keeps Puppet in /opt/puppetlabs/bin, which a command over SSH has not on its PATH. */
	assert_argv(step(fx.plan, "ca-clean@a1.example.com")->argv, "/opt/puppetlabs/bin/puppet cert clean a1.example.com");
	assert_argv(step(fx.plan, "ca-sign@a1.example.com")->argv, "/opt/puppetlabs/bin/puppet cert sign a1.example.com");
	assert_argv(step(fx.plan, "agent-run@a1.example.com")->argv,
		    "/opt/puppetlabs/bin/puppet agent --test --certname a1.example.com");
	assert_int_equal(step(fx.plan, "agent-request@a1.example.com")->nok, 2);
	fixture_done(&fx);

	/* puppet cert sign takes --allow-dns-alt-names as a bare flag, only for a request with alt
	 * names (a value after it would be taken for another certname to sign). */
	fixture_init(&fx, "oss-aio-5", "agent");
	fx.agents = strv_split("a1.example.com,a2.example.com", ',');
	fx.site.hosts = xcalloc(1, sizeof *fx.site.hosts);
	fx.site.nhosts = 1;
	fx.site.hosts[0] = (struct host_cfg){.name = xstrdup("a1.example.com"),
					     .dns_alt_names = strv_split("a1,a1.internal", ','), .sudo = -1};
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	assert_argv(step(fx.plan, "ca-sign@a1.example.com")->argv,
		    "/opt/puppetlabs/bin/puppet cert sign --allow-dns-alt-names a1.example.com");
	assert_argv(step(fx.plan, "ca-sign@a2.example.com")->argv, "/opt/puppetlabs/bin/puppet cert sign a2.example.com");
	fixture_done(&fx);

	/* The seed's own CA sequence: puppet cert list -a, then puppet master in the foreground,
	 * stopped once it prints that it starts. */
	fixture_init(&fx, "oss-aio-5", "oss-ca");
	fx.agents = strv_split("a1.example.com", ',');
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	assert_argv(step(fx.plan, "ca-setup")->argv, "/opt/puppetlabs/bin/puppet cert list -a");
	const struct plan_step *m = step(fx.plan, "ca-master-legacy");
	assert_string_equal(m->argv[1], "master");
	assert_string_equal(m->until, "Starting Puppet master");
	assert_null(step(fx.plan, "ca-clear-cadir")); /* the CA lives inside the ssldir */
	fixture_done(&fx);

	/* Debian's packages put Puppet on the PATH: commands as named. */
	fixture_init(&fx, "oss-debian", "agent");
	fx.agents = strv_split("a1.example.com", ',');
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	assert_argv(step(fx.plan, "agent-run@a1.example.com")->argv, "puppet agent --test --certname a1.example.com");
	fixture_done(&fx);
}

/* A service step shows the command its backend runs, as Puppet's documents write it. */
static void test_service_commands_shown(void **state)
{
	(void)state;
	struct fixture fx;
	struct cw_error e = {0};
	fixture_init(&fx, "pe-3.7", "agent");
	fx.agents = strv_split("a1.example.com", ',');
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	const struct plan_step *s = step(fx.plan, "agent-stop@a1.example.com");
	assert_string_equal(s->service_cmds[0], "puppet resource service pe-puppet ensure=stopped");
	assert_string_equal(s->service_cmds[1], "puppet resource service pe-mcollective ensure=stopped");
	fixture_done(&fx);
	/* AIO: puppet resource from /opt/puppetlabs/bin too. */
	fixture_init(&fx, "oss-aio-5", "agent");
	fx.agents = strv_split("a1.example.com", ',');
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	s = step(fx.plan, "agent-start@a1.example.com");
	assert_string_equal(s->service_cmds[0], "/opt/puppetlabs/bin/puppet resource service puppet ensure=running");
	fixture_done(&fx);
}

static void test_primary_alt_names_and_blocker(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_init(&fx, "oss-debian", "primary");
	struct cw_error e = {0};
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	const struct plan_step *g = step(fx.plan, "primary-generate");
	/* puppet.conf names the certname among the alt names too: Puppet adds it to the SAN by
	 * itself, so it is not given again */
	assert_argv(g->argv, "puppetserver ca generate --certname puppet.example.com --subject-alt-names "
			     "puppet --ca-client");
	assert_int_equal(strv_len(g->verify[0].san), 1); /* puppet; the certname is checked as the CN */
	assert_null(step(fx.plan, "primary-clean-legacy")); /* modern: that step has no command */
	assert_null(fx.plan->blockers);
	fx.facts.allow_subject_alt_names = 0;
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	assert_non_null(fx.plan->blockers);
	assert_non_null(strstr(fx.plan->blockers[0], "allow-subject-alt-names: true"));
	assert_non_null(strstr(fx.plan->blockers[0], "/etc/puppet/puppetserver/conf.d/ca.conf"));
	fixture_done(&fx);
}

static void test_oss_ca_includes_agent_phase(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_init(&fx, "oss-debian", "oss-ca");
	fx.agents = strv_split("a1.example.com", ',');
	struct cw_error e = {0};
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	assert_non_null(step(fx.plan, "agent-fetch@a1.example.com"));
	assert_argv(step(fx.plan, "ca-clear-ssl")->argv, "find /var/lib/puppet/ssl -mindepth 1 -delete");
	assert_null(step(fx.plan, "puppetdb-stop")); /* when = puppetdb */
	assert_null(step(fx.plan, "puppetdb-start"));
	fx.site.puppetdb = true;
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	/* Debian's PuppetDB reads Puppet's own files (the profile's puppetdb_ssl = "puppet"):
	 * nothing to copy, a restart; the start is verified by the certificate 8081 serves. */
	assert_non_null(step(fx.plan, "puppetdb-stop"));
	const struct plan_step *start = step(fx.plan, "puppetdb-start");
	assert_non_null(start);
	assert_null(step(fx.plan, "puppetdb-ssl-setup"));
	assert_true(start->nverify >= 1);
	const struct plan_check *tls = &start->verify[start->nverify - 1];
	assert_int_equal(tls->kind, CHECK_TLS);
	assert_int_equal(tls->port, 8081);
	assert_string_equal(tls->key, "/var/lib/puppet/ssl/private_keys/puppet.example.com.pem");
	fixture_done(&fx);
	/* Puppet's AIO packages: `puppetdb ssl-setup -f` copies them, between the stop and the start. */
	fixture_init(&fx, "oss-aio", "oss-ca");
	fx.agents = strv_split("a1.example.com", ',');
	fx.site.puppetdb = true;
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	const struct plan_step *copy = step(fx.plan, "puppetdb-ssl-setup");
	assert_non_null(copy);
	assert_argv(copy->argv, "/opt/puppetlabs/bin/puppetdb ssl-setup -f");
	assert_true(step(fx.plan, "puppetdb-stop")->index < copy->index);
	assert_true(copy->index < step(fx.plan, "puppetdb-start")->index);
	fixture_done(&fx);
}

static void batch_of(const struct plan *p, const char *tmpl, size_t **idx, size_t *n)
{
	*idx = NULL;
	*n = 0;
	for (size_t i = 0; i < p->nsteps; i++)
		if (strcmp(p->steps[i].tmpl_id, tmpl) == 0) {
			*idx = xrealloc(*idx, (*n + 1) * sizeof **idx);
			(*idx)[(*n)++] = i;
		}
}

static void test_batch_argv(void **state)
{
	(void)state;
	struct fixture fx;
	fixture_init(&fx, "oss-debian", "agent");
	fx.agents = strv_split("a1.example.com,a2.example.com,a3.example.com", ',');
	struct cw_error e = {0};
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	size_t *idx, n;
	/* modern clean: the step's own batch_run, Puppet Server's bulk clean endpoint, the names as
	 * JSON strings; the step alone stays puppetserver ca clean */
	const char *bulk = "curl --fail --silent --show-error --max-time 300 --cacert /var/lib/puppet/ssl/certs/ca.pem "
			   "--cert /var/lib/puppet/ssl/certs/puppet.example.com.pem "
			   "--key /var/lib/puppet/ssl/private_keys/puppet.example.com.pem --request PUT "
			   "--header 'Content-Type: application/json' --data '{\"certnames\":[%s]}' "
			   "https://puppet.example.com:8140/puppet-ca/v1/clean";
	batch_of(fx.plan, "ca-clean", &idx, &n);
	assert_int_equal(n, 3);
	assert_argv(fx.plan->steps[idx[0]].argv, "puppetserver ca clean --certname a1.example.com");
	char **argv = plan_batch_argv(fx.plan, idx, n);
	char *want = xasprintf(bulk, "\"a1.example.com\",\"a2.example.com\",\"a3.example.com\"");
	assert_argv(argv, want);
	free(want);
	strv_free(argv);
	/* a subset, in the order given */
	size_t two[] = {idx[2], idx[0]};
	argv = plan_batch_argv(fx.plan, two, 2);
	want = xasprintf(bulk, "\"a3.example.com\",\"a1.example.com\"");
	assert_argv(argv, want);
	free(want);
	strv_free(argv);
	/* a name that would need quoting in JSON is never put there (names are validated long
	 * before; this is the last line) */
	char *saved = fx.plan->steps[idx[1]].target;
	fx.plan->steps[idx[1]].target = xstrdup("a2\"]}");
	assert_null(plan_batch_argv(fx.plan, idx, n));
	free(fx.plan->steps[idx[1]].target);
	fx.plan->steps[idx[1]].target = saved;
	/* the same agent twice, or steps of different templates, cannot share a command */
	size_t twice[] = {idx[0], idx[0]};
	assert_null(plan_batch_argv(fx.plan, twice, 2));
	free(idx);
	batch_of(fx.plan, "ca-sign", &idx, &n);
	size_t mixed[] = {idx[0], two[0]};
	assert_null(plan_batch_argv(fx.plan, mixed, 2));
	argv = plan_batch_argv(fx.plan, idx, n);
	assert_argv(argv, "puppetserver ca sign --certname a1.example.com,a2.example.com,a3.example.com");
	strv_free(argv);
	free(idx);
	/* steps on the agents are not batch steps */
	batch_of(fx.plan, "agent-request", &idx, &n);
	assert_false(fx.plan->steps[idx[0]].batch);
	assert_null(plan_batch_argv(fx.plan, idx, n));
	free(idx);
	fixture_done(&fx);

	/* legacy: the name repeated, one element each */
	fixture_init(&fx, "pe-3.7", "agent");
	fx.agents = strv_split("a1.example.com,a2.example.com", ',');
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	batch_of(fx.plan, "ca-clean", &idx, &n);
	argv = plan_batch_argv(fx.plan, idx, n);
	assert_argv(argv, "puppet cert clean a1.example.com a2.example.com");
	strv_free(argv);
	free(idx);
	fixture_done(&fx);

	/* legacy signing with alt names for one agent: the commands differ elsewhere: no batch */
	fixture_init(&fx, "pe-3.7", "agent");
	fx.agents = strv_split("a1.example.com,a2.example.com", ',');
	struct host_cfg h = {.name = xstrdup("a1.example.com"), .sudo = -1,
			     .dns_alt_names = strv_split("web.example.com", ',')};
	fx.site.hosts = xcalloc(1, sizeof *fx.site.hosts);
	fx.site.hosts[0] = h;
	fx.site.nhosts = 1;
	if (build(&fx, &e))
		fail_msg("%s", e.msg);
	batch_of(fx.plan, "ca-sign", &idx, &n);
	assert_int_equal(n, 2);
	assert_null(plan_batch_argv(fx.plan, idx, n));
	free(idx);
	fixture_done(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_two_hosts),
		cmocka_unit_test(test_agent_options),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_legacy_dialect),
		cmocka_unit_test(test_service_commands_shown),
		cmocka_unit_test(test_primary_alt_names_and_blocker),
		cmocka_unit_test(test_oss_ca_includes_agent_phase),
		cmocka_unit_test(test_batch_argv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
