## runtime/report.mk — learning-curve SVG, `kdrun report`, sweep tables
## (included by Makefile.am after runtime/local.mk).

runtime_libruntime_a_SOURCES += runtime/report.h runtime/report.c

REPORT_TESTS = tests/runtime/test_report
check_PROGRAMS += $(REPORT_TESTS)
TESTS += $(REPORT_TESTS)

tests_runtime_test_report_SOURCES = tests/runtime/test_report.c tests/unit.h
tests_runtime_test_report_LDADD = $(RUNTIME_LDADD) $(YAML_LIBS) $(CUNIT_LIBS)
