#!/usr/bin/env python3
"""fmnist_kd_torch.py -- recipes/classic/fmnist_kd.kdr in plain PyTorch (make bench-e2e).

    fmnist_kd_torch.py [--data DIR] [--limit N] [--epochs E] [--threads T]
                       [--seed S] [--batch B]

The same experiment as the recipe: Fashion-MNIST from the IDX files in DIR
(default /usr/share/datasets/fashion-mnist); the same split as kdrun's data
library (5,000 training images held out as val by the Fisher-Yates
permutation keyed (0, 0, 0, HOLDOUT), then the first N = --limit positions
of the permutation keyed (0, 0, 0, LIMIT), both with kdrun's splitmix64
draws, so the very same images); augmentation random 28x28 crop after
zero-padding by 2 (before normalisation) and horizontal flip with
probability 1/2; normalisation mean 0.2860, std 0.3530.  A ResNet-14
teacher (base 8) trained first with ce, then frozen (eval mode, no_grad),
and a ResNet-8 student (base 4) trained with 0.1 * ce + 0.9 * kd(T: 4)
(T^2 KL(softmax(t/T) || softmax(s/T)), mean over the batch), both with
SGD (lr 0.1, momentum 0.9, weight decay 5e-4, nesterov), cosine learning
rate per epoch over the phase's epochs, batch 128 (last batch partial),
the nets of recipes/nets/resnet.kdr initialised as kdrun does (Kaiming
normal fan-in weights, uniform(+-1/sqrt(fan-in)) linear bias, BN 1/0).
Each epoch evaluates top-1 on val and saves a checkpoint (model and
optimizer), as the recipe's phases do; the end evaluates both on test.

Epoch order and augmentation draws come from torch's generator seeded
with --seed, not kdrun's counter-based draws: the runs are the same
experiment, not the same bits.  Prints

    RESULT WALL_S TEACHER_TOP1 STUDENT_TOP1 TEACHER_TOP5 STUDENT_TOP5

(WALL_S from the start of the script, imports excluded, data loading
included; the driver bench/fmnist_kd_e2e.sh times the whole process).
"""
import argparse
import gzip
import math
import os
import struct
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import ResNet  # noqa: E402  (the nets of recipes/nets/resnet.kdr)

M64 = (1 << 64) - 1
STREAM_HOLDOUT, STREAM_LIMIT = 4, 5


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def keyed_perm(seed, stream, n):
    """data/dataset.c keyed_perm: Fisher-Yates keyed (seed, 0, 0, stream),
    kd_rng_below's draws computed at once with numpy (a rejection, chance
    about n / 2^64, falls back to drawing one by one)"""
    import numpy as np
    h = mix64((seed + 0x9E3779B97F4A7C15) & M64)
    h = mix64(h ^ 0x632BE59BD9B4E019)
    h = mix64(h ^ 0x85157AF5)
    s0 = mix64(h ^ ((stream * 0xD6E8FEB86659FD93) & M64))
    with np.errstate(over="ignore"):
        z = np.uint64(s0) + np.arange(1, n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = z ^ (z >> np.uint64(31))
    m = np.arange(n, 1, -1, dtype=np.uint64)             # i + 1 for i = n-1 .. 1
    lim = np.uint64(M64) - (np.uint64(M64) % m)
    perm = list(range(n))
    if bool((x < lim).all()):
        js = (x % m).tolist()
        for k, i in enumerate(range(n - 1, 0, -1)):
            j = js[k]
            perm[i], perm[j] = perm[j], perm[i]
        return perm
    s = s0
    for i in range(n - 1, 0, -1):
        m = i + 1
        lim = M64 - (M64 % m)
        while True:
            s = (s + 0x9E3779B97F4A7C15) & M64
            x = mix64(s)
            if x < lim:
                break
        j = x % m
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    nd = magic & 0xFF
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    t = torch.frombuffer(bytearray(data[4 + 4 * nd:]), dtype=torch.uint8)
    return t.reshape(dims)


def load(data_dir, split):
    def find(stem):
        for suffix in (".gz", ""):
            p = os.path.join(data_dir, stem + suffix)
            if os.path.exists(p):
                return p
        raise SystemExit("fmnist_kd_torch: no %s in %s" % (stem, data_dir))
    x = read_idx(find(split + "-images-idx3-ubyte"))
    y = read_idx(find(split + "-labels-idx1-ubyte"))
    return x, y.long()


def subset(x, y, idx):
    idx = torch.tensor(sorted(idx), dtype=torch.long)
    return x[idx], y[idx]


def init_like_kdrun(model):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                fan = m.weight[0].numel()
                nn.init.uniform_(m.bias, -1 / math.sqrt(fan), 1 / math.sqrt(fan))
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


MEAN, STD = 0.2860, 0.3530


def normalize(x):
    return ((x / 255.0) - MEAN) / STD


def batches_train(x_pad, y, batch, gen):
    """random crop 28 after zero padding by 2, horizontal flip, normalise"""
    n = y.shape[0]
    order = torch.randperm(n, generator=gen)
    ar = torch.arange(28)
    for k in range(0, n, batch):
        b = order[k:k + batch]
        oy = torch.randint(0, 5, (b.numel(),), generator=gen)
        ox = torch.randint(0, 5, (b.numel(),), generator=gen)
        flip = torch.rand(b.numel(), generator=gen) < 0.5
        rows = (oy[:, None] + ar)[:, :, None]
        cols = ox[:, None] + ar
        cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, :]
        xb = x_pad[b[:, None, None], rows, cols]
        yield normalize(xb.float()).unsqueeze(1), y[b]


def evaluate(model, x, y, topk=(1,)):
    model.eval()
    hits = [0] * len(topk)
    with torch.no_grad():
        for k in range(0, y.shape[0], 1000):
            out = model(normalize(x[k:k + 1000].float()).unsqueeze(1))
            top = out.topk(max(topk), dim=1).indices
            for i, t in enumerate(topk):
                hits[i] += (top[:, :t] == y[k:k + 1000, None]).any(dim=1).sum().item()
    return [100.0 * h / y.shape[0] for h in hits]


def train_phase(name, model, teacher, data, val, epochs, batch, gen, ckdir):
    x_pad, y = data
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    T = 4.0
    for e in range(epochs):
        for group in opt.param_groups:        # cosine over the phase's epochs
            group["lr"] = 0.1 * (1 + math.cos(math.pi * e / epochs)) / 2
        model.train()
        tot, nb = 0.0, 0
        for xb, yb in batches_train(x_pad, y, batch, gen):
            out = model(xb)
            ce = F.cross_entropy(out, yb)
            if teacher is None:
                loss = ce
            else:
                with torch.no_grad():
                    t = teacher(xb)
                kd = F.kl_div(F.log_softmax(out / T, dim=1), F.softmax(t / T, dim=1),
                              reduction="batchmean") * T * T
                loss = 0.1 * ce + 0.9 * kd
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
            tot += loss.item()
            nb += 1
        top1, = evaluate(model, *val)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": e + 1},
                   os.path.join(ckdir, name + ".pt"))
        print("%s epoch %d: train loss %.4f, val top1 %.2f%%" % (name, e + 1, tot / nb, top1),
              flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    t0 = time.perf_counter()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    n = ytr.shape[0]
    perm = keyed_perm(0, STREAM_HOLDOUT, n)               # holdout 5000 as val
    val = subset(xtr, ytr, perm[n - 5000:])
    xtr, ytr = subset(xtr, ytr, perm[:n - 5000])
    if a.limit < ytr.shape[0]:                             # limit N
        xtr, ytr = subset(xtr, ytr, keyed_perm(0, STREAM_LIMIT, ytr.shape[0])[:a.limit])
    train = (F.pad(xtr, (2, 2, 2, 2)), ytr)                # zero padding before normalising

    teacher = ResNet(14, classes=10, base=8, in_ch=1)
    student = ResNet(8, classes=10, base=4, in_ch=1)
    init_like_kdrun(teacher)
    init_like_kdrun(student)
    with tempfile.TemporaryDirectory() as ckdir:
        train_phase("teacher", teacher, None, train, val, a.epochs, a.batch, gen, ckdir)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        train_phase("student", student, teacher, train, val, a.epochs, a.batch, gen, ckdir)
    t1, t5 = evaluate(teacher, xte, yte, (1, 5))
    s1, s5 = evaluate(student, xte, yte, (1, 5))
    print("RESULT %.3f %.2f %.2f %.2f %.2f" % (time.perf_counter() - t0, t1, s1, t5, s5))


if __name__ == "__main__":
    main()
