/* batch.h: the faces of certwiz without a screen: `certwiz run` (batch, from an answers file). */
#ifndef CW_BATCH_H
#define CW_BATCH_H

#include "wizard.h"

int batch_run(const struct wizard_opts *o);
/* `certwiz resume JOURNAL`: continue an interrupted batch run from its journal. */
int batch_resume(const struct wizard_opts *o, const char *journal);
/* Bare `certwiz`: the wizard. */
int batch_wizard(const struct wizard_opts *o);

#endif
