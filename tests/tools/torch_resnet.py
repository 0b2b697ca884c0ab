#!/usr/bin/python3
"""torch_resnet.py - the PyTorch side of tests/tools/torch_roundtrip.sh.

  torch_resnet.py data DIR              write a small generated data set (IDX files)
  torch_resnet.py train DIR OUT.pth     train a ResNet-8 (RepDistiller's resnet.py
                                        layout) a few steps (on DIR's data, written
                                        first when absent); print its test top1
  torch_resnet.py eval DIR IN.pth       print the test top1 of the weights in IN.pth
  ... train|eval DIR FILE wrn            the same with RepDistiller's WRN-10-2 layout
                                        (models/wrn.py): kdrun's wrn(depth: 10, widen: 2,
                                        classes: 10)

The net is RepDistiller's CIFAR ResNet (models/resnet.py: conv1/bn1, layerS.I
BasicBlocks with conv1 bn1 conv2 bn2 and a downsample conv+bn, fc) with
depth 8, 4/4/8/16 filters, 1 input channel and 10 classes: kdrun's
resnet(depth: 8, classes: 10, base: 4).  top1 is printed as kdrun prints it:
"top1 %.2f%%" of the test split's 200 images.
"""
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

H = W = 12
CLASSES = 10


def write_idx(d, prefix, n, salt):
    g = torch.Generator().manual_seed(salt)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    # a learnable pattern: a class-dependent bright square plus noise
    x = torch.randint(0, 90, (n, H, W), generator=g)
    for i in range(n):
        c = int(labels[i])
        r, q = (c // 4) * 3 + 1, (c % 4) * 3
        x[i, r:r + 3, q:q + 3] += 80
    x = x.clamp(0, 255).to(torch.uint8)
    with open(os.path.join(d, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, n, H, W))
        f.write(bytes(x.flatten().tolist()))
    with open(os.path.join(d, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, n))
        f.write(bytes(labels.tolist()))


def read_idx(d, prefix):
    with open(os.path.join(d, prefix + "-images-idx3-ubyte"), "rb") as f:
        _, n, h, w = struct.unpack(">IIII", f.read(16))
        x = torch.tensor(list(f.read(n * h * w)), dtype=torch.uint8).reshape(n, 1, h, w)
    with open(os.path.join(d, prefix + "-labels-idx1-ubyte"), "rb") as f:
        _, n = struct.unpack(">II", f.read(8))
        y = torch.tensor(list(f.read(n)), dtype=torch.long)
    return x.to(torch.float32) / 255.0, y


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    def __init__(self, depth=8, num_filters=(4, 4, 8, 16), num_classes=CLASSES, channels=1):
        super().__init__()
        n = (depth - 2) // 6
        self.inplanes = num_filters[0]
        self.conv1 = nn.Conv2d(channels, num_filters[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(num_filters[0])
        self.layer1 = self._make_layer(num_filters[1], n)
        self.layer2 = self._make_layer(num_filters[2], n, stride=2)
        self.layer3 = self._make_layer(num_filters[3], n, stride=2)
        self.fc = nn.Linear(num_filters[3], num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(BasicBlock(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean(dim=(2, 3)))


class WideBlock(nn.Module):
    """RepDistiller's models/wrn.py BasicBlock (pre-activation)"""
    def __init__(self, in_planes, out_planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.equal = in_planes == out_planes
        self.convShortcut = None if self.equal else nn.Conv2d(in_planes, out_planes, 1, stride, 0, bias=False)

    def forward(self, x):
        pre = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(pre))))
        return out + (x if self.equal else self.convShortcut(pre))


class Layer(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layer = nn.Sequential(*layers)

    def forward(self, x):
        return self.layer(x)


class WRN(nn.Module):
    """RepDistiller's WideResNet: conv1, blockS.layer.I, bn1, fc"""
    def __init__(self, depth=10, widen=2, num_classes=CLASSES, channels=1):
        super().__init__()
        n = (depth - 4) // 6
        ch = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(channels, ch[0], 3, 1, 1, bias=False)
        for s in range(1, 4):
            setattr(self, "block%d" % s, Layer([WideBlock(ch[s - 1] if i == 0 else ch[s], ch[s],
                                                          (1 if s == 1 else 2) if i == 0 else 1)
                                                for i in range(n)]))
        self.bn1 = nn.BatchNorm2d(ch[3])
        self.fc = nn.Linear(ch[3], num_classes)

    def forward(self, x):
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(F.relu(self.bn1(x)).mean(dim=(2, 3)))


NETS = {"resnet": ResNet, "wrn": WRN}


def top1(net, d):
    x, y = read_idx(d, "t10k")
    net.eval()
    with torch.no_grad():
        pred = net(x).argmax(dim=1)
    return 100.0 * float((pred == y).sum()) / len(y)


def main():
    torch.set_num_threads(1)
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "data":
        write_idx(d, "train", 512, 1)
        write_idx(d, "t10k", 200, 2)
    elif cmd == "train":
        if not os.path.exists(os.path.join(d, "t10k-labels-idx1-ubyte")):
            write_idx(d, "train", 512, 1)
            write_idx(d, "t10k", 200, 2)
        torch.manual_seed(0)
        net = NETS[sys.argv[4] if len(sys.argv) > 4 else "resnet"]()
        x, y = read_idx(d, "train")
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
        net.train()
        # a few steps: far from chance and from 100%, so that a wrong
        # conversion shows in the printed top1
        for step in range(16 if len(sys.argv) <= 4 or sys.argv[4] == "resnet" else 26):
            i = torch.arange(step * 64, step * 64 + 64) % len(y)
            opt.zero_grad()
            F.cross_entropy(net(x[i]), y[i]).backward()
            opt.step()
        torch.save(net.state_dict(), sys.argv[3])
        print("top1 %.2f%%" % top1(net, d))
    elif cmd == "eval":
        net = NETS[sys.argv[4] if len(sys.argv) > 4 else "resnet"]()
        net.load_state_dict(torch.load(sys.argv[3]), strict=True)
        print("top1 %.2f%%" % top1(net, d))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
