"""PyTorch replica of resgpu's Fashion-MNIST training job, to check its accuracy and choose defaults.

Same model (CIFAR ResNet-20, option-A shortcuts, 1x28x28), data (per-set normalization), optimizer
(SGD momentum 0.9, coupled weight decay 5e-4 on every parameter), schedule (linear warm-up from
0.1x over 100 steps, capped at a quarter of the run, then half-cosine to 0) and batch (128, last
partial batch dropped) as `deno task train --data fashion-mnist`. Augmentation as resgpu does it:
pad with the mean colour (0 after normalization), random crop, horizontal flip.

    /usr/bin/python3 experiments/torch-replica/torch_fmnist.py --augment none|flip|paper [--epochs 3] [--seed 0]

Prints one line per epoch and a JSON summary. Used only to measure, never by resgpu itself.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
# The CIFAR nets live with the benchmarks that time them (bench/torch_models.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from torch_fmnist_common import augment, he_init, load_fmnist, sgd_step, test_accuracy  # noqa: E402
from torch_models import CifarResNet  # noqa: E402

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

x_train, y_train, x_test, y_test = load_fmnist(args.data)
net = he_init(CifarResNet(20, "A", 1))
batch = 128
per_epoch = len(x_train) // batch
total = per_epoch * args.epochs
warmup = min(100, total // 4)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
flip, crop = args.augment in ("flip", "paper"), args.augment == "paper"


def lr_at(step):
    w = 1 if step >= warmup else 0.1 + 0.9 * step / warmup
    c = 1 if step <= warmup else 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
    return 0.1 * w * c


step, t0, history = 0, time.time(), []
for epoch in range(args.epochs):
    net.train()
    order = rng.permutation(len(x_train))
    correct = 0
    for k in range(per_epoch):
        ids = order[k * batch : (k + 1) * batch]
        xb = augment(x_train[ids].copy(), rng, flip, crop)
        correct += sgd_step(net, opt, xb, y_train[ids], lr_at(step))
        step += 1
    acc = test_accuracy(net, x_test, y_test)
    history.append(acc)
    print(
        f"epoch {epoch + 1}: train {100 * correct / (per_epoch * batch):.2f}% "
        f"test {100 * acc:.2f}% ({time.time() - t0:.0f} s)",
        flush=True,
    )
print(json.dumps({"augment": args.augment, "seed": args.seed, "epochs": args.epochs,
                  "test_accuracy": history, "seconds": round(time.time() - t0)}))
