"""PyTorch replica of resgpu's Fashion-MNIST training job, to check its accuracy and choose defaults.

Same model (CIFAR ResNet-20, option-A shortcuts, 1x28x28), data (per-set normalization), optimizer
(SGD momentum 0.9, coupled weight decay 5e-4 on every parameter), schedule (linear warm-up from
0.1x over 100 steps, capped at a quarter of the run, then half-cosine to 0) and batch (128, last
partial batch dropped) as `deno task train --data fashion-mnist`. Augmentation as resgpu does it:
pad with the mean colour (0 after normalization), random crop, horizontal flip.

    /usr/bin/python3 bench/torch_fmnist.py --augment none|flip|paper [--epochs 3] [--seed 0]

Prints one line per epoch and a JSON summary. Used only to measure, never by resgpu itself.
"""
import argparse
import gzip
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_models import CifarResNet  # bench/: the model the throughput benchmarks time

ap = argparse.ArgumentParser()
ap.add_argument("--augment", choices=["none", "flip", "paper"], default="none")
ap.add_argument("--epochs", type=int, default=3)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/")
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)


def idx(name, offset):
    with gzip.open(args.data + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


x_train = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
y_train = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
x_test = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
y_test = idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
mean, std = x_train.mean(), x_train.std()
x_train, x_test = (x_train - mean) / std, (x_test - mean) / std


def resnet20():
    net = CifarResNet(20, "A", 1)
    for m in net.modules():
        if isinstance(m, nn.Conv2d):  # resgpu's init: He normal over fan-out, as torchvision
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def augment(x):
    n = len(x)
    if args.augment in ("flip", "paper"):
        flip = rng.random(n) < 0.5
        x[flip] = x[flip, :, :, ::-1]
    if args.augment == "paper":
        padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))
        dy, dx = rng.integers(0, 9, n), rng.integers(0, 9, n)
        x = np.stack([padded[i, :, dy[i] : dy[i] + 28, dx[i] : dx[i] + 28] for i in range(n)])
    return np.ascontiguousarray(x)


net = resnet20()
batch = 128
per_epoch = len(x_train) // batch
total = per_epoch * args.epochs
warmup = min(100, total // 4)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)


def lr_at(step):
    w = 1 if step >= warmup else 0.1 + 0.9 * step / warmup
    c = 1 if step <= warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
    return 0.1 * w * c


def test_accuracy():
    net.eval()
    correct = 0
    with torch.no_grad():
        for k in range(0, len(x_test), 500):
            pred = net(torch.from_numpy(x_test[k : k + 500])).argmax(1)
            correct += (pred == torch.from_numpy(y_test[k : k + 500])).sum().item()
    return correct / len(x_test)


step, t0, history = 0, time.time(), []
for epoch in range(args.epochs):
    net.train()
    order = rng.permutation(len(x_train))
    correct = 0
    for k in range(per_epoch):
        ids = order[k * batch : (k + 1) * batch]
        xb, yb = torch.from_numpy(augment(x_train[ids].copy())), torch.from_numpy(y_train[ids])
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        out = net(xb)
        loss = F.cross_entropy(out, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        correct += (out.argmax(1) == yb).sum().item()
    acc = test_accuracy()
    history.append(acc)
    print(
        f"epoch {epoch + 1}: train {100 * correct / (per_epoch * batch):.2f}% "
        f"test {100 * acc:.2f}% ({time.time() - t0:.0f} s)",
        flush=True,
    )
print(json.dumps({"augment": args.augment, "seed": args.seed, "epochs": args.epochs,
                  "test_accuracy": history, "seconds": round(time.time() - t0)}))
