/* test_check.c — unit tests of lang/check.c, lang/program.c, lang/plan.c and
 * the builtin table, on in-memory recipes (kdr_parse_buffer) assembled into
 * a kdr_program by hand, and on small temporary files for `use`.
 * The golden diagnostics live in test_golden.c. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "kdr.h"
#include "builtins.h"
#include "consteval.h"
#include "../unit.h"

/* ---- helpers ---------------------------------------------------------------- */

typedef struct fixture {
    kdr_program *p;
    kdr_diag d;
    char *text;             /* kdr_diag_print output */
} fixture;

static void fx_run(fixture *f, const char *src, kdr_override *ov, size_t nov)
{
    memset(f, 0, sizeof *f);
    kdr_diag_init(&f->d);
    f->p = calloc(1, sizeof *f->p);
    f->p->units = calloc(1, sizeof *f->p->units);
    f->p->units[0] = kdr_parse_buffer("t.kdr", src, strlen(src), &f->d);
    f->p->nunits = 1;
    CU_ASSERT_EQUAL_FATAL(f->d.errors, 0);          /* the recipes here parse */
    kdr_check(f->p, ov, nov, &f->d);
    size_t len = 0;
    FILE *o = open_memstream(&f->text, &len);
    kdr_diag_print(&f->d, o, 0);
    fclose(o);
}

static void fx_free(fixture *f)
{
    kdr_program_free(f->p);
    kdr_diag_free(&f->d);
    free(f->text);
}

static int has(const char *hay, const char *needle)
{
    int ok = hay && strstr(hay, needle) != NULL;
    if (!ok)
        fprintf(stderr, "\nexpected to find \"%s\" in:\n%s\n", needle, hay ? hay : "(null)");
    return ok;
}

static const char *order(const fixture *f, size_t i)
{
    return i < f->p->nphases ? f->p->phase_order[i]->name : "(none)";
}

#define PRELUDE \
    "net block(c, stride: 1) {\n" \
    "  out relu(bn(conv(in, c, k: 3, stride: stride, pad: 1)))\n" \
    "}\n" \
    "net resnet(depth, classes: 10) {\n" \
    "  n = (depth - 2) / 6\n" \
    "  stage[1] = repeat n as b from relu(conv(in, 16, k: 3, pad: 1)) {\n" \
    "    blk[1, b] = block(in, 16)\n" \
    "  }\n" \
    "  feat = stage[1]\n" \
    "  logits = linear(mean(feat, over: hw), classes)\n" \
    "  out logits\n" \
    "}\n" \
    "data d = idx(\"/data/fmnist\") {\n" \
    "  train \"train\" holdout 500 as val\n" \
    "  test \"t10k\"\n" \
    "  augment train: crop(28, pad: 2), flip(horizontal)\n" \
    "}\n" \
    "model teacher = resnet(depth: 56)\n" \
    "model student = resnet(depth: 20)\n"

/* ---- a good recipe ----------------------------------------------------------- */

static void test_clean_recipe(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "let T0 = 4\n"
           "phase distill {\n"
           "  train student on d.train\n"
           "  teacher teacher\n"
           "  epochs 3\n"
           "  optimizer sgd(lr: 0.1, momentum: 0.9, weight_decay: 5e-4, nesterov: true)\n"
           "  lr step(milestones: [1, 2], gamma: 0.1)\n"
           "  loss 0.1 * ce(student.logits, label)\n"
           "     + 0.9 * ramp(0, 1, epochs: 2) * kd(student.logits, teacher.logits, T: T0)\n"
           "}\n"
           "phase pretrain {\n"
           "  train teacher on d.train\n"
           "  epochs 3\n"
           "  loss ce(teacher.logits, label)\n"
           "}\n"
           "report {\n"
           "  evaluate teacher, student on d.test: top1, top5, params, macs\n"
           "}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    if (f.d.errors)
        fprintf(stderr, "\n%s", f.text);
    /* distill uses teacher, trained by pretrain: pretrain first */
    CU_ASSERT_EQUAL(f.p->nphases, 2);
    CU_ASSERT_STRING_EQUAL(order(&f, 0), "pretrain");
    CU_ASSERT_STRING_EQUAL(order(&f, 1), "distill");
    fx_free(&f);
}

static void test_order_ties_keep_source_order(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "model a = resnet(depth: 8)\n"
           "phase p3 { train a on d.train }\n"
           "phase p1 { train student on d.train }\n"
           "phase p2 { train teacher on d.train }\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    CU_ASSERT_STRING_EQUAL(order(&f, 0), "p3");
    CU_ASSERT_STRING_EQUAL(order(&f, 1), "p1");
    CU_ASSERT_STRING_EQUAL(order(&f, 2), "p2");
    fx_free(&f);
}

static void test_order_by_route_and_after(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "pool anchors = checkpoints(troute, every: 2)\n"
           "phase rco {\n"
           "  train student on d.train\n"
           "  teacher follows anchors(strategy: greedy, threshold: 0.5)\n"
           "  loss kd(student.logits, teacher.logits)\n"
           "}\n"
           "phase last { train student on d.train\n after rco }\n"
           "phase first {\n"
           "  train teacher on d.train\n"
           "  checkpoint every 1 epoch keep all as troute\n"
           "}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    if (f.d.errors)
        fprintf(stderr, "\n%s", f.text);
    CU_ASSERT_STRING_EQUAL(order(&f, 0), "first");
    CU_ASSERT_STRING_EQUAL(order(&f, 1), "rco");
    CU_ASSERT_STRING_EQUAL(order(&f, 2), "last");
    fx_free(&f);
}

static void test_order_by_search(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "search dfa {\n"
           "  for s in 1..1 { agg[s] = aggregate(teacher.blk[s, *]) }\n"
           "  bridge t2s = ce(student.with(stage[1] = agg[1]).logits, label)\n"
           "}\n"
           "phase distill {\n"
           "  derive dfa\n"
           "  train student on d.train\n"
           "  loss ce(student.logits, label) + l2(student.stage[1], agg[1])\n"
           "}\n"
           "phase find {\n"
           "  alternate {\n"
           "    weights minimize t2s on d.train\n"
           "    arch minimize t2s on d.val\n"
           "  }\n"
           "}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    if (f.d.errors)
        fprintf(stderr, "\n%s", f.text);
    CU_ASSERT_STRING_EQUAL(order(&f, 0), "find");
    CU_ASSERT_STRING_EQUAL(order(&f, 1), "distill");
    fx_free(&f);
}

static void test_cycle(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "phase x { train student on d.train\n after z }\n"
           "phase y { train teacher on d.train\n after x }\n"
           "phase z { train teacher on d.train\n after y }\n", NULL, 0);
    CU_ASSERT(f.d.errors >= 1);
    CU_ASSERT(has(f.text, "in a cycle: x -> y -> z -> x"));
    CU_ASSERT_EQUAL(f.p->nphases, 3);   /* still listed, for the plan */
    fx_free(&f);
}

/* ---- names ---------------------------------------------------------------------- */

static void test_did_you_mean_case_insensitive(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "phase p {\n  train student on d.train\n  loss ce(student.logits, LABEL)\n}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 1);
    CU_ASSERT(has(f.text, "undefined name 'LABEL'; did you mean 'label'?"));
    fx_free(&f);
}

static void test_no_suggestion_when_far(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "phase p {\n  train student on d.train\n  loss ce(student.logits, zzzzqq)\n}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 1);
    CU_ASSERT(has(f.text, "undefined name 'zzzzqq'\n"));
    fx_free(&f);
}

static void test_net_locals_and_loops(void)
{
    fixture f;
    /* loop variables, repeat variables, sum variables and indexed names */
    fx_run(&f,
           "net n(width: 8) {\n"
           "  x = relu(conv(in, width, k: 3))\n"
           "  for s in 1..3 {\n"
           "    st[s] = repeat 2 as b from x { h[s, b] = relu(conv(in, width * 2^(s-1), k: 3)) }\n"
           "  }\n"
           "  y = st[1] + st[2]\n"
           "  out y\n"
           "}\n"
           "model m = n()\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    if (f.d.errors)
        fprintf(stderr, "\n%s", f.text);
    fx_free(&f);
    /* a loop variable does not outlive its loop */
    fx_run(&f, "net n() {\n  for s in 1..2 { a[s] = relu(in) }\n  out a[s]\n}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 1);
    CU_ASSERT(has(f.text, "undefined name 's'"));
    fx_free(&f);
}

static void test_choice_candidates_without_input(void)
{
    fixture f;
    fx_run(&f,
           "net edge(c) {\n"
           "  out choice(conv1d(c, k: 3), dconv(k: 5, d: 4), maxpool(3), avgpool(3), skip, zero,\n"
           "             tau: decay(1, 0.8, 5))\n"
           "}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    if (f.d.errors)
        fprintf(stderr, "\n%s", f.text);
    fx_free(&f);
}

static void test_symbol_accepts_let_and_string(void)
{
    fixture f;
    fx_run(&f, "let axis = \"c\"\nnet n() {\n  a = mean(in, over: \"t\")\n  out mean(a, over: axis)\n}\n",
           NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    fx_free(&f);
    fx_run(&f, "net n() {\n  out mean(in, over: \"space\")\n}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 1);
    CU_ASSERT(has(f.text, "'space' is not a valid value of 'over' in 'mean'"));
    fx_free(&f);
}

static void test_let_constant_ranges(void)
{
    fixture f;
    /* the range check sees through lets and arithmetic */
    fx_run(&f, "let half = 0.5\nnet n() {\n  out dropout(in, p: half * 2)\n}\n", NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 1);
    CU_ASSERT(has(f.text, "'p' of 'dropout' must be in [0, 1), got 1"));
    fx_free(&f);
}

/* ---- overrides ------------------------------------------------------------------- */

static void test_overrides(void)
{
    fixture f;
    kdr_override ov[] = {
        { "epochs", "1", 0 },
        { "data.d.limit", "2000", 0 },
        { "lr0", "0.5", 0 },
        { "model.teacher.depth", "110", 0 },
        { "seeds", "7", 0 },
        { "phase.b.batch", "32", 0 },
        { "nothing.here", "1", 0 },
    };
    fx_run(&f, PRELUDE
           "let lr0 = 0.1\n"
           "sweep seeds in 1..3\n"
           "phase a { train teacher on d.train\n epochs 200\n optimizer sgd(lr: lr0) }\n"
           "phase b { train student on d.train\n seed seeds }\n",
           ov, sizeof ov / sizeof ov[0]);
    for (size_t i = 0; i + 1 < sizeof ov / sizeof ov[0]; i++)
        CU_ASSERT_EQUAL(ov[i].used, 1);
    CU_ASSERT_EQUAL(ov[6].used, 0);
    CU_ASSERT_EQUAL(f.d.errors, 1);
    CU_ASSERT(has(f.text, "kdrun: error: --set key 'nothing.here' matches nothing"));
    /* every phase has epochs 1 now (b gets a new setting) */
    int phases = 0;
    for (const kdr_node *s = f.p->units[0]->root->kids; s; s = s->next) {
        if (s->kind == KDR_LET && strcmp(s->name, "lr0") == 0) {
            CU_ASSERT_EQUAL(s->a->kind, KDR_NUM);
            CU_ASSERT_DOUBLE_EQUAL(s->a->num, 0.5, 0);
        }
        if (s->kind == KDR_SWEEP) {
            CU_ASSERT_EQUAL(s->a->kind, KDR_LIST);
            CU_ASSERT(s->a->kids && s->a->kids->num == 7 && !s->a->kids->next);
        }
        if (s->kind == KDR_MODEL && strcmp(s->name, "teacher") == 0)
            CU_ASSERT_DOUBLE_EQUAL(s->a->kids->a->num, 110, 0);
        if (s->kind == KDR_DATA) {
            int lim = 0;
            for (const kdr_node *t = s->kids; t; t = t->next)
                if (t->kind == KDR_SETTING && strcmp(t->word, "limit") == 0 && t->a->num == 2000)
                    lim = 1;
            CU_ASSERT(lim);
        }
        if (s->kind != KDR_PHASE)
            continue;
        int ep = 0;
        for (const kdr_node *t = s->kids; t; t = t->next)
            if (t->kind == KDR_SETTING && strcmp(t->word, "epochs") == 0) {
                ep++;
                CU_ASSERT_DOUBLE_EQUAL(t->a->num, 1, 0);
            }
        CU_ASSERT_EQUAL(ep, 1);
        phases++;
    }
    CU_ASSERT_EQUAL(phases, 2);
    fx_free(&f);
}

static void test_override_checked_like_source(void)
{
    fixture f;
    kdr_override ov[] = { { "phase.a.epochs", "\"ten\"", 0 } };
    fx_run(&f, PRELUDE "phase a { train teacher on d.train\n epochs 3 }\n", ov, 1);
    CU_ASSERT_EQUAL(ov[0].used, 1);
    CU_ASSERT_EQUAL(f.d.errors, 1);
    CU_ASSERT(has(f.text, "'epochs' must be a number, got a string (value from --set phase.a.epochs=\"ten\")"));
    fx_free(&f);
}

/* ---- robustness -------------------------------------------------------------------- */

static void test_deep_and_broken_input_does_not_crash(void)
{
    /* deep nesting within the parser's cap, and files with parse errors */
    char *src = malloc(4096);
    size_t o = (size_t)sprintf(src, "let x = ");
    for (int i = 0; i < 200; i++) src[o++] = '(';
    src[o++] = '1';
    for (int i = 0; i < 200; i++) o += (size_t)sprintf(src + o, " + 1)");
    o += (size_t)sprintf(src + o, "\nnet n() {\n  out -(-(-(relu(in))))\n}\n");
    src[o] = 0;
    fixture f;
    fx_run(&f, src, NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    fx_free(&f);
    free(src);

    static const char *broken[] = {
        "net n( {\n out\n}\n", "phase p { train on }\n", "model m = \n", "report { evaluate on : }\n",
        "data d = \n{ augment : }\n", "search s { bridge = }\n", "pool p = checkpoints()\n",
        "phase p { teacher follows (x) }\n", "net n() { out repeat as b { } }\n", "",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        kdr_diag d;
        kdr_diag_init(&d);
        kdr_program p = { 0 };
        kdr_unit *u = kdr_parse_buffer("b.kdr", broken[i], strlen(broken[i]), &d);
        p.units = &u;
        p.nunits = 1;
        kdr_check(&p, NULL, 0, &d);      /* must not crash on a partial tree */
        if (broken[i][0] && d.errors == 0)
            fprintf(stderr, "\nno error for broken input %zu: %s", i, broken[i]);
        if (broken[i][0])
            CU_ASSERT(d.errors >= 1);
        FILE *null = fopen("/dev/null", "w");
        kdr_program_print_plan(&p, null);
        fclose(null);
        free(p.phase_order);
        kdr_unit_free(u);
        kdr_diag_free(&d);
    }
}

/* ---- use ------------------------------------------------------------------------------ */

static char tmpdir[256];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

static void test_use_resolution(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kdr_check_XXXXXX");
    CU_ASSERT_FATAL(mkdtemp(tmpdir) != NULL);
    char p1[512], p2[512], p3[512];
    snprintf(p1, sizeof p1, "%s/r", tmpdir);
    snprintf(p2, sizeof p2, "%s/zoo", tmpdir);
    snprintf(p3, sizeof p3, "%s/zoo/nets", tmpdir);
    mkdir(p1, 0700);
    mkdir(p2, 0700);
    mkdir(p3, 0700);
    /* a diamond: root uses local.kdr and nets/a.kdr (zoo); both use nets/b.kdr */
    write_file("r/root.kdr", "use \"local.kdr\"\nuse \"nets/a.kdr\"\nmodel m = a_net()\n");
    write_file("r/local.kdr", "use \"nets/b.kdr\"\nlet k = 1\n");
    write_file("zoo/nets/a.kdr", "use \"b.kdr\"\nnet a_net() {\n  out b_net(in)\n}\n");
    write_file("zoo/nets/b.kdr", "net b_net() {\n  out relu(in)\n}\n");
    char root[512];
    snprintf(root, sizeof root, "%s/r/root.kdr", tmpdir);
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_program *p = kdr_program_load(root, p2, &d);
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT_EQUAL(d.errors, 0);
    CU_ASSERT_EQUAL(p->nunits, 4);           /* b.kdr once */
    CU_ASSERT_EQUAL(kdr_check(p, NULL, 0, &d), 0);
    char *plan = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&plan, &len);
    kdr_program_print_plan(p, o);
    fclose(o);
    CU_ASSERT(has(plan, "m = a_net()   built from: a_net \xe2\x86\x92 b_net"));
    free(plan);
    kdr_program_free(p);
    kdr_diag_free(&d);

    /* without the zoo, nets/a.kdr is missing: located at the use string */
    kdr_diag_init(&d);
    p = kdr_program_load(root, NULL, &d);
    CU_ASSERT_FATAL(p != NULL);
    /* depth first: local.kdr's nets/b.kdr (not next to local.kdr), then root's nets/a.kdr */
    CU_ASSERT_EQUAL_FATAL(d.errors, 2);
    CU_ASSERT_EQUAL(d.msgs[0].unit, p->units[1]);
    CU_ASSERT(strstr(d.msgs[0].text, "cannot find 'nets/b.kdr'") != NULL);
    CU_ASSERT_EQUAL(d.msgs[1].unit, p->units[0]);
    CU_ASSERT_EQUAL(d.msgs[1].beg, (uint32_t)strlen("use \"local.kdr\"\nuse "));
    CU_ASSERT(strstr(d.msgs[1].text, "cannot find 'nets/a.kdr'") != NULL);
    kdr_program_free(p);
    kdr_diag_free(&d);

    /* a missing root file: a program whose unit has no tree, and an error */
    kdr_diag_init(&d);
    snprintf(root, sizeof root, "%s/r/none.kdr", tmpdir);
    p = kdr_program_load(root, NULL, &d);
    CU_ASSERT_FATAL(p != NULL);
    CU_ASSERT(d.errors >= 1);
    CU_ASSERT(p->units[0]->root == NULL);
    kdr_program_free(p);
    kdr_diag_free(&d);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CU_ASSERT(system(cmd) == 0);
}

/* ---- plan ------------------------------------------------------------------------------ */

static void test_plan(void)
{
    fixture f;
    fx_run(&f, PRELUDE
           "sweep seed in 1..3\nsweep depth in [20, 56]\n"
           "phase distill { train student on d.train\n teacher teacher\n seed seed\n"
           "  loss 0.1 * ce(student.logits, label) + 0.9 * kd(student.logits, teacher.logits, T: 4) }\n"
           "phase pretrain { train teacher on d.train\n epochs 2 }\n"
           "report { evaluate student on d.test: top1\n table rows depth cols seed: student.top1 }\n",
           NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    char *plan = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&plan, &len);
    kdr_program_print_plan(f.p, o);
    fclose(o);
    CU_ASSERT(has(plan, "teacher = resnet(depth: 56)   built from: resnet \xe2\x86\x92 block\n"));
    CU_ASSERT(has(plan, "split train: \"train\", holding out 500 as val\n"));
    CU_ASSERT(has(plan, "seed in 1..3   (3 values)\n"));
    CU_ASSERT(has(plan, "  6 sub-runs\n"));
    CU_ASSERT(has(plan, "  1. pretrain\n"));
    CU_ASSERT(has(plan, "  2. distill\n"));
    CU_ASSERT(has(plan, "loss 0.1 * ce(student.logits, label) + 0.9 * kd(student.logits, teacher.logits, T: 4)\n"));
    CU_ASSERT(has(plan, "table rows depth cols seed: student.top1\n"));
    /* the defaults a phase uses, where it uses them; a given setting has none */
    CU_ASSERT(has(plan, "  2. distill\n       train student on d.train\n"));
    CU_ASSERT(has(plan, "       epochs 1 (default)\n       batch 128 (default)\n"
                        "       optimizer sgd(lr: 0.1, momentum: 0.9) (default)\n"
                        "       lr constant() (default)\n"));
    CU_ASSERT(!has(plan, "seed 1 (default)"));            /* distill gives it */
    CU_ASSERT(has(plan, "       seed seed (default: the recipe's 'seed')\n"));   /* pretrain */
    CU_ASSERT(has(plan, "       epochs 2\n"));
    CU_ASSERT(!has(plan, "epochs 2 (default)"));
    /* deterministic: the same text twice */
    char *plan2 = NULL;
    o = open_memstream(&plan2, &len);
    kdr_program_print_plan(f.p, o);
    fclose(o);
    CU_ASSERT_STRING_EQUAL(plan, plan2);
    free(plan);
    free(plan2);
    fx_free(&f);
}

/* ---- the settings table ------------------------------------------------------------- */

static void test_settings_table(void)
{
    for (int i = KDR_S_NONE + 1; i < KDR_S_COUNT; i++) {
        const kdr_setting_info *s = kdr_setting_info_of((kdr_setting)i);
        CU_ASSERT_FATAL(s != NULL);
        CU_ASSERT_EQUAL(s->id, i);
        CU_ASSERT(s->name && s->name[0] && s->doc && s->doc[0]);
        CU_ASSERT(s->blocks != 0);
        CU_ASSERT(strcmp(kdr_setting_where((kdr_setting)i), "another block") != 0);
        if (s->value == KDR_SV_INT)
            CU_ASSERT(s->range_word && s->min <= s->max);
        CU_ASSERT_EQUAL(kdr_setting_lookup(s->name, s->blocks), (kdr_setting)i);
    }
    CU_ASSERT_PTR_NULL(kdr_setting_info_of(KDR_S_NONE));
    CU_ASSERT_PTR_NULL(kdr_setting_info_of(KDR_S_COUNT));
    CU_ASSERT_EQUAL(kdr_setting_lookup("train", KDR_BLK_PHASE), KDR_S_TRAIN);
    CU_ASSERT_EQUAL(kdr_setting_lookup("train", KDR_BLK_DATA), KDR_S_SPLIT_TRAIN);
    CU_ASSERT_EQUAL(kdr_setting_lookup("epochs", KDR_BLK_DATA), KDR_S_NONE);
    CU_ASSERT_EQUAL(kdr_setting_lookup("nope", ~0u), KDR_S_NONE);
    /* the defaults the runtime applies (runtime/train.c) */
    CU_ASSERT_STRING_EQUAL(kdr_setting_info_of(KDR_S_EPOCHS)->def, "1");
    CU_ASSERT_STRING_EQUAL(kdr_setting_info_of(KDR_S_BATCH)->def, "128");
    CU_ASSERT_STRING_EQUAL(kdr_setting_info_of(KDR_S_SEED)->def, "1");
    CU_ASSERT_STRING_EQUAL(kdr_setting_info_of(KDR_S_OPTIMIZER)->def, "sgd(lr: 0.1, momentum: 0.9)");
    CU_ASSERT_PTR_NULL(kdr_setting_info_of(KDR_S_LOSS)->def);

    /* the parser records which setting a statement is */
    fixture f;
    fx_run(&f, PRELUDE "phase p { train student on d.train\n epochs 3\n loss ce(student.logits, label) }\n",
           NULL, 0);
    CU_ASSERT_EQUAL(f.d.errors, 0);
    int seen = 0;
    for (const kdr_node *s = f.p->units[0]->root->kids; s; s = s->next) {
        if (s->kind == KDR_DATA)
            for (const kdr_node *t = s->kids; t; t = t->next)
                if (t->kind == KDR_SETTING && t->setting == KDR_S_SPLIT_TRAIN)
                    seen |= 1;
        if (s->kind == KDR_PHASE)
            for (const kdr_node *t = s->kids; t; t = t->next) {
                if (t->setting == KDR_S_TRAIN) seen |= 2;
                if (t->setting == KDR_S_EPOCHS) seen |= 4;
                if (t->setting == KDR_S_LOSS) seen |= 8;
            }
    }
    CU_ASSERT_EQUAL(seen, 15);
    fx_free(&f);
}

/* ---- the constant evaluator ------------------------------------------------------------ */

/* the value of `let NAME = ...` in the fixture's recipe */
static const kdr_node *let_value(const fixture *f, const char *name)
{
    for (const kdr_node *s = f->p->units[0]->root->kids; s; s = s->next)
        if (s->kind == KDR_LET && strcmp(s->name, name) == 0)
            return s->a;
    return NULL;
}

static kdr_ce_status ce_num(const fixture *f, const char *let, unsigned flags, double *x, kdr_consteval *ev)
{
    kdr_consteval_init(ev, f->p, NULL, flags);
    return kdr_const_num(ev, f->p->units[0], let_value(f, let), x);
}

static void test_consteval(void)
{
    fixture f;
    fx_run(&f, "let a = 7 % 3\nlet b = 2 ^ 10\nlet c = a + b * 2\nlet d = max(a, 4) + round(2.5) + abs(-1)\n"
               "let e = a > 0 ? 10 : 20\nlet g = a == 1 and not false\nlet h = 1 / 0\nlet i = 5 % 0\n"
               "let j = 10 ^ 400\nlet k = j\nlet l = [1, 2, 3]\nlet m = 2..4\nlet n = \"x\" == \"x\"\n"
               "let o = sqrt(-1)\nlet q = q + 1\nlet r = floor(7 / 2) + ceil(0.5) + min(3, 1, 2)\n"
               "sweep sd in [5, 6]\nlet s = sd * 2\nsweep rg in 3..9\nlet t = rg\nlet u = l\nlet v = hw\n"
               "let w = (((1 + 1) + 1) + 1) + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1"
               " + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1\n",
           NULL, 0);
    kdr_consteval ev;
    double x = -1;
    CU_ASSERT_EQUAL(ce_num(&f, "a", 0, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 1, 0);                       /* % is fmod */
    CU_ASSERT_EQUAL(ce_num(&f, "b", 0, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 1024, 0);
    CU_ASSERT_EQUAL(ce_num(&f, "c", 0, &x, &ev), KDR_CE_OK);  /* through lets */
    CU_ASSERT_DOUBLE_EQUAL(x, 2049, 0);
    CU_ASSERT_EQUAL(ce_num(&f, "d", 0, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 4 + 3 + 1, 0);                 /* round(2.5) = 3 */
    CU_ASSERT_EQUAL(ce_num(&f, "e", 0, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 10, 0);
    CU_ASSERT_EQUAL(ce_num(&f, "g", 0, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 1, 0);
    CU_ASSERT_EQUAL(ce_num(&f, "n", 0, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 1, 0);
    CU_ASSERT_EQUAL(ce_num(&f, "r", 0, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 3 + 1 + 1, 0);
    CU_ASSERT_EQUAL(ce_num(&f, "w", 0, &x, &ev), KDR_CE_OK);  /* nesting is not a let hop */
    CU_ASSERT_DOUBLE_EQUAL(x, 40, 0);

    /* errors are located at the operator, also through a let */
    CU_ASSERT_EQUAL(ce_num(&f, "h", 0, &x, &ev), KDR_CE_ERROR);
    CU_ASSERT_STRING_EQUAL(ev.err_msg, "division by zero");
    CU_ASSERT_PTR_EQUAL(ev.err_at, let_value(&f, "h"));
    CU_ASSERT_EQUAL(ce_num(&f, "i", 0, &x, &ev), KDR_CE_ERROR);
    CU_ASSERT_STRING_EQUAL(ev.err_msg, "modulo by zero");
    CU_ASSERT_EQUAL(ce_num(&f, "k", 0, &x, &ev), KDR_CE_ERROR);
    CU_ASSERT_STRING_EQUAL(ev.err_msg, "the result is not a finite number");
    CU_ASSERT_PTR_EQUAL(ev.err_at, let_value(&f, "j"));
    CU_ASSERT_EQUAL(ce_num(&f, "o", 0, &x, &ev), KDR_CE_ERROR);
    CU_ASSERT_EQUAL(ce_num(&f, "q", 0, &x, &ev), KDR_CE_ERROR);   /* a let of itself */
    CU_ASSERT(strstr(ev.err_msg, "in terms of itself") != NULL);

    /* sweeps: no value for the checker, the first value for the runtime */
    CU_ASSERT_EQUAL(ce_num(&f, "s", 0, &x, &ev), KDR_CE_UNKNOWN);
    CU_ASSERT_EQUAL(ce_num(&f, "s", KDR_CE_SWEEP_FIRST, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 10, 0);
    CU_ASSERT_EQUAL(ce_num(&f, "t", KDR_CE_SWEEP_FIRST, &x, &ev), KDR_CE_OK);
    CU_ASSERT_DOUBLE_EQUAL(x, 3, 0);

    /* a bare word is a symbol, not a number; strict mode reports it */
    CU_ASSERT_EQUAL(ce_num(&f, "v", 0, &x, &ev), KDR_CE_UNKNOWN);
    CU_ASSERT_STRING_EQUAL(ev.err_msg, "'hw' is not a number");
    kdr_cval cv;
    kdr_consteval_init(&ev, f.p, NULL, 0);
    CU_ASSERT_EQUAL(kdr_const_eval(&ev, f.p->units[0], let_value(&f, "v"), &cv), KDR_CE_OK);
    CU_ASSERT_EQUAL(cv.kind, KDR_CV_SYM);
    CU_ASSERT_STRING_EQUAL(cv.str, "hw");
    kdr_diag d;
    kdr_diag_init(&d);
    kdr_consteval_init(&ev, f.p, &d, KDR_CE_STRICT);
    CU_ASSERT_EQUAL(kdr_const_num(&ev, f.p->units[0], let_value(&f, "l"), &x), KDR_CE_UNKNOWN);
    CU_ASSERT_EQUAL(d.errors, 1);
    CU_ASSERT_STRING_EQUAL(d.msgs[0].text, "expected a number, got a list");
    kdr_diag_free(&d);

    /* whole numbers in a range */
    int64_t iv = 0;
    kdr_consteval_init(&ev, f.p, NULL, 0);
    CU_ASSERT_EQUAL(kdr_const_int(&ev, f.p->units[0], let_value(&f, "b"), 1, 1e12, &iv), KDR_CE_OK);
    CU_ASSERT_EQUAL(iv, 1024);
    CU_ASSERT_EQUAL(kdr_const_int(&ev, f.p->units[0], let_value(&f, "b"), 1, 1000, &iv), KDR_CE_ERROR);
    CU_ASSERT_STRING_EQUAL(ev.err_msg, "expected a whole number >= 1, got 1024");

    /* lists and ranges, also through a let */
    double xs[8];
    size_t n = 0;
    CU_ASSERT_EQUAL(kdr_const_list(&ev, f.p->units[0], let_value(&f, "u"), xs, 8, &n), KDR_CE_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_DOUBLE_EQUAL(xs[2], 3, 0);
    CU_ASSERT_EQUAL(kdr_const_list(&ev, f.p->units[0], let_value(&f, "m"), xs, 8, &n), KDR_CE_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_DOUBLE_EQUAL(xs[0], 2, 0);
    CU_ASSERT_DOUBLE_EQUAL(xs[2], 4, 0);
    CU_ASSERT_EQUAL(kdr_const_list(&ev, f.p->units[0], let_value(&f, "m"), xs, 2, &n), KDR_CE_ERROR);
    kdr_cval items[4];
    CU_ASSERT_EQUAL(kdr_const_items(&ev, f.p->units[0], let_value(&f, "l"), items, 4, &n), KDR_CE_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(items[1].kind, KDR_CV_NUM);
    fx_free(&f);
}

/* ---- the builtin table -------------------------------------------------------------- */

static void test_builtin_table(void)
{
    size_t n;
    const kdr_builtin *b = kdr_builtins(&n);
    CU_ASSERT(n > 80);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT(b[i].name && b[i].doc && b[i].doc[0]);
        CU_ASSERT(kdr_ctx_name(b[i].ctx)[0] != 0);       /* exactly one context */
        for (size_t j = 0; j < i; j++)
            if (strcmp(b[i].name, b[j].name) == 0 && (b[i].ctx & b[j].ctx))
                CU_FAIL("a name twice in one context");
        size_t na = kdr_builtin_nargs(&b[i]);
        for (size_t k = 0; k < na; k++) {
            const kdr_argspec *a = &b[i].args[k];
            if (a->req && a->def)
                CU_FAIL("a required argument with a default");
            if (a->kind == KDR_A_SYM) {
                CU_ASSERT(a->syms != NULL);
                if (a->def)
                    CU_ASSERT(kdr_sym_in(a->syms, a->def));
            }
            if (a->rest)
                CU_ASSERT(k == 0 || !b[i].args[k - 1].rest);
        }
        if (b[i].flags & KDR_B_TENSOR_IN)
            CU_ASSERT(na > 0 && b[i].args[0].kind == KDR_A_TENSOR);
    }
    CU_ASSERT_PTR_NOT_NULL(kdr_builtin_find("cosine", KDR_CTX_LOSS));
    CU_ASSERT_PTR_NOT_NULL(kdr_builtin_find("cosine", KDR_CTX_LR));
    CU_ASSERT(kdr_builtin_find("cosine", KDR_CTX_LOSS) != kdr_builtin_find("cosine", KDR_CTX_LR));
    CU_ASSERT_PTR_NULL(kdr_builtin_find("sgd", KDR_CTX_LOSS));
    CU_ASSERT(kdr_sym_in("hw|c|t|all", "all"));
    CU_ASSERT(!kdr_sym_in("hw|c|t|all", "h"));
    CU_ASSERT(!kdr_sym_in("hw|c|t|all", "hwc"));
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_clean_recipe),
        KD_TEST(test_order_ties_keep_source_order),
        KD_TEST(test_order_by_route_and_after),
        KD_TEST(test_order_by_search),
        KD_TEST(test_cycle),
        KD_TEST(test_did_you_mean_case_insensitive),
        KD_TEST(test_no_suggestion_when_far),
        KD_TEST(test_net_locals_and_loops),
        KD_TEST(test_choice_candidates_without_input),
        KD_TEST(test_symbol_accepts_let_and_string),
        KD_TEST(test_let_constant_ranges),
        KD_TEST(test_overrides),
        KD_TEST(test_settings_table),
        KD_TEST(test_consteval),
        KD_TEST(test_override_checked_like_source),
        KD_TEST(test_deep_and_broken_input_does_not_crash),
        KD_TEST(test_use_resolution),
        KD_TEST(test_plan),
        KD_TEST(test_builtin_table),
        KD_TEST_END
    };
    return kd_unit_main("check", tests);
}
