// Batch normalization over NCHW f32 activations, per channel c over its m = N·H·W elements.
//
// Layout: x, y, dy, dx are NCHW; gamma, beta, mean, invstd, running_mean, running_var are [C].
// Tiling ("channel chunks"): workgroup w handles channel c = w / P, chunk p = w % P, i.e. the
// channel's elements j in [p·chunk, (p+1)·chunk) where j = n·HW + (h·W + w). Consecutive lanes
// take consecutive j, so loads are contiguous within a plane; a cursor (n, off) is advanced by
// WG each step instead of dividing per element. P > 1 spreads few, large channels over many
// workgroups; their partial results are merged in a fixed order, so results are deterministic.
//
// Train forward, 3 dispatches:
//   stats_partial  Welford per lane, Chan merge across the workgroup -> part[c·P+p] = (n, mean, M2)
//                  bindings: 0 params, 1 x, 2 part (rw)
//   stats_final    one workgroup per channel merges its P partials (Chan), writes mean, invstd
//                  and updates the running stats (PyTorch: momentum, unbiased variance)
//                  bindings: 0 params, 1 part, 2 mean, 3 invstd, 4 running_mean, 5 running_var
//   normalize      y = (x − mean)·invstd·γ + β (EVAL: binding 2/3 are running mean/var instead)
//                  bindings: 0 params, 1 x, 2 mean, 3 invstd|var, 4 gamma, 5 beta, 6 y (rw)
// Backward, 2 dispatches (g = dy, or dy·(y > 0) for the fused BN+ReLU `_relu` entry points):
//   bwd_reduce     rec[c·P+p] = (Σg, Σg·x̂) over the chunk, plus the channel's mean, invstd, γ so
//                  the second pass needs no more bindings.
//                  bindings: 0 params, 1 dy, 2 x, 3 mean, 4 invstd, 5 gamma, 6 rec (rw), [7 y]
//   bwd_dx         merges the channel's P records, dx (+)= γ·invstd·(g − Σg/m − x̂·Σg·x̂/m);
//                  chunk 0 writes dγ = Σg·x̂, dβ = Σg.
//                  bindings: 0 params, 1 dy, 2 x, 3 rec, 4 dx (rw), 5 dgamma, 6 dbeta, [7 y]

//!include common/grid.wgsl

const WG: u32 = 256u;
// Most partials per channel: stats_final and bwd_dx merge them with one lane each.
const MAXP: u32 = 64u;

override RELU: bool = false;
override EVAL: bool = false;
override ACC: bool = false;

struct Params {
  c: u32,
  hw: u32,
  chw: u32,
  m: u32,
  parts: u32,
  chunk: u32,
  // WG = step_n·HW + step_off: how far the cursor moves per loop iteration.
  step_n: u32,
  step_off: u32,
  eps: f32,
  momentum: f32,
  _pad0: u32,
  _pad1: u32,
}

// Backward partial record; the channel constants ride along so bwd_dx stays within 8 bindings.
struct Rec {
  sum_g: f32,
  sum_gx: f32,
  mean: f32,
  invstd: f32,
  gamma: f32,
  _p0: f32,
  _p1: f32,
  _p2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Workgroup scratch for the tree reductions (Welford triples, or two sums in s0/s1).
var<workgroup> s0: array<f32, WG>;
var<workgroup> s1: array<f32, WG>;
var<workgroup> s2: array<f32, WG>;

struct Chunk {
  valid: bool,
  c: u32,
  part: u32,
  j0: u32,
  j1: u32,
}

fn chunk_of(wid: vec3u, nwg: vec3u) -> Chunk {
  let w = linear_workgroup(wid, nwg);
  let c = w / p.parts;
  let part = w - c * p.parts;
  let j0 = min(part * p.chunk, p.m);
  return Chunk(c < p.c, c, part, j0, min(j0 + p.chunk, p.m));
}

// Cursor over one channel: plane n, offset in the plane; addr = n·CHW + c·HW + off.
struct Cursor {
  n: u32,
  off: u32,
}

fn cursor_at(j: u32) -> Cursor {
  let n = j / p.hw;
  return Cursor(n, j - n * p.hw);
}

fn advance(cur: Cursor) -> Cursor {
  var r = Cursor(cur.n + p.step_n, cur.off + p.step_off);
  if (r.off >= p.hw) {
    r.off -= p.hw;
    r.n += 1u;
  }
  return r;
}

fn addr(cur: Cursor, c: u32) -> u32 {
  return cur.n * p.chw + c * p.hw + cur.off;
}

// Chan et al.'s pairwise merge of (count, mean, M2); exact for empty sides.
fn chan(a: vec3f, b: vec3f) -> vec3f {
  let n = a.x + b.x;
  if (b.x == 0.0) {
    return a;
  }
  if (a.x == 0.0) {
    return b;
  }
  let d = b.y - a.y;
  let fb = b.x / n;
  return vec3f(n, a.y + d * fb, a.z + b.z + d * d * a.x * fb);
}

// Tree-merges s0..s2[0..size) (size a power of two) into slot 0. Called uniformly.
fn tree_welford(lid: u32, size: u32) {
  for (var s = size / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      let r = chan(vec3f(s0[lid], s1[lid], s2[lid]), vec3f(s0[lid + s], s1[lid + s], s2[lid + s]));
      s0[lid] = r.x;
      s1[lid] = r.y;
      s2[lid] = r.z;
    }
  }
  workgroupBarrier();
}

// Tree-sums s0, s1 [0..size) into slot 0. Called uniformly.
fn tree_sum2(lid: u32, size: u32) {
  for (var s = size / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) {
      s0[lid] += s0[lid + s];
      s1[lid] += s1[lid + s];
    }
  }
  workgroupBarrier();
}

// ---- train forward: statistics ----

@group(0) @binding(1) var<storage, read> st_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> st_part: array<vec4f>;

@compute @workgroup_size(WG)
fn stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  // Welford per lane: one division per element, but no E[x²] − E[x]² cancellation.
  var acc = vec3f(0.0);
  if (ch.valid) {
    var cur = cursor_at(ch.j0 + lid);
    for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
      let v = st_x[addr(cur, ch.c)];
      acc.x += 1.0;
      let d = v - acc.y;
      acc.y += d / acc.x;
      acc.z += d * (v - acc.y);
      cur = advance(cur);
    }
  }
  s0[lid] = acc.x;
  s1[lid] = acc.y;
  s2[lid] = acc.z;
  tree_welford(lid, WG);
  if (lid == 0u && ch.valid) {
    st_part[ch.c * p.parts + ch.part] = vec4f(s0[0], s1[0], s2[0], 0.0);
  }
}

@group(0) @binding(1) var<storage, read> fin_part: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> fin_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> fin_invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> fin_rmean: array<f32>;
@group(0) @binding(5) var<storage, read_write> fin_rvar: array<f32>;

@compute @workgroup_size(MAXP)
fn stats_final(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg);
  var v = vec4f(0.0);
  if (c < p.c && lid < p.parts) {
    v = fin_part[c * p.parts + lid];
  }
  s0[lid] = v.x;
  s1[lid] = v.y;
  s2[lid] = v.z;
  tree_welford(lid, MAXP);
  if (lid == 0u && c < p.c) {
    let m = s0[0];
    let mean = s1[0];
    let biased = s2[0] / m;
    fin_mean[c] = mean;
    fin_invstd[c] = 1.0 / sqrt(biased + p.eps);
    // PyTorch folds the unbiased variance into the running estimate.
    let unbiased = select(biased, s2[0] / (m - 1.0), m > 1.0);
    fin_rmean[c] = (1.0 - p.momentum) * fin_rmean[c] + p.momentum * mean;
    fin_rvar[c] = (1.0 - p.momentum) * fin_rvar[c] + p.momentum * unbiased;
  }
}

// ---- forward: normalize (train: batch stats; EVAL: running stats) ----

@group(0) @binding(1) var<storage, read> nm_x: array<f32>;
@group(0) @binding(2) var<storage, read> nm_mean: array<f32>;
@group(0) @binding(3) var<storage, read> nm_scale: array<f32>;
@group(0) @binding(4) var<storage, read> nm_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> nm_beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> nm_y: array<f32>;

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  if (!ch.valid) {
    return;
  }
  let mean = nm_mean[ch.c];
  var invstd = nm_scale[ch.c];
  if (EVAL) {
    invstd = 1.0 / sqrt(invstd + p.eps);
  }
  // (x − mean) first: x·scale + shift would cancel catastrophically when |mean| ≫ std.
  let k = invstd * nm_gamma[ch.c];
  let b = nm_beta[ch.c];
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, ch.c);
    var v = (nm_x[i] - mean) * k + b;
    if (RELU) {
      v = max(v, 0.0);
    }
    nm_y[i] = v;
    cur = advance(cur);
  }
}

// ---- backward pass 1: per-chunk Σg and Σg·x̂ ----

@group(0) @binding(1) var<storage, read> br_dy: array<f32>;
@group(0) @binding(2) var<storage, read> br_x: array<f32>;
@group(0) @binding(3) var<storage, read> br_mean: array<f32>;
@group(0) @binding(4) var<storage, read> br_invstd: array<f32>;
@group(0) @binding(5) var<storage, read> br_gamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> br_rec: array<Rec>;
@group(0) @binding(7) var<storage, read> br_y: array<f32>;

fn reduce_finish(ch: Chunk, lid: u32, sg: f32, sgx: f32, mean: f32, invstd: f32) {
  s0[lid] = sg;
  s1[lid] = sgx;
  tree_sum2(lid, WG);
  if (lid == 0u && ch.valid) {
    br_rec[ch.c * p.parts + ch.part] =
      Rec(s0[0], s1[0], mean, invstd, br_gamma[ch.c], 0.0, 0.0, 0.0);
  }
}

@compute @workgroup_size(WG)
fn bwd_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let c = min(ch.c, p.c - 1u);
  let mean = br_mean[c];
  let invstd = br_invstd[c];
  var sg = 0.0;
  var sgx = 0.0;
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, c);
    let g = br_dy[i];
    sg += g;
    sgx += g * ((br_x[i] - mean) * invstd);
    cur = advance(cur);
  }
  reduce_finish(ch, lid, sg, sgx, mean, invstd);
}

@compute @workgroup_size(WG)
fn bwd_reduce_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let c = min(ch.c, p.c - 1u);
  let mean = br_mean[c];
  let invstd = br_invstd[c];
  var sg = 0.0;
  var sgx = 0.0;
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, c);
    let g = select(0.0, br_dy[i], br_y[i] > 0.0);
    sg += g;
    sgx += g * ((br_x[i] - mean) * invstd);
    cur = advance(cur);
  }
  reduce_finish(ch, lid, sg, sgx, mean, invstd);
}

// ---- backward pass 2: dx, dγ, dβ ----

@group(0) @binding(1) var<storage, read> bx_dy: array<f32>;
@group(0) @binding(2) var<storage, read> bx_x: array<f32>;
@group(0) @binding(3) var<storage, read> bx_rec: array<Rec>;
@group(0) @binding(4) var<storage, read_write> bx_dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> bx_dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> bx_dbeta: array<f32>;
@group(0) @binding(7) var<storage, read> bx_y: array<f32>;

struct DxCoef {
  mean: f32,
  invstd: f32,
  k: f32,
  mean_g: f32,
  mean_gx: f32,
}

// Merges the channel's records (every chunk workgroup gets the same bits) and writes dγ, dβ.
fn dx_coef(ch: Chunk, lid: u32) -> DxCoef {
  let c = min(ch.c, p.c - 1u);
  var sg = 0.0;
  var sgx = 0.0;
  if (lid < p.parts) {
    let r = bx_rec[c * p.parts + lid];
    sg = r.sum_g;
    sgx = r.sum_gx;
  }
  s0[lid] = sg;
  s1[lid] = sgx;
  tree_sum2(lid, MAXP);
  let r0 = bx_rec[c * p.parts];
  if (lid == 0u && ch.valid && ch.part == 0u) {
    bx_dgamma[c] = s1[0];
    bx_dbeta[c] = s0[0];
  }
  let inv_m = 1.0 / f32(p.m);
  return DxCoef(r0.mean, r0.invstd, r0.gamma * r0.invstd, s0[0] * inv_m, s1[0] * inv_m);
}

fn dx_store(i: u32, v: f32) {
  if (ACC) {
    bx_dx[i] += v;
  } else {
    bx_dx[i] = v;
  }
}

@compute @workgroup_size(WG)
fn bwd_dx(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let q = dx_coef(ch, lid);
  if (!ch.valid) {
    return;
  }
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, ch.c);
    let xhat = (bx_x[i] - q.mean) * q.invstd;
    dx_store(i, q.k * (bx_dy[i] - q.mean_g - xhat * q.mean_gx));
    cur = advance(cur);
  }
}

@compute @workgroup_size(WG)
fn bwd_dx_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let q = dx_coef(ch, lid);
  if (!ch.valid) {
    return;
  }
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, ch.c);
    let g = select(0.0, bx_dy[i], bx_y[i] > 0.0);
    let xhat = (bx_x[i] - q.mean) * q.invstd;
    dx_store(i, q.k * (g - q.mean_g - xhat * q.mean_gx));
    cur = advance(cur);
  }
}
