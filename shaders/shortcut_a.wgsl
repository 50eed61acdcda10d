// Option-A ResNet shortcut over NCHW f32: y[n, k, oy, ox] = x[n, k − before, oy·s, ox·s] for
// input channels, 0 in the floor((K − C)/2) padding channels before them and the rest after.
// Layout: x, dx are [N, C, H, W]; y, dy are [N, K, OH, OW] with OH = ⌈H/s⌉, OW = ⌈W/s⌉.
// Tiling: one invocation per ROW — an output row (forward) or an input row (backward, a gather
// that reads dy where the pixel was copied and writes 0 elsewhere, so no races) — walked column
// by column. llvmpipe has no vector integer division: the per-element index divisions of an
// invocation-per-element kernel (8 scalar divides per SIMD group each) cost more than the copy,
// so they are paid once per row. ACC adds into dx (the block input has two consumers) and then
// touches only the copied pixels.
//
// Entry points and bindings (0 is always the uniform params):
//   shortcut_fwd  1 x, 2 y (rw)       grid: N·K·OH rows
//   shortcut_bwd  1 dy, 2 dx (rw)     grid: N·C·H rows

//!include common/grid.wgsl

const WG: u32 = 64u;

override ACC: bool = false;

struct Params {
  n: u32,
  c: u32,
  h: u32,
  w: u32,
  k: u32,
  oh: u32,
  ow: u32,
  stride: u32,
  before: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn lane(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_workgroup(wid, nwg) * WG + lid;
}

@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_y: array<f32>;

@compute @workgroup_size(WG)
fn shortcut_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let row = lane(wid, nwg, lid);
  if (row >= p.n * p.k * p.oh) {
    return;
  }
  let plane = row / p.oh;
  let oy = row - plane * p.oh;
  let n = plane / p.k;
  // Unsigned wrap makes channels before the input ones fail the < c test too.
  let c = plane - n * p.k - p.before;
  let out = row * p.ow;
  if (c < p.c) {
    let src = ((n * p.c + c) * p.h + oy * p.stride) * p.w;
    for (var ox = 0u; ox < p.ow; ox++) {
      f_y[out + ox] = f_x[src + ox * p.stride];
    }
  } else {
    for (var ox = 0u; ox < p.ow; ox++) {
      f_y[out + ox] = 0.0;
    }
  }
}

@group(0) @binding(1) var<storage, read> b_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> b_dx: array<f32>;

@compute @workgroup_size(WG)
fn shortcut_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let row = lane(wid, nwg, lid);
  if (row >= p.n * p.c * p.h) {
    return;
  }
  let plane = row / p.h;
  let iy = row - plane * p.h;
  let n = plane / p.c;
  let c = plane - n * p.c;
  let oy = iy / p.stride;
  let dst = row * p.w;
  if (iy != oy * p.stride) {
    // A skipped row: no gradient reaches it.
    if (!ACC) {
      for (var ix = 0u; ix < p.w; ix++) {
        b_dx[dst + ix] = 0.0;
      }
    }
    return;
  }
  let src = ((n * p.k + c + p.before) * p.oh + oy) * p.ow;
  for (var ox = 0u; ox < p.ow; ox++) {
    let ix = dst + ox * p.stride;
    if (ACC) {
      b_dx[ix] += b_dy[src + ox];
    } else {
      b_dx[ix] = b_dy[src + ox];
      // The skipped columns after this one (the last may be cut short by W).
      for (var j = 1u; j < p.stride && ox * p.stride + j < p.w; j++) {
        b_dx[ix + j] = 0.0;
      }
    }
  }
}
