/* backup.h: archive every directory a plan will touch, with owners, modes, symlinks and times,
 * plus a SHA-256 manifest of every file; verify the archive against the manifest; restore. */
#ifndef CW_BACKUP_H
#define CW_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "transport.h"

struct backup_result {
	char *archive;      /* path of the archive (heap) */
	char *manifest;     /* path of the manifest (heap) */
	size_t files;       /* regular files archived */
	uint64_t bytes;     /* their total size */
	char archive_sha256[65];
	bool verified;      /* backup_verify passed */
};
void backup_result_done(struct backup_result *r);

/* Archive paths (absolute; a missing path is recorded as absent, not an error) into
 * dir/NAME.tar.gz with dir/NAME.manifest; dir is created mode 0700. Free space is checked
 * first. t: the host the paths live on (local: libarchive here; remote: on that host). */
cw_status backup_create(struct transport *t, const char *dir, const char *name, char *const *paths,
			struct backup_result *res, struct cw_error *err);
/* Read the archive back and compare every file with the manifest. */
cw_status backup_verify(struct transport *t, struct backup_result *res, struct cw_error *err);
/* Put the archived paths back byte for byte (contents, owners, modes); paths absent at backup
 * time are removed. only: restrict to these top paths (NULL: all). */
cw_status backup_restore(struct transport *t, const char *archive, char *const *only,
			 struct cw_error *err);

/* --- Additions (backup.c) ---
 *
 * Files: dir/NAME.tar.gz (gzip'd pax tar, member names are the absolute paths without their
 * leading '/') and dir/NAME.manifest, both mode 0600, written under temporary names and
 * renamed into place only when complete. The manifest is text, one item a line:
 *   # certwiz backup manifest 1
 *   top PATH                         a requested path that existed
 *   absent PATH                      a requested path that did not exist
 *   TYPE MODE UID GID SIZE SHA256 PATH
 *       TYPE file|dir|symlink|fifo|chardev|blockdev|socket; MODE octal permission bits;
 *       SIZE bytes (dir: 0; symlink: length of its target); SHA256 of the content (symlink:
 *       of its target; others "-")
 *   archive-sha256 HEX                the last line
 * PATH is absolute; backslash, control characters and DEL are written as \ooo (octal).
 * t may be NULL for this host. Remote hosts: the same files, made on the host with tar,
 * find and sha256sum (needs GNU tar, find and coreutils there). */

/* The manifest path belonging to an archive: DIR/NAME.tar.gz -> DIR/NAME.manifest (heap). */
char *backup_manifest_path(const char *archive);
/* Fill res (archive and manifest paths; nothing verified yet) for an existing backup, e.g. to
 * verify it with backup_verify before a restore. */
void backup_result_for(const char *archive, struct backup_result *res);

/* A backup name from time, host and procedure: "20261123T091011Z-HOST-PROCEDURE" (heap);
 * characters a name may not hold become '_'. t: seconds since the epoch. */
char *backup_default_name(long t, const char *host, const char *procedure);

/* Free space: a backup of `bytes` of file content needs bytes * 1.1 + 1 MiB. */
uint64_t backup_space_needed(uint64_t bytes);
/* CW_EIO when free_bytes < needed, naming dir, the needed and the free size. */
cw_status backup_check_space(const char *dir, uint64_t needed, uint64_t free_bytes,
			     struct cw_error *err);

/* backup_restore, with every path put under root instead of "/" (root NULL or "/": in place;
 * this host only). The archive is verified first; a restore that does not verify is refused.
 * A top path that exists is first moved aside to PATH.certwiz-replaced-TIMESTAMP (or, when it
 * is a mount point, emptied), so that the result is exactly the archive's content; when the
 * extraction fails the moved-aside tree is put back. The restored trees are then compared
 * with the manifest (type, mode, owner, size, content; nothing more, nothing less); when they
 * match, the moved-aside trees are removed, otherwise they are kept and the error names them. */
cw_status backup_restore_to(struct transport *t, const char *archive, char *const *only,
			    const char *root, struct cw_error *err);

#endif
