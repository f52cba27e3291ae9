/* backup.c: (being written) */
#include <stddef.h>
