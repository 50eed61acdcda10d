/**
 * The architecture of a weights file read off its metadata and tensors (no GPU): shortcut option,
 * width, stem and classes are recovered so the rebuilt graph's tensors are exactly the file's;
 * --model is needed only where the file names no model, and refused where it names another.
 */
import assert from "node:assert/strict";
import { architectureOf } from "../../src/app/weights_model.ts";
import { evalTransform } from "../../src/app/predict.ts";
import { buildModel, type ModelOptions } from "../../src/zoo/registry.ts";
import type { SafetensorsFile } from "../../src/io/safetensors.ts";
import { encodePreprocessing } from "../../src/model/preprocessing.ts";

/** A file holding the tensors (names and shapes only) of `name` built with `opts`. */
function fileOf(
  name: string,
  opts: ModelOptions,
  metadata: Record<string, string>,
): SafetensorsFile {
  const g = buildModel(name, opts);
  const tensors = new Map(g.params.map((p) => [p.name, {
    dtype: "F32" as const,
    shape: [...p.shape],
    bytes: new Uint8Array(0),
  }]));
  return { tensors, metadata };
}

function sameGraph(name: string, a: ModelOptions, b: ModelOptions): void {
  const ga = buildModel(name, a), gb = buildModel(name, b);
  assert.deepEqual(
    ga.params.map((p) => `${p.name}:${p.shape}`),
    gb.params.map((p) => `${p.name}:${p.shape}`),
  );
}

Deno.test("architectureOf: a torchvision-style file with --model gets its stem, width and classes", () => {
  const opts: ModelOptions = {
    inputShape: [3, 224, 224],
    classes: 37,
    width: 0.5,
    stem: "imagenet",
  };
  const file = fileOf("resnet18", opts, {});
  assert.throws(
    () => architectureOf(file, "tv.safetensors"),
    /tv\.safetensors does not say which model it holds.*pass --model NAME/,
  );
  const a = architectureOf(file, "tv.safetensors", { model: "resnet18", imageSize: 32 });
  assert.equal(a.name, "resnet18");
  assert.equal(a.kind, "weights");
  assert.deepEqual(a.options.inputShape, [3, 32, 32]);
  assert.equal(a.options.classes, 37);
  assert.equal(a.options.width, 0.5);
  // At 32 pixels "auto" would pick the CIFAR stem; the file's 7×7 conv1 says torchvision's.
  assert.equal(a.options.stem, "imagenet");
  sameGraph("resnet18", { ...opts, inputShape: [3, 32, 32] }, a.options);
});

Deno.test("architectureOf: a saveWeights file names its model and shape; a projection shortcut is found", () => {
  const opts: ModelOptions = { inputShape: [1, 28, 28], classes: 4, shortcut: "B" };
  const pre = encodePreprocessing({
    mean: [0.3],
    std: [0.4],
    inputShape: [1, 28, 28],
    classes: 4,
    classNames: ["a", "b", "c", "d"],
  });
  const file = fileOf("resnet20", opts, {
    format: "resgpu-weights-1",
    model: "resnet20",
    preprocessing: pre,
  });
  const a = architectureOf(file, "w.safetensors");
  assert.equal(a.options.shortcut, "B");
  assert.deepEqual(a.options.inputShape, [1, 28, 28]);
  assert.deepEqual(a.preprocessing?.classNames, ["a", "b", "c", "d"]);
  sameGraph("resnet20", opts, a.options);
  assert.equal(architectureOf(file, "w.safetensors", { model: "resnet20" }).name, "resnet20");
  assert.throws(
    () => architectureOf(file, "w.safetensors", { model: "resnet32" }),
    /--model resnet32: w\.safetensors holds a resnet20/,
  );
  assert.throws(
    () => architectureOf(fileOf("resnet20", opts, {}), "x", { model: "resnet7" }),
    /unknown model "resnet7"/,
  );
});

Deno.test("evalTransform: a run's stored eval transform, whole images for other runs, 256/224 for weights", () => {
  const norm = { mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2] };
  const arch = (kind: "checkpoint" | "weights", config: Record<string, unknown> = {}) => ({
    name: "resnet20",
    options: {},
    kind,
    config,
  });
  const folderRun = arch("checkpoint", {
    preprocessing: { eval: { kind: "eval", size: 64, resize: 80, mean: [0], std: [1] } },
  });
  const t = evalTransform(folderRun, [3, 64, 64], norm);
  assert.deepEqual(t, { kind: "eval", size: 64, resize: 80, ...norm });
  // At another input size (--image-size), the run's ratio of resize to crop.
  assert.equal((evalTransform(folderRun, [3, 32, 32], norm) as { resize: number }).resize, 40);
  assert.equal(
    (evalTransform(arch("checkpoint"), [3, 64, 64], norm) as { resize: number }).resize,
    64,
  );
  assert.equal(
    (evalTransform(arch("weights"), [3, 224, 224], norm) as { resize: number }).resize,
    256,
  );
  assert.equal(
    (evalTransform(arch("weights"), [3, 224, 224], norm, 240) as { resize: number }).resize,
    240,
  );
  assert.throws(
    () => evalTransform(arch("weights"), [3, 224, 224], norm, 100),
    /--resize 100: smaller than the 224-pixel crop/,
  );
  assert.throws(
    () => evalTransform(arch("weights"), [3, 12, 10], norm),
    /12×10 images.*--image-size/,
  );
});
