/* test_report.c — learning-curve SVG, `kdrun report`, sweep tables.
 *
 * The SVG is checked for well-formed XML by a small checker here (and by
 * python3's xml.dom.minidom when /usr/bin/python3 exists), for one polyline
 * per series and for escaped names.  kd_report_cmd reads report.yaml files
 * written here by hand (block and flow style, quoted scalars) and bad ones,
 * each with the exact message expected.  kd_sweep_report runs on a
 * synthetic grid with known means and standard deviations; its report.yaml
 * must print the same tables through kd_report_cmd.  Files go to a fresh
 * directory under $TMPDIR (or /tmp), removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../unit.h"
#include "runtime/report.h"

static char dir[256];

static int make_dir(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/kd_report_XXXXXX", t && *t ? t : "/tmp");
    /* commands get names relative to it, as a user types them */
    return mkdtemp(dir) && chdir(dir) == 0 ? 0 : -1;
}

/* rm -r of the test directory (two levels are enough here). */
static void remove_tree(const char *path, int depth)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (depth > 0)
            remove_tree(p, depth - 1);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(path);
}

static int remove_dir(void)
{
    if (chdir("/") != 0)
        return -1;
    remove_tree(dir, 3);
    return 0;
}

static const char *path_of(const char *name)
{
    static char p[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Entries of the directory name (in the test directory) whose name
 * contains part: the temporary files of an atomic write are NAME.tmp.XXXXXX. */
static int count_files(const char *name, const char *part)
{
    DIR *d = opendir(path_of(name));
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strstr(e->d_name, part))
            n++;
    if (d)
        closedir(d);
    return n;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

/* DIR/<run>/report.yaml with the given text. */
static const char *make_run(const char *run, const char *yaml)
{
    const char *d = path_of(run);
    mkdir(d, 0777);
    char p[700];
    snprintf(p, sizeof p, "%s/report.yaml", d);
    write_file(p, yaml, strlen(yaml));
    return d;
}

/* Output of a FILE * written by the code under test. */
typedef struct capture {
    char *buf;
    size_t len;
    FILE *f;
} capture;

static void cap_open(capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->f);
}

static char *cap_close(capture *c)
{
    fclose(c->f);
    return c->buf;
}

/* strstr that shows the text when the part is not in it. */
static int contains(const char *text, const char *part)
{
    if (text && strstr(text, part))
        return 1;
    fprintf(stderr, "\n--- this:\n%s\n--- is not in:\n%s\n---\n", part, text ? text : "(null)");
    return 0;
}

static int count_of(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub))
        n++;
    return n;
}

/* ---- a small XML well-formedness checker ------------------------------------ */

static int xml_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == ':' || c == '.';
}

/* Entity or character reference at s ('&'); its length, or 0 if invalid. */
static int xml_ref(const char *s)
{
    static const char *const ent[] = { "&lt;", "&gt;", "&amp;", "&quot;", "&apos;" };
    for (int i = 0; i < 5; i++)
        if (strncmp(s, ent[i], strlen(ent[i])) == 0)
            return (int)strlen(ent[i]);
    if (s[1] == '#') {
        int k = 2;
        while (s[k] >= '0' && s[k] <= '9') k++;
        if (k > 2 && s[k] == ';') return k + 1;
    }
    return 0;
}

/* 0 if well-formed: one root element, matching tags, quoted attributes,
 * valid references, no stray '<' or '&'. */
static int xml_check(const char *s)
{
    char stack[64][64];
    int depth = 0, roots = 0;
    if (strncmp(s, "<?xml", 5) == 0) {
        s = strstr(s, "?>");
        if (!s) return -1;
        s += 2;
    }
    while (*s) {
        if (*s == '&') {
            int k = xml_ref(s);
            if (!k) return -2;
            s += k;
            continue;
        }
        if (*s != '<') {
            if (depth == 0 && *s != '\n' && *s != ' ') return -3;
            s++;
            continue;
        }
        s++;
        int closing = *s == '/';
        if (closing) s++;
        char name[64];
        int n = 0;
        while (xml_name_char(*s) && n < 63) name[n++] = *s++;
        name[n] = 0;
        if (!n) return -4;
        if (closing) {
            if (*s != '>' || depth == 0 || strcmp(stack[depth - 1], name) != 0) return -5;
            depth--;
            s++;
            continue;
        }
        for (;;) {
            while (*s == ' ' || *s == '\n') s++;
            if (*s == '>' || (s[0] == '/' && s[1] == '>')) break;
            int an = 0;
            while (xml_name_char(*s)) { s++; an++; }
            if (!an || *s != '=' || (s[1] != '"' && s[1] != '\'')) return -6;
            char q = s[1];
            s += 2;
            while (*s && *s != q) {
                if (*s == '<') return -7;
                if (*s == '&') {
                    int k = xml_ref(s);
                    if (!k) return -8;
                    s += k;
                } else {
                    s++;
                }
            }
            if (!*s) return -9;
            s++;
        }
        if (depth == 0 && ++roots > 1) return -10;
        if (*s == '/') {
            s += 2;
        } else {
            if (depth == 64) return -11;
            snprintf(stack[depth++], 64, "%s", name);
            s++;
        }
    }
    return depth == 0 && roots == 1 ? 0 : -12;
}

/* python3's minidom, when there is a python3; 1 if skipped. */
static int python_xml_ok(const char *path)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        return 1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import xml.dom.minidom,sys; "
             "xml.dom.minidom.parse(sys.argv[1])\" '%s'", path);
    return system(cmd) == 0;
}

static void row(kd_metric_row *r, const char *phase, int64_t epoch, const char *what, double v)
{
    memset(r, 0, sizeof *r);
    snprintf(r->phase, sizeof r->phase, "%s", phase);
    r->epoch = epoch;
    snprintf(r->what, sizeof r->what, "%s", what);
    r->value = v;
}

static char *svg_of(const kd_metric_row *rows, int n, const char *title, const char *file)
{
    const char *p = path_of(file);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kd_plot_svg(f, rows, n, title), 0);
    CU_ASSERT_EQUAL(fclose(f), 0);
    char *s = kd_unit_slurp(p, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    int x = xml_check(s);
    if (x) fprintf(stderr, "\n%s: not well-formed (%d)\n", p, x);
    CU_ASSERT_EQUAL(x, 0);
    CU_ASSERT(python_xml_ok(p));
    CU_ASSERT(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL);
    CU_ASSERT(strstr(s, "href") == NULL);           /* no external resources */
    return s;
}

/* ---- SVG --------------------------------------------------------------------- */

static void test_svg_curves(void)
{
    kd_metric_row r[32];
    int n = 0;
    for (int e = 1; e <= 4; e++) {
        row(&r[n++], "pretrain", e, "train loss", 2.0 / e);
        row(&r[n++], "pretrain", e, "teacher top1 on fmnist.val", 60 + 5 * e);
    }
    for (int e = 1; e <= 3; e++) {
        row(&r[n++], "distill", e, "train loss", 1.0 / e);
        row(&r[n++], "distill", e, "student top1 on fmnist.val", 50 + 6 * e);
        row(&r[n++], "distill", e, "<b> & \"q\" top1", 40 + e);
    }
    row(&r[n++], "report", 0, "student top1 on fmnist.test", 71.2);
    char *s = svg_of(r, n, "fmnist_kd <run> & \"co\"", "curves.svg");
    /* 5 series, report rows not plotted */
    CU_ASSERT_EQUAL(count_of(s, "<polyline"), 5);
    CU_ASSERT_EQUAL(count_of(s, "class=\"legend\""), 5);
    CU_ASSERT(strstr(s, ">pretrain: train loss<") != NULL);
    CU_ASSERT(strstr(s, ">distill: student top1 on fmnist.val<") != NULL);
    CU_ASSERT(strstr(s, "fmnist.test") == NULL);
    /* escaped names */
    CU_ASSERT(strstr(s, "distill: &lt;b&gt; &amp; &quot;q&quot; top1") != NULL);
    CU_ASSERT(strstr(s, "<b>") == NULL);
    CU_ASSERT(strstr(s, "fmnist_kd &lt;run&gt; &amp; &quot;co&quot;") != NULL);
    /* one phase boundary; the global axis runs to 4 + 3 = 7 */
    CU_ASSERT_EQUAL(count_of(s, "class=\"phase\""), 2);   /* in each panel */
    CU_ASSERT(strstr(s, ">7</text>") != NULL);
    /* 4 + 4 + 3 * 3 markers (each with its title) */
    CU_ASSERT_EQUAL(count_of(s, "<circle cx=") - 5, 17);
    free(s);
}

static void test_svg_edges(void)
{
    /* no rows at all */
    char *s = svg_of(NULL, 0, NULL, "empty.svg");
    CU_ASSERT_EQUAL(count_of(s, "<polyline"), 0);
    CU_ASSERT(strstr(s, "no per-epoch metrics to plot") != NULL);
    free(s);

    /* only report rows */
    kd_metric_row r[16];
    row(&r[0], "report", 0, "student top1 on x.test", 70);
    s = svg_of(r, 1, "", "report_only.svg");
    CU_ASSERT_EQUAL(count_of(s, "<polyline"), 0);
    CU_ASSERT(strstr(s, "no per-epoch metrics to plot") != NULL);
    free(s);

    /* one epoch */
    row(&r[0], "train", 1, "train loss", 0.5);
    row(&r[1], "train", 1, "student top1 on x.val", 50);
    s = svg_of(r, 2, "one", "one.svg");
    CU_ASSERT_EQUAL(count_of(s, "<polyline"), 2);
    free(s);

    /* NaN, Inf, huge, tiny and negative values; a series with no finite
     * value keeps its polyline (empty) and says so */
    row(&r[0], "a", 1, "train loss", NAN);
    row(&r[1], "a", 2, "train loss", INFINITY);
    row(&r[2], "a", 3, "train loss", 1e308);
    row(&r[3], "a", 4, "train loss", -1e308);
    row(&r[4], "a", 5, "train loss", 4.9e-324);
    row(&r[5], "a", 1, "gap", -INFINITY);
    row(&r[6], "a", 2, "gap", NAN);
    row(&r[7], "b", 1, "m", -5);
    row(&r[8], "b", 1000000000000LL, "m", -5);   /* a huge epoch */
    row(&r[9], "b", -3, "m", 1);                  /* not plotted */
    s = svg_of(r, 10, "edges", "edges.svg");
    CU_ASSERT_EQUAL(count_of(s, "<polyline"), 3);
    CU_ASSERT(strstr(s, "a: gap (no finite values)") != NULL);
    CU_ASSERT(strstr(s, "nan") == NULL);
    CU_ASSERT(strstr(s, "inf") == NULL);
    free(s);

    /* identical values, names filling their arrays (no NUL), control
     * characters and invalid UTF-8 */
    memset(&r[0], 0, sizeof r[0]);
    memset(r[0].phase, 'p', sizeof r[0].phase);
    memset(r[0].what, 'w', sizeof r[0].what);
    r[0].epoch = 1;
    r[0].value = 3;
    row(&r[1], "c", 1, "x\x01y\xff\xc3(z \xc3\xa9", 1e15);
    row(&r[2], "c", 2, "x\x01y\xff\xc3(z \xc3\xa9", 1e15 + 0.125);
    s = svg_of(r, 3, "bad \xe2\x82", "names.svg");
    CU_ASSERT_EQUAL(count_of(s, "<polyline"), 2);
    CU_ASSERT(strstr(s, "x?y?" "?(z \xc3\xa9") != NULL);
    free(s);

    /* a write error */
    FILE *f = fopen("/dev/full", "w");
    if (f) {
        row(&r[0], "train", 1, "train loss", 0.5);
        CU_ASSERT_EQUAL(kd_plot_svg(f, r, 1, "full"), -1);
        fclose(f);
    }
}

/* ---- kdrun report -------------------------------------------------------------- */

static const char run_a[] =
    "recipe: recipes/classic/fmnist_kd.kdr\n"
    "recipe_sha256: 3f7a00\n"
    "kdrun: 0.1.0\n"
    "threads: 2\n"
    "wall_seconds: 123.4\n"
    "status: ok\n"
    "metrics:\n"
    "  - {phase: pretrain, epoch: 1, metric: train loss, value: 0.91}\n"
    "  - {phase: distill, epoch: 1, metric: student top1 on fmnist.val, value: 70.5}\n"
    "  - {phase: report, metric: student top1 on fmnist.test, value: 71.2}\n"
    "final:\n"
    "  student.top1: 71.2\n"
    "  student.params: 4938\n"
    "best:\n"
    "  - {phase: distill, metric: student top1 on fmnist.val, best: 72.0, best_epoch: 6,"
    " last: 71.5, last_epoch: 8}\n";

/* flow and block mixed, quoted scalars, a key the first run lacks */
static const char run_b[] =
    "# written by hand\n"
    "recipe: 'recipes/classic/fmnist_kd.kdr'\n"
    "sweep: {seed: \"2\"}\n"
    "status: \"interrupted\"\n"
    "wall_seconds: \"3723\"\n"
    "metrics: []\n"
    "final: {student.top1: \"69.1251\", teacher.top1: 88.5, student.loss: 0.123456,"
    " student.params: 4938}\n"
    "best:\n"
    "  -\n"
    "    phase: distill\n"
    "    metric: \"student top1 on fmnist.val\"\n"
    "    best: 70\n"
    "    best_epoch: 2\n"
    "    last: 69.5\n"
    "    last_epoch: 3\n";

static const char run_c[] =
    "recipe: r.kdr\nstatus: failed\nerror: 'r.kdr:3:5: no such data'\nwall_seconds: 4.25\nmetrics:\nfinal:\n";

static void test_report_runs(void)
{
    make_run("a", run_a);
    make_run("b", run_b);
    make_run("c", run_c);
    char *dirs[3] = { "a/", "./b", "c" };   /* a trailing slash is dropped */
    capture out, err;
    cap_open(&out);
    cap_open(&err);
    CU_ASSERT_EQUAL(kd_report_cmd(3, dirs, out.f, err.f), 0);
    char *o = strdup(cap_close(&out)), *e = cap_close(&err);
    KD_ASSERT_STR_EQ(e, "");
    /* at most 100 columns: blocks of columns led by the run, the series below */
    KD_ASSERT_STR_EQ(o,
        "run  status        wall  student.top1  student.params  teacher.top1  student.loss    [1] best\n"
        "---  -----------  -----  ------------  --------------  ------------  ------------  ----------\n"
        "a    ok           2m03s         71.20            4938                              72.00 @ep6\n"
        "./b  interrupted  1h02m         69.13            4938         88.50        0.1235  70.00 @ep2\n"
        "c    failed        4.2s\n"
        "\n"
        "run    [1] last\n"
        "---  ----------\n"
        "a    71.50 @ep8\n"
        "./b  69.50 @ep3\n"
        "c\n"
        "\n"
        "[1] distill: student top1 on fmnist.val\n"
        "\n"
        "c: r.kdr:3:5: no such data\n");
    for (const char *l = o; *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        CU_ASSERT(len <= 100);
        l += len + (nl ? 1 : 0);
    }
    free(o);
    free(out.buf);
    free(e);
}

/* Runs kd_report_cmd on one directory; returns its messages and checks
 * the status. */
static char *report_err(const char *d, int want)
{
    char *dirs[1] = { (char *)d };
    capture out, err;
    cap_open(&out);
    cap_open(&err);
    CU_ASSERT_EQUAL(kd_report_cmd(1, dirs, out.f, err.f), want);
    free(cap_close(&out));
    char *e = cap_close(&err);
    char *u = strdup(e);
    free(e);
    return u;
}

static void expect_err(const char *run, const char *yaml, const char *want)
{
    if (yaml)
        make_run(run, yaml);
    char *e = report_err(run, 1);
    KD_ASSERT_STR_EQ(e, want);
    free(e);
}

static void test_report_errors(void)
{
    expect_err("nope", NULL, "nope: cannot open the run directory: No such file or directory\n");
    mkdir(path_of("empty_dir"), 0777);
    expect_err("empty_dir", NULL, "empty_dir/report.yaml: cannot open: No such file or directory\n");
    write_file(path_of("plain_file"), "x", 1);
    expect_err("plain_file", NULL, "plain_file: not a run directory\n");

    /* truncated: in the middle of a flow mapping, and at a line end */
    char trunc[sizeof run_a];
    const char *cut = strstr(run_a, "value: 70.5");
    memcpy(trunc, run_a, (size_t)(cut - run_a));
    trunc[cut - run_a] = 0;
    expect_err("trunc1", trunc,
               "trunc1/report.yaml:10:1: invalid YAML: did not find expected node content "
               "(while parsing a flow node at line 10)\n");
    expect_err("trunc2", "recipe: r.kdr\nwall_seconds: 1\n",
               "trunc2/report.yaml:1:1: missing key 'status'\n");
    /* malformed */
    expect_err("bad1", "recipe: r\nstatus: ok\n  wall_seconds: 1\n",
               "bad1/report.yaml:3:15: invalid YAML: mapping values are not allowed in this "
               "context\n");
    expect_err("bad2", "recipe: r\n\tstatus: ok\n",
               "bad2/report.yaml:2:1: invalid YAML: found a tab character that violates "
               "indentation (while scanning a plain scalar at line 1)\n");
    expect_err("bad3", "- recipe: r\n", "bad3/report.yaml:1:1: expected a mapping of report "
               "keys, found a list\n");
    expect_err("bad4", "", "bad4/report.yaml: empty file, no report\n");
    expect_err("bad5", "recipe: r\nstatus: done\nwall_seconds: 1\n",
               "bad5/report.yaml:2:9: 'status' is 'done', not ok, failed or interrupted\n");
    expect_err("bad6", "recipe: r\nstatus: ok\nwall_seconds: soon\n",
               "bad6/report.yaml:3:15: 'wall_seconds' is not a number: 'soon'\n");
    expect_err("bad7", "recipe: r\nstatus: ok\nwall_seconds: 1\nstatus: failed\n",
               "bad7/report.yaml:4:1: 'status' is given twice in the report\n");
    expect_err("bad8", "recipe: r\nstatus: ok\nwall_seconds: 1\nfinal: [1, 2]\n",
               "bad8/report.yaml:4:8: 'final' is a list, not a mapping\n");
    expect_err("bad9", "recipe: r\nstatus: ok\nwall_seconds: 1\nfinal: {a.top1: high}\n",
               "bad9/report.yaml:4:17: 'a.top1' is not a number: 'high'\n");
    expect_err("bad10", "recipe: r\nstatus: ok\nwall_seconds: 1\nbest:\n  - {phase: p}\n",
               "bad10/report.yaml:5:5: missing key 'metric'\n");
    expect_err("bad11", "recipe: r\nstatus: ok\nwall_seconds: 1\n---\nrecipe: s\n",
               "bad11/report.yaml:5:1: a second YAML document; a report is one document\n");
    expect_err("bad12", "recipe: r\nstatus: ok\nwall_seconds: 1\nmetrics:\n"
               "  - {phase: p, epoch: 1.5, metric: m, value: 1}\n",
               "bad12/report.yaml:5:23: 'epoch' is not a whole number: '1.5'\n");
    expect_err("bad13", "recipe: \"r\xff\"\nstatus: ok\nwall_seconds: 1\n",
               "bad13/report.yaml: unreadable at byte 10: invalid leading UTF-8 octet\n");
    expect_err("bad14", "recipe: &a [*a]\nstatus: ok\nwall_seconds: 1\n",
               "bad14/report.yaml:1:9: 'recipe' is a list, not text\n");

    /* one bad run among good ones: the good ones are still printed */
    char *dirs[3] = { "a", "bad5", "c" };
    capture out, err;
    cap_open(&out);
    cap_open(&err);
    CU_ASSERT_EQUAL(kd_report_cmd(3, dirs, out.f, err.f), 1);
    char *o = strdup(cap_close(&out)), *e = strdup(cap_close(&err));
    CU_ASSERT(strncmp(o, "run  status   wall", 18) == 0);
    CU_ASSERT(strstr(o, "\na    ok ") != NULL);
    CU_ASSERT(strstr(o, "\nc    failed ") != NULL);
    CU_ASSERT(strstr(o, "bad5") == NULL);
    KD_ASSERT_STR_EQ(e, "bad5/report.yaml:2:9: 'status' is 'done', not ok, failed or "
                        "interrupted\n");
    free(o);
    free(e);
    free(out.buf);
    free(err.buf);
    CU_ASSERT_EQUAL(kd_report_cmd(0, NULL, stdout, NULL), 1);
}

/* ---- sweeps ----------------------------------------------------------------------- */

/* teacher_depth in {20, 8, 14} (seen in that order), alpha in {0.9, 0.5},
 * seed in 1..3.  student.top1 = base + 2 * (seed - 2), base per cell, so
 * every full cell has std 2.00.  (8, 0.9, seed 3) failed; (20, 0.9) failed
 * for every seed; (14, 0.5, seed 2) has no student.top1. */
enum { NPTS = 18 };
static const char *const vars[3] = { "teacher_depth", "alpha", "seed" };
static const char *const depths[3] = { "20", "8", "14" };
static const char *const alphas[2] = { "0.9", "0.5" };
static const char *const seeds[3] = { "1", "2", "3" };
static char pdir[NPTS][64];
static const char *pvals[NPTS][3];
static const char *const keys_full[3] = { "student.top1", "student.params", "teacher.top1" };
static const char *const keys_no_top1[2] = { "student.params", "teacher.top1" };
static double pfin[NPTS][3];
static kd_sweep_point pts[NPTS];

static void make_points(void)
{
    int i = 0;
    for (int d = 0; d < 3; d++)
        for (int a = 0; a < 2; a++)
            for (int s = 0; s < 3; s++, i++) {
                kd_sweep_point *p = &pts[i];
                snprintf(pdir[i], sizeof pdir[i], "teacher_depth=%s,alpha=%s,seed=%s",
                         depths[d], alphas[a], seeds[s]);
                pvals[i][0] = depths[d];
                pvals[i][1] = alphas[a];
                pvals[i][2] = seeds[s];
                double base = 60 + atoi(depths[d]) * 0.5 + (a ? 1 : 0);
                p->dir = pdir[i];
                p->nvars = 3;
                p->vars = vars;
                p->values = pvals[i];
                p->status = "ok";
                p->nfinal = 3;
                p->final_keys = keys_full;
                pfin[i][0] = base + 2 * (s - 1);
                pfin[i][1] = 4938;
                pfin[i][2] = 80 + atoi(depths[d]);
                p->final_values = pfin[i];
                if (d == 1 && a == 0 && s == 2) p->status = "failed";
                if (d == 0 && a == 0) p->status = s == 2 ? "interrupted" : "failed";
                if (d == 2 && a == 1 && s == 1) {
                    p->nfinal = 2;
                    p->final_keys = keys_no_top1;
                    pfin[i][0] = pfin[i][1];
                    pfin[i][1] = pfin[i][2];
                }
            }
}

static const char sweep_term[] =
    "sweep sw (recipes/kd_depth.kdr), 18 points: 14 ok, 3 failed, 1 interrupted\n"
    "\n"
    "student.top1 by teacher_depth \xc3\x97 alpha (mean \xc2\xb1 std over seed)\n"
    "teacher_depth \\ alpha                 0.5                 0.9\n"
    "---------------------  ------------------  ------------------\n"
    "8                            65.00 \xc2\xb1 2.00  63.00 \xc2\xb1 1.41 (n=2)\n"
    "14                     68.00 \xc2\xb1 2.83 (n=2)        67.00 \xc2\xb1 2.00\n"
    "20                           71.00 \xc2\xb1 2.00                   \xe2\x80\x94\n"
    "\n"
    "student.top1, student.params by teacher_depth (mean \xc2\xb1 std over alpha, seed)\n"
    "teacher_depth        student.top1  student.params\n"
    "-------------  ------------------  --------------\n"
    "8              64.20 \xc2\xb1 1.92 (n=5)  4938 \xc2\xb1 0 (n=5)\n"
    "14             67.40 \xc2\xb1 2.07 (n=5)        4938 \xc2\xb1 0\n"
    "20             71.00 \xc2\xb1 2.00 (n=3)  4938 \xc2\xb1 0 (n=3)\n"
    "\n"
    "all points (mean \xc2\xb1 std over teacher_depth, alpha, seed)\n"
    "metric                 mean \xc2\xb1 std\n"
    "------------  -------------------\n"
    "teacher.top1  93.14 \xc2\xb1 4.62 (n=14)\n"
    "nope.top1                       \xe2\x80\x94\n";

static void test_sweep(void)
{
    make_points();
    const char *sw = "sw";
    CU_ASSERT_EQUAL_FATAL(mkdir(sw, 0777), 0);
    static const char *const top1[] = { "student.top1" };
    static const char *const two[] = { "student.top1", "student.params" };
    static const char *const other[] = { "teacher.top1", "nope.top1" };
    kd_table_spec specs[3] = {
        { "teacher_depth", "alpha", 1, top1 },
        { "teacher_depth", NULL, 2, two },
        { NULL, NULL, 2, other },
    };
    capture term;
    cap_open(&term);
    char err[256] = "x";
    CU_ASSERT_EQUAL(kd_sweep_report(sw, "recipes/kd_depth.kdr", pts, NPTS, specs, 3, term.f, err,
                                    sizeof err), 0);
    KD_ASSERT_STR_EQ(err, "");
    char *t = strdup(cap_close(&term));
    KD_ASSERT_STR_EQ(t, sweep_term);

    /* no temporary file left; the Markdown */
    CU_ASSERT_EQUAL(count_files("sw", ".tmp"), 0);
    CU_ASSERT_EQUAL(count_files("sw", "report.yaml"), 1);
    CU_ASSERT_EQUAL(count_files("sw", "tables.md"), 1);
    char *md = kd_unit_slurp(path_of("sw/tables.md"), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    char *mdu = strdup(md);
    static const char md_head[] = "## Sweep sw\n\nRecipe recipes/kd_depth.kdr, 18 points: "
                                  "14 ok, 3 failed, 1 interrupted.\n\n";
    CU_ASSERT(strncmp(mdu, md_head, sizeof md_head - 1) == 0);
    CU_ASSERT(contains(mdu,
        "### student.top1 by teacher_depth \xc3\x97 alpha (mean \xc2\xb1 std over seed)\n\n"
        "| teacher_depth \\\\ alpha | 0.5                | 0.9                |\n"
        "| :--------------------- | -----------------: | -----------------: |\n"
        "| 8                      |       65.00 \xc2\xb1 2.00 | 63.00 \xc2\xb1 1.41 (n=2) |\n"
        "| 14                     | 68.00 \xc2\xb1 2.83 (n=2) |       67.00 \xc2\xb1 2.00 |\n"
        "| 20                     |       71.00 \xc2\xb1 2.00 |                  \xe2\x80\x94 |\n")
        );
    free(md);
    free(mdu);

    /* report.yaml keeps the cells ... */
    char *y = kd_unit_slurp(path_of("sw/report.yaml"), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT(strstr(y, "{row: \"8\", col: \"0.5\", metric: student.top1, n: 3, points: 3, "
                        "mean: 65, std: 2, values: [63, 65, 67]}") != NULL);
    CU_ASSERT(strstr(y, "{row: \"20\", col: \"0.9\", metric: student.top1, n: 0, points: 3, "
                        "mean: null, std: null, values: []}") != NULL);
    CU_ASSERT(strstr(y, "dir: \"teacher_depth=8,alpha=0.9,seed=3\"\n  status: failed\n") != NULL);
    free(y);

    /* ... and prints the same tables through kdrun report */
    char *dirs[1] = { (char *)sw };
    capture out, errc;
    cap_open(&out);
    cap_open(&errc);
    CU_ASSERT_EQUAL(kd_report_cmd(1, dirs, out.f, errc.f), 0);
    char *o = strdup(cap_close(&out)), *e = cap_close(&errc);
    KD_ASSERT_STR_EQ(e, "");
    KD_ASSERT_STR_EQ(o, t);
    free(o);
    free(e);
    free(out.buf);
    free(t);
    free(term.buf);
}

static void test_sweep_small(void)
{
    /* 70, 72, 74 -> 72.00 ± 2.00; one point -> the mean alone; default
     * table (no specs): every final key; a non-numeric variable keeps its
     * first-seen order */
    static const char *const v1[] = { "lr" }, *const k1[] = { "s.top1", "s.loss" };
    static const char *const lrs[4][1] = { { "b" }, { "a" }, { "b" }, { "b" } };
    static const double f1[4][2] = { { 70, 0.5 }, { 60, 0.25 }, { 72, 0.5 }, { 74, 0.5 } };
    kd_sweep_point p[4];
    for (int i = 0; i < 4; i++)
        p[i] = (kd_sweep_point){ "pt", 1, v1, lrs[i], "ok", 2, k1, f1[i] };
    const char *sw = "sw2";
    mkdir(sw, 0777);
    kd_table_spec byl = { "lr", NULL, 0, NULL };
    char err[256];
    capture term;
    cap_open(&term);
    CU_ASSERT_EQUAL(kd_sweep_report(sw, "x.kdr", p, 4, &byl, 1, term.f, err, sizeof err), 0);
    char *t = strdup(cap_close(&term));
    KD_ASSERT_STR_EQ(t,
        "sweep sw2 (x.kdr), 4 points: 4 ok\n"
        "\n"
        "s.top1, s.loss by lr\n"
        "lr        s.top1   s.loss\n"
        "--  ------------  -------\n"
        "b   72.00 \xc2\xb1 2.00  0.5 \xc2\xb1 0\n"
        "a          60.00     0.25\n");
    free(t);
    free(term.buf);

    char *y = kd_unit_slurp("sw2/report.yaml", NULL);
    CU_ASSERT(contains(y, "{row: \"b\", col: \"s.top1\", metric: s.top1, n: 3, points: 3, "
                          "mean: 72, std: 2, values: [70, 72, 74]}"));
    CU_ASSERT(contains(y, "{row: \"a\", col: \"s.top1\", metric: s.top1, n: 1, points: 1, "
                          "mean: 60, std: null, values: [60]}"));
    free(y);

    CU_ASSERT_EQUAL(kd_sweep_report(sw, "x.kdr", p, 4, NULL, 0, NULL, err, sizeof err), 0);
    char *md = kd_unit_slurp(path_of("sw2/tables.md"), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(md);
    CU_ASSERT(contains(md, "### all points (mean \xc2\xb1 std over lr)\n\n"
                         "| metric | mean \xc2\xb1 std     |\n"
                         "| :----- | -------------: |\n"
                         "| s.top1 |   69.00 \xc2\xb1 6.22 |\n"
                         "| s.loss | 0.4375 \xc2\xb1 0.125 |\n"));
    free(md);

    /* errors: unknown variable, rows = cols, an unwritable directory;
     * nothing is written then */
    kd_table_spec bad = { "depth", NULL, 0, NULL };
    CU_ASSERT_EQUAL(kd_sweep_report(sw, "x.kdr", p, 4, &bad, 1, NULL, err, sizeof err), -1);
    char *u = strdup(err);
    KD_ASSERT_STR_EQ(u, "sw2: table 1: rows 'depth' is not a sweep variable (variables: lr)");
    free(u);
    kd_table_spec same = { "lr", "lr", 0, NULL };
    CU_ASSERT_EQUAL(kd_sweep_report(sw, "x.kdr", p, 4, &same, 1, NULL, err, sizeof err), -1);
    u = strdup(err);
    KD_ASSERT_STR_EQ(u, "sw2: table 1: rows and cols are both 'lr'");
    free(u);
    const char *nodir = "no/such";
    CU_ASSERT_EQUAL(kd_sweep_report(nodir, "x.kdr", p, 4, NULL, 0, NULL, err, sizeof err), -1);
    u = strdup(err);
    KD_ASSERT_STR_EQ(u, "cannot write no/such/tables.md: No such file or directory");
    free(u);
    /* cols only: the metrics are the rows */
    static const char *const only[] = { "s.top1" };
    kd_table_spec byc = { NULL, "lr", 1, only };
    cap_open(&term);
    CU_ASSERT_EQUAL(kd_sweep_report(sw, "x.kdr", p, 4, &byc, 1, term.f, err, sizeof err), 0);
    t = cap_close(&term);
    CU_ASSERT(contains(t, "s.top1 by lr\n"
                          "metric             b      a\n"
                          "------  ------------  -----\n"
                          "s.top1  72.00 \xc2\xb1 2.00  60.00\n"));
    free(t);

    /* a NaN result counts as missing, like a failed point */
    static const double fnan[2] = { NAN, 0.5 };
    p[2].final_values = fnan;
    cap_open(&term);
    CU_ASSERT_EQUAL(kd_sweep_report(sw, "x.kdr", p, 4, &byl, 1, term.f, err, sizeof err), 0);
    t = cap_close(&term);
    CU_ASSERT(contains(t, "\nb   72.00 \xc2\xb1 2.83 (n=2)  0.5 \xc2\xb1 0\n"));
    free(t);

    /* no points at all: tables with no rows, still readable */
    const char *sw3 = "sw3";
    mkdir(sw3, 0777);
    CU_ASSERT_EQUAL(kd_sweep_report(sw3, NULL, NULL, 0, &byl, 1, NULL, err, sizeof err), -1);
    KD_ASSERT_STR_EQ(err, "sw3: table 1: rows 'lr' is not a sweep variable (the sweep has none)");
    CU_ASSERT_EQUAL(kd_sweep_report(sw3, NULL, NULL, 0, NULL, 0, NULL, err, sizeof err), 0);
    char *dirs[1] = { (char *)sw3 };
    capture out;
    cap_open(&out);
    CU_ASSERT_EQUAL(kd_report_cmd(1, dirs, out.f, stderr), 0);
    char *o = strdup(cap_close(&out));
    KD_ASSERT_STR_EQ(o, "sweep sw3 (?), 0 points\n\nall points\nmetric  mean \xc2\xb1 std\n------  ----------\n");
    free(o);
    free(out.buf);
}

/* ---- no crash on any input ------------------------------------------------------ */

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng >> 32);
}

/* kd_report_cmd on text: 0 or 1, never a crash (ASan watches), and a
 * failure says why in exactly one line. */
static void report_on(const char *text, size_t len)
{
    mkdir("fz", 0777);
    write_file("fz/report.yaml", text, len);
    char *dirs[1] = { "fz" };
    capture out, err;
    cap_open(&out);
    cap_open(&err);
    int rc = kd_report_cmd(1, dirs, out.f, err.f);
    free(cap_close(&out));
    char *e = cap_close(&err);
    CU_ASSERT(rc == 0 || rc == 1);
    if (rc == 1) {
        CU_ASSERT(strncmp(e, "fz/report.yaml", 14) == 0);
        CU_ASSERT_EQUAL(count_of(e, "\n"), 1);
    } else {
        CU_ASSERT_EQUAL(e[0], 0);
    }
    free(e);
}

static void test_garbage(void)
{
    /* every prefix and random corruptions of a run report and of a sweep
     * report (the one test_sweep wrote) */
    char *sweep = kd_unit_slurp("sw/report.yaml", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sweep);
    const char *src[2] = { run_a, sweep };
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(src[k]);
        char *buf = malloc(len + 1);
        for (size_t cut = 0; cut <= len; cut += k ? 5 : 1)
            report_on(src[k], cut);
        static const char junk[] = "{}[],:-#&*!|>'\"%@` \n\t\x01\xff\xc3?0.nan";
        for (int round = 0; round < 400; round++) {
            memcpy(buf, src[k], len + 1);
            int flips = 1 + (int)(rnd() % 4);
            for (int f = 0; f < flips; f++)
                buf[rnd() % len] = junk[rnd() % (sizeof junk - 1)];
            report_on(buf, len);
        }
        free(buf);
    }
    free(sweep);

    /* random metric rows: random names (bytes 1..255, no NUL sometimes),
     * epochs and values; the SVG stays well-formed */
    static kd_metric_row r[64];
    static const double special[] = { NAN, INFINITY, -INFINITY, 1e308, -1e308, 5e-324, 0, -0.0 };
    for (int round = 0; round < 30; round++) {
        int n = (int)(rnd() % 64);
        for (int i = 0; i < n; i++) {
            int pl = (int)(rnd() % 65), wl = (int)(rnd() % 161);
            memset(&r[i], 0, sizeof r[i]);
            for (int c = 0; c < pl && c < 64; c++)
                r[i].phase[c] = (char)(1 + rnd() % 255);
            if (rnd() % 2) snprintf(r[i].phase, sizeof r[i].phase, "p%u", rnd() % 3);
            for (int c = 0; c < wl && c < 160; c++)
                r[i].what[c] = (char)(1 + rnd() % 255);
            if (rnd() % 2) snprintf(r[i].what, sizeof r[i].what, "%s", rnd() % 2 ? "train loss" : "m");
            r[i].epoch = (int64_t)(rnd() % 12) - 2;
            if (rnd() % 10 == 0) r[i].epoch = INT64_MAX - (int64_t)(rnd() % 3);
            r[i].value = rnd() % 4 ? (double)rnd() / 1e6 - 2000 : special[rnd() % 8];
        }
        char name[32];
        snprintf(name, sizeof name, "rand%d.svg", round);
        free(svg_of(r, n, round % 2 ? "random \xff<&" : NULL, name));
    }
}

int main(void)
{
    static const kd_unit_test tests[] = {
        KD_TEST(test_svg_curves),
        KD_TEST(test_svg_edges),
        KD_TEST(test_report_runs),
        KD_TEST(test_report_errors),
        KD_TEST(test_sweep),
        KD_TEST(test_sweep_small),
        KD_TEST(test_garbage),
        KD_TEST_END
    };
    if (kd_unit_init() != 0)
        return 2;
    if (kd_unit_suite_full("report", make_dir, remove_dir, tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return kd_unit_run();
}
