/* batch.h: the faces of certwiz without a screen: `certwiz run` (batch, from an answers file). */
#ifndef CW_BATCH_H
#define CW_BATCH_H

#include <stdbool.h>

#include "wizard.h"

int batch_run(const struct wizard_opts *o);
/* `certwiz resume JOURNAL`: continue an interrupted run from its journal. A batch run goes on
 * in batch; a wizard run reopens the wizard at its run screen when there is a terminal, and
 * goes on in batch only when force_batch says so (--batch). */
int batch_resume(const struct wizard_opts *o, const char *journal, bool force_batch);
/* Bare `certwiz`: the wizard. */
int batch_wizard(const struct wizard_opts *o);

#endif
