/* test_parser.c — one test per construct of the .kdr grammar.
 *
 * Each case parses a snippet and compares the S-expression dump of its
 * syntax tree (lang/ast_dump.c) with the expected text, so both the shape
 * of the tree and operator precedence are pinned down. */
#include <stdlib.h>
#include <string.h>
#include "../unit.h"
#include "kdr.h"

static char *dump;
static size_t nerrors;
static char first_error[512];

static const char *parse(const char *src)
{
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_unit *u = kdr_parse_buffer("t.kdr", src, strlen(src), &d);
    free(dump);
    size_t len;
    FILE *f = open_memstream(&dump, &len);
    kdr_ast_dump(u->root, f);
    fclose(f);
    nerrors = d.errors;
    first_error[0] = 0;
    if (d.count) {
        int line, col;
        kdr_unit_linecol(u, d.msgs[0].beg, &line, &col);
        snprintf(first_error, sizeof first_error, "%d:%d: %s", line, col, d.msgs[0].text);
    }
    kdr_diag_free(&d);
    kdr_unit_free(u);
    return dump;
}

#define EXPECT_AST(src, want) do { \
        const char *g_ = parse(src); \
        if (strcmp(g_, want) != 0 || nerrors) \
            fprintf(stderr, "\n  source: %s\n  want:   %s\n  got:    %s\n  error:  %s\n", \
                    src, want, g_, first_error); \
        CU_ASSERT_STRING_EQUAL(g_, want); \
        CU_ASSERT_EQUAL(nerrors, 0); \
    } while (0)

#define EXPECT_ERROR(src, want) do { \
        parse(src); \
        if (strcmp(first_error, want) != 0) \
            fprintf(stderr, "\n  source: %s\n  want error: %s\n  got:        %s\n", src, want, first_error); \
        CU_ASSERT_STRING_EQUAL(first_error, want); \
    } while (0)

static void test_use(void)
{
    EXPECT_AST("use \"nets/resnet.kdr\"", "(unit (use \"nets/resnet.kdr\"))");
}

static void test_let(void)
{
    EXPECT_AST("let T = 4", "(unit (let T 4))");
    EXPECT_AST("let name = \"x\"; let on_ = true", "(unit (let name \"x\") (let on_ true))");
}

static void test_data(void)
{
    EXPECT_AST("data f = idx(\"/d\") {\n"
               "  train \"train\" holdout 5000 as val\n"
               "  test \"t10k\"\n"
               "  val \"valid\"\n"
               "  augment train: crop(28, pad: 2), flip(horizontal)\n"
               "  normalize mean: 0.5, std: [0.25, 0.5]\n"
               "  limit 2000\n"
               "}",
               "(unit (data f (call idx \"/d\") (train name=val \"train\" 5000) (test \"t10k\") "
               "(val \"valid\") (augment name=train (call crop 28 (pad: 2)) (call flip horizontal)) "
               "(normalize (mean: 0.5) (std: (list 0.25 0.5))) (limit 2000)))");
    EXPECT_AST("data s = sequences(\"r.dat\", format: movielens)",
               "(unit (data s (call sequences \"r.dat\" (format: movielens))))");
}

static void test_net_params_and_out(void)
{
    EXPECT_AST("net block(c, stride: 1) {\n  h = conv(in, c, k: 3)\n  out h\n}",
               "(unit (net block (params (param c) (param stride 1)) "
               "(= h (call conv in c (k: 3))) (out h)))");
    EXPECT_AST("net e() { out in }", "(unit (net e (params) (out in)))");
}

static void test_net_indexed_names(void)
{
    EXPECT_AST("net n() {\n  stage[1] = in\n  block[2, 3] = stage[1]\n  out block[2, 3]\n}",
               "(unit (net n (params) (= (index stage 1) in) (= (index block 2 3) (index stage 1)) "
               "(out (index block 2 3))))");
}

static void test_net_for(void)
{
    EXPECT_AST("net n() {\n  for s in 1..3 { x[s] = in }\n  out x[3]\n}",
               "(unit (net n (params) (for s (.. 1 3) (= (index x s) in)) (out (index x 3))))");
}

static void test_net_if(void)
{
    EXPECT_AST("net n(d) {\n  if d > 1 { y = 1 }\n  else if d > 0 { y = 2 }\n  else { y = 3 }\n  out y\n}",
               "(unit (net n (params (param d)) (if (> d 1) (then (= y 1)) "
               "(else (if (> d 0) (then (= y 2)) (else (block (= y 3)))))) (out y)))");
}

static void test_net_repeat(void)
{
    EXPECT_AST("net n(k) {\n  x = repeat k as b from in { h[b] = relu(in) }\n  out x\n}",
               "(unit (net n (params (param k)) (= x (repeat k b from in (= (index h b) (call relu in)))) (out x)))");
    EXPECT_AST("net n() {\n  x = repeat 2 as b { y = in }\n  out x\n}",
               "(unit (net n (params) (= x (repeat 2 b (= y in))) (out x)))");
}

static void test_model(void)
{
    EXPECT_AST("model teacher = resnet(depth: 56, classes: 10, channels: 1)",
               "(unit (model teacher (call resnet (depth: 56) (classes: 10) (channels: 1))))");
    /* an indexed model: one model per index, sharing the call */
    EXPECT_AST("model ts[s] = conn(c: 8 * s) for s in 2..3\nlet x = 1",
               "(unit (model ts[2] (s = 2) (call conn (c: (* 8 s)))) (model ts[3] (s = 3) (call conn (c: (* 8 s)))) (let x 1))");
    EXPECT_AST("model d[i] = disc() for i in [1, 4]",
               "(unit (model d[1] (i = 1) (call disc)) (model d[4] (i = 4) (call disc)))");
}

static void test_pool(void)
{
    EXPECT_AST("pool experts = [t1, t2, t3]", "(unit (pool experts (list t1 t2 t3)))");
    EXPECT_AST("pool route = checkpoints(teacher_route, every: 20)",
               "(unit (pool route (call checkpoints teacher_route (every: 20))))");
}

static void test_search(void)
{
    EXPECT_AST("search dfa {\n"
               "  for s in 1..3 { agg[s] = aggregate(teacher.block[s, *]) }\n"
               "  bridge t2s = sum s in 1..3: ce(student.with(stage[s] = a[s](agg[s])).logits, label)\n"
               "}",
               "(unit (search dfa (for s (.. 1 3) (= (index agg s) (call aggregate (index (. teacher block) s *)))) "
               "(bridge name=t2s (sum s (.. 1 3) (call ce (. (call (. student with) (= (index stage s) "
               "(call (index a s) (index agg s)))) logits) label)))))");
}

static void test_choice(void)
{
    EXPECT_AST("net cell() { out choice(dconv(in, k: 3, d: 1), maxpool(in, 3), skip, zero) }",
               "(unit (net cell (params) (out (call choice (call dconv in (k: 3) (d: 1)) "
               "(call maxpool in 3) skip zero))))");
}

static void test_phase_train_settings(void)
{
    EXPECT_AST("phase p {\n"
               "  train t on d.train\n"
               "  epochs 30; batch 128; seed 1\n"
               "  optimizer sgd(lr: 0.5, nesterov: true)\n"
               "  lr step(milestones: [15, 25], gamma: 0.5)\n"
               "  loss ce(t.logits, label)\n"
               "}",
               "(unit (phase p (train (. d train) t) (epochs 30) (batch 128) (seed 1) "
               "(optimizer (call sgd (lr: 0.5) (nesterov: true))) "
               "(lr (call step (milestones: (list 15 25)) (gamma: 0.5))) "
               "(loss (call ce (. t logits) label))))");
}

static void test_phase_together_and_labels(void)
{
    EXPECT_AST("phase p {\n"
               "  train a, b, d_a together on d.train\n"
               "  loss a: ce(a.logits, label)\n"
               "  optimizer arch: adam(lr: 0.25)\n"
               "  lr arch: constant()\n"
               "}",
               "(unit (phase p (train together (. d train) a b d_a) "
               "(loss name=a (call ce (. a logits) label)) "
               "(optimizer name=arch (call adam (lr: 0.25))) (lr name=arch (call constant))))");
}

static void test_phase_teachers(void)
{
    EXPECT_AST("phase p {\n  teacher t\n  teacher t frozen\n  teacher t at epoch 35\n"
               "  teacher follows route\n  teacher follows route(strategy: greedy, patience: 2)\n}",
               "(unit (phase p (teacher frozen t) (teacher frozen t) (teacher extra=epoch frozen t 35) "
               "(teacher follows route) (teacher follows route (strategy: greedy) (patience: 2))))");
}

static void test_phase_checkpoint(void)
{
    EXPECT_AST("phase p {\n  checkpoint every 1 epoch keep all as r\n  checkpoint every 5 keep last 3\n"
               "  checkpoint every 100 steps\n}",
               "(unit (phase p (checkpoint name=r extra=epoch keep-all 1) (checkpoint keep-last 5 3) "
               "(checkpoint extra=steps keep-all 100)))");
    EXPECT_ERROR("phase p {\n  checkpoint every 1 keep most\n}",
                 "2:27: expected 'all' or 'last N' after 'keep'");
}

static void test_phase_after_derive_evaluate(void)
{
    EXPECT_AST("phase p {\n  after a, b\n  derive dfa\n  evaluate s, t on d.test: top1, hr@10\n"
               "  evaluate s on d.val\n}",
               "(unit (phase p (after a b) (derive dfa) (evaluate (. d test) (list top1 (@ hr 10)) s t) "
               "(evaluate (. d val) s)))");
}

static void test_alternate(void)
{
    EXPECT_AST("phase s {\n  alternate {\n    weights minimize l on d.train\n"
               "    arch minimize t2s - s2t on d.val\n    a, b minimize x\n  }\n}",
               "(unit (phase s (alternate (minimize l (. d train) weights) "
               "(minimize (- t2s s2t) (. d val) arch) (minimize x a b))))");
}

static void test_sweep(void)
{
    EXPECT_AST("sweep teacher_depth in [20, 32, 56, 110]\nsweep seed in 1..3",
               "(unit (sweep teacher_depth (list 20 32 56 110)) (sweep seed (.. 1 3)))");
}

static void test_report(void)
{
    EXPECT_AST("report {\n  evaluate t, s on d.test: top1, top5, params, macs\n}",
               "(unit (report (evaluate (. d test) (list top1 top5 params macs) t s)))");
    EXPECT_AST("report tables {\n  table rows depth cols epochs: student.top1, teacher.top1\n}",
               "(unit (report tables (table name=epochs extra=depth depth epochs (. student top1) (. teacher top1))))");
    EXPECT_AST("report {\n  table rows depth: student.top1\n  table: a.top1, b.top1\n}",
               "(unit (report (table extra=depth depth (. student top1)) (table (. a top1) (. b top1))))");
}

static void test_precedence(void)
{
    EXPECT_AST("let x = 1 + 2 * 3 - 4 / 5 % 6", "(unit (let x (- (+ 1 (* 2 3)) (% (/ 4 5) 6))))");
    EXPECT_AST("let x = -2 ^ 2", "(unit (let x (- (^ 2 2))))");
    EXPECT_AST("let x = 2 ^ 3 ^ 2", "(unit (let x (^ 2 (^ 3 2))))");
    EXPECT_AST("let x = a or b and not c == d", "(unit (let x (or a (and b (not (== c d))))))");
    EXPECT_AST("let x = a ? b : c ? d : e", "(unit (let x (? a b (? c d e))))");
    EXPECT_AST("let x = 1..n - 1", "(unit (let x (.. 1 (- n 1))))");
    EXPECT_AST("let x = ndcg@5 * 2", "(unit (let x (* (@ ndcg 5) 2)))");
    EXPECT_AST("let x = 0.5 * sum s in 1..3: l2(a[s], b[s]) + 1",
               "(unit (let x (* 0.5 (sum s (.. 1 3) (+ (call l2 (index a s) (index b s)) 1)))))");
    EXPECT_AST("let x = (1 + 2) * 3", "(unit (let x (* (+ 1 2) 3)))");
}

static void test_postfix(void)
{
    EXPECT_AST("let x = a.b[1].c(2)(3)", "(unit (let x (call (call (. (index (. a b) 1) c) 2) 3)))");
    EXPECT_AST("let x = m.in", "(unit (let x (. m in)))");
    EXPECT_AST("let x = f(every: 2, from: 3,)", "(unit (let x (call f (every: 2) (from: 3))))");
    EXPECT_AST("let x = [[1, 2], [], [3,],]", "(unit (let x (list (list 1 2) (list) (list 3))))");
}

static void test_multiline_loss(void)
{
    EXPECT_AST("phase d {\n  loss 0.1 * ce(s.logits, label)\n     + 0.9 * kd(s.logits, t.logits, T: 4)\n}",
               "(unit (phase d (loss (+ (* 0.10000000000000001 (call ce (. s logits) label)) "
               "(* 0.90000000000000002 (call kd (. s logits) (. t logits) (T: 4)))))))");
}

/* `as` in a loss labels the term before it: tighter than + and -, looser
 * than * (so `0.9 * kd(...) as soft` labels the weighted term); `as` keeps
 * its old meaning outside losses (repeat, checkpoint, holdout) */
static void test_loss_labels(void)
{
    EXPECT_AST("phase d {\n  loss 0.1 * ce(s.logits, label) as hard\n     + 0.9 * kd(s.logits, t.logits, T: 4) as soft\n}",
               "(unit (phase d (loss (+ (as hard (* 0.10000000000000001 (call ce (. s logits) label))) "
               "(as soft (* 0.90000000000000002 (call kd (. s logits) (. t logits) (T: 4))))))))");
    EXPECT_AST("phase d {\n  loss a: ce(a.logits, label) - -l1(a.x, a.y) as reg\n}",
               "(unit (phase d (loss name=a (- (call ce (. a logits) label) (as reg (- (call l1 (. a x) (. a y))))))))");
    EXPECT_AST("phase d {\n  loss sum s in 1..3: 2 * at(a.x[s], b.x[s]) as att\n}",
               "(unit (phase d (loss (sum s (.. 1 3) (as att (* 2 (call at (index (. a x) s) (index (. b x) s))))))))");
    EXPECT_AST("net n() {\n  h = repeat 2 as b { x = in }\n  out h\n}",
               "(unit (net n (params) (= h (repeat 2 b (= x in))) (out h)))");
}

/* `GROUPS minimize EXPR [on DATA.SPLIT] [lr VALUE]`: a step's own lr */
static void test_step_lr(void)
{
    EXPECT_AST("phase d {\n  alternate {\n    weights minimize l on d.val lr 0.02\n"
               "    arch minimize m lr 2 * x\n    weights minimize l\n  }\n}",
               "(unit (phase d (alternate (minimize l (. d val) lr 0.02 weights) "
               "(minimize m lr (* 2 x) arch) (minimize l weights))))");
}

static void test_locations(void)
{
    const char *src = "model m = resnet(depth: 20)";
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_unit *u = kdr_parse_buffer("t.kdr", src, strlen(src), &d);
    kdr_node *m = u->root->kids;
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->kind, KDR_MODEL);
    CU_ASSERT_EQUAL(m->beg, 0);
    CU_ASSERT_EQUAL(m->end, strlen(src));
    CU_ASSERT_EQUAL(m->a->kind, KDR_CALL);
    CU_ASSERT_EQUAL(m->a->beg, 10);                 /* resnet(...) */
    CU_ASSERT_EQUAL(m->a->kids->beg, 17);           /* depth: 20 */
    CU_ASSERT_EQUAL(m->a->kids->a->beg, 24);        /* 20 */
    CU_ASSERT_EQUAL(m->a->kids->a->end, 26);
    CU_ASSERT_EQUAL(m->c->beg, 6);                  /* the name m */
    kdr_diag_free(&d);
    kdr_unit_free(u);
}

static void test_syntax_errors(void)
{
    EXPECT_ERROR("model = resnet()", "1:7: unexpected '='; expected identifier");
    EXPECT_ERROR("model d[i] = disc() for i in [1, 1]", "1:34: index 1 of model 'd' is listed twice");
    EXPECT_ERROR("let x = (1 + 2", "1:15: unexpected end of file; expected an operator or ')'" );
    EXPECT_ERROR("phase p {\n  epochs\n}", "2:9: unexpected end of line");
    EXPECT_ERROR("let x = 3 4", "1:11: unexpected number '4'; expected an operator or end of line");
    EXPECT_ERROR("net n( { }", "1:8: unexpected '{'; expected identifier or ')'");
}

static void test_error_recovery(void)
{
    /* three bad statements, each reported; good ones around them survive */
    parse("let a = 1 1\nlet b = 1\nmodel = x\nlet c = )\nlet d = 2\nphase p {\n  epochs\n  seed 1\n}\n");
    CU_ASSERT_EQUAL(nerrors, 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(dump, "(let b 1)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(dump, "(let d 2)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(dump, "(seed 1)"));
}

static void test_error_cap(void)
{
    char buf[4096] = "";
    for (int i = 0; i < 40; i++) strcat(buf, "let = 1\n");
    parse(buf);
    CU_ASSERT_EQUAL(nerrors, 20);
}

static void test_deep_nesting(void)
{
    size_t n = 100000;
    char *s = malloc(2 * n + 16);
    strcpy(s, "let x = ");
    size_t o = strlen(s);
    memset(s + o, '(', n); o += n;
    s[o++] = '1';
    memset(s + o, ')', n); o += n;
    s[o] = 0;
    parse(s);
    CU_ASSERT_STRING_EQUAL(first_error, "1:265: brackets nested more than 256 deep");
    CU_ASSERT_EQUAL(nerrors, 1);
    /* a long left-deep chain is cut at the depth limit, with one error */
    o = strlen("let x = ");
    for (size_t i = 0; i < 5000; i++) { s[o++] = '1'; s[o++] = '+'; }
    s[o++] = '1';
    s[o] = 0;
    parse(s);
    CU_ASSERT_STRING_EQUAL(first_error, "1:9: expression nested more than 1000 levels deep");
    CU_ASSERT_EQUAL(nerrors, 1);
    free(s);
}

static void test_empty_file(void)
{
    EXPECT_AST("", "(unit)");
    EXPECT_AST("# nothing\n", "(unit)");
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_use),
        KD_TEST(test_let),
        KD_TEST(test_data),
        KD_TEST(test_net_params_and_out),
        KD_TEST(test_net_indexed_names),
        KD_TEST(test_net_for),
        KD_TEST(test_net_if),
        KD_TEST(test_net_repeat),
        KD_TEST(test_model),
        KD_TEST(test_pool),
        KD_TEST(test_search),
        KD_TEST(test_choice),
        KD_TEST(test_phase_train_settings),
        KD_TEST(test_phase_together_and_labels),
        KD_TEST(test_phase_teachers),
        KD_TEST(test_phase_checkpoint),
        KD_TEST(test_phase_after_derive_evaluate),
        KD_TEST(test_alternate),
        KD_TEST(test_sweep),
        KD_TEST(test_report),
        KD_TEST(test_precedence),
        KD_TEST(test_postfix),
        KD_TEST(test_multiline_loss),
        KD_TEST(test_loss_labels),
        KD_TEST(test_step_lr),
        KD_TEST(test_locations),
        KD_TEST(test_syntax_errors),
        KD_TEST(test_error_recovery),
        KD_TEST(test_error_cap),
        KD_TEST(test_deep_nesting),
        KD_TEST(test_empty_file),
        KD_TEST_END
    };
    int rc = kd_unit_main("parser", tests);
    free(dump);
    return rc;
}
