/* sshconfig.c: the basics of an OpenSSH client config file, parsed and looked up per host. */
#include "sshconfig.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#define SSHCFG_MAX_BYTES (1u << 20)

static const char *const known_keys[] = {"hostname", "user", "port", "identityfile", "userknownhostsfile",
					 "connecttimeout", NULL};

static bool is_known(const char *key)
{
	for (size_t i = 0; known_keys[i]; i++)
		if (strcmp(known_keys[i], key) == 0)
			return true;
	return false;
}

/* Split one line into words: whitespace separates, "double quotes" group, and the first word
 * may end with '=' or be followed by one ("Port=22", "Port = 22"). Returns a strv (heap). */
static cw_status split_line(const char *file, int line, const char *s, char ***out, struct cw_error *err)
{
	char **words = NULL;
	struct strbuf w;
	strbuf_init(&w);
	bool first = true;
	while (*s) {
		while (*s && isspace((unsigned char)*s))
			s++;
		if (!*s || *s == '#')
			break;
		if (!first && words && strv_len(words) == 1 && *s == '=') {
			s++; /* "Port = 22" */
			continue;
		}
		strbuf_reset(&w);
		while (*s && !isspace((unsigned char)*s)) {
			if (*s == '"') {
				const char *end = strchr(s + 1, '"');
				if (!end) {
					strbuf_done(&w);
					strv_free(words);
					return cw_error_set(err, CW_ECONFIG, "%s:%d: a quote is not closed: expected a closing '\"'",
							    file, line);
				}
				strbuf_add(&w, s + 1, (size_t)(end - s - 1));
				s = end + 1;
				continue;
			}
			if (first && *s == '=') { /* "Port=22" */
				s++;
				break;
			}
			strbuf_add(&w, s, 1);
			s++;
		}
		strv_push(&words, w.buf ? w.buf : "");
		first = false;
	}
	strbuf_done(&w);
	*out = words;
	return CW_OK;
}

cw_status sshcfg_parse(const char *file, const char *text, struct sshcfg *out, struct cw_error *err)
{
	memset(out, 0, sizeof *out);
	out->file = xstrdup(file);
	/* block 0: options before the first Host line apply to every host */
	out->blocks = xcalloc(1, sizeof *out->blocks);
	out->nblocks = 1;
	int line = 0;
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *one = xstrndup(p, len);
		p = nl ? nl + 1 : NULL;
		line++;
		char **words = NULL;
		cw_status st = split_line(file, line, one, &words, err);
		free(one);
		if (st) {
			sshcfg_done(out);
			return st;
		}
		size_t n = strv_len(words);
		if (n == 0) {
			strv_free(words);
			continue;
		}
		for (char *k = words[0]; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		if (strcmp(words[0], "host") == 0 || strcmp(words[0], "match") == 0) {
			bool match = words[0][0] == 'm';
			if (n < 2) {
				strv_free(words);
				sshcfg_done(out);
				return cw_error_set(err, CW_ECONFIG, "%s:%d: %s needs at least one pattern, found none", file,
						    line, match ? "Match" : "Host");
			}
			out->blocks = xrealloc(out->blocks, (out->nblocks + 1) * sizeof *out->blocks);
			struct sshcfg_block *b = &out->blocks[out->nblocks++];
			memset(b, 0, sizeof *b);
			b->never = match;
			for (size_t i = 1; !match && i < n; i++)
				strv_push(&b->patterns, words[i]);
		} else if (is_known(words[0])) {
			if (n != 2) {
				cw_error_set(err, CW_ECONFIG, "%s:%d: %s takes one value, found %zu", file, line, words[0],
					     n - 1);
				strv_free(words);
				sshcfg_done(out);
				return err->code;
			}
			struct sshcfg_block *b = &out->blocks[out->nblocks - 1];
			b->opts = xrealloc(b->opts, (b->nopts + 1) * sizeof *b->opts);
			b->opts[b->nopts++] = (struct sshcfg_option){xstrdup(words[0]), xstrdup(words[1]), line};
		}
		/* other keywords (Include, ProxyJump, ...) are not certwiz's business: skipped */
		strv_free(words);
	}
	return CW_OK;
}

cw_status sshcfg_load(const char *path, struct sshcfg *out, struct cw_error *err)
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		memset(out, 0, sizeof *out);
		out->file = xstrdup(path);
		return CW_OK;
	}
	char *text = NULL;
	cw_status st = file_read(path, SSHCFG_MAX_BYTES, &text, NULL, err);
	if (!st)
		st = sshcfg_parse(path, text, out, err);
	free(text);
	return st;
}

void sshcfg_done(struct sshcfg *c)
{
	for (size_t i = 0; i < c->nblocks; i++) {
		strv_free(c->blocks[i].patterns);
		for (size_t k = 0; k < c->blocks[i].nopts; k++) {
			free(c->blocks[i].opts[k].key);
			free(c->blocks[i].opts[k].value);
		}
		free(c->blocks[i].opts);
	}
	free(c->blocks);
	free(c->file);
	memset(c, 0, sizeof *c);
}

bool sshcfg_match(char *const *patterns, const char *host)
{
	bool hit = false;
	for (size_t i = 0; patterns && patterns[i]; i++) {
		bool neg = patterns[i][0] == '!';
		if (fnmatch(patterns[i] + neg, host, FNM_CASEFOLD) == 0) {
			if (neg)
				return false;
			hit = true;
		}
	}
	return hit;
}

/* ~/ and %d %h %r %% */
static cw_status expand(const struct sshcfg *c, const struct sshcfg_option *o, const char *home,
			const char *host, const char *user, char **out, struct cw_error *err)
{
	struct strbuf sb;
	strbuf_init(&sb);
	const char *s = o->value;
	if (s[0] == '~' && s[1] == '/') {
		if (!home) {
			strbuf_done(&sb);
			return cw_error_set(err, CW_ECONFIG, "%s:%d: %s starts with ~/ but HOME is not set", c->file, o->line,
					    o->key);
		}
		strbuf_adds(&sb, home);
		s++;
	}
	for (; *s; s++) {
		if (*s != '%') {
			strbuf_add(&sb, s, 1);
			continue;
		}
		const char *local = getenv("USER");
		const char *v = s[1] == '%' ? "%" : s[1] == 'd' ? home : s[1] == 'h' || s[1] == 'n' ? host
			: s[1] == 'r' ? user : s[1] == 'u' ? (local ? local : "root") : NULL;
		if (!v) {
			strbuf_done(&sb);
			return cw_error_set(err, CW_ECONFIG, "%s:%d: %s: certwiz expands %%d, %%h, %%n, %%r, %%u and %%%% "
					    "only, found %%%c; give this host an entry in certwiz.cfg instead", c->file,
					    o->line, o->key, s[1] ? s[1] : ' ');
		}
		strbuf_adds(&sb, v);
		s++;
	}
	*out = strbuf_detach(&sb);
	return CW_OK;
}

static cw_status parse_int(const struct sshcfg *c, const struct sshcfg_option *o, int max, int *out,
			   struct cw_error *err)
{
	char *end;
	long v = strtol(o->value, &end, 10);
	if (!*o->value || *end || v < 1 || v > max)
		return cw_error_set(err, CW_ECONFIG, "%s:%d: %s must be a number from 1 to %d, found '%s'", c->file,
				    o->line, o->key, max, o->value);
	*out = (int)v;
	return CW_OK;
}

cw_status sshcfg_lookup(const struct sshcfg *c, const char *host, const char *home, struct sshcfg_host *out,
			struct cw_error *err)
{
	memset(out, 0, sizeof *out);
	/* First pass: the first value of each keyword, as ssh(1) takes it. */
	const struct sshcfg_option *first[6] = {0};
	for (size_t b = 0; b < c->nblocks; b++) {
		const struct sshcfg_block *bl = &c->blocks[b];
		if (bl->never || (b > 0 && !sshcfg_match(bl->patterns, host)))
			continue;
		for (size_t i = 0; i < bl->nopts; i++)
			for (size_t k = 0; known_keys[k]; k++)
				if (!first[k] && strcmp(known_keys[k], bl->opts[i].key) == 0)
					first[k] = &bl->opts[i];
	}
	cw_status st = CW_OK;
	if (first[1])
		out->user = xstrdup(first[1]->value);
	const char *user = out->user ? out->user : "root";
	if (!st && first[0])
		st = expand(c, first[0], home, host, user, &out->hostname, err);
	if (!st && first[2])
		st = parse_int(c, first[2], 65535, &out->port, err);
	if (!st && first[3])
		st = expand(c, first[3], home, host, user, &out->identity, err);
	if (!st && first[4])
		st = expand(c, first[4], home, host, user, &out->known_hosts, err);
	if (!st && first[5])
		st = parse_int(c, first[5], 600, &out->connect_timeout, err);
	if (st)
		sshcfg_host_done(out);
	return st;
}

void sshcfg_host_done(struct sshcfg_host *h)
{
	free(h->hostname);
	free(h->user);
	free(h->identity);
	free(h->known_hosts);
	memset(h, 0, sizeof *h);
}
