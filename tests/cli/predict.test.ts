/**
 * `deno task predict`: predictions equal a Predictor's on the same decoded, eval-transformed
 * images; the model comes from a checkpoint, a saveWeights file, or a file that names none plus
 * --model; class names come from the file; --json carries every field; and every bad input — a
 * missing path, a folder without images, a corrupt image (skip and fail), a file that is not
 * safetensors, a missing or contradicting --model — is an error or a note naming it. The task
 * itself runs as a subprocess, so its permissions (read-only, narrow env) are proven.
 *
 * Tolerance: the command and the reference run the same model on the same f32 input, but in
 * other batch-size buckets, whose kernels may split reductions differently: a few ulps per layer
 * of this 8-layer net, far below 1e-5 of a probability, while a wrong image, order or
 * normalization moves probabilities by 1e-3 or more.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { type ImagePrediction, predictImages, type PredictResult } from "../../src/app/predict.ts";
import { Predictor } from "../../src/infer/predictor.ts";
import { decodeImage, toRgb } from "../../src/image/decode.ts";
import { applyTransform, transformPreset } from "../../src/image/transforms.ts";
import { Rng } from "../../src/util/rng.ts";
import { CLASS_NAMES, type Fixture, makeFixture, MEAN, SIZE, STD } from "./predict_fixture.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

let fixture: Promise<Fixture> | null = null;
function setup(): Promise<Fixture> {
  fixture ??= runtime().then(makeFixture);
  return fixture;
}

/**
 * The reference: a Predictor on the fixture's model, fed the eval transform of each file: for the
 * checkpoint (a run on whole images) Resize(16) + CenterCrop(16), for a weights file torchvision's
 * Resize(18) + CenterCrop(16).
 */
async function reference(f: Fixture, files: string[], from = "checkpoint"): Promise<Float32Array> {
  const t = {
    ...transformPreset("eval", { size: SIZE, mean: MEAN, std: STD }),
    ...(from === "checkpoint" ? { resize: SIZE } : {}),
  };
  const per = 3 * SIZE * SIZE;
  const x = new Float32Array(files.length * per);
  files.forEach((file, i) =>
    applyTransform(toRgb(decodeImage(Deno.readFileSync(file))), t, new Rng(0), x, i * per)
  );
  using p = await Predictor.create(f.model, { maxBatch: files.length });
  return await p.probabilities(x, files.length);
}

function assertMatches(got: ImagePrediction[], want: Float32Array, files: string[]): void {
  assert.deepEqual(got.map((p) => p.file), files);
  got.forEach((p, i) => {
    const row = want.subarray(3 * i, 3 * i + 3);
    const top1 = [0, 1, 2].reduce((a, b) => (row[b] > row[a] ? b : a));
    assert.equal(p.top[0].index, top1, `${p.file}: top-1`);
    for (const t of p.top) {
      assert.ok(
        Math.abs(t.probability - row[t.index]) <= 1e-5,
        `${p.file}: class ${t.index} ${t.probability} vs ${row[t.index]}`,
      );
    }
  });
}

async function predict(
  opts: Partial<Parameters<typeof predictImages>[0]> & { weights: string; inputs: string[] },
  notes: string[] = [],
  progress: string[] | null = null,
): Promise<PredictResult> {
  return await predictImages({ batchSize: 4, workers: 1, ...opts }, {
    runtime: await runtime(),
    note: (m) => notes.push(m),
    progress: progress ? (t) => progress.push(t) : null,
    tty: false,
  });
}

Deno.test({
  name: "predict: a checkpoint's predictions equal a Predictor's on the same input, named",
  ...GPU_TEST,
  async fn() {
    const f = await setup();
    const notes: string[] = [], progress: string[] = [];
    // 7 images in batches of 4: a full batch and a partial one.
    const r = await predict({ weights: f.checkpoint, inputs: [f.images], top: 3 }, notes, progress);
    // Off a terminal: no line per batch (only the heartbeat's), and the last one.
    assert.match(progress[progress.length - 1], /^predict 7\/7 images {2}\S+ img\/s {2}ETA /);
    assertMatches(r.predictions, await reference(f, f.files), f.files);
    for (const p of r.predictions) {
      assert.equal(p.top.length, 3);
      for (const t of p.top) assert.equal(t.name, CLASS_NAMES[t.index]);
      assert.ok(p.top[0].probability >= p.top[1].probability);
    }
    assert.equal(r.model, "resnet8");
    assert.deepEqual(r.inputShape, [3, SIZE, SIZE]);
    assert.equal(r.classNames, true);
    assert.deepEqual(r.skipped, [{
      file: `${f.images}/notes.txt`,
      reason: "not a PNG or JPEG file (by its extension)",
    }]);
    assert.deepEqual(notes, []);
  },
});

Deno.test({
  name: "predict: a weights file, and one naming no model with --model, predict the same",
  ...GPU_TEST,
  async fn() {
    const f = await setup();
    const files = f.files.slice(0, 3);
    const want = await reference(f, files, "weights");
    assertMatches((await predict({ weights: f.weights, inputs: files })).predictions, want, files);

    await assert.rejects(
      predict({ weights: f.unnamed, inputs: files }),
      /unnamed\.safetensors does not say which model it holds.*pass --model NAME/,
    );
    await assert.rejects(
      predict({ weights: f.weights, inputs: files, model: "resnet20" }),
      /--model resnet20: .*weights\.safetensors holds a resnet8/,
    );
    const notes: string[] = [];
    const r = await predict({ weights: f.unnamed, inputs: files, model: "resnet8" }, notes);
    // No stored normalization or names: indices, and notes saying so once each.
    assert.equal(r.classNames, false);
    assert.ok(r.predictions.every((p) => p.top.every((t) => t.name === null)));
    assert.equal(notes.filter((n) => /stores no class names/.test(n)).length, 1);
    assert.equal(notes.filter((n) => /stores no normalization/.test(n)).length, 1);
    await assert.rejects(
      predict({ weights: f.unnamed, inputs: files, model: "resnet20" }),
      /resnet20.*missing|resnet20.*mismatch|resnet20.*unexpected/,
    );
  },
});

Deno.test({
  name: "predict: --top above the classes is capped with a note; --top 1 gives one class",
  ...GPU_TEST,
  async fn() {
    const f = await setup();
    const notes: string[] = [];
    const r = await predict({ weights: f.checkpoint, inputs: [f.files[0]], top: 10 }, notes);
    assert.equal(r.predictions[0].top.length, 3);
    assert.deepEqual(notes, ["--top 10: the model has 3 classes; showing 3"]);
    const one = await predict({ weights: f.checkpoint, inputs: [f.files[0]], top: 1 });
    assert.equal(one.predictions[0].top.length, 1);
  },
});

Deno.test({
  name: "predict: corrupt images are skipped and named, or stop the run with fail",
  ...GPU_TEST,
  async fn() {
    const f = await setup();
    const bad = `${f.dir}/bad`;
    await Deno.mkdir(bad, { recursive: true });
    await Deno.writeTextFile(`${bad}/broken.png`, "not a png at all");
    const good = await Deno.readFile(f.files[0]);
    await Deno.writeFile(`${bad}/cut.png`, good.subarray(0, good.length - 30)); // truncated
    await Deno.copyFile(f.files[1], `${bad}/ok.png`);
    const r = await predict({ weights: f.checkpoint, inputs: [bad], batchSize: 2 });
    assert.deepEqual(r.predictions.map((p) => p.file), [`${bad}/ok.png`]);
    assertMatches(r.predictions, await reference(f, [f.files[1]]), [`${bad}/ok.png`]);
    assert.deepEqual(r.skipped.map((s) => s.file), [`${bad}/broken.png`, `${bad}/cut.png`]);
    assert.ok(r.skipped.every((s) => s.reason.length > 0));
    await assert.rejects(
      predict({ weights: f.checkpoint, inputs: [bad], onBadImage: "fail" }),
      /bad\/broken\.png: .*--on-bad-image skip/,
    );
  },
});

Deno.test({
  name: "predict: a missing path, a folder without images, a file that is not safetensors",
  ...GPU_TEST,
  async fn() {
    const f = await setup();
    await assert.rejects(
      predict({ weights: f.checkpoint, inputs: [`${f.dir}/nope.png`] }),
      /nope\.png: no such file or directory/,
    );
    const empty = `${f.dir}/empty`;
    await Deno.mkdir(`${empty}/sub`, { recursive: true });
    await Deno.writeTextFile(`${empty}/sub/readme.md`, "#");
    await assert.rejects(
      predict({ weights: f.checkpoint, inputs: [empty] }),
      /empty: no PNG or JPEG images in this folder \(1 other file\(s\) skipped\)/,
    );
    await assert.rejects(
      predict({ weights: `${f.dir}/nope.safetensors`, inputs: [f.files[0]] }),
      /nope\.safetensors: no such file/,
    );
    await assert.rejects(
      predict({ weights: f.files[0], inputs: [f.files[0]] }),
      /a\.png.*--weights takes a safetensors file/,
    );
  },
});

async function task(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "predict", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name:
    "predict: `deno task predict` runs with its permissions; --json and text output, exit codes",
  ...GPU_TEST,
  async fn() {
    const f = await setup();
    const json = await task(["--weights", f.checkpoint, "--json", "--batch", "4", f.images]);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(Object.keys(doc), [
      "weights",
      "model",
      "inputShape",
      "classNames",
      "predictions",
      "skipped",
    ]);
    assert.equal(doc.weights, f.checkpoint);
    assert.equal(doc.model, "resnet8");
    assert.deepEqual(doc.inputShape, [3, SIZE, SIZE]);
    assert.equal(doc.classNames, true);
    for (const p of doc.predictions) {
      assert.deepEqual(Object.keys(p), ["file", "top"]);
      for (const t of p.top) assert.deepEqual(Object.keys(t), ["index", "name", "probability"]);
    }
    assertMatches(doc.predictions, await reference(f, f.files), f.files);
    assert.deepEqual(doc.skipped, [{
      file: `${f.images}/notes.txt`,
      reason: "not a PNG or JPEG file (by its extension)",
    }]);
    assert.match(json.stderr, /predicted 7 image\(s\) in .* images\/s, batch 4, resnet8 on /);

    const text = await task(["--weights", f.weights, "--top", "2", f.files[0]]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^\S+\/a\.png: (bird|cat|dog) \d+\.\d\d%, (bird|cat|dog) \d+\.\d\d%\n$/,
    );

    const broken = `${f.dir}/only_broken.jpg`;
    await Deno.writeTextFile(broken, "garbage");
    const none = await task(["--weights", f.checkpoint, broken]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /skipped \S+only_broken\.jpg: /);
    assert.match(none.stderr, /no image could be predicted/);

    const usage = await task(["--weights", f.unnamed, f.files[0]]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /error: .*pass --model NAME/);
  },
});

Deno.test({
  name: "predict: clean up the fixture",
  ...GPU_TEST,
  async fn() {
    const f = await setup();
    f.model.dispose();
    await Deno.remove(f.dir, { recursive: true });
  },
});
