/**
 * Dependency-free SVG charts for training curves and per-layer gradient norms: the output of a
 * run should be viewable by opening a file in a browser, with nothing to install.
 *
 * Robustness rules, because these are drawn from real (sometimes diverged) runs:
 * - NaN/±Infinity points break the line instead of poisoning the coordinates;
 * - on a log axis, y <= 0 points are dropped (and counted in a footnote);
 * - constant data and single points get a padded range, never a division by zero;
 * - every piece of text is XML-escaped.
 */

export type Point = readonly [number, number];

export interface Series {
  name: string;
  points: readonly Point[];
  color?: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  logY?: boolean;
  width?: number;
  height?: number;
  /** Dots at every point; useful when x is discrete (layer index). */
  markers?: boolean;
  /** Only integer x ticks (layer indices, epochs). */
  integerX?: boolean;
}

/** Okabe–Ito plus two extras: distinguishable with common colour-vision deficiencies. */
export const PALETTE: readonly string[] = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#D55E00",
  "#CC79A7",
  "#56B4E9",
  "#000000",
  "#F0E442",
  "#7F7F7F",
  "#8C564B",
];

/**
 * Style for the degradation study: one colour per depth, plain nets dashed, residual solid, so
 * "same depth" and "same architecture" can both be read off a single chart.
 */
export function studyStyle(
  depthIndex: number,
  residual: boolean,
): { color: string; dashed: boolean } {
  return { color: PALETTE[depthIndex % PALETTE.length], dashed: !residual };
}

export function escapeXml(s: string): string {
  return s
    // Characters XML 1.0 forbids outright; a stray one would make the whole file unreadable.
    // deno-lint-ignore no-control-regex
    .replace(/[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** Strips float noise (0.30000000000000004) so ticks print and compare cleanly. */
const clean = (v: number) => Number.parseFloat(v.toPrecision(12));

/**
 * Ticks at multiples of 1, 2 or 5 × 10^k covering [min, max], about `count` of them. The first
 * and last tick enclose the data, so they can be used as the axis bounds.
 */
export function niceTicks(min: number, max: number, count = 5, minStep = 0): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    // Constant data: pad by 10% of the value (or 1 for 0) so the line sits mid-chart.
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  let step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  if (step < minStep) step = minStep;
  const first = Math.floor(clean(min / step)), last = Math.ceil(clean(max / step));
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(clean(i * step));
  return ticks;
}

/** Decade ticks (plus 2 and 5 when the range spans at most one decade) enclosing [min, max]. */
export function logTicks(min: number, max: number, maxLabels = 8): number[] {
  if (!(min > 0 && max > 0) || !Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min > max) [min, max] = [max, min];
  let lo = Math.floor(Math.log10(min) + 1e-9), hi = Math.ceil(Math.log10(max) - 1e-9);
  if (hi <= lo) hi = lo + 1;
  if (hi - lo === 1) {
    const t: number[] = [];
    for (const m of [1, 2, 5]) t.push(clean(m * 10 ** lo));
    t.push(clean(10 ** hi));
    return t;
  }
  // Many decades (gradient norms can span 10+): label every k-th so labels don't collide.
  const k = Math.ceil((hi - lo) / maxLabels);
  lo = Math.floor(lo / k) * k;
  hi = Math.ceil(hi / k) * k;
  const t: number[] = [];
  for (let e = lo; e <= hi; e += k) t.push(clean(10 ** e));
  return t;
}

export function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) {
    const [m, e] = v.toExponential().split("e");
    return `${clean(Number(m))}e${Number(e)}`;
  }
  return String(clean(v));
}

const r2 = (v: number) => String(Math.round(v * 100) / 100);

export function lineChart(opts: LineChartOptions): string {
  const width = opts.width ?? 720, height = opts.height ?? 440;
  const logY = opts.logY ?? false;
  const series = opts.series.map((s, i) => ({
    ...s,
    color: s.color ?? PALETTE[i % PALETTE.length],
  }));

  // Which points can be drawn: finite, and positive on a log axis.
  let dropped = 0;
  const usable = (p: Point) => {
    if (!Number.isFinite(p[0]) || !Number.isFinite(p[1])) return false;
    if (logY && p[1] <= 0) {
      dropped++;
      return false;
    }
    return true;
  };
  const segments = series.map((s) => {
    const segs: Point[][] = [];
    let cur: Point[] = [];
    for (const p of s.points) {
      if (usable(p)) cur.push(p);
      else if (cur.length > 0) {
        segs.push(cur);
        cur = [];
      }
    }
    if (cur.length > 0) segs.push(cur);
    return segs;
  });
  const all = segments.flat(2);
  const hasData = all.length > 0;
  // Loops, not Math.min(...xs): a per-step curve can have more points than the stack allows args.
  let xMin = Infinity, xMax = -Infinity, yMin = Infinity, yMax = -Infinity;
  for (const [x, y] of all) {
    xMin = Math.min(xMin, x), xMax = Math.max(xMax, x);
    yMin = Math.min(yMin, y), yMax = Math.max(yMax, y);
  }

  let xTicks = hasData ? niceTicks(xMin, xMax, 6, opts.integerX ? 1 : 0) : niceTicks(0, 1);
  const yTicks = logY
    ? (hasData ? logTicks(yMin, yMax) : [1, 10])
    : (hasData ? niceTicks(yMin, yMax, 6) : niceTicks(0, 1));
  // x spans exactly the data (training curves end where the run ends; padding to the next nice
  // tick would leave an empty band); y is padded to nice ticks so its range reads at a glance.
  let [x0, x1] = [xTicks[0], xTicks[xTicks.length - 1]];
  if (hasData && xMin < xMax) {
    [x0, x1] = [xMin, xMax];
    const eps = (xMax - xMin) * 1e-9;
    xTicks = xTicks.filter((t) => t >= xMin - eps && t <= xMax + eps);
  }
  const [y0, y1] = [yTicks[0], yTicks[yTicks.length - 1]];

  // Legend on the right, sized to the longest name (about 7.5px per glyph at 12px).
  const legendW = series.length > 0
    ? Math.min(220, 36 + 7.5 * Math.max(...series.map((s) => s.name.length)))
    : 0;
  const left = 72, right = 16 + legendW, top = 40, bottom = 56 + (dropped > 0 ? 16 : 0);
  const pw = Math.max(10, width - left - right), ph = Math.max(10, height - top - bottom);
  const X = (x: number) => left + ((x - x0) / (x1 - x0)) * pw;
  const Y = logY
    ? (y: number) => top + ph - ((Math.log10(y) - Math.log10(y0)) / Math.log10(y1 / y0)) * ph
    : (y: number) => top + ph - ((y - y0) / (y1 - y0)) * ph;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${r2(left + pw / 2)}" y="24" text-anchor="middle" font-size="15" ` +
      `font-weight="bold">${escapeXml(opts.title)}</text>`,
  );

  // Grid and tick labels.
  out.push(`<g stroke="#e3e3e3" stroke-width="1">`);
  for (const t of xTicks) {
    out.push(`<line x1="${r2(X(t))}" y1="${top}" x2="${r2(X(t))}" y2="${r2(top + ph)}"/>`);
  }
  for (const t of yTicks) {
    out.push(`<line x1="${left}" y1="${r2(Y(t))}" x2="${r2(left + pw)}" y2="${r2(Y(t))}"/>`);
  }
  out.push(`</g>`);
  out.push(`<g fill="#333333">`);
  for (const t of xTicks) {
    out.push(
      `<text x="${r2(X(t))}" y="${r2(top + ph + 16)}" text-anchor="middle">${
        escapeXml(formatTick(t))
      }</text>`,
    );
  }
  for (const t of yTicks) {
    out.push(
      `<text x="${left - 6}" y="${r2(Y(t) + 4)}" text-anchor="end">${
        escapeXml(formatTick(t))
      }</text>`,
    );
  }
  out.push(`</g>`);

  // Axes.
  out.push(
    `<g stroke="#333333" stroke-width="1">` +
      `<line x1="${left}" y1="${r2(top + ph)}" x2="${r2(left + pw)}" y2="${r2(top + ph)}"/>` +
      `<line x1="${left}" y1="${top}" x2="${left}" y2="${r2(top + ph)}"/></g>`,
  );
  out.push(
    `<text x="${r2(left + pw / 2)}" y="${r2(top + ph + 38)}" text-anchor="middle">${
      escapeXml(opts.xLabel)
    }</text>`,
  );
  const yl = `${escapeXml(opts.yLabel)}${logY ? " (log)" : ""}`;
  out.push(
    `<text x="16" y="${r2(top + ph / 2)}" text-anchor="middle" ` +
      `transform="rotate(-90 16 ${r2(top + ph / 2)})">${yl}</text>`,
  );
  if (!hasData) {
    out.push(
      `<text x="${r2(left + pw / 2)}" y="${r2(top + ph / 2)}" text-anchor="middle" ` +
        `fill="#999999">no data</text>`,
    );
  }
  if (dropped > 0) {
    out.push(
      `<text x="${left}" y="${height - 8}" fill="#999999">${dropped} non-positive ` +
        `value${dropped === 1 ? "" : "s"} omitted (log scale)</text>`,
    );
  }

  // Series: exactly one <path> each (gaps are extra "M" subpaths), so a series is one element.
  series.forEach((s, i) => {
    const color = escapeXml(s.color);
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    const d = segments[i]
      .map((seg) =>
        seg.map((p, j) => `${j === 0 ? "M" : "L"}${r2(X(p[0]))} ${r2(Y(p[1]))}`).join(" ")
      )
      .join(" ");
    out.push(
      `<path class="series" d="${d}" fill="none" stroke="${color}" stroke-width="2" ` +
        `stroke-linejoin="round"${dash}><title>${escapeXml(s.name)}</title></path>`,
    );
    // A one-point segment draws nothing as a path; a dot keeps it visible.
    for (const seg of segments[i]) {
      if (opts.markers || seg.length === 1) {
        for (const p of seg) {
          out.push(`<circle cx="${r2(X(p[0]))}" cy="${r2(Y(p[1]))}" r="3" fill="${color}"/>`);
        }
      }
    }
  });

  // Legend.
  const lx = left + pw + 16;
  series.forEach((s, i) => {
    const y = top + 8 + i * 18;
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    out.push(
      `<line x1="${lx}" y1="${y}" x2="${lx + 24}" y2="${y}" stroke="${escapeXml(s.color)}" ` +
        `stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${lx + 30}" y="${y + 4}">${escapeXml(s.name)}</text>`);
  });

  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

export interface LayerNorms {
  name: string;
  /** L2 norm per weight layer, ordered from the input side to the output side. */
  norms: readonly number[];
  color?: string;
  dashed?: boolean;
}

/**
 * Gradient norm per layer (x = layer index from the input side, y = L2 norm on a log axis), one
 * series per model or step. Vanishing gradients in deep plain nets show up as a slope from right
 * to left spanning decades, which only a log axis makes readable.
 */
export function layerNormChart(opts: {
  title: string;
  series: readonly LayerNorms[];
  yLabel?: string;
  width?: number;
  height?: number;
}): string {
  return lineChart({
    title: opts.title,
    xLabel: "layer (input → output)",
    yLabel: opts.yLabel ?? "gradient L2 norm",
    logY: true,
    markers: true,
    integerX: true,
    width: opts.width,
    height: opts.height,
    series: opts.series.map((s) => ({
      name: s.name,
      color: s.color,
      dashed: s.dashed,
      points: s.norms.map((n, i) => [i, n] as const),
    })),
  });
}
