#!/usr/bin/env python3
"""Writes a small real image-folder data set from Fashion-MNIST: photos-as-files for resgpu's
image pipeline (the README's example, the image benchmarks), since no photographs can be
downloaded here.

Run:  /usr/bin/python3 tools/image_folder_demo.py OUT_DIR [--train N] [--val M] [--seed S]
                                                       [--classes NAME,NAME,...]

OUT_DIR/train/<class>/ and OUT_DIR/val/<class>/ get N and M images per class (default 100 and
20) from Fashion-MNIST's training and test sets (/usr/share/datasets/fashion-mnist, apt
dataset-fashion-mnist). Each 28×28 image is upscaled (bicubic) to a random size from 64 to 128
pixels a side with a random aspect ratio in [3/4, 4/3], tinted with a random color (so the three
channels differ), and saved as PNG (half of them) or JPEG (quality 70–95, baseline or
progressive) — the mix of sizes and formats a real folder has. A README.txt in a class folder
shows non-image files being skipped. `--classes` keeps some of the ten classes (by name or index),
so that disjoint class sets make a pretraining folder and a fine-tuning folder (the README's
demonstration). Deterministic for a seed.
"""
import argparse
import gzip
import os
import random
import struct

from PIL import Image

CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle_boot"]
SRC = "/usr/share/datasets/fashion-mnist"


def read_idx(stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(SRC, name)
        if os.path.exists(path):
            with (gzip.open if name.endswith(".gz") else open)(path, "rb") as f:
                return f.read()
    raise SystemExit(f"{SRC}/{stem}[.gz] not found: apt-get install dataset-fashion-mnist")


def load(images, labels):
    img, lab = read_idx(images), read_idx(labels)
    n, h, w = struct.unpack(">III", img[4:16])
    return [(img[16 + i * h * w: 16 + (i + 1) * h * w], lab[8 + i]) for i in range(n)], (h, w)


def write(out, split, samples, size, per_class, rng, keep):
    # Classes left out count as full from the start.
    counts = [0 if c in keep else per_class for c in range(len(CLASSES))]
    for pixels, label in samples:
        if counts[label] >= per_class:
            continue
        k = counts[label]
        counts[label] += 1
        d = os.path.join(out, split, CLASSES[label])
        os.makedirs(d, exist_ok=True)
        im = Image.frombytes("L", size, pixels)
        side = rng.randint(64, 128)
        ratio = rng.uniform(3 / 4, 4 / 3)
        w, h = max(8, round(side * ratio ** 0.5)), max(8, round(side / ratio ** 0.5))
        im = im.resize((w, h), Image.BICUBIC)
        tint = [rng.randint(150, 255) for _ in range(3)]
        im = Image.merge("RGB", [im.point(lambda v, t=t: v * t // 255) for t in tint])
        if k % 2 == 0:
            im.save(os.path.join(d, f"{split}_{k:04d}.png"))
        else:
            im.save(os.path.join(d, f"{split}_{k:04d}.jpg"), quality=rng.randint(70, 95),
                    progressive=rng.random() < 0.3)
        if all(c >= per_class for c in counts):
            break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=100)
    ap.add_argument("--val", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", help="comma-separated class names or indices (default: all ten)")
    a = ap.parse_args()
    keep = set(range(len(CLASSES)))
    if a.classes:
        keep = set()
        for c in a.classes.split(","):
            c = c.strip()
            if c.isdigit() and int(c) < len(CLASSES):
                keep.add(int(c))
            elif c in CLASSES:
                keep.add(CLASSES.index(c))
            else:
                raise SystemExit(f"--classes: unknown class {c!r}; the classes are {', '.join(CLASSES)}")
        if not keep:
            raise SystemExit("--classes: no class named")
    rng = random.Random(a.seed)
    train, size = load("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    test, _ = load("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    write(a.out, "train", train, size, a.train, rng, keep)
    write(a.out, "val", test, size, a.val, rng, keep)
    with open(os.path.join(a.out, "train", CLASSES[min(keep)], "README.txt"), "w") as f:
        f.write("not an image: resgpu skips and counts files like this\n")
    print(f"{a.out}: {len(keep)} classes, {a.train} training and {a.val} validation images per class")


if __name__ == "__main__":
    main()
