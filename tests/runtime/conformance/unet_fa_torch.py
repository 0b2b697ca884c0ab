"""unet_fa_torch.py -- recipes/nets/unet_fa.kdr as PyTorch modules (the same
layers, parameter shapes and initial identities), for the conformance test
and `make bench`.

    FeatureAlign(c, k)  y = x * (1 + s) + t,  s = Ws g + bs,  t = Wt g + bt,
                        g = the noisy input average-pooled to x's size
    UNetFA(base, levels, fa)   enc[l], dec[l], denoised = in + conv1x1(dec[1])
Convolutions have no bias (kdrun's conv default); deconv (ConvTranspose2d,
k 2, stride 2) has one.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class FeatureAlign(nn.Module):
    def __init__(self, c, k=4):
        super().__init__()
        self.scale = nn.Conv2d(k, c, 1)
        self.shift = nn.Conv2d(k, c, 1)
        for m in (self.scale, self.shift):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x, z):
        f = z.shape[2] // x.shape[2]
        g = F.avg_pool2d(z, f) if f > 1 else z
        return x * (1 + self.scale(g)) + self.shift(g)


class FABlock(nn.Module):
    def __init__(self, cin, c, fa):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.fa1 = FeatureAlign(c) if fa else None
        self.fa2 = FeatureAlign(c) if fa else None

    def forward(self, x, z):
        h = self.conv1(x)
        h = F.relu(self.fa1(h, z) if self.fa1 else h)
        h = self.conv2(h)
        return F.relu(self.fa2(h, z) if self.fa2 else h)


class UNetFA(nn.Module):
    def __init__(self, base=32, levels=4, fa=True, cin=4):
        super().__init__()
        self.levels = levels
        self.enc = nn.ModuleList()
        c_prev = cin
        for l in range(1, levels + 1):
            c = base * 2 ** (l - 1)
            self.enc.append(FABlock(c_prev, c, fa))
            c_prev = c
        self.mid = FABlock(c_prev, base * 2 ** levels, fa)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for i in range(1, levels + 1):
            c = base * 2 ** (levels - i)
            self.up.append(nn.ConvTranspose2d(2 * c, c, 2, stride=2))
            self.dec.append(FABlock(2 * c, c, fa))
        self.head = nn.Conv2d(base, cin, 1, bias=False)

    def forward(self, x, keep=None):
        enc = []
        h = x
        for l in range(self.levels):
            h = self.enc[l](h if l == 0 else F.max_pool2d(h, 2), x)
            enc.append(h)
        d = self.mid(F.max_pool2d(h, 2), x)
        for i in range(self.levels):
            u = self.up[i](d)
            d = self.dec[i](torch.cat([u, enc[self.levels - 1 - i]], 1), x)
            if keep is not None:
                keep["dec[%d]" % (self.levels - i)] = d
        return x + self.head(d)
