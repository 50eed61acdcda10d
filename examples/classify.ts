/**
 * Classifies an image tensor with a ResNet whose weights are in a file — for example torchvision's
 * ResNet-50 converted from a PyTorch `.pth` (`python3 tools/resgpu_torch.py convert resnet50.pth
 * resnet50.safetensors --imagenet --model resnet50`, which also stores ImageNet's normalization and
 * class names).
 *
 *   deno run --allow-read examples/classify.ts WEIGHTS.safetensors [IMAGE.rgb] [--top 5] [--json]
 *
 * IMAGE.rgb holds one image of the model's input size as raw RGB bytes, row by row (H×W×3 uint8:
 * what `PIL.Image.tobytes()` or `convert img.png rgb:img.rgb` write); without one, a colour test
 * pattern. The model is the one the file names (`--model` otherwise), built with torchvision's stem;
 * normalization happens on the GPU from what the file stores.
 */
import {
  buildModel,
  loadWeights,
  Model,
  modelInfo,
  Predictor,
  Runtime,
  weightsInfo,
} from "../mod.ts";

export interface ClassifyOptions {
  weights: string;
  image?: string;
  top?: number;
  model?: string;
}

/** The top classes of one image, most probable first. */
export async function classify(opts: ClassifyOptions) {
  const bytes = await Deno.readFile(opts.weights);
  const info = weightsInfo(bytes, opts.weights);
  const name = opts.model ?? info.model;
  if (!name) throw new Error(`${opts.weights} names no model: pass --model (e.g. resnet50)`);
  const fc = info.tensors.find((t) => t.name === "fc.weight");
  const classes = info.preprocessing?.classes ?? fc?.shape[0];
  const inputShape = info.preprocessing?.inputShape ?? modelInfo(name).inputShape;
  const family = modelInfo(name).family;
  using rt = await Runtime.create();
  using model = Model.create(
    rt,
    buildModel(name, {
      inputShape: [...inputShape],
      classes,
      ...(family === "imagenet-resnet" ? { stem: "imagenet" as const } : {}),
    }),
    { name },
  );
  loadWeights(model, bytes, { source: opts.weights });
  const [c, h, w] = inputShape;
  const pixels = opts.image ? await Deno.readFile(opts.image) : testPattern(h, w, c);
  if (pixels.length !== h * w * c) {
    throw new RangeError(
      `${opts.image}: ${pixels.length} bytes; ${name} takes ${h}×${w}×${c} = ${h * w * c} ` +
        `(raw uint8 RGB, row by row)`,
    );
  }
  using predictor = await Predictor.create(model, { input: "pixels", layout: "hwc" });
  const [top] = await predictor.topK(pixels, 1, Math.min(opts.top ?? 5, model.graph.classes));
  return top;
}

/** Smooth colour gradients with a bright disc: an image every model gives some answer for. */
export function testPattern(h: number, w: number, c: number): Uint8Array {
  const out = new Uint8Array(h * w * c);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const disc = (x - w / 2) ** 2 + (y - h / 2) ** 2 < (Math.min(h, w) / 4) ** 2;
      for (let k = 0; k < c; k++) {
        out[(y * w + x) * c + k] = disc ? 230 : Math.round(255 * ((x / w + y / h + k / c) % 1));
      }
    }
  }
  return out;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i < 0 ? undefined : args.splice(i, 2)[1];
  };
  const json = args.includes("--json") && !!args.splice(args.indexOf("--json"), 1);
  const top = flag("top"), model = flag("model");
  const [weights, image] = args;
  if (!weights) {
    console.error("usage: examples/classify.ts WEIGHTS.safetensors [IMAGE.rgb] [--top 5] [--json]");
    Deno.exit(2);
  }
  try {
    const result = await classify({ weights, image, model, top: top ? Number(top) : undefined });
    if (json) console.log(JSON.stringify(result));
    else {
      for (const [i, t] of result.entries()) {
        console.log(
          `${i + 1}. ${t.label ?? `class ${t.index}`}  ${(100 * t.probability).toFixed(2)}%`,
        );
      }
    }
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
