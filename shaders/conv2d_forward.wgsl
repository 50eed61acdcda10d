// 2-D convolution forward as an implicit GEMM: Y[m, k] = Σ_r X̂[m, r] · W[k, r] + bias[k], with
// m = (n, oy, ox) over output pixels, k over output channels and r = (c, ky, kx) over the
// receptive field. X̂ (im2col of X) is never stored: an invocation computes its pixels' input
// coordinates once per tap (ky, kx) and then walks the C input channels by adding H·W.
//
// Layout: x NCHW, w OIHW (K, C, KH, KW), bias K, y NCHW (N, K, OH, OW); f32, dilation 1, groups 1.
// Tiling: register blocking, no workgroup memory. A workgroup owns 8·WG consecutive output pixels
//   × 16 output channels; invocation `lid` holds pixels tile + i·WG + lid (i < 8) for all 16
//   channels (common/conv2d_tile.wgsl), so each x value loaded feeds 16 multiply-adds and each
//   weight 8. On lavapipe every per-invocation load is a per-lane scalar gather and dominates;
//   8×16 was the fastest tile measured for f32 x (4×8: 3.8, 8×16: 6.4 GFLOP/s at 3×3 64→64
//   32×32 N32), and staging weights or x through workgroup memory or textures measured no faster
//   (Mesa 22.3 loads storage and workgroup memory lane by lane). The `_uw` entries read weights
//   from 64 KiB uniform windows (conv2d_pack.wgsl; gallivm gathers those without per-lane
//   branches, 1.5–2× faster). Channels past K read clamped weights and are never stored.
//   `forward_uw_x4` (the default when C % 4 = 0): x repacked NC4HW4 (vec4 loads, 4 channels of a
//   pixel each) and 16 pixels × 16 channels per invocation. With x as vec4s, the weight rows —
//   identical in every lane, yet gathered lane by lane, since gallivm treats only constant
//   offsets as uniform (nir_src_is_always_uniform: loop counters, workgroup_id and uniforms are
//   not) — were the largest cost (~46% at 3×3 64→64 32×32 N32, x loads ~21%, the FMAs and
//   spilled accumulators the rest); 16 pixels halve them per multiply-add. Measured 4.75 → 6.73
//   GFLOP/s at that shape. x read through an rgba32float texture instead measured no faster.
//   `forward_1x1` is the 1×1 stride-1 pad-0 case, a plain GEMM per image
//   (Y[n] (K × HW) = W (K × C) · X[n] (C × HW)): no padding masks, one tap.
//   `forward_split` (GPU policy, few output pixels): the reduction split over input-channel
//   ranges, each workgroup storing a partial output slice; conv2d_reduce.wgsl adds them + bias.
//   `forward_lanes_k_x4` (software policy, ≤ 16·WG output pixels): lanes over channel tiles,
//   16 consecutive pixels each, all tiles in one dispatch (at the end of this file).
// Bindings: 0 params (uniform), 1 x (read; NC4HW4 vec4s for `_x4`), 2 w (read; the uniform
//   window for `_uw*`, every packed tile as storage for `_lanes_k_x4`), 3 bias (read; zeros when
//   the op has none), 4 y (read_write; the partial slices for `forward_split`).
// Grid: 1-D folded, (pixel tiles) × (channel tiles), channel tile fastest so neighbouring
//   workgroups share x in cache.

//!include common/grid.wgsl
//!include common/conv2d_tile.wgsl
//!include common/conv2d_acc.wgsl
// Weights (binding 2: w, wu, ws) and NC4HW4 x (binding 1: act_c4): row i of the packed layout is
// i = (ky·KW + kx)·C + c, 16 output channels.
//!include common/conv2d_gather.wgsl

override WG: u32 = 16u;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  k: u32, kh: u32, kw: u32, stride: u32,
  pad: u32, oh: u32, ow: u32, m: u32,
  // k_base: first channel of this dispatch (the uniform-weight entries run one per channel tile);
  // wstride: vec4s per packed 16-channel tile (`forward_lanes_k_x4`, weights as storage).
  ktiles: u32, groups: u32, k_base: u32, wstride: u32,
  // `forward_split` only: input channels per split, workgroups per split (≥ groups) and floats
  // per partial output (N·K·OH·OW).
  c_per: u32, split_groups: u32, slice: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// x at four addresses; masked-off lanes read x[0] and contribute 0 (zero padding).
fn x4(a: vec4u, ok: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), vec4f(x[a.x], x[a.y], x[a.z], x[a.w]), ok);
}

// The tile of this workgroup: first channel, pixel indices of slots 0-3 and 4-7.
struct Tile {
  k0: u32,
  m0: vec4u,
  m1: vec4u,
}

fn tile_of(g: u32, lid: u32) -> Tile {
  let k0 = p.k_base + (g % p.ktiles) * 16u;
  let base = (g / p.ktiles) * WG * 8u + lid;
  let slot = vec4u(0u, 1u, 2u, 3u) * WG;
  return Tile(k0, base + slot, base + 4u * WG + slot);
}

// Set by `forward_split`: this workgroup stores a partial sum (no bias) into slice y_base / slice.
var<private> partial: bool;
var<private> y_base: u32;

fn store_row(r: Row16, m: u32, k0: u32) {
  if (m >= p.m) {
    return;
  }
  let ohw = p.oh * p.ow;
  let n = m / ohw;
  let yo = y_base + (n * p.k + k0) * ohw + (m - n * ohw);
  for (var j = 0u; j < 16u; j++) {
    if (k0 + j < p.k) {
      y[yo + j * ohw] = row16_get(r, j) + select(bias[k0 + j], 0.0, partial);
    }
  }
}

fn store(t: Tile, acc: Acc) {
  store_row(acc.r0, t.m0.x, t.k0);
  store_row(acc.r1, t.m0.y, t.k0);
  store_row(acc.r2, t.m0.z, t.k0);
  store_row(acc.r3, t.m0.w, t.k0);
  store_row(acc.r4, t.m1.x, t.k0);
  store_row(acc.r5, t.m1.y, t.k0);
  store_row(acc.r6, t.m1.z, t.k0);
  store_row(acc.r7, t.m1.w, t.k0);
}

// Per pixel slot (0-3 in …0, 4-7 in …1): inside M, top-left input coordinate of its window
// (negative inside the padding) and the start of its image in x.
struct Pixels {
  live0: vec4<bool>, live1: vec4<bool>,
  iy0: vec4i, iy1: vec4i,
  ix0: vec4i, ix1: vec4i,
  xo0: vec4u, xo1: vec4u,
}

fn pixels(t: Tile) -> Pixels {
  let ohw = p.oh * p.ow;
  let chw = p.c * p.h * p.w;
  // Slots past M compute a clamped pixel and are masked off and never stored.
  let mm0 = min(t.m0, vec4u(p.m - 1u));
  let mm1 = min(t.m1, vec4u(p.m - 1u));
  let n0 = mm0 / ohw;
  let n1 = mm1 / ohw;
  let pix0 = mm0 - n0 * ohw;
  let pix1 = mm1 - n1 * ohw;
  let oy0 = pix0 / p.ow;
  let oy1 = pix1 / p.ow;
  return Pixels(
    t.m0 < vec4u(p.m), t.m1 < vec4u(p.m),
    vec4i(oy0 * p.stride) - i32(p.pad), vec4i(oy1 * p.stride) - i32(p.pad),
    vec4i((pix0 - oy0 * p.ow) * p.stride) - i32(p.pad),
    vec4i((pix1 - oy1 * p.ow) * p.stride) - i32(p.pad),
    n0 * chw, n1 * chw,
  );
}

// x addresses of channel 0 at tap (ky, kx) and which slots are inside the image; padding is
// decided once per tap for all C input channels.
fn tap(px: Pixels, ky: u32, kx: u32) -> TapAddr {
  let y0 = px.iy0 + i32(ky);
  let y1 = px.iy1 + i32(ky);
  let x0 = px.ix0 + i32(kx);
  let x1 = px.ix1 + i32(kx);
  let ok0 = px.live0 & (vec4u(y0) < vec4u(p.h)) & (vec4u(x0) < vec4u(p.w));
  let ok1 = px.live1 & (vec4u(y1) < vec4u(p.h)) & (vec4u(x1) < vec4u(p.w));
  return TapAddr(
    select(vec4u(0u), px.xo0 + vec4u(y0) * p.w + vec4u(x0), ok0),
    select(vec4u(0u), px.xo1 + vec4u(y1) * p.w + vec4u(x1), ok1),
    ok0, ok1,
  );
}

// Σ over input channels [c0, c1) and every tap of this tile's pixels × 16 channels (storage w).
fn reduce_channels(t: Tile, c0: u32, c1: u32) -> Acc {
  let px = pixels(t);
  let hw = p.h * p.w;
  let khw = p.kh * p.kw;
  let crs = p.c * khw;
  var acc = acc_zero();
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      var ta = tap(px, ky, kx);
      ta.a0 += vec4u(c0 * hw);
      ta.a1 += vec4u(c0 * hw);
      var wi = t.k0 * crs + c0 * khw + ky * p.kw + kx;
      for (var c = c0; c < c1; c++) {
        acc = mac(acc, x4(ta.a0, ta.ok0), x4(ta.a1, ta.ok1), w_row(wi, crs));
        ta.a0 += vec4u(hw);
        ta.a1 += vec4u(hw);
        wi += khw;
      }
    }
  }
  return acc;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let t = tile_of(g, lid);
  store(t, reduce_channels(t, 0u, p.c));
}

// Split-K over input channels for layers with too few output pixels to fill a GPU: workgroup
// g = split·split_groups + tile sums channels [split·c_per, +c_per) of its tile into partial
// slice `split` of y (a scratch buffer here); conv2d_reduce.wgsl `sum_splits_bias` adds the
// slices in split order plus the bias.
@compute @workgroup_size(WG)
fn forward_split(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let g0 = linear_workgroup(wid, nwg);
  let split = g0 / p.split_groups;
  let g = g0 - split * p.split_groups;
  let c0 = split * p.c_per;
  if (g >= p.groups || c0 >= p.c) {
    return;
  }
  partial = true;
  y_base = split * p.slice;
  let t = tile_of(g, lid);
  store(t, reduce_channels(t, c0, min(p.c, c0 + p.c_per)));
}

@compute @workgroup_size(WG)
fn forward_uw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let t = tile_of(g, lid);
  let px = pixels(t);
  let hw = p.h * p.w;
  var acc = acc_zero();
  // Packed rows follow this loop order: i = (ky·KW + kx)·C + c.
  var i = 0u;
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      var ta = tap(px, ky, kx);
      for (var c = 0u; c < p.c; c++) {
        acc = mac(acc, x4(ta.a0, ta.ok0), x4(ta.a1, ta.ok1), wu_row(i));
        ta.a0 += vec4u(hw);
        ta.a1 += vec4u(hw);
        i++;
      }
    }
  }
  store(t, acc);
}

// Start of each slot's pixel in x, channel 0 (1×1 stride 1: x index = m + n·(C − 1)·HW).
fn pixels_1x1(t: Tile) -> array<vec4u, 2> {
  let hw = p.h * p.w;
  let mm0 = min(t.m0, vec4u(p.m - 1u));
  let mm1 = min(t.m1, vec4u(p.m - 1u));
  return array<vec4u, 2>(mm0 / hw * (p.c - 1u) * hw + mm0, mm1 / hw * (p.c - 1u) * hw + mm1);
}

@compute @workgroup_size(WG)
fn forward_1x1(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let t = tile_of(g, lid);
  let hw = p.h * p.w;
  let a = pixels_1x1(t);
  var a0 = a[0];
  var a1 = a[1];
  var wi = t.k0 * p.c;
  var acc = acc_zero();
  for (var c = 0u; c < p.c; c++) {
    let xa = vec4f(x[a0.x], x[a0.y], x[a0.z], x[a0.w]);
    let xb = vec4f(x[a1.x], x[a1.y], x[a1.z], x[a1.w]);
    acc = mac(acc, xa, xb, w_row(wi, p.c));
    a0 += vec4u(hw);
    a1 += vec4u(hw);
    wi += 1u;
  }
  store(t, acc);
}

@compute @workgroup_size(WG)
fn forward_1x1_uw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let t = tile_of(g, lid);
  let hw = p.h * p.w;
  let a = pixels_1x1(t);
  var a0 = a[0];
  var a1 = a[1];
  var acc = acc_zero();
  for (var c = 0u; c < p.c; c++) {
    let xa = vec4f(x[a0.x], x[a0.y], x[a0.z], x[a0.w]);
    let xb = vec4f(x[a1.x], x[a1.y], x[a1.z], x[a1.w]);
    acc = mac(acc, xa, xb, wu_row(c));
    a0 += vec4u(hw);
    a1 += vec4u(hw);
  }
  store(t, acc);
}

// Slots 8h..8h+7 of a 16-pixel invocation tile (h = 0, 1): invocation `lid` of tile g holds
// pixels g·16·WG + i·WG + lid, i < 16, so each weight row gathered feeds 256 multiply-adds.
fn tile16(g: u32, lid: u32, h: u32) -> Tile {
  let k0 = p.k_base + (g % p.ktiles) * 16u;
  let base = (g / p.ktiles) * WG * 16u + h * WG * 8u + lid;
  let slot = vec4u(0u, 1u, 2u, 3u) * WG;
  return Tile(k0, base + slot, base + 4u * WG + slot);
}

// Pixels of a tile with image starts in vec4 units (n·(C/4)·HW) for NC4HW4 x.
fn pixels4(t: Tile) -> Pixels {
  var px = pixels(t);
  px.xo0 /= vec4u(4u);
  px.xo1 /= vec4u(4u);
  return px;
}

// 16 pixels × 16 channels per invocation: the weight rows (the same for every lane, but gathered
// lane by lane from the uniform window: the dominant load once x is vec4) serve twice the pixels
// of the 8-pixel tile (measured at 3×3 64→64 32×32 N32: weight gathers were ~46% of the 8-pixel
// kernel's time, x loads ~21%).
@compute @workgroup_size(WG)
fn forward_uw_x4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let ta0 = tile16(g, lid, 0u);
  let tb0 = tile16(g, lid, 1u);
  let pa = pixels4(ta0);
  let pb = pixels4(tb0);
  let hw = p.h * p.w;
  let c4 = p.c / 4u;
  var acc_a = acc_zero();
  var acc_b = acc_zero();
  var i = 0u;
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      var ta = tap(pa, ky, kx);
      var tb = tap(pb, ky, kx);
      for (var c = 0u; c < c4; c++) {
        let r0 = wu_row(i);
        let r1 = wu_row(i + 1u);
        let r2 = wu_row(i + 2u);
        let r3 = wu_row(i + 3u);
        acc_a = mac4(acc_a, ta, r0, r1, r2, r3);
        acc_b = mac4(acc_b, tb, r0, r1, r2, r3);
        ta.a0 += vec4u(hw);
        ta.a1 += vec4u(hw);
        tb.a0 += vec4u(hw);
        tb.a1 += vec4u(hw);
        i += 4u;
      }
    }
  }
  store(ta0, acc_a);
  store(tb0, acc_b);
}

// Few output pixels (ResNet-50's layer3/4 at 64×64 input: 256 and 64 a batch of 16): lanes over
// 16-channel tiles instead of pixels, each holding 16 consecutive pixels, the packed weights read
// as storage so every tile runs in one dispatch. The window kernel above gives a lane pixels WG
// apart and binds one tile's window per dispatch: at 64 pixels three-quarters of its lanes'
// slots are clamped copies, and its single workgroup per dispatch keeps one core busy.
@compute @workgroup_size(WG)
fn forward_lanes_k_x4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                      @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  let kt = o % p.ktiles;
  let base = (o / p.ktiles) * 16u;
  if (base >= p.m) {
    return;
  }
  let run = vec4u(0u, 1u, 2u, 3u);
  let ta0 = Tile(kt * 16u, base + run, base + 4u + run);
  let tb0 = Tile(kt * 16u, base + 8u + run, base + 12u + run);
  let pa = pixels4(ta0);
  let pb = pixels4(tb0);
  let hw = p.h * p.w;
  let c4 = p.c / 4u;
  var acc_a = acc_zero();
  var acc_b = acc_zero();
  var i = 0u;
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      var ta = tap(pa, ky, kx);
      var tb = tap(pb, ky, kx);
      for (var c = 0u; c < c4; c++) {
        let r0 = ws_row(kt, i);
        let r1 = ws_row(kt, i + 1u);
        let r2 = ws_row(kt, i + 2u);
        let r3 = ws_row(kt, i + 3u);
        acc_a = mac4(acc_a, ta, r0, r1, r2, r3);
        acc_b = mac4(acc_b, tb, r0, r1, r2, r3);
        ta.a0 += vec4u(hw);
        ta.a1 += vec4u(hw);
        tb.a0 += vec4u(hw);
        tb.a1 += vec4u(hw);
        i += 4u;
      }
    }
  }
  store(ta0, acc_a);
  store(tb0, acc_b);
}
