/**
 * Where the convolution forward's time goes on a software adapter, and how far any register tile
 * could get: the implicit-GEMM inner loop at the 3×3 64→64 32×32 batch-32 target shape (same
 * FLOPs, same per-invocation tile and reduction length, no padding masks), with each operand's
 * loads switched on or off:
 *
 * - x: per-lane vec4 storage loads (what `forward_uw_x4` does), vec4 loads from a uniform buffer,
 *   `textureLoad` from an rgba32float texture (8192 texels wide), or no load (a value computed
 *   from the index);
 * - w: uniform-window gathers indexed by the loop (what the kernel does), uniform loads at
 *   constant offsets (what gallivm is said to turn into one scalar load), or no load.
 *
 * Tiles: P pixels × CH output channels per invocation, accumulators as named vec4 values (never
 * an indexed array). Every variant runs the whole op (K/CH dispatches) in alternating rounds of
 * one process; medians are printed. Nothing here is used by resgpu: it is the evidence for the
 * "Convolution ceiling" section of docs/journal/bench-history.md.
 *
 *   deno run --allow-env experiments/probes/conv_ceiling.ts [--rounds 5] [--json]
 */
import { median } from "../../bench/stats.ts";
import { defineFlags, parseArgsOrExit } from "../../src/app/args.ts";

const flags = defineFlags({
  rounds: { type: "int", default: 5, min: 1, help: "alternating rounds (median reported)" },
  json: { type: "boolean", default: false, help: "one JSON array instead of a table" },
});
const args = parseArgsOrExit(
  flags,
  Deno.args,
  "deno run --allow-env experiments/probes/conv_ceiling.ts",
);

type XLoad = "storage" | "uniform" | "texture" | "none";
type WLoad = "gather" | "const" | "none";
interface Variant {
  px: number;
  ch: number;
  x: XLoad;
  w: WLoad;
}

const N = 32, C = 64, HW = 32 * 32, K = 64, TAPS = 9, WG = 16;
const M = N * HW;
const X4 = M * C / 4; // x as vec4s of 4 channels (NC4HW4)
const FLOPS = 2 * M * K * C * TAPS;

function shader(v: Variant): string {
  const j4 = v.ch / 4;
  const body: string[] = [];
  for (let p = 0; p < v.px; p++) {
    for (let j = 0; j < j4; j++) body.push(`var a${p}_${j} = vec4f(0.0);`);
  }
  // One iteration = one tap × 4 input channels = 4 reduction rows.
  body.push(`for (var t = 0u; t < ${TAPS * C / 4}u; t++) {`);
  for (let p = 0; p < v.px; p++) {
    const i = `(base + ${p * WG}u + t * ${M}u) % ${X4}u`;
    const load = v.x === "storage"
      ? `xs[${i}]`
      : v.x === "uniform"
      ? `xu[(${i}) & 4095u]`
      : v.x === "texture"
      ? `textureLoad(xt, tex_at(${i}), 0)`
      : `vec4f(f32(${i}) * 1e-6)`;
    body.push(`  let x${p} = ${load};`);
  }
  for (let q = 0; q < 4; q++) {
    for (let j = 0; j < j4; j++) {
      const r = q * j4 + j;
      const load = v.w === "gather"
        ? `wu[(t * ${4 * j4}u + ${r}u) & 4095u]`
        : v.w === "const"
        ? `wu[${r & 4095}u]`
        : `vec4f(f32(t) * 1e-3 + ${(r * 0.01).toFixed(2)})`;
      body.push(`  let w${q}_${j} = ${load};`);
      for (let p = 0; p < v.px; p++) {
        body.push(`  a${p}_${j} = fma(vec4f(x${p}.${"xyzw"[q]}), w${q}_${j}, a${p}_${j});`);
      }
    }
  }
  body.push("}");
  const all = [];
  for (let p = 0; p < v.px; p++) for (let j = 0; j < j4; j++) all.push(`a${p}_${j}`);
  // Every accumulator feeds the store, so nothing is dead code.
  body.push(`y[g * ${WG}u + lid] = dot(${all.join(" + ")}, vec4f(1.0));`);
  return `
@group(0) @binding(0) var<storage, read> xs: array<vec4f>;
@group(0) @binding(1) var<uniform> xu: array<vec4f, 4096>;
@group(0) @binding(2) var<uniform> wu: array<vec4f, 4096>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var xt: texture_2d<f32>;
fn tex_at(i: u32) -> vec2u {
  return vec2u(i & 8191u, i >> 13u);
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  let base = g * ${WG * v.px}u + lid;
  ${body.join("\n  ")}
}`;
}

const VARIANTS: Variant[] = [
  { px: 16, ch: 16, x: "storage", w: "gather" }, // forward_uw_x4's tile and loads
  { px: 16, ch: 16, x: "uniform", w: "gather" },
  { px: 16, ch: 16, x: "texture", w: "gather" },
  { px: 16, ch: 16, x: "storage", w: "const" },
  { px: 16, ch: 16, x: "storage", w: "none" },
  { px: 16, ch: 16, x: "none", w: "gather" },
  { px: 16, ch: 16, x: "none", w: "none" }, // the tile's arithmetic ceiling
  { px: 8, ch: 32, x: "storage", w: "none" },
  { px: 8, ch: 64, x: "storage", w: "none" },
  { px: 8, ch: 64, x: "storage", w: "const" },
];

const adapter = await navigator.gpu?.requestAdapter();
if (!adapter) {
  console.error("error: no WebGPU adapter (see README, 'Choosing the adapter')");
  Deno.exit(1);
}
const device = await adapter.requestDevice();
const usage = (u: number) => ({ usage: u });
const xs = device.createBuffer({ size: X4 * 16, ...usage(GPUBufferUsage.STORAGE) });
const xu = device.createBuffer({ size: 65536, ...usage(GPUBufferUsage.UNIFORM) });
const wu = device.createBuffer({ size: 65536, ...usage(GPUBufferUsage.UNIFORM) });
const y = device.createBuffer({ size: M * 4, ...usage(GPUBufferUsage.STORAGE) });
const xt = device.createTexture({
  size: [8192, X4 / 8192],
  format: "rgba32float",
  usage: GPUTextureUsage.TEXTURE_BINDING,
});
const resources: Record<number, GPUBindingResource> = {
  0: { buffer: xs },
  1: { buffer: xu },
  2: { buffer: wu },
  3: { buffer: y },
  4: xt.createView(),
};

const runs = VARIANTS.map((v) => {
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module: device.createShaderModule({ code: shader(v) }), entryPoint: "main" },
  });
  // "auto" layouts hold only the bindings a variant uses.
  const used = [0, 1, 2, 3, 4].filter((b) =>
    b === 3 || (b === 0 && v.x === "storage") || (b === 1 && v.x === "uniform") ||
    (b === 2 && v.w !== "none") || (b === 4 && v.x === "texture")
  );
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: used.map((b) => ({ binding: b, resource: resources[b] })),
  });
  return { v, pipeline, bindGroup, ms: [] as number[] };
});

async function time(r: typeof runs[number]): Promise<number> {
  const t0 = performance.now();
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let t = 0; t < K / r.v.ch; t++) {
    pass.setPipeline(r.pipeline);
    pass.setBindGroup(0, r.bindGroup);
    pass.dispatchWorkgroups(M / (r.v.px * WG));
  }
  pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

for (const r of runs) await time(r); // first dispatch compiles
for (let i = 0; i < args.rounds; i++) for (const r of runs) r.ms.push(await time(r));

const results = runs.map(({ v, ms }) => {
  const med = median(ms);
  return { ...v, ms: +med.toFixed(1), gflops: +(FLOPS / med / 1e6).toFixed(1) };
});
if (args.json) {
  console.log(JSON.stringify({ adapter: adapter.info.description, results }));
} else {
  console.log(`adapter: ${adapter.info.description || adapter.info.vendor}`);
  console.log("tile        x loads   w loads        ms  GFLOP/s");
  for (const r of results) {
    console.log(
      `${`${r.px}px×${r.ch}ch`.padEnd(12)}${r.x.padEnd(10)}${r.w.padEnd(10)}` +
        `${String(r.ms).padStart(7)}  ${String(r.gflops).padStart(7)}`,
    );
  }
}
