/* Unit tests of fetch_nudge.c's rule for when to nudge librdkafka 2.0's
 * fetcher (the nudge itself needs librdkafka 2.0, which the pinned build is
 * not). Each call is one look. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fetch_nudge.h"

/* Fetches of one-message record batches keep the queue short while the
 * consumer takes them: no look nudges (the rule before nudged at each one). */
static void a_short_queue_being_taken_is_never_nudged(void **state)
{
    (void)state;
    struct fetch_nudge_watch w = {0};
    for (unsigned long look = 1; look <= 1000; look++)
        assert_false(fetch_nudge_due(&w, look % 17, look * 16));
}

/* The queue filled, so the fetcher may have stopped: one nudge once it is
 * nearly empty, then none while messages come again. */
static void a_queue_that_filled_is_nudged_once_it_drains(void **state)
{
    (void)state;
    struct fetch_nudge_watch w = {0};
    assert_false(fetch_nudge_due(&w, 30000, 100));
    assert_false(fetch_nudge_due(&w, 12000, 18000));
    assert_true(fetch_nudge_due(&w, 1500, 28500));
    assert_false(fetch_nudge_due(&w, 10, 30000));
    assert_false(fetch_nudge_due(&w, 10, 30016));
}

/* Large messages fill the queue before it holds FETCH_NUDGE_LOW_WATER: a
 * nudge after FETCH_NUDGE_QUIET_LOOKS looks in a row that found nothing
 * taken, and again only after as many more. */
static void nothing_taken_for_long_is_nudged(void **state)
{
    (void)state;
    struct fetch_nudge_watch w = {.taken = 40};
    for (int round = 0; round < 2; round++) {
        for (int look = 1; look < FETCH_NUDGE_QUIET_LOOKS; look++)
            assert_false(fetch_nudge_due(&w, 0, 40));
        assert_true(fetch_nudge_due(&w, 0, 40));
    }
    for (int look = 1; look < FETCH_NUDGE_QUIET_LOOKS; look++)
        assert_false(fetch_nudge_due(&w, 0, 40));
    assert_false(fetch_nudge_due(&w, 0, 41)); /* one message came: the count starts again */
    for (int look = 1; look < FETCH_NUDGE_QUIET_LOOKS; look++)
        assert_false(fetch_nudge_due(&w, 0, 41));
    assert_true(fetch_nudge_due(&w, 0, 41));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_short_queue_being_taken_is_never_nudged),
        cmocka_unit_test(a_queue_that_filled_is_nudged_once_it_drains),
        cmocka_unit_test(nothing_taken_for_long_is_nudged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
