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

#endif
