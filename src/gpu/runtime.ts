/**
 * The runtime: one device, its buffer pool, compiled kernels and the command stream.
 *
 * Work is recorded into one open compute pass (dispatches in a pass see each other's writes) and
 * sent with {@link Runtime.submit}. Nothing here waits on the GPU except {@link Runtime.read} and
 * {@link Runtime.sync}: Deno's map/done promises cost ≥10 ms each, so hot loops never call them.
 *
 * GPU errors arrive asynchronously (`uncapturederror`); they are collected and thrown, with the
 * label of the kernel or buffer involved, at the next submit, read or sync.
 */
import {
  type Acquired,
  acquireDevice,
  type AcquireOptions,
  type AdapterReport,
  type DeviceLimits,
  releaseDevice,
} from "./device.ts";
import { BufferPool } from "./buffer_pool.ts";
import { SharedScratch } from "./shared_scratch.ts";
import { type KernelPolicy, kernelPolicy, type PolicyTarget } from "./policy.ts";
import { type TuneCache, Tuner } from "./tuner.ts";
import type { Kernel, Step } from "./step.ts";
import { foldGrid, type Grid } from "./dispatch.ts";
import { GpuError } from "./gpu_error.ts";
import { DisposedError } from "../util/disposed.ts";
import { PassProfiler, RESOLVE_STRIDE } from "./profiler.ts";
import { type ShaderName, SHADERS } from "./shaders.gen.ts";
import { cachedKernel, compileKernel } from "./compile.ts";
import { type Binding, BindingCache } from "./bindings.ts";

export { type Binding, GpuError, type Kernel };

/**
 * Options of {@link Runtime.create}: which adapter and features, and which kernel variants to plan
 * instead of the adapter's policy. All optional; a Deno program can start from
 * `runtimeOptionsFromEnv()` (files.ts), which reads RESGPU_KERNELS, RESGPU_TUNE and
 * DENO_WEBGPU_BACKEND.
 */
export interface RuntimeOptions extends AcquireOptions {
  /**
   * Force a kernel policy instead of the adapter's (see policy.ts): `cpu` for software
   * adapters' variants, `gpu` for hardware ones' (Deno programs: RESGPU_KERNELS, read by
   * `runtimeOptionsFromEnv` in files.ts).
   */
  kernels?: PolicyTarget;
  /**
   * Autotune kernel variants per shape at plan time (tuner.ts): `true` caches choices in
   * memory, `{ cache }` also in that store (`tuneCacheFile(path)` from files.ts for a JSON
   * file). Default off (Deno programs: RESGPU_TUNE, read by `runtimeOptionsFromEnv`).
   */
  tune?: boolean | { cache: TuneCache };
  /**
   * 3×3 stride-1 convolutions by Winograd F(m×m, 3×3) with this m, or 0 for the direct kernels,
   * instead of the policy's choice (benchmarks compare the two this way).
   */
  winograd?: 0 | 2 | 4;
  /**
   * Convolutions by the workgroup-tiled kernels (src/ops/conv2d/tiled.ts) or not, instead of
   * the policy's choice (benchmarks compare the two this way).
   */
  tiled?: boolean;
  /**
   * Whether training keeps each Winograd layer's input transform for its filter gradient
   * (memory for time), instead of the policy's choice.
   */
  winogradKeepInput?: boolean;
  /**
   * Whether a batch norm feeding a residual join alone runs the join in its normalize pass,
   * instead of the policy's choice (benchmarks and tests compare the two this way).
   */
  fuseBatchNormJoin?: boolean;
}

/**
 * One WebGPU device and everything resgpu keeps on it: the buffer pool, compiled kernels and the
 * command stream. Create one per program (creating devices is slow on software adapters) and
 * share it; models, trainers and tensors made on it hold its memory and become unusable, throwing
 * {@link DisposedError}, once it is disposed. Work is recorded and sent with one submit per step;
 * only {@link Runtime.read} and {@link Runtime.sync} wait for the GPU.
 *
 * @example
 * ```ts
 * import { Runtime } from "@resgpu/resgpu";
 * using rt = await Runtime.create(); // throws NoAdapterError, naming the fix, without an adapter
 * console.log(rt.report.description, rt.policy.target, rt.limits.maxBufferSize);
 * ```
 */
export class Runtime {
  /** The WebGPU device (owned: {@link Runtime.dispose} destroys it). */
  readonly device: GPUDevice;
  /** The adapter: name, backend, features and limits. */
  readonly report: AdapterReport;
  /** Kernel variants planned by default on this adapter (see policy.ts). */
  readonly policy: KernelPolicy;
  /**
   * Per-shape variant choice when tuning is on (see tuner.ts), else null.
   * @ignore
   */
  readonly tuner: Tuner | null;
  /**
   * Every GPU buffer the runtime's plans and tensors use, pooled by size class.
   * @ignore
   */
  readonly pool: BufferPool;
  /**
   * Grow-only scratch shared by every plan (packed operands, transformed tiles).
   * @ignore
   */
  readonly scratch: SharedScratch;
  #disposed = false;
  readonly #acq: Acquired;
  readonly #opts: RuntimeOptions;
  /** Ends this runtime's listener on the device (which may outlive it, see releaseDevice). */
  readonly #listening = new AbortController();
  private bindings: BindingCache;
  private staging = new Map<number, GPUBuffer>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private passPipeline: GPUComputePipeline | null = null;
  private passBindGroup: GPUBindGroup | null = null;
  private profiler: PassProfiler | null = null;
  private errors: string[] = [];
  /** Whether any device error was reported while this runtime used the device. */
  #erred = false;
  /** Counters a steady-state loop can be checked against. */
  readonly counters = {
    submits: 0,
    dispatches: 0,
    pipelinesCompiled: 0,
    reads: 0,
    bindGroupsCreated: 0,
    /** Uniform and staging buffers (pooled buffers are counted by `pool.stats().created`). */
    buffersCreated: 0,
  };

  private constructor(acq: Acquired, opts: RuntimeOptions) {
    this.#acq = acq;
    this.#opts = opts;
    this.device = acq.device;
    this.report = acq.report;
    const policy = kernelPolicy(acq.report, opts.kernels);
    this.policy = {
      ...policy,
      ...(opts.winograd === undefined ? {} : { convWinograd: opts.winograd }),
      ...(opts.tiled === undefined ? {} : { convTiled: opts.tiled }),
      ...(opts.winogradKeepInput === undefined
        ? {}
        : { winogradKeepInput: opts.winogradKeepInput }),
      ...(opts.fuseBatchNormJoin === undefined
        ? {}
        : { fuseBatchNormJoin: opts.fuseBatchNormJoin }),
    };
    const tune = opts.tune ?? false;
    this.tuner = tune ? new Tuner(this, typeof tune === "object" ? tune.cache : undefined) : null;
    const l = acq.report.limits;
    this.pool = new BufferPool(this.device, l.maxStorageBufferBindingSize, l.maxBufferSize);
    this.scratch = new SharedScratch(this.device, l.maxStorageBufferBindingSize, l.maxBufferSize);
    this.bindings = new BindingCache(this.device, this.counters);
    this.device.addEventListener("uncapturederror", (e) => {
      this.#erred = true;
      this.errors.push((e as GPUUncapturedErrorEvent).error.message);
    }, { signal: this.#listening.signal });
  }

  /**
   * Acquires an adapter and a device with every limit the adapter offers, and picks the kernel
   * policy for it (`cpu` for software adapters, `gpu` otherwise) unless `opts.kernels` forces one.
   *
   * @throws {NoAdapterError} no WebGPU, or no adapter (the message says how to get one).
   */
  static async create(opts: RuntimeOptions = {}): Promise<Runtime> {
    return new Runtime(await acquireDevice(opts), opts);
  }

  /** The device's limits (as {@link AdapterReport.limits}). */
  get limits(): DeviceLimits {
    return this.report.limits;
  }

  /**
   * The kernel for `entry` of shader family `name`, compiled once per (source, entry, constants).
   * Compile and validation errors are thrown with the family, entry point and WGSL message.
   * @ignore
   */
  kernel(
    name: ShaderName,
    entry: string,
    constants: Record<string, number> = {},
  ): Promise<Kernel> {
    return this.kernelFromSource(`${name}:${entry}`, SHADERS[name], entry, constants);
  }

  /**
   * Like {@link kernel} for WGSL not in shaders/ (tests, generated variants).
   * @ignore
   */
  kernelFromSource(
    label: string,
    code: string,
    entry: string,
    constants: Record<string, number> = {},
  ): Promise<Kernel> {
    this.assertLive("Runtime.kernel");
    // Compiled kernels belong to the device (see compile.ts).
    return cachedKernel(this.#acq, code, entry, constants, async () => {
      this.throwIfBroken();
      const k = await compileKernel(this.#acq, label, code, entry, constants);
      this.counters.pipelinesCompiled++;
      return k;
    });
  }

  /**
   * A bind group for `kernel` over `bindings` (binding i = bindings[i]; null leaves index i out,
   * for entry points that do not declare it), reused when seen before.
   * @ignore
   */
  bindGroup(kernel: Kernel, bindings: (Binding | null)[]): GPUBindGroup {
    this.assertLive("Runtime.bindGroup");
    return this.bindings.bindGroup(kernel, bindings);
  }

  /**
   * A uniform buffer holding `data`, shared by every caller asking for the same bytes: shape
   * parameters repeat across layers and steps, so these are created at plan time only.
   * @ignore
   */
  uniform(data: ArrayBufferView | ArrayBuffer): GPUBuffer {
    this.assertLive("Runtime.uniform");
    return this.bindings.uniform(data);
  }

  /**
   * Host → GPU write in program order. `queue.writeBuffer` runs before any command still being
   * recorded, so a write after recorded-but-unsubmitted work (e.g. a clear of the same buffer)
   * would be overtaken by it: pending work is submitted first.
   */
  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView<ArrayBuffer>): void {
    this.assertLive("Runtime.write");
    if (this.encoder) this.submit();
    this.device.queue.writeBuffer(buffer, offset, data);
  }

  /**
   * The open command encoder (compute pass closed), for copies and clears.
   * @ignore
   */
  commands(): GPUCommandEncoder {
    this.assertLive("Runtime.commands");
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: "resgpu" });
    return this.encoder;
  }

  /**
   * Adapter description, backend and kernel policy: what tuned choices are cached under.
   * @ignore
   */
  get adapterKey(): string {
    return `${this.report.description} | ${this.report.backend} | ${this.policy.target}`;
  }

  /**
   * Records planned `steps` into the open command stream (no submit).
   * @ignore
   */
  replay(steps: readonly Step[]): void {
    for (const s of steps) {
      if (s.kind === "dispatch") this.dispatch(s.kernel, s.bindGroup, s.groups);
      else this.commands().clearBuffer(s.buffer, s.offset, s.size);
    }
  }

  /**
   * Records `kernel` over `groups` workgroups: a 1-D count is folded by {@link foldGrid} (the
   * kernel must use `linear_workgroup`), a 3-D grid is used as given and checked against limits.
   * @ignore
   */
  dispatch(kernel: Kernel, bindGroup: GPUBindGroup, groups: number | Grid): void {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    const grid = typeof groups === "number" ? foldGrid(groups, max) : groups;
    if (grid.some((g) => g > max)) {
      throw new GpuError(`${kernel.label}: grid [${grid}] exceeds ${max} workgroups per dimension`);
    }
    if (grid[0] * grid[1] * grid[2] === 0) return;
    if (!this.pass) {
      this.pass = this.commands().beginComputePass({
        label: "resgpu",
        timestampWrites: this.profiler?.nextPassWrites(),
      });
      this.passPipeline = null; // a new pass starts with no state
      this.passBindGroup = null;
    }
    // Each pass call is a Deno op (~µs): skip state the pass already holds.
    if (this.passPipeline !== kernel.pipeline) {
      this.pass.setPipeline(kernel.pipeline);
      this.passPipeline = kernel.pipeline;
    }
    if (this.passBindGroup !== bindGroup) {
      this.pass.setBindGroup(0, bindGroup);
      this.passBindGroup = bindGroup;
    }
    this.pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.counters.dispatches++;
  }

  /**
   * Starts timing sections of recorded work with `timestamp-query` (when the device has it):
   * each {@link section} gets its own compute pass whose begin/end the GPU timestamps. For
   * benchmarks only: separate passes cost a little, so normal steps never do this.
   */
  startProfile(maxSections: number): void {
    if (!this.report.features.includes("timestamp-query")) {
      throw new GpuError("this adapter has no timestamp-query; per-pass GPU timing is unavailable");
    }
    this.commands();
    this.profiler = new PassProfiler(this.device, maxSections);
  }

  /** Work recorded from here until the next section (or the end) is timed as `label`. */
  section(label: string): void {
    if (!this.profiler) throw new GpuError("section() outside startProfile()/endProfile()");
    this.commands(); // close the open pass so the next dispatch starts a timed one
    this.profiler.label(label);
  }

  /** Submits, reads the timestamps and returns milliseconds per section. */
  async endProfile(): Promise<{ label: string; ms: number }[]> {
    const p = this.profiler;
    if (!p) throw new GpuError("endProfile() without startProfile()");
    const enc = this.commands();
    this.profiler = null;
    p.resolve(enc);
    const ticks = p.used
      ? new BigInt64Array(await this.read(p.resolved, p.used * RESOLVE_STRIDE))
      : null;
    p.destroy();
    // A section that recorded no dispatch opened no pass: it took no GPU time.
    const at = (i: number) => i * RESOLVE_STRIDE / 8;
    return p.labels.map((label, i) => ({
      label,
      ms: ticks && p.written[i] ? Number(ticks[at(i) + 1] - ticks[at(i)]) / 1e6 : 0,
    }));
  }

  /** Sends everything recorded so far. Throws errors the device reported since the last check. */
  submit(): void {
    this.assertLive("Runtime.submit");
    this.throwIfBroken();
    if (this.encoder) {
      this.commands();
      const cb = this.encoder!.finish();
      this.encoder = null;
      this.device.queue.submit([cb]);
      this.counters.submits++;
    }
    this.pool.afterSubmit();
  }

  /** Submits pending work and copies `bytes` of `buffer` (from `offset`) back to the CPU. */
  async read(buffer: GPUBuffer, bytes = buffer.size, offset = 0): Promise<ArrayBuffer> {
    this.assertLive("Runtime.read");
    const size = Math.ceil(bytes / 4) * 4;
    let staging = this.staging.get(size);
    if (staging) this.staging.delete(size); // taken while mapped, so a concurrent read gets another
    else {
      staging = this.device.createBuffer({
        size,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        label: "readback",
      });
      this.counters.buffersCreated++;
    }
    this.commands().copyBufferToBuffer(buffer, offset, staging, 0, size);
    this.submit();
    this.counters.reads++;
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.throwIfBroken();
      throw new GpuError(`reading back '${buffer.label}' failed: ${e}`);
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    this.staging.set(size, staging);
    this.throwIfBroken();
    return out;
  }

  /** Waits until the GPU has finished all submitted work; then idle buffers may be trimmed. */
  async sync(): Promise<void> {
    this.assertLive("Runtime.sync");
    this.submit();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfBroken();
  }

  /** Frees idle pooled buffers (after a sync) and forgets bind groups that may name them. */
  async trim(): Promise<number> {
    await this.sync();
    this.bindings.forgetBindGroups();
    return this.pool.trim();
  }

  /**
   * Throws the first pending device error, or a lost device.
   * @ignore
   */
  throwIfBroken(): void {
    const lost = this.#acq.lost.reason;
    if (lost) throw new GpuError(`GPU device lost (${lost})`);
    if (this.errors.length) {
      const all = this.errors.splice(0);
      throw new GpuError(
        `GPU reported ${all.length} error(s): ${all.slice(0, 3).join(" | ")}${
          all.length > 3 ? " | …" : ""
        }`,
      );
    }
  }

  /** Whether {@link dispose} ran: every later GPU call throws a {@link DisposedError}. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Throws a {@link DisposedError} naming `user` when this runtime is disposed. */
  assertLive(user = "Runtime"): void {
    if (this.#disposed) throw new DisposedError(`${user}: its runtime was disposed`);
  }

  /**
   * Destroys everything allocated on the device (buffers, uniforms, staging, scratch) and hands
   * the device back: a healthy one is kept for the next `Runtime.create` with the same options,
   * since Deno frees a device's memory only when the garbage collector happens to collect it.
   * Models, plans, trainers and tensors made on this runtime become unusable (their calls throw
   * {@link DisposedError}). Idempotent.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.profiler?.destroy();
    this.profiler = null;
    this.pool.destroyAll();
    this.scratch.destroy();
    this.bindings.destroy();
    for (const b of this.staging.values()) b.destroy();
    this.staging.clear();
    this.encoder = null;
    this.pass = null;
    this.#listening.abort();
    // Kept for the next Runtime.create when healthy (see releaseDevice: Deno frees a destroyed
    // device's memory only on garbage collection); every buffer of this runtime is destroyed.
    releaseDevice(this.#acq, this.#opts, !this.#erred && this.errors.length === 0);
  }

  /** {@link Runtime.dispose}, for `using rt = await Runtime.create()`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
