/**
 * `deno task bench:infer [--json] [--models resnet18,resnet50] [--size 224] [--batch 16]
 * [--rounds 2] [--runs 3] [--engines resgpu,tfjs,torch] [--device cpu|cuda]`: inference of torchvision's ResNet-18 and ResNet-50 (3×size×size, 1000
 * classes, the same random weights and BN statistics everywhere) in resgpu (Predictor, one submit
 * per call), in TensorFlow.js's WebGPU backend on the same adapter in the same process (the same
 * graph node for node, bench/tfjs_graph.ts), and in PyTorch on the CPU (bench/torch_infer.py, when
 * /usr/bin/python3 has torch and torchvision). Every call uploads its input and reads the logits
 * back, as an application does.
 *
 * Per engine and model: the first call (after planning/compiling what can be done ahead, which is
 * reported apart for resgpu), the batch-1 latency (median of `--runs` calls per round) and the
 * batch-`--batch` throughput (one call per round). The engines take turns for
 * `--rounds` rounds; each figure is the median over rounds and each ratio the median of per-round
 * ratios (a shared machine's speed moves between engines measured minutes apart).
 */
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { median } from "./stats.ts";
import type { TfGraphModel } from "./tfjs_graph.ts";
import { Runtime } from "../src/gpu/runtime.ts";
import { buildModel } from "../src/zoo/registry.ts";
import { Model } from "../src/model/model.ts";
import { Predictor } from "../src/infer/predictor.ts";
import { saveWeightsFile } from "../src/io/weights_file.ts";
import type { StateEntry } from "../src/model/state.ts";

const json = Deno.args.includes("--json");
const flag = (name: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const int = (name: string, dflt: number) => {
  const v = Number(flag(name) ?? dflt);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} ${flag(name)}`);
  return v;
};
const models = (flag("models") ?? "resnet18,resnet50").split(",");
// A lent GPU machine has no npm registry for TensorFlow.js: --engines resgpu,torch leaves it out
// (imported only when asked for), and --device cuda times PyTorch on the GPU.
const engines = new Set((flag("engines") ?? "resgpu,tfjs,torch").split(","));
for (const e of engines) {
  if (!["resgpu", "tfjs", "torch"].includes(e)) throw new RangeError(`--engines: unknown ${e}`);
}
if (!engines.has("resgpu")) throw new RangeError("--engines must include resgpu");
const device = flag("device") ?? "cpu";
if (device !== "cpu" && device !== "cuda") throw new RangeError(`--device ${device}`);
const size = int("size", 224), batch = int("batch", 16);
const rounds = int("rounds", 2), runs = int("runs", 3);
const log = (m: string) => json || console.error(m);

interface Round {
  latencyMs: number;
  imagesPerSec: number;
}

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const r = await f();
  return [performance.now() - t0, r];
}

/** `runs` batch-1 calls (their median latency) and one full-batch call (its throughput). */
async function round(call: (n: number) => Promise<unknown>): Promise<Round> {
  const lat: number[] = [];
  for (let i = 0; i < runs; i++) lat.push((await timed(() => call(1)))[0]);
  const [ms] = await timed(() => call(batch));
  return { latencyMs: median(lat), imagesPerSec: batch / (ms / 1000) };
}

interface TorchRound extends Round {
  firstCallMs: number;
  threads: number;
  logits: number[];
}

async function torchRound(name: string, weights: string): Promise<TorchRound | null> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [
        new URL("./torch_infer.py", import.meta.url).pathname,
        name,
        weights,
        String(size),
        String(batch),
        String(runs),
        device,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) return null;
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    return {
      firstCallMs: r.first_call_ms,
      latencyMs: r.latency_ms,
      imagesPerSec: r.images_per_s,
      threads: r.threads,
      logits: r.logits,
    };
  } catch {
    return null; // no python3 or no torch: the column is null
  }
}

/** Largest |a − b| over the largest |b|. */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

const tfjsModules = engines.has("tfjs")
  ? { ...await import("./tfjs_resnet.ts"), ...await import("./tfjs_graph.ts") }
  : null;
if (tfjsModules) {
  await tfjsModules.tf.setBackend("webgpu");
  await tfjsModules.tf.ready();
}
const rt = await Runtime.create(runtimeOptionsFromEnv());
const dir = await Deno.makeTempDir();
const r2 = (v: number) => +v.toFixed(2);
const results = [];
for (const name of models) {
  const graph = buildModel(name, { inputShape: [3, size, size], classes: 1000, stem: "imagenet" });
  const model = Model.create(rt, graph, { name, seed: 1 });
  // Non-trivial running statistics, so every engine really applies them.
  const stats = new Map<string, StateEntry>();
  for (const p of graph.params) {
    if (p.kind === "running_mean" || p.kind === "running_var") {
      const mean = p.kind === "running_mean";
      stats.set(p.name, {
        shape: p.shape,
        data: Float32Array.from(
          { length: p.shape[0] },
          (_, i) => mean ? 0.1 * Math.sin(i) : 1 + 0.5 * Math.cos(i) ** 2,
        ),
      });
    }
  }
  model.loadStateDict(stats, { strict: false });
  const per = 3 * size * size;
  const nchw = Float32Array.from({ length: batch * per }, (_, i) => Math.sin(0.37 * i));
  const nhwc = new Float32Array(nchw.length);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < size * size; p++) {
        nhwc[(n * size * size + p) * 3 + c] = nchw[(n * 3 + c) * size * size + p];
      }
    }
  }

  // resgpu: planning (every bucket's plan, compiled) apart from the first call.
  const [planMs, predictor] = await timed(() =>
    Predictor.create(model, { maxBatch: batch, buckets: [1, batch] })
  );
  const [firstMs, ours] = await timed(() => predictor.logits(nchw.subarray(0, per), 1));
  const resgpu = (n: number) => predictor.logits(nchw.subarray(0, n * per), n);

  // TensorFlow.js: the same weights; its first call compiles its shaders.
  let tfm: TfGraphModel | null = null;
  let tfjs: ((n: number) => Promise<ArrayLike<number>>) | null = null;
  let tfFirstMs = NaN, tfOut: ArrayLike<number> = [];
  if (tfjsModules) {
    const { tf } = tfjsModules;
    const m = tfm = new tfjsModules.TfGraphModel(graph, await model.stateDict());
    tfjs = async (n: number) => {
      const x = tf.tensor4d(nhwc.subarray(0, n * per), [n, size, size, 3]);
      const y = m.predict(x);
      const out = await y.data();
      tf.dispose([x, y]);
      return out;
    };
    [tfFirstMs, tfOut] = await timed(() => tfjs!(1));
    await tfjs(batch); // its batch-size programs compile on first use too
  }
  await resgpu(batch);

  const weights = `${dir}/${name}.safetensors`;
  await saveWeightsFile(model, weights);
  const perRound: { resgpu: Round; tfjs: Round | null; torch: TorchRound | null }[] = [];
  for (let r = 0; r < rounds; r++) {
    const row = {
      resgpu: await round(resgpu),
      tfjs: tfjs ? await round(tfjs) : null,
      torch: engines.has("torch") ? await torchRound(name, weights) : null,
    };
    perRound.push(row);
    const ms = (x: Round | null) => x ? r2(x.latencyMs) : "n/a";
    const ips = (x: Round | null) => x ? r2(x.imagesPerSec) : "n/a";
    log(
      `${name} round ${r + 1}/${rounds}: batch-1 ms resgpu ${ms(row.resgpu)}, tfjs ${
        ms(row.tfjs)
      }, torch ${ms(row.torch)}; batch-${batch} images/s resgpu ${ips(row.resgpu)}, tfjs ${
        ips(row.tfjs)
      }, torch ${ips(row.torch)}`,
    );
  }
  const withTorch = perRound.every((r) => r.torch !== null);
  const withTfjs = tfjs !== null;
  const med = (f: (r: (typeof perRound)[number]) => number) => r2(median(perRound.map(f)));
  const torch0 = perRound[0].torch;
  results.push({
    model: name,
    input: `3×${size}×${size}`,
    batch,
    resgpu: {
      plan_ms: Math.round(planMs),
      first_call_ms: r2(firstMs),
      latency_ms: med((r) => r.resgpu.latencyMs),
      images_per_s: med((r) => r.resgpu.imagesPerSec),
    },
    tfjs: withTfjs
      ? {
        first_call_ms: r2(tfFirstMs),
        latency_ms: med((r) => r.tfjs!.latencyMs),
        images_per_s: med((r) => r.tfjs!.imagesPerSec),
        // Same weights, same graph: its logits against resgpu's (relative to their scale).
        logits_rel_diff: +relDiff(tfOut, ours).toExponential(2),
      }
      : null,
    torch: withTorch
      ? {
        device,
        threads: torch0!.threads,
        first_call_ms: r2(torch0!.firstCallMs),
        latency_ms: med((r) => r.torch!.latencyMs),
        images_per_s: med((r) => r.torch!.imagesPerSec),
        logits_rel_diff: +relDiff(torch0!.logits, ours.subarray(0, 10)).toExponential(2),
      }
      : null,
    // Ratios > 1 favour resgpu: latency as theirs ÷ ours, throughput as ours ÷ theirs.
    resgpu_over_tfjs: withTfjs
      ? {
        latency: med((r) => r.tfjs!.latencyMs / r.resgpu.latencyMs),
        throughput: med((r) => r.resgpu.imagesPerSec / r.tfjs!.imagesPerSec),
      }
      : null,
    resgpu_over_torch: withTorch
      ? {
        latency: med((r) => r.torch!.latencyMs / r.resgpu.latencyMs),
        throughput: med((r) => r.resgpu.imagesPerSec / r.torch!.imagesPerSec),
      }
      : null,
  });
  predictor.dispose();
  tfm?.dispose();
  model.dispose();
}
const report = {
  adapter: rt.report.description,
  backend: rt.report.backend,
  rounds,
  runs,
  results,
  date: new Date().toISOString().slice(0, 10),
};
await Deno.remove(dir, { recursive: true });
if (json) console.log(JSON.stringify(report));
else {
  console.log(
    `adapter: ${report.adapter} (backend ${report.backend}); medians of ${rounds} rounds`,
  );
  for (const r of results) {
    const t = r.torch, f = r.tfjs;
    const ratio = (x: { latency: number; throughput: number } | null) =>
      x ? `latency ${x.latency}×, throughput ${x.throughput}×` : "n/a";
    console.log(
      `${r.model} ${r.input}: batch-1 latency ms resgpu ${r.resgpu.latency_ms} (first call ` +
        `${r.resgpu.first_call_ms}, plan ${r.resgpu.plan_ms}), tfjs ${f ? f.latency_ms : "n/a"} ` +
        `(first ${f ? f.first_call_ms : "n/a"}), torch ${device} ${t ? t.latency_ms : "n/a"}`,
    );
    console.log(
      `  batch-${r.batch} images/s: resgpu ${r.resgpu.images_per_s}, tfjs ${
        f ? f.images_per_s : "n/a"
      }, torch ${device} ${t ? `${t.images_per_s} (${t.threads} threads)` : "n/a"}`,
    );
    console.log(
      `  resgpu ÷ tfjs: ${ratio(r.resgpu_over_tfjs)}; resgpu ÷ torch: ${
        ratio(r.resgpu_over_torch)
      } (logits vs resgpu: tfjs ${f?.logits_rel_diff ?? "n/a"}, torch ${
        t?.logits_rel_diff ?? "n/a"
      })`,
    );
  }
}
rt.dispose();
Deno.exit(0); // TF.js keeps its device's timers alive
