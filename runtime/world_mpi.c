/* world_mpi.c — the ranks of an MPI job (world.h), for kdrun built
 * --with-mpi.  kd_world_mpi_start() joins the job only when a launcher
 * (mpirun, srun) started this process; a plain `kdrun recipe.kdr` never
 * touches MPI and runs exactly as without it.
 *
 * Determinism: MPI_Allreduce may add the ranks' values in any order (the
 * algorithm depends on the message size and the network), so sums here
 * gather every rank's vector and add them in rank order on every rank.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "world.h"
#include "world_mpi.h"

static kd_world_ops ops;
static float *sum_buf;
static size_t sum_cap;

static void mpi_barrier(void) { MPI_Barrier(MPI_COMM_WORLD); }

static void mpi_abort(int status) { MPI_Abort(MPI_COMM_WORLD, status); }

static int mpi_gather_text(const char *mine, char **out)
{
    *out = NULL;
    size_t l = mine ? strlen(mine) : 0;
    if (l > INT_MAX / 2) return -1;
    int len = (int)l, *lens = NULL, *offs = NULL;
    if (ops.rank == 0) {
        lens = calloc((size_t)ops.size, sizeof *lens);
        offs = calloc((size_t)ops.size, sizeof *offs);
        if (!lens || !offs) { free(lens); free(offs); mpi_abort(1); return -1; }
    }
    MPI_Gather(&len, 1, MPI_INT, lens, 1, MPI_INT, 0, MPI_COMM_WORLD);
    char *all = NULL;
    if (ops.rank == 0) {
        long long tot = 0;
        for (int r = 0; r < ops.size; r++) { offs[r] = (int)tot; tot += lens[r]; }
        if (tot > INT_MAX || !(all = malloc((size_t)tot + 1))) { free(lens); free(offs); mpi_abort(1); return -1; }
        all[tot] = 0;
    }
    MPI_Gatherv(mine ? mine : "", len, MPI_CHAR, all, lens, offs, MPI_CHAR, 0, MPI_COMM_WORLD);
    free(lens);
    free(offs);
    *out = all;
    return 0;
}

static int mpi_bcast_text(char **text)
{
    long long len = ops.rank == 0 && *text ? (long long)strlen(*text) : 0;
    MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (len < 0 || len > INT_MAX) return -1;
    if (ops.rank == 0) {
        char empty = 0;
        MPI_Bcast(*text ? *text : &empty, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
        return 0;
    }
    char *buf = malloc((size_t)len + 1);
    if (!buf) { mpi_abort(1); return -1; }
    MPI_Bcast(buf, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
    buf[len] = 0;
    *text = buf;
    return 0;
}

/* x := x_0 + x_1 + ... + x_{size-1}, in that order, on every rank. */
static int mpi_sum_f32(float *x, size_t n)
{
    const size_t chunk = (size_t)1 << 22;
    size_t need = (size_t)ops.size * (n < chunk ? n : chunk);
    if (need > sum_cap) {
        float *nb = realloc(sum_buf, need * sizeof *nb);
        if (!nb) return -1;
        sum_buf = nb;
        sum_cap = need;
    }
    for (size_t o = 0; o < n; o += chunk) {
        size_t m = n - o < chunk ? n - o : chunk;
        MPI_Allgather(x + o, (int)m, MPI_FLOAT, sum_buf, (int)m, MPI_FLOAT, MPI_COMM_WORLD);
        for (size_t i = 0; i < m; i++) {
            float s = sum_buf[i];
            for (int r = 1; r < ops.size; r++) s += sum_buf[(size_t)r * m + i];
            x[o + i] = s;
        }
    }
    return 0;
}

/* The same for a few doubles (losses): gathered, added in rank order. */
static int mpi_sum_f64(double *x, size_t n)
{
    if (n > (size_t)INT_MAX / (size_t)ops.size) return -1;
    double *all = malloc((size_t)ops.size * n * sizeof *all);
    if (!all) return -1;
    MPI_Allgather(x, (int)n, MPI_DOUBLE, all, (int)n, MPI_DOUBLE, MPI_COMM_WORLD);
    for (size_t i = 0; i < n; i++) {
        double s = all[i];
        for (int r = 1; r < ops.size; r++) s += all[(size_t)r * n + i];
        x[i] = s;
    }
    free(all);
    return 0;
}

static int launched_by_mpi(void)
{
    static const char *vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE",
                                  "MPI_LOCALNRANKS", NULL };
    for (int i = 0; vars[i]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

int kd_world_mpi_start(int *argc, char ***argv)
{
    if (!launched_by_mpi()) return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return -1;
    ops.name = "mpi";
    MPI_Comm_rank(MPI_COMM_WORLD, &ops.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ops.size);
    ops.barrier = mpi_barrier;
    ops.gather_text = mpi_gather_text;
    ops.bcast_text = mpi_bcast_text;
    ops.sum_f32 = mpi_sum_f32;
    ops.sum_f64 = mpi_sum_f64;
    ops.abort = mpi_abort;
    kd_world_set(&ops);
    return 1;
}

void kd_world_mpi_stop(void)
{
    int on = 0;
    MPI_Initialized(&on);
    if (!on) return;
    int off = 0;
    MPI_Finalized(&off);
    if (!off) MPI_Finalize();
    free(sum_buf);
    sum_buf = NULL;
    sum_cap = 0;
    kd_world_set(NULL);
}
