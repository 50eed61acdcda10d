/**
 * `deno task bench:compare [--json] [--batch 32] [--rounds 3]`: one ResNet-20 training step
 * (option B, 1×28×28) in resgpu, in TensorFlow.js's WebGPU backend on the same adapter in the same
 * process, and — when /usr/bin/python3 has torch — in PyTorch on the CPU; prints the ratios.
 *
 * The engines take turns for `--rounds` rounds and each ratio is the median of its per-round
 * ratios: on a shared 2-core machine whose speed drifts ~2× by the hour, engines measured minutes
 * apart in one run moved 1.5–1.7× each and not together (docs/journal/bench-history.md, "Two cores, one
 * workgroup"), while neighbours in one round see the same machine.
 */
import { median } from "./stats.ts";
import { Runtime } from "../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { measureThroughput } from "./train_measure.ts";
import { tf, TfResNet20 } from "./tfjs_resnet.ts";

const json = Deno.args.includes("--json");
const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(Deno.args[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} ${Deno.args[i + 1]}`);
  return v;
};
const batch = arg("batch", 32);
const rounds = arg("rounds", 3);
const WINDOWS = 3, STEPS = 2;

interface Rates {
  train: number;
  forward: number;
}

/** TensorFlow.js's model, built and warmed once; each call times one round. */
async function tfjsEngine(): Promise<() => Promise<Rates>> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const model = new TfResNet20(1, 10);
  const x = tf.randomNormal([batch, 28, 28, 1]) as tf.Tensor4D;
  const labels = tf.oneHot(
    tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32"),
    10,
  ) as tf.Tensor2D;
  const first = model.trainStep(x, labels);
  await first.data(); // warm-up: compiles every program
  first.dispose();
  const logits = tf.tidy(() => model.logits(x));
  await logits.data();
  logits.dispose();
  return () => tfjsRound(model, x, labels);
}

async function tfjsRound(model: TfResNet20, x: tf.Tensor4D, labels: tf.Tensor2D): Promise<Rates> {
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

async function torchThroughput(): Promise<Rates | null> {
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

const rt = await Runtime.create(runtimeOptionsFromEnv());
const tfjs = await tfjsEngine();
const r2 = (v: number) => +v.toFixed(2);
interface Round {
  resgpu: Rates;
  tfjs: Rates;
  torch: Rates | null;
}
const perRound: Round[] = [];
for (let r = 0; r < rounds; r++) {
  const ours = await measureThroughput(rt, "resnet20", {
    shortcut: "B",
    inputShape: [1, 28, 28],
    batch,
    windows: WINDOWS,
    stepsPerWindow: STEPS,
  });
  const resgpu = { train: ours.trainImagesPerSec, forward: ours.forwardImagesPerSec };
  perRound.push({ resgpu, tfjs: await tfjs(), torch: await torchThroughput() });
  if (!json) {
    const t = perRound[r].torch;
    console.error(
      `round ${r + 1}/${rounds}: train images/s resgpu ${resgpu.train}, tfjs ${
        r2(perRound[r].tfjs.train)
      }, torch ${t ? r2(t.train) : "n/a"}`,
    );
  }
}
// PyTorch counts only where every round had it (a partial set would mix machines' states).
const withTorch = perRound.every((r) => r.torch !== null);
const med = (f: (r: Round) => number) => r2(median(perRound.map(f)));
const result = {
  adapter: rt.report.description,
  backend: rt.report.backend,
  model: "resnet20 (option B, 1×28×28)",
  batch,
  rounds,
  resgpu_images_per_s: med((r) => r.resgpu.train),
  tfjs_images_per_s: med((r) => r.tfjs.train),
  torch_images_per_s: withTorch ? med((r) => r.torch!.train) : null,
  resgpu_forward_images_per_s: med((r) => r.resgpu.forward),
  tfjs_forward_images_per_s: med((r) => r.tfjs.forward),
  torch_forward_images_per_s: withTorch ? med((r) => r.torch!.forward) : null,
  resgpu_over_tfjs: med((r) => r.resgpu.train / r.tfjs.train),
  resgpu_over_torch: withTorch ? med((r) => r.resgpu.train / r.torch!.train) : null,
  per_round: perRound.map((r) => ({
    resgpu_images_per_s: r.resgpu.train,
    tfjs_images_per_s: r2(r.tfjs.train),
    torch_images_per_s: r.torch ? r2(r.torch.train) : null,
  })),
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
    }× (medians of ${rounds} rounds: images/s of each engine, ratios within each round)`,
  );
}
rt.dispose();
Deno.exit(0); // TF.js keeps its device's timers alive
