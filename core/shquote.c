/* shquote.c: (being written) */
#include <stddef.h>
