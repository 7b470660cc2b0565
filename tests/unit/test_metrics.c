/* Unit tests of metrics.c: the exact exposition text, escaping, histograms,
 * absent series, family look-up, NULL safety, and concurrent updates. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static char *render(struct metrics *m)
{
    struct buf out = {0};
    metrics_render(m, &out);
    buf_push(&out, '\0');
    return (char *)out.data;
}

static void counter_and_gauge_text(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric_family *c =
        metrics_family(m, "x_total", "Things.\nTwo lines \\ here.", METRIC_COUNTER, "topic,partition", NULL, 0);
    metric_add(metric_series(c, (const char *[]){"a.b", "0"}), 2);
    metric_add(metric_series(c, (const char *[]){"a.b", "0"}), 3);
    metric_add(metric_series(c, (const char *[]){"q\"\\\n", "1"}), 1.5);
    struct metric *g = metric_series(metrics_family(m, "y", "A gauge.", METRIC_GAUGE, "", NULL, 0), NULL);
    metric_set(g, -7);
    char *text = render(m);
    assert_string_equal(text, "# HELP x_total Things.\\nTwo lines \\\\ here.\n"
                              "# TYPE x_total counter\n"
                              "x_total{topic=\"a.b\",partition=\"0\"} 5\n"
                              "x_total{topic=\"q\\\"\\\\\\n\",partition=\"1\"} 1.5\n"
                              "# HELP y A gauge.\n"
                              "# TYPE y gauge\n"
                              "y -7\n");
    free(text);
    assert_true(metric_value(g) == -7);
    metrics_free(m);
}

static void histogram_text(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    const double b[] = {0.1, 1};
    struct metric *h = metric_series(metrics_family(m, "d_seconds", "D.", METRIC_HISTOGRAM, "t", b, 2),
                                     (const char *[]){"x"});
    metric_observe(h, 0.05);
    metric_observe(h, 0.1); /* on the bound: counted in le="0.1" */
    metric_observe(h, 0.5);
    metric_observe(h, 3);
    char *text = render(m);
    assert_string_equal(text, "# HELP d_seconds D.\n"
                              "# TYPE d_seconds histogram\n"
                              "d_seconds_bucket{t=\"x\",le=\"0.1\"} 2\n"
                              "d_seconds_bucket{t=\"x\",le=\"1\"} 3\n"
                              "d_seconds_bucket{t=\"x\",le=\"+Inf\"} 4\n"
                              "d_seconds_sum{t=\"x\"} 3.65\n"
                              "d_seconds_count{t=\"x\"} 4\n");
    free(text);
    assert_true(metric_value(h) == 4);
    metrics_free(m);
}

static void unset_series_are_left_out(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric_family *f = metrics_family(m, "lag", "L.", METRIC_GAUGE, "p", NULL, 0);
    struct metric *a = metric_series(f, (const char *[]){"0"});
    struct metric *b = metric_series(f, (const char *[]){"1"});
    metric_set(a, 1);
    metric_set(b, 2);
    metric_unset(a);
    char *text = render(m);
    assert_string_equal(text, "# HELP lag L.\n# TYPE lag gauge\nlag{p=\"1\"} 2\n");
    free(text);
    metric_set(a, 4); /* set again: shown again, same handle */
    assert_ptr_equal(metric_series(f, (const char *[]){"0"}), a);
    text = render(m);
    assert_non_null(strstr(text, "lag{p=\"0\"} 4\n"));
    free(text);
    metrics_free(m);
}

static void families_are_found_by_name(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric_family *f = metrics_family(m, "r_total", "R.", METRIC_COUNTER, "method", NULL, 0);
    assert_ptr_equal(metrics_family(m, "r_total", "R.", METRIC_COUNTER, "method", NULL, 0), f);
    assert_null(metrics_family(m, "r_total", "R.", METRIC_GAUGE, "method", NULL, 0));
    assert_null(metrics_family(m, "r_total", "R.", METRIC_COUNTER, "code", NULL, 0));
    metrics_free(m);
}

static void null_is_accepted_everywhere(void **state)
{
    (void)state;
    assert_null(metrics_family(NULL, "a", "A.", METRIC_COUNTER, "", NULL, 0));
    assert_null(metric_series(NULL, NULL));
    metric_add(NULL, 1);
    metric_set(NULL, 1);
    metric_observe(NULL, 1);
    metric_unset(NULL);
    assert_true(metric_value(NULL) == 0);
    struct buf out = {0};
    metrics_render(NULL, &out);
    assert_int_equal(out.len, 0);
    metrics_free(NULL);
}

static void special_values(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric_family *f = metrics_family(m, "v", "V.", METRIC_GAUGE, "k", NULL, 0);
    metric_set(metric_series(f, (const char *[]){"inf"}), 1.0 / 0.0);
    metric_set(metric_series(f, (const char *[]){"big"}), 12345678901234567890.0);
    metric_set(metric_series(f, (const char *[]){"tenth"}), 0.1);
    char *text = render(m);
    assert_non_null(strstr(text, "v{k=\"inf\"} +Inf\n"));
    assert_non_null(strstr(text, "v{k=\"big\"} 1.2345678901234567e+19\n"));
    assert_non_null(strstr(text, "v{k=\"tenth\"} 0.1\n"));
    free(text);
    metrics_free(m);
}

static void *bump(void *arg)
{
    for (int i = 0; i < 100000; i++)
        metric_add(arg, 1);
    return NULL;
}

static void concurrent_updates_are_not_lost(void **state)
{
    (void)state;
    struct metrics *m = metrics_new();
    struct metric *c = metric_series(metrics_family(m, "n_total", "N.", METRIC_COUNTER, "", NULL, 0), NULL);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, bump, c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(metric_value(c) == 400000);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_and_gauge_text),
        cmocka_unit_test(histogram_text),
        cmocka_unit_test(unset_series_are_left_out),
        cmocka_unit_test(families_are_found_by_name),
        cmocka_unit_test(null_is_accepted_everywhere),
        cmocka_unit_test(special_values),
        cmocka_unit_test(concurrent_updates_are_not_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
