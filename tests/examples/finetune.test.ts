/**
 * examples/finetune.ts as a user runs it: a 1000-class ResNet-18 weights file (torchvision names,
 * ImageNet normalization) fine-tuned on the synthetic set's ten classes with everything below
 * layer4 frozen; the saved model carries the new head, the class names and the normalization.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { IMAGENET_NORMALIZATION } from "../../src/model/preprocessing.ts";
import { saveWeightsFile } from "../../src/io/weights_file.ts";
import { readSafetensors } from "../../src/io/safetensors_file.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "example finetune: a ResNet-18 head fine-tuned from pretrained-style weights learns",
  ...GPU_TEST,
  async fn() {
    const dir = await Deno.makeTempDir();
    const rt = await runtime();
    const pretrained = Model.create(rt, buildModel("resnet18", { stem: "imagenet" }), {
      name: "resnet18",
      seed: 9,
      preprocessing: { ...IMAGENET_NORMALIZATION },
    });
    await saveWeightsFile(pretrained, `${dir}/resnet18.safetensors`);
    const before = await pretrained.stateDict();
    pretrained.dispose();
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        `${ROOT}examples/finetune.ts`,
        `${dir}/resnet18.safetensors`,
        `${dir}/tuned.safetensors`,
        "--epochs",
        "2",
        "--train",
        "480",
        "--test",
        "300",
        "--json",
      ],
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    }).output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    const result = JSON.parse(new TextDecoder().decode(run.stdout));
    console.log(`  test accuracy ${result.testAccuracy} after ${result.seconds.toFixed(1)} s`);
    // Ten balanced classes: guessing scores 10% ± 1.7% (one standard deviation over 300 test
    // images), so 20% is six deviations above it — the head learned from the frozen features.
    // (Random "pretrained" features, 2 epochs of 480 images: 29% measured.)
    assert.ok(result.testAccuracy > 0.2, `accuracy ${result.testAccuracy}`);
    const tuned = await readSafetensors(`${dir}/tuned.safetensors`);
    const pre = JSON.parse(tuned.metadata.preprocessing);
    assert.equal(pre.classes, 10);
    assert.equal(pre.classNames[0], "circle");
    assert.deepEqual(pre.mean, [0.485, 0.456, 0.406]);
    assert.deepEqual(tuned.tensors.get("fc.weight")!.shape, [10, 512]);
    // Frozen below layer4: those weights are the pretrained ones, bit for bit.
    const conv = tuned.tensors.get("layer3.1.conv2.weight")!;
    assert.deepEqual(
      new Float32Array(conv.bytes.slice().buffer),
      before.get("layer3.1.conv2.weight"),
    );
    await Deno.remove(dir, { recursive: true });
  },
});
