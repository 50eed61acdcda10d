// 2-D convolution backward to the weights as a GEMM reducing over batch × output pixels:
// dW[k, r] = Σ_l dY[l, k] · X̂[l, r], with r = (c, ky, kx), l = (n, oy, ox) and X̂ the im2col of x
// (never stored). The reduction (N·OH·OW, 32768 at N32 32×32) is split over workgroups: split s
// sums output rows [s·rows_per, (s+1)·rows_per) of the N·OH (n, oy) rows into its own K×R slice
// of a scratch buffer, and conv2d_reduce.wgsl `sum_splits` adds the slices in a fixed order (no
// float atomics, deterministic). With one split the kernel writes dW directly.
//
// Layout: x NCHW, dy NCHW (N, K, OH, OW), out K×R per split = OIHW dW; f32.
// Tiling: a workgroup owns 8·WG weight taps r × 16 output channels k; invocation `lid` holds taps
//   tile + i·WG + lid (i < 8) for 16 channels in registers (common/conv2d_tile.wgsl), so each x
//   value feeds 16 multiply-adds and each dy value 8; no workgroup memory (see conv2d_forward).
// `backward_weight_uw` (default when OW ≤ 1024): dy from packed uniform windows (conv2d_pack.wgsl
//   `pack_dy`, 1024 output pixels × 16 channels each), one dispatch per window × channel tile,
//   rows of a window split over workgroups, each (window, split) its own slice. lavapipe gathers
//   uniform loads without per-lane branches; the storage dy loads (lane by lane, two branches
//   each) made this kernel ~2× slower than forward.
// `backward_weight_uw_x4` (C % 4 = 0): also x repacked NC4HW4, and 16 rows r per invocation.
// `backward_weight_px` (a small receptive field, R ≤ 144: the stem, narrow 1×1 projections,
//   3×3 from 16 channels):
//   invocations over splits of the (n, oy) rows instead of over taps, each holding a ≤ 16-tap
//   tile × 16 channels (at the end of this file).
// Bindings: 0 params (uniform), 1 x (read; NC4HW4 vec4s for `_x4`), 2 dy (read; the uniform
//   window for `_uw*`), 3 out (read_write).
// Grid: 1-D folded, (split) × (tap tiles) × (channel tiles), channel tile fastest.

//!include common/grid.wgsl
//!include common/conv2d_tile.wgsl
//!include common/conv2d_acc.wgsl

override WG: u32 = 16u;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  k: u32, kh: u32, kw: u32, stride: u32,
  pad: u32, oh: u32, ow: u32, r: u32,
  ktiles: u32, rtiles: u32, groups: u32, rows_per: u32,
  // `backward_weight_uw` only: this dispatch's channel tile, first (n, oy) row of its window and
  // rows in it, and the partial slice its split 0 writes (split s writes slice0 + s).
  k_base: u32, row0: u32, chunk_rows: u32, slice0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// `backward_weight_uw_x4` reads x packed NC4HW4 by conv2d_pack.wgsl `pack_c4` (C % 4 = 0).
@group(0) @binding(1) var<storage, read> xv: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
// `backward_weight_uw` reads dy from one 64 KiB window packed by conv2d_pack.wgsl `pack_dy`:
// pixel l of the window's chunk is 16 channels in 4 vec4s at dyu[4l..4l+3].
@group(0) @binding(2) var<uniform> dyu: array<vec4f, 4096>;

// dy of 16 output channels (planes `stride` apart) at one output pixel.
fn dy_row(base: u32, stride: u32) -> Row16 {
  return Row16(
    vec4f(dy[base], dy[base + stride], dy[base + 2u * stride], dy[base + 3u * stride]),
    vec4f(dy[base + 4u * stride], dy[base + 5u * stride], dy[base + 6u * stride],
          dy[base + 7u * stride]),
    vec4f(dy[base + 8u * stride], dy[base + 9u * stride], dy[base + 10u * stride],
          dy[base + 11u * stride]),
    vec4f(dy[base + 12u * stride], dy[base + 13u * stride], dy[base + 14u * stride],
          dy[base + 15u * stride]),
  );
}

fn x4(a: vec4u, ok: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), vec4f(x[a.x], x[a.y], x[a.z], x[a.w]), ok);
}

fn store_row(v: Row16, r: u32, k0: u32, split: u32) {
  if (r >= p.r) {
    return;
  }
  let o = (split * p.k + k0) * p.r + r;
  for (var j = 0u; j < 16u; j++) {
    if (k0 + j < p.k) {
      out[o + j * p.r] = row16_get(v, j);
    }
  }
}

// Four filter taps r = (c, ky, kx): a tap-lane invocation's slot group, or a quarter of the
// row-lane kernel's tap tile.
struct Tap4 {
  live: vec4<bool>,
  c: vec4u,
  dy: vec4i,
  dx: vec4i,
}

// Taps rv: inside R, channel c and the offset of the tap's window corner from the output
// pixel's (oy·s, ox·s).
fn tap4(rv: vec4u) -> Tap4 {
  let rr = min(rv, vec4u(p.r - 1u));
  let khw = p.kh * p.kw;
  let c = rr / khw;
  let t = rr - c * khw;
  let ky = t / p.kw;
  return Tap4(rv < vec4u(p.r), c, vec4i(ky) - i32(p.pad), vec4i(t - ky * p.kw) - i32(p.pad));
}

// x addresses of 4 taps in output row (n, oy) at ox = 0, and which lie inside the image rows.
struct Row4 {
  xr: vec4u,
  ok: vec4<bool>,
}

fn row4(tp: Tap4, n: u32, oy: u32) -> Row4 {
  let iy = i32(oy * p.stride) + tp.dy;
  return Row4((n * p.c + tp.c) * (p.h * p.w) + vec4u(iy) * p.w,
              tp.live & (vec4u(iy) < vec4u(p.h)));
}

fn x_row4(tp: Tap4, ra: Row4, ox: u32) -> vec4f {
  let ix = i32(ox * p.stride) + tp.dx;
  let ok = ra.ok & (vec4u(ix) < vec4u(p.w));
  return x4(select(vec4u(0u), ra.xr + vec4u(ix), ok), ok);
}

// The 8 taps r of an invocation (slots 0-3 in `a`, 4-7 in `b`).
struct Taps {
  r0: vec4u, r1: vec4u,
  a: Tap4, b: Tap4,
}

fn taps(rtile: u32, lid: u32) -> Taps {
  let base = rtile * WG * 8u + lid;
  let slot = vec4u(0u, 1u, 2u, 3u) * WG;
  let r0 = base + slot;
  let r1 = base + 4u * WG + slot;
  return Taps(r0, r1, tap4(r0), tap4(r1));
}

// x addresses of one output row's 8 taps.
struct RowAddr {
  a: Row4,
  b: Row4,
}

fn row_addr(tp: Taps, row: u32) -> RowAddr {
  let n = row / p.oh;
  let oy = row - n * p.oh;
  return RowAddr(row4(tp.a, n, oy), row4(tp.b, n, oy));
}

// The im2col values X̂[l, r] of the 8 taps at output column ox of a row.
struct XPair {
  a: vec4f,
  b: vec4f,
}

fn x_at(tp: Taps, ra: RowAddr, ox: u32) -> XPair {
  return XPair(x_row4(tp.a, ra.a, ox), x_row4(tp.b, ra.b, ox));
}

fn store(tp: Taps, acc: Acc, k0: u32, split: u32) {
  store_row(acc.r0, tp.r0.x, k0, split);
  store_row(acc.r1, tp.r0.y, k0, split);
  store_row(acc.r2, tp.r0.z, k0, split);
  store_row(acc.r3, tp.r0.w, k0, split);
  store_row(acc.r4, tp.r1.x, k0, split);
  store_row(acc.r5, tp.r1.y, k0, split);
  store_row(acc.r6, tp.r1.z, k0, split);
  store_row(acc.r7, tp.r1.w, k0, split);
}

// A 1-D folded grid's workgroup g as (channel tile k0, tap tile, split), channel tile fastest.
struct DwGroup {
  k0: u32,
  rtile: u32,
  split: u32,
}

fn dw_group(g: u32) -> DwGroup {
  let rest = g / p.ktiles;
  return DwGroup((g % p.ktiles) * 16u, rest % p.rtiles, rest / p.rtiles);
}

@compute @workgroup_size(WG)
fn backward_weight(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let dg = dw_group(g);
  let k0 = dg.k0;
  let split = dg.split;
  let tp = taps(dg.rtile, lid);
  let ohw = p.oh * p.ow;
  var acc = acc_zero();
  let row_end = min((split + 1u) * p.rows_per, p.n * p.oh);
  for (var row = split * p.rows_per; row < row_end; row++) {
    let ra = row_addr(tp, row);
    let n = row / p.oh;
    // dy index of (n, k0, oy, 0).
    var di = (n * p.k + min(k0, p.k - 1u)) * ohw + (row - n * p.oh) * p.ow;
    for (var ox = 0u; ox < p.ow; ox++) {
      let xv = x_at(tp, ra, ox);
      acc = mac(acc, xv.a, xv.b, dy_row(di, ohw));
      di += 1u;
    }
  }
  store(tp, acc, k0, split);
}

// One window of dy (channels k_base..k_base+15, rows row0..row0+chunk_rows−1) per dispatch; its
// rows are split over `groups / rtiles` workgroups of rows_per rows, each writing its own slice.
@compute @workgroup_size(WG)
fn backward_weight_uw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                      @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let split = g / p.rtiles;
  let tp = taps(g % p.rtiles, lid);
  var acc = acc_zero();
  let first = split * p.rows_per;
  let row_end = min(first + p.rows_per, p.chunk_rows);
  // Window pixel index of (row, ox): rows are whole output rows, OW pixels each.
  var li = first * p.ow;
  for (var row = first; row < row_end; row++) {
    let ra = row_addr(tp, p.row0 + row);
    for (var ox = 0u; ox < p.ow; ox++) {
      let xv = x_at(tp, ra, ox);
      let b = 4u * li;
      acc = mac(acc, xv.a, xv.b, Row16(dyu[b], dyu[b + 1u], dyu[b + 2u], dyu[b + 3u]));
      li++;
    }
  }
  store(tp, acc, p.k_base, p.slice0 + split);
}

// The 4 tap slots of an invocation in `backward_weight_uw_x4`: slot s = (c4, ky, kx) covers the 4
// rows r = (4·c4 + j, ky, kx), j < 4, that one NC4HW4 vec4 of x feeds.
struct Slots {
  live: vec4<bool>,
  c4: vec4u,
  t: vec4u,
  dy: vec4i,
  dx: vec4i,
}

fn slots(rtile: u32, lid: u32) -> Slots {
  let khw = p.kh * p.kw;
  let count = p.c / 4u * khw;
  let s = rtile * WG * 4u + lid + vec4u(0u, 1u, 2u, 3u) * WG;
  let ss = min(s, vec4u(count - 1u));
  let c4 = ss / khw;
  let t = ss - c4 * khw;
  let ky = t / p.kw;
  return Slots(
    s < vec4u(count), c4, t,
    vec4i(ky) - i32(p.pad), vec4i(t - ky * p.kw) - i32(p.pad),
  );
}

fn xq(a: u32, ok: bool) -> vec4f {
  return select(vec4f(0.0), xv[a], ok);
}

// Rows of slot `i`'s 4 channels: r = (4·c4 + j)·KH·KW + t.
fn store_slot(v0: Row16, v1: Row16, v2: Row16, v3: Row16, sl: Slots, i: u32, k0: u32,
              split: u32) {
  let khw = p.kh * p.kw;
  if (!sl.live[i]) {
    return;
  }
  let r = 4u * sl.c4[i] * khw + sl.t[i];
  store_row(v0, r, k0, split);
  store_row(v1, r + khw, k0, split);
  store_row(v2, r + 2u * khw, k0, split);
  store_row(v3, r + 3u * khw, k0, split);
}

// As `backward_weight_uw` with x repacked NC4HW4: an invocation holds 4 slots = 16 rows r × 16
// channels, so the 4 vec4 loads of x bring 16 values per pixel (instead of 8 f32 loads bringing 8)
// and each dy row gathered from the window feeds 256 multiply-adds instead of 128.
@compute @workgroup_size(WG)
fn backward_weight_uw_x4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                         @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let split = g / p.rtiles;
  let sl = slots(g % p.rtiles, lid);
  let c4n = p.c / 4u;
  var acc_a = acc_zero();
  var acc_b = acc_zero();
  let first = split * p.rows_per;
  let row_end = min(first + p.rows_per, p.chunk_rows);
  var li = first * p.ow;
  for (var row = first; row < row_end; row++) {
    let gr = p.row0 + row;
    let n = gr / p.oh;
    let oy = gr - n * p.oh;
    let iy = i32(oy * p.stride) + sl.dy;
    let rok = sl.live & (vec4u(iy) < vec4u(p.h));
    // NC4HW4 index of (n, c4, iy, 0).
    let xr = ((n * c4n + sl.c4) * p.h + vec4u(iy)) * p.w;
    for (var ox = 0u; ox < p.ow; ox++) {
      let ix = i32(ox * p.stride) + sl.dx;
      let ok = rok & (vec4u(ix) < vec4u(p.w));
      let a = select(vec4u(0u), xr + vec4u(ix), ok);
      let b = 4u * li;
      let d = Row16(dyu[b], dyu[b + 1u], dyu[b + 2u], dyu[b + 3u]);
      acc_a = mac(acc_a, xq(a.x, ok.x), xq(a.y, ok.y), d);
      acc_b = mac(acc_b, xq(a.z, ok.z), xq(a.w, ok.w), d);
      li++;
    }
  }
  let k0 = p.k_base;
  let s = p.slice0 + split;
  store_slot(acc_a.r0, acc_a.r1, acc_a.r2, acc_a.r3, sl, 0u, k0, s);
  store_slot(acc_a.r4, acc_a.r5, acc_a.r6, acc_a.r7, sl, 1u, k0, s);
  store_slot(acc_b.r0, acc_b.r1, acc_b.r2, acc_b.r3, sl, 2u, k0, s);
  store_slot(acc_b.r4, acc_b.r5, acc_b.r6, acc_b.r7, sl, 3u, k0, s);
}

// ---- `backward_weight_px`: invocations over output rows, for a small receptive field ----
// The kernels above put taps r on lanes; the 1- or 3-channel stem has R = 9 or 27 taps, so most of
// a 128-tap tile computes on padding (R = 9: 7 % of its multiply-adds count). Here lane `lid` of a
// workgroup owns split `s` = its own rows_per (n, oy) rows, and all lanes hold the same TAPS taps
// r0..r0+TAPS−1 (TAPS ≤ 16, a multiple of 4, fixed per pipeline so the unused groups compile away)
// × 16 channels; each writes its partial K×R slice (summed by conv2d_reduce.wgsl `sum_splits`).
// Per pixel: 16 dy loads and TAPS x loads feed TAPS·16 multiply-adds. Each further 16-tap tile
// reloads dy, so on lavapipe this wins up to R = 144 (3×3 from 16 channels) and loses from 256.
// Grid: 1-D folded, (split workgroup) × (tap tiles) × (channel tiles), channel tile fastest.
override TAPS: u32 = 16u;

struct Acc4 {
  r0: Row16, r1: Row16, r2: Row16, r3: Row16,
}

fn acc4_zero() -> Acc4 {
  let z = row16_zero();
  return Acc4(z, z, z, z);
}

fn mac4(acc: Acc4, v: vec4f, d: Row16) -> Acc4 {
  return Acc4(row16_mac(acc.r0, v.x, d), row16_mac(acc.r1, v.y, d),
              row16_mac(acc.r2, v.z, d), row16_mac(acc.r3, v.w, d));
}

fn store4(acc: Acc4, r: u32, k0: u32, split: u32) {
  store_row(acc.r0, r, k0, split);
  store_row(acc.r1, r + 1u, k0, split);
  store_row(acc.r2, r + 2u, k0, split);
  store_row(acc.r3, r + 3u, k0, split);
}

@compute @workgroup_size(WG)
fn backward_weight_px(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                      @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let dg = dw_group(g);
  let k0 = dg.k0;
  let r0 = dg.rtile * TAPS;
  // Every lane holds the same taps; lanes take consecutive splits.
  let split = dg.split * WG + lid;
  let rows = p.n * p.oh;
  let run = vec4u(0u, 1u, 2u, 3u);
  let t0 = tap4(r0 + run);
  let t1 = tap4(r0 + 4u + run);
  let t2 = tap4(r0 + 8u + run);
  let t3 = tap4(r0 + 12u + run);
  var a0 = acc4_zero();
  var a1 = acc4_zero();
  var a2 = acc4_zero();
  var a3 = acc4_zero();
  let ohw = p.oh * p.ow;
  let row_end = min((split + 1u) * p.rows_per, rows);
  for (var row = split * p.rows_per; row < row_end; row++) {
    let n = row / p.oh;
    let oy = row - n * p.oh;
    let ra0 = row4(t0, n, oy);
    let ra1 = row4(t1, n, oy);
    let ra2 = row4(t2, n, oy);
    let ra3 = row4(t3, n, oy);
    // dy index of (n, k0, oy, 0).
    var di = (n * p.k + min(k0, p.k - 1u)) * ohw + oy * p.ow;
    for (var ox = 0u; ox < p.ow; ox++) {
      let d = dy_row(di, ohw);
      a0 = mac4(a0, x_row4(t0, ra0, ox), d);
      if (TAPS > 4u) { a1 = mac4(a1, x_row4(t1, ra1, ox), d); }
      if (TAPS > 8u) { a2 = mac4(a2, x_row4(t2, ra2, ox), d); }
      if (TAPS > 12u) { a3 = mac4(a3, x_row4(t3, ra3, ox), d); }
      di += 1u;
    }
  }
  if (split * p.rows_per >= rows) {
    return;
  }
  store4(a0, r0, k0, split);
  if (TAPS > 4u) { store4(a1, r0 + 4u, k0, split); }
  if (TAPS > 8u) { store4(a2, r0 + 8u, k0, split); }
  if (TAPS > 12u) { store4(a3, r0 + 12u, k0, split); }
}
