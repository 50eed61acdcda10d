/**
 * What the predict tests run on: a small ResNet (resnet8, 3×16×16, 3 named classes, non-trivial
 * batch-norm statistics and a normalization) saved as a run's checkpoint, as a saveWeights file and
 * as a weights file that names no model (what tools/resgpu_torch.py writes without --model); and
 * a folder of PNG and JPEG images of several sizes, with a text file among them.
 */
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { encodeCheckpoint } from "../../src/train/checkpoint.ts";
import { saveWeights, stateTensors } from "../../src/io/weights.ts";
import { encodeSafetensors } from "../../src/io/safetensors.ts";
import { gatherRead } from "../../src/model/model.ts";
import { encodePng, pattern, TINY_JPEG } from "../helpers/images.ts";
import { loadRunningStats } from "../helpers/running_stats.ts";

export const SIZE = 16;
export const CLASS_NAMES = ["bird", "cat", "dog"];
export const MEAN = [0.45, 0.5, 0.55], STD = [0.22, 0.25, 0.28];

export interface Fixture {
  dir: string;
  checkpoint: string;
  weights: string;
  unnamed: string;
  images: string;
  /** The image files in the folder, in the scan's (sorted) order. */
  files: string[];
  model: Model;
}

/** The model, its files and the image folder, in a temporary directory. */
export async function makeFixture(rt: Runtime): Promise<Fixture> {
  const dir = await Deno.makeTempDir({ prefix: "resgpu-predict-" });
  const graph = buildModel("resnet8", { inputShape: [3, SIZE, SIZE], classes: 3 });
  const model = Model.create(rt, graph, {
    name: "resnet8",
    seed: 5,
    preprocessing: { mean: MEAN, std: STD, classNames: CLASS_NAMES },
  });
  loadRunningStats(model, graph, 0.5);
  const checkpoint = `${dir}/checkpoint.safetensors`;
  await Deno.writeFile(
    checkpoint,
    await encodeCheckpoint(model, null, {
      model: "resnet8",
      epoch: 1,
      step: 10,
      loader: { seed: 0, epoch: 1, batch: 0 },
      config: { model: "resnet8", shortcut: "A", width: 1 },
    }),
  );
  const weights = `${dir}/weights.safetensors`;
  await Deno.writeFile(weights, await saveWeights(model));
  const values = await gatherRead(
    rt,
    graph.params.map((p) => [p.name, model.param(p.name), p.shape.reduce((a, b) => a * b, 1)]),
  );
  const unnamed = `${dir}/unnamed.safetensors`;
  await Deno.writeFile(unnamed, encodeSafetensors(stateTensors(model, values)));

  const images = `${dir}/images`;
  await Deno.mkdir(`${images}/more`, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < 5; i++) {
    const [w, h] = [14 + 5 * i, 30 - 3 * i];
    const path = `${images}/${String.fromCharCode(97 + i)}.png`;
    await Deno.writeFile(path, encodePng(w, h, 3, pattern(w, h, 3, i)));
    files.push(path);
  }
  await Deno.writeFile(`${images}/f.jpg`, TINY_JPEG);
  files.push(`${images}/f.jpg`);
  await Deno.writeFile(`${images}/more/g.png`, encodePng(20, 20, 1, pattern(20, 20, 1, 9)));
  files.push(`${images}/more/g.png`);
  await Deno.writeTextFile(`${images}/notes.txt`, "not an image");
  return { dir, checkpoint, weights, unnamed, images, files, model };
}
