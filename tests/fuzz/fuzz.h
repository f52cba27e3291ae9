/* fuzz.h: what every fuzz target shares: a private scratch directory and writing the input to
 * a file there (the loaders under test read files). */
#ifndef CW_FUZZ_H
#define CW_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The scratch directory of this process (made once, kept for the whole run). */
static const char *fuzz_dir(void)
{
	static char dir[64];
	if (!dir[0]) {
		snprintf(dir, sizeof dir, "/tmp/certwiz-fuzz-XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	return dir;
}

/* Write data to fuzz_dir()/name; returns the path (static buffer of the caller). */
static void fuzz_write(const char *name, const uint8_t *data, size_t size, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", fuzz_dir(), name);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

/* The input as a NUL-terminated string (heap). */
static char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
