/* s3_tool -- cdc-writer's object store client from the command line, for
 * tests and benchmarks. Configured by the same MINIO_* variables as the
 * daemon (see the README).
 *
 *   s3_tool check [--create]            HeadBucket (and create it)
 *   s3_tool put KEY FILE [NAME=VALUE]...  PutObject, multipart above the threshold,
 *                                       with user metadata
 *   s3_tool put-new KEY FILE [NAME=VALUE]...  the same, only if KEY is free (If-None-Match: *);
 *                                       prints {"result":"stored"} or {"result":"exists"}
 *   s3_tool head KEY NAME               prints {"found":B,"value":"V"}: whether KEY
 *                                       exists and its metadata NAME
 *   s3_tool stream KEY FILE CHUNK       the streaming upload, CHUNK bytes per write
 *   s3_tool get KEY OUT                 GetObject into OUT
 *   s3_tool list PREFIX [PAGE]          "key size" lines, PAGE keys per request
 *   s3_tool fetch PREFIX DIR            GetObject of every key under PREFIX into
 *                                       DIR/<key with / as __>; "key size" lines
 *   s3_tool bench COUNT SIZE            COUNT puts of SIZE random bytes; prints figures
 * Options before the command: --part-size N, --threshold N (bytes), --workers N
 * (bench only: the puts go through the daemon's uploader with N workers, each
 * with its own connection, as cdc-writer uploads; default: one client, one
 * put after another).
 * Errors go to stderr, one line; a last stderr line gives the client's counters
 * as JSON: {"requests":N,"retries":N,"failures":N,"max_rss_kib":N} (the last
 * the process's peak resident memory).
 */
#include <curl/curl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "object_store.h"
#include "store_config.h"
#include "uploader.h"

extern char **environ;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(*len ? *len : 1);
    if (fread(data, 1, *len, f) != *len) {
        fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    return data;
}

static bool print_key(void *ctx, const char *key, uint64_t size)
{
    (void)ctx;
    printf("%s %llu\n", key, (unsigned long long)size);
    return true;
}

struct keys {
    char **v;
    size_t n, cap;
};

static bool collect_key(void *ctx, const char *key, uint64_t size)
{
    (void)size;
    struct keys *k = ctx;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 64;
        k->v = realloc(k->v, k->cap * sizeof *k->v);
    }
    k->v[k->n++] = strdup(key);
    return true;
}

/* Downloads every object under prefix into dir, one connection for all. */
static bool fetch_all(struct object_store *os, const char *prefix, const char *dir, char *err, size_t errlen)
{
    struct keys k = {0};
    bool ok = object_store_list(os, prefix, 0, collect_key, &k, err, errlen);
    for (size_t i = 0; i < k.n; i++) {
        struct buf out = {0};
        if (ok)
            ok = object_store_get(os, k.v[i], &out, err, errlen);
        if (ok) {
            char path[4096];
            int w = snprintf(path, sizeof path, "%s/", dir);
            for (const char *c = k.v[i]; *c && w + 3 < (int)sizeof path; c++)
                w += *c == '/' ? snprintf(path + w, sizeof path - (size_t)w, "__")
                               : snprintf(path + w, sizeof path - (size_t)w, "%c", *c);
            FILE *f = fopen(path, "wb");
            ok = f != NULL && (out.len == 0 || fwrite(out.data, 1, out.len, f) == out.len);
            if (f == NULL || fclose(f) != 0 || !ok) {
                snprintf(err, errlen, "fetch %.900s: cannot write %.900s", k.v[i], path);
                ok = false;
            } else {
                printf("%s %zu\n", k.v[i], out.len);
            }
        }
        buf_free(&out);
        free(k.v[i]);
    }
    free(k.v);
    return ok;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* COUNT uploads of data through the uploader, as the pipeline submits them;
 * the jobs' copies of the data are made before the clock starts. */
static double bench_uploader(const struct object_store_config *oc, int workers, const char *data,
                             size_t size, long count, bool *ok, char *err, size_t errlen)
{
    struct uploader *up = uploader_new(oc, workers, NULL, NULL, err, errlen);
    if (up == NULL) {
        *ok = false;
        return 0;
    }
    struct upload_job **jobs = calloc((size_t)count, sizeof *jobs);
    for (long i = 0; i < count; i++) {
        jobs[i] = calloc(1, sizeof **jobs);
        snprintf(jobs[i]->key, sizeof jobs[i]->key, "bench/cdc-writer/%zu/w%06ld.bin", size, i);
        buf_append(&jobs[i]->data, data, size);
    }
    double start = now();
    for (long i = 0; i < count; i++)
        uploader_submit(up, jobs[i]);
    for (long done = 0; done < count; done++) {
        struct upload_job *j = uploader_take(up, 60000);
        if (j == NULL) {
            snprintf(err, errlen, "an upload did not complete within 60 s");
            *ok = false;
            break;
        }
        if (!j->ok) {
            snprintf(err, errlen, "%s", j->err);
            *ok = false;
        }
        upload_job_free(j);
    }
    double secs = now() - start;
    uploader_free(up); /* frees the jobs not taken */
    free(jobs);
    return secs;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct config cfg;
    struct config_errors errs = {0};
    if (!config_load(&cfg, environ, &errs)) {
        for (size_t i = 0; i < errs.count; i++)
            fprintf(stderr, "s3_tool: configuration error: %s\n", errs.lines[i]);
        return 2;
    }
    struct log lg = {.level = cfg.log_level, .format = cfg.log_format, .out = stderr};
    struct object_store_config oc;
    object_store_config_from(&oc, &cfg, &lg);
    int a = 1, workers = 0;
    for (; a + 1 < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
        if (strcmp(argv[a], "--part-size") == 0)
            oc.part_size = (size_t)atoll(argv[a + 1]);
        else if (strcmp(argv[a], "--threshold") == 0)
            oc.multipart_threshold = (size_t)atoll(argv[a + 1]);
        else if (strcmp(argv[a], "--workers") == 0)
            workers = atoi(argv[a + 1]);
    }
    if (a >= argc) {
        fprintf(stderr, "usage: s3_tool [--part-size N] [--threshold N] [--workers N] check|put|stream|get|list|bench ...\n");
        return 2;
    }
    char err[2048] = "";
    struct object_store *os = object_store_new(&oc, err, sizeof err);
    if (os == NULL) {
        fprintf(stderr, "s3_tool: %s\n", err);
        return 1;
    }
    const char *cmd = argv[a];
    bool ok = false;
    if (strcmp(cmd, "check") == 0) {
        ok = object_store_check_bucket(os, a + 1 < argc && strcmp(argv[a + 1], "--create") == 0, err,
                                       sizeof err);
    } else if ((strcmp(cmd, "put") == 0 || strcmp(cmd, "put-new") == 0) && a + 2 < argc) {
        size_t len;
        char *data = slurp(argv[a + 2], &len);
        struct object_meta meta[8];
        char pairs[8][256];
        size_t nmeta = 0;
        for (int i = a + 3; i < argc && nmeta < 8; i++) {
            snprintf(pairs[nmeta], sizeof pairs[nmeta], "%s", argv[i]);
            char *eq = strchr(pairs[nmeta], '=');
            if (eq == NULL)
                continue;
            *eq = '\0';
            meta[nmeta] = (struct object_meta){pairs[nmeta], eq + 1};
            nmeta++;
        }
        if (data != NULL && strcmp(cmd, "put-new") == 0) {
            enum object_put_result r = object_store_put_new(os, argv[a + 1], data, len, meta, nmeta, err, sizeof err);
            ok = r != OBJECT_PUT_FAILED;
            if (ok)
                printf("{\"result\":\"%s\"}\n", r == OBJECT_PUT_STORED ? "stored" : "exists");
        } else {
            ok = data && object_store_put_meta(os, argv[a + 1], data, len, meta, nmeta, err, sizeof err);
        }
        free(data);
    } else if (strcmp(cmd, "head") == 0 && a + 2 < argc) {
        bool found = false;
        char value[1024];
        ok = object_store_head(os, argv[a + 1], argv[a + 2], &found, value, sizeof value, err, sizeof err);
        if (ok)
            printf("{\"found\":%s,\"value\":\"%s\"}\n", found ? "true" : "false", value);
    } else if (strcmp(cmd, "stream") == 0 && a + 3 < argc) {
        size_t len, chunk = (size_t)atoll(argv[a + 3]);
        char *data = slurp(argv[a + 2], &len);
        struct object_upload *u = object_upload_begin(os, argv[a + 1]);
        ok = data != NULL;
        for (size_t off = 0; ok && off < len; off += chunk)
            ok = object_upload_write(u, data + off, len - off < chunk ? len - off : chunk, err, sizeof err);
        if (ok)
            ok = object_upload_finish(u, err, sizeof err);
        else
            object_upload_abort(u);
        free(data);
    } else if (strcmp(cmd, "get") == 0 && a + 2 < argc) {
        struct buf out = {0};
        ok = object_store_get(os, argv[a + 1], &out, err, sizeof err);
        FILE *f = ok ? fopen(argv[a + 2], "wb") : NULL;
        if (f) {
            if (out.len > 0) /* an empty object has no buffer */
                fwrite(out.data, 1, out.len, f);
            fclose(f);
        }
        buf_free(&out);
    } else if (strcmp(cmd, "list") == 0 && a + 1 < argc) {
        ok = object_store_list(os, argv[a + 1], a + 2 < argc ? atoi(argv[a + 2]) : 0, print_key, NULL,
                               err, sizeof err);
    } else if (strcmp(cmd, "fetch") == 0 && a + 2 < argc) {
        ok = fetch_all(os, argv[a + 1], argv[a + 2], err, sizeof err);
    } else if (strcmp(cmd, "bench") == 0 && a + 2 < argc) {
        long count = atol(argv[a + 1]);
        size_t size = (size_t)atoll(argv[a + 2]);
        char *data = malloc(size);
        for (size_t i = 0; i < size; i++)
            data[i] = (char)(i * 2654435761u >> 13);
        ok = true;
        double start = now(), secs;
        if (workers > 0) {
            secs = bench_uploader(&oc, workers, data, size, count, &ok, err, sizeof err);
        } else {
            for (long i = 0; ok && i < count; i++) {
                char key[128];
                snprintf(key, sizeof key, "bench/cdc-writer/%zu/%06ld.bin", size, i);
                ok = object_store_put(os, key, data, size, err, sizeof err);
            }
            secs = now() - start;
        }
        printf("{\"objects\":%ld,\"bytes\":%llu,\"seconds\":%.4f,\"objects_per_second\":%.2f,"
               "\"mb_per_second\":%.2f}\n",
               count, (unsigned long long)count * size, secs, (double)count / secs,
               (double)count * (double)size / secs / 1e6);
        free(data);
    } else {
        fprintf(stderr, "s3_tool: unknown or incomplete command '%s'\n", cmd);
        return 2;
    }
    if (!ok)
        fprintf(stderr, "s3_tool: %s\n", err);
    const struct object_store_stats *st = object_store_stats(os);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "{\"requests\":%llu,\"retries\":%llu,\"failures\":%llu,\"max_rss_kib\":%ld}\n",
            (unsigned long long)st->requests, (unsigned long long)st->retries,
            (unsigned long long)st->failures, ru.ru_maxrss);
    object_store_free(os);
    config_free(&cfg);
    curl_global_cleanup();
    return ok ? 0 : 1;
}
