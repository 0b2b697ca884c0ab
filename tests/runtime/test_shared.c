/* test_shared.c — one model applied to several tensors in losses (shared
 * weights: `gan_d(d(b.feat), d(a.feat))`) and indexed models
 * (`model ts[s] = conn(c: 2 * s) for s in 1..3`, applied as ts[s](x)).
 *
 * Shared: the second application adds no parameter; the gradient of the
 * shared parameters is the sum of the two applications' gradients and
 * matches central differences; the bn running statistics are the first
 * application's, updated by both in the order they run (as a module called
 * twice); in eval mode both applications use them.
 * Indexed: each member is its own model with its own parameters, named
 * "ts[k].*", built with s = k. */
#define _GNU_SOURCE 1   /* mkstemps */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/graph.h"
#include "../../runtime/exec.h"
#include "../../runtime/op_builtins.h"

static kdr_diag diag;
static kdr_program *prog;
static kd_graph *graph;
static int32_t label_node;

#define BATCH 4

static const char *RECIPE =
    "net tiny(c) {\n"
    "  feat = relu(conv(in, c, k: 3, pad: 1))\n"
    "  out linear(mean(feat, over: hw), 10)\n"
    "}\n"
    "net disc() {\n"
    "  h = relu(bn(conv(in, 3, k: 1)))\n"
    "  out linear(mean(h, over: hw), 1)\n"
    "}\n"
    "net conn(c) { out conv(in, c, k: 1) }\n"
    "data d = cifar10(\"/x\") { train \"train\" }\n"
    "model a = tiny(c: 4)\n"
    "model b = tiny(c: 4)\n"
    "model dd = disc()\n"
    "model ts[s] = conn(c: 2 * s) for s in 1..3\n"
    "phase one { train a, b, dd together on d.train; loss gan_g(dd(a.feat)) }\n"
    "phase two { train a, b, dd together on d.train; loss gan_g(dd(b.feat)) }\n"
    "phase both { train a, b, dd together on d.train; loss gan_d(dd(b.feat), dd(a.feat)) }\n"
    "phase again { train a, b, dd together on d.train; loss gan_g(dd(a.feat)) + gan_g(dd(b.feat)) }\n"
    "phase fam { train a, ts together on d.train\n"
    "  loss sum s in 1..3: mse(mean(ts[s](a.feat), over: hw), mean(ts[s](a.feat), over: hw) * 0.5) }\n"
    "phase member { train a, ts together on d.train; loss l1(ts[2].in * 1, a.feat) }\n";

static const kdr_node *phase_loss(const char *phase)
{
    for (const kdr_node *t = prog->units[0]->root->kids; t; t = t->next)
        if (t->kind == KDR_PHASE && strcmp(t->name, phase) == 0)
            for (const kdr_node *s = t->kids; s; s = s->next)
                if (s->kind == KDR_SETTING && strcmp(s->word, "loss") == 0) return s->a;
    return NULL;
}

static void fresh_graph(void)
{
    if (graph) kd_graph_free(graph);
    kdr_diag_free(&diag);
    kdr_diag_init(&diag);
    graph = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 3, 6, 6 });
    ds.classes = 10;
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(graph, prog, kd_program_decl(prog, KDR_MODEL, "a", NULL), &ds,
                                           BATCH, &diag), 0);
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(graph, prog, kd_program_decl(prog, KDR_MODEL, "b", NULL), &ds,
                                           BATCH, &diag), 1);
    label_node = kd_graph_add_input(graph, "label", kd_shape_make(1, (const int64_t[]){ BATCH }));
    CU_ASSERT_FATAL(label_node >= 0);
}

static int32_t loss_of(const char *phase)
{
    int32_t l = kd_compile_expr(graph, prog, prog->units[0], phase_loss(phase), phase, label_node, 0, &diag);
    if (l < 0) kdr_diag_print(&diag, stderr, 0);
    return l;
}

static int load(void)
{
    char path[] = "/tmp/kdrun-shared-XXXXXX.kdr";
    int fd = mkstemps(path, 4);
    if (fd < 0) return -1;
    if (write(fd, RECIPE, strlen(RECIPE)) != (ssize_t)strlen(RECIPE)) { close(fd); return -1; }
    close(fd);
    kdr_diag_init(&diag);
    prog = kdr_program_load(path, KD_SRC("recipes"), &diag);
    int rc = prog && diag.errors == 0 && kdr_check(prog, NULL, 0, &diag) == 0 ? 0 : -1;
    if (rc) kdr_diag_print(&diag, stderr, 0);
    unlink(path);
    return rc;
}

static void fill(kd_exec *e)
{
    for (int model = 0; model < 2; model++) {
        int32_t in = -1;
        for (int32_t i = 0; i < graph->nnodes && in < 0; i++)
            if (graph->nodes[i].kind == KD_NODE_INPUT && graph->nodes[i].model == model) in = i;
        float *x = kd_exec_input(e, in);
        if (!x) continue;
        uint64_t s = 99 + (uint64_t)model;
        for (int64_t i = 0; i < kd_shape_numel(&graph->nodes[in].shape); i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
        }
    }
}

static void init(kd_exec *e)
{
    kd_exec_init_params(e, 7);
    float *P = kd_exec_params(e);
    for (int32_t i = 0; i < graph->nparams; i++)
        if (strstr(graph->params[i].name, ".bn")) {
            const kd_param *q = &graph->params[i];
            for (int64_t k = 0; k < kd_shape_numel(&q->shape); k++) P[q->offset + k] += 0.1f * (float)(k + 1);
        }
    fill(e);
}

static int32_t param_id(const char *name)
{
    for (int32_t i = 0; i < graph->nparams; i++)
        if (strcmp(graph->params[i].name, name) == 0) return i;
    return -1;
}

/* the second application: no new parameters, recomputed nodes of dd */
static void test_shared_structure(void)
{
    fresh_graph();
    CU_ASSERT_FATAL(loss_of("one") >= 0);
    int32_t np = graph->nparams;
    int32_t first = kd_graph_find(graph, "dd.out");
    CU_ASSERT_FATAL(first >= 0);
    int32_t l = loss_of("two");
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_EQUAL(graph->nparams, np);
    int32_t second = graph->nodes[l].in[0];
    CU_ASSERT_NOT_EQUAL(second, first);
    CU_ASSERT_EQUAL(graph->nodes[second].clone_of, first + 1);
    /* all of dd's ops are recomputed (conv, bn, relu, mean, linear) */
    int clones = 0;
    for (int32_t i = 0; i < graph->nnodes; i++)
        if (graph->nodes[i].clone_of) {
            clones++;
            CU_ASSERT_EQUAL(graph->nodes[i].model, graph->nodes[first].model);
        }
    CU_ASSERT_EQUAL(clones, 5);
    /* the same application again is the same node; a third loss reuses both */
    CU_ASSERT_FATAL(loss_of("again") >= 0);
    CU_ASSERT_EQUAL(graph->nparams, np);
    int c2 = 0;
    for (int32_t i = 0; i < graph->nnodes; i++) c2 += graph->nodes[i].clone_of != 0;
    CU_ASSERT_EQUAL(c2, 5);
}

static double fwd(kd_exec *e, int32_t l)
{
    kd_exec_forward(e, 1);
    return kd_exec_value(e, l)[0];
}

/* d loss(both) / d dd's parameters = the sum over the two applications,
 * and it matches central differences (bn statistics do not enter a
 * training-mode forward, so the loss is a function of the parameters) */
static void test_shared_gradients(void)
{
    fresh_graph();
    int32_t l1 = loss_of("one"), l2 = loss_of("two"), la = loss_of("again");
    CU_ASSERT_FATAL(l1 >= 0 && l2 >= 0 && la >= 0);
    char err[256];
    int32_t r[3] = { l1, l2, la };
    kd_exec *e[3];
    float *g[3];
    for (int i = 0; i < 3; i++) {
        e[i] = kd_exec_new(graph, &r[i], 1, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e[i]);
        init(e[i]);
        kd_exec_forward(e[i], 1);
        kd_exec_zero_grad(e[i]);
        CU_ASSERT_EQUAL_FATAL(kd_exec_backward(e[i], r[i]), 0);
        g[i] = kd_exec_grads(e[i]);
    }
    const char *names[] = { "dd.conv0.weight", "dd.bn0.weight", "dd.linear0.weight", "dd.linear0.bias" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        int32_t p = param_id(names[k]);
        CU_ASSERT_FATAL(p >= 0);
        double worst = 0, n1 = 0, n2 = 0;
        size_t o = graph->params[p].offset, n = (size_t)kd_shape_numel(&graph->params[p].shape);
        for (size_t j = o; j < o + n; j++) {
            worst = fmax(worst, fabs((double)g[2][j] - ((double)g[0][j] + g[1][j])));
            n1 += fabs(g[0][j]);
            n2 += fabs(g[1][j]);
        }
        CU_ASSERT(n1 > 1e-6 && n2 > 1e-6);       /* both applications contribute */
        CU_ASSERT(worst < 1e-5);
        if (worst >= 1e-5) fprintf(stderr, "%s: sum off by %g\n", names[k], worst);
    }
    /* against central differences, on "both" (gan_d over the two) */
    int32_t lb = loss_of("both");
    CU_ASSERT_FATAL(lb >= 0);
    kd_exec *eb = kd_exec_new(graph, &lb, 1, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(eb);
    init(eb);
    fwd(eb, lb);
    kd_exec_zero_grad(eb);
    CU_ASSERT_EQUAL_FATAL(kd_exec_backward(eb, lb), 0);
    float *P = kd_exec_params(eb);
    const float *G = kd_exec_grads(eb);
    const char *fd_names[] = { "dd.conv0.weight", "dd.bn0.bias", "dd.linear0.weight", "a.conv0.weight",
                               "b.conv0.weight" };
    for (size_t k = 0; k < sizeof fd_names / sizeof fd_names[0]; k++) {
        int32_t p = param_id(fd_names[k]);
        CU_ASSERT_FATAL(p >= 0);
        double gnorm = 0;
        for (int j = 0; j < 3; j++) {
            size_t o = graph->params[p].offset + (size_t)j;
            float save = P[o];
            double eps = 1e-3;
            P[o] = save + (float)eps;
            double up = fwd(eb, lb);
            P[o] = save - (float)eps;
            double dn = fwd(eb, lb);
            P[o] = save;
            double fd = (up - dn) / (2 * eps);
            gnorm += fabs(G[o]);
            CU_ASSERT(fabs(fd - G[o]) <= 2e-3 + 2e-2 * fabs(fd));
            if (fabs(fd - G[o]) > 2e-3 + 2e-2 * fabs(fd))
                fprintf(stderr, "%s[%zu]: backward %g, finite difference %g\n", fd_names[k], o, G[o], fd);
        }
        CU_ASSERT(gnorm > 1e-7);
    }
    kd_exec_free(eb);
    for (int i = 0; i < 3; i++) kd_exec_free(e[i]);
}

/* bn running statistics: one set (the first application's), updated by
 * both applications in the order they run */
static void test_shared_bn_state(void)
{
    fresh_graph();
    int32_t l = loss_of("again");
    CU_ASSERT_FATAL(l >= 0);
    int32_t bn = -1, bnc = -1;
    for (int32_t i = 0; i < graph->nnodes; i++)
        if (graph->nodes[i].op && strcmp(graph->nodes[i].op->name, "batchnorm2d") == 0) {
            if (!graph->nodes[i].clone_of) bn = i;
            else bnc = i;
        }
    CU_ASSERT_FATAL(bn >= 0 && bnc > bn);
    char err[256];
    int32_t roots[3] = { l, graph->nodes[bn].in[0], graph->nodes[bnc].in[0] };   /* kept readable */
    kd_exec *e = kd_exec_new(graph, roots, 3, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    init(e);
    CU_ASSERT_PTR_NULL(kd_exec_state(e, bnc, 0));
    float *mean = kd_exec_state(e, bn, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mean);
    for (int c = 0; c < 3; c++) mean[c] = 0.25f * (float)c;
    float m0[3];
    memcpy(m0, mean, sizeof m0);
    CU_ASSERT_EQUAL_FATAL(kd_exec_forward(e, 1), 0);
    /* the batch means of the two bn inputs (N x 3 x 6 x 6) */
    const float *x1 = kd_exec_value(e, graph->nodes[bn].in[0]), *x2 = kd_exec_value(e, graph->nodes[bnc].in[0]);
    CU_ASSERT_FATAL(x1 && x2 && x1 != x2);
    for (int c = 0; c < 3; c++) {
        double s1 = 0, s2 = 0;
        for (int n = 0; n < BATCH; n++)
            for (int k = 0; k < 36; k++) {
                s1 += x1[(n * 3 + c) * 36 + k];
                s2 += x2[(n * 3 + c) * 36 + k];
            }
        double mu1 = s1 / (BATCH * 36), mu2 = s2 / (BATCH * 36);
        double want = 0.9 * (0.9 * m0[c] + 0.1 * mu1) + 0.1 * mu2;   /* momentum 0.1, twice */
        CU_ASSERT(fabs(mean[c] - want) < 1e-5);
        if (fabs(mean[c] - want) >= 1e-5) fprintf(stderr, "running mean[%d] %g, want %g\n", c, mean[c], want);
    }
    kd_exec_free(e);
}

/* ts[s] for s in 1..3: three models, "ts[k].conv0.weight" with 2k outputs */
static void test_indexed_models(void)
{
    fresh_graph();
    int32_t l = loss_of("fam");
    CU_ASSERT_FATAL(l >= 0);
    for (int k = 1; k <= 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "ts[%d].conv0.weight", k);
        int32_t p = param_id(name);
        CU_ASSERT_FATAL(p >= 0);
        CU_ASSERT_EQUAL(graph->params[p].shape.dims[0], 2 * k);   /* c: 2 * s */
        CU_ASSERT_EQUAL(graph->params[p].shape.dims[1], 4);       /* a.feat's channels */
        snprintf(name, sizeof name, "ts[%d]", k);
        int found = 0;
        for (int m = 0; m < graph->nmodels; m++)
            if (strcmp(graph->model_names[m], name) == 0) {
                found = 1;
                CU_ASSERT_EQUAL(graph->params[p].model, m);
            }
        CU_ASSERT(found);
    }
    /* each member is applied once (the same tensor twice: one node) */
    int clones = 0;
    for (int32_t i = 0; i < graph->nnodes; i++) clones += graph->nodes[i].clone_of != 0;
    CU_ASSERT_EQUAL(clones, 0);
    /* a member's tensor: ts[2].in is the tensor it was applied to */
    int32_t m = loss_of("member");
    CU_ASSERT_FATAL(m >= 0);
    /* the declaration keeps the index: ts[3] is built with s = 3 */
    const kdr_node *d3 = kd_program_decl(prog, KDR_MODEL, "ts[3]", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d3);
    KD_ASSERT_STR_EQ(d3->extra, "s");
    CU_ASSERT_EQUAL(d3->num, 3);
    CU_ASSERT_PTR_NULL(kd_program_decl(prog, KDR_MODEL, "ts", NULL));
}

/* `train a, ts together`: the family's name lists its members */
static void test_indexed_train_list(void)
{
    for (const kdr_node *t = prog->units[0]->root->kids; t; t = t->next) {
        if (t->kind != KDR_PHASE || strcmp(t->name, "fam") != 0) continue;
        for (const kdr_node *s = t->kids; s; s = s->next) {
            if (s->kind != KDR_SETTING || strcmp(s->word, "train") != 0) continue;
            static const char *const want[] = { "a", "ts[1]", "ts[2]", "ts[3]" };
            int i = 0;
            for (const kdr_node *k = s->kids; k; k = k->next, i++) {
                CU_ASSERT_FATAL(i < 4);
                KD_ASSERT_STR_EQ(k->name, want[i]);
            }
            CU_ASSERT_EQUAL(i, 4);
            return;
        }
    }
    CU_FAIL("no train statement in phase fam");
}

int main(void)
{
    if (kd_op_builtins_register() != 0) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_shared_structure),
        KD_TEST(test_shared_gradients),
        KD_TEST(test_shared_bn_state),
        KD_TEST(test_indexed_models),
        KD_TEST(test_indexed_train_list),
        KD_TEST_END
    };
    if (load()) { fprintf(stderr, "test_shared: the recipe does not check\n"); return 1; }
    int rc = kd_unit_main("shared", tests);
    if (graph) kd_graph_free(graph);
    kdr_program_free(prog);
    kdr_diag_free(&diag);
    return rc;
}
