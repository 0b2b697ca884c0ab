/* sweep.h — sweeps (a grid of whole runs) and the command file that lets
 * `kdrun --resume` replay a run's invocation.
 *
 * `sweep NAME in LIST` declarations form a grid, the first declared
 * outermost.  Each point is run as its own sub-run, in a directory named
 * after the point ("teacher_depth=14,seed=2") under the sweep's directory,
 * with every sweep variable set to its value by a --set style override.
 *
 * The command file RUN_DIR/command records what kdrun was given (recipe,
 * --set, --seed, --threads) and the recipe's hash, one "key<TAB>value" per
 * line, so that --resume reruns the same thing and refuses a changed
 * recipe. */
#ifndef KD_SWEEP_H
#define KD_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include "../lang/kdr.h"

#define KD_SWEEP_MAXVARS 16
#define KD_SWEEP_MAXPOINTS 100000

typedef struct kd_sweep_var {
    const char *name;
    int nvalues;
    char **values;      /* recipe text of each value, for an override ("14", "\"a\"") */
    char **labels;      /* plain text for directory names and tables ("14", "a") */
} kd_sweep_var;

typedef struct kd_sweep {
    int nvars;
    kd_sweep_var vars[KD_SWEEP_MAXVARS];
    int64_t npoints;    /* product of the value counts; 1 without sweeps */
} kd_sweep;

/* The sweeps of a checked program (after its overrides).  0, or -1 with a
 * located error in d (a value that is not a constant, a grid too large). */
int kd_sweep_collect(const kdr_program *p, kd_sweep *sw, kdr_diag *d);
void kd_sweep_free(kd_sweep *sw);
/* The value index of each variable at point i (0 <= i < npoints). */
void kd_sweep_indices(const kd_sweep *sw, int64_t i, int idx[KD_SWEEP_MAXVARS]);
/* "var=label,var2=label2" of point i. */
void kd_sweep_point_name(const kd_sweep *sw, int64_t i, char *buf, size_t len);

typedef struct kd_command {
    char *recipe;       /* as given on the command line */
    char *recipe_abs;   /* absolute path, for --resume from another directory */
    char *hash;         /* kd_recipe_hash of the program */
    int nset;
    char **keys, **values;
    int have_seed;
    long seed;
    long threads;
    int sync_bn;        /* --sync-bn (data-parallel batch norm) */
} kd_command;

/* Write RUN_DIR/command atomically; 0 or -1 with a message in err.  Keys
 * and values must not contain a newline or a tab (refused). */
int kd_command_write(const char *dir, const kd_command *c, char *err, size_t errlen);
/* Read it back (every string malloc'd); 0 or -1 with a message in err. */
int kd_command_read(const char *dir, kd_command *c, char *err, size_t errlen);
void kd_command_free(kd_command *c);

#endif
