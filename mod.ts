/**
 * resgpu: residual networks trained and run on WebGPU, every layer a hand-written WGSL compute
 * shader. This entry point is the core: it reads no file and no environment and needs no `Deno`
 * global, so it runs in Deno and in a browser (`deno task build` bundles it to dist/resgpu.js
 * with dist/resgpu.d.ts). What reads files — data sets on disk, checkpoint files, whole training
 * runs — is in `@resgpu/resgpu/files`.
 *
 * Ownership: a {@link Runtime} owns the device; models, trainers, evaluators, predictors and
 * tensors live on it. Whoever creates an object disposes it (`dispose()` or `using`); trainers,
 * evaluators and predictors use a model without owning it. Anything used after it, or what it depends on, was
 * disposed throws {@link DisposedError} naming what was disposed.
 *
 * Train a ResNet:
 * ```ts
 * import { BatchLoader, buildModel, computeChannelStats, Model, Runtime, syntheticDataset, Trainer } from "@resgpu/resgpu";
 * using rt = await Runtime.create();
 * const { train } = syntheticDataset({ trainCount: 1024 }); // or loadDataset() from ./files
 * using model = Model.create(rt, buildModel("resnet20", { inputShape: [1, 28, 28], classes: 10 }));
 * using trainer = await Trainer.create(model, { batchSize: 64, optimizer: { kind: "sgd", lr: 0.1, momentum: 0.9 } });
 * const loader = BatchLoader.train(train, { batchSize: 64, stats: computeChannelStats(train) });
 * for await (const b of loader.epoch()) trainer.step(b.x, b.y, 0.1);
 * console.log(await trainer.readMetrics()); // mean loss and accuracy over the epoch
 * ```
 *
 * Predict from raw pixels with pretrained weights (torchvision/timm names; docs/INFERENCE.md):
 * ```ts
 * import { buildModel, loadWeights, Model, Predictor, Runtime } from "@resgpu/resgpu";
 * declare const weights: Uint8Array, image: Uint8Array; // a safetensors file; 224×224 RGB bytes
 * using rt = await Runtime.create();
 * using model = Model.create(rt, buildModel("resnet50", { classes: 37, stem: "imagenet" }));
 * loadWeights(model, weights, { skip: ["fc.*"] }); // a 1000-class backbone under a new head
 * using predictor = await Predictor.create(model, { maxBatch: 16, input: "pixels" });
 * console.log(await predictor.topK(image, 1, 5)); // normalized on the GPU, one submit
 * ```
 *
 * Measure accuracy on a labelled test set (BN running statistics):
 * ```ts
 * import { BatchLoader, computeChannelStats, Evaluator, type Model, syntheticDataset } from "@resgpu/resgpu";
 * declare const model: Model; // trained as above, or with weights from a checkpoint
 * const { train, test } = syntheticDataset({ trainCount: 1024, testCount: 256 });
 * using evaluator = await Evaluator.create(model, { batchSize: 128 });
 * const batches = BatchLoader.test(test, { batchSize: 128, stats: computeChannelStats(train) });
 * console.log((await evaluator.run(batches.epoch())).accuracy);
 * ```
 *
 * Embed or benchmark the kernels: a tensor op, the adapter, planned memory:
 * ```ts
 * import { axpb, buildModel, Model, Runtime, Tensor, Trainer } from "@resgpu/resgpu";
 * using rt = await Runtime.create({ kernels: "gpu" }); // force the GPU policy's kernels
 * using x = Tensor.fromArray(rt, [1, 2, 3], [3]);
 * console.log(await (await axpb(rt, x, 2, 1)).toArray(), rt.report.description);
 * using model = Model.create(rt, buildModel("resnet50", { inputShape: [3, 64, 64] }));
 * using trainer = await Trainer.create(model, { batchSize: 16, optimizer: { kind: "sgd", lr: 0.1 } });
 * console.log(`${(trainer.plan.plannedBytes / 2 ** 20).toFixed(0)} MiB of activations`);
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
export {
  buildModel,
  type Family,
  listModels,
  type ModelInfo,
  modelInfo,
  type ModelOptions,
  type ShortcutOption,
  type Stem,
} from "./src/zoo/registry.ts";
export { Model } from "./src/model/model.ts";
export {
  IMAGENET_NORMALIZATION,
  type Normalization,
  type Preprocessing,
} from "./src/model/preprocessing.ts";
export {
  type ImageBatch,
  type InputKind,
  type InputOptions,
  Predictor,
  type PredictorOptions,
  type TopClass,
} from "./src/infer/predictor.ts";
export {
  type GradNorm,
  type OptimizerConfig,
  Trainer,
  type TrainerOptions,
  type TrainMetrics,
} from "./src/train/trainer.ts";
export { GUARD_BITS, type NonFiniteReason } from "./src/ops/guard.ts";
export { type EvalBatch, type EvalResult, Evaluator } from "./src/train/evaluator.ts";
export type { XentMetrics } from "./src/ops/loss.ts";
export type { StepPlan } from "./src/scheduler/step_plan.ts";
export type { Mode } from "./src/layers/layer.ts";
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
export {
  type LoadedWeights,
  loadWeights,
  type LoadWeightsOptions,
  saveWeights,
  type SaveWeightsOptions,
  WEIGHTS_FORMAT,
  type WeightsInfo,
  weightsInfo,
} from "./src/io/weights.ts";
