#!/bin/sh
# bench/mpi_walltime.sh — wall times of kdrun on 1 process and on 2 MPI
# ranks (one thread each), side by side in one run:
#   sweep:  recipes/efficacy/fmnist_eskd.kdr (12 points) shortened:
#           teacher_epochs=2, student_epochs=1, 2,000 training images
#   data-parallel: recipes/classic/fmnist_baseline.kdr, 3 epochs of
#           ResNet-8 on 20,000 images (batch 128), plain and --sync-bn
# Usage: bench/mpi_walltime.sh [KDRUN]   (kdrun built --with-mpi)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
kdrun=$(readlink -f "${1:-$top/kdrun}")
command -v mpirun >/dev/null || { echo "no mpirun: apt-get install openmpi-bin" >&2; exit 1; }
MPIRUN="mpirun --oversubscribe -np 2"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
work=$(mktemp -d "${TMPDIR:-/tmp}/kdrun-mpi-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
export KDRUN_RUNS=$work/runs KDRUN_PATH=$top/recipes
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

t() {   # t LABEL CMD...: wall seconds of CMD
    label=$1; shift
    s=$(date +%s.%N)
    "$@" > "$label.out" 2> "$label.err" || { echo "$label failed:" >&2; tail -5 "$label.err" >&2; exit 1; }
    e=$(date +%s.%N)
    awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }'
}
sweep="--set teacher_epochs=2 --set student_epochs=1 --set data.fmnist.limit=2000 --quiet"
s1=$(t sweep1 "$kdrun" --threads 1 $sweep "$top/recipes/efficacy/fmnist_eskd.kdr")
s2=$(t sweep2 $MPIRUN "$kdrun" --threads 1 $sweep "$top/recipes/efficacy/fmnist_eskd.kdr")
# the same sweep tables (from the line "sweep RUN_DIR ..." on), run
# directories aside; the points' own results come in rank order
sed -n '/^sweep /,$p' sweep1.out | sed 's#[^ (]*/fmnist_eskd/[0-9-]*##g' > a.txt
sed -n '/^sweep /,$p' sweep2.out | sed 's#[^ (]*/fmnist_eskd/[0-9-]*##g' > b.txt
same=$(cmp -s a.txt b.txt && echo "same tables" || echo "tables DIFFER")
dp="--set epochs=3 --set data.fmnist.limit=20000 --quiet"
d1=$(t dp1 "$kdrun" --threads 1 $dp "$top/recipes/classic/fmnist_baseline.kdr")
d2=$(t dp2 $MPIRUN "$kdrun" --threads 1 $dp "$top/recipes/classic/fmnist_baseline.kdr")
d3=$(t dp3 $MPIRUN "$kdrun" --threads 1 --sync-bn $dp "$top/recipes/classic/fmnist_baseline.kdr")
printf '%-44s %9s %9s %7s\n' "" "1 rank" "2 ranks" "ratio"
printf '%-44s %8.1fs %8.1fs %6.2fx  (%s)\n' "efficacy sweep, 12 points, --threads 1" "$s1" "$s2" "$(awk -v a="$s1" -v b="$s2" 'BEGIN { print a / b }')" "$same"
printf '%-44s %8.1fs %8.1fs %6.2fx\n' "data-parallel ResNet-8, 3 epochs, --threads 1" "$d1" "$d2" "$(awk -v a="$d1" -v b="$d2" 'BEGIN { print a / b }')"
printf '%-44s %8.1fs %8.1fs %6.2fx\n' "  the same with --sync-bn" "$d1" "$d3" "$(awk -v a="$d1" -v b="$d3" 'BEGIN { print a / b }')"
echo "test top-1: 1 rank $(grep -o 'top1 *[0-9.]*%' dp1.out | head -1), 2 ranks $(grep -o 'top1 *[0-9.]*%' dp2.out | head -1), --sync-bn $(grep -o 'top1 *[0-9.]*%' dp3.out | head -1)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
