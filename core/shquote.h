/* shquote.h: the one place an argv becomes a shell command line (for the remote side of SSH,
 * which always runs a shell). Strict POSIX single-quote quoting of every word. */
#ifndef CW_SHQUOTE_H
#define CW_SHQUOTE_H

/* Quote one word: abc -> 'abc', it's -> 'it'\''s', empty -> ''. Heap string. */
char *shquote_word(const char *word);
/* Quote every word of argv and join with spaces. Heap string. */
char *shquote_argv(char *const *argv);

#endif
