/* store_backend.h -- private to the object store: the table of operations
 * a target implements, and the two targets.
 *
 * Contract
 * - object_store_new() picks the backend once, from the endpoint: file://
 *   is store_file.c, anything else is S3 (store_s3.c). Each backend's state
 *   begins with a struct object_store, whose ops point to its table; the
 *   public functions of object_store.c check arguments and call through it,
 *   so no public function asks which target it has.
 * - The same goes for a streaming upload: each backend's upload begins with
 *   a struct object_upload. upload_finish() and upload_abort() free it.
 *   object_store.c refuses writes to an upload whose write failed, so a
 *   backend sees only uploads that have not failed.
 * - A backend fills its stats (bytes_sent; S3 also requests, retries,
 *   failures); errors are one line in err, as object_store.h says.
 * - Not thread-safe, as object_store.h says.
 */
#ifndef CDCW_STORE_BACKEND_H
#define CDCW_STORE_BACKEND_H

#include "log.h"
#include "object_store.h"

struct store_ops;

struct object_store {
    const struct store_ops *ops;
    struct object_store_stats stats;
};

struct object_upload {
    struct object_store *os;
    char *key;
    bool failed; /* a write failed: only abort() is left */
};

struct store_ops {
    void (*free)(struct object_store *os);
    bool (*check_bucket)(struct object_store *os, bool create, char *err, size_t errlen);
    enum object_put_result (*put)(struct object_store *os, const char *key, const void *data,
                                  size_t len, const struct object_meta *meta, size_t nmeta,
                                  bool if_absent, char *err, size_t errlen);
    /* *found is false and value "" on entry. */
    bool (*head)(struct object_store *os, const char *key, const char *name, bool *found,
                 char *value, size_t vlen, char *err, size_t errlen);
    bool (*remove)(struct object_store *os, const char *key, char *err, size_t errlen);
    bool (*get)(struct object_store *os, const char *key, struct buf *out, char *err, size_t errlen);
    bool (*list)(struct object_store *os, const char *prefix, int page_size, object_list_fn fn,
                 void *ctx, char *err, size_t errlen);
    struct object_upload *(*upload_begin)(struct object_store *os, const char *key,
                                          const struct object_meta *meta, size_t nmeta);
    bool (*upload_write)(struct object_upload *u, const void *data, size_t len, char *err,
                         size_t errlen);
    bool (*upload_finish)(struct object_upload *u, char *err, size_t errlen);
    void (*upload_abort)(struct object_upload *u);
};

/* The backends' one error line: fmt into err (object_store.c). */
void store_set_err(char *err, size_t errlen, const char *fmt, ...) CDCW_PRINTF(3, 4);

/* cfg is copied (its strings too); NULL with the reason in err. */
struct object_store *store_s3_new(const struct object_store_config *cfg, char *err, size_t errlen);
/* root: the directory of a file:///root endpoint. */
struct object_store *store_file_new(const struct object_store_config *cfg, const char *root,
                                    char *err, size_t errlen);

#endif
