// 2-D pooling over NCHW f32 planes (PyTorch semantics, ceil_mode = false).
//
// Layout: x, dx are [N·C planes, H, W]; y, dy are [N·C, OH, OW]; argmax is u32 [N·C, OH, OW]
// holding the flat index into x of each window's first maximum (strict >, as PyTorch; a NaN is a
// maximum, so it propagates as PyTorch's does).
// Tiling: one invocation per output element (forwards) or per input element (backwards),
// WG lanes per workgroup, grid folded by linear_workgroup.
// Backwards are gathers — each input element sums, in ascending output order, the outputs whose
// window (max: whose argmax) holds it — so there are no write races for any kernel/stride and
// no atomics; ACC adds into dx instead of overwriting it.
//
// Entry points and bindings (0 is always the uniform params):
//   max_fwd       1 x, 2 y (rw), 3 argmax (rw)
//   max_bwd       1 dy, 2 argmax, 3 dx (rw)
//   avg_fwd       1 x, 2 y (rw)     count_include_pad: divisor counts padding inside the border
//   avg_bwd       1 dy, 2 dx (rw)
//   adaptive_fwd  1 x, 2 y (rw)     windows [⌊o·H/OH⌋, ⌈(o+1)·H/OH⌉)
//   adaptive_bwd  1 dy, 2 dx (rw)
//   gap_fwd       1 x, 2 y (rw)     one workgroup per plane, strided lanes + tree reduction
//   gap_fwd_lane  1 x, 2 y (rw)     one lane per plane, serial sum: for small planes (≤ 256),
//                                   where a workgroup would idle most lanes and pay barriers
//   gap_bwd       1 dy, 2 dx (rw)   dx = dy / (H·W)

//!include common/grid.wgsl

const WG: u32 = 64u;

override ACC: bool = false;

struct Params {
  planes: u32,
  h: u32,
  w: u32,
  oh: u32,
  ow: u32,
  k: u32,
  stride: u32,
  pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn lane(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_workgroup(wid, nwg) * WG + lid;
}

// Element o of y (the forwards' invocations) as plane, row and column.
struct OutPixel { plane: u32, oy: u32, ox: u32 }

fn out_pixel(o: u32) -> OutPixel {
  return OutPixel(o / (p.ow * p.oh), (o / p.ow) % p.oh, o % p.ow);
}

// Element i of x (the backwards' invocations) as plane, row and column.
struct InPixel { plane: u32, iy: u32, ix: u32 }

fn in_pixel(i: u32) -> InPixel {
  return InPixel(i / (p.w * p.h), (i / p.w) % p.h, i % p.w);
}

// Output index range [lo, hi) along one axis whose stride-s, size-k windows (offset −pad) hold
// input coordinate i: o·s − pad ≤ i ≤ o·s − pad + k − 1.
fn covering(i: u32, outs: u32) -> vec2u {
  let top = i32(i) + i32(p.pad);
  let lo = max(top - i32(p.k) + i32(p.stride), 0) / i32(p.stride);
  let hi = min(top / i32(p.stride) + 1, i32(outs));
  return vec2u(u32(lo), u32(max(hi, lo)));
}

// ---- max pool ----

@group(0) @binding(1) var<storage, read> mf_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mf_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mf_arg: array<u32>;

@compute @workgroup_size(WG)
fn max_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let o = lane(wid, nwg, lid);
  if (o >= p.planes * p.oh * p.ow) {
    return;
  }
  let px = out_pixel(o);
  let y0 = i32(px.oy * p.stride) - i32(p.pad);
  let x0 = i32(px.ox * p.stride) - i32(p.pad);
  var best = 0.0;
  var arg = 0xffffffffu;
  for (var ky = max(y0, 0); ky < min(y0 + i32(p.k), i32(p.h)); ky++) {
    for (var kx = max(x0, 0); kx < min(x0 + i32(p.k), i32(p.w)); kx++) {
      let i = (px.plane * p.h + u32(ky)) * p.w + u32(kx);
      let v = mf_x[i];
      // A NaN wins, as in PyTorch (decided on the bits: `v > best` alone would skip it).
      if (arg == 0xffffffffu || v > best || (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u) {
        best = v;
        arg = i;
      }
    }
  }
  mf_y[o] = best;
  mf_arg[o] = arg;
}

@group(0) @binding(1) var<storage, read> mb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> mb_arg: array<u32>;
@group(0) @binding(3) var<storage, read_write> mb_dx: array<f32>;

@compute @workgroup_size(WG)
fn max_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.planes * p.h * p.w) {
    return;
  }
  let px = in_pixel(i);
  let ry = covering(px.iy, p.oh);
  let rx = covering(px.ix, p.ow);
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    for (var ox = rx.x; ox < rx.y; ox++) {
      let o = (px.plane * p.oh + oy) * p.ow + ox;
      if (mb_arg[o] == i) {
        acc += mb_dy[o];
      }
    }
  }
  if (ACC) {
    mb_dx[i] += acc;
  } else {
    mb_dx[i] = acc;
  }
}

// ---- average pools (fixed and adaptive windows) ----

@group(0) @binding(1) var<storage, read> af_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> af_y: array<f32>;

// Window [start, end) along one axis and its divisor extent (padding counted, as PyTorch).
struct Win {
  lo: u32,
  hi: u32,
  extent: u32,
}

fn avg_win(o: u32, size: u32) -> Win {
  let start = i32(o * p.stride) - i32(p.pad);
  let end = min(start + i32(p.k), i32(size + p.pad));
  return Win(u32(max(start, 0)), u32(min(end, i32(size))), u32(end - start));
}

fn adaptive_win(o: u32, size: u32, outs: u32) -> Win {
  let lo = (o * size) / outs;
  let hi = ((o + 1u) * size + outs - 1u) / outs;
  return Win(lo, hi, hi - lo);
}

fn window_mean(plane: u32, wy: Win, wx: Win) -> f32 {
  var acc = 0.0;
  for (var iy = wy.lo; iy < wy.hi; iy++) {
    for (var ix = wx.lo; ix < wx.hi; ix++) {
      acc += af_x[(plane * p.h + iy) * p.w + ix];
    }
  }
  return acc / f32(wy.extent * wx.extent);
}

@compute @workgroup_size(WG)
fn avg_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let o = lane(wid, nwg, lid);
  if (o >= p.planes * p.oh * p.ow) {
    return;
  }
  let px = out_pixel(o);
  af_y[o] = window_mean(px.plane, avg_win(px.oy, p.h), avg_win(px.ox, p.w));
}

@compute @workgroup_size(WG)
fn adaptive_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let o = lane(wid, nwg, lid);
  if (o >= p.planes * p.oh * p.ow) {
    return;
  }
  let px = out_pixel(o);
  let wy = adaptive_win(px.oy, p.h, p.oh);
  let wx = adaptive_win(px.ox, p.w, p.ow);
  af_y[o] = window_mean(px.plane, wy, wx);
}

@group(0) @binding(1) var<storage, read> ab_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> ab_dx: array<f32>;

fn dx_store(i: u32, v: f32) {
  if (ACC) {
    ab_dx[i] += v;
  } else {
    ab_dx[i] = v;
  }
}

@compute @workgroup_size(WG)
fn avg_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.planes * p.h * p.w) {
    return;
  }
  let px = in_pixel(i);
  let ry = covering(px.iy, p.oh);
  let rx = covering(px.ix, p.ow);
  var acc = 0.0;
  for (var oy = ry.x; oy < ry.y; oy++) {
    let ey = avg_win(oy, p.h).extent;
    for (var ox = rx.x; ox < rx.y; ox++) {
      let d = f32(ey * avg_win(ox, p.w).extent);
      acc += ab_dy[(px.plane * p.oh + oy) * p.ow + ox] / d;
    }
  }
  dx_store(i, acc);
}

@compute @workgroup_size(WG)
fn adaptive_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.planes * p.h * p.w) {
    return;
  }
  let px = in_pixel(i);
  let iy = px.iy;
  let ix = px.ix;
  // Bins holding row iy are ⌊iy·OH/H⌋ ..= ⌈(iy+1)·OH/H⌉ − 1 (and likewise for columns).
  let oy1 = min(((iy + 1u) * p.oh + p.h - 1u) / p.h, p.oh);
  let ox1 = min(((ix + 1u) * p.ow + p.w - 1u) / p.w, p.ow);
  var acc = 0.0;
  for (var oy = (iy * p.oh) / p.h; oy < oy1; oy++) {
    let wy = adaptive_win(oy, p.h, p.oh);
    if (iy < wy.lo || iy >= wy.hi) {
      continue;
    }
    for (var ox = (ix * p.ow) / p.w; ox < ox1; ox++) {
      let wx = adaptive_win(ox, p.w, p.ow);
      if (ix < wx.lo || ix >= wx.hi) {
        continue;
      }
      acc += ab_dy[(px.plane * p.oh + oy) * p.ow + ox] / f32(wy.extent * wx.extent);
    }
  }
  dx_store(i, acc);
}

// ---- global average pool (N,C,H,W) <-> (N,C) ----

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn gap_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let plane = linear_workgroup(wid, nwg);
  let hw = p.h * p.w;
  var acc = 0.0;
  if (plane < p.planes) {
    for (var j = lid; j < hw; j += WG) {
      acc += af_x[plane * hw + j];
    }
  }
  partial[lid] = acc;
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      partial[lid] += partial[lid + s];
    }
  }
  if (lid == 0u && plane < p.planes) {
    af_y[plane] = partial[0] / f32(hw);
  }
}

@compute @workgroup_size(WG)
fn gap_fwd_lane(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let plane = lane(wid, nwg, lid);
  if (plane >= p.planes) {
    return;
  }
  let hw = p.h * p.w;
  var acc = 0.0;
  for (var j = 0u; j < hw; j++) {
    acc += af_x[plane * hw + j];
  }
  af_y[plane] = acc / f32(hw);
}

@compute @workgroup_size(WG)
fn gap_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  let hw = p.h * p.w;
  if (i >= p.planes * hw) {
    return;
  }
  dx_store(i, ab_dy[i / hw] / f32(hw));
}
