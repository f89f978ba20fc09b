/*
 * objref.c: object references (hc_obj_t), the encoding every transport
 * shares: (token + 1) << 40 | (index + 1), the index being the transport's
 * own table position (the embedded core's key index, the agent client's
 * reference table). Kept beside the API, not in either transport, so the
 * agent client needs nothing from core/. Pure functions, thread-safe.
 */
#include "transport.h"

#define ID_SHIFT 40

size_t hc_obj_token(hc_obj_t obj)
{
    return (size_t)(obj >> ID_SHIFT) - 1;
}

hc_obj_t hc_obj_make(size_t tok, size_t index)
{
    return ((hc_obj_t)(tok + 1) << ID_SHIFT) | (index + 1);
}

size_t hc_obj_index(hc_obj_t obj)
{
    return (size_t)(obj & ((1ull << ID_SHIFT) - 1)) - 1;
}
