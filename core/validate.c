/* validate.c: certname, alt name, host, user and path rules. */
#include "validate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Shown in messages, so a control character in input cannot reach the terminal raw. */
static void printable(const char *in, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; in[i] && o + 5 < size; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (strlen(in) > o && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static cw_status dns_name(const char *what, const char *name, bool allow_upper, struct cw_error *err)
{
	char shown[96];
	size_t n = strlen(name);

	printable(name, shown, sizeof shown);
	if (n == 0)
		return cw_error_set(err, CW_EINVAL, "%s is empty: give a name such as agent1.example.com", what);
	if (n > 253)
		return cw_error_set(err, CW_EINVAL, "%s '%s' is %zu characters long; at most 253 are allowed",
				    what, shown, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (islower(c) || isdigit(c) || c == '.' || c == '-' || c == '_')
			continue;
		if (allow_upper && isupper(c))
			continue;
		if (isupper(c))
			return cw_error_set(err, CW_EINVAL,
					    "%s '%s' has upper-case letters; Puppet certnames are lower case "
					    "(use the name as `puppet config print certname` shows it)", what, shown);
		return cw_error_set(err, CW_EINVAL,
				    "%s '%s' has the character '%s%c' at position %zu; allowed are lower-case "
				    "letters, digits, '.', '-' and '_'", what, shown,
				    c < 0x20 || c == 0x7f ? "\\" : "", c < 0x20 || c == 0x7f ? '?' : (char)c, i + 1);
	}
	if (name[0] == '.' || name[n - 1] == '.')
		return cw_error_set(err, CW_EINVAL, "%s '%s' starts or ends with '.'; remove it", what, shown);
	if (name[0] == '-')
		return cw_error_set(err, CW_EINVAL,
				    "%s '%s' starts with '-', which a command would read as an option", what, shown);
	if (strstr(name, ".."))
		return cw_error_set(err, CW_EINVAL, "%s '%s' contains '..'; names have one '.' between labels",
				    what, shown);
	return CW_OK;
}

cw_status validate_certname(const char *name, struct cw_error *err)
{
	return dns_name("certname", name ? name : "", false, err);
}

static bool is_ip(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

cw_status validate_alt_name(const char *name, struct cw_error *err)
{
	char shown[96];
	if (!name)
		name = "";
	printable(name, shown, sizeof shown);
	if (strncmp(name, "IP:", 3) == 0) {
		if (is_ip(name + 3))
			return CW_OK;
		return cw_error_set(err, CW_EINVAL, "alt name '%s' is not an IP address after 'IP:'", shown);
	}
	if (strncmp(name, "DNS:", 4) == 0)
		name += 4;
	if (name[0] == '*')
		return cw_error_set(err, CW_EINVAL,
				    "alt name '%s' is a wildcard; Puppet's CA does not sign wildcard alt names",
				    shown);
	return dns_name("alt name", name, false, err);
}

cw_status validate_host(const char *host, struct cw_error *err)
{
	if (host && is_ip(host))
		return CW_OK;
	return dns_name("host", host ? host : "", true, err);
}

cw_status validate_user(const char *user, struct cw_error *err)
{
	char shown[64];
	if (!user)
		user = "";
	printable(user, shown, sizeof shown);
	size_t n = strlen(user);
	if (n == 0 || n > 32)
		return cw_error_set(err, CW_EINVAL, "user name '%s' must be 1 to 32 characters", shown);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)user[i];
		bool ok = islower(c) || c == '_' || (i > 0 && (isdigit(c) || c == '-'));
		if (!ok)
			return cw_error_set(err, CW_EINVAL,
					    "user name '%s' is not a Unix user name (lower-case letters, digits, "
					    "'_' and '-', not starting with a digit or '-')", shown);
	}
	return CW_OK;
}

cw_status validate_path(const char *path, int min_depth, struct cw_error *err)
{
	char shown[128];
	if (!path)
		path = "";
	printable(path, shown, sizeof shown);
	if (path[0] != '/')
		return cw_error_set(err, CW_EINVAL, "path '%s' is not absolute; give the full path from /", shown);
	int depth = 0;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return cw_error_set(err, CW_EINVAL, "path '%s' contains '.' or '..'; give it without them",
					    shown);
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return cw_error_set(err, CW_EINVAL, "path '%s' contains a control character", shown);
		depth++;
		p += len;
	}
	if (depth < min_depth)
		return cw_error_set(err, CW_EINVAL,
				    "path '%s' is too close to / (%d component%s, at least %d needed): certwiz "
				    "refuses to work on it", shown, depth, depth == 1 ? "" : "s", min_depth);
	return CW_OK;
}
