// Canvas charts for the page: the training curve and the per-layer gradient-norm picture.

const BLUE = "#2f6db5", ORANGE = "#e07b24", GREY = "#9aa5b1";

function frame(canvas) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = "12px system-ui, sans-serif";
  return { ctx, w: canvas.width, h: canvas.height, l: 44, r: 44, t: 12, b: 26 };
}

/** Loss (left axis, from 0) and accuracy (right axis, 0–100 %) against the step. */
export function drawCurve(canvas, history) {
  const { ctx, w, h, l, r, t, b } = frame(canvas);
  const pw = w - l - r, ph = h - t - b;
  ctx.strokeStyle = "#d5dbe3";
  ctx.strokeRect(l, t, pw, ph);
  if (history.length === 0) return;
  const maxStep = Math.max(history[history.length - 1].step, 1);
  const maxLoss = Math.max(...history.map((p) => p.loss).filter(Number.isFinite), 1e-6);
  const x = (s) => l + (s / maxStep) * pw;
  ctx.fillStyle = "#5b6776";
  ctx.fillText("0", l - 12, t + ph + 4);
  ctx.fillText(maxLoss.toFixed(2), 4, t + 10);
  ctx.fillText("100%", w - r + 4, t + 10);
  ctx.fillText(`step ${maxStep}`, l + pw - 50, h - 6);
  const line = (key, color, scale) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach((p, i) => {
      const y = t + ph - (p[key] / scale) * ph;
      if (i === 0) ctx.moveTo(x(p.step), y);
      else ctx.lineTo(x(p.step), y);
    });
    ctx.stroke();
  };
  line("loss", BLUE, maxLoss);
  line("accuracy", ORANGE, 1);
}

/** One bar per weight layer, log-scaled: the first capture in grey behind the latest in blue. */
export function drawNorms(canvas, first, latest) {
  const { ctx, w, h, l, r, t, b } = frame(canvas);
  const pw = w - l - r, ph = h - t - b;
  ctx.strokeStyle = "#d5dbe3";
  ctx.strokeRect(l, t, pw, ph);
  if (!latest || latest.length === 0) return;
  const all = [...first, ...latest].map((g) => g.norm).filter((v) => v > 0 && Number.isFinite(v));
  if (all.length === 0) return;
  const lo = Math.floor(Math.log10(Math.min(...all))), hi = Math.ceil(Math.log10(Math.max(...all)));
  const span = Math.max(hi - lo, 1);
  const y = (v) => t + ph - ((Math.log10(Math.max(v, 10 ** lo)) - lo) / span) * ph;
  ctx.fillStyle = "#5b6776";
  for (let e = lo; e <= hi; e++) ctx.fillText(`1e${e}`, 4, y(10 ** e) + 4);
  const n = latest.length, bw = pw / n;
  const bars = (norms, color, inset) => {
    ctx.fillStyle = color;
    norms.forEach((g, i) => {
      const top = y(g.norm);
      ctx.fillRect(l + i * bw + inset, top, Math.max(bw - 2 * inset, 1), t + ph - top);
    });
  };
  bars(first, GREY, 0.5);
  bars(latest, BLUE, bw * 0.25);
  ctx.fillStyle = "#5b6776";
  ctx.fillText(latest[0].name.replace(/\.weight$/, ""), l, h - 6);
  const last = latest[n - 1].name.replace(/\.weight$/, "");
  ctx.fillText(last, l + pw - ctx.measureText(last).width, h - 6);
}
