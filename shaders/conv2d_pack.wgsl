// Packs conv weights (OIHW, K × C × KH × KW) into 64 KiB windows for the uniform-weight conv
// entry points (`forward_uw`, `forward_1x1_uw`, `backward_data_uw`): on lavapipe (Mesa 22.3) a
// uniform-buffer load is a branch-free gather, a storage load a per-lane loop with a branch each.
// Layout: window t (16384 floats = 64 KiB, the uniform binding limit) holds the 16 GEMM columns
//   16t..16t+15 for every reduction row i, row-major: dst[t·16384 + 16i + j]. Rows follow the
//   kernels' loop order i = tap·inner + e, tap = ky·KW + kx:
//   forward (transpose = 0): column = output channel k, inner = input channel c;
//   backward-data (transpose = 1): column = input channel c, inner = output channel k.
//   Columns past the last channel are zero. The planner ensures KH·KW·inner ≤ 1024.
// Tiling: one element per invocation; grid 1-D folded over tiles × rows × 16.
// Bindings: 0 params (uniform), 1 w (read), 2 dst (read_write).

//!include common/grid.wgsl

override WG: u32 = 64u;

struct Params {
  k: u32, c: u32, khw: u32, count: u32,
  // Columns of the GEMM (K or C), reduction rows per window (KH·KW·inner), 1 for backward-data.
  cols: u32, rows: u32, transpose: u32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

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
