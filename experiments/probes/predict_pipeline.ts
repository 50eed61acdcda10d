/**
 * Does `deno task predict` overlap decoding with the GPU? Times, in alternating rounds of one
 * process, the three parts over the same image folder: the image loader alone (decode + eval
 * transform on its workers), the Predictor alone (the same batches of random normalized input),
 * and predictImages (both, pipelined). Overlapped, the whole takes about the slower part; serial,
 * their sum. Prints medians as JSON.
 *
 *   deno run --allow-read --allow-env experiments/probes/predict_pipeline.ts WEIGHTS DIR [--batch 16] [--rounds 3]
 *
 * On a software adapter the "GPU" runs on the same CPU cores as the decoders, so overlap there
 * can only hide idle time, not add cores.
 */
import { Runtime } from "../../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../../src/host/deno_env.ts";
import { Predictor } from "../../src/infer/predictor.ts";
import { ImageBatchLoader } from "../../src/image/loader.ts";
import { predictImages } from "../../src/app/predict.ts";
import { evalTransform } from "../../src/app/predict.ts";
import { modelFromFile } from "../../src/app/weights_model.ts";
import { collectImages } from "../../src/app/image_inputs.ts";

const [weights, dir] = Deno.args;
const opt = (name: string, d: number) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i < 0 ? d : Number(Deno.args[i + 1]);
};
const batch = opt("batch", 16), rounds = opt("rounds", 3);
if (!weights || !dir) {
  console.error("usage: predict_pipeline.ts WEIGHTS DIR [--batch 16] [--rounds 3]");
  Deno.exit(2);
}

const rt = await Runtime.create(runtimeOptionsFromEnv());
const { model, architecture } = await modelFromFile(rt, weights);
const files = collectImages([dir]).files;
const shape = model.graph.inputShape;
const transform = evalTransform(architecture, shape, model.preprocessing);
const batches = Math.ceil(files.length / batch);
const per = shape[0] * shape[1] * shape[2];
const predictor = await Predictor.create(model, { maxBatch: batch });
const x = Float32Array.from({ length: batch * per }, (_, i) => Math.sin(i));

async function loaderOnly(): Promise<number> {
  const t0 = performance.now();
  using loader = new ImageBatchLoader(
    { files, labels: new Int32Array(files.length), classNames: [], name: dir },
    { batchSize: batch, transform },
  );
  for (let b = 0; b < batches; b++) await loader.next();
  return (performance.now() - t0) / 1000;
}

async function predictorOnly(): Promise<number> {
  const t0 = performance.now();
  for (let b = 0; b < batches; b++) {
    const n = Math.min(batch, files.length - b * batch);
    await predictor.probabilities(x.subarray(0, n * per), n);
  }
  return (performance.now() - t0) / 1000;
}

async function whole(): Promise<number> {
  const r = await predictImages(
    { weights, inputs: [dir], batchSize: batch },
    { runtime: rt, progress: null },
  );
  return r.seconds;
}

const times: Record<string, number[]> = { loader: [], predictor: [], predict: [] };
await predictorOnly(); // warm-up: first submits compile nothing, but allocate
for (let r = 0; r < rounds; r++) {
  times.loader.push(await loaderOnly());
  times.predictor.push(await predictorOnly());
  times.predict.push(await whole());
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const s = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
console.log(JSON.stringify(
  {
    adapter: rt.report.description,
    model: architecture.name,
    input: shape.join("×"),
    images: files.length,
    batch,
    rounds,
    seconds: s,
    images_per_s: Object.fromEntries(
      Object.entries(s).map(([k, v]) => [k, +(files.length / v).toFixed(2)]),
    ),
    // 1: predict takes as long as its slower part (full overlap); 0: as long as both in turn.
    overlap: +((s.loader + s.predictor - s.predict) / Math.min(s.loader, s.predictor)).toFixed(2),
  },
  null,
  2,
));
predictor.dispose();
model.dispose();
rt.dispose();
