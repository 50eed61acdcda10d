// Packs conv weights (OIHW, K × C × KH × KW) into 64 KiB windows for the uniform-weight conv
// entry points (`forward_uw`, `forward_1x1_uw`, `backward_data_uw`): on lavapipe (Mesa 22.3) a
// uniform-buffer load is a branch-free gather, a storage load a per-lane loop with a branch each.
// Layout: window t (16384 floats = 64 KiB, the uniform binding limit) holds the 16 GEMM columns
//   16t..16t+15 for every reduction row i, row-major: dst[t·16384 + 16i + j]. Rows follow the
//   kernels' loop order i = tap·inner + e, tap = ky·KW + kx:
//   forward (transpose = 0): column = output channel k, inner = input channel c;
//   backward-data (transpose = 1): column = input channel c, inner = output channel k.
//   Columns past the last channel are zero. The planner ensures KH·KW·inner ≤ 1024.
// `pack_dy` packs dy (NCHW, N × K × OH × OW) the same way for `backward_weight_uw`: window
//   t·chunks + j holds channels 16t..16t+15 of the chunk_px output pixels l = j·chunk_px + q
//   (l = (n·OH + oy)·OW + ox): dst[(t·chunks + j)·16384 + 16q + col]. Channels past K and
//   pixels past N·OH·OW are zero. The planner ensures chunk_px ≤ 1024.
// `pack_c4` repacks an NCHW activation (x, or dy for backward-data) with C % 4 = 0 as NC4HW4,
//   dst4[(n·C/4 + c4)·HW + pixel] = the 4 channels 4·c4..4·c4+3 of that pixel, for the
//   `_x4` conv entry points: a vec4 storage load costs lavapipe ~2.4× less per float than f32.
// Tiling: pack_weights one element per invocation, grid 1-D folded over tiles × rows × 16;
//   pack_dy one pixel (16 channels) per invocation, grid over tiles × chunks × chunk_px.
// Bindings: 0 params (uniform), 1 w or dy (read), 2 dst (read_write).

//!include common/grid.wgsl

override WG: u32 = 64u;

struct Params {
  k: u32, c: u32, khw: u32, count: u32,
  // Columns of the GEMM (K or C), reduction rows per window (KH·KW·inner), 1 for backward-data.
  cols: u32, rows: u32, transpose: u32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
struct DyParams {
  k: u32, chunks: u32, ohw: u32, count: u32,
  // Output pixels per window and in all of dy (N·OH·OW).
  chunk_px: u32, l: u32, _p0: u32, _p1: u32,
}

struct C4Params {
  // Vec4s to write (N·C/4·HW) and the H·W plane.
  count: u32, hw: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> c4p: C4Params;

@group(0) @binding(0) var<uniform> q: DyParams;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

@compute @workgroup_size(WG)
fn pack_weights(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let idx = linear_workgroup(wid, nwg) * WG + lid;
  if (idx >= p.count) {
    return;
  }
  let per = p.rows * 16u;
  let t = idx / per;
  let rem = idx - t * per;
  let i = rem / 16u;
  let col = t * 16u + (rem & 15u);
  let inner = select(p.c, p.k, p.transpose != 0u);
  let tp = i / inner;
  let e = i - tp * inner;
  var v = 0.0;
  if (col < p.cols) {
    let k = select(col, e, p.transpose != 0u);
    let c = select(e, col, p.transpose != 0u);
    v = w[(k * p.c + c) * p.khw + tp];
  }
  dst[t * 16384u + rem] = v;
}

// One output pixel's 16 channels per invocation (3 integer divisions per 16 elements: lavapipe
// divides lane by lane, and one division per element made this pack cost 1/8 of the dW kernel);
// consecutive invocations read consecutive pixels of each dy plane.
@compute @workgroup_size(WG)
fn pack_dy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let idx = linear_workgroup(wid, nwg) * WG + lid;
  if (idx >= q.count) {
    return;
  }
  let lpad = q.chunks * q.chunk_px;
  let t = idx / lpad;
  let l = idx - t * lpad;
  let j = l / q.chunk_px;
  let o = (t * q.chunks + j) * 4096u + (l - j * q.chunk_px) * 4u;
  var v = array<f32, 16>();
  if (l < q.l) {
    let n = l / q.ohw;
    let base = (n * q.k + t * 16u) * q.ohw + (l - n * q.ohw);
    for (var col = 0u; col < 16u; col++) {
      if (t * 16u + col < q.k) {
        v[col] = w[base + col * q.ohw];
      }
    }
  }
  dst4[o] = vec4f(v[0], v[1], v[2], v[3]);
  dst4[o + 1u] = vec4f(v[4], v[5], v[6], v[7]);
  dst4[o + 2u] = vec4f(v[8], v[9], v[10], v[11]);
  dst4[o + 3u] = vec4f(v[12], v[13], v[14], v[15]);
}

// One vec4 (4 channels of one pixel) per invocation; consecutive invocations read consecutive
// pixels of each of the 4 planes.
@compute @workgroup_size(WG)
fn pack_c4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let idx = linear_workgroup(wid, nwg) * WG + lid;
  if (idx >= c4p.count) {
    return;
  }
  let plane = idx / c4p.hw;
  let b = plane * 4u * c4p.hw + (idx - plane * c4p.hw);
  dst4[idx] = vec4f(w[b], w[b + c4p.hw], w[b + 2u * c4p.hw], w[b + 3u * c4p.hw]);
}
