/* config.c: (being written) */
#include <stddef.h>
