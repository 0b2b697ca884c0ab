/* kd_pair.h — for the executor's tests: a ResNet-8 student (trained) and a
 * ResNet-14 teacher (frozen) on N images of 3 x S x S, loss = ce + kd, and
 * the teacher's batch norm given random affine parameters and running
 * statistics (so that a frozen teacher's path has something to compute).
 * A test defines _GNU_SOURCE (mkstemps) before any include, and N and S
 * before including it. */
#ifndef KD_TESTS_KD_PAIR_H
#define KD_TESTS_KD_PAIR_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/exec.h"
#include "../../runtime/graph_ops.h"
#include "../../runtime/op_builtins.h"

typedef struct net {
    kdr_diag diag;
    kdr_program *prog;
    kd_graph *g;
    int32_t in[2], out[2], labels, loss;
} net;

static const char *const KD_PAIR_RECIPE =
    "use \"nets/resnet.kdr\"\n"
    "model s = resnet(depth: 8, classes: 10, base: 4)\n"
    "model t = resnet(depth: 14, classes: 10, base: 8)\n";

static int build(net *t)
{
    memset(t, 0, sizeof *t);
    kdr_diag_init(&t->diag);
    char path[] = "/tmp/kdrun-pair-XXXXXX.kdr";
    int fd = mkstemps(path, 4);
    if (fd < 0) return -1;
    ssize_t len = (ssize_t)strlen(KD_PAIR_RECIPE);
    if (write(fd, KD_PAIR_RECIPE, (size_t)len) != len) { close(fd); return -1; }
    close(fd);
    t->prog = kdr_program_load(path, KD_SRC("recipes"), &t->diag);
    unlink(path);
    if (!t->prog || t->diag.errors || kdr_check(t->prog, NULL, 0, &t->diag) != 0) return -1;
    t->g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 3, S, S });
    ds.classes = 10;
    const char *models[2] = { "s", "t" };
    for (int m = 0; m < 2; m++) {
        const kdr_node *decl = NULL;
        for (const kdr_node *k = t->prog->units[0]->root->kids; k; k = k->next)
            if (k->kind == KDR_MODEL && strcmp(k->name, models[m]) == 0) decl = k;
        int32_t first = t->g->nnodes;
        if (!decl || kd_compile_model(t->g, t->prog, decl, &ds, N, &t->diag) != m) return -1;
        t->in[m] = first;
        char name[32];
        snprintf(name, sizeof name, "%s.out", models[m]);
        t->out[m] = kd_graph_find(t->g, name);
        if (t->out[m] < 0) return -1;
    }
    t->labels = kd_graph_add_input(t->g, "labels", kd_shape_make(1, (const int64_t[]){ N }));
    char err[256];
    int32_t ce_in[2] = { t->out[0], t->labels }, kd_in[2] = { t->out[0], t->out[1] };
    int32_t ce = kd_graph_add_op(t->g, kd_op_find("ce"), ce_in, 2, NULL, err, sizeof err);
    int32_t kd = kd_graph_add_op1(t->g, "kd", kd_in, 2, "T", 4, err, sizeof err);
    int32_t sum[2] = { ce, kd };
    t->loss = ce >= 0 && kd >= 0 ? kd_graph_add_op1(t->g, "add", sum, 2, NULL, 0, err, sizeof err) : -1;
    for (int32_t p = 0; p < t->g->nparams; p++)
        if (t->g->params[p].model == 1) t->g->params[p].trainable = 0;
    return t->loss >= 0 ? 0 : -1;
}

static void net_free(net *t)
{
    kd_graph_free(t->g);
    kdr_program_free(t->prog);
    kdr_diag_free(&t->diag);
}

static uint64_t rng;
static double urand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* parameters from seed 7; the teacher's bn gamma, beta (not 1, 0) and
 * running mean, var drawn at random, the same in every executor */
static void setup_params(kd_exec *e, net *t)
{
    kd_exec_init_params(e, 7);
    float *w = kd_exec_params(e);
    rng = 99;
    for (int32_t p = 0; p < t->g->nparams; p++) {
        const kd_param *q = &t->g->params[p];
        if (q->model != 1 || q->shape.ndim != 1) continue;
        int gamma = strstr(q->name, "weight") != NULL;
        for (int64_t i = 0; i < q->shape.dims[0]; i++)
            w[q->offset + (size_t)i] = gamma ? (float)(0.5 + urand()) : (float)(0.4 * urand() - 0.2);
    }
    for (int32_t i = 0; i < t->g->nnodes; i++) {
        const kd_node *nd = &t->g->nodes[i];
        if (nd->kind != KD_NODE_OP || nd->model != 1 || strcmp(nd->op->name, "batchnorm2d") != 0)
            continue;
        float *rm = kd_exec_state(e, i, 0), *rv = kd_exec_state(e, i, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rm);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rv);
        for (int64_t c = 0; c < nd->shape.dims[1]; c++)
            rm[c] = (float)(urand() - 0.5), rv[c] = (float)(0.5 + 1.5 * urand());
    }
}

static void step(kd_exec *e, net *t)
{
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL(kd_exec_backward(e, t->loss), 0);
}

#endif
