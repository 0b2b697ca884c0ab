#!/usr/bin/env python3
"""nextitnet_torch.py IN OUT -- the PyTorch side of NextItNet's conformance test.

Builds `nextitnet(num_items, dim, blocks)` of recipes/nets/nextitnet.kdr in
PyTorch: an item embedding (ids [N, T] -> [N, C, T]); per block two
dilated causal 1-D convolutions (k = 3, dilations 1 and 4, bias; causal:
padded by dilation*(k-1) on the left only), each followed by layer norm
over the channels of each time step (gain and bias, eps 1e-5) and relu,
plus the residual; the last time step; a linear layer with bias.  Loads
the parameters by their kdrun names ("s.hidden[2].conv1d1.weight"), the
ids `x` [N, T] and the labels `y`, runs one forward + backward of the
mean cross-entropy in float32 and in float64 and writes to OUT: `logits`,
`loss`, `grad:<name>`, `logits64`, `grad64:<name>` (file format: see
resnet_torch.py).

The module is also bench/bench_torch.py's `nextitnet` config.
"""
import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resnet_torch import read_tensors, write_tensors  # noqa: E402


class CausalConv(nn.Module):
    def __init__(self, c, k, d):
        super().__init__()
        self.pad = d * (k - 1)
        self.conv = nn.Conv1d(c, c, k, dilation=d)

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, 0)))


class ChannelNorm(nn.Module):
    """layer norm over the channels of [N, C, T], each step alone"""

    def __init__(self, c):
        super().__init__()
        self.ln = nn.LayerNorm(c, eps=1e-5)

    def forward(self, x):
        return self.ln(x.transpose(1, 2)).transpose(1, 2)


class NextItBlock(nn.Module):
    def __init__(self, c, k=3, d1=1, d2=4):
        super().__init__()
        self.conv0, self.ln0 = CausalConv(c, k, d1), ChannelNorm(c)
        self.conv1, self.ln1 = CausalConv(c, k, d2), ChannelNorm(c)

    def forward(self, x):
        h = F.relu(self.ln0(self.conv0(x)))
        h = F.relu(self.ln1(self.conv1(h)))
        return x + h


class NextItNet(nn.Module):
    def __init__(self, num_items, dim, blocks):
        super().__init__()
        self.emb = nn.Embedding(num_items, dim)
        self.blocks = nn.ModuleList(NextItBlock(dim) for _ in range(blocks))
        self.linear = nn.Linear(dim, num_items)

    def forward(self, ids):
        h = self.emb(ids).transpose(1, 2)          # [N, C, T]
        for b in self.blocks:
            h = b(h)
        return self.linear(h[:, :, -1])

    def kdrun_names(self, model="s"):
        """kdrun parameter name -> this module's parameter"""
        out = {model + ".embedding0.weight": self.emb.weight,
               model + ".linear0.weight": self.linear.weight,
               model + ".linear0.bias": self.linear.bias}
        for i, b in enumerate(self.blocks, 1):
            for j, (conv, ln) in enumerate(((b.conv0, b.ln0), (b.conv1, b.ln1))):
                p = "%s.hidden[%d]." % (model, i)
                out[p + "conv1d%d.weight" % j] = conv.conv.weight
                out[p + "conv1d%d.bias" % j] = conv.conv.bias
                out[p + "layernorm%d.weight" % j] = ln.ln.weight
                out[p + "layernorm%d.bias" % j] = ln.ln.bias
        return out


def step(net, ids, y, dtype):
    net = copy.deepcopy(net).to(dtype)
    net.zero_grad()
    logits = net(ids)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return logits, loss, {n: p.grad for n, p in net.kdrun_names().items()}


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: nextitnet_torch.py IN OUT")
    t = read_tensors(sys.argv[1])
    num_items, dim, blocks = (int(t["meta:" + k].item()) for k in ("num_items", "dim", "blocks"))
    net = NextItNet(num_items, dim, blocks)
    params = net.kdrun_names()
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(t[name].reshape(p.shape))
    ids = t["x"].round().long()
    y = t["y"].round().long()
    out = {}
    logits, loss, grads = step(net, ids, y, torch.float32)
    out["logits"], out["loss"] = logits, loss
    for n, g in grads.items():
        out["grad:" + n] = g
    logits64, _, grads64 = step(net, ids, y, torch.float64)
    out["logits64"] = logits64
    for n, g in grads64.items():
        out["grad64:" + n] = g
    write_tensors(sys.argv[2], out)


if __name__ == "__main__":
    main()
