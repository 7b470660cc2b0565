/* object_store.c -- see object_store.h for the contract. The public
 * functions call the target's operations (store_backend.h): store_s3.c or
 * store_file.c, chosen once in object_store_new(). */
#include "object_store.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "store_backend.h"

void store_set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void object_store_config_default(struct object_store_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->tls_verify = true;
    cfg->region = "us-east-1";
    cfg->timeout_s = 30;
    cfg->max_attempts = 6;
    cfg->retry_base_ms = 200;
    cfg->retry_cap_ms = 10000;
    cfg->multipart_threshold = (size_t)64 << 20;
    cfg->part_size = (size_t)16 << 20;
}

struct object_store *object_store_new(const struct object_store_config *cfg, char *err,
                                      size_t errlen)
{
    if (strncmp(cfg->endpoint, "file://", 7) == 0)
        return store_file_new(cfg, cfg->endpoint + 7, err, errlen);
    return store_s3_new(cfg, err, errlen);
}

void object_store_free(struct object_store *os)
{
    if (os != NULL)
        os->ops->free(os);
}

const struct object_store_stats *object_store_stats(const struct object_store *os)
{
    return &os->stats;
}

bool object_store_check_bucket(struct object_store *os, bool create, char *err, size_t errlen)
{
    return os->ops->check_bucket(os, create, err, errlen);
}

bool object_store_put(struct object_store *os, const char *key, const void *data, size_t len,
                      char *err, size_t errlen)
{
    return object_store_put_meta(os, key, data, len, NULL, 0, err, errlen);
}

bool object_store_put_meta(struct object_store *os, const char *key, const void *data, size_t len,
                           const struct object_meta *meta, size_t nmeta, char *err, size_t errlen)
{
    return os->ops->put(os, key, data, len, meta, nmeta, false, err, errlen) == OBJECT_PUT_STORED;
}

enum object_put_result object_store_put_new(struct object_store *os, const char *key, const void *data,
                                            size_t len, const struct object_meta *meta, size_t nmeta,
                                            char *err, size_t errlen)
{
    return os->ops->put(os, key, data, len, meta, nmeta, true, err, errlen);
}

bool object_store_delete(struct object_store *os, const char *key, char *err, size_t errlen)
{
    return os->ops->remove(os, key, err, errlen);
}

bool object_store_head(struct object_store *os, const char *key, const char *name, bool *found,
                       char *value, size_t vlen, char *err, size_t errlen)
{
    value[0] = '\0';
    *found = false;
    return os->ops->head(os, key, name, found, value, vlen, err, errlen);
}

/* ---------- for the test tools ---------- */

bool object_store_get(struct object_store *os, const char *key, struct buf *out, char *err,
                      size_t errlen)
{
    return os->ops->get(os, key, out, err, errlen);
}

bool object_store_list(struct object_store *os, const char *prefix, int page_size,
                       object_list_fn fn, void *ctx, char *err, size_t errlen)
{
    return os->ops->list(os, prefix, page_size, fn, ctx, err, errlen);
}

struct object_upload *object_upload_begin(struct object_store *os, const char *key)
{
    return object_upload_begin_meta(os, key, NULL, 0);
}

struct object_upload *object_upload_begin_meta(struct object_store *os, const char *key,
                                               const struct object_meta *meta, size_t nmeta)
{
    return os->ops->upload_begin(os, key, meta, nmeta);
}

bool object_upload_write(struct object_upload *u, const void *data, size_t len, char *err,
                         size_t errlen)
{
    if (u->failed) {
        snprintf(err, errlen, "upload of %s already failed", u->key);
        return false;
    }
    if (!u->os->ops->upload_write(u, data, len, err, errlen))
        u->failed = true;
    return !u->failed;
}

bool object_upload_finish(struct object_upload *u, char *err, size_t errlen)
{
    if (u->failed) {
        snprintf(err, errlen, "upload of %s already failed", u->key);
        u->os->ops->upload_abort(u);
        return false;
    }
    return u->os->ops->upload_finish(u, err, errlen);
}

void object_upload_abort(struct object_upload *u)
{
    if (u != NULL)
        u->os->ops->upload_abort(u);
}
