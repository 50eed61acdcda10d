/**
 * Fine-tuning in a training run (`deno task train --weights FILE --train-only layer4,fc`), end to
 * end on the software adapter with a narrow ResNet-18 at 16 pixels: pretrained on one generated
 * image folder, fine-tuned on another with other classes, interrupted and resumed; the frozen
 * parameters and batch-norm statistics come out bit-identical, the head is new for the folder's
 * classes, the checkpoint alone serves a Predictor. Then every bad input, named before anything
 * trains.
 */
import assert from "node:assert/strict";
import { type TrainConfig, trainRun } from "../../src/app/run.ts";
import { openTrainData } from "../../src/app/data_source.ts";
import { readCheckpoint, readCheckpointMeta } from "../../src/train/checkpoint_file.ts";
import { readSafetensors } from "../../src/io/safetensors_file.ts";
import { encodeSafetensors, typedView } from "../../src/io/safetensors.ts";
import { loadWeightsFile } from "../../src/io/weights_file.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { Predictor } from "../../src/infer/predictor.ts";
import { encodePng, pattern } from "../helpers/images.ts";
import { pythonHas } from "../helpers/torch.ts";

const SIZE = 16;
const COLORS: Record<string, [number, number, number]> = {
  blue: [40, 60, 200],
  gray: [128, 128, 128],
  green: [50, 190, 60],
  red: [200, 50, 40],
};

/** Classes told apart by color (or brightness), `n` PNGs each, of varying sizes. */
async function makeFolder(classes: Record<string, [number, number, number]>, n: number) {
  const root = await Deno.makeTempDir({ prefix: "resgpu-finetune-data-" });
  for (const [cls, rgb] of Object.entries(classes)) {
    await Deno.mkdir(`${root}/${cls}`);
    for (let i = 0; i < n; i++) {
      const [w, h] = [14 + (i % 3) * 3, 13 + (i % 4) * 2];
      const noise = pattern(w, h, 3, i);
      const px = noise.map((v, j) => Math.max(0, Math.min(255, rgb[j % 3] + (v % 50) - 25)));
      await Deno.writeFile(`${root}/${cls}/${i}.png`, encodePng(w, h, 3, px));
    }
  }
  return root;
}

function config(data: string, out: string, more: Partial<TrainConfig> = {}): TrainConfig {
  return {
    model: "resnet18",
    width: 0.125,
    data,
    epochs: 2,
    batch: 8,
    evalBatch: 16,
    optimizer: "sgd",
    lr: 0.05,
    momentum: 0.9,
    nesterov: false,
    wd: 0,
    schedule: "constant",
    warmup: 0,
    seed: 0,
    out,
    evalEvery: 1,
    logEvery: 1,
    gradNormEvery: 0,
    image: { imageSize: SIZE, valSplit: 0.25, workers: 1 },
    ...more,
  };
}

const quiet = { sink: () => {}, tty: false };

/** The pretraining run, shared by the tests below (made once). */
let shared: Promise<{ pre: string; ft: string; weights: string; dirs: string[] }> | null = null;
function pretrained() {
  shared ??= (async () => {
    const pre = await makeFolder({
      dark: [40, 40, 40],
      light: [215, 215, 215],
      mid: [128, 128, 128],
    }, 8);
    const ft = await makeFolder(COLORS, 8);
    const out = await Deno.makeTempDir({ prefix: "resgpu-finetune-pre-" });
    await trainRun(config(pre, out), quiet);
    return { pre, ft, weights: `${out}/checkpoint.safetensors`, dirs: [pre, ft, out] };
  })();
  return shared;
}

const FROZEN = (name: string) => !name.startsWith("layer4.") && !name.startsWith("fc.");

Deno.test("finetune: layer4+fc from a run's checkpoint on other classes, resumed, serves a Predictor", async () => {
  const { ft, weights } = await pretrained();
  const out = await Deno.makeTempDir({ prefix: "resgpu-finetune-run-" });
  try {
    const cfg = config(ft, out, { weights, trainOnly: ["layer4", "fc"], epochs: 4, lr: 0.05 });
    const lines: string[] = [];
    const first = await trainRun(cfg, {
      sink: (l) => lines.push(l),
      tty: false,
      stopAfterEpochs: 2,
    });
    assert.equal(first.stopped, "interrupted");
    assert.match(
      lines.join("\n"),
      /checkpoint\.safetensors: \d+ tensors loaded; new head fc\.bias, fc\.weight for 4 classes \(the file's head fc\.weight is \[3, 64\] but the model's is \[4, 64\].*training layer4, fc only \(frozen batch norms in eval mode\)/,
    );
    // Resumed from its own checkpoint (the same settings): the weights file is not read again.
    const s = await trainRun({ ...cfg, resume: `${out}/checkpoint.safetensors` }, quiet);
    assert.equal(s.stopped, "finished");
    assert.equal(s.epochs, 4);
    const train = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((r) => r.type === "train");
    assert.ok(train.at(-1).loss < train[0].loss, `loss ${train[0].loss} → ${train.at(-1).loss}`);
    assert.ok(s.testAccuracy > 0.5, `test accuracy ${s.testAccuracy} (chance 0.25)`);

    // Frozen parameters and batch-norm statistics bit-identical; layer4 and the head trained.
    const before = await readSafetensors(weights),
      after = await readSafetensors(`${out}/checkpoint.safetensors`);
    let frozen = 0;
    for (const [name, t] of after.tensors) {
      if (name.startsWith("optimizer.") || name.endsWith("num_batches_tracked")) continue;
      if (FROZEN(name)) {
        assert.deepEqual(typedView(t), typedView(before.tensors.get(name)!), name);
        frozen++;
      }
    }
    assert.ok(frozen > 60, `${frozen} frozen tensors compared`);
    assert.notDeepEqual(
      typedView(after.tensors.get("layer4.1.conv2.weight")!),
      typedView(before.tensors.get("layer4.1.conv2.weight")!),
    );
    assert.deepEqual(after.tensors.get("fc.weight")!.shape, [4, 64]);
    // The run's records: class names, preprocessing and the fine-tuning settings.
    const meta = await readCheckpointMeta(`${out}/checkpoint.safetensors`);
    assert.deepEqual(meta.config.classNames, ["blue", "gray", "green", "red"]);
    assert.deepEqual(meta.config.trainOnly, ["layer4", "fc"]);
    assert.equal(meta.config.weights, weights);
    assert.deepEqual(meta.preprocessing?.classNames, ["blue", "gray", "green", "red"]);
    const pre = (await readCheckpoint(weights)).meta.preprocessing!;
    // A fine-tune keeps its weights' normalization.
    assert.deepEqual(meta.preprocessing?.mean, pre.mean);
    assert.deepEqual(meta.preprocessing?.std, pre.std);

    // The checkpoint alone: a model built from its shapes, loaded, classifies labelled images.
    using rt = await Runtime.create();
    using model = Model.create(
      rt,
      buildModel("resnet18", { inputShape: [3, SIZE, SIZE], classes: 4, width: 0.125 }),
    );
    await loadWeightsFile(model, `${out}/checkpoint.safetensors`);
    using predictor = await Predictor.create(model, {
      maxBatch: 4,
      input: "pixels",
      layout: "hwc",
    });
    const names = Object.keys(COLORS);
    const images = new Uint8Array(4 * SIZE * SIZE * 3);
    names.forEach((c, k) => {
      const noise = pattern(SIZE, SIZE, 3, 100 + k);
      for (let j = 0; j < SIZE * SIZE * 3; j++) {
        images[k * SIZE * SIZE * 3 + j] = Math.max(
          0,
          Math.min(255, COLORS[c][j % 3] + (noise[j] % 50) - 25),
        );
      }
    });
    const top = await predictor.topK(images, 4, 1);
    const right = top.filter(([t], k) => t.label === names[k]).length;
    assert.ok(
      right >= 3,
      `predicted ${top.map(([t]) => t.label).join(", ")} for ${names.join(", ")}`,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("finetune: a fine-tune's data gets the weights' normalization", async () => {
  const { ft } = await pretrained();
  const norm = { mean: [0.1, 0.2, 0.3], std: [0.5, 0.6, 0.7] };
  const data = await openTrainData({
    data: ft,
    seed: 0,
    batch: 8,
    image: { imageSize: SIZE, workers: 1 },
  }, norm);
  try {
    assert.deepEqual(data.normalization, norm);
    const pre = data.meta.preprocessing as { train: typeof norm; eval: typeof norm };
    assert.deepEqual([pre.train.mean, pre.train.std, pre.eval.mean, pre.eval.std], [
      norm.mean,
      norm.std,
      norm.mean,
      norm.std,
    ]);
  } finally {
    data.dispose();
  }
  await assert.rejects(
    openTrainData({ data: ft, seed: 0, batch: 8, image: { imageSize: SIZE } }, {
      mean: [0.5],
      std: [0.5],
    }),
    /the weights were trained on 1-channel images; .* gives RGB images/,
  );
});

Deno.test("finetune: bad inputs are named before anything trains", async () => {
  const { ft, weights, pre } = await pretrained();
  const out = await Deno.makeTempDir({ prefix: "resgpu-finetune-bad-" });
  const run = (more: Partial<TrainConfig>, data = ft) =>
    trainRun(config(data, `${out}/run`, { epochs: 1, ...more }), quiet);
  try {
    // A head that does not fit and would stay frozen: the shapes and the flag that fixes it.
    await assert.rejects(
      run({ weights, trainOnly: ["layer4"] }),
      new RegExp(
        `${weights}: the file's head fc\\.weight is \\[3, 64\\] but the model's is \\[4, 64\\] for ` +
          "the data's 4 classes, and --train-only leaves it frozen: add fc to --train-only " +
          "\\(e\\.g\\. --train-only layer4,fc\\) to train a new head",
      ),
    );
    // Same class count, other class names: also another head.
    const three = await makeFolder({ blue: COLORS.blue, green: COLORS.green, red: COLORS.red }, 4);
    try {
      await assert.rejects(
        run({ weights, trainOnly: ["layer3", "layer4"] }, three),
        /the file's head was trained for other classes \(dark, light, mid; the data has blue, green, red\), and --train-only leaves it frozen: add fc/,
      );
    } finally {
      await Deno.remove(three, { recursive: true });
    }
    // The same classes, frozen head: fine, until --new-head asks for a head that cannot train.
    await assert.rejects(
      run({ weights, trainOnly: ["layer4"], newHead: true }, pre),
      /--new-head: a new head must train, but --train-only leaves it frozen: add fc to --train-only/,
    );
    await assert.rejects(
      run({ weights, trainOnly: ["layer4", "head"] }),
      /--train-only: "head" selects no parameter of model resnet18 \(its top-level modules: conv1, bn1, layer1, layer2, layer3, layer4, fc\)/,
    );
    await assert.rejects(
      run({ weights: `${out}/missing.safetensors`, trainOnly: ["fc"] }),
      new RegExp(`${out}/missing\\.safetensors: file not found`),
    );
    await Deno.writeTextFile(`${out}/notes.safetensors`, "these are not weights at all");
    await assert.rejects(
      run({ weights: `${out}/notes.safetensors` }),
      new RegExp(`${out}/notes\\.safetensors`),
    );
    // Another model's file, by its metadata or (without any) by its tensors.
    await assert.rejects(
      run({ model: "resnet34", weights }),
      new RegExp(`${weights} holds weights of a resnet18, not a resnet34: pass --model resnet18`),
    );
    await Deno.writeFile(
      `${out}/other.safetensors`,
      encodeSafetensors({
        "features.0.weight": { dtype: "F32", shape: [2], data: new Float32Array(2) },
      }),
    );
    await assert.rejects(
      run({ weights: `${out}/other.safetensors` }),
      new RegExp(`model resnet18 \\(from ${out}/other\\.safetensors\\).*missing`),
    );
    await assert.rejects(
      run({ trainOnly: ["fc"] }),
      /--train-only: fine-tuning settings need --weights FILE/,
    );
    // Nothing was written for any of them.
    assert.throws(() => Deno.statSync(`${out}/run/config.json`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

async function cli(...args: string[]) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "src/cli/train.ts", ...args],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: "/tmp" },
  }).output();
  return { code: o.code, err: new TextDecoder().decode(o.stderr) };
}

Deno.test("finetune: the CLI names a frozen mismatched head's fix", async () => {
  const { ft, weights, dirs } = await pretrained();
  const r = await cli(
    ...["--data", ft, "--model", "resnet18", "--width", "0.125", "--image-size", String(SIZE)],
    ...["--batch", "8", "--workers", "1", "--weights", weights, "--train-only", "layer4"],
    ...["--out", `${dirs[2]}/cli`],
  );
  assert.equal(r.code, 2, r.err);
  assert.match(
    r.err,
    /^error: .*fc\.weight is \[3, 64\] but the model's is \[4, 64\].*--train-only layer4,fc/m,
  );
});

Deno.test("finetune: --resume with a different --train-only is refused", async () => {
  const { ft, weights } = await pretrained();
  const out = await Deno.makeTempDir({ prefix: "resgpu-finetune-resume-" });
  try {
    const cfg = config(ft, out, { weights, trainOnly: ["fc"], epochs: 2 });
    await trainRun(cfg, { ...quiet, stopAfterEpochs: 1 });
    const ckpt = `${out}/checkpoint.safetensors`;
    await assert.rejects(
      trainRun({ ...cfg, trainOnly: ["layer4", "fc"], resume: ckpt }, quiet),
      /was trained with trainOnly = \["fc"\], this run has \["layer4","fc"\]: resume with the same settings/,
    );
    // The CLI takes the run's other settings from the checkpoint and refuses the same way.
    const r = await cli("--resume", ckpt, "--train-only", "layer4,fc");
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^error: .*trainOnly = \["fc"\], this run has \["layer4","fc"\]/m);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test({
  name: "finetune: from a PyTorch state dict converted by tools/resgpu_torch.py (f16, 7×7 stem)",
  ignore: !(await pythonHas("torch", "torchvision")),
  async fn() {
    const { ft } = await pretrained();
    const dir = await Deno.makeTempDir({ prefix: "resgpu-finetune-torch-" });
    try {
      const py = (...args: string[]) =>
        new Deno.Command("/usr/bin/python3", { args, stdout: "piped", stderr: "piped" }).output();
      const made = await py(
        "-c",
        `import torch, torchvision; torch.manual_seed(0)
torch.save(torchvision.models.resnet18(num_classes=7).state_dict(), "${dir}/r18.pth")`,
      );
      assert.ok(made.success, new TextDecoder().decode(made.stderr));
      const conv = await py(
        ...["tools/resgpu_torch.py", "convert", `${dir}/r18.pth`, `${dir}/r18.safetensors`],
        ...[
          "--dtype",
          "f16",
          "--model",
          "resnet18",
          "--mean",
          "0.5,0.4,0.3",
          "--std",
          "0.2,0.2,0.2",
        ],
      );
      assert.ok(conv.success, new TextDecoder().decode(conv.stderr));
      const lines: string[] = [];
      const s = await trainRun(
        config(ft, `${dir}/run`, {
          width: undefined,
          weights: `${dir}/r18.safetensors`,
          trainOnly: ["fc"],
          epochs: 1,
          image: { imageSize: 32, valSplit: 0.25, workers: 1 },
        }),
        { sink: (l) => lines.push(l), tty: false },
      );
      assert.equal(s.stopped, "finished");
      assert.match(
        lines.join("\n"),
        /new head fc\.bias, fc\.weight for 4 classes \(the file's head fc\.weight is \[7, 512\]/,
      );
      const ckpt = await readCheckpoint(`${dir}/run/checkpoint.safetensors`);
      // torchvision's stem at 32 pixels (the zoo's default there is the 3×3 one), its
      // normalization, the folder's classes.
      assert.deepEqual(ckpt.tensors.get("conv1.weight")!.shape, [64, 3, 7, 7]);
      assert.deepEqual(ckpt.meta.preprocessing?.mean, [0.5, 0.4, 0.3]);
      assert.deepEqual(ckpt.meta.preprocessing?.classNames, ["blue", "gray", "green", "red"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("finetune: cleanup", async () => {
  const { dirs } = await pretrained();
  for (const d of dirs) await Deno.remove(d, { recursive: true });
});
