/* hsmsim.h: internals shared by hsmsim.c and the generated wrappers. */
#ifndef HSMSIM_H
#define HSMSIM_H

#include <p11-kit/pkcs11.h>

#include "simstate.h"

enum sim_kind { SIM_OTHER, SIM_SLOT, SIM_SESSION };

extern CK_FUNCTION_LIST *sim_real;
extern CK_FUNCTION_LIST sim_function_list;

/* Counts the call, applies faults and latency, takes a concurrency slot.
 * Returns CKR_OK to go on (then sim_leave must follow) or the fault. */
CK_RV sim_enter(int idx, enum sim_kind kind);
void sim_leave(int idx, CK_RV rv);

#endif
