import assert from "node:assert/strict";
import {
  encodeRecord,
  MetricsLog,
  metricsPath,
  parseMetrics,
  readMetrics,
} from "../../src/app/metrics_log.ts";

Deno.test("metrics: round trip, append on resume, NaN/Infinity flagged", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/runs/r1/metrics.jsonl`;
    const log = MetricsLog.open(path, { append: false });
    log.write({ step: 1, loss: 2.3, acc: 0.1 });
    log.write({ step: 2, loss: NaN, acc: Infinity, norms: [1, -Infinity], lr: 0.1 });
    log.close();
    assert.throws(() => log.write({ step: 3 }), /closed/);
    // Written as it goes: each record is a complete line on disk.
    const text = Deno.readTextFileSync(path);
    assert.equal(text.split("\n").length, 3);
    assert.ok(!text.includes("NaN") && !text.includes("Infinity"));

    const again = MetricsLog.open(path);
    again.write({ step: 3, loss: 1.5, grads: new Float32Array([0.5, NaN]) });
    again.close();
    assert.deepEqual(readMetrics(path), [
      { step: 1, loss: 2.3, acc: 0.1 },
      {
        step: 2,
        loss: null,
        acc: null,
        norms: [1, null],
        lr: 0.1,
        nonfinite: ["loss", "acc", "norms.1"],
      },
      { step: 3, loss: 1.5, grads: [0.5, null], nonfinite: ["grads.1"] },
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("metrics: a crash-truncated last line is dropped before appending", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/m.jsonl`;
    Deno.writeTextFileSync(path, '{"step":1}\n{"step":2,"lo');
    const log = MetricsLog.open(path);
    log.write({ step: 2 });
    log.close();
    assert.deepEqual(readMetrics(path), [{ step: 1 }, { step: 2 }]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("metrics: corrupt lines throw naming the line number", () => {
  assert.throws(
    () => parseMetrics('{"a":1}\n\n{"a":2,}\n', "m.jsonl"),
    /^Error: m\.jsonl:3: invalid JSON/,
  );
  assert.throws(
    () => parseMetrics('{"a":1}\n[1,2]\n', "m.jsonl"),
    /m\.jsonl:2: expected a JSON object/,
  );
  assert.throws(() => parseMetrics("null", "x"), /x:1: expected a JSON object/);
  assert.deepEqual(parseMetrics('{"a":1}\n\n'), [{ a: 1 }]);
  assert.throws(() => encodeRecord({ nonfinite: 1 }), /reserved/);
  assert.equal(metricsPath("resnet20-s1"), "runs/resnet20-s1/metrics.jsonl");
  assert.throws(() => metricsPath("../etc"), /invalid run name/);
  assert.throws(() => metricsPath("a/b"), /invalid run name/);
});
