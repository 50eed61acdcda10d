#!/usr/bin/env python3
"""PyTorch CPU reference throughput for bench/compare.ts: CIFAR ResNet-20 with option-B
projection shortcuts, 1x28x28 inputs, SGD momentum, the same step resgpu times.
Prints one JSON object. Usage: python3 bench/torch_resnet.py BATCH [WINDOWS] [STEPS]"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNet20(nn.Module):
    def __init__(self, cin=1, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, c = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(Block(c, cout, stride if i == 0 else 1))
                c = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    windows = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    torch.manual_seed(0)
    model = ResNet20()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.arange(batch) % 10

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    step()
    train = []
    for _ in range(windows):
        t = time.perf_counter()
        for _ in range(steps):
            step()
        train.append((time.perf_counter() - t) / steps)
    model.eval()
    fwd = []
    with torch.no_grad():
        model(x)
        for _ in range(windows):
            t = time.perf_counter()
            for _ in range(steps):
                model(x)
            fwd.append((time.perf_counter() - t) / steps)
    med = lambda v: sorted(v)[len(v) // 2]
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "train_images_per_s": batch / med(train),
        "forward_images_per_s": batch / med(fwd),
    }))


if __name__ == "__main__":
    main()
