// 2-D convolution backward to the input (a transposed convolution) as an implicit GEMM:
// dX[m, c] = Σ_r dŶ[m, r] · W[r, c] with m = (n, iy, ix) over input pixels, c over input channels
// and r = (ky, kx, k) over taps × output channels; dŶ[m, (ky, kx, k)] is dy[n, k, oy, ox] where
// iy + pad − ky = oy·stride (and likewise for x), zero when that is fractional or outside dy.
// Each input pixel gathers its contributions, so there are no write conflicts and no atomics.
//
// Layout: dy NCHW (N, K, OH, OW), w OIHW (K, C, KH, KW), dx NCHW (N, C, H, W); f32.
// Tiling: as conv2d_forward.wgsl (common/conv2d_tile.wgsl): a workgroup owns 8·WG input pixels
//   × 16 input channels, 8 pixels × 16 channels per invocation in registers, no workgroup memory.
//   Stride s > 1: one dispatch per stride phase (iy mod s, ix mod s). Within a phase the taps that
//   reach an output pixel are exactly ky ≡ iy + pad (mod s), so the tap loops step by s and no
//   multiply-add is spent on fractional positions (a masked single pass would waste 1 − 1/s²).
//   Padding is decided once per tap for all K channels.
//   `backward_data_uw_x4` (the default when K % 4 = 0): dy repacked NC4HW4 (vec4 loads) and 16
//   pixels × 16 channels per invocation, for the reasons given in conv2d_forward.wgsl.
// Accumulate (p.accumulate = 1): dx += result, reading the old dx through the same read_write
//   binding (a buffer must not be bound twice in one dispatch).
//   `backward_data_split` (GPU policy, few input pixels): the reduction split over output-channel
//   ranges into partial dx slices, summed by conv2d_reduce.wgsl `sum_splits_into`.
//   `backward_data_lanes_k_x4` (software policy, ≤ 16·WG pixels a phase): lanes over channel
//   tiles, 16 consecutive pixels each (at the end of this file).
// Bindings: 0 params (uniform), 1 dy (read; NC4HW4 vec4s for `_x4`), 2 w (read; the uniform
//   window for `_uw*`, every packed tile as storage for `_lanes_k_x4`), 3 dx (read_write; the
//   partial slices for `backward_data_split`).
// Grid: 1-D folded, (pixel tiles of the phase) × (channel tiles), channel tile fastest.

//!include common/grid.wgsl
//!include common/conv2d_tile.wgsl
//!include common/conv2d_acc.wgsl
// Weights (binding 2: w, wu, ws) and NC4HW4 dy (binding 1: act_c4): conv2d_pack.wgsl packs them
// transposed, row i = (ky·KW + kx)·K + k holding 16 input channels.
//!include common/conv2d_gather.wgsl

override WG: u32 = 16u;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  k: u32, kh: u32, kw: u32, stride: u32,
  pad: u32, oh: u32, ow: u32, m: u32,
  // c_base: first channel of this dispatch (the uniform-weight entry runs one per channel tile).
  ctiles: u32, groups: u32, accumulate: u32, c_base: u32,
  // Stride phase of this dispatch: input pixels with iy ≡ ry, ix ≡ rx (mod stride), hq × wq of them
  // per image (m = N·hq·wq).
  ry: u32, rx: u32, hq: u32, wq: u32,
  // `backward_data_split` only: output channels per split, workgroups per split (≥ groups) and
  // floats per partial dx slice (N·C·H·W).
  k_per: u32, split_groups: u32, slice: u32,
  // vec4s per packed 16-channel tile (`backward_data_lanes_k_x4`, weights as storage).
  wstride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

fn dy4(a: vec4u, ok: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), vec4f(dy[a.x], dy[a.y], dy[a.z], dy[a.w]), ok);
}

// Writes 16 channels of one input pixel; `o` is the dx index of (n, 0, iy, ix).
// Set by `backward_data_split`: this workgroup stores a partial sum into slice dx_base / slice
// (never accumulating; the reduce does that).
var<private> partial: bool;
var<private> dx_base: u32;

fn store_row(r: Row16, live: bool, pix: u32, c0: u32) {
  if (!live) {
    return;
  }
  let hw = p.h * p.w;
  let o = dx_base + pix + c0 * hw;
  for (var j = 0u; j < 16u; j++) {
    if (c0 + j < p.c) {
      var v = row16_get(r, j);
      if (p.accumulate != 0u && !partial) {
        v += dx[o + j * hw];
      }
      dx[o + j * hw] = v;
    }
  }
}

// This invocation's 8 input pixels of the phase (slots 0-3 in …0, 4-7 in …1).
struct Pixels {
  live0: vec4<bool>, live1: vec4<bool>,
  // Input coordinates, and the dy offset of (n, 0, 0, 0).
  iy0: vec4u, iy1: vec4u,
  ix0: vec4u, ix1: vec4u,
  yo0: vec4u, yo1: vec4u,
  n0: vec4u, n1: vec4u,
}

fn pixels(g: u32, lid: u32) -> Pixels {
  return pixels_at((g / p.ctiles) * WG * 8u + lid, WG);
}

// Pixels base + i·step, i < 8, of the phase.
fn pixels_at(base: u32, step: u32) -> Pixels {
  let slot = vec4u(0u, 1u, 2u, 3u) * step;
  let m0 = base + slot;
  let m1 = base + 4u * step + slot;
  let phw = p.hq * p.wq;
  let kohw = p.k * p.oh * p.ow;
  let mm0 = min(m0, vec4u(p.m - 1u));
  let mm1 = min(m1, vec4u(p.m - 1u));
  // Pixel (n, qy, qx) of this phase is input pixel (n, qy·s + ry, qx·s + rx).
  let n0 = mm0 / phw;
  let n1 = mm1 / phw;
  let q0 = mm0 - n0 * phw;
  let q1 = mm1 - n1 * phw;
  let qy0 = q0 / p.wq;
  let qy1 = q1 / p.wq;
  return Pixels(
    m0 < vec4u(p.m), m1 < vec4u(p.m),
    qy0 * p.stride + p.ry, qy1 * p.stride + p.ry,
    (q0 - qy0 * p.wq) * p.stride + p.rx, (q1 - qy1 * p.wq) * p.stride + p.rx,
    n0 * kohw, n1 * kohw, n0, n1,
  );
}

// dy addresses of output channel 0 reached through tap (ky, kx), and which slots it reaches.
fn tap(px: Pixels, ky: u32, kx: u32) -> TapAddr {
  let s = p.stride;
  // Exact divisions within a phase; negative differences wrap to huge u32s, failing `< oh`.
  let oy0 = vec4u(vec4i(px.iy0 + p.pad) - i32(ky)) / s;
  let oy1 = vec4u(vec4i(px.iy1 + p.pad) - i32(ky)) / s;
  let ox0 = vec4u(vec4i(px.ix0 + p.pad) - i32(kx)) / s;
  let ox1 = vec4u(vec4i(px.ix1 + p.pad) - i32(kx)) / s;
  let ok0 = px.live0 & (oy0 < vec4u(p.oh)) & (ox0 < vec4u(p.ow));
  let ok1 = px.live1 & (oy1 < vec4u(p.oh)) & (ox1 < vec4u(p.ow));
  return TapAddr(
    select(vec4u(0u), px.yo0 + oy0 * p.ow + ox0, ok0),
    select(vec4u(0u), px.yo1 + oy1 * p.ow + ox1, ok1),
    ok0, ok1,
  );
}

fn store(px: Pixels, acc: Acc, c0: u32) {
  let hw = p.h * p.w;
  let o0 = px.n0 * p.c * hw + px.iy0 * p.w + px.ix0;
  let o1 = px.n1 * p.c * hw + px.iy1 * p.w + px.ix1;
  store_row(acc.r0, px.live0.x, o0.x, c0);
  store_row(acc.r1, px.live0.y, o0.y, c0);
  store_row(acc.r2, px.live0.z, o0.z, c0);
  store_row(acc.r3, px.live0.w, o0.w, c0);
  store_row(acc.r4, px.live1.x, o1.x, c0);
  store_row(acc.r5, px.live1.y, o1.y, c0);
  store_row(acc.r6, px.live1.z, o1.z, c0);
  store_row(acc.r7, px.live1.w, o1.w, c0);
}

// Only taps with ky ≡ iy + pad (mod s) reach an output row; the phase fixes them for the whole
// dispatch, so the tap loops start at that residue and step by s.
// Σ over output channels [k0, k1) and the phase's taps for this tile's pixels × 16 input
// channels from c0 (storage w).
fn reduce_channels(g: u32, lid: u32, c0: u32, k0: u32, k1: u32) -> Acc {
  let px = pixels(g, lid);
  let ohw = p.oh * p.ow;
  let khw = p.kh * p.kw;
  var acc = acc_zero();
  for (var ky = (p.ry + p.pad) % p.stride; ky < p.kh; ky += p.stride) {
    for (var kx = (p.rx + p.pad) % p.stride; kx < p.kw; kx += p.stride) {
      var ta = tap(px, ky, kx);
      ta.a0 += vec4u(k0 * ohw);
      ta.a1 += vec4u(k0 * ohw);
      var wi = (k0 * p.c + c0) * khw + ky * p.kw + kx;
      for (var k = k0; k < k1; k++) {
        acc = mac(acc, dy4(ta.a0, ta.ok0), dy4(ta.a1, ta.ok1), w_row(wi, khw));
        ta.a0 += vec4u(ohw);
        ta.a1 += vec4u(ohw);
        wi += p.c * khw;
      }
    }
  }
  return acc;
}

@compute @workgroup_size(WG)
fn backward_data(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let c0 = p.c_base + (g % p.ctiles) * 16u;
  store(pixels(g, lid), reduce_channels(g, lid, c0, 0u, p.k), c0);
}

// Split-K over output channels for layers with few input pixels on a GPU: workgroup
// g = split·split_groups + tile sums channels [split·k_per, +k_per) into partial slice `split`
// of dx (a scratch buffer here); conv2d_reduce.wgsl `sum_splits_into` adds the slices (and the
// old dx when accumulating) once every stride phase has run.
@compute @workgroup_size(WG)
fn backward_data_split(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                       @builtin(local_invocation_index) lid: u32) {
  let g0 = linear_workgroup(wid, nwg);
  let split = g0 / p.split_groups;
  let g = g0 - split * p.split_groups;
  let k0 = split * p.k_per;
  if (g >= p.groups || k0 >= p.k) {
    return;
  }
  partial = true;
  dx_base = split * p.slice;
  let c0 = p.c_base + (g % p.ctiles) * 16u;
  store(pixels(g, lid), reduce_channels(g, lid, c0, k0, min(p.k, k0 + p.k_per)), c0);
}

@compute @workgroup_size(WG)
fn backward_data_uw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let c0 = p.c_base + (g % p.ctiles) * 16u;
  let px = pixels(g, lid);
  let ohw = p.oh * p.ow;
  var acc = acc_zero();
  for (var ky = (p.ry + p.pad) % p.stride; ky < p.kh; ky += p.stride) {
    for (var kx = (p.rx + p.pad) % p.stride; kx < p.kw; kx += p.stride) {
      var ta = tap(px, ky, kx);
      var i = (ky * p.kw + kx) * p.k;
      for (var k = 0u; k < p.k; k++) {
        acc = mac(acc, dy4(ta.a0, ta.ok0), dy4(ta.a1, ta.ok1), wu_row(i));
        ta.a0 += vec4u(ohw);
        ta.a1 += vec4u(ohw);
        i++;
      }
    }
  }
  store(px, acc, c0);
}

// Pixels of a 16-pixel invocation tile's half h with dy image starts in vec4 units.
fn pixels4(g: u32, lid: u32, h: u32) -> Pixels {
  return in_c4(pixels_at((g / p.ctiles) * WG * 16u + h * WG * 8u + lid, WG));
}

// `px` with dy image starts in vec4 units (NC4HW4 dy).
fn in_c4(px: Pixels) -> Pixels {
  var q = px;
  q.yo0 /= vec4u(4u);
  q.yo1 /= vec4u(4u);
  return q;
}

// 16 pixels × 16 channels per invocation (pixels g·16·WG + i·WG + lid, i < 16): each weight row
// gathered from the window feeds 256 multiply-adds (see conv2d_forward.wgsl `forward_uw_x4`).
@compute @workgroup_size(WG)
fn backward_data_uw_x4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                       @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let c0 = p.c_base + (g % p.ctiles) * 16u;
  let pa = pixels4(g, lid, 0u);
  let pb = pixels4(g, lid, 1u);
  let ohw = p.oh * p.ow;
  let k4 = p.k / 4u;
  var acc_a = acc_zero();
  var acc_b = acc_zero();
  for (var ky = (p.ry + p.pad) % p.stride; ky < p.kh; ky += p.stride) {
    for (var kx = (p.rx + p.pad) % p.stride; kx < p.kw; kx += p.stride) {
      var ta = tap(pa, ky, kx);
      var tb = tap(pb, ky, kx);
      var i = (ky * p.kw + kx) * p.k;
      for (var k = 0u; k < k4; k++) {
        let r0 = wu_row(i);
        let r1 = wu_row(i + 1u);
        let r2 = wu_row(i + 2u);
        let r3 = wu_row(i + 3u);
        acc_a = mac4(acc_a, ta, r0, r1, r2, r3);
        acc_b = mac4(acc_b, tb, r0, r1, r2, r3);
        ta.a0 += vec4u(ohw);
        ta.a1 += vec4u(ohw);
        tb.a0 += vec4u(ohw);
        tb.a1 += vec4u(ohw);
        i += 4u;
      }
    }
  }
  store(pa, acc_a, c0);
  store(pb, acc_b, c0);
}

// Few input pixels in a phase (ResNet-50's layer3/4 at 64×64 input): lanes over 16-channel tiles
// instead of pixels, 16 consecutive pixels each, the packed weights read as storage so every
// tile runs in one dispatch per phase (see conv2d_forward.wgsl `forward_lanes_k_x4`).
@compute @workgroup_size(WG)
fn backward_data_lanes_k_x4(@builtin(workgroup_id) wid: vec3u,
                            @builtin(num_workgroups) nwg: vec3u,
                            @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WG + lid;
  let ct = o % p.ctiles;
  let base = (o / p.ctiles) * 16u;
  if (base >= p.m) {
    return;
  }
  let c0 = ct * 16u;
  let pa = in_c4(pixels_at(base, 1u));
  let pb = in_c4(pixels_at(base + 8u, 1u));
  let ohw = p.oh * p.ow;
  let k4 = p.k / 4u;
  var acc_a = acc_zero();
  var acc_b = acc_zero();
  for (var ky = (p.ry + p.pad) % p.stride; ky < p.kh; ky += p.stride) {
    for (var kx = (p.rx + p.pad) % p.stride; kx < p.kw; kx += p.stride) {
      var ta = tap(pa, ky, kx);
      var tb = tap(pb, ky, kx);
      var i = (ky * p.kw + kx) * p.k;
      for (var k = 0u; k < k4; k++) {
        let r0 = ws_row(ct, i);
        let r1 = ws_row(ct, i + 1u);
        let r2 = ws_row(ct, i + 2u);
        let r3 = ws_row(ct, i + 3u);
        acc_a = mac4(acc_a, ta, r0, r1, r2, r3);
        acc_b = mac4(acc_b, tb, r0, r1, r2, r3);
        ta.a0 += vec4u(ohw);
        ta.a1 += vec4u(ohw);
        tb.a0 += vec4u(ohw);
        tb.a1 += vec4u(ohw);
        i += 4u;
      }
    }
  }
  store(pa, acc_a, c0);
  store(pb, acc_b, c0);
}
