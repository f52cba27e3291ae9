/* backup.c: archive the directories a plan touches with a SHA-256 manifest, verify the archive
 * against the manifest, restore it. This host: libarchive (gzip'd pax tar). Other hosts: the
 * same files made on that host with tar, find and sha256sum, run through the runner. */
#include "backup.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "util.h"

#define MANIFEST_MAX (64u * 1024 * 1024)   /* bytes of a manifest we read back */
#define REMOTE_OUT_MAX (256u * 1024 * 1024) /* bytes of listing a remote command may print */
#define REMOTE_TIMEOUT_S 3600               /* archiving a large ssldir over a slow link */
#define REMOTE_CHUNK (32 * 1024)            /* manifest bytes per upload command */
#define MIB (1024u * 1024)

/* ---- manifest entries ---- */

struct ment {
	char type;              /* f d l p c b s (find's %y letters) */
	unsigned mode;          /* permission bits, 07777 */
	unsigned long uid, gid;
	uint64_t size;          /* file: bytes; symlink: length of target; others 0 */
	char sha[65];           /* file: content; symlink: target; others "-" */
	char *path;             /* absolute; owned */
	bool seen;
};

struct mlist {
	struct ment *v;
	size_t n, cap;
};

struct manifest {
	struct mlist e;       /* sorted by path once parsed */
	char **tops;          /* strv */
	char **absent;        /* strv */
	char archive_sha[65]; /* "" when missing */
};

static const struct {
	char c;
	const char *name;
} type_names[] = {
	{ 'f', "file" },    { 'd', "dir" },      { 'l', "symlink" },  { 'p', "fifo" },
	{ 'c', "chardev" }, { 'b', "blockdev" }, { 's', "socket" },
};

static const char *type_name(char c)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (type_names[i].c == c)
			return type_names[i].name;
	return "unknown";
}

static char type_from_name(const char *s)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcmp(type_names[i].name, s) == 0)
			return type_names[i].c;
	return 0;
}

static char type_from_mode(mode_t m)
{
	if (S_ISREG(m))
		return 'f';
	if (S_ISDIR(m))
		return 'd';
	if (S_ISLNK(m))
		return 'l';
	if (S_ISFIFO(m))
		return 'p';
	if (S_ISCHR(m))
		return 'c';
	if (S_ISBLK(m))
		return 'b';
	return 's';
}

static void mlist_push(struct mlist *l, const struct ment *e)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = *e;
}

static void mlist_done(struct mlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static void manifest_done(struct manifest *m)
{
	mlist_done(&m->e);
	strv_free(m->tops);
	strv_free(m->absent);
	memset(m, 0, sizeof *m);
}

static int ment_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ment *)a)->path, ((const struct ment *)b)->path);
}

static struct ment *manifest_find(struct manifest *m, const char *path)
{
	struct ment key = { .path = (char *)path };
	if (!m->e.n)
		return NULL;
	return bsearch(&key, m->e.v, m->e.n, sizeof *m->e.v, ment_cmp);
}

/* path is top or below it. */
static bool path_under(const char *path, const char *top)
{
	size_t n = strlen(top);
	return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static bool under_any(const char *path, char *const *tops)
{
	for (size_t i = 0; tops && tops[i]; i++)
		if (path_under(path, tops[i]))
			return true;
	return false;
}

/* ---- hashing ---- */

static EVP_MD_CTX *sha_begin(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1)
		abort(); /* out of memory, or no SHA-256 in OpenSSL: a broken invariant */
	return c;
}

static void sha_end(EVP_MD_CTX *c, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

static cw_status sha_file(const char *path, char out[65], uint64_t *size, struct cw_error *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cw_error_set(err, CW_EIO, "cannot open %s: %s", path, strerror(errno));
	EVP_MD_CTX *c = sha_begin();
	uint64_t total = 0;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			sha_end(c, out);
			return cw_error_set(err, CW_EIO, "cannot read %s: %s", path, strerror(e));
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(c, buf, (size_t)n);
		total += (uint64_t)n;
	}
	close(fd);
	sha_end(c, out);
	if (size)
		*size = total;
	return CW_OK;
}

/* ---- sizes and paths ---- */

/* "12.0 MiB (12582912 bytes)", or "100 bytes". */
static void human_size(uint64_t b, char out[64])
{
	double v = (double)b;
	const char *unit = NULL;
	if (b >= (uint64_t)1 << 30) {
		v /= (double)((uint64_t)1 << 30);
		unit = "GiB";
	} else if (b >= MIB) {
		v /= MIB;
		unit = "MiB";
	} else if (b >= 1024) {
		v /= 1024;
		unit = "KiB";
	}
	if (unit)
		snprintf(out, 64, "%.1f %s (%" PRIu64 " bytes)", v, unit, b);
	else
		snprintf(out, 64, "%" PRIu64 " bytes", b);
}

uint64_t backup_space_needed(uint64_t bytes)
{
	return bytes + bytes / 10 + MIB;
}

cw_status backup_check_space(const char *dir, uint64_t needed, uint64_t free_bytes,
			     struct cw_error *err)
{
	if (free_bytes >= needed)
		return CW_OK;
	char need[64], have[64];
	human_size(needed, need);
	human_size(free_bytes, have);
	return cw_error_set(err, CW_EIO,
			    "not enough free space for the backup in %s: it needs %s, only %s %s "
			    "free; free some space or choose another backup directory",
			    dir, need, have, free_bytes == 1 ? "is" : "are");
}

/* Absolute, no "." or ".." components, no trailing or doubled '/', not "/". NULL if invalid. */
static char *norm_path(const char *p)
{
	if (!p || p[0] != '/')
		return NULL;
	struct strbuf sb;
	strbuf_init(&sb);
	const char *s = p, *name;
	size_t n;
	while (path_next(&s, &name, &n)) {
		if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.')) {
			strbuf_done(&sb);
			return NULL;
		}
		strbuf_adds(&sb, "/");
		strbuf_add(&sb, name, n);
	}
	if (sb.len == 0) {
		strbuf_done(&sb);
		return NULL;
	}
	return strbuf_detach(&sb);
}

/* A member name as stored in a tar ("etc/x/", "./etc/x") to an absolute path, or NULL (also
 * for an entry without a name). */
static char *member_path(const char *name)
{
	if (!name || !*name)
		return NULL;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	char *tmp = xasprintf("/%s", name);
	char *p = norm_path(tmp);
	free(tmp);
	return p;
}

/* A header was read: ARCHIVE_OK or ARCHIVE_WARN. ARCHIVE_RETRY (a damaged header, which
 * leaves the entry without a name) is greater than ARCHIVE_WARN, so `r < ARCHIVE_WARN` is not
 * the test. */
static bool header_read(int r)
{
	return r == ARCHIVE_OK || r == ARCHIVE_WARN;
}

static bool valid_name(const char *name)
{
	if (!name || !*name || name[0] == '.' || strlen(name) > 200)
		return false;
	for (const char *s = name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("._-:@+", *s)))
			return false;
	return true;
}

char *backup_default_name(long t, const char *host, const char *procedure)
{
	char stamp[32];
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	char *name = xasprintf("%s-%s-%s", stamp, host && *host ? host : "localhost",
			       procedure && *procedure ? procedure : "run");
	for (char *s = name; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("._-:@+", *s)))
			*s = '_';
	if (strlen(name) > 200)
		name[200] = '\0';
	return name;
}

char *backup_manifest_path(const char *archive)
{
	size_t n = strlen(archive);
	static const char ext[] = ".tar.gz";
	if (n > sizeof ext - 1 && strcmp(archive + n - (sizeof ext - 1), ext) == 0)
		n -= sizeof ext - 1;
	return xasprintf("%.*s.manifest", (int)n, archive);
}

void backup_result_for(const char *archive, struct backup_result *res)
{
	memset(res, 0, sizeof *res);
	res->archive = xstrdup(archive);
	res->manifest = backup_manifest_path(archive);
}

void backup_result_done(struct backup_result *r)
{
	if (!r)
		return;
	free(r->archive);
	free(r->manifest);
	memset(r, 0, sizeof *r);
}

static const char *host_of(struct transport *t)
{
	return t && t->label ? t->label : "this host";
}

static bool is_local(struct transport *t)
{
	return !t || t->is_local;
}

/* ---- manifest text ---- */

static void put_path(struct strbuf *sb, const char *p)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '\\' || c < 0x20 || c == 0x7f)
			strbuf_addf(sb, "\\%03o", c);
		else
			strbuf_add(sb, p, 1);
	}
}

static char *unescape_path(const char *s)
{
	struct strbuf sb;
	strbuf_init(&sb);
	while (*s) {
		if (*s == '\\') {
			if (s[1] < '0' || s[1] > '3' || s[2] < '0' || s[2] > '7' || s[3] < '0' || s[3] > '7') {
				strbuf_done(&sb);
				return NULL;
			}
			char c = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			if (c == '\0') {
				strbuf_done(&sb);
				return NULL;
			}
			strbuf_add(&sb, &c, 1);
			s += 4;
		} else {
			strbuf_add(&sb, s++, 1);
		}
	}
	return strbuf_detach(&sb);
}

static char *manifest_text(const struct mlist *l, char *const *tops, char *const *absent,
			   const char *archive_sha)
{
	struct strbuf sb;
	strbuf_init(&sb);
	strbuf_adds(&sb, "# certwiz backup manifest 1\n");
	for (size_t i = 0; tops && tops[i]; i++) {
		strbuf_adds(&sb, "top ");
		put_path(&sb, tops[i]);
		strbuf_adds(&sb, "\n");
	}
	for (size_t i = 0; absent && absent[i]; i++) {
		strbuf_adds(&sb, "absent ");
		put_path(&sb, absent[i]);
		strbuf_adds(&sb, "\n");
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct ment *e = &l->v[i];
		strbuf_addf(&sb, "%s %04o %lu %lu %" PRIu64 " %s ", type_name(e->type), e->mode, e->uid,
			    e->gid, e->size, e->sha[0] ? e->sha : "-");
		put_path(&sb, e->path);
		strbuf_adds(&sb, "\n");
	}
	strbuf_addf(&sb, "archive-sha256 %s\n", archive_sha);
	return strbuf_detach(&sb);
}

static bool is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

/* Next blank-separated field of *s (modified in place), or NULL. */
static char *next_field(char **s)
{
	char *p = *s;
	if (!p || !*p)
		return NULL;
	char *sp = strchr(p, ' ');
	if (sp) {
		*sp = '\0';
		*s = sp + 1;
	} else {
		*s = p + strlen(p);
	}
	return p;
}

static cw_status manifest_parse(char *text, const char *name, struct manifest *m,
				struct cw_error *err)
{
	memset(m, 0, sizeof *m);
	int lineno = 0;
	bool ended = false;
	char *line = text;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		char *cur = line;
		line = nl ? nl + 1 : NULL;
		if (!*cur || cur[0] == '#')
			continue;
		if (ended) {
			manifest_done(m);
			return cw_error_set_at(err, CW_EVERIFY, name, lineno,
					       "manifest goes on after its archive-sha256 line");
		}
		char *kw = next_field(&cur);
		if (strcmp(kw, "archive-sha256") == 0) {
			if (!is_hex64(cur)) {
				manifest_done(m);
				return cw_error_set_at(err, CW_EVERIFY, name, lineno,
						       "archive-sha256 is not a SHA-256 in hex");
			}
			memcpy(m->archive_sha, cur, 65);
			ended = true;
			continue;
		}
		if (strcmp(kw, "top") == 0 || strcmp(kw, "absent") == 0) {
			char *p = unescape_path(cur);
			char *np = p ? norm_path(p) : NULL;
			free(p);
			if (!np) {
				manifest_done(m);
				return cw_error_set_at(err, CW_EVERIFY, name, lineno, "bad path in %s line",
						       kw);
			}
			strv_push_owned(kw[0] == 't' ? &m->tops : &m->absent, np);
			continue;
		}
		struct ment e = { 0 };
		e.type = type_from_name(kw);
		char *f_mode = next_field(&cur), *f_uid = next_field(&cur), *f_gid = next_field(&cur),
		     *f_size = next_field(&cur), *f_sha = next_field(&cur);
		char *endp;
		bool ok = e.type && f_sha && *cur;
		if (ok) {
			e.mode = (unsigned)strtoul(f_mode, &endp, 8);
			ok = *endp == '\0' && e.mode <= 07777;
		}
		if (ok) {
			e.uid = strtoul(f_uid, &endp, 10);
			ok = *endp == '\0';
		}
		if (ok) {
			e.gid = strtoul(f_gid, &endp, 10);
			ok = *endp == '\0';
		}
		if (ok) {
			e.size = strtoull(f_size, &endp, 10);
			ok = *endp == '\0';
		}
		if (ok) {
			bool want_sha = e.type == 'f' || e.type == 'l';
			ok = want_sha ? is_hex64(f_sha) : strcmp(f_sha, "-") == 0;
			snprintf(e.sha, sizeof e.sha, "%s", f_sha);
		}
		char *p = ok ? unescape_path(cur) : NULL;
		e.path = p ? norm_path(p) : NULL;
		free(p);
		if (!e.path) {
			manifest_done(m);
			return cw_error_set_at(err, CW_EVERIFY, name, lineno,
					       "not a manifest line (expected TYPE MODE UID GID SIZE "
					       "SHA256 PATH)");
		}
		mlist_push(&m->e, &e);
	}
	if (!ended) {
		manifest_done(m);
		return cw_error_set(err, CW_EVERIFY,
				    "manifest %s has no archive-sha256 line: it is incomplete", name);
	}
	if (m->e.n)
		qsort(m->e.v, m->e.n, sizeof *m->e.v, ment_cmp);
	for (size_t i = 1; i < m->e.n; i++)
		if (strcmp(m->e.v[i - 1].path, m->e.v[i].path) == 0) {
			cw_status st = cw_error_set(err, CW_EVERIFY, "manifest %s lists %s twice", name,
						    m->e.v[i].path);
			manifest_done(m);
			return st;
		}
	/* Older or hand-made manifests without top lines: the tops are the entries whose parent
	 * is not listed. */
	if (!m->tops)
		for (size_t i = 0; i < m->e.n; i++) {
			char *parent = xstrdup(m->e.v[i].path);
			char *slash = strrchr(parent, '/');
			if (slash)
				*slash = '\0';
			if (!*parent || !manifest_find(m, parent))
				strv_push(&m->tops, m->e.v[i].path);
			free(parent);
		}
	return CW_OK;
}

/* Compare what was found (in the archive, an extraction or a restored tree) with the manifest. */
static cw_status ment_compare(const struct ment *want, const struct ment *got, const char *where,
			      struct cw_error *err)
{
	if (want->type != got->type)
		return cw_error_set(err, CW_EVERIFY, "%s: a %s in %s, a %s in the manifest", want->path,
				    type_name(got->type), where, type_name(want->type));
	if (want->type != 'l' && want->mode != got->mode)
		return cw_error_set(err, CW_EVERIFY, "%s: mode %04o in %s, %04o in the manifest",
				    want->path, got->mode, where, want->mode);
	if (want->uid != got->uid)
		return cw_error_set(err, CW_EVERIFY, "%s: owner uid %lu in %s, uid %lu in the manifest",
				    want->path, got->uid, where, want->uid);
	if (want->gid != got->gid)
		return cw_error_set(err, CW_EVERIFY, "%s: group gid %lu in %s, gid %lu in the manifest",
				    want->path, got->gid, where, want->gid);
	if ((want->type == 'f' || want->type == 'l') && want->size != got->size)
		return cw_error_set(err, CW_EVERIFY,
				    "%s: size %" PRIu64 " bytes in %s, %" PRIu64 " in the manifest",
				    want->path, got->size, where, want->size);
	if ((want->type == 'f' || want->type == 'l') && strcmp(want->sha, got->sha) != 0)
		return cw_error_set(err, CW_EVERIFY, "%s: %s differs: sha256 %s in %s, %s in the manifest",
				    want->path, want->type == 'f' ? "content" : "link target", got->sha,
				    where, want->sha);
	return CW_OK;
}

/* Every entry found must be in the manifest and equal; every manifest entry under scope (all
 * when !scoped) must have been found. */
static cw_status check_set(struct manifest *m, const struct mlist *got, bool scoped,
			   char *const *scope, const char *where, struct cw_error *err)
{
	for (size_t i = 0; i < m->e.n; i++)
		m->e.v[i].seen = false;
	for (size_t i = 0; i < got->n; i++) {
		struct ment *want = manifest_find(m, got->v[i].path);
		if (!want)
			return cw_error_set(err, CW_EVERIFY, "%s is in %s but not in the manifest",
					    got->v[i].path, where);
		if (want->seen)
			return cw_error_set(err, CW_EVERIFY, "%s appears twice in %s", got->v[i].path,
					    where);
		want->seen = true;
		cw_status st = ment_compare(want, &got->v[i], where, err);
		if (st != CW_OK)
			return st;
	}
	for (size_t i = 0; i < m->e.n; i++)
		if (!m->e.v[i].seen && (!scoped || under_any(m->e.v[i].path, scope)))
			return cw_error_set(err, CW_EVERIFY, "%s is in the manifest but missing from %s",
					    m->e.v[i].path, where);
	return CW_OK;
}

static void result_from_manifest(struct backup_result *res, const struct manifest *m)
{
	res->files = 0;
	res->bytes = 0;
	for (size_t i = 0; i < m->e.n; i++)
		if (m->e.v[i].type == 'f') {
			res->files++;
			res->bytes += m->e.v[i].size;
		}
	memcpy(res->archive_sha256, m->archive_sha, 65);
}

/* ---- this host: trees ---- */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk fs (lstat, never following symlinks) and list it as logical (the path the manifest
 * uses; differs from fs when restoring under another root). out may be NULL (sizes only). */
static cw_status walk(const char *fs, const char *logical, struct mlist *out, uint64_t *bytes,
		      size_t *files, struct cw_error *err)
{
	struct stat st;
	if (lstat(fs, &st) != 0)
		return cw_error_set(err, CW_EIO, "cannot read %s: %s", fs, strerror(errno));
	struct ment e = { 0 };
	e.type = type_from_mode(st.st_mode);
	e.mode = st.st_mode & 07777;
	e.uid = st.st_uid;
	e.gid = st.st_gid;
	snprintf(e.sha, sizeof e.sha, "-");
	if (e.type == 'f') {
		e.size = (uint64_t)st.st_size;
		if (out) {
			cw_status s = sha_file(fs, e.sha, &e.size, err);
			if (s != CW_OK)
				return s;
		}
		if (bytes)
			*bytes += e.size;
		if (files)
			(*files)++;
	} else if (e.type == 'l' && out) {
		char target[4096];
		ssize_t n = readlink(fs, target, sizeof target - 1);
		if (n < 0)
			return cw_error_set(err, CW_EIO, "cannot read the link %s: %s", fs, strerror(errno));
		e.size = (uint64_t)n;
		sha256_hex(target, (size_t)n, e.sha);
	}
	if (out) {
		e.path = xstrdup(logical);
		mlist_push(out, &e);
	}
	if (e.type != 'd')
		return CW_OK;
	DIR *d = opendir(fs);
	if (!d)
		return cw_error_set(err, CW_EIO, "cannot read directory %s: %s", fs, strerror(errno));
	char **names = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			strv_push(&names, de->d_name);
	closedir(d);
	size_t n = strv_len(names);
	if (n)
		qsort(names, n, sizeof *names, name_cmp);
	cw_status s = CW_OK;
	for (size_t i = 0; i < n && s == CW_OK; i++) {
		char *cfs = path_join(fs, names[i]);
		char *clog = path_join(logical, names[i]);
		s = walk(cfs, clog, out, bytes, files, err);
		free(cfs);
		free(clog);
	}
	strv_free(names);
	return s;
}

static int empty_dir(const char *path);

/* rm -rf, not following symlinks. */
static int rm_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	return empty_dir(path) == 0 ? rmdir(path) : -1;
}

/* Remove what a directory holds, keep the directory (a mount point cannot be moved). */
static int empty_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return -1;
	char **names = NULL;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			strv_push(&names, de->d_name);
	closedir(d);
	int r = 0;
	for (size_t i = 0; names && names[i]; i++) {
		char *c = path_join(path, names[i]);
		if (rm_tree(c) != 0)
			r = -1;
		free(c);
	}
	strv_free(names);
	return r;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Make dir (mode 0700 when we create it); it must be a directory. */
static cw_status make_backup_dir(const char *dir, struct cw_error *err)
{
	if (path_is_dir(dir))
		return CW_OK;
	cw_status st = mkdir_p(dir, 0700, err);
	if (st != CW_OK)
		return st;
	if (!path_is_dir(dir))
		return cw_error_set(err, CW_EIO, "%s is not a directory", dir);
	if (chmod(dir, 0700) != 0)
		return cw_error_set(err, CW_EIO, "cannot make %s private: %s", dir, strerror(errno));
	return CW_OK;
}

/* Requested paths -> tops (exist, not under another top) and absent. */
static cw_status split_paths(struct transport *t, char *const *paths, char ***tops, char ***absent,
			     struct cw_error *err)
{
	char **all = NULL;
	for (size_t i = 0; paths && paths[i]; i++) {
		char *p = norm_path(paths[i]);
		if (!p) {
			strv_free(all);
			return cw_error_set(err, CW_EINVAL,
					    "cannot back up \"%s\": not an absolute path without . or .. "
					    "(and not /)",
					    paths[i]);
		}
		if (strv_contains(all, p))
			free(p);
		else
			strv_push_owned(&all, p);
	}
	if (!all)
		return cw_error_set(err, CW_EINVAL, "no paths to back up");
	*tops = *absent = NULL;
	for (size_t i = 0; all[i]; i++) {
		bool covered = false;
		for (size_t k = 0; all[k]; k++)
			if (k != i && path_under(all[i], all[k]) && strcmp(all[i], all[k]) != 0)
				covered = true;
		if (covered)
			continue;
		if (is_local(t)) {
			struct stat st;
			if (lstat(all[i], &st) == 0)
				strv_push(tops, all[i]);
			else if (errno == ENOENT || errno == ENOTDIR)
				strv_push(absent, all[i]);
			else {
				cw_status s = cw_error_set(err, CW_EIO, "cannot read %s: %s", all[i],
							   strerror(errno));
				strv_free(all);
				strv_free(*tops);
				strv_free(*absent);
				*tops = *absent = NULL;
				return s;
			}
		} else {
			strv_push(tops, all[i]); /* remote: sorted out on the host */
		}
	}
	strv_free(all);
	return CW_OK;
}

/* Where path lands when restored under root ("" for /). */
static char *rooted(const char *root, const char *path)
{
	return xasprintf("%s%s", root, path);
}

/* ---- this host: create ---- */

static cw_status archive_fail(struct archive *a, const char *what, const char *dir,
			      struct cw_error *err)
{
	int e = archive_errno(a);
	if (e == ENOSPC || e == EDQUOT)
		return cw_error_set(err, CW_EIO, "the disk holding %s filled up while writing the backup: %s",
				    dir, archive_error_string(a) ? archive_error_string(a) : strerror(e));
	return cw_error_set(err, CW_EIO, "%s: %s", what,
			    archive_error_string(a) ? archive_error_string(a) : strerror(e));
}

/* Archive one top into w, listing what was written into out. */
static cw_status archive_top(struct archive *w, const char *top, const char *dir,
			     struct mlist *out, struct cw_error *err)
{
	struct archive *disk = archive_read_disk_new();
	if (!disk)
		abort(); /* out of memory: libarchive could not allocate its handle */
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_standard_lookup(disk);
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_SPARSE);
	cw_status st = CW_OK;
	if (archive_read_disk_open(disk, top) != ARCHIVE_OK) {
		st = cw_error_set(err, CW_EIO, "cannot read %s: %s", top, archive_error_string(disk));
		archive_read_free(disk);
		return st;
	}
	for (;;) {
		struct archive_entry *ent = archive_entry_new();
		int r = archive_read_next_header2(disk, ent);
		if (r == ARCHIVE_EOF) {
			archive_entry_free(ent);
			break;
		}
		if (!header_read(r)) {
			st = cw_error_set(err, CW_EIO, "cannot read %s: %s", top, archive_error_string(disk));
			archive_entry_free(ent);
			break;
		}
		if (archive_read_disk_can_descend(disk))
			archive_read_disk_descend(disk);
		char *path = norm_path(archive_entry_pathname(ent));
		if (!path || !path_under(path, top)) {
			const char *name = archive_entry_pathname(ent);
			st = cw_error_set(err, CW_EIO, "unexpected path %s while reading %s",
					  name ? name : "(none)", top);
			free(path);
			archive_entry_free(ent);
			break;
		}
		struct ment e = { 0 };
		e.type = type_from_mode(archive_entry_filetype(ent));
		e.mode = archive_entry_perm(ent) & 07777;
		e.uid = (unsigned long)archive_entry_uid(ent);
		e.gid = (unsigned long)archive_entry_gid(ent);
		snprintf(e.sha, sizeof e.sha, "-");
		if (e.type == 'l') {
			const char *target = archive_entry_symlink(ent);
			target = target ? target : "";
			e.size = strlen(target);
			sha256_hex(target, e.size, e.sha);
		}
		archive_entry_copy_pathname(ent, path + 1);
		archive_entry_sparse_clear(ent);
		if (e.type != 'f')
			archive_entry_set_size(ent, 0);
		r = archive_write_header(w, ent);
		if (r < ARCHIVE_WARN) {
			st = archive_fail(w, "cannot write the archive", dir, err);
			free(path);
			archive_entry_free(ent);
			break;
		}
		if (e.type == 'f') {
			int64_t want = archive_entry_size(ent), done = 0;
			EVP_MD_CTX *c = sha_begin();
			const void *buf;
			size_t len;
			la_int64_t off;
			while ((r = archive_read_data_block(disk, &buf, &len, &off)) == ARCHIVE_OK) {
				if (off != done || done + (int64_t)len > want)
					break;
				EVP_DigestUpdate(c, buf, len);
				la_ssize_t wn = archive_write_data(w, buf, len);
				if (wn < 0 || (size_t)wn != len) {
					r = ARCHIVE_FATAL;
					break;
				}
				done += (int64_t)len;
			}
			sha_end(c, e.sha);
			e.size = (uint64_t)done;
			if (r == ARCHIVE_FATAL && archive_errno(w)) {
				st = archive_fail(w, "cannot write the archive", dir, err);
			} else if (r != ARCHIVE_EOF && r != ARCHIVE_OK) {
				st = cw_error_set(err, CW_EIO, "cannot read %s: %s", path,
						  archive_error_string(disk));
			} else if (done != want || r == ARCHIVE_OK) {
				st = cw_error_set(err, CW_EIO,
						  "%s changed while it was being archived; try again", path);
			}
		}
		archive_entry_free(ent);
		if (st != CW_OK) {
			free(path);
			break;
		}
		e.path = path;
		mlist_push(out, &e);
	}
	archive_read_close(disk);
	archive_read_free(disk);
	return st;
}

static cw_status write_new_file(const char *path, const char *data, size_t len,
				struct cw_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return cw_error_set(err, CW_EIO, "cannot create %s: %s", path, strerror(errno));
	if (write_all(fd, data, len) != 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return cw_error_set(err, CW_EIO, "cannot write %s: %s", path, strerror(e));
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		int e = errno;
		unlink(path);
		return cw_error_set(err, CW_EIO, "cannot write %s: %s", path, strerror(e));
	}
	return CW_OK;
}

static cw_status local_create(const char *dir, const char *name, char **tops, char **absent,
			      struct backup_result *res, struct cw_error *err)
{
	/* The archive must not end up inside what it archives. */
	char *rdir = realpath(dir, NULL);
	for (size_t i = 0; rdir && tops && tops[i]; i++) {
		char *rtop = realpath(tops[i], NULL);
		bool inside = rtop && path_under(rdir, rtop);
		free(rtop);
		if (inside) {
			free(rdir);
			return cw_error_set(err, CW_EINVAL,
					    "the backup directory %s is inside %s, which it backs up", dir,
					    tops[i]);
		}
	}
	free(rdir);

	uint64_t bytes = 0;
	for (size_t i = 0; tops && tops[i]; i++) {
		cw_status s = walk(tops[i], tops[i], NULL, &bytes, NULL, err);
		if (s != CW_OK)
			return s;
	}
	struct statvfs vfs;
	if (statvfs(dir, &vfs) != 0)
		return cw_error_set(err, CW_EIO, "cannot tell the free space in %s: %s", dir,
				    strerror(errno));
	cw_status st = backup_check_space(dir, backup_space_needed(bytes),
					  (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize, err);
	if (st != CW_OK)
		return st;

	char *archive = xasprintf("%s/%s.tar.gz", dir, name);
	char *manifest = xasprintf("%s/%s.manifest", dir, name);
	char *tmp_archive = xasprintf("%s/.%s.tar.gz.partial-%ld", dir, name, (long)getpid());
	char *tmp_manifest = xasprintf("%s/.%s.manifest.partial-%ld", dir, name, (long)getpid());
	struct mlist list = { 0 };
	char *text = NULL;
	char sha[65] = "";
	int fd = -1;

	if (path_exists(archive) || path_exists(manifest)) {
		st = cw_error_set(err, CW_EINVAL, "a backup named %s exists already in %s", name, dir);
		goto out;
	}
	fd = open(tmp_archive, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		st = cw_error_set(err, CW_EIO, "cannot create %s: %s", tmp_archive, strerror(errno));
		goto out;
	}
	struct archive *w = archive_write_new();
	if (!w)
		abort(); /* out of memory: libarchive could not allocate its handle */
	archive_write_add_filter_gzip(w);
	archive_write_set_format_pax_restricted(w);
	if (archive_write_open_fd(w, fd) != ARCHIVE_OK) {
		st = archive_fail(w, "cannot start the archive", dir, err);
		archive_write_free(w);
		goto fail;
	}
	for (size_t i = 0; tops && tops[i] && st == CW_OK; i++)
		st = archive_top(w, tops[i], dir, &list, err);
	if (st != CW_OK) {
		archive_write_free(w);
		goto fail;
	}
	if (archive_write_close(w) != ARCHIVE_OK) {
		st = archive_fail(w, "cannot finish the archive", dir, err);
		archive_write_free(w);
		goto fail;
	}
	archive_write_free(w);
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		st = cw_error_set(err, CW_EIO, "cannot write %s: %s", tmp_archive, strerror(errno));
		goto fail;
	}
	fd = -1;
	st = sha_file(tmp_archive, sha, NULL, err);
	if (st != CW_OK)
		goto fail;
	text = manifest_text(&list, tops, absent, sha);
	st = write_new_file(tmp_manifest, text, strlen(text), err);
	if (st != CW_OK)
		goto fail;
	if (rename(tmp_archive, archive) != 0 || rename(tmp_manifest, manifest) != 0) {
		st = cw_error_set(err, CW_EIO, "cannot move the backup into place in %s: %s", dir,
				  strerror(errno));
		unlink(archive);
		goto fail;
	}
	fsync_dir(dir);
	res->archive = archive;
	res->manifest = manifest;
	archive = manifest = NULL;
	res->files = 0;
	res->bytes = 0;
	for (size_t i = 0; i < list.n; i++)
		if (list.v[i].type == 'f') {
			res->files++;
			res->bytes += list.v[i].size;
		}
	memcpy(res->archive_sha256, sha, 65);
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp_archive);
	unlink(tmp_manifest);
out:
	mlist_done(&list);
	free(text);
	free(archive);
	free(manifest);
	free(tmp_archive);
	free(tmp_manifest);
	return st;
}

/* ---- this host: read an archive back ---- */

static cw_status local_read_archive(const char *archive, struct mlist *out, struct cw_error *err)
{
	struct archive *a = archive_read_new();
	if (!a)
		abort(); /* out of memory: libarchive could not allocate its handle */
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	cw_status st = CW_OK;
	if (archive_read_open_filename(a, archive, 65536) != ARCHIVE_OK) {
		st = cw_error_set(err, CW_EVERIFY, "cannot read the archive %s: %s", archive,
				  archive_error_string(a));
		archive_read_free(a);
		return st;
	}
	struct archive_entry *ent;
	const char *last = NULL;
	for (;;) {
		int r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (!header_read(r)) {
			st = cw_error_set(err, CW_EVERIFY, "cannot read the archive %s%s%s: %s", archive,
					  last ? " after " : "", last ? last : "",
					  archive_error_string(a));
			break;
		}
		struct ment e = { 0 };
		e.path = member_path(archive_entry_pathname(ent));
		if (!e.path) {
			const char *name = archive_entry_pathname(ent);
			st = cw_error_set(err, CW_EVERIFY,
					  "the archive %s holds a bad member name \"%s\" (expected a path "
					  "below /)",
					  archive, name ? name : "");
			break;
		}
		if (archive_entry_hardlink(ent)) {
			st = cw_error_set(err, CW_EVERIFY, "%s: a hard link in the archive %s", e.path,
					  archive);
			free(e.path);
			break;
		}
		e.type = type_from_mode(archive_entry_filetype(ent));
		e.mode = archive_entry_perm(ent) & 07777;
		e.uid = (unsigned long)archive_entry_uid(ent);
		e.gid = (unsigned long)archive_entry_gid(ent);
		snprintf(e.sha, sizeof e.sha, "-");
		if (e.type == 'l') {
			const char *target = archive_entry_symlink(ent);
			target = target ? target : "";
			e.size = strlen(target);
			sha256_hex(target, e.size, e.sha);
		} else if (e.type == 'f') {
			EVP_MD_CTX *c = sha_begin();
			const void *buf;
			size_t len;
			la_int64_t off;
			uint64_t total = 0;
			while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
				EVP_DigestUpdate(c, buf, len);
				total += len;
			}
			sha_end(c, e.sha);
			e.size = total;
			if (r != ARCHIVE_EOF) {
				st = cw_error_set(err, CW_EVERIFY, "cannot read %s from the archive %s: %s",
						  e.path, archive, archive_error_string(a));
				free(e.path);
				break;
			}
		}
		mlist_push(out, &e);
		last = out->v[out->n - 1].path;
	}
	archive_read_free(a);
	return st;
}

static cw_status load_manifest(struct transport *t, const char *path, struct manifest *m,
			       struct cw_error *err)
{
	char *data = NULL;
	size_t len = 0;
	cw_status st = is_local(t) ? file_read(path, MANIFEST_MAX, &data, &len, err)
				   : transport_read_file(t, path, MANIFEST_MAX, &data, &len, err);
	if (st != CW_OK) {
		cw_error_prefix(err, "cannot read the manifest of the backup on %s", host_of(t));
		if (err)
			err->code = CW_EVERIFY;
		return CW_EVERIFY;
	}
	if (memchr(data, '\0', len)) {
		free(data);
		return cw_error_set(err, CW_EVERIFY, "manifest %s holds NUL bytes", path);
	}
	st = manifest_parse(data, path, m, err);
	free(data);
	return st;
}

static cw_status local_verify(struct backup_result *res, struct manifest *m, struct cw_error *err)
{
	char sha[65];
	cw_status st = sha_file(res->archive, sha, NULL, err);
	if (st != CW_OK) {
		if (err)
			err->code = CW_EVERIFY;
		return CW_EVERIFY;
	}
	if (strcmp(sha, m->archive_sha) != 0)
		return cw_error_set(err, CW_EVERIFY,
				    "the archive %s does not match its manifest: its sha256 is %s, the "
				    "manifest records %s",
				    res->archive, sha, m->archive_sha);
	struct mlist got = { 0 };
	st = local_read_archive(res->archive, &got, err);
	if (st == CW_OK)
		st = check_set(m, &got, false, NULL, "the archive", err);
	mlist_done(&got);
	return st;
}

/* ---- other hosts: commands run there ---- */

/* Every script gets its data as positional parameters, never spliced into its text. */
static const char SCRIPT_PROBE[] =
	"dir=$1; shift\n"
	"if [ ! -d \"$dir\" ]; then mkdir -p -m 0700 -- \"$dir\" || exit 3; fi\n"
	"free=$(df -Pk -- \"$dir\" | awk 'NR==2 {print $4}') || exit 3\n"
	"printf 'free\\000%s\\000' \"$free\"\n"
	"for p do\n"
	"  if [ -e \"$p\" ] || [ -L \"$p\" ]; then printf 'top\\000%s\\000' \"$p\";\n"
	"  else printf 'absent\\000%s\\000' \"$p\"; fi\n"
	"done\n"
	"bytes=$(for p do\n"
	"  if [ -e \"$p\" ] || [ -L \"$p\" ]; then find \"$p\" -type f -printf '%s\\n' || exit 3; fi\n"
	"done | awk '{ s += $1 } END { printf \"%.0f\", s }') || exit 3\n"
	"printf 'bytes\\000%s\\000' \"$bytes\"\n";

/* DIR NAME REL...: tar the paths (relative to /) into a temporary name next to the backup. */
static const char SCRIPT_ARCHIVE[] =
	"dir=$1; name=$2; shift 2\n"
	"umask 077\n"
	"if [ -e \"$dir/$name.tar.gz\" ] || [ -e \"$dir/$name.manifest\" ]; then\n"
	"  echo \"a backup named $name exists already in $dir\" >&2; exit 3; fi\n"
	"tmp=$dir/.$name.tar.gz.partial-$$\n"
	"if [ $# -eq 0 ]; then set -- -T /dev/null; else set -- -C / -- \"$@\"; fi\n"
	"if ! tar --numeric-owner -cpzf \"$tmp\" \"$@\"; then rm -f -- \"$tmp\"; exit 4; fi\n"
	"sum=$(sha256sum -- \"$tmp\") || { rm -f -- \"$tmp\"; exit 4; }\n"
	"printf 'partial\\000%s\\000archive-sha256\\000%s\\000' \"$tmp\" \"${sum%% *}\"\n";

/* PATH...: list the existing ones (entries, then the sha256 of every file). */
static const char SCRIPT_LIST[] =
	"for p do\n"
	"  if [ -e \"$p\" ] || [ -L \"$p\" ]; then\n"
	"    find \"$p\" -printf 'entry\\000%y\\000%m\\000%U\\000%G\\000%s\\000%l\\000%p\\000' || exit 5\n"
	"  fi\n"
	"done\n"
	"for p do\n"
	"  if [ -e \"$p\" ] || [ -L \"$p\" ]; then\n"
	"    find \"$p\" -type f -exec sha256sum -z -- {} + || exit 5\n"
	"  fi\n"
	"done\n";

/* ARCHIVE: its sha256, then extract it into a private temporary directory next to it and list
 * that (paths ./...); the directory is removed on exit. */
static const char SCRIPT_VERIFY[] =
	"arch=$1\n"
	"sum=$(sha256sum -- \"$arch\") || exit 3\n"
	"printf 'archive-sha256\\000%s\\000' \"${sum%% *}\"\n"
	"tmp=$(mktemp -d \"${arch%/*}/.certwiz-verify.XXXXXX\") || exit 3\n"
	"trap 'cd /; rm -rf -- \"$tmp\"' EXIT\n"
	"tar --numeric-owner -xpzf \"$arch\" -C \"$tmp\" || exit 4\n"
	"cd \"$tmp\" || exit 3\n"
	"find . -mindepth 1 -printf 'entry\\000%y\\000%m\\000%U\\000%G\\000%s\\000%l\\000%p\\000' || exit 5\n"
	"find . -mindepth 1 -type f -exec sha256sum -z -- {} + || exit 5\n";

/* FILE create|append DATA */
static const char SCRIPT_PUT[] =
	"umask 077\n"
	"if [ \"$2\" = create ]; then printf '%s' \"$3\" > \"$1\"; else printf '%s' \"$3\" >> \"$1\"; fi\n";

/* TMP_ARCHIVE ARCHIVE TMP_MANIFEST MANIFEST */
static const char SCRIPT_COMMIT[] =
	"mv -f -- \"$1\" \"$2\" && mv -f -- \"$3\" \"$4\" && sync\n";

/* PATH ASIDE: move PATH aside (a mount point is emptied instead); prints moved|emptied|none. */
static const char SCRIPT_ASIDE[] =
	"if [ -e \"$1\" ] || [ -L \"$1\" ]; then\n"
	"  if mv -- \"$1\" \"$2\" 2>/dev/null; then echo moved\n"
	"  elif [ -d \"$1\" ] && [ ! -L \"$1\" ]; then find \"$1\" -mindepth 1 -delete && echo emptied || exit 3\n"
	"  else echo \"cannot move $1 aside\" >&2; exit 3; fi\n"
	"else echo none; fi\n";

/* ARCHIVE REL...: extract those members in place. */
static const char SCRIPT_EXTRACT[] =
	"arch=$1; shift\n"
	"tar --numeric-owner -xpzf \"$arch\" -C / -- \"$@\"\n";

/* PATH ASIDE: put a moved-aside tree back. */
static const char SCRIPT_PUT_BACK[] = "rm -rf -- \"$1\" && mv -- \"$2\" \"$1\"\n";

static const char SCRIPT_RM[] = "rm -rf -- \"$@\"\n";

struct capture {
	struct strbuf out, err;
	bool overflow;
};

static void capture_cb(void *ctx, int stream, const char *data, size_t len)
{
	struct capture *c = ctx;
	struct strbuf *sb = stream == 2 ? &c->err : &c->out;
	size_t max = stream == 2 ? 65536 : REMOTE_OUT_MAX;
	if (sb->len + len > max) {
		if (stream != 2)
			c->overflow = true;
		len = max > sb->len ? max - sb->len : 0;
	}
	if (len)
		strbuf_add(sb, data, len);
}

/* Run a script on t with args; stdout (with its length: it holds NULs) into *out. A non-zero
 * exit is fail_code with the script's stderr. */
static cw_status remote_run(struct transport *t, const char *what, const char *script,
			    char *const *args, cw_status fail_code, struct strbuf *out,
			    struct cw_error *err)
{
	char **argv = NULL;
	strv_push(&argv, "sh");
	strv_push(&argv, "-c");
	strv_push(&argv, script);
	strv_push(&argv, "certwiz-backup");
	for (size_t i = 0; args && args[i]; i++)
		strv_push(&argv, args[i]);
	struct capture c;
	strbuf_init(&c.out);
	strbuf_init(&c.err);
	c.overflow = false;
	struct runner_opts o = { .timeout_s = REMOTE_TIMEOUT_S, .out = capture_cb, .ctx = &c };
	struct proc_result pr;
	memset(&pr, 0, sizeof pr);
	cw_status st = runner_run(t, argv, &o, &pr, err);
	strv_free(argv);
	if (st != CW_OK) {
		cw_error_prefix(err, "%s on %s", what, host_of(t));
	} else if (pr.exit_code != 0) {
		/* the last line of stderr says what went wrong */
		while (c.err.len && (c.err.buf[c.err.len - 1] == '\n' || c.err.buf[c.err.len - 1] == ' '))
			c.err.buf[--c.err.len] = '\0';
		const char *msg = c.err.len ? c.err.buf : "no message";
		const char *nl = strrchr(msg, '\n');
		st = cw_error_set(err, fail_code, "%s on %s failed (exit %d): %.400s", what,
				  host_of(t), pr.exit_code, nl ? nl + 1 : msg);
	} else if (c.overflow) {
		st = cw_error_set(err, CW_EIO, "%s on %s: too much output", what, host_of(t));
	}
	strbuf_done(&c.err);
	if (st == CW_OK && out)
		*out = c.out;
	else
		strbuf_done(&c.out);
	return st;
}

/* Split NUL-terminated fields. The strv points into a copy it owns (one allocation). */
static char **split_nul(const struct strbuf *sb)
{
	char **v = NULL;
	size_t start = 0;
	for (size_t i = 0; i < sb->len; i++)
		if (sb->buf[i] == '\0') {
			strv_push(&v, sb->buf + start);
			start = i + 1;
		}
	return v;
}

/* Records printed by SCRIPT_LIST / SCRIPT_VERIFY / SCRIPT_ARCHIVE into a list of entries (paths
 * made absolute; strip_dot: they start with "./"), plus the archive-sha256 and partial records.
 * Only entries under keep (when given) are kept; others must be ancestors of a keep path. */
static cw_status parse_records(struct transport *t, const struct strbuf *sb, bool strip_dot,
			       char *const *keep, struct mlist *out, char sha[65], char **partial,
			       struct cw_error *err)
{
	char **f = split_nul(sb);
	size_t n = strv_len(f), i = 0;
	struct mlist files_sha = { 0 }; /* path + sha of the sha256sum lines */
	cw_status st = CW_OK;
	while (i < n && st == CW_OK) {
		const char *tag = f[i];
		if (strcmp(tag, "entry") == 0 && i + 7 < n) {
			struct ment e = { 0 };
			e.type = f[i + 1][0];
			e.mode = (unsigned)strtoul(f[i + 2], NULL, 8) & 07777;
			e.uid = strtoul(f[i + 3], NULL, 10);
			e.gid = strtoul(f[i + 4], NULL, 10);
			e.size = e.type == 'f' ? strtoull(f[i + 5], NULL, 10) : 0;
			snprintf(e.sha, sizeof e.sha, "-");
			if (e.type == 'l') {
				e.size = strlen(f[i + 6]);
				sha256_hex(f[i + 6], e.size, e.sha);
			}
			const char *p = f[i + 7];
			if (strip_dot && p[0] == '.')
				p++;
			e.path = norm_path(p);
			i += 8;
			if (!e.path || !strchr("fdlpcbs", e.type) || !e.type) {
				st = cw_error_set(err, CW_EIO, "unexpected listing from %s near %s",
						  host_of(t), p);
				free(e.path);
				break;
			}
			if (keep && !under_any(e.path, keep)) {
				bool ancestor = false;
				for (size_t k = 0; keep[k]; k++)
					if (path_under(keep[k], e.path))
						ancestor = true;
				if (!ancestor) {
					st = cw_error_set(err, CW_EVERIFY,
							  "%s is in the archive but outside the backed-up "
							  "paths",
							  e.path);
					free(e.path);
					break;
				}
				free(e.path); /* a parent made by tar to hold a top path */
				continue;
			}
			mlist_push(out, &e);
		} else if ((strcmp(tag, "archive-sha256") == 0 || strcmp(tag, "partial") == 0) &&
			   i + 1 < n) {
			if (tag[0] == 'a' && sha)
				snprintf(sha, 65, "%s", f[i + 1]);
			if (tag[0] == 'p' && partial) {
				free(*partial);
				*partial = xstrdup(f[i + 1]);
			}
			i += 2;
		} else if (strlen(tag) > 66 && tag[64] == ' ' && (tag[65] == ' ' || tag[65] == '*')) {
			struct ment e = { 0 };
			memcpy(e.sha, tag, 64);
			e.sha[64] = '\0';
			const char *p = tag + 66;
			if (strip_dot && p[0] == '.')
				p++;
			e.path = norm_path(p);
			i++;
			if (!e.path || !is_hex64(e.sha)) {
				st = cw_error_set(err, CW_EIO, "unexpected sha256sum output from %s: %.100s",
						  host_of(t), tag);
				free(e.path);
				break;
			}
			mlist_push(&files_sha, &e);
		} else {
			st = cw_error_set(err, CW_EIO, "unexpected output from %s: %.100s", host_of(t),
					  tag);
		}
	}
	if (st == CW_OK && files_sha.n)
		qsort(files_sha.v, files_sha.n, sizeof *files_sha.v, ment_cmp);
	for (size_t k = 0; st == CW_OK && k < out->n; k++) {
		struct ment *e = &out->v[k];
		if (e->type != 'f')
			continue;
		struct ment key = { .path = e->path };
		struct ment *s = files_sha.n ? bsearch(&key, files_sha.v, files_sha.n, sizeof key,
						       ment_cmp)
					     : NULL;
		if (!s)
			st = cw_error_set(err, CW_EIO, "no sha256 for %s on %s", e->path, host_of(t));
		else
			memcpy(e->sha, s->sha, 65);
	}
	mlist_done(&files_sha);
	strv_free(f);
	return st;
}

static char **rel_paths(char *const *abs)
{
	char **v = NULL;
	for (size_t i = 0; abs && abs[i]; i++)
		strv_push(&v, abs[i] + 1);
	return v;
}

static cw_status remote_put_file(struct transport *t, const char *path, const char *text,
				 struct cw_error *err)
{
	size_t len = strlen(text), off = 0;
	cw_status st = CW_OK;
	do {
		size_t n = len - off > REMOTE_CHUNK ? REMOTE_CHUNK : len - off;
		char *chunk = xstrndup(text + off, n);
		char *args[] = { (char *)path, off == 0 ? "create" : "append", chunk, NULL };
		st = remote_run(t, "writing the manifest", SCRIPT_PUT, args, CW_EIO, NULL, err);
		free(chunk);
		off += n;
	} while (st == CW_OK && off < len);
	return st;
}

static cw_status remote_create(struct transport *t, const char *dir, const char *name,
			       char **paths, struct backup_result *res, struct cw_error *err)
{
	if (dir[0] != '/')
		return cw_error_set(err, CW_EINVAL, "the backup directory %s on %s must be absolute",
				    dir, host_of(t));
	/* 1. which paths exist, their size, the free space */
	char **args = NULL;
	strv_push(&args, dir);
	for (size_t i = 0; paths[i]; i++)
		strv_push(&args, paths[i]);
	struct strbuf out;
	cw_status st = remote_run(t, "checking the paths to back up", SCRIPT_PROBE, args, CW_EIO,
				  &out, err);
	strv_free(args);
	if (st != CW_OK)
		return st;
	char **f = split_nul(&out);
	strbuf_done(&out);
	char **tops = NULL, **absent = NULL;
	uint64_t free_kib = 0, bytes = 0;
	for (size_t i = 0; f && f[i] && f[i + 1]; i += 2) {
		if (strcmp(f[i], "top") == 0)
			strv_push(&tops, f[i + 1]);
		else if (strcmp(f[i], "absent") == 0)
			strv_push(&absent, f[i + 1]);
		else if (strcmp(f[i], "free") == 0)
			free_kib = strtoull(f[i + 1], NULL, 10);
		else if (strcmp(f[i], "bytes") == 0)
			bytes = strtoull(f[i + 1], NULL, 10);
	}
	strv_free(f);
	/* The archive, plus room to extract it again for verification. */
	st = backup_check_space(dir, backup_space_needed(bytes) + bytes, free_kib * 1024, err);
	if (st != CW_OK) {
		cw_error_prefix(err, "on %s", host_of(t));
		goto out;
	}
	/* 2. the archive, under a temporary name */
	char *partial = NULL;
	char sha[65] = "";
	char **rels = rel_paths(tops);
	args = NULL;
	strv_push(&args, dir);
	strv_push(&args, name);
	for (size_t i = 0; rels && rels[i]; i++)
		strv_push(&args, rels[i]);
	strv_free(rels);
	st = remote_run(t, "archiving", SCRIPT_ARCHIVE, args, CW_EIO, &out, err);
	strv_free(args);
	if (st != CW_OK)
		goto out;
	struct mlist list = { 0 };
	st = parse_records(t, &out, false, NULL, &list, sha, &partial, err);
	strbuf_done(&out);
	if (st == CW_OK && (!partial || !is_hex64(sha)))
		st = cw_error_set(err, CW_EIO, "archiving on %s did not say where the archive is",
				  host_of(t));
	/* 3. the manifest: every entry of the paths, with the sha256 of every file */
	if (st == CW_OK && tops) {
		st = remote_run(t, "listing the backed-up paths", SCRIPT_LIST, tops, CW_EIO, &out, err);
		if (st == CW_OK) {
			st = parse_records(t, &out, false, NULL, &list, NULL, NULL, err);
			strbuf_done(&out);
		}
	}
	char *archive = xasprintf("%s/%s.tar.gz", dir, name);
	char *manifest = xasprintf("%s/%s.manifest", dir, name);
	char *tmp_manifest = xasprintf("%s/.%s.manifest.partial-%ld", dir, name, (long)getpid());
	if (st == CW_OK) {
		char *text = manifest_text(&list, tops, absent, sha);
		st = remote_put_file(t, tmp_manifest, text, err);
		free(text);
	}
	if (st == CW_OK) {
		char *cargs[] = { partial, archive, tmp_manifest, manifest, NULL };
		st = remote_run(t, "moving the backup into place", SCRIPT_COMMIT, cargs, CW_EIO, NULL,
				err);
	}
	if (st == CW_OK) {
		res->archive = archive;
		res->manifest = manifest;
		archive = manifest = NULL;
		res->files = 0;
		res->bytes = 0;
		for (size_t i = 0; i < list.n; i++)
			if (list.v[i].type == 'f') {
				res->files++;
				res->bytes += list.v[i].size;
			}
		memcpy(res->archive_sha256, sha, 65);
	} else if (partial) {
		char *rargs[] = { partial, tmp_manifest, NULL };
		struct cw_error ignored;
		remote_run(t, "cleaning up", SCRIPT_RM, rargs, CW_EIO, NULL, &ignored);
	}
	free(archive);
	free(manifest);
	free(tmp_manifest);
	free(partial);
	mlist_done(&list);
out:
	strv_free(tops);
	strv_free(absent);
	return st;
}

static cw_status remote_verify(struct transport *t, struct backup_result *res, struct manifest *m,
			       struct cw_error *err)
{
	char *args[] = { res->archive, NULL };
	struct strbuf out;
	cw_status st = remote_run(t, "verifying the backup", SCRIPT_VERIFY, args, CW_EVERIFY, &out,
				  err);
	if (st != CW_OK)
		return st;
	struct mlist got = { 0 };
	char sha[65] = "";
	st = parse_records(t, &out, true, m->tops, &got, sha, NULL, err);
	strbuf_done(&out);
	if (st == CW_OK && strcmp(sha, m->archive_sha) != 0)
		st = cw_error_set(err, CW_EVERIFY,
				  "the archive %s on %s does not match its manifest: its sha256 is %s, "
				  "the manifest records %s",
				  res->archive, host_of(t), sha, m->archive_sha);
	if (st == CW_OK)
		st = check_set(m, &got, false, NULL, "the archive", err);
	mlist_done(&got);
	return st;
}

/* ---- the public functions ---- */

cw_status backup_create(struct transport *t, const char *dir, const char *name, char *const *paths,
			struct backup_result *res, struct cw_error *err)
{
	memset(res, 0, sizeof *res);
	if (!dir || !*dir)
		return cw_error_set(err, CW_EINVAL, "no backup directory given");
	if (!valid_name(name))
		return cw_error_set(err, CW_EINVAL,
				    "bad backup name \"%s\": letters, digits and ._-:@+ only, not "
				    "starting with a dot",
				    name ? name : "");
	char **tops = NULL, **absent = NULL;
	cw_status st = split_paths(t, paths, &tops, &absent, err);
	if (st != CW_OK)
		return st;
	/* The archive must not end up inside what it archives (checked again on the real path
	 * once the directory exists). */
	char *ndir = norm_path(dir);
	for (size_t i = 0; ndir && tops && tops[i]; i++)
		if (path_under(ndir, tops[i])) {
			st = cw_error_set(err, CW_EINVAL,
					  "the backup directory %s is inside %s, which it backs up", dir,
					  tops[i]);
			break;
		}
	free(ndir);
	if (st != CW_OK) {
		strv_free(tops);
		strv_free(absent);
		return st;
	}
	if (is_local(t)) {
		st = make_backup_dir(dir, err);
		if (st == CW_OK)
			st = local_create(dir, name, tops, absent, res, err);
	} else {
		st = remote_create(t, dir, name, tops, res, err);
	}
	strv_free(tops);
	strv_free(absent);
	if (st != CW_OK)
		cw_error_prefix(err, "backup %s on %s", name, host_of(t));
	return st;
}

cw_status backup_verify(struct transport *t, struct backup_result *res, struct cw_error *err)
{
	if (!res || !res->archive)
		return cw_error_set(err, CW_EINVAL, "no backup to verify");
	res->verified = false;
	if (!res->manifest)
		res->manifest = backup_manifest_path(res->archive);
	struct manifest m;
	cw_status st = load_manifest(t, res->manifest, &m, err);
	if (st != CW_OK)
		return st;
	st = is_local(t) ? local_verify(res, &m, err) : remote_verify(t, res, &m, err);
	if (st == CW_OK) {
		result_from_manifest(res, &m);
		res->verified = true;
	} else {
		cw_error_prefix(err, "backup %s on %s failed verification", res->archive, host_of(t));
		/* Anything that is not a transport failure means the backup cannot be trusted. */
		if (st != CW_ECONNECT && st != CW_EAUTH && st != CW_EHOSTKEY && st != CW_ETIMEOUT &&
		    st != CW_ECANCEL) {
			if (err)
				err->code = CW_EVERIFY;
			st = CW_EVERIFY;
		}
	}
	manifest_done(&m);
	return st;
}

/* Pick the tops and absent paths to restore. */
static cw_status select_paths(const struct manifest *m, char *const *only, char ***tops,
			      char ***absent, struct cw_error *err)
{
	*tops = *absent = NULL;
	if (!only) {
		*tops = strv_copy(m->tops);
		*absent = strv_copy(m->absent);
		return CW_OK;
	}
	for (size_t i = 0; only[i]; i++) {
		char *p = norm_path(only[i]);
		if (p && strv_contains(m->tops, p)) {
			if (!strv_contains(*tops, p))
				strv_push(tops, p);
		} else if (p && strv_contains(m->absent, p)) {
			if (!strv_contains(*absent, p))
				strv_push(absent, p);
		} else {
			char *list = strv_join(m->tops, ", ");
			cw_status st = cw_error_set(err, CW_EINVAL,
						    "%s is not one of the paths in the backup (%s)",
						    only[i], list);
			free(list);
			free(p);
			strv_free(*tops);
			strv_free(*absent);
			*tops = *absent = NULL;
			return st;
		}
		free(p);
	}
	return CW_OK;
}

static cw_status local_extract(const char *archive, char *const *tops, const char *root,
			       struct cw_error *err)
{
	struct archive *a = archive_read_new();
	struct archive *w = archive_write_disk_new();
	if (!a || !w)
		abort(); /* out of memory: libarchive could not allocate its handle */
	archive_read_support_filter_gzip(a);
	archive_read_support_format_tar(a);
	/* Owners by number (as recorded in the manifest), not by name; no SECURE_SYMLINKS: the
	 * paths are absolute and may lie below a symlinked directory such as /etc/puppet. */
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
						  ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_ACL |
						  ARCHIVE_EXTRACT_XATTR |
						  ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	cw_status st = CW_OK;
	if (archive_read_open_filename(a, archive, 65536) != ARCHIVE_OK) {
		st = cw_error_set(err, CW_EIO, "cannot read the archive %s: %s", archive,
				  archive_error_string(a));
		goto out;
	}
	struct archive_entry *ent;
	for (;;) {
		int r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (!header_read(r)) {
			st = cw_error_set(err, CW_EIO, "cannot read the archive %s: %s", archive,
					  archive_error_string(a));
			break;
		}
		char *path = member_path(archive_entry_pathname(ent));
		if (!path || !under_any(path, tops)) {
			free(path);
			continue;
		}
		char *dest = rooted(root, path);
		archive_entry_copy_pathname(ent, dest);
		r = archive_write_header(w, ent);
		if (r < ARCHIVE_WARN) {
			st = cw_error_set(err, CW_EIO, "cannot restore %s: %s", dest,
					  archive_error_string(w));
			free(dest);
			free(path);
			break;
		}
		if (archive_entry_size(ent) > 0) {
			const void *buf;
			size_t len;
			la_int64_t off;
			while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK)
				if (archive_write_data_block(w, buf, len, off) < ARCHIVE_WARN) {
					r = ARCHIVE_FATAL;
					break;
				}
			if (r != ARCHIVE_EOF) {
				st = cw_error_set(err, CW_EIO, "cannot restore %s: %s", dest,
						  archive_error_string(r == ARCHIVE_FATAL &&
									       archive_errno(w)
								       ? w
								       : a));
				free(dest);
				free(path);
				break;
			}
		}
		if (archive_write_finish_entry(w) < ARCHIVE_WARN) {
			st = cw_error_set(err, CW_EIO, "cannot restore %s: %s", dest,
					  archive_error_string(w));
			free(dest);
			free(path);
			break;
		}
		free(dest);
		free(path);
	}
	/* Directory modes and times are set here, after their contents. */
	if (archive_write_close(w) != ARCHIVE_OK && st == CW_OK)
		st = cw_error_set(err, CW_EIO, "cannot finish restoring: %s", archive_error_string(w));
out:
	archive_read_free(a);
	archive_write_free(w);
	return st;
}

struct aside {
	char *path;  /* where the tree lives (rooted) */
	char *moved; /* where it was moved, or NULL (did not exist, or a mount point emptied) */
};

static cw_status local_restore(const char *archive, struct manifest *m, char **tops,
			       char **absent, const char *root, struct cw_error *err)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	size_t ntops = strv_len(tops);
	struct aside *as = xcalloc(ntops + 1, sizeof *as);
	cw_status st = CW_OK;
	size_t i;
	/* 1. what is there now goes aside */
	for (i = 0; i < ntops && st == CW_OK; i++) {
		as[i].path = rooted(root, tops[i]);
		struct stat sb;
		if (lstat(as[i].path, &sb) != 0)
			continue;
		char *moved = xasprintf("%s.certwiz-replaced-%s", as[i].path, stamp);
		if (rename(as[i].path, moved) == 0) {
			as[i].moved = moved;
			continue;
		}
		int e = errno;
		free(moved);
		if ((e == EBUSY || e == EXDEV) && S_ISDIR(sb.st_mode)) {
			if (empty_dir(as[i].path) != 0)
				st = cw_error_set(err, CW_EIO, "cannot empty %s: %s", as[i].path,
						  strerror(errno));
			continue;
		}
		st = cw_error_set(err, CW_EIO, "cannot move %s aside: %s", as[i].path, strerror(e));
	}
	/* 2. the archive's content */
	if (st == CW_OK)
		st = local_extract(archive, tops, root, err);
	if (st != CW_OK) {
		for (size_t k = 0; k < ntops; k++)
			if (as[k].moved) {
				rm_tree(as[k].path);
				if (rename(as[k].moved, as[k].path) == 0) {
					free(as[k].moved);
					as[k].moved = NULL;
				}
			}
		goto out;
	}
	/* 3. what did not exist at backup time must not exist now */
	for (size_t k = 0; absent && absent[k] && st == CW_OK; k++) {
		char *p = rooted(root, absent[k]);
		if (rm_tree(p) != 0)
			st = cw_error_set(err, CW_EIO, "cannot remove %s (absent in the backup): %s", p,
					  strerror(errno));
		free(p);
	}
	/* 4. check the result against the manifest */
	struct mlist got = { 0 };
	for (size_t k = 0; k < ntops && st == CW_OK; k++)
		if (path_exists(as[k].path))
			st = walk(as[k].path, tops[k], &got, NULL, NULL, err);
	if (st == CW_OK)
		st = check_set(m, &got, true, tops, "the restored tree", err);
	mlist_done(&got);
	if (st != CW_OK) {
		char **kept = NULL;
		for (size_t k = 0; k < ntops; k++)
			if (as[k].moved)
				strv_push(&kept, as[k].moved);
		if (kept) {
			char *list = strv_join(kept, ", ");
			cw_error_prefix(err, "restored, but the result does not match the backup (what was "
					     "there before is kept in %s)",
					list);
			free(list);
			strv_free(kept);
			for (size_t k = 0; k < ntops; k++) {
				free(as[k].moved);
				as[k].moved = NULL;
			}
		}
		goto out;
	}
	for (size_t k = 0; k < ntops; k++)
		if (as[k].moved)
			rm_tree(as[k].moved);
out:
	for (size_t k = 0; k < ntops; k++) {
		free(as[k].path);
		free(as[k].moved);
	}
	free(as);
	return st;
}

static cw_status remote_restore(struct transport *t, const char *archive, struct manifest *m,
				char **tops, char **absent, struct cw_error *err)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	size_t ntops = strv_len(tops);
	char **moved = xcalloc(ntops + 1, sizeof *moved); /* per top: moved-aside path or NULL */
	cw_status st = CW_OK;
	for (size_t i = 0; i < ntops && st == CW_OK; i++) {
		char *aside = xasprintf("%s.certwiz-replaced-%s", tops[i], stamp);
		char *args[] = { tops[i], aside, NULL };
		struct strbuf out;
		st = remote_run(t, "moving the current tree aside", SCRIPT_ASIDE, args, CW_EIO, &out,
				err);
		if (st == CW_OK && out.len >= 5 && strncmp(out.buf, "moved", 5) == 0)
			moved[i] = aside;
		else
			free(aside);
		if (st == CW_OK)
			strbuf_done(&out);
	}
	if (st == CW_OK && ntops) {
		char **rels = rel_paths(tops);
		char **args = NULL;
		strv_push(&args, archive);
		for (size_t i = 0; rels && rels[i]; i++)
			strv_push(&args, rels[i]);
		st = remote_run(t, "extracting the backup", SCRIPT_EXTRACT, args, CW_EIO, NULL, err);
		strv_free(args);
		strv_free(rels);
	}
	if (st != CW_OK) {
		for (size_t i = 0; i < ntops; i++)
			if (moved[i]) {
				char *args[] = { tops[i], moved[i], NULL };
				struct cw_error ignored;
				if (remote_run(t, "putting the old tree back", SCRIPT_PUT_BACK, args, CW_EIO,
					       NULL, &ignored) == CW_OK) {
					free(moved[i]);
					moved[i] = NULL;
				}
			}
		goto out;
	}
	if (absent)
		st = remote_run(t, "removing paths absent from the backup", SCRIPT_RM, absent, CW_EIO,
				NULL, err);
	/* check the result against the manifest */
	if (st == CW_OK) {
		char **all = strv_copy(tops);
		strv_union(&all, absent);
		struct strbuf out;
		struct mlist got = { 0 };
		if (all) {
			st = remote_run(t, "listing the restored paths", SCRIPT_LIST, all, CW_EIO, &out,
					err);
			if (st == CW_OK) {
				st = parse_records(t, &out, false, NULL, &got, NULL, NULL, err);
				strbuf_done(&out);
			}
		}
		if (st == CW_OK)
			st = check_set(m, &got, true, tops, "the restored tree", err);
		mlist_done(&got);
		strv_free(all);
		if (st != CW_OK) {
			char **kept = NULL;
			for (size_t i = 0; i < ntops; i++)
				if (moved[i])
					strv_push(&kept, moved[i]);
			if (kept) {
				char *list = strv_join(kept, ", ");
				cw_error_prefix(err, "restored, but the result does not match the backup "
						     "(what was there before is kept in %s)",
						list);
				free(list);
				strv_free(kept);
			}
			goto out;
		}
	}
	char **rm = NULL;
	for (size_t i = 0; i < ntops; i++)
		if (moved[i])
			strv_push(&rm, moved[i]);
	if (rm && st == CW_OK) {
		struct cw_error ignored;
		remote_run(t, "removing the replaced trees", SCRIPT_RM, rm, CW_EIO, NULL, &ignored);
	}
	strv_free(rm);
out:
	for (size_t i = 0; i < ntops; i++)
		free(moved[i]);
	free(moved);
	return st;
}

cw_status backup_restore_to(struct transport *t, const char *archive, char *const *only,
			    const char *root, struct cw_error *err)
{
	if (!archive || !*archive)
		return cw_error_set(err, CW_EINVAL, "no backup archive given");
	char *r = NULL;
	if (root && strcmp(root, "/") != 0) {
		if (!is_local(t))
			return cw_error_set(err, CW_EUNSUPPORTED,
					    "restoring under another root works on this host only");
		r = norm_path(root);
		if (!r)
			return cw_error_set(err, CW_EINVAL, "bad restore root %s", root);
	} else {
		r = xstrdup("");
	}
	struct backup_result res;
	backup_result_for(archive, &res);
	cw_status st = backup_verify(t, &res, err);
	if (st != CW_OK) {
		cw_error_prefix(err, "refusing to restore");
		backup_result_done(&res);
		free(r);
		return st;
	}
	struct manifest m;
	st = load_manifest(t, res.manifest, &m, err);
	backup_result_done(&res);
	if (st != CW_OK) {
		free(r);
		return st;
	}
	char **tops = NULL, **absent = NULL;
	st = select_paths(&m, only, &tops, &absent, err);
	if (st == CW_OK)
		st = is_local(t) ? local_restore(archive, &m, tops, absent, r, err)
				 : remote_restore(t, archive, &m, tops, absent, err);
	if (st != CW_OK)
		cw_error_prefix(err, "restoring %s on %s", archive, host_of(t));
	strv_free(tops);
	strv_free(absent);
	manifest_done(&m);
	free(r);
	return st;
}

cw_status backup_restore(struct transport *t, const char *archive, char *const *only,
			 struct cw_error *err)
{
	return backup_restore_to(t, archive, only, NULL, err);
}
