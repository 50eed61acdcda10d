#!/usr/bin/env python3
"""PyTorch's side of bench/infer.ts: torchvision MODEL with the weights resgpu wrote (a
saveWeights file, loaded with load_state_dict(strict=True)), eval mode, no_grad, fp32 on the CPU
with every core or on CUDA (TF32 off, each call synchronized); input of the same shape uploaded each call as resgpu's is. Prints one JSON object:
first call ms, batch-1 latency median ms over RUNS calls, and BATCH-image throughput (one call, as
bench/infer.ts times every engine per round), plus the logits of the formula input for a cross-check.

Usage: python3 bench/torch_infer.py MODEL WEIGHTS SIZE BATCH RUNS [cpu|cuda]"""
import json
import os
import statistics
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tools"))
import resgpu_torch  # noqa: E402


def main():
    name, weights, size, batch, runs = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
    device = sys.argv[6] if len(sys.argv) > 6 else "cpu"
    # fp32 as resgpu computes it: no TF32 on a GPU that has it.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tensors, _ = resgpu_torch.read_safetensors(weights)
    classes = tensors["fc.weight"].shape[0]
    model = getattr(torchvision.models, name)(num_classes=classes)
    model.load_state_dict(tensors, strict=True)
    model.eval().to(device)
    n = batch * 3 * size * size
    x_host = torch.sin(torch.arange(n, dtype=torch.float32) * 0.37).reshape(batch, 3, size, size)

    def call(k):
        # Each call uploads its input and waits for its logits, as resgpu's calls do.
        with torch.no_grad():
            out = model(x_host[:k].clone().to(device)).cpu()
        return out

    t = time.perf_counter()
    logits = call(1)
    first = (time.perf_counter() - t) * 1000
    lat = []
    for _ in range(runs):
        t = time.perf_counter()
        call(1)
        lat.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    call(batch)
    thr = [batch / (time.perf_counter() - t)]
    print(json.dumps({
        "threads": torch.get_num_threads(),
        "first_call_ms": first,
        "latency_ms": statistics.median(lat),
        "images_per_s": statistics.median(thr),
        "logits": logits.flatten()[:10].tolist(),
    }))


if __name__ == "__main__":
    main()
