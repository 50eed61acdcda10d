// 2-D convolution backward to the input (a transposed convolution) as an implicit GEMM:
// dX[m, c] = Σ_r dŶ[m, r] · W[r, c] with m = (n, iy, ix) over input pixels, c over input channels
// and r = (ky, kx, k) over taps × output channels; dŶ[m, (ky, kx, k)] is dy[n, k, oy, ox] where
// iy + pad − ky = oy·stride (and likewise for x), zero when that is fractional or outside dy.
// Each input pixel gathers its contributions, so there are no write conflicts and no atomics.
//
// Layout: dy NCHW (N, K, OH, OW), w OIHW (K, C, KH, KW), dx NCHW (N, C, H, W); f32.
// Tiling: as conv2d_forward.wgsl (common/conv2d_tile.wgsl): a workgroup owns 8·WG input pixels
//   × 16 input channels, 8 pixels × 16 channels per invocation in registers, no workgroup memory.
//   The tap's validity (padding, stride phase) is decided once per tap for all K channels. With
//   stride s only 1/s² of the taps are live for a given pixel; masked taps still cost their
//   multiply-adds (acceptable: strided convs are the few downsampling layers).
// Accumulate (p.accumulate = 1): dx += result, reading the old dx through the same read_write
//   binding (a buffer must not be bound twice in one dispatch).
// Bindings: 0 params (uniform), 1 dy (read), 2 w (read), 3 dx (read_write).
// Grid: 1-D folded, (pixel tiles) × (channel tiles), channel tile fastest.

//!include common/grid.wgsl
//!include common/conv2d_tile.wgsl

override WG: u32 = 16u;

struct Params {
  n: u32, c: u32, h: u32, w: u32,
  k: u32, kh: u32, kw: u32, stride: u32,
  pad: u32, oh: u32, ow: u32, m: u32,
  ctiles: u32, groups: u32, accumulate: u32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

// Weights of 16 input channels (`stride` apart) at one (k, ky, kx).
fn w_row(base: u32, stride: u32) -> Row16 {
  return Row16(
    vec4f(w[base], w[base + stride], w[base + 2u * stride], w[base + 3u * stride]),
    vec4f(w[base + 4u * stride], w[base + 5u * stride], w[base + 6u * stride], w[base + 7u * stride]),
    vec4f(w[base + 8u * stride], w[base + 9u * stride], w[base + 10u * stride], w[base + 11u * stride]),
    vec4f(w[base + 12u * stride], w[base + 13u * stride], w[base + 14u * stride],
          w[base + 15u * stride]),
  );
}

fn dy4(a: vec4u, ok: vec4<bool>) -> vec4f {
  return select(vec4f(0.0), vec4f(dy[a.x], dy[a.y], dy[a.z], dy[a.w]), ok);
}

struct Acc {
  r0: Row16, r1: Row16, r2: Row16, r3: Row16,
  r4: Row16, r5: Row16, r6: Row16, r7: Row16,
}

fn mac(acc: Acc, va: vec4f, vb: vec4f, wv: Row16) -> Acc {
  return Acc(
    row16_mac(acc.r0, va.x, wv), row16_mac(acc.r1, va.y, wv),
    row16_mac(acc.r2, va.z, wv), row16_mac(acc.r3, va.w, wv),
    row16_mac(acc.r4, vb.x, wv), row16_mac(acc.r5, vb.y, wv),
    row16_mac(acc.r6, vb.z, wv), row16_mac(acc.r7, vb.w, wv),
  );
}

fn store_row(r: Row16, m: u32, c0: u32) {
  if (m >= p.m) {
    return;
  }
  let hw = p.h * p.w;
  let n = m / hw;
  let o = (n * p.c + c0) * hw + (m - n * hw);
  for (var j = 0u; j < 16u; j++) {
    if (c0 + j < p.c) {
      var v = row16_get(r, j);
      if (p.accumulate != 0u) {
        v += dx[o + j * hw];
      }
      dx[o + j * hw] = v;
    }
  }
}

@compute @workgroup_size(WG)
fn backward_data(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg);
  if (g >= p.groups) {
    return;
  }
  let c0 = (g % p.ctiles) * 16u;
  let base = (g / p.ctiles) * WG * 8u + lid;
  let slot = vec4u(0u, 1u, 2u, 3u) * WG;
  let m0 = base + slot;
  let m1 = base + 4u * WG + slot;
  let hw = p.h * p.w;
  let ohw = p.oh * p.ow;
  let khw = p.kh * p.kw;
  let live0 = m0 < vec4u(p.m);
  let live1 = m1 < vec4u(p.m);
  let mm0 = min(m0, vec4u(p.m - 1u));
  let mm1 = min(m1, vec4u(p.m - 1u));
  let n0 = mm0 / hw;
  let n1 = mm1 / hw;
  let pix0 = mm0 - n0 * hw;
  let pix1 = mm1 - n1 * hw;
  let iy0 = pix0 / p.w;
  let iy1 = pix1 / p.w;
  // iy + pad: the output row of tap ky is (iy + pad − ky) / stride when that divides exactly.
  let py0 = vec4i(iy0 + p.pad);
  let py1 = vec4i(iy1 + p.pad);
  let px0 = vec4i(pix0 - iy0 * p.w + p.pad);
  let px1 = vec4i(pix1 - iy1 * p.w + p.pad);
  let yo0 = n0 * p.k * ohw;
  let yo1 = n1 * p.k * ohw;
  let s = vec4u(p.stride);

  var acc = Acc(row16_zero(), row16_zero(), row16_zero(), row16_zero(), row16_zero(),
                row16_zero(), row16_zero(), row16_zero());
  for (var ky = 0u; ky < p.kh; ky++) {
    for (var kx = 0u; kx < p.kw; kx++) {
      // Negative differences wrap to huge u32s, which fail the `< oh` test.
      let ty0 = vec4u(py0 - i32(ky));
      let ty1 = vec4u(py1 - i32(ky));
      let tx0 = vec4u(px0 - i32(kx));
      let tx1 = vec4u(px1 - i32(kx));
      let oy0 = ty0 / s;
      let oy1 = ty1 / s;
      let ox0 = tx0 / s;
      let ox1 = tx1 / s;
      let ok0 = live0 & (oy0 * s == ty0) & (ox0 * s == tx0) & (oy0 < vec4u(p.oh)) &
                (ox0 < vec4u(p.ow));
      let ok1 = live1 & (oy1 * s == ty1) & (ox1 * s == tx1) & (oy1 < vec4u(p.oh)) &
                (ox1 < vec4u(p.ow));
      var a0 = select(vec4u(0u), yo0 + oy0 * p.ow + ox0, ok0);
      var a1 = select(vec4u(0u), yo1 + oy1 * p.ow + ox1, ok1);
      var wi = c0 * khw + ky * p.kw + kx;
      for (var k = 0u; k < p.k; k++) {
        acc = mac(acc, dy4(a0, ok0), dy4(a1, ok1), w_row(wi, khw));
        a0 += vec4u(ohw);
        a1 += vec4u(ohw);
        wi += p.c * khw;
      }
    }
  }
  store_row(acc.r0, m0.x, c0);
  store_row(acc.r1, m0.y, c0);
  store_row(acc.r2, m0.z, c0);
  store_row(acc.r3, m0.w, c0);
  store_row(acc.r4, m1.x, c0);
  store_row(acc.r5, m1.y, c0);
  store_row(acc.r6, m1.z, c0);
  store_row(acc.r7, m1.w, c0);
}
