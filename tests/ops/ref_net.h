/* ref_net.h — naive double references and cases for the network-shape ops
 * (conv1d, deconv, upsample, matmul, embedding, layernorm, slice, reshape,
 * split, shuffle, pixel_shuffle, pixel_unshuffle).  Included by test_ops.c
 * after its own references; NET_OP_CASES goes at the end of its case table
 * and NET_OPS names the ops test_net_ops runs. */

static void ref_conv1d(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), T = D(t, 0, 2);
    int64_t F = (int64_t)A(t, "c"), K = (int64_t)A(t, "k"), S = (int64_t)A(t, "stride");
    int64_t Dl = (int64_t)A(t, "dilation"), PL = (int64_t)A(t, "pad"), PR = PL;
    if (A(t, "causal") != 0) PL = Dl * (K - 1), PR = 0;
    int64_t To = (T + PL + PR - Dl * (K - 1) - 1) / S + 1;
    const float *x = IN(t, 0), *w = IN(t, 1), *b = t->n[2] ? IN(t, 2) : NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t o = 0; o < To; o++) {
                double s = b ? b[f] : 0;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t k = 0; k < K; k++) {
                        int64_t i = o * S - PL + k * Dl; /* padded zeros elsewhere */
                        if (i >= 0 && i < T) s += (double)w[(f * C + c) * K + k] * x[(n * C + c) * T + i];
                    }
                y[(n * F + f) * To + o] = s;
            }
}

/* transposed conv as a scatter: every input pixel spreads x * w into y */
static void ref_deconv(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3);
    int64_t F = (int64_t)A(t, "c"), K = (int64_t)A(t, "k"), S = (int64_t)A(t, "stride");
    int64_t P = (int64_t)A(t, "pad");
    int64_t Ho = (H - 1) * S - 2 * P + K, Wo = (W - 1) * S - 2 * P + K;
    const float *x = IN(t, 0), *w = IN(t, 1), *b = t->n[2] ? IN(t, 2) : NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t f = 0; f < F; f++)
            for (int64_t i = 0; i < Ho * Wo; i++) y[(n * F + f) * Ho * Wo + i] = b ? b[f] : 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t ih = 0; ih < H; ih++)
                for (int64_t iw = 0; iw < W; iw++)
                    for (int64_t f = 0; f < F; f++)
                        for (int64_t ki = 0; ki < K; ki++)
                            for (int64_t kj = 0; kj < K; kj++) {
                                int64_t oh = ih * S - P + ki, ow = iw * S - P + kj;
                                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                                y[((n * F + f) * Ho + oh) * Wo + ow] +=
                                    (double)x[((n * C + c) * H + ih) * W + iw] *
                                    w[((c * F + f) * K + ki) * K + kj];
                            }
}

/* layout ops: y[k] = x[src(k)], src computed from coordinates */
static void ref_slice(const inst *t, double *y)
{
    const kd_shape *x = &t->c.in_shape[0], *o = &t->c.out_shape;
    int a = (int)A(t, "axis");
    int64_t start = (int64_t)A(t, "start");
    for (int64_t k = 0; k < kd_shape_numel(o); k++) {
        int64_t rem = k, co[KD_MAXDIM], src = 0;
        for (int d = o->ndim - 1; d >= 0; d--) co[d] = rem % o->dims[d], rem /= o->dims[d];
        co[a] += start;
        for (int d = 0; d < x->ndim; d++) src = src * x->dims[d] + co[d];
        y[k] = IN(t, 0)[src];
    }
}
static void ref_split(const inst *t, double *y)
{
    const kd_shape *o = &t->c.out_shape;
    int64_t C = D(t, 0, 1), Cp = o->dims[1], S = kd_shape_numel(o) / (o->dims[0] * Cp);
    int64_t part = (int64_t)A(t, "part");
    for (int64_t n = 0; n < o->dims[0]; n++)
        for (int64_t k = 0; k < Cp; k++)
            for (int64_t s = 0; s < S; s++)
                y[(n * Cp + k) * S + s] = IN(t, 0)[(n * C + (part - 1) * Cp + k) * S + s];
}
/* channel shuffle as the transpose [N, G, C/G, S] -> [N, C/G, G, S] */
static void ref_shuffle(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), G = (int64_t)A(t, "groups"), S = t->n[0] / (N * C);
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < G; g++)
            for (int64_t j = 0; j < C / G; j++)
                for (int64_t s = 0; s < S; s++)
                    y[((n * (C / G) + j) * G + g) * S + s] = IN(t, 0)[((n * G + g) * (C / G) + j) * S + s];
}
static void ref_pixel_shuffle(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), Ci = D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3), f = (int64_t)A(t, "factor");
    int64_t Co = Ci / (f * f);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < Co; c++)
            for (int64_t i = 0; i < f; i++)
                for (int64_t j = 0; j < f; j++)
                    for (int64_t h = 0; h < H; h++)
                        for (int64_t w = 0; w < W; w++)
                            y[((n * Co + c) * H * f + h * f + i) * W * f + w * f + j] =
                                IN(t, 0)[((n * Ci + c * f * f + i * f + j) * H + h) * W + w];
}
static void ref_pixel_unshuffle(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), f = (int64_t)A(t, "factor");
    int64_t H = D(t, 0, 2) / f, W = D(t, 0, 3) / f;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < f; i++)
                for (int64_t j = 0; j < f; j++)
                    for (int64_t h = 0; h < H; h++)
                        for (int64_t w = 0; w < W; w++)
                            y[((n * C * f * f + c * f * f + i * f + j) * H + h) * W + w] =
                                IN(t, 0)[((n * C + c) * H * f + h * f + i) * W * f + w * f + j];
}

#define NET_OP_CASES \
    /* conv1d: plain, causal + dilation, stride + pad, no bias, batch 1 */ \
    {"conv1d", "c=4 k=3", 1, {S3(2, 3, 9)}, {G_N}, 0, 2e-3, ref_conv1d, 1}, \
    {"conv1d", "c=3 k=3 dilation=2 causal=1", 1, {S3(2, 3, 8)}, {G_N}, 0, 2e-3, ref_conv1d, 2}, \
    {"conv1d", "c=2 k=4 stride=2 pad=1 bias=0", 1, {S3(3, 2, 11)}, {G_N}, 0, 2e-3, ref_conv1d, 1}, \
    {"conv1d", "c=5 k=2 dilation=4 causal=1", 1, {S3(1, 5, 6)}, {G_N}, 0, 2e-3, ref_conv1d, 2}, \
    /* deconv: k = stride (U-Net), overlapping k > stride with pad, stride 1 */ \
    {"deconv", "c=3 k=2 stride=2", 1, {S4(2, 4, 3, 4)}, {G_N}, 0, 2e-3, ref_deconv, 1}, \
    {"deconv", "c=2 k=3 stride=2 pad=1 bias=0", 1, {S4(2, 3, 4, 3)}, {G_N}, 0, 2e-3, ref_deconv, 2}, \
    {"deconv", "c=4 k=3 stride=1", 1, {S4(1, 2, 3, 3)}, {G_N}, 0, 2e-3, ref_deconv, 1}, \
    /* layout ops: copies and permutations (reshape is checked by ref_copy) */ \
    {"slice", "axis=2 start=1 stop=4", 1, {S3(2, 3, 5)}, {G_N}, 0, 1e-3, ref_slice, 1}, \
    {"slice", "axis=1 start=0 stop=1", 1, {S4(2, 3, 2, 2)}, {G_N}, 0, 1e-3, ref_slice, 2}, \
    {"slice", "axis=3 start=2 stop=3", 1, {S4(1, 2, 3, 3)}, {G_N}, 0, 1e-3, ref_slice, 1}, \
    {"reshape", "shape=-1,4", 1, {S4(2, 3, 2, 2)}, {G_N}, 0, 1e-3, ref_copy, 1}, \
    {"reshape", "shape=12", 1, {S3(3, 4, 3)}, {G_N}, 0, 1e-3, ref_copy, 2}, \
    {"split", "parts=2 part=2", 1, {S4(2, 4, 2, 3)}, {G_N}, 0, 1e-3, ref_split, 1}, \
    {"split", "parts=3 part=1", 1, {S3(2, 6, 3)}, {G_N}, 0, 1e-3, ref_split, 2}, \
    {"split", "parts=3 part=3", 1, {S2(3, 6)}, {G_N}, 0, 1e-3, ref_split, 1}, \
    {"shuffle", "groups=2", 1, {S4(2, 6, 2, 2)}, {G_N}, 0, 1e-3, ref_shuffle, 1}, \
    {"shuffle", "groups=3", 1, {S4(1, 6, 3, 1)}, {G_N}, 0, 1e-3, ref_shuffle, 2}, \
    {"shuffle", "groups=4", 1, {S2(3, 8)}, {G_N}, 0, 1e-3, ref_shuffle, 1}, \
    {"pixel_shuffle", "factor=2", 1, {S4(2, 8, 3, 2)}, {G_N}, 0, 1e-3, ref_pixel_shuffle, 1}, \
    {"pixel_shuffle", "factor=3", 1, {S4(1, 9, 2, 2)}, {G_N}, 0, 1e-3, ref_pixel_shuffle, 2}, \
    {"pixel_unshuffle", "factor=2", 1, {S4(2, 2, 4, 6)}, {G_N}, 0, 1e-3, ref_pixel_unshuffle, 1}, \
    {"pixel_unshuffle", "factor=3", 1, {S4(1, 1, 3, 6)}, {G_N}, 0, 1e-3, ref_pixel_unshuffle, 2},

#define NET_OPS "conv1d", "deconv", "slice", "reshape", "split", "shuffle", \
    "pixel_shuffle", "pixel_unshuffle"
