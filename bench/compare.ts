/**
 * `deno task bench:compare [--json] [--batch 32]`: one ResNet-20 training step (option B,
 * 1×28×28) in resgpu, in TensorFlow.js's WebGPU backend on the same adapter in the same process,
 * and — when /usr/bin/python3 has torch — in PyTorch on the CPU; prints the ratios.
 */
import { Runtime } from "../src/gpu/runtime.ts";
import { measureThroughput } from "./train_measure.ts";
import { tf, TfResNet20 } from "./tfjs_resnet.ts";

const json = Deno.args.includes("--json");
const bi = Deno.args.indexOf("--batch");
const batch = bi >= 0 ? Number(Deno.args[bi + 1]) : 32;
const WINDOWS = 3, STEPS = 2;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function tfjsThroughput(): Promise<{ train: number; forward: number }> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const model = new TfResNet20(1, 10);
  const x = tf.randomNormal([batch, 28, 28, 1]) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32"),
    10,
  ) as tf.Tensor2D;
  await model.trainStep(x, labels).data(); // warm-up: compiles every program
  const train: number[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    const t0 = performance.now();
    let loss: tf.Scalar | null = null;
    for (let i = 0; i < STEPS; i++) {
      loss?.dispose();
      loss = model.trainStep(x, labels);
    }
    await loss!.data();
    loss!.dispose();
    train.push((performance.now() - t0) / STEPS);
  }
  await tf.tidy(() => model.logits(x)).data();
  const fwd: number[] = [];
  for (let w = 0; w < WINDOWS; w++) {
    const t0 = performance.now();
    let out: tf.Tensor | null = null;
    for (let i = 0; i < STEPS; i++) {
      out?.dispose();
      out = tf.tidy(() => model.logits(x));
    }
    await out!.data();
    out!.dispose();
    fwd.push((performance.now() - t0) / STEPS);
  }
  return { train: batch / (median(train) / 1000), forward: batch / (median(fwd) / 1000) };
}

async function torchThroughput(): Promise<{ train: number; forward: number } | null> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [
        new URL("./torch_models.py", import.meta.url).pathname,
        `resnet20:B:1x28x28:${batch}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) return null;
    const r = JSON.parse(new TextDecoder().decode(out.stdout)).results[0];
    return { train: r.train_images_per_s, forward: r.forward_images_per_s };
  } catch {
    return null; // no python3 or no torch: the comparison is optional
  }
}

const rt = await Runtime.create();
const ours = await measureThroughput(rt, "resnet20", {
  shortcut: "B",
  inputShape: [1, 28, 28],
  batch,
  windows: WINDOWS,
  stepsPerWindow: STEPS,
});
const theirs = await tfjsThroughput();
const torch = await torchThroughput();
const r2 = (v: number) => +v.toFixed(2);
const result = {
  adapter: rt.report.description,
  backend: rt.report.backend,
  model: "resnet20 (option B, 1×28×28)",
  batch,
  resgpu_images_per_s: ours.trainImagesPerSec,
  tfjs_images_per_s: r2(theirs.train),
  torch_images_per_s: torch ? r2(torch.train) : null,
  resgpu_forward_images_per_s: ours.forwardImagesPerSec,
  tfjs_forward_images_per_s: r2(theirs.forward),
  torch_forward_images_per_s: torch ? r2(torch.forward) : null,
  resgpu_over_tfjs: r2(ours.trainImagesPerSec / theirs.train),
  resgpu_over_torch: torch ? r2(ours.trainImagesPerSec / torch.train) : null,
  date: new Date().toISOString().slice(0, 10),
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(
    `adapter: ${result.adapter} (backend ${result.backend}), ${result.model}, batch ${batch}`,
  );
  console.log(
    `train   images/s: resgpu ${result.resgpu_images_per_s}, tfjs ${result.tfjs_images_per_s}, torch CPU ${
      result.torch_images_per_s ?? "n/a"
    }`,
  );
  console.log(
    `forward images/s: resgpu ${result.resgpu_forward_images_per_s}, tfjs ${result.tfjs_forward_images_per_s}, torch CPU ${
      result.torch_forward_images_per_s ?? "n/a"
    }`,
  );
  console.log(
    `resgpu ÷ tfjs: ${result.resgpu_over_tfjs}×; resgpu ÷ torch: ${
      result.resgpu_over_torch ?? "n/a"
    }×`,
  );
}
rt.destroy();
Deno.exit(0); // TF.js keeps its device's timers alive
