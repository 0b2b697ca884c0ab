## runtime/local.mk — the graph compiler and executor (included by Makefile.am).
## Other runtime fragments (runtime/exec.mk, runtime/optim.mk) append to
## runtime_libruntime_a_SOURCES and to RUNTIME_TESTS.

noinst_LIBRARIES += runtime/libruntime.a
runtime_libruntime_a_SOURCES = runtime/graph.h runtime/graph.c \
	runtime/compile.c runtime/check_models.c runtime/check_plan.c runtime/train.h runtime/train.c \
	runtime/train_step.h runtime/train_step.c runtime/teacher_cache.h runtime/teacher_cache.c \
	runtime/run.h runtime/run.c runtime/run_plan.h runtime/run_plan.c \
	runtime/state.h runtime/state.c runtime/routes.h runtime/routes.c \
	runtime/evaluate.h runtime/evaluate.c runtime/run_dir.h runtime/run_dir.c \
	runtime/sha256.h runtime/sha256.c runtime/sweep.h runtime/sweep.c \
	runtime/world.h runtime/world.c runtime/sweep_ranks.h runtime/sweep_ranks.c \
	runtime/child_run.h runtime/child_run.c \
	runtime/dp.h runtime/dp.c
# the tasks: what training and evaluation do with each kind of data
runtime_libruntime_a_SOURCES += runtime/task.h runtime/task.c runtime/task_classify.c \
	runtime/task_restore.c runtime/task_seq.h runtime/task_seq.c \
	runtime/op_state.c runtime/index_input.h runtime/index_input.c
# weights in from safetensors files, trained models out (weights.h)
runtime_libruntime_a_SOURCES += runtime/weights.h runtime/weights_in.c runtime/models_out.c \
	runtime/eval_cmd.h runtime/eval_cmd.c runtime/run_logs.h runtime/run_logs.c runtime/term_label.c runtime/timing_rows.c \
	runtime/recipe_copy.h runtime/recipe_copy.c
# the graph compiler's rooms (compile.c above) and the op builtins
runtime_libruntime_a_SOURCES += runtime/compile_int.h runtime/compile_expr.c \
	runtime/compile_call.c runtime/compile_search.c runtime/compile_with.c \
	runtime/op_builtins.h runtime/op_builtins.c

RUNTIME_LDADD = runtime/libruntime.a $(OPS_LIBS) lang/liblang.a \
	$(BLAS_LIBS) $(M_LIBS)

RUNTIME_TESTS = tests/runtime/test_compile
tests_runtime_test_compile_SOURCES = tests/runtime/test_compile.c tests/unit.h
tests_runtime_test_compile_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

RUNTIME_TESTS += tests/runtime/test_sweep
tests_runtime_test_sweep_SOURCES = tests/runtime/test_sweep.c tests/unit.h
tests_runtime_test_sweep_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

RUNTIME_TESTS += tests/runtime/test_with
tests_runtime_test_with_SOURCES = tests/runtime/test_with.c tests/unit.h
tests_runtime_test_with_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

RUNTIME_TESTS += tests/runtime/test_search
tests_runtime_test_search_SOURCES = tests/runtime/test_search.c tests/unit.h
tests_runtime_test_search_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

# `alternate` against a PyTorch computation of the same two iterations
TESTS += tests/runtime/test_alternate_torch.sh
EXTRA_DIST += tests/runtime/test_alternate_torch.sh tests/runtime/alternate_torch.py
# a per-step learning rate inside `alternate` (a group in two steps), against PyTorch
TESTS += tests/runtime/test_alternate_lr_torch.sh
EXTRA_DIST += tests/runtime/test_alternate_lr_torch.sh tests/runtime/alternate_lr_torch.py
RUNTIME_TESTS += tests/runtime/test_timing_rows
tests_runtime_test_timing_rows_SOURCES = tests/runtime/test_timing_rows.c tests/unit.h
tests_runtime_test_timing_rows_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

# labelled loss terms (`TERM as NAME`): the per-term rows of metrics.csv
TESTS += tests/runtime/test_term_labels.sh
EXTRA_DIST += tests/runtime/test_term_labels.sh tests/runtime/term_labels.py
# the CIFAR-100 and CINIC-10 DFA recipes end to end on small generated files
TESTS += tests/cli/test_dfa_recipes.sh
EXTRA_DIST += tests/cli/test_dfa_recipes.sh tests/cli/dfa_recipes.py
RUNTIME_TESTS += tests/runtime/test_shared
tests_runtime_test_shared_SOURCES = tests/runtime/test_shared.c tests/unit.h
tests_runtime_test_shared_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)
