/**
 * `deno task bench:data [--json] [--quick] [--workers N] [--batch B] [--steps S]`: the image
 * pipeline's throughput and whether training waits for it.
 *
 * 1. Decoding, one thread: images/s for a 500×375 photo as baseline JPEG, progressive JPEG and
 *    PNG (quality 90, 4:2:0, as Pillow saves; Pillow writes them, so it must be installed).
 * 2. Transforms, one thread: ms per image for the eval transform (resize 256 + center crop 224)
 *    and RandomResizedCrop(224) + flip on the decoded photo.
 * 3. The worker loader alone: images/s over a folder of such JPEGs, batch B, N workers.
 * 4. ResNet-18 training at 224×224, batch B, fed by the loader: seconds per step and how long each
 *    step waited for its batch. A step that never waits is not loader-bound.
 *
 * Medians of rounds; the loader benchmarks run after warm-up. --quick: fewer rounds and steps.
 */
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { decodeJpeg } from "../src/image/jpeg.ts";
import { decodePng } from "../src/image/png.ts";
import { applyTransform, transformPreset } from "../src/image/transforms.ts";
import { toRgb } from "../src/image/decode.ts";
import { scanImageFolder } from "../src/image/folder.ts";
import { ImageBatchLoader } from "../src/image/loader.ts";
import { Rng } from "../src/util/rng.ts";
import { Runtime } from "../src/gpu/runtime.ts";
import { buildModel } from "../src/zoo/registry.ts";
import { Model } from "../src/model/model.ts";
import { Trainer } from "../src/train/trainer.ts";

const args = Deno.args;
const json = args.includes("--json");
const quick = args.includes("--quick");
const num = (flag: string, d: number) => {
  const i = args.indexOf(flag);
  if (i < 0) return d;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 1) {
    throw new Error(`${flag} ${args[i + 1]}: expected a positive integer`);
  }
  return v;
};
const workers = num("--workers", navigator.hardwareConcurrency ?? 2);
const batch = num("--batch", 16);
const steps = num("--steps", quick ? 3 : 6);
const rounds = quick ? 3 : 5;
const log = (m: string) => {
  if (!json) console.log(m);
};
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

const dir = await Deno.makeTempDir({ prefix: "resgpu-bench-data-" });
const py = `
import sys, numpy as np
from PIL import Image, ImageFilter
out, n = sys.argv[1], int(sys.argv[2])
for k in range(n):
    rng = np.random.default_rng(k)
    y, x = np.mgrid[0:375, 0:500].astype(np.float32)
    ph = rng.uniform(0, 6, 3)
    img = np.stack([128 + 100*np.sin(x/37 + y/53 + ph[0]), 128 + 90*np.cos(x/23 - y/41 + ph[1]),
                    128 + 80*np.sin((x+y)/61 + ph[2])], -1) + rng.normal(0, 18, (375, 500, 3))
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    if k == 0:
        im.save(f"{out}/photo.jpg", quality=90)
        im.save(f"{out}/photo_progressive.jpg", quality=90, progressive=True)
        im.save(f"{out}/photo.png")
    import os; os.makedirs(f"{out}/folder/c{k % 4}", exist_ok=True)
    im.save(f"{out}/folder/c{k % 4}/{k:04d}.jpg", quality=90)
`;
const folderImages = Math.max(4 * batch, 64);
const gen = await new Deno.Command("/usr/bin/python3", {
  args: ["-c", py, dir, String(folderImages)],
}).output();
if (gen.code !== 0) {
  throw new Error(
    `writing the benchmark photos needs /usr/bin/python3 with Pillow and numpy:\n${
      new TextDecoder().decode(gen.stderr)
    }`,
  );
}

function rate(f: () => void, ms: number): number {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    f();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

// 1. Decoding.
const jpg = Deno.readFileSync(`${dir}/photo.jpg`);
const prog = Deno.readFileSync(`${dir}/photo_progressive.jpg`);
const png = Deno.readFileSync(`${dir}/photo.png`);
const decode: Record<string, number[]> = { jpeg: [], jpegProgressive: [], png: [] };
for (let r = 0; r < rounds; r++) {
  decode.jpeg.push(rate(() => decodeJpeg(jpg), 600));
  decode.jpegProgressive.push(rate(() => decodeJpeg(prog), 600));
  decode.png.push(rate(() => decodePng(png), 600));
}
const decodePerSec = Object.fromEntries(Object.entries(decode).map(([k, v]) => [k, median(v)]));
log(
  `decode 500×375, one thread: JPEG ${decodePerSec.jpeg.toFixed(1)}/s, progressive ` +
    `${decodePerSec.jpegProgressive.toFixed(1)}/s, PNG ${decodePerSec.png.toFixed(1)}/s`,
);

// 2. Transforms.
const photo = toRgb(decodeJpeg(jpg));
const out = new Float32Array(3 * 224 * 224);
const evalT = transformPreset("eval"), trainT = transformPreset("torchvision");
const rng = new Rng(0);
const tf: Record<string, number[]> = { eval: [], randomResizedCrop: [] };
for (let r = 0; r < rounds; r++) {
  tf.eval.push(1000 / rate(() => applyTransform(photo, evalT, rng, out, 0), 400));
  tf.randomResizedCrop.push(1000 / rate(() => applyTransform(photo, trainT, rng, out, 0), 400));
}
const transformMs = Object.fromEntries(Object.entries(tf).map(([k, v]) => [k, median(v)]));
log(
  `transform, one thread: eval ${transformMs.eval.toFixed(2)} ms/image, RandomResizedCrop ` +
    `${transformMs.randomResizedCrop.toFixed(2)} ms/image`,
);

// 3. The loader alone.
const { train } = scanImageFolder(`${dir}/folder`, { valSplit: 0.01 });
// The same loader settings for the loader alone and for the training it feeds.
const loaderOptions = {
  batchSize: batch,
  transform: trainT,
  shuffle: true,
  dropLast: true,
  workers,
};
const loaderRates: number[] = [];
{
  using loader = new ImageBatchLoader(train, loaderOptions);
  await loader.next(); // warm-up: workers start, wasm compiles
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const n = Math.max(2, loader.batchesPerEpoch);
    for (let i = 0; i < n; i++) await loader.next();
    loaderRates.push((n * batch) / ((performance.now() - t0) / 1000));
  }
}
const loaderPerSec = median(loaderRates);
log(`loader, ${workers} workers, batch ${batch}: ${loaderPerSec.toFixed(1)} images/s`);

// 4. ResNet-18 training fed by the loader.
const rt = await Runtime.create(runtimeOptionsFromEnv());
const model = Model.create(rt, buildModel("resnet18", { inputShape: [3, 224, 224], classes: 4 }), {
  seed: 0,
});
const trainer = await Trainer.create(model, {
  batchSize: batch,
  optimizer: { kind: "sgd", lr: 0.01, momentum: 0.9, weightDecay: 1e-4 },
});
const stepSec: number[] = [], waitMs: number[] = [];
{
  using loader = new ImageBatchLoader(train, loaderOptions);
  const first = await loader.next();
  trainer.step(first.x, first.y, 0.01); // plans and compiles
  await trainer.readMetrics();
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const b = await loader.next();
    const t1 = performance.now();
    trainer.step(b.x, b.y, 0.01);
    await trainer.readMetrics(); // waits for the GPU: one readback per step, for the timing
    waitMs.push(t1 - t0);
    stepSec.push((performance.now() - t0) / 1000);
  }
}
trainer.dispose();
model.dispose();
const adapter = rt.report.description;
rt.dispose();
const step = median(stepSec), wait = median(waitMs);
log(
  `ResNet-18 224×224, batch ${batch}, on ${adapter}: ${step.toFixed(2)} s/step, loader wait ` +
    `${wait.toFixed(1)} ms/step (median of ${steps}); the loader supplies ${
      (loaderPerSec * step / batch).toFixed(1)
    }× ` +
    `what a step consumes: ${wait < 0.05 * step * 1000 ? "not loader-bound" : "LOADER-BOUND"}`,
);
await Deno.remove(dir, { recursive: true });
if (json) {
  console.log(JSON.stringify(
    {
      bench: "data",
      adapter,
      workers,
      batch,
      decodePerSec,
      transformMs,
      loaderImagesPerSec: loaderPerSec,
      resnet18: {
        secondsPerStep: step,
        loaderWaitMsPerStep: wait,
        steps,
        loaderBound: wait >= 0.05 * step * 1000,
      },
    },
    null,
    2,
  ));
}
