/* cli.c: parse the command line and run a subcommand; bare `certwiz` opens the wizard. */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoconfig.h"
#include "batch.h"
#include "backup.h"
#include "check.h"
#include "inventory.h"
#include "journal.h"
#include "report.h"
#include "runner.h"
#include "service.h"
#include "error.h"
#include "plan.h"
#include "util.h"
#include "validate.h"
#include "wizard.h"

#define EXIT_USAGE 2

static const char usage[] =
	"Usage: certwiz [COMMAND] [OPTIONS]\n"
	"\n"
	"Regenerate Puppet SSL certificates: agents, the primary server, or the whole CA.\n"
	"Nothing changes until you confirm; every command is shown before it runs.\n"
	"\n"
	"Commands:\n"
	"  (none)            open the wizard (a terminal of at least 80x24)\n"
	"  plan              print the checklist of a procedure; changes nothing\n"
	"  run               run a procedure without a screen (batch), from --answers FILE\n"
	"  list              list procedures and profiles\n"
	"  check             pre-flight and expiry checks of this host (for people and monitoring)\n"
	"  inventory         on the CA server: every signed certificate with its expiry, serial,\n"
	"                    alt names and revocation, the CA certificates and the CRL\n"
	"  resume JOURNAL    continue an interrupted run (crash, kill, lost session) from its journal\n"
	"                    (RUNDIR/journal.jsonl, or RUNDIR): a wizard run in the wizard, at its\n"
	"                    run screen; a batch run in batch (--batch: a wizard run too)\n"
	"  report JOURNAL    print the change record of a run (Markdown; --json for JSON)\n"
	"  restore BACKUP    put a backup archive back, byte for byte, on this host or (--host) on\n"
	"                    the agent that holds it; running Puppet services are stopped and\n"
	"                    started again (--yes: do not ask)\n"
	"\n"
	"Options:\n"
	"  -p, --procedure NAME      agent, primary, oss-ca, pe-monolithic, pe-split, crl-refresh,\n"
	"                            ca-renew\n"
	"  -P, --profile NAME        deployment profile, or 'auto' (default: detect on this host)\n"
	"  -c, --certname NAME       the CA/primary server's certname (default: puppet.conf)\n"
	"  -d, --dns-alt-names LIST  its alt names, comma separated (default: puppet.conf and the\n"
	"                            current certificate)\n"
	"  -a, --agents LIST         agent certnames, comma separated\n"
	"  -A, --agents-file FILE    agent certnames, one per line ('#' comments)\n"
	"      --puppetdb-host NAME  pe-split: the PuppetDB host\n"
	"      --console-host NAME   pe-split: the console host\n"
	"  -f, --answers FILE        batch answers (same syntax as certwiz.cfg)\n"
	"      --config FILE         site configuration (default " CW_SYSCONFDIR "/certwiz.cfg)\n"
	"      --datadir DIR         where config/ with profiles and procedures lives\n"
	"      --operator NAME       who signs off the steps\n"
	"      --backup-dir DIR      where backups go (default /var/lib/certwiz/backups)\n"
	"      --journal-dir DIR     where run journals and reports go (default /var/lib/certwiz/runs)\n"
	"      --root DIR            read this host's files under DIR instead of / (testing)\n"
	"      --parallel N          run: the same step on up to N agents at once (default 10)\n"
	"      --on-failure WHAT     run: stop (default) or rollback (restore every backup)\n"
	"      --json                report: JSON instead of Markdown\n"
	"      --yes                 restore: do not ask (batch)\n"
	"      --batch               resume: go on without a screen, even for a wizard run\n"
	"      --host NAME           restore: the backup is on this host (over SSH, settings from\n"
	"                            the site config's hosts and ssh sections)\n"
	"      --within DAYS         check, inventory: warn about certificates expiring within DAYS\n"
	"                            (default 30); inventory lists only those when it is given\n"
	"      --json                inventory: JSON instead of a table\n"
	"      --write-agents FILE   inventory: write the expiring agents as an --agents-file\n"
	"  -h, --help                this text\n"
	"  -V, --version             the version\n"
	"\n"
	"Exit codes:\n"
	"  0  success          2  bad command line or input, a blocked plan\n"
	"  3  configuration error                     4  I/O error (e.g. a missing file)\n"
	"  5  a step or its verification failed\n"
	"  6  cancelled        7  SSH: connection, authentication or host key\n"
	"  8  no verified backup (destructive steps refused)    9  another run holds the lock\n"
	"  certwiz check, certwiz inventory: 0 all ok, 1 warnings, 2 failures (as monitoring\n"
	"  plugins do)\n"
	"\n"
	"Examples:\n"
	"  certwiz plan --procedure agent --agents web1.example.com,web2.example.com\n"
	"  certwiz plan --procedure pe-monolithic --profile pe-3.7 --certname master.example.com \\\n"
	"               --dns-alt-names puppet,puppet.example.com\n"
	"  certwiz run --answers answers.cfg\n";

enum { OPT_PUPPETDB = 256, OPT_CONSOLE, OPT_CONFIG, OPT_DATADIR, OPT_OPERATOR, OPT_ROOT,
       OPT_BACKUP_DIR, OPT_JOURNAL_DIR, OPT_WITHIN, OPT_JSON, OPT_YES, OPT_HOST, OPT_PARALLEL, OPT_ON_FAILURE,
       OPT_WRITE_AGENTS, OPT_BATCH };

static const struct option long_opts[] = {
	{"procedure", required_argument, NULL, 'p'},
	{"profile", required_argument, NULL, 'P'},
	{"certname", required_argument, NULL, 'c'},
	{"dns-alt-names", required_argument, NULL, 'd'},
	{"agents", required_argument, NULL, 'a'},
	{"agents-file", required_argument, NULL, 'A'},
	{"answers", required_argument, NULL, 'f'},
	{"puppetdb-host", required_argument, NULL, OPT_PUPPETDB},
	{"console-host", required_argument, NULL, OPT_CONSOLE},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"datadir", required_argument, NULL, OPT_DATADIR},
	{"operator", required_argument, NULL, OPT_OPERATOR},
	{"root", required_argument, NULL, OPT_ROOT},
	{"backup-dir", required_argument, NULL, OPT_BACKUP_DIR},
	{"journal-dir", required_argument, NULL, OPT_JOURNAL_DIR},
	{"within", required_argument, NULL, OPT_WITHIN},
	{"json", no_argument, NULL, OPT_JSON},
	{"parallel", required_argument, NULL, OPT_PARALLEL},
	{"on-failure", required_argument, NULL, OPT_ON_FAILURE},
	{"yes", no_argument, NULL, OPT_YES},
	{"host", required_argument, NULL, OPT_HOST},
	{"write-agents", required_argument, NULL, OPT_WRITE_AGENTS},
	{"batch", no_argument, NULL, OPT_BATCH},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static int fail(const struct cw_error *err)
{
	char buf[1400];
	fprintf(stderr, "certwiz: %s\n", cw_error_format(err, buf, sizeof buf));
	return cw_status_exit_code(err->code);
}

static int cmd_list(struct wizard_opts *o)
{
	struct cw_error err = {0};
	struct wizard *w;
	o->profile = o->profile ? o->profile : "oss-debian"; /* listing needs no detection */
	if (wizard_open(o, &w, &err))
		return fail(&err);
	printf("Procedures:\n");
	for (size_t i = 0; w->procedure_names && w->procedure_names[i]; i++) {
		struct procedure *p;
		if (wizard_procedure_info(w, w->procedure_names[i], &p, &err))
			return fail(&err);
		struct strbuf sb;
		strbuf_init(&sb);
		char *follows = xasprintf("follows %s", p->seed);
		strbuf_wrap(&sb, "                 ", follows, 78);
		free(follows);
		printf("  %-14s %s\n%s", p->name, p->title, sb.buf);
		strbuf_done(&sb);
		procedure_free(p);
	}
	printf("\nProfiles:\n");
	for (size_t i = 0; i < w->nprofiles; i++)
		printf("  %-14s %s [%s dialect]\n", w->profiles[i]->name, w->profiles[i]->title,
		       dialect_str(w->profiles[i]->dialect));
	wizard_free(w);
	return 0;
}

static int cmd_plan(struct wizard_opts *o)
{
	struct cw_error err = {0};
	struct wizard *w;
	if (wizard_open(o, &w, &err))
		return fail(&err);
	if (wizard_build_plan(w, &err)) {
		wizard_free(w);
		return fail(&err);
	}
	struct strbuf sb;
	strbuf_init(&sb);
	plan_format(w->plan, &sb);
	fputs(sb.buf, stdout);
	strbuf_done(&sb);
	/* A blocked plan is printed whole, but it cannot run: say so in the exit code too. */
	int rc = 0;
	if (w->plan->blockers) {
		fprintf(stderr, "certwiz: the plan is blocked (BLOCKED above): certwiz run would refuse it\n");
		rc = EXIT_USAGE;
	}
	wizard_free(w);
	return rc;
}

static int cmd_check(struct wizard_opts *o, int within)
{
	struct cw_error err = {0};
	struct wizard *w;
	if (wizard_open(o, &w, &err))
		return fail(&err);
	struct check_report r;
	checks_run(w, within, 0, &r, &err);
	printf("certwiz check: %s (%s), certificates expiring within %d days warn\n",
	       vars_get(&w->facts.vars, "certname"), w->profile->name, within);
	for (size_t i = 0; i < r.n; i++) {
		printf("%-4s %-20s %s\n", check_level_str(r.items[i].level), r.items[i].name, r.items[i].found);
		if (r.items[i].fix)
			printf("     %-20s fix: %s\n", "", r.items[i].fix);
	}
	int rc = r.worst == LEVEL_OK ? 0 : r.worst == LEVEL_WARN ? 1 : 2;
	check_report_done(&r);
	wizard_free(w);
	return rc;
}

/* The CA's signed certificates: a table or JSON; exit code as check; --write-agents. */
static int cmd_inventory(struct wizard_opts *o, int within, bool within_given, bool json, const char *agents_out)
{
	struct cw_error err = {0};
	struct wizard *w;
	if (wizard_open(o, &w, &err))
		return fail(&err);
	const struct facts *f = &w->facts;
	struct inventory inv;
	if (inventory_read(w->site.root, vars_get(&f->vars, "cadir"), vars_get(&f->vars, "ssldir"), 0, within, &inv,
			   &err)) {
		wizard_free(w);
		return fail(&err);
	}
	const char *self = vars_get(&f->vars, "certname");
	char **agents = inventory_expiring_agents(&inv, self);
	if (agents_out) {
		char *text = inventory_agents_file_text(&inv, agents);
		cw_status st = file_write_atomic(agents_out, text, strlen(text), 0644, &err);
		free(text);
		if (st) {
			strv_free(agents);
			inventory_done(&inv);
			wizard_free(w);
			return fail(&err);
		}
	}
	struct strbuf sb;
	strbuf_init(&sb);
	if (json) {
		inventory_format_json(&inv, within_given, &sb);
	} else {
		strbuf_addf(&sb, "certwiz inventory: the CA of %s (%s), certificates expiring within %d days warn\n", self,
			    w->profile->name, within);
		inventory_format_text(&inv, within_given, &sb);
		if (agents_out)
			strbuf_addf(&sb, "\nwrote %zu agent certname(s) to %s\n", strv_len(agents), agents_out);
		char **fixes = inventory_fixes(&inv, self, check_ca_procedure(w->profile), agents, agents_out);
		for (size_t i = 0; fixes && fixes[i]; i++)
			strbuf_addf(&sb, "%sfix: %s\n", i == 0 ? "\n" : "", fixes[i]);
		strv_free(fixes);
	}
	fputs(sb.buf, stdout);
	strbuf_done(&sb);
	int rc = inventory_worst(&inv);
	strv_free(agents);
	inventory_done(&inv);
	wizard_free(w);
	return rc;
}

static int cmd_report(const char *journal, bool json)
{
	struct cw_error err = {0};
	struct journal_log log = {0};
	if (!journal) {
		fprintf(stderr, "certwiz: report needs the journal of a run: certwiz report RUNDIR/journal.jsonl\n");
		return EXIT_USAGE;
	}
	char *path = path_is_dir(journal) ? path_join(journal, "journal.jsonl") : xstrdup(journal);
	cw_status st = journal_load(path, &log, &err);
	free(path);
	if (st)
		return fail(&err);
	struct strbuf sb;
	strbuf_init(&sb);
	st = json ? report_json(&log, &sb, &err) : report_markdown(&log, &sb, &err);
	if (!st)
		fputs(sb.buf, stdout);
	strbuf_done(&sb);
	journal_log_done(&log);
	return st ? fail(&err) : 0;
}

/* The host a restore works on: this one, or (--host) one reached over SSH with its settings
 * from the site config, its host key checked against known_hosts. */
static cw_status restore_transport(const struct wizard *w, const char *host, struct transport **t,
				   struct cw_error *err)
{
	if (!host) {
		*t = transport_local_new("localhost");
		return CW_OK;
	}
	cw_status st = validate_host(host, err);
	if (st) {
		cw_error_prefix(err, "--host");
		return st;
	}
	struct host_cfg hc;
	if ((st = site_host_settings(&w->site, host, getenv("HOME"), &hc, err)))
		return st;
	struct ssh_opts o = {
		.host = host,
		.address = hc.address,
		.port = hc.port,
		.user = hc.user,
		.identity = hc.identity,
		.known_hosts = hc.known_hosts,
		.sudo = hc.sudo,
		.connect_timeout_s = hc.connect_timeout,
	};
	st = transport_ssh_new(&o, t, err);
	if (!st && (st = transport_ssh_connect(*t, err))) {
		transport_free(*t);
		*t = NULL;
	}
	host_cfg_done(&hc);
	if (st)
		cw_error_prefix(err, "%s", host);
	return st;
}

/* Put a backup back on a host: show what it replaces, ask, stop what runs, restore, start. */
static int cmd_restore(struct wizard_opts *o, const char *archive, const char *host, bool yes)
{
	struct cw_error err = {0};
	if (!archive) {
		fprintf(stderr, "certwiz: restore needs a backup archive: certwiz restore DIR/NAME.tar.gz [--host HOST]\n");
		return EXIT_USAGE;
	}
	struct wizard *w;
	if (wizard_open(o, &w, &err))
		return fail(&err);
	struct transport *t = NULL;
	char **running = NULL, *text = NULL;
	char *manifest = backup_manifest_path(archive);
	bool have_archive = false, have_manifest = false;
	if (restore_transport(w, host, &t, &err) || transport_path_exists(t, archive, &have_archive, &err) ||
	    transport_path_exists(t, manifest, &have_manifest, &err))
		goto fail;
	/* Name what is missing: the archive given, or the manifest that must lie beside it. */
	if (!have_archive) {
		cw_error_set(&err, CW_ENOTFOUND,
			     "no backup archive %s%s%s: give the path of a NAME.tar.gz that certwiz wrote "
			     "(in the backup directory, default /var/lib/certwiz/backups)",
			     archive, host ? " on " : "", host ? host : "");
		goto fail;
	}
	if (!have_manifest) {
		cw_error_set(&err, CW_ENOTFOUND,
			     "the backup %s has no manifest %s beside it: certwiz restores only a backup it "
			     "can verify; put the manifest back next to the archive",
			     archive, manifest);
		goto fail;
	}
	if (transport_read_file(t, manifest, 64 << 20, &text, NULL, &err))
		goto fail;
	printf("certwiz restore: %s%s%s\nThis puts back, byte for byte (contents, owners, modes), and replaces what is "
	       "there now:\n", archive, host ? " on " : "", host ? host : "");
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		if (strncmp(line, "top ", 4) == 0 || strncmp(line, "absent ", 7) == 0)
			printf("  %s\n", line);
	if (!yes) {
		char answer[16] = "";
		printf("Type 'restore' to go on: ");
		fflush(stdout);
		if (!fgets(answer, sizeof answer, stdin) || strcmp(answer, "restore\n") != 0) {
			cw_error_set(&err, CW_ECANCEL, "nothing was changed: the restore was not confirmed (type "
				     "'restore', or give --yes)");
			goto fail;
		}
	}
	/* Another host is an agent (or a PE split node): its agent services; this host: all. */
	const struct service_group *g = profile_group(w->profile, host ? "agent" : "all");
	if (!g)
		g = profile_group(w->profile, host ? "all" : "primary");
	const struct service_backend *b = site_backend(&w->site, w->profile);
	struct service_ctx c = {.t = t, .backend = b, .timeout_s = 300};
	for (size_t i = 0; g && g->stop && g->stop[i]; i++) {
		const struct service_def *d = profile_service(w->profile, g->stop[i]);
		struct service_status st = {0};
		if (service_query(&c, d, &st, NULL) == CW_OK && st.state == SERVICE_RUNNING) {
			printf("stopping %s\n", d->name);
			if (service_stop(&c, d, &st, &err)) {
				cw_error_prefix(&err, "nothing was restored");
				goto fail;
			}
			strv_push(&running, d->name);
		}
	}
	if (backup_restore(t, archive, NULL, &err))
		goto fail;
	printf("restored %s\n", archive);
	for (size_t i = 0; g && g->start && g->start[i]; i++) {
		if (!strv_contains(running, g->start[i]))
			continue;
		struct service_status st = {0};
		printf("starting %s\n", g->start[i]);
		if (service_start(&c, profile_service(w->profile, g->start[i]), &st, &err))
			goto fail;
	}
	err.code = CW_OK;
fail:
	free(manifest);
	free(text);
	strv_free(running);
	if (t)
		transport_free(t);
	wizard_free(w);
	return err.code ? fail(&err) : 0;
}

/* A path typed on the command line, made absolute against the current directory, so what the
 * journal records names the same file from anywhere (`certwiz resume`). owned keeps it. */
static const char *abs_arg(char ***owned, const char *path)
{
	if (!path)
		return NULL;
	char *p = path_absolute(path, NULL);
	strv_push_owned(owned, p);
	return p;
}

static int dispatch(const char *cmd, struct wizard_opts *o, const char *operand, const char *host,
		    bool json, bool yes, int within, bool within_given, const char *agents_out, bool batch)
{
	if (!cmd)
		return batch_wizard(o);
	if (strcmp(cmd, "plan") == 0)
		return cmd_plan(o);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(o);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(operand, json);
	if (strcmp(cmd, "resume") == 0)
		return batch_resume(o, operand, batch);
	if (strcmp(cmd, "restore") == 0)
		return cmd_restore(o, operand, host, yes);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(o, within);
	if (strcmp(cmd, "inventory") == 0)
		return cmd_inventory(o, within, within_given, json, agents_out);
	if (strcmp(cmd, "run") == 0)
		return batch_run(o);
	fprintf(stderr, "certwiz: unknown command '%s': use plan, run, resume, check, inventory, report, restore or list (certwiz --help)\n", cmd);
	return EXIT_USAGE;
}

int cli_main(int argc, char **argv)
{
	struct wizard_opts o = {0};
	int within = 30;
	bool json = false, yes = false, within_given = false, batch = false;
	const char *cmd = NULL, *host = NULL, *agents_out = NULL;
	if (argc > 1 && argv[1][0] != '-') {
		cmd = argv[1];
		argv++;
		argc--;
	}
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:P:c:d:a:A:f:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.procedure = optarg; break;
		case 'P': o.profile = optarg; break;
		case 'c': o.certname = optarg; break;
		case 'd': o.dns_alt_names = optarg; break;
		case 'a': o.agents = optarg; break;
		case 'A': o.agents_file = optarg; break;
		case 'f': o.answers_path = optarg; break;
		case OPT_PUPPETDB: o.puppetdb_host = optarg; break;
		case OPT_CONSOLE: o.console_host = optarg; break;
		case OPT_CONFIG: o.config_path = optarg; break;
		case OPT_DATADIR: o.datadir = optarg; break;
		case OPT_OPERATOR: o.operator_name = optarg; break;
		case OPT_ROOT: o.root = optarg; break;
		case OPT_BACKUP_DIR: o.backup_dir = optarg; break;
		case OPT_JOURNAL_DIR: o.journal_dir = optarg; break;
		case OPT_WITHIN: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 0 || v > 36500) {
				fprintf(stderr, "certwiz: --within takes a number of days (0 to 36500), not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			within = (int)v;
			within_given = true;
			break;
		}
		case OPT_JSON: json = true; break;
		case OPT_ON_FAILURE: o.on_failure = optarg; break;
		case OPT_PARALLEL: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 256) {
				fprintf(stderr, "certwiz: --parallel takes a number of hosts from 1 to 256, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			o.parallel = (int)v;
			break;
		}
		case OPT_YES: yes = true; break;
		case OPT_HOST: host = optarg; break;
		case OPT_WRITE_AGENTS: agents_out = optarg; break;
		case OPT_BATCH: batch = true; break;
		case 'h': fputs(usage, stdout); return 0;
		case 'V': printf("certwiz %s\n", PACKAGE_VERSION); return 0;
		case ':':
			fprintf(stderr, "certwiz: option %s needs a value; see certwiz --help\n", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr, "certwiz: unknown option '%s'; see certwiz --help\n", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	const char *operand = NULL; /* report JOURNAL, restore BACKUP */
	if (cmd && (strcmp(cmd, "report") == 0 || strcmp(cmd, "restore") == 0 || strcmp(cmd, "resume") == 0) && optind < argc)
		operand = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "certwiz: unexpected argument '%s'; see certwiz --help\n", argv[optind]);
		return EXIT_USAGE;
	}
	char **owned = NULL;
	o.config_path = abs_arg(&owned, o.config_path);
	o.answers_path = abs_arg(&owned, o.answers_path);
	o.agents_file = abs_arg(&owned, o.agents_file);
	o.datadir = abs_arg(&owned, o.datadir);
	o.root = abs_arg(&owned, o.root);
	o.backup_dir = abs_arg(&owned, o.backup_dir);
	o.journal_dir = abs_arg(&owned, o.journal_dir);
	if (operand && !host) /* a backup on another host (--host) is named as it is there */
		operand = abs_arg(&owned, operand);
	agents_out = abs_arg(&owned, agents_out);
	int rc = dispatch(cmd, &o, operand, host, json, yes, within, within_given, agents_out, batch);
	strv_free(owned);
	return rc;
}
