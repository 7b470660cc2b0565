/* json_scan.c -- see json_scan.h. */
#include "json_scan.h"

#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void js_reset(struct json_scan *s, const void *data, size_t len)
{
    s->begin = s->p = data;
    s->end = s->begin + len;
    s->error = NULL;
    s->error_offset = 0;
    s->fresh = false;
}

void js_free(struct json_scan *s)
{
    buf_free(&s->key_scratch);
    buf_free(&s->value_scratch);
}

bool js_fail(struct json_scan *s, const char *what)
{
    if (s->error == NULL) {
        s->error = what;
        s->error_offset = (size_t)(s->p - s->begin);
    }
    s->p = s->end; /* nothing more is read after an error */
    return false;
}

void js_seek(struct json_scan *s, const uint8_t *at)
{
    s->p = at;
    s->fresh = false;
}

bool js_failed(const struct json_scan *s)
{
    return s->error != NULL;
}

const char *js_error(const struct json_scan *s)
{
    return s->error ? s->error : "no error";
}

size_t js_error_offset(const struct json_scan *s)
{
    return s->error_offset;
}

static inline void skip_ws(struct json_scan *s)
{
    /* Compact JSON has no whitespace: one comparison decides most calls. */
    while (s->p < s->end && *s->p <= ' ' &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

enum js_kind js_peek(struct json_scan *s)
{
    if (s->error != NULL)
        return JS_ERROR;
    skip_ws(s);
    if (s->p >= s->end)
        return JS_EOF;
    switch (*s->p) {
    case '{': return JS_OBJECT;
    case '[': return JS_ARRAY;
    case '"': return JS_STRING;
    case 't': return JS_TRUE;
    case 'f': return JS_FALSE;
    case 'n': return JS_NULL;
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
            return JS_NUMBER;
        js_fail(s, "unexpected character");
        return JS_ERROR;
    }
}

static bool expect_char(struct json_scan *s, char c, const char *what)
{
    skip_ws(s);
    if (s->p >= s->end || *s->p != c)
        return js_fail(s, what);
    s->p++;
    return true;
}

bool js_enter_object(struct json_scan *s)
{
    if (js_peek(s) != JS_OBJECT)
        return js_fail(s, "expected an object");
    s->p++;
    s->fresh = true;
    return true;
}

bool js_enter_array(struct json_scan *s)
{
    if (js_peek(s) != JS_ARRAY)
        return js_fail(s, "expected an array");
    s->p++;
    s->fresh = true;
    return true;
}

static int hex4(const uint8_t *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
    uint8_t out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (uint8_t)(0xF0 | (cp >> 18));
        out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(b, out, n);
}

/* Decodes the string at s->p (at its opening quote); zero-copy when it has no escape. */
static bool scan_string(struct json_scan *s, struct buf *scratch, struct js_str *out)
{
    if (s->p >= s->end || *s->p != '"')
        return js_fail(s, "expected a string");
    const uint8_t *start = ++s->p;
    const uint8_t *q = start;
#if defined(__SSE2__)
    /* Sixteen bytes at a time up to the first quote, backslash or control character. */
    const __m128i quote16 = _mm_set1_epi8('"'), slash16 = _mm_set1_epi8('\\');
    const __m128i ctl16 = _mm_set1_epi8(0x1F);
    while (q + 16 <= s->end) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote16), _mm_cmpeq_epi8(v, slash16)),
                                   _mm_cmpeq_epi8(_mm_max_epu8(v, ctl16), ctl16)); /* v <= 0x1F */
        int mask = _mm_movemask_epi8(hit);
        if (mask != 0) {
            q += __builtin_ctz((unsigned)mask);
            goto special; /* q is at the first special byte */
        }
        q += 16;
    }
#endif
    /* Eight bytes at a time while none is a quote, a backslash or a control character. */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (q + 8 <= s->end) {
        uint64_t w;
        memcpy(&w, q, 8);
        uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
        uint64_t special = ((quote - ones) & ~quote) | ((slash - ones) & ~slash) |
                           ((w - ones * 0x20) & ~w);
        if (special & highs)
            break;
        q += 8;
    }
#if defined(__SSE2__)
special:
#endif
    while (q < s->end && *q != '"' && *q != '\\') {
        if (*q < 0x20) {
            s->p = q;
            return js_fail(s, "control character in a string");
        }
        q++;
    }
    if (q >= s->end) {
        s->p = q;
        return js_fail(s, "unterminated string");
    }
    if (*q == '"') {
        out->ptr = (const char *)start;
        out->len = (size_t)(q - start);
        s->p = q + 1;
        return true;
    }
    /* Escapes: decode into scratch. */
    buf_reset(scratch);
    buf_append(scratch, start, (size_t)(q - start));
    while (q < s->end && *q != '"') {
        if (*q < 0x20) {
            s->p = q;
            return js_fail(s, "control character in a string");
        }
        if (*q != '\\') {
            const uint8_t *run = q;
            while (q < s->end && *q != '"' && *q != '\\' && *q >= 0x20)
                q++;
            buf_append(scratch, run, (size_t)(q - run));
            continue;
        }
        if (q + 1 >= s->end) {
            s->p = q;
            return js_fail(s, "unterminated string");
        }
        char c = (char)q[1];
        q += 2;
        switch (c) {
        case '"': buf_push(scratch, '"'); break;
        case '\\': buf_push(scratch, '\\'); break;
        case '/': buf_push(scratch, '/'); break;
        case 'b': buf_push(scratch, '\b'); break;
        case 'f': buf_push(scratch, '\f'); break;
        case 'n': buf_push(scratch, '\n'); break;
        case 'r': buf_push(scratch, '\r'); break;
        case 't': buf_push(scratch, '\t'); break;
        case 'u': {
            int hi = q + 4 <= s->end ? hex4(q) : -1;
            if (hi < 0) {
                s->p = q;
                return js_fail(s, "bad \\u escape");
            }
            q += 4;
            uint32_t cp = (uint32_t)hi;
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                int lo = q + 6 <= s->end && q[0] == '\\' && q[1] == 'u' ? hex4(q + 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    s->p = q;
                    return js_fail(s, "lone surrogate in a \\u escape");
                }
                q += 6;
                cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
                s->p = q;
                return js_fail(s, "lone surrogate in a \\u escape");
            }
            put_utf8(scratch, cp);
            break;
        }
        default:
            s->p = q - 2; /* at the backslash */
            return js_fail(s, "bad escape in a string");
        }
    }
    if (q >= s->end) {
        s->p = q;
        return js_fail(s, "unterminated string");
    }
    s->p = q + 1;
    buf_reserve(scratch, 1); /* data is never NULL, even for "" */
    out->ptr = (const char *)scratch->data;
    out->len = scratch->len;
    return true;
}

static int after_value(struct json_scan *s, char close, const char *what)
{
    skip_ws(s);
    if (s->p >= s->end) {
        js_fail(s, what);
        return -1;
    }
    if (*s->p == ',') {
        s->p++;
        return 1;
    }
    if (*s->p == close) {
        s->p++;
        return 0;
    }
    js_fail(s, what);
    return -1;
}

int js_next_member(struct json_scan *s, struct js_str *name)
{
    if (s->error != NULL)
        return -1;
    skip_ws(s);
    if (s->fresh) {
        s->fresh = false;
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
    } else {
        int more = after_value(s, '}', "expected ',' or '}' after an object member");
        if (more <= 0)
            return more;
        skip_ws(s);
    }
    if (!scan_string(s, &s->key_scratch, name))
        return -1;
    if (!expect_char(s, ':', "expected ':' after a member name"))
        return -1;
    return 1;
}

int js_next_element(struct json_scan *s)
{
    if (s->error != NULL)
        return -1;
    skip_ws(s);
    if (s->p >= s->end) {
        js_fail(s, "unterminated array");
        return -1;
    }
    if (s->fresh) {
        s->fresh = false;
        if (*s->p == ']') {
            s->p++;
            return 0;
        }
        return 1;
    }
    return after_value(s, ']', "expected ',' or ']' after an array element");
}

bool js_string(struct json_scan *s, struct js_str *out)
{
    if (js_peek(s) != JS_STRING)
        return js_fail(s, "expected a string");
    return scan_string(s, &s->value_scratch, out);
}

bool js_number(struct json_scan *s, struct js_str *text, bool *integer)
{
    if (js_peek(s) != JS_NUMBER)
        return js_fail(s, "expected a number");
    const uint8_t *q = s->p;
    const uint8_t *start = q;
    bool is_int = true;
    if (q < s->end && *q == '-')
        q++;
    if (q >= s->end || *q < '0' || *q > '9')
        return js_fail(s, "bad number");
    if (*q == '0') {
        q++;
    } else {
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < s->end && *q == '.') {
        is_int = false;
        q++;
        if (q >= s->end || *q < '0' || *q > '9') {
            s->p = q;
            return js_fail(s, "bad number: no digit after '.'");
        }
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < s->end && (*q == 'e' || *q == 'E')) {
        is_int = false;
        q++;
        if (q < s->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= s->end || *q < '0' || *q > '9') {
            s->p = q;
            return js_fail(s, "bad number: no digit in the exponent");
        }
        while (q < s->end && *q >= '0' && *q <= '9')
            q++;
    }
    text->ptr = (const char *)start;
    text->len = (size_t)(q - start);
    *integer = is_int;
    s->p = q;
    return true;
}

static bool match_word(struct json_scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return js_fail(s, "bad literal");
    s->p += n;
    return true;
}

bool js_literal(struct json_scan *s)
{
    switch (js_peek(s)) {
    case JS_TRUE: return match_word(s, "true", 4);
    case JS_FALSE: return match_word(s, "false", 5);
    case JS_NULL: return match_word(s, "null", 4);
    default: return js_fail(s, "expected true, false or null");
    }
}

#define MAX_DEPTH 256

bool js_skip(struct json_scan *s, struct js_str *raw)
{
    char stack[MAX_DEPTH]; /* the closing character of each open container */
    int depth = 0;
    skip_ws(s);
    const uint8_t *start = s->p;
    for (;;) {
        struct js_str str;
        bool integer;
        switch (js_peek(s)) {
        case JS_OBJECT:
        case JS_ARRAY:
            if (depth == MAX_DEPTH)
                return js_fail(s, "nested too deeply");
            stack[depth++] = *s->p == '{' ? '}' : ']';
            s->p++;
            skip_ws(s);
            if (s->p < s->end && *s->p == stack[depth - 1]) {
                s->p++;
                depth--;
                goto after;
            }
            if (stack[depth - 1] == '}') {
                if (!scan_string(s, &s->key_scratch, &str) ||
                    !expect_char(s, ':', "expected ':' after a member name"))
                    return false;
            }
            continue;
        case JS_STRING:
            if (!scan_string(s, &s->value_scratch, &str))
                return false;
            break;
        case JS_NUMBER:
            if (!js_number(s, &str, &integer))
                return false;
            break;
        case JS_TRUE:
        case JS_FALSE:
        case JS_NULL:
            if (!js_literal(s))
                return false;
            break;
        case JS_EOF:
            return js_fail(s, "unexpected end of input");
        default:
            return false;
        }
    after:
        /* A value ended: close containers or move to the next element. */
        while (depth > 0) {
            skip_ws(s);
            if (s->p >= s->end)
                return js_fail(s, "unexpected end of input");
            if (*s->p == stack[depth - 1]) {
                s->p++;
                depth--;
                continue;
            }
            if (*s->p != ',')
                return js_fail(s, stack[depth - 1] == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
            s->p++;
            if (stack[depth - 1] == '}') {
                skip_ws(s);
                if (!scan_string(s, &s->key_scratch, &str) ||
                    !expect_char(s, ':', "expected ':' after a member name"))
                    return false;
            }
            break;
        }
        if (depth == 0) {
            if (raw != NULL) {
                raw->ptr = (const char *)start;
                raw->len = (size_t)(s->p - start);
            }
            return true;
        }
    }
}

bool js_at_end(struct json_scan *s)
{
    skip_ws(s);
    return s->error == NULL && s->p == s->end;
}

bool js_to_int64(struct js_str text, int64_t *out)
{
    const char *p = text.ptr, *end = text.ptr + text.len;
    bool neg = p < end && *p == '-';
    if (neg)
        p++;
    if (p >= end)
        return false;
    uint64_t v = 0;
    if (end - p <= 18) { /* cannot overflow: no check per digit */
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return false;
            v = v * 10 + (unsigned)(*p - '0');
        }
        *out = neg ? -(int64_t)v : (int64_t)v;
        return true;
    }
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

/* Powers of ten that a double holds exactly. */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Clinger's fast path: a decimal whose digits fit in 2^53 and whose power of
 * ten is exact is one correctly rounded multiplication or division away, the
 * same double strtod gives. False (nothing decided) for anything else. */
static bool fast_decimal(const char *p, const char *end, double *out)
{
    bool neg = p < end && *p == '-';
    if (neg)
        p++;
    uint64_t m = 0;
    int digits = 0, scale = 0;
    bool any = false;
    for (; p < end && *p >= '0' && *p <= '9'; p++, any = true) {
        if (digits > 0 || *p != '0')
            digits++;
        if (digits > 19)
            return false;
        m = m * 10 + (uint64_t)(*p - '0');
    }
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++, any = true) {
            if (digits > 0 || *p != '0')
                digits++;
            if (digits > 19)
                return false;
            m = m * 10 + (uint64_t)(*p - '0');
            scale--;
        }
    }
    if (!any)
        return false;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = p < end && *p == '-';
        if (p < end && (*p == '-' || *p == '+'))
            p++;
        int e = 0;
        bool edigit = false;
        for (; p < end && *p >= '0' && *p <= '9'; p++, edigit = true) {
            if (e > 1000)
                return false;
            e = e * 10 + (*p - '0');
        }
        if (!edigit)
            return false;
        scale += eneg ? -e : e;
    }
    if (p != end || m > ((uint64_t)1 << 53) || scale < -22 || scale > 22)
        return false;
    double v = (double)m;
    v = scale >= 0 ? v * exact_pow10[scale] : v / exact_pow10[-scale];
    *out = neg ? -v : v;
    return true;
}

bool js_to_double(struct js_str text, double *out)
{
    if (fast_decimal(text.ptr, text.ptr + text.len, out))
        return true;
    char small[64];
    char *copy = text.len < sizeof small ? small : xmalloc(text.len + 1);
    memcpy(copy, text.ptr, text.len);
    copy[text.len] = '\0';
    char *end;
    *out = strtod(copy, &end);
    bool ok = text.len > 0 && *end == '\0';
    if (copy != small)
        free(copy);
    return ok;
}
