// Optimizer updates, one dispatch per parameter tensor, as torch.optim.SGD / torch.optim.AdamW.
// Layout: param, grad and state flat f32 arrays of `n` elements; one element per invocation,
// 256 per workgroup, grid folded (common/grid.wgsl). The `_v4` entries (n % 4 = 0; `t.n` then
// counts vec4s) update 4 elements per invocation through vec4 views of the same bindings:
// lavapipe loads and stores lane by lane, so a vec4 is one access where 4 floats were 4, and
// clip[0] is gathered once per 4 elements. Both read the same update rules (vec4 math; the
// scalar entries splat their element), so both round alike.
// Hyperparameters live in two uniforms: `h`, shared by every tensor of an optimizer and rewritten
// with queue.writeBuffer when the schedule moves (lr, step, bias corrections: no re-planning),
// and `t`, per tensor and fixed (size, weight decay and L1 strengths, so groups may differ).
// The gradient is multiplied by clip[0] (the clip_grad_norm_ factor from reduce.wgsl, or a 1).
// Penalties: d = g·clip + wd_coupled·w + l1·sign(w) (L2 = coupled weight decay, L1 its sign
// term); decoupled decay shrinks w by (1 − lr·wd_decoupled) before the update.
// Guard (src/ops/guard.ts, shaders/guard.wgsl): a step whose input, loss or gradients were not
// finite has set guard[0]; then nothing is written, so the weights and optimizer state stay as
// they were. An update that would not be finite (an overflowing learning rate) is not written
// either and sets bit 8, so no weight ever becomes NaN or ±Inf.
// Bindings: 0 h (uniform), 1 t (uniform), 2 clip (read), 3 param (read_write), 4 grad (read),
//   sgd: 5 momentum buffer (read_write); adamw: 5 exp_avg, 6 exp_avg_sq (read_write);
//   7 guard (read_write, atomic). sgd_plain (momentum 0) uses 0-4 and 7.

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
@group(0) @binding(7) var<storage, read_write> guard: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> param4: array<vec4f>;
@group(0) @binding(4) var<storage, read> grad4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> state14: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> state24: array<vec4f>;

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return linear_workgroup(wid, nwg) * 256u + lid;
}

const UPDATE_BIT: u32 = 8u;

// Lane i updates only when it is in range and the step was not flagged.
fn updates(i: u32) -> bool {
  return i < t.n && atomicLoad(&guard[0]) == 0u;
}

// Whether every value of an update is finite (on the bits); if not, flags the step.
fn finite_update(a: vec4f, b: vec4f, c: vec4f) -> bool {
  let e = vec4u(0x7f800000u);
  let bad = any((bitcast<vec4u>(a) & e) == e) || any((bitcast<vec4u>(b) & e) == e) ||
    any((bitcast<vec4u>(c) & e) == e);
  if (bad) {
    atomicOr(&guard[0], UPDATE_BIT);
  }
  return !bad;
}

// The penalized gradient d and the decayed weight w, shared by every update rule.
struct Penalized {
  d: vec4f,
  w: vec4f,
}

fn penalized(w: vec4f, g: vec4f) -> Penalized {
  let d = g * clip[0] + t.wd_coupled * w + t.l1 * sign(w);
  return Penalized(d, w * (1.0 - h.lr * t.wd_decoupled));
}

// New weights and state (state2: AdamW's second moment).
struct Updated {
  w: vec4f,
  state1: vec4f,
  state2: vec4f,
}

fn sgd_plain_rule(p: Penalized) -> vec4f {
  return p.w - h.lr * p.d;
}

fn sgd_rule(p: Penalized, old: vec4f) -> Updated {
  var buf = p.d;
  if (h.first == 0u) {
    buf = h.momentum * old + (1.0 - h.dampening) * p.d;
  }
  let d = select(buf, p.d + h.momentum * buf, h.nesterov != 0u);
  return Updated(p.w - h.lr * d, buf, vec4f(0.0));
}

fn adamw_rule(p: Penalized, m0: vec4f, v0: vec4f) -> Updated {
  let g = p.d;
  let m = h.beta1 * m0 + (1.0 - h.beta1) * g;
  let v = h.beta2 * v0 + (1.0 - h.beta2) * g * g;
  return Updated(p.w - h.step_size * m / (sqrt(v) / h.bc2_sqrt + h.eps), m, v);
}

@compute @workgroup_size(256)
fn sgd_plain(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (!updates(i)) {
    return;
  }
  let w = sgd_plain_rule(penalized(vec4f(param[i]), vec4f(grad[i])));
  if (finite_update(w, w, w)) {
    param[i] = w.x;
  }
}

@compute @workgroup_size(256)
fn sgd_plain_v4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (!updates(i)) {
    return;
  }
  let w = sgd_plain_rule(penalized(param4[i], grad4[i]));
  if (finite_update(w, w, w)) {
    param4[i] = w;
  }
}

@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (!updates(i)) {
    return;
  }
  let u = sgd_rule(penalized(vec4f(param[i]), vec4f(grad[i])), vec4f(state1[i]));
  if (finite_update(u.w, u.state1, u.state1)) {
    state1[i] = u.state1.x;
    param[i] = u.w.x;
  }
}

@compute @workgroup_size(256)
fn sgd_v4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (!updates(i)) {
    return;
  }
  let u = sgd_rule(penalized(param4[i], grad4[i]), state14[i]);
  if (finite_update(u.w, u.state1, u.state1)) {
    state14[i] = u.state1;
    param4[i] = u.w;
  }
}

@compute @workgroup_size(256)
fn adamw(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (!updates(i)) {
    return;
  }
  let p = penalized(vec4f(param[i]), vec4f(grad[i]));
  let u = adamw_rule(p, vec4f(state1[i]), vec4f(state2[i]));
  if (finite_update(u.w, u.state1, u.state2)) {
    state1[i] = u.state1.x;
    state2[i] = u.state2.x;
    param[i] = u.w.x;
  }
}

@compute @workgroup_size(256)
fn adamw_v4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (!updates(i)) {
    return;
  }
  let u = adamw_rule(penalized(param4[i], grad4[i]), state14[i], state24[i]);
  if (finite_update(u.w, u.state1, u.state2)) {
    state14[i] = u.state1;
    state24[i] = u.state2;
    param4[i] = u.w;
  }
}
