/* log.c -- see log.h for the contract. */
#include "log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const level_names[] = {"DEBUG", "INFO", "WARNING", "ERROR"};
static const char *const level_names_lower[] = {"debug", "info", "warning", "error"};

bool log_level_parse(const char *text, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } names[] = {
        {"DEBUG", LOG_DEBUG}, {"INFO", LOG_INFO},   {"WARNING", LOG_WARNING},
        {"WARN", LOG_WARNING}, {"ERROR", LOG_ERROR}, {"CRITICAL", LOG_ERROR},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(text, names[i].name) == 0) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}

bool log_format_parse(const char *text, enum log_format *out)
{
    if (strcasecmp(text, "text") == 0) {
        *out = LOG_FORMAT_TEXT;
        return true;
    }
    if (strcasecmp(text, "json") == 0) {
        *out = LOG_FORMAT_JSON;
        return true;
    }
    return false;
}

const char *log_level_name(enum log_level level)
{
    return level_names[level];
}

bool log_enabled(const struct log *lg, enum log_level level)
{
    return lg != NULL && lg->out != NULL && level >= lg->level;
}

/* A growable line buffer; on allocation failure the line is truncated. */
struct line {
    char small[1024];
    char *buf;
    size_t len, cap;
};

static void line_reserve(struct line *ln, size_t extra)
{
    if (ln->len + extra + 1 <= ln->cap)
        return;
    size_t cap = ln->cap * 2;
    while (cap < ln->len + extra + 1)
        cap *= 2;
    char *grown = ln->buf == ln->small ? malloc(cap) : realloc(ln->buf, cap);
    if (grown == NULL)
        return;
    if (ln->buf == ln->small)
        memcpy(grown, ln->small, ln->len);
    ln->buf = grown;
    ln->cap = cap;
}

static void line_add(struct line *ln, const char *s, size_t n)
{
    line_reserve(ln, n);
    if (ln->len + n + 1 > ln->cap)
        n = ln->cap - ln->len - 1;
    memcpy(ln->buf + ln->len, s, n);
    ln->len += n;
    ln->buf[ln->len] = '\0';
}

static void line_addf(struct line *ln, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(ln->buf + ln->len, ln->cap - ln->len, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n >= ln->cap - ln->len) {
        line_reserve(ln, (size_t)n);
        if ((size_t)n >= ln->cap - ln->len)
            n = (int)(ln->cap - ln->len - 1);
        vsnprintf(ln->buf + ln->len, ln->cap - ln->len, fmt, ap);
    }
    ln->len += (size_t)n;
}

/* Appends text as the inside of a JSON string. */
static void line_add_json_escaped(struct line *ln, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            line_add(ln, esc, 2);
        } else if (c == '\n') {
            line_add(ln, "\\n", 2);
        } else if (c == '\t') {
            line_add(ln, "\\t", 2);
        } else if (c == '\r') {
            line_add(ln, "\\r", 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            line_add(ln, esc, 6);
        } else {
            line_add(ln, (const char *)&s[i], 1);
        }
    }
}

static void format_timestamp(char *out, size_t size)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now.tv_nsec / 1000000L) % 1000);
}

void log_write(const struct log *lg, enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(lg, level))
        return;
    char ts[96];
    format_timestamp(ts, sizeof ts);

    struct line msg = {.buf = NULL, .len = 0, .cap = sizeof msg.small};
    msg.buf = msg.small;
    msg.small[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    line_addf(&msg, fmt, ap);
    va_end(ap);
    /* A message is one line: embedded newlines would split an event. */
    for (size_t i = 0; i < msg.len; i++)
        if (msg.buf[i] == '\n' || msg.buf[i] == '\r')
            msg.buf[i] = ' ';

    struct line out = {.buf = NULL, .len = 0, .cap = sizeof out.small};
    out.buf = out.small;
    out.small[0] = '\0';
    if (lg->format == LOG_FORMAT_JSON) {
        line_add(&out, "{\"ts\":\"", 7);
        line_add(&out, ts, strlen(ts));
        line_add(&out, "\",\"level\":\"", 11);
        line_add(&out, level_names_lower[level], strlen(level_names_lower[level]));
        line_add(&out, "\",\"msg\":\"", 9);
        line_add_json_escaped(&out, msg.buf, msg.len);
        line_add(&out, "\"}\n", 3);
    } else {
        char head[64];
        int n = snprintf(head, sizeof head, "%s %-7s ", ts, level_names[level]);
        line_add(&out, head, (size_t)n);
        line_add(&out, msg.buf, msg.len);
        line_add(&out, "\n", 1);
    }
    fwrite(out.buf, 1, out.len, lg->out);
    fflush(lg->out);
    if (msg.buf != msg.small)
        free(msg.buf);
    if (out.buf != out.small)
        free(out.buf);
}
