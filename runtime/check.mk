## runtime/check.mk — what `kdrun --check` shares with the run: data
## declarations through the loader registry (runtime/data_decl.c) and a
## phase's graph without an executor (runtime/phase_graph.c); and the
## golden tests of --check.  Included by Makefile.am after runtime/local.mk
## and data/local.mk.

runtime_libruntime_a_SOURCES += runtime/data_decl.h runtime/data_decl.c
# check_models.c (in libruntime.a) reads the loader registry of data/.
RUNTIME_LDADD += $(DATA_LIBS)
runtime_libruntime_a_SOURCES += runtime/phase_graph.h runtime/phase_graph.c
