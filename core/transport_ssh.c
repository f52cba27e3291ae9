/* transport_ssh.c: (being written) */
#include <stddef.h>
