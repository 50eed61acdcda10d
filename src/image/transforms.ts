/**
 * The image transforms of a training or evaluation pipeline, as data (so a run's config and
 * checkpoint can say how its inputs were made, and prediction can repeat it) and as one call
 * that draws the random parameters and writes a normalized C×H×W float32 sample.
 *
 * torchvision equivalents: `eval` = Resize(resize) + CenterCrop(size); `random-resized-crop` =
 * RandomResizedCrop(size, scale, ratio) + RandomHorizontalFlip; `scale-jitter` = the ResNet
 * paper's ImageNet recipe, Resize(randint(shorter)) + RandomCrop(size) + flip. Every one ends in
 * ToTensor + Normalize(mean, std). The parameter draws follow torchvision's code (ten area/ratio
 * tries, then the center-crop fallback; Python's round-half-even) with resgpu's Rng.
 */
import type { Rng } from "../util/rng.ts";
import type { DecodedImage } from "./header.ts";
import { resampleInto, type ResampleSpec } from "./resize.ts";

/** torchvision's ImageNet statistics, what pretrained torchvision weights expect. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
/** torchvision's ImageNet standard deviations. */
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** How one image becomes a network input; serializable. */
export type ImageTransform =
  | {
    kind: "eval";
    /** Output side (224). */
    size: number;
    /** Shorter side after resizing, before the center crop (256). */
    resize: number;
    mean: number[];
    std: number[];
  }
  | {
    kind: "random-resized-crop";
    size: number;
    /** Crop area as a fraction of the image ([0.08, 1]). */
    scale: [number, number];
    /** Crop aspect ratio range ([3/4, 4/3]). */
    ratio: [number, number];
    flip: boolean;
    mean: number[];
    std: number[];
  }
  | {
    kind: "scale-jitter";
    size: number;
    /** Shorter side drawn uniformly from these integers ([256, 480]). */
    shorter: [number, number];
    flip: boolean;
    mean: number[];
    std: number[];
  };

/** The named transforms of {@link transformPreset}. */
export type TransformPreset = "torchvision" | "paper" | "eval";

/**
 * Named transforms for `size` (224 by default; eval resizes to round(size·256/224)):
 * - `torchvision`: RandomResizedCrop(size) + flip, ImageNet mean and std — torchvision's
 *   reference recipe, and what its pretrained weights were trained with.
 * - `paper`: He et al.'s ImageNet recipe — shorter side uniform in [256, 480] (scaled with size),
 *   random size×size crop, flip, per-channel mean subtracted (std 1; the paper's color
 *   augmentation is not reproduced).
 * - `eval`: Resize(256) + CenterCrop(224) and ImageNet mean and std.
 *
 * ```ts
 * import { transformPreset } from "@resgpu/resgpu/images";
 * const train = transformPreset("torchvision"); // RandomResizedCrop(224) + flip
 * const test = transformPreset("eval", { size: 64 }); // Resize(73) + CenterCrop(64)
 * console.log(train.kind, test.kind === "eval" && test.resize);
 * ```
 */
export function transformPreset(
  preset: TransformPreset,
  opts: { size?: number; mean?: number[]; std?: number[] } = {},
): ImageTransform {
  const size = opts.size ?? 224;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`image size must be a positive integer: ${size}`);
  }
  const mean = opts.mean ?? IMAGENET_MEAN;
  const std = opts.std ?? IMAGENET_STD;
  switch (preset) {
    case "torchvision":
      return {
        kind: "random-resized-crop",
        size,
        scale: [0.08, 1],
        ratio: [3 / 4, 4 / 3],
        flip: true,
        mean,
        std,
      };
    case "paper":
      return {
        kind: "scale-jitter",
        size,
        shorter: [Math.round((size * 256) / 224), Math.round((size * 480) / 224)],
        flip: true,
        mean,
        std: opts.std ?? mean.map(() => 1),
      };
    case "eval":
      return { kind: "eval", size, resize: Math.round((size * 256) / 224), mean, std };
    default:
      throw new RangeError(`unknown transform preset "${preset}" (torchvision, paper, eval)`);
  }
}

/** The eval counterpart of a training transform: same size and normalization. */
export function evalTransformFor(t: ImageTransform): ImageTransform {
  return {
    kind: "eval",
    size: t.size,
    resize: Math.round((t.size * 256) / 224),
    mean: t.mean,
    std: t.std,
  };
}

/** Python's round(): halves to even (torchvision's crop arithmetic uses it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's Resize(int) output size: the shorter side becomes `size`, the other is truncated. */
export function resizedSize(h: number, w: number, size: number): [number, number] {
  return w <= h ? [Math.trunc((size * h) / w), size] : [size, Math.trunc((size * w) / h)];
}

/** torchvision's CenterCrop offsets (round-half-even of the centered position). */
export function centerCropOffset(h: number, w: number, ch: number, cw: number): [number, number] {
  return [roundHalfEven((h - ch) / 2), roundHalfEven((w - cw) / 2)];
}

/** torchvision's RandomResizedCrop.get_params: top, left, height, width of the crop box. */
export function randomResizedCropBox(
  h: number,
  w: number,
  scale: [number, number],
  ratio: [number, number],
  rng: Rng,
): [number, number, number, number] {
  const area = h * w;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const cw = roundHalfEven(Math.sqrt(target * aspect));
    const chh = roundHalfEven(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && chh > 0 && chh <= h) {
      return [rng.int(h - chh + 1), rng.int(w - cw + 1), chh, cw];
    }
  }
  const inRatio = w / h;
  let cw = w, chh = h;
  if (inRatio < Math.min(...ratio)) chh = roundHalfEven(cw / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) cw = roundHalfEven(chh * Math.max(...ratio));
  return [Math.floor((h - chh) / 2), Math.floor((w - cw) / 2), chh, cw];
}

/** The resampling a transform does to an image of this size, random parameters drawn from `rng`. */
export function planTransform(t: ImageTransform, h: number, w: number, rng: Rng): ResampleSpec {
  const s = t.size;
  switch (t.kind) {
    case "eval": {
      const [rh, rw] = resizedSize(h, w, t.resize);
      const [top, left] = centerCropOffset(rh, rw, s, s);
      return { box: [0, 0, h, w], size: [rh, rw], window: [top, left, s, s], flip: false };
    }
    case "random-resized-crop": {
      const box = randomResizedCropBox(h, w, t.scale, t.ratio, rng);
      const flip = t.flip && rng.next() < 0.5;
      return { box, size: [s, s], window: [0, 0, s, s], flip };
    }
    case "scale-jitter": {
      const shorter = t.shorter[0] + rng.int(t.shorter[1] - t.shorter[0] + 1);
      const [rh, rw] = resizedSize(h, w, shorter);
      // RandomCrop: pads (zeros) only where the resized image is smaller than the crop.
      const top = rh > s ? rng.int(rh - s + 1) : Math.floor((rh - s) / 2);
      const left = rw > s ? rng.int(rw - s + 1) : Math.floor((rw - s) / 2);
      const flip = t.flip && rng.next() < 0.5;
      return { box: [0, 0, h, w], size: [rh, rw], window: [top, left, s, s], flip };
    }
  }
}

/**
 * Applies `t` to a decoded image (its channel count must match `t.mean`'s) and writes the
 * normalized C×size×size float32 sample at `out[offset]`; `rng` draws the random parameters.
 *
 * ```ts
 * import { applyTransform, transformPreset, toRgb, decodeImage } from "@resgpu/resgpu/images";
 * import { Rng } from "@resgpu/resgpu/images";
 * const t = transformPreset("eval");
 * const out = new Float32Array(3 * 224 * 224);
 * applyTransform(toRgb(decodeImage(await Deno.readFile("cat.jpg"))), t, new Rng(0), out, 0);
 * ```
 */
export function applyTransform(
  img: DecodedImage,
  t: ImageTransform,
  rng: Rng,
  out: Float32Array,
  offset: number,
): void {
  if (img.channels !== t.mean.length) {
    throw new RangeError(
      `image has ${img.channels} channels, the transform normalizes ${t.mean.length} (convert it with toRgb or toGray)`,
    );
  }
  resampleInto(img, planTransform(t, img.height, img.width, rng), t.mean, t.std, out, offset);
}
