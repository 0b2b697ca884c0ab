#!/usr/bin/env python3
"""gen_zoo_golden.py -- golden values of the zoo losses from PyTorch, for
test_zoo_golden.c.

Each loss is written here from its paper's formula (see man/kdr-<op>.7),
evaluated in float64 on float32 random inputs; autograd gives the gradient
of the loss with respect to every input that gets one.  The C test runs the
kdrun op on the same inputs and compares the value and every gradient
element within 1e-5 (relative to max(1, |value|)).

Regenerate (needs PyTorch; Debian: apt-get install python3-torch):

    /usr/bin/python3 tests/ops/gen_zoo_golden.py > tests/ops/zoo_golden.txt

Format, one record per line (float32 values as the shortest decimal that
reads back to the same double; loss and gradients as float64 repr):

    torch VERSION
    case OP [ATTR=VALUE ...]
    seed S STEP                         crd: the node's seed and forward step
    gout NDIM.. : w1 w2 ...             abf: the output's gradient (a tensor op)
    out : y1 y2 ...                     abf: the output, instead of a loss
    in I NDIM D1 .. Dn : v1 v2 ...      data inputs, then parameters (vid)
    loss V
    grad I : g1 g2 ...                  d loss / d input I
    state I : s1 s2 ...                 crd: op state I after the forward
    end
"""
import math
import struct
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(20261203)


def f32(t):
    return t.to(torch.float32)


def rows(x):
    return x.reshape(x.shape[0], -1)


def unit(x):
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


def huber(x):
    a = x.abs()
    return torch.where(a < 1, 0.5 * x * x, a - 0.5)


# ---- the losses, from the papers' formulas -----------------------------------

def pair_dist(x):
    n = x.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    sq = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return torch.where(eye, torch.zeros_like(sq), torch.where(eye, torch.ones_like(sq), sq).sqrt())


def rkd(s, t, distance=25.0, angle=50.0):
    """Park et al. 2019: Huber of mean-normalised distances and of triplet angles."""
    s, t = rows(s), rows(t)
    n = s.shape[0]
    ds, dt = pair_dist(s), pair_dist(t)
    off = ~torch.eye(n, dtype=torch.bool)
    ms, mt = ds[off].mean(), dt[off].mean()
    ld = huber(ds / ms - dt / mt).sum() / n ** 2

    def cosines(x, d):
        e = x[None, :, :] - x[:, None, :]          # e[j, i] = x_i - x_j
        dd = torch.where(d > 0, d, torch.ones_like(d))
        u = torch.where((d > 0)[:, :, None], e / dd[:, :, None], torch.zeros_like(e))
        return torch.einsum('jid,jkd->jik', u, u)  # <e^j_i, e^j_k>
    la = huber(cosines(s, ds) - cosines(t, dt)).sum() / n ** 3
    return distance * ld + angle * la


def pkt(s, t):
    """Passalis & Tefas 2018: KL of cosine-kernel conditional probabilities."""
    n = s.shape[0]
    off = ~torch.eye(n, dtype=torch.bool)

    def cond(x):
        u = unit(rows(x))
        k = (1 + u @ u.T) / 2
        k = torch.where(off, k, torch.zeros_like(k))
        return k / k.sum(1, keepdim=True)
    p, q = cond(s), cond(t)
    qq = torch.where(off, q, torch.ones_like(q))
    pp = torch.where(off, p, torch.ones_like(p))
    return (q * (qq.log() - pp.log())).sum() / n ** 2


def sp(s, t):
    """Tung & Mori 2019: row-normalised batch similarity matrices."""
    n = s.shape[0]

    def g(x):
        a = rows(x)
        return unit(a @ a.T)
    return ((g(s) - g(t)) ** 2).sum() / n ** 2


def cc(s, t, gamma=0.4, P=2):
    """Peng et al. 2019: Taylor series of the Gaussian RBF kernel matrix."""
    n = s.shape[0]

    def k(x):
        u = unit(rows(x))
        c = u @ u.T
        return sum(math.exp(-2 * gamma) * (2 * gamma) ** p / math.factorial(p) * c ** p
                   for p in range(P + 1))
    return ((k(s) - k(t)) ** 2).sum() / n ** 2


def nst(s, t):
    """Huang & Wang 2017: MMD^2, polynomial kernel (a.b)^2, normalised channel maps."""
    n = s.shape[0]
    fs = s.reshape(n, s.shape[1], -1)
    ft = t.reshape(n, t.shape[1], -1)
    fs = fs / fs.norm(dim=2, keepdim=True).clamp_min(1e-12)
    ft = ft / ft.norm(dim=2, keepdim=True).clamp_min(1e-12)

    def k(a, b):
        return (a @ b.transpose(1, 2)) ** 2
    mmd = k(fs, fs).mean((1, 2)) + k(ft, ft).mean((1, 2)) - 2 * k(fs, ft).mean((1, 2))
    return mmd.mean()


def fsp(a, b, ta, tb):
    """Yim et al. 2017: FSP matrices between two layers, mean squared difference."""
    def g(x, y):
        n, c1 = x.shape[:2]
        x = x.reshape(n, c1, -1)
        y = y.reshape(n, y.shape[1], -1)
        return x @ y.transpose(1, 2) / x.shape[2]
    return ((g(a, b) - g(ta, tb)) ** 2).mean()


def ab(s, t, margin=1.0):
    """Heo et al. 2019: squared hinge around the teacher's activation boundary."""
    rho = (t > 0).to(s.dtype)
    l = rho * torch.relu(margin - s) ** 2 + (1 - rho) * torch.relu(margin + s) ** 2
    return l.mean()


def vid(mu, t, alpha, init_var=5.0, eps=1e-5):
    """Ahn et al. 2019: Gaussian NLL, per-channel variance softplus(alpha + a0) + eps."""
    a0 = math.log(math.exp(init_var - eps) - 1)
    var = torch.nn.functional.softplus(alpha + a0) + eps
    shape = [1, -1] + [1] * (mu.dim() - 2)
    var = var.reshape(shape)
    return (0.5 * ((t - mu) ** 2 / var + var.log())).mean()


def ft(s, t, p=1):
    """Kim et al. 2018: mean p-distance of L2-normalised factors."""
    d = unit(rows(s)) - unit(rows(t))
    return (d.abs() ** p).mean()


def abf(y, r, a):
    """Chen et al. 2021, ABF's fusion: two maps weighted by two attention
    maps (sigmoid of the logits), broadcast over the channels."""
    return y * torch.sigmoid(a[:, 0:1]) + r * torch.sigmoid(a[:, 1:2])


def abf_sum(y, r, a, w):
    """abf's output reduced to a scalar by fixed random weights w, so that
    one gradient covers every output element."""
    return (abf(y, r, a) * w).sum()


def hcl(s, t, levels=(4, 2, 1)):
    """Chen et al. 2021, HCL: MSE at full size and at pooled sizes l x l
    (l < H, W), the weight halving at each level, normalised by the total."""
    loss, w, tot = F.mse_loss(s, t), 1.0, 1.0
    for l in levels:
        if l >= s.shape[2] or l >= s.shape[3]:
            continue
        w /= 2
        loss = loss + w * F.mse_loss(F.adaptive_avg_pool2d(s, (l, l)), F.adaptive_avg_pool2d(t, (l, l)))
        tot += w
    return loss / tot


# crd: the draws of ops/kd_crd.h (the initial banks, the negatives), then
# the loss from the paper's formula (Tian et al. 2020, eq. 18-19 with the
# memory-bank normalisation Z of Wu et al. 2018) and the momentum update.
M64 = (1 << 64) - 1


def mix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def unif(seed, a, b):
    return (mix64(mix64(mix64(seed) ^ a) ^ b) >> 11) * (1.0 / 9007199254740992.0)


def crd_bank0(seed, which, n, d):
    s = 1 / math.sqrt(d / 3)
    v = [(2 * unif(seed ^ 0xC0DEBA4C, which, e) - 1) * s for e in range(n * d)]
    return torch.tensor(v, dtype=torch.float32).reshape(n, d).to(torch.float64)


def crd_neg(seed, step, i, j, k, n):
    return min(int(unif(seed, step, i * k + j) * n), n - 1)


def crd(s, t, idx, seed, step, n, k=16384, T=0.07, momentum=0.5):
    """Tian et al. 2020: NCE of each embedding against the other net's
    memory bank, one positive (its own sample) and k uniform negatives,
    P = exp(<v, m> / T) / Z, h = P / (P + k/n); returns the loss and the
    banks after the momentum update of the batch's rows."""
    B = s.shape[0]
    bank_s, bank_t = crd_bank0(seed, 0, n, s.shape[1]), crd_bank0(seed, 1, n, s.shape[1])
    ids = torch.tensor([[int(idx[i])] + [crd_neg(seed, step, i, j, k, n) for j in range(k)]
                        for i in range(B)])
    c, eps = k / n, 1e-7
    loss = 0
    vs, vt = unit(s), unit(t)
    for v, bank in ((vs, bank_t), (vt, bank_s)):
        e = torch.exp(torch.einsum('bkd,bd->bk', bank[ids], v) / T)
        Z = float(e.mean()) * n        # estimated on this (the first) batch; a constant
        P = e / Z
        loss = loss - (torch.log(P[:, 0] / (P[:, 0] + c + eps)).sum()
                       + torch.log(c / (P[:, 1:] + c + eps)).sum()) / B
    after = []
    for v, bank in ((vs, bank_s), (vt, bank_t)):
        b = bank.clone()
        for i in range(B):
            r = int(idx[i])
            x = momentum * b[r] + (1 - momentum) * v[i].detach().to(torch.float32).to(torch.float64)
            b[r] = x / x.norm()
        after.append(b)
    return loss, after


# ---- the cases ---------------------------------------------------------------------

def randn(*shape, scale=1.0):
    return f32(torch.randn(*shape, dtype=torch.float64) * scale)


CASES = [
    # name, attrs (as the C test sets them), function kwargs, inputs, which get gradients
    ('rkd', {}, {}, [randn(8, 5), randn(8, 7)], [0]),
    ('rkd', {'distance': 1, 'angle': 2}, {'distance': 1, 'angle': 2},
     [randn(6, 2, 2, 1), randn(6, 3, scale=3)], [0]),
    ('pkt', {}, {}, [randn(8, 6), randn(8, 4)], [0]),
    ('pkt', {}, {}, [randn(5, 2, 3, 1), randn(5, 9)], [0]),
    ('sp', {}, {}, [randn(8, 3, 2, 2), randn(8, 5, 2, 2)], [0]),
    ('cc', {}, {}, [randn(8, 6), randn(8, 5)], [0]),
    ('cc', {'gamma': 1.5, 'P': 4}, {'gamma': 1.5, 'P': 4}, [randn(6, 4), randn(6, 4)], [0]),
    ('nst', {}, {}, [randn(3, 4, 3, 3), randn(3, 6, 3, 3)], [0]),
    ('fsp', {}, {}, [randn(3, 2, 3, 3), randn(3, 4, 3, 3), randn(3, 2, 2, 2), randn(3, 4, 2, 2)], [0, 1]),
    ('ab', {}, {}, [randn(4, 3, 2, 2, scale=1.5), randn(4, 3, 2, 2)], [0]),
    ('ab', {'margin': 0.5}, {'margin': 0.5}, [randn(5, 7), randn(5, 7)], [0]),
    ('vid', {}, {}, [randn(3, 4, 2, 2), randn(3, 4, 2, 2, scale=2), randn(4, scale=0.5)], [0, 2]),
    ('vid', {'init_var': 0.5, 'eps': 0.01}, {'init_var': 0.5, 'eps': 0.01},
     [randn(5, 3), randn(5, 3), randn(3, scale=0.5)], [0, 2]),
    ('ft', {}, {}, [randn(4, 2, 2, 2), randn(4, 8)], [0]),
    ('ft', {'p': 2}, {'p': 2}, [randn(3, 6), randn(3, 6)], [0]),
]

# crd: (attrs, seed, step, student, teacher, index); training mode
CRD_CASES = [
    ({'n': 10, 'k': 8}, 77, 3, randn(5, 6), randn(5, 6, scale=2),
     f32(torch.randperm(10)[:5].to(torch.float64))),
    ({'n': 40, 'k': 64, 'T': 0.2, 'momentum': 0.9}, 12345, 1, randn(8, 16), randn(8, 16),
     f32(torch.randperm(40)[:8].to(torch.float64))),
]

# ReviewKD's ops: (name, attrs, inputs, which get gradients); abf's output
# is weighted by a fixed random tensor (the last input, not an op input)
REVIEWKD_CASES = [
    ('abf', {}, [randn(2, 3, 4, 4), randn(2, 3, 4, 4), randn(2, 2, 4, 4, scale=2), randn(2, 3, 4, 4)], [0, 1, 2]),
    ('hcl', {}, [randn(2, 3, 7, 7), randn(2, 3, 7, 7)], [0]),
    ('hcl', {}, [randn(3, 2, 14, 14), randn(3, 2, 14, 14, scale=2)], [0]),
    ('hcl', {}, [randn(4, 5, 1, 1), randn(4, 5, 1, 1)], [0]),
]

FN = {'rkd': rkd, 'pkt': pkt, 'sp': sp, 'cc': cc, 'nst': nst, 'fsp': fsp, 'ab': ab,
      'vid': vid, 'ft': ft}


def num(v):
    return repr(float(v))


def main():
    out = sys.stdout
    out.write('torch %s\n' % torch.__version__)
    for name, attrs, kw, ins, grads in CASES:
        out.write('case %s%s\n' % (name, ''.join(' %s=%s' % (k, v) for k, v in attrs.items())))
        xs = []
        for i, x in enumerate(ins):
            out.write('in %d %d %s : %s\n' % (i, x.dim(), ' '.join(str(d) for d in x.shape),
                                              ' '.join(num(v) for v in x.flatten().tolist())))
            xd = x.to(torch.float64).clone().requires_grad_(i in grads)
            xs.append(xd)
        loss = FN[name](*xs, **kw)
        loss.backward()
        out.write('loss %s\n' % num(loss.item()))
        for i in grads:
            out.write('grad %d : %s\n' % (i, ' '.join(num(v) for v in xs[i].grad.flatten().tolist())))
        out.write('end\n')
    for name, attrs, ins, grads in REVIEWKD_CASES:
        out.write('case %s%s\n' % (name, ''.join(' %s=%s' % (k, v) for k, v in attrs.items())))
        ops_in = ins[:3] if name == 'abf' else ins
        xs = []
        for i, x in enumerate(ops_in):
            out.write('in %d %d %s : %s\n' % (i, x.dim(), ' '.join(str(d) for d in x.shape),
                                              ' '.join(num(v) for v in x.flatten().tolist())))
            xs.append(x.to(torch.float64).clone().requires_grad_(i in grads))
        if name == 'abf':
            w = ins[3].to(torch.float64)
            out.write('gout %s : %s\n' % (' '.join(str(d) for d in w.shape),
                                         ' '.join(num(v) for v in ins[3].flatten().tolist())))
            loss = abf_sum(*xs, w)
            y = abf(*xs).detach()
            out.write('out : %s\n' % ' '.join(num(v) for v in y.flatten().tolist()))
        else:
            loss = hcl(*xs, **attrs)
            out.write('loss %s\n' % num(loss.item()))
        loss.backward()
        for i in grads:
            out.write('grad %d : %s\n' % (i, ' '.join(num(v) for v in xs[i].grad.flatten().tolist())))
        out.write('end\n')
    for attrs, seed, step, s, t, idx in CRD_CASES:
        out.write('case crd%s\n' % ''.join(' %s=%s' % (k, v) for k, v in attrs.items()))
        out.write('seed %d %d\n' % (seed, step))
        xs = []
        for i, x in enumerate((s, t, idx)):
            out.write('in %d %d %s : %s\n' % (i, x.dim(), ' '.join(str(d) for d in x.shape),
                                              ' '.join(num(v) for v in x.flatten().tolist())))
            xs.append(x.to(torch.float64).clone().requires_grad_(i < 2))
        loss, after = crd(xs[0], xs[1], idx.tolist(), seed, step, **attrs)
        loss.backward()
        out.write('loss %s\n' % num(loss.item()))
        for i in (0, 1):
            out.write('grad %d : %s\n' % (i, ' '.join(num(v) for v in xs[i].grad.flatten().tolist())))
        for i, b in enumerate(after):
            out.write('state %d : %s\n' % (i, ' '.join(num(v) for v in b.flatten().tolist())))
        out.write('end\n')


if __name__ == '__main__':
    main()
