// Linear workgroup index of a grid folded by src/gpu/dispatch.ts (foldGrid): callers must
// ignore indices at or past their real workgroup count.
fn linear_workgroup(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.x + nwg.x * (wid.y + nwg.y * wid.z);
}
