/* clock.h: monotonic time (never jumps with the wall clock), for
 * deadlines, backoff and latency. Thread-safe. */
#ifndef HC_CLOCK_H
#define HC_CLOCK_H

#include <stdint.h>

uint64_t hc_now_ms(void);
uint64_t hc_now_us(void);

#endif
