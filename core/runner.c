/* runner.c: (being written) */
#include <stddef.h>
