import assert from "node:assert/strict";
import { countMacs, countParameters, countWeightLayers, type Graph } from "../../src/graph/ir.ts";
import {
  buildModel,
  countMainPathLayers,
  countProjectionLayers,
  countShortcutParameters,
  listModels,
  modelInfo,
} from "../../src/zoo/registry.ts";
import { resnetImageNet } from "../../src/zoo/resnet_imagenet.ts";
import { resnetCifar } from "../../src/zoo/resnet_cifar.ts";

/** Written by tests/fixtures/torchvision_names.py from torch/torchvision themselves. */
interface FixtureModel {
  inputShape: number[];
  params: number;
  macs: number;
  state?: [string, number[]][];
  numBatchesTracked?: string[];
}
const fixture: { models: Record<string, FixtureModel> } = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/torchvision_names.json", import.meta.url)),
);

const node = (g: Graph, name: string) => {
  const n = g.nodes.find((n) => n.name === name);
  assert.ok(n, `no node ${name}`);
  return n;
};
/** The conv node of that name, narrowed so its kernel and stride can be read. */
function conv(g: Graph, name: string) {
  const n = node(g, name);
  assert.ok(n.op === "conv2d");
  return n;
}
const ops = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

Deno.test("parameter counts match torchvision and the paper exactly", () => {
  const expected: Record<string, number> = {
    resnet18: 11_689_512,
    resnet34: 21_797_672,
    resnet50: 25_557_032,
    resnet101: 44_549_160,
    resnet152: 60_192_808,
    vgg19: 143_667_240,
    vgg19_bn: 143_678_248,
    resnet20: 269_722,
    resnet32: 464_154,
    resnet44: 658_586,
    resnet56: 853_018,
    resnet110: 1_727_962,
  };
  for (const [name, count] of Object.entries(expected)) {
    assert.equal(countParameters(buildModel(name)), count, name);
    assert.equal(fixture.models[name].params, count, `fixture ${name}`);
  }
});

Deno.test("state_dict names and shapes match torchvision in order", () => {
  for (const name of ["resnet18", "resnet50", "vgg19", "vgg19_bn", "resnet20"]) {
    const want = fixture.models[name];
    const g = buildModel(name);
    assert.deepEqual(g.params.map((p) => [p.name, [...p.shape]]), want.state, name);
    // The IR has no num_batches_tracked buffers (bookkeeping, not weights): one per BN module.
    const bns = g.nodes.filter((n) => n.op === "batchnorm").map((n) =>
      `${n.name}.num_batches_tracked`
    );
    assert.deepEqual(bns, want.numBatchesTracked, name);
  }
});

Deno.test("MACs match a hand count and torch hooks", () => {
  const convMacs = (hw: number, cout: number, cin: number, k: number) =>
    hw * hw * cout * cin * k * k;
  const stage = (hw: number, c: number) =>
    convMacs(hw, c, c / 2, 3) + 3 * convMacs(hw, c, c, 3) + convMacs(hw, c, c / 2, 1);
  const resnet18 = convMacs(112, 64, 3, 7) + 4 * convMacs(56, 64, 64, 3) + stage(28, 128) +
    stage(14, 256) + stage(7, 512) + 512 * 1000;
  assert.equal(resnet18, 1_814_073_344);
  assert.equal(countMacs(buildModel("resnet18")), resnet18);
  assert.equal(countMacs(buildModel("resnet50")), 4_089_184_256);
  for (const [name, m] of Object.entries(fixture.models)) {
    assert.equal(countMacs(buildModel(name)), m.macs, name);
  }
});

Deno.test("weight layers count the main path as the paper does; projections apart", () => {
  const cases: [string, "A" | "B" | "C" | undefined, number, number][] = [
    ["resnet18", undefined, 18, 3],
    ["resnet34", undefined, 34, 3],
    ["resnet50", undefined, 50, 4],
    ["resnet152", undefined, 152, 4],
    ["resnet18", "A", 18, 0],
    ["resnet18", "C", 18, 8],
    ["plain34", undefined, 34, 0],
    ["vgg19", undefined, 19, 0],
    ["resnet20", undefined, 20, 0],
    ["resnet20", "B", 20, 2],
    ["resnet20", "C", 20, 9],
    ["resnet110", undefined, 110, 0],
    ["plain56", undefined, 56, 0],
  ];
  for (const [name, shortcut, main, proj] of cases) {
    const g = buildModel(name, { shortcut });
    assert.equal(countMainPathLayers(g), main, `${name} ${shortcut}`);
    assert.equal(countProjectionLayers(g), proj, `${name} ${shortcut}`);
    assert.equal(countWeightLayers(g), main + proj, `${name} ${shortcut}`);
  }
  const r20 = buildModel("resnet20");
  assert.equal(ops(r20, "conv2d"), 19);
  assert.equal(ops(r20, "linear"), 1);
});

Deno.test("plain nets have no residual joins and share the main-path weights", () => {
  for (const name of listModels().filter((n) => n.startsWith("plain"))) {
    const g = buildModel(name);
    assert.equal(ops(g, "add_relu"), 0, name);
    assert.equal(ops(g, "shortcut_a"), 0, name);
    assert.equal(countShortcutParameters(g), 0, name);
    const twin = buildModel(name.replace("plain", "resnet"));
    assert.equal(countParameters(g), countParameters(twin) - countShortcutParameters(twin), name);
    assert.equal(g.params.length + (countProjectionLayers(twin) * 5), twin.params.length, name);
  }
});

Deno.test("option A adds no parameters; B and C add exactly the projections", () => {
  for (const name of ["resnet20", "resnet56", "resnet18", "resnet50"]) {
    const a = buildModel(name, { shortcut: "A" });
    assert.equal(countShortcutParameters(a), 0, name);
    assert.ok(ops(a, "shortcut_a") > 0, name);
  }
  const r20 = buildModel("resnet20");
  assert.equal(ops(r20, "shortcut_a"), 2); // entering layer2 and layer3
  assert.equal(ops(r20, "add_relu"), 9);
  // Option B: 16→32 and 32→64 projections, each a 1×1 conv and its BN (weight + bias).
  const b = buildModel("resnet20", { shortcut: "B" });
  assert.equal(countParameters(b), 269_722 + (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64));
  assert.deepEqual(
    b.params.filter((p) => p.name.startsWith("layer2.0.downsample")).map((p) => [p.name, p.shape]),
    [
      ["layer2.0.downsample.0.weight", [32, 16, 1, 1]],
      ["layer2.0.downsample.1.weight", [32]],
      ["layer2.0.downsample.1.bias", [32]],
      ["layer2.0.downsample.1.running_mean", [32]],
      ["layer2.0.downsample.1.running_var", [32]],
    ],
  );
  // Bottleneck layer1.0 widens 64 → 256 at stride 1, so option A pads there too.
  assert.equal(ops(buildModel("resnet50", { shortcut: "A" }), "shortcut_a"), 4);
  // Option C: a projection on all 9 blocks; 16 → 16 ones included.
  const c = buildModel("resnet20", { shortcut: "C" });
  const proj = 3 * (16 * 16 + 32) + (16 * 32 + 64) + 2 * (32 * 32 + 64) + (32 * 64 + 128) +
    2 * (64 * 64 + 128);
  assert.equal(countShortcutParameters(c), proj);
  assert.equal(countParameters(c), 269_722 + proj);
  assert.equal(ops(c, "shortcut_a"), 0);
  const a18 = buildModel("resnet18", { shortcut: "A" });
  const b18 = buildModel("resnet18");
  assert.equal(countParameters(a18), countParameters(b18) - countShortcutParameters(b18));
});

Deno.test("torchvision v1.5 bottleneck strides on the 3×3 conv", () => {
  const g = buildModel("resnet50");
  const c1 = node(g, "layer2.0.conv1"), c2 = node(g, "layer2.0.conv2");
  assert.ok(c1.op === "conv2d" && c1.stride === 1 && c1.kernel === 1);
  assert.ok(c2.op === "conv2d" && c2.stride === 2 && c2.kernel === 3);
  assert.deepEqual(node(g, "layer4.2.bn3").shape, [2048, 7, 7]);
  assert.deepEqual(g.nodes[g.output].shape, [1000]);
});

Deno.test("input size picks the stem; stem can be forced", () => {
  const big = buildModel("resnet18");
  assert.ok(conv(big, "conv1").kernel === 7 && ops(big, "maxpool") === 1);
  assert.deepEqual(node(big, "layer1.1.bn2").shape, [64, 56, 56]);

  const small = buildModel("resnet18", { inputShape: [3, 32, 32], classes: 10 });
  assert.ok(conv(small, "conv1").kernel === 3 && conv(small, "conv1").stride === 1);
  assert.equal(ops(small, "maxpool"), 0);
  assert.deepEqual(node(small, "layer4.1.bn2").shape, [512, 4, 4]);
  assert.deepEqual(small.nodes[small.output].shape, [10]);

  const forced = resnetImageNet({ depth: 18, inputShape: [3, 32, 32], stem: "imagenet" });
  assert.deepEqual(node(forced, "layer4.1.bn2").shape, [512, 1, 1]);
  const forcedSmall = resnetImageNet({ depth: 18, stem: "cifar" });
  assert.deepEqual(node(forcedSmall, "layer1.0.bn1").shape, [64, 224, 224]);
  // From the registry, as users choose it: pretrained 7×7 stems on small inputs, and back.
  const tv = buildModel("resnet50", { inputShape: [3, 32, 32], classes: 37, stem: "imagenet" });
  assert.ok(conv(tv, "conv1").kernel === 7 && ops(tv, "maxpool") === 1);
  assert.deepEqual(tv.nodes[tv.output].shape, [37]);
  const cifar = buildModel("resnet34", { stem: "cifar" });
  assert.ok(conv(cifar, "conv1").kernel === 3 && ops(cifar, "maxpool") === 0);
});

Deno.test("CIFAR family takes any C×H×W input", () => {
  const mnist = buildModel("resnet20", { inputShape: [1, 28, 28] });
  assert.deepEqual(node(mnist, "conv1").shape, [16, 28, 28]);
  assert.deepEqual(node(mnist, "layer3.2.bn2").shape, [64, 7, 7]);
  assert.equal(countParameters(mnist), 269_722 - 2 * 16 * 9); // one input channel, not three
  const r = resnetCifar({ depth: 32, inputShape: [3, 32, 32], classes: 100 });
  assert.equal(countParameters(r), 464_154 + 90 * 65);
});

Deno.test("VGG keeps torchvision's 7×7 classifier input for small inputs", () => {
  const g = buildModel("vgg19", { inputShape: [3, 32, 32], classes: 10 });
  assert.deepEqual(node(g, "features.36").shape, [512, 1, 1]);
  assert.deepEqual(node(g, "avgpool").shape, [512, 7, 7]);
  assert.equal(countParameters(g), 143_667_240 - 4096 * 990 - 990);
  assert.equal(ops(g, "dropout"), 2);
  assert.ok(g.nodes.every((n) => n.op !== "dropout" || n.p === 0.5));
  assert.throws(
    () => buildModel("vgg19", { inputShape: [1, 28, 28] }),
    /vgg19: input 28×28 is too small/,
  );
});

Deno.test("width multiplier scales the base width", () => {
  assert.equal(node(buildModel("resnet20", { width: 2 }), "layer3.0.conv1").shape[0], 128);
  const half = buildModel("resnet18", { width: 0.5 });
  assert.equal(node(half, "conv1").shape[0], 32);
  assert.deepEqual(half.params.at(-2)!.shape, [1000, 256]);
  assert.equal(node(buildModel("resnet50", { width: 0.5 }), "layer4.0.bn3").shape[0], 1024);
  assert.equal(node(buildModel("vgg19", { width: 0.25 }), "features.0").shape[0], 16);
});

Deno.test("registry lists every model with its defaults", () => {
  const names = listModels();
  for (
    const n of [
      "resnet18",
      "resnet34",
      "resnet50",
      "resnet101",
      "resnet152",
      "plain18",
      "plain34",
      "vgg19",
      "vgg19_bn",
      "resnet20",
      "resnet32",
      "resnet44",
      "resnet56",
      "resnet110",
      "plain20",
      "plain32",
      "plain44",
      "plain56",
      "plain110",
    ]
  ) assert.ok(names.includes(n), n);
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(modelInfo("resnet50").inputShape, [3, 224, 224]);
  assert.equal(modelInfo("resnet50").classes, 1000);
  assert.deepEqual(modelInfo("resnet56").inputShape, [3, 32, 32]);
  assert.equal(buildModel("resnet56").classes, 10);
});

Deno.test("bad names, shapes and options fail clearly", () => {
  assert.throws(
    () => buildModel("resnet19"),
    (e: Error) => /unknown model "resnet19"/.test(e.message) && e.message.includes("resnet18, "),
  );
  assert.throws(() => buildModel("resnet20", { inputShape: [3, 32] as never }), /input shape/);
  assert.throws(() => buildModel("resnet20", { inputShape: [3, 0, 32] }), /input shape/);
  assert.throws(() => buildModel("resnet18", { classes: 0 }), /classes must be a positive/);
  assert.throws(() => buildModel("resnet18", { width: -1 }), /width multiplier/);
  assert.throws(() => buildModel("plain18", { shortcut: "B" }), /plain18 has no shortcuts/);
  assert.throws(() => buildModel("vgg19", { shortcut: "A" }), /no shortcuts/);
  assert.throws(() => buildModel("resnet20", { shortcut: "D" as never }), /shortcut must be/);
  assert.throws(() => resnetCifar({ depth: 21 }), /6n \+ 2/);
  assert.throws(
    () => buildModel("resnet18", { stem: "small" as never }),
    /stem must be one of "imagenet", "cifar", "auto", got "small"/,
  );
  assert.throws(
    () => buildModel("resnet20", { stem: "imagenet" }),
    /resnet20 has a fixed stem; the stem option applies to ImageNet ResNets only/,
  );
  assert.throws(() => resnetImageNet({ depth: 19 as never }), /depth must be one of/);
});

Deno.test("deno task zoo prints an aligned table and --json", async () => {
  const run = async (...args: string[]) => {
    const cli = new URL("../../src/cli/zoo.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), { args: ["run", cli, ...args] }).output();
    return { code: out.code, text: new TextDecoder().decode(out.stdout) };
  };
  const json = await run("--json");
  assert.equal(json.code, 0);
  const rows = JSON.parse(json.text);
  assert.deepEqual(rows.map((r: { name: string }) => r.name), listModels());
  assert.deepEqual(rows[0], {
    name: "resnet18",
    family: "imagenet-resnet",
    inputShape: [3, 224, 224],
    classes: 1000,
    params: 11_689_512,
    weightLayers: 18,
    projections: 3,
    macs: 1_814_073_344,
  });
  const table = await run();
  const lines = table.text.trimEnd().split("\n");
  assert.equal(lines.length, listModels().length + 2);
  assert.ok(new Set(lines.map((l) => l.length)).size === 1, "rows are aligned");
  assert.match(lines.find((l) => l.startsWith("resnet50 "))!, /25,557,032\s+50\s+4\s+4\.089$/);
  assert.equal((await run("--bogus")).code, 2);
});
