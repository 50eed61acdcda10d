"""PyTorch replica of `deno task degradation`, to measure what training budget the paper's finding
needs before spending hours of resgpu time on it (never used by resgpu itself).

Same models (CIFAR plain-N and ResNet-N with option-A shortcuts, 1x28x28; He fan-out init), data
(Fashion-MNIST, first --subset training images, per-set normalization), augmentation (pad 4 with
the mean colour, random crop, horizontal flip), optimizer (SGD momentum 0.9, weight decay 1e-4),
schedule (linear warm-up from lr/10 over --warmup steps, capped at a quarter of the run; x0.1 at
50% and 75% of the steps), batch (last partial batch dropped) and metric as the study: training
error per 10-step window, the final figure the mean of the last 10% of windows.

    /usr/bin/python3 experiments/torch-replica/torch_degradation.py --depths 20,56 --epochs 4 [--subset N]
        [--batch 128] [--seed 0] [--threads 2] [--out runs/degradation-torch]
        [--checkpoint-every 200] [--stop-at STEP] [--resume]

Writes <out>/<net>.jsonl (one {"step", "train_error"} line per window, then a summary line) and
<out>/results.json, and prints a table as each net finishes.

Long runs outlast a session here (ResNet-56 for 14 epochs: ~2.2 h), so every --checkpoint-every
steps a net's whole training state (weights, momentum, batch-norm statistics, the data order and
the numpy generator, the step, windows and elapsed time) goes to <out>/<net>.ckpt.pt, written to a
temporary file and renamed, so a stop leaves either the previous checkpoint or the new one.
--resume continues each unfinished net from its checkpoint (and skips finished ones, reading their
summary line), truncating its jsonl to the checkpoint's step; the continued run is the same run,
window for window (experiments/torch-replica/replica.test.ts checks it). --stop-at STEP ends every net at that
step after checkpointing it, to split a run across sessions on purpose.
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
ap.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints (0: none)")
ap.add_argument("--stop-at", type=int, default=None, help="checkpoint and stop each net at this step")
ap.add_argument("--resume", action="store_true", help="continue from <out>/<net>.ckpt.pt files")
args = ap.parse_args()
torch.set_num_threads(args.threads)
LOG_EVERY = 10
for flag, v in (("--checkpoint-every", args.checkpoint_every), ("--stop-at", args.stop_at)):
    if v is not None and (v < 0 or v % LOG_EVERY):
        ap.error(f"{flag} {v}: must be a non-negative multiple of the {LOG_EVERY}-step window")
x_train, y_train, x_test, y_test = load_fmnist(args.data, args.subset)


def save_checkpoint(path, state):
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def resume_log(path, step):
    """The jsonl lines up to `step` (a stopped run may have logged windows past its checkpoint)."""
    with open(path) as f:
        rows = [l for l in f if json.loads(l).get("step", math.inf) <= step]
    with open(path, "w") as f:
        f.writelines(rows)


def train(depth, plain):
    """Trains one net; returns its summary, or None when --stop-at stopped it first."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    net = he_init(CifarResNet(depth, "plain" if plain else "A", 1))
    per_epoch = len(x_train) // args.batch
    total = per_epoch * args.epochs
    warmup = min(args.warmup, total // 4)
    milestones = (round(total * 0.5), round(total * 0.75))
    opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    name = f"{'plain' if plain else 'resnet'}{depth}"
    log_path = os.path.join(args.out, f"{name}.jsonl")
    ckpt_path = os.path.join(args.out, f"{name}.ckpt.pt")
    windows, correct, seen, step, elapsed, order = [], 0, 0, 0, 0.0, None
    if args.resume and os.path.exists(ckpt_path):
        c = torch.load(ckpt_path)
        if c["total"] != total or c["config"] != net_config():
            raise SystemExit(f"{ckpt_path} is from a different run: {c['config']}")
        net.load_state_dict(c["net"])
        opt.load_state_dict(c["opt"])
        rng.bit_generator.state = c["rng"]
        windows, step, elapsed, order = c["windows"], c["step"], c["elapsed"], c["order"]
        resume_log(log_path, step)
        print(f"{name}: resumed at step {step} of {total}", flush=True)
    log = open(log_path, "a" if step else "w")
    t0 = time.time() - elapsed
    while step < total:
        net.train()
        k = step % per_epoch
        if k == 0:
            order = rng.permutation(len(x_train))
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
        # Checkpoints fall on window boundaries, where the window counters are zero.
        at_stop = step == args.stop_at and step < total
        if (args.checkpoint_every and step % args.checkpoint_every == 0 and step < total) or at_stop:
            save_checkpoint(ckpt_path, {
                "config": net_config(), "total": total, "step": step, "net": net.state_dict(),
                "opt": opt.state_dict(), "rng": rng.bit_generator.state, "order": order,
                "windows": windows, "elapsed": time.time() - t0})
        if at_stop:
            log.close()
            print(f"{name}: stopped at step {step} of {total} (--resume continues it)", flush=True)
            return None
    tail = windows[-max(1, math.ceil(len(windows) / 10)) :]
    result = {"net": name, "depth": depth, "residual": not plain, "iterations": total,
              "final_train_error": round(sum(tail) / len(tail), 3),
              "test_error": round(100 * (1 - test_accuracy(net, x_test, y_test)), 3),
              "seconds": round(time.time() - t0),
              "images_per_s": round(total * args.batch / (time.time() - t0), 1)}
    log.write(json.dumps(result) + "\n")
    log.close()
    if os.path.exists(ckpt_path):
        os.remove(ckpt_path)
    return result


def run_config():
    return {k: v for k, v in vars(args).items()
            if k not in ("data", "out", "threads", "checkpoint_every", "stop_at", "resume")}


def net_config():
    """What a net's training depends on (a checkpoint resumes only under the same)."""
    return {k: v for k, v in run_config().items() if k not in ("depths", "nets")}


def finished(name):
    """The summary line of a net an earlier (resumed) invocation finished, else None."""
    path = os.path.join(args.out, f"{name}.jsonl")
    if not args.resume or not os.path.exists(path) or os.path.exists(path[:-6] + ".ckpt.pt"):
        return None
    with open(path) as f:
        rows = [json.loads(l) for l in f]
    return rows[-1] if rows and "final_train_error" in rows[-1] else None


def main():
    os.makedirs(args.out, exist_ok=True)
    depths = [int(d) for d in args.depths.split(",")]
    kinds = args.nets.split(",")
    results = []
    for depth in depths:
        for plain in (True, False):
            if ("plain" if plain else "resnet") not in kinds:
                continue
            name = f"{'plain' if plain else 'resnet'}{depth}"
            r = finished(name) or train(depth, plain)
            if r is None:
                continue
            results.append(r)
            print(f"{r['net']:>9}: train error {r['final_train_error']:6.2f}%  test error "
                  f"{r['test_error']:6.2f}%  {r['iterations']} iterations, {r['seconds']} s",
                  flush=True)
    if len(results) < len(depths) * len(kinds):
        return  # stopped by --stop-at: results.json waits for the resumed run
    config = run_config()
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"config": config, "torch": torch.__version__, "runs": results}, f, indent=1)


main()
