// Small reductions for conv2d backward-weight.
// `sum_splits`: dst[i] = Σ_s src[s·count + i] over the split-K partial dW slices written by
//   conv2d_backward_weight.wgsl, in split order (deterministic). One element per invocation.
// `sum_splits_bias`: the same for split-K forward partial outputs, plus the bias of each output's
//   channel (params: count, slices, OH·OW, K; binding 3 bias).
// `sum_splits_into`: the same for split-K backward-data partial dx, added to the old dx when ACC.
// `bias_grad`: dst[k] = Σ_{n, pixel} src[(n·K + k)·plane + pixel] (db from dy, NCHW). One
//   workgroup per channel; invocations stride over the plane, then a tree sum in workgroup
//   memory (fixed order, so the result does not depend on scheduling).
// Bindings: 0 params (uniform), 1 src (read), 2 dst (read_write).
// Grid: sum_splits 1-D folded over ceil(count / WG); bias_grad 1-D folded over K.

//!include common/grid.wgsl

override WG: u32 = 64u;
override ACC: bool = false;

struct Params {
  // sum_splits(_bias, _into): elements per slice, slices[, OH·OW, K]. bias_grad: N, K, OH·OW.
  a: u32,
  b: u32,
  plane: u32,
  channels: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

var<workgroup> partial: array<f32, WG>;

// Σ_s src[s·count + i] in split order.
fn split_sum(i: u32) -> f32 {
  var s = 0.0;
  for (var j = 0u; j < p.b; j++) {
    s += src[j * p.a + i];
  }
  return s;
}

@compute @workgroup_size(WG)
fn sum_splits(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i < p.a) {
    dst[i] = split_sum(i);
  }
}

// Split-K conv forward: y[i] = bias[k(i)] + Σ_s src[s·count + i] (NCHW y, k = (i / plane) % K).
@group(0) @binding(3) var<storage, read> sb_bias: array<f32>;

@compute @workgroup_size(WG)
fn sum_splits_bias(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i < p.a) {
    dst[i] = split_sum(i) + sb_bias[(i / p.plane) % p.channels];
  }
}

// Split-K conv backward-data: dx[i] = (ACC ? dx[i] : 0) + Σ_s src[s·count + i].
@compute @workgroup_size(WG)
fn sum_splits_into(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i < p.a) {
    if (ACC) {
      dst[i] += split_sum(i);
    } else {
      dst[i] = split_sum(i);
    }
  }
}

@compute @workgroup_size(WG)
fn bias_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let k = linear_workgroup(wid, nwg);
  // The whole workgroup leaves together, so no barrier is skipped by part of it.
  if (k >= p.b) {
    return;
  }
  var s = 0.0;
  for (var n = 0u; n < p.a; n++) {
    let base = (n * p.b + k) * p.plane;
    for (var i = lid; i < p.plane; i += WG) {
      s += src[base + i];
    }
  }
  partial[lid] = s;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid < half) {
      partial[lid] += partial[lid + half];
    }
  }
  if (lid == 0u) {
    dst[k] = partial[0];
  }
}
