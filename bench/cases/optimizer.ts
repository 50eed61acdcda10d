/** Optimizer updates over a ResNet-20-sized (270k) and a ResNet-18-sized (11.7M) parameter set. */
import type { BenchCase } from "../harness.ts";
import type { Runtime } from "../../src/gpu/runtime.ts";
import { planAdamW, planSgd } from "../../src/ops/optimizer.ts";

/** One flat tensor per case: the kernel is per-element, tensor count only adds dispatches. */
function optCase(name: "sgd" | "adamw", total: number, label: string): BenchCase {
  // f32 words read + written per element: SGD p, g, buf in; p, buf out. AdamW adds v in and out.
  const words = name === "sgd" ? 5 : 7;
  return {
    name: `optimizer.${name}`,
    shape: `${label} params`,
    bytes: total * words * 4,
    async setup(rt: Runtime) {
      const [param, grad] = [0, 1].map(() => {
        const b = rt.pool.acquire(total * 4, "bench");
        rt.commands().clearBuffer(b);
        return b;
      });
      const buf = { params: [param], grads: [grad] };
      const plan = name === "sgd"
        ? await planSgd(rt, [total], buf, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 })
        : await planAdamW(rt, [total], buf, { lr: 1e-3 });
      plan.setStep(2); // past SGD's first step, so the momentum buffer is read as well
      return {
        planned: plan,
        release() {
          rt.pool.release(param);
          rt.pool.release(grad);
          plan.dispose();
        },
      };
    },
  };
}

export const cases: BenchCase[] = [
  optCase("sgd", 270_000, "270k"),
  optCase("sgd", 11_700_000, "11.7M"),
  optCase("adamw", 270_000, "270k"),
  optCase("adamw", 11_700_000, "11.7M"),
];
