/**
 * Adapter and device acquisition. We ask for every limit the adapter offers (kernels are written
 * against the real limits, not WebGPU's defaults) and record, never require, optional features.
 */

/** Optional features resgpu can use when present. */
export const OPTIONAL_FEATURES = ["shader-f16", "timestamp-query", "subgroups"] as const;
/** One of {@link OPTIONAL_FEATURES}. */
export type OptionalFeature = typeof OPTIONAL_FEATURES[number];

/** The limits kernels and the planner consult, copied from the device. */
export interface DeviceLimits {
  /** Largest storage buffer binding, bytes. */
  maxStorageBufferBindingSize: number;
  /** Largest buffer, bytes. */
  maxBufferSize: number;
  /** Storage buffers one kernel may bind. */
  maxStorageBuffersPerShaderStage: number;
  /** Workgroup memory, bytes. */
  maxComputeWorkgroupStorageSize: number;
  /** Invocations in one workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
  /** Workgroup size in x. */
  maxComputeWorkgroupSizeX: number;
  /** Workgroup size in y. */
  maxComputeWorkgroupSizeY: number;
  /** Workgroups per dispatch dimension. */
  maxComputeWorkgroupsPerDimension: number;
  /** Largest uniform buffer binding, bytes. */
  maxUniformBufferBindingSize: number;
  /** Bind groups per pipeline. */
  maxBindGroups: number;
  /** Alignment of a storage binding's offset, bytes. */
  minStorageBufferOffsetAlignment: number;
}

/** What a runtime's adapter is ({@link Runtime.report}): name, backend, features and limits. */
export interface AdapterReport {
  /** The adapter's name (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`, `NVIDIA H100 80GB HBM3`). */
  description: string;
  /** Its vendor, as WebGPU reports it. */
  vendor: string;
  /** Its architecture, as WebGPU reports it. */
  architecture: string;
  /**
   * The graphics API the host chose, as {@link AcquireOptions.backend} names it (`vulkan`,
   * `gl`, … from DENO_WEBGPU_BACKEND in Deno programs), or "default".
   */
  backend: string;
  /** Whether WebGPU calls it a fallback (software) adapter. */
  isFallbackAdapter: boolean;
  /** The optional features the device was created with. */
  features: OptionalFeature[];
  /** The device's limits (every limit the adapter offers is requested). */
  limits: DeviceLimits;
}

/**
 * No WebGPU adapter: the message names the cause and how to get one (Mesa's software drivers,
 * DENO_WEBGPU_BACKEND, a browser with WebGPU on).
 */
export class NoAdapterError extends Error {
  /** The error; `detail` says what failed. */
  constructor(detail: string) {
    super(
      `resgpu: no WebGPU adapter found (${detail}). ` +
        "On Linux without a GPU install Mesa's software drivers: " +
        "`apt-get install -y mesa-vulkan-drivers` (Vulkan/lavapipe) or use OpenGL/llvmpipe " +
        "(libgl1-mesa-dri) with DENO_WEBGPU_BACKEND=gl. With a GPU, check its driver and pick " +
        "its API with DENO_WEBGPU_BACKEND=vulkan|gl|metal|dx12. In a browser: one with WebGPU " +
        "on (Chrome or Edge 113+; on Linux start Chromium with --enable-unsafe-webgpu), on a " +
        "page served over http://localhost or https.",
    );
    this.name = "NoAdapterError";
  }
}

const LIMIT_NAMES: (keyof DeviceLimits)[] = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
  "maxUniformBufferBindingSize",
  "maxBindGroups",
  "minStorageBufferOffsetAlignment",
];

/** Which adapter and device features {@link Runtime.create} asks for. */
export interface AcquireOptions {
  /** Injected for tests; defaults to `navigator.gpu`. */
  gpu?: GPU | null;
  /** WebGPU's adapter preference (`high-performance`, `low-power`). */
  powerPreference?: GPUPowerPreference;
  /** Features to leave off even when offered (e.g. to test the f32-only path). */
  disable?: OptionalFeature[];
  /**
   * The graphics API the host picked for WebGPU (Deno: the DENO_WEBGPU_BACKEND environment
   * variable), recorded in the report and in the tuner's cache key; WebGPU itself does not say.
   * Default "default".
   */
  backend?: string;
}

export interface Acquired {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
  /** Set once the device is lost (`reason: message`). */
  lost: { reason: string | null };
  /**
   * What outlives one runtime on this device: compiled kernels by key (see Runtime.kernel), so a
   * runtime created on a reused device compiles nothing twice.
   */
  kernels: Map<string, Promise<unknown>>;
  /** Kernel ids, unique on the device (bind groups are keyed by them). */
  nextKernelId: number;
}

/**
 * Devices given back by disposed runtimes, by the options they were acquired with. Deno frees a
 * device's native memory only when the garbage collector collects its JS object, which native
 * memory never prompts: creating and destroying a device leaked ~3.4 MB a time (1,000 runtimes,
 * 3.4 GB). A disposed runtime's device, its buffers destroyed, is reused instead.
 */
const parked = new Map<string, Acquired[]>();
/** Devices kept per option set: more than one only for runtimes alive at the same time. */
const MAX_PARKED = 4;

function parkingKey(opts: AcquireOptions): string | null {
  // An injected GPU (tests) is never pooled.
  if (opts.gpu !== undefined) return null;
  // The backend only labels the report, but a reused device's report must say what was asked.
  return JSON.stringify([
    opts.powerPreference ?? "",
    [...(opts.disable ?? [])].sort(),
    opts.backend || "default",
  ]);
}

/**
 * Hands a device back: kept for the next {@link acquireDevice} with the same options when it is
 * healthy (not lost, no error reported while it was used), destroyed otherwise.
 */
export function releaseDevice(acq: Acquired, opts: AcquireOptions, healthy: boolean): void {
  const key = parkingKey(opts);
  const list = key === null ? null : parked.get(key) ?? [];
  if (key === null || !healthy || acq.lost.reason !== null || list!.length >= MAX_PARKED) {
    acq.device.destroy();
    return;
  }
  list!.push(acq);
  parked.set(key, list!);
}

export async function acquireDevice(opts: AcquireOptions = {}): Promise<Acquired> {
  const key = parkingKey(opts);
  if (key !== null) {
    const list = parked.get(key) ?? [];
    for (let acq = list.pop(); acq; acq = list.pop()) {
      if (acq.lost.reason === null) return acq;
    }
  }
  const gpu = opts.gpu === undefined
    ? (globalThis.navigator as Navigator | undefined)?.gpu
    : opts.gpu;
  if (!gpu) throw new NoAdapterError("navigator.gpu is not available in this runtime");
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference });
  } catch (e) {
    throw new NoAdapterError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new NoAdapterError("requestAdapter() returned null");

  const features = OPTIONAL_FEATURES.filter((f) =>
    adapter.features.has(f) && !(opts.disable ?? []).includes(f)
  );
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === "number") requiredLimits[name] = v;
  }
  const device = await adapter.requestDevice({
    label: "resgpu",
    requiredFeatures: features as GPUFeatureName[],
    requiredLimits,
  });
  const limits = {} as DeviceLimits;
  for (const name of LIMIT_NAMES) {
    limits[name] = (device.limits as unknown as Record<string, number>)[name];
  }
  const info = adapter.info;
  const lost = { reason: null as string | null };
  device.lost.then((info) => {
    lost.reason = `${info.reason}: ${info.message}`;
  });
  return {
    adapter,
    device,
    lost,
    kernels: new Map(),
    nextKernelId: 1,
    report: {
      // Chromium leaves description empty and names its adapter by vendor and architecture
      // ("google swiftshader").
      description: info.description || info.device ||
        [info.vendor, info.architecture].filter(Boolean).join(" ") || "unknown adapter",
      vendor: info.vendor,
      architecture: info.architecture,
      backend: opts.backend || "default",
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      features,
      limits,
    },
  };
}
