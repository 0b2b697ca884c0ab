#!/usr/bin/env bash
# same-metrics.sh — run every classic, efficacy and rco recipe small (a data
# limit, one epoch per phase, seed 1, 2 threads) and print one line per
# metrics.csv written: its SHA-256 and the recipe (and sweep point) it came
# from.  Run it before and after a change that must not alter results and
# diff the two outputs:
#
#   tools/same-metrics.sh ./kdrun > before.txt   # on the old commit
#   tools/same-metrics.sh ./kdrun > after.txt    # on the new one
#   diff before.txt after.txt && echo identical
#
# CIFAR recipes read small CIFAR-10/100 files generated here in the real
# binary formats (the data is deterministic, so the hashes are comparable).
#
#   tools/same-metrics.sh --old-rows ./kdrun
# hashes metrics.csv without the rows added since (per-term losses
# "train loss: TERM" and "lr"), to show the rows that were there before are
# unchanged, byte for byte.
set -euo pipefail
old_rows=0
if [ "${1:-}" = "--old-rows" ]; then old_rows=1; shift; fi
filter() { if [ "$old_rows" = 1 ]; then grep -v -E '^[^,]*,[^,]*,"(lr|train loss: .*)",'; else cat; fi; }
kdrun=$(readlink -f "${1:-./kdrun}")
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/same-metrics.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Small CIFAR files: 200 train and 100 test records, pixels and labels from
# a fixed formula.
python3 - "$work" <<'PY'
import os, sys
w = sys.argv[1]
def recs(n, labels, salt):
    out = bytearray()
    for r in range(n):
        lab = [(r * 7 + salt + k) % m for k, m in enumerate(labels)]
        out += bytes(lab)
        out += bytes(((r * 31 + p * 7 + salt) * 2654435761 >> 13) % 256 for p in range(3072))
    return bytes(out)
os.makedirs(f"{w}/c10"); os.makedirs(f"{w}/c100")
for i in range(1, 6):
    open(f"{w}/c10/data_batch_{i}.bin", "wb").write(recs(40, [10], i))
open(f"{w}/c10/test_batch.bin", "wb").write(recs(100, [10], 9))
open(f"{w}/c100/train.bin", "wb").write(recs(200, [20, 100], 1))
open(f"{w}/c100/test.bin", "wb").write(recs(100, [20, 100], 2))
PY

cd "$work"
for recipe in ${RECIPES:-"$top"/recipes/classic/*.kdr "$top"/recipes/efficacy/*.kdr "$top"/recipes/rco/*.kdr}; do
    name=$(basename "$(dirname "$recipe")")/$(basename "$recipe")
    copy="$work/$(basename "$recipe")"
    sed -e "s#\"/usr/share/datasets/cifar-10-batches-bin\"#\"$work/c10\"#" \
        -e "s#\"/usr/share/datasets/cifar-100-binary\"#\"$work/c100\"#" "$recipe" > "$copy"
    dataname=$(sed -n 's/^data \([a-z_0-9]*\) = .*/\1/p' "$copy" | head -1)
    # The efficacy sweeps name their epochs by constants and take a teacher
    # checkpoint at an epoch: shrink those instead of every phase's epochs.
    case $name in
        efficacy/fmnist_eskd.kdr) short=(--set teacher_depth=8 --set teacher_epochs=2
                                         --set student_epochs=1) ;;
        efficacy/cifar10_eskd.kdr) short=(--set teacher_depth=16 --set teacher_epochs=5
                                          --set phase.distill.epochs=1) ;;
        *) short=(--set epochs=1) ;;
    esac
    rm -rf runs
    status=0
    KDRUN_PATH="$top/recipes" "$kdrun" --threads 2 --set seed=1 "${short[@]}" \
        --set "data.$dataname.limit=300" --color=never "$copy" > log.txt 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        echo "FAILED $name (exit $status)"; tail -3 log.txt; continue
    fi
    find runs -name metrics.csv | sort | while read -r m; do
        point=${m#runs/*/*/}
        printf '%s  %s %s\n' "$(filter < "$m" | sha256sum | cut -c1-64)" "$name" "${point%metrics.csv}"
    done
done
