/* store_file.c -- the file:///dir target of the object store: each object
 * is the file dir/bucket/key, its metadata dir/.cdcw-meta/bucket/key. See
 * object_store.h for the contract and store_backend.h for the table. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_backend.h"
#include "xalloc.h"

struct file_store {
    struct object_store base; /* first: object_store.c holds this */
    char *root, *bucket;
};

struct file_upload {
    struct object_upload base; /* first */
    const struct object_meta *meta;
    size_t nmeta;
    struct buf pending; /* the whole object, written at finish */
};

static struct file_store *file_of(struct object_store *os)
{
    return (struct file_store *)os;
}

/* dir/bucket/key, or dir/bucket for a NULL key. */
static char *file_path(const struct file_store *fs, const char *key)
{
    size_t n = strlen(fs->root) + strlen(fs->bucket) + (key ? strlen(key) : 0) + 3;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s%s%s", fs->root, fs->bucket, key ? "/" : "", key ? key : "");
    return p;
}

/* An object's metadata lives in dir/.cdcw-meta/bucket/key, one "name=value"
 * line each, outside the bucket's tree so no listing sees it. */
static char *file_meta_path(const struct file_store *fs, const char *key)
{
    size_t n = strlen(fs->root) + strlen(fs->bucket) + strlen(key) + 16;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/.cdcw-meta/%s/%s", fs->root, fs->bucket, key);
    return p;
}

static bool make_parents(char *path, char *err, size_t errlen)
{
    for (char *s = path + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        int rc = mkdir(path, 0755);
        *s = '/';
        if (rc != 0 && errno != EEXIST) {
            store_set_err(err, errlen, "cannot create directory for %s: %s", path, strerror(errno));
            return false;
        }
    }
    return true;
}

static bool key_ok(const char *key, char *err, size_t errlen)
{
    if (key[0] == '/' || strstr(key, "..") != NULL) {
        store_set_err(err, errlen, "object key '%s' is not allowed for a file:// target", key);
        return false;
    }
    return true;
}

static bool write_meta(struct file_store *fs, const char *key, const struct object_meta *meta,
                       size_t nmeta, char *err, size_t errlen)
{
    char *path = file_meta_path(fs, key);
    bool ok = true;
    if (nmeta == 0) {
        unlink(path); /* none, or a stale one from an earlier object */
    } else if ((ok = make_parents(path, err, errlen))) {
        FILE *f = fopen(path, "w");
        ok = f != NULL;
        for (size_t i = 0; ok && i < nmeta; i++)
            ok = fprintf(f, "%s=%s\n", meta[i].name, meta[i].value) > 0;
        if (f != NULL && fclose(f) != 0)
            ok = false;
        if (!ok)
            store_set_err(err, errlen, "put %s: cannot write its metadata to %s: %s", key, path, strerror(errno));
    }
    free(path);
    return ok;
}

/* The metadata is written first: an object is never seen with another's. */
static enum object_put_result file_put(struct object_store *os, const char *key, const void *data,
                                       size_t len, const struct object_meta *meta, size_t nmeta,
                                       bool if_absent, char *err, size_t errlen)
{
    struct file_store *fs = file_of(os);
    if (!key_ok(key, err, errlen))
        return OBJECT_PUT_FAILED;
    char *final = file_path(fs, key);
    if (if_absent && access(final, F_OK) == 0) { /* one writer per directory: no race to lose */
        store_set_err(err, errlen, "put %s: the file exists", key);
        free(final);
        return OBJECT_PUT_EXISTS;
    }
    if (!write_meta(fs, key, meta, nmeta, err, errlen)) {
        free(final);
        return OBJECT_PUT_FAILED;
    }
    size_t tl = strlen(final) + 32;
    char *tmp = xmalloc(tl);
    snprintf(tmp, tl, "%s.tmp-%ld", final, (long)getpid());
    bool ok = make_parents(final, err, errlen);
    int fd = ok ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    if (ok && fd < 0) {
        store_set_err(err, errlen, "put %s: cannot create %s: %s", key, tmp, strerror(errno));
        ok = false;
    }
    const char *p = data;
    size_t left = len;
    while (ok && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            store_set_err(err, errlen, "put %s: write failed: %s", key, strerror(errno));
            ok = false;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fd >= 0) {
        if (ok && fsync(fd) != 0) {
            store_set_err(err, errlen, "put %s: fsync failed: %s", key, strerror(errno));
            ok = false;
        }
        close(fd);
    }
    if (ok && rename(tmp, final) != 0) {
        store_set_err(err, errlen, "put %s: rename failed: %s", key, strerror(errno));
        ok = false;
    }
    if (!ok && fd >= 0)
        unlink(tmp);
    if (ok)
        os->stats.bytes_sent += len;
    free(tmp);
    free(final);
    return ok ? OBJECT_PUT_STORED : OBJECT_PUT_FAILED;
}

static bool file_check_bucket(struct object_store *os, bool create, char *err, size_t errlen)
{
    struct file_store *fs = file_of(os);
    char *path = file_path(fs, NULL);
    struct stat st;
    bool ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    if (!ok && create) {
        size_t n = strlen(path) + 2;
        char *with_slash = xmalloc(n);
        snprintf(with_slash, n, "%s/", path);
        ok = make_parents(with_slash, err, errlen);
        free(with_slash);
    } else if (!ok) {
        store_set_err(err, errlen, "bucket '%s' does not exist: no directory %s (set "
                             "MINIO_CREATE_BUCKET=true to create it)",
                fs->bucket, path);
    }
    free(path);
    return ok;
}

static bool file_head(struct object_store *os, const char *key, const char *name, bool *found,
                      char *value, size_t vlen, char *err, size_t errlen)
{
    struct file_store *fs = file_of(os);
    if (!key_ok(key, err, errlen))
        return false;
    char *path = file_path(fs, key);
    struct stat st;
    *found = stat(path, &st) == 0;
    free(path);
    if (!*found)
        return true;
    path = file_meta_path(fs, key);
    FILE *f = fopen(path, "r");
    free(path);
    char line[1200];
    size_t nl = strlen(name);
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, name, nl) == 0 && line[nl] == '=') {
            snprintf(value, vlen, "%.*s", (int)strcspn(line + nl + 1, "\n"), line + nl + 1);
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    return true;
}

static bool file_remove(struct object_store *os, const char *key, char *err, size_t errlen)
{
    struct file_store *fs = file_of(os);
    if (!key_ok(key, err, errlen))
        return false;
    char *path = file_path(fs, key), *meta = file_meta_path(fs, key);
    bool ok = unlink(path) == 0 || errno == ENOENT;
    if (!ok)
        store_set_err(err, errlen, "delete %s: %s", key, strerror(errno));
    unlink(meta);
    free(path);
    free(meta);
    return ok;
}

static bool file_get(struct object_store *os, const char *key, struct buf *out, char *err,
                     size_t errlen)
{
    struct file_store *fs = file_of(os);
    if (!key_ok(key, err, errlen))
        return false;
    char *path = file_path(fs, key);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        store_set_err(err, errlen, "get %s: %s", key, strerror(errno));
        free(path);
        return false;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    fclose(f);
    free(path);
    return true;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the keys of the files under dir (rel: dir's key prefix). */
static void walk(const char *dir, const char *rel, char ***keys, size_t *n, size_t *cap)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || strstr(e->d_name, ".tmp-"))
            continue;
        size_t pl = strlen(dir) + strlen(e->d_name) + 2;
        char *full = xmalloc(pl);
        snprintf(full, pl, "%s/%s", dir, e->d_name);
        size_t rl = strlen(rel) + strlen(e->d_name) + 2;
        char *r = xmalloc(rl);
        snprintf(r, rl, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        struct stat st;
        if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
            walk(full, r, keys, n, cap);
            free(r);
        } else {
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 64;
                *keys = xrealloc(*keys, *cap * sizeof **keys);
            }
            (*keys)[(*n)++] = r;
        }
        free(full);
    }
    closedir(d);
}

static bool file_list(struct object_store *os, const char *prefix, int page_size, object_list_fn fn,
                      void *ctx, char *err, size_t errlen)
{
    (void)page_size; /* one page: the whole directory */
    (void)err;
    (void)errlen;
    struct file_store *fs = file_of(os);
    char *root = file_path(fs, NULL);
    char **keys = NULL;
    size_t n = 0, cap = 0;
    walk(root, "", &keys, &n, &cap);
    qsort(keys, n, sizeof *keys, compare_strings);
    bool ok = true;
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < n; i++) {
        if (ok && strncmp(keys[i], prefix, pl) == 0) {
            char *path = file_path(fs, keys[i]);
            struct stat st;
            ok = stat(path, &st) != 0 || fn(ctx, keys[i], (uint64_t)st.st_size);
            free(path);
        }
        free(keys[i]);
    }
    free(keys);
    free(root);
    return true; /* fn's false stops the listing; it is not an error */
}

/* A streaming upload keeps the whole object and writes it at finish. */
static struct object_upload *file_upload_begin(struct object_store *os, const char *key,
                                               const struct object_meta *meta, size_t nmeta)
{
    struct file_upload *u = xcalloc(1, sizeof *u);
    u->base.os = os;
    u->base.key = xstrdup(key);
    u->meta = meta;
    u->nmeta = nmeta;
    return &u->base;
}

static bool file_upload_write(struct object_upload *base, const void *data, size_t len, char *err,
                              size_t errlen)
{
    (void)err;
    (void)errlen;
    struct file_upload *u = (struct file_upload *)base;
    buf_append(&u->pending, data, len);
    return true;
}

static void file_upload_abort(struct object_upload *base)
{
    struct file_upload *u = (struct file_upload *)base;
    buf_free(&u->pending);
    free(u->base.key);
    free(u);
}

static bool file_upload_finish(struct object_upload *base, char *err, size_t errlen)
{
    struct file_upload *u = (struct file_upload *)base;
    bool ok = file_put(base->os, base->key, u->pending.data, u->pending.len, u->meta, u->nmeta, false,
                       err, errlen) == OBJECT_PUT_STORED;
    file_upload_abort(base);
    return ok;
}

static void file_free(struct object_store *os)
{
    struct file_store *fs = file_of(os);
    free(fs->root);
    free(fs->bucket);
    free(fs);
}

static const struct store_ops file_ops = {
    .free = file_free,
    .check_bucket = file_check_bucket,
    .put = file_put,
    .head = file_head,
    .remove = file_remove,
    .get = file_get,
    .list = file_list,
    .upload_begin = file_upload_begin,
    .upload_write = file_upload_write,
    .upload_finish = file_upload_finish,
    .upload_abort = file_upload_abort,
};

struct object_store *store_file_new(const struct object_store_config *cfg, const char *root,
                                    char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    struct file_store *fs = xcalloc(1, sizeof *fs);
    fs->base.ops = &file_ops;
    fs->root = xstrdup(root);
    fs->bucket = xstrdup(cfg->bucket);
    return &fs->base;
}
