## runtime/exec.mk — the executor, the activation memory plan, graph_ops
## (adding op nodes from C), their tests and `make bench`.  Included by
## Makefile.am after runtime/local.mk; paths relative to the top directory.

runtime_libruntime_a_SOURCES += runtime/exec.h runtime/exec.c runtime/exec_fold.h runtime/exec_fold.c runtime/exec_int.h runtime/exec_cache.h runtime/exec_cache.c runtime/plan_mem.c \
	runtime/graph_ops.h runtime/graph_ops.c

# test_exec counts malloc/calloc/realloc calls made by the statically linked
# runtime and ops code (-Wl,--wrap) to prove that a training step allocates
# nothing.
RUNTIME_TESTS += tests/runtime/test_fold
tests_runtime_test_fold_SOURCES = tests/runtime/test_fold.c tests/runtime/kd_pair.h tests/unit.h
tests_runtime_test_fold_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)
RUNTIME_TESTS += tests/runtime/test_tcache
tests_runtime_test_tcache_SOURCES = tests/runtime/test_tcache.c tests/runtime/kd_pair.h tests/unit.h
tests_runtime_test_tcache_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)
RUNTIME_TESTS += tests/runtime/test_exec tests/runtime/conformance/test_conformance \
	tests/runtime/conformance/test_unet_conformance
tests_runtime_test_exec_SOURCES = tests/runtime/test_exec.c tests/unit.h
tests_runtime_test_exec_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)
tests_runtime_test_exec_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=malloc \
	-Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=aligned_alloc \
	-Wl,--wrap=posix_memalign

# PyTorch conformance (skipped, exit 77, without python3 + torch): ResNet-20 and NextItNet
# logits, loss and parameter gradients against torch within 1e-4 relative.
tests_runtime_conformance_test_conformance_SOURCES = tests/unit.h tests/runtime/conformance/kdt.h \
	tests/runtime/conformance/test_conformance.c
tests_runtime_conformance_test_conformance_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)
tests_runtime_conformance_test_unet_conformance_SOURCES = tests/unit.h tests/runtime/conformance/kdt.h \
	tests/runtime/conformance/test_unet_conformance.c
tests_runtime_conformance_test_unet_conformance_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)
EXTRA_DIST += tests/runtime/conformance/unet_fa_torch.py
EXTRA_DIST += tests/runtime/conformance/resnet_torch.py \
	tests/runtime/conformance/nextitnet_torch.py \
	tests/runtime/conformance/README.md

# ---- make bench: kdrun vs PyTorch training throughput ------------------------
# bench/bench_kd measures ResNet-20, ResNet-56, WRN-16-2 training steps and a
# KD step (ResNet-56 teacher + ResNet-20 student) and a NextItNet step
# (sequences: 3,000 items, 50 steps, 256 channels) at batch 128 on 2 threads,
# runs bench/bench_torch.py (when python3 has torch) and prints one table.
# Built by `make` like kdrun: bench/bench_kd --one links the runtime, and a
# bench_kd older than it would time old code.
noinst_PROGRAMS += bench/bench_kd
bench_bench_kd_SOURCES = bench/bench_kd.c bench/fma_probe.c bench/fma_probe.h
bench_bench_kd_LDADD = $(RUNTIME_LDADD)
CLEANFILES += bench/bench_kd$(EXEEXT)
EXTRA_DIST += bench/bench_torch.py
BENCH_ARGS =

bench: bench/bench_kd$(EXEEXT)
	bench/bench_kd$(EXEEXT) --torch $(srcdir)/bench/bench_torch.py \
	  --recipes $(srcdir)/recipes $(BENCH_ARGS)

.PHONY: bench

# make bench-e2e: recipes/classic/fmnist_kd.kdr by kdrun and the same
# experiment in PyTorch (bench/fmnist_kd_torch.py), wall times and test
# accuracies side by side; KD_E2E_LIMIT/EPOCHS/THREADS/SEEDS shrink it
EXTRA_DIST += bench/fmnist_kd_torch.py bench/fmnist_kd_e2e.sh
bench-e2e: kdrun$(EXEEXT)
	$(SHELL) $(srcdir)/bench/fmnist_kd_e2e.sh $(abs_top_builddir)/kdrun$(EXEEXT) $(srcdir)
.PHONY: bench-e2e
