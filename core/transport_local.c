/* transport_local.c: (being written) */
#include <stddef.h>
