/**
 * tools/resgpu_torch.py from the command line, as a user holding a PyTorch `.pth` runs it:
 * `convert` (bare or wrapped state dicts, DDP's `module.` prefixes, class names from a file,
 * ImageNet names from torchvision itself), `to-torch` → `from-torch` back to an identical
 * checkpoint, and bad input refused with one `error:` line. Ignored without torch.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { pythonHas } from "../helpers/torch.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { loadWeightsFile } from "../../src/io/weights_file.ts";
import { readSafetensors } from "../../src/io/safetensors_file.ts";
import { saveCheckpoint } from "../../src/train/checkpoint_file.ts";

const TOOL = new URL("../../tools/resgpu_torch.py", import.meta.url).pathname;
const torch = await pythonHas("torch", "torchvision");

async function python(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("/usr/bin/python3", { args, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({
  name:
    "resgpu_torch convert: a wrapped DDP state dict with class names from a file loads strictly",
  ignore: !torch,
  ...GPU_TEST,
  async fn() {
    const dir = await Deno.makeTempDir();
    // A torchvision ResNet-18 with 3 classes, saved as a DDP training script would.
    const made = await python([
      "-c",
      `import torch, torchvision
m = torchvision.models.resnet18(num_classes=3)
torch.save({"epoch": 4, "state_dict": {"module." + k: v for k, v in m.state_dict().items()}},
           "${dir}/ddp.pth")
torch.save([1, 2], "${dir}/list.pth")`,
    ]);
    assert.equal(made.code, 0, made.stderr);
    await Deno.writeTextFile(`${dir}/names.txt`, "cat\ndog\nemu\n");
    const out = `${dir}/w.safetensors`;
    const run = await python([
      TOOL,
      "convert",
      `${dir}/ddp.pth`,
      out,
      "--dtype",
      "bf16",
      "--mean",
      "0.5,0.5,0.5",
      "--std",
      "0.25,0.25,0.25",
      "--input-size",
      "3,64,64",
      "--class-names",
      `${dir}/names.txt`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /w\.safetensors: 122 tensors \(bf16\), 3 class names/);
    const rt = await runtime();
    const model = Model.create(
      rt,
      buildModel("resnet18", { inputShape: [3, 64, 64], classes: 3, stem: "imagenet" }),
    );
    const done = await loadWeightsFile(model, out);
    assert.equal(done.converted.BF16, model.graph.params.length);
    assert.deepEqual(model.preprocessing.classNames, ["cat", "dog", "emu"]);
    assert.deepEqual(model.preprocessing.std, [0.25, 0.25, 0.25]);

    // torchvision's own ImageNet names for a 1000-class head (nothing downloaded).
    const tv = await python([
      "-c",
      `import torch, torchvision
torch.save(torchvision.models.resnet18().state_dict(), "${dir}/tv.pth")`,
    ]);
    assert.equal(tv.code, 0, tv.stderr);
    const inet = await python([
      TOOL,
      "convert",
      `${dir}/tv.pth`,
      `${dir}/tv.safetensors`,
      "--imagenet",
    ]);
    assert.equal(inet.code, 0, inet.stderr);
    const meta = (await readSafetensors(`${dir}/tv.safetensors`)).metadata;
    const pre = JSON.parse(meta.preprocessing);
    assert.equal(pre.classNames.length, 1000);
    assert.equal(pre.classNames[0], "tench");
    assert.deepEqual(pre.mean, [0.485, 0.456, 0.406]);

    // Bad input: one error line and exit 2.
    const bad = [
      [
        [`${dir}/list.pth`, `${dir}/x.safetensors`],
        /error: .*list\.pth: not a state dict of tensors/,
      ],
      [[`${dir}/missing.pth`, `${dir}/x.safetensors`], /error: .*missing\.pth/],
      [
        [`${dir}/ddp.pth`, `${dir}/x.safetensors`, "--class-names", `${dir}/names.txt`],
        /error: class names are stored with a normalization: give --imagenet or --mean\/--std/,
      ],
      [
        [
          `${dir}/tv.pth`,
          `${dir}/x.safetensors`,
          "--mean",
          "0.5",
          "--std",
          "1",
          "--class-names",
          `${dir}/names.txt`,
        ],
        /error: 3 class names for a 1000-class head/,
      ],
    ] as const;
    for (const [args, pattern] of bad) {
      const r = await python([TOOL, "convert", ...args]);
      assert.equal(r.code, 2, `${args}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
    }
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test({
  name: "resgpu_torch to-torch → from-torch gives back the same checkpoint",
  ignore: !torch,
  ...GPU_TEST,
  async fn() {
    const dir = await Deno.makeTempDir();
    const rt = await runtime();
    const model = Model.create(rt, buildModel("resnet8", { inputShape: [3, 8, 8], classes: 4 }), {
      name: "resnet8",
    });
    model.setPreprocessing({ mean: [0.2, 0.3, 0.4], std: [0.5, 0.5, 0.5] });
    const path = `${dir}/c.safetensors`;
    await saveCheckpoint(path, model, null, {
      model: "resnet8",
      epoch: 1,
      step: 5,
      loader: { seed: 1, epoch: 1, batch: 0 },
      config: { lr: 0.1 },
    });
    const to = await python([TOOL, "to-torch", path, `${dir}/c.pt`]);
    assert.equal(to.code, 0, to.stderr);
    assert.match(to.stdout, /c\.pt: \d+ tensors, 0 optimizer slots, step 5/);
    const from = await python([TOOL, "from-torch", `${dir}/c.pt`, `${dir}/back.safetensors`]);
    assert.equal(from.code, 0, from.stderr);
    const [a, b] = [await readSafetensors(path), await readSafetensors(`${dir}/back.safetensors`)];
    assert.deepEqual(b.metadata, a.metadata);
    assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
    for (const [k, t] of a.tensors) assert.deepEqual(b.tensors.get(k), t, k);
    const notCkpt = await python([TOOL, "to-torch", `${dir}/c.pt`, `${dir}/x.pt`]);
    assert.equal(notCkpt.code, 2);
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});
