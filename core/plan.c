/* plan.c: (being written) */
#include <stddef.h>
