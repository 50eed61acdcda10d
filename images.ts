/**
 * resgpu's image entry point: PNG and JPEG decoding (JPEG by libjpeg-turbo compiled to
 * WebAssembly, PNG by resgpu's own decoder on node:zlib), the torchvision-style transforms, and
 * image-folder data sets. Kept apart from `mod.ts`, which stays free of dependencies and
 * permissions; decoding itself needs no permission, reading folders needs `--allow-read`.
 *
 * ```ts
 * import { decodeImage, toRgb } from "@resgpu/resgpu/images";
 * const img = toRgb(decodeImage(await Deno.readFile("photo.jpg")));
 * console.log(img.width, img.height); // the pixels are img.data, height × width × 3 uint8
 * ```
 *
 * @module
 */
export {
  checkLimits,
  type DecodeLimits,
  DEFAULT_MAX_PIXELS,
  DEFAULT_MAX_SIDE,
  ImageDecodeError,
  type ImageFormat,
  type ImageHeader,
  readImageHeader,
  sniffFormat,
} from "./src/image/header.ts";
export { type DecodedImage, decodeImage, toGray, toRgb } from "./src/image/decode.ts";
export { decodeJpeg } from "./src/image/jpeg.ts";
export { decodePng } from "./src/image/png.ts";
export {
  applyTransform,
  centerCropOffset,
  evalTransformFor,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type ImageTransform,
  planTransform,
  randomResizedCropBox,
  resizedSize,
  type TransformPreset,
  transformPreset,
} from "./src/image/transforms.ts";
export { resampleInto, type ResampleSpec } from "./src/image/resize.ts";
export {
  codePointCompare,
  IMAGE_EXTENSIONS,
  type ImageFolderSplits,
  type ImageList,
  isImageFolder,
  scanImageFolder,
  type ScanSkips,
} from "./src/image/folder.ts";
export {
  ImageBatchLoader,
  type ImageLoaderOptions,
  type SkippedImage,
} from "./src/image/loader.ts";
export type { Batch, LoaderState } from "./src/data/loader.ts";
export { Rng } from "./src/util/rng.ts";
