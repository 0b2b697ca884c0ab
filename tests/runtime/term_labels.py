#!/usr/bin/python3
"""term_labels.py KDRUN — labelled loss terms (`TERM as NAME`) in metrics.csv.

Runs one tiny recipe twice, its loss written without and with labels:
  ce(s.out, label) + 0.5 * (mse(s.h, s.g) + l1(s.h, s.g))
  ce(s.out, label) as hard + 0.5 * (mse(s.h, s.g) + l1(s.h, s.g)) as feat
The labels change the names of the per-term rows only: "train loss: hard"
is the row "train loss: ce(s.out, label)" was, "train loss: feat" the sum
of the mse and l1 rows (the functions in a labelled term added up), and
every other row (total loss, lr, evaluation) is byte-identical.

Exit 0: as described; 1: not.
"""
import csv, glob, os, struct, subprocess, sys, tempfile

KDRUN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./kdrun")
N, H, W, C = 16, 4, 4, 3

RECIPE = """
data f = idx("%s") {
  train "train"
  test "t10k"
}
net sn(c) {
  h = relu(linear(in, c))
  g = linear(h, c)
  out linear(h, 3)
}
model s = sn(4)
phase p {
  train s on f.train
  epochs 3; batch 8; seed 2
  optimizer sgd(lr: 0.1)
  loss %s
}
report {
  evaluate s on f.test: top1
}
"""
PLAIN = "ce(s.out, label) + 0.5 * (mse(s.h, s.g) + l1(s.h, s.g))"
LABELLED = "ce(s.out, label) as hard\n     + 0.5 * (mse(s.h, s.g) + l1(s.h, s.g)) as feat"


def idx_write(path, arr, dims, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(bytes(arr))


def run(work, name, loss):
    recipe = os.path.join(work, name + ".kdr")
    open(recipe, "w").write(RECIPE % (work, loss))
    env = dict(os.environ, KDRUN_RUNS=os.path.join(work, "runs"))
    r = subprocess.run([KDRUN, "--threads", "1", "--quiet", recipe], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(name, "failed:", r.returncode, r.stderr)
        return None
    d = sorted(glob.glob(os.path.join(work, "runs", name, "*")))[-1]
    return list(csv.reader(open(os.path.join(d, "metrics.csv"))))


def main():
    work = tempfile.mkdtemp(prefix="kdrun-labels-")
    for split, salt in (("train", 1), ("t10k", 2)):
        px = [((r * 31 + q * 7 + salt * 13) * 2654435761 >> 13) % 256 for r in range(N) for q in range(H * W)]
        lab = [(r * 2 + salt) % C for r in range(N)]
        idx_write(os.path.join(work, split + "-images-idx3-ubyte"), px, (N, H, W), 0x803)
        idx_write(os.path.join(work, split + "-labels-idx1-ubyte"), lab, (N,), 0x801)
    plain, lab = run(work, "plain", PLAIN), run(work, "labelled", LABELLED)
    if plain is None or lab is None:
        return 1
    bad = 0
    pv = {(r[0], r[1], r[2]): r[3] for r in plain[1:]}
    lv = {(r[0], r[1], r[2]): r[3] for r in lab[1:]}
    other_p = [r for r in plain if not r[2].startswith("train loss: ")]
    other_l = [r for r in lab if not r[2].startswith("train loss: ")]
    if other_p != other_l:
        print("rows other than the per-term rows differ")
        bad += 1
    for ep in ("1", "2", "3"):
        ce = pv.get(("p", ep, "train loss: ce(s.out, label)"))
        mse = pv.get(("p", ep, "train loss: mse(s.h, s.g)"))
        l1 = pv.get(("p", ep, "train loss: l1(s.h, s.g)"))
        hard, feat = lv.get(("p", ep, "train loss: hard")), lv.get(("p", ep, "train loss: feat"))
        if None in (ce, mse, l1, hard, feat):
            print("epoch", ep, "missing rows:", ce, mse, l1, hard, feat)
            bad += 1
            continue
        s = float(mse) + float(l1)
        ok = hard == ce and abs(float(feat) - s) <= 1e-8 * max(1.0, abs(s))
        print("epoch %s hard %s (ce %s)  feat %s (mse + l1 %.10g) %s" % (ep, hard, ce, feat, s, "ok" if ok else "DIFFERS"))
        bad += not ok
    names = [r[2] for r in lab[1:] if r[2].startswith("train loss: ")]
    if sorted(set(names)) != ["train loss: feat", "train loss: hard"]:
        print("labelled run's per-term rows:", sorted(set(names)))
        bad += 1
    if not bad:
        subprocess.run(["rm", "-rf", work])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
