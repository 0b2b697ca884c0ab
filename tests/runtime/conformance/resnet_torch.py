#!/usr/bin/env python3
"""resnet_torch.py IN OUT -- the PyTorch side of the executor conformance test.

Builds the CIFAR ResNet of recipes/nets/resnet.kdr in PyTorch (3x3 convs
without bias, affine BN, a 1x1 conv + BN projection shortcut when the shape
changes, global mean, linear with bias), loads the parameters, the input
batch `x` and the labels `y` that test_conformance wrote to IN (kdrun names:
"s.block[2,1].conv0.weight"), runs one training-mode forward + backward of
the mean cross-entropy and writes to OUT: `logits`, `loss`, `grad:<name>` for
every parameter and `running_mean:<bn>` / `running_var:<bn>` for every BN,
and the same step in float64: `logits64` and `grad64:<name>`.

File format (little-endian): b"KDT1", u32 count, then per tensor u32 name
length, name (UTF-8), u32 ndim, i64 dims[ndim], float32 data.
"""
import copy
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_tensors(path):
    out = {}
    with open(path, "rb") as f:
        if f.read(4) != b"KDT1":
            raise SystemExit("%s: not a KDT1 file" % path)
        (count,) = struct.unpack("<I", f.read(4))
        for _ in range(count):
            (nl,) = struct.unpack("<I", f.read(4))
            name = f.read(nl).decode()
            (nd,) = struct.unpack("<I", f.read(4))
            dims = struct.unpack("<%dq" % nd, f.read(8 * nd)) if nd else ()
            n = int(np.prod(dims)) if nd else 1
            data = np.frombuffer(f.read(4 * n), dtype="<f4").reshape(dims)
            out[name] = torch.from_numpy(data.copy())
    return out


def write_tensors(path, tensors):
    with open(path, "wb") as f:
        f.write(b"KDT1")
        f.write(struct.pack("<I", len(tensors)))
        for name, t in tensors.items():
            a = t.detach().cpu().contiguous().numpy().astype("<f4")
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", a.ndim))
            if a.ndim:
                f.write(struct.pack("<%dq" % a.ndim, *a.shape))
            f.write(a.tobytes())


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
    """resnet(depth, classes, base) of recipes/nets/resnet.kdr; names() maps
    kdrun parameter names to this module's tensors."""

    def __init__(self, depth, classes, base=16, cin=3):
        super().__init__()
        n = (depth - 2) // 6
        self.n = n
        self.conv0 = nn.Conv2d(cin, base, 3, 1, 1, bias=False)
        self.bn0 = nn.BatchNorm2d(base)
        blocks = []
        c_in = base
        for s in range(1, 4):
            c = base * 2 ** (s - 1)
            for b in range(1, n + 1):
                blocks.append(Block(c_in, c, 2 if (s > 1 and b == 1) else 1))
                c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.linear0 = nn.Linear(c_in, classes)

    def forward(self, x):
        h = F.relu(self.bn0(self.conv0(x)))
        for b in self.blocks:
            h = b(h)
        return self.linear0(h.mean(dim=(2, 3)))

    def names(self, prefix):
        """{kdrun name: (module, attribute)} for parameters; bns: {kdrun bn path: module}"""
        params, bns = {}, {}

        def add(path, mod):
            for attr in ("weight", "bias"):
                if getattr(mod, attr, None) is not None:
                    params["%s.%s" % (path, attr)] = getattr(mod, attr)
            if isinstance(mod, nn.BatchNorm2d):
                bns[path] = mod

        add(prefix + ".conv0", self.conv0)
        add(prefix + ".bn0", self.bn0)
        i = 0
        for s in range(1, 4):
            for b in range(1, self.n + 1):
                blk = self.blocks[i]
                i += 1
                p = "%s.block[%d,%d]" % (prefix, s, b)
                for k in ("conv0", "bn0", "conv1", "bn1", "conv2", "bn2"):
                    if hasattr(blk, k):
                        add(p + "." + k, getattr(blk, k))
        add(prefix + ".linear0", self.linear0)
        return params, bns


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: resnet_torch.py IN OUT")
    torch.set_num_threads(2)
    t = read_tensors(sys.argv[1])
    x, y = t.pop("x"), t.pop("y").long()
    depth = int(t.pop("meta:depth").item())
    classes = int(t.pop("meta:classes").item())
    model = ResNet(depth, classes, cin=x.shape[1])
    params, bns = model.names("s")
    missing = sorted(set(params) ^ set(t))
    if missing:
        raise SystemExit("parameter names differ: %s" % ", ".join(missing[:8]))
    with torch.no_grad():
        for name, p in params.items():
            if tuple(p.shape) != tuple(t[name].shape):
                raise SystemExit("%s: shape %s vs %s" % (name, tuple(p.shape), tuple(t[name].shape)))
            p.copy_(t[name])
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    out = {"logits": logits, "loss": loss}
    for name, p in params.items():
        out["grad:" + name] = p.grad
    for path, bn in bns.items():
        out["running_mean:" + path] = bn.running_mean
        out["running_var:" + path] = bn.running_var
    # the same step in float64: the reference both float32 results are
    # measured against (a relu input within rounding of 0 can take the other
    # branch in float32, in torch as in kdrun: see test_conformance.c)
    m64 = copy.deepcopy(model).double()
    for p64 in m64.parameters():
        p64.grad = None
    logits64 = m64(x.double())
    F.cross_entropy(logits64, y).backward()
    params64, _ = m64.names("s")
    out["logits64"] = logits64.float()
    for name, p64 in params64.items():
        out["grad64:" + name] = p64.grad.float()
    write_tensors(sys.argv[2], out)


if __name__ == "__main__":
    main()
