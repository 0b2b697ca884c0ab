/* ref_reviewkd.h — naive double references and cases of ReviewKD's ops
 * (ops/abf.c, ops/hcl.c).  Included by test_ops.c after ref_crd.h;
 * REVIEWKD_OP_CASES goes at the end of its case table.  The pyramid's
 * pooling is written out bin by bin from its definition, the weights as
 * the halving sequence over the levels kept. */

static void ref_abf(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), P = D(t, 0, 2) * D(t, 0, 3);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < P; p++) {
                double a0 = IN(t, 2)[(n * 2) * P + p], a1 = IN(t, 2)[(n * 2 + 1) * P + p];
                int64_t i = (n * C + c) * P + p;
                y[i] = IN(t, 0)[i] / (1 + exp(-a0)) + IN(t, 1)[i] / (1 + exp(-a1));
            }
}

/* the mean over bins of (mean of s over the bin - mean of t over the bin)^2 */
static double zpool_mse(const inst *t, int64_t l)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3);
    double L = 0;
    for (int64_t q = 0; q < N * C; q++)
        for (int64_t i = 0; i < l; i++)
            for (int64_t j = 0; j < l; j++) {
                int64_t h0 = (int64_t)floor((double)(i * H) / (double)l), h1 = (int64_t)ceil((double)((i + 1) * H) / (double)l);
                int64_t w0 = (int64_t)floor((double)(j * W) / (double)l), w1 = (int64_t)ceil((double)((j + 1) * W) / (double)l);
                double a = 0, b = 0;
                for (int64_t h = h0; h < h1; h++)
                    for (int64_t w = w0; w < w1; w++) {
                        a += IN(t, 0)[(q * H + h) * W + w];
                        b += IN(t, 1)[(q * H + h) * W + w];
                    }
                double n = (double)((h1 - h0) * (w1 - w0));
                L += pow(a / n - b / n, 2);
            }
    return L / (double)(N * C * l * l);
}

static void ref_hcl(const inst *t, double *y)
{
    int64_t N = D(t, 0, 0), C = D(t, 0, 1), H = D(t, 0, 2), W = D(t, 0, 3);
    double full = 0, wt = 1, tot = 1;
    for (int64_t i = 0; i < N * C * H * W; i++) full += pow((double)IN(t, 0)[i] - IN(t, 1)[i], 2);
    double L = full / (double)(N * C * H * W);
    int li = kd_attr_index(t->d, "levels");
    for (int k = 0; k < t->attr[li].nints; k++) {
        int64_t l = t->attr[li].ints[k];
        if (l >= H || l >= W) continue;
        wt /= 2;
        tot += wt;
        L += wt * zpool_mse(t, l);
    }
    y[0] = L / tot;
}

/* abf: one and several channels, 1x1 maps; hcl: the default pyramid on a
 * 7x7 map (the bins of 4 overlap), on 5x3 (only 2 and 1 are kept), a
 * 1x1 map (the full level alone) and other levels */
#define REVIEWKD_OP_CASES \
    {"abf", NULL, 3, {S4(2, 3, 2, 3), S4(2, 3, 2, 3), S4(2, 2, 2, 3)}, {G_N, G_N, G_WIDE}, 0, 2e-3, ref_abf, 1}, \
    {"abf", NULL, 3, {S4(3, 1, 1, 1), S4(3, 1, 1, 1), S4(3, 2, 1, 1)}, {G_N, G_N, G_N}, 0, 2e-3, ref_abf, 2}, \
    {"hcl", NULL, 2, {S4(2, 2, 7, 7), S4(2, 2, 7, 7)}, {G_N, G_N}, 0, 2e-3, ref_hcl, 1}, \
    {"hcl", NULL, 2, {S4(3, 2, 5, 3), S4(3, 2, 5, 3)}, {G_N, G_WIDE}, 0, 2e-3, ref_hcl, 2}, \
    {"hcl", NULL, 2, {S4(4, 3, 1, 1), S4(4, 3, 1, 1)}, {G_N, G_N}, 0, 2e-3, ref_hcl, 1}, \
    {"hcl", "levels=3,1", 2, {S4(2, 1, 6, 6), S4(2, 1, 6, 6)}, {G_N, G_N}, 0, 2e-3, ref_hcl, 2},

static void reviewkd_op_checks(void)
{
    char err[256];
    kd_op_ctx c;
    kd_shape a[3] = {{{2, 3, 4, 4}, 4}, {{2, 3, 4, 4}, 4}, {{2, 1, 4, 4}, 4}};
    CU_ASSERT(net_infer("abf", NULL, 3, a, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "abf expects attention logits [N, 2, H, W] for [2, 3, 4, 4], got [2, 1, 4, 4]");
    kd_shape b[3] = {{{2, 3, 4, 4}, 4}, {{2, 4, 4, 4}, 4}, {{2, 2, 4, 4}, 4}};
    CU_ASSERT(net_infer("abf", NULL, 3, b, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "abf expects the two feature maps of one shape, got [2, 3, 4, 4] and [2, 4, 4, 4]");
    kd_shape h[2] = {{{2, 3}, 2}, {{2, 3}, 2}};
    CU_ASSERT(net_infer("hcl", NULL, 2, h, err, sizeof err, &c) == -1);
    KD_ASSERT_STR_EQ(err, "hcl expects 4-D input [N, C, H, W], got [2, 3]");
}
