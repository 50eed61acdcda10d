/**
 * Writes shaders/conv2d_winograd.gen.wgsl from the transform matrices in src/reference/winograd.ts.
 * The kernels are straight-line code — every patch value, transformed value and accumulator a
 * named `let`/`var`, never an indexed array — because lavapipe keeps indexed private arrays in
 * memory, and a 6×6 transform written by hand is 100 lines nobody could check; generated from
 * the matrices, the WGSL and the CPU reference cannot disagree about them.
 *
 * `--check` exits non-zero when the file is stale (`deno task check` runs it).
 */
import { WINOGRAD, type WinogradTile } from "../src/reference/winograd.ts";

const OUT = new URL("../shaders/conv2d_winograd.gen.wgsl", import.meta.url);
/**
 * Tiles per GEMM invocation (the accumulator tile is PX tiles × 16 channels): `gemm` holds 16,
 * `gemm_px4` 4, for layers with too few tiles to fill 16 per lane (fewer still: gemm_lanes_k).
 */
const GEMM_TILES = [16, 4] as const;

/** `Σ coef·term` as WGSL, skipping zeros and writing ±1 without a multiply. */
function lincomb(coefs: readonly number[], terms: string[]): string {
  const parts: string[] = [];
  coefs.forEach((c, i) => {
    if (c === 0) return;
    const mag = Math.abs(c);
    const t = mag === 1 ? terms[i] : `${terms[i]} * ${fmt(mag)}`;
    parts.push(parts.length === 0 ? `${c < 0 ? "-" : ""}${t}` : `${c < 0 ? " - " : " + "}${t}`);
  });
  return parts.length ? parts.join("") : "vec4f(0.0)";
}

function fmt(x: number): string {
  const s = Number.isInteger(x) ? `${x}.0` : x.toPrecision(9).replace(/0+$/, "");
  return s;
}

/**
 * Lines computing out{a}_{b} = (L · in · Rᵀ)[a][b] for in{i}_{j} = load(i, j), streamed to keep
 * few values live (lavapipe spills what does not fit its registers): column j of the input is
 * loaded and reduced by L before the next is loaded; row a of the result is formed and handed
 * to `storeRow` before the next.
 */
function streamed(
  L: readonly (readonly number[])[],
  R: readonly (readonly number[])[],
  load: (i: number, j: number) => string,
  names: { inp: string; tmp: string; out: string },
  storeRow: (a: number) => string[],
): string[] {
  const { inp, tmp, out } = names;
  const n = L[0].length, cols = R[0].length;
  const lines: string[] = [];
  for (let j = 0; j < cols; j++) {
    for (let i = 0; i < n; i++) lines.push(`let ${inp}${i}_${j} = ${load(i, j)};`);
    for (let a = 0; a < L.length; a++) {
      const terms = Array.from({ length: n }, (_, i) => `${inp}${i}_${j}`);
      lines.push(`let ${tmp}${a}_${j} = ${lincomb(L[a], terms)};`);
    }
  }
  for (let a = 0; a < L.length; a++) {
    for (let b = 0; b < R.length; b++) {
      const terms = Array.from({ length: cols }, (_, j) => `${tmp}${a}_${j}`);
      lines.push(`let ${out}${a}_${b} = ${lincomb(R[b], terms)};`);
    }
    lines.push(...storeRow(a));
  }
  return lines;
}

const indent = (lines: string[]) => lines.map((l) => `  ${l}`).join("\n");

function filterEntry(m: WinogradTile): string {
  const { G } = WINOGRAD[m];
  const a = m + 2;
  let stored = 0; // put_u walks ξ = 0, 1, …: the stores must come in that order
  const body = streamed(
    G,
    G,
    (i, j) => `taps4(ko, ci, ${i}u, ${j}u)`,
    { inp: "g", tmp: "gt", out: "u" },
    (r) =>
      Array.from({ length: a }, (_, c) => {
        if (r * a + c !== stored++) throw new Error("filter transform rows out of order");
        return `put_u(&uw, &ur, step, ci, kl, u${r}_${c});`;
      }),
  );
  return `
// Filter transform U = G g Gᵀ, one invocation per (input channel, 16 output channels) of the
// Winograd convolution, 4 channels at a time, written into the GEMM's uniform windows as vec4
// stores: neighbouring lanes (input channels) fill neighbouring 64-byte rows of U, where one
// invocation per (output, input) channel scattered 4-byte stores over all of U (lavapipe, a
// 512→512 transform: 125 → 44 ms).
@compute @workgroup_size(FILTER_WG)
fn filter_f${m}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * FILTER_WG + lid;
  if (o >= p.c * p.ktiles) { return; }
  let ci = o % p.c;
  let kb = o / p.c;
  let step = vec2u(p.ktiles / p.bpw, p.ktiles % p.bpw);
  for (var kl = 0u; kl < 16u; kl += 4u) {
    let ko = kb * 16u + kl;
    // Block ξ·K/16 + kb of U as (window, slot), stepped by put_u (see there).
    var uw = kb / p.bpw;
    var ur = kb % p.bpw;
${indent(indent(body).split("\n"))}
  }
}`;
}

function inputEntry(m: WinogradTile, c4: boolean): string {
  const { BT } = WINOGRAD[m];
  const a = m + 2;
  const fn = c4 ? "patch_c4" : "patch4";
  const body = streamed(
    BT,
    BT,
    (i, j) => `${fn}(base, y0 + ${i}, x0 + ${j})`,
    { inp: "d", tmp: "t", out: "v" },
    (r) => Array.from({ length: a }, (_, c) => `vt[${r * a + c}u * plane + o] = v${r}_${c};`),
  );
  return `
// Input transform V = Bᵀ d B for 4 channels of one tile's ${a}×${a} patch (zero outside the
// image)${c4 ? ", x packed NC4HW4" : ""}. Lanes walk tiles, so each vec4 store is contiguous
// across the workgroup.
@compute @workgroup_size(64)
fn input_f${m}${
    c4 ? "_c4" : ""
  }(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * 64u + lid; // = c/4 · T + tile
  let plane = p.c4 * p.t;
  if (o >= plane) { return; }
  let tile = o % p.t;
  let n = tile / (p.tx * p.ty);
  let r = tile % (p.tx * p.ty);
  let y0 = i32((r / p.tx) * ${m}u) - i32(p.pad);
  let x0 = i32((r % p.tx) * ${m}u) - i32(p.pad);
  let base = ${c4 ? "(n * p.c4 + o / p.t)" : "(n * p.c + (o / p.t) * 4u)"} * p.h * p.w;
${indent(body)}
}`;
}

/**
 * `v4`: each tile row of a channel stored as one vec4 (needs m = 4 and OW % 4 = 0, so a tile
 * never straddles the right edge) instead of four scalars per pixel.
 */
function outputEntry(m: WinogradTile, v4: boolean): string {
  const { AT } = WINOGRAD[m];
  const a = m + 2;
  const storeRow = (i: number): string[] => {
    if (!v4) {
      return Array.from(
        { length: m },
        (_, j) => `put_y(base, y0 + ${i}u, x0 + ${j}u, y${i}_${j} + b);`,
      );
    }
    const lines = [`if (y0 + ${i}u < p.oh) {`];
    for (let ch = 0; ch < 4; ch++) {
      const c = "xyzw"[ch];
      const row = Array.from({ length: 4 }, (_, j) => `y${i}_${j}.${c}`).join(", ");
      lines.push(
        `  put_row(base + ${ch}u * p.oh * p.ow + (y0 + ${i}u) * p.ow + x0, vec4f(${row}) + b.${c});`,
      );
    }
    lines.push("}");
    return lines;
  };
  const body = streamed(
    AT,
    AT,
    (i, j) => `mres[${i * a + j}u * plane + o]`,
    { inp: "e", tmp: "s", out: "y" },
    storeRow,
  );
  return `
// Output transform Y = Aᵀ M A for 4 channels of one tile, plus bias; pixels past the image's
// edge (partial tiles) are dropped.${v4 ? " Rows stored as vec4s." : ""}
@compute @workgroup_size(64)
fn output_f${m}${
    v4 ? "_v4" : ""
  }(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * 64u + lid; // = k/4 · T + tile
  let plane = p.k4 * p.t;
  if (o >= plane) { return; }
  let tile = o % p.t;
  let kq = o / p.t;
  let n = tile / (p.tx * p.ty);
  let r = tile % (p.tx * p.ty);
  let y0 = (r / p.tx) * ${m}u;
  let x0 = (r % p.tx) * ${m}u;
  let base = (n * p.k + kq * 4u) * p.oh * p.ow;
  let b = vec4f(bias[kq * 4u], bias[kq * 4u + 1u], bias[kq * 4u + 2u], bias[kq * 4u + 3u]);
${indent(body)}
}`;
}

/**
 * The register-tile loop every GEMM entry shares: `tiles` tiles (tile0 + i·`step`) × 4·`kv`
 * output channels of accumulators; per 4 input channels, one vec4 load of V per tile and `kv`
 * vec4 rows of U (from `u`: the uniform window `wu` at `wrow`, or storage `us` at `ubase`) per
 * channel; stores of the tiles below T.
 */
function gemmBody(tiles: number, kv: number, step: string, u: "wu[wrow" | "us[ubase"): string[] {
  const at = (i: number) => `tile0 + ${i}u${step}`;
  const body: string[] = [];
  for (let i = 0; i < tiles; i++) {
    for (let j = 0; j < kv; j++) body.push(`var a${i}_${j} = vec4f(0.0);`);
  }
  body.push("for (var q = 0u; q < p.c4; q++) {");
  body.push("  let row = vbase + q * p.t;");
  for (let i = 0; i < tiles; i++) body.push(`  let x${i} = vin[row + min(${at(i)}, last)];`);
  for (let r = 0; r < 4; r++) {
    for (let j = 0; j < kv; j++) {
      body.push(`  let w${r}_${j} = ${u} + (q * 4u + ${r}u) * 4u + ${j}u];`);
      for (let i = 0; i < tiles; i++) {
        body.push(`  a${i}_${j} = fma(vec4f(x${i}.${"xyzw"[r]}), w${r}_${j}, a${i}_${j});`);
      }
    }
  }
  body.push("}");
  for (let i = 0; i < tiles; i++) {
    body.push(`if (${at(i)} < p.t) {`);
    for (let j = 0; j < kv; j++) body.push(`  mt[mbase + ${j}u * p.t + ${at(i)}] = a${i}_${j};`);
    body.push("}");
  }
  return body;
}

function gemmEntry(PX: number): string {
  const body = gemmBody(PX, 4, " * WG", "wu[wrow");
  return `
// The (m+2)² GEMMs M[ξ] (tiles × K) = V[ξ] (tiles × C) · U[ξ] (C × K). Invocation: ${PX} tiles
// (tile0 + i·WG) × 16 output channels, accumulators as named vec4s; V rows are vec4 loads of 4
// input channels, U rows uniform gathers. One dispatch per window; workgroups walk
// (tile group, block) with the tile group fastest.
@compute @workgroup_size(WG)
fn gemm${PX === 16 ? "" : `_px${PX}`}(@builtin(workgroup_id) wid: vec3u,
    @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  let bl = g / p.tgroups;
  let b = p.block0 + bl;
  if (bl >= p.bpw || b >= p.blocks) { return; }
  let xi = b / p.ktiles;
  let kt = b % p.ktiles;
  let tile0 = (g % p.tgroups) * ${PX}u * WG + lid;
  let last = p.t - 1u;
  let vbase = xi * p.c4 * p.t;
  let wrow = bl * p.c * 4u;
  let mbase = (xi * p.k4 + kt * 4u) * p.t;
${indent(body)}
}`;
}

/** Tiles and output channels per invocation of `gemm_lanes_k`. */
const LANES_K_TILES = 16, LANES_K_CHANNELS = 8;

/**
 * The same GEMMs for layers with few tiles (4×4 and smaller images): invocations over output
 * channels instead of tiles, each holding 16 consecutive tiles × 8 channels, so no lane computes
 * clamped copies and every workgroup's V loads are one address. U is read from the window
 * buffer as storage (lanes want different channels), so one dispatch covers every window.
 */
function gemmLanesKEntry(): string {
  const PT = LANES_K_TILES, KV = LANES_K_CHANNELS / 4;
  const body = gemmBody(PT, KV, "", "us[ubase");
  return `
// The (m+2)² GEMMs for few tiles: invocation = (ξ, ${PT}-tile group, ${LANES_K_CHANNELS} output channels), the
// channels fastest, so a workgroup's lanes share their V rows and read ${LANES_K_CHANNELS} channels of U each
// (the windows as one storage array). One dispatch.
@compute @workgroup_size(WG)
fn gemm_lanes_k(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  let kgroups = p.k / ${LANES_K_CHANNELS}u;
  let kg = o % kgroups;
  let rest = o / kgroups;
  let xi = rest / p.tgroups;
  if (xi >= p.xis) { return; }
  let tile0 = (rest % p.tgroups) * ${PT}u;
  let last = p.t - 1u;
  let vbase = xi * p.c4 * p.t;
  let b = xi * p.ktiles + kg / ${16 / LANES_K_CHANNELS}u;
  let ubase = (b / p.bpw) * 4096u + (b % p.bpw) * p.c * 4u + (kg % ${
    16 / LANES_K_CHANNELS
  }u) * ${KV}u;
  let mbase = (xi * p.k4 + kg * ${KV}u) * p.t;
${indent(body)}
}`;
}

/** Columns of a matrix given by rows, as rows (Mᵀ). */
const transpose = (M: readonly (readonly number[])[]) => M[0].map((_, j) => M.map((r) => r[j]));

/**
 * Filter gradient, pass 1: dM = A dY Aᵀ (the output transform's adjoint) for 4 channels of one
 * tile's m×m of dy (zero past the image: the forward drops those pixels).
 */
function gradEntry(m: WinogradTile, c4: boolean): string {
  const A = transpose(WINOGRAD[m].AT);
  const a = m + 2;
  const fn = c4 ? "dy_c4" : "dy4";
  const body = streamed(
    A,
    A,
    (i, j) => `${fn}(base, y0 + ${i}u, x0 + ${j}u)`,
    { inp: "g", tmp: "t", out: "d" },
    (r) => Array.from({ length: a }, (_, c) => `vt[${r * a + c}u * plane + o] = d${r}_${c};`),
  );
  return `
// Filter gradient: dM = A dY Aᵀ for 4 channels of one tile's ${m}×${m} dy${
    c4 ? " (packed NC4HW4)" : ""
  },
// stored like the forward's M.
@compute @workgroup_size(64)
fn grad_f${m}${c4 ? "_c4" : ""}(@builtin(workgroup_id) wid: vec3u,
    @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * 64u + lid; // = k/4 · T + tile
  let plane = p.k4 * p.t;
  if (o >= plane) { return; }
  let tile = o % p.t;
  let n = tile / (p.tx * p.ty);
  let r = tile % (p.tx * p.ty);
  let y0 = (r / p.tx) * ${m}u;
  let x0 = (r % p.tx) * ${m}u;
  let base = ${c4 ? "(n * p.k4 + o / p.t)" : "(n * p.k + (o / p.t) * 4u)"} * p.oh * p.ow;
${indent(body)}
}`;
}

/**
 * Filter gradient, pass 2: dU[ξ] (C × K) = Σ_tiles V[ξ][·][tile]ᵀ dM[ξ][·][tile], the tiles split
 * into `p.splits` ranges with one partial dU each. Invocation: 16 input × 16 output channels
 * of one ξ and one split — 4 vec4 loads of V and 4 of dM feed 64 vec4 multiply-adds.
 */
function gemmDwEntry(): string {
  const body: string[] = [];
  for (let q = 0; q < 4; q++) {
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < 4; j++) body.push(`var a${q}_${r}_${j} = vec4f(0.0);`);
    }
  }
  body.push("for (var tile = t0; tile < t1; tile++) {");
  for (let q = 0; q < 4; q++) body.push(`  let v${q} = vin[vb + ${q}u * p.t + tile];`);
  for (let j = 0; j < 4; j++) body.push(`  let d${j} = dmin[mb + ${j}u * p.t + tile];`);
  for (let q = 0; q < 4; q++) {
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < 4; j++) {
        body.push(`  a${q}_${r}_${j} = fma(vec4f(v${q}.${"xyzw"[r]}), d${j}, a${q}_${r}_${j});`);
      }
    }
  }
  body.push("}");
  for (let q = 0; q < 4; q++) {
    for (let r = 0; r < 4; r++) {
      for (let j = 0; j < 4; j++) {
        body.push(`mt[out + ${(q * 4 + r)}u * p.k4 + ${j}u] = a${q}_${r}_${j};`);
      }
    }
  }
  return `
// Filter gradient: dU partials[split][ξ][c][k] (vec4 over k), 16 c × 16 k per invocation.
@compute @workgroup_size(WG)
fn gemm_dw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid; // = ((split · ξs + ξ) · C/16 + ct) · K/16 + kt
  let kt = o % p.ktiles;
  let ct = (o / p.ktiles) % (p.c / 16u);
  let xs = o / p.ktiles / (p.c / 16u);
  let xi = xs % p.xis;
  let sp = xs / p.xis;
  if (sp >= p.splits) { return; }
  let t0 = sp * p.per_split;
  let t1 = min(t0 + p.per_split, p.t);
  let vb = (xi * p.c4 + ct * 4u) * p.t;
  let mb = (xi * p.k4 + kt * 4u) * p.t;
  let out = ((sp * p.xis + xi) * p.c + ct * 16u) * p.k4 + kt * 4u;
${indent(body)}
}`;
}

/** Filter gradient, pass 3: dw = Gᵀ (Σ_splits dU) G per (output, input) channel pair. */
function filterGradEntry(m: WinogradTile): string {
  const GT = transpose(WINOGRAD[m].G);
  const a = m + 2;
  const body = streamed(
    GT,
    GT,
    (i, j) => `du4(${i * a + j}u, ko, ci)`,
    { inp: "e", tmp: "t", out: "g" },
    (i) => Array.from({ length: 3 }, (_, j) => `put_dw(ko, ci, ${i * 3 + j}u, g${i}_${j});`),
  );
  return `
// Filter gradient: dw (OIHW) = Gᵀ dU G, the split partials summed first; one invocation per
// (4 output channels, input channel), so the partials are vec4 loads.
@compute @workgroup_size(FILTER_WG)
fn filter_grad_f${m}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * FILTER_WG + lid;
  if (o >= p.c * p.k4) { return; }
  let ko = (o % p.k4) * 4u;
  let ci = o / p.k4;
${indent(body)}
}`;
}

const header =
  `// GENERATED by tools/gen_winograd.ts from src/reference/winograd.ts — edit those, then run
// \`deno task shaders\`.
//
// 3×3 stride-1 convolution by Winograd minimal filtering F(m×m, 3×3), m = 2 or 4 (Lavin & Gray):
// Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A per m×m output tile, summed over input channels in the
// transformed domain — (m+2)²/(9m²) of the direct convolution's multiply-adds (1/2.25, 1/4).
// On lavapipe each multiply-add's operand loads cost more than the arithmetic (docs/journal/bench-history.md,
// "Convolution ceiling"), so fewer multiply-adds at the same loads per multiply-add is what pays.
//
// Four passes (src/ops/conv2d/winograd.ts plans them):
//   filter_f{2,4}  w (OIHW, or transposed and rotated for backward-data) → U in 64 KiB uniform
//                  windows: block b = ξ·(K/16) + k/16 holds C rows of 16 channels (4 vec4s).
//   input_f{2,4}   x (NCHW; \`_c4\`: packed NC4HW4 by conv2d_pack.wgsl, one vec4 load per pixel)
//                  → V[ξ][c/4][tile] (vec4 of 4 channels), T = N·⌈OH/m⌉·⌈OW/m⌉ tiles.
//   gemm           M[ξ][k/4][tile] = Σ_c V[ξ][c][tile] · U[ξ][c][k]; 16 tiles × 16 channels per
//                  invocation (the direct kernel's tile and loads), one dispatch per window;
//                  \`gemm_px4\` 4 tiles for layers with under 16·WG tiles, \`gemm_lanes_k\` (under
//                  4·WG) invocations over output channels, one dispatch.
//   output_f{2,4}  M → y (NCHW) + bias, or y += (backward-data into an accumulated gradient);
//                  \`output_f4_v4\` stores each tile row as a vec4 (OW % 4 = 0).
// Filter gradient (dw = ∂L/∂g through the same transforms, adjoint order):
//   input_f{2,4}        x → V as above.
//   grad_f{2,4}         dy → dM[ξ][k/4][tile] = A dY Aᵀ (the output transform's adjoint).
//   gemm_dw             dU[split][ξ][c][k] = Σ_{tiles of split} V[ξ][c][tile] · dM[ξ][k][tile].
//   filter_grad_f{2,4}  dw = Gᵀ (Σ_split dU) G, OIHW.
// Layout: f32; C % 4 = 0 and K % 16 = 0 (filter gradient: C % 16 too; the planner checks).
//   Bindings per entry: 0 params; filter 1 w, 2 u (the window buffer as storage); input and
//   grad 1 x or dy, 2 V or dM; gemm 1 V, 2 window (gemm_lanes_k: all of U), 3 M; output 1 M,
//   2 bias, 3 y; gemm_dw 1 V, 2 dM, 3 partials; filter_grad 1 partials, 2 dw.

//!include common/grid.wgsl

override WG: u32 = 16u;
// Filter transforms have only C·K/16 or C·K/4 invocations (16 → 1,024 at ResNet-20's widths):
// the planner picks 8-lane workgroups for those so both of lavapipe's threads get work.
override FILTER_WG: u32 = 64u;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  k: u32, oh: u32, ow: u32, pad: u32,
  tx: u32, ty: u32, t: u32, c4: u32,
  k4: u32, ktiles: u32, tgroups: u32, bpw: u32,
  // blocks: (m+2)²·K/16; block0: this GEMM dispatch's first block; flip: the filter is read as
  // a backward-data filter (w[c][k] rotated 180°); accumulate: y += instead of y =.
  blocks: u32, block0: u32, flip: u32, accumulate: u32,
  // Filter gradient: tile splits, tiles per split, ξ count (m+2)².
  splits: u32, per_split: u32, xis: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wsrc: array<f32>;
@group(0) @binding(2) var<storage, read_write> u4: array<vec4f>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> xv: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> vt: array<vec4f>;
@group(0) @binding(1) var<storage, read> vin: array<vec4f>;
@group(0) @binding(2) var<uniform> wu: array<vec4f, 4096>;
@group(0) @binding(2) var<storage, read> us: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> mt: array<vec4f>;
@group(0) @binding(1) var<storage, read> mres: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> yv: array<vec4f>;
@group(0) @binding(2) var<storage, read> dmin: array<vec4f>;
@group(0) @binding(1) var<storage, read> parts4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dwout: array<f32>;

// Tap (i, j) of the filter from output channel ko to input channel ci of the Winograd
// convolution. Backward-data is a forward convolution of dy with w transposed (K ↔ C) and
// rotated 180°: p.c is then the original K and p.k the original C.
fn filter_tap(ko: u32, ci: u32, i: u32, j: u32) -> f32 {
  if (p.flip == 0u) { return wsrc[((ko * p.c + ci) * 3u + i) * 3u + j]; }
  return wsrc[((ci * p.k + ko) * 3u + 2u - i) * 3u + 2u - j];
}

// Tap (i, j) of the filters of output channels ko … ko + 3 from input channel ci.
fn taps4(ko: u32, ci: u32, i: u32, j: u32) -> vec4f {
  return vec4f(filter_tap(ko, ci, i, j), filter_tap(ko + 1u, ci, i, j),
    filter_tap(ko + 2u, ci, i, j), filter_tap(ko + 3u, ci, i, j));
}

// Stores U[ξ][ci][16·block + kl …+ 3] at (window uw, slot ur) and steps to ξ + 1, K/16 blocks on
// (step: K/16 as whole windows and slots):
// the window and slot are carried instead of divided out per store, because llvmpipe
// scalarizes integer division (two per store took a 512→512 filter transform 125 ms).
fn put_u(uw: ptr<function, u32>, ur: ptr<function, u32>, step: vec2u, ci: u32, kl: u32,
    val: vec4f) {
  u4[*uw * 4096u + (*ur * p.c + ci) * 4u + kl / 4u] = val;
  *uw += step.x;
  *ur += step.y;
  if (*ur >= p.bpw) {
    *ur -= p.bpw;
    *uw += 1u;
  }
}

// 4 channels (base, base + H·W, …) of pixel (yy, xx), zero in the padding.
fn patch4(base: u32, yy: i32, xx: i32) -> vec4f {
  if (yy < 0 || xx < 0 || yy >= i32(p.h) || xx >= i32(p.w)) { return vec4f(0.0); }
  let i = base + u32(yy) * p.w + u32(xx);
  let hw = p.h * p.w;
  return vec4f(x[i], x[i + hw], x[i + 2u * hw], x[i + 3u * hw]);
}

// 4 channels of pixel (yy, xx) packed NC4HW4 (base: the image's channel-quad plane), zero in
// the padding.
fn patch_c4(base: u32, yy: i32, xx: i32) -> vec4f {
  if (yy < 0 || xx < 0 || yy >= i32(p.h) || xx >= i32(p.w)) { return vec4f(0.0); }
  return xv[base + u32(yy) * p.w + u32(xx)];
}

// Four consecutive pixels of one channel row at float index i (a multiple of 4).
fn put_row(i: u32, val: vec4f) {
  var v = val;
  if (p.accumulate != 0u) { v += yv[i / 4u]; }
  yv[i / 4u] = v;
}

// 4 channels of dy pixel (yy, xx) (NCHW: base = first channel's plane), zero past the image.
fn dy4(base: u32, yy: u32, xx: u32) -> vec4f {
  if (yy >= p.oh || xx >= p.ow) { return vec4f(0.0); }
  let i = base + yy * p.ow + xx;
  let hw = p.oh * p.ow;
  return vec4f(x[i], x[i + hw], x[i + 2u * hw], x[i + 3u * hw]);
}

fn dy_c4(base: u32, yy: u32, xx: u32) -> vec4f {
  if (yy >= p.oh || xx >= p.ow) { return vec4f(0.0); }
  return xv[base + yy * p.ow + xx];
}

// dU[ξ][ci][ko] summed over the tile splits.
// dU[ξ][ci][ko … ko + 3] summed over the splits.
fn du4(xi: u32, ko: u32, ci: u32) -> vec4f {
  var acc = vec4f(0.0);
  for (var sp = 0u; sp < p.splits; sp++) {
    acc += parts4[(((sp * p.xis + xi) * p.c + ci) * p.k + ko) / 4u];
  }
  return acc;
}

// dw[ko + d][ci] at tap index tap (= 3i + j) is g[d], for the 4 output channels.
fn put_dw(ko: u32, ci: u32, tap: u32, g: vec4f) {
  let stride = p.c * 9u;
  let i = (ko * p.c + ci) * 9u + tap;
  dwout[i] = g.x;
  dwout[i + stride] = g.y;
  dwout[i + 2u * stride] = g.z;
  dwout[i + 3u * stride] = g.w;
}

fn put_y(base: u32, yy: u32, xx: u32, val: vec4f) {
  if (yy >= p.oh || xx >= p.ow) { return; }
  let i = base + yy * p.ow + xx;
  let hw = p.oh * p.ow;
  var v = val;
  if (p.accumulate != 0u) { v += vec4f(y[i], y[i + hw], y[i + 2u * hw], y[i + 3u * hw]); }
  y[i] = v.x;
  y[i + hw] = v.y;
  y[i + 2u * hw] = v.z;
  y[i + 3u * hw] = v.w;
}
`;

function generate(): string {
  const parts = [header];
  for (const m of [2, 4] as const) {
    parts.push(filterEntry(m), inputEntry(m, false), inputEntry(m, true), outputEntry(m, false));
  }
  parts.push(outputEntry(4, true));
  for (const m of [2, 4] as const) {
    parts.push(gradEntry(m, false), gradEntry(m, true), filterGradEntry(m));
  }
  parts.push(gemmDwEntry());
  for (const px of GEMM_TILES) parts.push(gemmEntry(px));
  parts.push(gemmLanesKEntry());
  return parts.join("\n") + "\n";
}

const text = generate();
if (Deno.args.includes("--check")) {
  let current = "";
  try {
    current = await Deno.readTextFile(OUT);
  } catch { /* missing counts as stale */ }
  if (current !== text) {
    console.error("shaders/conv2d_winograd.gen.wgsl is stale: run `deno task shaders`");
    Deno.exit(1);
  }
} else {
  await Deno.writeTextFile(OUT, text);
}
