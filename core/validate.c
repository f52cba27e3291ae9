/* validate.c: (being written) */
#include <stddef.h>
