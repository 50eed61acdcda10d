import assert from "node:assert/strict";
import {
  escapeXml,
  layerNormChart,
  lineChart,
  logTicks,
  niceTicks,
  PALETTE,
  studyStyle,
} from "../../src/app/plots.ts";

const close = (a: number, b: number, eps = 1e-12) =>
  assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

/** Tiny well-formedness check: tags balance, attributes are quoted, text has no bare & or <. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < svg.length) {
    const lt = svg.indexOf("<", i);
    const text = svg.slice(i, lt < 0 ? svg.length : lt);
    assert.ok(!/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text), `bare & in text: ${text}`);
    assert.ok(!text.includes(">"), `bare > in text: ${text}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(svg);
    assert.ok(m, `malformed tag at ${lt}: ${svg.slice(lt, lt + 60)}`);
    for (const [, v] of m[3].matchAll(/="([^"]*)"/g)) {
      assert.ok(!/&(?!(amp|lt|gt|quot|apos);)/.test(v), `bare & in attribute: ${v}`);
    }
    if (m[1]) assert.equal(stack.pop(), m[2], `unbalanced </${m[2]}>`);
    else if (!m[4]) stack.push(m[2]);
    i = tag.lastIndex;
  }
  assert.deepEqual(stack, [], "unclosed tags");
  assert.ok(svg.trimStart().startsWith("<svg"), "root is <svg>");
  assert.ok(!/NaN|Infinity|undefined/.test(svg), "no NaN/Infinity/undefined in output");
}

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

Deno.test("plots: the well-formedness check itself rejects broken XML", () => {
  assert.throws(() => assertWellFormed("<svg><g></svg>"));
  assert.throws(() => assertWellFormed("<svg><text>a & b</text></svg>"));
  assert.throws(() => assertWellFormed("<svg><text>a<b</text></svg>"));
  assert.throws(() => assertWellFormed('<svg><path d="NaN"/></svg>'));
  assertWellFormed('<svg><text x="1">a &amp; b</text><line/></svg>');
});

Deno.test("plots: nice 1-2-5 ticks and log ticks", () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.13, 0.87, 4), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 64000, 6), [0, 20000, 40000, 60000, 80000]);
  assert.deepEqual(niceTicks(3, 3), [2.6, 2.8, 3, 3.2, 3.4]); // constant: padded, no /0
  assert.deepEqual(niceTicks(0, 0), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(niceTicks(0, 3, 6, 1), [0, 1, 2, 3]);
  // Arbitrary range: evenly spaced by 1, 2 or 5 × 10^k, enclosing the data.
  const t = niceTicks(-0.37, 12.2, 6);
  const step = t[1] - t[0];
  const mant = step / 10 ** Math.floor(Math.log10(step));
  assert.ok([1, 2, 5].some((k) => Math.abs(mant - k) < 1e-9), `step ${step}`);
  for (let i = 1; i < t.length; i++) close(t[i] - t[i - 1], step, 1e-9);
  assert.ok(t[0] <= -0.37 && t[t.length - 1] >= 12.2);
  assert.deepEqual(logTicks(0.003, 40), [0.001, 0.01, 0.1, 1, 10, 100]);
  assert.deepEqual(logTicks(2, 7), [1, 2, 5, 10]);
  assert.deepEqual(logTicks(5, 5), [1, 2, 5, 10]);
  assert.deepEqual(logTicks(1e-12, 1e4), [1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1, 1e2, 1e4]);
  assert.deepEqual(logTicks(0, 1), []);
});

Deno.test("plots: one path per series, dashed series dashed, legend, escaped title", () => {
  const svg = lineChart({
    title: 'loss <plain & residual> "20"',
    xLabel: "epoch",
    yLabel: "error %",
    series: [
      { name: "plain-20", points: [[0, 50], [1, 30], [2, 20]], ...studyStyle(0, false) },
      { name: "resnet-20", points: [[0, 45], [1, 25], [2, 12]], ...studyStyle(0, true) },
      { name: "plain-56 <dashed>", points: [[0, 60], [1, 40]], dashed: true },
    ],
  });
  assertWellFormed(svg);
  assert.equal(count(svg, /<path /g), 3);
  assert.equal(count(svg, /<path [^>]*stroke-dasharray/g), 2);
  assert.ok(svg.includes("loss &lt;plain &amp; residual&gt; &quot;20&quot;"));
  assert.ok(svg.includes("plain-56 &lt;dashed&gt;"));
  assert.ok(!svg.includes("<plain"));
  // Same depth, same colour; the third series falls back to the palette by index.
  const strokes = [...svg.matchAll(/<path [^>]*stroke="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(strokes, [PALETTE[0], PALETTE[0], PALETTE[2]]);
  assert.equal(new Set(PALETTE).size, PALETTE.length);
  assert.ok(PALETTE.length >= 10);
});

Deno.test("plots: NaN breaks the line; empty, single-point and constant series are safe", () => {
  const gap = lineChart({
    title: "t",
    xLabel: "x",
    yLabel: "y",
    series: [{
      name: "a",
      points: [[0, 1], [1, 2], [2, NaN], [3, 3], [4, 4], [5, Infinity], [6, 5]],
    }],
  });
  assertWellFormed(gap);
  const d = /<path [^>]*d="([^"]*)"/.exec(gap)![1];
  assert.equal(count(d, /M/g), 3);
  assert.equal(count(d, /L/g), 2);
  assert.equal(count(gap, /<circle/g), 1); // the isolated last point stays visible

  const empty = lineChart({ title: "empty", xLabel: "x", yLabel: "y", series: [] });
  assertWellFormed(empty);
  assert.ok(empty.includes("no data"));
  const emptySeries = lineChart({
    title: "e",
    xLabel: "x",
    yLabel: "y",
    series: [{ name: "a", points: [] }, { name: "b", points: [[NaN, NaN]] }],
  });
  assertWellFormed(emptySeries);
  assert.equal(count(emptySeries, /<path /g), 2);

  for (
    const points of [[[3, 7]], [[0, 2], [1, 2], [2, 2]], [[5, 0], [5, 0]]] as [number, number][][]
  ) {
    for (const logY of [false, true]) {
      const svg = lineChart({
        title: "c",
        xLabel: "x",
        yLabel: "y",
        series: [{ name: "s", points }],
        logY,
      });
      assertWellFormed(svg);
    }
  }
});

Deno.test("plots: log axis drops non-positive values and says so", () => {
  const svg = lineChart({
    title: "grad",
    xLabel: "x",
    yLabel: "norm",
    logY: true,
    series: [{ name: "a", points: [[0, 1e-3], [1, 0], [2, -1], [3, 10]] }],
  });
  assertWellFormed(svg);
  assert.ok(svg.includes("2 non-positive values omitted (log scale)"));
  assert.ok(svg.includes(">0.001<") && svg.includes(">10<"));
  const d = /<path [^>]*d="([^"]*)"/.exec(svg)![1];
  assert.equal(count(d, /M/g), 2);
  const allBad = lineChart({
    title: "g",
    xLabel: "x",
    yLabel: "y",
    logY: true,
    series: [{ name: "a", points: [[0, 0], [1, -2]] }],
  });
  assertWellFormed(allBad);
  assert.ok(allBad.includes("no data"));
});

Deno.test("plots: per-layer gradient norm chart (log y, integer layer x, markers)", () => {
  const svg = layerNormChart({
    title: "grad norm per layer",
    series: [
      { name: "plain-56 @ step 100", norms: [1e-6, 1e-5, 1e-4, 1e-2, 0.5], dashed: true },
      { name: "resnet-56 @ step 100", norms: [0.1, 0.2, 0.15, 0.3, 0.5] },
    ],
  });
  assertWellFormed(svg);
  assert.equal(count(svg, /<path /g), 2);
  assert.equal(count(svg, /<circle/g), 10);
  assert.ok(svg.includes("(log)"));
  assert.ok(svg.includes(">1e-6<"));
  const xLabels = [...svg.matchAll(/text-anchor="middle">(-?[\d.e-]+)<\/text>/g)].map((m) =>
    Number(m[1])
  );
  assert.ok(xLabels.length > 0 && xLabels.every(Number.isInteger), `x ticks ${xLabels}`);
  assert.equal(escapeXml("a\x01b"), "ab");
});
