/**
 * examples/classify.ts as a user runs it: torchvision's ResNet-50 saved as a `.pth`, converted by
 * tools/resgpu_torch.py (ImageNet normalization and class names), an image tensor classified from
 * the command line — the same top-5 as torchvision's on the same pixels. Ignored without torch.
 */
import assert from "node:assert/strict";
import { pythonHas, runPythonJson } from "../helpers/torch.ts";
import { testPattern } from "../../examples/classify.ts";

const FIXTURE = new URL("../fixtures/torch_roundtrip.py", import.meta.url);
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "example classify: a converted torchvision ResNet-50 gives torchvision's top-5",
  ignore: !(await pythonHas("torch", "torchvision")),
  async fn() {
    const dir = await Deno.makeTempDir();
    await runPythonJson(FIXTURE, ["pth", "resnet50", "3", `${dir}/resnet50.pth`]);
    const convert = await new Deno.Command("/usr/bin/python3", {
      args: [
        `${ROOT}tools/resgpu_torch.py`,
        "convert",
        `${dir}/resnet50.pth`,
        `${dir}/resnet50.safetensors`,
        "--imagenet",
        "--model",
        "resnet50",
      ],
    }).output();
    assert.equal(convert.code, 0, new TextDecoder().decode(convert.stderr));
    await Deno.writeFile(`${dir}/image.rgb`, testPattern(224, 224, 3));
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        `${ROOT}examples/classify.ts`,
        `${dir}/resnet50.safetensors`,
        `${dir}/image.rgb`,
        "--json",
      ],
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const ours = JSON.parse(new TextDecoder().decode(run.stdout));
    const want = await runPythonJson<{ index: number[]; probability: number[] }>(FIXTURE, [
      "top5",
      `${dir}/resnet50.pth`,
      "resnet50",
      `${dir}/image.rgb`,
      "224",
    ]);
    assert.deepEqual(ours.map((t: { index: number }) => t.index), want.index);
    // The labels are torchvision's ImageNet categories, carried by the converted file.
    assert.ok(ours.every((t: { label?: string }) => typeof t.label === "string" && t.label));
    // Probabilities: a softmax probability moves by at most 2·max|Δlogit| of itself; resgpu's f32
    // ResNet-50 logits land within ~1e-6 of their scale (≈ 170 here) of PyTorch's f64
    // (tests/io/torch_roundtrip.test.ts prints it), so ≈ 4e-4: 1e-3 is allowed.
    ours.forEach((t: { probability: number }, k: number) =>
      assert.ok(
        Math.abs(t.probability - want.probability[k]) <= 1e-3 * want.probability[k],
        `${t.probability} vs ${want.probability[k]}`,
      )
    );
    // A wrong image size is refused naming the size expected.
    await Deno.writeFile(`${dir}/small.rgb`, new Uint8Array(100));
    const bad = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-env",
        `${ROOT}examples/classify.ts`,
        `${dir}/resnet50.safetensors`,
        `${dir}/small.rgb`,
      ],
    }).output();
    assert.equal(bad.code, 1);
    assert.match(
      new TextDecoder().decode(bad.stderr),
      /small\.rgb: 100 bytes; resnet50 takes 224×224×3 = 150528/,
    );
    await Deno.remove(dir, { recursive: true });
  },
});
