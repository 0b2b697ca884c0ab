/* sweep_ranks.h — a sweep spread over the ranks of an MPI job: each rank
 * runs its points (world.h: point i on rank i mod size) and sends rank 0
 * one line per point, which rank 0 decodes to write the sweep's tables as
 * a single process would. */
#ifndef KD_SWEEP_RANKS_H
#define KD_SWEEP_RANKS_H

#include <stdint.h>

#include "textbuf.h"
#include "train.h"

/* Append point's line: its index, exit status and final metrics (the
 * values printed with 17 digits, so they come back bit for bit). */
void kd_point_encode(kd_strbuf *b, int64_t point, int status, const kd_run_result *r);

/* Decode the lines of every rank.  status[i] and res[i] are set for each
 * point found (seen[i] = 1); -1 on a malformed line or a point out of
 * range (err says which). */
int kd_point_decode(const char *text, int64_t npoints, int *status, kd_run_result *res,
                    unsigned char *seen, char *err, size_t errlen);

#endif
