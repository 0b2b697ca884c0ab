#!/bin/sh
# The CIFAR-100 and CINIC-10 DFA recipes, one epoch on small generated files
# in their formats: tests/cli/dfa_recipes.py.
exec /usr/bin/python3 "${srcdir:-.}/tests/cli/dfa_recipes.py" ./kdrun "${srcdir:-.}"
