/* check.c: (being written) */
#include <stddef.h>
