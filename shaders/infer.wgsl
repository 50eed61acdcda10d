// Inference's own kernels (src/ops/infer.ts): raw pixels to the network's normalized NCHW input,
// and the softmax of the logits.
//
// Pixels: out[n, c, y, x] = (v · unit − mean[c]) / std[c], where v is the image's pixel value
// (uint8 0…255 with unit = 1/255, or f32 in [0, 1] with unit = 1), read from HWC (HWC = true:
// (n, y, x, c), channel fastest, as image decoders produce it) or CHW order. The expression is
// torchvision's ToTensor + Normalize: (v/255 − mean)/std, with one rounding more for the divide.
// One output element per invocation, WG per workgroup, grid folded by linear_workgroup.
//   pixels_u8   1 src: u32 words holding 4 bytes each, little-endian, 2 stats, 3 out (rw)
//   pixels_f32  1 src: f32, 2 stats, 3 out (rw)
//   stats is [C] vec2f (mean, std).
//
// Softmax over each row of a [rows, classes] logits matrix, one lane per row (rows are few: the
// predictor's batch), max-subtracted as PyTorch does: p = exp(l − max) / Σ exp(l − max).
//   softmax_rows  1 logits, 2 probs (rw)

//!include common/grid.wgsl

const WG: u32 = 64u;

override HWC: bool = true;

struct PixelParams {
  // Output elements (n·C·H·W), channels C, pixels per plane H·W, and the pixel unit.
  total: u32,
  c: u32,
  hw: u32,
  unit: f32,
}

@group(0) @binding(0) var<uniform> pp: PixelParams;
@group(0) @binding(1) var<storage, read> src_u8: array<u32>;
@group(0) @binding(1) var<storage, read> src_f32: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

// Where output element i (NCHW) reads its pixel, and its channel.
fn source_index(i: u32) -> vec2u {
  let chw = pp.c * pp.hw;
  let n = i / chw;
  let r = i - n * chw;
  let c = r / pp.hw;
  if (HWC) {
    return vec2u((n * pp.hw + (r - c * pp.hw)) * pp.c + c, c);
  }
  return vec2u(i, c);
}

fn normalized(v: f32, c: u32) -> f32 {
  let s = stats[c];
  return (v * pp.unit - s.x) / s.y;
}

@compute @workgroup_size(WG)
fn pixels_u8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= pp.total) {
    return;
  }
  let s = source_index(i);
  let byte = (src_u8[s.x >> 2u] >> ((s.x & 3u) * 8u)) & 0xffu;
  out[i] = normalized(f32(byte), s.y);
}

@compute @workgroup_size(WG)
fn pixels_f32(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i >= pp.total) {
    return;
  }
  let s = source_index(i);
  out[i] = normalized(src_f32[s.x], s.y);
}

struct SoftmaxParams {
  rows: u32,
  classes: u32,
}

@group(0) @binding(0) var<uniform> sp: SoftmaxParams;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;

@compute @workgroup_size(WG)
fn softmax_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg) * WG + lid;
  if (row >= sp.rows) {
    return;
  }
  let base = row * sp.classes;
  var m = logits[base];
  for (var k = 1u; k < sp.classes; k++) {
    m = max(m, logits[base + k]);
  }
  var sum = 0.0;
  for (var k = 0u; k < sp.classes; k++) {
    let e = exp(logits[base + k] - m);
    probs[base + k] = e;
    sum += e;
  }
  for (var k = 0u; k < sp.classes; k++) {
    probs[base + k] /= sum;
  }
}
