/* weights_in.c — models initialized from safetensors files (weights.h).
 *
 *   model teacher = resnet(depth: 20) from "teacher.safetensors"
 *   model student = resnet(depth: 8) from "s.safetensors": conv0, bn0, block[1, *]
 *
 * The path is relative to the directory of the recipe file that declares
 * the model (like `use`); `kdrun eval --model NAME=FILE` gives a path
 * relative to the working directory and replaces the recipe's.  Loading
 * is strict: every problem (a missing, unexpected or mis-shaped tensor, a
 * part that selects nothing) is reported, the first as a located error,
 * the others as notes, and the run stops with a data error.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"
#include "eval_cmd.h"

weights_entry *weights_entries(pgraph *G, int mi, int *n)
{
    const kd_graph *g = G->pg.g;
    const char *mn = G->pg.m[mi].name;
    int model = G->pg.m[mi].index;
    size_t L = strlen(mn);
    int cap = 0, k = 0;
    weights_entry *w = NULL;
    float *P = kd_exec_params(G->e);
    *n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t i = 0; i < (pass ? g->nnodes : g->nparams); i++) {
            const char *name;
            char base[300];
            if (!pass) {
                if (g->params[i].model != model) continue;
                name = g->params[i].name;
            } else {
                const kd_node *nd = &g->nodes[i];
                if (pgraph_bn_base(g, nd, base, sizeof base) ||
                    g->params[nd->in[nd->ndata]].model != model) continue;
                name = base;
            }
            if (strncmp(name, mn, L) != 0 || name[L] != '.') continue;
            for (int s = 0; s < (pass ? 2 : 1); s++) {
                if (k + 1 > cap) {
                    cap = cap ? 2 * cap : 64;
                    weights_entry *nw = realloc(w, (size_t)cap * sizeof *nw);
                    if (!nw) { free(w); *n = -1; return NULL; }
                    w = nw;
                }
                weights_entry *e = &w[k];
                memset(e, 0, sizeof *e);
                if (!pass) {
                    snprintf(e->path, sizeof e->path, "%s", name + L + 1);
                    e->shape = g->params[i].shape;
                    e->data = P + g->params[i].offset;
                } else {
                    const kd_node *nd = &g->nodes[i];
                    snprintf(e->path, sizeof e->path, "%s.%s", name + L + 1, s ? "running_var" : "running_mean");
                    e->data = kd_exec_state(G->e, i, s);
                    if (!e->data) continue;
                    e->shape = nd->info.state_shape[s];
                    if (e->shape.ndim <= 0) { e->shape.ndim = 1; e->shape.dims[0] = 1; }
                }
                e->n = kd_shape_numel(&e->shape);
                k++;
            }
        }
    }
    *n = k;
    return w;
}

/* does pattern pat ("block[1,*]") select path ("block[1,2].conv0.weight")? */
static int part_matches(const char *pat, const char *path)
{
    while (*pat) {
        if (*pat == '*') {
            if (*path < '0' || *path > '9') return 0;
            while (*path >= '0' && *path <= '9') path++;
            pat++;
            continue;
        }
        if (*pat != *path) return 0;
        pat++, path++;
    }
    return *path == 0 || *path == '.';
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *dims)
{
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

typedef struct wsrc {
    const char *file;                /* as written */
    char path[2048];                 /* resolved */
    const kdr_node *decl, *at;       /* at: the `from` clause (NULL: --model) */
    const kdr_unit *unit;
    char parts[16][256];
    const kdr_node *part_at[16];
    int nparts;
} wsrc;

/* the weights file of model `name`, or 0 when it has none */
static int source_of(run *R, const char *name, wsrc *w)
{
    memset(w, 0, sizeof *w);
    w->decl = kd_program_decl(R->p, KDR_MODEL, name, &w->unit);
    for (int i = 0; R->o->eval && i < R->o->eval->nmodels; i++)
        if (strcmp(R->o->eval->models[i], name) == 0) {
            w->file = R->o->eval->files[i];
            snprintf(w->path, sizeof w->path, "%s", w->file);
            return 1;
        }
    if (!w->decl || !w->decl->b) return 0;
    const kdr_node *b = w->decl->b;
    w->at = b;
    w->file = b->str;
    const char *up = w->unit ? w->unit->path : NULL;
    const char *slash = up ? strrchr(up, '/') : NULL;
    if (b->str[0] == '/' || !slash)
        snprintf(w->path, sizeof w->path, "%s", b->str);
    else
        snprintf(w->path, sizeof w->path, "%.*s/%s", (int)(slash - up), up, b->str);
    for (const kdr_node *p = b->kids; p && w->nparts < 16; p = p->next) {
        if (kdr_weights_part(p, w->parts[w->nparts], sizeof w->parts[0], NULL)) continue;
        w->part_at[w->nparts++] = p;
    }
    return 1;
}

/* -1 when no part selects path, else the index of the first that does */
static int selected(const wsrc *w, const char *path)
{
    if (!w->nparts) return 0;
    for (int i = 0; i < w->nparts; i++)
        if (part_matches(w->parts[i], path)) return i;
    return -1;
}

typedef struct problems { run *R; const wsrc *w; const char *model; int n; } problems;

static void problem(problems *pb, const kdr_node *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(problems *pb, const kdr_node *at, const char *fmt, ...)
{
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    run *R = pb->R;
    const wsrc *w = pb->w;
    if (!at) at = w->at;
    if (pb->n == 0) {
        R->unit = w->unit;
        if (at)
            run_fail(R, KD_RUN_DATA, at, "weights of model '%s' from %s: %s", pb->model, w->path, buf);
        else
            run_fail(R, KD_RUN_DATA, NULL, "--model %s=%s: %s", pb->model, w->file, buf);
    } else if (pb->n < 12) {
        kdr_diag_push(R->d, KDR_NOTE, NULL, 0, 0, "%s", buf);
    } else if (pb->n == 12) {
        kdr_diag_push(R->d, KDR_NOTE, NULL, 0, 0, "(more problems with this file are not listed)");
    }
    pb->n++;
}

static int load_one(run *R, pgraph *G, int mi, const wsrc *w)
{
    const char *mn = G->pg.m[mi].name;
    problems pb = { R, w, mn, 0 };
    kdr_diag fd;
    kdr_diag_init(&fd);
    kd_st_file *f = kd_st_read(w->path, &fd);
    if (!f) {
        problem(&pb, NULL, "%s", fd.count ? fd.msgs[0].text : "cannot read the file");
        kdr_diag_free(&fd);
        return -1;
    }
    kdr_diag_free(&fd);
    int ne;
    weights_entry *e = weights_entries(G, mi, &ne);
    if (ne < 0) { kd_st_free(f); return run_fail(R, KD_RUN_FAILED, NULL, "out of memory"); }
    size_t nf = kd_st_count(f);
    char *used = calloc(nf + 1, 1);
    int part_used[16] = { 0 };
    if (!used) { free(e); kd_st_free(f); return run_fail(R, KD_RUN_FAILED, NULL, "out of memory"); }
    for (int i = 0; i < ne; i++) {
        int p = selected(w, e[i].path);
        if (p < 0) continue;
        part_used[p] = 1;
        const kd_st_tensor *t = kd_st_find(f, e[i].path);
        char want[128], got[128];
        shape_str(want, sizeof want, e[i].shape.ndim, e[i].shape.dims);
        if (!t) {
            problem(&pb, w->nparts ? w->part_at[p] : NULL, "missing tensor %s %s", e[i].path, want);
            continue;
        }
        for (size_t k = 0; k < nf; k++)
            if (kd_st_at(f, k) == t) used[k] = 1;
        int same = t->ndim == e[i].shape.ndim;
        for (int d = 0; same && d < t->ndim; d++) same = t->shape[d] == e[i].shape.dims[d];
        if (!same) {
            shape_str(got, sizeof got, t->ndim, t->shape);
            problem(&pb, w->nparts ? w->part_at[p] : NULL, "tensor %s has shape %s in the file, the model's is %s",
                    e[i].path, got, want);
        }
    }
    for (size_t k = 0; k < nf; k++) {
        const kd_st_tensor *t = kd_st_at(f, k);
        if (used[k] || selected(w, t->name) < 0) continue;
        problem(&pb, NULL, "unexpected tensor %s (model '%s' has no such %s)", t->name, mn,
                w->nparts ? "tensor under these parts" : "tensor");
    }
    for (int p = 0; p < w->nparts; p++)
        if (!part_used[p])
            problem(&pb, w->part_at[p], "part '%s' selects no tensor of model '%s'", w->parts[p], mn);
    if (pb.n == 0) {
        for (int i = 0; i < ne; i++) {
            const kd_st_tensor *t = selected(w, e[i].path) >= 0 ? kd_st_find(f, e[i].path) : NULL;
            if (t) memcpy(e[i].data, t->data, (size_t)e[i].n * sizeof(float));
        }
        /* the whole model (parts loaded, the rest as initialized) to the store */
        char key[700];
        for (int i = 0; i < ne && !R->status; i++) {
            snprintf(key, sizeof key, "%s.%s", mn, e[i].path);
            if (run_store_put(R, key, e[i].data, e[i].n)) run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
        }
    }
    free(used);
    free(e);
    kd_st_free(f);
    return pb.n || R->status ? -1 : 0;
}

int weights_in_apply(run *R, pgraph *G)
{
    const kdr_unit *unit = R->unit;
    int loaded = 0;
    for (int mi = 0; mi < G->pg.nm; mi++) {
        wsrc w;
        if (!source_of(R, G->pg.m[mi].name, &w)) continue;
        /* trained or loaded before (an earlier phase, a resumed state) */
        int in_store = 0;
        for (int32_t k = 0; k < G->pg.g->nparams && !in_store; k++)
            if (G->pg.g->params[k].model == G->pg.m[mi].index && run_store_find(R, G->pg.g->params[k].name))
                in_store = 1;
        if (in_store) continue;
        if (load_one(R, G, mi, &w)) { R->unit = unit; return -1; }
        loaded++;
    }
    R->unit = unit;
    return loaded;
}
