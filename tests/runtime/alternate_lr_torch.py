#!/usr/bin/python3
"""alternate_lr_torch.py KDRUN — a per-step learning rate inside `alternate`.

The `weights` group is in two steps of the alternate, the second with its
own learning rate (`... on f.test lr 0.02`); the `arch` step runs between
them.  Each iteration: weights step on the training split at the group's
lr (SGD + momentum, 0.1), arch step (Adam) on the test split, weights step
again on the test split at lr 0.02 with the same optimizer state (one
momentum buffer).  The same two iterations are computed with torch from
the same initial weights (tests/runtime/alternate_torch.py's helpers:
kdrun's initialiser reimplemented), changing the SGD group's lr between
the two weights steps; the steps' losses (metrics.csv rows "train loss
(weights, step 1)" / "(weights, step 3)"), the per-step lr row and the final
weights, alpha and momentum-carried updates must agree.  A control run
without the per-step lr must NOT agree with the per-step computation (the
lr is really used).

Exit 0: agree; 1: differ; 77: skipped (no torch).
"""
import csv, glob, os, subprocess, sys, tempfile

try:
    import torch
except ImportError:
    print("skipped: python3-torch is not installed")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alternate_torch as A  # noqa: E402  (its helpers; its main() runs only as a script)

KDRUN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./kdrun")
SEED = 7
LR2 = 0.02

# alternate_torch.py's recipe with a third step: `weights` again, on the
# test split, at its own lr (the trailing %s: " lr 0.02" or "")
RECIPE = A.RECIPE.replace("    arch minimize 3 * fit on f.test\n",
                          "    arch minimize 3 * fit on f.test\n"
                          "    weights minimize ce(p.out, label) on f.test%s\n")
assert RECIPE != A.RECIPE, "alternate_torch.RECIPE changed: update the third step here"


def run_kdrun(work, name, lr_clause):
    recipe = os.path.join(work, name + ".kdr")
    open(recipe, "w").write(RECIPE % (work, SEED, lr_clause))
    env = dict(os.environ, KDRUN_RUNS=os.path.join(work, "runs"))
    r = subprocess.run([KDRUN, "--threads", "1", "--quiet", recipe], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(name, "failed:", r.returncode, r.stderr)
        return None, None
    run = sorted(glob.glob(os.path.join(work, "runs", name, "*")))[-1]
    rows = {(int(x["epoch"]), x["metric"]): float(x["value"])
            for x in csv.DictReader(open(os.path.join(run, "metrics.csv")))}
    return rows, A.read_state(os.path.join(run, "state.safetensors"))


def torch_run(images, labels, lr2):
    H, W = A.H, A.W
    t1w, t1b = A.linear("t.linear0", H * W, 4)
    t2w, t2b = A.linear("t.linear1", 4, 4)
    p1w, p1b = A.linear("p.linear0", H * W, 4)
    p2w, p2b = A.linear("p.linear1", 4, 3)
    alpha = torch.zeros(2, requires_grad=True)
    weights = [p1w, p1b, p2w, p2b]
    sgd = torch.optim.SGD(weights, lr=0.1, momentum=0.9)
    adam = torch.optim.Adam([alpha], lr=0.05, betas=(0.5, 0.999))

    def forward(x):
        with torch.no_grad():
            b1 = torch.relu(x @ t1w.T + t1b)
            b2 = torch.relu(b1 @ t2w.T + t2b)
        w = torch.softmax(alpha, 0)
        agg = w[0] * b1 + w[1] * b2
        h = torch.relu(x @ p1w.T + p1b)
        return h, h @ p2w.T + p2b, agg

    losses = []
    ce = torch.nn.functional.cross_entropy
    for it in (1, 2):
        sgd.zero_grad(); adam.zero_grad()
        h, out, agg = forward(images["train"])
        l1 = ce(out, labels["train"]) + ((h - agg) ** 2).mean()
        l1.backward()
        sgd.param_groups[0]["lr"] = 0.1
        sgd.step()
        sgd.zero_grad(); adam.zero_grad()
        h, out, agg = forward(images["t10k"])
        l2 = 3 * ((h - agg) ** 2).mean()
        l2.backward()
        adam.step()
        sgd.zero_grad(); adam.zero_grad()
        h, out, agg = forward(images["t10k"])
        l3 = ce(out, labels["t10k"])
        l3.backward()
        sgd.param_groups[0]["lr"] = lr2
        sgd.step()
        losses.append((l1.item(), l2.item(), l3.item()))
    final = {"p.linear0.weight": p1w, "p.linear0.bias": p1b, "p.linear1.weight": p2w,
             "p.linear1.bias": p2b, "s.aggregate0.alpha": alpha}
    return losses, {k: v.detach().reshape(-1) for k, v in final.items()}


def compare(rows, state, losses, final, quiet=False):
    bad = 0
    names = ("train loss (weights, step 1)", "train loss (arch)", "train loss (weights, step 3)")
    for it in (1, 2):
        for what, v in zip(names, losses[it - 1]):
            k = rows.get((it, what))
            ok = k is not None and abs(k - v) <= 1e-5 * max(1.0, abs(v))
            if not quiet:
                print("epoch %d %-30s kdrun %-14s torch %.9g %s" % (it, what, k, v, "ok" if ok else "DIFFERS"))
            bad += not ok
    for name, ref in final.items():
        got = state.get("store/" + name)
        err = float((got - ref).abs().max()) if got is not None and got.numel() == ref.numel() else float("inf")
        ok = err <= 1e-5
        if not quiet:
            print("%-20s max |kdrun - torch| %.3g %s" % (name, err, "ok" if ok else "DIFFERS"))
        bad += not ok
    return bad


def main():
    work = tempfile.mkdtemp(prefix="kdrun-altlr-")
    images, labels = {}, {}
    N, H, W, C = A.N, A.H, A.W, A.C
    for split, salt in (("train", 1), ("t10k", 2)):
        px = [((r * 31 + q * 7 + salt * 13) * 2654435761 >> 13) % 256 for r in range(N) for q in range(H * W)]
        lab = [(r * 2 + salt) % C for r in range(N)]
        A.idx_write(os.path.join(work, split + "-images-idx3-ubyte"), px, (N, H, W), 0x803)
        A.idx_write(os.path.join(work, split + "-labels-idx1-ubyte"), lab, (N,), 0x801)
        images[split] = torch.tensor(px, dtype=torch.float32).reshape(N, H * W) / 255.0
        labels[split] = torch.tensor(lab)
    A.SEED = SEED   # the initialiser's key
    rows, state = run_kdrun(work, "steplr", " lr %g" % LR2)
    plain_rows, plain_state = run_kdrun(work, "plain", "")
    if rows is None or plain_rows is None:
        return 1
    losses, final = torch_run(images, labels, LR2)
    bad = compare(rows, state, losses, final)
    for it in (1, 2):
        v = rows.get((it, "lr (weights, step 3)"))
        ok = v is not None and abs(v - LR2) < 1e-12
        print("epoch %d lr (weights, step 3) %s %s" % (it, v, "ok" if ok else "DIFFERS"))
        bad += not ok
    # the control: without `lr`, kdrun equals torch at lr 0.1 for both steps and
    # differs from the per-step computation
    losses01, final01 = torch_run(images, labels, 0.1)
    if compare(plain_rows, plain_state, losses01, final01, quiet=True):
        print("control (no per-step lr) does not match torch at lr 0.1")
        bad += 1
    if not compare(plain_rows, plain_state, losses, final, quiet=True):
        print("control matches the per-step computation: the per-step lr made no difference")
        bad += 1
    if not bad:
        subprocess.run(["rm", "-rf", work])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
