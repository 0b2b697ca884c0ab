#!/bin/sh
# fmnist_kd_e2e.sh KDRUN SRCDIR -- `make bench-e2e`: recipes/classic/fmnist_kd.kdr
# run by kdrun and the same experiment in plain PyTorch
# (bench/fmnist_kd_torch.py), seed by seed, the two programs alternating;
# prints wall times (whole processes: start-up, data loading, both phases,
# checkpoints, evaluations), CPU seconds (user + system, from /usr/bin/time:
# on a loaded machine the wall time of each depends on what else runs) and
# test accuracies side by side.
#
# Settings (environment):
#   KD_E2E_LIMIT    training images (default 10000: the recipe as written)
#   KD_E2E_EPOCHS   epochs per phase (default 5: the recipe as written)
#   KD_E2E_THREADS  threads of both programs (default 2)
#   KD_E2E_SEEDS    seeds, e.g. "1 2 3" (default "1"; the recipe's is 1)
#   KD_E2E_PYTHON   interpreter with torch (default /usr/bin/python3)
#   KD_E2E_DATA     the Fashion-MNIST IDX directory (default the recipe's)
# e.g. a shrunken run in a few minutes:
#   make bench-e2e KD_E2E_LIMIT=3000 KD_E2E_EPOCHS=2 KD_E2E_THREADS=1
set -u
KDRUN=${1:?usage: fmnist_kd_e2e.sh KDRUN SRCDIR}
SRCDIR=${2:?usage: fmnist_kd_e2e.sh KDRUN SRCDIR}
LIMIT=${KD_E2E_LIMIT:-10000}
EPOCHS=${KD_E2E_EPOCHS:-5}
THREADS=${KD_E2E_THREADS:-2}
SEEDS=${KD_E2E_SEEDS:-1}
PY=${KD_E2E_PYTHON:-/usr/bin/python3}
DATA=${KD_E2E_DATA:-/usr/share/datasets/fashion-mnist}
RECIPE=$(cd "$SRCDIR/recipes/classic" && pwd)/fmnist_kd.kdr
TORCH=$(cd "$SRCDIR/bench" && pwd)/fmnist_kd_torch.py
case $KDRUN in /*) ;; *) KDRUN=$(pwd)/$KDRUN ;; esac

if [ ! -d "$DATA" ]; then
    echo "bench-e2e: no Fashion-MNIST in $DATA (skipped)"; exit 77
fi
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "bench-e2e: $PY has no torch (skipped)"; exit 77
fi
if [ "$LIMIT" = 10000 ] && [ "$EPOCHS" = 5 ]; then
    setting="the recipe as written (limit 10000, 5 epochs per phase)"
else
    setting="SHRUNKEN: limit $LIMIT, $EPOCHS epochs per phase (the recipe: 10000, 5)"
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kdrun-e2e.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT INT TERM

# run CMD... under /usr/bin/time: OUT gets "WALL CPU" (seconds)
timed() {
    out=$1; shift
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%e %U %S' -o "$out.t" "$@"
        rc=$?
        awk '{ printf "%.1f %.1f\n", $1, $2 + $3 }' "$out.t" >"$out"
    else
        t0=$(date +%s.%N); "$@"; rc=$?; t1=$(date +%s.%N)
        echo "$t1 $t0" | awk '{ printf "%.1f -\n", $1 - $2 }' >"$out"
    fi
    return $rc
}
# VALUE of 'metric: M' in a report.yaml
metric() { awk -v m="metric: $2" '$0 ~ m"$" { getline; sub(/.*value: /, ""); print; exit }' "$1"; }

echo "bench-e2e: fmnist_kd, $setting; $THREADS threads; seeds $SEEDS"
echo "CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-5s %8s %8s %7s %8s %8s %7s   %-15s %-15s\n' seed "kdrun s" "torch s" ratio \
    "kd CPU" "tch CPU" "CPU rt" "kdrun top1 T/S" "torch top1 T/S"
rows=""
for s in $SEEDS; do
    mkdir -p "$TMP/k$s"
    (cd "$TMP/k$s" && timed "$TMP/k$s.time" "$KDRUN" -q -t "$THREADS" --set seed="$s" \
        --set data.fmnist.limit="$LIMIT" --set epochs="$EPOCHS" "$RECIPE" >log 2>&1)
    krc=$?
    timed "$TMP/t$s.time" "$PY" "$TORCH" --data "$DATA" --limit "$LIMIT" --epochs "$EPOCHS" \
        --threads "$THREADS" --seed "$s" >"$TMP/t$s.log" 2>&1
    trc=$?
    rep=$(ls "$TMP"/k$s/runs/fmnist_kd/*/report.yaml 2>/dev/null | head -1)
    if [ $krc -ne 0 ] || [ -z "$rep" ] || [ $trc -ne 0 ]; then
        echo "bench-e2e: seed $s failed (kdrun exit $krc, PyTorch exit $trc):"
        tail -5 "$TMP/k$s/log" "$TMP/t$s.log"
        exit 1
    fi
    kt=$(metric "$rep" "teacher top1 on fmnist.test")
    ks=$(metric "$rep" "student top1 on fmnist.test")
    set -- $(sed -n 's/^RESULT //p' "$TMP/t$s.log")
    pt=$2 ps=$3
    read kw kc <"$TMP/k$s.time"
    read pw pc <"$TMP/t$s.time"
    ratio=$(echo "$pw $kw" | awk '{ printf "%.2fx", $1 / $2 }')
    cratio=$(echo "$pc $kc" | awk '$2 + 0 > 0 { printf "%.2fx", $1 / $2; next } { print "-" }')
    printf '%-5s %8s %8s %7s %8s %8s %7s   %-15s %-15s\n' "$s" "$kw" "$pw" "$ratio" "$kc" "$pc" \
        "$cratio" "$kt/$ks" "$pt/$ps"
    rows="$rows$kw $pw $kc $pc $kt $ks $pt $ps
"
done
printf '%s' "$rows" | awk '
    { for (i = 1; i <= 8; i++) { s[i] += $i; q[i] += $i * $i } n++ }
    END {
        if (n < 2) exit
        for (i = 1; i <= 8; i++) {
            m[i] = s[i] / n; v = (q[i] - n * m[i] * m[i]) / (n - 1)
            d[i] = v > 0 ? sqrt(v) : 0
        }
        printf "mean  %8.1f %8.1f %6.2fx %8.1f %8.1f %6.2fx\n", m[1], m[2], m[2] / m[1],
            m[3], m[4], m[4] / m[3]
        printf "test top-1 (mean +- std over %d seeds): kdrun teacher %.2f +- %.2f, student %.2f +- %.2f;" \
            " PyTorch teacher %.2f +- %.2f, student %.2f +- %.2f\n", n, m[5], d[5], m[6], d[6],
            m[7], d[7], m[8], d[8]
    }'
echo "ratio, CPU rt = PyTorch / kdrun wall and CPU seconds (>1: kdrun faster); T/S = teacher/student top-1 % on fmnist.test"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
