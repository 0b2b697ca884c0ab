/* kd_bn.h — batchnorm2d's per-channel transform y = a * x + o, shared with
 * the executor's fold (runtime/exec_fold.c), which applies it inside the
 * convolution before the bn and must give batchnorm2d's bits. */
#ifndef KD_BN_H
#define KD_BN_H

#include <math.h>

#define KD_BN_ATTR_EPS 0   /* batchnorm2d's attribute index of eps */

/* a and o of a channel with mean mu and variance var (the batch's, or the
 * running ones in eval mode), eps, scale g and shift b (1 and 0 without
 * affine parameters); returns 1 / sqrt(var + eps) */
static inline double kd_bn_affine(double mu, double var, double eps, float g, float b, float *a, float *o)
{
    double is = 1.0 / sqrt(var + eps);
    *a = (float)(g * is);
    *o = (float)(b - g * is * mu);
    return is;
}

#endif
