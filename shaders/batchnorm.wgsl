// Batch normalization over NCHW f32 activations, per channel c over its m = N·H·W elements.
//
// Layout: x, y, dy, dx are NCHW; gamma, beta, mean, invstd, running_mean, running_var are [C].
// Items: the kernels load `item`s, vec4f when H·W % 4 == 0 (src/ops/batchnorm.ts compiles an f32
// variant by rewriting the alias block below otherwise). Mesa's llvmpipe loads storage one lane
// at a time with a bounds branch per lane, so a vec4 load moves 4× the bytes per branch.
// Tiling ("channel chunks"): workgroup w handles channel c = w / P, chunk p = w % P, i.e. the
// channel's items j in [p·chunk, (p+1)·chunk) where j = n·HW + (h·W + w) / ITEM. Consecutive
// lanes take consecutive j; a cursor (n, off) is advanced by WG each step instead of dividing.
// Channel constants (mean, invstd, γ, β, records) are read at workgroup-uniform addresses, which
// llvmpipe turns into single scalar loads. Partial results are merged in a fixed order, so
// results are deterministic.
// Reductions avoid barrier trees (each barrier suspends and resumes every SIMD group on
// llvmpipe): lanes reduce their items serially, then ONE barrier and lane 0 merges the WG lane
// results pairwise (the same tree a barrier tree would use).
//
// Train forward, 3 dispatches:
//   stats_partial  Welford per lane and item component, Chan merges -> part[c·P+p] = (n, mean, M2)
//                  bindings: 0 params, 1 x, 2 part (rw)
//   stats_lanes    (software adapters, one chunk of ≤ 2,048 items a channel, ≥ 32 channels) a lane
//                  per channel runs all of its items: part[c] (P = 1), no barrier, no lane merges
//   stats_final    one lane per channel merges its P partials (Chan, pairwise), writes mean, invstd and
//                  updates the running stats (PyTorch: momentum, unbiased variance) unless
//                  the batch's mean or variance is not finite
//                  bindings: 0 params, 1 part, 2 mean, 3 invstd, 4 running_mean, 5 running_var
//   normalize      y = (x − mean)·invstd·γ + β (EVAL: binding 2/3 are running mean/var instead)
//                  bindings: 0 params, 1 x, 2 mean, 3 invstd|var, 4 gamma, 5 beta, 6 y (rw)
//   normalize_add  y = nan_relu(normalize(x) + skip): a residual join fused in (the branch's BN
//                  output is never stored); bindings as normalize, plus 7 skip
// Backward, 2 dispatches (g = dy, or dy where relu(v) ≠ 0 for the fused BN+ReLU `_relu` entries, with
// the pre-activation v = (x − mean)·(invstd·γ) + β recomputed from the x both passes read anyway,
// by the forward's own expression so the mask is the forward's; reading the saved y instead cost
// a third stream per pass):
//   bwd_reduce     rec[c·P+p] = (Σg, Σg·x̂) over the chunk, plus the channel's mean, invstd, γ, β
//                  so the second pass needs no more bindings.
//                  bindings: 0 params, 1 dy, 2 x, 3 mean, 4 invstd, 5 gamma, 6 rec (rw), [7 beta]
//   bwd_reduce_lanes, bwd_reduce_relu_lanes, bwd_dx_lanes, bwd_dx_relu_lanes: the same work a lane
//                  per channel, as stats_lanes
//   bwd_dx         every lane sums the channel's P records pairwise (uniform loads, no barrier),
//                  dx (+)= γ·invstd·(g − Σg/m − x̂·Σg·x̂/m); chunk 0 writes dγ = Σg·x̂, dβ = Σg.
//                  bindings: 0 params, 1 dy, 2 x, 3 rec, 4 dx (rw), 5 dgamma, 6 dbeta
// Backward through the eval-mode normalization (a frozen batch norm kept in eval mode while the
// layers above it train), 1 dispatch: the running statistics and γ are constants, so
//   bwd_eval       dx (+)= g·k, k = γ/√(running var + eps) as normalize computes it (EVAL), g = dy,
//                  or with RELU dy where normalize's pre-activation was positive
//                  bindings: 0 params, 1 dy, 2 mean, 3 var, 4 gamma, 5 beta, 6 dx (rw), 7 x

//!include common/grid.wgsl

//!include common/relu.wgsl

//!item begin (replaced by the f32 variant in src/ops/batchnorm.ts)
alias item = vec4f;
alias uitem = vec4u;
const ITEM: u32 = 4u;
fn hsum(v: item) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}
// The item's per-component Welford states (each of n elements) as one (n, mean, M2).
fn collapse(n: f32, mean: item, m2: item) -> vec3f {
  let a = chan(vec3f(n, mean.x, m2.x), vec3f(n, mean.y, m2.y));
  let b = chan(vec3f(n, mean.z, m2.z), vec3f(n, mean.w, m2.w));
  return chan(a, b);
}
//!item end

const WG: u32 = 64u;
// Workgroup of the `_lanes` entries (a lane per channel), set by src/ops/batchnorm.ts: one
// workgroup runs on one CPU thread in llvmpipe, so it must be small enough to spread a layer's
// channels over the cores.
override LANES_WG: u32 = 8u;
// Most partials per channel (src/ops/batchnorm.ts MAXP): merged pairwise from a private array.
const MAXP: u32 = 64u;
// This pipeline's partials per channel (= p.parts, ≤ MAXP) and the power of two ≥ it that the
// pairwise merges run over, fixed per pipeline so the merge loops unroll to the records that
// exist: bwd_dx merges in every lane, and llvmpipe gathers even these same-address loads lane by
// lane, so merging MAXP slots (zeros past P) cost more than the pass itself at 16 partials. The
// tree over PARTS2 is the tree over MAXP minus levels that only added exact zeros: same bits.
override PARTS: u32 = MAXP;
override PARTS2: u32 = MAXP;

override RELU: bool = false;
override EVAL: bool = false;
override ACC: bool = false;

struct Params {
  c: u32,
  // Items per plane, per sample (C planes), per channel (N planes).
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
  // Elements (not items) per channel, as f32.
  count: f32,
  _pad1: u32,
}

// Backward partial record; the channel constants ride along so bwd_dx stays within 8 bindings.
struct Rec {
  sum_g: f32,
  sum_gx: f32,
  mean: f32,
  invstd: f32,
  gamma: f32,
  beta: f32,
  _p1: f32,
  _p2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

// Workgroup scratch for the one-barrier reductions (Welford triples, or two sums in s0/s1).
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

// ---- train forward: statistics ----

@group(0) @binding(1) var<storage, read> st_x: array<item>;
@group(0) @binding(2) var<storage, read_write> st_part: array<vec4f>;

// Welford per component over items j0, j0 + stride, … < j1 of channel c (the params' cursor step
// is `stride`): one division per item, no E[x²] − E[x]² cancellation.
fn welford_run(c: u32, j0: u32, j1: u32, stride: u32) -> vec3f {
  var cnt = 0.0;
  var mean = item(0.0);
  var m2 = item(0.0);
  var cur = cursor_at(j0);
  for (var j = j0; j < j1; j += stride) {
    let v = st_x[addr(cur, c)];
    cnt += 1.0;
    let d = v - mean;
    mean += d / cnt;
    m2 += d * (v - mean);
    cur = advance(cur);
  }
  return collapse(cnt, mean, m2);
}

@compute @workgroup_size(WG)
fn stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  var acc = vec3f(0.0);
  if (ch.valid) {
    acc = welford_run(ch.c, ch.j0 + lid, ch.j1, WG);
  }
  s0[lid] = acc.x;
  s1[lid] = acc.y;
  s2[lid] = acc.z;
  workgroupBarrier();
  if (lid == 0u && ch.valid) {
    // Pairwise (same tree as a barrier tree, error ~log WG) but by one lane: no more barriers.
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      for (var l = 0u; l < s; l++) {
        let r = chan(vec3f(s0[l], s1[l], s2[l]), vec3f(s0[l + s], s1[l + s], s2[l + s]));
        s0[l] = r.x;
        s1[l] = r.y;
        s2[l] = r.z;
      }
    }
    st_part[ch.c * p.parts + ch.part] = vec4f(s0[0], s1[0], s2[0], 0.0);
  }
}

// Few items per channel (ResNet-50's layer3/4 at batch 16: 16–64): a lane per channel runs all
// of its items (P = 1; the params' cursor steps one item), so no workgroup waits at a barrier for
// one lane's WG − 1 merges of lanes that mostly held nothing.
@compute @workgroup_size(LANES_WG)
fn stats_lanes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg) * LANES_WG + lid;
  if (c < p.c) {
    st_part[c] = vec4f(welford_run(c, 0u, p.m, 1u), 0.0);
  }
}

@group(0) @binding(1) var<storage, read> fin_part: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> fin_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> fin_invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> fin_rmean: array<f32>;
@group(0) @binding(5) var<storage, read_write> fin_rvar: array<f32>;

// One lane per channel: P ≤ MAXP is small, a one-lane pairwise merge beats a barrier tree.
@compute @workgroup_size(WG)
fn stats_final(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg) * WG + lid;
  if (c >= p.c) {
    return;
  }
  var t: array<vec3f, MAXP>;
  for (var q = 0u; q < PARTS2; q++) {
    if (q < PARTS) {
      t[q] = fin_part[c * PARTS + q].xyz;
    } else {
      t[q] = vec3f(0.0);
    }
  }
  for (var s = PARTS2 / 2u; s > 0u; s >>= 1u) {
    for (var l = 0u; l < s; l++) {
      t[l] = chan(t[l], t[l + s]);
    }
  }
  let r = t[0];
  let m = r.x;
  let mean = r.y;
  let biased = r.z / m;
  fin_mean[c] = mean;
  fin_invstd[c] = 1.0 / sqrt(biased + p.eps);
  // PyTorch folds the unbiased variance into the running estimate.
  let unbiased = select(biased, r.z / (m - 1.0), m > 1.0);
  // A batch with NaN or ±Inf (the step's guard skips its update) must not poison the running
  // statistics, which no optimizer step touches: they keep their values for it.
  let bits = bitcast<vec2u>(vec2f(mean, unbiased)) & vec2u(0x7f800000u);
  if (any(bits == vec2u(0x7f800000u))) {
    return;
  }
  fin_rmean[c] = (1.0 - p.momentum) * fin_rmean[c] + p.momentum * mean;
  fin_rvar[c] = (1.0 - p.momentum) * fin_rvar[c] + p.momentum * unbiased;
}

// ---- forward: normalize (train: batch stats; EVAL: running stats) ----

@group(0) @binding(1) var<storage, read> nm_x: array<item>;
@group(0) @binding(2) var<storage, read> nm_mean: array<f32>;
@group(0) @binding(3) var<storage, read> nm_scale: array<f32>;
@group(0) @binding(4) var<storage, read> nm_gamma: array<f32>;
@group(0) @binding(5) var<storage, read> nm_beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> nm_y: array<item>;

// One channel's affine map, shared by normalize and normalize_add so both give the same bits.
struct Affine {
  mean: f32,
  k: f32,
  b: f32,
}

fn channel_affine(c: u32) -> Affine {
  var invstd = nm_scale[c];
  if (EVAL) {
    invstd = 1.0 / sqrt(invstd + p.eps);
  }
  return Affine(nm_mean[c], invstd * nm_gamma[c], nm_beta[c]);
}

// (x − mean) first: x·scale + shift would cancel catastrophically when |mean| ≫ std.
fn apply(q: Affine, x: item) -> item {
  return (x - q.mean) * q.k + q.b;
}

@compute @workgroup_size(WG)
fn normalize(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  if (!ch.valid) {
    return;
  }
  let q = channel_affine(ch.c);
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, ch.c);
    var v = apply(q, nm_x[i]);
    if (RELU) {
      v = nan_relu(v);
    }
    nm_y[i] = v;
    cur = advance(cur);
  }
}

// ---- forward: normalize fused with the residual join that consumes it ----

@group(0) @binding(7) var<storage, read> nm_skip: array<item>;

// y = nan_relu(bn(x) + skip) by normalize's expression and then the join's (shaders/residual.wgsl),
// without storing bn(x) and reading it back: 3 streams instead of normalize's 2 plus the join's 3.
@compute @workgroup_size(WG)
fn normalize_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  if (!ch.valid) {
    return;
  }
  let q = channel_affine(ch.c);
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, ch.c);
    nm_y[i] = nan_relu(apply(q, nm_x[i]) + nm_skip[i]);
    cur = advance(cur);
  }
}

// ---- backward through eval-mode normalization (frozen batch norms) ----

@group(0) @binding(1) var<storage, read> be_dy: array<item>;
@group(0) @binding(6) var<storage, read_write> be_dx: array<item>;
// Read only with RELU (the mask); bound either way (the override does not remove the access).
@group(0) @binding(7) var<storage, read> be_x: array<item>;

@compute @workgroup_size(WG)
fn bwd_eval(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  if (!ch.valid) {
    return;
  }
  // normalize's own affine map (EVAL), so k and the ReLU mask are the forward's bits.
  let q = channel_affine(ch.c);
  var cur = cursor_at(ch.j0 + lid);
  for (var j = ch.j0 + lid; j < ch.j1; j += WG) {
    let i = addr(cur, ch.c);
    var g = be_dy[i];
    if (RELU) {
      g = select(item(0.0), g, apply(q, be_x[i]) > item(0.0));
    }
    if (ACC) {
      be_dx[i] += g * q.k;
    } else {
      be_dx[i] = g * q.k;
    }
    cur = advance(cur);
  }
}

// ---- backward pass 1: per-chunk Σg and Σg·x̂ ----

@group(0) @binding(1) var<storage, read> br_dy: array<item>;
@group(0) @binding(2) var<storage, read> br_x: array<item>;
@group(0) @binding(3) var<storage, read> br_mean: array<f32>;
@group(0) @binding(4) var<storage, read> br_invstd: array<f32>;
@group(0) @binding(5) var<storage, read> br_gamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> br_rec: array<Rec>;
@group(0) @binding(7) var<storage, read> br_beta: array<f32>;

fn reduce_finish(ch: Chunk, lid: u32, sums: vec2f, beta: f32) {
  s0[lid] = sums.x;
  s1[lid] = sums.y;
  workgroupBarrier();
  if (lid == 0u && ch.valid) {
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      for (var l = 0u; l < s; l++) {
        s0[l] += s0[l + s];
        s1[l] += s1[l + s];
      }
    }
    br_rec[ch.c * p.parts + ch.part] = channel_rec(ch.c, vec2f(s0[0], s1[0]), beta);
  }
}

// (Σg, Σg·x̂) over items j0, j0 + stride, … < j1 of channel c (the params' cursor step is
// `stride`), g = dy, or with `relu` dy where the pre-activation was positive — normalize's k and b
// (β, read by the caller: only the relu entries bind it)
// and its expression (apply) for v, so the mask is the forward's (a compiler that fused the two
// differently could flip only a v within rounding of 0, a ReLU tie).
fn grad_sums(c: u32, j0: u32, j1: u32, stride: u32, relu: bool, b: f32) -> vec2f {
  let mean = br_mean[c];
  let invstd = br_invstd[c];
  let k = invstd * br_gamma[c];
  var sg = item(0.0);
  var sgx = item(0.0);
  var cur = cursor_at(j0);
  for (var j = j0; j < j1; j += stride) {
    let i = addr(cur, c);
    let x = br_x[i];
    var g = br_dy[i];
    if (relu) {
      g = nan_relu_grad(nan_relu(apply(Affine(mean, k, b), x)), g);
    }
    sg += g;
    sgx += g * ((x - mean) * invstd);
    cur = advance(cur);
  }
  return vec2f(hsum(sg), hsum(sgx));
}

fn channel_rec(c: u32, sums: vec2f, beta: f32) -> Rec {
  return Rec(sums.x, sums.y, br_mean[c], br_invstd[c], br_gamma[c], beta, 0.0, 0.0);
}

@compute @workgroup_size(WG)
fn bwd_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let c = min(ch.c, p.c - 1u);
  let sums = grad_sums(c, ch.j0 + lid, ch.j1, WG, false, 0.0);
  reduce_finish(ch, lid, sums, 0.0);
}

@compute @workgroup_size(WG)
fn bwd_reduce_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let c = min(ch.c, p.c - 1u);
  let b = br_beta[c];
  let sums = grad_sums(c, ch.j0 + lid, ch.j1, WG, true, b);
  reduce_finish(ch, lid, sums, b);
}

// Few items per channel: a lane per channel (see stats_lanes); writes its one record (P = 1).
@compute @workgroup_size(LANES_WG)
fn bwd_reduce_lanes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg) * LANES_WG + lid;
  if (c < p.c) {
    br_rec[c] = channel_rec(c, grad_sums(c, 0u, p.m, 1u, false, 0.0), 0.0);
  }
}

@compute @workgroup_size(LANES_WG)
fn bwd_reduce_relu_lanes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                         @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg) * LANES_WG + lid;
  if (c < p.c) {
    let b = br_beta[c];
    br_rec[c] = channel_rec(c, grad_sums(c, 0u, p.m, 1u, true, b), b);
  }
}

// ---- backward pass 2: dx, dγ, dβ ----

@group(0) @binding(1) var<storage, read> bx_dy: array<item>;
@group(0) @binding(2) var<storage, read> bx_x: array<item>;
@group(0) @binding(3) var<storage, read> bx_rec: array<Rec>;
@group(0) @binding(4) var<storage, read_write> bx_dx: array<item>;
@group(0) @binding(5) var<storage, read_write> bx_dgamma: array<f32>;
@group(0) @binding(6) var<storage, read_write> bx_dbeta: array<f32>;

struct DxCoef {
  mean: f32,
  invstd: f32,
  // γ·invstd, normalize's k (invstd·γ: the same f32 product), and β.
  k: f32,
  beta: f32,
  mean_g: f32,
  mean_gx: f32,
}

// Sums the channel's records pairwise, loaded at uniform addresses (every workgroup gets the same bits)
// and writes dγ, dβ from chunk 0.
fn dx_coef(ch: Chunk, lid: u32) -> DxCoef {
  let c = min(ch.c, p.c - 1u);
  var t: array<vec2f, MAXP>;
  for (var q = 0u; q < PARTS2; q++) {
    if (q < PARTS) {
      let r = bx_rec[c * PARTS + q];
      t[q] = vec2f(r.sum_g, r.sum_gx);
    } else {
      t[q] = vec2f(0.0);
    }
  }
  for (var s = PARTS2 / 2u; s > 0u; s >>= 1u) {
    for (var l = 0u; l < s; l++) {
      t[l] += t[l + s];
    }
  }
  let sg = t[0].x;
  let sgx = t[0].y;
  let r0 = bx_rec[c * PARTS];
  if (lid == 0u && ch.valid && ch.part == 0u) {
    bx_dgamma[c] = sgx;
    bx_dbeta[c] = sg;
  }
  let inv_m = 1.0 / p.count;
  return DxCoef(r0.mean, r0.invstd, r0.invstd * r0.gamma, r0.beta, sg * inv_m, sgx * inv_m);
}

fn dx_store(i: u32, v: item) {
  if (ACC) {
    bx_dx[i] += v;
  } else {
    bx_dx[i] = v;
  }
}

// dx over items j0, j0 + stride, … < j1 of the chunk's channel (the params' cursor step is
// `stride`); with `relu`, g = dy where the forward's pre-activation was positive (as bwd_reduce).
fn dx_run(ch: Chunk, q: DxCoef, j0: u32, stride: u32, relu: bool) {
  var cur = cursor_at(j0);
  for (var j = j0; j < ch.j1; j += stride) {
    let i = addr(cur, ch.c);
    let x = bx_x[i];
    var g = bx_dy[i];
    if (relu) {
      g = nan_relu_grad(nan_relu(apply(Affine(q.mean, q.k, q.beta), x)), g);
    }
    let xhat = (x - q.mean) * q.invstd;
    dx_store(i, q.k * (g - q.mean_g - xhat * q.mean_gx));
    cur = advance(cur);
  }
}

@compute @workgroup_size(WG)
fn bwd_dx(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let q = dx_coef(ch, lid);
  if (ch.valid) {
    dx_run(ch, q, ch.j0 + lid, WG, false);
  }
}

@compute @workgroup_size(WG)
fn bwd_dx_relu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let ch = chunk_of(wid, nwg);
  let q = dx_coef(ch, lid);
  if (ch.valid) {
    dx_run(ch, q, ch.j0 + lid, WG, true);
  }
}

// Few items per channel (see stats_lanes): a lane per channel, over all of its items, writing
// its channel's dγ and dβ.
fn dx_lanes(wid: vec3u, nwg: vec3u, lid: u32, relu: bool) {
  let c = linear_workgroup(wid, nwg) * LANES_WG + lid;
  if (c < p.c) {
    let ch = Chunk(true, c, 0u, 0u, p.m);
    dx_run(ch, dx_coef(ch, 0u), 0u, 1u, relu);
  }
}

@compute @workgroup_size(LANES_WG)
fn bwd_dx_lanes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  dx_lanes(wid, nwg, lid, false);
}

@compute @workgroup_size(LANES_WG)
fn bwd_dx_relu_lanes(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_index) lid: u32) {
  dx_lanes(wid, nwg, lid, true);
}
