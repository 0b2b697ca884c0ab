#!/bin/sh
# raw_val_cli.sh — raw_synth's validation split end to end: a tiny U-Net
# trains on 7 generated photos with `val: true`, evaluates on photos.val each
# epoch (rows in metrics.csv, a picture per epoch) and on photos.test in the
# report; the loader reports train 20, test 4, val 4 patches.  The same
# recipe without `val: true` stops with a data error (exit 4) that says how
# to get the split.
set -u
src=$(cd "${srcdir:-.}" && pwd)
kdrun=$(pwd)/kdrun
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/raw_val_cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work" <<'PY' || fail "writing the photos"
import os, struct, sys, zlib
w = sys.argv[1]
os.makedirs(w + "/photos")
def png(path, W, H, f):
    raw = b"".join(b"\0" + bytes(v for x in range(W) for v in f(x, y)) for y in range(H))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for k in range(7):
    png("%s/photos/p%d.png" % (w, k), 40, 32, lambda x, y, k=k: [((x // 5 + y // 7 + k) % 3) * 90 + 20 * c + 5 for c in range(3)])
PY
cat > "$work/tiny_val.kdr" <<EOF
use "nets/unet_fa.kdr"
data photos = raw_synth(images: "$work/photos/*.png", noise: poisson_gauss(log_shot: [-6, -4.4]),
                        patch: 16, val: true) {
  train "train"
  val "val"
  test "test"
}
model student = unet_fa(base: 2, levels: 2, fa: true)
phase kd {
  train student on photos.train
  epochs 2; batch 4; seed 2
  optimizer adam(lr: 3e-3)
  loss l1(student.denoised, clean)
  evaluate student on photos.val: psnr
}
report {
  evaluate student on photos.test: psnr
}
EOF
export KDRUN_RUNS="$work/runs" KDRUN_PATH="$src/recipes"
out=$("$kdrun" --threads 1 --color=never "$work/tiny_val.kdr" 2>&1) || fail "the run failed: $out"
echo "$out" | grep -qF "(train 20, test 4, val 4)" || fail "split sizes: $out"
run=$(ls -d "$work"/runs/tiny_val/* | tail -n 1)
for ep in 1 2; do
    grep -q "^kd,$ep,\"student psnr on photos.val\"," "$run/metrics.csv" || fail "no val row, epoch $ep"
    [ -s "$run/pictures/kd-epoch-00$ep-photos.val.png" ] || fail "no val picture, epoch $ep"
done
grep -q '^report,0,"student psnr on photos.test",' "$run/metrics.csv" || fail "no test row"
sed 's/, val: true//' "$work/tiny_val.kdr" > "$work/no_val.kdr"
out=$("$kdrun" --threads 1 --color=never "$work/no_val.kdr" 2>&1); rc=$?
[ "$rc" = 4 ] || fail "without val: true: exit $rc, expected 4: $out"
echo "$out" | grep -qF "error: data set 'photos' has no split 'val' (raw_synth holds out a validation split with 'val: true')" \
    || fail "without val: true: $out"
echo PASS
