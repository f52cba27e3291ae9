/* error.c: status messages and the error struct. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const messages[] = {
#define CW_X(name, code, msg) msg,
	CW_STATUS_LIST(CW_X)
#undef CW_X
};

static const int exit_codes[] = {
#define CW_X(name, code, msg) code,
	CW_STATUS_LIST(CW_X)
#undef CW_X
};

const char *cw_status_str(cw_status s)
{
	if ((int)s < 0 || s >= CW_STATUS_COUNT)
		return "unknown status";
	return messages[s];
}

int cw_status_exit_code(cw_status s)
{
	if ((int)s < 0 || s >= CW_STATUS_COUNT)
		return 1;
	return exit_codes[s];
}

static void set_v(struct cw_error *err, cw_status code, const char *file, int line, const char *fmt,
		  va_list ap)
{
	/* Format into a copy first: an argument may be err->msg or err->file itself (a message
	 * wrapped in more context), and vsnprintf must not write over what it reads. */
	char msg[sizeof err->msg];
	vsnprintf(msg, sizeof msg, fmt, ap);
	char fbuf[sizeof err->file];
	if (file)
		snprintf(fbuf, sizeof fbuf, "%s", file);
	err->code = code;
	memcpy(err->msg, msg, sizeof msg);
	if (file)
		memcpy(err->file, fbuf, sizeof fbuf);
	else
		err->file[0] = '\0';
	err->line = line;
}

cw_status cw_error_set(struct cw_error *err, cw_status code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		set_v(err, code, NULL, 0, fmt, ap);
		va_end(ap);
	}
	return code;
}

cw_status cw_error_set_at(struct cw_error *err, cw_status code, const char *file, int line,
			  const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		set_v(err, code, file, line, fmt, ap);
		va_end(ap);
	}
	return code;
}

void cw_error_prefix(struct cw_error *err, const char *fmt, ...)
{
	char prefix[512], old[sizeof err->msg];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* Truncation of an over-long message is acceptable; build it piecewise so the
	 * compiler need not prove the sizes. */
	size_t n = strnlen(prefix, sizeof prefix);
	if (n > sizeof err->msg - 3)
		n = sizeof err->msg - 3;
	memcpy(err->msg, prefix, n);
	memcpy(err->msg + n, ": ", 2);
	size_t room = sizeof err->msg - n - 3;
	size_t m = strnlen(old, room);
	memcpy(err->msg + n + 2, old, m);
	err->msg[n + 2 + m] = '\0';
}

void cw_error_clear(struct cw_error *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}

const char *cw_error_format(const struct cw_error *err, char *buf, size_t size)
{
	if (err->file[0] && err->line > 0)
		snprintf(buf, size, "%s:%d: %s", err->file, err->line, err->msg);
	else if (err->file[0])
		snprintf(buf, size, "%s: %s", err->file, err->msg);
	else
		snprintf(buf, size, "%s", err->msg[0] ? err->msg : cw_status_str(err->code));
	return buf;
}
