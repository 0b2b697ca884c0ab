/* sweep_ranks.c — the lines ranks send rank 0 about their sweep points
 * (see sweep_ranks.h).  A line: point TAB status TAB nfinal, then TAB key
 * TAB value per final metric.  Keys are metric names (no tabs, no
 * newlines: the encoder replaces any with spaces). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_ranks.h"

void kd_point_encode(kd_strbuf *b, int64_t point, int status, const kd_run_result *r)
{
    int nf = r ? r->nfinal : 0;
    kd_sb_printf(b, "%lld\t%d\t%d", (long long)point, status, nf);
    for (int k = 0; k < nf; k++) {
        char key[sizeof r->keys[0]];
        snprintf(key, sizeof key, "%s", r->keys[k]);
        for (char *c = key; *c; c++)
            if (*c == '\t' || *c == '\n') *c = ' ';
        kd_sb_printf(b, "\t%s\t%.17g", key, r->values[k]);
    }
    kd_sb_putc(b, '\n');
}

/* The next tab- or newline-terminated field of *p, NUL-terminated in place. */
static char *field(char **p)
{
    char *s = *p, *e = s + strcspn(s, "\t\n");
    *p = *e ? e + 1 : e;
    *e = 0;
    return s;
}

int kd_point_decode(const char *text, int64_t npoints, int *status, kd_run_result *res,
                    unsigned char *seen, char *err, size_t errlen)
{
    char *copy = strdup(text ? text : "");
    if (!copy) { snprintf(err, errlen, "out of memory"); return -1; }
    int rc = 0;
    long line = 0;
    for (char *p = copy; *p && rc == 0;) {
        char *nl = strchr(p, '\n');
        if (!nl) { snprintf(err, errlen, "sweep results: line %ld is cut short", line + 1); rc = -1; break; }
        *nl = 0;
        line++;
        char *q = p, *end;
        p = nl + 1;
        errno = 0;
        long long pt = strtoll(field(&q), &end, 10);
        long st = strtol(field(&q), &end, 10);
        long nf = strtol(field(&q), &end, 10);
        if (errno || pt < 0 || pt >= npoints || nf < 0 || nf > KD_RUN_MAX_FINAL || seen[pt]) {
            snprintf(err, errlen, "sweep results: line %ld is malformed or repeats a point", line);
            rc = -1;
            break;
        }
        kd_run_result *r = &res[pt];
        memset(r, 0, sizeof *r);
        for (long k = 0; k < nf; k++) {
            char *key = field(&q), *val = field(&q);
            if (!*val) { snprintf(err, errlen, "sweep results: line %ld has too few fields", line); rc = -1; break; }
            snprintf(r->keys[k], sizeof r->keys[k], "%s", key);
            r->values[k] = strtod(val, NULL);
        }
        r->nfinal = (int)nf;
        status[pt] = (int)st;
        seen[pt] = 1;
    }
    free(copy);
    return rc;
}
