#!/bin/sh
# a per-step learning rate inside `alternate`, against PyTorch:
# tests/runtime/alternate_lr_torch.py (exit 77: skipped without python3-torch)
exec /usr/bin/python3 "${srcdir:-.}/tests/runtime/alternate_lr_torch.py" ./kdrun
