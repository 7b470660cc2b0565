/* Unit tests of health.c: what /healthz and /readyz decide, and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "health.h"

static void readiness_needs_partitions_and_the_store(void **state)
{
    (void)state;
    struct health *h = health_new(60000);
    char why[256];
    assert_false(health_ready(h, why, sizeof why));
    assert_string_equal(why, "not ready: no partitions assigned");
    health_set_assigned(h, 3);
    assert_false(health_ready(h, why, sizeof why));
    assert_string_equal(why, "not ready: object store not checked yet");
    health_store_result(h, false, "HEAD bucket: Couldn't connect to server");
    assert_false(health_ready(h, why, sizeof why));
    assert_string_equal(why, "not ready: object store unreachable: HEAD bucket: Couldn't connect to server");
    health_store_result(h, true, NULL);
    assert_true(health_ready(h, why, sizeof why));
    assert_string_equal(why, "ok: 3 partitions assigned, object store reachable");
    health_set_assigned(h, 0);
    assert_false(health_ready(h, why, sizeof why));
    health_free(h);
}

static void liveness_follows_the_beat(void **state)
{
    (void)state;
    struct health *h = health_new(20);
    char why[256];
    assert_true(health_live(h, why, sizeof why));
    assert_non_null(strstr(why, "ok: the main loop turned "));
    /* Let more than the 20 ms limit pass without a beat: time itself is under test. */
    struct timespec pause = {0, 60 * 1000000L};
    nanosleep(&pause, NULL);
    assert_false(health_live(h, why, sizeof why));
    assert_non_null(strstr(why, "not live: the main loop has not turned for "));
    assert_non_null(strstr(why, "(limit 20 ms)"));
    health_beat(h);
    assert_true(health_live(h, why, sizeof why));
    health_free(h);
}

static void the_probe_reports_an_unreachable_store(void **state)
{
    (void)state;
    struct health *h = health_new(60000);
    health_set_assigned(h, 1);
    struct object_store_config cfg;
    object_store_config_default(&cfg);
    cfg.endpoint = "file:///nonexistent/cdcw-health-test";
    cfg.bucket = "datalake";
    char err[256], why[512];
    assert_true(health_start_store_probe(h, &cfg, 10, err, sizeof err));
    /* The probe's first check runs at once; wait for its outcome, not for time. */
    for (int i = 0; i < 5000 && strstr((health_ready(h, why, sizeof why), why), "not checked") != NULL; i++) {
        struct timespec tick = {0, 1000000L};
        nanosleep(&tick, NULL);
    }
    assert_false(health_ready(h, why, sizeof why));
    assert_non_null(strstr(why, "not ready: object store unreachable: bucket 'datalake' does not exist"));
    health_free(h); /* stops and joins the probe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readiness_needs_partitions_and_the_store),
        cmocka_unit_test(liveness_follows_the_beat),
        cmocka_unit_test(the_probe_reports_an_unreachable_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
