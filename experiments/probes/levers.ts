/**
 * `deno run --allow-read --allow-env experiments/probes/levers.ts [--n N] [--rounds R] [--only a,b]`: which
 * levers make a memory-bound elementwise kernel fast on this adapter. Every variant computes
 * y = max(a + b, 0) over n f32 (8 bytes read, 4 written per element); variants differ in load
 * width (f32 vs vec4f), elements per invocation, workgroup size and index order. Variants are
 * timed in alternating rounds in one process (the machine is shared) and medians reported.
 */
import { median } from "../../bench/stats.ts";
import { Runtime } from "../../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../../src/host/deno_env.ts";

interface Variant {
  name: string;
  vec: boolean;
  /** Elements (vec: vec4s) per invocation. */
  per: number;
  wg: number;
  /** strided: i = base + k·WG + lid (lanes adjacent); contig: i = (gid·per) + k (lanes per apart). */
  order: "strided" | "contig";
}

function wgsl(v: Variant): string {
  const T = v.vec ? "vec4f" : "f32";
  const zero = v.vec ? "vec4f(0.0)" : "0.0";
  const idx = v.order === "strided"
    ? `let i = (g * ${v.per}u + k) * ${v.wg}u + lid;`
    : `let i = (g * ${v.wg}u + lid) * ${v.per}u + k;`;
  return `
struct P { n: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<${T}>;
@group(0) @binding(2) var<storage, read> b: array<${T}>;
@group(0) @binding(3) var<storage, read_write> y: array<${T}>;
@compute @workgroup_size(${v.wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + nwg.x * wid.y;
  for (var k = 0u; k < ${v.per}u; k++) {
    ${idx}
    if (i < p.n) {
      y[i] = max(a[i] + b[i], ${zero});
    }
  }
}`;
}

const args = Deno.args;
const opt = (k: string, d: string) => {
  const i = args.indexOf(k);
  return i >= 0 ? args[i + 1] : d;
};
const n = Number(opt("--n", String(32 * 16 * 28 * 28)));
const rounds = Number(opt("--rounds", "5"));
const only = opt("--only", "").split(",").filter(Boolean);

const variants: Variant[] = [];
for (const wg of [64, 256]) {
  for (const per of [1, 4, 16]) variants.push({ name: "", vec: false, per, wg, order: "strided" });
  for (const per of [1, 4, 16]) variants.push({ name: "", vec: true, per, wg, order: "strided" });
}
variants.push({ name: "", vec: true, per: 4, wg: 128, order: "strided" });
variants.push({ name: "", vec: true, per: 4, wg: 64, order: "contig" });
variants.push({ name: "", vec: true, per: 16, wg: 64, order: "contig" });
variants.push({ name: "", vec: true, per: 64, wg: 8, order: "strided" });
variants.push({ name: "", vec: true, per: 256, wg: 1, order: "strided" });
for (const v of variants) v.name = `${v.vec ? "vec4" : "f32 "} per${v.per} wg${v.wg} ${v.order}`;
const chosen = only.length
  ? variants.filter((v) => only.some((o) => v.name.includes(o)))
  : variants;

const rt = await Runtime.create(runtimeOptionsFromEnv());
console.log(`adapter: ${rt.report.description}; n = ${n}`);
const bufs = [0, 1, 2].map(() => {
  const b = rt.pool.acquire(n * 4, "lever");
  rt.commands().clearBuffer(b);
  return b;
});
const plans = await Promise.all(chosen.map(async (v) => {
  const k = await rt.kernelFromSource(v.name, wgsl(v), "main");
  const count = v.vec ? n / 4 : n;
  const u = rt.uniform(new Uint32Array([count, 0, 0, 0]));
  const groups = Math.ceil(count / (v.wg * v.per));
  const bg = rt.bindGroup(k, [u, ...bufs]);
  return { v, run: () => rt.dispatch(k, bg, groups), ms: [] as number[] };
}));
const REPS = 20;
for (let r = 0; r < rounds; r++) {
  for (const p of plans) {
    p.run();
    await rt.sync();
    const t0 = performance.now();
    for (let i = 0; i < REPS; i++) p.run();
    await rt.sync();
    p.ms.push((performance.now() - t0) / REPS);
  }
}
for (const p of plans) {
  const ms = median(p.ms);
  console.log(
    `${p.v.name.padEnd(32)} ${ms.toFixed(3).padStart(8)} ms ${
      (12 * n / ms / 1e6).toFixed(2).padStart(6)
    } GB/s`,
  );
}
rt.dispose();
