/* clock.h -- the few time helpers several modules share.
 *
 * Contract
 * - clock_mono_s(): seconds on the monotonic clock (durations, deadlines).
 * - clock_deadline(): `ms` milliseconds from now on `clock`, as the absolute
 *   time pthread_cond_timedwait() takes (the condition variable must use the
 *   same clock).
 */
#ifndef CDCW_CLOCK_H
#define CDCW_CLOCK_H

#include <time.h>

static inline double clock_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline struct timespec clock_deadline(clockid_t clock, int ms)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

#endif
