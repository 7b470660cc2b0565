/* parquet_fixture -- writes a Parquet file with cdc-writer's encoder from a
 * JSON description, so tests can check it with independent readers.
 *
 *   parquet_fixture SPEC.json OUT.parquet
 *   parquet_fixture --many SPECS.json OUTDIR   (SPECS: a JSON array; writes OUTDIR/<i>.parquet
 *                                               and prints one line "<i> ok|error: ...")
 *
 * SPEC: {"options": {"codec": "snappy|zstd|gzip|none", "row_group_bytes": N,
 *                    "page_bytes": N, "page_rows": N, "dictionary": bool,
 *                    "dictionary_limit": N},
 *        "columns": [{"name", "type", "optional", "list", "precision", "scale", "utc"}],
 *        "rows": [[value, ...], ...],
 *        "metadata": {"key": "value"},
 *        "generate": N}   (instead of rows: N rows from each column's "gen":
 *                          "id" -> i, "unique" -> "row-<i>-<i*7919 % 1000003>",
 *                          "card:K" -> "c<i % K>")
 * type is a pq_column_type name without the PQ_ prefix (INT32, STRING, ...).
 * Values: null; true/false; numbers; 64-bit integers and decimal unscaled
 * values as strings; "NaN", "Infinity", "-Infinity", "-0" for floats; BINARY
 * and UUID as hex; {"hex": "..."} for raw bytes in any byte column;
 * {"repeat": "ab", "count": N} for long strings; arrays for lists.
 * Exit 0 on success; 1 with the writer's error on stderr otherwise.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "parquet.h"

static const char *const type_names[] = {
    "BOOLEAN", "INT8",   "INT16", "INT32",       "INT64",       "FLOAT",
    "DOUBLE",  "STRING", "JSON",  "ENUM",        "BINARY",      "UUID",
    "DECIMAL", "DATE",   "TIME_MILLIS", "TIME_MICROS", "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS",
};

static bool file_sink(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        fclose(f);
        return NULL;
    }
    s[n] = '\0';
    fclose(f);
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex (dashes ignored) into a malloc'd buffer. */
static unsigned char *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    unsigned char *out = malloc(n / 2 + 1);
    size_t k = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (hex[i] == '-')
            continue;
        int v = hexval(hex[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        if (hi < 0) {
            hi = v;
        } else {
            out[k++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    *len = k;
    return out;
}

/* Raw bytes of a byte-column value: string, {"hex"}, or {"repeat","count"}. */
static unsigned char *byte_value(const cJSON *v, bool hex_strings, size_t *len)
{
    if (cJSON_IsString(v)) {
        if (hex_strings)
            return from_hex(v->valuestring, len);
        *len = strlen(v->valuestring);
        return (unsigned char *)strdup(v->valuestring);
    }
    const cJSON *hex = cJSON_GetObjectItem(v, "hex");
    if (cJSON_IsString(hex))
        return from_hex(hex->valuestring, len);
    const cJSON *rep = cJSON_GetObjectItem(v, "repeat");
    const cJSON *count = cJSON_GetObjectItem(v, "count");
    if (cJSON_IsString(rep) && cJSON_IsNumber(count)) {
        size_t unit = strlen(rep->valuestring);
        size_t times = (size_t)count->valuedouble;
        unsigned char *out = malloc(unit * times + 1);
        for (size_t i = 0; i < times; i++)
            memcpy(out + i * unit, rep->valuestring, unit);
        *len = unit * times;
        return out;
    }
    return NULL;
}

static bool parse_i64(const cJSON *v, long long *out)
{
    if (cJSON_IsNumber(v)) {
        *out = (long long)v->valuedouble;
        return true;
    }
    if (!cJSON_IsString(v))
        return false;
    char *end;
    errno = 0;
    *out = strtoll(v->valuestring, &end, 10);
    return errno == 0 && *end == '\0';
}

static bool parse_double(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return true;
    }
    if (!cJSON_IsString(v))
        return false;
    if (strcmp(v->valuestring, "NaN") == 0)
        *out = NAN;
    else if (strcmp(v->valuestring, "Infinity") == 0)
        *out = INFINITY;
    else if (strcmp(v->valuestring, "-Infinity") == 0)
        *out = -INFINITY;
    else if (strcmp(v->valuestring, "-0") == 0)
        *out = -0.0;
    else
        *out = strtod(v->valuestring, NULL);
    return true;
}

/* A decimal unscaled value from a decimal string, as minimal big-endian bytes. */
static bool decimal_be(const char *text, unsigned char *be, size_t *len)
{
    bool neg = text[0] == '-';
    const char *p = text + (neg || text[0] == '+');
    if (*p == '\0')
        return false;
    __int128 v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
    }
    if (neg)
        v = -v;
    unsigned char full[16];
    for (int i = 15; i >= 0; i--) {
        full[i] = (unsigned char)(v & 0xFF);
        v >>= 8;
    }
    int start = 0;
    while (start < 15 && ((full[start] == 0x00 && !(full[start + 1] & 0x80)) ||
                          (full[start] == 0xFF && (full[start + 1] & 0x80))))
        start++;
    *len = (size_t)(16 - start);
    memcpy(be, full + start, *len);
    return true;
}

static bool append_value(struct pq_writer *w, size_t col, const struct pq_column_spec *spec,
                         const cJSON *v)
{
    if (cJSON_IsNull(v))
        return pq_append_null(w, col);
    long long i;
    double d;
    switch (spec->type) {
    case PQ_BOOLEAN:
        return pq_append_bool(w, col, cJSON_IsTrue(v));
    case PQ_INT8:
    case PQ_INT16:
    case PQ_INT32:
    case PQ_DATE:
    case PQ_TIME_MILLIS:
    case PQ_INT64:
    case PQ_TIME_MICROS:
    case PQ_TIMESTAMP_MILLIS:
    case PQ_TIMESTAMP_MICROS:
        if (!parse_i64(v, &i)) {
            fprintf(stderr, "parquet_fixture: column %s: not an integer\n", spec->name);
            return false;
        }
        return pq_append_i64(w, col, i);
    case PQ_FLOAT:
        parse_double(v, &d);
        return pq_append_float(w, col, (float)d);
    case PQ_DOUBLE:
        parse_double(v, &d);
        return pq_append_double(w, col, d);
    case PQ_DECIMAL: {
        unsigned char be[64];
        size_t len = 0;
        const cJSON *hex = cJSON_GetObjectItem(v, "hex");
        if (cJSON_IsString(hex)) {
            unsigned char *raw = from_hex(hex->valuestring, &len);
            bool ok = pq_append_decimal_be(w, col, raw, len);
            free(raw);
            return ok;
        }
        if (!cJSON_IsString(v) || !decimal_be(v->valuestring, be, &len)) {
            fprintf(stderr, "parquet_fixture: column %s: not a decimal string\n", spec->name);
            return false;
        }
        return pq_append_decimal_be(w, col, be, len);
    }
    default: {
        size_t len = 0;
        unsigned char *bytes =
            byte_value(v, spec->type == PQ_BINARY || spec->type == PQ_UUID, &len);
        if (bytes == NULL) {
            fprintf(stderr, "parquet_fixture: column %s: bad byte value\n", spec->name);
            return false;
        }
        bool ok = pq_append_bytes(w, col, bytes, len);
        free(bytes);
        return ok;
    }
    }
}

/* Appends generated row i of column c (see "generate" in the header). */
static bool append_generated(struct pq_writer *w, size_t col, const char *gen, long long i)
{
    char text[64];
    if (strcmp(gen, "id") == 0)
        return pq_append_i64(w, col, i);
    if (strcmp(gen, "unique") == 0) {
        int n = snprintf(text, sizeof text, "row-%lld-%lld", i, (i * 7919) % 1000003);
        return pq_append_bytes(w, col, text, (size_t)n);
    }
    if (strncmp(gen, "card:", 5) == 0) {
        int n = snprintf(text, sizeof text, "c%lld", i % atoll(gen + 5));
        return pq_append_bytes(w, col, text, (size_t)n);
    }
    fprintf(stderr, "parquet_fixture: unknown generator '%s'\n", gen);
    return false;
}

static void read_options(const cJSON *o, struct pq_options *opts)
{
    pq_options_default(opts);
    const cJSON *x;
    if ((x = cJSON_GetObjectItem(o, "codec")) != NULL) {
        const char *c = x->valuestring;
        opts->codec = strcmp(c, "zstd") == 0   ? PQ_CODEC_ZSTD
                      : strcmp(c, "gzip") == 0 ? PQ_CODEC_GZIP
                      : strcmp(c, "none") == 0 ? PQ_CODEC_UNCOMPRESSED
                                               : PQ_CODEC_SNAPPY;
    }
    if ((x = cJSON_GetObjectItem(o, "row_group_bytes")) != NULL)
        opts->row_group_bytes = (size_t)x->valuedouble;
    if ((x = cJSON_GetObjectItem(o, "page_bytes")) != NULL)
        opts->page_bytes = (size_t)x->valuedouble;
    if ((x = cJSON_GetObjectItem(o, "page_rows")) != NULL)
        opts->page_rows = (size_t)x->valuedouble;
    if ((x = cJSON_GetObjectItem(o, "dictionary_limit")) != NULL)
        opts->dictionary_limit = (size_t)x->valuedouble;
    if ((x = cJSON_GetObjectItem(o, "dictionary")) != NULL)
        opts->dictionary = cJSON_IsTrue(x);
}

static void read_column(const cJSON *col, struct pq_column_spec *spec)
{
    spec->name = cJSON_GetStringValue(cJSON_GetObjectItem(col, "name"));
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(col, "type"));
    spec->type = (enum pq_column_type)-1;
    for (size_t k = 0; t && k < sizeof type_names / sizeof type_names[0]; k++)
        if (strcmp(t, type_names[k]) == 0)
            spec->type = (enum pq_column_type)k;
    spec->optional = cJSON_IsTrue(cJSON_GetObjectItem(col, "optional"));
    spec->list = cJSON_IsTrue(cJSON_GetObjectItem(col, "list"));
    const cJSON *p = cJSON_GetObjectItem(col, "precision");
    const cJSON *s = cJSON_GetObjectItem(col, "scale");
    spec->precision = p ? p->valueint : 0;
    spec->scale = s ? s->valueint : 0;
    spec->adjusted_to_utc = !cJSON_IsFalse(cJSON_GetObjectItem(col, "utc"));
}

static bool append_row(struct pq_writer *w, const struct pq_column_spec *specs, size_t ncols,
                       const cJSON *row)
{
    for (size_t c = 0; c < ncols; c++) {
        const cJSON *v = cJSON_GetArrayItem(row, (int)c);
        bool ok;
        if (specs[c].list && cJSON_IsArray(v)) {
            ok = pq_list_begin(w, c);
            const cJSON *e;
            cJSON_ArrayForEach(e, v) ok = ok && append_value(w, c, &specs[c], e);
            ok = ok && pq_list_end(w, c);
        } else {
            ok = append_value(w, c, &specs[c], v);
        }
        if (!ok)
            return false;
    }
    return pq_end_row(w);
}

/* Writes one file; returns NULL or a malloc'd error text. */
static char *write_one(const cJSON *spec, const char *path)
{
    struct pq_options opts;
    read_options(cJSON_GetObjectItem(spec, "options"), &opts);
    const cJSON *cols = cJSON_GetObjectItem(spec, "columns");
    size_t ncols = (size_t)cJSON_GetArraySize(cols);
    struct pq_column_spec *specs = calloc(ncols ? ncols : 1, sizeof *specs);
    for (size_t c = 0; c < ncols; c++)
        read_column(cJSON_GetArrayItem(cols, (int)c), &specs[c]);
    FILE *out = fopen(path, "wb");
    if (out == NULL) {
        free(specs);
        return strdup("cannot open the output file");
    }
    const char *why = NULL;
    char *error = NULL;
    struct pq_writer *w = pq_writer_new(specs, ncols, &opts, file_sink, out, &why);
    if (w == NULL) {
        error = strdup(why);
        goto done;
    }
    const cJSON *kv;
    cJSON_ArrayForEach(kv, cJSON_GetObjectItem(spec, "metadata"))
        pq_writer_add_metadata(w, kv->string, kv->valuestring);
    bool ok = true;
    const cJSON *gen = cJSON_GetObjectItem(spec, "generate");
    if (cJSON_IsNumber(gen)) {
        for (long long i = 0; ok && i < (long long)gen->valuedouble; i++) {
            for (size_t c = 0; ok && c < ncols; c++)
                ok = append_generated(w, c,
                                      cJSON_GetStringValue(cJSON_GetObjectItem(
                                          cJSON_GetArrayItem(cols, (int)c), "gen")),
                                      i);
            ok = ok && pq_end_row(w);
        }
    } else {
        const cJSON *row;
        cJSON_ArrayForEach(row, cJSON_GetObjectItem(spec, "rows"))
        {
            if (!(ok = append_row(w, specs, ncols, row)))
                break;
        }
    }
    if (!ok || !pq_writer_close(w))
        error = strdup(pq_writer_error(w));
done:
    pq_writer_free(w);
    if (fclose(out) != 0 && error == NULL)
        error = strdup("cannot write the output file");
    free(specs);
    return error;
}

static cJSON *read_json(const char *path)
{
    char *text = read_file(path);
    cJSON *json = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (json == NULL)
        fprintf(stderr, "parquet_fixture: cannot read JSON from %s\n", path);
    return json;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--many") == 0) {
        cJSON *specs = read_json(argv[2]);
        if (specs == NULL)
            return 2;
        int i = 0;
        const cJSON *spec;
        cJSON_ArrayForEach(spec, specs)
        {
            char path[4096];
            snprintf(path, sizeof path, "%s/%d.parquet", argv[3], i);
            char *error = write_one(spec, path);
            printf("%d %s%s\n", i, error ? "error: " : "ok", error ? error : "");
            free(error);
            i++;
        }
        cJSON_Delete(specs);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: parquet_fixture SPEC.json OUT.parquet | --many SPECS.json OUTDIR\n");
        return 2;
    }
    cJSON *spec = read_json(argv[1]);
    if (spec == NULL)
        return 2;
    char *error = write_one(spec, argv[2]);
    int status = error != NULL;
    if (error != NULL)
        fprintf(stderr, "parquet_fixture: %s\n", error);
    free(error);
    cJSON_Delete(spec);
    return status;
}
