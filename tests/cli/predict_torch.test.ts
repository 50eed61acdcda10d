/**
 * `deno task predict` on a torchvision model as a user brings one: ResNet-18 saved as a `.pth` by
 * PyTorch, converted by tools/resgpu_torch.py with `--imagenet` but without `--model`, so the file
 * names no architecture. Without `--model` the command refuses, naming the flag; with it, at
 * `--image-size 64`, the stem (torchvision's 7×7, which "auto" would not pick at 64 pixels) is
 * read off the tensors, and a 64×64 PNG predicted with `--resize 64` (no resampling) gives
 * torchvision's top-5 on the same pixels, with ImageNet's class names. Ignored without torch.
 *
 * Tolerance as tests/examples/classify.test.ts derives it: a softmax probability moves by at most
 * 2·max|Δlogit| of itself; resgpu's f32 ResNet logits land within ~1e-6 of their scale of
 * PyTorch's f64 (tests/io/torch_roundtrip.test.ts), so 1e-3 of each probability is ample, while
 * a wrong stem, normalization or crop changes the ranking outright.
 */
import assert from "node:assert/strict";
import { pythonHas, runPythonJson } from "../helpers/torch.ts";
import { testPattern } from "../../examples/classify.ts";
import { encodePng } from "../helpers/images.ts";
import { predictImages } from "../../src/app/predict.ts";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";

const FIXTURE = new URL("../fixtures/torch_roundtrip.py", import.meta.url);
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "predict: a converted torchvision ResNet-18 that names no model, with --model, gives " +
    "torchvision's top-5",
  ignore: !(await pythonHas("torch", "torchvision")),
  ...GPU_TEST,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "resgpu-predict-torch-" });
    try {
      await runPythonJson(FIXTURE, ["pth", "resnet18", "3", `${dir}/resnet18.pth`]);
      const convert = await new Deno.Command("/usr/bin/python3", {
        args: [
          `${ROOT}tools/resgpu_torch.py`,
          "convert",
          `${dir}/resnet18.pth`,
          `${dir}/resnet18.safetensors`,
          "--imagenet",
        ],
      }).output();
      assert.equal(convert.code, 0, new TextDecoder().decode(convert.stderr));
      const pixels = testPattern(64, 64, 3);
      await Deno.writeFile(`${dir}/image.rgb`, pixels);
      await Deno.writeFile(`${dir}/image.png`, encodePng(64, 64, 3, pixels));
      const weights = `${dir}/resnet18.safetensors`;

      await assert.rejects(
        predictImages({ weights, inputs: [`${dir}/image.png`], batchSize: 1 }, {
          runtime: await runtime(),
          progress: null,
        }),
        /resnet18\.safetensors does not say which model it holds.*pass --model NAME/,
      );

      const run = await new Deno.Command(Deno.execPath(), {
        args: [
          "task",
          "--quiet",
          "predict",
          "--weights",
          weights,
          "--model",
          "resnet18",
          "--image-size",
          "64",
          "--resize",
          "64",
          "--json",
          `${dir}/image.png`,
        ],
        cwd: ROOT,
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      const doc = JSON.parse(new TextDecoder().decode(run.stdout));
      assert.equal(doc.model, "resnet18");
      assert.deepEqual(doc.inputShape, [3, 64, 64]);
      const ours = doc.predictions[0].top as { index: number; name: string; probability: number }[];
      const want = await runPythonJson<{ index: number[]; probability: number[] }>(FIXTURE, [
        "top5",
        `${dir}/resnet18.pth`,
        "resnet18",
        `${dir}/image.rgb`,
        "64",
      ]);
      assert.deepEqual(ours.map((t) => t.index), want.index);
      // The names are torchvision's ImageNet categories, carried by the converted file.
      assert.ok(ours.every((t) => typeof t.name === "string" && t.name.length > 0));
      ours.forEach((t, k) =>
        assert.ok(
          Math.abs(t.probability - want.probability[k]) <= 1e-3 * want.probability[k],
          `${t.probability} vs ${want.probability[k]}`,
        )
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
