## runtime/report.mk — learning-curve SVG, `kdrun report`, sweep tables
## (included by Makefile.am after runtime/local.mk).

runtime_libruntime_a_SOURCES += runtime/report.h runtime/report.c \
	runtime/textbuf.h runtime/textbuf.c runtime/yaml_io.h runtime/yaml_io.c

REPORT_TESTS = tests/runtime/test_report
check_PROGRAMS += $(REPORT_TESTS)
TESTS += $(REPORT_TESTS)

tests_runtime_test_report_SOURCES = tests/runtime/test_report.c tests/unit.h
tests_runtime_test_report_LDADD = $(RUNTIME_LDADD) $(YAML_LIBS) $(CUNIT_LIBS)

# The string buffer, the atomic writer and the YAML emitter/reader that
# every output goes through.
OUTPUT_TESTS = tests/runtime/test_textbuf tests/runtime/test_yaml_io
check_PROGRAMS += $(OUTPUT_TESTS)
TESTS += $(OUTPUT_TESTS)
tests_runtime_test_textbuf_SOURCES = tests/runtime/test_textbuf.c tests/unit.h
tests_runtime_test_textbuf_LDADD = runtime/libruntime.a $(CUNIT_LIBS)
tests_runtime_test_yaml_io_SOURCES = tests/runtime/test_yaml_io.c tests/unit.h
tests_runtime_test_yaml_io_LDADD = runtime/libruntime.a $(YAML_LIBS) $(M_LIBS) $(CUNIT_LIBS)
