/**
 * Defect 7 (data and run files) of the reliability probe: a 260 KB gzip that inflates to 256 MiB
 * was inflated whole before its IDX header was checked; a data set with no images said
 * `subset 0 out of range 1..0` when no --subset was given; train and test images of different
 * shapes were caught only after a full epoch; interrupted checkpoint writes left their
 * temporary files forever.
 */
import assert from "node:assert/strict";
import { IDX_MAX_BYTES, readIdxImages } from "../../src/data/idx.ts";
import { type TrainConfig, trainRun } from "../../src/app/run.ts";
import { BatchLoader } from "../../src/data/loader.ts";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";

function idxHeader(dims: number[]): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length);
  out.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => new DataView(out.buffer).setUint32(4 + 4 * i, d, false));
  return out;
}

function idx(dims: number[]): Uint8Array {
  const head = idxHeader(dims);
  const out = new Uint8Array(head.length + dims.reduce((a, b) => a * b, 1));
  out.set(head);
  return out;
}

/** gzip of `head` followed by `mib` MiB of zeros (about 1 KB of gzip per MiB). */
async function bomb(head: Uint8Array, mib: number): Promise<Uint8Array> {
  const zeros = new Uint8Array(1 << 20);
  let n = -1;
  const src = new ReadableStream<Uint8Array>({
    pull(c) {
      if (n < 0) c.enqueue(head);
      if (++n < mib) c.enqueue(zeros);
      else c.close();
    },
  });
  const gz = src.pipeThrough(new CompressionStream("gzip") as unknown as TransformStream);
  return new Uint8Array(await new Response(gz).arrayBuffer());
}

/** The peak resident memory (kB) of a fresh process that reads `path` as IDX images. */
async function peakReading(path: string): Promise<{ kb: number; out: string }> {
  const code = `
    import { readIdxImages } from ${
    JSON.stringify(new URL("../../src/data/idx.ts", import.meta.url).href)
  };
    let out;
    try { await readIdxImages(${JSON.stringify(path)}); out = "accepted"; }
    catch (e) { out = e.message; }
    const kb = Number(Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\\s+(\\d+)/)[1]);
    console.log(JSON.stringify({ kb, out }));`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-lock", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

Deno.test({
  name: "reliability: a gzip bomb behind a small IDX header is refused without inflating it",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/small.gz`, await bomb(idxHeader([10, 28, 28]), 0));
      await Deno.writeFile(`${dir}/bomb.gz`, await bomb(idxHeader([10, 28, 28]), 256));
      const small = await peakReading(`${dir}/small.gz`);
      const big = await peakReading(`${dir}/bomb.gz`);
      assert.match(big.out, /bomb\.gz: inflates to more than the 7856 bytes its header declares/);
      // 256 MiB inflated whole would raise the peak by at least that much.
      const grew = (big.kb - small.kb) / 1024;
      assert.ok(grew < 96, `reading the bomb raised peak memory by ${grew.toFixed(0)} MiB`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("reliability: an IDX header declaring more than the stated limit is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // 65536 × 65536 × 1: 4 GiB, far past IDX_MAX_BYTES; raw and gzipped.
    await Deno.writeFile(`${dir}/huge`, idxHeader([65536, 65536, 1]));
    await Deno.writeFile(`${dir}/huge.gz`, await bomb(idxHeader([65536, 65536, 1]), 1));
    for (const name of ["huge", "huge.gz"]) {
      await assert.rejects(
        readIdxImages(`${dir}/${name}`),
        new RegExp(
          `${name}: shape \\[65536, 65536, 1\\] declares 4294967296 bytes of data, more than the ${IDX_MAX_BYTES}-byte limit`,
        ),
      );
    }
    // A raw file whose size disagrees with its header is refused from the size alone.
    const file = idx([2, 3, 3]);
    await Deno.writeFile(`${dir}/long`, file);
    await Deno.truncate(`${dir}/long`, 2 ** 30 + 100);
    await assert.rejects(readIdxImages(`${dir}/long`), /unexpected trailing bytes/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function idxDir(dir: string, train: number[], test: number[]) {
  await Deno.mkdir(dir, { recursive: true });
  const labels = (n: number) => {
    const b = idx([n]);
    return b;
  };
  await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idx(train));
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, labels(train[0]));
  await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idx(test));
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, labels(test[0]));
}

const cfg = (data: string, out: string): TrainConfig => ({
  model: "resnet8",
  width: 0.25,
  data,
  epochs: 1,
  batch: 4,
  evalBatch: 4,
  optimizer: "sgd",
  lr: 0.05,
  momentum: 0.9,
  nesterov: false,
  wd: 0,
  schedule: "constant",
  warmup: 0,
  seed: 1,
  out,
  evalEvery: 1,
  logEvery: 2,
  gradNormEvery: 0,
});

Deno.test({
  name: "reliability: a data set with no images says so, before anything starts",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    try {
      await idxDir(`${dir}/empty`, [0, 8, 8], [4, 8, 8]);
      await assert.rejects(
        trainRun(cfg(`${dir}/empty`, `${dir}/out1`), { runtime: rt, sink: () => {} }),
        /empty\/train: the data set has no images/,
      );
      await assert.rejects(Deno.stat(`${dir}/out1`), Deno.errors.NotFound);
      // The loader, used directly, says the same.
      assert.throws(
        () =>
          new BatchLoader({
            images: new Uint8Array(0),
            labels: new Uint8Array(0),
            count: 0,
            channels: 1,
            height: 8,
            width: 8,
            classes: 10,
            name: "none",
          }, { batchSize: 4, stats: { mean: new Float32Array([0]), std: new Float32Array([1]) } }),
        /none: the data set has no images/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "reliability: train and test images of different shapes fail before training",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    try {
      await idxDir(`${dir}/mixed`, [8, 8, 8], [4, 10, 10]);
      await assert.rejects(
        trainRun(cfg(`${dir}/mixed`, `${dir}/out2`), { runtime: rt, sink: () => {} }),
        /mixed\/train images are 1×8×8 but .*mixed\/test images are 1×10×10/,
      );
      // Nothing was started: no run directory.
      await assert.rejects(Deno.stat(`${dir}/out2`), Deno.errors.NotFound);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "reliability: temporary files of interrupted checkpoint writes are removed on start",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/run`;
      await Deno.mkdir(out);
      const stale = [
        "checkpoint.safetensors.tmp-0123456789ab",
        "checkpoint.safetensors.tmp-ffffffffffff",
      ];
      const kept = ["checkpoint.safetensors.tmp-notours", "notes.tmp-0123456789ab"];
      for (const f of [...stale, ...kept]) await Deno.writeTextFile(`${out}/${f}`, "partial");
      await trainRun(
        { ...cfg("synthetic", out), subset: 8, testSubset: 4 },
        { runtime: rt, sink: () => {} },
      );
      const names = [...Deno.readDirSync(out)].map((e) => e.name);
      for (const f of stale) assert.ok(!names.includes(f), `${f} left behind`);
      for (const f of kept) assert.ok(names.includes(f), `${f} removed, though not ours`);
      assert.ok(names.includes("checkpoint.safetensors"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
