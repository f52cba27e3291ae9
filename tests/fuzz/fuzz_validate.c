/* fuzz_validate.c: name and path validation, and variable expansion. The input is split at its
 * first newline: a template, then NAME=VALUE lines for the variables. */
#include "fuzz.h"

#include "util.h"
#include "validate.h"
#include "vars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size);
	struct cw_error err;
	validate_certname(text, &err);
	validate_alt_name(text, &err);
	validate_host(text, &err);
	validate_user(text, &err);
	validate_path(text, 2, &err);
	char *nl = strchr(text, '\n');
	struct vars v;
	vars_init(&v);
	if (nl) {
		*nl = '\0';
		for (char *line = nl + 1; line && *line;) {
			char *next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			char *eq = strchr(line, '=');
			if (eq) {
				*eq = '\0';
				vars_set(&v, line, eq + 1);
			}
			line = next;
		}
	}
	char *out = NULL;
	if (vars_expand(&v, text, &out, &err) == CW_OK)
		free(out);
	char **refs = vars_refs(text);
	strv_free(refs);
	vars_done(&v);
	free(text);
	return 0;
}
