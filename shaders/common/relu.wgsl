// ReLU that keeps NaN, as PyTorch's does (requires the including file's `item` and `uitem`
// aliases, vec4f/vec4u or f32/u32). max(x, 0) is IEEE maxNum on Mesa's adapters, which maps
// NaN to 0: one NaN pixel poisoned the weights while the loss stayed finite. Decided on the
// bits, so no compiler can fold it back into a max: zero where the sign bit is set and the value
// is not a NaN (−0, negatives, −Inf); everything else, NaN included, passes unchanged.
fn nan_relu(v: item) -> item {
  let u = bitcast<uitem>(v);
  return select(v, item(0.0), (u >= uitem(0x80000000u)) & (u <= uitem(0xff800000u)));
}

// The gradient through a ReLU whose output is y = relu(v): dy where y ≠ +0, else 0 (PyTorch's
// threshold_backward, v ≤ 0 ? 0 : dy, so a NaN passes the gradient as it passes the forward).
fn nan_relu_grad(y: item, dy: item) -> item {
  return select(item(0.0), dy, bitcast<uitem>(y) != uitem(0u));
}
