## runtime/weights.mk — tests of weights in (`from`), models out, kdrun eval (the
## PyTorch round trip, skipped without python3-torch), the zoo of an installed
## kdrun, and kdrun(1) against --help.
TESTS += tests/tools/torch_roundtrip.sh tests/tools/zoo_installed.sh tests/tools/help_man.sh
EXTRA_DIST += tests/tools/torch_roundtrip.sh tests/tools/zoo_installed.sh tests/tools/help_man.sh tests/tools/torch_resnet.py tools/kdrun_weights.py

## The weights converter, installed as kdrun-weights (a copy of
## tools/kdrun_weights.py, which the source tree's tests and docs run), with
## its manual page; tests/tools/install_weights.sh installs into a scratch
## DESTDIR and runs the installed copy.
bin_SCRIPTS = kdrun-weights
CLEANFILES += kdrun-weights
kdrun-weights: $(srcdir)/tools/kdrun_weights.py
	$(AM_V_GEN)cp $(srcdir)/tools/kdrun_weights.py $@ && chmod +x $@
dist_man_MANS += man/kdrun-weights.1
TESTS += tests/tools/install_weights.sh
EXTRA_DIST += tests/tools/install_weights.sh
