import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { Tensor } from "../../src/tensor.ts";
import { axpb } from "../../src/ops/elementwise.ts";
import { GpuError, Runtime } from "../../src/gpu/runtime.ts";
import { NoAdapterError } from "../../src/gpu/device.ts";
import { BufferLimitError, sizeClass } from "../../src/gpu/buffer_pool.ts";
import { foldGrid } from "../../src/gpu/dispatch.ts";
import { SharedScratch } from "../../src/gpu/shared_scratch.ts";

Deno.test({
  name: "round trip: upload, axpb kernel, download",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const data = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 100);
    const x = Tensor.fromArray(rt, data, [10, 100]);
    assert.deepEqual(await x.toArray(), data);
    const y = await axpb(rt, x, -2.5, 0.75);
    const got = await y.toArray();
    for (let i = 0; i < data.length; i++) {
      // One f32 multiply-add: the result is exact to one rounding of each op.
      const want = Math.fround(Math.fround(-2.5 * data[i]) + 0.75);
      assert.ok(
        Math.abs(got[i] - want) <= Math.abs(want) * 2 ** -23,
        `element ${i}: ${got[i]} vs ${want}`,
      );
    }
    x.dispose();
    y.dispose();
  },
});

Deno.test({
  name: "dispatch splitting: more than maxComputeWorkgroupsPerDimension workgroups",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const max = rt.limits.maxComputeWorkgroupsPerDimension;
    // 64 invocations per workgroup; one more workgroup than a single dimension allows, plus a tail.
    const n = (max + 1) * 64 + 17;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = i % 4099;
    const x = Tensor.fromArray(rt, data, [n]);
    const y = await axpb(rt, x, 1, 1);
    const got = await y.toArray();
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (got[i] !== data[i] + 1) {
        bad = i;
        break;
      }
    }
    assert.equal(bad, -1, `first wrong element ${bad}`);
    x.dispose();
    y.dispose();
  },
});

Deno.test("foldGrid covers every workgroup exactly, within the per-dimension cap", () => {
  for (
    const [count, max] of [[5, 8], [8, 8], [9, 8], [63, 8], [64, 8], [65, 8], [511, 8], [512, 8]]
  ) {
    const [x, y, z] = foldGrid(count, max);
    assert.ok(x <= max && y <= max && z <= max, `[${x},${y},${z}] for ${count}/${max}`);
    assert.ok(x * y * z >= count, `[${x},${y},${z}] too small for ${count}`);
    // Overshoot is at most one row, so kernels waste little work.
    assert.ok(x * y * z - count < x * (z > 1 ? y : 1), `[${x},${y},${z}] overshoots ${count}`);
  }
  assert.throws(() => foldGrid(513, 8), /exceed/);
});

Deno.test("size classes: 4 per power of two, never smaller than asked", () => {
  assert.equal(sizeClass(1), 256);
  assert.equal(sizeClass(1024), 1024);
  assert.equal(sizeClass(1025), 1280);
  assert.equal(sizeClass(1536), 1536);
  for (let b = 1; b < 1e7; b = Math.ceil(b * 1.37)) {
    const c = sizeClass(b);
    assert.ok(c >= b && c <= Math.max(256, b * 1.25 + 4), `${b} → ${c}`);
  }
});

Deno.test({
  name: "buffer pool: freeing and reallocating a size class does not grow GPU memory",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    rt.submit(); // settle releases left by earlier tests
    const a = rt.pool.acquire(100_000, "a");
    rt.pool.release(a);
    // Not reusable until a submit: commands naming it may still be unrecorded.
    assert.equal(rt.pool.stats().pendingBytes, a.size);
    rt.submit();
    const before = rt.pool.stats();
    for (let i = 0; i < 2; i++) {
      const b = rt.pool.acquire(99_000, "b"); // same class as 100,000
      assert.equal(b, a);
      rt.pool.release(b);
      rt.submit();
    }
    const after = rt.pool.stats();
    assert.equal(after.created, before.created);
    assert.equal(after.allocatedBytes, before.allocatedBytes);
    assert.equal(after.inUseBytes, before.inUseBytes);
    assert.throws(() => rt.pool.release(a), /released twice/);
  },
});

Deno.test({
  name: "shared scratch: one grow-only buffer per key, every buffer made counted",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const l = rt.limits;
    const s = new SharedScratch(rt.device, l.maxStorageBufferBindingSize, l.maxBufferSize);
    const STORAGE = GPUBufferUsage.STORAGE;
    const a = s.get("a", 1000, STORAGE);
    assert.equal(a.size, 1000);
    assert.equal(s.get("a", 600, STORAGE), a, "a smaller request reuses the buffer");
    const b = s.get("b", 10, STORAGE | GPUBufferUsage.UNIFORM);
    assert.equal(b.size, 12, "sizes round up to whole floats");
    const a2 = s.get("a", 3000, STORAGE);
    assert.notEqual(a2, a);
    // Plans made before the growth still bind `a`: it stays counted.
    assert.equal(s.bytes, 1000 + 12 + 3000);
    assert.equal(s.currentBytes, 12 + 3000);
    assert.equal(s.created, 3);
    assert.throws(() => s.get("b", 4, STORAGE), /scratch 'b' asked for usage/);
    assert.throws(() => s.get("c", 0, STORAGE), /c: cannot allocate 0 bytes/);
    const limit = Math.min(l.maxStorageBufferBindingSize, l.maxBufferSize);
    assert.throws(() => s.get("huge", limit + 4, STORAGE), (e: unknown) => {
      assert.ok(e instanceof BufferLimitError);
      assert.match(e.message, /^huge needs/);
      return true;
    });
    assert.equal(s.created, 3);
  },
});

Deno.test({
  name: "buffers beyond maxStorageBufferBindingSize are rejected, naming the limit",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
    const created = rt.pool.stats().created;
    assert.throws(() => Tensor.empty(rt, [limit / 4 + 1]), (e: unknown) => {
      assert.ok(e instanceof BufferLimitError);
      assert.match(e.message, /max(StorageBufferBinding|Buffer)Size/);
      assert.match(e.message, new RegExp(String(limit)));
      return true;
    });
    assert.equal(rt.pool.stats().created, created);
  },
});

Deno.test("no adapter: a clear error saying how to get one", async () => {
  const fakeGpu = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;
  await assert.rejects(Runtime.create({ gpu: fakeGpu }), (e: unknown) => {
    assert.ok(e instanceof NoAdapterError);
    assert.match(e.message, /no WebGPU adapter found/);
    assert.match(e.message, /mesa-vulkan-drivers/);
    assert.match(e.message, /DENO_WEBGPU_BACKEND/);
    return true;
  });
  await assert.rejects(Runtime.create({ gpu: null }), /navigator\.gpu is not available/);
});

Deno.test({
  name: "WGSL compile errors name the kernel and the WGSL problem",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    await assert.rejects(
      rt.kernelFromSource(
        "broken:main",
        "@compute @workgroup_size(1) fn main() { let x = ; }",
        "main",
      ),
      (e: unknown) => {
        assert.ok(e instanceof GpuError);
        assert.match(e.message, /broken:main/);
        return true;
      },
    );
  },
});

Deno.test({
  name: "asynchronous GPU errors surface at the next read instead of as silent garbage",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const k = await rt.kernel("elementwise", "axpb", { WG: 64 });
    const x = Tensor.fromArray(rt, [1, 2, 3, 4], [4]);
    // The same buffer as input and output violates WebGPU's usage rules.
    const params = new Uint32Array([4, 0, 0, 0]);
    rt.dispatch(k, rt.bindGroup(k, [rt.uniform(params), x.buffer, x.buffer]), 1);
    rt.submit();
    await assert.rejects(x.toArray(), (e: unknown) => {
      assert.ok(e instanceof GpuError);
      assert.match(e.message, /conflicting usages|usage/i);
      return true;
    });
    // The runtime stays usable after reporting.
    assert.deepEqual(Array.from(await x.toArray()), [1, 2, 3, 4]);
    x.dispose();
  },
});

Deno.test({
  name: "pipelines and bind groups are cached",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const a = await rt.kernel("elementwise", "axpb", { WG: 64 });
    const compiled = rt.counters.pipelinesCompiled;
    const b = await rt.kernel("elementwise", "axpb", { WG: 64 });
    assert.equal(a, b);
    assert.equal(rt.counters.pipelinesCompiled, compiled);
    const c = await rt.kernel("elementwise", "axpb", { WG: 128 });
    assert.notEqual(a, c);
    const buf1 = rt.pool.acquire(64), buf2 = rt.pool.acquire(64);
    const u = rt.uniform(new Uint32Array([16, 0, 0, 0]));
    assert.equal(u, rt.uniform(new Uint32Array([16, 0, 0, 0])));
    assert.equal(rt.bindGroup(a, [u, buf1, buf2]), rt.bindGroup(a, [u, buf1, buf2]));
    assert.notEqual(rt.bindGroup(a, [u, buf1, buf2]), rt.bindGroup(a, [u, buf2, buf1]));
    rt.pool.release(buf1);
    rt.pool.release(buf2);
    rt.submit();
  },
});

Deno.test({
  name: "profiling: timestamp sections report one non-negative time per label",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    if (!rt.report.features.includes("timestamp-query")) {
      assert.throws(() => rt.startProfile(2), /timestamp-query/);
      return;
    }
    const x = Tensor.fromArray(rt, new Float32Array(4096).fill(1), [4096]);
    rt.startProfile(3);
    rt.section("first");
    const y = await axpb(rt, x, 2, 0);
    rt.section("empty");
    rt.section("second");
    const z = await axpb(rt, y, 2, 0);
    const times = await rt.endProfile();
    assert.deepEqual(times.map((t) => t.label), ["first", "empty", "second"]);
    assert.equal(times[1].ms, 0);
    for (const t of times) assert.ok(t.ms >= 0 && Number.isFinite(t.ms), `${t.label}: ${t.ms}`);
    assert.equal((await z.toArray())[0], 4);
    for (const t of [x, y, z]) t.dispose();
  },
});
