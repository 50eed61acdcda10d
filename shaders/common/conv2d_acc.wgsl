// The accumulator of the direct conv kernels (forward, backward-data, filter gradient) and of
// linear.wgsl's packed GEMM: 8 GEMM rows (pixels, filter taps for dW, matrix rows) × 16 columns
// (channels) per invocation, the rows named Row16 members (common/conv2d_tile.wgsl), never an
// indexed array.

//!include common/conv2d_tile.wgsl

struct Acc {
  r0: Row16, r1: Row16, r2: Row16, r3: Row16,
  r4: Row16, r5: Row16, r6: Row16, r7: Row16,
}

fn acc_zero() -> Acc {
  let z = row16_zero();
  return Acc(z, z, z, z, z, z, z, z);
}

// One reduction step: the 8 rows' operand values (rows 0-3 in `va`, 4-7 in `vb`) × the 16
// columns of `row`.
fn mac(acc: Acc, va: vec4f, vb: vec4f, row: Row16) -> Acc {
  return Acc(
    row16_mac(acc.r0, va.x, row), row16_mac(acc.r1, va.y, row),
    row16_mac(acc.r2, va.z, row), row16_mac(acc.r3, va.w, row),
    row16_mac(acc.r4, vb.x, row), row16_mac(acc.r5, vb.y, row),
    row16_mac(acc.r6, vb.z, row), row16_mac(acc.r7, vb.w, row),
  );
}
