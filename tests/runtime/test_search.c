/* test_search.c — a search's names at phase level (runtime/compile_search.c):
 * `agg = aggregate(t.b[*])` in a search body and a bridge through
 * `m.with(...)` compile once per graph, under the search's name; and the
 * gradient of the loss with respect to the architecture weights (the alpha
 * of the aggregate and of a choice inside a model) and to the weights is
 * the finite difference of the loss, through aggregate, choice (with its
 * Gumbel noise held fixed) and the .with() recomputation. */
#define _GNU_SOURCE 1   /* mkstemps, open_memstream */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/graph.h"
#include "../../runtime/exec.h"
#include "../../runtime/op_builtins.h"
#include "../../runtime/report.h"

static kdr_diag diag;
static kdr_program *prog;

#define BATCH 3

static const char *RECIPE =
    "net mixed(c) { out choice(conv(c, k: 3, pad: 1), conv(c, k: 1), skip, tau: 0.7) }\n"
    "net tiny(c) {\n"
    "  b[1] = relu(conv(in, c, k: 3, pad: 1))\n"
    "  b[2] = relu(mixed(b[1], c))\n"
    "  b[3] = relu(conv(b[2], c, k: 3, pad: 1))\n"
    "  out linear(mean(b[3], over: hw), 5)\n"
    "}\n"
    "net conn(c) { out conv(in, c, k: 1) }\n"
    "data d = cifar10(\"/x\") { train \"train\" }\n"
    "model m = tiny(c: 4)\n"
    "model t = tiny(c: 4)\n"
    "model adapt = conn(c: 4)\n"
    "search s {\n"
    "  agg = aggregate(t.b[*])\n"
    "  bridge br = ce(m.with(b[2] = adapt(agg)).out, label)\n"
    "}\n"
    "phase p { train m, adapt on d.train; loss br + mse(m.b[3], agg) + ce(m.out, label) }\n"
    "phase q { train m on d.train; loss br + br }\n";

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

static int load(void)
{
    char path[] = "/tmp/kdrun-search-XXXXXX.kdr";
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

/* m and t on 2 x 6 x 6 images, a label, the loss of `phase` */
static kd_graph *build(const char *phase, int32_t *label, int32_t *loss)
{
    kd_graph *g = kd_graph_new();
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 2, 6, 6 });
    ds.classes = 5;
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(g, prog, model_decl("m"), &ds, BATCH, &diag), 0);
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(g, prog, model_decl("t"), &ds, BATCH, &diag), 1);
    *label = kd_graph_add_input(g, "label", kd_shape_make(1, (const int64_t[]){ BATCH }));
    *loss = kd_compile_expr(g, prog, prog->units[0], phase_loss(phase), phase, *label, 0, &diag);
    if (*loss < 0) kdr_diag_print(&diag, stderr, 0);
    CU_ASSERT_FATAL(*loss >= 0);
    return g;
}

static int32_t param_id(const kd_graph *g, const char *name)
{
    for (int32_t i = 0; i < g->nparams; i++)
        if (strcmp(g->params[i].name, name) == 0) return i;
    return -1;
}

/* the body and the bridge are compiled once, named under the search */
static void test_search_names(void)
{
    int32_t label, loss;
    kd_graph *g = build("q", &label, &loss);
    int32_t agg = kd_graph_find(g, "s.agg"), br = kd_graph_find(g, "s.br");
    CU_ASSERT(agg >= 0 && br >= 0);
    CU_ASSERT_STRING_EQUAL(g->nodes[agg].op->name, "aggregate");
    CU_ASSERT_EQUAL(g->nodes[agg].ndata, 3);              /* t.b[1], t.b[2], t.b[3] */
    CU_ASSERT_EQUAL(g->nodes[loss].in[0], br);             /* br + br: one bridge */
    CU_ASSERT_EQUAL(g->nodes[loss].in[1], br);
    int32_t a = param_id(g, "s.aggregate0.alpha");
    CU_ASSERT_FATAL(a >= 0);
    CU_ASSERT_EQUAL(g->params[a].arch, 1);
    CU_ASSERT_EQUAL(g->params[a].model, -1);
    int n = 0;
    for (int32_t i = 0; i < g->nnodes; i++) n += g->nodes[i].op && !strcmp(g->nodes[i].op->name, "aggregate");
    CU_ASSERT_EQUAL(n, 1);
    kd_graph_free(g);
}

static void fill(kd_exec *e, const kd_graph *g, int32_t label)
{
    uint64_t s = 5;
    for (int32_t in = 0; in < g->nnodes; in++) {
        if (g->nodes[in].kind != KD_NODE_INPUT || in == label) continue;
        float *x = kd_exec_input(e, in);
        if (!x) continue;
        s = 5;   /* the same images for every model */
        for (int64_t i = 0; i < kd_shape_numel(&g->nodes[in].shape); i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2 - 1);
        }
    }
    float *y = kd_exec_input(e, label);
    for (int i = 0; y && i < BATCH; i++) y[i] = (float)(i * 2 % 5);   /* NULL: not live */
}

/* one forward in training mode at a fixed step (the choice's noise) */
static double loss_at(kd_exec *e, int32_t loss)
{
    kd_exec_set_step(e, 41);
    CU_ASSERT_EQUAL(kd_exec_forward(e, 1), 0);
    return kd_exec_value(e, loss)[0];
}

/* phase p's graph, every parameter trainable, its executor with seed-3
 * weights, the architecture weights away from 0 (equal weights hide
 * mistakes: the aggregate's *aa, the choice's *ca) and the inputs filled */
static kd_exec *search_exec(kd_graph **gp, int32_t *label, int32_t *loss, int32_t *aa, int32_t *ca)
{
    kd_graph *g = *gp = build("p", label, loss);
    for (int32_t i = 0; i < g->nparams; i++) g->params[i].trainable = 1;
    char err[256];
    kd_exec *e = kd_exec_new(g, loss, 1, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_init_params(e, 3);
    float *P = kd_exec_params(e);
    *aa = param_id(g, "s.aggregate0.alpha");
    *ca = -1;
    for (int32_t i = 0; i < g->nparams; i++)
        if (g->params[i].arch && g->params[i].model == 0) *ca = i;
    CU_ASSERT_FATAL(*aa >= 0 && *ca >= 0);
    const float a0[3] = { 0.3f, -0.5f, 0.9f };
    for (int k = 0; k < 3; k++) P[g->params[*aa].offset + k] = a0[k], P[g->params[*ca].offset + k] = -a0[k];
    fill(e, g, *label);
    return e;
}

static void test_search_gradients(void)
{
    int32_t label, loss, aa, ca;
    kd_graph *g;
    kd_exec *e = search_exec(&g, &label, &loss, &aa, &ca);
    float *P = kd_exec_params(e);
    kd_exec_zero_grad(e);
    loss_at(e, loss);
    CU_ASSERT_EQUAL_FATAL(kd_exec_backward(e, loss), 0);
    const float *G = kd_exec_grads(e);
    float *saved = malloc(g->param_count * sizeof(float));
    memcpy(saved, kd_exec_grads(e), g->param_count * sizeof(float));
    G = saved;
    /* both alphas, the adapter (only on the bridge), m's and t's first conv */
    int32_t check[5] = { aa, ca, param_id(g, "adapt.conv0.weight"), param_id(g, "m.conv0.weight"),
                         param_id(g, "t.conv0.weight") };
    for (int c = 0; c < 5; c++) {
        CU_ASSERT_FATAL(check[c] >= 0);
        const kd_param *q = &g->params[check[c]];
        double gnorm = 0;
        int64_t n = kd_shape_numel(&q->shape);
        for (int64_t k = 0; k < n && k < 6; k++) {
            size_t o = q->offset + (size_t)k;
            float keep = P[o];
            const float h = 1e-2f;
            P[o] = keep + h;
            double lp = loss_at(e, loss);
            P[o] = keep - h;
            double lm = loss_at(e, loss);
            P[o] = keep;
            double fd = (lp - lm) / (2.0 * (double)h);
            CU_ASSERT(fabs(fd - G[o]) <= 2e-3 + 2e-2 * fabs(fd));
            if (fabs(fd - G[o]) > 2e-3 + 2e-2 * fabs(fd))
                fprintf(stderr, "\n  %s[%lld]: backward %g, finite difference %g\n", q->name, (long long)k,
                        G[o], fd);
            gnorm += fabs(G[o]);
        }
        CU_ASSERT(gnorm > 1e-6);   /* on the path */
    }
    free(saved);
    kd_exec_free(e);
    kd_graph_free(g);
}


/* what derive does to a choice: alpha 0 for the chosen candidate and -1e4
 * for the others gives exactly that candidate's output, Gumbel noise and
 * temperature included (training mode) */
/* A step's backward for one optimizer group (kd_exec_backward_group): the
 * group's gradients are the bits of the whole backward, every other
 * gradient stays zero; the alphas alone, then the adapter alone. */
static void test_group_backward(void)
{
    int32_t label, loss, aa, ca;
    kd_graph *g;
    kd_exec *e = search_exec(&g, &label, &loss, &aa, &ca);
    kd_exec_zero_grad(e);
    loss_at(e, loss);
    CU_ASSERT_EQUAL_FATAL(kd_exec_backward(e, loss), 0);
    size_t bytes = g->param_count * sizeof(float);
    float *full = malloc(bytes);
    memcpy(full, kd_exec_grads(e), bytes);
    uint8_t *in = calloc((size_t)g->nparams, 1);
    for (int grp = 0; grp < 2; grp++) {
        int nin = 0;
        for (int32_t i = 0; i < g->nparams; i++) {
            in[i] = grp == 0 ? g->params[i].arch : !strncmp(g->params[i].name, "adapt.", 6);
            nin += in[i];
        }
        CU_ASSERT_FATAL(nin > 0 && nin < g->nparams);
        for (int rep = 0; rep < 2; rep++) {   /* decided at the first call, reused at the second */
            kd_exec_zero_grad(e);
            loss_at(e, loss);
            CU_ASSERT_EQUAL_FATAL(kd_exec_backward_group(e, loss, in), 0);
            const float *G = kd_exec_grads(e);
            int same = 1, zero = 1, nonzero = 0;
            for (int32_t i = 0; i < g->nparams; i++) {
                const kd_param *q = &g->params[i];
                int64_t n = kd_shape_numel(&q->shape);
                for (int64_t k = 0; k < n; k++) {
                    float v = G[q->offset + (size_t)k], f = full[q->offset + (size_t)k];
                    if (in[i]) same &= memcmp(&v, &f, sizeof v) == 0, nonzero |= v != 0;
                    else zero &= v == 0 && !signbit(v);
                }
            }
            CU_ASSERT(same);
            CU_ASSERT(zero);
            CU_ASSERT(nonzero);
        }
    }
    CU_ASSERT_EQUAL(kd_exec_backward_group(e, loss, in), -1);   /* no forward pending */
    free(in), free(full);
    kd_exec_free(e);
    kd_graph_free(g);
}

static void test_derived_choice_exact(void)
{
    int32_t label, loss;
    kd_graph *g = build("q", &label, &loss);
    int32_t ch = -1;
    for (int32_t i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op && !strcmp(g->nodes[i].op->name, "choice") && g->nodes[i].model == 0) ch = i;
    CU_ASSERT_FATAL(ch >= 0);
    const kd_node *n = &g->nodes[ch];
    CU_ASSERT_EQUAL_FATAL(n->ndata, 4);                  /* tau, 3 candidates */
    int32_t roots[4] = { ch, n->in[1], n->in[2], n->in[3] };
    char err[256];
    kd_exec *e = kd_exec_new(g, roots, 4, 1, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    kd_exec_init_params(e, 3);
    fill(e, g, label);
    float *a = kd_exec_params(e) + g->params[n->in[n->ndata]].offset;
    int64_t numel = kd_shape_numel(&n->shape);
    for (int pick = 0; pick < 3; pick++) {
        for (int k = 0; k < 3; k++) a[k] = k == pick ? 0.0f : -1e4f;
        for (int training = 0; training < 2; training++) {
            CU_ASSERT_EQUAL(kd_exec_forward(e, training), 0);
            const float *y = kd_exec_value(e, ch), *x = kd_exec_value(e, n->in[1 + pick]);
            CU_ASSERT_EQUAL(memcmp(y, x, (size_t)numel * sizeof(float)), 0);
        }
    }
    kd_exec_free(e);
    kd_graph_free(g);
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

static void row(kd_metric_row *r, const char *phase, int64_t epoch, const char *what, double v)
{
    memset(r, 0, sizeof *r);
    snprintf(r->phase, sizeof r->phase, "%s", phase);
    r->epoch = epoch;
    snprintf(r->what, sizeof r->what, "%s", what);
    r->value = v;
}

/* curves.svg of a search: a third panel with the architecture weights; the
 * steps' losses with the train loss; a run without them keeps two panels */
static void test_search_curves(void)
{
    kd_metric_row r[16];
    int n = 0;
    for (int e = 1; e <= 2; e++) {
        row(&r[n++], "find", e, "train loss", 3.0 / e);
        row(&r[n++], "find", e, "train loss (arch)", 1.0 / e);
        row(&r[n++], "find", e, "s.agg[1] softmax(alpha)[1]", 0.3 + 0.1 * e);
        row(&r[n++], "find", e, "s.agg[1] softmax(alpha)[2]", 0.7 - 0.1 * e);
        row(&r[n++], "find", e, "p top1 on f.val", 50 + e);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_plot_svg(f, r, n, "search"), 0);
    fclose(f);
    CU_ASSERT_EQUAL(count_of(buf, "<g class=\"panel\">"), 3);
    CU_ASSERT(strstr(buf, "width=\"1500\"") != NULL);
    CU_ASSERT(strstr(buf, ">softmax(alpha)</text>") != NULL);
    /* the arch step's loss is drawn left of the evaluation (x < 580) */
    const char *t = strstr(buf, ">find: train loss (arch)<");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    const char *pl = strstr(t, "points=\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
    CU_ASSERT(strtod(pl + 8, NULL) < 580);
    pl = strstr(strstr(buf, ">find: s.agg[1] softmax(alpha)[1]<"), "points=\"");
    CU_ASSERT(strtod(pl + 8, NULL) > 1080);
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    CU_ASSERT_EQUAL(kd_plot_svg(f, r, 1, "plain"), 0);
    fclose(f);
    CU_ASSERT_EQUAL(count_of(buf, "<g class=\"panel\">"), 2);
    CU_ASSERT(strstr(buf, "width=\"1000\"") != NULL);
    free(buf);
}

int main(void)
{
    if (kd_op_builtins_register() != 0) return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_search_names),
        KD_TEST(test_search_gradients),
        KD_TEST(test_group_backward),
        KD_TEST(test_search_curves),
        KD_TEST(test_derived_choice_exact),
        KD_TEST_END
    };
    if (load()) { fprintf(stderr, "test_search: the recipe does not check\n"); return 1; }
    int rc = kd_unit_main("search", tests);
    kdr_program_free(prog);
    kdr_diag_free(&diag);
    return rc;
}
