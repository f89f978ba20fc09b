/* clock.c: the monotonic clock every timeout and latency is measured on. */
#include <time.h>

#include "util/clock.h"

uint64_t hc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t hc_now_ms(void)
{
    return hc_now_us() / 1000;
}
