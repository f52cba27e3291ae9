/* being written */
#include <stddef.h>
