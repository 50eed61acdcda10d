"""PyTorch replica of `deno task degradation`, to measure what training budget the paper's finding
needs before spending hours of resgpu time on it (never used by resgpu itself).

Same models (CIFAR plain-N and ResNet-N with option-A shortcuts, 1x28x28; He fan-out init), data
(Fashion-MNIST, first --subset training images, per-set normalization), augmentation (pad 4 with
the mean colour, random crop, horizontal flip), optimizer (SGD momentum 0.9, weight decay 1e-4),
schedule (linear warm-up from lr/10 over --warmup steps, capped at a quarter of the run; x0.1 at
50% and 75% of the steps), batch (last partial batch dropped) and metric as the study: training
error per 10-step window, the final figure the mean of the last 10% of windows.

    /usr/bin/python3 bench/torch_degradation.py --depths 20,56 --epochs 4 [--subset N]
        [--batch 128] [--seed 0] [--threads 2] [--out runs/degradation-torch]

Writes <out>/<net>.jsonl (one {"step", "train_error"} line per window, then a summary line) and
<out>/results.json, and prints a table as each net finishes.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
from torch_fmnist_common import augment, he_init, load_fmnist, sgd_step, test_accuracy
from torch_models import CifarResNet  # bench/: the same CIFAR nets the benchmarks time

ap = argparse.ArgumentParser()
ap.add_argument("--depths", default="20,56")
ap.add_argument("--epochs", type=int, default=1)
ap.add_argument("--subset", type=int, default=None)
ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--lr", type=float, default=0.1)
ap.add_argument("--warmup", type=int, default=10)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--nets", default="plain,resnet", help="which of plain,resnet to train")
ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/")
ap.add_argument("--out", default="runs/degradation-torch")
args = ap.parse_args()
torch.set_num_threads(args.threads)
LOG_EVERY = 10
x_train, y_train, x_test, y_test = load_fmnist(args.data, args.subset)


def train(depth, plain):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    net = he_init(CifarResNet(depth, "plain" if plain else "A", 1))
    per_epoch = len(x_train) // args.batch
    total = per_epoch * args.epochs
    warmup = min(args.warmup, total // 4)
    milestones = (round(total * 0.5), round(total * 0.75))
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    name = f"{'plain' if plain else 'resnet'}{depth}"
    log = open(os.path.join(args.out, f"{name}.jsonl"), "w")
    windows, correct, seen, step, t0 = [], 0, 0, 0, time.time()
    for _ in range(args.epochs):
        net.train()
        order = rng.permutation(len(x_train))
        for k in range(per_epoch):
            ids = order[k * args.batch : (k + 1) * args.batch]
            xb = augment(x_train[ids].copy(), rng, flip=True, crop=True)
            w = 1 if step >= warmup else 0.1 + 0.9 * step / warmup
            lr = args.lr * w * 0.1 ** sum(step >= m for m in milestones)
            correct += sgd_step(net, opt, xb, y_train[ids], lr)
            step += 1
            seen += len(ids)
            if step % LOG_EVERY == 0 or step == total:
                windows.append(100 * (1 - correct / seen))
                log.write(json.dumps({"step": step, "train_error": round(windows[-1], 3)}) + "\n")
                log.flush()
                correct = seen = 0
    tail = windows[-max(1, math.ceil(len(windows) / 10)) :]
    result = {"net": name, "depth": depth, "residual": not plain, "iterations": total,
              "final_train_error": round(sum(tail) / len(tail), 3),
              "test_error": round(100 * (1 - test_accuracy(net, x_test, y_test)), 3),
              "seconds": round(time.time() - t0),
              "images_per_s": round(total * args.batch / (time.time() - t0), 1)}
    log.write(json.dumps(result) + "\n")
    log.close()
    return result


def main():
    os.makedirs(args.out, exist_ok=True)
    depths = [int(d) for d in args.depths.split(",")]
    kinds = args.nets.split(",")
    results = []
    for depth in depths:
        for plain in (True, False):
            if ("plain" if plain else "resnet") not in kinds:
                continue
            r = train(depth, plain)
            results.append(r)
            print(f"{r['net']:>9}: train error {r['final_train_error']:6.2f}%  test error "
                  f"{r['test_error']:6.2f}%  {r['iterations']} iterations, {r['seconds']} s",
                  flush=True)
    config = {k: v for k, v in vars(args).items() if k not in ("data", "out", "threads")}
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"config": config, "torch": torch.__version__, "runs": results}, f, indent=1)


main()
