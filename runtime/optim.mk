## runtime/optim.mk — optimizers, schedules and safetensors (included by
## Makefile.am after runtime/local.mk).

runtime_libruntime_a_SOURCES += runtime/optim.h runtime/optim.c \
	runtime/schedule.c runtime/safetensors.h runtime/safetensors_int.h \
	runtime/safetensors_json.c runtime/safetensors_read.c runtime/safetensors_write.c \
	runtime/crc32.h runtime/crc32.c

OPTIM_TESTS = tests/runtime/test_optim tests/runtime/test_safetensors
check_PROGRAMS += $(OPTIM_TESTS)
TESTS += $(OPTIM_TESTS)

tests_runtime_test_optim_SOURCES = tests/runtime/test_optim.c tests/unit.h
tests_runtime_test_optim_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)
tests_runtime_test_safetensors_SOURCES = tests/runtime/test_safetensors.c tests/unit.h
tests_runtime_test_safetensors_LDADD = $(RUNTIME_LDADD) $(CUNIT_LIBS)

# Golden data and the scripts that regenerate them (see their headers).
EXTRA_DIST += tests/runtime/optim_golden.txt tests/runtime/gen_optim_golden.py \
	tests/runtime/st_python.safetensors tests/runtime/gen_st_golden.py
