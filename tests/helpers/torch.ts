/** PyTorch as an optional live cross-check: tests that need it are ignored without it. */
import assert from "node:assert/strict";
import type { Runtime } from "../../src/gpu/runtime.ts";
import type { Model } from "../../src/model/model.ts";
import { buildStepPlan } from "../../src/scheduler/step_plan.ts";

/** Whether /usr/bin/python3 can import every module in `modules`. */
export async function pythonHas(...modules: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", `import ${modules.join(", ")}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.code === 0;
  } catch {
    return false;
  }
}

/** Runs a fixture script with /usr/bin/python3 and parses the JSON it prints. */
export async function runPythonJson<T>(script: URL, args: string[]): Promise<T> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [script.pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(`${script.pathname} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** What the fixture scripts print: PyTorch f64 logits and PyTorch's own f32 error (relative). */
export interface TorchLogits {
  format: string;
  names: number;
  logits: number[];
  f32_rel: number;
}

/**
 * Eval-mode logits of `model` for the fixtures' formula input x[i] = sin(0.37·i + 0.1) (the
 * Python side builds the same tensor), through a planned inference step.
 */
export async function formulaInputLogits(
  rt: Runtime,
  model: Model,
  batch: number,
  inputLength: number,
  classes: number,
): Promise<Float32Array> {
  const plan = await buildStepPlan(model, { batchSize: batch, mode: "eval" });
  rt.write(
    plan.input,
    0,
    Float32Array.from({ length: inputLength }, (_, i) => Math.sin(0.37 * i + 0.1)),
  );
  rt.replay(plan.forward);
  const ours = new Float32Array(await rt.read(plan.logits, batch * classes * 4));
  plan.dispose();
  return ours;
}

/** Every logit within max(minRel, 8 × PyTorch's own f32 error) of the logits' scale. */
export function assertLogitsMatch(ours: Float32Array, torch: TorchLogits, minRel: number): void {
  const scale = Math.max(...torch.logits.map(Math.abs));
  const tol = Math.max(minRel, 8 * torch.f32_rel) * scale;
  assert.equal(ours.length, torch.logits.length);
  for (let i = 0; i < ours.length; i++) {
    const err = Math.abs(ours[i] - torch.logits[i]);
    assert.ok(err <= tol, `logit ${i}: ${ours[i]} vs ${torch.logits[i]}, tolerance ${tol}`);
  }
}
