// Optimizer updates, one dispatch per parameter tensor, as torch.optim.SGD / torch.optim.AdamW.
// Layout: param, grad and state flat f32 arrays of `n` elements; one element per invocation,
// 256 per workgroup, grid folded (common/grid.wgsl).
// Hyperparameters live in two uniforms: `h`, shared by every tensor of an optimizer and rewritten
// with queue.writeBuffer when the schedule moves (lr, step, bias corrections: no re-planning),
// and `t`, per tensor and fixed (size, weight decay and L1 strengths, so groups may differ).
// The gradient is multiplied by clip[0] (the clip_grad_norm_ factor from reduce.wgsl, or a 1).
// Penalties: d = g·clip + wd_coupled·w + l1·sign(w) (L2 = coupled weight decay, L1 its sign
// term); decoupled decay shrinks w by (1 − lr·wd_decoupled) before the update.
// Bindings: 0 h (uniform), 1 t (uniform), 2 clip (read), 3 param (read_write), 4 grad (read),
//   sgd: 5 momentum buffer (read_write); adamw: 5 exp_avg, 6 exp_avg_sq (read_write).
//   sgd_plain (momentum 0) uses 0-4.

//!include common/grid.wgsl

struct Hyper {
  lr: f32,
  momentum: f32,
  dampening: f32,
  // 1: Nesterov momentum.
  nesterov: u32,
  // 1 on SGD's first step, where torch sets the momentum buffer to d itself.
  first: u32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  // lr / (1 − β1ᵗ) and √(1 − β2ᵗ), computed in f64 on the host.
  step_size: f32,
  bc2_sqrt: f32,
  _p0: u32,
  _p1: u32,
}

struct Tensor {
  n: u32,
  wd_coupled: f32,
  wd_decoupled: f32,
  l1: f32,
}

@group(0) @binding(0) var<uniform> h: Hyper;
@group(0) @binding(1) var<uniform> t: Tensor;
@group(0) @binding(2) var<storage, read> clip: array<f32>;
@group(0) @binding(3) var<storage, read_write> param: array<f32>;
@group(0) @binding(4) var<storage, read> grad: array<f32>;
@group(0) @binding(5) var<storage, read_write> state1: array<f32>;
@group(0) @binding(6) var<storage, read_write> state2: array<f32>;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_workgroup(wid, nwg) * 256u + lid;
}

// The penalized gradient d and the decayed weight, shared by every update rule.
fn penalized(i: u32) -> vec2f {
  let w = param[i];
  let d = grad[i] * clip[0] + t.wd_coupled * w + t.l1 * sign(w);
  return vec2f(d, w * (1.0 - h.lr * t.wd_decoupled));
}

@compute @workgroup_size(256)
fn sgd_plain(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= t.n) {
    return;
  }
  let dw = penalized(i);
  param[i] = dw.y - h.lr * dw.x;
}

@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= t.n) {
    return;
  }
  let dw = penalized(i);
  var buf = dw.x;
  if (h.first == 0u) {
    buf = h.momentum * state1[i] + (1.0 - h.dampening) * dw.x;
  }
  state1[i] = buf;
  let d = select(buf, dw.x + h.momentum * buf, h.nesterov != 0u);
  param[i] = dw.y - h.lr * d;
}

@compute @workgroup_size(256)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= t.n) {
    return;
  }
  let dw = penalized(i);
  let g = dw.x;
  let m = h.beta1 * state1[i] + (1.0 - h.beta1) * g;
  let v = h.beta2 * state2[i] + (1.0 - h.beta2) * g * g;
  state1[i] = m;
  state2[i] = v;
  param[i] = dw.y - h.step_size * m / (sqrt(v) / h.bc2_sqrt + h.eps);
}
