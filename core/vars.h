/* vars.h: an ordered table of named string values and ${name} expansion in templates.
 * List values are stored comma-joined (dns_alt_names = "puppet,puppet.example.com"). */
#ifndef CW_VARS_H
#define CW_VARS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct var {
	char *name;
	char *value;
};

struct vars {
	struct var *items; /* owned */
	size_t n, cap;
};

void vars_init(struct vars *v);
void vars_done(struct vars *v);
void vars_copy(struct vars *dst, const struct vars *src);
/* Set (replace) name = value (both copied). */
void vars_set(struct vars *v, const char *name, const char *value);
/* Set with a prefix: "agent." + name. */
void vars_set_prefixed(struct vars *v, const char *prefix, const char *name, const char *value);
/* Copy every item of src into v under "prefix.name". */
void vars_import(struct vars *v, const char *prefix, const struct vars *src);
const char *vars_get(const struct vars *v, const char *name); /* NULL if unset */
/* True when set, non-empty and not "false". */
bool vars_true(const struct vars *v, const char *name);

/* Replace every ${name} in tmpl. An unknown name is CW_EINVAL naming it. "$$" is a literal
 * '$'. The result is one string: expansion never splits words. */
cw_status vars_expand(const struct vars *v, const char *tmpl, char **out, struct cw_error *err);
/* Names referenced by a template (strv, caller frees). */
char **vars_refs(const char *tmpl);

#endif
