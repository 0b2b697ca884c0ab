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

#define NET_OP_CASES \
    /* conv1d: plain, causal + dilation, stride + pad, no bias, batch 1 */ \
    {"conv1d", "c=4 k=3", 1, {S3(2, 3, 9)}, {G_N}, 0, 2e-3, ref_conv1d, 1}, \
    {"conv1d", "c=3 k=3 dilation=2 causal=1", 1, {S3(2, 3, 8)}, {G_N}, 0, 2e-3, ref_conv1d, 2}, \
    {"conv1d", "c=2 k=4 stride=2 pad=1 bias=0", 1, {S3(3, 2, 11)}, {G_N}, 0, 2e-3, ref_conv1d, 1}, \
    {"conv1d", "c=5 k=2 dilation=4 causal=1", 1, {S3(1, 5, 6)}, {G_N}, 0, 2e-3, ref_conv1d, 2}, \
    /* deconv: k = stride (U-Net), overlapping k > stride with pad, stride 1 */ \
    {"deconv", "c=3 k=2 stride=2", 1, {S4(2, 4, 3, 4)}, {G_N}, 0, 2e-3, ref_deconv, 1}, \
    {"deconv", "c=2 k=3 stride=2 pad=1 bias=0", 1, {S4(2, 3, 4, 3)}, {G_N}, 0, 2e-3, ref_deconv, 2}, \
    {"deconv", "c=4 k=3 stride=1", 1, {S4(1, 2, 3, 3)}, {G_N}, 0, 2e-3, ref_deconv, 1},

#define NET_OPS "conv1d", "deconv"
