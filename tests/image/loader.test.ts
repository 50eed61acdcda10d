/**
 * The worker image loader: batches equal to transforming each file directly, independent of the
 * worker count, resumable; bad images failed or skipped; the decoded cache filled, read and
 * invalidated when a file changes.
 */
import assert from "node:assert/strict";
import { ImageBatchLoader } from "../../src/image/loader.ts";
import type { ImageList } from "../../src/image/folder.ts";
import { applyTransform, transformPreset } from "../../src/image/transforms.ts";
import { decodeImage, toRgb } from "../../src/image/decode.ts";
import { AUG_TAG } from "../../src/image/sample.ts";
import { DisposedError } from "../../src/util/disposed.ts";
import { Rng } from "../../src/util/rng.ts";
import { encodePng, pattern, withIhdrSize } from "../helpers/images.ts";

async function makeList(n: number, dir?: string): Promise<ImageList & { dir: string }> {
  const root = dir ?? await Deno.makeTempDir({ prefix: "resgpu-loader-" });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const [w, h] = [9 + (i % 5) * 3, 7 + (i % 3) * 4];
    const f = `${root}/img${String(i).padStart(3, "0")}.png`;
    await Deno.writeFile(f, encodePng(w, h, i % 2 ? 3 : 1, pattern(w, h, i % 2 ? 3 : 1, i)));
    files.push(f);
  }
  return {
    files,
    labels: Int32Array.from(files, (_, i) => i % 3),
    classNames: ["a", "b", "c"],
    name: "t",
    dir: root,
  };
}

const train = transformPreset("torchvision", { size: 8 });
const evalT = transformPreset("eval", { size: 8 });

/** The sample a loader must produce for a file: its direct decode and transform. */
function expected(path: string, key: number[], t = train): Float32Array {
  const out = new Float32Array(3 * 8 * 8);
  applyTransform(toRgb(decodeImage(Deno.readFileSync(path))), t, new Rng(...key, AUG_TAG), out, 0);
  return out;
}

async function collect(loader: ImageBatchLoader, batches: number) {
  const out: { x: Float32Array; y: number[]; size: number }[] = [];
  for (let i = 0; i < batches; i++) {
    const b = await loader.next();
    out.push({ x: b.x.slice(), y: [...b.y], size: b.size });
  }
  return out;
}

Deno.test("image loader: batches are the files' transforms, whatever the worker count", async () => {
  const list = await makeList(10);
  try {
    const opts = { batchSize: 4, transform: train, shuffle: true, dropLast: true, seed: 7 };
    using one = new ImageBatchLoader(list, { ...opts, workers: 1 });
    using three = new ImageBatchLoader(list, { ...opts, workers: 3 });
    assert.equal(one.batchesPerEpoch, 2);
    const a = await collect(one, 4), b = await collect(three, 4);
    assert.deepEqual(a, b);
    // Batch 1 of epoch 0: files at positions 4..7 of the epoch's permutation.
    const perm = new Rng(7, 0, 0x5f1e).shuffle(Int32Array.from({ length: 10 }, (_, i) => i));
    for (let i = 0; i < 4; i++) {
      const idx = perm[4 + i];
      assert.deepEqual(
        a[1].x.subarray(i * 192, (i + 1) * 192),
        expected(list.files[idx], [7, 0, 1, i]),
      );
      assert.equal(a[1].y[i], list.labels[idx]);
    }
    assert.notDeepEqual(a[0].x, a[2].x, "epochs differ");
    assert.ok(one.waitMs >= 0 && one.decodeMs > 0);
  } finally {
    await Deno.remove(list.dir, { recursive: true });
  }
});

Deno.test("image loader: restore resumes the same stream; dispose ends it", async () => {
  const list = await makeList(9);
  try {
    const opts = {
      batchSize: 3,
      transform: train,
      shuffle: true,
      dropLast: true,
      seed: 1,
      workers: 2,
    };
    const full = new ImageBatchLoader(list, opts);
    const ref = await collect(full, 5);
    full.dispose();
    full.dispose(); // idempotent
    await assert.rejects(() => full.next(), DisposedError);
    using resumed = new ImageBatchLoader(list, opts);
    resumed.restore({ seed: 1, epoch: 1, batch: 0 });
    assert.deepEqual(await collect(resumed, 2), ref.slice(3, 5));
  } finally {
    await Deno.remove(list.dir, { recursive: true });
  }
});

Deno.test("image loader: evaluation keeps the last partial batch, in order", async () => {
  const list = await makeList(5);
  try {
    using l = new ImageBatchLoader(list, { batchSize: 2, transform: evalT, workers: 2 });
    const bs = await collect(l, 3);
    assert.deepEqual(bs.map((b) => b.size), [2, 2, 1]);
    assert.deepEqual(bs[2].y, [list.labels[4], -1]);
    assert.deepEqual(bs[2].x.subarray(0, 192), expected(list.files[4], [0, 0, 2, 0], evalT));
    assert.ok(bs[2].x.subarray(192).every((v) => v === 0));
  } finally {
    await Deno.remove(list.dir, { recursive: true });
  }
});

Deno.test("image loader: a bad image fails naming the file, or is skipped and counted", async () => {
  const list = await makeList(8);
  try {
    await Deno.writeTextFile(list.files[2], "this is not a png");
    const bytes = await Deno.readFile(list.files[5]);
    await Deno.writeFile(list.files[5], bytes.subarray(0, bytes.length - 20)); // truncated
    const failing = new ImageBatchLoader(list, { batchSize: 4, transform: evalT, workers: 2 });
    await assert.rejects(
      () => failing.next(),
      (e: Error) =>
        e.message.includes(list.files[2]) && /not a PNG or JPEG file/.test(e.message) &&
        /--on-bad-image skip/.test(e.message),
    );
    failing.dispose();
    // Evaluation: the bad files drop out of their batches.
    using ev = new ImageBatchLoader(list, {
      batchSize: 4,
      transform: evalT,
      workers: 2,
      onBadImage: "skip",
    });
    const bs = await collect(ev, 2);
    assert.deepEqual(bs.map((b) => b.size), [3, 3]);
    assert.deepEqual(bs[0].y.slice(0, 3), [0, 1, 0]); // files 0, 1, 3
    assert.deepEqual(ev.skipped.map((s) => s.path).sort(), [list.files[2], list.files[5]]);
    assert.match(ev.skipped.find((s) => s.path === list.files[5])!.message, /PNG/);
    // Training: batches stay full, bad files replaced by good ones.
    using tr = new ImageBatchLoader(list, {
      batchSize: 4,
      transform: train,
      shuffle: true,
      dropLast: true,
      workers: 2,
      onBadImage: "skip",
    });
    for (const b of await collect(tr, 4)) {
      assert.equal(b.size, 4);
      assert.ok(b.y.every((v) => v >= 0 && v < 3));
    }
    assert.equal(tr.skipped.length, 2);
  } finally {
    await Deno.remove(list.dir, { recursive: true });
  }
});

Deno.test("image loader: the decoded cache is filled, read, size-limited and invalidated", async () => {
  const list = await makeList(6);
  const cache = await Deno.makeTempDir({ prefix: "resgpu-cache-" });
  try {
    const opts = {
      batchSize: 3,
      transform: evalT,
      workers: 2,
      cache: { dir: cache, maxBytes: 1 << 20 },
    };
    const plain = new ImageBatchLoader(list, { batchSize: 3, transform: evalT, workers: 1 });
    const ref = await collect(plain, 2);
    plain.dispose();
    const first = new ImageBatchLoader(list, opts);
    assert.deepEqual(await collect(first, 2), ref);
    first.dispose();
    const entries = [...Deno.readDirSync(cache)].filter((e) => e.name.endsWith(".img"));
    assert.equal(entries.length, 6);
    // Served from the cache: overwrite one entry's pixels and the loader returns them.
    const { cacheFile } = await import("../../src/image/cache.ts");
    const entry = Deno.readFileSync(cacheFile(cache, list.files[1]));
    entry.fill(255, entry.length - 60); // the last rows and more: inside the crop
    Deno.writeFileSync(cacheFile(cache, list.files[1]), entry);
    const again = new ImageBatchLoader(list, opts);
    const served = await collect(again, 2);
    again.dispose();
    assert.deepEqual(served[0].x.subarray(0, 192), ref[0].x.subarray(0, 192));
    assert.notDeepEqual(served[0].x.subarray(192, 384), ref[0].x.subarray(192, 384));
    // A changed source file (new size and time) is decoded again, not served stale.
    await Deno.writeFile(list.files[0], encodePng(20, 20, 3, pattern(20, 20, 3, 99)));
    const changed = new ImageBatchLoader(list, opts);
    const got = await collect(changed, 1);
    changed.dispose();
    assert.deepEqual(got[0].x.subarray(0, 192), expected(list.files[0], [0, 0, 0, 0], evalT));
    // The size limit: a cache with room for nothing writes nothing.
    const tiny = await Deno.makeTempDir({ prefix: "resgpu-cache-" });
    const none = new ImageBatchLoader(list, { ...opts, cache: { dir: tiny, maxBytes: 100 } });
    await collect(none, 2);
    none.dispose();
    assert.equal([...Deno.readDirSync(tiny)].length, 0);
    await Deno.remove(tiny, { recursive: true });
  } finally {
    await Deno.remove(list.dir, { recursive: true });
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("image loader: a 1×1 image becomes a whole sample; a bomb in the folder is skipped, named", async () => {
  const list = await makeList(4);
  try {
    await Deno.writeFile(list.files[1], encodePng(1, 1, 3, new Uint8Array([200, 100, 50])));
    // 20,000×20,000 claimed by a 7×5 file: refused from its header, nothing of that size made.
    await Deno.writeFile(
      list.files[3],
      withIhdrSize(encodePng(7, 5, 3, pattern(7, 5, 3)), 20000, 20000),
    );
    using ev = new ImageBatchLoader(list, {
      batchSize: 4,
      transform: evalT,
      workers: 1,
      onBadImage: "skip",
    });
    const [b] = await collect(ev, 1);
    assert.equal(b.size, 3);
    // The 1×1 image is resized up like any other: every pixel its one color, normalized.
    assert.deepEqual(b.x.subarray(192, 384), expected(list.files[1], [0, 0, 0, 0], evalT));
    const red = (200 / 255 - evalT.mean[0]) / evalT.std[0];
    assert.ok(b.x.subarray(192, 256).every((v) => Math.abs(v - red) < 1e-5));
    assert.deepEqual(ev.skipped.map((s) => s.path), [list.files[3]]);
    assert.match(ev.skipped[0].message, /20000×20000 pixels is over the decoding limit/);
  } finally {
    await Deno.remove(list.dir, { recursive: true });
  }
});

Deno.test("image loader: a worker that cannot start fails the batch instead of hanging", async () => {
  const list = await makeList(2);
  const root = new URL("../../", import.meta.url).pathname;
  try {
    // Read permission for the images but not for the worker's module: the worker dies loading.
    const main = `${list.dir}/main.ts`;
    await Deno.writeTextFile(
      main,
      `import { ImageBatchLoader } from ${JSON.stringify(`${root}src/image/loader.ts`)};
       import { transformPreset } from ${JSON.stringify(`${root}src/image/transforms.ts`)};
       const list = ${JSON.stringify({ ...list, labels: [...list.labels] })};
       const l = new ImageBatchLoader({ ...list, labels: Int32Array.from(list.labels) },
         { batchSize: 2, transform: transformPreset("eval", { size: 8 }), workers: 1 });
       for (let i = 0; i < 2; i++) {
         await l.next().then(() => console.log("batch"), (e) => console.log("failed:", e.message));
       }
       l.dispose();`,
    );
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-lock", "--no-prompt", `--allow-read=${list.dir}`, main],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const out = new TextDecoder().decode(r.stdout);
    assert.equal(out.match(/failed: image loader worker failed: .*read access/g)?.length, 2, out);
  } finally {
    await Deno.remove(list.dir, { recursive: true });
  }
});
