#!/usr/bin/env python3
"""unet_fa_torch.py -- recipes/nets/unet_fa.kdr in PyTorch, for the
conformance test (test_unet_conformance.c) and `make bench`.

    unet_fa_torch.py IN OUT

IN (KDT1, see resnet_torch.py): x (noisy), y (clean), meta:levels, meta:fa
and every parameter by its kdrun name; OUT: out, loss (mse) and grad:NAME,
in float32, and out64, loss64, grad64:NAME from the same step in float64.

The net, by kdrun's names (M = the model, l = 1..levels, L = levels):
  fa_block P (c):  h = conv3x3(in) + b  [P.conv0];  a = lrelu_0.2(FA(h))
                   [P.feature_align0]; the same again [P.conv1,
                   P.feature_align1]; FA(h) = h (1 + Ws g + bs) + Wt g + bt,
                   g = the noisy input average-pooled to h's size
  M.enc[1] = fa_block(x), M.enc[l] = fa_block(maxpool2(M.enc[l-1]))
  M.dec[L+1] = fa_block(maxpool2(M.enc[L]))
  M.dec[l] = fa_block(cat(deconv2x2_s2(M.dec[l+1]) [M.deconv{L-l}], M.enc[l]))
  out = x + 0.1 conv1x1(M.dec[1]) [M.conv0, no bias]
UNetFA below is the same net as a module (random init), for the bench.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def feature_align(h, z, p, P):
    f = z.shape[2] // h.shape[2]
    g = F.avg_pool2d(z, f) if f > 1 else z
    ws, wt = p[P + ".scale_weight"], p[P + ".shift_weight"]
    s = F.conv2d(g, ws.view(ws.shape[0], ws.shape[1], 1, 1), p[P + ".scale_bias"])
    t = F.conv2d(g, wt.view(wt.shape[0], wt.shape[1], 1, 1), p[P + ".shift_bias"])
    return h * (1 + s) + t


def fa_block(x, z, p, P, fa):
    h = x
    for i in range(2):
        h = F.conv2d(h, p["%s.conv%d.weight" % (P, i)], p["%s.conv%d.bias" % (P, i)], padding=1)
        if fa:
            h = feature_align(h, z, p, "%s.feature_align%d" % (P, i))
        h = F.leaky_relu(h, 0.2)
    return h


def unet(x, p, levels, fa, M="s", keep=None):
    enc = {}
    for l in range(1, levels + 1):
        enc[l] = fa_block(x if l == 1 else F.max_pool2d(enc[l - 1], 2), x, p, "%s.enc[%d]" % (M, l), fa)
    d = fa_block(F.max_pool2d(enc[levels], 2), x, p, "%s.dec[%d]" % (M, levels + 1), fa)
    for i in range(1, levels + 1):
        l = levels + 1 - i
        u = F.conv_transpose2d(d, p["%s.deconv%d.weight" % (M, i - 1)], p["%s.deconv%d.bias" % (M, i - 1)],
                               stride=2)
        d = fa_block(torch.cat([u, enc[l]], 1), x, p, "%s.dec[%d]" % (M, l), fa)
        if keep is not None:
            keep[l] = d
    return x + 0.1 * F.conv2d(d, p[M + ".conv0.weight"])


class UNetFA(nn.Module):
    """the same net with its own parameters (kaiming conv init; FA at 0)"""

    def __init__(self, base=32, levels=4, fa=True, cin=4):
        super().__init__()
        self.levels, self.fa = levels, fa
        self.p = nn.ParameterDict()

        def block(P, ci, c):
            for i, cin_ in enumerate((ci, c)):
                self.p[self.key("%s.conv%d.weight" % (P, i))] = nn.Parameter(
                    nn.init.kaiming_normal_(torch.empty(c, cin_, 3, 3)))
                self.p[self.key("%s.conv%d.bias" % (P, i))] = nn.Parameter(torch.zeros(c))
                if fa:
                    for k, shape in (("scale_weight", (c, cin)), ("scale_bias", (c,)),
                                     ("shift_weight", (c, cin)), ("shift_bias", (c,))):
                        self.p[self.key("%s.feature_align%d.%s" % (P, i, k))] = nn.Parameter(torch.zeros(*shape))

        ci = cin
        for l in range(1, levels + 1):
            block("s.enc[%d]" % l, ci, base * 2 ** (l - 1))
            ci = base * 2 ** (l - 1)
        block("s.dec[%d]" % (levels + 1), ci, base * 2 ** levels)
        for i in range(1, levels + 1):
            c = base * 2 ** (levels - i)
            self.p[self.key("s.deconv%d.weight" % (i - 1))] = nn.Parameter(
                nn.init.kaiming_normal_(torch.empty(2 * c, c, 2, 2)))
            self.p[self.key("s.deconv%d.bias" % (i - 1))] = nn.Parameter(torch.zeros(c))
            block("s.dec[%d]" % (levels + 1 - i), 2 * c, c)
        self.p[self.key("s.conv0.weight")] = nn.Parameter(nn.init.kaiming_normal_(torch.empty(cin, base, 1, 1)))

    @staticmethod
    def key(name):
        return name.replace(".", "/")

    def forward(self, x):
        p = {k.replace("/", "."): v for k, v in self.p.items()}
        return unet(x, p, self.levels, self.fa)


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: unet_fa_torch.py IN OUT")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from resnet_torch import read_tensors, write_tensors
    torch.set_num_threads(2)
    t = read_tensors(sys.argv[1])
    x, y = t.pop("x"), t.pop("y")
    levels = int(t.pop("meta:levels").item())
    fa = bool(t.pop("meta:fa").item())
    out = {}
    for dt, sfx in ((torch.float32, ""), (torch.float64, "64")):
        p = {k: v.to(dt).clone().requires_grad_(True) for k, v in t.items()}
        o = unet(x.to(dt), p, levels, fa)
        loss = F.mse_loss(o, y.to(dt))
        loss.backward()
        out["out" + sfx] = o.detach().float()
        out["loss" + sfx] = loss.detach().float()
        for k, v in p.items():
            if v.grad is None:
                raise SystemExit("parameter %s is not used by the torch net" % k)
            out["grad%s:%s" % (sfx, k)] = v.grad.float()
    write_tensors(sys.argv[2], out)


if __name__ == "__main__":
    main()
