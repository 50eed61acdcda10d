/**
 * The transforms against torchvision (tests/fixtures/transforms_torch.py computes the
 * references). Bounds, in ToTensor units ([0, 1] pixels):
 * - against torchvision on float tensors, the same arithmetic as ours in float32 (ours runs in
 *   float64 with float32 weights): PyTorch computes each tap's center, at coordinates up to the
 *   source extent L, in float32, so a tap's position is off by up to L·2⁻²⁴ pixels and its weight
 *   (slope 1/filter scale ≤ 1) by as much; normalizing the n = 2·⌈scale⌉ + 1 weights doubles
 *   that, and pixels are at most 1 apart, so each pass is off by ≤ 2·n·L·2⁻²⁴ and both by
 *   ≤ 4·n·L·2⁻²⁴ (n of the wider pass; the sums' own rounding, (n + 1)·2⁻²⁴, is far below),
 *   divided by the smallest std after normalization;
 * - against torchvision on PIL images (what ImageFolder pipelines run): Pillow rounds to uint8
 *   after each of its two passes, and each pass is a convex combination (bilinear weights are
 *   nonnegative, sum 1), so the first rounding (≤ 1/2 level) passes through the second pass
 *   unchanged in size and the second adds ≤ 1/2: |Δ| ≤ 1 level, plus Pillow's 22-bit fixed-point
 *   weights (≤ n·2⁻²³ levels), i.e. (1 + 2⁻¹⁰)/255.
 */
import assert from "node:assert/strict";
import { pythonHas, runPythonJson } from "../helpers/torch.ts";
import { resampleInto } from "../../src/image/resize.ts";
import {
  planTransform,
  randomResizedCropBox,
  transformPreset,
} from "../../src/image/transforms.ts";
import type { DecodedImage } from "../../src/image/header.ts";
import { Rng } from "../../src/util/rng.ts";

interface Case {
  name: string;
  shape: number[];
  kind: "eval" | "resized-crop";
  path: "tensor" | "pil";
  height: number;
  width: number;
  resize?: number;
  size: number;
  box?: [number, number, number, number];
  flip?: boolean;
  mean?: number[];
  std?: number[];
}
interface Fixture {
  cases: Case[];
  fallback: {
    height: number;
    width: number;
    scale: [number, number];
    ratio: [number, number];
    box: number[];
  }[];
}

/** The fixture's formula image. */
function image(h: number, w: number): DecodedImage {
  const data = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        data[(y * w + x) * 3 + c] = (7 * x + 13 * y + 50 * c + ((x * y) % 17)) % 256;
      }
    }
  }
  return { width: w, height: h, channels: 3, data };
}

const ok = await pythonHas("torch", "torchvision", "PIL");

Deno.test({
  name: "transforms: resize, center crop, resized crop, flip and normalize match torchvision",
  ignore: !ok,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "resgpu-transforms-" });
    try {
      const fx = await runPythonJson<Fixture>(
        new URL("../fixtures/transforms_torch.py", import.meta.url),
        [dir],
      );
      assert.ok(fx.cases.length >= 15);
      for (const c of fx.cases) {
        const ref = new Float32Array((await Deno.readFile(`${dir}/${c.name}.f32`)).buffer);
        const img = image(c.height, c.width);
        const mean = c.mean ?? [0, 0, 0], std = c.std ?? [1, 1, 1];
        const spec = c.kind === "eval"
          ? planTransform(
            { kind: "eval", size: c.size, resize: c.resize!, mean, std },
            c.height,
            c.width,
            new Rng(0),
          )
          : {
            box: c.box!,
            size: [c.size, c.size] as [number, number],
            window: [0, 0, c.size, c.size] as [number, number, number, number],
            flip: c.flip!,
          };
        const out = new Float32Array(3 * c.size * c.size);
        resampleInto(img, spec, mean, std, out, 0);
        assert.equal(out.length, ref.length, c.name);
        // Taps of the wider pass: the larger downscale factor of the two axes.
        const scale = Math.max(spec.box[2] / spec.size[0], spec.box[3] / spec.size[1], 1);
        const n = 2 * Math.ceil(scale) + 1;
        const minStd = Math.min(...std);
        const extent = Math.max(spec.box[2], spec.box[3], spec.size[0], spec.size[1]);
        const bound = c.path === "tensor"
          ? (4 * n * extent * 2 ** -24) / minStd
          : (1 + 2 ** -10) / 255 / minStd;
        let worst = 0, at = 0;
        for (let i = 0; i < ref.length; i++) {
          const d = Math.abs(out[i] - ref[i]);
          if (d > worst) [worst, at] = [d, i];
        }
        assert.ok(
          worst <= bound,
          `${c.name}: |Δ| ${worst} at ${at} (ours ${out[at]}, torchvision ${
            ref[at]
          }) > bound ${bound}`,
        );
      }
      // RandomResizedCrop's center fallback, where no random try can fit.
      for (const f of fx.fallback) {
        assert.deepEqual(
          randomResizedCropBox(f.height, f.width, f.scale, f.ratio, new Rng(1)),
          f.box,
          JSON.stringify(f),
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("transforms: random draws stay inside torchvision's ranges and repeat with the seed", () => {
  const t = transformPreset("torchvision");
  for (let i = 0; i < 300; i++) {
    const [h, w] = [50 + (i % 7) * 40, 60 + (i % 5) * 70];
    const s = planTransform(t, h, w, new Rng(3, i));
    const [top, left, bh, bw] = s.box;
    assert.ok(
      top >= 0 && left >= 0 && top + bh <= h && left + bw <= w,
      `box ${s.box} in ${h}×${w}`,
    );
    const area = (bh * bw) / (h * w);
    // Rounding the sides moves area and ratio a little past the drawn values on small images.
    assert.ok(area <= 1 && area >= 0.08 * 0.8, `area ${area}`);
    assert.deepEqual(planTransform(t, h, w, new Rng(3, i)), s);
  }
  const p = transformPreset("paper");
  assert.deepEqual(p.kind === "scale-jitter" && p.shorter, [256, 480]);
  const flips = new Set<boolean>();
  for (let i = 0; i < 200; i++) {
    const s = planTransform(p, 375, 500, new Rng(i));
    const shorter = Math.min(s.size[0], s.size[1]);
    assert.ok(shorter >= 256 && shorter <= 480, `shorter ${shorter}`);
    assert.ok(s.window[0] >= 0 && s.window[0] + 224 <= s.size[0] && s.window[1] + 224 <= s.size[1]);
    flips.add(s.flip);
  }
  assert.equal(flips.size, 2);
  const e = transformPreset("eval");
  assert.deepEqual(e.kind === "eval" && [e.resize, e.size], [256, 224]);
  assert.throws(() => transformPreset("eval", { size: 0 }), /positive integer/);
});
