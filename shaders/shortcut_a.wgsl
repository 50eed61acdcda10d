// Option-A ResNet shortcut over NCHW f32: y[n, k, oy, ox] = x[n, k − before, oy·s, ox·s] for
// input channels, 0 in the floor((K − C)/2) padding channels before them and the rest after.
// Layout: x, dx are [N, C, H, W]; y, dy are [N, K, OH, OW] with OH = ⌈H/s⌉, OW = ⌈W/s⌉.
// Tiling: one invocation per output element (forward) or per input element (backward, a gather
// that reads dy where the pixel was copied and writes 0 elsewhere — no races), WG lanes,
// grid folded by linear_workgroup. ACC adds into dx (the block input has two consumers).
//
// Entry points and bindings (0 is always the uniform params):
//   shortcut_fwd  1 x, 2 y (rw)
//   shortcut_bwd  1 dy, 2 dx (rw)

//!include common/grid.wgsl

const WG: u32 = 256u;

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
  let o = lane(wid, nwg, lid);
  if (o >= p.n * p.k * p.oh * p.ow) {
    return;
  }
  let ox = o % p.ow;
  let oy = (o / p.ow) % p.oh;
  let plane = o / (p.ow * p.oh);
  let n = plane / p.k;
  // Unsigned wrap makes channels before the input ones fail the < c test too.
  let c = plane - n * p.k - p.before;
  var v = 0.0;
  if (c < p.c) {
    v = f_x[((n * p.c + c) * p.h + oy * p.stride) * p.w + ox * p.stride];
  }
  f_y[o] = v;
}

@group(0) @binding(1) var<storage, read> b_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> b_dx: array<f32>;

@compute @workgroup_size(WG)
fn shortcut_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.n * p.c * p.h * p.w) {
    return;
  }
  let ix = i % p.w;
  let iy = (i / p.w) % p.h;
  let plane = i / (p.w * p.h);
  let n = plane / p.c;
  let c = plane - n * p.c;
  var g = 0.0;
  if (ix % p.stride == 0u && iy % p.stride == 0u) {
    g = b_dy[((n * p.k + c + p.before) * p.oh + iy / p.stride) * p.ow + ix / p.stride];
  }
  if (ACC) {
    b_dx[i] += g;
  } else {
    b_dx[i] = g;
  }
}
