/* kafka_record.c -- see kafka_record.h for the contract. */
#include "kafka_record.h"

#include <string.h>

#include "base64.h"
#include "utf8.h"

static void put_base64_object(const void *data, size_t len, struct buf *out)
{
    buf_append(out, "{\"base64\":\"", 11);
    base64_encode(data, len, out);
    buf_append(out, "\"}", 2);
}

/* A JSON string of valid UTF-8 text, escaped. */
static void put_escaped(const uint8_t *p, size_t n, struct buf *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        buf_append(out, p + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_append(out, "\\\"", 2); break;
        case '\\': buf_append(out, "\\\\", 2); break;
        case '\n': buf_append(out, "\\n", 2); break;
        case '\r': buf_append(out, "\\r", 2); break;
        case '\t': buf_append(out, "\\t", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(out, u, 6);
        }
        }
    }
    buf_append(out, p + run, n - run);
}

/* A JSON string of any bytes: each byte that is not part of valid UTF-8
 * becomes U+FFFD. */
static void put_string(const void *data, size_t len, struct buf *out)
{
    const uint8_t *p = data;
    size_t bad;
    buf_push(out, '"');
    while (!utf8_valid(p, len, &bad)) {
        put_escaped(p, bad, out);
        buf_append(out, "\xEF\xBF\xBD", 3);
        p += bad + 1;
        len -= bad + 1;
    }
    put_escaped(p, len, out);
    buf_push(out, '"');
}

static bool is_null(struct js_str raw)
{
    return raw.len == 4 && memcmp(raw.ptr, "null", 4) == 0;
}

bool kafka_key_text(struct json_scan *scan, const void *key, size_t len, struct buf *out)
{
    if (key == NULL)
        return false;
    if (!utf8_valid(key, len, NULL)) {
        put_base64_object(key, len, out);
        return true;
    }
    /* One pass that checks the JSON and finds the converter's wrapper:
     * {"schema":S,"payload":P}, in either order and nothing else. */
    struct js_str raw = {0}, name, member, payload = {0};
    bool json, schema = false, other = false;
    js_reset(scan, key, len);
    if (js_peek(scan) == JS_OBJECT) {
        raw.ptr = (const char *)scan->p;
        js_enter_object(scan);
        int more;
        while ((more = js_next_member(scan, &name)) == 1 && js_skip(scan, &member)) {
            if (name.len == 6 && memcmp(name.ptr, "schema", 6) == 0 && !schema)
                schema = true;
            else if (name.len == 7 && memcmp(name.ptr, "payload", 7) == 0 && payload.ptr == NULL)
                payload = member;
            else
                other = true;
        }
        json = more == 0;
        raw.len = (size_t)((const char *)scan->p - raw.ptr);
    } else {
        json = js_skip(scan, &raw);
    }
    if (!json || !js_at_end(scan)) {
        buf_append(out, key, len); /* not JSON: the text itself */
        return true;
    }
    if (!other && schema && payload.ptr != NULL)
        raw = payload;
    if (is_null(raw))
        return false;
    buf_append(out, raw.ptr, raw.len);
    return true;
}

static void put_value(const struct kafka_header *h, struct buf *out)
{
    if (h->value == NULL)
        buf_append(out, "null", 4);
    else if (utf8_valid(h->value, h->len, NULL))
        put_string(h->value, h->len, out);
    else
        put_base64_object(h->value, h->len, out);
}

bool kafka_headers_json(const struct kafka_header *headers, size_t n, struct buf *out)
{
    if (n == 0)
        return false;
    buf_push(out, '{');
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const char *name = headers[i].name;
        size_t seen = 0, count = 0;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(headers[k].name, name) == 0) {
                if (k < i)
                    seen++;
                count++;
            }
        }
        if (seen > 0)
            continue; /* written with its first occurrence */
        if (!first)
            buf_push(out, ',');
        first = false;
        put_string(name, strlen(name), out);
        buf_push(out, ':');
        if (count == 1) {
            put_value(&headers[i], out);
            continue;
        }
        buf_push(out, '[');
        for (size_t k = i, written = 0; k < n; k++) {
            if (strcmp(headers[k].name, name) != 0)
                continue;
            if (written++ > 0)
                buf_push(out, ',');
            put_value(&headers[k], out);
        }
        buf_push(out, ']');
    }
    buf_push(out, '}');
    return true;
}
