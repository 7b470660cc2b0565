/* metrics.c -- see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

const double metrics_latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                          1,     2.5,  5,     10,   30,  60,   120};
const size_t metrics_latency_nbuckets = sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0];

struct metric {
    struct metric_family *family;
    char **values;
    double value;     /* counter, gauge */
    uint64_t *counts; /* histogram: per bucket, not cumulative */
    double sum;
    uint64_t count;
    bool absent;
};

struct metric_family {
    struct metrics *registry;
    char *name, *help;
    enum metric_type type;
    char **labels;
    size_t nlabels;
    double *buckets;
    size_t nbuckets;
    struct metric **series;
    size_t nseries, cap;
};

struct metrics {
    pthread_mutex_t lock;
    struct metric_family **families;
    size_t nfamilies, cap;
};

struct metrics *metrics_new(void)
{
    struct metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    return m;
}

static void free_series(struct metric *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->counts);
    free(s);
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nfamilies; i++) {
        struct metric_family *f = m->families[i];
        for (size_t k = 0; k < f->nseries; k++)
            free_series(f->series[k], f->nlabels);
        for (size_t k = 0; k < f->nlabels; k++)
            free(f->labels[k]);
        free(f->labels);
        free(f->series);
        free(f->buckets);
        free(f->name);
        free(f->help);
        free(f);
    }
    free(m->families);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Splits "a,b,c" into names; returns how many. */
static size_t split_labels(const char *labels, char ***out)
{
    *out = NULL;
    size_t n = 0;
    if (labels == NULL || *labels == '\0')
        return 0;
    for (const char *p = labels;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        *out = xrealloc(*out, (n + 1) * sizeof **out);
        (*out)[n] = xmalloc(len + 1);
        memcpy((*out)[n], p, len);
        (*out)[n][len] = '\0';
        n++;
        if (comma == NULL)
            return n;
        p = comma + 1;
    }
}

static bool same_labels(const struct metric_family *f, const char *labels)
{
    char **names;
    size_t n = split_labels(labels, &names);
    bool same = n == f->nlabels;
    for (size_t i = 0; i < n; i++) {
        same = same && strcmp(names[i], f->labels[i]) == 0;
        free(names[i]);
    }
    free(names);
    return same;
}

struct metric_family *metrics_family(struct metrics *m, const char *name, const char *help,
                                     enum metric_type type, const char *labels,
                                     const double *buckets, size_t nbuckets)
{
    if (m == NULL)
        return NULL;
    pthread_mutex_lock(&m->lock);
    struct metric_family *f = NULL;
    for (size_t i = 0; i < m->nfamilies; i++) {
        if (strcmp(m->families[i]->name, name) == 0) {
            f = m->families[i];
            if (f->type != type || !same_labels(f, labels))
                f = NULL;
            pthread_mutex_unlock(&m->lock);
            return f;
        }
    }
    f = xcalloc(1, sizeof *f);
    f->registry = m;
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    f->type = type;
    f->nlabels = split_labels(labels, &f->labels);
    if (type == METRIC_HISTOGRAM && nbuckets > 0) {
        f->buckets = xmalloc(nbuckets * sizeof *f->buckets);
        memcpy(f->buckets, buckets, nbuckets * sizeof *f->buckets);
        f->nbuckets = nbuckets;
    }
    if (m->nfamilies == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 32;
        m->families = xrealloc(m->families, m->cap * sizeof *m->families);
    }
    m->families[m->nfamilies++] = f;
    pthread_mutex_unlock(&m->lock);
    return f;
}

struct metric *metric_series(struct metric_family *f, const char *const *values)
{
    if (f == NULL)
        return NULL;
    struct metrics *m = f->registry;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < f->nseries; i++) {
        struct metric *s = f->series[i];
        bool same = true;
        for (size_t k = 0; k < f->nlabels && same; k++)
            same = strcmp(s->values[k], values[k] ? values[k] : "") == 0;
        if (same) {
            pthread_mutex_unlock(&m->lock);
            return s;
        }
    }
    struct metric *s = xcalloc(1, sizeof *s);
    s->family = f;
    s->values = xcalloc(f->nlabels ? f->nlabels : 1, sizeof *s->values);
    for (size_t k = 0; k < f->nlabels; k++)
        s->values[k] = xstrdup(values[k] ? values[k] : "");
    if (f->type == METRIC_HISTOGRAM)
        s->counts = xcalloc(f->nbuckets + 1, sizeof *s->counts);
    if (f->nseries == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->series = xrealloc(f->series, f->cap * sizeof *f->series);
    }
    f->series[f->nseries++] = s;
    pthread_mutex_unlock(&m->lock);
    return s;
}

void metric_add(struct metric *s, double v)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->family->registry->lock);
    s->value += v;
    s->absent = false;
    pthread_mutex_unlock(&s->family->registry->lock);
}

void metric_set(struct metric *s, double v)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->family->registry->lock);
    s->value = v;
    s->absent = false;
    pthread_mutex_unlock(&s->family->registry->lock);
}

void metric_observe(struct metric *s, double v)
{
    if (s == NULL || s->counts == NULL)
        return;
    struct metric_family *f = s->family;
    size_t b = 0;
    while (b < f->nbuckets && v > f->buckets[b])
        b++;
    pthread_mutex_lock(&f->registry->lock);
    s->counts[b]++;
    s->sum += v;
    s->count++;
    s->absent = false;
    pthread_mutex_unlock(&f->registry->lock);
}

void metric_unset(struct metric *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->family->registry->lock);
    s->absent = true;
    pthread_mutex_unlock(&s->family->registry->lock);
}

double metric_value(struct metric *s)
{
    if (s == NULL)
        return 0;
    pthread_mutex_lock(&s->family->registry->lock);
    double v = s->counts ? (double)s->count : s->value;
    pthread_mutex_unlock(&s->family->registry->lock);
    return v;
}

/* ---------- rendering ---------- */

static void put_str(struct buf *out, const char *s)
{
    buf_append(out, s, strlen(s));
}

/* A sample value or an le bound as the format writes it. */
static void format_number(double v, char text[64])
{
    if (isnan(v))
        snprintf(text, 64, "NaN");
    else if (isinf(v))
        snprintf(text, 64, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9e15)
        snprintf(text, 64, "%.0f", v);
    else {
        snprintf(text, 64, "%.15g", v); /* the shortest text that reads back as v */
        if (strtod(text, NULL) != v)
            snprintf(text, 64, "%.17g", v);
    }
}

static void put_number(struct buf *out, double v)
{
    char text[64];
    format_number(v, text);
    put_str(out, text);
}

/* Help text: backslash and newline escaped. Label values: also the quote. */
static void put_escaped(struct buf *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            put_str(out, "\\\\");
        else if (*s == '\n')
            put_str(out, "\\n");
        else if (quote && *s == '"')
            put_str(out, "\\\"");
        else
            buf_push(out, (uint8_t)*s);
    }
}

/* {a="x",b="y"[,le="0.5"]} or nothing. */
static void put_labels(struct buf *out, const struct metric *s, const char *le)
{
    const struct metric_family *f = s->family;
    if (f->nlabels == 0 && le == NULL)
        return;
    buf_push(out, '{');
    for (size_t k = 0; k < f->nlabels; k++) {
        if (k > 0)
            buf_push(out, ',');
        put_str(out, f->labels[k]);
        put_str(out, "=\"");
        put_escaped(out, s->values[k], true);
        buf_push(out, '"');
    }
    if (le != NULL) {
        if (f->nlabels > 0)
            buf_push(out, ',');
        put_str(out, "le=\"");
        put_str(out, le);
        buf_push(out, '"');
    }
    buf_push(out, '}');
}

static void put_sample(struct buf *out, const struct metric *s, const char *suffix, const char *le,
                       double v)
{
    put_str(out, s->family->name);
    put_str(out, suffix);
    put_labels(out, s, le);
    buf_push(out, ' ');
    put_number(out, v);
    buf_push(out, '\n');
}

void metrics_render(struct metrics *m, struct buf *out)
{
    if (m == NULL)
        return;
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nfamilies; i++) {
        const struct metric_family *f = m->families[i];
        put_str(out, "# HELP ");
        put_str(out, f->name);
        buf_push(out, ' ');
        put_escaped(out, f->help, false);
        put_str(out, "\n# TYPE ");
        put_str(out, f->name);
        buf_push(out, ' ');
        put_str(out, type_names[f->type]);
        buf_push(out, '\n');
        for (size_t k = 0; k < f->nseries; k++) {
            const struct metric *s = f->series[k];
            if (s->absent)
                continue;
            if (f->type != METRIC_HISTOGRAM) {
                put_sample(out, s, "", NULL, s->value);
                continue;
            }
            uint64_t cumulative = 0;
            for (size_t b = 0; b < f->nbuckets; b++) {
                char le[64];
                cumulative += s->counts[b];
                format_number(f->buckets[b], le);
                put_sample(out, s, "_bucket", le, (double)cumulative);
            }
            put_sample(out, s, "_bucket", "+Inf", (double)s->count);
            put_sample(out, s, "_sum", NULL, s->sum);
            put_sample(out, s, "_count", NULL, (double)s->count);
        }
    }
    pthread_mutex_unlock(&m->lock);
}
