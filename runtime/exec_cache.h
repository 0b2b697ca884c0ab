/* exec_cache.h — private to the executor: what kd_exec_forward calls on
 * the teacher cache armed by kd_exec_cache_next (exec.h has the rest,
 * kd_tcache_is_cached among it). */
#ifndef KD_EXEC_CACHE_H
#define KD_EXEC_CACHE_H

#include "exec.h"

/* A cached node's turn: served from the records (its value filled if it is
 * kept; 1, do not run it), or 0: run it, then kd_tcache_keep. */
int kd_tcache_fill(kd_tcache *c, int32_t node, float *val);
void kd_tcache_keep(kd_tcache *c, int32_t node, const float *val);
/* after the forward (prefill 0) or kd_exec_cache_prefill's pass (1):
 * counts, and the rows kept are marked */
void kd_tcache_done(kd_tcache *c, int prefill);

#endif
