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
#include "runtime/train.h"
#include "runtime/exec.h"

#ifndef KDRUN_PKGDATADIR
#define KDRUN_PKGDATADIR "/usr/local/share/kdrun"
#endif
#ifndef KDRUN_SRCDIR
#define KDRUN_SRCDIR "."
#endif

enum {
    KD_EXIT_OK = 0,
    KD_EXIT_RUNTIME = 1,
    KD_EXIT_USAGE = 2,
    KD_EXIT_RECIPE = 3,
    KD_EXIT_DATA = 4
};

enum { KD_COLOR_AUTO, KD_COLOR_ALWAYS, KD_COLOR_NEVER };

enum { OPT_SEED = 256, OPT_COLOR, OPT_VERSION };

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
} kd_options;

static const char *progname = "kdrun";

static void usage_short(FILE *out)
{
    fprintf(out,
        "usage: %s [--check] [--set KEY=VALUE]... [--threads N] [--seed N]\n"
        "             [--quiet] [--color=auto|always|never] RECIPE.kdr\n"
        "       %s --help | --version\n", progname, progname);
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
        "  -q, --quiet            print errors only, no warnings, notes or progress\n"
        "      --color[=WHEN]     color diagnostics: auto (on a terminal; default),\n"
        "                         always, never\n"
        "  -h, --help             print this help and exit\n"
        "  -V, --version          print the version and exit\n"
        "\n"
        "Files named by `use` are searched next to the including file, then in the\n"
        "zoo directory: $KDRUN_PATH if set, else %s/recipes,\n"
        "else %s/recipes (the build tree).\n"
        "\n"
        "Exit status:\n"
        "  0  success\n"
        "  1  runtime failure (NaN loss, out of memory, not available in this build)\n"
        "  2  usage error (bad option or value, no recipe)\n"
        "  3  recipe error (file not found, syntax, names, types, a --set KEY\n"
        "     that matches nothing)\n"
        "  4  data error (missing or malformed data set)\n"
        "\n"
        "See kdrun(1) and kdr(5).\n",
        KDRUN_PKGDATADIR, KDRUN_SRCDIR);
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
    static const char *const dirs[] = {
        KDRUN_PKGDATADIR "/recipes",
        KDRUN_SRCDIR "/recipes",
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (is_dir(dirs[i]))
            return strdup(dirs[i]);
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
    if (optind >= argc)
        return usage_error("%s", "no recipe given");
    if (argc - optind > 1)
        return usage_error("more than one recipe given ('%s' ...); "
                           "run one recipe at a time", argv[optind + 1]);
    o->recipe = argv[optind];
    return -1;
}

int main(int argc, char **argv)
{
    /* Before OpenBLAS initializes: pick its fastest correct kernels (may
     * re-execute this program with OPENBLAS_CORETYPE set). */
    kd_blas_tune(argc, argv);
    kd_options o = { .color = KD_COLOR_AUTO };
    int status = parse_args(argc, argv, &o);
    if (status >= 0)
        goto out_opts;

#ifdef _OPENMP
    if (o.threads > 0)
        omp_set_num_threads((int)o.threads);
#endif
    int color = want_color(o.color);
    char *zoo = find_zoo_dir(o.quiet);

    kdr_diag diag;
    kdr_diag_init(&diag);
    kdr_program *prog = kdr_program_load(o.recipe, zoo, &diag);
    if (!prog) {
        print_diags(&diag, o.quiet, color);
        if (diag.errors == 0) {
            fprintf(stderr, "%s: %s: out of memory\n", progname, o.recipe);
            status = KD_EXIT_RUNTIME;
        } else {
            status = KD_EXIT_RECIPE;
        }
        goto out;
    }
    if (diag.errors == 0) {
        int rc = kdr_check(prog, o.ov, o.nov, &diag);
        if (rc != 0 && diag.errors == 0)
            kdr_diag_push(&diag, KDR_ERROR, NULL, 0, 0,
                          "%s: the recipe did not pass its checks", o.recipe);
    }
    /* Every --set must have matched something.  kdr_check reports it; this
     * is the safety net (only once the recipe is otherwise correct: a failed
     * check may stop before applying the overrides). */
    if (diag.errors == 0)
        for (size_t i = 0; i < o.nov; i++)
            if (!o.ov[i].used)
                kdr_diag_push(&diag, KDR_ERROR, NULL, 0, 0,
                              "--set key '%s' matches nothing", o.ov[i].key);
    /* Compile every model: shape errors are recipe errors, located. */
    char *shapes = NULL;
    size_t shapes_len = 0;
    if (diag.errors == 0) {
        FILE *sf = open_memstream(&shapes, &shapes_len);
        if (sf) {
            kd_check_models(prog, sf, &diag);
            fclose(sf);
        }
    }
    print_diags(&diag, o.quiet, color);
    if (diag.errors) {
        free(shapes);
        status = KD_EXIT_RECIPE;
        goto out;
    }

    if (o.check) {
        kdr_program_print_plan(prog, stdout);
        if (shapes && shapes_len) {
            fputc('\n', stdout);
            fwrite(shapes, 1, shapes_len, stdout);
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
    {
        kd_run_opts ro = {
            .recipe = o.recipe,
            .runs_dir = getenv("KDRUN_RUNS") && *getenv("KDRUN_RUNS") ? getenv("KDRUN_RUNS") : "runs",
            .nthreads = o.threads > 0 ? (int)o.threads : 2,
            .seed = o.have_seed ? (int64_t)o.seed : -1,
            .quiet = o.quiet,
            .progress = !o.quiet && isatty(fileno(stderr)),
        };
        kdr_diag rd;
        kdr_diag_init(&rd);
        status = kd_run(prog, &ro, &rd);
        print_diags(&rd, o.quiet, color);
        kdr_diag_free(&rd);
    }

out:
    if (prog)
        kdr_program_free(prog);
    kdr_diag_free(&diag);
    free(zoo);
out_opts:
    free(o.ov);
    return status;
}
