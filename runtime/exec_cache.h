/* exec_cache.h — private to the executor: what kd_exec_forward calls on
 * the teacher cache armed by kd_exec_cache_next (exec.h has the rest). */
#ifndef KD_EXEC_CACHE_H
#define KD_EXEC_CACHE_H

#include "exec.h"

/* 1 if node is one of the cached nodes */
int kd_tcache_cached(const kd_tcache *c, int32_t node);
/* A cached node's turn: served from the records (its value filled if it is
 * kept; 1, do not run it), or 0: run it, then kd_tcache_keep. */
int kd_tcache_fill(kd_tcache *c, int32_t node, float *val);
void kd_tcache_keep(kd_tcache *c, int32_t node, const float *val);
/* the pass armed now is a prefill (1) or a forward (0): what done counts */
void kd_tcache_prefilling(kd_tcache *c, int on);
/* after the forward: counts, and the rows kept are marked */
void kd_tcache_done(kd_tcache *c);

#endif
