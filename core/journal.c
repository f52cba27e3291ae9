/* journal.c: (being written) */
#include <stddef.h>
