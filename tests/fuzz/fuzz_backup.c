/* fuzz_backup.c: backup verification on this host: the manifest reader and the archive reader.
 * Input: a 2-byte little-endian length N, N bytes of manifest, then the archive. Unless the
 * manifest names one, the harness ends it with the archive's real SHA-256, so the fuzzer gets
 * past the checksum to libarchive and the comparison. */
#include "fuzz.h"

#include "backup.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t n = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	if (n > size)
		n = size;
	char apath[256], mpath[256];
	fuzz_write("b.tar.gz", data + n, size - n, apath, sizeof apath);
	struct strbuf m;
	strbuf_init(&m);
	strbuf_add(&m, (const char *)data, n);
	if (!memmem(data, n, "archive-sha256", 14)) {
		char hex[65];
		sha256_hex(data + n, size - n, hex);
		strbuf_addf(&m, "%sarchive-sha256 %s\n", n && data[n - 1] != '\n' ? "\n" : "", hex);
	}
	fuzz_write("b.manifest", (const uint8_t *)m.buf, m.len, mpath, sizeof mpath);
	strbuf_done(&m);
	struct backup_result res;
	struct cw_error err;
	backup_result_for(apath, &res);
	backup_verify(NULL, &res, &err);
	backup_result_done(&res);
	return 0;
}
