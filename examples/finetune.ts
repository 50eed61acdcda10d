/**
 * Fine-tunes the head of a ResNet-18 from pretrained-style weights (any torchvision-named
 * ResNet-18 file: a converted `.pth`, or one resgpu trained) on the synthetic data set's ten
 * classes: the 1000-class `fc` is skipped and re-initialized for 10 classes, everything below
 * `layer4` is frozen (no backward runs there) with its batch norms in eval mode, and the model is
 * evaluated and saved with its class names.
 *
 *   deno run --allow-read --allow-write examples/finetune.ts WEIGHTS.safetensors OUT.safetensors
 *            [--epochs 3] [--train 2000] [--test 500] [--json]
 */
import {
  BatchLoader,
  buildModel,
  loadWeights,
  Model,
  Predictor,
  Runtime,
  Trainer,
} from "../mod.ts";
import { loadDataset, saveWeightsFile } from "../files.ts";

export interface FinetuneOptions {
  weights: string;
  out: string;
  epochs?: number;
  train?: number;
  test?: number;
  batchSize?: number;
  lr?: number;
  log?: (line: string) => void;
}

export async function finetune(opts: FinetuneOptions) {
  const log = opts.log ?? console.log;
  const { train, test } = await loadDataset("synthetic", {
    channels: 3,
    trainCount: opts.train ?? 2000,
    testCount: opts.test ?? 500,
  });
  using rt = await Runtime.create();
  const graph = buildModel("resnet18", {
    inputShape: [train.channels, train.height, train.width],
    classes: train.classes,
    stem: "imagenet",
  });
  using model = Model.create(rt, graph, { name: "resnet18" });
  const loaded = loadWeights(model, await Deno.readFile(opts.weights), {
    source: opts.weights,
    skip: ["fc.*"],
  });
  model.setPreprocessing({ classNames: train.classNames! });
  log(
    `${opts.weights}: ${loaded.loaded.length} tensors loaded, ` +
      `${loaded.reinitialized.join(", ")} re-initialized for ${train.classes} classes`,
  );
  const batchSize = opts.batchSize ?? 32, lr = opts.lr ?? 0.05;
  using trainer = await Trainer.create(model, {
    batchSize,
    optimizer: { kind: "sgd", lr, momentum: 0.9, weightDecay: 5e-4 },
    freeze: { except: ["layer4", "fc"] },
    frozenBatchNormEval: true,
  });
  // The loader normalizes as the pretrained weights expect (the file's stored normalization).
  const { mean, std } = model.preprocessing;
  const stats = { mean: Float32Array.from(mean), std: Float32Array.from(std) };
  const loader = BatchLoader.train(train, { batchSize, stats, seed: 1 });
  const epochs = opts.epochs ?? 3;
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) {
    for await (const b of loader.epoch()) {
      // Cosine decay over the run.
      const t = (e * loader.batchesPerEpoch + b.index) / (epochs * loader.batchesPerEpoch);
      trainer.step(b.x, b.y, lr * 0.5 * (1 + Math.cos(Math.PI * t)));
    }
    const m = await trainer.readMetrics();
    log(
      `epoch ${e + 1}/${epochs}: loss ${m.meanLoss.toFixed(3)}, accuracy ${
        (100 * m.accuracy).toFixed(1)
      }%`,
    );
  }
  const seconds = (performance.now() - t0) / 1000;

  // Test accuracy through a Predictor: raw uint8 CHW images, normalized on the GPU.
  using predictor = await Predictor.create(model, { maxBatch: 64, input: "pixels", layout: "chw" });
  const per = train.channels * train.height * train.width;
  let right = 0;
  for (let i = 0; i < test.count; i += 64) {
    const n = Math.min(64, test.count - i);
    const top = await predictor.topK(test.images.subarray(i * per, (i + n) * per), n, 1);
    top.forEach(([t], k) => right += t.index === test.labels[i + k] ? 1 : 0);
  }
  await saveWeightsFile(model, opts.out);
  const result = {
    testAccuracy: right / test.count,
    seconds,
    trained: trainer.optimizerNames.length,
  };
  log(
    `test accuracy ${(100 * result.testAccuracy).toFixed(1)}% on ${test.count} images; ` +
      `${seconds.toFixed(1)} s of training; saved ${opts.out}`,
  );
  return result;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const num = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i < 0 ? undefined : Number(args.splice(i, 2)[1]);
  };
  const json = args.includes("--json") && !!args.splice(args.indexOf("--json"), 1);
  const epochs = num("epochs"), train = num("train"), test = num("test");
  const [weights, out] = args;
  if (!weights || !out) {
    console.error("usage: examples/finetune.ts WEIGHTS.safetensors OUT.safetensors [--epochs 3]");
    Deno.exit(2);
  }
  try {
    const r = await finetune({
      weights,
      out,
      epochs,
      train,
      test,
      log: json ? () => {} : undefined,
    });
    if (json) console.log(JSON.stringify(r));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
