// ReLU over a flat f32 array of n elements (any layout).
// Items: the kernels move `item`s, vec4f as written (p.n counts vec4s). When n % 4 != 0,
// src/gpu/plan.ts (itemKernel) compiles an f32 variant by swapping the item block below for
// `alias item = f32;`. llvmpipe loads storage lane by lane with a bounds branch each, so vec4
// loads move 4× the bytes per branch (docs/journal/bench-history.md).
// Tiling: one item per invocation, WG lanes per workgroup, grid folded by linear_workgroup.
// Backward takes the forward OUTPUT y: y ≠ 0 is the same mask as x > 0 and is what is kept.
// NaN passes both ways, as in PyTorch (common/relu.wgsl decides on the bits).
//
// Entry points and bindings (0 is always the uniform params):
//   relu_fwd      1 x, 2 y (rw)
//   relu_inplace  1 x (rw)                   x = nan_relu(x), a single binding
//   relu_bwd      1 dy, 2 y, 3 dx (rw)       dx (+)= dy where y ≠ 0; ACC adds

//!include common/grid.wgsl

//!include common/relu.wgsl

//!item begin (replaced by the f32 variant in src/gpu/plan.ts)
alias item = vec4f;
alias uitem = vec4u;
//!item end

const WG: u32 = 256u;

override ACC: bool = false;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn lane(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_workgroup(wid, nwg) * WG + lid;
}

@group(0) @binding(1) var<storage, read> f_x: array<item>;
@group(0) @binding(2) var<storage, read_write> f_y: array<item>;

@compute @workgroup_size(WG)
fn relu_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    f_y[i] = nan_relu(f_x[i]);
  }
}

@group(0) @binding(1) var<storage, read_write> ip_x: array<item>;

@compute @workgroup_size(WG)
fn relu_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    ip_x[i] = nan_relu(ip_x[i]);
  }
}

@group(0) @binding(1) var<storage, read> b_dy: array<item>;
@group(0) @binding(2) var<storage, read> b_y: array<item>;
@group(0) @binding(3) var<storage, read_write> b_dx: array<item>;

@compute @workgroup_size(WG)
fn relu_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i >= p.n) {
    return;
  }
  let g = nan_relu_grad(b_y[i], b_dy[i]);
  if (ACC) {
    b_dx[i] += g;
  } else {
    b_dx[i] = g;
  }
}
