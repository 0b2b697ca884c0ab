#!/usr/bin/env python3
"""gen_optim_golden.py -- golden numbers from torch.optim for test_optim.c.

Regenerate (needs PyTorch; Debian: apt-get install python3-torch):

    /usr/bin/python3 tests/runtime/gen_optim_golden.py > tests/runtime/optim_golden.txt

The output is plain text, one record per line, float32 values written as the
shortest decimal that reads back to the same double (exact for a float32):

    torch VERSION
    case NAME KIND n=N steps=S lr=.. momentum=.. weight_decay=.. nesterov=0|1 beta1=.. beta2=.. eps=..
    p0 v1 v2 ...           initial parameters (float32)
    lrK LR                 learning rate given to step K (1-based)
    gK v1 v2 ...           gradient of step K
    pK v1 v2 ...           parameters after step K, computed by torch.optim
    sched NAME base=B epochs=E v0 v1 ... vE-1   torch.optim.lr_scheduler lr per epoch
    big NAME n=N steps=S seed=X gscale=G lrs=LR1,...,LRS h1 ... hS
        the same configurations on N = 4099 floats for S steps with inputs
        drawn from Lcg(X) (p0 = N values in [-1, 1), then N gradient values
        per step, times G); configuration as in `case NAME`; hK is the FNV-1a 64-bit hash
        of the parameters' float32 little-endian bytes after step K.  The C
        test regenerates the inputs and must reproduce every hash.

Inputs come from a fixed linear congruential generator, so the file is the
same on every run with the same torch.  N = 19 covers both the vectorized
main loop and the scalar tail of ATen's CPU kernels.
"""
import math
import struct
import sys

import torch

torch.set_num_threads(1)


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def uniform(self, lo, hi):
        self.s = (self.s * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        u = (self.s >> 11) / float(1 << 53)
        return lo + (hi - lo) * u


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def vec(rng, n, lo, hi):
    return [f32(rng.uniform(lo, hi)) for _ in range(n)]


def line(tag, values):
    return tag + " " + " ".join(repr(float(v)) for v in values)


CASES = [
    # name, kind, kwargs, grad scale, lr per step (None: constant)
    ("sgd_plain", "sgd", dict(lr=0.1), 1.0, None),
    ("sgd_momentum_wd", "sgd", dict(lr=0.05, momentum=0.9, weight_decay=5e-4), 1.0, None),
    ("sgd_nesterov", "sgd", dict(lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True), 1.0,
     [0.1, 0.1, 0.05, 0.05, 0.01, 0.01]),
    ("adam_default", "adam", dict(lr=1e-3), 1.0, None),
    ("adam_l2", "adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01), 1.0,
     [0.01, 0.009, 0.008, 0.007, 0.006, 0.005]),
    ("adam_tiny_grads", "adam", dict(lr=1e-3), 1e-8, None),
    ("adamw_default", "adamw", dict(lr=1e-3), 1.0, None),
    ("adamw_strong", "adamw", dict(lr=0.05, betas=(0.5, 0.9), eps=1e-8, weight_decay=0.1), 1.0,
     [0.05, 0.04, 0.03, 0.02, 0.01, 0.005]),
]

N = 19
STEPS = 5
BIG_N = 4099
BIG_STEPS = 8


def fnv1a(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    out = sys.stdout
    print("torch", torch.__version__, file=out)
    rng = Lcg(12345)
    for name, kind, kw, gscale, lrs in CASES:
        p0 = vec(rng, N, -1.0, 1.0)
        param = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float32))
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
        opt = cls([param], **kw)
        g = opt.param_groups[0]
        betas = g.get("betas", (0.0, 0.0))
        print("case %s %s n=%d steps=%d lr=%r momentum=%r weight_decay=%r nesterov=%d "
              "beta1=%r beta2=%r eps=%r" % (
                  name, kind, N, STEPS, float(kw["lr"]), float(g.get("momentum", 0.0)),
                  float(g["weight_decay"]), int(bool(g.get("nesterov", False))),
                  float(betas[0]), float(betas[1]), float(g.get("eps", 0.0))), file=out)
        print(line("p0", p0), file=out)
        for k in range(1, STEPS + 1):
            lr = lrs[k - 1] if lrs else kw["lr"]
            g["lr"] = lr
            grad = [f32(v * gscale) for v in vec(rng, N, -1.0, 1.0)]
            param.grad = torch.tensor(grad, dtype=torch.float32)
            opt.step()
            print("lr%d %r" % (k, float(lr)), file=out)
            print(line("g%d" % k, grad), file=out)
            print(line("p%d" % k, param.detach().tolist()), file=out)

    # learning-rate schedulers, stepped once per epoch as in a training loop
    def sched_values(make, base, epochs):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=base)
        s = make(opt)
        vals = []
        for _ in range(epochs):
            vals.append(opt.param_groups[0]["lr"])
            opt.step()
            s.step()
        return vals

    S = torch.optim.lr_scheduler
    scheds = [
        ("multistep_3_5_0.1", 0.1, 8, lambda o: S.MultiStepLR(o, milestones=[3, 5], gamma=0.1)),
        ("multistep_dup_2_2_0.5", 1.0, 5, lambda o: S.MultiStepLR(o, milestones=[2, 2], gamma=0.5)),
        ("cosine_10_0", 0.1, 10, lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.0)),
        ("cosine_7_0.001", 0.05, 7, lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
        ("exponential_0.9", 0.1, 6, lambda o: S.ExponentialLR(o, gamma=0.9)),
    ]
    for name, base, epochs, make in scheds:
        vals = sched_values(make, base, epochs)
        print("sched %s base=%r epochs=%d %s" % (
            name, base, epochs, " ".join(repr(float(v)) for v in vals)), file=out)
    _ = math

    # large cases: bit-exactness over many values, recorded as hashes
    for ci, (name, kind, kw, gscale, lrs) in enumerate(CASES):
        seed = 1000 + ci
        r = Lcg(seed)
        p0 = vec(r, BIG_N, -1.0, 1.0)
        param = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float32))
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[kind]
        opt = cls([param], **kw)
        hashes = []
        lr_used = []
        for k in range(1, BIG_STEPS + 1):
            lr_used.append(lrs[(k - 1) % len(lrs)] if lrs else kw["lr"])
            opt.param_groups[0]["lr"] = lr_used[-1]
            grad = [f32(v * gscale) for v in vec(r, BIG_N, -1.0, 1.0)]
            param.grad = torch.tensor(grad, dtype=torch.float32)
            opt.step()
            hashes.append("%016x" % fnv1a(struct.pack("<%df" % BIG_N, *param.detach().tolist())))
        print("big %s n=%d steps=%d seed=%d gscale=%r lrs=%s %s" % (
            name, BIG_N, BIG_STEPS, seed, float(gscale), ",".join(repr(float(x)) for x in lr_used),
            " ".join(hashes)), file=out)


if __name__ == "__main__":
    main()
