/* test_with.c — `m.with(point = t).x` in losses (runtime/compile.c): the
 * recomputed ops share m's parameters, the point is replaced, gradients
 * reach the shared parameters through the substituted path, bn statistics
 * are shared, and the recipe errors (shape, unknown point, a point the
 * asked tensor does not depend on) are located. */
#define _GNU_SOURCE 1   /* mkstemps, fmemopen */
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

/* m: two 3x3 convs with a bn, both stages feed the output (a residual) */
static const char *RECIPE =
    "net tiny(c) {\n"
    "  b[1] = relu(conv(in, c, k: 3, pad: 1))\n"
    "  h = conv(b[1], c, k: 3, pad: 1)\n"
    "  b[2] = relu(bn(h))\n"
    "  feat = mean(b[2] + b[1], over: hw)\n"
    "  out linear(feat, 10)\n"
    "}\n"
    "net conn(c) { out conv(in, c, k: 1) }\n"
    "data d = cifar10(\"/x\") { train \"train\" }\n"
    "model m = tiny(c: 4)\n"
    "model other = tiny(c: 8)\n"
    "model adapt = conn(c: 4)\n"
    "phase same { train m on d.train; loss mse(m.with(h = m.h).out, m.out) }\n"
    "phase sub { train m, adapt on d.train; loss ce(m.with(h = adapt(m.b[1])).out, label) }\n"
    "phase orig { train m on d.train; loss ce(m.out, label) }\n"
    "phase total { train m, adapt on d.train\n"
    "  loss ce(m.out, label) + ce(m.with(h = adapt(m.b[1])).out, label) }\n"
    "phase shape { train m on d.train; loss ce(m.with(h = other.h).out, label) }\n"
    "phase unknown { train m on d.train; loss ce(m.with(b[3] = m.b[2]).out, label) }\n"
    "phase nodep { train m on d.train; loss mse(m.with(b[2] = m.b[2]).b[1], m.b[1]) }\n"
    "phase shadowed { train m on d.train\n"
    "  loss ce(m.with(h = adapt(m.b[1]), b[2] = m.b[2]).out, label) }\n"
    "phase two { train m on d.train\n"
    "  loss ce(m.with(b[1] = m.b[1] * 2, b[2] = m.b[2] * 3).out, label) }\n";

static const kdr_node *phase_loss(const char *phase)
{
    for (const kdr_node *t = prog->units[0]->root->kids; t; t = t->next)
        if (t->kind == KDR_PHASE && strcmp(t->name, phase) == 0)
            for (const kdr_node *s = t->kids; s; s = s->next)
                if (s->kind == KDR_SETTING && strcmp(s->word, "loss") == 0) return s->a;
    return NULL;
}

static const kdr_node *model_decl(const char *name)
{
    for (const kdr_node *t = prog->units[0]->root->kids; t; t = t->next)
        if (t->kind == KDR_MODEL && strcmp(t->name, name) == 0) return t;
    return NULL;
}

/* a fresh graph with m and other compiled on 3 x 8 x 8 images, and a label */
static void fresh_graph(void)
{
    if (graph) kd_graph_free(graph);
    kdr_diag_free(&diag);
    kdr_diag_init(&diag);
    graph = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 3, 8, 8 });
    ds.classes = 10;
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(graph, prog, model_decl("m"), &ds, BATCH, &diag), 0);
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(graph, prog, model_decl("other"), &ds, BATCH, &diag), 1);
    label_node = kd_graph_add_input(graph, "label", kd_shape_make(1, (const int64_t[]){ BATCH }));
    CU_ASSERT_FATAL(label_node >= 0);
}

static int32_t loss_of(const char *phase)
{
    return kd_compile_expr(graph, prog, prog->units[0], phase_loss(phase), phase, label_node, 0, &diag);
}

static int load(void)
{
    char path[] = "/tmp/kdrun-with-XXXXXX.kdr";
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

static int32_t input_of(int model)
{
    for (int32_t i = 0; i < graph->nnodes; i++)
        if (graph->nodes[i].kind == KD_NODE_INPUT && graph->nodes[i].model == model) return i;
    return -1;
}

static void fill(kd_exec *e)
{
    uint64_t s = 99;
    for (int model = 0; model < 2; model++) {
        int32_t in = input_of(model);
        float *x = kd_exec_input(e, in);
        if (!x) continue;
        s = 99;
        for (int64_t i = 0; i < kd_shape_numel(&graph->nodes[in].shape); i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
        }
    }
    float *y = kd_exec_input(e, label_node);
    if (y) for (int i = 0; i < BATCH; i++) y[i] = (float)(i * 3 % 10);
}

static int32_t param_id(const char *name)
{
    for (int32_t i = 0; i < graph->nparams; i++)
        if (strcmp(graph->params[i].name, name) == 0) return i;
    return -1;
}

static int count_clones(void)
{
    int n = 0;
    for (int32_t i = 0; i < graph->nnodes; i++) n += graph->nodes[i].clone_of != 0;
    return n;
}

/* the shape, the shared parameters, the recomputed nodes */
static void test_with_shape_and_sharing(void)
{
    fresh_graph();
    int32_t np0 = graph->nparams;
    size_t pc0 = graph->param_count;
    int64_t macs0 = kd_graph_model_macs(graph, 0);
    int32_t l = loss_of("same");
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_EQUAL(graph->nparams, np0);          /* m.h's own substitute adds none */
    CU_ASSERT_EQUAL(graph->param_count, pc0);
    CU_ASSERT_EQUAL(kd_graph_model_macs(graph, 0), macs0);
    int32_t w = graph->nodes[l].in[0], out = kd_graph_find(graph, "m.out");
    CU_ASSERT_NOT_EQUAL(w, out);
    CU_ASSERT_EQUAL(graph->nodes[l].in[1], out);
    CU_ASSERT_TRUE(kd_shape_eq(&graph->nodes[w].shape, &graph->nodes[out].shape));
    CU_ASSERT_EQUAL(graph->nodes[w].clone_of, out + 1);
    /* the linear layer of the copy uses the parameters of m's */
    for (int k = graph->nodes[w].ndata; k < graph->nodes[w].ndata + graph->nodes[w].op->nparams; k++)
        CU_ASSERT_EQUAL(graph->nodes[w].in[k], graph->nodes[out].in[k]);
    /* recomputed: what h feeds (bn, relu, add, mean, linear); b[1] and h are not */
    CU_ASSERT_EQUAL(count_clones(), 5);
    for (int32_t i = 0; i < graph->nnodes; i++) {
        if (!graph->nodes[i].clone_of) continue;
        CU_ASSERT_EQUAL(graph->nodes[i].model, 0);
        CU_ASSERT_PTR_NULL(graph->nodes[i].name);
    }

    /* a substitute with its own op: only the adapter's parameters are new */
    int32_t np1 = graph->nparams;
    l = loss_of("sub");
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_EQUAL(graph->nparams, np1 + 1);      /* adapt.conv0.weight, no bias */
    CU_ASSERT_EQUAL(graph->params[graph->nparams - 1].model, 2);
    CU_ASSERT_EQUAL(count_clones(), 10);
    /* the same substitution again (a later loss of the phase): reused */
    int nwith = graph->nwith;
    l = loss_of("total");
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_EQUAL(graph->nwith, nwith);
    CU_ASSERT_EQUAL(count_clones(), 10);

    /* two points at once, both feed the output */
    l = loss_of("two");
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_EQUAL(graph->nwith, nwith + 1);
}

static void fill_params(kd_exec *e)
{
    kd_exec_init_params(e, 7);
    /* bn's scale and shift away from 1 and 0, so that they matter */
    float *P = kd_exec_params(e);
    for (int32_t i = 0; i < graph->nparams; i++)
        if (strstr(graph->params[i].name, ".bn")) {
            const kd_param *q = &graph->params[i];
            for (int64_t k = 0; k < kd_shape_numel(&q->shape); k++) P[q->offset + k] += 0.1f * (float)(k + 1);
        }
}

/* with the point replaced by itself the output is the model's own; with
 * another tensor it differs; bn statistics are the original's */
static void test_with_values(void)
{
    fresh_graph();
    int32_t same = loss_of("same");
    CU_ASSERT_FATAL(same >= 0);
    int32_t w = graph->nodes[same].in[0], out = kd_graph_find(graph, "m.out");
    int32_t sub = loss_of("sub");
    CU_ASSERT_FATAL(sub >= 0);
    int32_t ws = graph->nodes[sub].in[0];
    CU_ASSERT_EQUAL(graph->nodes[ws].clone_of, out + 1);
    int32_t roots[3] = { w, out, ws };
    char err[256];
    kd_exec *e = kd_exec_new(graph, roots, 3, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    fill_params(e);
    fill(e);
    /* the original bn and its copy: one set of statistics */
    int32_t bn = -1, bnc = -1;
    for (int32_t i = 0; i < graph->nnodes; i++)
        if (graph->nodes[i].op && strcmp(graph->nodes[i].op->name, "batchnorm2d") == 0 && graph->nodes[i].model == 0) {
            if (!graph->nodes[i].clone_of && bn < 0) bn = i;
            else if (graph->nodes[i].clone_of == bn + 1 && bnc < 0) bnc = i;
        }
    CU_ASSERT_FATAL(bn >= 0 && bnc >= 0);
    CU_ASSERT_PTR_NOT_NULL(kd_exec_state(e, bn, 0));
    CU_ASSERT_PTR_NULL(kd_exec_state(e, bnc, 0));
    float *mean = kd_exec_state(e, bn, 0), *var = kd_exec_state(e, bn, 1);
    for (int c = 0; c < 4; c++) mean[c] = 0.3f * (float)c - 0.2f, var[c] = 0.5f + (float)c;
    for (int training = 1; training >= 0; training--) {
        CU_ASSERT_EQUAL_FATAL(kd_exec_forward(e, training), 0);
        const float *a = kd_exec_value(e, w), *b = kd_exec_value(e, out), *c = kd_exec_value(e, ws);
        double dmax = 0, dsub = 0;
        for (int i = 0; i < BATCH * 10; i++) {
            dmax = fmax(dmax, fabs((double)a[i] - b[i]));
            dsub = fmax(dsub, fabs((double)c[i] - b[i]));
        }
        CU_ASSERT(dmax < 1e-6);
        CU_ASSERT(dsub > 1e-3);
    }
    kd_exec_free(e);
}

/* loss value of an executor (forward in training mode) */
static double fwd(kd_exec *e, int32_t l)
{
    kd_exec_forward(e, 1);
    return kd_exec_value(e, l)[0];
}

/* gradients of the shared parameters through the substituted path, against
 * central differences; h's conv is not on that path (replaced): zero */
static void test_with_gradients(void)
{
    fresh_graph();
    int32_t l = loss_of("sub");
    CU_ASSERT_FATAL(l >= 0);
    char err[256];
    kd_exec *e = kd_exec_new(graph, &l, 1, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    fill_params(e);
    fill(e);
    fwd(e, l);
    kd_exec_zero_grad(e);
    CU_ASSERT_EQUAL_FATAL(kd_exec_backward(e, l), 0);
    float *P = kd_exec_params(e);
    const float *G = kd_exec_grads(e);
    const char *names[] = { "m.conv0.weight", "m.linear0.weight", "m.linear0.bias",
                            "m.bn0.weight", "adapt.conv0.weight" };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        int32_t p = param_id(names[k]);
        CU_ASSERT_FATAL(p >= 0);
        double gnorm = 0;
        for (int j = 0; j < 3; j++) {
            size_t o = graph->params[p].offset + (size_t)j * 2;
            float save = P[o];
            double eps = 1e-3;
            P[o] = save + (float)eps;
            double up = fwd(e, l);
            P[o] = save - (float)eps;
            double dn = fwd(e, l);
            P[o] = save;
            double fd = (up - dn) / (2 * eps);
            gnorm += fabs(G[o]);
            CU_ASSERT(fabs(fd - G[o]) <= 2e-3 + 2e-2 * fabs(fd));
            if (fabs(fd - G[o]) > 2e-3 + 2e-2 * fabs(fd))
                fprintf(stderr, "%s[%zu]: backward %g, finite difference %g\n", names[k], o, G[o], fd);
        }
        CU_ASSERT(gnorm > 1e-6);   /* every one of them is on the path */
    }
    /* h's conv: on m's own path only, which this loss does not use */
    int32_t hc = param_id("m.conv1.weight");
    CU_ASSERT_FATAL(hc >= 0);
    double z = 0;
    for (int64_t i = 0; i < kd_shape_numel(&graph->params[hc].shape); i++)
        z += fabs(G[graph->params[hc].offset + i]);
    CU_ASSERT_EQUAL(z, 0.0);
    kd_exec_free(e);
}

/* both paths in one loss: the shared parameters get the sum of the
 * gradients of the two terms, each computed on its own */
static void test_with_gradients_add(void)
{
    fresh_graph();
    int32_t lo = loss_of("orig"), ls = loss_of("sub"), lt = loss_of("total");
    CU_ASSERT_FATAL(lo >= 0 && ls >= 0 && lt >= 0);
    char err[256];
    kd_exec *e[3];
    int32_t r[3] = { lo, ls, lt };
    float *g[3];
    for (int i = 0; i < 3; i++) {
        e[i] = kd_exec_new(graph, &r[i], 1, 1, err, sizeof err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(e[i]);
        fill_params(e[i]);
        fill(e[i]);
        kd_exec_forward(e[i], 1);
        kd_exec_zero_grad(e[i]);
        CU_ASSERT_EQUAL_FATAL(kd_exec_backward(e[i], r[i]), 0);
        g[i] = kd_exec_grads(e[i]);
    }
    int32_t p = param_id("m.linear0.weight");
    double worst = 0, norm_o = 0, norm_s = 0;
    for (size_t k = graph->params[p].offset; k < graph->params[p].offset + 40; k++) {
        worst = fmax(worst, fabs((double)g[2][k] - ((double)g[0][k] + g[1][k])));
        norm_o += fabs(g[0][k]);
        norm_s += fabs(g[1][k]);
    }
    CU_ASSERT(norm_o > 1e-4 && norm_s > 1e-4);
    CU_ASSERT(worst < 1e-5);
    for (int i = 0; i < 3; i++) kd_exec_free(e[i]);
}

static const char *first_error(void)
{
    for (size_t i = 0; i < diag.count; i++)
        if (diag.msgs[i].sev == KDR_ERROR) return diag.msgs[i].text;
    return "";
}

/* located recipe errors */
static void test_with_errors(void)
{
    fresh_graph();
    CU_ASSERT_EQUAL(loss_of("shape"), -1);
    KD_ASSERT_STR_EQ(first_error(), "with: h of m is [N, 4, 8, 8], got [N, 8, 8, 8]");
    const kdr_node *e = phase_loss("shape");
    CU_ASSERT_EQUAL_FATAL(diag.count >= 1, 1);
    /* located at the substitute `other.h` */
    const char *src = prog->units[0]->src;
    CU_ASSERT_EQUAL(strncmp(src + diag.msgs[0].beg, "other.h", 7), 0);
    CU_ASSERT(diag.msgs[0].beg > e->beg && diag.msgs[0].end < e->end);

    fresh_graph();
    CU_ASSERT_EQUAL(loss_of("unknown"), -1);
    KD_ASSERT_STR_EQ(first_error(), "with: model 'm' has no tensor named 'b[3]'; did you mean 'b[1]'?");
    CU_ASSERT_EQUAL(strncmp(prog->units[0]->src + diag.msgs[0].beg, "b[3]", 4), 0);

    fresh_graph();
    CU_ASSERT_EQUAL(loss_of("nodep"), -1);
    KD_ASSERT_STR_EQ(first_error(), "with: b[1] of m does not depend on b[2]; the substitution changes nothing");

    fresh_graph();
    CU_ASSERT_EQUAL(loss_of("shadowed"), -1);
    KD_ASSERT_STR_EQ(first_error(), "with: out of m does not depend on h (or only through another "
                                    "substituted point); the substitution changes nothing");
}

/* the first `M.with(...).logits` in a tree (a bridge of a search block) */
static const kdr_node *find_with(const kdr_node *n, const char *model, int depth)
{
    if (!n || depth > 200) return NULL;
    if (n->kind == KDR_MEMBER && n->name && strcmp(n->name, "logits") == 0 && n->a &&
        n->a->kind == KDR_CALL && n->a->a && n->a->a->kind == KDR_MEMBER &&
        strcmp(n->a->a->name, "with") == 0 && n->a->a->a->kind == KDR_IDENT &&
        strcmp(n->a->a->a->name, model) == 0)
        return n;
    const kdr_node *r;
    if ((r = find_with(n->a, model, depth + 1)) || (r = find_with(n->b, model, depth + 1)) ||
        (r = find_with(n->c, model, depth + 1)))
        return r;
    for (const kdr_node *k = n->kids; k; k = k->next)
        if ((r = find_with(k, model, depth + 1))) return r;
    return NULL;
}

/* DFA's student-to-teacher bridge as written in recipes/dfa/fmnist_dfa.kdr:
 * teacher.with(stage[1] = st1(proxy.stage[1])).logits on the real nets */
static void test_with_dfa_bridge(void)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_program *p = kdr_program_load(KD_SRC("recipes/dfa/fmnist_dfa.kdr"), KD_SRC("recipes"), &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(kdr_check(p, NULL, 0, &d), 0);
    kd_graph *g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 1, 28, 28 });
    ds.classes = 10;
    const kdr_node *t = kd_program_decl(p, KDR_MODEL, "teacher", NULL);
    const kdr_node *s = kd_program_decl(p, KDR_MODEL, "proxy", NULL);
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(g, p, t, &ds, 2, &d), 0);
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(g, p, s, &ds, 2, &d), 1);
    int64_t before = kd_graph_model_params(g, -1);
    const kdr_node *e = find_with(p->units[0]->root, "teacher", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    int32_t r = kd_compile_expr(g, p, p->units[0], e, "find", -1, 0, &d);
    if (r < 0) kdr_diag_print(&d, stderr, 0);
    CU_ASSERT_FATAL(r >= 0);
    CU_ASSERT_EQUAL(g->nodes[r].shape.ndim, 2);
    CU_ASSERT_EQUAL(g->nodes[r].shape.dims[0], 2);
    CU_ASSERT_EQUAL(g->nodes[r].shape.dims[1], 10);
    CU_ASSERT_EQUAL(g->nodes[r].model, 0);
    CU_ASSERT(g->nodes[r].clone_of > 0);
    /* new parameters: st1's 1x1 conv (8 -> 16) and bn (16) only */
    CU_ASSERT_EQUAL(kd_graph_model_params(g, -1) - before, 8 * 16 + 2 * 16);
    kd_graph_free(g);
    kdr_program_free(p);
    kdr_diag_free(&d);
}

int main(void)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_with_shape_and_sharing),
        KD_TEST(test_with_values),
        KD_TEST(test_with_gradients),
        KD_TEST(test_with_gradients_add),
        KD_TEST(test_with_errors),
        KD_TEST(test_with_dfa_bridge),
        KD_TEST_END
    };
    if (load()) { fprintf(stderr, "test_with: the recipe does not check\n"); return 1; }
    int rc = kd_unit_main("with", tests);
    if (graph) kd_graph_free(graph);
    kdr_program_free(prog);
    kdr_diag_free(&diag);
    return rc;
}
