/**
 * `train --dashboard`: the page follows a real run in headless Chromium and ends holding exactly
 * the records of its metrics.jsonl; a port in use is named, with a free one suggested, by the
 * function and by the CLI.
 */
import assert from "node:assert/strict";
import { freePortAfter, PortInUseError, startDashboard } from "../../src/app/dashboard.ts";
import { trainRun } from "../../src/app/run.ts";
import { chromiumPath, openBrowser } from "../web/browser.ts";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";

Deno.test("dashboard: a port in use is named and a free one suggested", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    assert.throws(() => startDashboard("/nonexistent", port), (e: unknown) => {
      assert.ok(e instanceof PortInUseError);
      assert.equal(e.port, port);
      assert.ok(e.suggestion !== null && e.suggestion > port);
      assert.match(
        e.message,
        new RegExp(`port ${port} is in use.*try --dashboard ${e.suggestion}`),
      );
      return true;
    });
  } finally {
    taken.close();
  }
  assert.equal(freePortAfter(65535), null);
});

Deno.test("dashboard: the CLI exits 2 naming the taken port", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-net=127.0.0.1",
        new URL("../../src/cli/train.ts", import.meta.url).pathname,
        "--data",
        "synthetic",
        "--out",
        `${dir}/run`,
        "--dashboard",
        String(port),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 2, err);
    assert.match(err, new RegExp(`error: port ${port} is in use.*try --dashboard \\d+`));
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

interface PageState {
  records: number;
  train: { step: number; loss: number }[];
  eval: unknown[];
  norms: { names: string[] }[];
  config: { model: string } | null;
}

Deno.test({
  name: "dashboard: the page follows a run in Chromium and shows what metrics.jsonl holds",
  ignore: chromiumPath() === null,
  ...GPU_TEST,
  async fn() {
    const dir = await Deno.makeTempDir();
    const dash = startDashboard(`${dir}/run`, 0);
    const s = await openBrowser();
    try {
      await s.page.goto(dash.url);
      const seen: number[] = [];
      const watch = setInterval(async () => {
        try {
          seen.push(
            await s.page.evaluate(() =>
              (globalThis as unknown as { dashboard: PageState }).dashboard.records
            ),
          );
        } catch { /* the page is busy; the next poll reads it */ }
      }, 500);
      try {
        await trainRun({
          model: "resnet8",
          data: "synthetic",
          subset: 64,
          testSubset: 32,
          epochs: 2,
          batch: 16,
          evalBatch: 32,
          optimizer: "sgd",
          lr: 0.05,
          momentum: 0.9,
          nesterov: false,
          wd: 5e-4,
          schedule: "cosine",
          warmup: 0,
          seed: 0,
          out: `${dir}/run`,
          evalEvery: 1,
          logEvery: 1,
          gradNormEvery: 2,
        }, { runtime: await runtime(), sink: () => {} });
      } finally {
        clearInterval(watch);
      }
      const lines = (await Deno.readTextFile(`${dir}/run/metrics.jsonl`)).trim().split("\n")
        .map((l) => JSON.parse(l));
      await s.page.waitForFunction(
        (n: number) => (globalThis as unknown as { dashboard: PageState }).dashboard.records === n,
        { polling: 200 },
        lines.length,
      );
      const page = await s.page.evaluate(() =>
        JSON.parse(JSON.stringify((globalThis as unknown as { dashboard: PageState }).dashboard))
      ) as PageState;
      assert.deepEqual(page.train, lines.filter((r) => r.type === "train"));
      assert.deepEqual(page.eval, lines.filter((r) => r.type === "eval"));
      assert.equal(page.norms.length, lines.filter((r) => r.type === "grad_norms").length);
      assert.equal(page.norms[0].names[0], "conv1.weight");
      assert.equal(page.config?.model, "resnet8");
      // It followed the run: it held some records, but not all, while the run was going.
      assert.ok(
        seen.some((n) => n > 0 && n < lines.length),
        `record counts seen during the run: ${seen}`,
      );
      const stats = await s.page.$eval("#stats", (e) => e.textContent ?? "");
      assert.match(stats, /images\/s/);
      assert.match(stats, /test error/);
    } finally {
      await s.close();
      await dash.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
