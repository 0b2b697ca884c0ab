#!/bin/sh
# zoo_installed.sh — a kdrun outside its build tree (an installed one) reads
# its installed data directory's zoo, never the build tree's recipes/ (whose
# path is compiled in): with no installed zoo and no KDRUN_PATH, `use
# "nets/resnet.kdr"` is not found, and kdrun says why.  Skipped (77) when a
# zoo is installed on this machine.
set -u
src=$(cd "${srcdir:-.}" && pwd)
kdrun=$(pwd)/kdrun
fail() { echo "FAIL: $*"; exit 1; }
zoo=$("$kdrun" --help | sed -n 's/.*else \(\/.*\/recipes\)$/\1/p')
[ -n "$zoo" ] || fail "kdrun --help does not name the installed zoo"
if [ -d "$zoo" ]; then echo "SKIP: a zoo is installed in $zoo"; exit 77; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/zoo_installed.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$kdrun" "$work/kdrun" && cp "$src/recipes/classic/fmnist_kd.kdr" "$work/r.kdr" || fail "copy"
cd "$work" || exit 1
out=$(env -u KDRUN_PATH ./kdrun --check --color=never r.kdr 2>&1); rc=$?
[ "$rc" = 3 ] || fail "exit $rc, expected 3: $out"
echo "$out" | grep -qF "warning: no zoo: $zoo is not a directory" || fail "no warning about the zoo: $out"
echo "$out" | grep -qF "cannot find 'nets/resnet.kdr'" || fail "the build tree's zoo was read: $out"
# the build tree's own kdrun reads the build tree's zoo
out=$(env -u KDRUN_PATH "$kdrun" --check --color=never r.kdr 2>&1) || fail "build tree kdrun: $out"
echo PASS
