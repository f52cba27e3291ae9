/* util.h: allocation that aborts on out-of-memory, string vectors, string buffers, files. */
#ifndef CW_UTIL_H
#define CW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Out of memory is the one failure that aborts (STYLE.md). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);          /* NULL stays NULL */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* strv: a NULL-terminated, heap-owned vector of heap-owned strings.
 * An empty vector may be NULL. */
size_t strv_len(char *const *v);
void strv_push(char ***v, const char *s);          /* copies s */
void strv_push_owned(char ***v, char *s);          /* takes s */
char **strv_copy(char *const *v);
void strv_free(char **v);
bool strv_contains(char *const *v, const char *s);
bool strv_eq(char *const *a, char *const *b); /* same strings, same order (NULL: empty) */
/* Split on sep, trim blanks around items, drop empty items. */
char **strv_split(const char *s, char sep);
/* Join with sep; returns a heap string ("" for an empty vector). */
char *strv_join(char *const *v, const char *sep);
/* Append the items of b not already in *a. */
void strv_union(char ***a, char *const *b);

/* strbuf: a growable string, always NUL-terminated once used. */
struct strbuf {
	char *buf;
	size_t len, cap;
};
void strbuf_init(struct strbuf *sb);
void strbuf_done(struct strbuf *sb);
void strbuf_add(struct strbuf *sb, const char *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_reset(struct strbuf *sb);
/* Hand the buffer to the caller (never NULL) and reset sb. */
char *strbuf_detach(struct strbuf *sb);
/* Text wrapped at width, ending in a newline: the first line starts with first, the rest with
 * as many spaces. */
void strbuf_wrap(struct strbuf *out, const char *first, const char *text, size_t width);

/* Read a whole file (at most max bytes; more is CW_EIO). *data is NUL-terminated. */
cw_status file_read(const char *path, size_t max, char **data, size_t *len, struct cw_error *err);
/* Write all len bytes to fd (retrying short writes and EINTR): 0, or -1 with errno set. */
int write_all(int fd, const char *data, size_t len);
/* Write via a temporary file in the same directory, fsync, rename. */
cw_status file_write_atomic(const char *path, const char *data, size_t len, mode_t mode,
			    struct cw_error *err);
bool path_exists(const char *path);
bool path_is_dir(const char *path);
cw_status mkdir_p(const char *path, mode_t mode, struct cw_error *err);
char *path_join(const char *a, const char *b);
/* path as an absolute path: a relative one is taken from base (NULL: the current directory);
 * "." and ".." are resolved by name, symlinks are not followed. NULL stays NULL. */
char *path_absolute(const char *path, const char *base);
/* The next component of a path at *s ("a" of "//a/b"): its start and length, *s moved past it.
 * False at the end. */
bool path_next(const char **s, const char **name, size_t *n);

/* Hex SHA-256 of a buffer into out (65 bytes). */
void sha256_hex(const void *data, size_t len, char out[65]);

/* Time t as ISO 8601 UTC ("2026-11-23T09:10:11Z") into out (32 bytes, always NUL-terminated);
 * a time outside the years 0-9999 gives "(time out of range)". */
const char *time_iso8601(long t, char out[32]);

#endif
