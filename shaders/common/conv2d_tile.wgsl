// Register tile shared by the conv2d kernels: each invocation owns 8 GEMM rows (pixels, or weight
// taps for dW) × 16 columns (channels). The 16 columns of a row are a struct of four vec4s and the
// 8 rows are named variables, never a dynamically indexed array: lavapipe keeps such arrays in
// memory (0.4 GFLOP/s measured), while struct members and named values stay in SIMD registers.

// 16 accumulators (or 16 operands) of one row.
struct Row16 {
  a: vec4f,
  b: vec4f,
  c: vec4f,
  d: vec4f,
}

fn row16_zero() -> Row16 {
  return Row16(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
}

// acc + v · w, one rank-1 update of a row.
fn row16_mac(acc: Row16, v: f32, w: Row16) -> Row16 {
  let s = vec4f(v);
  return Row16(fma(s, w.a, acc.a), fma(s, w.b, acc.b), fma(s, w.c, acc.c), fma(s, w.d, acc.d));
}

fn row16_get(r: Row16, j: u32) -> f32 {
  switch (j >> 2u) {
    case 0u: { return r.a[j & 3u]; }
    case 1u: { return r.b[j & 3u]; }
    case 2u: { return r.c[j & 3u]; }
    default: { return r.d[j & 3u]; }
  }
}
