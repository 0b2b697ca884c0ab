#!/bin/sh
# test_mpi_sweep.sh — kdrun under `mpirun -np 2` (built --with-mpi): sweeps
# spread over the ranks (1-3) and data-parallel training (4).
#   1. the 4 points spread over 2 ranks give the same tables.md and the
#      same metrics.csv, point by point, as one process;
#   2. a point's process killed (SIGKILL) in the middle of its point: that
#      point fails and the others finish; a rank killed: mpirun stops the
#      job; either way `--resume` under mpirun runs only what is unfinished,
#      and the result equals the uninterrupted single-process run bit for bit;
#   3. a point that fails (its data is missing) is reported, the other
#      points run and are in the table, and the exit status is not 0;
#   4. data-parallel: 2 ranks = 1 process (within 1e-5, images and
#      sequences), --sync-bn, SIGINT on one rank, a rank failing alone stops
#      the job, odd batches refused.
# Every mpirun runs under a time limit (KDRUN_MPI_TIMEOUT, 300 s).
# Exit 77 (skipped) when kdrun has no MPI or mpirun is missing.
set -eu
top=${KDRUN_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
kdrun=$top/kdrun
command -v mpirun >/dev/null 2>&1 || { echo "no mpirun: skipped"; exit 77; }
ldd "$kdrun" | grep -q libmpi || { echo "kdrun built without MPI: skipped"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
if ldd "$kdrun" | grep -q libasan; then
    # the ASan build: keep Open MPI's plug-ins loaded so that their
    # allocations (kept until exit) have names to suppress
    export OMPI_MCA_mca_base_component_disable_dlclose=1
    export LSAN_OPTIONS="suppressions=$here/lsan.supp:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi
# Every job under a time limit: a job whose ranks wait for each other
# forever must fail this test, not hang the suite.
MPIRUN="timeout -k 10 ${KDRUN_MPI_TIMEOUT:-300} mpirun --oversubscribe -np 2"
[ -n "${LSAN_OPTIONS:-}" ] && MPIRUN="$MPIRUN -x LSAN_OPTIONS -x OMPI_MCA_mca_base_component_disable_dlclose"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d "${TMPDIR:-/tmp}/kdrun-mpi.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
# last_rank_once LOG LINE RECIPE: once a line of LOG starts with LINE (at
# most 180 s), the pid of the newest process running RECIPE (a rank of a
# data-parallel run, the newest running sweep point of a sweep)
last_rank_once() {
    i=0
    while [ $i -lt 1800 ]; do
        if grep -q "^$2" "$1" 2>/dev/null; then
            p=$(pgrep -f "^$kdrun --threads 1 $3" | sort -n | tail -1)
            [ -n "$p" ] && echo "$p"
            [ -n "$p" ]
            return
        fi
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
# point_once LOG LINE RECIPE: the same for a sweep, but only a point's
# process (a kdrun whose parent is a kdrun rank), never a rank
point_once() {
    i=0
    while [ $i -lt 1800 ]; do
        if grep -q "^$2" "$1" 2>/dev/null; then
            for p in $(pgrep -f "^$kdrun --threads 1 $3" | sort -rn); do
                pp=$(ps -o ppid= -p "$p" | tr -d ' ')
                if [ -n "$pp" ] && ps -o args= -p "$pp" | grep -q "^$kdrun "; then echo "$p"; return 0; fi
            done
        fi
        sleep 0.1; i=$((i + 1))
    done
    return 1
}
close() {   # close A.csv B.csv TOL: 0 when every value is within TOL (relative)
    # the value is a line's last field (a metric's name may hold commas)
    paste -d'|' "$1" "$2" | awk -F'|' -v tol="$3" 'NR > 1 {
        na = split($1, x, ","); nb = split($2, y, ",");
        if (x[1] != y[1] || x[2] != y[2]) bad = 1;
        a = x[na]; b = y[nb]; d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a;
        if (d > tol * (m > 1 ? m : 1)) bad = 1 } END { exit bad }'
}

# 4 points, each two phases of a few steps (the second long enough to be
# killed in: 40 epochs of 10 steps, about 0.6 s at 14 ms an epoch; with 6
# epochs a point could finish before the kill that follows its first epoch)
cat > sweep.kdr <<'KDR'
sweep width in [4, 8]
sweep seed in 1..2
data f = idx("/usr/share/datasets/fashion-mnist") {
  train "train" holdout 500 as val
  limit 1000
  normalize mean: 0.2860, std: 0.3530
}
net tiny(c) {
  h = maxpool(relu(bn(conv(in, c, k: 3, pad: 1))), 2)
  logits = linear(flatten(h), 10)
  out logits
}
model t = tiny(width)
model s = tiny(4)
phase pre { train t on f.train; epochs 1; batch 50
  optimizer sgd(lr: 0.02, momentum: 0.9); loss ce(t.logits, label) }
phase kd { train s on f.train; teacher t; epochs 40; batch 50
  optimizer sgd(lr: 0.02, momentum: 0.9)
  loss 0.5 * ce(s.logits, label) + 0.5 * kd(s.logits, t.logits, T: 4) }
report {
  evaluate t, s on f.val: top1, params
  table rows width cols seed: s.top1
}
KDR

same_points() {   # same_points DIR_A DIR_B: every point's metrics.csv and the tables
    for p in "width=4,seed=1" "width=4,seed=2" "width=8,seed=1" "width=8,seed=2"; do
        cmp "$1/$p/metrics.csv" "$2/$p/metrics.csv" || fail "$p: metrics.csv differs ($1, $2)"
    done
    # the tables (their first line names the run directory)
    tail -n +2 "$1/tables.md" > "$1/.t" && tail -n +2 "$2/tables.md" > "$2/.t"
    cmp "$1/.t" "$2/.t" || fail "tables.md differs ($1, $2)"
}

# 1. one process, then two ranks
KDRUN_RUNS=one "$kdrun" --threads 1 --quiet sweep.kdr > one.txt 2> one.err || fail "single run: $(cat one.err)"
KDRUN_RUNS=two $MPIRUN "$kdrun" --threads 1 sweep.kdr > two.txt 2> two.err || fail "2 ranks: $(tail -5 two.err)"
one=$(ls -d one/sweep/*) two=$(ls -d two/sweep/*)
same_points "$one" "$two"
grep -q "rank 1: sweep point 2/4" two.err || fail "rank 1 did not run point 2: $(cat two.err)"
grep -q "4 points: 4 ok" two.txt || fail "rank 0's table: $(cat two.txt)"
echo "ok: 2 ranks = 1 process (4 points)"

# 2. kill the process of one point in the middle of its kd phase (each
# rank runs its points in child processes): that point fails, the other
# points finish, and --resume under mpirun completes it
KDRUN_RUNS=kill $MPIRUN "$kdrun" --threads 1 sweep.kdr > kill.txt 2> kill.err &
job=$!
# the newest kdrun process is a point's (its state is written after each epoch of kd)
pid=$(point_once kill.err "kd epoch 1/40" sweep.kdr) || { kill $job 2>/dev/null; fail "no point's process in kd: $(cat kill.err)"; }
kill -9 "$pid" 2>/dev/null || fail "point process $pid ended before it could be killed"
status=0; wait $job || status=$?
[ $status -ne 0 ] || fail "mpirun exited 0 after a point's process was killed"
grep -q "was killed (signal 9" kill.err || fail "no word of the killed point: $(cat kill.err)"
grep -q "4 points: 3 ok, 1 failed" kill.txt || fail "the other points did not all finish: $(cat kill.txt) $(tail -5 kill.err)"
run=$(ls -d kill/sweep/*)
$MPIRUN "$kdrun" --resume "$run" > resume.txt 2> resume.err || fail "resume: $(tail -5 resume.err)"
# the 3 finished points are not run again (the killed one may have had no
# state yet, when it was killed as it started)
[ "$(grep -c "the run had finished" resume.err)" -eq 3 ] || fail "resume did not skip the 3 finished points: $(cat resume.err)"
same_points "$one" "$run"
echo "ok: a point's process killed: the other points finished; --resume under mpirun = the uninterrupted run"

# 2b. kill a rank itself: mpirun stops the job (its points' processes die
# with it), and --resume completes every point
KDRUN_RUNS=killr $MPIRUN "$kdrun" --threads 1 sweep.kdr > killr.txt 2> killr.err &
job=$!
pid=$(point_once killr.err "kd epoch 1/40" sweep.kdr) || { kill $job 2>/dev/null; fail "no point's process in kd: $(cat killr.err)"; }
rank=$(ps -o ppid= -p "$pid" | tr -d ' ')
[ -n "$rank" ] && [ "$rank" != 1 ] || fail "no rank above point process $pid"
kill -9 "$rank"
status=0; wait $job || status=$?
[ $status -ne 0 ] || fail "mpirun exited 0 after a rank was killed"
sleep 1
pgrep -f "^$kdrun --threads 1 sweep.kdr" > /dev/null && fail "a point's process outlived its rank"
run=$(ls -d killr/sweep/*)
$MPIRUN "$kdrun" --resume "$run" > resumer.txt 2> resumer.err || fail "resume: $(tail -5 resumer.err)"
same_points "$one" "$run"
echo "ok: a killed rank stops the job; --resume under mpirun = the uninterrupted run"

# 3. a failing point: the others run and the job says it failed
sed 's#sweep seed in 1..2#sweep seed in 1..2\nsweep where in ["/usr/share/datasets/fashion-mnist", "/nonexistent"]#; s#idx("/usr/share/datasets/fashion-mnist")#idx(where)#' \
    sweep.kdr > failing.kdr
status=0
KDRUN_RUNS=bad $MPIRUN "$kdrun" --threads 1 failing.kdr > bad.txt 2> bad.err || status=$?
[ $status -ne 0 ] || fail "a failed point, yet exit 0"
grep -q "8 points: 4 ok, 4 failed" bad.txt || fail "table of the failing sweep: $(cat bad.txt)"
grep -q "goes on with its other points" bad.err || fail "no word of the failed points: $(cat bad.err)"
echo "ok: failed points reported, the others ran (exit $status)"

# 4. data-parallel: a recipe without a sweep on 2 ranks (no batch norm, so
# that the ranks' halves give the global batch's gradient exactly up to the
# order of additions)
cat > dp.kdr <<'KDR'
data f = idx("/usr/share/datasets/fashion-mnist") {
  train "train" holdout 500 as val
  limit 800
  normalize mean: 0.2860, std: 0.3530
}
net tiny(c) {
  h = maxpool(relu(conv(in, c, k: 3, pad: 1)), 2)
  logits = linear(flatten(h), 10)
  out logits
}
model t = tiny(8)
model s = tiny(4)
phase pre { train t on f.train; epochs 4; batch 50
  optimizer sgd(lr: 0.02); loss ce(t.logits, label) }
phase kd { train s on f.train; teacher t; epochs 2; batch 50
  optimizer adam(lr: 0.001)
  loss 0.5 * ce(s.logits, label) + 0.5 * kd(s.logits, t.logits, T: 4) }
report { evaluate t, s on f.val: top1 }
KDR
KDRUN_RUNS=dp1 "$kdrun" --threads 1 --quiet dp.kdr > dp1.txt 2> dp1.err || fail "dp, 1 process: $(cat dp1.err)"
KDRUN_RUNS=dp2 $MPIRUN "$kdrun" --threads 1 dp.kdr > dp2.txt 2> dp2.err || fail "dp, 2 ranks: $(tail -5 dp2.err)"
KDRUN_RUNS=dp3 $MPIRUN "$kdrun" --threads 1 dp.kdr > dp3.txt 2> dp3.err || fail "dp, 2 ranks again: $(tail -5 dp3.err)"
grep -q "data-parallel over 2 ranks" dp2.err || fail "not data-parallel: $(cat dp2.err)"
d1=$(ls -d dp1/dp/*) d2=$(ls -d dp2/dp/*) d3=$(ls -d dp3/dp/*)
cmp "$d2/metrics.csv" "$d3/metrics.csv" || fail "two data-parallel runs differ"
# every number within 1e-5 (relative) of the single process's
close "$d1/metrics.csv" "$d2/metrics.csv" 1e-5 ||
    fail "2 ranks differ from 1 process beyond 1e-5: $(paste -d'|' "$d1/metrics.csv" "$d2/metrics.csv")"
[ "$(grep -c . "$d1/metrics.csv")" -eq 19 ] && [ "$(grep -c . "$d2/metrics.csv")" -eq 19 ] || fail "metrics.csv rows (header, 8 + 8 training rows, 2 of the report): $(cat "$d1/metrics.csv")"
[ "$(grep -c "results (" dp2.txt)" -eq 1 ] || fail "not one results table (rank 0 alone reports): $(cat dp2.txt)"
echo "ok: data-parallel on 2 ranks = 1 process within 1e-5, bit-identical from run to run"

# batch norm: --sync-bn normalizes over both ranks' rows, as one process
# over the global batch (within 1e-5); without it each rank's own rows
sed 's/h = maxpool(relu(conv(in, c, k: 3, pad: 1)), 2)/h = maxpool(relu(bn(conv(in, c, k: 3, pad: 1))), 2)/' dp.kdr > bn.kdr
grep -q "bn(conv" bn.kdr || fail "no batch norm in bn.kdr"
KDRUN_RUNS=bn1 "$kdrun" --threads 1 --quiet bn.kdr > bn1.txt 2> bn1.err || fail "bn, 1 process: $(cat bn1.err)"
KDRUN_RUNS=bn2 $MPIRUN "$kdrun" --threads 1 --sync-bn bn.kdr > bn2.txt 2> bn2.err || fail "bn, 2 ranks: $(tail -5 bn2.err)"
KDRUN_RUNS=bn3 $MPIRUN "$kdrun" --threads 1 bn.kdr > bn3.txt 2> bn3.err || fail "bn, 2 ranks, local: $(tail -5 bn3.err)"
b1=$(ls -d bn1/bn/*) b2=$(ls -d bn2/bn/*) b3=$(ls -d bn3/bn/*)
close "$b1/metrics.csv" "$b2/metrics.csv" 1e-5 || fail "--sync-bn on 2 ranks differs from 1 process: $(paste -d'|' "$b1/metrics.csv" "$b2/metrics.csv")"
close "$b1/metrics.csv" "$b3/metrics.csv" 1e-5 && fail "per-rank batch norm gave the global batch's numbers: the test cannot tell the two apart"
grep -q "^sync_bn" "$b2/command" || fail "--sync-bn not recorded for --resume"
echo "ok: --sync-bn on 2 ranks = 1 process within 1e-5; per-rank batch norm differs"

# SIGINT to rank 1 alone: both ranks stop at the same step, exit 130; the
# resumed run equals the uninterrupted one bit for bit.  A long kd phase
# (300 epochs of 16 steps, seconds) so that the signal, sent once epoch 1
# of pre is seen, lands before the run ends however fast the steps are
# (a rank's command line shows "--set phase.kd.epochs 300": the pattern
# below matches either spelling)
long="--set phase.kd.epochs=300"
KDRUN_RUNS=dpu $MPIRUN "$kdrun" --threads 1 $long dp.kdr > dpu.txt 2> dpu.err || fail "dp, 2 ranks, long: $(tail -5 dpu.err)"
du=$(ls -d dpu/dp/*)
KDRUN_RUNS=dpi $MPIRUN "$kdrun" --threads 1 $long dp.kdr > dpi.txt 2> dpi.err &
job=$!
pid=$(last_rank_once dpi.err "pre epoch 1/4" "--set phase.kd.epochs.300 dp.kdr") || { kill $job 2>/dev/null; fail "no epoch seen: $(cat dpi.err)"; }
kill -INT "$pid"
status=0; wait $job || status=$?
[ $status -eq 130 ] || fail "interrupted data-parallel run: exit $status, not 130: $(tail -5 dpi.err)"
di=$(ls -d dpi/dp/*)
# a failure on one rank alone (rank 0 cannot lock the run directory that
# another process holds; rank 1 goes on to training) stops both ranks
# instead of leaving rank 1 waiting for rank 0 forever
flock -o "$di/.lock" sleep 60 &     # -o: flock alone holds the lock
holder=$!
sleep 0.5
status=0
$MPIRUN "$kdrun" --resume "$di" > dpl.txt 2> dpl.err || status=$?
pkill -P $holder sleep 2>/dev/null || true
wait $holder 2>/dev/null || true
[ $status -ne 0 ] && [ $status -ne 124 ] && [ $status -ne 137 ] || fail "a rank failing alone: exit $status (124/137: the job hung): $(tail -5 dpl.err)"
grep -q "another kdrun is running" dpl.err || fail "no word of the lock: $(cat dpl.err)"
grep -q "stopping all 2 ranks" dpl.err || fail "the failing rank did not stop the others: $(cat dpl.err)"
$MPIRUN "$kdrun" --resume "$di" > dpr.txt 2> dpr.err || fail "resume: $(tail -5 dpr.err)"
cmp "$di/metrics.csv" "$du/metrics.csv" || fail "resumed data-parallel run differs"
echo "ok: SIGINT on one rank stops both (exit 130); a rank failing alone stops both; --resume = the uninterrupted run"

# sequence data (a NextItNet teacher, then KD) trains data-parallel too:
# the rows' items, next items and negatives are split with the batch
cat > seq.kdr <<'KDR'
use "nets/nextitnet.kdr"
data s = synth_sequences(users: 200, items: 50, length: 10, max_len: 10, negatives: 20, seed: 7) {
  train "train"
  test "test"
}
model t = nextitnet(num_items: 51, dim: 8, blocks: 1)
model u = nextitnet(num_items: 51, dim: 8, blocks: 1)
phase pre { train t on s.train; epochs 2; batch 32; optimizer adam(lr: 0.003); loss ce(t.logits, target) }
phase kd { train u on s.train; teacher t; epochs 1; batch 32; optimizer adam(lr: 0.003)
  loss 0.5 * ce(u.logits, target) + 0.5 * kd(u.logits, t.logits, T: 2) }
report { evaluate t, u on s.test: hr@10, ndcg@10 }
KDR
KDRUN_RUNS=sq1 "$kdrun" --threads 1 --quiet seq.kdr > sq1.txt 2> sq1.err || fail "sequences, 1 process: $(cat sq1.err)"
KDRUN_RUNS=sq2 $MPIRUN "$kdrun" --threads 1 seq.kdr > sq2.txt 2> sq2.err || fail "sequences, 2 ranks: $(tail -5 sq2.err)"
grep -q "data-parallel over 2 ranks" sq2.err || fail "sequences not data-parallel: $(cat sq2.err)"
s1=$(ls -d sq1/seq/*) s2=$(ls -d sq2/seq/*)
[ "$(grep -c . "$s1/metrics.csv")" -eq "$(grep -c . "$s2/metrics.csv")" ] || fail "sequences: metrics.csv rows differ"
close "$s1/metrics.csv" "$s2/metrics.csv" 1e-5 ||
    fail "sequences: 2 ranks differ from 1 process beyond 1e-5: $(paste -d'|' "$s1/metrics.csv" "$s2/metrics.csv")"
echo "ok: sequence data on 2 ranks = 1 process within 1e-5"

# a batch that does not split over the ranks is refused
sed 's/epochs 4; batch 50/epochs 4; batch 51/' dp.kdr > odd.kdr
status=0
KDRUN_RUNS=odd $MPIRUN "$kdrun" --threads 1 odd.kdr > odd.txt 2> odd.err || status=$?
[ $status -eq 3 ] || fail "batch 51 on 2 ranks: exit $status, not 3"
grep -q "does not split evenly over 2 ranks" odd.err || fail "no word of the batch: $(cat odd.err)"
echo "ok: batch 51 on 2 ranks refused (exit 3)"
