/**
 * The dashboard's page (src/app/dashboard.ts serves it): one HTML document with its script, which
 * polls the run's metrics.jsonl for new lines every second and redraws. Its state is on
 * `window.dashboard` for tests.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>resgpu run</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 0 16px; color: #1d2733; }
.muted { color: #5b6776; } .grid { display: flex; flex-wrap: wrap; gap: 14px; }
canvas { border: 1px solid #d5dbe3; border-radius: 4px; background: #fff; max-width: 100%; }
figure { margin: 0; } #stats b { margin-right: 1.5em; }
</style></head>
<body>
<h1>resgpu run <small id="title" class="muted">waiting for the run to start…</small></h1>
<p id="stats" class="muted"></p>
<div class="grid">
<figure><canvas id="loss" width="560" height="240"></canvas><figcaption>loss: training windows (blue), test (orange)</figcaption></figure>
<figure><canvas id="error" width="560" height="240"></canvas><figcaption>error %: training (blue), test (orange)</figcaption></figure>
<figure><canvas id="lr" width="560" height="240"></canvas><figcaption>learning rate</figcaption></figure>
<figure><canvas id="norms" width="560" height="240"></canvas><figcaption>gradient L2 norm per weight layer, input to output (log scale): first capture grey, latest blue</figcaption></figure>
</div>
<script type="module">
const state = { records: 0, train: [], eval: [], norms: [], config: null, offset: 0, error: null };
globalThis.dashboard = state;
const BLUE = "#2f6db5", ORANGE = "#e07b24", GREY = "#9aa5b1";

function chart(id, series, opts = {}) {
  const c = document.getElementById(id), ctx = c.getContext("2d");
  const l = 56, r = 12, t = 10, b = 24, w = c.width - l - r, h = c.height - t - b;
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.strokeStyle = "#d5dbe3"; ctx.strokeRect(l, t, w, h);
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p[1]));
  if (!pts.length) return;
  const x0 = 0, x1 = Math.max(...pts.map((p) => p[0]), 1);
  const y0 = opts.zero ? 0 : Math.min(...pts.map((p) => p[1]));
  let y1 = Math.max(...pts.map((p) => p[1])); if (y1 <= y0) y1 = y0 + 1;
  const X = (v) => l + (v - x0) / (x1 - x0) * w, Y = (v) => t + h - (v - y0) / (y1 - y0) * h;
  ctx.fillStyle = "#5b6776";
  ctx.fillText(opts.fmt ? opts.fmt(y1) : y1.toPrecision(3), 4, t + 10);
  ctx.fillText(opts.fmt ? opts.fmt(y0) : y0.toPrecision(3), 4, t + h);
  ctx.fillText("step " + x1, l + w - 70, t + h + 18);
  for (const s of series) {
    ctx.strokeStyle = ctx.fillStyle = s.color; ctx.lineWidth = 2; ctx.beginPath();
    s.points.forEach((p, i) => i ? ctx.lineTo(X(p[0]), Y(p[1])) : ctx.moveTo(X(p[0]), Y(p[1])));
    ctx.stroke();
    if (s.dots) for (const p of s.points) { ctx.beginPath(); ctx.arc(X(p[0]), Y(p[1]), 3.5, 0, 7); ctx.fill(); }
  }
}

function normsChart() {
  const c = document.getElementById("norms"), ctx = c.getContext("2d");
  ctx.clearRect(0, 0, c.width, c.height);
  ctx.font = "12px system-ui, sans-serif";
  const l = 44, t = 10, w = c.width - l - 12, h = c.height - 34;
  ctx.strokeStyle = "#d5dbe3"; ctx.strokeRect(l, t, w, h);
  if (!state.norms.length) return;
  const first = state.norms[0], last = state.norms[state.norms.length - 1];
  const all = [...first.norms, ...last.norms].filter((v) => v > 0 && Number.isFinite(v));
  if (!all.length) return;
  const lo = Math.floor(Math.log10(Math.min(...all))), hi = Math.max(Math.ceil(Math.log10(Math.max(...all))), lo + 1);
  const Y = (v) => t + h - (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo) * h;
  ctx.fillStyle = "#5b6776";
  for (let e = lo; e <= hi; e++) ctx.fillText("1e" + e, 4, Y(10 ** e) + 4);
  const bw = w / last.norms.length;
  const bars = (norms, color, inset) => { ctx.fillStyle = color; norms.forEach((v, i) => {
    const y = Y(v); ctx.fillRect(l + i * bw + inset, y, Math.max(bw - 2 * inset, 1), t + h - y); }); };
  bars(first.norms, GREY, 0.5); bars(last.norms, BLUE, bw * 0.25);
  ctx.fillStyle = "#5b6776";
  ctx.fillText("step " + first.step + " (grey), " + last.step + " (blue); " + last.names[0] + " … " + last.names[last.names.length - 1], l, c.height - 6);
}

function draw() {
  const tr = state.train, ev = state.eval;
  chart("loss", [{ color: BLUE, points: tr.map((r) => [r.step, r.loss]) },
    { color: ORANGE, dots: true, points: ev.map((r) => [r.step, r.loss]) }], { zero: true });
  chart("error", [{ color: BLUE, points: tr.map((r) => [r.step, 100 * (1 - r.accuracy)]) },
    { color: ORANGE, dots: true, points: ev.map((r) => [r.step, 100 * (1 - r.accuracy)]) }],
    { zero: true, fmt: (v) => v.toFixed(1) + "%" });
  chart("lr", [{ color: BLUE, points: tr.map((r) => [r.step, r.lr]) }], { zero: true });
  normsChart();
  const cfg = state.config, last = tr[tr.length - 1], lastEval = ev[ev.length - 1];
  if (cfg) {
    document.getElementById("title").textContent = cfg.model + " on " + cfg.data + ", batch " +
      cfg.batch + ", " + cfg.epochs + " epochs — " + cfg.adapter;
  }
  const parts = [];
  if (last) {
    parts.push("<b>step " + last.step + "</b>", "<b>loss " + last.loss.toFixed(4) + "</b>",
      "<b>error " + (100 * (1 - last.accuracy)).toFixed(2) + "%</b>",
      "<b>lr " + last.lr.toPrecision(3) + "</b>",
      "<b>" + last.images_per_s.toFixed(1) + " images/s</b>");
  }
  if (lastEval) parts.push("<b>test error " + (100 * (1 - lastEval.accuracy)).toFixed(2) + "% (epoch " + (lastEval.epoch + 1) + ")</b>");
  document.getElementById("stats").innerHTML = parts.join("") || "no metrics yet";
}

async function poll() {
  try {
    if (!state.config) state.config = await (await fetch("config.json")).json();
    const text = await (await fetch("metrics.jsonl?from=" + state.offset)).text();
    if (text) {
      state.offset += new TextEncoder().encode(text).length;
      for (const line of text.split("\\n")) {
        if (!line.trim()) continue;
        const r = JSON.parse(line);
        state.records++;
        if (r.type === "train") state.train.push(r);
        else if (r.type === "eval") state.eval.push(r);
        else if (r.type === "grad_norms") state.norms.push(r);
      }
      draw();
    }
    state.error = null;
  } catch (e) {
    state.error = String(e);
    document.getElementById("stats").textContent = "the run is not answering (finished or stopped?) — showing what it logged";
  }
  setTimeout(poll, 1000);
}
draw();
poll();
</script></body></html>
`;
