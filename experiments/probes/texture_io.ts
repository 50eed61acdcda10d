/**
 * `deno run --allow-read --allow-env experiments/probes/texture_io.ts`: whether textures move data faster than
 * storage buffers on this adapter — 64 MB read as vec4f from a storage buffer vs `textureLoad`
 * from an rgba32float texture, and written by storage stores vs `textureStore` — alternating
 * rounds in one process (on llvmpipe both load paths run lane by lane; docs/journal/bench-history.md).
 */
import { median } from "../../bench/stats.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../../src/host/deno_env.ts";

const rt = await Runtime.create(runtimeOptionsFromEnv());
const dev = rt.device;
const W = 2048, H = 2048; // 4 Mi texels of 16 bytes
const PER = 16; // texels per invocation, strided so each step of a workgroup is contiguous
const inv = W * H / PER;
const storage = GPUBufferUsage.STORAGE;
const src = dev.createBuffer({ size: W * H * 16, usage: storage });
const sums = dev.createBuffer({ size: inv * 16, usage: storage });
const dst = dev.createBuffer({ size: W * H * 16, usage: storage });
const tex = (usage: GPUTextureUsageFlags) =>
  dev.createTexture({ size: [W, H], format: "rgba32float", usage });
const srcTex = tex(GPUTextureUsage.TEXTURE_BINDING);
const dstTex = tex(GPUTextureUsage.STORAGE_BINDING);
const at = `let e = i * ${inv}u + g.x; let xy = vec2u(e % ${W}u, e / ${W}u);`;
const kernels: Record<string, { code: string; bind: GPUBindingResource[] }> = {
  "storage load": {
    code: `@group(0) @binding(0) var<storage, read> a: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4f>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var s = vec4f(0.0);
  for (var i = 0u; i < ${PER}u; i++) { s += a[i * ${inv}u + g.x]; }
  o[g.x] = s;
}`,
    bind: [{ buffer: src }, { buffer: sums }],
  },
  "textureLoad": {
    code: `@group(0) @binding(0) var a: texture_2d<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<vec4f>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var s = vec4f(0.0);
  for (var i = 0u; i < ${PER}u; i++) { ${at} s += textureLoad(a, xy, 0); }
  o[g.x] = s;
}`,
    bind: [srcTex.createView(), { buffer: sums }],
  },
  "storage store": {
    code: `@group(0) @binding(0) var<storage, read_write> o: array<vec4f>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  for (var i = 0u; i < ${PER}u; i++) { o[i * ${inv}u + g.x] = vec4f(f32(g.x + i)); }
}`,
    bind: [{ buffer: dst }],
  },
  "textureStore": {
    code: `@group(0) @binding(0) var o: texture_storage_2d<rgba32float, write>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  for (var i = 0u; i < ${PER}u; i++) { ${at} textureStore(o, xy, vec4f(f32(g.x + i))); }
}`,
    bind: [dstTex.createView()],
  },
};
const planned = Object.entries(kernels).map(([name, k]) => {
  const pipeline = dev.createComputePipeline({
    layout: "auto",
    compute: { module: dev.createShaderModule({ code: k.code }), entryPoint: "main" },
  });
  const entries = k.bind.map((resource, binding) => ({ binding, resource }));
  const group = dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  return { name, pipeline, group };
});

async function time(p: (typeof planned)[number]): Promise<number> {
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(p.pipeline);
  pass.setBindGroup(0, p.group);
  pass.dispatchWorkgroups(inv / 64);
  pass.end();
  await dev.queue.onSubmittedWorkDone();
  const t0 = performance.now();
  dev.queue.submit([enc.finish()]);
  await dev.queue.onSubmittedWorkDone();
  return performance.now() - t0;
}

const ms = new Map(planned.map((p) => [p.name, [] as number[]]));
for (let round = 0; round < 6; round++) {
  for (const p of planned) {
    const t = await time(p);
    if (round > 0) ms.get(p.name)!.push(t); // round 0 warms up
  }
}
console.log(`${rt.report.description} (${rt.report.backend}), 64 MB per kernel, medians of 5:`);
for (const [name, t] of ms) {
  const med = median(t);
  console.log(`${name.padEnd(14)} ${med.toFixed(1).padStart(7)} ms  ${(64 / med).toFixed(2)} GB/s`);
}
