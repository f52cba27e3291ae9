/* vars.c: variable table and ${name} expansion. */
#include "vars.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void vars_init(struct vars *v)
{
	v->items = NULL;
	v->n = v->cap = 0;
}

void vars_done(struct vars *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->items[i].name);
		free(v->items[i].value);
	}
	free(v->items);
	vars_init(v);
}

void vars_copy(struct vars *dst, const struct vars *src)
{
	vars_init(dst);
	for (size_t i = 0; i < src->n; i++)
		vars_set(dst, src->items[i].name, src->items[i].value);
}

void vars_set(struct vars *v, const char *name, const char *value)
{
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->items[i].name, name) == 0) {
			char *nv = xstrdup(value ? value : "");
			free(v->items[i].value);
			v->items[i].value = nv;
			return;
		}
	}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->items = xrealloc(v->items, v->cap * sizeof *v->items);
	}
	v->items[v->n].name = xstrdup(name);
	v->items[v->n].value = xstrdup(value ? value : "");
	v->n++;
}

void vars_set_prefixed(struct vars *v, const char *prefix, const char *name, const char *value)
{
	char *full = xasprintf("%s.%s", prefix, name);
	vars_set(v, full, value);
	free(full);
}

void vars_import(struct vars *v, const char *prefix, const struct vars *src)
{
	for (size_t i = 0; i < src->n; i++)
		vars_set_prefixed(v, prefix, src->items[i].name, src->items[i].value);
}

const char *vars_get(const struct vars *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->items[i].name, name) == 0)
			return v->items[i].value;
	return NULL;
}

bool vars_true(const struct vars *v, const char *name)
{
	const char *s = vars_get(v, name);
	return s && *s && strcmp(s, "false") != 0;
}

cw_status vars_expand(const struct vars *v, const char *tmpl, char **out, struct cw_error *err)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (const char *p = tmpl; *p;) {
		if (p[0] == '$' && p[1] == '$') {
			strbuf_add(&sb, "$", 1);
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');
			if (!end) {
				strbuf_done(&sb);
				return cw_error_set(err, CW_EINVAL, "'%s' has '${' without a closing '}'", tmpl);
			}
			char *name = xstrndup(p + 2, (size_t)(end - p - 2));
			const char *val = vars_get(v, name);
			if (!val) {
				cw_status s = cw_error_set(err, CW_EINVAL, "'%s' uses ${%s}, which is not known here",
							   tmpl, name);
				free(name);
				strbuf_done(&sb);
				return s;
			}
			free(name);
			strbuf_adds(&sb, val);
			p = end + 1;
			continue;
		}
		strbuf_add(&sb, p, 1);
		p++;
	}
	*out = strbuf_detach(&sb);
	return CW_OK;
}

char **vars_refs(const char *tmpl)
{
	char **refs = NULL;
	for (const char *p = tmpl; p && *p; p++) {
		if (p[0] == '$' && p[1] == '$') {
			p++;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p + 2, '}');
			if (!end)
				break;
			char *name = xstrndup(p + 2, (size_t)(end - p - 2));
			if (!strv_contains(refs, name))
				strv_push(&refs, name);
			free(name);
			p = end;
		}
	}
	return refs;
}
