// Fused softmax cross-entropy, forward and backward, with metrics kept on the GPU.
// Layout: logits and dlogits row-major [N, classes] f32; labels [N] u32 (an i32 label < 0 reads as
// ≥ 2³¹, so both signednesses are range-checked by one unsigned compare).
// `xent_rows`: one workgroup per sample, WG invocations stride the classes and reduce max (with
//   the first index reaching it, PyTorch's argmax tie rule) and Σexp(l − max) in workgroup memory;
//   writes dlogits = scale·(softmax − onehot)/N and the row's loss and outcome to `rows`.
//   A label out of range is clamped for the read (never out of bounds) and the row masked:
//   zero gradient, no loss, not counted as a sample, counted in `bad_labels`.
// `xent_metrics`: one workgroup of 256 sums `rows` and adds the batch to `metrics` (Kahan-
//   compensated, so thousands of steps can accumulate before the trainer reads).
// Bindings xent_rows: 0 params (uniform), 1 logits (read), 2 labels (read), 3 dlogits
//   (read_write), 4 rows (read_write, [N] vec2: loss, outcome 0 wrong / 1 correct / 2 bad label).
// Bindings xent_metrics: 0 params, 1 rows (read), 2 metrics (read_write, struct Metrics).

//!include common/grid.wgsl

override WG: u32 = 64u;

struct Params {
  n: u32,
  classes: u32,
  // loss_scale / N: the gradient of the mean loss, times the (mixed-precision) loss scale.
  grad_scale: f32,
  _pad: u32,
}

struct Metrics {
  loss_sum: f32,
  // Kahan compensation term of loss_sum.
  loss_comp: f32,
  correct: u32,
  samples: u32,
  bad_labels: u32,
  steps: u32,
  // Words 6–11 belong to the training step's guard (shaders/guard.wgsl).
  _guard: array<u32, 6>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(4) var<storage, read_write> rows: array<vec2f>;

var<workgroup> red_v: array<f32, 256>;
var<workgroup> red_i: array<u32, 256>;

@compute @workgroup_size(WG)
fn xent_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  // Uniform per workgroup, so the early return keeps barriers in uniform control flow.
  let r = linear_workgroup(wid, nwg);
  if (r >= p.n) {
    return;
  }
  let base = r * p.classes;

  // Max and the first index attaining it. -FLT_MAX spelled exactly: Chromium's WGSL compiler
  // rejects -3.4028235e38, which lies past the largest f32 (Deno's rounds it down).
  var mv = -3.4028234663852886e38f;
  var mi = 0xffffffffu;
  for (var j = lid; j < p.classes; j += WG) {
    let v = logits[base + j];
    if (v > mv) {
      mv = v;
      mi = j;
    }
  }
  red_v[lid] = mv;
  red_i[lid] = mi;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      let ov = red_v[lid + s];
      let oi = red_i[lid + s];
      if (ov > red_v[lid] || (ov == red_v[lid] && oi < red_i[lid])) {
        red_v[lid] = ov;
        red_i[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  let mx = red_v[0];
  let arg = red_i[0];
  workgroupBarrier();

  var se = 0.0;
  for (var j = lid; j < p.classes; j += WG) {
    se += exp(logits[base + j] - mx);
  }
  red_v[lid] = se;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s /= 2u) {
    if (lid < s) {
      red_v[lid] += red_v[lid + s];
    }
    workgroupBarrier();
  }
  let sum = red_v[0];

  let raw = labels[r];
  let valid = raw < p.classes;
  let label = min(raw, p.classes - 1u);
  let g = select(0.0, p.grad_scale, valid);
  let inv = 1.0 / sum;
  for (var j = lid; j < p.classes; j += WG) {
    let prob = exp(logits[base + j] - mx) * inv;
    dlogits[base + j] = g * (prob - select(0.0, 1.0, j == label));
  }
  if (lid == 0u) {
    // −log p[label] = log Σexp(l − max) − (l[label] − max): no exp of the label term, no overflow.
    let loss = log(sum) - (logits[base + label] - mx);
    var outcome = select(0.0, 1.0, arg == label);
    if (!valid) {
      outcome = 2.0;
    }
    rows[r] = vec2f(select(0.0, loss, valid), outcome);
  }
}

@group(0) @binding(1) var<storage, read> rows_in: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> metrics: Metrics;

var<workgroup> red_c: array<vec2u, 256>;

@compute @workgroup_size(256)
fn xent_metrics(@builtin(local_invocation_index) lid: u32) {
  var loss = 0.0;
  var counts = vec2u(0u); // correct, bad
  for (var r = lid; r < p.n; r += 256u) {
    let v = rows_in[r];
    loss += v.x;
    counts += vec2u(u32(v.y == 1.0), u32(v.y == 2.0));
  }
  red_v[lid] = loss;
  red_c[lid] = counts;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s /= 2u) {
    if (lid < s) {
      red_v[lid] += red_v[lid + s];
      red_c[lid] += red_c[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    // Kahan summation: the running sum grows to ~10⁵ over an epoch while batches add ~10².
    let y = red_v[0] - metrics.loss_comp;
    let t = metrics.loss_sum + y;
    metrics.loss_comp = (t - metrics.loss_sum) - y;
    metrics.loss_sum = t;
    metrics.correct += red_c[0].x;
    metrics.bad_labels += red_c[0].y;
    metrics.samples += p.n - red_c[0].y;
    metrics.steps += 1u;
  }
}
