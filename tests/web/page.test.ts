/**
 * The browser page (web/) in headless Chromium: it trains in the tab with the bundle, and its
 * losses match the same steps run in Deno; it classifies a test image with the bundle's Predictor,
 * labelled with the class names the model carries; without WebGPU, or opened as a file, it says
 * what is wrong and how to fix it.
 */
import assert from "node:assert/strict";
import { chromiumPath, openBrowser } from "./browser.ts";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { gamma } from "../helpers/bound.ts";
import { syntheticDataset } from "../../src/data/in_memory.ts";
import { computeChannelStats } from "../../src/data/augment.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { BatchLoader } from "../../src/data/loader.ts";

const root = new URL("../../", import.meta.url);
const ignore = chromiumPath() === null;
if (ignore) {
  console.warn("no Chromium (apt-get install chromium-headless-shell): page tests skipped");
}

async function build(): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), { args: ["task", "build"], cwd: root })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

const RUN = { model: "resnet8", batchSize: 8, steps: 4, lr: 0.05, seed: 1 };

/** The page's training loop, in Deno: the same data, model, optimizer and steps. */
async function denoLosses(rt: Runtime): Promise<number[]> {
  const trainCount = Math.max(RUN.batchSize, Math.min(RUN.steps * RUN.batchSize, 8192));
  const { train } = syntheticDataset({ seed: RUN.seed, trainCount, testCount: 256 });
  const stats = computeChannelStats(train);
  const graph = buildModel(RUN.model, { inputShape: [1, 28, 28], classes: train.classes });
  const model = Model.create(rt, graph, { seed: RUN.seed });
  const trainer = await Trainer.create(model, {
    batchSize: RUN.batchSize,
    optimizer: { kind: "sgd", lr: RUN.lr, momentum: 0.9, weightDecay: 5e-4 },
  });
  const loader = BatchLoader.train(train, {
    batchSize: RUN.batchSize,
    stats,
    seed: RUN.seed,
    augment: { pad: 0, flip: false },
  });
  const losses: number[] = [];
  try {
    for await (const b of loader.epoch()) {
      trainer.step(b.x, b.y, RUN.lr);
      losses.push((await trainer.readMetrics()).meanLoss);
      if (losses.length === RUN.steps) break;
    }
  } finally {
    trainer.dispose();
    model.dispose();
  }
  return losses;
}

Deno.test({
  name: "page: trains in Chromium with the loss of the same steps in Deno, then classifies",
  ignore,
  ...GPU_TEST,
  async fn() {
    await build();
    const s = await openBrowser();
    let page: { history: { step: number; loss: number }[] } & Record<string, unknown>;
    try {
      const q = new URLSearchParams({
        model: RUN.model,
        batch: String(RUN.batchSize),
        steps: String(RUN.steps),
        lr: String(RUN.lr),
        seed: String(RUN.seed),
        log: "1",
        norms: "2",
        kernels: "cpu",
        autostart: "1",
      });
      await s.page.goto(`${s.base}web/?${q}`);
      await s.page.waitForFunction(
        () =>
          ["trained", "error", "no-webgpu", "no-adapter"].includes(
            (globalThis as unknown as { resgpuDemo?: { status: string } }).resgpuDemo?.status ?? "",
          ),
        { polling: 200 },
      );
      page = await s.page.evaluate(() =>
        JSON.parse(JSON.stringify((globalThis as unknown as { resgpuDemo: unknown }).resgpuDemo))
      );
      assert.equal(page.status, "trained", `${page.error}\n${s.console.join("\n")}`);
      // Classify a test image: three classes, probabilities that are probabilities.
      await s.page.click("#sample");
      await s.page.waitForFunction(
        () =>
          (globalThis as unknown as { resgpuDemo: { prediction: unknown } }).resgpuDemo.prediction,
      );
      type Top = { index: number; probability: number; label?: string };
      const pred = await s.page.evaluate(() =>
        (globalThis as unknown as { resgpuDemo: { prediction: Top[] } }).resgpuDemo.prediction
      );
      assert.equal(pred.length, 3);
      const sum = pred.reduce((a, p) => a + p.probability, 0);
      assert.ok(sum > 0 && sum <= 1 + 1e-6, `top-3 probabilities sum to ${sum}`);
      assert.ok(pred.every((p, i) => i === 0 || p.probability <= pred[i - 1].probability));
      // The Predictor labels classes with the names the model carries from its training set.
      const names = syntheticDataset({ trainCount: 1, testCount: 1 }).train.classNames!;
      assert.deepEqual(pred.map((p) => p.label), pred.map((p) => names[p.index]));
      const text = await s.page.$eval("#prediction", (e) => e.textContent ?? "");
      assert.match(text, /%/);
    } finally {
      await s.close();
    }
    const browserLosses = page.history.map((h) => h.loss);
    assert.deepEqual(page.history.map((h) => h.step), [1, 2, 3, 4]);
    const norms = page.gradNorms as { name: string; norm: number }[];
    assert.equal(norms[0].name, "conv1.weight");
    assert.ok(norms.every((g) => g.norm > 0 && Number.isFinite(g.norm)));
    assert.ok((page.imagesPerSec as number) > 0);

    // Two correct f32 implementations (the browser's compiler and adapter, and Deno's) may differ
    // by rounding in every reduction. The longest in a step sums N·H·W = batch·28·28 terms (batch
    // norm statistics and the stem's filter gradient at full resolution), so a step's loss may
    // move by γ(batch·28·28)·loss relative to the other's (Higham's worst case, as the kernel
    // tests bound theirs), and step i carries the differences of the i steps before it.
    const deno = await denoLosses(await runtime("cpu"));
    const g = gamma(RUN.batchSize * 28 * 28);
    const diffs = browserLosses.map((l, i) => Math.abs(l - deno[i]));
    console.log(
      `browser ${browserLosses.map((l) => l.toFixed(6))}, deno ${deno.map((l) => l.toFixed(6))}, ` +
        `|Δ| ${diffs.map((d) => d.toExponential(1))}, γ = ${g.toExponential(2)}`,
    );
    for (let i = 0; i < deno.length; i++) {
      const tol = (i + 1) * g * deno[i];
      assert.ok(
        diffs[i] <= tol,
        `step ${i + 1}: browser ${browserLosses[i]} vs Deno ${deno[i]} (tolerance ${tol})`,
      );
    }
  },
});

Deno.test({
  name: "page: without WebGPU it says so and how to turn it on",
  ignore,
  ...GPU_TEST,
  async fn() {
    await build();
    const s = await openBrowser();
    try {
      // What a browser without WebGPU looks like to the page.
      await s.page.evaluateOnNewDocument(() => {
        delete (Navigator.prototype as unknown as { gpu?: unknown }).gpu;
      });
      await s.page.goto(`${s.base}web/`);
      await s.page.waitForFunction(
        () =>
          (globalThis as unknown as { resgpuDemo?: { status: string } }).resgpuDemo?.status ===
            "no-webgpu",
      );
      const text = await s.page.$eval("#problem", (e) => e.textContent ?? "");
      assert.match(text, /This browser has no WebGPU/);
      assert.match(text, /--enable-unsafe-webgpu/);
      assert.equal(
        await s.page.$eval("#train", (e) => (e as unknown as { disabled: boolean }).disabled),
        true,
      );
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "page: opened as a file it says to run deno task serve",
  ignore,
  ...GPU_TEST,
  async fn() {
    const s = await openBrowser();
    try {
      await s.page.goto(new URL("web/index.html", root).href);
      const text = await s.page.$eval("#problem", (e) => e.textContent ?? "");
      assert.match(text, /opened as a file/);
      assert.match(text, /deno task serve/);
    } finally {
      await s.close();
    }
  },
});
