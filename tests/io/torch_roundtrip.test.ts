/**
 * The round trip with PyTorch (tests/fixtures/torch_roundtrip.py, generated in the run):
 * torchvision ResNet-18/50 with random weights and random BN statistics → tools/resgpu_torch.py
 * convert (f32, f16, bf16) → loadWeights → Predictor on raw uint8 pixels with the stored ImageNet
 * normalization: eval logits against PyTorch's float64 run of the weights as stored; and back:
 * saveWeights → torchvision load_state_dict(strict=True), every tensor bit for bit.
 *
 * Tolerance: every logit within max(1e-4, 8·f32_rel) of the logits' largest magnitude, f32_rel
 * being PyTorch's own f32 error on the case (how hard it is for f32, measured by the fixture).
 * Our convolutions sum up to K = 512·3·3 = 4608 terms in one f32 running sum, ≈ √K·2⁻²⁴ ≈ 4e-6
 * relative per layer, over 18 or 50 layers, where oneDNN's blocked sums do better: 1e-4 covers
 * that (the measured errors are listed in the test output); a wrong name, layout, dtype
 * conversion or normalization errs by O(1) of the scale.
 * Needs /usr/bin/python3 with torch and torchvision; ignored without them.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { pythonHas, runPythonJson } from "../helpers/torch.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Predictor } from "../../src/infer/predictor.ts";
import { loadWeightsFile, saveWeightsFile } from "../../src/io/weights_file.ts";
import { writeSafetensors } from "../../src/io/safetensors_file.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { loadCheckpoint, saveCheckpoint } from "../../files.ts";
import { Rng } from "../helpers/rand.ts";

const FIXTURE = new URL("../fixtures/torch_roundtrip.py", import.meta.url);
const torch = await pythonHas("torch", "torchvision");

/** The fixture's formula images: uint8 HWC pixel i, the same integer hash as pixel() there. */
export function formulaPixels(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (Math.imul(i, 2654435761) >>> 0) >>> 24);
}

interface TorchWeights {
  logits: number[];
  f32_rel: number;
}

const cases = [
  { model: "resnet18", size: 224, batch: 1, dtype: "f32" },
  { model: "resnet50", size: 224, batch: 1, dtype: "f16" },
  { model: "resnet18", size: 64, batch: 2, dtype: "bf16" },
] as const;

for (const c of cases) {
  Deno.test({
    name: `torchvision ${c.model} (${c.dtype} safetensors) → loadWeights → Predictor: ` +
      `eval logits at 3×${c.size}×${c.size} match PyTorch`,
    ignore: !torch,
    ...GPU_TEST,
    async fn() {
      const dir = await Deno.makeTempDir();
      const file = `${dir}/${c.model}.safetensors`;
      const classes = 1000;
      const want = await runPythonJson<TorchWeights>(FIXTURE, [
        "weights",
        c.model,
        String(classes),
        String(c.size),
        String(c.batch),
        c.dtype,
        "1",
        file,
      ]);
      const rt = await runtime();
      const model = Model.create(
        rt,
        buildModel(c.model, {
          inputShape: [3, c.size, c.size],
          classes,
          stem: "imagenet",
        }),
        { name: c.model },
      );
      const done = await loadWeightsFile(model, file);
      assert.deepEqual(done.preprocessing, { normalization: true, classNames: true });
      if (c.dtype !== "f32") {
        assert.equal(done.converted[c.dtype.toUpperCase()], model.graph.params.length);
      }
      assert.deepEqual(model.preprocessing.mean, [0.485, 0.456, 0.406]);
      assert.equal(model.preprocessing.classNames?.[1], "goldfish");

      using predictor = await Predictor.create(model, {
        maxBatch: c.batch,
        buckets: [c.batch],
        input: "pixels",
      });
      const x = formulaPixels(c.batch * c.size * c.size * 3);
      const ours = await predictor.logits(x, c.batch);
      const scale = Math.max(...want.logits.map(Math.abs));
      const tol = Math.max(1e-4, 8 * want.f32_rel) * scale;
      let worst = 0;
      for (let i = 0; i < ours.length; i++) {
        const err = Math.abs(ours[i] - want.logits[i]);
        worst = Math.max(worst, err);
        assert.ok(err <= tol, `logit ${i}: ${ours[i]} vs ${want.logits[i]}, tolerance ${tol}`);
      }
      console.log(
        `  ${c.model} ${c.dtype}: worst error ${(worst / scale).toExponential(2)} of scale ` +
          `${scale.toFixed(2)}; PyTorch f32 ${want.f32_rel.toExponential(2)}; allowed ` +
          `${(tol / scale).toExponential(2)}`,
      );
      const top = await predictor.topK(x, c.batch, 1);
      assert.equal(top[0][0].label, model.preprocessing.classNames![top[0][0].index]);

      if (c.dtype === "f32" || c.model === "resnet50") {
        // Back to PyTorch: resgpu's weights file loads strictly into torchvision, tensor for tensor
        // what was converted (f16 widened exactly, so equal to the f16 values as f32).
        const out = `${dir}/resgpu.safetensors`;
        await saveWeightsFile(model, out);
        const back = await runPythonJson<
          { names: number; equal: boolean; metadata: Record<string, string> }
        >(FIXTURE, ["load", out, file, c.model, String(classes)]);
        assert.ok(back.equal, "every tensor equal");
        assert.equal(back.metadata.format, "resgpu-weights-1");
        assert.equal(JSON.parse(back.metadata.preprocessing).classNames.length, 1000);
      }
      model.dispose();
      await Deno.remove(dir, { recursive: true });
    },
  });
}

interface Losses {
  loss0: number;
  loss1: number;
}

interface Continued {
  float64: Losses;
  float32: Losses;
  /** The largest move of each loss in f64 runs with f32-sized noise on every value. */
  noise: Losses;
  /** Eval-mode logits of batch 1 after the step (f64), PyTorch's f32 error and the noise's. */
  eval_logits: number[];
  eval_f32_rel: number;
  eval_noise_rel: number;
}

Deno.test({
  name: "a resgpu training checkpoint continued in PyTorch (weights, BN statistics, SGD " +
    "momentum) gives resgpu's next losses, and PyTorch's state continues in resgpu",
  ignore: !torch,
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const size = 64, batch = 4, classes = 10;
    const graph = buildModel("resnet18", {
      inputShape: [3, size, size],
      classes,
      stem: "imagenet",
    });
    const config = { lr: 0.01, momentum: 0.9, wd: 5e-3, nesterov: false };
    const optimizer = {
      kind: "sgd" as const,
      lr: config.lr,
      momentum: config.momentum,
      weightDecay: config.wd,
    };
    const per = 3 * size * size;
    const rng = new Rng(17);
    const xs = Array.from({ length: 4 }, () => rng.normal(batch * per));
    const ys = Array.from(
      { length: 4 },
      () => Array.from({ length: batch }, () => rng.int(classes)),
    );

    const model = Model.create(rt, graph, { name: "resnet18", seed: 3 });
    const trainer = await Trainer.create(model, { batchSize: batch, optimizer });
    trainer.step(xs[0], ys[0], config.lr);
    trainer.step(xs[1], ys[1], config.lr);
    const dir = await Deno.makeTempDir();
    const ckpt = `${dir}/checkpoint.safetensors`;
    await saveCheckpoint(ckpt, model, trainer, {
      model: "resnet18",
      epoch: 0,
      step: 2,
      loader: { seed: 0, epoch: 0, batch: 2 },
      config,
    });
    await trainer.readMetrics();
    trainer.step(xs[2], ys[2], config.lr);
    const loss0 = (await trainer.readMetrics()).meanLoss;
    // Eval logits after that step: the BN running statistics it updated.
    const evalPredictor = await Predictor.create(model, { maxBatch: batch, buckets: [batch] });
    const evalLogits = await evalPredictor.logits(xs[3], batch);
    evalPredictor.dispose();
    trainer.step(xs[3], ys[3], config.lr);
    const loss1 = (await trainer.readMetrics()).meanLoss;

    const batches = `${dir}/batches.safetensors`;
    const x = new Float32Array(2 * batch * per);
    x.set(xs[2]);
    x.set(xs[3], batch * per);
    await writeSafetensors(batches, {
      x: { shape: [2, batch, 3, size, size], data: x },
      y: { shape: [2, batch], data: Int32Array.from([...ys[2], ...ys[3]]) },
      classes: { shape: [], data: Int32Array.of(classes) },
    });
    const back = `${dir}/back.safetensors`;
    const torch = await runPythonJson<Continued>(FIXTURE, ["continue", ckpt, batches, back]);
    // How far a correct f32 run may land from f64, measured by the fixture: PyTorch's own f32
    // error and the spread of f64 runs whose every weight, statistic and momentum value moved by
    // one f32 rounding (the step amplifies rounding where a ReLU input sits near 0); 8× the
    // larger, and never less than 1e-5 of the loss (≈ 170 f32 ulps). A missing momentum buffer,
    // weight decay or BN statistic moves the second loss by far more.
    const tol = (k: "loss0" | "loss1") =>
      Math.max(
        1e-5 * torch.float64[k],
        8 * Math.max(Math.abs(torch.float32[k] - torch.float64[k]), torch.noise[k]),
      );
    const say = (k: "loss0" | "loss1", ours: number) => {
      const err = Math.abs(ours - torch.float64[k]);
      console.log(
        `  ${k}: resgpu ${ours}, PyTorch ${torch.float64[k]} (f64), error ${
          err.toExponential(2)
        }, allowed ${tol(k).toExponential(2)}`,
      );
      assert.ok(err <= tol(k), `${k}: resgpu ${ours} vs PyTorch ${torch.float64[k]}`);
    };
    say("loss0", loss0);
    say("loss1", loss1);
    const scale = Math.max(...torch.eval_logits.map(Math.abs));
    const logitTol = Math.max(1e-4, 8 * Math.max(torch.eval_f32_rel, torch.eval_noise_rel)) * scale;
    evalLogits.forEach((v, i) => {
      const e = Math.abs(v - torch.eval_logits[i]);
      assert.ok(e <= logitTol, `eval logit ${i}: ${v} vs ${torch.eval_logits[i]} (${logitTol})`);
    });

    // And back: PyTorch's state after its step, loaded into a fresh resgpu model and trainer,
    // gives batch 3's loss as PyTorch computed it.
    const fresh = Model.create(rt, graph, { name: "resnet18", seed: 99 });
    const again = await Trainer.create(fresh, { batchSize: batch, optimizer });
    const meta = await loadCheckpoint(back, fresh, again);
    assert.equal(meta.step, 3);
    // PyTorch's running statistics came back: the same eval logits.
    const backPredictor = await Predictor.create(fresh, { maxBatch: batch, buckets: [batch] });
    const backLogits = await backPredictor.logits(xs[3], batch);
    backPredictor.dispose();
    backLogits.forEach((v, i) => {
      const e = Math.abs(v - torch.eval_logits[i]);
      assert.ok(e <= logitTol, `back, eval logit ${i}: ${v} vs ${torch.eval_logits[i]}`);
    });
    again.steps = meta.step;
    again.step(xs[3], ys[3], config.lr);
    const backLoss = (await again.readMetrics()).meanLoss;
    const err = Math.abs(backLoss - torch.float32.loss1);
    assert.ok(err <= tol("loss1"), `back in resgpu: ${backLoss} vs PyTorch ${torch.float32.loss1}`);
    for (const t of [trainer, again]) t.dispose();
    for (const m of [model, fresh]) m.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});
