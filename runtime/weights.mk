## runtime/weights.mk — tests of weights in (`from`), models out, kdrun eval (the
## PyTorch round trip, skipped without python3-torch), the zoo of an installed
## kdrun, and kdrun(1) against --help.
TESTS += tests/tools/torch_roundtrip.sh tests/tools/zoo_installed.sh tests/tools/help_man.sh
EXTRA_DIST += tests/tools/torch_roundtrip.sh tests/tools/zoo_installed.sh tests/tools/help_man.sh tests/tools/torch_resnet.py tools/kdrun_weights.py
