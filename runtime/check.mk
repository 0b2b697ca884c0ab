## runtime/check.mk — what `kdrun --check` shares with the run: data
## declarations through the loader registry (runtime/data_decl.c), a
## phase's graph without an executor (runtime/phase_graph.c) and the
## loaders' recipe builtins (runtime/loader_builtins.c); and their tests.
## Included by Makefile.am after runtime/local.mk and data/local.mk.

runtime_libruntime_a_SOURCES += runtime/data_decl.h runtime/data_decl.c \
	runtime/phase_graph.h runtime/phase_graph.c \
	runtime/loader_builtins.h runtime/loader_builtins.c
# libruntime.a reads the loader registry of data/ (check_models.c,
# data_decl.c; op_builtins.c registers the loaders' builtins): whatever
# links it links data/ after it.
RUNTIME_LDADD += $(DATA_LIBS)
TEST_LDADD += $(DATA_LIBS)

# data declarations through the registry, a phase's graph
RUNTIME_TESTS += tests/runtime/test_data_decl
tests_runtime_test_data_decl_SOURCES = tests/runtime/test_data_decl.c tests/unit.h
tests_runtime_test_data_decl_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

# Golden outputs of kdrun --check (tests/cli/golden): it runs ./kdrun.
CHECK_TESTS = tests/cli/test_check_golden
check_PROGRAMS += $(CHECK_TESTS)
TESTS += $(CHECK_TESTS)
tests_cli_test_check_golden_SOURCES = tests/cli/test_check_golden.c tests/unit.h
tests_cli_test_check_golden_LDADD = $(CUNIT_LIBS)
tests/cli/test_check_golden.$(OBJEXT): kdrun$(EXEEXT)
EXTRA_DIST += tests/cli/golden
# kdrun under faults (tests/cli/test_faults.c): it runs ./kdrun.
check_PROGRAMS += tests/cli/test_faults
TESTS += tests/cli/test_faults
tests_cli_test_faults_SOURCES = tests/cli/test_faults.c tests/unit.h runtime/crc32.c
tests_cli_test_faults_LDADD = $(CUNIT_LIBS)
tests/cli/test_faults.$(OBJEXT): kdrun$(EXEEXT)
