/**
 * Training images/s of the bundle in headless Chromium (the web/ page, on Chromium's adapter)
 * beside the same training in Deno (on Deno's adapter), on one machine, same model, batch and
 * steps; the first step (compiling) is timed apart in both. Rounds alternate browser and Deno; the
 * medians are printed with the median of the per-round ratios.
 *
 * `deno task build && deno run -A experiments/probes/browser_speed.ts [MODEL] [BATCH] [STEPS] [ROUNDS]`
 * (defaults resnet20 16 20 2; needs chromium-headless-shell).
 */
import { openBrowser } from "../../tests/web/browser.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { syntheticDataset } from "../../src/data/in_memory.ts";
import { computeChannelStats } from "../../src/data/augment.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { BatchLoader } from "../../src/data/loader.ts";

const [model = "resnet20", batch = "16", steps = "20", rounds = "2"] = Deno.args;
const B = Number(batch), S = Number(steps);

async function browser(): Promise<{ ips: number; first: number; adapter: string }> {
  const s = await openBrowser();
  try {
    const q = new URLSearchParams({ model, batch, steps, lr: "0.05", seed: "0", log: steps });
    q.set("autostart", "1");
    q.set("norms", "0");
    await s.page.goto(`${s.base}web/?${q}`);
    await s.page.waitForFunction(
      () =>
        ["trained", "error"].includes(
          (globalThis as unknown as { resgpuDemo: { status: string } }).resgpuDemo.status,
        ),
      { polling: 500, timeout: 0 },
    );
    const d = await s.page.evaluate(() =>
      JSON.parse(JSON.stringify((globalThis as unknown as { resgpuDemo: unknown }).resgpuDemo))
    );
    if (d.status !== "trained") throw new Error(d.error);
    return { ips: d.imagesPerSec, first: d.firstStepSeconds, adapter: d.adapter.description };
  } finally {
    await s.close();
  }
}

async function deno(rt: Runtime): Promise<{ ips: number; first: number }> {
  const trainCount = Math.max(B, Math.min(S * B, 8192));
  const { train } = syntheticDataset({ seed: 0, trainCount, testCount: 256 });
  const stats = computeChannelStats(train);
  const m = Model.create(rt, buildModel(model, { inputShape: [1, 28, 28], classes: 10 }), {
    seed: 0,
  });
  const trainer = await Trainer.create(m, {
    batchSize: B,
    optimizer: { kind: "sgd", lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  });
  const loader = BatchLoader.train(train, {
    batchSize: B,
    stats,
    seed: 0,
    augment: { pad: 0, flip: false },
  });
  // As the page does: the clock starts after planning, and the first step (compiling) is apart.
  const t0 = performance.now();
  let step = 0, t1 = 0;
  for await (const b of loader.epoch()) {
    trainer.step(b.x, b.y, 0.05);
    if (++step === 1) {
      await trainer.readMetrics(false);
      t1 = performance.now();
    }
    if (step === S) break;
  }
  await trainer.readMetrics();
  const ips = ((S - 1) * B) / ((performance.now() - t1) / 1000);
  trainer.dispose();
  m.dispose();
  return { ips, first: (t1 - t0) / 1000 };
}

const rt = await Runtime.create({ kernels: "cpu" });
const b: number[] = [], d: number[] = [], ratio: number[] = [];
let adapter = "";
for (let r = 0; r < Number(rounds); r++) {
  const x = await browser();
  adapter = x.adapter;
  b.push(x.ips);
  const y = await deno(rt);
  d.push(y.ips);
  ratio.push(x.ips / y.ips);
  console.log(
    `round ${r + 1}: browser ${x.ips.toFixed(1)} images/s (first step ${x.first.toFixed(1)} s), ` +
      `Deno ${y.ips.toFixed(1)} images/s (first step ${y.first.toFixed(1)} s), ` +
      `browser/Deno ${ratio[r].toFixed(2)}×`,
  );
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
console.log(
  `${model} batch ${B}, ${S} steps: Chromium (${adapter || "its adapter"}) ` +
    `${median(b).toFixed(1)} images/s, Deno (${rt.report.description}) ${median(d).toFixed(1)} ` +
    `images/s: browser/Deno ${median(ratio).toFixed(2)}× (median of the rounds' ratios)`,
);
rt.dispose();
