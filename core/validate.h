/* validate.h: the rules every name and path must pass before it reaches a command. */
#ifndef CW_VALIDATE_H
#define CW_VALIDATE_H

#include <stdbool.h>

#include "error.h"

/* Puppet certname: lower-case letters, digits, '.', '-', '_'; 1..253 chars; no leading or
 * trailing '.', no leading '-', no "..". */
cw_status validate_certname(const char *name, struct cw_error *err);
/* One dns_alt_names entry: a certname-like DNS name (a leading "*." wildcard is refused), or
 * "DNS:name", or "IP:address" (IPv4 or IPv6). */
cw_status validate_alt_name(const char *name, struct cw_error *err);
/* Host to connect to: a DNS name (upper case allowed) or an IP address. */
cw_status validate_host(const char *host, struct cw_error *err);
/* Unix user name: [a-z_][a-z0-9_-]*, at most 32 chars. */
cw_status validate_user(const char *user, struct cw_error *err);
/* Absolute path, no "..", no control characters, at least min_depth components
 * ("/var/lib/puppet/ssl" has 4). Paths that commands delete need min_depth >= 2. */
cw_status validate_path(const char *path, int min_depth, struct cw_error *err);

#endif
