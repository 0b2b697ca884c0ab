## data/local.mk — the data library (loaders, augmentation, batches) and its
## tests.  Included by the top-level Makefile.am; paths are relative to the
## top directory; every list is extended with +=.
##
## The batcher runs one POSIX thread: the library and its tests are built
## and linked with -pthread (glibc >= 2.34 has pthreads in libc, but the
## flag keeps other systems right).

DATA_CSRC = data/dataset.c data/idx.c data/cifar.c data/image_folder.c \
	data/sequences.c data/raw.h data/raw_synth.c data/jpeg.c data/loader.c data/registry.c
DATA_HSRC = data/data.h data/data_int.h data/loaders.h data/loaders.def

noinst_LIBRARIES += data/libdata.a
data_libdata_a_SOURCES = $(DATA_CSRC) $(DATA_HSRC)
data_libdata_a_CFLAGS = $(AM_CFLAGS) -pthread
# What a program linking data/libdata.a needs: DATA_LIBS in its LDADD and
# DATA_PTHREAD in its LDFLAGS (automake wants -pthread there, e.g.
# kdrun_LDFLAGS = $(AM_LDFLAGS) $(DATA_PTHREAD)).
DATA_LIBS = data/libdata.a $(PNG_LIBS) $(JPEG_LIBS) $(Z_LIBS) $(M_LIBS)
DATA_PTHREAD = -pthread

EXTRA_DIST += data/README.md

DATA_TESTS = tests/data/test_formats tests/data/test_sequences \
	tests/data/test_batches tests/data/test_loaders tests/data/test_raw \
	tests/data/test_raw_val
check_PROGRAMS += $(DATA_TESTS)
TESTS += $(DATA_TESTS)
DATA_TEST_LDADD = $(DATA_LIBS) $(CUNIT_LIBS)

tests_data_test_raw_SOURCES = tests/data/test_raw.c tests/data/data_test.h tests/unit.h
tests_data_test_raw_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/data
tests_data_test_raw_LDADD = $(DATA_TEST_LDADD)
tests_data_test_raw_LDFLAGS = $(AM_LDFLAGS) $(DATA_PTHREAD)
# raw_synth's val split end to end (a tiny run on generated photos)
TESTS += tests/cli/raw_val_cli.sh
EXTRA_DIST += tests/cli/raw_val_cli.sh
tests_data_test_raw_val_SOURCES = tests/data/test_raw_val.c tests/data/data_test.h tests/unit.h
tests_data_test_raw_val_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/data
tests_data_test_raw_val_LDADD = $(DATA_TEST_LDADD)
tests_data_test_raw_val_LDFLAGS = $(AM_LDFLAGS) $(DATA_PTHREAD)
tests_data_test_formats_SOURCES = tests/data/test_formats.c \
	tests/data/data_test.h tests/unit.h
tests_data_test_formats_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/data
tests_data_test_formats_LDADD = $(DATA_TEST_LDADD)
tests_data_test_formats_LDFLAGS = $(AM_LDFLAGS) $(DATA_PTHREAD)
tests_data_test_sequences_SOURCES = tests/data/test_sequences.c \
	tests/data/data_test.h tests/unit.h
tests_data_test_sequences_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/data
tests_data_test_sequences_LDADD = $(DATA_TEST_LDADD)
tests_data_test_sequences_LDFLAGS = $(AM_LDFLAGS) $(DATA_PTHREAD)
tests_data_test_batches_SOURCES = tests/data/test_batches.c \
	tests/data/data_test.h tests/unit.h
tests_data_test_batches_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/data
tests_data_test_batches_CFLAGS = $(AM_CFLAGS) -pthread
tests_data_test_batches_LDADD = $(DATA_TEST_LDADD)
tests_data_test_batches_LDFLAGS = $(AM_LDFLAGS) $(DATA_PTHREAD)
# The registry; it also holds each entry against its recipe builtin (lang/)
# and its man page.
tests_data_test_loaders_SOURCES = tests/data/test_loaders.c \
	tests/data/data_test.h tests/unit.h \
	runtime/loader_builtins.c runtime/loader_builtins.h
tests_data_test_loaders_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/data
tests_data_test_loaders_LDADD = $(DATA_LIBS) lang/liblang.a $(CUNIT_LIBS)
tests_data_test_loaders_LDFLAGS = $(AM_LDFLAGS) $(DATA_PTHREAD)

# One page per loader (man/kdr-NAME.7, like the ops').
dist_man_MANS += man/kdr-idx.7 man/kdr-cifar10.7 man/kdr-cifar100.7 \
	man/kdr-cinic10.7 man/kdr-image_folder.7 man/kdr-sequences.7 \
	man/kdr-synth_sequences.7 man/kdr-raw_synth.7
