/* thread_name.h -- names the calling thread (at most 15 characters), as
 * /proc/<pid>/task/<tid>/comm, top -H and gdb show it, so the CPU of each
 * kind of thread can be told apart. Linux only; elsewhere it does nothing.
 * Threads: any, for itself. */
#ifndef CDCW_THREAD_NAME_H
#define CDCW_THREAD_NAME_H

#ifdef __linux__
#include <sys/prctl.h>
#endif

static inline void thread_name_set(const char *name)
{
#ifdef __linux__
    prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
#else
    (void)name;
#endif
}

#endif
