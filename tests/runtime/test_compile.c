/* test_compile.c — the graph compiler: template expansion, named tensors,
 * parameter naming and counting, shape inference and located errors. */
#define _GNU_SOURCE 1   /* mkstemps */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../unit.h"
#include "../../runtime/graph.h"
#include "../../runtime/op_builtins.h"

static kdr_diag diag;
static kdr_program *prog;
static kd_graph *graph;
static char errtext[4096];

/* Load recipe text (written to a temporary file so that `use` resolves
 * against the zoo), check it, and compile model `model` on CIFAR-shaped
 * input.  Returns the model index, or a negative value. */
static int compile_text(const char *text, const char *model, int64_t chans, int64_t size)
{
    if (prog) { kdr_program_free(prog); prog = NULL; }
    if (graph) { kd_graph_free(graph); graph = NULL; }
    kdr_diag_free(&diag);
    kdr_diag_init(&diag);
    char path[] = "/tmp/kdrun-test-XXXXXX.kdr";
    int fd = mkstemps(path, 4);
    if (fd < 0) return -10;
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) { close(fd); return -10; }
    close(fd);
    prog = kdr_program_load(path, KD_SRC("recipes"), &diag);
    int rc = -11;
    if (prog && diag.errors == 0 && kdr_check(prog, NULL, 0, &diag) == 0) {
        graph = kd_graph_new();
        const kdr_node *decl = NULL;
        for (const kdr_node *t = prog->units[0]->root->kids; t; t = t->next)
            if (t->kind == KDR_MODEL && strcmp(t->name, model) == 0) decl = t;
        kd_data_shape ds;
        memset(&ds, 0, sizeof ds);
        ds.x = kd_shape_make(3, (const int64_t[]){ chans, size, size });
        ds.classes = 10;
        rc = decl ? kd_compile_model(graph, prog, decl, &ds, 4, &diag) : -12;
    }
    /* diagnostics as text, without the temporary path */
    FILE *f = fmemopen(errtext, sizeof errtext - 1, "w");
    kdr_diag_print(&diag, f, 0);
    fclose(f);
    unlink(path);
    return rc;
}

static int64_t resnet_params(int depth, int classes, int base, int cin)
{
    int n = (depth - 2) / 6;
    int64_t p = (int64_t)base * cin * 9 + 2 * base;      /* stem conv + bn */
    int64_t c_in = base;
    for (int s = 1; s <= 3; s++) {
        int64_t c = (int64_t)base << (s - 1);
        for (int b = 1; b <= n; b++) {
            int stride = (s > 1 && b == 1) ? 2 : 1;
            p += c * c_in * 9 + 2 * c + c * c * 9 + 2 * c;
            if (stride != 1 || c_in != c) p += c * c_in + 2 * c;
            c_in = c;
        }
    }
    return p + c_in * classes + classes;
}

static void test_resnet20_params_and_shapes(void)
{
    int m = compile_text("use \"nets/resnet.kdr\"\nmodel s = resnet(depth: 20, classes: 10)\n",
                         "s", 3, 32);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    CU_ASSERT_EQUAL(kd_graph_model_params(graph, m), resnet_params(20, 10, 16, 3));
    CU_ASSERT_EQUAL(kd_graph_model_params(graph, m), 272474);
    int32_t o = kd_graph_find(graph, "s.logits");
    CU_ASSERT_FATAL(o >= 0);
    CU_ASSERT_EQUAL(graph->nodes[o].shape.ndim, 2);
    CU_ASSERT_EQUAL(graph->nodes[o].shape.dims[0], 4);
    CU_ASSERT_EQUAL(graph->nodes[o].shape.dims[1], 10);
    int32_t f = kd_graph_find(graph, "s.feat");
    CU_ASSERT_FATAL(f >= 0);
    CU_ASSERT_EQUAL(graph->nodes[f].shape.dims[1], 64);
    CU_ASSERT_EQUAL(graph->nodes[f].shape.dims[2], 8);
    /* every block of every stage is addressable, and a stage is its last block */
    CU_ASSERT(kd_graph_find(graph, "s.block[1,1]") >= 0);
    CU_ASSERT(kd_graph_find(graph, "s.block[3,3]") >= 0);
    CU_ASSERT_EQUAL(kd_graph_find(graph, "s.stage[2]"), kd_graph_find(graph, "s.block[2,3]"));
    /* names inside a block are under the block's path */
    CU_ASSERT(kd_graph_find(graph, "s.block[2,1].h1") >= 0);
    CU_ASSERT(kd_graph_find(graph, "s.block[2,1].skip") >= 0);
    /* MACs: ResNet-20 on 32x32 is about 41M per image */
    int64_t macs = kd_graph_model_macs(graph, m) / 4;
    CU_ASSERT(macs > 40000000 && macs < 42000000);
}

static void test_resnet56_params(void)
{
    int m = compile_text("use \"nets/resnet.kdr\"\nmodel t = resnet(depth: 56, classes: 100)\n",
                         "t", 3, 32);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    CU_ASSERT_EQUAL(kd_graph_model_params(graph, m), resnet_params(56, 100, 16, 3));
}

static void test_param_names(void)
{
    int m = compile_text("net two(c) {\n  a = conv(in, c, k: 3, pad: 1)\n  b = linear(mean(a, over: hw), 5)\n  out b\n}\n"
                         "net outer() {\n  x = two(in, 8)\n  y[1] = two(in, 4)\n  out x + y[1]\n}\n"
                         "model m = outer()\n", "m", 3, 8);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int found_x = 0, found_y = 0;
    for (int32_t i = 0; i < graph->nparams; i++) {
        if (strcmp(graph->params[i].name, "m.x.conv0.weight") == 0) {
            found_x = 1;
            CU_ASSERT_EQUAL(graph->params[i].shape.dims[0], 8);
            CU_ASSERT_EQUAL(graph->params[i].shape.dims[1], 3);
        }
        if (strcmp(graph->params[i].name, "m.y[1].linear0.weight") == 0) found_y = 1;
    }
    CU_ASSERT(found_x);
    CU_ASSERT(found_y);
    /* conv has no bias unless asked (bias: false is the recipe default) */
    for (int32_t i = 0; i < graph->nparams; i++)
        CU_ASSERT(strcmp(graph->params[i].name, "m.x.conv0.bias") != 0);
}

static void test_repeat_chains(void)
{
    int m = compile_text("net r() {\n  h = repeat 3 as b from in { z[b] = conv(in, 2 * b, k: 1) }\n  out h\n}\n"
                         "model m = r()\n", "m", 3, 4);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int32_t z1 = kd_graph_find(graph, "m.z[1]"), z2 = kd_graph_find(graph, "m.z[2]"),
            z3 = kd_graph_find(graph, "m.z[3]");
    CU_ASSERT_FATAL(z1 >= 0 && z2 >= 0 && z3 >= 0);
    CU_ASSERT_EQUAL(graph->nodes[z2].in[0], z1);       /* z[2] reads z[1] */
    CU_ASSERT_EQUAL(graph->nodes[z3].in[0], z2);
    CU_ASSERT_EQUAL(graph->nodes[z3].shape.dims[1], 6);
    CU_ASSERT_EQUAL(kd_graph_find(graph, "m.h"), z3);
}

static void test_aggregate_of_star(void)
{
    int m = compile_text("net a() {\n  for i in 1..3 { f[i] = conv(in, 4, k: 3, pad: 1) }\n"
                         "  out aggregate(f[*])\n}\nmodel m = a()\n", "m", 2, 6);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int32_t o = kd_graph_find(graph, "m.out");
    CU_ASSERT_FATAL(o >= 0);
    CU_ASSERT_EQUAL(graph->nodes[o].ndata, 3);
    /* one architecture parameter of 3 weights */
    int arch = 0;
    for (int32_t i = 0; i < graph->nparams; i++)
        if (graph->params[i].arch) { arch++; CU_ASSERT_EQUAL(kd_shape_numel(&graph->params[i].shape), 3); }
    CU_ASSERT_EQUAL(arch, 1);
}

static void test_shape_error_is_located(void)
{
    int m = compile_text("net bad() {\n  v = linear(flatten(in), 10)\n  out conv(v, 4, k: 3)\n}\n"
                         "model m = bad()\n", "m", 3, 8);
    CU_ASSERT(m < 0);
    /* the error points at the conv call, with a note at the model */
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, ":3:7: error: conv2d expects 4-D input"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, "got [4, 10]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, ":5:11: note: in 'bad', called here"));
}

static void test_mismatched_add(void)
{
    int m = compile_text("net bad() {\n  a = conv(in, 4, k: 1)\n  b = conv(in, 5, k: 1)\n  out a + b\n}\n"
                         "model m = bad()\n", "m", 3, 8);
    CU_ASSERT(m < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, ":4:7: error: '+' needs tensors of the same shape, "
                                           "got [4, 4, 8, 8] and [4, 5, 8, 8]"));
}

static void test_recursion_is_an_error(void)
{
    int m = compile_text("net loop() { out loop(in) }\nmodel m = loop()\n", "m", 1, 4);
    CU_ASSERT(m < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, "more than 64 deep"));
}

static void test_unknown_op_is_not_an_error(void)
{
    /* something this build does not have yet gives a note, not an error */
    int m = compile_text("net f() { out choice(skip, zero, cost: [1, 2]) }\nmodel m = f()\n", "m", 4, 8);
    CU_ASSERT_EQUAL(m, -2);
    CU_ASSERT_EQUAL(diag.errors, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, "not in this build yet"));
}

static void test_numbers_and_conditions(void)
{
    int m = compile_text("let w = 3\nnet n(d) {\n  c = (d - 2) / 6 + w\n"
                         "  if c > 4 { y = conv(in, c, k: 1) } else { y = conv(in, 1, k: 1) }\n"
                         "  out y\n}\nmodel m = n(d: 20)\n", "m", 1, 4);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    CU_ASSERT_EQUAL(graph->nodes[kd_graph_find(graph, "m.y")].shape.dims[1], 6);
    m = compile_text("net n() {\n  out conv(in, 2 / 0, k: 1)\n}\nmodel m = n()\n", "m", 1, 4);
    CU_ASSERT(m < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, ":2:16: error: division by zero"));
    m = compile_text("net n() {\n  out conv(in, 2.5, k: 1)\n}\nmodel m = n()\n", "m", 1, 4);
    CU_ASSERT(m < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, "error: 'c' of 'conv' must be an integer, got 2.5"));
}

/* the `loss` expression of phase `phase` in the loaded program */
static const kdr_node *phase_loss(const char *phase)
{
    for (const kdr_node *t = prog->units[0]->root->kids; t; t = t->next)
        if (t->kind == KDR_PHASE && strcmp(t->name, phase) == 0)
            for (const kdr_node *s = t->kids; s; s = s->next)
                if (s->kind == KDR_SETTING && strcmp(s->word, "loss") == 0) return s->a;
    return NULL;
}

static const char *KD_RECIPE =
    "use \"nets/resnet.kdr\"\n"
    "data d = cifar10(\"/x\") { train \"train\" }\n"
    "model t = resnet(depth: 14, classes: 10, base: 8)\n"
    "model s = resnet(depth: 8, classes: 10, base: 4)\n"
    "phase pre { train t on d.train; loss ce(t.logits, label) }\n"
    "phase kd {\n  train s on d.train\n  teacher t frozen\n"
    "  loss 0.1 * ce(s.logits, label)\n     + 0.9 * kd(s.logits, t.logits, T: 4)\n}\n"
    "phase fit { train s on d.train; loss mse(s.block[3, 1], t.block[3, 2]) }\n"
    "phase bad { train s on d.train; loss kd(s.block[3, 1], t.block[3, 9]) }\n"
    "phase star { train s on d.train; loss mse(t.feat, aggregate(t.block[3, *])) }\n";

static void test_loss_expressions(void)
{
    int m = compile_text(KD_RECIPE, "t", 3, 32);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    const kdr_node *sd = NULL;
    for (const kdr_node *t = prog->units[0]->root->kids; t; t = t->next)
        if (t->kind == KDR_MODEL && strcmp(t->name, "s") == 0) sd = t;
    kd_data_shape ds;
    memset(&ds, 0, sizeof ds);
    ds.x = kd_shape_make(3, (const int64_t[]){ 3, 32, 32 });
    CU_ASSERT_EQUAL_FATAL(kd_compile_model(graph, prog, sd, &ds, 4, &diag), 1);
    int32_t label = kd_graph_add_input(graph, "label", kd_shape_make(1, (const int64_t[]){ 4 }));
    CU_ASSERT_FATAL(label >= 0);

    /* 0.1 * ce + 0.9 * kd: a scalar add of two scaled losses */
    int32_t l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("kd"), "kd", label, 0, &diag);
    CU_ASSERT_FATAL(l >= 0);
    const kd_node *n = &graph->nodes[l];
    CU_ASSERT_EQUAL(n->shape.ndim, 0);
    CU_ASSERT_STRING_EQUAL(n->op->name, "add");
    const kd_node *kdn = &graph->nodes[graph->nodes[n->in[1]].in[0]];
    CU_ASSERT_STRING_EQUAL(kdn->op->name, "kd");
    CU_ASSERT_EQUAL(kdn->in[0], kd_graph_find(graph, "s.logits"));
    CU_ASSERT_EQUAL(kdn->in[1], kd_graph_find(graph, "t.logits"));
    CU_ASSERT_DOUBLE_EQUAL(kdn->attr[0].num, 4.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(graph->nodes[n->in[0]].attr[0].num, 0.1, 1e-12);

    /* indexed members: t.block[3, 2] is addressable; shapes must agree */
    l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("fit"), "fit", label, 0, &diag);
    CU_ASSERT(l < 0);       /* [4, 16, 8, 8] against [4, 32, 8, 8] */
    CU_ASSERT_EQUAL(diag.errors, 1);

    /* an index past the blocks (the checker cannot know): located, with a suggestion */
    kdr_diag_free(&diag);
    kdr_diag_init(&diag);
    l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("bad"), "bad", label, 0, &diag);
    CU_ASSERT_EQUAL(l, -1);
    CU_ASSERT_EQUAL_FATAL(diag.count, 1);
    CU_ASSERT_STRING_EQUAL(diag.msgs[0].text, "no tensor named 't.block[3,9]'; did you mean 't.block[3,1]'?");

    /* t.block[3, *]: every block of stage 3, in order, aggregated */
    kdr_diag_free(&diag);
    kdr_diag_init(&diag);
    l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("star"), "star", label, 0, &diag);
    CU_ASSERT_FATAL(l >= 0);
    const kd_node *agg = &graph->nodes[graph->nodes[l].in[1]];
    CU_ASSERT_STRING_EQUAL(agg->op->name, "aggregate");
    CU_ASSERT_EQUAL(agg->ndata, 2);             /* ResNet-14: 2 blocks per stage */
    CU_ASSERT_EQUAL(agg->in[0], kd_graph_find(graph, "t.block[3,1]"));
    CU_ASSERT_EQUAL(agg->in[1], kd_graph_find(graph, "t.block[3,2]"));
}

/* ops2 branch: feature_align in a net (guide at twice the resolution),
 * GAN losses in a phase */
static void test_ops2_compile(void)
{
    int m = compile_text("data d = cifar10(\"/x\") { train \"train\" }\n"
                         "net fa() {\n  h = conv(in, 6, k: 3, pad: 1, stride: 2)\n"
                         "  out feature_align(h, in)\n}\nmodel m = fa()\n"
                         "phase p { train m on d.train; loss gan_g(m.out) + gan_d(m.out, m.h, kind: bce) }\n",
                         "m", 4, 8);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int32_t o = kd_graph_find(graph, "m.out");
    CU_ASSERT_FATAL(o >= 0);
    CU_ASSERT_STRING_EQUAL(graph->nodes[o].op->name, "feature_align");
    CU_ASSERT_EQUAL(graph->nodes[o].shape.dims[1], 6);
    CU_ASSERT_EQUAL(graph->nodes[o].shape.dims[2], 4);
    int found = 0;
    for (int32_t i = 0; i < graph->nparams; i++)
        if (strstr(graph->params[i].name, "feature_align0.scale_weight")) {
            found++;
            CU_ASSERT_EQUAL(graph->params[i].shape.dims[0], 6);
            CU_ASSERT_EQUAL(graph->params[i].shape.dims[1], 4);
        }
    CU_ASSERT_EQUAL(found, 1);
    int32_t l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("p"), "p", -1, 0, &diag);
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_STRING_EQUAL(graph->nodes[l].op->name, "add");
    const kd_node *gd = &graph->nodes[graph->nodes[l].in[1]];
    CU_ASSERT_STRING_EQUAL(gd->op->name, "gan_d");
    CU_ASSERT_EQUAL((int)gd->attr[0].num, 1);   /* kind: bce */
    CU_ASSERT_STRING_EQUAL(graph->nodes[graph->nodes[l].in[0]].op->name, "gan_g");
    /* emd: teacher layers first (attribute m), then the student's */
    m = compile_text("data d = cifar10(\"/x\") { train \"train\" }\n"
                     "net n() {\n  h[1] = conv(in, 4, k: 1)\n  h[2] = conv(h[1], 4, k: 1)\n"
                     "  h[3] = conv(h[2], 4, k: 1)\n  out h[3]\n}\nmodel m = n()\n"
                     "phase p { train m on d.train; loss emd(m.h[*], [m.h[1], m.h[3]], cost: l1, T: 10) }\n",
                     "m", 4, 8);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("p"), "p", -1, 0, &diag);
    CU_ASSERT_FATAL(l >= 0);
    const kd_node *em = &graph->nodes[l];
    CU_ASSERT_STRING_EQUAL(em->op->name, "emd");
    CU_ASSERT_EQUAL(em->ndata, 5);
    CU_ASSERT_EQUAL((int)em->attr[0].num, 3);       /* m */
    CU_ASSERT_EQUAL((int)em->attr[1].num, 1);       /* cost: l1 */
    CU_ASSERT_DOUBLE_EQUAL(em->attr[2].num, 10, 0); /* T */
    CU_ASSERT_EQUAL(em->in[3], kd_graph_find(graph, "m.h[1]"));
}

/* ops2 branch: cost(model) charges each op to the aggregate candidate all
 * its paths go through; shared ops and the rest are the fixed part */
static void test_cost_tables(void)
{
    int m = compile_text("data d = cifar10(\"/x\") { train \"train\" }\n"
                         "net mix() {\n  s = conv(in, 4, k: 1)\n  a = conv(relu(s), 4, k: 1)\n"
                         "  b = conv(in, 4, k: 3, pad: 1)\n  h = aggregate([a, s, b])\n"
                         "  out conv(h, 2, k: 1)\n}\nmodel m = mix()\n"
                         "phase p { train m on d.train; loss cost(m, target: params) }\n"
                         "phase q { train m on d.train; loss cost(m, target: macs) }\n",
                         "m", 3, 8);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int32_t l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("p"), "p", -1, 0, &diag);
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_STRING_EQUAL(graph->nodes[l].op->name, "cost");
    CU_ASSERT_EQUAL_FATAL(graph->nconsts, 1);
    /* fixed: s (3*4) + the last conv (4*2); candidates a (4*4), s (shared: 0), b (3*4*9) */
    const float want[4] = { 20, 16, 0, 108 };
    CU_ASSERT_EQUAL_FATAL(graph->consts[0].n, 4);
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(graph->consts[0].v[i], want[i], 0);
    /* the cost node shares the aggregate's alpha */
    int32_t agg = kd_graph_find(graph, "m.h");
    CU_ASSERT_EQUAL(graph->nodes[l].in[1], graph->nodes[agg].in[3]);
    l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("q"), "q", -1, 0, &diag);
    CU_ASSERT_FATAL(l >= 0);
    /* MACs per sample on 8x8: s 64*12, last 64*8; a 64*16, b 64*108 */
    const float wm[4] = { 64 * 20, 64 * 16, 0, 64 * 108 };
    for (int i = 0; i < 4; i++) CU_ASSERT_DOUBLE_EQUAL(graph->consts[1].v[i], wm[i], 0);
}

/* ops2 branch: choice applies its candidates to the template's input;
 * skip, zero; a fixed or scheduled temperature; its alpha is an
 * architecture parameter, and cost() charges the candidates' parameters */
static void test_choice_compiles(void)
{
    int m = compile_text("data d = cifar10(\"/x\") { train \"train\" }\n"
                         "net edge() {\n  out choice(conv(4, k: 3, pad: 1), conv(4, k: 1),\n"
                         "              maxpool(3, stride: 1, pad: 1), skip, zero, tau: 0.5)\n}\n"
                         "net two() {\n  a = edge(in)\n"
                         "  out choice(skip, conv(4, k: 1), tau: decay(start: 1, factor: 0.8, every: 5))\n}\n"
                         "model m = two()\n"
                         "phase p { train m on d.train; loss cost(m, target: params) }\n",
                         "m", 4, 6);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int nchoice = 0, arch = 0;
    for (int32_t i = 0; i < graph->nnodes; i++)
        if (graph->nodes[i].kind == KD_NODE_OP && strcmp(graph->nodes[i].op->name, "choice") == 0) {
            nchoice++;
            CU_ASSERT_EQUAL(graph->nodes[i].shape.dims[1], 4);
            CU_ASSERT_EQUAL(graph->nodes[i].shape.dims[2], 6);
        }
    for (int32_t i = 0; i < graph->nparams; i++)
        if (graph->params[i].arch) {
            arch++;
            CU_ASSERT_PTR_NOT_NULL(strstr(graph->params[i].name, "choice"));
            CU_ASSERT_PTR_NOT_NULL(strstr(graph->params[i].name, ".alpha"));
        }
    CU_ASSERT_EQUAL(nchoice, 2);
    CU_ASSERT_EQUAL(arch, 2);
    CU_ASSERT_EQUAL(graph->nwsched, 1);     /* the decayed temperature */
    CU_ASSERT_EQUAL(graph->nconsts, 1);     /* tau 0.5 */
    CU_ASSERT_DOUBLE_EQUAL(graph->consts[0].v[0], 0.5, 0);
    int32_t l = kd_compile_expr(graph, prog, prog->units[0], phase_loss("p"), "p", -1, 0, &diag);
    CU_ASSERT_FATAL(l >= 0);
    CU_ASSERT_EQUAL_FATAL(graph->nconsts, 3);
    /* tables [fixed, candidates...]: edge() (not on the way to the output,
     * its candidates still weighted by its alpha): conv 3x3 144, conv 1x1
     * 16, maxpool, skip, zero 0; the output choice: skip 0, conv 1x1 16 */
    const float a[6] = { 0, 144, 16, 0, 0, 0 }, b[3] = { 0, 0, 16 };
    int64_t n1 = graph->consts[1].n, n2 = graph->consts[2].n;
    CU_ASSERT(n1 + n2 == 9);
    const float *ve = n1 == 6 ? graph->consts[1].v : graph->consts[2].v;
    const float *vo = n1 == 6 ? graph->consts[2].v : graph->consts[1].v;
    for (int i = 0; i < 6; i++) CU_ASSERT_DOUBLE_EQUAL(ve[i], a[i], 0);
    for (int i = 0; i < 3; i++) CU_ASSERT_DOUBLE_EQUAL(vo[i], b[i], 0);
    /* a candidate of another shape is a located error */
    m = compile_text("net e() {\n  out choice(conv(5, k: 1), skip)\n}\nmodel m = e()\n", "m", 4, 6);
    CU_ASSERT(m < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, "choice expects candidates of the same shape"));
}

/* the network-shape ops (ops/conv1d.c, deconv.c, shuffle.c, ...): shapes
 * inferred through them, dconv = causal conv1d keeping the channels, and
 * zoo nets that need them */
static int64_t dim_of(const char *name, int d)
{
    int32_t t = kd_graph_find(graph, name);
    CU_ASSERT_FATAL(t >= 0);
    return d < graph->nodes[t].shape.ndim ? graph->nodes[t].shape.dims[d] : -1;
}

static void test_net_shape_ops(void)
{
    int m = compile_text("net n() {\n"
                         "  s = reshape(in, shape: [4, -1])\n"
                         "  a = conv1d(s, 6, k: 3, causal: true)\n"
                         "  b = dconv(a, k: 3, d: 2)\n"
                         "  c = conv1d(b, 5, k: 4, dilation: 2)\n"
                         "  e = slice(c, axis: 2, start: 1, stop: 3)\n"
                         "  u = deconv(in, 8, k: 2, stride: 2)\n"
                         "  h = shuffle(concat([u, u]), groups: 4)\n"
                         "  q = split(pixel_unshuffle(h, 2), parts: 4, part: 2)\n"
                         "  v = upsample(q, 2, mode: bilinear)\n"
                         "  out linear(flatten(e), 10) + linear(mean(v, over: hw), 10)\n"
                         "}\nmodel m = n()\n", "m", 4, 8);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    CU_ASSERT_EQUAL(dim_of("m.s", 1), 4);
    CU_ASSERT_EQUAL(dim_of("m.s", 2), 64);
    CU_ASSERT_EQUAL(dim_of("m.a", 1), 6);       /* causal: length kept */
    CU_ASSERT_EQUAL(dim_of("m.a", 2), 64);
    CU_ASSERT_EQUAL(dim_of("m.b", 1), 6);       /* dconv keeps the channels */
    CU_ASSERT_EQUAL(dim_of("m.b", 2), 64);
    CU_ASSERT_EQUAL(dim_of("m.c", 2), 64);      /* "same" padding, even k too */
    CU_ASSERT_EQUAL(dim_of("m.e", 2), 2);
    CU_ASSERT_EQUAL(dim_of("m.u", 1), 8);
    CU_ASSERT_EQUAL(dim_of("m.u", 2), 16);
    CU_ASSERT_EQUAL(dim_of("m.u", 3), 16);
    CU_ASSERT_EQUAL(dim_of("m.h", 1), 16);
    CU_ASSERT_EQUAL(dim_of("m.q", 1), 16);      /* 16 * 4 / 4 */
    CU_ASSERT_EQUAL(dim_of("m.q", 2), 8);
    CU_ASSERT_EQUAL(dim_of("m.v", 3), 16);
    const kd_node *b = &graph->nodes[kd_graph_find(graph, "m.b")];
    CU_ASSERT_STRING_EQUAL(b->op->name, "conv1d");
    CU_ASSERT_DOUBLE_EQUAL(b->attr[kd_attr_index(b->op, "causal")].num, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(b->attr[kd_attr_index(b->op, "dilation")].num, 2, 0);
    /* parameters: conv1d 6*4*3 + 6, dconv 6*6*3 + 6, conv1d 5*6*4 + 5,
     * deconv 8*4*2*2 + 8 (weight [C, F, K, K]), two linears */
    int64_t want = (72 + 6) + (108 + 6) + (120 + 5) + (128 + 8) + (10 * 10 + 10) + (16 * 10 + 10);
    CU_ASSERT_EQUAL(kd_graph_model_params(graph, m), want);
    /* MACs (batch 4): conv1d/dconv out * C K, deconv in * F K K, linears */
    int64_t macs = 4 * 6 * 64 * 12 + 4 * 6 * 64 * 18 + 4 * 5 * 64 * 24 + 4 * 4 * 8 * 8 * 8 * 4 +
                   4 * 10 * 10 + 4 * 10 * 16;
    CU_ASSERT_EQUAL(kd_graph_model_macs(graph, m), macs);

    /* a bad shape is a located error with the op's message */
    m = compile_text("net n() { out conv1d(in, 4, k: 3) }\nmodel m = n()\n", "m", 4, 8);
    CU_ASSERT(m < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(errtext, "conv1d expects 3-D input [N, C, T], got [4, 4, 8, 8]"));

    /* ShuffleNetV2 (split, shuffle, concat([a, b]), dwconv) and MobileNetV2
     * (relu6) compile */
    m = compile_text("use \"nets/shufflenetv2.kdr\"\nmodel s = shufflenetv2(classes: 10)\n", "s", 3, 32);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    CU_ASSERT_EQUAL(dim_of("s.stage[1]", 1), 116);
    CU_ASSERT_EQUAL(dim_of("s.stage[1]", 2), 16);
    CU_ASSERT_EQUAL(dim_of("s.stage[3]", 1), 464);
    CU_ASSERT_EQUAL(dim_of("s.stage[3]", 3), 4);
    CU_ASSERT_EQUAL(dim_of("s.logits", 1), 10);
    m = compile_text("use \"nets/mobilenetv2.kdr\"\nmodel s = mobilenetv2(classes: 10)\n", "s", 3, 32);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL(m, 0);
    /* NextItNet (embedding, dconv, layernorm, slice) on [N, 64] "ids" (only
     * the shapes matter here) */
    m = compile_text("use \"nets/nextitnet.kdr\"\n"
                     "net seq() { out nextitnet(reshape(in, shape: [-1]), num_items: 50, dim: 8, blocks: 2) }\n"
                     "model s = seq()\n", "s", 1, 8);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int32_t emb = -1, logits = -1;
    for (int32_t i = 0; i < graph->nnamed; i++) {
        if (strstr(graph->named[i].name, ".emb")) emb = graph->named[i].node;
        if (strstr(graph->named[i].name, ".logits")) logits = graph->named[i].node;
    }
    CU_ASSERT_FATAL(emb >= 0 && logits >= 0);
    CU_ASSERT_EQUAL(graph->nodes[emb].shape.ndim, 3);   /* [N, dim, T] */
    CU_ASSERT_EQUAL(graph->nodes[emb].shape.dims[1], 8);
    CU_ASSERT_EQUAL(graph->nodes[emb].shape.dims[2], 64);
    CU_ASSERT_EQUAL(graph->nodes[logits].shape.dims[1], 50);
    /* layernorm on [N, dim, T] normalises each step over its 8 channels
     * (gain [8]), not each channel over the 64 steps (gain [64]) */
    int nln = 0;
    for (int32_t i = 0; i < graph->nnodes; i++) {
        const kd_node *nd = &graph->nodes[i];
        if (nd->kind != KD_NODE_OP || strcmp(nd->op->name, "layernorm") != 0) continue;
        CU_ASSERT_EQUAL(nd->in_shape[1].ndim, 1);
        CU_ASSERT_EQUAL(nd->in_shape[1].dims[0], 8);
        nln++;
    }
    CU_ASSERT(nln >= 2);
}

/* maxpool / avgpool on [N, C, T] sequences pool over T (pool1d branch),
 * and AdaRec's searched cell, whose choices hold both, compiles on item ids */
static void test_sequence_pooling(void)
{
    int m = compile_text("net n() {\n"
                         "  e = embedding(reshape(in, shape: [-1]), 50, 8)\n"
                         "  a = maxpool(e, 3, stride: 1, pad: 1)\n"
                         "  b = avgpool(e, 3, stride: 2, pad: 1)\n"
                         "  c = maxpool(avgpool(e, 4), 3, stride: 2)\n"
                         "  out flatten(c)\n"
                         "}\n"
                         "model m = n()\n", "m", 1, 8);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    CU_ASSERT_EQUAL(graph->nodes[kd_graph_find(graph, "m.e")].shape.ndim, 3);
    CU_ASSERT_EQUAL(dim_of("m.e", 2), 64);
    CU_ASSERT_EQUAL(graph->nodes[kd_graph_find(graph, "m.a")].shape.ndim, 3);
    CU_ASSERT_EQUAL(dim_of("m.a", 1), 8);       /* channels kept */
    CU_ASSERT_EQUAL(dim_of("m.a", 2), 64);      /* k 3, stride 1, pad 1: length kept */
    CU_ASSERT_EQUAL(dim_of("m.b", 2), 32);      /* (64 + 2 - 3) / 2 + 1 */
    CU_ASSERT_EQUAL(dim_of("m.c", 2), 7);       /* 64 / 4 = 16, then (16 - 3) / 2 + 1 */
    CU_ASSERT_EQUAL(dim_of("m.out", 1), 8 * 7);
    CU_ASSERT_STRING_EQUAL(graph->nodes[kd_graph_find(graph, "m.a")].op->name, "maxpool2d");
    CU_ASSERT_STRING_EQUAL(graph->nodes[kd_graph_find(graph, "m.b")].op->name, "avgpool2d");

    m = compile_text("use \"nets/adarec_cell.kdr\"\n"
                     "net seq() { out adarec_student(reshape(in, shape: [-1]), num_items: 50, dim: 8, cells: 2) }\n"
                     "model s = seq()\n", "s", 1, 5);
    if (m < 0) fprintf(stderr, "%s", errtext);
    CU_ASSERT_EQUAL_FATAL(m, 0);
    int32_t cell = -1, logits = -1;
    for (int32_t i = 0; i < graph->nnamed; i++) {
        if (strstr(graph->named[i].name, ".cell[2]")) cell = graph->named[i].node;
        if (strstr(graph->named[i].name, ".logits")) logits = graph->named[i].node;
    }
    CU_ASSERT_FATAL(cell >= 0 && logits >= 0);
    CU_ASSERT_EQUAL(graph->nodes[cell].shape.ndim, 3);   /* [N, dim, T], T = 25 (odd) */
    CU_ASSERT_EQUAL(graph->nodes[cell].shape.dims[1], 8);
    CU_ASSERT_EQUAL(graph->nodes[cell].shape.dims[2], 25);
    CU_ASSERT_EQUAL(graph->nodes[logits].shape.dims[1], 50);
    /* every pooling candidate sees a sequence and keeps its length */
    int npool = 0;
    for (int32_t i = 0; i < graph->nnodes; i++) {
        const kd_node *nd = &graph->nodes[i];
        if (nd->kind != KD_NODE_OP || (strcmp(nd->op->name, "maxpool2d") != 0 &&
                                       strcmp(nd->op->name, "avgpool2d") != 0))
            continue;
        CU_ASSERT_EQUAL(nd->in_shape[0].ndim, 3);
        CU_ASSERT_EQUAL(nd->shape.ndim, 3);
        CU_ASSERT_EQUAL(nd->shape.dims[2], 25);
        npool++;
    }
    CU_ASSERT_EQUAL(npool, 2 * 2 * 6);   /* 2 cells x 6 edges x (max, avg) */
}

/* ---- the op registry as the recipe's spec -------------------------------- */

/* A value the checker cannot see (a shape query) out of the op's range is
 * refused when the model is compiled, once, at the argument, and the
 * message names the op once ("dropout: p ...", never "dropout: dropout:"). */
static void test_run_time_range_reads_cleanly(void)
{
    int m = compile_text("net n() {\n  out dropout(in, p: channels(in) / 2)\n}\nmodel s = n()\n",
                         "s", 3, 8);
    CU_ASSERT(m < 0);
    CU_ASSERT(strstr(errtext, ":2:22: error: dropout: p must be in [0, 0.999], got 1.5\n") != NULL);
    CU_ASSERT(strstr(errtext, "dropout: dropout") == NULL);
}

/* The synopsis `name(args)` the registry gives a spelling: required
 * arguments by name, a list of the rest as `name...`, others `name: default`. */
static void synopsis(const kdr_builtin *b, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "%s(", b->name);
    for (size_t i = 0; b->args[i].name && o < cap; i++) {
        const kdr_argspec *a = &b->args[i];
        o += (size_t)snprintf(buf + o, cap - o, "%s%s%s%s%s", i ? ", " : "", a->name,
                              a->rest ? "..." : "", a->req || !a->def ? "" : ": ",
                              a->req || !a->def ? "" : a->def);
    }
    if (o < cap) snprintf(buf + o, cap - o, ")");
}

/* Each man/kdr-<op>.7 holds, in its SYNOPSIS, one `.Dl` line per recipe
 * spelling of the op, exactly as the registry spells it (names, arguments,
 * defaults); a `.Dl name(...)` line naming a spelling the registry does not
 * have, or with other arguments, fails. */
static void test_man_synopsis_matches_registry(void)
{
    size_t n = 0;
    const kd_recipe_op *r = kd_recipe_ops(&n);
    CU_ASSERT_FATAL(r != NULL && n > 40);
    for (int i = 0; i < kd_op_count(); i++) {
        const kd_op_def *op = kd_op_at(i);
        char path[256], want[512];
        snprintf(path, sizeof path, "%s/man/kdr-%s.7", KDRUN_SRCDIR, op->name);
        char *man = kd_unit_slurp(path, NULL);
        if (!man) fprintf(stderr, "no man page %s\n", path);
        CU_ASSERT_FATAL(man != NULL);
        char *syn = strstr(man, ".Sh SYNOPSIS\n"), *end = syn ? strstr(syn + 1, "\n.Sh ") : NULL;
        CU_ASSERT_FATAL(syn != NULL && end != NULL);
        end[1] = 0;
        int nspell = 0;
        for (size_t k = 0; k < n; k++) {
            if (r[k].op != op) continue;
            nspell++;
            synopsis(&r[k].b, want + 4, sizeof want - 5);
            if (getenv("KD_PRINT_SYNOPSIS")) printf("%s %s\n", op->name, want + 4);
            memcpy(want, ".Dl ", 4);
            strcat(want, "\n");
            if (!strstr(syn, want)) fprintf(stderr, "%s: SYNOPSIS lacks '%.*s'\n", path,
                                             (int)strlen(want) - 1, want);
            CU_ASSERT(strstr(syn, want) != NULL);
        }
        /* every .Dl line with a call names one of those spellings, as above */
        for (char *l = strstr(syn, ".Dl "); l; l = strstr(l + 1, ".Dl ")) {
            char *paren = strchr(l, '('), *nl = strchr(l, '\n');
            if (!paren || !nl || paren > nl || nspell == 0) continue;
            int found = 0;
            for (size_t k = 0; k < n && !found; k++) {
                if (r[k].op != op) continue;
                synopsis(&r[k].b, want, sizeof want);
                found = strlen(want) == (size_t)(nl - l - 4) && !strncmp(l + 4, want, strlen(want));
            }
            if (!found) fprintf(stderr, "%s: '%.*s' is not a spelling of the registry\n", path,
                                (int)(nl - l), l);
            CU_ASSERT(found);
        }
        free(man);
    }
}

int main(void)
{
    if (kd_op_builtins_register() != 0)   /* op builtins come from the registry */
        return 1;
    static const kd_unit_test tests[] = {
        KD_TEST(test_resnet20_params_and_shapes),
        KD_TEST(test_resnet56_params),
        KD_TEST(test_param_names),
        KD_TEST(test_repeat_chains),
        KD_TEST(test_aggregate_of_star),
        KD_TEST(test_shape_error_is_located),
        KD_TEST(test_mismatched_add),
        KD_TEST(test_recursion_is_an_error),
        KD_TEST(test_unknown_op_is_not_an_error),
        KD_TEST(test_numbers_and_conditions),
        KD_TEST(test_loss_expressions),
        KD_TEST(test_ops2_compile),
        KD_TEST(test_cost_tables),
        KD_TEST(test_choice_compiles),
        KD_TEST(test_net_shape_ops),
        KD_TEST(test_sequence_pooling),
        KD_TEST(test_run_time_range_reads_cleanly),
        KD_TEST(test_man_synopsis_matches_registry),
        KD_TEST_END
    };
    kdr_diag_init(&diag);
    int rc = kd_unit_main("compile", tests);
    if (prog) kdr_program_free(prog);
    if (graph) kd_graph_free(graph);
    kdr_diag_free(&diag);
    return rc;
}
