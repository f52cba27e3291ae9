/* report.c: (being written) */
#include <stddef.h>
