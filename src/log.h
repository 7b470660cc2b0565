/* log.h -- one line per event on a stream (stderr in the daemon).
 *
 * Contract
 * - A struct log is a plain value owned by its creator (main); modules get a
 *   const pointer. Nothing here is global.
 * - Each call writes exactly one line with one fwrite: a UTC timestamp with
 *   milliseconds, the level and the message. In text format:
 *     2026-11-24T23:24:05.123Z INFO  flushed topic=... rows=10
 *   In JSON format (LOG_FORMAT=json) one object per line:
 *     {"ts":"2026-11-24T23:24:05.123Z","level":"info","msg":"flushed ..."}
 * - Messages below the configured level are dropped before formatting.
 * - The logger never sees secrets: callers must not pass them (see config.h).
 */
#ifndef CDCW_LOG_H
#define CDCW_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARNING, LOG_ERROR };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON };

struct log {
    enum log_level level;
    enum log_format format;
    FILE *out;
};

/* Parses DEBUG, INFO, WARNING (or WARN), ERROR, CRITICAL in any case.
 * CRITICAL is accepted as ERROR for compatibility with Python's names. */
bool log_level_parse(const char *text, enum log_level *out);
bool log_format_parse(const char *text, enum log_format *out);
const char *log_level_name(enum log_level level);

bool log_enabled(const struct log *lg, enum log_level level);

#if defined(__GNUC__)
#define CDCW_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define CDCW_PRINTF(fmt_idx, arg_idx)
#endif

void log_write(const struct log *lg, enum log_level level, const char *fmt, ...)
    CDCW_PRINTF(3, 4);

#define log_debug(lg, ...) log_write((lg), LOG_DEBUG, __VA_ARGS__)
#define log_info(lg, ...) log_write((lg), LOG_INFO, __VA_ARGS__)
#define log_warn(lg, ...) log_write((lg), LOG_WARNING, __VA_ARGS__)
#define log_error(lg, ...) log_write((lg), LOG_ERROR, __VA_ARGS__)

#endif
