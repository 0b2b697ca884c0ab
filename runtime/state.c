/* state.c — checkpoints and the resumable state: what a run saves after
 * every epoch (state.safetensors) and how --resume reads it back.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "state.h"
#include "run_plan.h"
#include "textbuf.h"
#include "dp.h"

int state_save_checkpoint(run *R, pgraph *G, const char *route, int64_t epoch, const char *phase)
{
    if (!kd_dp_writer(R)) return 0;            /* data-parallel: rank 0 writes */
    char dir[1200], path[1300], ep[32];
    snprintf(dir, sizeof dir, "%s/checkpoints/%s", R->dir, route);
    if (run_mkdirs(dir)) return run_fail(R, KD_RUN_FAILED, NULL, "%s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/epoch-%03lld.safetensors", dir, (long long)epoch);
    int n = 0, cap = G->pg.g->nparams + 2 * G->pg.g->nnodes;
    kd_st_tensor *t = calloc((size_t)(cap ? cap : 1), sizeof *t);
    char (*names)[340] = calloc((size_t)(cap ? cap : 1), sizeof *names);
    if (!t || !names) { free(t); free(names); return run_fail(R, KD_RUN_FAILED, NULL, "out of memory"); }
    const float *P = kd_exec_params(G->e);
    for (int32_t i = 0; i < G->pg.g->nparams; i++) {
        const kd_param *q = &G->pg.g->params[i];
        if (!q->trainable) continue;
        t[n].name = q->name;
        t[n].ndim = q->shape.ndim;
        for (int k = 0; k < q->shape.ndim; k++) t[n].shape[k] = q->shape.dims[k];
        t[n].data = P + q->offset;
        n++;
    }
    for (int32_t i = 0; i < G->pg.g->nnodes; i++) {
        const kd_node *nd = &G->pg.g->nodes[i];
        char base[300];
        if (pgraph_bn_base(G->pg.g, nd, base, sizeof base) || !G->pg.g->params[nd->in[nd->ndata]].trainable) continue;
        for (int k = 0; k < 2; k++) {
            snprintf(names[n], sizeof names[n], "%s.%s", base, k ? "running_var" : "running_mean");
            t[n].name = names[n];
            t[n].ndim = 1;
            t[n].shape[0] = kd_shape_numel(&nd->info.state_shape[k]);
            t[n].data = kd_exec_state(G->e, i, k);
            if (t[n].data) n++;
        }
    }
    snprintf(ep, sizeof ep, "%lld", (long long)epoch);
    kd_st_meta meta[3] = { { "recipe", R->o->recipe }, { "phase", phase }, { "epoch", ep } };
    int rc = kd_st_write(path, t, (size_t)n, meta, 3, R->d);
    free(t);
    free(names);
    if (rc) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    return 0;
}

static void warn_unchecked(run *R, const kd_st_file *f, const char *path);
static int tensor_finite(run *R, const char *path, const kd_st_tensor *t);
static int state_verify_file(run *R, const char *path);

/* ---- resumable state -------------------------------------------------------------- */

#define STATE_FORMAT "kdrun-state 1"

/* every metric row as text: "phase\tepoch\twhat\tvalue\n", values exact */
static char *rows_text(run *R)
{
    kd_strbuf b = { 0 };
    for (int i = 0; i < R->nrows; i++)
        kd_sb_printf(&b, "%s\t%lld\t%s\t%.17g\n", R->rows[i].phase, (long long)R->rows[i].epoch,
                     R->rows[i].what, R->rows[i].value);
    return kd_sb_take(&b);   /* NULL: out of memory */
}

static int rows_parse(run *R, const char *txt)
{
    R->nrows = 0;
    while (txt && *txt) {
        const char *nl = strchr(txt, '\n');
        if (!nl) return -1;
        char line[512];
        size_t l = (size_t)(nl - txt);
        if (l >= sizeof line) return -1;
        memcpy(line, txt, l);
        line[l] = 0;
        char *f[4], *p = line;
        for (int k = 0; k < 4; k++) {
            f[k] = p;
            p = k < 3 ? strchr(p, '\t') : NULL;
            if (k < 3 && !p) return -1;
            if (p) *p++ = 0;
        }
        char *end;
        long long ep = strtoll(f[1], &end, 10);
        if (*end) return -1;
        double v = strtod(f[3], &end);
        if (*end) return -1;
        run_add_row(R, f[0], ep, f[2], v);
        txt = nl + 1;
    }
    return 0;
}

/* Write run_dir/state.safetensors: the store (update it first), the
 * optimizer's buffers (opt may be NULL) and where the run is. */
int state_save(run *R, kd_optim *opt, int64_t epoch, int64_t step, double sum, int64_t n,
                      uint64_t exec_step, const char *phase)
{
    if (!kd_dp_writer(R)) return 0;            /* data-parallel: rank 0 writes */
    int nopt = opt ? kd_optim_nstate(opt) : 0;
    size_t cap = (size_t)R->nstore + (size_t)nopt + 1;
    kd_st_tensor *t = calloc(cap, sizeof *t);
    char **names = calloc(cap, sizeof *names);
    char *rows = rows_text(R);
    int rc = -1;
    size_t k = 0;
    if (!t || !names || !rows) goto out;
    for (int i = 0; i < R->nstore; i++, k++) {
        size_t l = strlen(R->store[i].name) + 7;
        if (!(names[k] = malloc(l))) goto out;
        snprintf(names[k], l, "store/%s", R->store[i].name);
        t[k].name = names[k];
        t[k].ndim = 1;
        t[k].shape[0] = R->store[i].n;
        t[k].data = R->store[i].v;
    }
    for (int i = 0; i < nopt; i++, k++) {
        const char *bn = NULL;
        float *buf = kd_optim_state(opt, i, &bn);
        size_t l = strlen(bn ? bn : "buf") + 7;
        if (!(names[k] = malloc(l))) goto out;
        snprintf(names[k], l, "optim/%s", bn ? bn : "buf");
        t[k].name = names[k];
        t[k].ndim = 1;
        t[k].shape[0] = (int64_t)kd_optim_group(opt)->total;
        t[k].data = buf;
    }
    char sphase[32], sep[32], sst[32], ssum[40], sn[32], sexec[32], sopt[32], swall[40], sanc[32], ssince[32];
    snprintf(sanc, sizeof sanc, "%d", R->anchor_cur);
    snprintf(ssince, sizeof ssince, "%d", R->anchor_since);
    snprintf(sphase, sizeof sphase, "%d", R->phase_idx);
    snprintf(sep, sizeof sep, "%lld", (long long)epoch);
    snprintf(sst, sizeof sst, "%lld", (long long)step);
    snprintf(ssum, sizeof ssum, "%.17g", sum);
    snprintf(sn, sizeof sn, "%lld", (long long)n);
    snprintf(sexec, sizeof sexec, "%llu", (unsigned long long)exec_step);
    snprintf(sopt, sizeof sopt, "%lld", (long long)(opt ? kd_optim_steps(opt) : 0));
    snprintf(swall, sizeof swall, "%.6f", R->wall_before + run_now() - R->t0);
    kd_st_meta meta[] = {
        { "format", STATE_FORMAT }, { "recipe", R->o->recipe }, { "phase_index", sphase },
        { "phase", phase ? phase : "" }, { "epoch", sep }, { "step", sst }, { "loss_sum", ssum },
        { "loss_n", sn }, { "exec_step", sexec }, { "optim_steps", sopt },
        { "done", R->done ? "1" : "0" }, { "wall_seconds", swall }, { "anchor", sanc },
        { "anchor_since", ssince }, { "rows", rows }, { "conv_kernels", kd_conv_kernels() },
    };
    char path[1200];
    snprintf(path, sizeof path, "%s/state.safetensors", R->dir);
    rc = kd_st_write(path, t, k, meta, sizeof meta / sizeof meta[0], R->d);
    if (rc && !R->status) R->status = KD_RUN_FAILED;
out:
    if (rc && (!t || !names || !rows)) run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    for (size_t i = 0; names && i < cap; i++) free(names[i]);
    free(names);
    free(t);
    free(rows);
    return rc;
}

static int meta_int(run *R, const char *path, const char *key, int64_t *out)
{
    const char *v = kd_st_meta_get(R->state, key);
    char *end;
    if (!v) return run_fail(R, KD_RUN_FAILED, NULL, "%s: no \"%s\" in the metadata", path, key);
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < 0)
        return run_fail(R, KD_RUN_FAILED, NULL, "%s: bad \"%s\": %s", path, key, v);
    *out = x;
    return 0;
}

/* Read run_dir/state.safetensors of a run to resume (absent: start over). */
int state_load(run *R)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/state.safetensors", R->dir);
    if (access(path, F_OK) != 0) {
        if (!R->o->quiet)
            fprintf(stderr, "%s: no state saved yet; starting the run over\n", R->dir);
        return 0;
    }
    R->state = kd_st_read(path, R->d);
    if (!R->state) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    if (state_verify_file(R, path)) return -1;
    const char *fmt = kd_st_meta_get(R->state, "format");
    if (!fmt || strcmp(fmt, STATE_FORMAT) != 0)
        return run_fail(R, KD_RUN_FAILED, NULL, "%s: not a kdrun state file (format %s)", path, fmt ? fmt : "missing");
    int64_t ph, done, exec_step;
    if (meta_int(R, path, "phase_index", &ph) || meta_int(R, path, "epoch", &R->resume_epoch) ||
        meta_int(R, path, "step", &R->resume_step) || meta_int(R, path, "loss_n", &R->resume_n) ||
        meta_int(R, path, "exec_step", &exec_step) || meta_int(R, path, "optim_steps", &R->resume_optim_steps) ||
        meta_int(R, path, "done", &done))
        return -1;
    const char *sum = kd_st_meta_get(R->state, "loss_sum");
    const char *wall = kd_st_meta_get(R->state, "wall_seconds");
    R->resume_sum = sum ? strtod(sum, NULL) : 0;
    R->wall_before = wall ? strtod(wall, NULL) : 0;
    R->resume_exec_step = (uint64_t)exec_step;
    if (ph > (int64_t)R->p->nphases)
        return run_fail(R, KD_RUN_FAILED, NULL, "%s: phase %lld of a recipe with %zu phases", path,
                    (long long)ph, R->p->nphases);
    const char *pname = kd_st_meta_get(R->state, "phase");
    if (ph < (int64_t)R->p->nphases && pname && strcmp(pname, R->p->phase_order[ph]->name) != 0)
        return run_fail(R, KD_RUN_FAILED, NULL, "%s: saved in phase '%s', but the recipe's phase %lld is '%s'",
                    path, pname, (long long)ph + 1, R->p->phase_order[ph]->name);
    R->resume_phase = (int)ph;
    const char *ck = kd_st_meta_get(R->state, "conv_kernels");
    if (ck && strcmp(ck, kd_conv_kernels()) != 0 && !done)
        fprintf(stderr, "%s: warning: the run's convolutions ran on '%s', these run on '%s' "
                "(KD_SGEMM, KD_WINOGRAD): the resumed steps round differently\n", R->dir, ck,
                kd_conv_kernels());
    int64_t anc = 0, since = 0;
    if (kd_st_meta_get(R->state, "anchor") &&
        (meta_int(R, path, "anchor", &anc) || meta_int(R, path, "anchor_since", &since)))
        return -1;
    R->resume_anchor = (int)anc;
    R->resume_anchor_since = (int)since;
    if (rows_parse(R, kd_st_meta_get(R->state, "rows")))
        return run_fail(R, KD_RUN_FAILED, NULL, "%s: malformed metric rows", path);
    for (size_t i = 0; i < kd_st_count(R->state); i++) {
        const kd_st_tensor *t = kd_st_at(R->state, i);
        if (strncmp(t->name, "store/", 6) != 0) continue;
        if (run_store_put(R, t->name + 6, t->data, kd_st_numel(t))) return run_fail(R, KD_RUN_FAILED, NULL, "out of memory");
    }
    if (!R->o->quiet) {
        if (done) fprintf(stderr, "%s: the run had finished; writing its report again\n", R->dir);
        else if (ph < (int64_t)R->p->nphases)
            fprintf(stderr, "resuming %s: phase %s, epoch %lld, step %lld\n", R->dir,
                    R->p->phase_order[ph]->name, (long long)R->resume_epoch + 1, (long long)R->resume_step);
    }
    return 0;
}

/* After building the phase's optimizer: its buffers and counters. */
int state_resume_optimizer(run *R, kd_optim *opt)
{
    int nopt = kd_optim_nstate(opt);
    for (int i = 0; i < nopt; i++) {
        const char *bn = NULL;
        float *buf = kd_optim_state(opt, i, &bn);
        char key[128];
        snprintf(key, sizeof key, "optim/%s", bn ? bn : "buf");
        const kd_st_tensor *t = kd_st_find(R->state, key);
        int64_t total = (int64_t)kd_optim_group(opt)->total;
        if (!t) {
            if (R->resume_optim_steps == 0) continue;
            return run_fail(R, KD_RUN_FAILED, NULL, "the saved state has no optimizer buffer '%s'", key);
        }
        if (kd_st_numel(t) != total)
            return run_fail(R, KD_RUN_FAILED, NULL, "the saved optimizer buffer '%s' has %lld values, the phase wants %lld",
                        key, (long long)kd_st_numel(t), (long long)total);
        memcpy(buf, t->data, (size_t)total * sizeof(float));
    }
    kd_optim_set_steps(opt, R->resume_optim_steps);
    return 0;
}

/* Copy the parameters and bn statistics of model `from` in checkpoint
 * `path` into model `to` of G (the same architecture, `to` may be a pool). */
int state_load_checkpoint_into(run *R, pgraph *G, const char *path, const char *from, const char *to)
{
    kd_st_file *f = kd_st_read(path, R->d);
    if (!f) { if (!R->status) R->status = KD_RUN_FAILED; return -1; }
    warn_unchecked(R, f, path);
    float *P = kd_exec_params(G->e);
    size_t lt = strlen(to);
    char key[400];
    int n = 0;
    for (int32_t i = 0; i < G->pg.g->nparams; i++) {
        const kd_param *q = &G->pg.g->params[i];
        if (strncmp(q->name, to, lt) != 0 || q->name[lt] != '.') continue;
        snprintf(key, sizeof key, "%s%s", from, q->name + lt);
        const kd_st_tensor *t = kd_st_find(f, key);
        if (!t || kd_st_numel(t) != kd_shape_numel(&q->shape) || tensor_finite(R, path, t)) {
            if (!t || kd_st_numel(t) != kd_shape_numel(&q->shape))
                run_fail(R, KD_RUN_FAILED, NULL, "%s: %s %s", path, key, t ? "has another shape" : "is missing");
            kd_st_free(f);
            return -1;
        }
        memcpy(P + q->offset, t->data, (size_t)kd_st_numel(t) * sizeof(float));
        n++;
    }
    for (int32_t i = 0; i < G->pg.g->nnodes; i++) {
        char base[300];
        if (pgraph_bn_base(G->pg.g, &G->pg.g->nodes[i], base, sizeof base) ||
            strncmp(base, to, lt) != 0 || base[lt] != '.') continue;
        for (int k = 0; k < 2; k++) {
            snprintf(key, sizeof key, "%s%s.%s", from, base + lt, k ? "running_var" : "running_mean");
            const kd_st_tensor *t = kd_st_find(f, key);
            float *st = kd_exec_state(G->e, i, k);
            if (!st) continue;
            if (!t || kd_st_numel(t) != kd_shape_numel(&G->pg.g->nodes[i].info.state_shape[k]) ||
                tensor_finite(R, path, t)) {
                if (!t || kd_st_numel(t) != kd_shape_numel(&G->pg.g->nodes[i].info.state_shape[k]))
                    run_fail(R, KD_RUN_FAILED, NULL, "%s: %s %s", path, key, t ? "has another shape" : "is missing");
                kd_st_free(f);
                return -1;
            }
            memcpy(st, t->data, (size_t)kd_st_numel(t) * sizeof(float));
        }
    }
    kd_st_free(f);
    if (n == 0) return run_fail(R, KD_RUN_FAILED, NULL, "%s holds no parameters of '%s'", path, from);
    return 0;
}


/* ---- what a load must hold ---------------------------------------------------------- */

/* an old file (no checksum): read, with a warning */
static void warn_unchecked(run *R, const kd_st_file *f, const char *path)
{
    if (!kd_st_checksummed(f))
        kdr_diag_push(R->d, KDR_WARNING, NULL, 0, 0, "%s has no checksum (written by an older kdrun): "
                      "its data is read unverified", path);
}

/* every value finite: a NaN or Inf in a weight is damage, not a state */
static int tensor_finite(run *R, const char *path, const kd_st_tensor *t)
{
    int64_t n = kd_st_numel(t);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(t->data[i]))
            return run_fail(R, KD_RUN_FAILED, NULL, "%s: tensor '%s' holds %s at index %lld", path, t->name,
                            isnan(t->data[i]) ? "NaN" : "an infinity", (long long)i);
    return 0;
}

/* state.safetensors after reading: no old file unnoticed, no NaN */
static int state_verify_file(run *R, const char *path)
{
    warn_unchecked(R, R->state, path);
    for (size_t i = 0; i < kd_st_count(R->state); i++)
        if (tensor_finite(R, path, kd_st_at(R->state, i))) return -1;
    return 0;
}

/* the bn statistics key of node i of G, or NULL */
static const char *bn_key(const kd_graph *g, int32_t i, int k, char *buf, size_t n)
{
    char base[300];
    if (pgraph_bn_base(g, &g->nodes[i], base, sizeof base)) return NULL;
    snprintf(buf, n, "%s.%s", base, k ? "running_var" : "running_mean");
    return buf;
}

/* A resumed store against G: a model the state holds is there whole (a
 * renamed or deleted tensor would otherwise stay at its initial value),
 * and nothing under a model's name matches no tensor of it. */
int state_check_store(run *R, pgraph *G)
{
    if (!R->state) return 0;
    const kd_graph *g = G->pg.g;
    char key[340];
    for (int i = -1; i < G->pg.nm; i++) {
        int idx = i < 0 ? -1 : G->pg.m[i].index;
        const char *missing = NULL;
        char mkey[340] = "";
        int found = 0;
        for (int32_t k = 0; k < g->nparams; k++) {
            if (g->params[k].model != idx) continue;
            if (run_store_find(R, g->params[k].name)) found++;
            else if (!missing) missing = g->params[k].name;
        }
        for (int32_t k = 0; k < g->nnodes; k++)
            for (int s = 0; s < 2; s++) {
                if (!bn_key(g, k, s, key, sizeof key) || g->params[g->nodes[k].in[g->nodes[k].ndata]].model != idx)
                    continue;
                if (run_store_find(R, key)) found++;
                else if (!missing) missing = strcpy(mkey, key);
            }
        if (found && missing)
            return run_fail(R, KD_RUN_FAILED, NULL, "%s/state.safetensors: no tensor 'store/%s', though %s's other "
                            "tensors are there: the state does not fit the recipe", R->dir, missing,
                            i < 0 ? "the loss" : G->pg.m[i].name);
    }
    for (int s = 0; s < R->nstore; s++) {
        const char *nm = R->store[s].name;
        for (int i = 0; i < G->pg.nm; i++) {
            size_t l = strlen(G->pg.m[i].name);
            if (strncmp(nm, G->pg.m[i].name, l) != 0 || nm[l] != '.') continue;
            int match = 0;
            for (int32_t k = 0; k < g->nparams && !match; k++) match = !strcmp(g->params[k].name, nm);
            for (int32_t k = 0; k < g->nnodes && !match; k++)
                for (int b = 0; b < 2 && !match; b++) match = bn_key(g, k, b, key, sizeof key) && !strcmp(key, nm);
            if (!match)
                return run_fail(R, KD_RUN_FAILED, NULL, "%s/state.safetensors: tensor 'store/%s' is no tensor of "
                                "model '%s': the state does not fit the recipe", R->dir, nm, G->pg.m[i].name);
        }
    }
    return 0;
}

/* The saved epoch and step within the phase being resumed (steps: per epoch). */
int state_check_resume(run *R, const plan_phase *P, int64_t steps)
{
    if (R->resume_epoch > P->epochs || (R->resume_epoch == P->epochs && R->resume_step > 0) ||
        R->resume_step > (steps > 0 ? steps : 1))   /* == steps: the epoch's end is left to do */
        return run_fail(R, KD_RUN_FAILED, NULL, "%s/state.safetensors: epoch %lld, step %lld is not in phase '%s' "
                        "(%lld epochs of %lld steps): the state does not fit the recipe", R->dir,
                        (long long)R->resume_epoch, (long long)R->resume_step, P->name, (long long)P->epochs,
                        (long long)steps);
    return 0;
}

/* ---- one kdrun per run directory ----------------------------------------------------- */

static int lock_fd = -1;   /* the run directory this process holds (one at a time) */

/* Hold RUN_DIR/.lock (flock, released when the process ends or locks the
 * next directory of a sweep): a second kdrun on the same directory (two
 * --resume at once, or a --resume of a run still going) is refused. */
int state_lock(run *R)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/.lock", R->dir);
    if (lock_fd >= 0) close(lock_fd);
    lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) return run_fail(R, KD_RUN_FAILED, NULL, "cannot create %s: %s", path, strerror(errno));
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(lock_fd);
        lock_fd = -1;
        if (e == EWOULDBLOCK)
            return run_fail(R, KD_RUN_FAILED, NULL, "another kdrun is running in %s (it holds %s); "
                            "wait for it to end", R->dir, path);
        return run_fail(R, KD_RUN_FAILED, NULL, "cannot lock %s: %s", path, strerror(e));
    }
    return 0;
}

/* "NAME.tmp.XXXXXX": a temporary file of kd_write_atomic */
static int is_stale_tmp(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    return t && t != name && strlen(t + 5) == 6 && strstr(t + 5, ".tmp.") == NULL;
}

static void remove_tmp_in(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1600];
    while ((e = readdir(d)) != NULL) {
        if (!is_stale_tmp(e->d_name)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

/* The temporary files a save killed half-way left (state.safetensors.tmp.*
 * can be as large as the state): gone before the run goes on.  Under the
 * lock: no other kdrun is writing here. */
void state_remove_stale(run *R)
{
    char sub[1300];
    remove_tmp_in(R->dir);
    snprintf(sub, sizeof sub, "%s/checkpoints", R->dir);
    DIR *d = opendir(sub);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char route[1600];
        snprintf(route, sizeof route, "%s/%s", sub, e->d_name);
        remove_tmp_in(route);
    }
    closedir(d);
}
