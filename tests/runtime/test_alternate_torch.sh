#!/bin/sh
# `alternate` against PyTorch: tests/runtime/alternate_torch.py (exit 77:
# skipped when python3-torch is not installed).
exec /usr/bin/python3 "${srcdir:-.}/tests/runtime/alternate_torch.py" ./kdrun
