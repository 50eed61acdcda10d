// Norm reductions for gradient clipping and diagnostics, with no readback.
// Layout: each tensor a flat f32 array; per-tensor results in one `norms` buffer (f32 per tensor).
// `sumsq_partial`: one dispatch per tensor, `chunks` workgroups of 256; workgroup g sums x² over
//   its contiguous chunk (strided by invocation, tree-reduced in workgroup memory) into
//   partials[base + g]. Two levels keep f32 round-off at ~(n / (chunks·256) + 16)·u.
// `norms_finish`: one dispatch for all tensors, one workgroup per tensor: norms[t] = √Σ partials
//   of tensor t (segments [start, count] in `segs`).
// `clip_factor`: one workgroup: total = √Σ norms², clip = [max_norm / (total + 1e-6) if < 1
//   else 1, total] (torch.nn.utils.clip_grad_norm_). Optimizers read clip[0] as a grad scale.
// `scale_by`: x[i] *= factor[0], to clip gradients in place when no optimizer applies it.
// Bindings sumsq_partial: 0 params, 1 x (read), 2 partials (read_write).
// Bindings norms_finish: 0 params, 1 partials (read), 2 segs (read), 3 norms (read_write).
// Bindings clip_factor: 0 params, 1 norms (read), 2 clip (read_write).
// Bindings scale_by: 0 params, 1 factor (read), 2 x (read_write).

//!include common/grid.wgsl

struct Params {
  // sumsq_partial: elements; norms_finish / clip_factor: tensors; scale_by: elements.
  n: u32,
  // sumsq_partial: first partial slot and elements per chunk.
  base: u32,
  per_chunk: u32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

var<workgroup> red: array<f32, 256>;

// Sums red[0..256) into red[0]; every invocation of the workgroup must call it.
fn reduce_workgroup(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s /= 2u) {
    if (lid < s) {
      red[lid] += red[lid + s];
    }
    workgroupBarrier();
  }
  return red[0];
}

@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;

@compute @workgroup_size(256)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  let start = g * p.per_chunk;
  if (start >= p.n) {
    return;
  }
  let end = min(p.n, start + p.per_chunk);
  var s = 0.0;
  for (var i = start + lid; i < end; i += 256u) {
    let v = x_in[i];
    s = fma(v, v, s);
  }
  let total = reduce_workgroup(lid, s);
  if (lid == 0u) {
    partials[p.base + g] = total;
  }
}

@group(0) @binding(1) var<storage, read> partials_in: array<f32>;
@group(0) @binding(2) var<storage, read> segs: array<vec2u>;
@group(0) @binding(3) var<storage, read_write> norms: array<f32>;

@compute @workgroup_size(256)
fn norms_finish(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let t = linear_workgroup(wid, nwg);
  if (t >= p.n) {
    return;
  }
  let seg = segs[t];
  var s = 0.0;
  for (var i = lid; i < seg.y; i += 256u) {
    s += partials_in[seg.x + i];
  }
  let total = reduce_workgroup(lid, s);
  if (lid == 0u) {
    norms[t] = sqrt(total);
  }
}

@group(0) @binding(1) var<storage, read> norms_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> clip: array<f32>;

@compute @workgroup_size(256)
fn clip_factor(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var t = lid; t < p.n; t += 256u) {
    let v = norms_in[t];
    s = fma(v, v, s);
  }
  let total = sqrt(reduce_workgroup(lid, s));
  if (lid == 0u) {
    clip[0] = min(1.0, p.max_norm / (total + 1e-6));
    clip[1] = total;
  }
}

@group(0) @binding(1) var<storage, read> factor: array<f32>;
@group(0) @binding(2) var<storage, read_write> x_io: array<f32>;

@compute @workgroup_size(256)
fn scale_by(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * 256u + lid;
  if (i < p.n) {
    x_io[i] *= factor[0];
  }
}
