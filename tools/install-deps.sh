#!/bin/sh
# install-deps.sh — install everything needed to build, test and run kdrun
# on Debian 12 (bookworm).  Runs apt-get directly as root, through sudo
# otherwise.  Used by README.md and .ci/run.  python3-torch is for the tests
# only (the PyTorch conformance test and make bench); kdrun never uses it.
# python3-skimage brings the sample photos recipes/raw_denoise reads.
#
#   tools/install-deps.sh          build, test and run dependencies
#   tools/install-deps.sh --fuzz   also clang + libFuzzer runtime and AFL++
#                                  (for `make fuzz`)
set -eu

PACKAGES="
  build-essential autoconf automake libtool pkg-config
  flex bison
  libyaml-dev libopenblas-dev libcunit1-dev zlib1g-dev libpng-dev
  libjpeg62-turbo-dev
  mandoc
  dataset-fashion-mnist
  python3-torch python3-skimage
  libopenmpi-dev openmpi-bin
"

case "${1:-}" in
    --fuzz) PACKAGES="$PACKAGES clang libclang-rt-14-dev afl++" ;;
    "") ;;
    *) echo "usage: tools/install-deps.sh [--fuzz]" >&2; exit 2 ;;
esac

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "install-deps.sh: not root and no sudo: run it as root" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $PACKAGES
