// GEMM for linear layers: C[M, N] (+)= A[M, K] · B[K, N] (+ bias), every operand f32.
// Layout: every operand is read through strides, so the transposes the backward pass needs cost
// nothing: A[m, k] = a[m·a_sm + k·a_sk], B[k, n] = b[n·b_sn + k·b_sk], C[m, n] = c[m·c_sm + n·c_sn].
// The planner (src/ops/linear.ts) sets them for
//   forward  y  = x · Wᵀ + b   A = x [N, I],      B = Wᵀ (W [O, I] read transposed)
//   backward dx = dy · W       A = dy [N, O],     B = W [O, I]
//   backward dW = dyᵀ · x      A = dyᵀ (dy [N, O] read transposed), B = x [N, I]
// and may swap roles (Cᵀ = Bᵀ·Aᵀ, same kernel, other strides) so the invocations run along the
// longer side of a skinny product (batch 1…16 against 1000 outputs).
// Tiling: register blocking only, no workgroup memory. A workgroup owns WG·TM rows × TN columns
// of C; invocation `lid` holds rows tile + i·WG + lid (i < TM) for all TN columns, so its TM·TN
// accumulators live in registers and each loaded A value feeds TN multiply-adds. The TN columns
// are the same for the whole workgroup, so B loads are uniform (one scalar load broadcast to all
// SIMD lanes on CPU adapters), and adjacent lanes read adjacent A rows. Lavapipe measured 0.4
// GFLOP/s at 1024³ when each lane owned its own columns too (every load a per-lane gather).
// Edges: load indices are clamped into range (the k loop stays branch-free), stores guarded.
// Grid: 1-D folded, (row tiles) × (column tiles), column tile fastest so neighbours share A.
// Bindings: 0 params (uniform), 1 a (read), 2 c (read_write), 3 b (read), 4 bias (read,
// gemm_bias only). `col_sum` (db = Σ_rows dy) uses the first three: params, a = dy, c = db.

//!include common/grid.wgsl

override WG: u32 = 64u;
// Rows and columns per invocation; TM ≤ 8, TN ≤ 16 (the register arrays' sizes).
override TM: u32 = 4u;
override TN: u32 = 16u;

struct Params {
  m: u32, n: u32, k: u32, a_sm: u32,
  a_sk: u32, b_sn: u32, b_sk: u32, c_sm: u32,
  c_sn: u32,
  // Column tiles (ceil(n / TN)) and all workgroup tiles, to decode the linear workgroup id.
  ntiles: u32, groups: u32,
  // 1: C += result (gradient accumulation), 0: C = result.
  accumulate: u32,
  // gemm_bias: 1 when the bias runs along C's rows (roles swapped), 0 along its columns.
  bias_rows: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@group(0) @binding(3) var<storage, read> b: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;

struct Tile {
  row0: u32,
  col0: u32,
}

fn tile_of(g: u32, lid: u32) -> Tile {
  return Tile((g / p.ntiles) * WG * TM + lid, (g % p.ntiles) * TN);
}

fn tile_product(t: Tile, acc: ptr<function, array<f32, 128>>) {
  var ao: array<u32, 8>;
  for (var i = 0u; i < TM; i++) {
    ao[i] = min(t.row0 + i * WG, p.m - 1u) * p.a_sm;
  }
  // Columns past N repeat the last one (their results are dropped).
  var bo: array<u32, 16>;
  for (var j = 0u; j < TN; j++) {
    bo[j] = min(t.col0 + j, p.n - 1u) * p.b_sn;
  }
  for (var k = 0u; k < p.k; k++) {
    var av: array<f32, 8>;
    for (var i = 0u; i < TM; i++) {
      av[i] = a[ao[i]];
      ao[i] += p.a_sk;
    }
    for (var j = 0u; j < TN; j++) {
      let bv = b[bo[j]];
      bo[j] += p.b_sk;
      for (var i = 0u; i < TM; i++) {
        (*acc)[i * TN + j] = fma(av[i], bv, (*acc)[i * TN + j]);
      }
    }
  }
}

// Adds the bias (zeros for plain gemm) after the product, as PyTorch's addmm rounds.
fn store(t: Tile, acc: ptr<function, array<f32, 128>>, brow: ptr<function, array<f32, 8>>,
         bcol: ptr<function, array<f32, 16>>) {
  for (var i = 0u; i < TM; i++) {
    let row = t.row0 + i * WG;
    if (row < p.m) {
      for (var j = 0u; j < TN; j++) {
        let col = t.col0 + j;
        if (col < p.n) {
          let idx = row * p.c_sm + col * p.c_sn;
          var v = (*acc)[i * TN + j] + (*brow)[i] + (*bcol)[j];
          if (p.accumulate != 0u) {
            v += c[idx];
          }
          c[idx] = v;
        }
      }
    }
  }
}

@compute @workgroup_size(WG)
fn gemm(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let t = tile_of(g, lid);
  var acc: array<f32, 128>;
  tile_product(t, &acc);
  var brow: array<f32, 8>;
  var bcol: array<f32, 16>;
  store(t, &acc, &brow, &bcol);
}

@compute @workgroup_size(WG)
fn gemm_bias(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let t = tile_of(g, lid);
  var acc: array<f32, 128>;
  tile_product(t, &acc);
  var brow: array<f32, 8>;
  var bcol: array<f32, 16>;
  if (p.bias_rows != 0u) {
    for (var i = 0u; i < TM; i++) {
      brow[i] = bias[min(t.row0 + i * WG, p.m - 1u)];
    }
  } else {
    for (var j = 0u; j < TN; j++) {
      bcol[j] = bias[min(t.col0 + j, p.n - 1u)];
    }
  }
  store(t, &acc, &brow, &bcol);
}

// db[n] (+)= Σ_m a[m, n]: one invocation per column, rows summed in order (the batch is short).
@compute @workgroup_size(64)
fn col_sum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let col = linear_workgroup(wid, nwg) * 64u + li;
  if (col >= p.n) {
    return;
  }
  var s = 0.0;
  for (var r = 0u; r < p.m; r++) {
    s += a[r * p.n + col];
  }
  if (p.accumulate != 0u) {
    s += c[col];
  }
  c[col] = s;
}
