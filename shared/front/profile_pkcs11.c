/* profile_pkcs11.c: the generic front (build/hsmcache-pkcs11.so): every
 * object of the profile's tokens, no hooks. */
#include "front.h"

const hc_front_profile_t hc_front_profile = { .name = HC_PROFILE_PKCS11 };
