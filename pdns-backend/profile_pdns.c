/* profile_pdns.c: the PowerDNS front (build/hsmcache-pdns.so, registered
 * with p11-kit as module "hsmcache"): every key of the profile's tokens,
 * signature caching on by default ([pdns] signature-cache). PowerDNS's
 * per-answer C_Digest calls are served in software by the common front,
 * and a PIN left in a cryptokeys row is ignored (one warning). */
#include "../shared/front/front.h"

const hc_front_profile_t hc_front_profile = { .name = HC_PROFILE_PDNS };
