/* embedding.c — look up integer ids in a table of n vectors of size dim.
 *
 * Shapes: ids [N, ...] (floats holding integers), table w [n, dim],
 *   y [N, dim, ...]: the vector axis is inserted after the batch axis, so
 *   ids [N, T] give the [N, C, T] sequences conv1d expects (ids [N] give
 *   [N, dim]).  With S = the product of the id dims after N:
 * forward:  y[b, j, s] = w[id, j] with id = ids[b, s]
 *           An id that is not an integer in [0, n) (negative, too large,
 *           fractional, NaN) never reads the table: its vector is all NaN,
 *           so a bad input shows up in the loss instead of reading out of
 *           bounds (like ce with a bad label).
 * backward: dw[id, j] += dy[b, j, s] for every valid position; the ids get
 *           no gradient (nograd).  A serial counting sort groups the
 *           positions by id (workspace: n + 1 + numel(ids) int64); then
 *           each table row is summed by one iteration, in double, in
 *           position order (parallel over rows, no atomics).
 * The table starts as N(0, 1), as PyTorch's nn.Embedding.
 */
#include "kd_ops_util.h"

enum { A_N, A_DIM };

static const kd_attr_spec attrs[] = {
    {.name = "n", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 30, .required = 1,
     .doc = "number of ids (table rows)"},
    {.name = "dim", .type = KD_ATTR_INT, .def = 1, .min = 1, .max = 1 << 20, .required = 1,
     .doc = "vector size"},
    {0}};

static int infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    const kd_shape *x = &c->in_shape[0];
    if (x->ndim < 1 || x->ndim > KD_MAXDIM - 1)
        return kd_err_rank(err, n, "embedding", 2, "[N, T] of ids", x);
    int64_t V = KD_A_INT(c, A_N), Dm = KD_A_INT(c, A_DIM);
    c->in_shape[1] = kd_sh2(V, Dm);
    info->init[1] = (kd_param_init){KD_INIT_KAIMING_NORMAL, 2}; /* sd sqrt(2/2) = 1 */
    kd_shape o;
    memset(&o, 0, sizeof o);
    o.ndim = x->ndim + 1;
    o.dims[0] = x->dims[0];
    o.dims[1] = Dm;
    for (int d = 1; d < x->ndim; d++) o.dims[d + 1] = x->dims[d];
    c->out_shape = o;
    return 0;
}

/* the row of a valid id, or -1 */
static int64_t row_of(float v, int64_t V)
{
    if (!(v >= 0.0f && v < (float)V)) return -1; /* also NaN */
    int64_t r = (int64_t)v;
    return (float)r == v && r < V ? r : -1;
}

static void forward(kd_op_ctx *c)
{
    const kd_shape *x = &c->in_shape[0];
    int64_t V = KD_A_INT(c, A_N), Dm = KD_A_INT(c, A_DIM);
    int64_t N = x->dims[0], S = N ? kd_shape_numel(x) / N : 0;
    const float *ids = c->in[0], *w = c->in[1];
    int64_t rows = N * Dm;
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && rows * S > KD_OMP_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t b = r / Dm, j = r % Dm;
        float *y = c->out + r * S;
        for (int64_t s = 0; s < S; s++) {
            int64_t id = row_of(ids[b * S + s], V);
            y[s] = id >= 0 ? w[id * Dm + j] : NAN;
        }
    }
}

/* backward scratch: for every table row v the positions holding id v
 * (a counting sort of the positions), begin[v + 1] offsets then order[] */
static size_t workspace(const kd_op_ctx *c)
{
    return (size_t)(KD_A_INT(c, A_N) + 1 + kd_shape_numel(&c->in_shape[0])) * sizeof(int64_t);
}

static void backward(kd_op_ctx *c)
{
    float *dw = c->grad_in[1];
    if (!dw) return;
    const kd_shape *x = &c->in_shape[0];
    int64_t V = KD_A_INT(c, A_N), Dm = KD_A_INT(c, A_DIM);
    int64_t N = x->dims[0], P = kd_shape_numel(x), S = N ? P / N : 0;
    const float *ids = c->in[0], *gy = c->grad_out;
    int64_t *end = c->work, *order = end + V + 1;
    /* serial counting sort: after it, row v's positions are
     * order[(v ? end[v - 1] : 0) .. end[v]) in increasing position order */
    memset(end, 0, sizeof(int64_t) * (size_t)(V + 1));
    for (int64_t p = 0; p < P; p++) {
        int64_t id = row_of(ids[p], V);
        if (id >= 0) end[id + 1]++;
    }
    for (int64_t v = 1; v <= V; v++) end[v] += end[v - 1];
    for (int64_t p = 0; p < P; p++) {
        int64_t id = row_of(ids[p], V);
        if (id >= 0) order[end[id]++] = p;
    }
    /* each table row is summed by one iteration, in double, position order */
#pragma omp parallel for schedule(static) num_threads(c->nthreads) if (c->nthreads > 1 && P * Dm > KD_OMP_MIN)
    for (int64_t v = 0; v < V; v++) {
        int64_t q0 = v ? end[v - 1] : 0, q1 = end[v];
        if (q0 == q1) continue;
        for (int64_t j = 0; j < Dm; j++) {
            double s = 0;
            for (int64_t q = q0; q < q1; q++) {
                int64_t p = order[q];
                s += gy[((p / S) * Dm + j) * S + p % S];
            }
            dw[v * Dm + j] += (float)s;
        }
    }
}

static const kd_input_spec inputs[] = {
    {.name = "x", .shape = "[N, T] integer ids"},
    {NULL}};

const kd_op_def kd_op_embedding = {
    .name = "embedding", .min_inputs = 1, .max_inputs = 1, .nparams = 1,
    .nograd = 1u, .npositional = 2,
    .attrs = attrs, .infer = infer, .workspace = workspace,
    .forward = forward, .backward = backward,
    .use = KD_USE_NET, .flags = KD_OP_TIN,
    .doc = "look up integer ids in a table of n vectors of size dim",
    .inputs = inputs,
    .rows = kd_rows_always,
};
