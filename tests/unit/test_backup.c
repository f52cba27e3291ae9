/* test_backup.c: unit tests for core/backup on this host (libarchive), in a temporary directory,
 * as root so that owners can be checked; and the remote code path driven through a local
 * transport that pretends to be another host (the same commands an SSH host would run). */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <dirent.h>

#include "backup.h"
#include "runner.h"
#include "util.h"

#define OWNER 1234
#define OLD_MTIME 978307200 /* 2001-01-01 */

struct fx {
	char *root;   /* the temporary directory */
	char *ssl;    /* root/etc/puppet/ssl: a top path */
	char *cadir;  /* root/var/ca: a top path */
	char *absent; /* root/nothing: requested, missing */
	char *bdir;   /* root/backups (not created yet) */
	char *paths[4];
};

static char *P(const struct fx *f, const char *rel)
{
	return xasprintf("%s/%s", f->root, rel);
}

static void mkfile(const struct fx *f, const char *rel, const char *text, mode_t mode, uid_t uid)
{
	char *p = P(f, rel);
	test_write(p, text);
	assert_int_equal(lchown(p, uid, uid), 0); /* before chmod: chown clears set-uid */
	assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static void mkdir_rel(const struct fx *f, const char *rel, mode_t mode, uid_t uid)
{
	char *p = P(f, rel);
	assert_int_equal(mkdir(p, mode), 0);
	assert_int_equal(chmod(p, mode), 0);
	assert_int_equal(chown(p, uid, uid), 0);
	free(p);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->root = test_tmpdir();
	f->ssl = P(f, "etc/puppet/ssl");
	f->cadir = P(f, "var/ca");
	f->absent = P(f, "nothing");
	f->bdir = P(f, "backups");
	f->paths[0] = f->ssl;
	f->paths[1] = f->cadir;
	f->paths[2] = f->absent;
	mkdir_rel(f, "etc", 0755, 0);
	mkdir_rel(f, "etc/puppet", 0755, 0);
	mkdir_rel(f, "etc/puppet/ssl", 0771, OWNER);
	mkdir_rel(f, "etc/puppet/ssl/certs", 0755, OWNER);
	mkdir_rel(f, "etc/puppet/ssl/private_keys", 0750, OWNER);
	mkfile(f, "etc/puppet/ssl/certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n", 0644, OWNER);
	mkfile(f, "etc/puppet/ssl/certs/agent 1.pem", "cert with a blank in its name\n", 0644, OWNER);
	mkfile(f, "etc/puppet/ssl/private_keys/agent.pem", "-----BEGIN PRIVATE KEY-----\nsecret\n",
	       0640, OWNER);
	mkfile(f, "etc/puppet/ssl/crl.pem", "", 0644, 0); /* empty, owned by root */
	mkfile(f, "etc/puppet/ssl/setuid", "#!/bin/sh\n", 04750, 0);
	char *link = P(f, "etc/puppet/ssl/ca_link.pem");
	assert_int_equal(symlink("certs/ca.pem", link), 0);
	assert_int_equal(lchown(link, OWNER, OWNER), 0);
	free(link);
	/* a larger file spanning many archive blocks */
	char *big = P(f, "etc/puppet/ssl/inventory.txt");
	FILE *fp = fopen(big, "w");
	assert_non_null(fp);
	for (int i = 0; i < 20000; i++)
		fprintf(fp, "0x%04X 2026-01-01T00:00:00UTC 2031-01-01T00:00:00UTC /CN=node%d\n", i, i);
	fclose(fp);
	free(big);
	/* an old mtime to see it preserved */
	char *ca = P(f, "etc/puppet/ssl/certs/ca.pem");
	struct timeval tv[2] = { { OLD_MTIME, 0 }, { OLD_MTIME, 0 } };
	assert_int_equal(utimes(ca, tv), 0);
	free(ca);
	mkdir_rel(f, "var", 0755, 0);
	mkdir_rel(f, "var/ca", 0750, OWNER);
	mkfile(f, "var/ca/serial", "0A\n", 0644, OWNER);
	mkdir_rel(f, "var/ca/signed", 0755, OWNER);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	test_rmrf(f->root);
	free(f->root);
	free(f->ssl);
	free(f->cadir);
	free(f->absent);
	free(f->bdir);
	free(f);
	return 0;
}

static void create_ok(struct fx *f, struct transport *t, const char *name,
		      struct backup_result *res)
{
	struct cw_error err;
	cw_status st = backup_create(t, f->bdir, name, f->paths, res, &err);
	if (st != CW_OK)
		fail_msg("backup_create: %s", err.msg);
}

static void verify_ok(struct transport *t, struct backup_result *res)
{
	struct cw_error err;
	cw_status st = backup_verify(t, res, &err);
	if (st != CW_OK)
		fail_msg("backup_verify: %s", err.msg);
	assert_true(res->verified);
}

static void restore_ok(struct transport *t, const char *archive, char *const *only)
{
	struct cw_error err;
	cw_status st = backup_restore(t, archive, only, &err);
	if (st != CW_OK)
		fail_msg("backup_restore: %s", err.msg);
}

static void assert_stat(const struct fx *f, const char *rel, mode_t type, mode_t mode, uid_t uid)
{
	char *p = P(f, rel);
	struct stat sb;
	if (lstat(p, &sb) != 0)
		fail_msg("%s is missing", p);
	assert_int_equal(sb.st_mode & S_IFMT, type);
	if (type != S_IFLNK)
		assert_int_equal(sb.st_mode & 07777, mode);
	assert_int_equal(sb.st_uid, uid);
	assert_int_equal(sb.st_gid, uid);
	free(p);
}

static void assert_content(const struct fx *f, const char *rel, const char *want)
{
	char *p = P(f, rel);
	char *got = test_slurp(p);
	if (!got)
		fail_msg("%s is missing", p);
	assert_string_equal(got, want);
	free(got);
	free(p);
}

static bool rel_exists(const struct fx *f, const char *rel)
{
	char *p = P(f, rel);
	bool e = path_exists(p);
	free(p);
	return e;
}

/* Nothing named *.certwiz-replaced-* or .*partial* left in dir. */
static void assert_no_leftovers(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strstr(de->d_name, "certwiz-replaced") || strstr(de->d_name, "partial") ||
		    strstr(de->d_name, "certwiz-verify"))
			fail_msg("left behind: %s/%s", dir, de->d_name);
	}
	closedir(d);
}

static void test_create_and_verify(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "20261123T091011Z-ca-oss-ca", &res);
	char *want = xasprintf("%s/20261123T091011Z-ca-oss-ca.tar.gz", f->bdir);
	assert_string_equal(res.archive, want);
	free(want);
	want = xasprintf("%s/20261123T091011Z-ca-oss-ca.manifest", f->bdir);
	assert_string_equal(res.manifest, want);
	free(want);
	assert_int_equal(res.files, 7);
	assert_true(res.bytes > 1000000);
	assert_int_equal(strlen(res.archive_sha256), 64);
	assert_false(res.verified);

	struct stat sb;
	assert_int_equal(stat(f->bdir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(res.archive, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(res.manifest, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_no_leftovers(f->bdir);

	char *m = test_slurp(res.manifest);
	char *line = xasprintf("absent %s\n", f->absent);
	assert_non_null(strstr(m, line));
	free(line);
	line = xasprintf("top %s\n", f->ssl);
	assert_non_null(strstr(m, line));
	free(line);
	line = xasprintf("file 0640 %d %d 35 ", OWNER, OWNER);
	assert_non_null(strstr(m, line));
	free(line);
	line = xasprintf("dir 0771 %d %d 0 - %s\n", OWNER, OWNER, f->ssl);
	assert_non_null(strstr(m, line));
	free(line);
	line = xasprintf("file 4750 0 0 10 ");
	assert_non_null(strstr(m, line));
	free(line);
	line = xasprintf("symlink 0777 %d %d 12 ", OWNER, OWNER);
	assert_non_null(strstr(m, line));
	free(line);
	assert_non_null(strstr(m, "/certs/agent 1.pem\n"));
	line = xasprintf("\narchive-sha256 %s\n", res.archive_sha256);
	assert_non_null(strstr(m, line));
	assert_string_equal(strstr(m, line) + strlen(line), ""); /* the last line */
	free(line);
	free(m);

	verify_ok(NULL, &res);

	/* a result rebuilt from the archive path alone verifies too */
	struct backup_result again;
	backup_result_for(res.archive, &again);
	assert_string_equal(again.manifest, res.manifest);
	verify_ok(NULL, &again);
	assert_int_equal(again.files, res.files);
	assert_true(again.bytes == res.bytes);
	assert_string_equal(again.archive_sha256, res.archive_sha256);
	backup_result_done(&again);

	/* the same name twice is refused, and leaves the first backup alone */
	struct backup_result dup;
	struct cw_error err;
	assert_int_equal(backup_create(NULL, f->bdir, "20261123T091011Z-ca-oss-ca", f->paths, &dup,
				       &err),
			 CW_EINVAL);
	assert_non_null(strstr(err.msg, "exists already"));
	verify_ok(NULL, &res);
	assert_no_leftovers(f->bdir);
	backup_result_done(&res);
}

static void test_restore_preserves_everything(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "b1", &res);
	test_rmrf(f->ssl);
	test_rmrf(f->cadir);
	assert_false(rel_exists(f, "etc/puppet/ssl"));
	restore_ok(NULL, res.archive, NULL);

	assert_stat(f, "etc/puppet/ssl", S_IFDIR, 0771, OWNER);
	assert_stat(f, "etc/puppet/ssl/private_keys", S_IFDIR, 0750, OWNER);
	assert_stat(f, "etc/puppet/ssl/private_keys/agent.pem", S_IFREG, 0640, OWNER);
	assert_stat(f, "etc/puppet/ssl/certs/ca.pem", S_IFREG, 0644, OWNER);
	assert_stat(f, "etc/puppet/ssl/crl.pem", S_IFREG, 0644, 0);
	assert_stat(f, "etc/puppet/ssl/setuid", S_IFREG, 04750, 0);
	assert_stat(f, "etc/puppet/ssl/ca_link.pem", S_IFLNK, 0, OWNER);
	assert_stat(f, "var/ca", S_IFDIR, 0750, OWNER);
	assert_stat(f, "var/ca/signed", S_IFDIR, 0755, OWNER);
	assert_content(f, "etc/puppet/ssl/private_keys/agent.pem", "-----BEGIN PRIVATE KEY-----\nsecret\n");
	assert_content(f, "etc/puppet/ssl/certs/agent 1.pem", "cert with a blank in its name\n");
	assert_content(f, "etc/puppet/ssl/crl.pem", "");
	assert_content(f, "var/ca/serial", "0A\n");
	char *link = P(f, "etc/puppet/ssl/ca_link.pem");
	char target[64] = "";
	assert_true(readlink(link, target, sizeof target - 1) > 0);
	assert_string_equal(target, "certs/ca.pem");
	free(link);
	char *ca = P(f, "etc/puppet/ssl/certs/ca.pem");
	struct stat sb;
	assert_int_equal(stat(ca, &sb), 0);
	assert_int_equal(sb.st_mtime, OLD_MTIME);
	free(ca);
	char *inv = P(f, "etc/puppet/ssl/inventory.txt");
	assert_int_equal(stat(inv, &sb), 0);
	assert_true(sb.st_size > 1000000);
	free(inv);
	assert_false(path_exists(f->absent));
	char *parent = P(f, "etc/puppet");
	assert_no_leftovers(parent);
	free(parent);
	verify_ok(NULL, &res);
	backup_result_done(&res);
}

static void flip_byte(const char *path, off_t where)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	unsigned char c;
	assert_int_equal(pread(fd, &c, 1, where), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, where), 1);
	close(fd);
}

static void test_tampered_archive_fails(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "b1", &res);
	verify_ok(NULL, &res);
	struct stat sb;
	assert_int_equal(stat(res.archive, &sb), 0);
	flip_byte(res.archive, sb.st_size / 2);
	struct cw_error err;
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_false(res.verified);
	assert_non_null(strstr(err.msg, res.archive));
	assert_non_null(strstr(err.msg, "does not match its manifest"));

	/* a restore from it is refused and changes nothing */
	mkfile(f, "etc/puppet/ssl/new.pem", "new\n", 0600, 0);
	assert_int_equal(backup_restore(NULL, res.archive, NULL, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "refusing to restore"));
	assert_true(rel_exists(f, "etc/puppet/ssl/new.pem"));

	/* a missing archive fails too */
	assert_int_equal(unlink(res.archive), 0);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	backup_result_done(&res);
}

/* Point the manifest's archive-sha256 at the archive as it is now (a forged pair). */
static void manifest_follows_archive(const struct backup_result *res)
{
	char sha[65], *data = NULL;
	size_t len = 0;
	struct cw_error err;
	assert_int_equal(file_read(res->archive, 1 << 26, &data, &len, &err), CW_OK);
	sha256_hex(data, len, sha);
	free(data);
	char *text = test_slurp(res->manifest);
	assert_non_null(text);
	char *at = strstr(text, "archive-sha256 ");
	assert_non_null(at);
	char *out = xasprintf("%.*sarchive-sha256 %s\n", (int)(at - text), text, sha);
	test_write(res->manifest, out);
	free(out);
	free(text);
}

/* Found by fuzzing: a damaged tar header makes libarchive return ARCHIVE_RETRY, which is
 * greater than ARCHIVE_WARN, and the entry (without a name) went on to member_path: a NULL
 * dereference. The archive is unpacked, the checksum of its second header spoiled, and the
 * manifest made to match the damaged file, so only the header reader can catch it. */
static void test_damaged_header_refused(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "b-damaged", &res);
	char *plain = xasprintf("%s.tar", res.archive);
	char *const gunzip[] = { "sh", "-c", "gzip -dc -- \"$1\" > \"$2\"", "sh", res.archive, plain,
				 NULL };
	test_run_quiet(gunzip);
	/* the second header: after the first and its data, in 512-byte blocks */
	FILE *fp = fopen(plain, "r+b");
	assert_non_null(fp);
	char h[512];
	assert_int_equal(fread(h, 1, sizeof h, fp), sizeof h);
	unsigned long size = strtoul(h + 124, NULL, 8);
	long second = 512 + (long)((size + 511) / 512 * 512);
	assert_int_equal(fseek(fp, second + 148, SEEK_SET), 0);
	assert_int_equal(fwrite("0000001", 1, 7, fp), 7);
	fclose(fp);
	assert_int_equal(rename(plain, res.archive), 0);
	manifest_follows_archive(&res);
	struct cw_error err;
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_false(res.verified);
	if (!strstr(err.msg, "cannot read the archive"))
		fail_msg("unexpected message: %s", err.msg);
	/* and a restore from it is refused */
	assert_int_equal(backup_restore(NULL, res.archive, NULL, &err), CW_EVERIFY);
	free(plain);
	backup_result_done(&res);
}

/* Replace the first occurrence of from by to in the file. */
static void edit_file(const char *path, const char *from, const char *to)
{
	char *text = test_slurp(path);
	assert_non_null(text);
	char *at = strstr(text, from);
	if (!at)
		fail_msg("%s: no \"%s\"", path, from);
	char *out = xasprintf("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
	test_write(path, out);
	free(out);
	free(text);
}

static void test_tampered_manifest_fails(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "b1", &res);
	char *orig = test_slurp(res.manifest);
	struct cw_error err;

	/* a mode changed */
	char *from = xasprintf("file 0640 %d %d 35 ", OWNER, OWNER);
	char *to = xasprintf("file 0600 %d %d 35 ", OWNER, OWNER);
	edit_file(res.manifest, from, to);
	free(from);
	free(to);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "private_keys/agent.pem: mode 0640 in the archive, 0600 in "
					"the manifest"));

	/* a content hash changed */
	test_write(res.manifest, orig);
	verify_ok(NULL, &res);
	char *serial = xasprintf(" %s/serial\n", f->cadir);
	char *at = strstr(orig, serial);
	assert_non_null(at);
	char *hash = xstrndup(at - 64, 64);
	char *bad = xstrdup(hash);
	bad[0] = bad[0] == '0' ? '1' : '0';
	edit_file(res.manifest, hash, bad);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "var/ca/serial: content differs"));
	free(hash);
	free(bad);
	free(serial);

	/* an owner changed */
	test_write(res.manifest, orig);
	from = xasprintf("dir 0750 %d %d 0 - %s\n", OWNER, OWNER, f->cadir);
	to = xasprintf("dir 0750 0 %d 0 - %s\n", OWNER, f->cadir);
	edit_file(res.manifest, from, to);
	free(from);
	free(to);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "owner uid 1234 in the archive, uid 0 in the manifest"));

	/* a file dropped from the manifest */
	test_write(res.manifest, orig);
	char *line_start = strstr(orig, "file 0644 1234 1234 3 ");
	assert_non_null(line_start);
	char *line_end = strchr(line_start, '\n');
	char *cut = xasprintf("%.*s%s", (int)(line_start - orig), orig, line_end + 1);
	test_write(res.manifest, cut);
	free(cut);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "is in the archive but not in the manifest"));

	/* a file added to the manifest */
	char *extra = xasprintf("file 0644 0 0 0 "
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "
				"%s/ghost\n%s",
				f->cadir, orig);
	test_write(res.manifest, extra);
	free(extra);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "/var/ca/ghost is in the manifest but missing from the archive"));

	/* truncated: no archive-sha256 line */
	char *trunc = xstrndup(orig, (size_t)(strstr(orig, "archive-sha256") - orig));
	test_write(res.manifest, trunc);
	free(trunc);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "incomplete"));

	/* the recorded archive hash changed */
	test_write(res.manifest, orig);
	char *sha_line = xasprintf("archive-sha256 %s", res.archive_sha256);
	edit_file(res.manifest, sha_line, "archive-sha256 0000000000000000000000000000000000000000000000000000000000000000");
	free(sha_line);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);

	/* garbage */
	test_write(res.manifest, "hello\n");
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);

	/* missing */
	unlink(res.manifest);
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);

	test_write(res.manifest, orig);
	verify_ok(NULL, &res);
	free(orig);
	backup_result_done(&res);
}

static void test_restore_exactly(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "b1", &res);
	/* after the backup: modify, delete, add, chown, chmod, create what was absent */
	mkfile(f, "etc/puppet/ssl/certs/ca.pem", "a new CA\n", 0600, 0);
	char *p = P(f, "etc/puppet/ssl/private_keys/agent.pem");
	assert_int_equal(unlink(p), 0);
	free(p);
	mkfile(f, "etc/puppet/ssl/private_keys/other.pem", "added later\n", 0600, 0);
	mkdir_rel(f, "etc/puppet/ssl/requests", 0755, 0);
	mkfile(f, "etc/puppet/ssl/requests/x.pem", "csr\n", 0644, 0);
	p = P(f, "var/ca/signed");
	assert_int_equal(chown(p, 0, 0), 0);
	assert_int_equal(chmod(p, 0700), 0);
	free(p);
	p = P(f, "etc/puppet/ssl/ca_link.pem");
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	free(p);
	assert_int_equal(mkdir(f->absent, 0755), 0);
	mkfile(f, "nothing/junk", "junk\n", 0644, 0);

	restore_ok(NULL, res.archive, NULL);

	assert_stat(f, "etc/puppet/ssl/certs/ca.pem", S_IFREG, 0644, OWNER);
	assert_content(f, "etc/puppet/ssl/certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
	assert_content(f, "etc/puppet/ssl/private_keys/agent.pem",
		       "-----BEGIN PRIVATE KEY-----\nsecret\n");
	assert_false(rel_exists(f, "etc/puppet/ssl/private_keys/other.pem"));
	assert_false(rel_exists(f, "etc/puppet/ssl/requests"));
	assert_stat(f, "var/ca/signed", S_IFDIR, 0755, OWNER);
	char *link = P(f, "etc/puppet/ssl/ca_link.pem");
	char target[64] = "";
	assert_true(readlink(link, target, sizeof target - 1) > 0);
	assert_string_equal(target, "certs/ca.pem");
	free(link);
	assert_false(path_exists(f->absent));
	char *parent = P(f, "etc/puppet");
	assert_no_leftovers(parent);
	free(parent);
	char *var = P(f, "var");
	assert_no_leftovers(var);
	free(var);
	backup_result_done(&res);
}

static void test_restore_only_some(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "b1", &res);
	mkfile(f, "etc/puppet/ssl/crl.pem", "changed\n", 0644, 0);
	mkfile(f, "var/ca/serial", "FF\n", 0644, OWNER);
	mkfile(f, "var/ca/extra", "x\n", 0644, OWNER);
	assert_int_equal(mkdir(f->absent, 0755), 0);

	char *only[] = { f->cadir, NULL };
	restore_ok(NULL, res.archive, only);
	assert_content(f, "var/ca/serial", "0A\n");
	assert_false(rel_exists(f, "var/ca/extra"));
	assert_content(f, "etc/puppet/ssl/crl.pem", "changed\n"); /* not selected */
	assert_true(path_exists(f->absent));                        /* not selected */

	char *only2[] = { f->absent, NULL };
	restore_ok(NULL, res.archive, only2);
	assert_false(path_exists(f->absent));
	assert_content(f, "etc/puppet/ssl/crl.pem", "changed\n");

	struct cw_error err;
	char *bad = P(f, "etc/puppet");
	char *only3[] = { bad, NULL };
	assert_int_equal(backup_restore(NULL, res.archive, only3, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "is not one of the paths in the backup"));
	free(bad);
	backup_result_done(&res);
}

static void test_restore_to_other_root(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	create_ok(f, NULL, "b1", &res);
	char *alt = P(f, "alt");
	struct cw_error err;
	cw_status st = backup_restore_to(NULL, res.archive, NULL, alt, &err);
	if (st != CW_OK)
		fail_msg("backup_restore_to: %s", err.msg);
	char *key = xasprintf("%s%s/private_keys/agent.pem", alt, f->ssl);
	char *got = test_slurp(key);
	assert_non_null(got);
	assert_string_equal(got, "-----BEGIN PRIVATE KEY-----\nsecret\n");
	struct stat sb;
	assert_int_equal(stat(key, &sb), 0);
	assert_int_equal(sb.st_uid, OWNER);
	assert_int_equal(sb.st_mode & 07777, 0640);
	free(got);
	free(key);
	/* the originals were not touched */
	assert_content(f, "var/ca/serial", "0A\n");
	free(alt);
	backup_result_done(&res);
}

static void test_space(void **state)
{
	(void)state;
	assert_true(backup_space_needed(0) == 1024 * 1024);
	assert_true(backup_space_needed(10 * 1024 * 1024) == 12 * 1024 * 1024);
	struct cw_error err;
	assert_int_equal(backup_check_space("/var/backups/certwiz", 12 * 1024 * 1024, 12 * 1024 * 1024,
					    &err),
			 CW_OK);
	assert_int_equal(backup_check_space("/var/backups/certwiz", 12 * 1024 * 1024, 3 * 1024 * 1024,
					    &err),
			 CW_EIO);
	assert_non_null(strstr(err.msg, "not enough free space"));
	assert_non_null(strstr(err.msg, "/var/backups/certwiz"));
	assert_non_null(strstr(err.msg, "needs 12.0 MiB (12582912 bytes)"));
	assert_non_null(strstr(err.msg, "only 3.0 MiB (3145728 bytes) are free"));
	assert_int_equal(backup_check_space("/b", 5000, 100, &err), CW_EIO);
	assert_non_null(strstr(err.msg, "needs 4.9 KiB (5000 bytes), only 100 bytes are free"));
}

/* A write failure half way (a file size limit stands in for a full disk) leaves nothing. */
static void test_failed_write_leaves_nothing(void **state)
{
	struct fx *f = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit rl = { 16 * 1024, 16 * 1024 };
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(10);
		struct backup_result res;
		struct cw_error err;
		cw_status st = backup_create(NULL, f->bdir, "half", f->paths, &res, &err);
		if (st == CW_OK)
			_exit(11);
		if (!strstr(err.msg, "cannot write") && !strstr(err.msg, "cannot finish"))
			_exit(12);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	DIR *d = opendir(f->bdir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fail_msg("left behind: %s", de->d_name);
	closedir(d);
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct backup_result res;
	struct cw_error err;
	char *rel[] = { "etc/puppet/ssl", NULL };
	assert_int_equal(backup_create(NULL, f->bdir, "x", rel, &res, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "etc/puppet/ssl"));
	char *dots[] = { "/etc/../etc/puppet", NULL };
	assert_int_equal(backup_create(NULL, f->bdir, "x", dots, &res, &err), CW_EINVAL);
	char *root[] = { "/", NULL };
	assert_int_equal(backup_create(NULL, f->bdir, "x", root, &res, &err), CW_EINVAL);
	char *none[] = { NULL };
	assert_int_equal(backup_create(NULL, f->bdir, "x", none, &res, &err), CW_EINVAL);
	assert_int_equal(backup_create(NULL, f->bdir, "../x", f->paths, &res, &err), CW_EINVAL);
	assert_int_equal(backup_create(NULL, f->bdir, ".hidden", f->paths, &res, &err), CW_EINVAL);
	/* the backup directory inside what it backs up */
	char *inside = P(f, "etc/puppet/ssl/backups");
	assert_int_equal(backup_create(NULL, inside, "x", f->paths, &res, &err), CW_EINVAL);
	assert_non_null(strstr(err.msg, "inside"));
	assert_false(path_exists(inside)); /* refused before anything was made */
	free(inside);
	assert_int_equal(backup_verify(NULL, NULL, &err), CW_EINVAL);

	char *n = backup_default_name(1795424411L, "ca.example.com", "oss-ca");
	assert_string_equal(n, "20261123T090011Z-ca.example.com-oss-ca");
	free(n);
	n = backup_default_name(1795424411L, "[ca]/x y", NULL);
	assert_string_equal(n, "20261123T090011Z-_ca__x_y-run");
	free(n);
	char *m = backup_manifest_path("/b/20261123-ca.tar.gz");
	assert_string_equal(m, "/b/20261123-ca.manifest");
	free(m);

	/* nested and repeated paths are archived once */
	char *nested[] = { f->ssl, f->ssl, P(f, "etc/puppet/ssl/certs"), NULL };
	assert_int_equal(backup_create(NULL, f->bdir, "nested", nested, &res, &err), CW_OK);
	free(nested[2]);
	verify_ok(NULL, &res);
	char *text = test_slurp(res.manifest);
	char *top = xasprintf("top %s\n", f->ssl);
	assert_non_null(strstr(text, top));
	assert_ptr_equal(strstr(text, "top "), strstr(text, top)); /* the only top line */
	assert_null(strstr(strstr(text, top) + 1, "top "));
	free(top);
	free(text);
	backup_result_done(&res);
}

/* ---- the remote path, through a local transport that claims to be elsewhere ---- */

static struct transport *fake_remote(void)
{
	struct transport *t = transport_local_new("fake-remote");
	assert_non_null(t);
	t->is_local = false;
	return t;
}

static bool have_remote_tools(void)
{
	return system("tar --version >/dev/null 2>&1 && find --version >/dev/null 2>&1 && "
		      "sha256sum --version >/dev/null 2>&1") == 0;
}

static void test_remote_create_verify_restore(void **state)
{
	struct fx *f = *state;
	test_need(have_remote_tools(), "GNU tar, find and sha256sum");
	struct transport *t = fake_remote();
	struct backup_result res;
	create_ok(f, t, "remote1", &res);
	assert_int_equal(res.files, 7);
	struct stat sb;
	assert_int_equal(stat(f->bdir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(stat(res.archive, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(stat(res.manifest, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_no_leftovers(f->bdir);
	char *m = test_slurp(res.manifest);
	char *line = xasprintf("absent %s\n", f->absent);
	assert_non_null(strstr(m, line));
	free(line);
	free(m);
	verify_ok(t, &res);
	assert_no_leftovers(f->bdir);

	/* the remote manifest is the same as a local one of the same tree */
	struct backup_result loc;
	create_ok(f, NULL, "local1", &loc);
	char *ml = test_slurp(loc.manifest), *mr = test_slurp(res.manifest);
	*strstr(ml, "archive-sha256") = '\0';
	*strstr(mr, "archive-sha256") = '\0';
	/* entries may come in another order: compare sorted lines */
	char **ll = strv_split(ml, '\n'), **lr = strv_split(mr, '\n');
	assert_int_equal(strv_len(ll), strv_len(lr));
	for (size_t i = 0; ll[i]; i++)
		if (!strv_contains(lr, ll[i]))
			fail_msg("remote manifest lacks: %s", ll[i]);
	strv_free(ll);
	strv_free(lr);
	free(ml);
	free(mr);
	/* and each verifies with the other's method */
	verify_ok(NULL, &res);
	verify_ok(t, &loc);
	backup_result_done(&loc);

	/* change things, restore through the "remote" path */
	mkfile(f, "etc/puppet/ssl/certs/ca.pem", "a new CA\n", 0600, 0);
	mkfile(f, "etc/puppet/ssl/added.pem", "added\n", 0600, 0);
	char *p = P(f, "var/ca/serial");
	assert_int_equal(unlink(p), 0);
	free(p);
	assert_int_equal(mkdir(f->absent, 0755), 0);
	restore_ok(t, res.archive, NULL);
	assert_content(f, "etc/puppet/ssl/certs/ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
	assert_stat(f, "etc/puppet/ssl/certs/ca.pem", S_IFREG, 0644, OWNER);
	assert_stat(f, "etc/puppet/ssl/setuid", S_IFREG, 04750, 0);
	assert_false(rel_exists(f, "etc/puppet/ssl/added.pem"));
	assert_content(f, "var/ca/serial", "0A\n");
	assert_false(path_exists(f->absent));
	char *ca = P(f, "etc/puppet/ssl/certs/ca.pem");
	assert_int_equal(stat(ca, &sb), 0);
	assert_int_equal(sb.st_mtime, OLD_MTIME);
	free(ca);
	char *parent = P(f, "etc/puppet");
	assert_no_leftovers(parent);
	free(parent);

	/* tampering is caught on the "remote" side as well */
	assert_int_equal(stat(res.archive, &sb), 0);
	flip_byte(res.archive, sb.st_size / 2);
	struct cw_error err;
	assert_int_equal(backup_verify(t, &res, &err), CW_EVERIFY);
	assert_false(res.verified);
	backup_result_done(&res);
	transport_free(t);
}

static void test_remote_manifest_tamper(void **state)
{
	struct fx *f = *state;
	test_need(have_remote_tools(), "GNU tar, find and sha256sum");
	struct transport *t = fake_remote();
	struct backup_result res;
	create_ok(f, t, "remote2", &res);
	verify_ok(t, &res);
	char *from = xasprintf("file 0640 %d %d 35 ", OWNER, OWNER);
	char *to = xasprintf("file 0640 0 %d 35 ", OWNER);
	edit_file(res.manifest, from, to);
	free(from);
	free(to);
	struct cw_error err;
	assert_int_equal(backup_verify(t, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "private_keys/agent.pem: owner uid 1234 in the archive, uid 0 "
					"in the manifest"));
	assert_no_leftovers(f->bdir);
	backup_result_done(&res);
	transport_free(t);
}

/* The archive of a backup on another host swapped for another with the same members (here:
 * the same tar, compressed again) is refused: its SHA-256 is not the manifest's. Only the
 * checksum comparison can see this; every member still matches. */
static void test_remote_swapped_archive(void **state)
{
	struct fx *f = *state;
	test_need(have_remote_tools(), "GNU tar, find and sha256sum");
	struct transport *t = fake_remote();
	struct backup_result res;
	create_ok(f, t, "remote3", &res);
	verify_ok(t, &res);
	char *m = test_slurp(res.manifest);
	char *const again[] = { "sh", "-c", "gzip -dc -- \"$1\" | gzip -1 -n > \"$1.new\" && mv -- \"$1.new\" \"$1\"",
				"sh", res.archive, NULL };
	test_run_quiet(again);
	char *m2 = test_slurp(res.manifest);
	assert_string_equal(m, m2); /* the manifest is untouched */
	/* the swapped archive is no longer the recorded one: the local reader agrees */
	struct cw_error err;
	assert_int_equal(backup_verify(NULL, &res, &err), CW_EVERIFY);
	assert_non_null(strstr(err.msg, "does not match its manifest"));
	assert_int_equal(backup_verify(t, &res, &err), CW_EVERIFY);
	assert_false(res.verified);
	if (!strstr(err.msg, "does not match its manifest") || !strstr(err.msg, "fake-remote"))
		fail_msg("unexpected message: %s", err.msg);
	/* and a restore from it on that host is refused */
	assert_int_equal(backup_restore(t, res.archive, NULL, &err), CW_EVERIFY);
	free(m);
	free(m2);
	backup_result_done(&res);
	transport_free(t);
}

/* Nothing of what was asked exists yet (a first run): the backup records that, and a restore
 * removes what was made since. */
static void test_all_absent(void **state)
{
	struct fx *f = *state;
	bool remote = have_remote_tools();
	for (int pass = 0; pass < (remote ? 2 : 1); pass++) {
		struct transport *t = pass ? fake_remote() : NULL;
		char *paths[] = { f->absent, NULL };
		struct backup_result res;
		struct cw_error err;
		if (backup_create(t, f->bdir, pass ? "none-remote" : "none-local", paths, &res, &err) !=
		    CW_OK)
			fail_msg("backup_create: %s", err.msg);
		assert_int_equal(res.files, 0);
		verify_ok(t, &res);
		char *m = test_slurp(res.manifest);
		char *line = xasprintf("absent %s\n", f->absent);
		assert_non_null(strstr(m, line));
		assert_null(strstr(m, "top "));
		free(line);
		free(m);
		assert_int_equal(mkdir(f->absent, 0755), 0);
		mkfile(f, "nothing/made-later", "x\n", 0644, 0);
		restore_ok(t, res.archive, NULL);
		assert_false(path_exists(f->absent));
		backup_result_done(&res);
		if (t)
			transport_free(t);
	}
}

int main(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_backup: needs root (owners are part of what is tested)\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_and_verify, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restore_preserves_everything, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tampered_archive_fails, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tampered_manifest_fails, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_damaged_header_refused, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restore_exactly, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restore_only_some, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_restore_to_other_root, fx_setup, fx_teardown),
		cmocka_unit_test(test_space),
		cmocka_unit_test_setup_teardown(test_failed_write_leaves_nothing, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remote_create_verify_restore, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remote_manifest_tamper, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_remote_swapped_archive, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_all_absent, fx_setup, fx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
