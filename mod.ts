/**
 * resgpu: residual networks trained on WebGPU with hand-written WGSL kernels.
 *
 * ```ts
 * import { Runtime, Tensor } from "@resgpu/resgpu";
 * const rt = await Runtime.create();
 * console.log(rt.report.description);
 * ```
 *
 * @module
 */
export { GpuError, type Kernel, Runtime, type RuntimeOptions } from "./src/gpu/runtime.ts";
export type { TuneCache } from "./src/gpu/tuner.ts";
export { type KernelPolicy, type PolicyTarget } from "./src/gpu/policy.ts";
export {
  type AcquireOptions,
  type AdapterReport,
  type DeviceLimits,
  NoAdapterError,
  OPTIONAL_FEATURES,
  type OptionalFeature,
} from "./src/gpu/device.ts";
export { BufferLimitError, type PoolStats, sizeClass } from "./src/gpu/buffer_pool.ts";
export { type DType, type Layout, numel, Tensor } from "./src/tensor.ts";
export { axpb } from "./src/ops/elementwise.ts";
export {
  countMacs,
  countParameters,
  countWeightLayers,
  type Graph,
  GraphBuilder,
  type GraphNode,
  type GraphNodeBase,
  type OpName,
  type ParamSpec,
  type SampleShape,
} from "./src/graph/ir.ts";
export { buildModel, listModels, modelInfo, type ModelOptions } from "./src/zoo/registry.ts";
export { Model } from "./src/model/model.ts";
export {
  type GradNorm,
  type OptimizerConfig,
  Trainer,
  type TrainerOptions,
} from "./src/train/trainer.ts";
export { type EvalBatch, type EvalResult, Evaluator } from "./src/train/evaluator.ts";
export { buildStepPlan, type StepPlan } from "./src/scheduler/step_plan.ts";
export {
  type Batch,
  BatchLoader,
  type LoaderOptions,
  type LoaderState,
} from "./src/data/loader.ts";
export {
  type Dataset,
  type Splits,
  subsetDataset,
  syntheticDataset,
  type SyntheticDatasetOptions,
} from "./src/data/in_memory.ts";
export { type AugmentOptions, type ChannelStats, computeChannelStats } from "./src/data/augment.ts";
export { DisposedError } from "./src/util/disposed.ts";
export {
  type AppliedState,
  applyState,
  type ApplyStateOptions,
  StateDictError,
  type StateEntries,
  type StateEntry,
  type StateReport,
  type StateTarget,
} from "./src/model/state.ts";
export type { Dtype, TensorOut } from "./src/io/safetensors.ts";
export {
  applyCheckpoint,
  type ApplyCheckpointOptions,
  type Checkpoint,
  type CheckpointMeta,
  decodeCheckpoint,
  encodeCheckpoint,
  NonFiniteStateError,
  type RunPosition,
} from "./src/train/checkpoint.ts";
