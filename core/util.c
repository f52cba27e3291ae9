/* util.c: allocation, string vectors and buffers, small file helpers. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void oom(void)
{
	static const char msg[] = "certwiz: out of memory\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	abort(); /* the one allowed abort: out of memory */
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *xstrdup(const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);
	if (!d)
		oom();
	return d;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		oom();
	return s;
}

size_t strv_len(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void strv_push_owned(char ***v, char *s)
{
	size_t n = strv_len(*v);
	*v = xrealloc(*v, (n + 2) * sizeof **v);
	(*v)[n] = s;
	(*v)[n + 1] = NULL;
}

void strv_push(char ***v, const char *s)
{
	strv_push_owned(v, xstrdup(s));
}

char **strv_copy(char *const *v)
{
	char **out = NULL;
	for (size_t i = 0; v && v[i]; i++)
		strv_push(&out, v[i]);
	return out;
}

void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool strv_eq(char *const *a, char *const *b)
{
	size_t i = 0;
	for (; a && b && a[i] && b[i]; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return (!a || !a[i]) && (!b || !b[i]);
}

char **strv_split(const char *s, char sep)
{
	char **out = NULL;
	if (!s)
		return NULL;
	while (*s) {
		const char *end = strchr(s, sep);
		if (!end)
			end = s + strlen(s);
		const char *a = s, *b = end;
		while (a < b && (*a == ' ' || *a == '\t' || *a == '\n'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n'))
			b--;
		if (b > a)
			strv_push_owned(&out, xstrndup(a, (size_t)(b - a)));
		s = *end ? end + 1 : end;
	}
	return out;
}

char *strv_join(char *const *v, const char *sep)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			strbuf_adds(&sb, sep);
		strbuf_adds(&sb, v[i]);
	}
	return strbuf_detach(&sb);
}

void strv_union(char ***a, char *const *b)
{
	for (size_t i = 0; b && b[i]; i++)
		if (!strv_contains(*a, b[i]))
			strv_push(a, b[i]);
}

void strbuf_init(struct strbuf *sb)
{
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

void strbuf_done(struct strbuf *sb)
{
	free(sb->buf);
	strbuf_init(sb);
}

static void strbuf_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
}

void strbuf_add(struct strbuf *sb, const char *data, size_t len)
{
	strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_adds(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	strbuf_grow(sb, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

/* Wrap text at width: the first line starts with first, the rest with as many spaces. */
void strbuf_wrap(struct strbuf *out, const char *first, const char *text, size_t width)
{
	size_t col = 0, ind = strlen(first);
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ' ' && *e != '\n')
			e++;
		size_t len = (size_t)(e - p);
		if (col == 0) {
			strbuf_adds(out, first);
			col = ind;
		} else if (col + 1 + len > width) {
			strbuf_addf(out, "\n%*s", (int)ind, "");
			col = ind;
		} else {
			strbuf_adds(out, " ");
			col++;
		}
		strbuf_add(out, p, len);
		col += len;
		p = e;
	}
	if (col)
		strbuf_adds(out, "\n");
}

char *strbuf_detach(struct strbuf *sb)
{
	char *s = sb->buf ? sb->buf : xstrdup("");
	strbuf_init(sb);
	return s;
}

cw_status file_read(const char *path, size_t max, char **data, size_t *len, struct cw_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cw_error_set(err, errno == ENOENT ? CW_ENOTFOUND : CW_EIO, "cannot open %s: %s",
				    path, strerror(errno));
	struct strbuf sb;
	strbuf_init(&sb);
	char buf[8192];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			strbuf_done(&sb);
			return cw_error_set(err, CW_EIO, "cannot read %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > max) {
			close(fd);
			strbuf_done(&sb);
			return cw_error_set(err, CW_EIO, "%s is larger than %zu bytes", path, max);
		}
		strbuf_add(&sb, buf, (size_t)n);
	}
	close(fd);
	if (len)
		*len = sb.len;
	*data = strbuf_detach(&sb);
	return CW_OK;
}

int write_all(int fd, const char *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

cw_status file_write_atomic(const char *path, const char *data, size_t len, mode_t mode,
			    struct cw_error *err)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		cw_status s = cw_error_set(err, CW_EIO, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return s;
	}
	if (write_all(fd, data, len) != 0) {
		int e = errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		return cw_error_set(err, CW_EIO, "cannot write %s: %s", path, strerror(e));
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		free(tmp);
		return cw_error_set(err, CW_EIO, "cannot write %s: %s", path, strerror(e));
	}
	free(tmp);
	return CW_OK;
}

bool path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

bool path_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

cw_status mkdir_p(const char *path, mode_t mode, struct cw_error *err)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			cw_status st = cw_error_set(err, CW_EIO, "cannot create directory %s: %s", p,
						    strerror(errno));
			free(p);
			return st;
		}
		*s = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST) {
		cw_status st = cw_error_set(err, CW_EIO, "cannot create directory %s: %s", p, strerror(errno));
		free(p);
		return st;
	}
	free(p);
	return CW_OK;
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	if (la && a[la - 1] == '/')
		return xasprintf("%s%s", a, b[0] == '/' ? b + 1 : b);
	return xasprintf("%s/%s", a, b[0] == '/' ? b + 1 : b);
}

bool path_next(const char **s, const char **name, size_t *n)
{
	const char *p = *s;
	while (*p == '/')
		p++;
	if (!*p) {
		*s = p;
		return false;
	}
	const char *e = strchr(p, '/');
	*name = p;
	*n = e ? (size_t)(e - p) : strlen(p);
	*s = p + *n;
	return true;
}

char *path_absolute(const char *path, const char *base)
{
	if (!path)
		return NULL;
	char *full;
	if (path[0] == '/') {
		full = xstrdup(path);
	} else {
		char *cwd = base ? NULL : getcwd(NULL, 0);
		full = path_join(base ? base : cwd ? cwd : "/", path);
		free(cwd);
	}
	/* Rewrite in place: out never runs ahead of the component being read. */
	size_t out = 0, n;
	const char *s = full, *name;
	while (path_next(&s, &name, &n)) {
		if (n == 2 && name[0] == '.' && name[1] == '.') {
			while (out > 0 && full[out - 1] != '/')
				out--;
			if (out > 0)
				out--; /* the slash before the dropped component */
		} else if (!(n == 1 && name[0] == '.')) {
			full[out++] = '/';
			memmove(full + out, name, n);
			out += n;
		}
	}
	if (out == 0)
		full[out++] = '/';
	full[out] = '\0';
	return full;
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

const char *time_iso8601(long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	/* A time from a damaged journal may lie outside what struct tm holds (gmtime_r fails) or
	 * print longer than out (strftime returns 0): say so rather than print garbage. */
	if (!gmtime_r(&tt, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900 ||
	    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "(time out of range)");
	return out;
}
