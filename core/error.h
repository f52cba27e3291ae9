/* error.h: status codes (one X-macro) and the caller-provided error struct. */
#ifndef CW_ERROR_H
#define CW_ERROR_H

#include <stddef.h>

/* X(name, exit code of the command line, message). A file that is not there is an
 * input/output error (4); a request certwiz cannot do is bad input (2). */
#define CW_STATUS_LIST(X)                                                   \
	X(CW_OK, 0, "ok")                                                   \
	X(CW_EINVAL, 2, "invalid input")                                    \
	X(CW_ECONFIG, 3, "configuration error")                             \
	X(CW_ENOTFOUND, 4, "not found")                                     \
	X(CW_EIO, 4, "input/output error")                                  \
	X(CW_EEXEC, 5, "a step failed")                                     \
	X(CW_EVERIFY, 5, "verification failed")                             \
	X(CW_ETIMEOUT, 5, "timed out")                                      \
	X(CW_ECANCEL, 6, "cancelled")                                       \
	X(CW_ECONNECT, 7, "could not connect")                              \
	X(CW_EAUTH, 7, "authentication failed")                             \
	X(CW_EHOSTKEY, 7, "host key not trusted")                           \
	X(CW_ESSL, 4, "OpenSSL error")                                      \
	X(CW_EBACKUP, 8, "no verified backup")                              \
	X(CW_ELOCKED, 9, "another certwiz run holds the lock")              \
	X(CW_EUNSUPPORTED, 2, "not supported")

typedef enum {
#define CW_X(name, code, msg) name,
	CW_STATUS_LIST(CW_X)
#undef CW_X
	CW_STATUS_COUNT
} cw_status;

/* Filled by functions that fail. file/line are set for configuration errors. */
struct cw_error {
	cw_status code;
	char msg[1024];
	char file[256];
	int line;
};

const char *cw_status_str(cw_status s);
int cw_status_exit_code(cw_status s);

/* Set err (if non-NULL) and return code. printf-style message. */
cw_status cw_error_set(struct cw_error *err, cw_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same, with the file and line the error is about. */
cw_status cw_error_set_at(struct cw_error *err, cw_status code, const char *file, int line,
			  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Prefix the existing message with "prefix: ". */
void cw_error_prefix(struct cw_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cw_error_clear(struct cw_error *err);
/* "file:line: msg" or "msg" into buf. */
const char *cw_error_format(const struct cw_error *err, char *buf, size_t size);

#endif
