/**
 * Workgroup grids. WebGPU caps each grid dimension (`maxComputeWorkgroupsPerDimension`, often
 * 65535), so a 1-D count beyond it is folded into x·y(·z). Kernels recover the linear index with
 * `linear_workgroup` from `shaders/common/grid.wgsl` and must skip indices ≥ the count, since
 * the folded grid can overshoot by up to x − 1 workgroups.
 */
export type Grid = [number, number, number];

export function foldGrid(count: number, maxPerDim: number): Grid {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`bad workgroup count ${count}`);
  if (count <= maxPerDim) return [count, 1, 1];
  const rows = Math.ceil(count / maxPerDim);
  if (rows <= maxPerDim) return [Math.ceil(count / rows), rows, 1];
  const planes = Math.ceil(rows / maxPerDim);
  if (planes > maxPerDim) {
    throw new RangeError(`${count} workgroups exceed ${maxPerDim}³, the device's grid limit`);
  }
  return [maxPerDim, Math.ceil(rows / planes), planes];
}
