/* timing_rows.c — the throughput of each epoch (RUN_DIR/timing.csv, written
 * by run_logs.c) as rows "images/s" for curves.svg only: wall-clock figures
 * stay out of metrics.csv, which a resumed run reproduces byte for byte. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_logs.h"

kd_metric_row *kd_rows_with_timing(const char *dir, const kd_metric_row *rows, int n, int *nout)
{
    char path[1200], line[512];
    snprintf(path, sizeof path, "%s/timing.csv", dir);
    int cap = n + 16, m = n;
    kd_metric_row *out = malloc((size_t)cap * sizeof *out);
    if (!out) return NULL;
    if (n > 0) memcpy(out, rows, (size_t)n * sizeof *out);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        char phase[64];
        long long ep, steps;
        double s, ms, ips;
        if (sscanf(line, "%63[^,],%lld,%lld,%lf,%lf,%lf", phase, &ep, &steps, &s, &ms, &ips) != 6 || ep < 1)
            continue;   /* the header, or a line cut by a kill */
        int k = n;      /* a resumed epoch's line replaces the first one's */
        while (k < m && !(out[k].epoch == ep && !strcmp(out[k].phase, phase))) k++;
        if (k == m) {
            if (m == cap) {
                kd_metric_row *o = realloc(out, (size_t)(cap *= 2) * sizeof *out);
                if (!o) break;
                out = o;
            }
            m++;
        }
        memset(&out[k], 0, sizeof out[k]);
        snprintf(out[k].phase, sizeof out[k].phase, "%s", phase);
        snprintf(out[k].what, sizeof out[k].what, "images/s");
        out[k].epoch = ep;
        out[k].value = ips;
    }
    if (f) fclose(f);
    *nout = m;
    return out;
}
