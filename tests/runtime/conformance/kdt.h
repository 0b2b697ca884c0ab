/* kdt.h — what the PyTorch conformance tests share: a python3 that can
 * `import torch`, and KDT1 files, the tensors the tests and the reference
 * scripts (resnet_torch.py, unet_fa_torch.py) pass each other:
 *
 *   "KDT1", u32 count, then per tensor: u32 name length, the name,
 *   u32 ndim, ndim x i64 dims, the float32 data.
 *
 * Included once by each test (its state is that test's own).
 */
#ifndef KD_TESTS_KDT_H
#define KD_TESTS_KDT_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/exec.h"

#define KDT_FN static __attribute__((unused))

/* The interpreter: $KDRUN_PYTHON, else /usr/bin/python3, else python3 on
 * the PATH (a pyenv python3 first on the PATH may lack Debian's torch). */
static char python[512];

KDT_FN int find_python(void)
{
    const char *cands[3] = { getenv("KDRUN_PYTHON"), "/usr/bin/python3", "python3" };
    for (int i = 0; i < 3; i++) {
        if (!cands[i] || !cands[i][0]) continue;
        char cmd[700];
        snprintf(cmd, sizeof cmd, "'%s' -c 'import torch' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) {
            snprintf(python, sizeof python, "%s", cands[i]);
            return 0;
        }
    }
    return -1;
}

typedef struct tensor {
    char name[160];
    kd_shape shape;
    float *data;
} tensor;

KDT_FN void put(FILE *f, const char *name, const kd_shape *s, const float *d)
{
    uint32_t nl = (uint32_t)strlen(name), nd = (uint32_t)(s->ndim > 0 ? s->ndim : 0);
    fwrite(&nl, 4, 1, f);
    fwrite(name, 1, nl, f);
    fwrite(&nd, 4, 1, f);
    for (uint32_t i = 0; i < nd; i++) fwrite(&s->dims[i], 8, 1, f);
    fwrite(d, 4, (size_t)kd_shape_numel(s), f);
}

KDT_FN tensor *read_all(const char *path, int *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char magic[4];
    uint32_t cnt = 0;
    tensor *t = NULL;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "KDT1", 4) || fread(&cnt, 4, 1, f) != 1)
        goto fail;
    t = calloc(cnt ? cnt : 1, sizeof *t);
    for (uint32_t i = 0; i < cnt; i++) {
        uint32_t nl, nd;
        if (fread(&nl, 4, 1, f) != 1 || nl >= sizeof t[i].name) goto fail;
        if (fread(t[i].name, 1, nl, f) != nl || fread(&nd, 4, 1, f) != 1 || nd > KD_MAXDIM) goto fail;
        t[i].shape.ndim = (int)nd;
        for (uint32_t k = 0; k < nd; k++)
            if (fread(&t[i].shape.dims[k], 8, 1, f) != 1) goto fail;
        size_t m = (size_t)kd_shape_numel(&t[i].shape);
        t[i].data = malloc(m * 4 + 4);
        if (fread(t[i].data, 4, m, f) != m) goto fail;
    }
    fclose(f);
    *n = (int)cnt;
    return t;
fail:
    fclose(f);
    if (t)
        for (uint32_t i = 0; i < cnt; i++) free(t[i].data);
    free(t);
    return NULL;
}

KDT_FN const tensor *find(const tensor *t, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

/* max |a - b| / max |b| over one tensor; -1 if missing or the sizes differ */
KDT_FN double rel_err(const float *a, const tensor *b, size_t n)
{
    if (!b || (size_t)kd_shape_numel(&b->shape) != n) return -1;
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b->data[i]);
        if (!(d <= md)) md = d;               /* NaN propagates */
        if (fabs(b->data[i]) > mb) mb = fabs(b->data[i]);
    }
    return mb > 0 ? md / mb : md;
}

KDT_FN void kdt_free(tensor *t, int n)
{
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].data);
    free(t);
}

#endif
