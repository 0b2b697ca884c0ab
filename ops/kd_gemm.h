/* kd_gemm.h — matrix products for the kernels in ops/ (private to ops/).
 *
 * OpenBLAS runs single-threaded (the executor sets it, see kd_op.h); ops
 * parallelise themselves.  kd_sgemm_rows cuts C's rows into nthreads
 * contiguous blocks, one cblas_sgemm per OpenMP thread: for a given thread
 * count every element is computed by the same call, so results are
 * bit-identical run to run.  Small products run as one call.
 */
#ifndef KD_GEMM_H
#define KD_GEMM_H

#include <stdint.h>
#include <cblas.h>

/* row-major C[M, N] = alpha * op(A)[M, K] op(B)[K, N] + beta * C */
static inline void kd_sgemm_rows(int nthreads, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M,
                                 int N, int K, float alpha, const float *A, int lda,
                                 const float *B, int ldb, float beta, float *C, int ldc)
{
    int nt = nthreads > 1 ? nthreads : 1;
    if ((int64_t)M * N * K < ((int64_t)1 << 21) || M < 2 * nt) nt = 1;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        int m0 = (int)((int64_t)M * t / nt), m1 = (int)((int64_t)M * (t + 1) / nt);
        if (m1 <= m0) continue;
        const float *a = ta == CblasNoTrans ? A + (int64_t)m0 * lda : A + m0;
        cblas_sgemm(CblasRowMajor, ta, tb, m1 - m0, N, K, alpha, a, lda, B, ldb, beta,
                    C + (int64_t)m0 * ldc, ldc);
    }
}

#endif
