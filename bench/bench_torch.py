#!/usr/bin/env python3
"""bench_torch.py CONFIG [STEPS [BATCH [THREADS [LAYOUT]]]] -- the PyTorch side of `make bench`.

CONFIG: resnet20 | resnet56 | wrn16_2 | kd (ResNet-56 teacher in eval mode
under no_grad + ResNet-20 student, loss = T^2 KL(softmax(t/T) || softmax(s/T))
+ CE, T = 4) | unet (the Feature-Align U-Net of recipes/nets/unet_fa.kdr, base
16, 3 levels, on 4x64x64 packed RAW crops, l1 against 0.5 x; BATCH is used as
given: make bench passes 16) | nextitnet (NextItNet, 2 blocks of 256 channels,
3,000 items, histories of 50 random item ids; the module of
tests/runtime/conformance/nextitnet_torch.py) | sgemm (1024^3 matmul GFLOP/s).  One training step = forward,
loss, zero_grad, backward, SGD (momentum 0.9) step, on random CIFAR-shaped
float32 data; the same work bench_kd.c times for kdrun.  LAYOUT: "default"
(NCHW, contiguous) or "channels_last" (the models and the input batch in
torch.channels_last, what a tuned PyTorch user runs; 4-d configs only).
Prints one line:

    RESULT CONFIG IMAGES_PER_S PEAK_RSS_KIB

The networks are those of recipes/nets/resnet.kdr and wrn.kdr (the same
module definitions as tests/runtime/conformance/resnet_torch.py).
"""
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv0 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn0 = nn.BatchNorm2d(c)
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.proj = stride != 1 or cin != c
        if self.proj:
            self.conv2 = nn.Conv2d(cin, c, 1, stride, 0, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        h = F.relu(self.bn0(self.conv0(x)))
        h = self.bn1(self.conv1(h))
        skip = self.bn2(self.conv2(x)) if self.proj else x
        return F.relu(h + skip)


class ResNet(nn.Module):
    def __init__(self, depth, classes=10, base=16, in_ch=3):
        super().__init__()
        n = (depth - 2) // 6
        self.conv0 = nn.Conv2d(in_ch, base, 3, 1, 1, bias=False)
        self.bn0 = nn.BatchNorm2d(base)
        blocks, c_in = [], base
        for s in range(1, 4):
            c = base * 2 ** (s - 1)
            for b in range(1, n + 1):
                blocks.append(Block(c_in, c, 2 if (s > 1 and b == 1) else 1))
                c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.linear0 = nn.Linear(c_in, classes)

    def forward(self, x):
        h = F.relu(self.bn0(self.conv0(x)))
        return self.linear0(self.blocks(h).mean(dim=(2, 3)))


class WideBlock(nn.Module):
    """pre-activation block of recipes/nets/wrn.kdr (no dropout)"""

    def __init__(self, cin, c, stride):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(cin)
        self.conv0 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.proj = stride != 1 or cin != c
        if self.proj:
            self.conv2 = nn.Conv2d(cin, c, 1, stride, 0, bias=False)

    def forward(self, x):
        pre = F.relu(self.bn0(x))
        h = self.conv1(F.relu(self.bn1(self.conv0(pre))))
        return h + (self.conv2(pre) if self.proj else x)


class WRN(nn.Module):
    def __init__(self, depth, widen, classes=10):
        super().__init__()
        n = (depth - 4) // 6
        self.conv0 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        blocks, c_in = [], 16
        for s in range(1, 4):
            c = 16 * widen * 2 ** (s - 1)
            for b in range(1, n + 1):
                blocks.append(WideBlock(c_in, c, 2 if (s > 1 and b == 1) else 1))
                c_in = c
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c_in)
        self.linear0 = nn.Linear(c_in, classes)

    def forward(self, x):
        h = F.relu(self.bn(self.blocks(self.conv0(x))))
        return self.linear0(h.mean(dim=(2, 3)))


def sgemm(n=1024, reps=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best * 1e-9


def main():
    cfg = sys.argv[1] if len(sys.argv) > 1 else "resnet20"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    layout = sys.argv[5] if len(sys.argv) > 5 else "default"
    if layout not in ("default", "channels_last"):
        raise SystemExit("unknown layout " + layout)
    if layout == "channels_last" and cfg in ("nextitnet", "sgemm"):
        raise SystemExit("channels_last: 4-d configs only")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if cfg == "sgemm":
        print("RESULT sgemm %.3f %d" % (sgemm(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
        return
    teacher = None
    if cfg == "resnet20":
        model = ResNet(20)
    elif cfg == "resnet56":
        model = ResNet(56)
    elif cfg == "wrn16_2":
        model = WRN(16, 2)
    elif cfg == "unet":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "tests", "runtime", "conformance"))
        from unet_fa_torch import UNetFA
        model = UNetFA(base=16, levels=3, fa=True)
    elif cfg == "nextitnet":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "tests", "runtime", "conformance"))
        from nextitnet_torch import NextItNet
        model = NextItNet(3001, 256, 2)
    elif cfg == "kd":
        model, teacher = ResNet(20), ResNet(56)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    else:
        raise SystemExit("unknown config " + cfg)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if cfg == "unet":
        x = torch.rand(batch, 4, 64, 64) * 2 - 1
        y = 0.5 * x
    elif cfg == "nextitnet":
        x = torch.randint(1, 3001, (batch, 50))
        y = torch.randint(1, 3001, (batch,))
    else:
        x = torch.rand(batch, 3, 32, 32) * 2 - 1
        y = torch.randint(0, 10, (batch,))
    if layout == "channels_last":
        cl = torch.channels_last
        model = model.to(memory_format=cl)
        if teacher is not None:
            teacher = teacher.to(memory_format=cl)
        x = x.contiguous(memory_format=cl)
        if cfg == "unet":
            y = y.contiguous(memory_format=cl)
    T = 4.0

    def step():
        logits = model(x)
        loss = F.l1_loss(logits, y) if cfg == "unet" else F.cross_entropy(logits, y)
        if teacher is not None:
            with torch.no_grad():
                t = teacher(x)
            kl = F.kl_div(F.log_softmax(logits / T, dim=1), F.softmax(t / T, dim=1),
                          reduction="batchmean") * T * T
            loss = loss + kl
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        return loss

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RESULT %s %.3f %d" % (cfg, batch * steps / dt, rss))


if __name__ == "__main__":
    main()
