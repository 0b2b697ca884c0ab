/* test_conformance.c — the executor against PyTorch on a CIFAR ResNet-20
 * and on NextItNet (test_nextitnet_matches_torch, nextitnet_torch.py).
 *
 * Compiles `resnet(depth: 20, classes: 10)` from the zoo on a [16, 3, 32, 32]
 * batch, initialises the parameters (seed 11), runs one training-mode
 * forward + backward of the mean cross-entropy, and writes parameters,
 * input and labels to a KDT1 file (format in resnet_torch.py).  The script
 * builds the same network in PyTorch, loads them, does the same step in
 * float32 and in float64, and writes logits, loss, parameter gradients and
 * bn running statistics back.  Every tensor must agree within 1e-4
 * relative, with torch's float32 step and with the float64 one:
 *     max |ours - torch| / max |torch|   (per tensor).
 *
 * The seed matters.  With some initialisations one relu input of the 20
 * layers lies within float32 rounding of 0; float32 and float64 take
 * different branches there, and every weight gradient before that layer
 * moves by up to ~3%.  Which float32 computation flips depends on its
 * rounding: torch's AVX2 and scalar kernels differ, and so did ours before
 * and after conv2d and batchnorm2d were rewritten.  Measured on an AMD EPYC
 * (Zen 5) with Debian's torch 1.13, seeds 5, 9, 10-16: someone flipped for
 * 5, 9, 12, 13, 14, 16; for 10, 11 and 15 torch (AVX2 and
 * ATEN_CPU_CAPABILITY=default) and ours all stay within 6e-6 of float64.
 * Seed 11 measures the kernels, not the coin.
 *
 * Winograd (ops/kd_wino.c, conv2d's 3x3 stride-1 convs of 16k channels on
 * AVX-512) rounds differently enough to flip such a coin at seed 11: its
 * forward is within 2e-6 of float64 here, but a relu input that close to
 * 0 takes the other branch and the gradients before it move by up to 2%.
 * So the strict comparison above runs with Winograd off
 * (kd_sgemm_small_set_conv(63): the direct products); then the same step
 * runs again with it on, from the same parameters and bn statistics: its
 * logits and bn statistics must meet the same 1e-4 against float64, its
 * loss against torch's, and its gradients 5e-2 (the coin) against float64.
 *
 * Where torch's float32 gradient of a tensor is itself more than 1e-4 from
 * torch's float64 one all the same (another machine, another torch), the
 * two took different branches and each is a correct gradient of its own:
 * ours must then match one of them (the counts are printed).
 *
 * Skipped (exit 77) when no python3 can `import torch`.  The interpreter is
 * $KDRUN_PYTHON, else /usr/bin/python3, else python3 on the PATH (a pyenv
 * python3 first on the PATH may lack Debian's python3-torch).
 */
#define _GNU_SOURCE 1   /* mkstemps, mkdtemp */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../unit.h"
#include "../../../runtime/exec.h"
#include "../../../runtime/graph_ops.h"
#include "../../../runtime/op_builtins.h"
#include "../../../ops/kd_sgemm_small.h"
#include "kdt.h"

#define BATCH 16
#define TOL 1e-4

/* ---- the test --------------------------------------------------------------------------- */

/* the largest relative error of the bn running statistics against
 * torch's (1e30 where torch's is missing); returns the bn layers compared */
static int bn_stats_err(kd_exec *e, const kd_graph *g, const tensor *t, int nt, double *worst)
{
    int nbn = 0;
    *worst = 0;
    for (int32_t i = 0; i < g->nnodes; i++) {
        const kd_node *nd = &g->nodes[i];
        if (nd->kind != KD_NODE_OP || strcmp(nd->op->name, "batchnorm2d") != 0) continue;
        const char *wname = g->params[nd->in[nd->ndata]].name;
        size_t len = strlen(wname) - strlen(".weight");
        for (int k = 0; k < 2; k++) {
            char name[200];
            snprintf(name, sizeof name, "%s:%.*s", k ? "running_var" : "running_mean", (int)len, wname);
            const tensor *o = find(t, nt, name);
            double r = o ? rel_err(kd_exec_state(e, i, k), o, (size_t)nd->shape.dims[1]) : 1e30;
            if (!(r <= *worst)) *worst = r;
        }
        nbn++;
    }
    return nbn;
}

static void test_resnet20_matches_torch(void)
{
    kdr_diag d;
    kdr_diag_init(&d);
    char dir[] = "/tmp/kdrun-conf-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char recipe[600], fin[600], fout[600];
    snprintf(recipe, sizeof recipe, "%s/r20.kdr", dir);
    snprintf(fin, sizeof fin, "%s/in.kdt", dir);
    snprintf(fout, sizeof fout, "%s/out.kdt", dir);
    FILE *f = fopen(recipe, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("use \"nets/resnet.kdr\"\nmodel s = resnet(depth: 20, classes: 10)\n", f);
    fclose(f);
    kdr_program *p = kdr_program_load(recipe, KD_SRC("recipes"), &d);
    CU_ASSERT_FATAL(p && d.errors == 0 && kdr_check(p, NULL, 0, &d) == 0);
    kd_graph *g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 3, 32, 32 });
    ds.classes = 10;
    const kdr_node *decl = NULL;
    for (const kdr_node *k = p->units[0]->root->kids; k; k = k->next)
        if (k->kind == KDR_MODEL) decl = k;
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(g, p, decl, &ds, BATCH, &d), 0);
    int32_t x = -1;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].kind == KD_NODE_INPUT) x = i;
    int32_t logits = kd_graph_find(g, "s.logits");
    int32_t y = kd_graph_add_input(g, "label", kd_shape_make(1, (const int64_t[]){ BATCH }));
    char err[256];
    int32_t ce_in[2] = { logits, y };
    int32_t loss = kd_graph_add_op(g, kd_op_find("ce"), ce_in, 2, NULL, err, sizeof err);
    CU_ASSERT_FATAL(x >= 0 && logits >= 0 && y >= 0 && loss >= 0);
    int32_t roots[2] = { loss, logits };
    kd_exec *e = kd_exec_new(g, roots, 2, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_init_params(e, 11);
    float *xi = kd_exec_input(e, x), *yi = kd_exec_input(e, y);
    uint64_t s = 2463534242ull;
    for (int64_t i = 0; i < kd_shape_numel(&g->nodes[x].shape); i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        xi[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
    }
    for (int i = 0; i < BATCH; i++) yi[i] = (float)((i * 7) % 10);
    /* bn statistics before the step, for the Winograd step after */
    float *stat0[64][2] = {{0}};
    int nst = 0;
    for (int32_t i = 0; i < g->nnodes && nst < 64; i++) {
        const kd_node *nd = &g->nodes[i];
        if (nd->kind != KD_NODE_OP || strcmp(nd->op->name, "batchnorm2d") != 0) continue;
        for (int k = 0; k < 2; k++) {
            stat0[nst][k] = malloc(sizeof(float) * (size_t)nd->shape.dims[1]);
            memcpy(stat0[nst][k], kd_exec_state(e, i, k), sizeof(float) * (size_t)nd->shape.dims[1]);
        }
        nst++;
    }
    /* our step, with the direct products */
    int conv_bits = kd_sgemm_small_set_conv(63);
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, loss), 0);
    /* their inputs: parameters are those before the step (no optimizer) */
    f = fopen(fin, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint32_t cnt = (uint32_t)g->nparams + 4;
    fwrite("KDT1", 1, 4, f);
    fwrite(&cnt, 4, 1, f);
    put(f, "x", &g->nodes[x].shape, xi);
    put(f, "y", &g->nodes[y].shape, yi);
    kd_shape sc = { .ndim = 0 };
    float depth = 20, classes = 10;
    put(f, "meta:depth", &sc, &depth);
    put(f, "meta:classes", &sc, &classes);
    for (int32_t i = 0; i < g->nparams; i++)
        put(f, g->params[i].name, &g->params[i].shape, kd_exec_params(e) + g->params[i].offset);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", python,
             KD_SRC("tests/runtime/conformance/resnet_torch.py"), fin, fout);
    int rc = system(cmd);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    int nt = 0;
    tensor *t = read_all(fout, &nt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    /* compare */
    double e_logits = rel_err(kd_exec_value(e, logits), find(t, nt, "logits"), BATCH * 10);
    double e_loss = rel_err(kd_exec_value(e, loss), find(t, nt, "loss"), 1);
    double e_grad = 0, e_stat = 0, e_torch64 = 0;
    double e_logits64 = rel_err(kd_exec_value(e, logits), find(t, nt, "logits64"), BATCH * 10);
    const char *worst = "";
    int compared = 0, torch_off = 0, on64 = 0, on32 = 0;
    for (int32_t i = 0; i < g->nparams; i++) {
        char name[200];
        snprintf(name, sizeof name, "grad:%s", g->params[i].name);
        const tensor *o = find(t, nt, name);
        CU_ASSERT_PTR_NOT_NULL(o);
        if (!o) continue;
        double r = rel_err(kd_exec_grads(e) + g->params[i].offset, o,
                           (size_t)kd_shape_numel(&g->params[i].shape));
        /* and against the float64 step */
        char name64[200];
        snprintf(name64, sizeof name64, "grad64:%s", g->params[i].name);
        const tensor *o64 = find(t, nt, name64);
        CU_ASSERT_PTR_NOT_NULL(o64);
        if (!o64) continue;
        double r64 = rel_err(kd_exec_grads(e) + g->params[i].offset, o64,
                             (size_t)kd_shape_numel(&g->params[i].shape));
        double t64 = rel_err(o->data, o64, (size_t)kd_shape_numel(&g->params[i].shape));
        /* Where torch float32 and float64 agree, ours must match both.
         * Where they do not (a relu coin flipped, see above), each is a
         * correct gradient of its own branch: ours must match one. */
        double err_t;   /* against the reference(s) this tensor is held to */
        if (t64 <= TOL) {
            err_t = r > r64 ? r : r64;
        } else {
            torch_off++;
            err_t = r < r64 ? r : r64;
            if (r64 <= TOL) on64++;
            else if (r <= TOL) on32++;
        }
        CU_ASSERT(err_t >= 0 && err_t <= TOL);
        if (!(err_t <= TOL)) fprintf(stderr, "\n  %s: %.3g, float64 %.3g", name, r, r64);
        if (!(err_t <= e_grad)) e_grad = err_t, worst = g->params[i].name;
        if (t64 > e_torch64) e_torch64 = t64;
        compared++;
    }
    int nbn = bn_stats_err(e, g, t, nt, &e_stat);
    CU_ASSERT(e_stat >= 0 && e_stat <= TOL);
    CU_ASSERT(e_logits >= 0 && e_logits <= TOL);
    CU_ASSERT(e_logits64 >= 0 && e_logits64 <= TOL);
    CU_ASSERT(e_loss >= 0 && e_loss <= TOL);
    CU_ASSERT_EQUAL(compared, 65);
    CU_ASSERT_EQUAL(nbn, 21);
    fprintf(stderr, "\n  ResNet-20, batch %d, training mode, vs torch (%s):\n"
            "    logits     max rel err %.3g (float64: %.3g)\n    loss       rel err %.3g (ours %.7f)\n"
            "    gradients  max rel err %.3g over %d tensors (worst %s)\n"
            "    bn stats   max rel err %.3g over %d layers\n"
            "  torch float32 vs float64: gradients %.3g apart; for %d tensors more than %g (a relu\n"
            "  coin): ours on the float64 branch for %d of them, on torch float32's for %d\n",
            BATCH, python, e_logits, e_logits64, e_loss, (double)kd_exec_value(e, loss)[0], e_grad,
            compared, worst, e_stat, nbn, e_torch64, torch_off, TOL, on64, on32);

    /* the same step with Winograd (where this CPU has it), from the same state */
    kd_sgemm_small_set_conv(conv_bits | 64);
    nst = 0;
    for (int32_t i = 0; i < g->nnodes && nst < 64; i++) {
        const kd_node *nd = &g->nodes[i];
        if (nd->kind != KD_NODE_OP || strcmp(nd->op->name, "batchnorm2d") != 0) continue;
        for (int k = 0; k < 2; k++) {
            memcpy(kd_exec_state(e, i, k), stat0[nst][k], sizeof(float) * (size_t)nd->shape.dims[1]);
            free(stat0[nst][k]);
        }
        nst++;
    }
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, loss), 0);
    double w_logits = rel_err(kd_exec_value(e, logits), find(t, nt, "logits64"), BATCH * 10);
    double w_loss = rel_err(kd_exec_value(e, loss), find(t, nt, "loss"), 1), w_grad = 0, w_stat = 0;
    for (int32_t i = 0; i < g->nparams; i++) {
        char name64[200];
        snprintf(name64, sizeof name64, "grad64:%s", g->params[i].name);
        const tensor *o64 = find(t, nt, name64);
        if (!o64) continue;
        double r = rel_err(kd_exec_grads(e) + g->params[i].offset, o64,
                           (size_t)kd_shape_numel(&g->params[i].shape));
        if (!(r <= w_grad)) w_grad = r;
    }
    bn_stats_err(e, g, t, nt, &w_stat);
    kd_sgemm_small_set_conv(conv_bits);
    CU_ASSERT(w_logits >= 0 && w_logits <= TOL);
    CU_ASSERT(w_loss >= 0 && w_loss <= TOL);
    CU_ASSERT(w_stat >= 0 && w_stat <= TOL);
    CU_ASSERT(w_grad >= 0 && w_grad <= 5e-2);
    fprintf(stderr, "  with Winograd, vs float64: logits %.3g, loss %.3g, bn stats %.3g, gradients %.3g\n",
            w_logits, w_loss, w_stat, w_grad);
    for (int i = 0; i < nt; i++) free(t[i].data);
    free(t);
    unlink(fin), unlink(fout), unlink(recipe), rmdir(dir);
    kd_exec_free(e);
    kd_graph_free(g);
    kdr_program_free(p);
    kdr_diag_free(&d);
}

/* NextItNet (recipes/nets/nextitnet.kdr: embedding, dilated causal conv1d,
 * layer norm over channels, relu, residual, last step, linear) against
 * nextitnet_torch.py: one forward + backward of the mean cross-entropy on
 * random item ids, with some left padding (id 0) as real histories have. */
#define NB 8
#define NT 12
static void test_nextitnet_matches_torch(void)
{
    enum { ITEMS = 31, DIM = 16, BLOCKS = 2 };
    kdr_diag d;
    kdr_diag_init(&d);
    char dir[] = "/tmp/kdrun-conf-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char recipe[600], fin[600], fout[600];
    snprintf(recipe, sizeof recipe, "%s/nin.kdr", dir);
    snprintf(fin, sizeof fin, "%s/in.kdt", dir);
    snprintf(fout, sizeof fout, "%s/out.kdt", dir);
    FILE *f = fopen(recipe, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "use \"nets/nextitnet.kdr\"\nmodel s = nextitnet(num_items: %d, dim: %d, blocks: %d)\n",
            ITEMS, DIM, BLOCKS);
    fclose(f);
    kdr_program *p = kdr_program_load(recipe, KD_SRC("recipes"), &d);
    CU_ASSERT_FATAL(p && d.errors == 0 && kdr_check(p, NULL, 0, &d) == 0);
    kd_graph *g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(1, (const int64_t[]){ NT });
    ds.classes = ITEMS;
    const kdr_node *decl = NULL;
    for (const kdr_node *k = p->units[0]->root->kids; k; k = k->next)
        if (k->kind == KDR_MODEL) decl = k;
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(g, p, decl, &ds, NB, &d), 0);
    int32_t x = -1;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].kind == KD_NODE_INPUT) x = i;
    int32_t logits = kd_graph_find(g, "s.logits");
    int32_t y = kd_graph_add_input(g, "label", kd_shape_make(1, (const int64_t[]){ NB }));
    char err[256];
    int32_t ce_in[2] = { logits, y };
    int32_t loss = kd_graph_add_op(g, kd_op_find("ce"), ce_in, 2, NULL, err, sizeof err);
    CU_ASSERT_FATAL(x >= 0 && logits >= 0 && y >= 0 && loss >= 0);
    int32_t roots[2] = { loss, logits };
    kd_exec *e = kd_exec_new(g, roots, 2, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_init_params(e, 3);
    float *xi = kd_exec_input(e, x), *yi = kd_exec_input(e, y);
    uint64_t s = 2463534242ull;
    for (int r = 0; r < NB; r++)
        for (int t = 0; t < NT; t++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            /* row r is left-padded by r % 4 zeros */
            xi[r * NT + t] = t < r % 4 ? 0.0f : (float)(1 + (s >> 11) % (ITEMS - 1));
        }
    for (int i = 0; i < NB; i++) yi[i] = (float)(1 + (i * 7) % (ITEMS - 1));
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, loss), 0);
    f = fopen(fin, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint32_t cnt = (uint32_t)g->nparams + 5;
    fwrite("KDT1", 1, 4, f);
    fwrite(&cnt, 4, 1, f);
    put(f, "x", &g->nodes[x].shape, xi);
    put(f, "y", &g->nodes[y].shape, yi);
    kd_shape sc = { .ndim = 0 };
    float meta[3] = { ITEMS, DIM, BLOCKS };
    put(f, "meta:num_items", &sc, &meta[0]);
    put(f, "meta:dim", &sc, &meta[1]);
    put(f, "meta:blocks", &sc, &meta[2]);
    for (int32_t i = 0; i < g->nparams; i++)
        put(f, g->params[i].name, &g->params[i].shape, kd_exec_params(e) + g->params[i].offset);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", python,
             KD_SRC("tests/runtime/conformance/nextitnet_torch.py"), fin, fout);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    int nt = 0;
    tensor *t = read_all(fout, &nt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    double e_logits = rel_err(kd_exec_value(e, logits), find(t, nt, "logits"), NB * ITEMS);
    double e_logits64 = rel_err(kd_exec_value(e, logits), find(t, nt, "logits64"), NB * ITEMS);
    double e_loss = rel_err(kd_exec_value(e, loss), find(t, nt, "loss"), 1);
    double e_grad = 0;
    const char *worst = "";
    int compared = 0;
    for (int32_t i = 0; i < g->nparams; i++) {
        for (int k = 0; k < 2; k++) {
            char name[200];
            snprintf(name, sizeof name, "%s:%s", k ? "grad64" : "grad", g->params[i].name);
            const tensor *o = find(t, nt, name);
            CU_ASSERT_PTR_NOT_NULL(o);
            if (!o) continue;
            double r = rel_err(kd_exec_grads(e) + g->params[i].offset, o,
                               (size_t)kd_shape_numel(&g->params[i].shape));
            CU_ASSERT(r >= 0 && r <= TOL);
            if (!(r <= TOL)) fprintf(stderr, "\n  %s: %.3g", name, r);
            if (!(r <= e_grad)) e_grad = r, worst = g->params[i].name;
        }
        compared++;
    }
    CU_ASSERT(e_logits >= 0 && e_logits <= TOL);
    CU_ASSERT(e_logits64 >= 0 && e_logits64 <= TOL);
    CU_ASSERT(e_loss >= 0 && e_loss <= TOL);
    CU_ASSERT_EQUAL(compared, 3 + 8 * BLOCKS);
    fprintf(stderr, "\n  NextItNet (%d blocks, dim %d, %d items), batch %d x %d, vs torch:\n"
            "    logits     max rel err %.3g (float64: %.3g)\n    loss       rel err %.3g\n"
            "    gradients  max rel err %.3g over %d tensors, float32 and float64 (worst %s)\n",
            BLOCKS, DIM, ITEMS, NB, NT, e_logits, e_logits64, e_loss, e_grad, compared, worst);
    for (int i = 0; i < nt; i++) free(t[i].data);
    free(t);
    unlink(fin), unlink(fout), unlink(recipe), rmdir(dir);
    kd_exec_free(e);
    kd_graph_free(g);
    kdr_program_free(p);
    kdr_diag_free(&d);
}

int main(void)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    if (find_python() != 0) {
        fprintf(stderr, "SKIP: no python3 with torch (apt-get install python3-torch, "
                        "or set KDRUN_PYTHON)\n");
        return 77;
    }
    static const kd_unit_test tests[] = {
        KD_TEST(test_resnet20_matches_torch),
        KD_TEST(test_nextitnet_matches_torch),
        KD_TEST_END
    };
    return kd_unit_main("conformance", tests);
}
