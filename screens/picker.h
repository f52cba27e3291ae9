/* picker.h: choosing agents from the CA's own list (the discovery screen's agent field, F2):
 * every signed certname with its expiry date and whether it is revoked, read with OpenSSL from
 * the CA directory (core/inventory.c); a filter, select all of what is shown, and "expiring
 * within N days". The picker owns its inventory; the discovery screen owns the picker. */
#ifndef CW_PICKER_H
#define CW_PICKER_H

#include <stdbool.h>
#include <stddef.h>

#include "inventory.h"
#include "widgets.h"

struct agent_picker {
	bool open;
	struct inventory inv;
	bool have_inv;
	char *error;            /* why there is no list (owned), or NULL */
	bool *sel;              /* per inventory entry */
	size_t *order;          /* the entries by certname */
	size_t *shown, nshown;  /* entries the filter lets through, by certname */
	size_t cursor, top;     /* in shown */
	struct tui_field filter;
	struct tui_field days;  /* "expiring within N days" (empty: every certificate) */
	int focus;              /* 0 the list, 1 the filter, 2 the days */
	int page;               /* list rows at the last draw */
	char *skip;             /* the CA server's own certname: not an agent (owned) */
};

/* Read the CA (cadir below root) and open the picker; names already chosen are selected. */
void picker_open(struct agent_picker *p, const char *root, const char *cadir, const char *ssldir,
		 const char *server_certname, char *const *chosen);
void picker_close(struct agent_picker *p);
void picker_draw(struct agent_picker *p, WINDOW *w, struct tui_rect r);
/* Modal. SELECT: accepted (picker_selected); BACK: cancelled. */
int picker_key(struct agent_picker *p, int key);
/* The selected certnames, in the list's order (heap strv, NULL when none). */
char **picker_selected(const struct agent_picker *p);
size_t picker_count(const struct agent_picker *p);

#endif
