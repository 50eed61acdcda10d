// GEMM for linear layers: C[M, N] (+)= A[M, K] · B[K, N] (+ bias), every operand f32.
// Layout: every operand is read through strides, so the transposes the backward pass needs cost
// nothing: A[m, k] = a[m·a_sm + k·a_sk], B[k, n] = b[n·b_sn + k·b_sk], C[m, n] = c[m·c_sm + n·c_sn].
// The planner (src/ops/linear.ts) sets them for
//   forward  y  = x · Wᵀ + b   A = x [N, I],      B = Wᵀ (W [O, I] read transposed)
//   backward dx = dy · W       A = dy [N, O],     B = W [O, I]
//   backward dW = dyᵀ · x      A = dyᵀ (dy [N, O] read transposed), B = x [N, I]
// and may swap roles (Cᵀ = Bᵀ·Aᵀ, same kernel, other strides) so the invocations run along the
// longer side of a skinny product (batch 1…16 against 1000 outputs).
// `gemm`/`gemm_bias` (small products; the packed path below is the default for M ≥ 128):
// Tiling: register blocking only, no workgroup memory. A workgroup owns WG·TM rows × TN columns
// of C; invocation `lid` holds rows tile + i·WG + lid (i < TM) for all TN columns, so its TM·TN
// accumulators live in registers and each loaded A value feeds TN multiply-adds. The TN columns
// are the same for the whole workgroup, so B loads are uniform (one scalar load broadcast to all
// SIMD lanes on CPU adapters — in fact gallivm treats only constant offsets as uniform, so they
// are gathered lane by lane), and adjacent lanes read adjacent A rows. Lavapipe measured 0.4
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

// ---- Packed path (`gemm_packed`, the planner's default when M ≥ 128 after any role swap) ----
// The same product from two packed copies, for lavapipe's load costs: A as vec4s of 4 k-values
// (a per-lane vec4 storage load costs ~2.4× less per float than f32), B in 64 KiB uniform windows
// (gathered without per-lane branches, unlike storage loads).
// `pack_a`: a4[k4·M + m] = (A[m, 4k4], …, A[m, 4k4+3]), zero past K; one vec4 per invocation.
// `pack_b`: window t·chunks + q holds B[k, 16t + j] at b16[(t·chunks + q)·16384 + 16(k − 1024q) + j]
//   for the chunk's k < 1024(q+1), zero past N or K; one row of 16 per invocation.
// `gemm_packed`: one dispatch per (16-column tile, 1024-deep k chunk). Invocation `lid` holds rows
//   tile + i·WG + lid (i < 16) × the tile's 16 columns (common/conv2d_tile.wgsl's Row16 tiles),
//   so each B row gathered feeds 256 multiply-adds. Chunks after the first add to C (p.accumulate
//   forced on by the planner); the bias is added by the last chunk.
// Bindings (gemm_packed): 0 params, 1 a4 (read), 2 c (read_write), 3 bias (read), 4 B window
//   (uniform). pack_a / pack_b: 0 params, 1 a or b (read), 2 a4 or the window buffer (read_write).

//!include common/conv2d_tile.wgsl
//!include common/conv2d_acc.wgsl

struct PackParams {
  // Rows M (pack_a) or columns N (pack_b), K, vec4s or rows to write, column chunks (pack_b).
  mn: u32, k: u32, count: u32, chunks: u32,
  // Element strides of the source: A[m, k] = src[m·s_mn + k·s_k] (pack_b: B[k, n] = src[n·s_mn + k·s_k]).
  s_mn: u32, s_k: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> pp: PackParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst4: array<vec4f>;

fn src_at(mn: u32, k: u32) -> f32 {
  if (mn >= pp.mn || k >= pp.k) {
    return 0.0;
  }
  return src[mn * pp.s_mn + k * pp.s_k];
}

@compute @workgroup_size(64)
fn pack_a(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let idx = linear_workgroup(wid, nwg) * 64u + li;
  if (idx >= pp.count) {
    return;
  }
  let k4 = idx / pp.mn;
  let m = idx - k4 * pp.mn;
  let k = 4u * k4;
  dst4[idx] = vec4f(src_at(m, k), src_at(m, k + 1u), src_at(m, k + 2u), src_at(m, k + 3u));
}

@compute @workgroup_size(64)
fn pack_b(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let idx = linear_workgroup(wid, nwg) * 64u + li;
  if (idx >= pp.count) {
    return;
  }
  // idx = (t·chunks + q)·1024 + row.
  let win = idx / 1024u;
  let row = idx - win * 1024u;
  let t = win / pp.chunks;
  let k = (win - t * pp.chunks) * 1024u + row;
  let n = t * 16u;
  let o = idx * 4u;
  dst4[o] = vec4f(src_at(n, k), src_at(n + 1u, k), src_at(n + 2u, k), src_at(n + 3u, k));
  dst4[o + 1u] = vec4f(src_at(n + 4u, k), src_at(n + 5u, k), src_at(n + 6u, k), src_at(n + 7u, k));
  dst4[o + 2u] = vec4f(src_at(n + 8u, k), src_at(n + 9u, k), src_at(n + 10u, k),
                       src_at(n + 11u, k));
  dst4[o + 3u] = vec4f(src_at(n + 12u, k), src_at(n + 13u, k), src_at(n + 14u, k),
                       src_at(n + 15u, k));
}

struct PackedParams {
  m: u32, n: u32, c_sm: u32, c_sn: u32,
  // This dispatch's first column, first k4 (vec4 of k) and k4 count, 1 on the last chunk.
  col0: u32, k40: u32, k4n: u32, last: u32,
  accumulate: u32, bias_rows: u32, has_bias: u32, groups: u32,
}

@group(0) @binding(0) var<uniform> q: PackedParams;
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(3) var<storage, read> pbias: array<f32>;
@group(0) @binding(4) var<uniform> bu: array<vec4f, 4096>;

fn b_row(i: u32) -> Row16 {
  let b = 4u * i;
  return Row16(bu[b], bu[b + 1u], bu[b + 2u], bu[b + 3u]);
}

// 4 k-steps of 8 rows (a4 indices `a0`, `a1`) against B rows i..i+3.
fn mac4(acc: Acc, a0: vec4u, a1: vec4u, r0: Row16, r1: Row16, r2: Row16, r3: Row16) -> Acc {
  let q0 = a4[a0.x];
  let q1 = a4[a0.y];
  let q2 = a4[a0.z];
  let q3 = a4[a0.w];
  let q4 = a4[a1.x];
  let q5 = a4[a1.y];
  let q6 = a4[a1.z];
  let q7 = a4[a1.w];
  var s = mac(acc, vec4f(q0.x, q1.x, q2.x, q3.x), vec4f(q4.x, q5.x, q6.x, q7.x), r0);
  s = mac(s, vec4f(q0.y, q1.y, q2.y, q3.y), vec4f(q4.y, q5.y, q6.y, q7.y), r1);
  s = mac(s, vec4f(q0.z, q1.z, q2.z, q3.z), vec4f(q4.z, q5.z, q6.z, q7.z), r2);
  return mac(s, vec4f(q0.w, q1.w, q2.w, q3.w), vec4f(q4.w, q5.w, q6.w, q7.w), r3);
}

fn store_packed_row(r: Row16, row: u32) {
  if (row >= q.m) {
    return;
  }
  let brow = select(0.0, pbias[row], q.has_bias != 0u && q.last != 0u && q.bias_rows != 0u);
  for (var j = 0u; j < 16u; j++) {
    let col = q.col0 + j;
    if (col < q.n) {
      let idx = row * q.c_sm + col * q.c_sn;
      var v = row16_get(r, j);
      if (q.accumulate != 0u) {
        v += c[idx];
      }
      if (q.has_bias != 0u && q.last != 0u) {
        v += select(pbias[col], brow, q.bias_rows != 0u);
      }
      c[idx] = v;
    }
  }
}

fn store_packed(acc: Acc, m0: vec4u, m1: vec4u) {
  store_packed_row(acc.r0, m0.x);
  store_packed_row(acc.r1, m0.y);
  store_packed_row(acc.r2, m0.z);
  store_packed_row(acc.r3, m0.w);
  store_packed_row(acc.r4, m1.x);
  store_packed_row(acc.r5, m1.y);
  store_packed_row(acc.r6, m1.z);
  store_packed_row(acc.r7, m1.w);
}

@compute @workgroup_size(WG)
fn gemm_packed(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= q.groups) {
    return;
  }
  let base = g * WG * 16u + lid;
  let slot = vec4u(0u, 1u, 2u, 3u) * WG;
  let ma0 = base + slot;
  let ma1 = ma0 + 4u * WG;
  let mb0 = ma0 + 8u * WG;
  let mb1 = ma0 + 12u * WG;
  // Rows past M read row M − 1 and are never stored.
  let last = vec4u(q.m - 1u);
  var aa0 = min(ma0, last) + q.k40 * q.m;
  var aa1 = min(ma1, last) + q.k40 * q.m;
  var ab0 = min(mb0, last) + q.k40 * q.m;
  var ab1 = min(mb1, last) + q.k40 * q.m;
  var acc_a = acc_zero();
  var acc_b = acc_zero();
  var i = 0u;
  let step = vec4u(q.m);
  let k4n = q.k4n;
  for (var k4 = 0u; k4 < k4n; k4++) {
    let r0 = b_row(i);
    let r1 = b_row(i + 1u);
    let r2 = b_row(i + 2u);
    let r3 = b_row(i + 3u);
    acc_a = mac4(acc_a, aa0, aa1, r0, r1, r2, r3);
    acc_b = mac4(acc_b, ab0, ab1, r0, r1, r2, r3);
    aa0 += step;
    aa1 += step;
    ab0 += step;
    ab1 += step;
    i += 4u;
  }
  store_packed(acc_a, ma0, ma1);
  store_packed(acc_b, mb0, mb1);
}
