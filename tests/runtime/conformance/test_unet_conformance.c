/* test_unet_conformance.c — the executor against PyTorch on the
 * Feature-Align U-Net of recipes/nets/unet_fa.kdr (issue: RAW denoising).
 *
 * Compiles `unet_fa(base: 4, levels: 2, fa: true)` and the plain
 * `fa: false` on a [3, 4, 16, 16] batch of packed RAW, initialises the
 * parameters (seed 5) and then moves every one by a small deterministic
 * amount (the Feature-Align weights start at 0, which would leave the
 * modulation untested), runs forward and backward of mse(out, clean), and
 * writes parameters, input and target to a KDT1 file (format in
 * resnet_torch.py).  unet_fa_torch.py builds the same net in PyTorch by
 * kdrun's parameter names and writes the output, the loss and every
 * parameter gradient in float32 and float64.  Each must agree within 1e-4:
 *     max |ours - torch| / max |torch|   (per tensor)
 * with torch's float64 step (leaky relus have no branch that rounding can
 * flip into a different gradient of more than slope 0.2 vs 1 on a
 * measure-zero set; the float32 one is printed).
 *
 * Skipped (exit 77) when no python3 can `import torch` (as test_conformance).
 */
#define _GNU_SOURCE 1   /* mkdtemp */
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
#include "kdt.h"
#include "../../../data/data.h"

#define BATCH 3
#define TOL 1e-4

static void check_unet(int fa)
{
    kdr_diag d;
    kdr_diag_init(&d);
    char dir[] = "/tmp/kdrun-uconf-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char recipe[600], fin[600], fout[600];
    snprintf(recipe, sizeof recipe, "%s/u.kdr", dir);
    snprintf(fin, sizeof fin, "%s/in.kdt", dir);
    snprintf(fout, sizeof fout, "%s/out.kdt", dir);
    FILE *f = fopen(recipe, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "use \"nets/unet_fa.kdr\"\nmodel s = unet_fa(base: 4, levels: 2, fa: %s)\n",
            fa ? "true" : "false");
    fclose(f);
    kdr_program *p = kdr_program_load(recipe, KD_SRC("recipes"), &d);
    CU_ASSERT_FATAL(p && d.errors == 0 && kdr_check(p, NULL, 0, &d) == 0);
    kd_graph *g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 4, 16, 16 });
    ds.kind = KD_DATA_RAW;
    const kdr_node *decl = NULL;
    for (const kdr_node *k = p->units[0]->root->kids; k; k = k->next)
        if (k->kind == KDR_MODEL) decl = k;
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(g, p, decl, &ds, BATCH, &d), 0);
    int32_t x = -1;
    for (int32_t i = 0; i < g->nnodes && x < 0; i++)
        if (g->nodes[i].kind == KD_NODE_INPUT) x = i;
    int32_t out = kd_graph_find(g, "s.out");
    int32_t y = kd_graph_add_input(g, "clean", g->nodes[x].shape);
    char err[256];
    int32_t ins[2] = { out, y };
    int32_t loss = kd_graph_add_op(g, kd_op_find("mse"), ins, 2, NULL, err, sizeof err);
    CU_ASSERT_FATAL(x >= 0 && out >= 0 && y >= 0 && loss >= 0);
    int32_t roots[2] = { loss, out };
    kd_exec *e = kd_exec_new(g, roots, 2, 2, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_init_params(e, 5);
    uint64_t s = 2463534242ull;
#define NEXT() (s ^= s << 13, s ^= s >> 7, s ^= s << 17, (double)(s >> 11) / 9007199254740992.0)
    float *P = kd_exec_params(e);
    for (size_t i = 0; i < g->param_count; i++) P[i] += (float)(0.05 * (2 * NEXT() - 1));
    float *xi = kd_exec_input(e, x), *yi = kd_exec_input(e, y);
    int64_t nx = kd_shape_numel(&g->nodes[x].shape);
    for (int64_t i = 0; i < nx; i++) {
        yi[i] = (float)(0.8 * NEXT());                      /* clean, linear RAW */
        xi[i] = yi[i] + (float)(0.1 * (2 * NEXT() - 1));    /* noisy */
    }
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, loss), 0);
    f = fopen(fin, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    uint32_t cnt = (uint32_t)g->nparams + 4;
    fwrite("KDT1", 1, 4, f);
    fwrite(&cnt, 4, 1, f);
    put(f, "x", &g->nodes[x].shape, xi);
    put(f, "y", &g->nodes[y].shape, yi);
    kd_shape sc = { .ndim = 0 };
    float levels = 2, faf = (float)fa;
    put(f, "meta:levels", &sc, &levels);
    put(f, "meta:fa", &sc, &faf);
    for (int32_t i = 0; i < g->nparams; i++)
        put(f, g->params[i].name, &g->params[i].shape, P + g->params[i].offset);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' '%s'", python,
             KD_SRC("tests/runtime/conformance/unet_fa_torch.py"), fin, fout);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    int nt = 0;
    tensor *t = read_all(fout, &nt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    double e_out = rel_err(kd_exec_value(e, out), find(t, nt, "out64"), (size_t)nx);
    double e_loss = rel_err(kd_exec_value(e, loss), find(t, nt, "loss64"), 1);
    double e_out32 = rel_err(kd_exec_value(e, out), find(t, nt, "out"), (size_t)nx);
    double e_grad = 0, e_grad32 = 0;
    const char *worst = "";
    int compared = 0, nfa = 0;
    for (int32_t i = 0; i < g->nparams; i++) {
        char name[200];
        size_t n = (size_t)kd_shape_numel(&g->params[i].shape);
        snprintf(name, sizeof name, "grad64:%s", g->params[i].name);
        double r = rel_err(kd_exec_grads(e) + g->params[i].offset, find(t, nt, name), n);
        snprintf(name, sizeof name, "grad:%s", g->params[i].name);
        double r32 = rel_err(kd_exec_grads(e) + g->params[i].offset, find(t, nt, name), n);
        CU_ASSERT(r >= 0 && r <= TOL);
        if (!(r >= 0 && r <= TOL)) fprintf(stderr, "\n  %s: %.3g (float32 %.3g)", g->params[i].name, r, r32);
        if (!(r <= e_grad)) e_grad = r, worst = g->params[i].name;
        if (r32 > e_grad32) e_grad32 = r32;
        nfa += strstr(g->params[i].name, "scale_weight") != NULL;
        compared++;
    }
    CU_ASSERT(e_out >= 0 && e_out <= TOL);
    CU_ASSERT(e_loss >= 0 && e_loss <= TOL);
    /* 2 levels: 5 blocks of 2 convs (w, b), 2 deconvs (w, b), the head; FA: 4 per conv */
    CU_ASSERT_EQUAL(compared, 5 * 2 * 2 + 2 * 2 + 1 + (fa ? 5 * 2 * 4 : 0));
    CU_ASSERT_EQUAL(nfa, fa ? 10 : 0);
    fprintf(stderr, "\n  U-Net (base 4, 2 levels, fa %s), batch %d, vs torch float64 (%s):\n"
            "    output     max rel err %.3g (torch float32: %.3g)\n    loss       rel err %.3g\n"
            "    gradients  max rel err %.3g over %d tensors (worst %s; torch float32: %.3g)\n",
            fa ? "true" : "false", BATCH, python, e_out, e_out32, e_loss, e_grad, compared, worst,
            e_grad32);
    for (int i = 0; i < nt; i++) free(t[i].data);
    free(t);
    unlink(fin), unlink(fout), unlink(recipe), rmdir(dir);
    kd_exec_free(e);
    kd_graph_free(g);
    kdr_program_free(p);
    kdr_diag_free(&d);
}

static void test_unet_fa_matches_torch(void) { check_unet(1); }
static void test_unet_plain_matches_torch(void) { check_unet(0); }

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
        KD_TEST(test_unet_fa_matches_torch),
        KD_TEST(test_unet_plain_matches_torch),
        KD_TEST_END
    };
    return kd_unit_main("unet_conformance", tests);
}
