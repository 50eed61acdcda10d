// Fused residual join y = relu(a + b) over flat f32 arrays of n elements (any layout, NCHW here).
// Tiling: one item per invocation, WG lanes per workgroup, grid folded by linear_workgroup. The
// `…4` entry points take vec4f items (p.n counts vec4s; src/ops/residual.ts uses them when n % 4
// == 0): llvmpipe loads storage lane by lane with a bounds branch each, so a vec4 load moves 4×
// the bytes per branch (2–2.4× faster, bench/README.md). The f32 entry points are the fallback.
// The backward masks once and writes the gradient of BOTH branches in the same pass (the
// gradient is identical for a and b); ACC_A / ACC_B add into da / db instead of overwriting, so
// an identity shortcut's db can point at the block input's gradient that another path also fills.
//
// Entry points and bindings (0 is always the uniform params):
//   add_relu_fwd      1 a, 2 b, 3 y (rw)
//   add_relu_bwd      1 dy, 2 y, 3 da (rw), 4 db (rw)
//   add_relu_bwd_one  1 dy, 2 y, 3 da (rw)          only one branch needs a gradient
//   add_relu_fwd4, add_relu_bwd4, add_relu_bwd_one4: the same over vec4f items

//!include common/grid.wgsl

const WG: u32 = 256u;

override ACC_A: bool = false;
override ACC_B: bool = false;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn lane(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_workgroup(wid, nwg) * WG + lid;
}

@group(0) @binding(1) var<storage, read> f_a: array<f32>;
@group(0) @binding(2) var<storage, read> f_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> f_y: array<f32>;

@compute @workgroup_size(WG)
fn add_relu_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    f_y[i] = max(f_a[i] + f_b[i], 0.0);
  }
}

@group(0) @binding(1) var<storage, read> b_dy: array<f32>;
@group(0) @binding(2) var<storage, read> b_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_da: array<f32>;
@group(0) @binding(4) var<storage, read_write> b_db: array<f32>;

fn masked(i: u32) -> f32 {
  return select(0.0, b_dy[i], b_y[i] > 0.0);
}

fn store_a(i: u32, g: f32) {
  if (ACC_A) {
    b_da[i] += g;
  } else {
    b_da[i] = g;
  }
}

@compute @workgroup_size(WG)
fn add_relu_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let g = masked(i);
  store_a(i, g);
  if (ACC_B) {
    b_db[i] += g;
  } else {
    b_db[i] = g;
  }
}

@compute @workgroup_size(WG)
fn add_relu_bwd_one(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    store_a(i, masked(i));
  }
}

// ---- vec4f items (p.n = element count / 4) ----

@group(0) @binding(1) var<storage, read> f4_a: array<vec4f>;
@group(0) @binding(2) var<storage, read> f4_b: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> f4_y: array<vec4f>;

@compute @workgroup_size(WG)
fn add_relu_fwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    f4_y[i] = max(f4_a[i] + f4_b[i], vec4f(0.0));
  }
}

@group(0) @binding(1) var<storage, read> b4_dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4_y: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> b4_da: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> b4_db: array<vec4f>;

fn masked4(i: u32) -> vec4f {
  return select(vec4f(0.0), b4_dy[i], b4_y[i] > vec4f(0.0));
}

fn store_a4(i: u32, g: vec4f) {
  if (ACC_A) {
    b4_da[i] += g;
  } else {
    b4_da[i] = g;
  }
}

@compute @workgroup_size(WG)
fn add_relu_bwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let g = masked4(i);
  store_a4(i, g);
  if (ACC_B) {
    b4_db[i] += g;
  } else {
    b4_db[i] = g;
  }
}

@compute @workgroup_size(WG)
fn add_relu_bwd_one4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    store_a4(i, masked4(i));
  }
}
