import assert from "node:assert/strict";
import { buildModel } from "../../src/zoo/registry.ts";
import { buildSchedule } from "../../src/scheduler/schedule.ts";
import { activationBytes, stepLifetimes, timeline } from "../../src/scheduler/lifetimes.ts";
import { type Lifetime, planMemory } from "../../src/scheduler/memory.ts";

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

Deno.test("schedule: BN+ReLU fused, flatten is a view, each block's last BN runs its join", () => {
  const g = buildModel("resnet20", { inputShape: [1, 28, 28] });
  const s = buildSchedule(g, "train");
  const ops = s.layers.map((l) => l.node.op);
  assert.equal(ops.filter((o) => o === "flatten").length, 0);
  assert.equal(ops.filter((o) => o === "relu").length, 0); // every ReLU follows a BN
  assert.equal(s.layers.filter((l) => l.fusedRelu).length, 10); // stem + one per block
  // Every join's branch ends in a BN that feeds only the join, option A's too (whose shortcut is
  // built after the branch: the fused layer runs where the join was).
  assert.equal(ops.filter((o) => o === "add_relu").length, 0);
  const joins = s.layers.filter((l) => l.fusedAdd);
  assert.equal(joins.length, 9);
  for (const l of joins) {
    assert.equal(l.node.op, "batchnorm");
    assert.equal(g.nodes[l.output].op, "add_relu");
    assert.deepEqual(
      [...g.nodes[l.output].inputs].sort(),
      [l.node.id, l.inputs[1]].sort(),
      `${l.node.name}: inputs are the BN's input and the join's other branch`,
    );
    assert.equal(l.inputs[0], l.node.inputs[0]);
    assert.ok(!l.fusedRelu);
    // Every tensor a layer reads was written by an earlier layer.
    const i = s.layers.indexOf(l);
    for (const t of l.inputs) {
      assert.ok(t === 0 || s.layers.slice(0, i).some((p) => p.output === t), l.node.name);
    }
  }
  assert.equal(ops.filter((o) => o === "conv2d").length, 19);
  const fc = s.layers.find((l) => l.node.op === "linear")!;
  // The linear layer reads the pooled tensor directly, through the flatten view.
  assert.equal(g.nodes[fc.inputs[0]].op, "adaptive_avgpool");
  // Off: the joins are layers of their own again.
  const off = buildSchedule(g, "train", { fuseBatchNormJoin: false });
  assert.equal(off.layers.filter((l) => l.node.op === "add_relu").length, 9);
  assert.equal(off.layers.filter((l) => l.fusedAdd).length, 0);
});

Deno.test("schedule: a join of two batch norms (projection shortcut) fuses the later one", () => {
  const g = buildModel("resnet20", { inputShape: [1, 28, 28], shortcut: "B" });
  const s = buildSchedule(g, "eval");
  const joins = s.layers.filter((l) => l.fusedAdd);
  assert.equal(joins.length, 9);
  let projected = 0;
  for (const l of joins) {
    const other = g.nodes[l.inputs[1]];
    if (other.op !== "batchnorm") continue;
    projected++;
    assert.ok(other.id < l.node.id, `${l.node.name} absorbs the join, not ${other.name}`);
    // The other batch norm still runs, unfused, before the join.
    const j = s.layers.findIndex((p) => p.node === other);
    assert.ok(j >= 0 && j < s.layers.indexOf(l) && !s.layers[j].fusedAdd);
  }
  assert.equal(projected, 2);
});

Deno.test("memory plan: shared buffers never hold two live tensors, far below keeping all", () => {
  for (const name of ["resnet20", "plain20", "resnet56"]) {
    const g = buildModel(name, { inputShape: [1, 28, 28] });
    const s = buildSchedule(g, "train");
    const keeps = s.layers.map((l) =>
      l.node.op === "batchnorm"
        ? {
          savedBytes: 8 * l.node.shape[0],
          backwardScratchBytes: l.fusedAdd ? activationBytes(s, l.output, 128) : 0,
        }
        : undefined
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

Deno.test("lifetimes: a fused join reads only its BN input in backward, and its scratch lives there", () => {
  const s = buildSchedule(buildModel("resnet20", { inputShape: [1, 28, 28] }), "train");
  const tl = timeline(s);
  const find = (lts: Lifetime[], key: string) => lts.find((l) => l.key === key);
  // layer1.1's join adds layer1.0's output (read by layer1.1.conv1's backward as well) to bn2.
  const i = s.layers.findIndex((l) => l.node.name === "layer1.1.bn2");
  const l = s.layers[i];
  assert.ok(l.fusedAdd);
  const keeps = s.layers.map((_, j) =>
    j === i ? { savedBytes: 0, backwardScratchBytes: 64 } : undefined
  );
  const lts = stepLifetimes(s, 8, keeps);
  // Two phases: the join's backward at bwd(i) (reads dy and the mask, writes the skip's gradient
  // and the scratch), the batch norm's half a step later (reads the scratch and x, writes dx).
  const late = tl.bwd(i) + 0.5;
  assert.deepEqual(find(lts, `scratch:${i}`), {
    key: `scratch:${i}`,
    bytes: 64,
    start: tl.bwd(i),
    end: late,
  });
  assert.equal(find(lts, `act:${l.inputs[0]}`)!.end, late); // x̂ is recomputed from x
  assert.equal(find(lts, `grad:${l.inputs[0]}`)!.start, late);
  assert.equal(find(lts, `act:${l.output}`)!.end, tl.bwd(i)); // the join's mask
  assert.equal(find(lts, `grad:${l.output}`)!.end, tl.bwd(i));
  assert.equal(find(lts, `grad:${l.inputs[1]}`)!.start, tl.bwd(i));
  // So the output gradient's buffer can take the BN input's gradient: no more memory than the
  // two layers took (at every batch, the bound on live bytes is the unfused schedule's).
  const unfused = buildSchedule(s.graph, "train", { fuseBatchNormJoin: false });
  for (const batch of [8, 128]) {
    // The batch norm rule's scratch: one gradient of the join's size.
    const bound = (sc: typeof s) =>
      planMemory(stepLifetimes(
        sc,
        batch,
        sc.layers.map((p) =>
          p.fusedAdd
            ? { savedBytes: 0, backwardScratchBytes: activationBytes(sc, p.output, batch) }
            : undefined
        ),
      )).liveBytesBound;
    assert.ok(bound(s) <= bound(unfused), `batch ${batch}: ${bound(s)} vs ${bound(unfused)}`);
  }
  // The skip branch (layer1.0's join output) lives until its own join's backward reads the mask.
  const prev = s.layers.findIndex((p) => p.output === l.inputs[1]);
  assert.equal(s.layers[prev].node.name, "layer1.0.bn2");
  assert.equal(find(lts, `act:${l.inputs[1]}`)!.end, tl.bwd(prev));
  // A skip no backward reads ends at the fused layer's forward: layer2.0's shortcut output.
  const k = s.layers.findIndex((p) => p.node.name === "layer2.0.bn2");
  assert.ok(s.layers[k].fusedAdd);
  assert.equal(s.graph.nodes[s.layers[k].inputs[1]].op, "shortcut_a");
  assert.equal(find(lts, `act:${s.layers[k].inputs[1]}`)!.end, tl.fwd(k));
});

Deno.test("memory plan: lifetimes are validated", () => {
  assert.throws(() => planMemory([{ key: "x", bytes: 4, start: 3, end: 2 }]), /bad lifetime for x/);
});
