/* xalloc.h -- allocation that never returns NULL.
 *
 * Contract: on exhaustion these print one line to stderr and abort(); the
 * daemon cannot make progress without memory, and its offsets are committed
 * only after data is stored, so nothing acknowledged is lost. Buffers in the
 * pipeline are bounded (MAX_BUFFER_BYTES), which is how memory is kept in check.
 */
#ifndef CDCW_XALLOC_H
#define CDCW_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Overwrites n bytes at p with zeros in a way the optimizer keeps (a plain
 * memset before free() may be removed), for secrets. */
void secret_wipe(void *p, size_t n);
/* secret_wipe() of the string, then free(); NULL is fine. */
void secret_free(char *s);

#endif
