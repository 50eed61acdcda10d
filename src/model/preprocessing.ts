/**
 * What a model expects of its input, carried with it: the per-channel normalization it was
 * trained with, its input shape, class count and (when known) class names. Checkpoints and weights
 * files resgpu writes store it as JSON in the safetensors metadata under `preprocessing`, and
 * {@link Predictor} applies it to raw pixels on the GPU.
 */

/** Per-channel normalization: a [0, 1] pixel value v of channel c becomes (v − mean[c]) / std[c]. */
export interface Normalization {
  /** Mean per channel, in [0, 1] pixel units. */
  mean: readonly number[];
  /** Standard deviation per channel, in [0, 1] pixel units; each > 0. */
  std: readonly number[];
}

/**
 * A model's preprocessing: its normalization plus what the graph fixes (input shape, classes),
 * and class names when known.
 *
 * ```ts
 * import { buildModel, IMAGENET_NORMALIZATION, Model, Runtime } from "@resgpu/resgpu";
 * const rt = await Runtime.create();
 * const model = Model.create(rt, buildModel("resnet18"));
 * model.setPreprocessing({ ...IMAGENET_NORMALIZATION });
 * console.log(model.preprocessing.mean); // [0.485, 0.456, 0.406]
 * ```
 */
export interface Preprocessing extends Normalization {
  /** [C, H, W] of one input image. */
  inputShape: readonly [number, number, number];
  /** Outputs of the network (logits per image). */
  classes: number;
  /** One name per class, when known (e.g. torchvision's ImageNet categories). */
  classNames?: readonly string[];
}

/** torchvision's ImageNet normalization (what its and timm's pretrained ResNets expect). */
export const IMAGENET_NORMALIZATION: Normalization = Object.freeze({
  mean: Object.freeze([0.485, 0.456, 0.406]),
  std: Object.freeze([0.229, 0.224, 0.225]),
});

/** The safetensors metadata key preprocessing is stored under. */
export const PREPROCESSING_KEY = "preprocessing";

/**
 * The normalization a model has until told otherwise, and what a checkpoint written before
 * preprocessing was stored (or a weights file without it) leaves: mean 0 and std 1 per channel,
 * so [0, 1] pixels reach the network unchanged.
 */
export function identityNormalization(channels: number): Normalization {
  return { mean: new Array(channels).fill(0), std: new Array(channels).fill(1) };
}

/** Throws naming the field when `p` does not fit a model of `inputShape` and `classes`. */
export function checkPreprocessing(
  p: Partial<Preprocessing>,
  inputShape: readonly number[],
  classes: number,
  where = "preprocessing",
): void {
  const c = inputShape[0];
  for (const key of ["mean", "std"] as const) {
    const v = p[key];
    if (v === undefined) continue;
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) {
      throw new TypeError(`${where}: ${key} must be an array of ${c} numbers`);
    }
    const a = Array.from(v as ArrayLike<number>);
    if (a.length !== c) {
      throw new RangeError(`${where}: ${key} has ${a.length} values, the model has ${c} channels`);
    }
    a.forEach((x, i) => {
      if (typeof x !== "number" || !Number.isFinite(x) || (key === "std" && !(x > 0))) {
        throw new RangeError(
          `${where}: ${key}[${i}] = ${x} is not ${
            key === "std" ? "a positive" : "a finite"
          } number`,
        );
      }
    });
  }
  if (p.inputShape !== undefined && p.inputShape.join() !== inputShape.join()) {
    throw new RangeError(
      `${where}: input shape [${p.inputShape}] differs from the model's [${inputShape}]`,
    );
  }
  if (p.classes !== undefined && p.classes !== classes) {
    throw new RangeError(`${where}: ${p.classes} classes, the model has ${classes}`);
  }
  if (p.classNames !== undefined) {
    if (!Array.isArray(p.classNames) || !p.classNames.every((n) => typeof n === "string")) {
      throw new TypeError(`${where}: classNames must be an array of strings`);
    }
    if (p.classNames.length !== classes) {
      throw new RangeError(
        `${where}: ${p.classNames.length} class names for a model with ${classes} classes`,
      );
    }
  }
}

/** The JSON stored in safetensors metadata. */
export function encodePreprocessing(p: Preprocessing): string {
  return JSON.stringify({
    mean: [...p.mean],
    std: [...p.std],
    inputShape: [...p.inputShape],
    classes: p.classes,
    ...(p.classNames ? { classNames: [...p.classNames] } : {}),
  });
}

/**
 * Parses stored preprocessing (the JSON {@link encodePreprocessing} writes) and checks that it is
 * consistent in itself; `where` names the file in errors.
 */
export function parsePreprocessing(json: string, where: string): Preprocessing {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new Error(`${where}: metadata "preprocessing" is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new Error(`${where}: metadata "preprocessing" is not a JSON object`);
  }
  const o = v as Record<string, unknown>;
  const shape = o.inputShape;
  if (
    !Array.isArray(shape) || shape.length !== 3 ||
    !shape.every((d) => Number.isSafeInteger(d) && d > 0)
  ) {
    throw new Error(
      `${where}: preprocessing.inputShape must be [C, H, W], got ${JSON.stringify(shape)}`,
    );
  }
  if (!Number.isSafeInteger(o.classes) || (o.classes as number) < 1) {
    throw new Error(`${where}: preprocessing.classes must be a positive integer`);
  }
  for (const k of ["mean", "std"]) {
    if (!Array.isArray(o[k])) throw new Error(`${where}: preprocessing.${k} is missing`);
  }
  const p = o as unknown as Preprocessing;
  checkPreprocessing(p, p.inputShape, p.classes, `${where}: preprocessing`);
  return {
    mean: [...p.mean],
    std: [...p.std],
    inputShape: [shape[0], shape[1], shape[2]],
    classes: p.classes,
    ...(p.classNames ? { classNames: [...p.classNames] } : {}),
  };
}

/**
 * What of stored preprocessing applies to a model of `inputShape` and `classes`: the
 * normalization, which must have one value per input channel (else this throws, naming `where`),
 * whatever the image size; class names only when the class count is the model's (a pretrained
 * backbone under a new head keeps the model's own).
 */
export function preprocessingFor(
  stored: Preprocessing,
  inputShape: readonly number[],
  classes: number,
  where: string,
): Normalization & { classNames?: readonly string[] } {
  if (stored.mean.length !== inputShape[0]) {
    throw new RangeError(
      `${where}: preprocessing has ${stored.mean.length} channels, the model has ${inputShape[0]}`,
    );
  }
  return {
    mean: stored.mean,
    std: stored.std,
    ...(stored.classNames && stored.classes === classes ? { classNames: stored.classNames } : {}),
  };
}
