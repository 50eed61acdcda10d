// Fused residual join y = nan_relu(a + b) over flat f32 arrays of n elements (any layout, NCHW here).
// Items: the kernels move `item`s, vec4f as written (p.n counts vec4s). When n % 4 != 0,
// src/gpu/plan.ts (itemKernel) compiles an f32 variant by swapping the item block below for
// `alias item = f32;`. llvmpipe loads storage lane by lane with a bounds branch each, so a vec4
// load moves 4× the bytes per branch (2–2.4× faster, docs/journal/bench-history.md).
// Tiling: one item per invocation, WG lanes per workgroup, grid folded by linear_workgroup.
// The backward masks once and writes the gradient of BOTH branches in the same pass (the
// gradient is identical for a and b); ACC_A / ACC_B add into da / db instead of overwriting, so
// an identity shortcut's db can point at the block input's gradient that another path also fills.
//
// Entry points and bindings (0 is always the uniform params):
//   add_relu_fwd      1 a, 2 b, 3 y (rw)
//   add_relu_bwd      1 dy, 2 y, 3 da (rw), 4 db (rw)
//   add_relu_bwd_one  1 dy, 2 y, 3 da (rw)          only one branch needs a gradient

//!include common/grid.wgsl

//!include common/relu.wgsl

//!item begin (replaced by the f32 variant in src/gpu/plan.ts)
alias item = vec4f;
alias uitem = vec4u;
//!item end

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

@group(0) @binding(1) var<storage, read> f_a: array<item>;
@group(0) @binding(2) var<storage, read> f_b: array<item>;
@group(0) @binding(3) var<storage, read_write> f_y: array<item>;

@compute @workgroup_size(WG)
fn add_relu_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = lane(wid, nwg, lid);
  if (i < p.n) {
    f_y[i] = nan_relu(f_a[i] + f_b[i]);
  }
}

@group(0) @binding(1) var<storage, read> b_dy: array<item>;
@group(0) @binding(2) var<storage, read> b_y: array<item>;
@group(0) @binding(3) var<storage, read_write> b_da: array<item>;
@group(0) @binding(4) var<storage, read_write> b_db: array<item>;

fn masked(i: u32) -> item {
  return nan_relu_grad(b_y[i], b_dy[i]);
}

fn store_a(i: u32, g: item) {
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
