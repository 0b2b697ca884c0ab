#!/bin/sh
# labelled loss terms in metrics.csv: tests/runtime/term_labels.py
exec /usr/bin/python3 "${srcdir:-.}/tests/runtime/term_labels.py" ./kdrun
