/* clock.h: monotonic time (never jumps with the wall clock), for
 * deadlines, backoff and latency. Thread-safe. */
#ifndef HC_CLOCK_H
#define HC_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t hc_now_ms(void);
uint64_t hc_now_us(void);
/* The CLOCK_MONOTONIC instant `ms` from now, as the absolute timespec a
 * timed wait on that clock takes (sem_clockwait, pthread_cond_timedwait
 * on a condition variable set to CLOCK_MONOTONIC). */
struct timespec hc_deadline_in_ms(unsigned ms);

#endif
