/* test_zoo_golden.c — the zoo losses (rkd, pkt, sp, cc, nst, fsp, ab, vid,
 * ft, crd, hcl) and ReviewKD's fusion (abf) against PyTorch.
 *
 * tests/ops/zoo_golden.txt holds, per case, float32 inputs, the loss and
 * its gradients computed by PyTorch (float64, autograd) from the papers'
 * formulas as tests/ops/gen_zoo_golden.py writes them (see its header for
 * the format and how to regenerate).  Here each op runs forward and
 * backward (grad_out = 1) on the same inputs; the loss and every gradient
 * element must agree within 1e-5 relative to max(1, |value|); crd also
 * its memory banks after the forward's update (training mode, the draws
 * keyed by the case's seed and step).  Every op of
 * the zoo must have at least one case.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../unit.h"
#include "../../ops/kd_op.h"

void openblas_set_num_threads(int n);

#define MAXV 4096
typedef struct gcase {
    char op[32];
    char attrs[8][64];
    int nattr;
    int nin;
    kd_shape shape[KD_MAXIN];
    float *in[KD_MAXIN];
    double loss;
    int ngrad;
    int gidx[KD_MAXIN];
    double *grad[KD_MAXIN];
    int64_t gn[KD_MAXIN];
    uint64_t seed, step;            /* crd's draws */
    float *gout;                    /* abf: the output's gradient; NULL: 1 (a loss) */
    double *out;                    /* abf: the output, instead of loss */
    int64_t nout;
    int nstate;                     /* op state after the forward (crd's banks) */
    double *state[KD_MAXSTATE];
    int64_t sn[KD_MAXSTATE];
} gcase;

static int ncases, nchecked;
static char seen[24][32];
static int nseen;

static double worst_err(double got, double want)
{
    double e = fabs(got - want) / fmax(1.0, fabs(want));
    return e == e ? e : INFINITY;
}

static void run_case(gcase *g)
{
    const kd_op_def *d = kd_op_find(g->op);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    kd_attr_val av[KD_MAXATTR];
    char err[256];
    kd_attrs_default(d, av);
    for (int i = 0; i < g->nattr; i++) {
        char *eq = strchr(g->attrs[i], '=');
        CU_ASSERT_FATAL(eq != NULL);
        *eq = 0;
        int idx = kd_attr_index(d, g->attrs[i]);
        CU_ASSERT_FATAL(idx >= 0);
        CU_ASSERT_FATAL(kd_attr_set_num(d, av, idx, atof(eq + 1), err, sizeof err) == 0);
    }
    kd_op_ctx c;
    kd_op_info info;
    memset(&c, 0, sizeof c);
    c.attr = av;
    int ndata = g->nin - d->nparams;
    c.nin = g->nin;
    for (int i = 0; i < ndata; i++) c.in_shape[i] = g->shape[i];
    if (kd_op_infer(d, &c, &info, err, sizeof err)) {
        fprintf(stderr, "\n%s: infer: %s\n", g->op, err);
        CU_FAIL("infer");
        return;
    }
    for (int i = 0; i < g->nin; i++) {
        CU_ASSERT_FATAL(kd_shape_eq(&c.in_shape[i], &g->shape[i]));
        c.in[i] = g->in[i];
    }
    c.nthreads = 1;
    c.training = 1;
    c.seed = g->seed;
    c.step = g->step;
    for (int s = 0; s < info.nstate; s++) {   /* as the executor: every element at its initial value */
        int64_t n = kd_shape_numel(&info.state_shape[s]);
        c.state[s] = malloc(sizeof(float) * (size_t)n);
        for (int64_t j = 0; j < n; j++) c.state[s][j] = info.state_init[s];
    }
    if (info.saved_floats) c.saved = calloc(info.saved_floats, sizeof(float));
    int64_t no = kd_shape_numel(&c.out_shape);
    float *out = malloc(sizeof(float) * (size_t)no);
    c.out = out;
    size_t ws = d->workspace ? d->workspace(&c) : 0;
    c.work = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
    c.work_size = ws;
    d->forward(&c);
    if (g->out) {   /* a tensor op: every output element */
        CU_ASSERT_FATAL(g->nout == no && g->gout);
        double e = 0;
        for (int64_t j = 0; j < no; j++) e = fmax(e, worst_err(out[j], g->out[j]));
        if (!(e <= 1e-5)) fprintf(stderr, "\n%s: output error %g\n", g->op, e);
        CU_ASSERT(e <= 1e-5);
    } else {
        CU_ASSERT_FATAL(no == 1);
        double e = worst_err(out[0], g->loss);
        if (!(e <= 1e-5)) fprintf(stderr, "\n%s: loss %.9g, torch %.9g\n", g->op, out[0], g->loss);
        CU_ASSERT(e <= 1e-5);
    }
    float one = 1, *gb[KD_MAXIN] = {0};
    c.grad_out = g->gout ? g->gout : &one;
    for (int k = 0; k < g->ngrad; k++) {
        int i = g->gidx[k];
        CU_ASSERT_FATAL(!(i < ndata && (d->nograd >> i) & 1u));   /* torch's gradients are the op's */
        gb[i] = calloc((size_t)g->gn[k], sizeof(float));
        c.grad_in[i] = gb[i];
    }
    d->backward(&c);
    for (int k = 0; k < g->ngrad; k++) {
        int i = g->gidx[k];
        double w = 0;
        for (int64_t j = 0; j < g->gn[k]; j++) {
            double ej = worst_err(gb[i][j], g->grad[k][j]);
            if (!(ej <= w)) w = ej;
        }
        if (!(w <= 1e-5)) fprintf(stderr, "\n%s: input %d: gradient error %g\n", g->op, i, w);
        CU_ASSERT(w <= 1e-5);
        free(gb[i]);
    }
    for (int s = 0; s < g->nstate; s++) {
        CU_ASSERT_FATAL(s < info.nstate && g->sn[s] == kd_shape_numel(&info.state_shape[s]));
        double w = 0;
        for (int64_t j = 0; j < g->sn[s]; j++) {
            double ej = worst_err(c.state[s][j], g->state[s][j]);
            if (!(ej <= w)) w = ej;
        }
        if (!(w <= 1e-5)) fprintf(stderr, "\n%s: state %d: error %g\n", g->op, s, w);
        CU_ASSERT(w <= 1e-5);
    }
    for (int s = 0; s < KD_MAXSTATE; s++) free(c.state[s]);
    free(c.saved);
    free(c.work);
    free(out);
    nchecked++;
    int found = 0;
    for (int i = 0; i < nseen; i++) found |= strcmp(seen[i], g->op) == 0;
    if (!found && nseen < 24) snprintf(seen[nseen++], sizeof seen[0], "%s", g->op);
}

static void free_case(gcase *g)
{
    for (int i = 0; i < KD_MAXIN; i++) free(g->in[i]), free(g->grad[i]);
    for (int i = 0; i < KD_MAXSTATE; i++) free(g->state[i]);
    free(g->gout), free(g->out);
    memset(g, 0, sizeof *g);
}

static void test_against_torch(void)
{
    openblas_set_num_threads(1);
    char *text = kd_unit_slurp(KD_SRC("tests/ops/zoo_golden.txt"), NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    gcase g;
    memset(&g, 0, sizeof g);
    int incase = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = line;
        if (strncmp(p, "torch ", 6) == 0) continue;
        if (strncmp(p, "case ", 5) == 0) {
            free_case(&g);
            incase = 1;
            ncases++;
            p += 5;
            int n = 0;
            sscanf(p, "%31s%n", g.op, &n);
            p += n;
            while (g.nattr < 8 && sscanf(p, " %63s%n", g.attrs[g.nattr], &n) == 1) {
                g.nattr++;
                p += n;
            }
        } else if (strncmp(p, "in ", 3) == 0) {
            CU_ASSERT_FATAL(incase);
            long i = strtol(p + 3, &p, 10);
            CU_ASSERT_FATAL(i >= 0 && i < KD_MAXIN);
            kd_shape *s = &g.shape[i];
            s->ndim = (int)strtol(p, &p, 10);
            int64_t n = 1;
            for (int k = 0; k < s->ndim; k++) n *= s->dims[k] = strtoll(p, &p, 10);
            p = strchr(p, ':') + 1;
            g.in[i] = malloc(sizeof(float) * (size_t)n);
            for (int64_t k = 0; k < n; k++) g.in[i][k] = strtof(p, &p);
            if (i + 1 > g.nin) g.nin = (int)i + 1;
        } else if (strncmp(p, "seed ", 5) == 0) {
            g.seed = strtoull(p + 5, &p, 10);
            g.step = strtoull(p, &p, 10);
        } else if (strncmp(p, "gout ", 5) == 0) {
            p += 5;
            int64_t n = 1;
            for (;;) {   /* the dimensions, then ':' */
                while (*p == ' ') p++;
                if (*p == ':' || !*p) break;
                n *= strtoll(p, &p, 10);
            }
            CU_ASSERT_FATAL(*p == ':');
            p++;
            g.gout = malloc(sizeof(float) * (size_t)n);
            for (int64_t j = 0; j < n; j++) g.gout[j] = strtof(p, &p);
        } else if (strncmp(p, "out : ", 6) == 0) {
            p += 6;
            int64_t n = 0;
            for (char *q = p - 1; *q; q++) n += *q == ' ' && q[1] && q[1] != ' ';
            g.nout = n;
            g.out = malloc(sizeof(double) * (size_t)(n ? n : 1));
            for (int64_t j = 0; j < n; j++) g.out[j] = strtod(p, &p);
        } else if (strncmp(p, "state ", 6) == 0) {
            int k = (int)strtol(p + 6, &p, 10);
            CU_ASSERT_FATAL(k == g.nstate && k < KD_MAXSTATE);
            p = strchr(p, ':') + 1;
            int64_t n = 0;
            for (char *q = p; *q; q++) n += *q == ' ' && q[1] && q[1] != ' ';
            g.sn[k] = n;
            g.state[k] = malloc(sizeof(double) * (size_t)(n ? n : 1));
            for (int64_t j = 0; j < n; j++) g.state[k][j] = strtod(p, &p);
            g.nstate++;
        } else if (strncmp(p, "loss ", 5) == 0) {
            g.loss = strtod(p + 5, NULL);
        } else if (strncmp(p, "grad ", 5) == 0) {
            int k = g.ngrad++;
            g.gidx[k] = (int)strtol(p + 5, &p, 10);
            g.gn[k] = kd_shape_numel(&g.shape[g.gidx[k]]);
            p = strchr(p, ':') + 1;
            g.grad[k] = malloc(sizeof(double) * (size_t)g.gn[k]);
            for (int64_t j = 0; j < g.gn[k]; j++) g.grad[k][j] = strtod(p, &p);
        } else if (strcmp(p, "end") == 0) {
            run_case(&g);
            incase = 0;
        }
    }
    free_case(&g);
    free(text);
    CU_ASSERT(ncases >= 15 && nchecked == ncases);
    static const char *const zoo[] = {"rkd", "pkt", "sp", "cc", "nst", "fsp", "ab", "vid", "ft", "crd", "abf", "hcl"};
    for (size_t z = 0; z < sizeof zoo / sizeof zoo[0]; z++) {
        int found = 0;
        for (int i = 0; i < nseen; i++) found |= strcmp(seen[i], zoo[z]) == 0;
        if (!found) fprintf(stderr, "\nno PyTorch case for %s\n", zoo[z]);
        CU_ASSERT(found);
    }
}

int main(void)
{
    static const kd_unit_test tests[] = {KD_TEST(test_against_torch), KD_TEST_END};
    return kd_unit_main("zoo_golden", tests);
}
