## runtime/report.mk — what runs leave for people to read: learning-curve
## SVG, `kdrun report`, sweep tables, and the string buffer, atomic writer
## and YAML emitter/reader every output goes through (included by
## Makefile.am after runtime/local.mk).

# report.h is the interface of the report rooms: plot_svg.c (curves.svg),
# sweep_report.c (a sweep's tables, report.yaml, tables.md), report_load.c
# (`kdrun report`); table.c prints the tables both of the last two show.
# textbuf.c (kd_strbuf, kd_write_atomic) and yaml_io.c (kd_yemit, kd_yfile)
# serve every writer of runtime/, safetensors included.
runtime_libruntime_a_SOURCES += runtime/report.h runtime/plot_svg.c \
	runtime/table.h runtime/table.c runtime/sweep_report.c runtime/report_load.c \
	runtime/textbuf.h runtime/textbuf.c runtime/yaml_io.h runtime/yaml_io.c

REPORT_TESTS = tests/runtime/test_report
check_PROGRAMS += $(REPORT_TESTS)
TESTS += $(REPORT_TESTS)

tests_runtime_test_report_SOURCES = tests/runtime/test_report.c tests/unit.h
tests_runtime_test_report_LDADD = $(RUNTIME_LDADD) $(YAML_LIBS) $(CUNIT_LIBS)

# textbuf and yaml_io on their own (test_textbuf links no libyaml).
OUTPUT_TESTS = tests/runtime/test_textbuf tests/runtime/test_yaml_io
check_PROGRAMS += $(OUTPUT_TESTS)
TESTS += $(OUTPUT_TESTS)
tests_runtime_test_textbuf_SOURCES = tests/runtime/test_textbuf.c tests/unit.h
tests_runtime_test_textbuf_LDADD = runtime/libruntime.a $(CUNIT_LIBS)
tests_runtime_test_yaml_io_SOURCES = tests/runtime/test_yaml_io.c tests/unit.h
tests_runtime_test_yaml_io_LDADD = runtime/libruntime.a $(YAML_LIBS) $(M_LIBS) $(CUNIT_LIBS)
