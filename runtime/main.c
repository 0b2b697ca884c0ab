/* main.c — the kdrun command line.
 *
 *   kdrun [options] recipe.kdr
 *
 * Loads a recipe and everything it `use`s, checks it, prints diagnostics,
 * and (with --check) prints the plan.  Exit codes (doc/TEAM.md, kdrun(1)):
 *   0 ok, 1 runtime failure / not available in this build, 2 usage error,
 *   3 recipe error, 4 data error.
 * This is the only place that prints to the user and calls exit.
 */
#define _XOPEN_SOURCE 700     /* realpath */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kdr.h"
#include "runtime/graph.h"
#include "runtime/op_builtins.h"
#include "runtime/train.h"
#include "runtime/exec.h"
#include "runtime/sweep.h"
#include "runtime/report.h"
#include "runtime/eval_cmd.h"
#include "runtime/recipe_copy.h"
#include "runtime/sweep_ranks.h"
#include "runtime/child_run.h"
#include "runtime/textbuf.h"
#include "runtime/world.h"
#ifdef HAVE_MPI
#include "runtime/world_mpi.h"
#endif

#ifndef KDRUN_PKGDATADIR
#define KDRUN_PKGDATADIR "/usr/local/share/kdrun"
#endif
#ifndef KDRUN_SRCDIR
#define KDRUN_SRCDIR "."
#endif
#ifndef KDRUN_BUILDDIR
#define KDRUN_BUILDDIR "."
#endif

enum {
    KD_EXIT_OK = 0,
    KD_EXIT_RUNTIME = 1,
    KD_EXIT_USAGE = 2,
    KD_EXIT_RECIPE = 3,
    KD_EXIT_DATA = 4
};

enum { KD_COLOR_AUTO, KD_COLOR_ALWAYS, KD_COLOR_NEVER };

enum { OPT_SEED = 256, OPT_COLOR, OPT_VERSION, OPT_RESUME, OPT_SYNC_BN, OPT_TEACHER_CACHE };

typedef struct kd_options {
    int check;
    int quiet;
    int color;
    long threads;           /* 0 = not given */
    int have_seed;
    long seed;
    kdr_override *ov;       /* --set, in command-line order */
    size_t nov;
    const char *recipe;
    const char *resume;     /* --resume RUN_DIR */
    kd_command cmd;         /* what the run to resume was given */
    const kd_eval_opts *eval;   /* kdrun eval (runtime/eval_cmd.c) */
    int dp;                 /* data-parallel over the MPI ranks (no sweep, N > 1) */
    int sync_bn;            /* --sync-bn: batch norm over every rank's rows */
    int64_t teacher_cache;  /* --teacher-cache: bytes; 0 = not given, -1 = off */
} kd_options;

static const char *progname = "kdrun";

static void usage_short(FILE *out)
{
    fprintf(out,
        "usage: %s [--check] [--set KEY=VALUE]... [--threads N] [--seed N]\n"
        "             [--sync-bn] [--teacher-cache SIZE] [--quiet] [--color=auto|always|never]\n"
        "             RECIPE.kdr\n"
        "       %s --resume RUN_DIR [--threads N] [--teacher-cache SIZE] [--quiet]\n"
        "       %s eval RECIPE.kdr [--model NAME=FILE]... [--on DATA.SPLIT [--metrics M,...]]\n"
        "       %s report RUN_DIR...\n"
        "       %s --help | --version\n", progname, progname, progname, progname, progname);
}

static void usage_full(FILE *out)
{
    usage_short(out);
    fprintf(out,
        "\n"
        "Run the knowledge-distillation experiment described by RECIPE.kdr.\n"
        "\n"
        "Options:\n"
        "  -c, --check            parse and check the recipe, print the plan, run nothing\n"
        "  -s, --set KEY=VALUE    override a value of the recipe (repeatable):\n"
        "                         a let or sweep name (teacher_depth=56), a setting of\n"
        "                         every phase (epochs=1) or of one (phase.NAME.epochs=1),\n"
        "                         a data setting (data.NAME.limit=2000); a KEY that\n"
        "                         matches nothing is an error\n"
        "  -t, --threads N        use N threads (N >= 1; default: all cores)\n"
        "      --seed N           default random seed of the phases that set none\n"
        "                         (to override a recipe's seeds: --set seed=N)\n"
        "      --sync-bn          under mpirun, data-parallel: batch norm statistics over\n"
        "                         the rows of every rank (default: each rank's own)\n"
        "      --teacher-cache SIZE  keep a frozen teacher's outputs per sample when\n"
        "                         its data is the same every epoch (no augmentation),\n"
        "                         up to SIZE (MiB, or with K, M, G; default 1G); off\n"
        "                         or 0: never.  The numbers are the same either way\n"
        "      --resume RUN_DIR   continue an interrupted run (or sweep) from its last\n"
        "                         saved state, with the recipe and options it was\n"
        "                         started with; it ends with the same numbers\n"
        "  -q, --quiet            print errors only, no warnings, notes or progress\n"
        "      --color[=WHEN]     color diagnostics: auto (on a terminal; default),\n"
        "                         always, never\n"
        "  -h, --help             print this help and exit\n"
        "  -V, --version          print the version and exit\n"
        "\n"
        "Commands:\n"
        "  eval RECIPE.kdr        evaluate weights without training: the report (or\n"
        "                         --on DATA.SPLIT with --metrics M,...), each model\n"
        "                         from --model NAME=FILE or its `from` in the recipe\n"
        "  report RUN_DIR...      print the final metrics of finished runs as a table\n"
        "\n"
        "Files named by `use` are searched next to the including file, then in the\n"
        "zoo directory: $KDRUN_PATH if set, else %s/recipes\n"
        "(the kdrun of the build tree %s reads its recipes/ instead).\n"
        "\n"
        "Exit status:\n"
        "  0  success\n"
        "  1  runtime failure (NaN loss, out of memory, not available in this build)\n"
        "  2  usage error (bad option or value, no recipe)\n"
        "  3  recipe error (file not found, syntax, names, types, a --set KEY\n"
        "     that matches nothing)\n"
        "  4  data error (missing or malformed data set or weights file)\n"
        "  130  interrupted (SIGINT); continue with --resume\n"
        "\n"
        "See kdrun(1) and kdr(5).\n",
        KDRUN_PKGDATADIR, KDRUN_BUILDDIR);
}

/* Print "kdrun: MESSAGE" and the short usage to stderr; return 2. */
static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", progname);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    usage_short(stderr);
    fprintf(stderr, "Try '%s --help' for more information.\n", progname);
    return KD_EXIT_USAGE;
}

/* Parse a decimal integer in [lo, hi]; 0 on success. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* --teacher-cache: "off" or "0" -> -1; N (MiB), or N with K, M, G (and
 * an optional "iB" or "B") -> bytes */
static int parse_size(const char *s, int64_t *out)
{
    if (strcmp(s, "off") == 0) { *out = -1; return 0; }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0 || s[0] == '-') return -1;
    int shift = 20;
    const char *u = strchr("kKmMgG", *end);
    if (*end && u) {
        shift = (int)(u - "kKmMgG") / 2 * 10 + 10;
        end++;
        if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0) end += strlen(end);
    }
    if (*end != '\0' || v > (INT64_MAX >> shift)) return -1;
    *out = v == 0 ? -1 : (int64_t)v << shift;
    return 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return path && *path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The directory searched by `use` after the including file's directory:
 * $KDRUN_PATH if set, else the installed zoo, else the build tree's recipes/.
 * Returns a malloc'd string, or NULL if none exists. */
static char *find_zoo_dir(int quiet)
{
    const char *env = getenv("KDRUN_PATH");
    if (env && *env) {
        if (is_dir(env))
            return strdup(env);
        if (!quiet)
            fprintf(stderr, "%s: warning: KDRUN_PATH=%s is not a directory; "
                    "ignoring it\n", progname, env);
    }
    /* the kdrun of a build tree reads that tree's zoo; any other (installed)
     * kdrun its installed data directory, never a build tree's */
    char exe[PATH_MAX], bd[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    int in_build = 0;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        in_build = realpath(KDRUN_BUILDDIR, bd) && strcmp(bd, exe) == 0;
    }
    const char *dir = in_build ? KDRUN_SRCDIR "/recipes" : KDRUN_PKGDATADIR "/recipes";
    if (is_dir(dir))
        return strdup(dir);
    if (!quiet)
        fprintf(stderr, "%s: warning: no zoo: %s is not a directory (set KDRUN_PATH)\n", progname, dir);
    return NULL;
}

static int want_color(int mode)
{
    if (mode == KD_COLOR_ALWAYS)
        return 1;
    if (mode == KD_COLOR_NEVER)
        return 0;
    const char *term = getenv("TERM");
    const char *no_color = getenv("NO_COLOR");
    if (no_color && *no_color)
        return 0;
    return isatty(fileno(stderr)) && term && strcmp(term, "dumb") != 0;
}

/* Print diagnostics; with quiet, only errors and the notes that follow
 * them. */
static void print_diags(const kdr_diag *d, int quiet, int color)
{
    if (!quiet) {
        kdr_diag_print(d, stderr, color);
        return;
    }
    kdr_diag only = *d;
    only.msgs = malloc((d->count ? d->count : 1) * sizeof *only.msgs);
    if (!only.msgs) {
        kdr_diag_print(d, stderr, color);
        return;
    }
    only.count = 0;
    int keep_notes = 0;
    for (size_t i = 0; i < d->count; i++) {
        const kdr_diag_msg *m = &d->msgs[i];
        if (m->sev == KDR_ERROR)
            keep_notes = 1;
        else if (m->sev == KDR_WARNING)
            keep_notes = 0;
        if (m->sev == KDR_ERROR || (m->sev == KDR_NOTE && keep_notes))
            only.msgs[only.count++] = *m;
    }
    only.cap = only.count;
    kdr_diag_print(&only, stderr, color);
    free(only.msgs);   /* the texts belong to d */
}

static int add_override(kd_options *o, const char *key, const char *value)
{
    kdr_override *nov = realloc(o->ov, (o->nov + 1) * sizeof *nov);
    if (!nov)
        return -1;
    o->ov = nov;
    o->ov[o->nov++] = (kdr_override){ .key = key, .value = value, .used = 0 };
    return 0;
}

/* Parse the command line.  Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, kd_options *o)
{
    static const struct option longopts[] = {
        { "check",   no_argument,       NULL, 'c' },
        { "set",     required_argument, NULL, 's' },
        { "threads", required_argument, NULL, 't' },
        { "seed",    required_argument, NULL, OPT_SEED },
        { "quiet",   no_argument,       NULL, 'q' },
        { "color",   optional_argument, NULL, OPT_COLOR },
        { "colour",  optional_argument, NULL, OPT_COLOR },
        { "help",    no_argument,       NULL, 'h' },
        { "version", no_argument,       NULL, 'V' },
        { "resume",  required_argument, NULL, OPT_RESUME },
        { "sync-bn", no_argument,       NULL, OPT_SYNC_BN },
        { "teacher-cache", required_argument, NULL, OPT_TEACHER_CACHE },
        { NULL, 0, NULL, 0 }
    };
    opterr = 0;     /* we print our own messages */
    int c;
    while ((c = getopt_long(argc, argv, ":cs:t:qhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            o->check = 1;
            break;
        case 's': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg)
                return usage_error("--set %s: expected KEY=VALUE", optarg);
            if (strpbrk(optarg, "\t\n\r"))   /* the command file could not replay it */
                return usage_error("--set: a tab or a newline in '%s'", optarg);
            *eq = '\0';     /* argv strings are writable and outlive main */
            if (add_override(o, optarg, eq + 1) != 0) {
                fprintf(stderr, "%s: out of memory\n", progname);
                return KD_EXIT_RUNTIME;
            }
            break;
        }
        case 't':
            if (parse_long(optarg, 1, 4096, &o->threads) != 0)
                return usage_error("--threads %s: expected a whole number "
                                   "from 1 to 4096", optarg);
            break;
        case OPT_SEED:
            if (parse_long(optarg, 0, LONG_MAX, &o->seed) != 0)
                return usage_error("--seed %s: expected a whole number >= 0",
                                   optarg);
            o->have_seed = 1;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case OPT_RESUME:
            o->resume = optarg;
            break;
        case OPT_SYNC_BN:
            o->sync_bn = 1;
            break;
        case OPT_TEACHER_CACHE:
            if (parse_size(optarg, &o->teacher_cache) != 0)
                return usage_error("--teacher-cache %s: expected a size in MiB (a whole number, "
                                   "or with K, M or G), or off", optarg);
            break;
        case OPT_COLOR:
            if (!optarg || strcmp(optarg, "always") == 0)
                o->color = KD_COLOR_ALWAYS;
            else if (strcmp(optarg, "never") == 0)
                o->color = KD_COLOR_NEVER;
            else if (strcmp(optarg, "auto") == 0)
                o->color = KD_COLOR_AUTO;
            else
                return usage_error("--color=%s: expected auto, always or never",
                                   optarg);
            break;
        case 'h':
            usage_full(stdout);
            return fflush(stdout) == 0 ? KD_EXIT_OK : KD_EXIT_RUNTIME;
        case 'V':
            printf("kdrun %s\n", PACKAGE_VERSION);
            return fflush(stdout) == 0 ? KD_EXIT_OK : KD_EXIT_RUNTIME;
        case ':': {
            const char *opt = argv[optind - 1];
            return usage_error("option '%s' needs a value", opt);
        }
        default: {
            const char *opt = argv[optind - 1];
            if (optopt && optopt < 256) {
                static char shortopt[3] = "-?";
                shortopt[1] = (char)optopt;
                opt = shortopt;
            }
            return usage_error("unknown option '%s'", opt);
        }
        }
    }
    if (o->resume) {
        if (strlen(o->resume) > KD_RUN_DIR_MAX)
            return usage_error("--resume %s: the path is longer than a run directory's may be", o->resume);
        if (optind < argc)
            return usage_error("--resume takes the recipe from the run directory; "
                               "drop '%s'", argv[optind]);
        if (o->nov || o->have_seed || o->check || o->sync_bn)
            return usage_error("%s", "--resume replays the run's own --set and --seed; "
                               "give only --resume RUN_DIR [--threads N] [--teacher-cache SIZE] [--quiet]");
        return -1;
    }
    if (optind >= argc)
        return usage_error("%s", "no recipe given");
    if (argc - optind > 1)
        return usage_error("more than one recipe given ('%s' ...); "
                           "run one recipe at a time", argv[optind + 1]);
    o->recipe = argv[optind];
    return -1;
}

/* Load the recipe, check it with the command line's overrides and `extra`
 * (a sweep point's values), compile every model (shape errors are recipe
 * errors, located); print the diagnostics.  NULL with *status set if it
 * cannot run.  *shapes (may be NULL) gets the per-model shape report. */
static kdr_program *load_program(kd_options *o, const char *zoo, const kdr_override *extra,
                                 size_t nextra, int color, char **shapes, int *status)
{
    kdr_diag diag;
    kdr_diag_init(&diag);
    kdr_program *prog = kdr_program_load(o->recipe, zoo, &diag);
    if (!prog) {
        print_diags(&diag, o->quiet, color);
        if (diag.errors == 0) {
            fprintf(stderr, "%s: %s: out of memory\n", progname, o->recipe);
            *status = KD_EXIT_RUNTIME;
        } else {
            *status = KD_EXIT_RECIPE;
        }
        kdr_diag_free(&diag);
        return NULL;
    }
    size_t nall = o->nov + nextra;
    kdr_override *all = malloc((nall ? nall : 1) * sizeof *all);
    if (!all) {
        fprintf(stderr, "%s: out of memory\n", progname);
        *status = KD_EXIT_RUNTIME;
        kdr_program_free(prog);
        kdr_diag_free(&diag);
        return NULL;
    }
    for (size_t i = 0; i < o->nov; i++) {
        all[i] = o->ov[i];
        all[i].used = 0;
    }
    for (size_t i = 0; i < nextra; i++) all[o->nov + i] = extra[i];
    if (diag.errors == 0) {
        int rc = kdr_check(prog, all, nall, &diag);
        if (rc != 0 && diag.errors == 0)
            kdr_diag_push(&diag, KDR_ERROR, NULL, 0, 0,
                          "%s: the recipe did not pass its checks", o->recipe);
    }
    /* Every --set must have matched something.  kdr_check reports it; this
     * is the safety net (only once the recipe is otherwise correct: a failed
     * check may stop before applying the overrides). */
    if (diag.errors == 0)
        for (size_t i = 0; i < nall; i++)
            if (!all[i].used)
                kdr_diag_push(&diag, KDR_ERROR, NULL, 0, 0,
                              "--set key '%s' matches nothing", all[i].key);
    free(all);
    char *sh = NULL;
    size_t sh_len = 0;
    if (diag.errors == 0) {
        FILE *sf = open_memstream(&sh, &sh_len);
        if (sf) {
            kd_check_models(prog, sf, &diag);
            fclose(sf);
        }
    }
    print_diags(&diag, o->quiet, color);
    int bad = diag.errors != 0;
    kdr_diag_free(&diag);
    if (bad) {
        free(sh);
        kdr_program_free(prog);
        *status = KD_EXIT_RECIPE;
        return NULL;
    }
    if (shapes) *shapes = sh;
    else free(sh);
    return prog;
}

/* Every point of a sweep passes the checks (--check, and a run before it
 * makes its directory): a point that cannot run is refused before the
 * points before it train.  0, or -1 with *status set. */
static int check_points(kd_options *o, const char *zoo, const kdr_program *prog, int color, int *status)
{
    kd_sweep sw;
    kdr_diag sd;
    kdr_diag_init(&sd);
    int rc = 0;
    memset(&sw, 0, sizeof sw);
    if (kd_sweep_collect(prog, &sw, &sd) == 0 && sw.nvars > 0) {
        kd_options q = *o;
        q.quiet = 1;                       /* the base program's warnings were given */
        kdr_override ov[KD_SWEEP_MAXVARS];
        int idx[KD_SWEEP_MAXVARS];
        for (int64_t i = 0; i < sw.npoints && !rc; i++) {
            kd_sweep_indices(&sw, i, idx);
            for (int v = 0; v < sw.nvars; v++)
                ov[v] = (kdr_override){ .key = sw.vars[v].name, .value = sw.vars[v].values[idx[v]] };
            kdr_program *pp = load_program(&q, zoo, ov, (size_t)sw.nvars, color, NULL, status);
            if (!pp) {
                char name[400];
                kd_sweep_point_name(&sw, i, name, sizeof name);
                fprintf(stderr, "%s: sweep point %s does not pass its checks\n", progname, name);
                rc = -1;
            }
            kdr_program_free(pp);
        }
    }
    kd_sweep_free(&sw);
    kdr_diag_free(&sd);   /* kd_sweep_collect's own errors are reported by the caller */
    return rc;
}

/* Run one program in dir; print its diagnostics. */
static int run_one(kd_options *o, const kdr_program *prog, const char *dir, const kd_sweep *sw,
                   int64_t point, kd_run_result *res, int color)
{
    const char *vars[KD_SWEEP_MAXVARS], *vals[KD_SWEEP_MAXVARS];
    int idx[KD_SWEEP_MAXVARS];
    int nsweep = 0;
    if (sw && sw->nvars) {
        kd_sweep_indices(sw, point, idx);
        for (int v = 0; v < sw->nvars; v++) {
            vars[v] = sw->vars[v].name;
            vals[v] = sw->vars[v].labels[idx[v]];
        }
        nsweep = sw->nvars;
    }
    kd_run_opts ro = {
        .recipe = o->recipe == o->cmd.recipe_abs && o->cmd.recipe ? o->cmd.recipe : o->recipe,
        .run_dir = dir,
        .resume = o->resume != NULL,
        .nsweep = nsweep,
        .sweep_vars = vars,
        .sweep_values = vals,
        .result = res,
        .nthreads = o->threads > 0 ? (int)o->threads : 1,
        .seed = o->have_seed ? (int64_t)o->seed : -1,
        .quiet = o->quiet,
        .progress = !o->quiet && isatty(fileno(stderr)),
        .eval = o->eval,
        .dp = o->dp,
        .sync_bn = o->sync_bn,
        .teacher_cache = o->teacher_cache,
    };
    kdr_diag rd;
    kdr_diag_init(&rd);
    int status = kd_run(prog, &ro, &rd);
    print_diags(&rd, o->quiet, color);
    kdr_diag_free(&rd);
    return status;
}

/* The report's `table` statements of a program. */
static int table_specs(const kdr_program *p, kd_table_spec **out)
{
    int n = 0, cap = 0;
    kd_table_spec *sp = NULL;
    for (size_t u = 0; u < p->nunits; u++) {
        if (!p->units[u]->root) continue;
        for (const kdr_node *t = p->units[u]->root->kids; t; t = t->next) {
            if (t->kind != KDR_REPORT) continue;
            for (const kdr_node *s = t->kids; s; s = s->next) {
                if (s->kind != KDR_SETTING || s->setting != KDR_S_TABLE) continue;
                if (n == cap) {
                    cap = cap ? 2 * cap : 4;
                    kd_table_spec *ns = realloc(sp, (size_t)cap * sizeof *ns);
                    if (!ns) { free(sp); return -1; }
                    sp = ns;
                }
                int nv = 0;
                for (const kdr_node *v = s->kids; v; v = v->next) nv++;
                const char **vals = calloc((size_t)(nv ? nv : 1), sizeof *vals);
                if (!vals) { free(sp); return -1; }
                nv = 0;
                for (const kdr_node *v = s->kids; v; v = v->next) {
                    /* model.metric: the final key */
                    if (v->kind == KDR_MEMBER && v->a && v->a->kind == KDR_IDENT) {
                        size_t l = strlen(v->a->name) + strlen(v->name) + 2;
                        char *k = malloc(l);
                        if (k) snprintf(k, l, "%s.%s", v->a->name, v->name);
                        if (k) vals[nv++] = k;
                    }
                }
                sp[n++] = (kd_table_spec){ .rows = s->extra, .cols = s->name, .nvalues = nv, .values = vals };
            }
        }
    }
    *out = sp;
    return n;
}

static void table_specs_free(kd_table_spec *sp, int n)
{
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < sp[i].nvalues; k++) free((void *)sp[i].values[k]);
        free((void *)sp[i].values);
    }
    free(sp);
}

typedef struct point_result {
    char dir[400];
    const char *values[KD_SWEEP_MAXVARS];
    const char *status;
    kd_run_result res;
    const char *keys[KD_RUN_MAX_FINAL];
} point_result;

/* MPI: every rank's point lines to rank 0, which refills pr (in point
 * order, the points of every rank) and *done.  Returns 1 on the other
 * ranks (they write no tables), 0 on rank 0; *status becomes the worst
 * point's status over all ranks. */
static int gather_points(const kd_sweep *sw, const char *dir, kd_strbuf *mine, point_result *pr,
                         int64_t *done, int *status)
{
    char *all = NULL;
    if (mine->oom || kd_world_gather_text(mine->s ? mine->s : "", &all) != 0) {
        fprintf(stderr, "%s: rank %d: out of memory\n", progname, kd_world_rank());
        *status = KD_EXIT_RUNTIME;
        return 1;
    }
    if (kd_world_rank() != 0) return 1;
    int *st = calloc((size_t)sw->npoints, sizeof *st);
    kd_run_result *res = calloc((size_t)sw->npoints, sizeof *res);
    unsigned char *seen = calloc((size_t)sw->npoints, 1);
    char err[200];
    if (!st || !res || !seen || kd_point_decode(all, sw->npoints, st, res, seen, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", progname, st && res && seen ? err : "out of memory");
        *status = KD_EXIT_RUNTIME;
    } else {
        *done = 0;
        for (int64_t i = 0; i < sw->npoints; i++) {
            if (!seen[i]) continue;
            point_result *q = &pr[(*done)++];
            int idx[KD_SWEEP_MAXVARS];
            kd_sweep_indices(sw, i, idx);
            kd_sweep_point_name(sw, i, q->dir, sizeof q->dir);
            for (int v = 0; v < sw->nvars; v++) q->values[v] = sw->vars[v].labels[idx[v]];
            q->res = res[i];
            q->status = st[i] == KD_EXIT_OK ? "ok" : st[i] == KD_RUN_INTERRUPTED ? "interrupted" : "failed";
            for (int k = 0; k < q->res.nfinal; k++) q->keys[k] = q->res.keys[k];
            if (st[i] != KD_EXIT_OK && (*status == KD_EXIT_OK || st[i] == KD_RUN_INTERRUPTED)) *status = st[i];
        }
        if (*done < sw->npoints && *status == KD_EXIT_OK) *status = KD_RUN_INTERRUPTED;
        if (*done < sw->npoints)
            fprintf(stderr, "%s: %lld of %lld sweep points ran; kdrun --resume %s runs the others\n",
                    progname, (long long)*done, (long long)sw->npoints, dir);
    }
    free(st);
    free(res);
    free(seen);
    free(all);
    return 0;
}

/* One sweep point in a child process (MPI ranks): the program with the
 * point's values, its run, its result line for rank 0. */
typedef struct point_job {
    kd_options *o;
    const char *zoo;
    const kd_sweep *sw;
    const kdr_override *ov;
    const char *sub;
    int64_t i;
    int color;
} point_job;

static int point_in_child(void *arg, kd_strbuf *text)
{
    point_job *j = arg;
    int status = KD_EXIT_OK;
    kd_run_result res;
    memset(&res, 0, sizeof res);
    kdr_program *p = load_program(j->o, j->zoo, j->ov, (size_t)j->sw->nvars, j->color, NULL, &status);
    if (p) {
        status = run_one(j->o, p, j->sub, j->sw, j->i, &res, j->color);
        kdr_program_free(p);
    }
    kd_point_encode(text, j->i, status, &res);
    return status;
}

/* Every point of the grid as a sub-run of dir; then the sweep's tables. */
static int run_sweep(kd_options *o, const char *zoo, const kd_sweep *sw, const char *dir,
                     const kdr_program *prog, int color)
{
    int status = KD_EXIT_OK;
    kdr_override ov[KD_SWEEP_MAXVARS];
    point_result *pr = calloc((size_t)sw->npoints, sizeof *pr);
    if (!pr) {
        fprintf(stderr, "%s: out of memory\n", progname);
        return KD_EXIT_RUNTIME;
    }
    int64_t done = 0;
    /* With MPI, each rank runs its own points (world.h) and goes on past a
     * failed one; rank 0 then collects every point's result (below). */
    int ranks = kd_world_size(), worst = KD_EXIT_OK;
    kd_strbuf mine = { 0 };
    for (int64_t i = 0; i < sw->npoints && status == KD_EXIT_OK; i++) {
        if (!kd_world_owns(i)) continue;
        char name[400], sub[1600];
        int idx[KD_SWEEP_MAXVARS];
        kd_sweep_indices(sw, i, idx);
        kd_sweep_point_name(sw, i, name, sizeof name);
        snprintf(sub, sizeof sub, "%s/%s", dir, name);
        for (int v = 0; v < sw->nvars; v++)
            ov[v] = (kdr_override){ .key = sw->vars[v].name, .value = sw->vars[v].values[idx[v]] };
        if (!o->quiet) {   /* one write: the ranks' lines must not interleave */
            char who[32] = "";
            if (ranks > 1) snprintf(who, sizeof who, "rank %d: ", kd_world_rank());
            fprintf(stderr, "%ssweep point %lld/%lld: %s\n", who, (long long)i + 1, (long long)sw->npoints, name);
        }
        point_result *q = &pr[done++];
        snprintf(q->dir, sizeof q->dir, "%s", name);
        for (int v = 0; v < sw->nvars; v++) q->values[v] = sw->vars[v].labels[idx[v]];
        int loaded = 1;
        if (ranks > 1) {
            /* the point in a child process: its death fails this point
             * alone (rank 0 gets the points' results from mine) */
            point_job job = { o, zoo, sw, ov, sub, i, color };
            int sig = 0;
            size_t had = mine.n;
            status = kd_child_run(point_in_child, &job, &mine, &sig);
            if (status == KD_CHILD_STOPPED) {
                /* this rank was told to stop (mpirun passes on SIGINT/SIGTERM):
                 * the point saved what it could; the sweep stops here */
                status = KD_RUN_INTERRUPTED;
                kd_run_result none;
                memset(&none, 0, sizeof none);
                mine.n = had;                 /* the point's own line, if any, is replaced */
                if (mine.s) mine.s[had] = 0;
                kd_point_encode(&mine, i, status, &none);
            } else if (status < 0) {
                if (sig) fprintf(stderr, "%s: rank %d: sweep point %s was killed (signal %d: %s)\n", progname,
                                 kd_world_rank(), name, sig, strsignal(sig));
                else fprintf(stderr, "%s: rank %d: cannot start sweep point %s: %s\n", progname,
                             kd_world_rank(), name, strerror(errno));
                status = KD_EXIT_RUNTIME;
                kd_run_result none;
                memset(&none, 0, sizeof none);
                kd_point_encode(&mine, i, status, &none);
            }
        } else {
            kdr_program *pp = load_program(o, zoo, ov, (size_t)sw->nvars, color, NULL, &status);
            loaded = pp != NULL;
            if (pp) {
                status = run_one(o, pp, sub, sw, i, &q->res, color);
                kdr_program_free(pp);
            }
        }
        q->status = status == KD_EXIT_OK ? "ok" : status == KD_RUN_INTERRUPTED ? "interrupted" : "failed";
        for (int k = 0; k < q->res.nfinal; k++) q->keys[k] = q->res.keys[k];
        if (status != KD_EXIT_OK && ranks > 1 && status != KD_RUN_INTERRUPTED) {
            fprintf(stderr, "%s: rank %d: sweep point %s failed; this rank goes on with its other points "
                    "(kdrun --resume %s reruns it)\n", progname, kd_world_rank(), name, dir);
            if (worst == KD_EXIT_OK) worst = status;
            status = KD_EXIT_OK;
        } else if (status != KD_EXIT_OK) {
            if (!loaded) { done--; break; }
            fprintf(stderr, "%s: sweep point %s %s; the sweep stops here "
                    "(kdrun --resume %s continues it)\n", progname, name,
                    status == KD_RUN_INTERRUPTED ? "was interrupted" : "failed", dir);
        }
    }
    if (status == KD_EXIT_OK) status = worst;
    if (ranks > 1 && gather_points(sw, dir, &mine, pr, &done, &status) != 0) {
        kd_sb_free(&mine);
        free(pr);
        return status;      /* a rank other than 0: rank 0 writes the tables */
    }
    kd_sb_free(&mine);
    /* the tables over the points run so far */
    const char *vars[KD_SWEEP_MAXVARS];
    for (int v = 0; v < sw->nvars; v++) vars[v] = sw->vars[v].name;
    kd_sweep_point *pts = calloc((size_t)(done ? done : 1), sizeof *pts);
    kd_table_spec *specs = NULL;
    int nspecs = table_specs(prog, &specs);
    if (pts && nspecs >= 0) {
        for (int64_t i = 0; i < done; i++)
            pts[i] = (kd_sweep_point){ .dir = pr[i].dir, .nvars = sw->nvars, .vars = vars,
                                       .values = pr[i].values, .status = pr[i].status,
                                       .nfinal = pr[i].res.nfinal, .final_keys = pr[i].keys,
                                       .final_values = pr[i].res.values };
        char err[1200] = "";
        if (kd_sweep_report(dir, o->cmd.recipe ? o->cmd.recipe : o->recipe, pts, (int)done, specs, nspecs,
                            stdout, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", progname, err);
            if (status == KD_EXIT_OK) status = KD_EXIT_RUNTIME;
        }
        fflush(stdout);
    } else {
        fprintf(stderr, "%s: out of memory\n", progname);
        if (status == KD_EXIT_OK) status = KD_EXIT_RUNTIME;
    }
    if (nspecs > 0) table_specs_free(specs, nspecs);
    free(pts);
    free(pr);
    return status;
}

static char *abs_path(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : strdup(path);
}

int main(int argc, char **argv)
{
    /* Before OpenBLAS initializes: pick its fastest correct kernels (may
     * re-execute this program with OPENBLAS_CORETYPE set). */
    kd_blas_tune(argc, argv);
    if (argc >= 2 && strcmp(argv[1], "report") == 0) {
        /* kdrun report RUN_DIR...: the final metrics of finished runs */
        if (argc < 3 || (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))) {
            fprintf(argc < 3 ? stderr : stdout, "usage: %s report RUN_DIR...\n", progname);
            return argc < 3 ? KD_EXIT_USAGE : KD_EXIT_OK;
        }
        int rc = kd_report_cmd(argc - 2, argv + 2, stdout, stderr);
        if (fflush(stdout) != 0) rc = 1;
        return rc ? KD_EXIT_RUNTIME : KD_EXIT_OK;
    }
    /* the recipe language's op builtins come from the op registry */
    if (kd_op_builtins_register() != 0) {
        fprintf(stderr, "%s: out of memory\n", progname);
        return KD_EXIT_RUNTIME;
    }
#ifdef HAVE_MPI
    /* a rank of an MPI job (mpirun, srun): sweeps are spread over the ranks */
    if (kd_world_mpi_start(&argc, &argv) < 0) {
        fprintf(stderr, "%s: MPI_Init failed\n", progname);
        return KD_EXIT_RUNTIME;
    }
    atexit(kd_world_mpi_stop);
#endif
    kd_options o = { .color = KD_COLOR_AUTO };
    kd_eval_opts ev;
    if (argc >= 2 && strcmp(argv[1], "eval") == 0) {
        char err[600];
        if (kd_eval_args(&argc, argv, &ev, err, sizeof err) >= 0) return usage_error("eval: %s", err);
        o.eval = &ev;
    }
    kdr_program *prog = NULL;
    char *zoo = NULL;
    kd_sweep sw;
    memset(&sw, 0, sizeof sw);
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        goto out_opts;
    int color = want_color(o.color);

    if (o.eval && o.resume) {
        status = usage_error("%s", "eval: --resume continues a training run; kdrun eval starts none");
        goto out_opts;
    }
    if (o.resume) {
        char err[1200];
        if (kd_command_read(o.resume, &o.cmd, err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", progname, err);
            status = KD_EXIT_USAGE;
            goto out_opts;
        }
        o.recipe = o.cmd.recipe_abs;
        for (int i = 0; i < o.cmd.nset; i++)
            if (add_override(&o, o.cmd.keys[i], o.cmd.values[i]) != 0) {
                fprintf(stderr, "%s: out of memory\n", progname);
                status = KD_EXIT_RUNTIME;
                goto out_opts;
            }
        o.have_seed = o.cmd.have_seed;
        o.sync_bn = o.cmd.sync_bn;
        o.seed = o.cmd.seed;
        if (o.threads > 0 && o.threads != o.cmd.threads && !o.quiet)
            fprintf(stderr, "%s: warning: the run used %ld threads and now %ld: "
                    "its numbers may differ from an uninterrupted run\n", progname,
                    o.cmd.threads, o.threads);
        if (o.threads <= 0)
            o.threads = o.cmd.threads;
    }

    if (o.threads <= 0) o.threads = kd_default_threads();
#ifdef _OPENMP
    if (o.threads > 0)
        omp_set_num_threads((int)o.threads);
#endif
    zoo = find_zoo_dir(o.quiet);

    char *shapes = NULL;
    prog = load_program(&o, zoo, NULL, 0, color, &shapes, &status);
    if (!prog)
        goto out;

    if (!o.resume && check_points(&o, zoo, prog, color, &status)) {
        free(shapes);
        goto out;
    }
    if (o.check && kd_world_rank() != 0) {   /* rank 0 prints the plan */
        free(shapes);
        status = KD_EXIT_OK;
        goto out;
    }
    if (o.check) {
        kdr_program_print_plan(prog, stdout);
        if (shapes && *shapes) {
            fputc('\n', stdout);
            fputs(shapes, stdout);
        }
        free(shapes);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "%s: cannot write the plan: %s\n", progname,
                    strerror(errno));
            status = KD_EXIT_RUNTIME;
        } else {
            status = KD_EXIT_OK;
        }
        goto out;
    }
    free(shapes);

    char hash[65];
    kd_recipe_hash(prog, hash);
    if (o.resume && o.cmd.hash && strcmp(o.cmd.hash, hash) != 0) {
        char what[600];   /* comments and layout do not count: the canonical forms (recipe_copy.c) */
        int same = kd_recipe_same_meaning(o.resume, prog, what, sizeof what);
        if (same != 0) {
            fprintf(stderr, "%s: %s (or a file it uses) changed since the run in %s started; "
                    "resuming would not give that run's numbers: start a new run%s%s\n",
                    progname, o.recipe, o.resume, same > 0 ? "\n  " : "", same > 0 ? what : "");
            status = KD_EXIT_RECIPE;
            goto out;
        }
        if (!o.quiet)
            fprintf(stderr, "%s: note: %s changed in comments or layout only since the run started\n",
                    progname, o.recipe);
    }
    {
        kdr_diag sd;
        kdr_diag_init(&sd);
        int bad = kd_sweep_collect(prog, &sw, &sd) != 0;
        print_diags(&sd, o.quiet, color);
        kdr_diag_free(&sd);
        if (bad) {
            status = KD_EXIT_RECIPE;
            goto out;
        }
    }
    if (sw.nvars && o.eval) {
        status = usage_error("%s", "eval: the recipe is a sweep; pick one point with --set VAR=VALUE");
        goto out;
    }

    char dir[1200];
    if (o.resume) {
        snprintf(dir, sizeof dir, "%s", o.resume);
    } else if (kd_world_rank() != 0) {
        /* rank 0 makes the run directory (below) and tells the others */
        char *d = NULL;
        if (kd_world_bcast_text(&d) != 0 || !d || !*d) {
            free(d);
            status = KD_EXIT_RUNTIME;      /* rank 0 said why */
            goto out;
        }
        snprintf(dir, sizeof dir, "%s", d);
        free(d);
    } else {
        const char *runs = getenv("KDRUN_RUNS") && *getenv("KDRUN_RUNS") ? getenv("KDRUN_RUNS") : "runs";
        char err[1400];
        char *ra = abs_path(o.recipe);
        kd_command c = { .recipe = (char *)o.recipe, .recipe_abs = ra, .hash = hash,
                         .have_seed = o.have_seed, .seed = o.seed, .threads = o.threads,
                         .sync_bn = o.sync_bn };
        char **keys = calloc(o.nov + 1, sizeof *keys), **vals = calloc(o.nov + 1, sizeof *vals);
        for (size_t i = 0; keys && vals && i < o.nov; i++) {
            keys[i] = (char *)o.ov[i].key;
            vals[i] = (char *)o.ov[i].value;
        }
        c.nset = (int)o.nov;
        c.keys = keys;
        c.values = vals;
        int bad = !keys || !vals || !ra ||
                  kd_make_run_dir(runs, o.recipe, dir, sizeof dir, err, sizeof err) != 0 ||
                  kd_command_write(dir, &c, err, sizeof err) != 0 ||
                  kd_copy_recipe(dir, prog, err, sizeof err) != 0;
        if (!keys || !vals || !ra) snprintf(err, sizeof err, "out of memory");
        free(keys);
        free(vals);
        free(ra);
        if (bad) {
            fprintf(stderr, "%s: %s\n", progname, err);
            status = KD_EXIT_RUNTIME;
        }
        if (kd_world_size() > 1) {
            char *d = bad ? NULL : dir;
            kd_world_bcast_text(&d);       /* "" tells the other ranks to stop */
        }
        if (bad) goto out;
    }
    if (sw.nvars == 0 && kd_world_size() > 1) {
        /* one run, several ranks: data-parallel training (runtime/dp.h);
         * rank 0 alone reports */
        o.dp = 1;
        if (kd_world_rank() != 0) o.quiet = 1;
        else if (!o.quiet)
            fprintf(stderr, "%s: data-parallel over %d ranks: each takes 1/%d of every batch\n",
                    progname, kd_world_size(), kd_world_size());
    }
    if (sw.nvars == 0) {
        status = run_one(&o, prog, dir, NULL, 0, NULL, color);
        if (o.dp && status != KD_EXIT_OK && status != KD_RUN_INTERRUPTED && status != KD_RUN_RECIPE) {
            /* A failure the ranks may not share (a write on rank 0, a
             * lock): the others could wait for this rank forever in the
             * next gradient sum.  Interrupts are agreed on; recipe errors
             * come from the plan, the same on every rank. */
            fprintf(stderr, "%s: rank %d failed (exit %d): stopping all %d ranks\n", progname,
                    kd_world_rank(), status, kd_world_size());
            kd_world_abort(status);
        }
    } else {
        if (!o.quiet)
            fprintf(stderr, "sweep: %lld runs in %s\n", (long long)sw.npoints, dir);
        status = run_sweep(&o, zoo, &sw, dir, prog, color);
    }

out:
    kd_sweep_free(&sw);
    if (prog)
        kdr_program_free(prog);
    free(zoo);
out_opts:
    free(o.ov);
    kd_command_free(&o.cmd);
    return status;
}
