/* journal.c: the append-only, fsync'd journal of a run (one JSON object per line, json-c),
 * the per-deployment run lock, and the resume position rebuilt from a journal. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define JOURNAL_MAX_BYTES (256u * 1024 * 1024)

struct journal {
	int fd;
	char *path;
};

static const char *const event_names[] = {
#define JE_X(id, name) [id] = name,
	JOURNAL_EVENTS(JE_X)
#undef JE_X
};

const char *journal_event_str(enum journal_event e)
{
	if ((unsigned)e >= JE_COUNT)
		return "unknown";
	return event_names[e];
}

static bool event_from_str(const char *s, enum journal_event *out)
{
	for (int i = 0; i < JE_COUNT; i++)
		if (strcmp(s, event_names[i]) == 0) {
			*out = (enum journal_event)i;
			return true;
		}
	return false;
}

/* The marker test (a copy of x509_text_has_private_key's rule, so the journal does not need
 * the x509 module): every PEM private key, whatever its algorithm or encryption, has a line
 * "-----BEGIN ... PRIVATE KEY-----" and "-----END ... PRIVATE KEY-----". Matching the common
 * tail catches a fragment holding either line. */
static bool has_private_key(const char *text, size_t len)
{
	static const char marker[] = "PRIVATE KEY-----";
	const size_t mlen = sizeof marker - 1;
	if (!text || len < mlen)
		return false;
	return memmem(text, len, marker, mlen) != NULL;
}

bool journal_text_has_private_key(const char *text, size_t len)
{
	return has_private_key(text, len);
}

/* The string fields of an entry with their JSON keys, in the order they are written. */
#define ENTRY_STRINGS(X)                                                                           \
	X(step) X(host) X(outcome) X(who) X(note) X(title) X(command) X(key) X(value) X(procedure)  \
	X(profile) X(hosts) X(path)

/* Name of the first string field holding a private key marker, or NULL. */
static const char *entry_private_field(const struct journal_entry *e)
{
#define CHECK(f)                                                                                   \
	if (e->f && has_private_key(e->f, strlen(e->f)))                                           \
		return #f;
	ENTRY_STRINGS(CHECK)
#undef CHECK
	return NULL;
}

/* ---- directories, open, append ---- */

/* Create every missing directory of path's parent with mode 0700. */
static cw_status make_parent_dirs(const char *path, struct cw_error *err)
{
	char *p = xstrdup(path);
	char *slash = strrchr(p, '/');
	if (!slash || slash == p) {
		free(p);
		return CW_OK;
	}
	*slash = '\0';
	for (char *s = p + 1;; s++) {
		bool end = (*s == '\0');
		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			cw_status st = cw_error_set(err, CW_EIO, "cannot create directory %s: %s", p,
						    strerror(errno));
			free(p);
			return st;
		}
		if (end)
			break;
		*s = '/';
	}
	if (!path_is_dir(p)) {
		cw_status st = cw_error_set(err, CW_EIO, "%s is not a directory", p);
		free(p);
		return st;
	}
	free(p);
	return CW_OK;
}

static void fsync_parent_dir(const char *path)
{
	char *p = xstrdup(path);
	char *slash = strrchr(p, '/');
	const char *dir = ".";
	if (slash == p)
		dir = "/";
	else if (slash) {
		*slash = '\0';
		dir = p;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(p);
}

static bool parse_line(const char *line, size_t len, struct journal_entry *e, char ***storage,
		       char *why, size_t whysz);

static bool line_is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* A crash mid-append can leave a torn last line. Before appending after it, cut it off (it was
 * never acknowledged: journal_append had not returned), or end a valid last line that lacks
 * its newline, so that every later line stays parseable. */
static cw_status repair_tail(int fd, const char *path, struct cw_error *err)
{
	char *data = NULL;
	size_t len = 0;
	cw_status st = file_read(path, JOURNAL_MAX_BYTES, &data, &len, err);
	if (st != CW_OK)
		return st;
	/* Find the last non-blank line. */
	size_t end = len;
	while (end > 0) {
		size_t start = end;
		while (start > 0 && data[start - 1] != '\n')
			start--;
		if (!line_is_blank(data + start, end - start)) {
			struct journal_entry e;
			char **tmp = NULL;
			char why[128];
			bool ok = memchr(data + start, '\0', end - start) == NULL &&
				  parse_line(data + start, end - start, &e, &tmp, why, sizeof why);
			strv_free(tmp);
			if (!ok) {
				if (ftruncate(fd, (off_t)start) != 0 || fsync(fd) != 0) {
					st = cw_error_set(err, CW_EIO, "cannot cut the torn last line of %s: %s",
							  path, strerror(errno));
				}
			} else if (len > 0 && data[len - 1] != '\n') {
				if (write(fd, "\n", 1) != 1 || fsync(fd) != 0)
					st = cw_error_set(err, CW_EIO, "cannot write %s: %s", path,
							  strerror(errno));
			}
			break;
		}
		if (start == 0)
			break;
		end = start - 1;
	}
	free(data);
	return st;
}

cw_status journal_open(const char *path, struct journal **out, struct cw_error *err)
{
	*out = NULL;
	if (!path || !*path)
		return cw_error_set(err, CW_EINVAL, "no journal path given");
	cw_status st = make_parent_dirs(path, err);
	if (st != CW_OK)
		return st;
	bool existed = path_exists(path);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cw_error_set(err, CW_EIO, "cannot open journal %s: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return cw_error_set(err, CW_EIO, "journal %s is not a regular file", path);
	}
	if ((sb.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
		int e = errno;
		close(fd);
		return cw_error_set(err, CW_EIO, "cannot make journal %s private: %s", path, strerror(e));
	}
	if (existed && sb.st_size > 0) {
		st = repair_tail(fd, path, err);
		if (st != CW_OK) {
			close(fd);
			return st;
		}
	}
	if (!existed) {
		(void)fsync(fd);
		fsync_parent_dir(path);
	}
	struct journal *j = xcalloc(1, sizeof *j);
	j->fd = fd;
	j->path = xstrdup(path);
	*out = j;
	return CW_OK;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

cw_status journal_append(struct journal *j, const struct journal_entry *e, struct cw_error *err)
{
	if (!j || !e || (unsigned)e->event >= JE_COUNT)
		return cw_error_set(err, CW_EINVAL, "invalid journal entry");
	const char *bad = entry_private_field(e);
	if (bad)
		return cw_error_set(err, CW_EINVAL,
				    "refusing to journal a %s entry: its %s holds a PEM private key",
				    journal_event_str(e->event), bad);
	long t = e->time ? e->time : (long)time(NULL);
	char iso[32];
	json_object *o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string(journal_event_str(e->event)));
	json_object_object_add(o, "time", json_object_new_string(time_iso8601(t, iso)));
	json_object_object_add(o, "t", json_object_new_int64(t));
#define ADD(f) add_str(o, #f, e->f);
	ENTRY_STRINGS(ADD)
#undef ADD
	if (e->event == JE_STEP_FINISH)
		json_object_object_add(o, "exit_code", json_object_new_int(e->exit_code));
	const char *txt =
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t n = strlen(txt);
	char *line = xmalloc(n + 2);
	memcpy(line, txt, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	json_object_put(o);

	cw_status st = CW_OK;
	struct stat sb;
	off_t before = fstat(j->fd, &sb) == 0 ? sb.st_size : -1;
	ssize_t w;
	do
		w = write(j->fd, line, n + 1); /* one write: the line lands whole or torn at the end */
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)(n + 1)) {
		int e2 = w < 0 ? errno : ENOSPC;
		if (w > 0 && before >= 0 && ftruncate(j->fd, before) == 0)
			(void)fsync(j->fd); /* take a partial line back rather than leave it torn */
		st = cw_error_set(err, CW_EIO, "cannot append to journal %s: %s", j->path, strerror(e2));
	} else if (fsync(j->fd) != 0) {
		st = cw_error_set(err, CW_EIO, "cannot sync journal %s: %s", j->path, strerror(errno));
	}
	free(line);
	return st;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->path);
	free(j);
}

/* ---- load ---- */

static char *keep(char ***storage, const char *s)
{
	char *d = xstrdup(s);
	strv_push_owned(storage, d);
	return d;
}

static long parse_iso8601(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	return (long)timegm(&tm);
}

/* Parse one line into e; strings go to *storage. On failure, why says what is wrong. */
static bool parse_line(const char *line, size_t len, struct journal_entry *e, char ***storage,
		       char *why, size_t whysz)
{
	memset(e, 0, sizeof *e);
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, line, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || jerr != json_tokener_success) {
		snprintf(why, whysz, "not a complete JSON object (%s)",
			 jerr == json_tokener_success || jerr == json_tokener_continue
				 ? "it ends early"
				 : json_tokener_error_desc(jerr));
		json_object_put(o);
		return false;
	}
	if (!line_is_blank(line + used, len - used)) {
		snprintf(why, whysz, "text after the JSON object");
		json_object_put(o);
		return false;
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(why, whysz, "not a JSON object");
		json_object_put(o);
		return false;
	}
	json_object *v;
	if (!json_object_object_get_ex(o, "event", &v) || !json_object_is_type(v, json_type_string)) {
		snprintf(why, whysz, "no \"event\"");
		json_object_put(o);
		return false;
	}
	if (!event_from_str(json_object_get_string(v), &e->event)) {
		snprintf(why, whysz, "unknown event \"%.40s\"", json_object_get_string(v));
		json_object_put(o);
		return false;
	}
	if (json_object_object_get_ex(o, "t", &v) && json_object_is_type(v, json_type_int)) {
		e->time = (long)json_object_get_int64(v);
	} else if (json_object_object_get_ex(o, "time", &v) &&
		   json_object_is_type(v, json_type_string) &&
		   (e->time = parse_iso8601(json_object_get_string(v))) >= 0) {
		/* time from the ISO form */
	} else {
		snprintf(why, whysz, "no valid \"t\" or \"time\"");
		json_object_put(o);
		return false;
	}
#define GET(f)                                                                                     \
	if (json_object_object_get_ex(o, #f, &v)) {                                                \
		if (!json_object_is_type(v, json_type_string)) {                                   \
			snprintf(why, whysz, "\"%s\" is not a string", #f);                        \
			json_object_put(o);                                                        \
			return false;                                                              \
		}                                                                                  \
		e->f = keep(storage, json_object_get_string(v));                                  \
	}
	ENTRY_STRINGS(GET)
#undef GET
	if (json_object_object_get_ex(o, "exit_code", &v)) {
		if (!json_object_is_type(v, json_type_int)) {
			snprintf(why, whysz, "\"exit_code\" is not a number");
			json_object_put(o);
			return false;
		}
		e->exit_code = json_object_get_int(v);
	}
	json_object_put(o);
	return true;
}

cw_status journal_load(const char *path, struct journal_log *log, struct cw_error *err)
{
	memset(log, 0, sizeof *log);
	char *data = NULL;
	size_t len = 0;
	cw_status st = file_read(path, JOURNAL_MAX_BYTES, &data, &len, err);
	if (st != CW_OK)
		return st;
	char **storage = NULL;
	struct journal_entry *entries = NULL;
	size_t n = 0, cap = 0;
	int lineno = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t start = pos;
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - data) : len;
		pos = nl ? end + 1 : len;
		lineno++;
		if (line_is_blank(data + start, end - start))
			continue;
		struct journal_entry e;
		char why[160];
		bool ok;
		if (memchr(data + start, '\0', end - start)) {
			snprintf(why, sizeof why, "NUL bytes in the line");
			ok = false;
		} else {
			ok = parse_line(data + start, end - start, &e, &storage, why, sizeof why);
		}
		if (!ok) {
			/* The last non-blank line may be torn by a crash mid-write: ignore it. */
			if (line_is_blank(data + pos, len - pos))
				break;
			st = cw_error_set_at(err, CW_EINVAL, path, lineno, "invalid journal entry: %s", why);
			free(entries);
			strv_free(storage);
			free(data);
			return st;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			entries = xrealloc(entries, cap * sizeof *entries);
		}
		entries[n++] = e;
	}
	free(data);
	log->entries = entries;
	log->n = n;
	log->storage = storage;
	return CW_OK;
}

void journal_log_done(struct journal_log *log)
{
	if (!log)
		return;
	free(log->entries);
	strv_free(log->storage);
	memset(log, 0, sizeof *log);
}

/* ---- the run lock ---- */

cw_status journal_lock(const char *lock_path, const char *who, int *fd_out, struct cw_error *err)
{
	*fd_out = -1;
	if (!lock_path || !*lock_path)
		return cw_error_set(err, CW_EINVAL, "no lock path given");
	cw_status st = make_parent_dirs(lock_path, err);
	if (st != CW_OK)
		return st;
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cw_error_set(err, CW_EIO, "cannot open lock %s: %s", lock_path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		if (e != EWOULDBLOCK && e != EAGAIN) {
			close(fd);
			return cw_error_set(err, CW_EIO, "cannot lock %s: %s", lock_path, strerror(e));
		}
		char buf[512];
		ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		char *nl = strchr(buf, '\n');
		if (nl)
			*nl = '\0';
		/* "PID WHO STARTED-AT": WHO may hold blanks, the time has none. */
		char *sp1 = strchr(buf, ' ');
		char *sp2 = strrchr(buf, ' ');
		if (!sp1 || sp2 == sp1)
			return cw_error_set(err, CW_ELOCKED,
					    "another certwiz run holds the lock %s (%s)", lock_path,
					    buf[0] ? buf : "it has not written its details yet");
		*sp1 = '\0';
		*sp2 = '\0';
		return cw_error_set(err, CW_ELOCKED,
				    "another certwiz run holds the lock %s: pid %s, run by %s, since %s",
				    lock_path, buf, sp1 + 1, sp2 + 1);
	}
	char iso[32];
	char *line = xasprintf("%ld %s %s\n", (long)getpid(), who && *who ? who : "unknown",
			       time_iso8601((long)time(NULL), iso));
	size_t len = strlen(line);
	bool ok = ftruncate(fd, 0) == 0 && pwrite(fd, line, len, 0) == (ssize_t)len && fsync(fd) == 0;
	int e = errno;
	free(line);
	if (!ok) {
		close(fd);
		return cw_error_set(err, CW_EIO, "cannot write lock %s: %s", lock_path, strerror(e));
	}
	*fd_out = fd;
	return CW_OK;
}

void journal_unlock(int fd)
{
	if (fd < 0)
		return;
	/* Still ours while open: empty it so nobody reads a stale owner, then release. The file
	 * stays (unlinking a flock file races with a process that has just opened it). */
	(void)ftruncate(fd, 0);
	close(fd);
}

/* ---- resume position ---- */

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = xstrdup(s);
}

static void strv_remove(char **v, const char *s)
{
	size_t n = strv_len(v), o = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i], s) == 0)
			free(v[i]);
		else
			v[o++] = v[i];
	}
	if (v)
		v[o] = NULL;
}

static void position_reset(struct journal_position *pos)
{
	journal_position_done(pos);
}

cw_status journal_position(const struct journal_log *log, struct journal_position *pos,
			   struct cw_error *err)
{
	memset(pos, 0, sizeof *pos);
	bool started = false;
	for (size_t i = 0; i < log->n; i++) {
		const struct journal_entry *e = &log->entries[i];
		switch (e->event) {
		case JE_RUN_START:
			if (!started || pos->ended) {
				position_reset(pos);
				started = true;
			}
			if (!pos->procedure && e->procedure)
				pos->procedure = xstrdup(e->procedure);
			if (!pos->profile && e->profile)
				pos->profile = xstrdup(e->profile);
			if (!pos->operator && e->who)
				pos->operator = xstrdup(e->who);
			break;
		case JE_STEP_START:
		case JE_STEP_FINISH:
		case JE_STEP_VERIFY:
		case JE_SIGNOFF:
		case JE_SKIP:
		case JE_MANUAL_DONE:
			if (!e->step || !*e->step) {
				journal_position_done(pos);
				return cw_error_set(err, CW_EINVAL,
						    "journal entry %zu (%s) names no step", i + 1,
						    journal_event_str(e->event));
			}
			break;
		default:
			break;
		}
		pos->entries++;
		switch (e->event) {
		case JE_STEP_START:
			set_str(&pos->running_step, e->step);
			free(pos->running_host);
			pos->running_host = xstrdup(e->host);
			pos->running_finished = false;
			pos->running_exit_code = 0;
			strv_remove(pos->done_steps, e->step); /* being run again: not done until signed */
			break;
		case JE_STEP_FINISH:
			if (pos->running_step && strcmp(pos->running_step, e->step) == 0) {
				pos->running_finished = true;
				pos->running_exit_code = e->exit_code;
			}
			break;
		case JE_SKIP:
			/* Not run because an earlier step of its host had failed (certwiz's own skip, not the
			 * operator's): a resumed run decides again, once that step is re-checked. */
			if (e->who && strcmp(e->who, "certwiz") == 0) {
				strv_remove(pos->done_steps, e->step);
				break;
			}
			/* fall through */
		case JE_SIGNOFF:
		case JE_MANUAL_DONE:
			if (!strv_contains(pos->done_steps, e->step))
				strv_push(&pos->done_steps, e->step);
			if (pos->running_step && strcmp(pos->running_step, e->step) == 0) {
				free(pos->running_step);
				free(pos->running_host);
				pos->running_step = pos->running_host = NULL;
				pos->running_finished = false;
				pos->running_exit_code = 0;
			}
			break;
		case JE_ROLLBACK:
			if (e->step && *e->step) {
				strv_remove(pos->done_steps, e->step);
			} else {
				strv_free(pos->done_steps);
				pos->done_steps = NULL;
			}
			free(pos->running_step);
			free(pos->running_host);
			pos->running_step = pos->running_host = NULL;
			pos->running_finished = false;
			pos->running_exit_code = 0;
			break;
		case JE_RUN_END:
			pos->ended = true;
			set_str(&pos->end_outcome, e->outcome ? e->outcome : "");
			break;
		default:
			break;
		}
	}
	if (!started) {
		journal_position_done(pos);
		return cw_error_set(err, CW_EINVAL, "the journal holds no run (no run-start entry)");
	}
	return CW_OK;
}

void journal_position_done(struct journal_position *pos)
{
	if (!pos)
		return;
	strv_free(pos->done_steps);
	free(pos->running_step);
	free(pos->procedure);
	free(pos->profile);
	free(pos->operator);
	free(pos->running_host);
	free(pos->end_outcome);
	memset(pos, 0, sizeof *pos);
}

bool journal_position_is_done(const struct journal_position *pos, const char *step)
{
	return pos && step && strv_contains(pos->done_steps, step);
}
