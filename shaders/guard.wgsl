// The training step's non-finite guard (src/ops/guard.ts), with no readback. A step raises bits
// in a one-word flag when its input, loss or gradients hold NaN or ±Inf (or an update would
// overflow: shaders/optimizer.wgsl); the optimizer skips its update when the flag is set, and
// `guard_finish` folds the flag into the metrics the trainer reads every N steps anyway.
// Non-finite is decided on the bits (exponent all ones), so no compiler's finite-math
// assumption can drop the test.
// Items: the check moves `item`s, vec4f as written (p.n counts vec4s), f32 when n % 4 != 0
// (src/gpu/plan.ts itemKernel). One item per invocation, WG lanes per workgroup, grid folded.
// Flag bits: 1 input, 2 loss, 4 gradients, 8 update (reasons, ORed).
// Metrics words (shaders/softmax_xent.wgsl's buffer, src/ops/loss.ts): 5 steps (the loss kernel
// counts them), 6 skipped steps, 7 reasons seen, 8 the window step of the first skip (1-based).
//
// Entry points and bindings (0 is always the uniform params):
//   flag_nonfinite  1 x, 2 flag (rw, atomic)   flag |= p.bit if any element of x is not finite
//   guard_finish    1 flag (rw), 2 metrics (rw)  one invocation: count, record, clear the flag

//!include common/grid.wgsl

//!item begin (replaced by the f32 variant in src/gpu/plan.ts)
alias item = vec4f;
alias uitem = vec4u;
//!item end

const WG: u32 = 256u;

struct Params {
  n: u32,
  bit: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

@group(0) @binding(1) var<storage, read> x: array<item>;
@group(0) @binding(2) var<storage, read_write> flag: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn flag_nonfinite(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG + lid;
  if (i < p.n && any((bitcast<uitem>(x[i]) & uitem(0x7f800000u)) == uitem(0x7f800000u))) {
    atomicOr(&flag[0], p.bit);
  }
}

@group(0) @binding(1) var<storage, read_write> fin_flag: array<u32>;
@group(0) @binding(2) var<storage, read_write> metrics: array<u32>;

@compute @workgroup_size(1)
fn guard_finish() {
  let f = fin_flag[0];
  if (f != 0u) {
    if (metrics[6] == 0u) {
      metrics[8] = metrics[5];
    }
    metrics[6] += 1u;
    metrics[7] |= f;
    fin_flag[0] = 0u;
  }
}
