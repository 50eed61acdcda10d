// What the forward and backward-data direct kernels share — both gather, per pixel, a reduction
// over (tap, channel) rows of 16 weights: the weight operand's bindings and row readers, a tap's
// operand addresses for 8 pixel slots, and the `_x4` entries' NC4HW4 reads. The including
// shader's Params has `wstride`.

//!include common/conv2d_acc.wgsl

// Binding 2, the weights, read one of three ways (an entry point uses one): `w` the OIHW buffer
// itself; `wu` one 64 KiB window of conv2d_pack.wgsl's packed layout, row i = 16 channels in
// wu[4i..4i+3]; `ws` every packed tile back to back as storage (`_lanes_k_x4`), tile t's row i
// at ws[t·wstride + 4i …].
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<uniform> wu: array<vec4f, 4096>;
@group(0) @binding(2) var<storage, read> ws: array<vec4f>;
// Binding 1 for the `_x4` entries: the activation operand (forward x, backward-data dy) packed
// NC4HW4 by conv2d_pack.wgsl `pack_c4` (channels % 4 = 0): one vec4 load brings 4 channels of a
// pixel, i.e. 4 reduction steps of one slot.
@group(0) @binding(1) var<storage, read> act_c4: array<vec4f>;

// 16 weights `stride` apart from `base`: a 16-channel row of the OIHW buffer.
fn w_row(base: u32, stride: u32) -> Row16 {
  return Row16(
    vec4f(w[base], w[base + stride], w[base + 2u * stride], w[base + 3u * stride]),
    vec4f(w[base + 4u * stride], w[base + 5u * stride], w[base + 6u * stride], w[base + 7u * stride]),
    vec4f(w[base + 8u * stride], w[base + 9u * stride], w[base + 10u * stride], w[base + 11u * stride]),
    vec4f(w[base + 12u * stride], w[base + 13u * stride], w[base + 14u * stride],
          w[base + 15u * stride]),
  );
}

fn wu_row(i: u32) -> Row16 {
  let b = 4u * i;
  return Row16(wu[b], wu[b + 1u], wu[b + 2u], wu[b + 3u]);
}

// Row i of packed tile t read as storage (`_lanes_k_x4`): the same rows as wu_row's window.
fn ws_row(t: u32, i: u32) -> Row16 {
  let b = t * p.wstride + 4u * i;
  return Row16(ws[b], ws[b + 1u], ws[b + 2u], ws[b + 3u]);
}

// The activation operand's addresses of reduction channel 0 at one tap for the 8 pixel slots
// (0-3 in …0, 4-7 in …1), and which slots read a value there (others: padding, or for
// backward-data a tap that reaches no output pixel).
struct TapAddr {
  a0: vec4u, a1: vec4u,
  ok0: vec4<bool>, ok1: vec4<bool>,
}

// 4 channels of slot pixel `a` (vec4 index), zero where the slot reads no value.
fn c4_at(a: u32, ok: bool) -> vec4f {
  return select(vec4f(0.0), act_c4[a], ok);
}

// 4 reduction steps (channels 4c..4c+3 at one tap) of the 8 slots of `ta`, rows i..i+3.
fn mac4(acc: Acc, ta: TapAddr, r0: Row16, r1: Row16, r2: Row16, r3: Row16) -> Acc {
  let q0 = c4_at(ta.a0.x, ta.ok0.x);
  let q1 = c4_at(ta.a0.y, ta.ok0.y);
  let q2 = c4_at(ta.a0.z, ta.ok0.z);
  let q3 = c4_at(ta.a0.w, ta.ok0.w);
  let q4 = c4_at(ta.a1.x, ta.ok1.x);
  let q5 = c4_at(ta.a1.y, ta.ok1.y);
  let q6 = c4_at(ta.a1.z, ta.ok1.z);
  let q7 = c4_at(ta.a1.w, ta.ok1.w);
  var a = mac(acc, vec4f(q0.x, q1.x, q2.x, q3.x), vec4f(q4.x, q5.x, q6.x, q7.x), r0);
  a = mac(a, vec4f(q0.y, q1.y, q2.y, q3.y), vec4f(q4.y, q5.y, q6.y, q7.y), r1);
  a = mac(a, vec4f(q0.z, q1.z, q2.z, q3.z), vec4f(q4.z, q5.z, q6.z, q7.z), r2);
  return mac(a, vec4f(q0.w, q1.w, q2.w, q3.w), vec4f(q4.w, q5.w, q6.w, q7.w), r3);
}
