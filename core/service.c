/* service.c: (being written) */
#include <stddef.h>
