#!/bin/sh
# torch_roundtrip.sh — a teacher from PyTorch, a student back to PyTorch.
#
# 1. PyTorch trains a ResNet-8 (RepDistiller's layout) a few steps on a small
#    generated data set and prints its test top1;
# 2. tools/kdrun_weights.py converts it; `kdrun eval` must print the same top1
#    (to the last printed digit) and top5 > 0;
# 3. kdrun distills a student from it (`model teacher = ... from "FILE"`); the
#    report's student top1 must equal PyTorch's top1 of models/student.safetensors
#    converted back;
# 4. strict loading: a missing, an unexpected and a mis-shaped tensor are each
#    a located error (exit 4) naming the tensor.
# Skipped (77) when /usr/bin/python3 has no torch.
set -u
py=/usr/bin/python3
if ! $py -c "import torch" 2>/dev/null; then echo "SKIP: no torch for /usr/bin/python3"; exit 77; fi
src=$(cd "${srcdir:-.}" && pwd)
kdrun=$(pwd)/kdrun
work=$(mktemp -d "${TMPDIR:-/tmp}/torch_roundtrip.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
kd() { KDRUN_PATH="$src/recipes" KDRUN_RUNS="$work/runs" "$kdrun" "$@" --threads 1 --color=never; }
conv() { $py "$src/tools/kdrun_weights.py" "$@" 2>/dev/null || fail "kdrun_weights.py $*"; }

want=$($py "$src/tests/tools/torch_resnet.py" train . t.pth) || fail "torch train"
conv to-kdrun t.pth t.safetensors

cat > rt.kdr <<'EOF'
use "nets/resnet.kdr"
data gen = idx(".") { train "train"; test "t10k" }
model teacher = resnet(depth: 8, classes: 10, base: 4) from "t.safetensors"
model student = resnet(depth: 8, classes: 10, base: 4)
phase distill {
  train student on gen.train
  teacher teacher
  epochs 2
  loss 0.5 * ce(student.logits, label) + 0.5 * kd(student.logits, teacher.logits, T: 4)
}
report { evaluate teacher, student on gen.test: top1 }
EOF

# 2. the PyTorch teacher scores the same in kdrun eval
out=$(kd eval rt.kdr --on test --metrics top1,top5 --model teacher=t.safetensors 2>&1) || fail "kdrun eval: $out"
got=$(echo "$out" | sed -n 's/^ *teacher .*\(top1 *[0-9.]*%\).*/\1/p' | tr -s ' ')
echo "PyTorch: $want   kdrun eval: $got"
[ -n "$got" ] && [ "$got" = "$want" ] || fail "teacher top1: PyTorch '$want', kdrun eval '$got'"

# the same file converted by order against a kdrun reference (--like, as for
# VGG, MobileNetV2, ShuffleNetV2) is the same model
conv to-kdrun --like t.safetensors t.pth t_like.safetensors
out=$(kd eval rt.kdr --on test --model teacher=t_like.safetensors 2>&1) || fail "kdrun eval (--like): $out"
echo "$out" | tr -s " " | grep -q "^ *teacher .*$want" || fail "the --like conversion scores differently: $out"

# a WRN (RepDistiller's wrn.py, pre-activation, 1x1 shortcut) scores the same too
wwant=$($py "$src/tests/tools/torch_resnet.py" train . w.pth wrn) || fail "torch train wrn"
conv to-kdrun w.pth w.safetensors
sed 's/^model teacher = resnet(depth: 8, classes: 10, base: 4)/use "nets\/wrn.kdr"\nmodel teacher = wrn(depth: 10, widen: 2, classes: 10)/' rt.kdr > wrn.kdr
out=$(kd eval wrn.kdr --on test --model teacher=w.safetensors 2>&1) || fail "kdrun eval wrn: $out"
wgot=$(echo "$out" | sed -n 's/^ *teacher .*\(top1 *[0-9.]*%\).*/\1/p' | tr -s ' ')
echo "WRN PyTorch: $wwant   kdrun eval: $wgot"
[ -n "$wgot" ] && [ "$wgot" = "$wwant" ] || fail "wrn top1: PyTorch '$wwant', kdrun eval '$wgot'"
conv to-torch w.safetensors w2.pth
[ "$($py "$src/tests/tools/torch_resnet.py" eval . w2.pth wrn)" = "$wwant" ] || fail "wrn back to PyTorch"

# 3. a kdrun-trained student scores the same back in PyTorch
out=$(kd rt.kdr 2>&1) || fail "kdrun run: $out"
dir=$(ls -d runs/rt/* | tail -1)
[ -f "$dir/models/student.safetensors" ] || fail "no $dir/models/student.safetensors"
[ ! -f "$dir/models/teacher.safetensors" ] || fail "the frozen teacher was saved as trained"
kgot=$(echo "$out" | sed -n 's/^ *student .*\(top1 *[0-9.]*%\).*/\1/p' | tr -s ' ')
kteach=$(echo "$out" | sed -n 's/^ *teacher .*\(top1 *[0-9.]*%\).*/\1/p' | tr -s ' ')
[ "$kteach" = "$want" ] || fail "the teacher from t.safetensors scores '$kteach' in the run, '$want' in PyTorch"
conv to-torch "$dir/models/student.safetensors" s.pth
tgot=$($py "$src/tests/tools/torch_resnet.py" eval . s.pth) || fail "torch eval"
echo "kdrun student: $kgot   PyTorch: $tgot"
[ -n "$kgot" ] && [ "$kgot" = "$tgot" ] || fail "student top1: kdrun '$kgot', PyTorch '$tgot'"
# the run keeps what it ran: the recipe and the files it uses, runnable as they are
cmp -s rt.kdr "$dir/recipe/rt.kdr" && cmp -s "$src/recipes/nets/resnet.kdr" "$dir/recipe/nets/resnet.kdr" ||
    fail "no copy of the recipe and nets/resnet.kdr in $dir/recipe"
grep -q '"template":"resnet(depth: 8, classes: 10, base: 4)"' "$dir/models/student.safetensors" ||
    fail "models/student.safetensors has no template metadata"
grep -q '"recipe_sha256":"[0-9a-f]\{64\}"' "$dir/models/student.safetensors" ||
    fail "models/student.safetensors has no recipe hash"

# --resume compares the recipe's meaning: a comment and new layout do not block it,
# a real change does and says what changed
cp rt.kdr rt.orig
{ echo "# a comment added after the run"; sed 's/^  epochs 2$/  epochs   2   # two/' rt.kdr; } > rt2.kdr && mv rt2.kdr rt.kdr
out=$(kd --resume "$dir" 2>&1) || fail "resume after a comment: $out"
echo "$out" | grep -q "changed in comments or layout only" || fail "no note on the layout change: $out"
sed -i 's/epochs   2/epochs 3/' rt.kdr
out=$(kd --resume "$dir" 2>&1); rc=$?
[ "$rc" = 3 ] || fail "resume after a real change: exit $rc, expected 3: $out"
echo "$out" | grep -qF "(epochs 2)" && echo "$out" | grep -qF "(epochs 3)" ||
    fail "the refusal does not say what changed: $out"
echo "$out" | sed -n 2,5p

# 4. strict: each problem is a located error naming the tensor, exit 4
$py -c '
import sys, importlib.util, torch
spec = importlib.util.spec_from_file_location("kw", sys.argv[1]); kw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kw)
t, meta = kw.st_read("t.safetensors")
a = t.copy(); del a["block[2,1].bn2.running_var"]; kw.st_write("missing.safetensors", a, meta)
b = t.copy(); b["extra.weight"] = torch.zeros(3); kw.st_write("extra.safetensors", b, meta)
c = t.copy(); c["linear0.weight"] = torch.zeros(10, 15); kw.st_write("shape.safetensors", c, meta)
' "$src/tools/kdrun_weights.py" || fail "making broken files"
expect() {   # FILE MESSAGE
    out=$(kd eval rt.kdr --on test --model "teacher=$1" 2>&1); rc=$?
    [ "$rc" = 4 ] || fail "--model teacher=$1: exit $rc, expected 4: $out"
    echo "$out" | grep -qF -- "$2" || fail "--model teacher=$1: no '$2' in: $out"
}
expect missing.safetensors "missing tensor block[2,1].bn2.running_var [8]"
expect extra.safetensors "unexpected tensor extra.weight"
expect shape.safetensors "tensor linear0.weight has shape [10, 15] in the file, the model's is [10, 16]"
sed 's/from "t.safetensors"/from "shape.safetensors"/' rt.orig > located.kdr
out=$(kd located.kdr 2>&1); rc=$?
[ "$rc" = 4 ] || fail "located.kdr: exit $rc, expected 4"
echo "$out" | grep -qF 'located.kdr:3:61: error: weights of model '"'"'teacher'"'"' from shape.safetensors: tensor linear0.weight has shape [10, 15]' ||
    fail "no located error in: $out"
ldir=$(ls -d runs/located/* | tail -1)
grep -q "^status: failed" "$ldir/report.yaml" && grep -q "^error: .*located.kdr:3:61: weights of model" "$ldir/report.yaml" ||
    fail "the failed run's report.yaml does not carry its error"
echo "PASS"
