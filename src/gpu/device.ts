/**
 * Adapter and device acquisition. We ask for every limit the adapter offers (kernels are written
 * against the real limits, not WebGPU's defaults) and record, never require, optional features.
 */

/** Optional features resgpu can use when present. */
export const OPTIONAL_FEATURES = ["shader-f16", "timestamp-query", "subgroups"] as const;
export type OptionalFeature = typeof OPTIONAL_FEATURES[number];

/** The limits kernels and the planner consult, copied from the device. */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupsPerDimension: number;
  maxUniformBufferBindingSize: number;
  maxBindGroups: number;
  minStorageBufferOffsetAlignment: number;
}

export interface AdapterReport {
  description: string;
  vendor: string;
  architecture: string;
  /** `vulkan`, `gl`, … as chosen by DENO_WEBGPU_BACKEND, or "default" when unset. */
  backend: string;
  isFallbackAdapter: boolean;
  features: OptionalFeature[];
  limits: DeviceLimits;
}

export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(
      `resgpu: no WebGPU adapter found (${detail}). ` +
        "On Linux without a GPU install Mesa's software drivers: " +
        "`apt-get install -y mesa-vulkan-drivers` (Vulkan/lavapipe) or use OpenGL/llvmpipe " +
        "(libgl1-mesa-dri) with DENO_WEBGPU_BACKEND=gl. With a GPU, check its driver and pick " +
        "its API with DENO_WEBGPU_BACKEND=vulkan|gl|metal|dx12.",
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

export interface AcquireOptions {
  /** Injected for tests; defaults to `navigator.gpu`. */
  gpu?: GPU | null;
  powerPreference?: GPUPowerPreference;
  /** Features to leave off even when offered (e.g. to test the f32-only path). */
  disable?: OptionalFeature[];
}

export interface Acquired {
  adapter: GPUAdapter;
  device: GPUDevice;
  report: AdapterReport;
}

function backendName(): string {
  try {
    return Deno.env.get("DENO_WEBGPU_BACKEND") ?? "default";
  } catch {
    // Without --allow-env we cannot know; the adapter still works.
    return "default";
  }
}

export async function acquireDevice(opts: AcquireOptions = {}): Promise<Acquired> {
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
  return {
    adapter,
    device,
    report: {
      description: info.description || info.device || "unknown adapter",
      vendor: info.vendor,
      architecture: info.architecture,
      backend: backendName(),
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
      features,
      limits,
    },
  };
}
