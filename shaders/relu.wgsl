// ReLU over a flat f32 array of n elements (any layout).
// Tiling: one item per invocation, WG lanes per workgroup, grid folded by linear_workgroup. The
// `…4` entry points take vec4f items (p.n counts vec4s; src/ops/activation.ts uses them when
// n % 4 == 0): llvmpipe loads storage lane by lane with a bounds branch each, so vec4 loads move
// 4× the bytes per branch (bench/README.md). The f32 entry points are the fallback.
// Backward takes the forward OUTPUT y: y > 0 is the same mask as x > 0 and is what is kept.
//
// Entry points and bindings (0 is always the uniform params):
//   relu_fwd      1 x, 2 y (rw)
//   relu_inplace  1 x (rw)                   x = max(x, 0), a single binding
//   relu_bwd      1 dy, 2 y, 3 dx (rw)       dx (+)= dy·(y > 0); ACC adds
//   relu_fwd4, relu_inplace4, relu_bwd4: the same over vec4f items

//!include common/grid.wgsl

const WG: u32 = 256u;

override ACC: bool = false;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn lane(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_workgroup(wid, nwg) * WG + lid;
}

@group(0) @binding(1) var<storage, read> f_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> f_y: array<f32>;

@compute @workgroup_size(WG)
fn relu_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    f_y[i] = max(f_x[i], 0.0);
  }
}

@group(0) @binding(1) var<storage, read_write> ip_x: array<f32>;

@compute @workgroup_size(WG)
fn relu_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    ip_x[i] = max(ip_x[i], 0.0);
  }
}

@group(0) @binding(1) var<storage, read> b_dy: array<f32>;
@group(0) @binding(2) var<storage, read> b_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> b_dx: array<f32>;

@compute @workgroup_size(WG)
fn relu_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let g = select(0.0, b_dy[i], b_y[i] > 0.0);
  if (ACC) {
    b_dx[i] += g;
  } else {
    b_dx[i] = g;
  }
}

// ---- vec4f items (p.n = element count / 4) ----

@group(0) @binding(1) var<storage, read> f4_x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> f4_y: array<vec4f>;

@compute @workgroup_size(WG)
fn relu_fwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    f4_y[i] = max(f4_x[i], vec4f(0.0));
  }
}

@group(0) @binding(1) var<storage, read_write> ip4_x: array<vec4f>;

@compute @workgroup_size(WG)
fn relu_inplace4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    ip4_x[i] = max(ip4_x[i], vec4f(0.0));
  }
}

@group(0) @binding(1) var<storage, read> b4_dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4_y: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> b4_dx: array<vec4f>;

@compute @workgroup_size(WG)
fn relu_bwd4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let g = select(vec4f(0.0), b4_dy[i], b4_y[i] > vec4f(0.0));
  if (ACC) {
    b4_dx[i] += g;
  } else {
    b4_dx[i] = g;
  }
}
