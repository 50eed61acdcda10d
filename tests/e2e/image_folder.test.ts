/**
 * `deno task train --data DIR` on an image folder, end to end on the software adapter: the run
 * trains from PNG files decoded on a worker, records the class names and preprocessing in its
 * config and checkpoint, logs the loader's wait per step, and skips (names, counts) a corrupt
 * file; bad folders are one error line.
 */
import assert from "node:assert/strict";
import { trainRun } from "../../src/app/run.ts";
import { encodePng, pattern } from "../helpers/images.ts";

/** Three classes told apart by brightness, 12 PNGs each, sizes varying. */
async function makeFolder(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "resgpu-e2e-folder-" });
  for (const [c, cls] of ["dark", "mid", "light"].entries()) {
    await Deno.mkdir(`${root}/${cls}`);
    for (let i = 0; i < 12; i++) {
      const [w, h] = [12 + (i % 4) * 3, 10 + (i % 3) * 5];
      const px = pattern(w, h, 3, i).map((v) => 40 + c * 80 + (v % 40));
      await Deno.writeFile(`${root}/${cls}/${i}.png`, encodePng(w, h, 3, px));
    }
  }
  await Deno.writeTextFile(`${root}/mid/notes.txt`, "skipped at scan");
  await Deno.writeTextFile(`${root}/light/broken.png`, "not a png at all");
  return root;
}

Deno.test("image folder: trainRun trains, records classes and preprocessing, skips a bad file", async () => {
  const root = await makeFolder();
  const out = await Deno.makeTempDir({ prefix: "resgpu-e2e-run-" });
  try {
    const s = await trainRun({
      model: "resnet20",
      data: root,
      epochs: 2,
      batch: 8,
      evalBatch: 8,
      optimizer: "sgd",
      lr: 0.05,
      momentum: 0.9,
      nesterov: false,
      wd: 5e-4,
      schedule: "cosine",
      warmup: 0,
      seed: 0,
      out,
      evalEvery: 1,
      logEvery: 2,
      gradNormEvery: 0,
      image: { imageSize: 16, valSplit: 0.25, workers: 1 },
    }, { sink: () => {}, tty: false });
    assert.equal(s.stopped, "finished");
    assert.ok(Number.isFinite(s.trainLoss) && s.testAccuracy >= 0);
    assert.deepEqual(s.skippedImages?.map((x) => x.path), [`${root}/light/broken.png`]);
    assert.ok(s.loaderWaitMs >= 0);
    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assert.deepEqual(config.classNames, ["dark", "light", "mid"]);
    assert.equal(config.preprocessing.eval.kind, "eval");
    assert.equal(config.preprocessing.eval.size, 16);
    assert.equal(config.preprocessing.train.kind, "random-resized-crop");
    assert.equal(config.imageFolder.skippedAtScan.nonImage, 1);
    // 12 images per class (13 with the broken one), 3 of each held out: 28 train, 9 validation.
    assert.deepEqual([config.trainSamples, config.testSamples], [28, 9]);
    const train = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n").map((l) =>
      JSON.parse(l)
    )
      .filter((r) => r.type === "train");
    assert.ok(train.length > 0 && train.every((r) => typeof r.loader_wait_ms === "number"));
    // The checkpoint alone knows the classes and the preprocessing.
    const bytes = await Deno.readFile(`${out}/checkpoint.safetensors`);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const meta = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))).__metadata__;
    const saved = JSON.parse(meta.config);
    assert.deepEqual(saved.classNames, ["dark", "light", "mid"]);
    assert.equal(saved.preprocessing.eval.resize, 18);
    const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
    assert.equal(summary.skippedImages.length, 1);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("image folder: the CLI names a bad folder in one error line", async () => {
  const root = await Deno.makeTempDir({ prefix: "resgpu-e2e-bad-" });
  try {
    await Deno.mkdir(`${root}/cat`);
    await Deno.mkdir(`${root}/dog`);
    await Deno.writeFile(`${root}/cat/1.png`, encodePng(4, 4, 1, pattern(4, 4, 1)));
    const run = async (data: string, ...more: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "src/cli/train.ts",
          "--data",
          data,
          "--out",
          `${root}/run`,
          ...more,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: o.code, err: new TextDecoder().decode(o.stderr) };
    };
    const empty = await run(root);
    assert.equal(empty.code, 2);
    assert.match(empty.err, /^error: .*class folder "dog" has no PNG or JPEG images/m);
    const onBad = await run(root, "--on-bad-image", "maybe");
    assert.match(onBad.err, /--on-bad-image: invalid value "maybe"; allowed values: skip, fail/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
