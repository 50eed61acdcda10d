// Packs conv weights (OIHW, K × C × KH × KW) into 64 KiB windows for the uniform-weight conv
// entry points (`forward_uw`, `forward_1x1_uw`, `backward_data_uw`): on lavapipe (Mesa 22.3) a
// uniform-buffer load is a branch-free gather, a storage load a per-lane loop with a branch each.
// Layout: window t (16384 floats = 64 KiB, the uniform binding limit) holds the 16 GEMM columns
//   16t..16t+15 for every reduction row i, row-major: dst[t·16384 + 16i + j]. Rows follow the
//   kernels' loop order i = tap·inner + e, tap = ky·KW + kx:
//   forward (transpose = 0): column = output channel k, inner = input channel c;
//   backward-data (transpose = 1): column = input channel c, inner = output channel k.
//   Columns past the last channel are zero. The planner ensures KH·KW·inner ≤ 1024. With a tile
//   stride of 16·rows instead of 16384, the tiles lie back to back (any row count) for the
//   `_lanes_k` entries, which read them as storage.
// `pack_dy` packs dy (NCHW, N × K × OH × OW) the same way for `backward_weight_uw`: window
//   t·chunks + j holds channels 16t..16t+15 of the chunk_px output pixels l = j·chunk_px + q
//   (l = (n·OH + oy)·OW + ox): dst[(t·chunks + j)·16384 + 16q + col]. Channels past K and
//   pixels past N·OH·OW are zero. The planner ensures chunk_px ≤ 1024.
// `pack_c4` repacks an NCHW activation (x, or dy for backward-data) with C % 4 = 0 as NC4HW4,
//   dst4[(n·C/4 + c4)·HW + pixel] = the 4 channels 4·c4..4·c4+3 of that pixel, for the
//   `_x4` conv entry points: a vec4 storage load costs lavapipe ~2.4× less per float than f32.
//   `pack_c4_v` (HW % 4 = 0) and `pack_dy_v` (OH·OW and chunk_px % 4 = 0) do the same 4 pixels
//   at a time from vec4 loads.
// Tiling: pack_weights one row of 16 columns per invocation, grid 1-D folded over tiles × rows;
//   pack_dy one pixel (16 channels) per invocation, grid over tiles × chunks × chunk_px.
// Bindings: 0 params (uniform), 1 w or dy (read), 2 dst (read_write).

//!include common/grid.wgsl

override WG: u32 = 64u;

struct Params {
  k: u32, c: u32, khw: u32, count: u32,
  // Columns of the GEMM (K or C), reduction rows per window (KH·KW·inner), 1 for backward-data,
  // floats from one tile to the next (16384: one window each; rows·16: back to back, for the
  // kernels that read every tile as storage).
  cols: u32, rows: u32, transpose: u32, tile_stride: u32,
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
@group(0) @binding(1) var<storage, read> w4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

// One row of a tile (16 columns, 4 vec4 stores) per invocation, rows of a tile on consecutive
// lanes: one element per invocation paid 4 integer divisions each (lavapipe divides lane by
// lane) and scalar stores, and the packs of a ResNet-50 step took 5 % of its GPU time.
@compute @workgroup_size(WG)
fn pack_weights(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_index) lid: u32) {
  let idx = linear_workgroup(wid, nwg) * WG + lid;
  if (idx >= p.count) {
    return;
  }
  let t = idx / p.rows;
  let i = idx - t * p.rows;
  let inner = select(p.c, p.k, p.transpose != 0u);
  let tp = i / inner;
  let e = i - tp * inner;
  // Element (k, c, tap) of w for column col: k = col, c = e (forward) or k = e, c = col.
  let at_col = select(vec2u(p.c * p.khw, e * p.khw), vec2u(p.khw, e * p.c * p.khw),
    p.transpose != 0u);
  let o = (t * p.tile_stride + i * 16u) / 4u;
  for (var q = 0u; q < 4u; q++) {
    let col = t * 16u + q * 4u;
    let base = at_col.y + tp;
    dst4[o + q] = vec4f(weight_at(col, at_col.x, base), weight_at(col + 1u, at_col.x, base),
      weight_at(col + 2u, at_col.x, base), weight_at(col + 3u, at_col.x, base));
  }
}

// w[col·stride + base] for a column of the GEMM, zero past the last one.
fn weight_at(col: u32, stride: u32, base: u32) -> f32 {
  return select(0.0, w[min(col, p.cols - 1u) * stride + base], col < p.cols);
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

// `pack_c4` for HW % 4 = 0: 4 pixels per invocation, read as one vec4 from each of the 4 channel
// planes and transposed (per-lane vec4 loads cost lavapipe ~2.4× less per float than f32).
@compute @workgroup_size(WG)
fn pack_c4_v(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let idx = linear_workgroup(wid, nwg) * WG + lid;
  if (idx >= c4p.count) {
    return;
  }
  let q = c4p.hw / 4u;
  let plane = idx / q;
  // Vec4 index of channel 4·c4's 4 pixels in NCHW, and of the first output pixel.
  let b = plane * c4p.hw + (idx - plane * q);
  let v0 = w4[b];
  let v1 = w4[b + q];
  let v2 = w4[b + 2u * q];
  let v3 = w4[b + 3u * q];
  let o = plane * c4p.hw + 4u * (idx - plane * q);
  dst4[o] = vec4f(v0.x, v1.x, v2.x, v3.x);
  dst4[o + 1u] = vec4f(v0.y, v1.y, v2.y, v3.y);
  dst4[o + 2u] = vec4f(v0.z, v1.z, v2.z, v3.z);
  dst4[o + 3u] = vec4f(v0.w, v1.w, v2.w, v3.w);
}

// dy vec4 (4 pixels) of channel 16t + col at vec4 index `b`, zero past K.
fn dy4_at(b: u32, t: u32, col: u32) -> vec4f {
  return select(vec4f(0.0), w4[min(b + col * (q.ohw / 4u), arrayLength(&w4) - 1u)],
                t * 16u + col < q.k);
}

// `pack_dy` for OH·OW % 4 = 0 and chunk_px % 4 = 0: 4 pixels × 16 channels per invocation from 16
// vec4 loads (one per channel plane), written as the 4 pixels' 16 vec4s.
@compute @workgroup_size(WG)
fn pack_dy_v(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let idx = linear_workgroup(wid, nwg) * WG + lid;
  if (idx >= q.count) {
    return;
  }
  let lpad4 = q.chunks * q.chunk_px / 4u;
  let t = idx / lpad4;
  let l = 4u * (idx - t * lpad4);
  let j = l / q.chunk_px;
  let o = (t * q.chunks + j) * 4096u + (l - j * q.chunk_px) * 4u;
  var b = 0u;
  var live = l < q.l;
  if (live) {
    let n = l / q.ohw;
    b = ((n * q.k + t * 16u) * q.ohw + (l - n * q.ohw)) / 4u;
  }
  let c0 = select(vec4f(0.0), dy4_at(b, t, 0u), live);
  let c1 = select(vec4f(0.0), dy4_at(b, t, 1u), live);
  let c2 = select(vec4f(0.0), dy4_at(b, t, 2u), live);
  let c3 = select(vec4f(0.0), dy4_at(b, t, 3u), live);
  let c4 = select(vec4f(0.0), dy4_at(b, t, 4u), live);
  let c5 = select(vec4f(0.0), dy4_at(b, t, 5u), live);
  let c6 = select(vec4f(0.0), dy4_at(b, t, 6u), live);
  let c7 = select(vec4f(0.0), dy4_at(b, t, 7u), live);
  let c8 = select(vec4f(0.0), dy4_at(b, t, 8u), live);
  let c9 = select(vec4f(0.0), dy4_at(b, t, 9u), live);
  let c10 = select(vec4f(0.0), dy4_at(b, t, 10u), live);
  let c11 = select(vec4f(0.0), dy4_at(b, t, 11u), live);
  let c12 = select(vec4f(0.0), dy4_at(b, t, 12u), live);
  let c13 = select(vec4f(0.0), dy4_at(b, t, 13u), live);
  let c14 = select(vec4f(0.0), dy4_at(b, t, 14u), live);
  let c15 = select(vec4f(0.0), dy4_at(b, t, 15u), live);
  dst4[o] = vec4f(c0.x, c1.x, c2.x, c3.x);
  dst4[o + 1u] = vec4f(c4.x, c5.x, c6.x, c7.x);
  dst4[o + 2u] = vec4f(c8.x, c9.x, c10.x, c11.x);
  dst4[o + 3u] = vec4f(c12.x, c13.x, c14.x, c15.x);
  dst4[o + 4u] = vec4f(c0.y, c1.y, c2.y, c3.y);
  dst4[o + 5u] = vec4f(c4.y, c5.y, c6.y, c7.y);
  dst4[o + 6u] = vec4f(c8.y, c9.y, c10.y, c11.y);
  dst4[o + 7u] = vec4f(c12.y, c13.y, c14.y, c15.y);
  dst4[o + 8u] = vec4f(c0.z, c1.z, c2.z, c3.z);
  dst4[o + 9u] = vec4f(c4.z, c5.z, c6.z, c7.z);
  dst4[o + 10u] = vec4f(c8.z, c9.z, c10.z, c11.z);
  dst4[o + 11u] = vec4f(c12.z, c13.z, c14.z, c15.z);
  dst4[o + 12u] = vec4f(c0.w, c1.w, c2.w, c3.w);
  dst4[o + 13u] = vec4f(c4.w, c5.w, c6.w, c7.w);
  dst4[o + 14u] = vec4f(c8.w, c9.w, c10.w, c11.w);
  dst4[o + 15u] = vec4f(c12.w, c13.w, c14.w, c15.w);
}
