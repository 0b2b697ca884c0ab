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
    else if (PL < 0) PL = Dl * (K - 1) / 2, PR = Dl * (K - 1) - PL; /* "same" */
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

/* bilinear, align_corners=False: src = (o + 0.5)/f - 0.5 clamped at 0 */
static void ref_taps(int64_t o, int64_t f, int64_t in, int64_t *i0, int64_t *i1, double *l)
{
    double src = fmax(((double)o + 0.5) / (double)f - 0.5, 0.0);
    *i0 = (int64_t)floor(src);
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *l = src - (double)*i0;
}
static void ref_upsample(const inst *t, double *y)
{
    int64_t NC = D(t, 0, 0) * D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3), f = (int64_t)A(t, "factor");
    int bil = A(t, "mode") == 1;
    for (int64_t p = 0; p < NC; p++)
        for (int64_t oh = 0; oh < H * f; oh++)
            for (int64_t ow = 0; ow < W * f; ow++) {
                const float *x = IN(t, 0) + p * H * W;
                double v;
                if (!bil) {
                    v = x[(oh / f) * W + ow / f];
                } else {
                    int64_t h0, h1, w0, w1;
                    double lh, lw;
                    ref_taps(oh, f, H, &h0, &h1, &lh);
                    ref_taps(ow, f, W, &w0, &w1, &lw);
                    v = (1 - lh) * ((1 - lw) * x[h0 * W + w0] + lw * x[h0 * W + w1]) +
                        lh * ((1 - lw) * x[h1 * W + w0] + lw * x[h1 * W + w1]);
                }
                y[(p * H * f + oh) * W * f + ow] = v;
            }
}

/* batched product; a 2-D operand is shared by every batch item */
static void ref_matmul(const inst *t, double *y)
{
    const kd_shape *a = &t->c.in_shape[0], *b = &t->c.in_shape[1], *o = &t->c.out_shape;
    int64_t M = a->dims[a->ndim - 2], K = a->dims[a->ndim - 1], P = b->dims[b->ndim - 1];
    int64_t T = kd_shape_numel(o) / (M * P);
    for (int64_t bt = 0; bt < T; bt++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t p = 0; p < P; p++) {
                const float *A0 = IN(t, 0) + (a->ndim > 2 ? bt * M * K : 0);
                const float *B0 = IN(t, 1) + (b->ndim > 2 ? bt * K * P : 0);
                double s = 0;
                for (int64_t k = 0; k < K; k++) s += (double)A0[m * K + k] * B0[k * P + p];
                y[(bt * M + m) * P + p] = s;
            }
}

/* ids [N, S...] -> [N, dim, S...] */
static void ref_embedding(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), S = t->n[0] / N, Dm = (int64_t)A(t, "dim");
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < S; s++) {
            int64_t id = (int64_t)IN(t, 0)[n * S + s];
            for (int64_t j = 0; j < Dm; j++) y[(n * Dm + j) * S + s] = IN(t, 1)[id * Dm + j];
        }
}

static void ref_layernorm(const inst *t, double *y)
{
    const kd_shape *x = &t->c.in_shape[0];
    int a = (int)A(t, "axis");
    if (a == 0) a = x->ndim == 3 ? 1 : x->ndim - 1;   /* the features */
    if (a < 0) a += x->ndim;
    int64_t O = 1, I = 1, Dd = x->dims[a];
    for (int d = 0; d < a; d++) O *= x->dims[d];
    for (int d = a + 1; d < x->ndim; d++) I *= x->dims[d];
    for (int64_t o = 0; o < O; o++)
        for (int64_t i = 0; i < I; i++) {
            double mu = 0, var = 0;
            for (int64_t d = 0; d < Dd; d++) mu += IN(t, 0)[(o * Dd + d) * I + i];
            mu /= (double)Dd;
            for (int64_t d = 0; d < Dd; d++) var += pow(IN(t, 0)[(o * Dd + d) * I + i] - mu, 2);
            var /= (double)Dd;
            for (int64_t d = 0; d < Dd; d++) {
                int64_t k = (o * Dd + d) * I + i;
                y[k] = IN(t, 1)[d] * (IN(t, 0)[k] - mu) / sqrt(var + A(t, "eps")) + IN(t, 2)[d];
            }
        }
}

#define NET_OP_CASES \
    /* conv1d: "same", unpadded, causal + dilation, stride + pad, no bias, \
     * even k "same" (one more zero on the right), batch 1 */ \
    {"conv1d", "c=4 k=3", 1, {S3(2, 3, 9)}, {G_N}, 0, 2e-3, ref_conv1d, 1}, \
    {"conv1d", "c=3 k=3 pad=0", 1, {S3(2, 2, 7)}, {G_N}, 0, 2e-3, ref_conv1d, 2}, \
    {"conv1d", "c=2 k=4 dilation=1", 1, {S3(2, 3, 6)}, {G_N}, 0, 2e-3, ref_conv1d, 1}, \
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
    {"pixel_unshuffle", "factor=3", 1, {S4(1, 1, 3, 6)}, {G_N}, 0, 1e-3, ref_pixel_unshuffle, 2}, \
    /* upsample: nearest, bilinear (edges clamp), factor 1 */ \
    {"upsample", "factor=2", 1, {S4(2, 2, 3, 2)}, {G_N}, 0, 1e-3, ref_upsample, 1}, \
    {"upsample", "factor=2 mode=bilinear", 1, {S4(1, 2, 3, 4)}, {G_N}, 0, 1e-3, ref_upsample, 2}, \
    {"upsample", "factor=3 mode=bilinear", 1, {S4(2, 1, 2, 3)}, {G_N}, 0, 1e-3, ref_upsample, 1}, \
    {"upsample", "factor=1 mode=bilinear", 1, {S4(1, 1, 2, 2)}, {G_N}, 0, 1e-3, ref_upsample, 1}, \
    /* matmul: batched, b shared, a shared, plain, 2 leading axes */ \
    {"matmul", NULL, 2, {S3(2, 3, 4), S3(2, 4, 5)}, {G_N, G_N}, 0, 2e-3, ref_matmul, 1}, \
    {"matmul", NULL, 2, {S3(3, 2, 4), S2(4, 3)}, {G_N, G_N}, 0, 2e-3, ref_matmul, 2}, \
    {"matmul", NULL, 2, {S2(3, 4), S3(2, 4, 2)}, {G_N, G_N}, 0, 2e-3, ref_matmul, 1}, \
    {"matmul", NULL, 2, {S2(3, 4), S2(4, 2)}, {G_N, G_N}, 0, 2e-3, ref_matmul, 2}, \
    {"matmul", NULL, 2, {S4(2, 2, 3, 2), S4(2, 2, 2, 3)}, {G_N, G_N}, 0, 2e-3, ref_matmul, 1}, \
    /* embedding: ids [N, T] (repeats), [N], [N, T1, T2]; ids get no gradient */ \
    {"embedding", "n=6 dim=4", 1, {S2(3, 5)}, {G_LABEL}, 0, 1e-3, ref_embedding, 1}, \
    {"embedding", "n=3 dim=2", 1, {S1(4)}, {G_LABEL}, 0, 1e-3, ref_embedding, 2}, \
    {"embedding", "n=4 dim=3", 1, {S3(2, 3, 2)}, {G_LABEL}, 0, 1e-3, ref_embedding, 1}, \
    /* layernorm: last axis, 3-D, another axis, no-op gain */ \
    {"layernorm", NULL, 1, {S2(4, 6)}, {G_N}, 0, 3e-3, ref_layernorm, 1}, \
    {"layernorm", "eps=0.001", 1, {S3(2, 3, 5)}, {G_N}, 0, 3e-3, ref_layernorm, 2}, \
    {"layernorm", "axis=1", 1, {S3(2, 4, 3)}, {G_N}, 0, 3e-3, ref_layernorm, 1},

#define NET_OPS "conv1d", "deconv", "slice", "reshape", "split", "shuffle", \
    "pixel_shuffle", "pixel_unshuffle", "upsample", "matmul", "embedding", "layernorm"

/* ---- op-specific checks, run by test_net_ops after the cases -------------- */
static int net_infer(const char *op, const char *attrs, int ndata, const kd_shape *in,
                     char *err, size_t n, kd_op_ctx *c)
{
    const kd_op_def *d = kd_op_find(op);
    static kd_attr_val v[KD_MAXATTR];
    kd_op_info info;
    CU_ASSERT_FATAL(d != NULL && parse_attrs(d, v, attrs) == 0);
    memset(c, 0, sizeof *c);
    c->attr = v;
    c->nin = ndata + d->nparams;
    for (int i = 0; i < ndata; i++) c->in_shape[i] = in[i];
    err[0] = 0;
    return kd_op_infer(d, c, &info, err, n);
}

static void net_op_checks(void)
{
    char err[256], b[64];
    kd_op_ctx c;
    /* shapes and messages */
    kd_shape x2 = {{128, 64}, 2}, x3 = {{8, 16, 10}, 3}, x4 = {{8, 16, 5, 6}, 4};
    CU_ASSERT(net_infer("conv1d", "c=32 k=3", 1, &x2, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "conv1d expects 3-D input [N, C, T], got [128, 64]");
    CU_ASSERT(net_infer("conv1d", "c=32 k=3 dilation=4 causal=1", 1, &x3, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 32, 10]");
    KD_ASSERT_STR_EQ(kd_shape_str(&c.in_shape[1], b, sizeof b), "[32, 16, 3]");
    CU_ASSERT(net_infer("conv1d", "c=4 k=3 causal=1 pad=1", 1, &x3, err, sizeof err, &c) == -1);
    CU_ASSERT(net_infer("conv1d", "c=4 k=6 dilation=2 pad=0", 1, &x3, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "conv1d: kernel 6 (dilation 2, pad 0) does not fit input length 10");
    CU_ASSERT(net_infer("conv1d", "c=4 k=4 dilation=3", 1, &x3, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 4, 10]"); /* "same" */
    CU_ASSERT(net_infer("deconv", "c=3 k=2 stride=2", 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 3, 10, 12]");
    KD_ASSERT_STR_EQ(kd_shape_str(&c.in_shape[1], b, sizeof b), "[16, 3, 2, 2]");
    CU_ASSERT(net_infer("deconv", "c=3", 1, &x3, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "deconv expects 4-D input [N, C, H, W], got [8, 16, 10]");
    CU_ASSERT(net_infer("shuffle", "groups=3", 1, &x4, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "shuffle: groups (3) must divide the channels (16)");
    CU_ASSERT(net_infer("split", "parts=3 part=1", 1, &x4, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "split: 3 parts do not divide 16 channels");
    CU_ASSERT(net_infer("split", "parts=2 part=3", 1, &x4, err, sizeof err, &c) == -1);
    CU_ASSERT(net_infer("slice", "axis=2 start=3 stop=11", 1, &x3, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "slice: start 3, stop 11 must satisfy 0 <= start < stop <= 10 (axis 2 of [8, 16, 10])");
    CU_ASSERT(net_infer("reshape", "shape=-1,7", 1, &x3, err, sizeof err, &c) == -1);
    CU_ASSERT(net_infer("reshape", "shape=4,-1,-1", 1, &x3, err, sizeof err, &c) == -1);
    CU_ASSERT(net_infer("reshape", "shape=4,-1", 1, &x3, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 4, 40]");
    CU_ASSERT(net_infer("reshape", "shape=3,5", 1, &x3, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "reshape: cannot reshape [8, 16, 10] to [8, 3, 5] (160 values per sample, not 15)");
    CU_ASSERT(net_infer("pixel_shuffle", "factor=3", 1, &x4, err, sizeof err, &c) == -1);
    CU_ASSERT(net_infer("pixel_unshuffle", "factor=2", 1, &x4, err, sizeof err, &c) == -1);
    CU_ASSERT(net_infer("pixel_shuffle", "factor=2", 1, &x4, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 4, 10, 12]");
    kd_shape mm[2] = {{{8, 16, 10}, 3}, {{10, 4}, 2}}, bad[2] = {{{8, 16, 10}, 3}, {{7, 10, 4}, 3}};
    CU_ASSERT(net_infer("matmul", NULL, 2, mm, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 16, 4]");
    CU_ASSERT(net_infer("matmul", NULL, 2, bad, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "matmul: leading axes of [8, 16, 10] and [7, 10, 4] differ (they must be equal, or one input must be 2-D)");
    kd_shape ids = {{8, 10}, 2};
    CU_ASSERT(net_infer("embedding", "n=100 dim=16", 1, &ids, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.out_shape, b, sizeof b), "[8, 16, 10]");
    CU_ASSERT(net_infer("layernorm", "axis=-3", 1, &x3, err, sizeof err, &c) == -1);
    /* the default normalises the features: channels of a sequence, else the last axis */
    kd_shape lx3 = {{2, 8, 5}, 3}, lx2 = {{2, 8}, 2};
    CU_ASSERT(net_infer("layernorm", NULL, 1, &lx3, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.in_shape[1], b, sizeof b), "[8]");
    CU_ASSERT(net_infer("layernorm", NULL, 1, &lx2, err, sizeof err, &c) == 0);
    KD_ASSERT_STR_EQ(kd_shape_str(&c.in_shape[1], b, sizeof b), "[8]");

    /* causal conv1d: changing x at time t changes no output before t */
    {
        static const tcase tc = {"conv1d", "c=3 k=3 dilation=2 causal=1", 1, {{{2, 2, 9}, 3}}, {G_N}, 0, 0, NULL, 1};
        inst t;
        rng_seed(19);
        if (inst_make(&t, &tc) == 0) {
            float y0[2 * 3 * 9];
            t.d->forward(&t.c);
            memcpy(y0, t.c.out, sizeof y0);
            t.buf[0][(1 * 2 + 1) * 9 + 5] += 1.0f; /* n 1, channel 1, t 5 */
            t.d->forward(&t.c);
            for (int i = 0; i < 2 * 3 * 9; i++) {
                int n = i / 27, tt = i % 9;
                if (n == 0 || tt < 5) CU_ASSERT(y0[i] == t.c.out[i]);
                if (n == 1 && tt == 5) CU_ASSERT(y0[i] != t.c.out[i]);
            }
            inst_free(&t);
        }
    }

    /* embedding: an out-of-range, negative, fractional or NaN id gives a NaN
     * vector (never a read outside the table) and no gradient */
    {
        static const tcase tc = {"embedding", "n=4 dim=3", 1, {{{2, 3}, 2}}, {G_LABEL}, 0, 0, NULL, 1};
        inst t;
        rng_seed(17);
        if (inst_make(&t, &tc) == 0) {
            float badv[4] = {4.0f, -1.0f, 1.5f, NAN};
            for (int k = 0; k < 4; k++) {
                t.buf[0][1] = badv[k];
                t.d->forward(&t.c);
                for (int j = 0; j < 3; j++) {
                    CU_ASSERT(isnan(t.c.out[j * 3 + 1]));      /* position 1, every j */
                    CU_ASSERT(!isnan(t.c.out[j * 3 + 0]));
                }
                float *g = calloc(12, sizeof(float)), *gy = malloc(sizeof(float) * 18);
                for (int i = 0; i < 18; i++) gy[i] = 1.0f;
                t.c.grad_out = gy;
                t.c.grad_in[1] = g;
                t.d->backward(&t.c);
                double tot = 0;
                for (int i = 0; i < 12; i++) tot += g[i];
                CU_ASSERT_DOUBLE_EQUAL(tot, 5 * 3, 1e-6);     /* 5 valid positions */
                t.c.grad_in[1] = NULL;
                free(g);
                free(gy);
            }
            inst_free(&t);
        }
    }

    /* same bits for 1 and 2 threads, forward and backward, on sizes above
     * the OpenMP threshold */
    static const tcase tcs[] = {
        {"conv1d", "c=16 k=3 dilation=2 causal=1", 1, {{{4, 16, 40}, 3}}, {G_N}, 0, 0, NULL, 1},
        {"deconv", "c=8 k=3 stride=2", 1, {{{2, 8, 12, 12}, 4}}, {G_N}, 0, 0, NULL, 1},
        {"upsample", "factor=2 mode=bilinear", 1, {{{4, 8, 16, 16}, 4}}, {G_N}, 0, 0, NULL, 1},
        {"matmul", NULL, 2, {{{8, 32, 24}, 3}, {{24, 20}, 2}}, {G_N, G_N}, 0, 0, NULL, 1},
        {"embedding", "n=50 dim=32", 1, {{{16, 40}, 2}}, {G_LABEL}, 0, 0, NULL, 1},
        {"layernorm", NULL, 1, {{{64, 8, 96}, 3}}, {G_N}, 0, 0, NULL, 1},
        {"shuffle", "groups=4", 1, {{{4, 16, 12, 12}, 4}}, {G_N}, 0, 0, NULL, 1},
    };
    for (size_t k = 0; k < sizeof tcs / sizeof tcs[0]; k++) {
        inst t;
        rng_seed(31 + k);
        if (inst_make(&t, &tcs[k])) return;
        int64_t no = out_n(&t);
        float *gy = malloc(sizeof(float) * (size_t)no), *y1 = malloc(sizeof(float) * (size_t)no);
        float *g1[KD_MAXIN] = {0}, *g2[KD_MAXIN] = {0};
        for (int64_t i = 0; i < no; i++) gy[i] = (float)nrand();
        for (int th = 1; th <= 2; th++) {
            t.c.nthreads = th;
            t.d->forward(&t.c);
            if (th == 1) memcpy(y1, t.c.out, sizeof(float) * (size_t)no);
            else CU_ASSERT(memcmp(y1, t.c.out, sizeof(float) * (size_t)no) == 0);
            t.c.grad_out = gy;
            for (int i = 0; i < t.c.nin; i++) {
                float **g = th == 1 ? g1 : g2;
                g[i] = wants_grad(&t, i) ? calloc((size_t)t.n[i], sizeof(float)) : NULL;
                t.c.grad_in[i] = g[i];
            }
            t.d->backward(&t.c);
        }
        for (int i = 0; i < t.c.nin; i++) {
            if (g1[i]) CU_ASSERT(memcmp(g1[i], g2[i], sizeof(float) * (size_t)t.n[i]) == 0);
            free(g1[i]);
            free(g2[i]);
            t.c.grad_in[i] = NULL;
        }
        free(gy);
        free(y1);
        inst_free(&t);
    }
}
