// The page: trains a CIFAR-style ResNet on the synthetic set with resgpu's bundle, draws the
// curves and the per-layer gradient norms as it goes, and classifies a drawn or picked image
// with a Predictor (raw pixels in, the model's own normalization applied on the GPU).
// State for tests and the curious is on `window.resgpuDemo`. URL parameters preset the form
// (`?model=resnet8&batch=8&steps=3&lr=0.05&seed=1`), `log=N` reads metrics every N steps,
// `kernels=cpu|gpu` forces a kernel policy and `autostart=1` starts training on load.
import { drawCurve, drawNorms } from "./charts.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const demo = {
  status: "loading",
  adapter: null,
  history: [],
  imagesPerSec: null,
  firstStepSeconds: null,
  gradNorms: [],
  prediction: null,
  error: null,
};
globalThis.resgpuDemo = demo;

function problem(html) {
  const p = $("problem");
  p.hidden = false;
  p.innerHTML = html;
}

function fail(e) {
  demo.status = "error";
  demo.error = String(e?.message ?? e);
  problem(`<b>Error:</b> ${escapeHtml(demo.error)}`);
  console.error(e);
}

function escapeHtml(s) {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c],
  );
}

const NO_WEBGPU = "<b>This browser has no WebGPU</b> (<code>navigator.gpu</code> is missing), " +
  "which resgpu needs to run its shaders. Use Chrome or Edge 113 or later (WebGPU is on by " +
  "default on Windows, macOS and ChromeOS); on Linux start Chromium with " +
  "<code>--enable-unsafe-webgpu</code> or turn on <code>chrome://flags/#enable-unsafe-webgpu</code>; " +
  "Safari 26 and Firefox 141 on Windows have it too. WebGPU also needs a secure page: " +
  "<code>http://localhost</code> (as <code>deno task serve</code> gives) or https.";

let r; // the bundle's exports
let rt = null;
let trained = null; // { model, predictor, test }
let stopRequested = false;

async function start() {
  if (location.protocol === "file:") return; // the inline script has said why
  try {
    r = await import("../dist/resgpu.js");
  } catch (e) {
    problem(
      "<b>The resgpu bundle did not load</b> (<code>dist/resgpu.js</code>): build it with " +
        "<code>deno task build</code>, or run <code>deno task serve</code>, which builds it and " +
        `serves this page. (${escapeHtml(String(e?.message ?? e))})`,
    );
    demo.status = "error";
    return;
  }
  if (!navigator.gpu) {
    problem(NO_WEBGPU);
    $("adapter").textContent = "no WebGPU";
    demo.status = "no-webgpu";
    return;
  }
  try {
    const kernels = params.get("kernels");
    rt = await r.Runtime.create(kernels ? { kernels, backend: "browser" } : { backend: "browser" });
  } catch (e) {
    problem(
      `<b>No WebGPU adapter.</b> ${escapeHtml(String(e?.message ?? e))}<br>` +
        "WebGPU is present but gave no adapter: the GPU may be blocked for this browser " +
        "(see <code>chrome://gpu</code>), or software rendering is off.",
    );
    demo.status = "no-adapter";
    return;
  }
  const rep = rt.report;
  demo.adapter = { description: rep.description, vendor: rep.vendor, policy: rt.policy.target };
  $("adapter").textContent = `adapter: ${rep.description}` +
    (rep.vendor ? ` (${rep.vendor})` : "") +
    `${rep.isFallbackAdapter ? ", software fallback" : ""}; kernel policy "${rt.policy.target}"` +
    (rep.features.length ? `; features: ${rep.features.join(", ")}` : "");
  for (const [k, v] of params) {
    const input = $("settings").elements.namedItem(k);
    if (input) input.value = v;
  }
  $("train").disabled = false;
  demo.status = "ready";
  if (params.get("autostart") === "1") train().catch(fail);
}

function settings() {
  const f = new FormData($("settings"));
  const num = (k) => Number(f.get(k));
  return {
    model: String(f.get("model")),
    batchSize: num("batch"),
    steps: num("steps"),
    lr: num("lr"),
    seed: num("seed"),
    logEvery: Number(params.get("log") ?? 5),
    normEvery: Number(params.get("norms") ?? 25),
  };
}

async function train() {
  const s = settings();
  if (!(s.batchSize >= 1 && s.steps >= 1 && s.lr >= 0 && s.logEvery >= 1)) {
    throw new Error("batch, steps and the log interval must be positive, lr not negative");
  }
  $("train").disabled = true;
  $("stop").disabled = false;
  stopRequested = false;
  demo.status = "training";
  demo.history = [];
  demo.gradNorms = [];
  if (trained) {
    trained.predictor.dispose();
    trained.model.dispose();
    trained = null;
  }
  const status = $("status");
  status.textContent = "drawing the synthetic set…";
  await new Promise((res) => setTimeout(res, 0));
  // Enough images for the steps asked (at least one epoch's worth), and a test set to pick from.
  const trainCount = Math.max(s.batchSize, Math.min(s.steps * s.batchSize, 8192));
  const { train: ds, test } = r.syntheticDataset({ seed: s.seed, trainCount, testCount: 256 });
  const stats = r.computeChannelStats(ds);
  const graph = r.buildModel(s.model, { inputShape: [1, 28, 28], classes: ds.classes });
  // The model carries the normalization it is trained with, so the predictor applies it to pixels.
  const model = r.Model.create(rt, graph, {
    seed: s.seed,
    preprocessing: { mean: stats.mean, std: stats.std, classNames: ds.classNames },
  });
  const trainer = await r.Trainer.create(model, {
    batchSize: s.batchSize,
    optimizer: { kind: "sgd", lr: s.lr, momentum: 0.9, weightDecay: 5e-4 },
  });
  status.textContent = `planning and compiling ${s.model} (the first step takes longest)…`;
  // No augmentation: the page's steps match `BatchLoader.train(…, { augment: none })` in Deno.
  const loader = r.BatchLoader.train(ds, {
    batchSize: s.batchSize,
    stats,
    seed: s.seed,
    augment: { pad: 0, flip: false },
  });
  const t0 = performance.now();
  let step = 0, tFirst = 0, windowStart = 0;
  let firstNorms = null;
  try {
    outer: while (step < s.steps) {
      for await (const b of loader.epoch()) {
        const capture = s.normEvery > 0 && (step % s.normEvery === 0 || step === s.steps - 1);
        if (capture) trainer.captureGradNorms();
        trainer.step(b.x, b.y, s.lr);
        step++;
        if (step === 1) {
          await trainer.readMetrics(false); // waits for the first step: compile time apart
          tFirst = performance.now();
          demo.firstStepSeconds = (tFirst - t0) / 1000;
          windowStart = step;
        }
        if (capture) {
          const norms = await trainer.readGradNorms();
          firstNorms ??= norms;
          demo.gradNorms = norms;
          drawNorms($("norms"), firstNorms, norms);
        }
        if (step % s.logEvery === 0 || step === s.steps || stopRequested) {
          const m = await trainer.readMetrics();
          demo.history.push({ step, loss: m.meanLoss, accuracy: m.accuracy });
          const secs = (performance.now() - tFirst) / 1000;
          if (step > windowStart && secs > 0) {
            demo.imagesPerSec = ((step - windowStart) * s.batchSize) / secs;
          }
          drawCurve($("curve"), demo.history);
          status.textContent = `step ${step}/${s.steps}  loss ${m.meanLoss.toFixed(4)}  ` +
            `accuracy ${(100 * m.accuracy).toFixed(1)}%  ` +
            (demo.imagesPerSec ? `${demo.imagesPerSec.toFixed(1)} images/s` : "") +
            `  (first step ${demo.firstStepSeconds.toFixed(1)} s with compiling)`;
        }
        if (step >= s.steps || stopRequested) break outer;
      }
    }
  } finally {
    trainer.dispose();
    $("stop").disabled = true;
  }
  const line = status.textContent;
  status.textContent = `${line}  (planning the classifier…)`;
  try {
    // One image per call, 0…255 grey pixels, normalized on the GPU; planned once, here.
    const predictor = await r.Predictor.create(model, { maxBatch: 1, input: "pixels" });
    trained = { model, predictor, test };
  } finally {
    $("train").disabled = false;
    status.textContent = line;
  }
  $("classify").disabled = false;
  $("sample").disabled = false;
  demo.status = stopRequested ? "stopped" : "trained";
}

// --- classification -------------------------------------------------------------------------

const draw = $("draw");
const dctx = draw.getContext("2d");
function clearDrawing() {
  dctx.fillStyle = "#000";
  dctx.fillRect(0, 0, draw.width, draw.height);
}
clearDrawing();
let drawing = false;
draw.addEventListener("pointerdown", (e) => {
  drawing = true;
  draw.setPointerCapture(e.pointerId);
  stroke(e, true);
});
draw.addEventListener("pointermove", (e) => drawing && stroke(e, false));
draw.addEventListener("pointerup", () => drawing = false);
function stroke(e, begin) {
  const rect = draw.getBoundingClientRect();
  const x = (e.clientX - rect.left) * (draw.width / rect.width);
  const y = (e.clientY - rect.top) * (draw.height / rect.height);
  dctx.strokeStyle = "#fff";
  dctx.lineWidth = 18;
  dctx.lineCap = "round";
  if (begin) {
    dctx.beginPath();
    dctx.moveTo(x, y);
  }
  dctx.lineTo(x, y);
  dctx.stroke();
}

/** The drawing as one 28×28 grey image, 0…255. */
function drawingPixels() {
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const sctx = small.getContext("2d");
  sctx.drawImage(draw, 0, 0, 28, 28);
  const rgba = sctx.getImageData(0, 0, 28, 28).data;
  const grey = new Uint8Array(28 * 28);
  for (let i = 0; i < grey.length; i++) {
    grey[i] = Math.round(0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]);
  }
  return grey;
}

/** Puts a 28×28 grey image on the drawing canvas (scaled up). */
function showPixels(grey) {
  const img = new ImageData(28, 28);
  for (let i = 0; i < grey.length; i++) {
    img.data.set([grey[i], grey[i], grey[i], 255], 4 * i);
  }
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  small.getContext("2d").putImageData(img, 0, 0);
  dctx.imageSmoothingEnabled = false;
  dctx.drawImage(small, 0, 0, draw.width, draw.height);
}

async function classify() {
  if (!trained) return;
  // The three most probable classes (eval mode: batch norm's running statistics).
  const [ranked] = await trained.predictor.topK(drawingPixels(), 1, 3);
  demo.prediction = ranked;
  $("prediction").innerHTML = ranked.map((c) =>
    `<li><b>${escapeHtml(c.label ?? String(c.index))}</b> ${
      (100 * c.probability).toFixed(1)
    } %</li>`
  ).join("");
}

$("settings").addEventListener("submit", (e) => {
  e.preventDefault();
  train().catch(fail);
});
$("stop").addEventListener("click", () => stopRequested = true);
$("clear").addEventListener("click", clearDrawing);
$("classify").addEventListener("click", () => classify().catch(fail));
$("sample").addEventListener("click", () => {
  const { test } = trained;
  const i = Math.floor(Math.random() * test.count);
  showPixels(test.images.subarray(i * 784, (i + 1) * 784));
  classify().catch(fail);
});
$("file").addEventListener("change", async (e) => {
  const file = e.target.files?.[0];
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    clearDrawing();
    dctx.imageSmoothingEnabled = true;
    dctx.drawImage(bitmap, 0, 0, draw.width, draw.height);
    if (trained) await classify();
  } catch (err) {
    fail(new Error(`${file.name}: not an image this browser can decode (${err?.message ?? err})`));
  }
});

start().catch(fail);
