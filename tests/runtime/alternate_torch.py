#!/usr/bin/python3
"""alternate_torch.py KDRUN — `alternate` against PyTorch.

Runs a tiny bi-level search with kdrun (the weights step with SGD +
momentum on the training split, the arch step with Adam on the aggregate's
alpha on a second split (the test split here), two iterations) and computes the same two
iterations with torch from the same initial weights (kdrun's initialiser,
reimplemented here: a counter-based RNG keyed by the seed and each
parameter's path inside its model).  The losses of each step (metrics.csv)
and the final weights and alpha (the run's state) must agree.

Exit 0: agree; 1: differ; 77: skipped (no torch).
"""
import csv, glob, json, math, os, struct, subprocess, sys, tempfile

try:
    import torch
except ImportError:
    print("skipped: python3-torch is not installed")
    sys.exit(77)

KDRUN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./kdrun")
M64 = (1 << 64) - 1
SEED = 5
N, H, W, C = 8, 4, 4, 3

RECIPE = """
data f = idx("%s") {
  train "train"
  test "t10k"
}
net tn(c) {
  b[1] = relu(linear(in, c))
  b[2] = relu(linear(b[1], c))
  out linear(b[2], 3)
}
net sn(c) {
  h = relu(linear(in, c))
  out linear(h, 3)
}
model t = tn(4)
model p = sn(4)
search s {
  agg = aggregate(t.b[*])
  bridge fit = mse(p.h, agg)
}
phase find {
  train p on f.train
  teacher t
  epochs 2
  batch 8
  seed %d
  optimizer weights: sgd(lr: 0.1, momentum: 0.9)
  optimizer arch: adam(lr: 0.05, betas: [0.5, 0.999])
  alternate {
    weights minimize ce(p.out, label) + fit on f.train
    arch minimize 3 * fit on f.test
  }
}
"""


def mix64(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def u01(h):
    return ((h >> 11) + 0.5) * (1.0 / 9007199254740992.0)


def path_hash(name):
    p = name.split(".", 1)[1] if "." in name else name
    h = 1469598103934665603
    for ch in p.encode():
        h = ((h ^ ch) * 1099511628211) & M64
    return h


def kdrun_init(name, shape, kind, fan):
    """runtime/exec.c kd_exec_init_params for one parameter"""
    key = mix64(mix64(SEED) ^ path_hash(name))
    n = 1
    for d in shape:
        n *= d
    out = []
    for i in range(n):
        if kind == "kaiming":
            h = mix64(key ^ mix64(i))
            u1, u2 = u01(h), u01(mix64(h))
            out.append(math.sqrt(2.0 / fan) * math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2))
        else:
            out.append((1.0 / math.sqrt(fan)) * (2.0 * u01(mix64(key ^ mix64(i))) - 1.0))
    return torch.tensor(out, dtype=torch.float32).reshape(shape)


def linear(name, fin, fout):
    w = kdrun_init(name + ".weight", (fout, fin), "kaiming", fin).requires_grad_()
    b = kdrun_init(name + ".bias", (fout,), "uniform", fin).requires_grad_()
    return w, b


def idx_write(path, arr, dims, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        for d in dims:
            f.write(struct.pack(">I", d))
        f.write(bytes(arr))


def read_state(path):
    raw = open(path, "rb").read()
    (hl,) = struct.unpack("<Q", raw[:8])
    head = json.loads(raw[8:8 + hl])
    data = raw[8 + hl:]
    out = {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.tensor(struct.unpack("<%df" % ((b - a) // 4), data[a:b]))
    return out


def main():
    work = tempfile.mkdtemp(prefix="kdrun-alt-")
    images, labels = {}, {}
    for split, salt in (("train", 1), ("t10k", 2)):
        px = [((r * 31 + q * 7 + salt * 13) * 2654435761 >> 13) % 256 for r in range(N) for q in range(H * W)]
        lab = [(r * 2 + salt) % C for r in range(N)]
        idx_write(os.path.join(work, split + "-images-idx3-ubyte"), px, (N, H, W), 0x803)
        idx_write(os.path.join(work, split + "-labels-idx1-ubyte"), lab, (N,), 0x801)
        images[split] = torch.tensor(px, dtype=torch.float32).reshape(N, H * W) / 255.0
        labels[split] = torch.tensor(lab)
    recipe = os.path.join(work, "alt.kdr")
    open(recipe, "w").write(RECIPE % (work, SEED))
    env = dict(os.environ, KDRUN_RUNS=os.path.join(work, "runs"))
    r = subprocess.run([KDRUN, "--threads", "1", "--quiet", recipe], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print("kdrun failed:", r.returncode, r.stderr)
        return 1
    run = sorted(glob.glob(os.path.join(work, "runs", "alt", "*")))[-1]
    rows = {(int(x["epoch"]), x["metric"]): float(x["value"]) for x in csv.DictReader(open(os.path.join(run, "metrics.csv")))}
    state = read_state(os.path.join(run, "state.safetensors"))

    # the same two iterations in torch
    t1w, t1b = linear("t.linear0", H * W, 4)
    t2w, t2b = linear("t.linear1", 4, 4)
    p1w, p1b = linear("p.linear0", H * W, 4)
    p2w, p2b = linear("p.linear1", 4, 3)
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

    bad = 0
    for it in (1, 2):
        sgd.zero_grad(); adam.zero_grad()
        h, out, agg = forward(images["train"])
        lw = torch.nn.functional.cross_entropy(out, labels["train"]) + ((h - agg) ** 2).mean()
        lw.backward()
        sgd.step()
        sgd.zero_grad(); adam.zero_grad()
        h, out, agg = forward(images["t10k"])
        la = 3 * ((h - agg) ** 2).mean()
        la.backward()
        adam.step()
        for what, v in (("train loss (weights)", lw.item()), ("train loss (arch)", la.item())):
            k = rows.get((it, what))
            ok = k is not None and abs(k - v) <= 1e-5 * max(1.0, abs(v))
            print("epoch %d %-22s kdrun %-14s torch %.9g %s" % (it, what, k, v, "ok" if ok else "DIFFERS"))
            bad += not ok
    for name, ref in (("p.linear0.weight", p1w), ("p.linear0.bias", p1b), ("p.linear1.weight", p2w),
                      ("p.linear1.bias", p2b), ("s.aggregate0.alpha", alpha)):
        got = state.get("store/" + name)
        ref = ref.detach().reshape(-1)
        err = float((got - ref).abs().max()) if got is not None and got.numel() == ref.numel() else float("inf")
        ok = err <= 1e-5
        print("%-20s max |kdrun - torch| %.3g %s" % (name, err, "ok" if ok else "DIFFERS"))
        bad += not ok
    # alpha moved (a test that cannot pass by doing nothing)
    if float(alpha.detach().abs().max()) < 1e-3:
        print("alpha did not move")
        bad += 1
    if not bad:
        subprocess.run(["rm", "-rf", work])
    return 1 if bad else 0


if __name__ == "__main__":   # alternate_lr_torch.py imports its helpers
    sys.exit(main())
