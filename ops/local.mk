## ops/local.mk — the op library, its tests and man pages (owned by ops/).
## Included by the top-level Makefile.am; paths are relative to the top
## directory; every list is extended with +=.

# THE REGISTRY: one line per op, ops/<name>.c exporting kd_op_<name>.  This
# list is compiled into the library, generates ops/ops.def (the X-macro the
# registry table is built from, ops/registry.c) and names the man pages
# (man/kdr-<name>.7).  Adding an op: its file, its line here, its man page,
# its tests (ops/README.md).
OPS_KERNELS =
OPS_KERNELS += ops/conv2d.c
OPS_KERNELS += ops/linear.c
OPS_KERNELS += ops/batchnorm2d.c
OPS_KERNELS += ops/relu.c
OPS_KERNELS += ops/relu6.c
OPS_KERNELS += ops/attention.c
OPS_KERNELS += ops/detach.c
OPS_KERNELS += ops/leaky_relu.c
OPS_KERNELS += ops/sigmoid.c
OPS_KERNELS += ops/tanh.c
OPS_KERNELS += ops/add.c
OPS_KERNELS += ops/sub.c
OPS_KERNELS += ops/mul.c
OPS_KERNELS += ops/scale.c
OPS_KERNELS += ops/mean.c
OPS_KERNELS += ops/maxpool2d.c
OPS_KERNELS += ops/avgpool2d.c
OPS_KERNELS += ops/softmax.c
OPS_KERNELS += ops/log_softmax.c
OPS_KERNELS += ops/flatten.c
OPS_KERNELS += ops/concat.c
OPS_KERNELS += ops/dropout.c
OPS_KERNELS += ops/aggregate.c
OPS_KERNELS += ops/ce.c
OPS_KERNELS += ops/kd.c
OPS_KERNELS += ops/kl.c
OPS_KERNELS += ops/mse.c
OPS_KERNELS += ops/l1.c
OPS_KERNELS += ops/smooth_l1.c
OPS_KERNELS += ops/bce_with_logits.c
OPS_KERNELS += ops/cosine.c
OPS_KERNELS += ops/gan_g.c
OPS_KERNELS += ops/gan_d.c
OPS_KERNELS += ops/feature_align.c
OPS_KERNELS += ops/cost.c
OPS_KERNELS += ops/choice.c
OPS_KERNELS += ops/zero.c
OPS_KERNELS += ops/emd.c
OPS_KERNELS += ops/conv1d.c
OPS_KERNELS += ops/deconv.c
OPS_KERNELS += ops/slice.c
OPS_KERNELS += ops/reshape.c
OPS_KERNELS += ops/split.c
OPS_KERNELS += ops/shuffle.c
OPS_KERNELS += ops/pixel_shuffle.c
OPS_KERNELS += ops/pixel_unshuffle.c
OPS_KERNELS += ops/upsample.c
OPS_KERNELS += ops/matmul.c
OPS_KERNELS += ops/embedding.c
OPS_KERNELS += ops/layernorm.c
OPS_KERNELS += ops/dkd.c
OPS_KERNELS += ops/rkd.c
OPS_KERNELS += ops/pkt.c
OPS_KERNELS += ops/sp.c
OPS_KERNELS += ops/cc.c
OPS_KERNELS += ops/nst.c
OPS_KERNELS += ops/fsp.c
OPS_KERNELS += ops/ab.c
OPS_KERNELS += ops/vid.c
OPS_KERNELS += ops/ft.c
OPS_KERNELS += ops/crd.c
OPS_KERNELS += ops/abf.c
OPS_KERNELS += ops/hcl.c
OPS_HDRS = ops/kd_op.h ops/kd_ops_util.h ops/kd_unary.h ops/kd_loss.h \
	ops/kd_pool.h ops/kd_softmax.h ops/kd_kl.h ops/kd_gemm.h ops/kd_mix.h \
	ops/kd_sgemm_small.h ops/kd_gan.h ops/kd_rel.h ops/kd_crd.h \
	ops/kd_dw_hwc.h ops/kd_simd.h ops/kd_wino.h ops/kd_bn.h

noinst_LIBRARIES += ops/libops.a
ops_libops_a_SOURCES = ops/registry.c ops/attr.c ops/kd_sgemm_small.c ops/kd_dw_hwc.c ops/kd_wino.c \
	$(OPS_KERNELS) $(OPS_HDRS)
nodist_ops_libops_a_SOURCES = ops/ops.def
# ops/ops.def is generated in the build tree; registry.c includes "ops/ops.def".
ops_libops_a_CPPFLAGS = -I$(top_builddir) $(AM_CPPFLAGS)
# The kernels' loops are written to vectorize (restrict, branch-free bodies);
# GCC's -O2 cost model (very-cheap) skips any loop that needs a runtime
# alias or trip-count check, which is most of them.  Not -ffast-math: the
# vectorizer still never reorders a floating-point reduction.
ops_libops_a_CFLAGS = $(AM_CFLAGS) -fvect-cost-model=dynamic
OPS_LIBS += ops/libops.a
EXTRA_DIST += ops/README.md bench/bench_ops.c

# ops/ops.def: KD_OP(<name>) for every file of OPS_KERNELS, in order.  Written
# only when it changes, so that an unrelated Makefile change rebuilds nothing.
BUILT_SOURCES += ops/ops.def
CLEANFILES += ops/ops.def
ops/ops.def: Makefile
	$(AM_V_GEN)$(MKDIR_P) ops && \
	{ echo '/* generated from OPS_KERNELS in ops/local.mk: do not edit */'; \
	  for f in $(OPS_KERNELS); do b=$${f##*/}; echo "KD_OP($${b%.c})"; done; } > $@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
ops/libops_a-registry.$(OBJEXT): ops/ops.def

# The op tests: forward vs naive double references, central-difference
# gradient checks, "backward adds" checks, for every op of the registry.
check_PROGRAMS += tests/ops/test_ops
TESTS += tests/ops/test_ops
tests_ops_test_ops_SOURCES = tests/ops/test_ops.c tests/unit.h tests/ops/ref_net.h tests/ops/ref_zoo.h
tests_ops_test_ops_LDADD = ops/libops.a $(BLAS_LIBS) $(CUNIT_LIBS) $(M_LIBS)

# The zoo losses against PyTorch: golden values written by
# tests/ops/gen_zoo_golden.py (run by hand; CI needs no Python here).
check_PROGRAMS += tests/ops/test_zoo_golden
TESTS += tests/ops/test_zoo_golden
tests_ops_test_zoo_golden_SOURCES = tests/ops/test_zoo_golden.c tests/unit.h
tests_ops_test_zoo_golden_LDADD = ops/libops.a $(BLAS_LIBS) $(CUNIT_LIBS) $(M_LIBS)
EXTRA_DIST += tests/ops/zoo_golden.txt tests/ops/gen_zoo_golden.py

# The small-M sgemm that conv2d uses (ops/kd_sgemm_small.c): every path
# this CPU runs against a double reference.
check_PROGRAMS += tests/ops/test_sgemm_small
TESTS += tests/ops/test_sgemm_small
tests_ops_test_sgemm_small_SOURCES = tests/ops/test_sgemm_small.c tests/unit.h
tests_ops_test_sgemm_small_LDADD = ops/libops.a $(BLAS_LIBS) $(CUNIT_LIBS) $(M_LIBS)

# The benchmark is built by `make` (so that it never runs stale kernels)
# and never run by `make check`.
noinst_PROGRAMS = bench/bench_ops
bench_bench_ops_SOURCES = bench/bench_ops.c
bench_bench_ops_LDADD = ops/libops.a $(BLAS_LIBS) $(M_LIBS)
CLEANFILES += bench/bench_ops$(EXEEXT)

# One man page per op, named after its file.
dist_man7_MANS = $(OPS_KERNELS:ops/%.c=man/kdr-%.7)
