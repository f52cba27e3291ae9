/* x509.c: (being written) */
#include <stddef.h>
