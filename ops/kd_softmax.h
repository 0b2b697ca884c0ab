/* kd_softmax.h — private: axis geometry shared by softmax and log_softmax.
 * x viewed as [O, K, I]: K = dims[axis], O = prod(dims before), I = prod(after).
 * Temperature T: the softmax is taken of x / T. */
#ifndef KD_SOFTMAX_H
#define KD_SOFTMAX_H
#include "kd_ops_util.h"

enum { A_T, A_AXIS };
static const kd_attr_spec sm_attrs[] = {
    {.name = "T", .type = KD_ATTR_FLOAT, .def = 1, .min = 1e-3, .max = 1e3,
     .doc = "temperature: the softmax of x / T"},
    {.name = "axis", .type = KD_ATTR_INT, .def = -1, .min = -KD_MAXDIM, .max = KD_MAXDIM - 1,
     .doc = "the class axis", .internal = 1},
    {0}};

static inline int sm_axis(const kd_op_ctx *c)
{
    int a = (int)KD_A_INT(c, A_AXIS);
    return a < 0 ? a + c->in_shape[0].ndim : a;
}

static inline int sm_infer(kd_op_ctx *c, kd_op_info *info, char *err, size_t n)
{
    (void)info;
    int a = sm_axis(c);
    char b[128];
    if (a < 0 || a >= c->in_shape[0].ndim)
        return kd_err(err, n, "softmax axis %lld out of range for input %s",
                      (long long)KD_A_INT(c, A_AXIS), kd_shape_str(&c->in_shape[0], b, sizeof b));
    c->out_shape = c->in_shape[0];
    return 0;
}

static inline void sm_geo(const kd_op_ctx *c, int64_t *O, int64_t *K, int64_t *I)
{
    int a = sm_axis(c);
    *O = *I = 1;
    for (int d = 0; d < a; d++) *O *= c->in_shape[0].dims[d];
    for (int d = a + 1; d < c->in_shape[0].ndim; d++) *I *= c->in_shape[0].dims[d];
    *K = c->in_shape[0].dims[a];
}

/* writes log-softmax (log = 1) or softmax of x/T along one strided row */
static inline void sm_row(const float *x, float *y, int64_t K, int64_t st, double T, int want_log)
{
    double mx = x[0] / T;
    for (int64_t k = 1; k < K; k++) mx = x[k * st] / T > mx ? x[k * st] / T : mx;
    double s = 0;
    for (int64_t k = 0; k < K; k++) s += exp(x[k * st] / T - mx);
    if (want_log) {
        double ls = mx + log(s);
        for (int64_t k = 0; k < K; k++) y[k * st] = (float)(x[k * st] / T - ls);
    } else {
        for (int64_t k = 0; k < K; k++) y[k * st] = (float)(exp(x[k * st] / T - mx) / s);
    }
}
#endif
