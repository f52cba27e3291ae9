/* vars.c: (being written) */
#include <stddef.h>
