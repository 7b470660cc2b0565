/* debezium.c -- see debezium.h for the contract.
 *
 * The message is read with json_scan (no DOM): a first pass over the top
 * level finds "schema" and "payload"; the schema, looked up in a cache by its
 * exact text, is parsed with cJSON only when new; the payload is then read
 * member by member, and the row image is converted field by field according
 * to the schema (or kept as JSON kinds when there is none).
 */
#include "debezium.h"

#include <cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "json_scan.h"
#include "utf8.h"
#include "xalloc.h"

/* How a JSON value becomes a cell. */
enum conv {
    CONV_BOOL,
    CONV_INT,            /* integer within int_bits */
    CONV_FLOAT,          /* number, or "NaN" / "Infinity" / "-Infinity" */
    CONV_STRING,
    CONV_JSON_STRING,    /* a string holding JSON text, checked */
    CONV_BYTES,          /* base64 */
    CONV_DECIMAL,        /* base64 big-endian unscaled, checked against precision */
    CONV_DECIMAL_TEXT,   /* base64 big-endian unscaled, written as exact text */
    CONV_VARDECIMAL,     /* {"scale": s, "value": base64} as exact text */
    CONV_NANOS_TO_MICROS,
    CONV_ZONED_TIMESTAMP, /* ISO-8601 with offset -> microseconds UTC */
    CONV_ZONED_TIME,     /* "HH:MM:SS[.f]Z" -> microseconds since midnight UTC */
    CONV_BITS,           /* io.debezium.data.Bits: base64 little-endian -> "0101..." */
    CONV_UUID,
    CONV_RAW_JSON,       /* any value, kept as its JSON text */
    CONV_LIST,           /* array of elem_conv */
    CONV_INFER,          /* no schema */
};

/* Which of Debezium's infinity markers a temporal integer field can carry. */
enum infinity_mark { MARK_NONE, MARK_DAYS, MARK_MILLIS, MARK_MICROS };

struct schema_field {
    char *name;
    struct field_type type;
    enum conv conv, elem_conv;
    enum infinity_mark mark;
    int int_bits;
    const char *kafka_type; /* for messages: "int32", "string"... */
};

struct dbz_schema {
    char *text; /* the schema's exact JSON text: the cache key */
    size_t text_len;
    uint64_t hash;
    struct schema_field *fields;
    size_t nfields;
    bool envelope; /* fields are those of before/after, else of the record */
    bool row;      /* named like Debezium's row schemas, "<topic>.Value" */
};

#define SCHEMA_CACHE 16

/* PostgreSQL's 'infinity' and '-infinity', which Debezium passes on as text in
 * a ZonedTimestamp, are stored as the largest and smallest timestamps, the
 * values DuckDB reads as infinity and -infinity. */
#define TIMESTAMP_INFINITY INT64_MAX
#define DATE_INFINITY INT32_MAX

/* Debezium 3's PostgreSQL connector passes 'infinity' and '-infinity' of date
 * and timestamp columns on as these numbers (the JDBC driver's infinity
 * markers run through its arithmetic; a date's differ between the snapshot
 * and streaming), each far outside the dates PostgreSQL can store except the
 * timestamps, which would be in the year 294247. They are stored as DuckDB's
 * infinity and -infinity. */
static const struct {
    int64_t pos[2], neg[2], stored;
} infinity_marks[] = {
    [MARK_DAYS] = {{-622191234, -2147472692}, {-625821272, -2147472691}, DATE_INFINITY},
    [MARK_MILLIS] = {{9223372036825200, 9223372036825200}, {-9223372036832400, -9223372036832400},
                     TIMESTAMP_INFINITY},
    [MARK_MICROS] = {{9223372036825200000, 9223372036825200000},
                     {-9223372036832400000, -9223372036832400000}, TIMESTAMP_INFINITY},
};

struct dbz_decoder {
    struct json_scan scan, sub, check; /* top level, row image, JSON text checks */
    struct dbz_schema *cache[SCHEMA_CACHE];
    size_t cache_next, last_hit;
    struct buf scratch;
    const struct schema_field **fmap; /* the schema field of each row field */
    size_t fmap_cap;
    /* The row's source metadata being read (finish_source() completes it):
     * db, schema and table in source_text; position members in position. */
    struct cell db, schema, table;
    struct buf source_text, position;
    uint32_t position_seen; /* the position fields added (struct meta_field's bit) */
    char *err;
    size_t errlen;
};

/* ---------- errors ---------- */

static bool fail(struct dbz_decoder *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct dbz_decoder *d, const char *fmt, ...)
{
    if (d->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->err, d->errlen, fmt, ap);
        va_end(ap);
    }
    return false;
}

/* A JSON syntax error found by scanner s, whose input starts at base bytes
 * into the message. */
static bool fail_syntax(struct dbz_decoder *d, const struct json_scan *s, size_t base)
{
    return fail(d, "invalid JSON at byte %zu: %s", base + js_error_offset(s), js_error(s));
}

/* ---------- types ---------- */

bool field_type_equal(const struct field_type *a, const struct field_type *b)
{
    if (a->inferred || b->inferred)
        return a->inferred == b->inferred;
    if (a->pq != b->pq || a->list != b->list)
        return false;
    if (a->pq == PQ_DECIMAL && (a->precision != b->precision || a->scale != b->scale))
        return false;
    if ((a->pq == PQ_TIME_MILLIS || a->pq == PQ_TIME_MICROS || a->pq == PQ_TIMESTAMP_MILLIS ||
         a->pq == PQ_TIMESTAMP_MICROS) &&
        a->utc != b->utc)
        return false;
    return true;
}

void field_type_describe(const struct field_type *t, char *out, size_t size)
{
    static const char *const names[] = {
        "BOOLEAN", "INT8", "INT16", "INT32", "INT64", "FLOAT", "DOUBLE", "STRING", "JSON",
        "ENUM", "BINARY", "UUID", "DECIMAL", "DATE", "TIME_MILLIS", "TIME_MICROS",
        "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS",
    };
    if (t->inferred) {
        snprintf(out, size, "inferred");
        return;
    }
    char base[64];
    if (t->pq == PQ_DECIMAL)
        snprintf(base, sizeof base, "DECIMAL(%d,%d)", t->precision, t->scale);
    else if (t->pq >= PQ_TIME_MILLIS)
        snprintf(base, sizeof base, "%s(%s)", names[t->pq], t->utc ? "UTC" : "local");
    else
        snprintf(base, sizeof base, "%s", names[t->pq]);
    if (t->list)
        snprintf(out, size, "LIST<%s>", base);
    else
        snprintf(out, size, "%s", base);
}

/* ---------- schema ---------- */

static const char *json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int param_int(const cJSON *fs, const char *key, int fallback)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(fs, "parameters");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, key);
    if (cJSON_IsString(v))
        return atoi(v->valuestring);
    if (cJSON_IsNumber(v))
        return v->valueint;
    return fallback;
}

static void set_type(struct schema_field *f, enum pq_column_type pq, enum conv conv)
{
    f->type.pq = pq;
    f->conv = conv;
}

/* Maps one primitive (non-container) Kafka Connect schema to a column type.
 * Returns false when it has no faithful primitive Parquet type. */
static bool map_primitive(const cJSON *fs, struct schema_field *f)
{
    const char *type = json_str(fs, "type");
    const char *name = json_str(fs, "name");
    if (type == NULL)
        return false;
    /* Kafka Connect's JsonConverter names its floating types "float" and
     * "double"; "float32" and "float64" (Connect's Java names) are read too. */
    bool is_float = strcmp(type, "float") == 0 || strcmp(type, "float32") == 0;
    bool is_double = strcmp(type, "double") == 0 || strcmp(type, "float64") == 0;
    f->kafka_type = strcmp(type, "int8") == 0      ? "int8"
                    : strcmp(type, "int16") == 0   ? "int16"
                    : strcmp(type, "int32") == 0   ? "int32"
                    : strcmp(type, "int64") == 0   ? "int64"
                    : strcmp(type, "float") == 0   ? "float"
                    : strcmp(type, "float32") == 0 ? "float32"
                    : strcmp(type, "double") == 0  ? "double"
                    : strcmp(type, "float64") == 0 ? "float64"
                    : strcmp(type, "boolean") == 0 ? "boolean"
                    : strcmp(type, "string") == 0  ? "string"
                    : strcmp(type, "bytes") == 0   ? "bytes"
                                                   : "struct";
    f->int_bits = 64;
    f->type.utc = false;
    if (name != NULL) {
        if (strcmp(name, "org.apache.kafka.connect.data.Decimal") == 0) {
            int scale = param_int(fs, "scale", 0);
            int precision = param_int(fs, "connect.decimal.precision", 38);
            if (scale < -1000 || scale > 1000)
                return false; /* refused by map_field */
            if (precision < scale)
                precision = scale;
            if (scale < 0 || precision > 38 || precision < 1) {
                set_type(f, PQ_STRING, CONV_DECIMAL_TEXT);
                f->type.scale = scale;
                return true;
            }
            set_type(f, PQ_DECIMAL, CONV_DECIMAL);
            f->type.precision = precision;
            f->type.scale = scale;
            return true;
        }
        if (strcmp(name, "io.debezium.data.VariableScaleDecimal") == 0) {
            set_type(f, PQ_STRING, CONV_VARDECIMAL);
            return true;
        }
        if (strcmp(name, "io.debezium.time.Date") == 0 ||
            strcmp(name, "org.apache.kafka.connect.data.Date") == 0) {
            set_type(f, PQ_DATE, CONV_INT);
            f->int_bits = 32;
            f->mark = MARK_DAYS;
            return true;
        }
        if (strcmp(name, "io.debezium.time.Time") == 0 ||
            strcmp(name, "org.apache.kafka.connect.data.Time") == 0) {
            set_type(f, PQ_TIME_MILLIS, CONV_INT);
            f->int_bits = 32;
            /* Kafka Connect's Time is milliseconds since midnight UTC;
             * Debezium's own is a local time of day. */
            f->type.utc = strcmp(name, "org.apache.kafka.connect.data.Time") == 0;
            return true;
        }
        if (strcmp(name, "io.debezium.time.MicroTime") == 0) {
            set_type(f, PQ_TIME_MICROS, CONV_INT);
            return true;
        }
        if (strcmp(name, "io.debezium.time.NanoTime") == 0) {
            set_type(f, PQ_TIME_MICROS, CONV_NANOS_TO_MICROS);
            return true;
        }
        if (strcmp(name, "io.debezium.time.Timestamp") == 0) {
            set_type(f, PQ_TIMESTAMP_MILLIS, CONV_INT);
            f->mark = MARK_MILLIS;
            return true;
        }
        if (strcmp(name, "io.debezium.time.MicroTimestamp") == 0) {
            set_type(f, PQ_TIMESTAMP_MICROS, CONV_INT);
            f->mark = MARK_MICROS;
            return true;
        }
        if (strcmp(name, "io.debezium.time.NanoTimestamp") == 0) {
            set_type(f, PQ_TIMESTAMP_MICROS, CONV_NANOS_TO_MICROS);
            return true;
        }
        if (strcmp(name, "org.apache.kafka.connect.data.Timestamp") == 0) {
            set_type(f, PQ_TIMESTAMP_MILLIS, CONV_INT);
            f->mark = MARK_MILLIS;
            f->type.utc = true;
            return true;
        }
        if (strcmp(name, "io.debezium.time.ZonedTime") == 0) {
            set_type(f, PQ_TIME_MICROS, CONV_ZONED_TIME);
            f->type.utc = true;
            return true;
        }
        if (strcmp(name, "io.debezium.data.Bits") == 0) {
            /* bit(n) carries its length; varbit the largest int. */
            set_type(f, PQ_STRING, CONV_BITS);
            f->int_bits = param_int(fs, "length", 0);
            return true;
        }
        if (strcmp(name, "io.debezium.time.ZonedTimestamp") == 0) {
            set_type(f, PQ_TIMESTAMP_MICROS, CONV_ZONED_TIMESTAMP);
            f->type.utc = true;
            return true;
        }
        if (strcmp(name, "io.debezium.data.Json") == 0) {
            set_type(f, PQ_JSON, CONV_JSON_STRING);
            return true;
        }
        if (strcmp(name, "io.debezium.data.Uuid") == 0) {
            set_type(f, PQ_UUID, CONV_UUID);
            return true;
        }
    }
    if (strcmp(type, "int8") == 0 || strcmp(type, "int16") == 0 || strcmp(type, "int32") == 0) {
        f->int_bits = type[3] == '8' ? 8 : type[3] == '1' ? 16 : 32;
        set_type(f, f->int_bits == 8 ? PQ_INT8 : f->int_bits == 16 ? PQ_INT16 : PQ_INT32, CONV_INT);
    } else if (strcmp(type, "int64") == 0) {
        set_type(f, PQ_INT64, CONV_INT);
    } else if (is_float) {
        set_type(f, PQ_FLOAT, CONV_FLOAT);
    } else if (is_double) {
        set_type(f, PQ_DOUBLE, CONV_FLOAT);
    } else if (strcmp(type, "boolean") == 0) {
        set_type(f, PQ_BOOLEAN, CONV_BOOL);
    } else if (strcmp(type, "string") == 0) {
        set_type(f, PQ_STRING, CONV_STRING);
    } else if (strcmp(type, "bytes") == 0) {
        set_type(f, PQ_BINARY, CONV_BYTES);
    } else {
        return false;
    }
    return true;
}

static bool map_field(const cJSON *fs, struct schema_field *f)
{
    memset(f, 0, sizeof *f);
    const char *field = json_str(fs, "field");
    if (field == NULL || field[0] == '\0')
        return false;
    f->name = xstrdup(field);
    const char *type = json_str(fs, "type");
    if (type != NULL && strcmp(type, "array") == 0) {
        struct schema_field elem;
        memset(&elem, 0, sizeof elem);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(fs, "items");
        if (map_primitive(items, &elem)) {
            f->type = elem.type;
            f->type.list = true;
            f->conv = CONV_LIST;
            f->elem_conv = elem.conv;
            f->int_bits = elem.int_bits;
            f->mark = elem.mark;
            f->kafka_type = elem.kafka_type; /* messages name the element type */
            return true;
        }
    } else if (map_primitive(fs, f)) {
        return true;
    }
    const char *sem = json_str(fs, "name");
    if (sem != NULL && strcmp(sem, "org.apache.kafka.connect.data.Decimal") == 0)
        return false; /* a decimal with an impossible scale */
    /* struct, map, array of structs, geometry...: lossless JSON text. */
    f->type.pq = PQ_JSON;
    f->type.list = false;
    f->conv = CONV_RAW_JSON;
    f->kafka_type = type != NULL ? (strcmp(type, "map") == 0 ? "map" : strcmp(type, "array") == 0 ? "array" : "struct") : "struct";
    return true;
}

static void schema_free(struct dbz_schema *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    free(s->text);
    free(s);
}

static const cJSON *struct_field(const cJSON *fields, const char *name)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        const char *n = json_str(f, "field");
        if (n != NULL && strcmp(n, name) == 0)
            return f;
    }
    return NULL;
}

static struct dbz_schema *schema_parse(struct dbz_decoder *d, const char *text, size_t len,
                                       uint64_t hash)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        fail(d, "schema: not a JSON object");
        return NULL;
    }
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(root, "fields");
    const char *type = json_str(root, "type");
    if (type == NULL || strcmp(type, "struct") != 0 || !cJSON_IsArray(fields)) {
        cJSON_Delete(root);
        fail(d, "schema: expected a struct with fields");
        return NULL;
    }
    struct dbz_schema *s = xcalloc(1, sizeof *s);
    const cJSON *image = struct_field(fields, "after");
    if (image == NULL)
        image = struct_field(fields, "before");
    s->envelope = image != NULL && struct_field(fields, "op") != NULL;
    const char *sname = json_str(root, "name");
    size_t sname_len = sname != NULL ? strlen(sname) : 0;
    s->row = sname_len >= 6 && strcmp(sname + sname_len - 6, ".Value") == 0;
    const cJSON *list = s->envelope ? cJSON_GetObjectItemCaseSensitive(image, "fields") : fields;
    if (s->envelope && !cJSON_IsArray(list)) {
        cJSON_Delete(root);
        schema_free(s);
        fail(d, "schema: the after/before field is not a struct with fields");
        return NULL;
    }
    int n = cJSON_GetArraySize(list);
    s->fields = xcalloc((size_t)n + 1, sizeof *s->fields);
    const cJSON *f;
    cJSON_ArrayForEach(f, list)
    {
        if (!map_field(f, &s->fields[s->nfields])) {
            free(s->fields[s->nfields].name);
            fail(d, "schema: field %d has no name, an empty one, or a decimal scale beyond "
                    "+-1000",
                 (int)s->nfields);
            cJSON_Delete(root);
            schema_free(s);
            return NULL;
        }
        s->nfields++;
    }
    cJSON_Delete(root);
    s->text = xstrndup(text, len);
    s->text_len = len;
    s->hash = hash;
    return s;
}

static uint64_t hash_text(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    size_t step = n > 4096 ? n / 1024 : 1; /* sample long texts; memcmp confirms */
    for (size_t i = 0; i < n; i += step)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h ^ n;
}

static const struct dbz_schema *schema_lookup(struct dbz_decoder *d, struct js_str text)
{
    uint64_t h = hash_text(text.ptr, text.len);
    for (size_t i = 0; i < SCHEMA_CACHE; i++) {
        struct dbz_schema *s = d->cache[i];
        if (s != NULL && s->hash == h && s->text_len == text.len &&
            memcmp(s->text, text.ptr, text.len) == 0)
            return s;
    }
    struct dbz_schema *s = schema_parse(d, text.ptr, text.len, h);
    if (s == NULL)
        return NULL;
    schema_free(d->cache[d->cache_next]);
    d->cache[d->cache_next] = s;
    d->cache_next = (d->cache_next + 1) % SCHEMA_CACHE;
    return s;
}

/* ---------- rows ---------- */

static void row_reset(struct dbz_row *row)
{
    row->op = 0;
    row->has_ts = row->has_source_ts = false;
    row->ts_ms = row->source_ts_ms = 0;
    memset(&row->src, 0, sizeof row->src); /* all CELL_NULL */
    buf_reset(&row->meta);
    row->nfields = 0;
    row->nitems = 0;
    buf_reset(&row->bytes);
    buf_reserve(&row->bytes, 64);
    buf_reset(&row->names);
    buf_reserve(&row->names, 64);
}

/* Forgets the image decoded so far (fields, items and their bytes), keeping
 * the metadata read beside it. */
static void forget_image(struct dbz_row *row)
{
    row->nfields = 0;
    row->nitems = 0;
    buf_reset(&row->bytes);
}

void dbz_row_free(struct dbz_row *row)
{
    free(row->fields);
    free(row->items);
    buf_free(&row->bytes);
    buf_free(&row->names);
    buf_free(&row->meta);
    memset(row, 0, sizeof *row);
}

static struct dbz_field *add_field(struct dbz_row *row, const char *name, size_t len,
                                   const struct field_type *type)
{
    if (row->nfields == row->fields_cap) {
        row->fields_cap = row->fields_cap ? row->fields_cap * 2 : 32;
        row->fields = xrealloc(row->fields, row->fields_cap * sizeof *row->fields);
    }
    struct dbz_field *f = &row->fields[row->nfields++];
    f->name_off = (uint32_t)row->names.len;
    f->name_len = (uint32_t)len;
    buf_append(&row->names, name, len);
    buf_push(&row->names, '\0');
    f->type = *type;
    f->cell.kind = CELL_NULL;
    f->cell.aux = 0;
    f->cell.len = 0;
    f->cell.v.i = 0;
    return f;
}

static void put_bytes(struct dbz_row *row, struct cell *c, uint8_t kind, const void *p, size_t n)
{
    c->kind = kind;
    c->v.off = row->bytes.len;
    c->len = (uint32_t)n;
    buf_append(&row->bytes, p, n);
}

/* ---------- value conversions ---------- */

static const char *kind_name(enum js_kind k)
{
    switch (k) {
    case JS_OBJECT: return "an object";
    case JS_ARRAY: return "an array";
    case JS_STRING: return "a string";
    case JS_NUMBER: return "a number";
    case JS_TRUE:
    case JS_FALSE: return "a boolean";
    case JS_NULL: return "null";
    default: return "nothing";
    }
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned dd)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

/* "2018-06-20T13:37:03.123456789+02:00" (or Z, +0200, +02) to microseconds UTC. */
/* Parses "HH:MM:SS[.fraction](Z|+hh[:mm]|-hh[:mm])", the whole of p[i..n):
 * seconds since midnight, microseconds (a finer fraction is floored) and the
 * offset in minutes east of UTC. */
static bool parse_clock(const char *p, size_t n, size_t i, int64_t *secs, int64_t *micros,
                        int *offset_min)
{
    int h, mi, se;
    if (n < i + 8 || !digits(p + i, 2, &h) || p[i + 2] != ':' || !digits(p + i + 3, 2, &mi) ||
        p[i + 5] != ':' || !digits(p + i + 6, 2, &se))
        return false;
    if (h > 24 || mi > 59 || se > 60 || (h == 24 && (mi > 0 || se > 0)))
        return false;
    i += 8;
    *micros = 0;
    if (i < n && p[i] == '.') {
        i++;
        int count = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            if (count < 6)
                *micros = *micros * 10 + (p[i] - '0');
            count++;
            i++;
        }
        if (count == 0 || count > 9)
            return false;
        for (; count < 6; count++)
            *micros *= 10;
    }
    *offset_min = 0;
    if (i < n && p[i] == 'Z') {
        i++;
    } else if (i < n && (p[i] == '+' || p[i] == '-')) {
        int sign = p[i] == '-' ? -1 : 1;
        int oh, om = 0;
        i++;
        if (i + 2 > n || !digits(p + i, 2, &oh))
            return false;
        i += 2;
        if (i < n && p[i] == ':')
            i++;
        if (i + 2 <= n && digits(p + i, 2, &om))
            i += 2;
        if (oh > 18 || om > 59)
            return false;
        *offset_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    *secs = h * 3600 + mi * 60 + se;
    return i == n;
}

static bool parse_zoned_timestamp(const char *p, size_t n, int64_t *out)
{
    int y, mo, dd, offset_min;
    int64_t secs, micros;
    if (n < 20 || !digits(p, 4, &y) || p[4] != '-' || !digits(p + 5, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, 2, &dd) || (p[10] != 'T' && p[10] != ' '))
        return false;
    if (mo < 1 || mo > 12 || dd < 1 || dd > 31 || (p[11] == '2' && p[12] == '4') ||
        !parse_clock(p, n, 11, &secs, &micros, &offset_min))
        return false;
    secs += days_from_civil(y, (unsigned)mo, (unsigned)dd) * 86400 - (int64_t)offset_min * 60;
    *out = secs * 1000000 + micros;
    return true;
}

/* A ZonedTime ("10:34:56.5Z", Debezium writes it in UTC) as microseconds
 * since midnight UTC. */
static bool parse_zoned_time(const char *p, size_t n, int64_t *out)
{
    int64_t secs, micros;
    int offset_min;
    if (!parse_clock(p, n, 0, &secs, &micros, &offset_min))
        return false;
    if (secs == 86400 && micros == 0 && offset_min == 0) {
        *out = 86400 * (int64_t)1000000; /* 24:00:00, as PostgreSQL allows */
        return true;
    }
    secs = ((secs - (int64_t)offset_min * 60) % 86400 + 86400) % 86400;
    *out = secs * 1000000 + micros;
    return true;
}

/* Debezium's Bits are the bit string as a little-endian number. Written most
 * significant bit first, as PostgreSQL prints it: padded with zeros to width
 * (bit(n)), or without leading zeros when width is unknown (varbit, whose
 * leading zeros Debezium does not keep). */
static void bits_text(const uint8_t *le, size_t n, int width, struct buf *out)
{
    size_t bits = n * 8;
    if (width > 0 && width < 0x7fffffff)
        bits = (size_t)width > bits ? (size_t)width : bits;
    size_t start = out->len;
    for (size_t k = bits; k-- > 0;) {
        int bit = k / 8 < n ? (le[k / 8] >> (k % 8)) & 1 : 0;
        if (out->len == start && bit == 0 && k >= (width > 0 && width < 0x7fffffff ? (size_t)width : 1))
            continue; /* a leading zero beyond the width */
        buf_push(out, (char)('0' + bit));
    }
}

static bool parse_uuid(const char *p, size_t n, uint8_t out[16])
{
    if (n != 36)
        return false;
    int k = 0;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-')
                return false;
            continue;
        }
        char c = p[i];
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0)
            return false;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)(v << 4);
        else
            out[k / 2] |= (uint8_t)v;
        k++;
    }
    return true;
}

/* Exact decimal text of a big-endian two's complement integer with a scale. */
static void decimal_text(const uint8_t *be, size_t n, int scale, struct buf *out)
{
    bool neg = n > 0 && (be[0] & 0x80);
    /* Magnitude as base-1e9 limbs, most significant first, by schoolbook conversion. */
    size_t cap = n + 2;
    uint32_t *limbs = xcalloc(cap, sizeof *limbs);
    size_t nl = 0;
    int carry_in = 1; /* for two's complement negation: invert bytes, add 1 */
    uint8_t *mag = xmalloc(n ? n : 1);
    for (size_t i = n; i-- > 0;) {
        int b = neg ? (uint8_t)~be[i] + carry_in : be[i];
        if (neg) {
            carry_in = b >> 8;
            b &= 0xFF;
        }
        mag[i] = (uint8_t)b;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t carry = mag[i];
        for (size_t k = 0; k < nl; k++) {
            uint64_t v = (uint64_t)limbs[k] * 256 + carry;
            limbs[k] = (uint32_t)(v % 1000000000u);
            carry = v / 1000000000u;
        }
        while (carry) {
            limbs[nl++] = (uint32_t)(carry % 1000000000u);
            carry /= 1000000000u;
        }
    }
    free(mag);
    /* limbs are little-endian base 1e9 */
    char *digitsbuf = xmalloc(nl * 9 + 2);
    size_t dl = 0;
    if (nl == 0) {
        digitsbuf[dl++] = '0';
    } else {
        dl += (size_t)sprintf(digitsbuf, "%u", limbs[nl - 1]);
        for (size_t k = nl - 1; k-- > 0;)
            dl += (size_t)sprintf(digitsbuf + dl, "%09u", limbs[k]);
    }
    free(limbs);
    if (neg && !(dl == 1 && digitsbuf[0] == '0'))
        buf_push(out, '-');
    if (scale <= 0) {
        buf_append(out, digitsbuf, dl);
        for (int i = 0; i < -scale; i++)
            buf_push(out, '0');
    } else if ((size_t)scale >= dl) {
        buf_append(out, "0.", 2);
        for (size_t i = dl; i < (size_t)scale; i++)
            buf_push(out, '0');
        buf_append(out, digitsbuf, dl);
    } else {
        buf_append(out, digitsbuf, dl - (size_t)scale);
        buf_push(out, '.');
        buf_append(out, digitsbuf + dl - (size_t)scale, (size_t)scale);
    }
    free(digitsbuf);
}

/* Number of decimal digits of |v| for a big-endian value; -1 when over 38. */
static int decimal_digits(const uint8_t *be, size_t n)
{
    while (n > 1 && ((be[0] == 0x00 && !(be[1] & 0x80)) || (be[0] == 0xFF && (be[1] & 0x80)))) {
        be++;
        n--;
    }
    if (n > 16)
        return -1;
    __int128 v = (n > 0 && (be[0] & 0x80)) ? -1 : 0;
    for (size_t i = 0; i < n; i++)
        v = (__int128)(((unsigned __int128)v << 8) | be[i]);
    unsigned __int128 m = v < 0 ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    int count = 1;
    while (m >= 10) {
        m /= 10;
        count++;
    }
    return count;
}

struct ctx {
    struct dbz_decoder *d;
    struct json_scan *s;
    size_t base; /* offset of the scanner's input in the message */
    struct dbz_row *row;
    const char *image; /* "payload.after", "payload", ... */
};

static bool type_error(struct ctx *c, const char *field, const char *expected, enum js_kind got)
{
    return fail(c->d, "%s.%s: expected %s, got %s", c->image, field, expected, kind_name(got));
}

static bool read_string(struct ctx *c, const char *field, const char *expected, struct js_str *out)
{
    enum js_kind k = js_peek(c->s);
    if (k != JS_STRING)
        return k == JS_ERROR ? fail_syntax(c->d, c->s, c->base) : type_error(c, field, expected, k);
    if (!js_string(c->s, out))
        return fail_syntax(c->d, c->s, c->base);
    return true;
}

/* Reads an integer; `expected` and `kafka_type` name it in errors
 * ("an integer for int32"), formatted only when there is one. */
static bool read_int_of(struct ctx *c, const char *field, const char *expected,
                        const char *kafka_type, int64_t *out)
{
    enum js_kind k = js_peek(c->s);
    struct js_str text;
    bool integer;
    if (k == JS_NUMBER && js_number(c->s, &text, &integer) && integer && js_to_int64(text, out))
        return true;
    char what[64];
    if (kafka_type != NULL)
        snprintf(what, sizeof what, "%s for %s", expected, kafka_type);
    else
        snprintf(what, sizeof what, "%s", expected);
    if (k == JS_ERROR || c->s->error != NULL)
        return fail_syntax(c->d, c->s, c->base);
    if (k != JS_NUMBER)
        return type_error(c, field, what, k);
    return fail(c->d, "%s.%s: expected %s, got %.*s", c->image, field, what,
                (int)(text.len > 40 ? 40 : text.len), text.ptr);
}

static bool read_int(struct ctx *c, const char *field, const char *expected, int64_t *out)
{
    return read_int_of(c, field, expected, NULL, out);
}

static bool convert(struct ctx *c, const struct schema_field *f, enum conv conv, struct cell *out);

static bool convert_scalar(struct ctx *c, const struct schema_field *f, enum conv conv,
                           struct cell *out)
{
    struct dbz_decoder *d = c->d;
    struct js_str str;
    int64_t i;
    switch (conv) {
    case CONV_BOOL: {
        enum js_kind k = js_peek(c->s);
        if (k != JS_TRUE && k != JS_FALSE)
            return k == JS_ERROR ? fail_syntax(d, c->s, c->base)
                                 : type_error(c, f->name, "a boolean", k);
        js_literal(c->s);
        out->kind = CELL_BOOL;
        out->v.i = k == JS_TRUE;
        return true;
    }
    case CONV_INT:
    case CONV_NANOS_TO_MICROS: {
        if (!read_int_of(c, f->name, "an integer", f->kafka_type, &i))
            return false;
        if (f->int_bits < 64) {
            int64_t lim = (int64_t)1 << (f->int_bits - 1);
            if (i < -lim || i >= lim)
                return fail(d, "%s.%s: %lld is out of the %s range", c->image, f->name,
                            (long long)i, f->kafka_type);
        }
        if (conv == CONV_NANOS_TO_MICROS)
            i = i >= 0 ? i / 1000 : -((-(i + 1)) / 1000) - 1; /* floor */
        if (f->mark != MARK_NONE) {
            if (i == infinity_marks[f->mark].pos[0] || i == infinity_marks[f->mark].pos[1])
                i = infinity_marks[f->mark].stored;
            else if (i == infinity_marks[f->mark].neg[0] || i == infinity_marks[f->mark].neg[1])
                i = -infinity_marks[f->mark].stored;
        }
        out->kind = CELL_INT;
        out->v.i = i;
        return true;
    }
    case CONV_FLOAT: {
        enum js_kind k = js_peek(c->s);
        double v;
        if (k == JS_NUMBER) {
            bool integer;
            if (!js_number(c->s, &str, &integer) || !js_to_double(str, &v))
                return fail_syntax(d, c->s, c->base);
        } else if (k == JS_STRING) {
            js_string(c->s, &str);
            if (str.len == 3 && memcmp(str.ptr, "NaN", 3) == 0)
                v = NAN;
            else if (str.len == 8 && memcmp(str.ptr, "Infinity", 8) == 0)
                v = INFINITY;
            else if (str.len == 9 && memcmp(str.ptr, "-Infinity", 9) == 0)
                v = -INFINITY;
            else
                return fail(d, "%s.%s: expected a number for %s, got a string", c->image,
                            f->name, f->kafka_type);
        } else {
            return k == JS_ERROR ? fail_syntax(d, c->s, c->base)
                                 : type_error(c, f->name, "a number", k);
        }
        out->kind = CELL_DOUBLE;
        out->v.d = v;
        return true;
    }
    case CONV_STRING:
        if (!read_string(c, f->name, "a string", &str))
            return false;
        put_bytes(c->row, out, CELL_BYTES, str.ptr, str.len);
        return true;
    case CONV_JSON_STRING: {
        if (!read_string(c, f->name, "a string holding JSON", &str))
            return false;
        put_bytes(c->row, out, CELL_BYTES, str.ptr, str.len);
        /* The column is annotated JSON: readers reject malformed JSON text. */
        js_reset(&d->check, c->row->bytes.data + out->v.off, out->len);
        if (!js_skip(&d->check, NULL) || !js_at_end(&d->check))
            return fail(d, "%s.%s: the io.debezium.data.Json value is not valid JSON (%s at byte %zu)",
                        c->image, f->name, js_error(&d->check), js_error_offset(&d->check));
        return true;
    }
    case CONV_BYTES:
    case CONV_DECIMAL:
    case CONV_DECIMAL_TEXT: {
        if (!read_string(c, f->name, "a base64 string", &str))
            return false;
        buf_reset(&d->scratch);
        if (!base64_decode(str.ptr, str.len, &d->scratch))
            return fail(d, "%s.%s: not valid base64", c->image, f->name);
        if (conv == CONV_BYTES) {
            put_bytes(c->row, out, CELL_BYTES, d->scratch.data, d->scratch.len);
            return true;
        }
        if (d->scratch.len == 0)
            return fail(d, "%s.%s: empty decimal value", c->image, f->name);
        if (d->scratch.len > 1024)
            return fail(d, "%s.%s: decimal value longer than 1024 bytes", c->image, f->name);
        if (conv == CONV_DECIMAL) {
            int nd = decimal_digits(d->scratch.data, d->scratch.len);
            if (nd < 0 || nd > f->type.precision)
                return fail(d, "%s.%s: decimal value has more than %d digits", c->image,
                            f->name, f->type.precision);
            put_bytes(c->row, out, CELL_BYTES, d->scratch.data, d->scratch.len);
            return true;
        }
        out->kind = CELL_BYTES;
        out->v.off = c->row->bytes.len;
        decimal_text(d->scratch.data, d->scratch.len, f->type.scale, &c->row->bytes);
        out->len = (uint32_t)(c->row->bytes.len - out->v.off);
        return true;
    }
    case CONV_VARDECIMAL: {
        enum js_kind k = js_peek(c->s);
        if (k != JS_OBJECT)
            return k == JS_ERROR ? fail_syntax(d, c->s, c->base)
                                 : type_error(c, f->name, "a {scale, value} object", k);
        js_enter_object(c->s);
        struct js_str name;
        int64_t scale = 0;
        bool has_scale = false, has_value = false;
        int more;
        buf_reset(&d->scratch);
        while ((more = js_next_member(c->s, &name)) == 1) {
            if (name.len == 5 && memcmp(name.ptr, "scale", 5) == 0) {
                if (!read_int(c, f->name, "an integer scale", &scale))
                    return false;
                has_scale = true;
            } else if (name.len == 5 && memcmp(name.ptr, "value", 5) == 0) {
                if (!read_string(c, f->name, "a base64 value", &str))
                    return false;
                if (!base64_decode(str.ptr, str.len, &d->scratch) || d->scratch.len == 0)
                    return fail(d, "%s.%s: value is not valid base64", c->image, f->name);
                if (d->scratch.len > 1024)
                    return fail(d, "%s.%s: decimal value longer than 1024 bytes", c->image,
                                f->name);
                has_value = true;
            } else if (!js_skip(c->s, NULL)) {
                return fail_syntax(d, c->s, c->base);
            }
        }
        if (more < 0)
            return fail_syntax(d, c->s, c->base);
        if (!has_scale || !has_value || scale < -1000 || scale > 1000)
            return fail(d, "%s.%s: expected a VariableScaleDecimal {scale, value}", c->image,
                        f->name);
        out->kind = CELL_BYTES;
        out->v.off = c->row->bytes.len;
        decimal_text(d->scratch.data, d->scratch.len, (int)scale, &c->row->bytes);
        out->len = (uint32_t)(c->row->bytes.len - out->v.off);
        return true;
    }
    case CONV_ZONED_TIMESTAMP:
        if (!read_string(c, f->name, "an ISO-8601 timestamp", &str))
            return false;
        if (str.len == 8 && memcmp(str.ptr, "infinity", 8) == 0)
            i = TIMESTAMP_INFINITY;
        else if (str.len == 9 && memcmp(str.ptr, "-infinity", 9) == 0)
            i = -TIMESTAMP_INFINITY;
        else if (!parse_zoned_timestamp(str.ptr, str.len, &i))
            return fail(d, "%s.%s: '%.*s' is not an ISO-8601 timestamp with an offset", c->image,
                        f->name, (int)(str.len > 40 ? 40 : str.len), str.ptr);
        out->kind = CELL_INT;
        out->v.i = i;
        return true;
    case CONV_ZONED_TIME:
        if (!read_string(c, f->name, "a time with an offset", &str))
            return false;
        if (!parse_zoned_time(str.ptr, str.len, &i))
            return fail(d, "%s.%s: '%.*s' is not a time of day with an offset", c->image, f->name,
                        (int)(str.len > 40 ? 40 : str.len), str.ptr);
        out->kind = CELL_INT;
        out->v.i = i;
        return true;
    case CONV_BITS:
        if (!read_string(c, f->name, "base64 bits", &str))
            return false;
        buf_reset(&d->scratch);
        if (!base64_decode(str.ptr, str.len, &d->scratch))
            return fail(d, "%s.%s: bits are not valid base64", c->image, f->name);
        out->kind = CELL_BYTES;
        out->v.off = c->row->bytes.len;
        bits_text(d->scratch.data, d->scratch.len, f->int_bits, &c->row->bytes);
        out->len = (uint32_t)(c->row->bytes.len - out->v.off);
        return true;
    case CONV_UUID: {
        uint8_t u[16];
        if (!read_string(c, f->name, "a UUID string", &str))
            return false;
        if (!parse_uuid(str.ptr, str.len, u))
            return fail(d, "%s.%s: '%.*s' is not a UUID", c->image, f->name,
                        (int)(str.len > 40 ? 40 : str.len), str.ptr);
        put_bytes(c->row, out, CELL_BYTES, u, 16);
        return true;
    }
    case CONV_RAW_JSON: {
        if (!js_skip(c->s, &str))
            return fail_syntax(d, c->s, c->base);
        put_bytes(c->row, out, CELL_BYTES, str.ptr, str.len);
        return true;
    }
    default:
        return fail(d, "%s.%s: internal error: unexpected conversion", c->image, f->name);
    }
}

static bool convert_list(struct ctx *c, const struct schema_field *f, struct cell *out)
{
    enum js_kind k = js_peek(c->s);
    if (k != JS_ARRAY)
        return k == JS_ERROR ? fail_syntax(c->d, c->s, c->base)
                             : type_error(c, f->name, "an array", k);
    js_enter_array(c->s);
    /* Elements go to a local list first: nested conversions append to row->items too. */
    size_t first = c->row->nitems;
    int more;
    while ((more = js_next_element(c->s)) == 1) {
        struct cell e = {0};
        if (js_peek(c->s) == JS_NULL) {
            js_literal(c->s);
        } else if (!convert_scalar(c, f, f->elem_conv, &e)) {
            return false;
        }
        if (c->row->nitems == c->row->items_cap) {
            c->row->items_cap = c->row->items_cap ? c->row->items_cap * 2 : 64;
            c->row->items = xrealloc(c->row->items, c->row->items_cap * sizeof *c->row->items);
        }
        c->row->items[c->row->nitems++] = e;
    }
    if (more < 0)
        return fail_syntax(c->d, c->s, c->base);
    out->kind = CELL_LIST;
    out->v.off = first;
    out->len = (uint32_t)(c->row->nitems - first);
    return true;
}

static bool convert(struct ctx *c, const struct schema_field *f, enum conv conv, struct cell *out)
{
    enum js_kind k = js_peek(c->s);
    if (k == JS_ERROR)
        return fail_syntax(c->d, c->s, c->base);
    if (k == JS_EOF)
        return fail(c->d, "%s.%s: unexpected end of input", c->image, f->name);
    if (k == JS_NULL) {
        js_literal(c->s);
        out->kind = CELL_NULL;
        return true;
    }
    if (conv == CONV_LIST)
        return convert_list(c, f, out);
    return convert_scalar(c, f, conv, out);
}

/* A value without a schema: keeps its JSON kind and text. */
static bool convert_inferred(struct ctx *c, struct cell *out)
{
    struct js_str text;
    bool integer;
    switch (js_peek(c->s)) {
    case JS_NULL:
        js_literal(c->s);
        out->kind = CELL_NULL;
        return true;
    case JS_TRUE:
    case JS_FALSE:
        out->kind = CELL_BOOL;
        out->v.i = js_peek(c->s) == JS_TRUE;
        js_literal(c->s);
        return true;
    case JS_NUMBER:
        if (!js_number(c->s, &text, &integer))
            break;
        put_bytes(c->row, out, CELL_NUMBER, text.ptr, text.len);
        out->aux = integer;
        return true;
    case JS_STRING:
        if (!js_string(c->s, &text))
            break;
        put_bytes(c->row, out, CELL_TEXT, text.ptr, text.len);
        return true;
    case JS_OBJECT:
    case JS_ARRAY:
        if (!js_skip(c->s, &text))
            break;
        put_bytes(c->row, out, CELL_JSON, text.ptr, text.len);
        return true;
    case JS_EOF:
        return fail(c->d, "%s: unexpected end of input", c->image);
    default:
        break;
    }
    return fail_syntax(c->d, c->s, c->base);
}

/* ---------- source metadata ---------- */

enum meta_kind {
    META_LSN,
    META_TX_ID,
    META_SEQUENCE,
    META_SNAPSHOT,
    META_DB,
    META_SCHEMA,
    META_TABLE,
    META_POSITION,
    META_TX_ORDER,
    META_TX_COLLECTION_ORDER,
};

struct meta_field {
    const char *name;
    size_t len;
    enum meta_kind kind;
    int bit; /* META_POSITION: its bit in position_seen */
};

#define META_FIELD(name, kind, bit) {name, sizeof name - 1, kind, bit}

/* The fields of payload.source that make metadata, by length (see
 * source_field()). The position fields: MySQL and MariaDB (binlog file, pos,
 * row, gtid, server_id), Oracle (scn, commit_scn, lcr_position), SQL Server,
 * Db2 and Informix (change_lsn, commit_lsn, event_serial_no), MongoDB (ord),
 * Vitess (vgtid). */
static const struct meta_field source_fields[] = {
    META_FIELD("db", META_DB, 0),
    META_FIELD("lsn", META_LSN, 0),
    META_FIELD("pos", META_POSITION, 1),
    META_FIELD("row", META_POSITION, 2),
    META_FIELD("scn", META_POSITION, 5),
    META_FIELD("ord", META_POSITION, 11),
    META_FIELD("txId", META_TX_ID, 0),
    META_FIELD("file", META_POSITION, 0),
    META_FIELD("gtid", META_POSITION, 3),
    META_FIELD("table", META_TABLE, 0),
    META_FIELD("vgtid", META_POSITION, 12),
    META_FIELD("schema", META_SCHEMA, 0),
    META_FIELD("sequence", META_SEQUENCE, 0),
    META_FIELD("snapshot", META_SNAPSHOT, 0),
    META_FIELD("server_id", META_POSITION, 4),
    META_FIELD("collection", META_TABLE, 0),
    META_FIELD("commit_scn", META_POSITION, 6),
    META_FIELD("change_lsn", META_POSITION, 8),
    META_FIELD("commit_lsn", META_POSITION, 9),
    META_FIELD("lcr_position", META_POSITION, 7),
    META_FIELD("event_serial_no", META_POSITION, 10),
};

/* source_fields[source_by_length[n] .. source_by_length[n + 1]) are those of
 * length n, so a name is compared only with the few of its length. */
static const uint8_t source_by_length[] = {0, 0, 0, 1, 6, 9, 11, 12, 12, 14, 15, 19, 19, 20, 20, 20, 21};
_Static_assert(sizeof source_fields / sizeof source_fields[0] == 21, "source_by_length is out of date");

/* lsn and txId that are not integers go to the position under these bits. */
enum { POSITION_LSN_BIT = 13, POSITION_TX_ID_BIT = 14 };

static const struct meta_field transaction_fields[] = {
    META_FIELD("total_order", META_TX_ORDER, 0),
    META_FIELD("data_collection_order", META_TX_COLLECTION_ORDER, 0),
};

static const struct meta_field *find_meta(const struct meta_field *table, size_t n, const char *p,
                                          size_t len)
{
    for (size_t i = 0; i < n; i++) {
        /* Inline, byte by byte: the names are short, and most differ at once. */
        const char *name = table[i].name;
        size_t k = 0;
        if (table[i].len != len)
            continue;
        while (k < len && name[k] == p[k])
            k++;
        if (k == len)
            return &table[i];
    }
    return NULL;
}

static const struct meta_field *source_field(const char *p, size_t len)
{
    if (len + 1 >= sizeof source_by_length)
        return NULL;
    size_t first = source_by_length[len];
    return find_meta(source_fields + first, source_by_length[len + 1] - first, p, len);
}

static const struct meta_field *transaction_field(const char *p, size_t len)
{
    return find_meta(transaction_fields, sizeof transaction_fields / sizeof transaction_fields[0], p,
                     len);
}

/* The metadata a flattened record's field names (after "__"), as
 * ExtractNewRecordState's add.fields writes them: lsn or source_lsn,
 * total_order or transaction_total_order. */
static const struct meta_field *flattened_field(const char *p, size_t len)
{
    if (len > 7 && memcmp(p, "source_", 7) == 0)
        return source_field(p + 7, len - 7);
    if (len > 12 && memcmp(p, "transaction_", 12) == 0)
        return transaction_field(p + 12, len - 12);
    const struct meta_field *f = source_field(p, len);
    return f != NULL ? f : transaction_field(p, len);
}

/* Appends "name":text to the position, once per field: the first wins. */
static void add_position(struct dbz_decoder *d, const char *name, int bit, struct js_str text)
{
    if (d->position_seen & (1u << bit))
        return;
    d->position_seen |= 1u << bit;
    if (d->position.len > 0)
        buf_push(&d->position, ',');
    buf_push(&d->position, '"');
    buf_append(&d->position, name, strlen(name));
    buf_append(&d->position, "\":", 2);
    buf_append(&d->position, text.ptr, text.len);
}

static void set_text(struct buf *b, struct cell *c, struct js_str v)
{
    c->kind = CELL_BYTES;
    c->v.off = b->len;
    c->len = (uint32_t)v.len;
    buf_append(b, v.ptr, v.len);
}

/* Reads the value at the scanner as metadata f. Only a syntax error fails:
 * a value of another kind is left out (lsn and txId: kept in the position).
 * A field given twice keeps its first value that is not null. */
static bool read_meta(struct ctx *c, const struct meta_field *f)
{
    struct dbz_decoder *d = c->d;
    struct dbz_source *src = &c->row->src;
    enum js_kind k = js_peek(c->s);
    struct js_str text;
    bool integer = false, ok;
    bool textual = f->kind == META_SEQUENCE || f->kind == META_SNAPSHOT || f->kind == META_DB ||
                   f->kind == META_SCHEMA || f->kind == META_TABLE;
    if (k == JS_NULL)
        ok = js_literal(c->s);
    else if (k == JS_NUMBER)
        ok = js_number(c->s, &text, &integer);
    else if (k == JS_STRING && textual)
        ok = js_string(c->s, &text); /* its content */
    else
        ok = js_skip(c->s, &text);   /* its JSON text */
    if (!ok)
        return fail_syntax(d, c->s, c->base);
    if (k == JS_NULL)
        return true;
    switch (f->kind) {
    case META_LSN:
    case META_TX_ID:
    case META_TX_ORDER:
    case META_TX_COLLECTION_ORDER: {
        struct cell *cell = f->kind == META_LSN      ? &src->lsn
                            : f->kind == META_TX_ID  ? &src->tx_id
                            : f->kind == META_TX_ORDER ? &src->tx_order
                                                       : &src->tx_collection_order;
        int64_t v;
        if (cell->kind != CELL_NULL)
            return true;
        if (integer && js_to_int64(text, &v)) {
            cell->kind = CELL_INT;
            cell->v.i = v;
        } else if (f->kind == META_LSN || f->kind == META_TX_ID) {
            add_position(d, f->name, f->kind == META_LSN ? POSITION_LSN_BIT : POSITION_TX_ID_BIT,
                         text);
        }
        return true;
    }
    case META_POSITION:
        add_position(d, f->name, f->bit, text);
        return true;
    default:
        break;
    }
    if (f->kind == META_SEQUENCE || f->kind == META_SNAPSHOT) {
        struct cell *cell = f->kind == META_SEQUENCE ? &src->sequence : &src->snapshot;
        if (cell->kind == CELL_NULL)
            set_text(&c->row->meta, cell, text);
        return true;
    }
    struct cell *part = f->kind == META_DB ? &d->db : f->kind == META_SCHEMA ? &d->schema : &d->table;
    if (k == JS_STRING && text.len > 0 && part->kind == CELL_NULL)
        set_text(&d->source_text, part, text);
    return true;
}

/* Forgets the decoder's part of the source metadata read so far (row_reset()
 * forgets the row's). */
static void forget_source(struct dbz_decoder *d)
{
    d->db.kind = d->schema.kind = d->table.kind = CELL_NULL;
    buf_reset(&d->source_text);
    buf_reset(&d->position);
    d->position_seen = 0;
}

/* Writes the name (db.schema.table) and the position into the row. */
static void finish_source(struct dbz_decoder *d, struct dbz_row *row)
{
    const struct cell *parts[] = {&d->db, &d->schema, &d->table};
    size_t start = row->meta.len;
    for (size_t i = 0; i < 3; i++) {
        if (parts[i]->kind == CELL_NULL)
            continue;
        if (row->meta.len > start)
            buf_push(&row->meta, '.');
        buf_append(&row->meta, d->source_text.data + parts[i]->v.off, parts[i]->len);
    }
    if (row->meta.len > start) {
        row->src.name.kind = CELL_BYTES;
        row->src.name.v.off = start;
        row->src.name.len = (uint32_t)(row->meta.len - start);
    }
    if (d->position.len > 0) {
        row->src.position.kind = CELL_BYTES;
        row->src.position.v.off = row->meta.len;
        buf_push(&row->meta, '{');
        buf_append(&row->meta, d->position.data, d->position.len);
        buf_push(&row->meta, '}');
        row->src.position.len = (uint32_t)(row->meta.len - row->src.position.v.off);
    }
}

/* ---------- images and envelopes ---------- */

static const struct field_type inferred_type = {.inferred = true};

static bool is_flattened_meta(const char *name, size_t len)
{
    return (len == 4 && memcmp(name, "__op", 4) == 0) ||
           (len == 7 && memcmp(name, "__ts_ms", 7) == 0) ||
           (len == 14 && memcmp(name, "__source_ts_ms", 14) == 0);
}

/* Reads the object at the scanner as the row image, into row->fields. With a
 * flattened record, __op, __ts_ms and __source_ts_ms become metadata. */
static bool decode_image(struct ctx *c, const struct dbz_schema *schema, bool flattened)
{
    struct dbz_decoder *d = c->d;
    struct dbz_row *row = c->row;
    enum js_kind k = js_peek(c->s);
    if (k != JS_OBJECT)
        return k == JS_ERROR ? fail_syntax(d, c->s, c->base)
                             : fail(d, "%s: expected an object, got %s", c->image, kind_name(k));
    size_t first = row->nfields;
    if (schema != NULL) {
        if (d->fmap_cap < schema->nfields) {
            d->fmap_cap = schema->nfields;
            d->fmap = xrealloc(d->fmap, d->fmap_cap * sizeof *d->fmap);
        }
        for (size_t i = 0; i < schema->nfields; i++) {
            const struct schema_field *f = &schema->fields[i];
            if (flattened && is_flattened_meta(f->name, strlen(f->name)))
                continue;
            d->fmap[row->nfields - first] = f;
            add_field(row, f->name, strlen(f->name), &f->type);
        }
    }
    js_enter_object(c->s);
    struct js_str name;
    int more;
    size_t hint = 0;
    bool deleted = false;
    while ((more = js_next_member(c->s, &name)) == 1) {
        if (name.len == 0 || (!js_in_input(c->s, name) && memchr(name.ptr, '\0', name.len) != NULL))
            return fail(d, "%s: a field name is empty or holds a NUL character", c->image);
        if (flattened && is_flattened_meta(name.ptr, name.len)) {
            int64_t v;
            if (name.len == 4) { /* __op */
                struct js_str op;
                if (!read_string(c, "__op", "an operation string", &op))
                    return false;
                if (op.len != 1 || strchr("cudrtm", op.ptr[0]) == NULL)
                    return fail(d, "%s.__op: unknown operation '%.*s'", c->image,
                                (int)(op.len > 10 ? 10 : op.len), op.ptr);
                row->op = op.ptr[0];
            } else if (js_peek(c->s) == JS_NULL) {
                js_literal(c->s);
            } else if (!read_int(c, name.len == 7 ? "__ts_ms" : "__source_ts_ms",
                                 "milliseconds", &v)) {
                return false;
            } else if (name.len == 7) {
                row->has_ts = true;
                row->ts_ms = v;
            } else {
                row->has_source_ts = true;
                row->source_ts_ms = v;
            }
            continue;
        }
        const struct meta_field *mf;
        if (flattened && name.len > 2 && name.ptr[0] == '_' && name.ptr[1] == '_' &&
            (mf = flattened_field(name.ptr + 2, name.len - 2)) != NULL) {
            const uint8_t *at = c->s->p;
            char kept[64]; /* a decoded name is in scratch that reading the value may reuse */
            if (!js_in_input(c->s, name) && name.len <= sizeof kept) {
                memcpy(kept, name.ptr, name.len);
                name.ptr = kept;
            }
            if (!read_meta(c, mf))
                return false;
            js_seek(c->s, at); /* read again below as a data field */
        }
        if (flattened && name.len == 9 && memcmp(name.ptr, "__deleted", 9) == 0) {
            enum js_kind dk = js_peek(c->s);
            if (dk == JS_TRUE) {
                deleted = true;
            } else if (dk == JS_STRING) {
                struct js_str v;
                const uint8_t *at = c->s->p;
                js_string(c->s, &v);
                deleted = v.len == 4 && memcmp(v.ptr, "true", 4) == 0;
                js_seek(c->s, at); /* read again below as a data field */
            }
        }
        struct dbz_field *field = NULL;
        if (schema != NULL) {
            const struct schema_field *sf = NULL;
            size_t nf = row->nfields - first;
            for (size_t probe = 0; probe < nf; probe++) {
                size_t i = (hint + probe) % nf;
                struct dbz_field *cand = &row->fields[first + i];
                if (cand->name_len == name.len &&
                    memcmp(row->names.data + cand->name_off, name.ptr, name.len) == 0) {
                    field = cand;
                    sf = d->fmap[i];
                    hint = i + 1;
                    break;
                }
            }
            if (field == NULL)
                return fail(d, "%s.%.*s: not in the message's schema", c->image,
                            (int)(name.len > 64 ? 64 : name.len), name.ptr);
            if (field->cell.kind != CELL_NULL || field->cell.aux == 2)
                return fail(d, "%s.%.*s: the field appears twice", c->image,
                            (int)(name.len > 64 ? 64 : name.len), name.ptr);
            if (!convert(c, sf, sf->conv, &field->cell))
                return false;
            if (field->cell.kind == CELL_NULL)
                field->cell.aux = 2; /* seen, null */
        } else {
            for (size_t i = first; i < row->nfields; i++) {
                if (row->fields[i].name_len == name.len &&
                    memcmp(row->names.data + row->fields[i].name_off, name.ptr, name.len) == 0)
                    return fail(d, "%s.%.*s: the field appears twice", c->image,
                                (int)(name.len > 64 ? 64 : name.len), name.ptr);
            }
            field = add_field(row, name.ptr, name.len, &inferred_type);
            if (!convert_inferred(c, &field->cell))
                return false;
        }
    }
    if (more < 0)
        return fail_syntax(d, c->s, c->base);
    for (size_t i = first; i < row->nfields; i++)
        if (row->fields[i].cell.kind == CELL_NULL)
            row->fields[i].cell.aux = 0;
    if (flattened && row->op == 0)
        row->op = deleted ? 'd' : 'u';
    return true;
}

struct range {
    const uint8_t *p;
    size_t len;
    bool present;
};

/* Reads payload.source: ts_ms and the source metadata. */
static bool read_source(struct ctx *c)
{
    enum js_kind k = js_peek(c->s);
    if (k == JS_NULL)
        return js_literal(c->s) || fail_syntax(c->d, c->s, c->base); /* "n~ll" peeks as null */
    if (k != JS_OBJECT)
        return k == JS_ERROR ? fail_syntax(c->d, c->s, c->base)
                             : fail(c->d, "payload.source: expected an object, got %s", kind_name(k));
    js_enter_object(c->s);
    struct js_str name;
    int more;
    while ((more = js_next_member(c->s, &name)) == 1) {
        const struct meta_field *f;
        if (name.len == 5 && memcmp(name.ptr, "ts_ms", 5) == 0 && js_peek(c->s) != JS_NULL) {
            const char *saved = c->image;
            c->image = "payload.source";
            if (!read_int(c, "ts_ms", "milliseconds", &c->row->source_ts_ms))
                return false;
            c->image = saved;
            c->row->has_source_ts = true;
        } else if ((f = source_field(name.ptr, name.len)) != NULL) {
            if (!read_meta(c, f))
                return false;
        } else if (!js_skip(c->s, NULL)) {
            return fail_syntax(c->d, c->s, c->base);
        }
    }
    return more == 0 || fail_syntax(c->d, c->s, c->base);
}

/* Reads payload.transaction (null, or id, total_order, data_collection_order);
 * a value of another kind is skipped, as metadata of an unexpected kind is. */
static bool read_transaction(struct ctx *c)
{
    if (js_peek(c->s) != JS_OBJECT)
        return js_skip(c->s, NULL) || fail_syntax(c->d, c->s, c->base);
    js_enter_object(c->s);
    struct js_str name;
    int more;
    while ((more = js_next_member(c->s, &name)) == 1) {
        const struct meta_field *f = transaction_field(name.ptr, name.len);
        if (f != NULL ? !read_meta(c, f) : !js_skip(c->s, NULL))
            return f != NULL ? false : fail_syntax(c->d, c->s, c->base);
    }
    return more == 0 || fail_syntax(c->d, c->s, c->base);
}

static bool key_is(struct js_str k, const char *word)
{
    size_t n = strlen(word);
    return k.len == n && memcmp(k.ptr, word, n) == 0;
}

/* Decodes the payload object at [p, p+len) of the message (at offset base). */
/* Decodes the payload object at [p, p+len) of the message (at offset base).
 * With `closing`, the payload is followed by the '}' of the outer
 * {"schema":..,"payload":..} object, which is checked here. */
static bool decode_payload(struct dbz_decoder *d, const uint8_t *p, size_t len, size_t base,
                           const struct dbz_schema *schema, struct dbz_row *row, bool closing)
{
    struct json_scan *s = &d->scan;
    js_reset(s, p, len);
    struct ctx c = {.d = d, .s = s, .base = base, .row = row, .image = "payload"};
    enum js_kind k = js_peek(s);
    if (k != JS_OBJECT)
        return k == JS_ERROR ? fail_syntax(d, s, base)
                             : fail(d, "payload: expected an object, got %s", kind_name(k));
    js_enter_object(s);
    struct range before = {0}, after = {0};
    bool has_op = false, flattened = false, after_decoded = false;
    bool eager = schema == NULL || schema->envelope;
    struct js_str name, raw;
    int more;
    while ((more = js_next_member(s, &name)) == 1) {
        if (eager && !after_decoded && !after.present && key_is(name, "after") &&
            js_peek(s) == JS_OBJECT) {
            /* The common case, decoded in place: the image of c, u and r. */
            struct ctx ic = c;
            ic.image = "payload.after";
            const uint8_t *at = s->p;
            if (decode_image(&ic, schema, false)) {
                after.p = at;
                after.len = (size_t)(s->p - at);
                after.present = after_decoded = true;
                continue;
            }
            if (schema != NULL || js_failed(s))
                return false; /* a schema's verdict, or a syntax error */
            /* Without a schema, an image that does not decode may belong to an
             * operation that ignores it: keep its place, and decode it again
             * below (reporting the error) only if the operation needs it. */
            forget_image(row);
            d->err[0] = '\0';
            js_seek(s, at);
            if (!js_skip(s, &raw))
                return fail_syntax(d, s, base);
            after.p = (const uint8_t *)raw.ptr;
            after.len = raw.len;
            after.present = true;
            continue;
        }
        if (key_is(name, "op")) {
            struct js_str op;
            if (!read_string(&c, "op", "an operation string", &op))
                return false;
            if (op.len != 1 || strchr("cudrtm", op.ptr[0]) == NULL)
                return fail(d, "payload.op: unknown operation '%.*s'",
                            (int)(op.len > 10 ? 10 : op.len), op.ptr);
            row->op = op.ptr[0];
            has_op = true;
        } else if (key_is(name, "before") || key_is(name, "after")) {
            struct range *r = name.ptr[0] == 'b' ? &before : &after;
            const uint8_t *at = s->p;
            if (!js_skip(s, &raw))
                return fail_syntax(d, s, base);
            r->p = (const uint8_t *)raw.ptr;
            r->len = raw.len;
            r->present = !(raw.len == 4 && memcmp(raw.ptr, "null", 4) == 0);
            (void)at;
        } else if (key_is(name, "source")) {
            if (!read_source(&c))
                return false;
        } else if (key_is(name, "transaction")) {
            if (!read_transaction(&c))
                return false;
        } else if (key_is(name, "ts_ms") && js_peek(s) != JS_NULL) {
            if (!read_int(&c, "ts_ms", "milliseconds", &row->ts_ms))
                return false;
            row->has_ts = true;
        } else {
            if (name.len > 2 && name.ptr[0] == '_' && name.ptr[1] == '_' &&
                (key_is(name, "__op") || key_is(name, "__deleted")))
                flattened = true;
            if (!js_skip(s, NULL))
                return fail_syntax(d, s, base);
        }
    }
    if (more < 0)
        return fail_syntax(d, s, base);
    if (closing) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
            s->p++;
        if (s->p >= s->end || *s->p != '}')
            return fail(d, "invalid JSON at byte %zu: expected '}' after the payload",
                        base + (size_t)(s->p - s->begin));
        s->p++;
    }
    if (!js_at_end(s))
        return fail(d, "invalid JSON at byte %zu: text after the %s",
                    base + (size_t)(s->p - s->begin),
                    closing || base == 0 ? "message" : "payload"); /* at 0: no wrapper */

    /* A record whose schema is Debezium's row schema ("<topic>.Value", which
     * ExtractNewRecordState keeps) is a flattened record even without __op
     * or __deleted. */
    if (!has_op && schema != NULL && !schema->envelope && schema->row)
        flattened = true;
    if (has_op && !flattened) {
        const struct dbz_schema *image_schema = schema != NULL && schema->envelope ? schema : NULL;
        if (schema != NULL && !schema->envelope)
            return fail(d, "schema: describes a flattened record, but the payload is an envelope");
        if (after_decoded && row->op != 'c' && row->op != 'u' && row->op != 'r')
            forget_image(row); /* not this operation's image */
        if (row->op == 't' || row->op == 'm') {
            if (image_schema != NULL)
                for (size_t i = 0; i < image_schema->nfields; i++)
                    add_field(row, image_schema->fields[i].name, strlen(image_schema->fields[i].name),
                              &image_schema->fields[i].type);
            return true;
        }
        const struct range *img = row->op == 'd' ? &before : &after;
        const char *img_name = row->op == 'd' ? "payload.before" : "payload.after";
        if (!img->present)
            return fail(d, "%s: missing or null for op '%c'", img_name, row->op);
        if (img == &after && after_decoded)
            return true;
        js_reset(&d->sub, img->p, img->len);
        struct ctx ic = {.d = d, .s = &d->sub, .base = base + (size_t)(img->p - p), .row = row,
                         .image = img_name};
        return decode_image(&ic, image_schema, false);
    }
    if (flattened) {
        if (schema != NULL && schema->envelope)
            return fail(d, "schema: describes an envelope, but the payload is a flattened record");
        forget_image(row);
        js_reset(&d->sub, p, len);
        struct ctx ic = {.d = d, .s = &d->sub, .base = base, .row = row, .image = "payload"};
        row->has_ts = row->has_source_ts = false;
        memset(&row->src, 0, sizeof row->src); /* a data column named source is no source block */
        buf_reset(&row->meta);
        forget_source(d);
        return decode_image(&ic, schema, true);
    }
    return fail(d, "payload: not a Debezium change event: no 'op' (envelope) and no '__op' or "
                   "'__deleted' (flattened record)");
}

/* ---------- entry point ---------- */

/* The fast path for Kafka Connect's compact output, {"schema":S,"payload":P}
 * with S byte-equal to a schema already parsed: S is neither scanned nor
 * validated again. Returns false (nothing decided) when it does not apply. */
static bool decode_known_schema(struct dbz_decoder *d, const uint8_t *msg, size_t len,
                                struct dbz_row *row, enum dbz_result *result)
{
    static const char head[] = "{\"schema\":";
    static const char mid[] = ",\"payload\":";
    const size_t hl = sizeof head - 1, ml = sizeof mid - 1;
    if (len < hl || memcmp(msg, head, hl) != 0)
        return false;
    for (size_t k = 0; k < SCHEMA_CACHE; k++) {
        const struct dbz_schema *s = d->cache[(d->last_hit + k) % SCHEMA_CACHE];
        if (s == NULL || len < hl + s->text_len + ml + 2 ||
            memcmp(msg + hl + s->text_len, mid, ml) != 0 ||
            memcmp(msg + hl, s->text, s->text_len) != 0)
            continue;
        d->last_hit = (d->last_hit + k) % SCHEMA_CACHE;
        size_t off = hl + s->text_len + ml;
        size_t bad;
        if (!utf8_valid(msg + off, len - off, &bad)) {
            fail(d, "invalid UTF-8 at byte %zu", off + bad);
            *result = DBZ_ERROR;
            return true;
        }
        const uint8_t *p = msg + off;
        size_t n = len - off;
        while (n > 0 && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
            p++;
            n--;
        }
        if (n >= 4 && memcmp(p, "null", 4) == 0) {
            /* {"schema":..,"payload":null}: a tombstone, if nothing else follows. */
            size_t q = 4;
            while (q < n && (p[q] == ' ' || p[q] == '\n' || p[q] == '\r' || p[q] == '\t'))
                q++;
            if (q < n && p[q] == '}') {
                q++;
                while (q < n && (p[q] == ' ' || p[q] == '\n' || p[q] == '\r' || p[q] == '\t'))
                    q++;
                if (q == n) {
                    *result = DBZ_TOMBSTONE;
                    return true;
                }
            }
            return false; /* let the general path report what is wrong */
        }
        if (decode_payload(d, msg + off, len - off, off, s, row, true)) {
            *result = DBZ_ROW;
            return true;
        }
        /* Refused: the general path decides, so that a message gets the same
         * error whichever path it takes (refusals are rare; the cost is not). */
        d->err[0] = '\0';
        row_reset(row);
        forget_source(d);
        return false;
    }
    return false;
}

struct dbz_decoder *dbz_decoder_new(void)
{
    return xcalloc(1, sizeof(struct dbz_decoder));
}

void dbz_decoder_free(struct dbz_decoder *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < SCHEMA_CACHE; i++)
        schema_free(d->cache[i]);
    js_free(&d->scan);
    js_free(&d->sub);
    js_free(&d->check);
    buf_free(&d->scratch);
    buf_free(&d->source_text);
    buf_free(&d->position);
    free(d->fmap);
    free(d);
}

static enum dbz_result decode_message(struct dbz_decoder *d, const void *value, size_t len,
                                      struct dbz_row *row)
{
    size_t bad;
    enum dbz_result fast;
    if (decode_known_schema(d, value, len, row, &fast))
        return fast;
    if (!utf8_valid(value, len, &bad)) {
        fail(d, "invalid UTF-8 at byte %zu", bad);
        return DBZ_ERROR;
    }
    struct json_scan *s = &d->scan;
    js_reset(s, value, len);
    enum js_kind k = js_peek(s);
    if (k != JS_OBJECT) {
        struct js_str raw;
        if (k == JS_EOF)
            fail(d, "empty message");
        else if (k == JS_ERROR)
            fail_syntax(d, s, 0);
        else if (!js_skip(s, &raw)) /* "this is not json" starts like true */
            fail_syntax(d, s, 0);
        else if (!js_at_end(s))
            fail(d, "invalid JSON at byte %zu: text after the value", (size_t)(raw.ptr + raw.len - (const char *)value));
        else
            fail(d, "not a JSON object: the message is %s", kind_name(k));
        return DBZ_ERROR;
    }
    /* Top level: {"schema": ..., "payload": ...} or the payload itself. */
    js_enter_object(s);
    struct js_str name, schema_text = {0}, payload_text = {0};
    bool has_schema = false, has_payload = false, other = false;
    int more;
    while ((more = js_next_member(s, &name)) == 1) {
        struct js_str raw;
        bool is_schema = key_is(name, "schema"), is_payload = key_is(name, "payload");
        if (!is_schema && !is_payload) {
            other = true; /* the message is the payload itself: no need to read on */
            break;
        }
        if (!js_skip(s, &raw)) {
            fail_syntax(d, s, 0);
            return DBZ_ERROR;
        }
        if (is_schema) {
            schema_text = raw;
            has_schema = true;
        } else {
            payload_text = raw;
            has_payload = true;
        }
    }
    if (more < 0) {
        fail_syntax(d, s, 0);
        return DBZ_ERROR;
    }
    if (!other && !js_at_end(s)) {
        fail(d, "invalid JSON at byte %zu: text after the message", (size_t)(s->p - s->begin));
        return DBZ_ERROR;
    }
    const uint8_t *base = value;
    if (has_schema && has_payload && !other) {
        if (payload_text.len == 4 && memcmp(payload_text.ptr, "null", 4) == 0)
            return DBZ_TOMBSTONE; /* a tombstone written with its schema */
        const struct dbz_schema *schema = NULL;
        if (!(schema_text.len == 4 && memcmp(schema_text.ptr, "null", 4) == 0)) {
            schema = schema_lookup(d, schema_text);
            if (schema == NULL)
                return DBZ_ERROR;
        }
        size_t off = (size_t)((const uint8_t *)payload_text.ptr - base);
        return decode_payload(d, (const uint8_t *)payload_text.ptr, payload_text.len, off,
                              schema, row, false)
                   ? DBZ_ROW
                   : DBZ_ERROR;
    }
    return decode_payload(d, base, len, 0, NULL, row, false) ? DBZ_ROW : DBZ_ERROR;
}

enum dbz_result dbz_decode(struct dbz_decoder *d, const void *value, size_t len,
                           struct dbz_row *row, char *err, size_t errlen)
{
    d->err = err;
    d->errlen = errlen;
    err[0] = '\0';
    row_reset(row);
    forget_source(d);
    if (value == NULL)
        return DBZ_TOMBSTONE;
    enum dbz_result r = decode_message(d, value, len, row);
    if (r == DBZ_ROW)
        finish_source(d, row);
    return r;
}
