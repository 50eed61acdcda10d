import assert from "node:assert/strict";
import { buildModel } from "../src/models/zoo.ts";
import { buildSchedule } from "../src/scheduler/schedule.ts";
import { stepLifetimes, timeline } from "../src/scheduler/lifetimes.ts";
import { type Lifetime, planMemory } from "../src/scheduler/memory.ts";

function assertNoSharedOverlap(lts: Lifetime[], slotOf: Map<string, number>) {
  for (let i = 0; i < lts.length; i++) {
    for (let j = i + 1; j < lts.length; j++) {
      const a = lts[i], b = lts[j];
      if (a.start <= b.end && b.start <= a.end) {
        assert.notEqual(slotOf.get(a.key), slotOf.get(b.key), `${a.key} and ${b.key} overlap`);
      }
    }
  }
}

Deno.test("schedule: BN+ReLU fused, flatten is a view, residual joins kept", () => {
  const g = buildModel("resnet20", { inputShape: [1, 28, 28] });
  const s = buildSchedule(g, "train");
  const ops = s.layers.map((l) => l.node.op);
  assert.equal(ops.filter((o) => o === "flatten").length, 0);
  assert.equal(ops.filter((o) => o === "relu").length, 0); // every ReLU follows a BN
  assert.equal(s.layers.filter((l) => l.fusedRelu).length, 10); // stem + one per block
  assert.equal(ops.filter((o) => o === "add_relu").length, 9);
  assert.equal(ops.filter((o) => o === "conv2d").length, 19);
  const fc = s.layers.find((l) => l.node.op === "linear")!;
  // The linear layer reads the pooled tensor directly, through the flatten view.
  assert.equal(g.nodes[fc.inputs[0]].op, "adaptive_avgpool");
});

Deno.test("memory plan: shared buffers never hold two live tensors, far below keeping all", () => {
  for (const name of ["resnet20", "plain20", "resnet56"]) {
    const g = buildModel(name, { inputShape: [1, 28, 28] });
    const s = buildSchedule(g, "train");
    const keeps = s.layers.map((l) =>
      l.node.op === "batchnorm" ? { savedBytes: 8 * l.node.shape[0] } : undefined
    );
    const lts = stepLifetimes(s, 128, keeps);
    const plan = planMemory(lts);
    assertNoSharedOverlap(lts, plan.slotOf);
    assert.ok(plan.plannedBytes >= plan.liveBytesBound);
    // Activations must be kept for backward, so savings come from gradients and dead forwards.
    assert.ok(
      plan.plannedBytes < 0.75 * plan.naiveBytes,
      `${name}: ${plan.plannedBytes} vs ${plan.naiveBytes}`,
    );
    assert.ok(plan.plannedBytes <= 1.25 * plan.liveBytesBound, `${name}: slack too high`);
  }
});

Deno.test("memory plan: inference keeps only a few activations alive", () => {
  const g = buildModel("resnet56", { inputShape: [1, 28, 28] });
  const s = buildSchedule(g, "eval");
  const lts = stepLifetimes(s, 128);
  assert.ok(lts.every((l) => l.key.startsWith("act:")));
  const plan = planMemory(lts);
  assertNoSharedOverlap(lts, plan.slotOf);
  // A residual block needs its input, the branch and the output at once: ~3 big buffers.
  assert.ok(plan.slotBytes.length <= 5, `${plan.slotBytes.length} slots`);
  assert.ok(plan.plannedBytes < 0.1 * plan.naiveBytes);
});

Deno.test("lifetimes: a layer that keeps its own state frees the input its backward stops reading", () => {
  const s = buildSchedule(buildModel("resnet20", { inputShape: [1, 28, 28] }), "train");
  const tl = timeline(s);
  // layer1.0.conv2 reads the block's BN+ReLU output, which nothing else reads in backward.
  const i = s.layers.findIndex((l) => l.node.name === "layer1.0.conv2");
  const x = `act:${s.layers[i].inputs[0]}`;
  const find = (lts: Lifetime[], key: string) => lts.find((l) => l.key === key);
  const plain = stepLifetimes(s, 8);
  assert.equal(find(plain, x)!.end, tl.bwd(i));
  assert.equal(find(plain, `save:${i}`), undefined);
  const keeps = s.layers.map((_, j) => j === i ? { savedBytes: 1000, inputs: false } : undefined);
  const kept = stepLifetimes(s, 8, keeps);
  assert.equal(find(kept, x)!.end, tl.fwd(i));
  assert.deepEqual(find(kept, `save:${i}`), {
    key: `save:${i}`,
    bytes: 1000,
    start: tl.fwd(i),
    end: tl.bwd(i),
  });
  // Other layers' inputs keep their lifetimes (conv1's, the block input, read by its backward).
  assert.equal(s.layers[i - 2].node.name, "layer1.0.conv1");
  const x1 = `act:${s.layers[i - 2].inputs[0]}`;
  assert.equal(find(kept, x1)!.end, tl.bwd(i - 2));
});

Deno.test("memory plan: lifetimes are validated", () => {
  assert.throws(() => planMemory([{ key: "x", bytes: 4, start: 3, end: 2 }]), /bad lifetime for x/);
});
