/**
 * Inference's kernels (shaders/infer.wgsl) against the f64 reference (src/reference/infer.ts).
 *
 * Tolerances, with u = 2⁻²⁴. Pixels: the kernel rounds v·unit (|v·unit| ≤ 1: ≤ u), the
 * subtraction of the f32-rounded mean (≤ u·(1 + |mean|) more, mean itself rounded by u·|mean|)
 * and the division by the f32-rounded std (WGSL: 2.5 ulp, plus the std's own rounding u); so
 * |err| ≤ 3u·(1 + |mean|)/std + 4u·|result|. Softmax: WGSL lets exp(x) be off by 3 + 2|x| ulp,
 * the row sum adds up to `classes` roundings and the division 2.5 ulp, so p_k may differ by
 * (3 + 2|l_k − max| + 3 + 2·range + classes + 3)·u·p_k, range being the row's max − min logit.
 */
import assert from "node:assert/strict";
import { download, GPU_TEST, runtime, upload } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { runOnce } from "../../src/gpu/plan.ts";
import { planPixels, planSoftmaxRows } from "../../src/ops/infer.ts";
import { normalizePixels, softmaxRows } from "../../src/reference/infer.ts";

const U = 2 ** -24;

// Odd sizes (a partial last workgroup, u8 images whose bytes do not fill the last word), 1 and 3
// channels, one image and several.
const SHAPES = [
  { n: 1, c: 3, h: 5, w: 7 },
  { n: 3, c: 3, h: 9, w: 4 },
  { n: 2, c: 1, h: 3, w: 3 },
  { n: 4, c: 2, h: 8, w: 8 },
];

for (const type of ["u8", "f32"] as const) {
  for (const layout of ["hwc", "chw"] as const) {
    Deno.test({
      name: `pixels ${type} ${layout} → normalized NCHW matches the reference`,
      ...GPU_TEST,
      async fn() {
        const rt = await runtime();
        for (const s of SHAPES) {
          const rng = new Rng(s.n * 100 + s.c * 10 + s.h);
          const count = s.n * s.c * s.h * s.w;
          const raw = type === "u8"
            ? Uint8Array.from({ length: count }, (_, i) => i === 0 ? 255 : rng.int(256))
            : Float32Array.from({ length: count }, (_, i) => i === 0 ? 1 : rng.next());
          const mean = Array.from({ length: s.c }, (_, c) => 0.3 + 0.1 * c);
          const std = Array.from({ length: s.c }, (_, c) => 0.2 + 0.05 * c);
          let src: GPUBuffer;
          if (type === "u8") {
            // Raw bytes, padded to whole words (a round trip through f32 values could alter
            // words that read as NaN).
            const bytes = new Uint8Array(Math.ceil(count / 4) * 4);
            bytes.set(raw);
            src = rt.pool.acquire(bytes.length);
            rt.device.queue.writeBuffer(src, 0, bytes);
          } else src = upload(rt, raw);
          const stats = upload(rt, mean.flatMap((m, c) => [m, std[c]]));
          const out = rt.pool.acquire(count * 4);
          runOnce(rt, await planPixels(rt, s, { src, stats, out }, { type, layout }));
          const got = await download(rt, out, count);
          const unit = type === "u8" ? 1 / 255 : 1;
          const want = normalizePixels(raw, s, layout, unit, mean, std);
          for (let i = 0; i < count; i++) {
            const c = Math.floor(i / (s.h * s.w)) % s.c;
            const tol = 3 * U * (1 + mean[c]) / std[c] + 4 * U * Math.abs(want[i]);
            assert.ok(
              Math.abs(got[i] - want[i]) <= tol,
              `[${s.n},${s.c},${s.h},${s.w}] element ${i}: ${got[i]} vs ${want[i]}`,
            );
          }
          for (const b of [src, stats, out]) rt.pool.release(b);
        }
      },
    });
  }
}

Deno.test({
  name: "softmax rows matches the reference within the exp/sum/divide bound",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    for (const [rows, classes, spread] of [[1, 1, 1], [3, 10, 3], [70, 37, 8], [2, 1000, 12]]) {
      const rng = new Rng(rows * classes);
      const l = rng.normal(rows * classes, 0, spread);
      const logits = upload(rt, l), probs = rt.pool.acquire(rows * classes * 4);
      runOnce(rt, await planSoftmaxRows(rt, { rows, classes }, { logits, probs }));
      const got = await download(rt, probs, rows * classes);
      const want = softmaxRows(l, classes);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(l.subarray(r * classes, (r + 1) * classes));
        const max = Math.max(...row), range = max - Math.min(...row);
        let sum = 0;
        for (let k = 0; k < classes; k++) {
          const i = r * classes + k;
          const tol = (9 + 2 * (max - l[i]) + 2 * range + classes) * U * want[i] + 1e-38;
          assert.ok(
            Math.abs(got[i] - want[i]) <= tol,
            `row ${r} class ${k}: ${got[i]} vs ${want[i]}`,
          );
          sum += got[i];
        }
        assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
      }
      rt.pool.release(logits);
      rt.pool.release(probs);
    }
  },
});
