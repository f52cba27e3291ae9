/* batch.c: `certwiz run` (being written). */
#include "batch.h"

#include <stdio.h>

int batch_run(const struct wizard_opts *o)
{
	(void)o;
	fprintf(stderr, "certwiz: run is being written\n");
	return 10;
}

int batch_wizard(const struct wizard_opts *o)
{
	(void)o;
	fprintf(stderr, "certwiz: the wizard is being written\n");
	return 10;
}
