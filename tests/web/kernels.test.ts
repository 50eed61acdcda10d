/**
 * Every shader resgpu plans compiles under Chromium's WGSL compiler (Tint) as well as Deno's
 * (naga): the two disagree at the edges (Tint rejects `-3.4028235e38`, one past the largest f32,
 * which naga rounds). Deno records each kernel — family, entry point, override constants — that
 * planning training and evaluation asks for, over both kernel policies and their variants
 * (Winograd tiles, tiled convolutions, kept transforms, fused joins), models with every op kind
 * (option A and projection shortcuts, bottlenecks and the 7×7 stem with max pooling, VGG's
 * dropout and wide linear layers) and both optimizers with clipping; the page then compiles every
 * shader module whole (all entry points) and builds each recorded pipeline.
 */
import assert from "node:assert/strict";
import { chromiumPath, openBrowser } from "./browser.ts";
import { GPU_TEST } from "../helpers/gpu.ts";
import { Runtime, type RuntimeOptions } from "../../src/gpu/runtime.ts";
import { SHADERS } from "../../src/gpu/shaders.gen.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { type OptimizerConfig, Trainer } from "../../src/train/trainer.ts";
import { Evaluator } from "../../src/train/evaluator.ts";
import { axpb } from "../../src/ops/elementwise.ts";
import { planPixels, planSoftmaxRows } from "../../src/ops/infer.ts";
import { Tensor } from "../../src/tensor.ts";

const ignore = chromiumPath() === null;

interface Recorded {
  label: string;
  module: string;
  entry: string;
  constants: Record<string, number>;
}

const RUNTIMES: RuntimeOptions[] = [
  { kernels: "cpu" }, // Winograd F(4,3), kept input transforms, fused joins
  { kernels: "cpu", winograd: 2, winogradKeepInput: false, fuseBatchNormJoin: false },
  { kernels: "cpu", winograd: 0, tiled: true },
  { kernels: "gpu" },
  { kernels: "gpu", tiled: true, winograd: 4 },
];
const MODELS: [string, Parameters<typeof buildModel>[1]][] = [
  ["resnet8", { inputShape: [1, 28, 28], classes: 10 }],
  ["resnet8", { inputShape: [3, 16, 16], classes: 10, shortcut: "B" }],
  ["resnet50", { inputShape: [3, 32, 32], classes: 10 }],
  ["vgg19", { inputShape: [3, 32, 32], classes: 10, width: 0.125 }],
];
const OPTIMIZERS: OptimizerConfig[] = [
  { kind: "sgd", lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
  { kind: "adamw", lr: 1e-3, weightDecay: 0.01, l1: 1e-5 },
];

/** Every kernel planning asks for, deduplicated, with the WGSL modules they come from. */
async function recordKernels(): Promise<{ modules: Record<string, string>; kernels: Recorded[] }> {
  const modules: Record<string, string> = {};
  const seen = new Map<string, Recorded>();
  for (const opts of RUNTIMES) {
    const rt = await Runtime.create(opts);
    const compile = rt.kernelFromSource.bind(rt);
    rt.kernelFromSource = (label, code, entry, constants = {}) => {
      const module = label.split(":")[0];
      const known = Object.entries(modules).find(([, c]) => c === code)?.[0];
      const key = known ?? (modules[module] === undefined ? module : `${module}#${label}`);
      modules[key] = code;
      const id = `${key}\u0000${entry}\u0000${JSON.stringify(Object.entries(constants).sort())}`;
      if (!seen.has(id)) seen.set(id, { label, module: key, entry, constants });
      return compile(label, code, entry, constants);
    };
    try {
      (await axpb(rt, Tensor.fromArray(rt, [1, 2], [2]), 2, 1)).dispose();
      // Inference's own kernels: every pixel format the Predictor normalizes, and the softmax.
      const [src, stats, out] = [256, 32, 256].map((n) => rt.pool.acquire(n));
      for (const type of ["u8", "f32"] as const) {
        for (const layout of ["hwc", "chw"] as const) {
          await planPixels(rt, { n: 1, c: 3, h: 4, w: 4 }, { src, stats, out }, { type, layout });
        }
      }
      await planSoftmaxRows(rt, { rows: 2, classes: 10 }, { logits: src, probs: out });
      for (const [name, mo] of MODELS) {
        const model = Model.create(rt, buildModel(name, mo), { seed: 0 });
        for (const [i, optimizer] of OPTIMIZERS.entries()) {
          const t = await Trainer.create(model, {
            batchSize: 2,
            optimizer,
            ...(i === 0 ? { clipGradNorm: 1 } : {}),
          });
          t.dispose();
        }
        (await Evaluator.create(model, { batchSize: 3 })).dispose();
        // Fine-tuning with every batch norm frozen in eval mode: their eval-mode backward.
        const bns = model.graph.params.filter((p) =>
          p.kind === "bn_weight" || p.kind === "bn_bias"
        );
        if (bns.length > 0) {
          (await Trainer.create(model, {
            batchSize: 2,
            optimizer: OPTIMIZERS[0],
            freeze: bns.map((p) => p.name),
            frozenBatchNormEval: true,
          })).dispose();
        }
        model.dispose();
      }
    } finally {
      rt.dispose();
    }
  }
  return { modules, kernels: [...seen.values()] };
}

Deno.test({
  name: "kernels: every shader module and planned pipeline compiles in Chromium",
  ignore,
  ...GPU_TEST,
  async fn() {
    const { modules, kernels } = await recordKernels();
    // Every family, whole, even entry points no plan above reached.
    for (const [name, code] of Object.entries(SHADERS)) modules[`family:${name}`] ??= code;
    const families = new Set(kernels.map((k) => k.label.split(":")[0]));
    const unplanned = Object.keys(SHADERS).filter((name) => !families.has(name));
    assert.deepEqual(unplanned, [], "shader families no plan above uses");
    const s = await openBrowser();
    try {
      await s.page.goto(`${s.base}web/blank.html`);
      const result = await s.page.evaluate(
        async (modules: Record<string, string>, kernels: Recorded[]) => {
          const gpu = (navigator as unknown as { gpu?: GPU }).gpu;
          if (!gpu) return { error: "no navigator.gpu" };
          const adapter = await gpu.requestAdapter();
          if (!adapter) return { error: "no adapter" };
          const requiredLimits: Record<string, number> = {};
          for (const k in adapter.limits) {
            const v = (adapter.limits as unknown as Record<string, number>)[k];
            if (typeof v === "number") requiredLimits[k] = v;
          }
          const device = await adapter.requestDevice({ requiredLimits });
          const errors: string[] = [];
          const compiled: Record<string, GPUShaderModule> = {};
          for (const [name, code] of Object.entries(modules)) {
            const module = device.createShaderModule({ code, label: name });
            const info = await module.getCompilationInfo();
            for (const m of info.messages) {
              if (m.type === "error") errors.push(`${name}:${m.lineNum}: ${m.message}`);
            }
            compiled[name] = module;
          }
          let pipelines = 0;
          for (const k of kernels) {
            try {
              await device.createComputePipelineAsync({
                layout: "auto",
                compute: {
                  module: compiled[k.module],
                  entryPoint: k.entry,
                  constants: k.constants,
                },
              });
              pipelines++;
            } catch (e) {
              errors.push(`${k.label} ${JSON.stringify(k.constants)}: ${(e as Error).message}`);
            }
          }
          const desc = adapter.info.description || adapter.info.vendor;
          device.destroy();
          return { errors, pipelines, modules: Object.keys(modules).length, adapter: desc };
        },
        modules,
        kernels,
      );
      assert.ok(!("error" in result), `${result.error}`);
      console.log(
        `Chromium (${result.adapter}): ${result.modules} modules and ${result.pipelines} ` +
          `pipelines compiled`,
      );
      assert.deepEqual(result.errors, []);
      assert.equal(result.pipelines, kernels.length);
    } finally {
      await s.close();
    }
  },
});
