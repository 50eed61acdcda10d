"""What experiments/torch-replica/torch_fmnist.py and experiments/torch-replica/torch_degradation.py share: resgpu's Fashion-MNIST
pipeline and training step written in PyTorch (IDX loading with per-set normalization, He fan-out
init, the pad-with-mean-colour crop and flip, one SGD step, test accuracy). Measurement only."""
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load_fmnist(data_dir, subset=None):
    """(x_train, y_train, x_test, y_test), float32 N×1×28×28 normalized by the (subset's) training
    mean and standard deviation, as resgpu's loader does."""
    def idx(name, offset):
        with gzip.open(os.path.join(data_dir, name)) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    x_train = idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    y_train = idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64)
    x_test = idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255
    y_test = idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64)
    if subset:
        x_train, y_train = x_train[:subset], y_train[:subset]
    mean, std = x_train.mean(), x_train.std()
    return (x_train - mean) / std, y_train, (x_test - mean) / std, y_test


def he_init(net):
    """resgpu's init: convolutions He-normal over fan-out (as torchvision), the rest PyTorch's."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return net


def augment(x, rng, flip, crop):
    """Horizontal flip with probability 1/2, then a random 28×28 crop of the image padded by 4
    with the mean colour (0 after normalization). Draws flips before offsets."""
    n = len(x)
    if flip:
        flipped = rng.random(n) < 0.5
        x[flipped] = x[flipped, :, :, ::-1]
    if crop:
        padded = np.pad(x, ((0, 0), (0, 0), (4, 4), (4, 4)))
        dy, dx = rng.integers(0, 9, n), rng.integers(0, 9, n)
        x = np.stack([padded[i, :, dy[i] : dy[i] + 28, dx[i] : dx[i] + 28] for i in range(n)])
    return np.ascontiguousarray(x)


def sgd_step(net, opt, xb, yb, lr):
    """One training step at learning rate lr; returns how many of the batch it classified right."""
    for g in opt.param_groups:
        g["lr"] = lr
    out = net(torch.from_numpy(xb))
    yt = torch.from_numpy(yb)
    loss = F.cross_entropy(out, yt)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return (out.argmax(1) == yt).sum().item()


def test_accuracy(net, x, y):
    net.eval()
    correct = 0
    with torch.no_grad():
        for k in range(0, len(x), 500):
            pred = net(torch.from_numpy(x[k : k + 500])).argmax(1)
            correct += (pred == torch.from_numpy(y[k : k + 500])).sum().item()
    return correct / len(x)
