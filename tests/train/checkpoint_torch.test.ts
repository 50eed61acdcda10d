/**
 * A resgpu checkpoint of ResNet-18 loads into torchvision's ResNet-18 with
 * `load_state_dict(strict=True)` (names, shapes, int64 `num_batches_tracked`), and PyTorch's
 * eval-mode logits from it match resgpu's inference plan. Needs /usr/bin/python3 with torch and
 * torchvision; ignored without them.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { resnetImageNet } from "../../src/zoo/resnet_imagenet.ts";
import { Model } from "../../src/model/model.ts";
import type { StateEntry } from "../../src/model/state.ts";
import { saveCheckpoint } from "../../src/train/checkpoint_file.ts";
import {
  assertLogitsMatch,
  formulaInputLogits,
  pythonHas,
  runPythonJson,
  type TorchLogits,
} from "../helpers/torch.ts";

Deno.test({
  name: "checkpoint: torchvision ResNet-18 loads it strictly and computes the same logits",
  ignore: !(await pythonHas("torch", "torchvision")),
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const classes = 10, batch = 2, size = 64;
    const graph = resnetImageNet({
      depth: 18,
      inputShape: [3, size, size],
      classes,
      stem: "imagenet",
    });
    const model = Model.create(rt, graph, { seed: 5 });
    // Non-trivial BN running statistics, so eval mode is really exercised.
    const stats = new Map<string, StateEntry>();
    for (const p of graph.params) {
      if (p.kind === "running_mean") {
        stats.set(p.name, {
          shape: p.shape,
          data: Float32Array.from({ length: p.shape[0] }, (_, i) => 0.1 * Math.sin(i)),
        });
      }
      if (p.kind === "running_var") {
        stats.set(p.name, {
          shape: p.shape,
          data: Float32Array.from({ length: p.shape[0] }, (_, i) => 1 + 0.5 * Math.cos(i) ** 2),
        });
      }
    }
    model.loadStateDict(stats, { strict: false });
    const dir = await Deno.makeTempDir();
    const path = `${dir}/resnet18.safetensors`;
    await saveCheckpoint(path, model, null, {
      epoch: 0,
      step: 0,
      loader: { seed: 0, epoch: 0, batch: 0 },
      model: "resnet18",
      config: {},
    });
    const torch = await runPythonJson<TorchLogits>(
      new URL("../fixtures/torch_load_checkpoint.py", import.meta.url),
      [path, String(classes), String(batch), String(size)],
    );
    assert.equal(torch.format, "resgpu-checkpoint-1");
    assert.equal(
      torch.names,
      graph.params.length + graph.params.filter((p) => p.kind === "running_mean").length,
    );

    const ours = await formulaInputLogits(rt, model, batch, batch * 3 * size * size, classes);
    // Against PyTorch's f64. Our convolutions accumulate up to K = 512·3·3 = 4608 terms in one
    // f32 running sum (≈ √K·2⁻²⁴ ≈ 4e-6 relative per layer, 18 layers), where oneDNN's blocked
    // sums do better (its f32 error here is `f32_rel`): allow 1e-4 of the logits' scale, or 8×
    // PyTorch's own f32 error if larger. A wrong name, layout or eval statistic errs by O(1).
    assertLogitsMatch(ours, torch, 1e-4);
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  },
});
