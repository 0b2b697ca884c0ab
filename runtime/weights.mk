## runtime/weights.mk — weights in (`from`), models out, kdrun eval: the
## PyTorch round trip (skipped when /usr/bin/python3 has no torch).
TESTS += tests/tools/torch_roundtrip.sh tests/tools/zoo_installed.sh
EXTRA_DIST += tests/tools/torch_roundtrip.sh tests/tools/zoo_installed.sh tests/tools/torch_resnet.py tools/kdrun_weights.py
