#!/usr/bin/env python3
"""A 500×375 photo-like image (smooth colour fields, sensor-like noise, slight blur), written as
baseline and progressive JPEG (quality 90, 4:2:0, as Pillow saves by default) and as PNG.
Run: /usr/bin/python3 experiments/image-decoders/photo.py OUT_DIR"""
import sys

import numpy as np
from PIL import Image, ImageFilter

out = sys.argv[1]
rng = np.random.default_rng(0)
h, w = 375, 500
y, x = np.mgrid[0:h, 0:w].astype(np.float32)
img = np.stack(
    [128 + 100 * np.sin(x / 37 + y / 53), 128 + 90 * np.cos(x / 23 - y / 41), 128 + 80 * np.sin((x + y) / 61)], -1
)
img += rng.normal(0, 18, img.shape)
im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
im.save(f"{out}/photo.jpg", quality=90)
im.save(f"{out}/photo_progressive.jpg", quality=90, progressive=True)
im.save(f"{out}/photo.png")
for name in ("photo.jpg", "photo_progressive.jpg", "photo.png"):
    np.asarray(Image.open(f"{out}/{name}").convert("RGB")).tofile(f"{out}/{name}.rgb")
