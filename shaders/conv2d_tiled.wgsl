// 2-D convolution as a workgroup-tiled implicit GEMM, for hardware GPUs (the kernel policy's
// `convTiled`; src/ops/conv2d/tiled.ts plans it). The direct kernels (conv2d_forward.wgsl …) keep
// each invocation's operands in registers only, loading every x and w value from global memory
// per invocation — right for lavapipe, where workgroup memory is emulated lane by lane, but on a
// GPU each global load then feeds only ~5 multiply-adds. Here a workgroup stages both operand
// tiles in workgroup memory, so each global load feeds 32.
//
// Layout: x NCHW, w OIHW (K, C, KH, KW), bias K, y / dy NCHW (N, K, OH, OW); f32, groups 1.
// Tiling: 256 invocations own a 64 × 64 tile of the GEMM's output; invocation (tx, ty) =
//   (lid % 16, lid / 16) accumulates rows tx + 16i × columns ty + 16j (i, j < 4), so reads of
//   the staged tiles are consecutive (rows) or broadcast (columns) across a warp. The reduction
//   advances 16 at a time: all 256 invocations load the two 16 × 64 operand tiles (4 values
//   each, consecutive lanes at consecutive addresses of the NCHW / OIHW operand) into workgroup
//   memory between two barriers. Tiles whose loads run along the reduction are stored with a
//   row stride of 65 floats, so those stores do not collide in one memory bank.
// Entries:
//   forward      Y[m, k] = Σ_r X̂[m, r] · W[k, r] (+ bias[k]; y += with `acc`), m = (n, oy, ox)
//                over output pixels, r = (c, ky, kx) over the receptive field (X̂ is im2col of
//                x, never stored). `flip`: W[k, r] is read as w[c][k] rotated 180° — the
//                backward-data of a stride-1 convolution as the forward of its transpose (the
//                planner passes the transposed shape). `splits` > 1: workgroup (split, tile)
//                sums r in [split·per_split, +per_split) into partial slice `split` of y (no
//                bias), and conv2d_reduce.wgsl adds the slices.
//   filter_grad  dW[k, r] = Σ_m dY[m, k] · X̂[m, r], m in [split·per_split, +per_split): slice
//                `split` of the partials (or dw itself when splits = 1).
// Bindings: forward 0 params, 1 x, 2 w, 3 bias, 4 y (rw); filter_grad 0 params, 1 x, 2 dy,
//   3 dw or partials (rw).
// Grid: 1-D folded; workgroup g = split·tiles + tile, tile = row tile · tiles_n + column tile.

//!include common/grid.wgsl

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  k: u32, kh: u32, kw: u32, stride: u32,
  pad: u32, oh: u32, ow: u32, m: u32,
  // r = C·KH·KW; tiles = row tiles × tiles_n (column tiles); splits of the reduction.
  r: u32, tiles_n: u32, tiles: u32, splits: u32,
  per_split: u32, flip: u32, acc: u32, _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;

const BM: u32 = 64u;
const BN: u32 = 64u;
const BK: u32 = 16u;
// Row stride of a staged tile stored along the reduction (see the header).
const PADDED: u32 = 65u;

var<workgroup> ta: array<f32, 1040>;
var<workgroup> tb: array<f32, 1040>;

// x at receptive-field offset r of the window whose top-left input pixel is (iy0, ix0) in image
// `base`; 0 in the padding and past the reduction.
fn x_at(base: u32, iy0: i32, ix0: i32, r: u32) -> f32 {
  let taps = p.kh * p.kw;
  if (r >= p.r) { return 0.0; }
  let c = r / taps;
  let t = r % taps;
  let iy = iy0 + i32(t / p.kw);
  let ix = ix0 + i32(t % p.kw);
  if (iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w)) { return 0.0; }
  return x[base + (c * p.h + u32(iy)) * p.w + u32(ix)];
}

// Output pixel m as (x offset of its image, top-left input coordinates of its window).
struct Window { base: u32, iy0: i32, ix0: i32 }

fn window_of(m: u32) -> Window {
  let ohw = p.oh * p.ow;
  let img = m / ohw;
  let pix = m % ohw;
  return Window(
    img * p.c * p.h * p.w,
    i32(pix / p.ow * p.stride) - i32(p.pad),
    i32(pix % p.ow * p.stride) - i32(p.pad),
  );
}

// The 4 × 4 accumulators of one invocation: a[i] holds row tx + 16i, component j column ty + 16j.
struct Acc { a0: vec4f, a1: vec4f, a2: vec4f, a3: vec4f }

// Workgroup g's split of the reduction and the first output row and column of its tile. Built
// from g alone, so it stays workgroup-uniform: the reduction loops around barriers depend on it.
struct Place { split: u32, row0: u32, col0: u32 }

fn place_of(g: u32) -> Place {
  let tile = g % p.tiles;
  return Place(g / p.tiles, (tile / p.tiles_n) * BM, (tile % p.tiles_n) * BN);
}

// 16 reduction steps over the staged tiles (ta rows at stride `sa`, tb at stride `sb`).
fn mac_tiles(acc: Acc, tx: u32, ty: u32, sa: u32, sb: u32) -> Acc {
  var o = acc;
  for (var kk = 0u; kk < BK; kk++) {
    let ra = kk * sa + tx;
    let rb = kk * sb + ty;
    let b = vec4f(tb[rb], tb[rb + 16u], tb[rb + 32u], tb[rb + 48u]);
    o.a0 = fma(vec4f(ta[ra]), b, o.a0);
    o.a1 = fma(vec4f(ta[ra + 16u]), b, o.a1);
    o.a2 = fma(vec4f(ta[ra + 32u]), b, o.a2);
    o.a3 = fma(vec4f(ta[ra + 48u]), b, o.a3);
  }
  return o;
}

fn row_of(acc: Acc, i: u32) -> vec4f {
  switch (i) {
    case 0u: { return acc.a0; }
    case 1u: { return acc.a1; }
    case 2u: { return acc.a2; }
    default: { return acc.a3; }
  }
}

// Weight W[col, r] of the GEMM (see `flip` in the header); 0 past K or R.
fn w_at(col: u32, r: u32) -> f32 {
  if (col >= p.k || r >= p.r) { return 0.0; }
  if (p.flip == 0u) { return w[col * p.r + r]; }
  let taps = p.kh * p.kw;
  // Computed conv: input channel c' = r / taps is the original output channel, output channel
  // `col` the original input channel (p.k of them); taps rotated 180°.
  return w[((r / taps) * p.k + col) * taps + (taps - 1u - r % taps)];
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.tiles * p.splits) { return; }
  let pl = place_of(g);
  let tx = lid % 16u;
  let ty = lid / 16u;
  let split = pl.split;
  let row0 = pl.row0;
  let col0 = pl.col0;
  // Staging roles: x row lid % 64 at reduction offsets lid / 64 + 4q; w column lid / 16 + 16q
  // at offset lid % 16 (consecutive lanes: consecutive pixels, consecutive taps of a filter).
  let arow = row0 + lid % 64u;
  let win = window_of(min(arow, p.m - 1u));
  let r_begin = split * p.per_split;
  let r_end = min(p.r, r_begin + p.per_split);
  var acc = Acc(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var r0 = r_begin; r0 < r_end; r0 += BK) {
    for (var q = 0u; q < 4u; q++) {
      let kk = lid / 64u + 4u * q;
      var v = 0.0;
      if (arow < p.m && r0 + kk < r_end) { v = x_at(win.base, win.iy0, win.ix0, r0 + kk); }
      ta[kk * BM + lid % 64u] = v;
      let col = lid / 16u + 16u * q;
      var wv = 0.0;
      if (r0 + lid % 16u < r_end) { wv = w_at(col0 + col, r0 + lid % 16u); }
      tb[(lid % 16u) * PADDED + col] = wv;
    }
    workgroupBarrier();
    acc = mac_tiles(acc, tx, ty, BM, PADDED);
    workgroupBarrier();
  }
  let ohw = p.oh * p.ow;
  let count = p.n * p.k * ohw;
  for (var i = 0u; i < 4u; i++) {
    let m = row0 + tx + 16u * i;
    if (m >= p.m) { continue; }
    let out = row_of(acc, i);
    let base = (m / ohw) * p.k * ohw + m % ohw;
    for (var j = 0u; j < 4u; j++) {
      let k = col0 + ty + 16u * j;
      if (k >= p.k) { continue; }
      let at = base + k * ohw;
      if (p.splits > 1u) {
        y[split * count + at] = out[j];
      } else if (p.acc != 0u) {
        y[at] += out[j];
      } else {
        y[at] = out[j] + bias[k];
      }
    }
  }
}

@compute @workgroup_size(256)
fn filter_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.tiles * p.splits) { return; }
  // GEMM rows: output channels k; columns: receptive-field offsets r; reduction: pixels m.
  let pl = place_of(g);
  let tx = lid % 16u;
  let ty = lid / 16u;
  let row0 = pl.row0;
  let col0 = pl.col0;
  let ohw = p.oh * p.ow;
  let m_begin = pl.split * p.per_split;
  let m_end = min(p.m, m_begin + p.per_split);
  // Staging roles: both tiles along the reduction — pixel m0 + lid % 16 (consecutive lanes:
  // consecutive pixels), row / column lid / 16 + 16q.
  let kk = lid % 16u;
  var acc = Acc(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  for (var m0 = m_begin; m0 < m_end; m0 += BK) {
    let m = m0 + kk;
    let live = m < m_end;
    let win = window_of(min(m, p.m - 1u));
    let dy_base = (min(m, p.m - 1u) / ohw) * p.k * ohw + min(m, p.m - 1u) % ohw;
    for (var q = 0u; q < 4u; q++) {
      let rc = lid / 16u + 16u * q;
      var v = 0.0;
      if (live && row0 + rc < p.k) { v = dy[dy_base + (row0 + rc) * ohw]; }
      ta[kk * PADDED + rc] = v;
      var xv = 0.0;
      if (live) { xv = x_at(win.base, win.iy0, win.ix0, col0 + rc); }
      tb[kk * PADDED + rc] = xv;
    }
    workgroupBarrier();
    acc = mac_tiles(acc, tx, ty, PADDED, PADDED);
    workgroupBarrier();
  }
  let count = p.k * p.r;
  for (var i = 0u; i < 4u; i++) {
    let k = row0 + tx + 16u * i;
    if (k >= p.k) { continue; }
    let out = row_of(acc, i);
    for (var j = 0u; j < 4u; j++) {
      let r = col0 + ty + 16u * j;
      if (r < p.r) { dw[pl.split * count + k * p.r + r] = out[j]; }
    }
  }
}
