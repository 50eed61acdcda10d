// Dropout (inverted, as torch.nn.Dropout in training): y = x·keep/(1 − p), keep = hash(seed, i) ≥ p.
// The mask is recomputed from the hash in backward instead of stored, so dropout keeps no memory
// between passes; the seed lives in a storage word the trainer rewrites each step.
// Layout: flat f32 arrays of `n` elements. Tiling: one element per invocation, grid folded.
// Bindings: 0 params {n, threshold (keep iff hash ≥ threshold), scale f32, salt (per layer, so
// layers draw different masks)}, 1 seed (read), 2 input (x or dy), 3 output (y or dx).

//!include common/grid.wgsl

override WG: u32 = 64u;

struct Params {
  n: u32,
  threshold: u32,
  scale: f32,
  salt: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> seed: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

// lowbias32 (Chris Wellons): a full-avalanche 32-bit mix; src/ops/dropout.ts mirrors it.
fn mix32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

@compute @workgroup_size(WG)
fn apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i < p.n) {
    let keep = mix32(i ^ mix32(seed[0] + p.salt)) >= p.threshold;
    dst[i] = select(0.0, src[i] * p.scale, keep);
  }
}
