/* shquote.c: argv to a POSIX shell command line, every word in single quotes. */
#include "shquote.h"

#include <string.h>

#include "util.h"

/* Inside single quotes a POSIX shell takes every byte literally except the closing quote, so
 * the only byte that needs care is ' itself: close the quotes, add an escaped quote, reopen.
 * Every word is quoted, even one that looks safe: no judgement, no special cases. */
static void add_word(struct strbuf *sb, const char *word)
{
	strbuf_add(sb, "'", 1);
	for (const char *p = word;;) {
		const char *q = strchr(p, '\'');
		if (!q) {
			strbuf_adds(sb, p);
			break;
		}
		strbuf_add(sb, p, (size_t)(q - p));
		strbuf_add(sb, "'\\''", 4);
		p = q + 1;
	}
	strbuf_add(sb, "'", 1);
}

char *shquote_word(const char *word)
{
	struct strbuf sb;
	strbuf_init(&sb);
	add_word(&sb, word ? word : "");
	return strbuf_detach(&sb);
}

char *shquote_argv(char *const *argv)
{
	struct strbuf sb;
	strbuf_init(&sb);
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i)
			strbuf_add(&sb, " ", 1);
		add_word(&sb, argv[i]);
	}
	return strbuf_detach(&sb); /* "" for an empty vector */
}
