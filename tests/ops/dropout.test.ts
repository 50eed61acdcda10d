import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { dropoutKeeps, dropThreshold, planDropout } from "../../src/ops/dropout.ts";
import { runOnce } from "../../src/gpu/plan.ts";
import { Tensor } from "../../src/tensor.ts";

Deno.test({
  name: "dropout: mask matches the CPU hash, scale is 1/(1-p), backward reuses the mask",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const n = 10_007, p = 0.3, salt = 5;
    const x = Tensor.fromArray(rt, Float32Array.from({ length: n }, (_, i) => 1 + (i % 13)), [n]);
    const y = Tensor.empty(rt, [n]), dx = Tensor.empty(rt, [n]);
    const seed = Tensor.fromArray(rt, [0], [1]);
    for (const step of [1, 2]) {
      rt.device.queue.writeBuffer(seed.buffer, 0, new Uint32Array([step]));
      runOnce(
        rt,
        await planDropout(rt, n, p, salt, { seed: seed.buffer, src: x.buffer, dst: y.buffer }),
      );
      runOnce(
        rt,
        await planDropout(rt, n, p, salt, { seed: seed.buffer, src: y.buffer, dst: dx.buffer }),
      );
      const [yv, dv] = [await y.toArray(), await dx.toArray()];
      const t = dropThreshold(p), xs = await x.toArray();
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const keep = dropoutKeeps(i, step, salt, t);
        kept += keep ? 1 : 0;
        assert.equal(yv[i], keep ? Math.fround(xs[i] * Math.fround(1 / (1 - p))) : 0, `y[${i}]`);
        assert.equal(dv[i] === 0, !keep, `backward mask at ${i}`);
      }
      // Binomial(n, 0.7): 5 standard deviations is ±230.
      assert.ok(Math.abs(kept - 0.7 * n) < 5 * Math.sqrt(n * 0.21), `kept ${kept} of ${n}`);
    }
    assert.throws(() => dropThreshold(1), /\[0, 1\)/);
    for (const t of [x, y, dx, seed]) t.dispose();
  },
});
