/* json_scan.h -- a pull scanner over one JSON text (RFC 8259), without a DOM.
 *
 * Contract
 * - The scanner walks the input in place: the caller asks for what it expects
 *   next (an object's members, an array's elements, a string, a number...)
 *   and skips what it does not need. Nothing is allocated per value.
 * - Strings without escapes are returned as pointers into the input; strings
 *   with escapes are decoded into one of two scratch buffers (one for member
 *   names, one for values), valid until the next name or value is read.
 * - The input must be valid UTF-8 (check it once with utf8_valid()); escapes
 *   are decoded to UTF-8, and a lone surrogate escape is an error.
 * - Any syntax error stops the scan: the call returns false (or -1), and
 *   js_error() / js_error_offset() say what and at which byte.
 */
#ifndef CDCW_JSON_SCAN_H
#define CDCW_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum js_kind { JS_ERROR, JS_EOF, JS_OBJECT, JS_ARRAY, JS_STRING, JS_NUMBER, JS_TRUE, JS_FALSE, JS_NULL };

struct js_str {
    const char *ptr;
    size_t len;
};

struct json_scan {
    const uint8_t *begin, *p, *end;
    const char *error;
    size_t error_offset;
    bool fresh; /* just entered an object or array: no member read yet */
    struct buf key_scratch, value_scratch;
};

/* Starts a scan of data[0..len); scratch buffers are kept across js_reset(). */
void js_reset(struct json_scan *s, const void *data, size_t len);
void js_free(struct json_scan *s);

/* The kind of the next value, without consuming it. */
enum js_kind js_peek(struct json_scan *s);

bool js_enter_object(struct json_scan *s);
/* The next member of the object: 1 with its name (the ':' is consumed),
 * 0 at the end of the object (the '}' is consumed), -1 on error. */
int js_next_member(struct json_scan *s, struct js_str *name);

bool js_enter_array(struct json_scan *s);
/* 1 when another element follows, 0 at the end (']' consumed), -1 on error. */
int js_next_element(struct json_scan *s);

bool js_string(struct json_scan *s, struct js_str *out);
/* A number's text, checked against the JSON grammar; *integer tells whether
 * it has neither fraction nor exponent. */
bool js_number(struct json_scan *s, struct js_str *text, bool *integer);
/* Consumes true, false or null. */
bool js_literal(struct json_scan *s);

/* Skips one value of any kind; *raw (when not NULL) gets its exact text. */
bool js_skip(struct json_scan *s, struct js_str *raw);

/* True when only whitespace remains. */
bool js_at_end(struct json_scan *s);

/* Exact conversions of a number's text. */
bool js_to_int64(struct js_str text, int64_t *out);
/* The double nearest a number's text (as strtod rounds it; exact decimals of up
 * to 15-16 digits without calling it). False when text is not all a number. */
bool js_to_double(struct js_str text, double *out);

/* True when v points into the scanned input rather than a scratch buffer: the
 * string had no escapes, so it holds no control character (NUL included). */
static inline bool js_in_input(const struct json_scan *s, struct js_str v)
{
    return (const uint8_t *)v.ptr >= s->begin && (const uint8_t *)v.ptr < s->end;
}

/* Goes back to `at`, the start of a value the scan has passed (a saved s->p),
 * to read that value again. Only before an error. */
void js_seek(struct json_scan *s, const uint8_t *at);

/* True once a syntax error has stopped the scan. */
bool js_failed(const struct json_scan *s);
const char *js_error(const struct json_scan *s);
size_t js_error_offset(const struct json_scan *s);

/* Sets the error (the first one wins) and returns false. */
bool js_fail(struct json_scan *s, const char *what);

#endif
