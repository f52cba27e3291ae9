/* facts.c: (being written) */
#include <stddef.h>
