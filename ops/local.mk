## ops/local.mk — the op library, its tests and man pages (owned by ops/).
## Included by the top-level Makefile.am; paths are relative to the top
## directory; every list is extended with +=.

OPS_KERNELS = ops/conv2d.c ops/linear.c ops/batchnorm2d.c ops/relu.c \
	ops/leaky_relu.c ops/sigmoid.c ops/tanh.c ops/add.c ops/sub.c ops/mul.c \
	ops/scale.c ops/mean.c ops/maxpool2d.c ops/avgpool2d.c ops/softmax.c \
	ops/log_softmax.c ops/flatten.c ops/concat.c ops/dropout.c \
	ops/aggregate.c ops/ce.c ops/kd.c ops/mse.c ops/l1.c ops/smooth_l1.c \
	ops/bce_with_logits.c ops/cosine.c ops/kl.c ops/relu6.c ops/attention.c ops/detach.c
OPS_HDRS = ops/kd_op.h ops/kd_ops_util.h ops/kd_unary.h ops/kd_loss.h \
	ops/kd_pool.h ops/kd_softmax.h ops/kd_kl.h ops/kd_gemm.h ops/kd_mix.h ops/kd_sgemm_small.h

noinst_LIBRARIES += ops/libops.a
ops_libops_a_SOURCES = ops/registry.c ops/attr.c ops/kd_sgemm_small.c $(OPS_KERNELS) $(OPS_HDRS)
# The kernels' loops are written to vectorize (restrict, branch-free bodies);
# GCC's -O2 cost model (very-cheap) skips any loop that needs a runtime
# alias or trip-count check, which is most of them.  Not -ffast-math: the
# vectorizer still never reorders a floating-point reduction.
ops_libops_a_CFLAGS = $(AM_CFLAGS) -fvect-cost-model=dynamic
OPS_LIBS += ops/libops.a
EXTRA_DIST += ops/ops.def ops/README.md bench/bench_ops.c

# The op tests: forward vs naive double references, central-difference
# gradient checks, "backward adds" checks, for every op in ops/ops.def.
check_PROGRAMS += tests/ops/test_ops
TESTS += tests/ops/test_ops
tests_ops_test_ops_SOURCES = tests/ops/test_ops.c tests/unit.h
tests_ops_test_ops_LDADD = ops/libops.a $(BLAS_LIBS) $(CUNIT_LIBS) $(M_LIBS)

# The small-M sgemm that conv2d uses (ops/kd_sgemm_small.c): every path
# this CPU runs against a double reference.
check_PROGRAMS += tests/ops/test_sgemm_small
TESTS += tests/ops/test_sgemm_small
tests_ops_test_sgemm_small_SOURCES = tests/ops/test_sgemm_small.c tests/unit.h
tests_ops_test_sgemm_small_LDADD = ops/libops.a $(BLAS_LIBS) $(CUNIT_LIBS) $(M_LIBS)

# The benchmark is built on demand only (`make bench/bench_ops`), never by
# `make check`: EXTRA_PROGRAMS.
EXTRA_PROGRAMS = bench/bench_ops
bench_bench_ops_SOURCES = bench/bench_ops.c
bench_bench_ops_LDADD = ops/libops.a $(BLAS_LIBS) $(M_LIBS)
CLEANFILES += bench/bench_ops$(EXEEXT)

dist_man_MANS += man/kdr-conv2d.7 man/kdr-linear.7 man/kdr-batchnorm2d.7 \
	man/kdr-relu.7 man/kdr-leaky_relu.7 man/kdr-sigmoid.7 man/kdr-tanh.7 \
	man/kdr-add.7 man/kdr-sub.7 man/kdr-mul.7 man/kdr-scale.7 man/kdr-mean.7 \
	man/kdr-maxpool2d.7 man/kdr-avgpool2d.7 man/kdr-softmax.7 \
	man/kdr-log_softmax.7 man/kdr-flatten.7 man/kdr-concat.7 \
	man/kdr-dropout.7 man/kdr-aggregate.7 man/kdr-ce.7 man/kdr-kd.7 \
	man/kdr-mse.7 man/kdr-l1.7 man/kdr-smooth_l1.7 \
	man/kdr-bce_with_logits.7 man/kdr-cosine.7 man/kdr-kl.7 man/kdr-relu6.7 \
	man/kdr-attention.7 man/kdr-detach.7

## GAN losses, feature_align, emd, choice, psnr/ssim (branch ops2): one block
OPS_KERNELS += ops/gan_g.c ops/gan_d.c ops/feature_align.c ops/cost.c \
	ops/choice.c ops/zero.c ops/emd.c
OPS_HDRS += ops/kd_gan.h
dist_man_MANS += man/kdr-gan_g.7 man/kdr-gan_d.7 man/kdr-feature_align.7 \
	man/kdr-cost.7 man/kdr-choice.7 man/kdr-zero.7 man/kdr-emd.7

# network-shape ops: conv1d (also the recipe's dconv), deconv, layout ops,
# upsample, matmul, embedding, layernorm
OPS_KERNELS += ops/conv1d.c ops/deconv.c ops/slice.c ops/reshape.c ops/split.c \
	ops/shuffle.c ops/pixel_shuffle.c ops/pixel_unshuffle.c ops/upsample.c \
	ops/matmul.c ops/embedding.c ops/layernorm.c
tests_ops_test_ops_SOURCES += tests/ops/ref_net.h
dist_man_MANS += man/kdr-conv1d.7 man/kdr-deconv.7 man/kdr-slice.7 \
	man/kdr-reshape.7 man/kdr-split.7 man/kdr-shuffle.7 man/kdr-pixel_shuffle.7 \
	man/kdr-pixel_unshuffle.7 man/kdr-upsample.7 man/kdr-matmul.7 \
	man/kdr-embedding.7 man/kdr-layernorm.7
