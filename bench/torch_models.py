#!/usr/bin/env python3
"""PyTorch reference throughput for resgpu's benchmarks: the models bench/train.ts and
bench/compare.ts time, built the same way (CIFAR ResNets with option-A or -B shortcuts,
torchvision's ResNet-50), trained with the same SGD step. fp32 only: TF32 is switched off on
CUDA so the numbers compare with resgpu's f32 kernels. Prints one JSON object.

Usage: python3 bench/torch_models.py [--device cpu|cuda] [--windows W] [--steps S]
                                     [CASE ...]   CASE = model:shortcut:CxHxW:batch
Without cases it times bench/train.ts's list."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

TRAIN_CASES = ["resnet20:A:1x28x28:32", "resnet20:A:1x28x28:128",
               "resnet56:A:1x28x28:128", "resnet50:B:3x64x64:16"]


class ShortcutA(nn.Module):
    """Option A: subsample by the stride, zero-pad the new channels (no parameters): half of them
    before the input's and the rest after, as resgpu (shaders/shortcut_a.wgsl) does."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride, self.before, self.after = stride, (cout - cin) // 2, cout - cin - (cout - cin) // 2

    def forward(self, x):
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.before, self.after))


class Block(nn.Module):
    """Two 3x3 conv-BN layers; shortcut "plain" drops the identity path (the paper's plain net)."""

    def __init__(self, cin, cout, stride, shortcut):
        super().__init__()
        self.plain = shortcut == "plain"
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if not self.plain and (shortcut == "C" or (stride != 1 or cin != cout)):
            self.shortcut = ShortcutA(cin, cout, stride) if shortcut == "A" else nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y if self.plain else y + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, shortcut, cin, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(cin, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        blocks, c = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                blocks.append(Block(c, cout, stride if i == 0 else 1, shortcut))
                c = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def build(model, shortcut, cin):
    depth = int(model.removeprefix("resnet"))
    if depth in (18, 34, 50, 101, 152):
        import torchvision  # projection shortcuts (option B), as resgpu's ImageNet ResNets
        return getattr(torchvision.models, model)(num_classes=1000), 1000
    return CifarResNet(depth, shortcut, cin), 10


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_case(spec, device, windows, steps):
    model_name, shortcut, shape, batch = spec.split(":")
    c, h, w = (int(v) for v in shape.split("x"))
    batch = int(batch)
    torch.manual_seed(0)
    model, classes = build(model_name, shortcut, c)
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, c, h, w, device=device)
    y = torch.arange(batch, device=device) % classes

    def train_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def timed(fn):
        for _ in range(3):  # warm-up: cuDNN algorithm search, allocator growth
            fn()
        sync(device)
        out = []
        for _ in range(windows):
            t = time.perf_counter()
            for _ in range(steps):
                fn()
            sync(device)
            out.append((time.perf_counter() - t) / steps)
        return sorted(out)[len(out) // 2]

    model.train()
    train = timed(train_step)
    model.eval()
    with torch.no_grad():
        fwd = timed(lambda: model(x))
    return {"model": model_name, "shortcut": shortcut, "input": f"{c}x{h}x{w}", "batch": batch,
            "train_images_per_s": round(batch / train, 2),
            "forward_images_per_s": round(batch / fwd, 2)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("cases", nargs="*", default=TRAIN_CASES)
    a = p.parse_args()
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True  # PyTorch at its fastest fp32 algorithm choice
    results = [time_case(s, device, a.windows, a.steps) for s in a.cases]
    print(json.dumps({
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "tf32": False,
        "results": results,
    }))


if __name__ == "__main__":
    main()
