/* run_dir.h — what a run writes in its directory (internal to runtime/). */
#ifndef KD_RUN_DIR_H
#define KD_RUN_DIR_H

#include "run.h"

void run_dir_write(run *R);          /* report.yaml, metrics.csv, curves.svg */
void run_dir_write_curves(run *R);   /* metrics.csv, curves.svg */
/* the results on stdout (the report's table, or its rows, and best epochs) */
void run_dir_print_results(run *R, const char *table, size_t tlen);
/* the report's values by "model.metric" */
void run_dir_finals(run *R, kd_run_result *out);

#endif
