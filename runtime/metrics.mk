## runtime/metrics.mk — PSNR, SSIM, HR/NDCG/MRR@k for `evaluate` (included
## by Makefile.am after runtime/local.mk).

runtime_libruntime_a_SOURCES += runtime/metrics.h runtime/metrics.c

METRICS_TESTS = tests/runtime/test_metrics
check_PROGRAMS += $(METRICS_TESTS)
TESTS += $(METRICS_TESTS)
tests_runtime_test_metrics_SOURCES = tests/runtime/test_metrics.c tests/unit.h
tests_runtime_test_metrics_LDADD = runtime/libruntime.a $(M_LIBS) $(CUNIT_LIBS)

# next-item evaluation and the popularity baseline (runtime/task_seq.c)
check_PROGRAMS += tests/runtime/test_task_seq
TESTS += tests/runtime/test_task_seq
tests_runtime_test_task_seq_SOURCES = tests/runtime/test_task_seq.c tests/unit.h
tests_runtime_test_task_seq_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

# sequences end to end through ./kdrun: recipes/adarec/ml2k.kdr on a
# generated ratings.dat, and a bad line's exit status 4
check_PROGRAMS += tests/cli/test_seq_cli
TESTS += tests/cli/test_seq_cli
tests_cli_test_seq_cli_SOURCES = tests/cli/test_seq_cli.c tests/unit.h
tests_cli_test_seq_cli_LDADD = $(CUNIT_LIBS)
tests/cli/test_seq_cli.$(OBJEXT): kdrun$(EXEEXT)
