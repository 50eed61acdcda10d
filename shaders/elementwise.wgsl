// Elementwise affine map over a flat f32 array: y[i] = alpha * x[i] + beta (`axpb`).
// Layout: any, treated as a flat array of `n` elements.
// Tiling: one element per invocation, WG invocations per workgroup, grid folded for large n.
// Bindings: 0 params (uniform), 1 x (read), 2 y (read_write).

//!include common/grid.wgsl

override WG: u32 = 64u;

struct Params {
  n: u32,
  alpha: f32,
  beta: f32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn axpb(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i < p.n) {
    y[i] = p.alpha * x[i] + p.beta;
  }
}
