/* wizard.c: (being written) */
#include <stddef.h>
