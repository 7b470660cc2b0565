/* metrics.h -- counters, gauges and histograms with labels, rendered in
 * Prometheus' text exposition format (version 0.0.4).
 *
 * Contract
 * - A registry holds metric families: a name, a help text, a type and the
 *   label names, fixed when the family is first asked for. A family's series
 *   are created on first use from their label values. Handles (struct
 *   metric_family *, struct metric *) stay valid until the registry is
 *   freed, so hot paths look a series up once and keep the handle.
 * - Every call is thread-safe (one mutex per registry): the consumer thread,
 *   the upload workers and the HTTP thread share one registry.
 * - metrics_family() with a name that exists returns the existing family
 *   (type and labels must match; a mismatch returns NULL).
 * - A NULL registry, family or series is accepted everywhere and does
 *   nothing, so modules also run without metrics (tests, tools).
 * - metrics_render() writes each family's # HELP and # TYPE lines, then its
 *   series, families and series in creation order; label values and help
 *   text are escaped as the format requires; histogram buckets are
 *   cumulative, end with le="+Inf" and are followed by _sum and _count.
 *   A series marked absent with metric_unset() is left out until it is set
 *   again; a family with no series to show writes its HELP and TYPE only.
 */
#ifndef CDCW_METRICS_H
#define CDCW_METRICS_H

#include <stddef.h>

#include "buf.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metrics;
struct metric_family;
struct metric;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* labels: comma-separated label names ("" for none). buckets: ascending upper
 * bounds for a histogram (NULL and 0 otherwise). */
struct metric_family *metrics_family(struct metrics *m, const char *name, const char *help,
                                     enum metric_type type, const char *labels,
                                     const double *buckets, size_t nbuckets);

/* The series with these label values, one per label name of the family
 * (NULL for a family without labels). */
struct metric *metric_series(struct metric_family *f, const char *const *values);

void metric_add(struct metric *s, double v);     /* counters and gauges */
void metric_set(struct metric *s, double v);     /* gauges */
void metric_observe(struct metric *s, double v); /* histograms */
void metric_unset(struct metric *s);             /* leave the series out until set again */
double metric_value(struct metric *s);           /* a counter's or gauge's value; a histogram's count */

/* Appends the whole registry in the text exposition format. */
void metrics_render(struct metrics *m, struct buf *out);

/* Standard latency buckets in seconds, from 5 ms to 2 minutes. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

#endif
