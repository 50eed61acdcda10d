/**
 * Image-folder data sets as torchvision's `ImageFolder` reads them: one subfolder per class,
 * classes in sorted order (Python's code-point order), files found recursively and listed as
 * `sorted(os.walk(...))` lists them — so class indices and sample order equal torchvision's on
 * the same folder (tested against it). Optionally `train/` and `val/` with the same classes;
 * otherwise a seeded, per-class validation split.
 */
import { Rng } from "../util/rng.ts";

/** What resgpu decodes; other files are skipped and counted. */
export const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png"];
/** torchvision's other image extensions: counted apart, as images resgpu cannot decode. */
const OTHER_IMAGE_EXTENSIONS = [".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp", ".gif"];

/** A list of labelled image files. */
export interface ImageList {
  /** Paths, in torchvision's sample order. */
  files: string[];
  /** Class index per file. */
  labels: Int32Array;
  /** Class names, index = label. */
  classNames: string[];
  /** For messages: the folder it came from. */
  name: string;
}

/** What a scan skipped, for the run's report. */
export interface ScanSkips {
  /** Files that are not PNG/JPEG by extension (text, .DS_Store, ...), by path. */
  nonImage: string[];
  /** Images in formats resgpu does not decode (BMP, WebP, TIFF, ...). */
  unsupported: string[];
  /** Hidden folders (names starting with "."), not taken as classes. */
  hiddenDirs: string[];
  /** Files directly in a split's root, outside any class folder. */
  outsideClasses: string[];
}

/** A scanned image folder: its training and validation lists. */
export interface ImageFolderSplits {
  /** Training images. */
  train: ImageList;
  /** Validation images (val/ or the held-out split). */
  val: ImageList;
  /** Class names, sorted as torchvision sorts them; index = label. */
  classNames: string[];
  /** "folders" when train/ and val/ were given, else "split". */
  source: "folders" | "split";
  /** What the scan skipped. */
  skipped: ScanSkips;
}

/** Python's str ordering: by code point (JavaScript's default sort compares UTF-16 units). */
export function codePointCompare(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function ext(name: string): string {
  const i = name.lastIndexOf(".");
  return i < 0 ? "" : name.slice(i).toLowerCase();
}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory; // follows symlinks, as os.walk(followlinks=True)
  } catch {
    return false;
  }
}

/** Whether `dir` looks like an image folder: class subfolders (or train/), not IDX or CIFAR. */
export function isImageFolder(dir: string): boolean {
  if (!isDir(dir)) return false;
  for (const e of Deno.readDirSync(dir)) {
    if (e.name.startsWith(".")) continue;
    if (isDir(`${dir}/${e.name}`)) return true;
  }
  return false;
}

/** One split's root: classes and files in torchvision's order. */
export function scanSplit(root: string, skipped: ScanSkips, name = root): ImageList {
  if (!isDir(root)) {
    throw new Error(
      `${root}: ${
        exists(root) ? "not a directory" : "no such directory"
      } (an image folder has one subfolder per class)`,
    );
  }
  const classNames: string[] = [];
  for (const e of Deno.readDirSync(root)) {
    const path = `${root}/${e.name}`;
    if (isDir(path)) {
      if (e.name.startsWith(".")) skipped.hiddenDirs.push(path);
      else classNames.push(e.name);
    } else skipped.outsideClasses.push(path);
  }
  classNames.sort(codePointCompare);
  if (classNames.length === 0) {
    throw new Error(
      `${root}: no class folders (an image folder has one subfolder per class, e.g. ${root}/cat/1.jpg)`,
    );
  }
  const files: string[] = [];
  const labels: number[] = [];
  const empty: string[] = [];
  classNames.forEach((cls, label) => {
    const found = walkImages(`${root}/${cls}`, skipped);
    if (found.length === 0) empty.push(cls);
    for (const f of found) {
      files.push(f);
      labels.push(label);
    }
  });
  if (empty.length === classNames.length) {
    throw new Error(
      `${root}: no PNG or JPEG images in any of its ${classNames.length} class folders`,
    );
  }
  if (empty.length > 0) {
    throw new Error(
      `${root}: class folder${empty.length > 1 ? "s" : ""} ${
        empty.slice(0, 5).map((c) => `"${c}"`).join(", ")
      }` +
        `${empty.length > 5 ? ` and ${empty.length - 5} more` : ""} ha${
          empty.length > 1 ? "ve" : "s"
        } no PNG or ` +
        "JPEG images (remove the folder or add images)",
    );
  }
  return { files, labels: Int32Array.from(labels), classNames, name };
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Image files under `dir`, ordered as `for root, _, names in sorted(os.walk(dir)): sorted(names)`;
 * other files are added to `skipped` (by extension: non-image, or an image format resgpu does not
 * decode).
 */
export function walkImages(dir: string, skipped: ScanSkips): string[] {
  const dirs: string[] = [];
  const pending = [dir];
  while (pending.length) {
    const d = pending.pop()!;
    dirs.push(d);
    for (const e of Deno.readDirSync(d)) {
      if (isDir(`${d}/${e.name}`)) pending.push(`${d}/${e.name}`);
    }
  }
  dirs.sort(codePointCompare);
  const out: string[] = [];
  for (const d of dirs) {
    const names: string[] = [];
    for (const e of Deno.readDirSync(d)) if (!isDir(`${d}/${e.name}`)) names.push(e.name);
    names.sort(codePointCompare);
    for (const n of names) {
      const path = `${d}/${n}`;
      const x = ext(n);
      if (IMAGE_EXTENSIONS.includes(x)) out.push(path);
      else if (OTHER_IMAGE_EXTENSIONS.includes(x)) skipped.unsupported.push(path);
      else skipped.nonImage.push(path);
    }
  }
  return out;
}

/**
 * Scans an image folder: `dir/train/` and `dir/val/` if present (the same class sets), else
 * `dir/<class>/` split per class into training and validation by `valSplit` (seeded; at least one
 * validation image per class with two or more images). Throws, naming the folder, for a missing
 * path, no class folders, an empty class, or train/val class sets that differ.
 *
 * ```ts
 * import { scanImageFolder } from "@resgpu/resgpu/images";
 * const { train, val, classNames } = scanImageFolder("photos/", { valSplit: 0.1 });
 * console.log(classNames, train.files.length, val.files.length);
 * ```
 */
export function scanImageFolder(
  dir: string,
  opts: { valSplit?: number; seed?: number } = {},
): ImageFolderSplits {
  const root = dir.replace(/\/+$/, "") || "/";
  if (!isDir(root)) {
    throw new Error(`${dir}: ${exists(root) ? "not a directory" : "no such file or directory"}`);
  }
  const skipped: ScanSkips = { nonImage: [], unsupported: [], hiddenDirs: [], outsideClasses: [] };
  const hasTrain = isDir(`${root}/train`), hasVal = isDir(`${root}/val`);
  if (hasVal && !hasTrain) throw new Error(`${root}: has val/ but no train/ folder`);
  if (hasTrain && hasVal) {
    const train = scanSplit(`${root}/train`, skipped, `${root}/train`);
    const val = scanSplit(`${root}/val`, skipped, `${root}/val`);
    const onlyTrain = train.classNames.filter((c) => !val.classNames.includes(c));
    const onlyVal = val.classNames.filter((c) => !train.classNames.includes(c));
    if (onlyTrain.length || onlyVal.length) {
      const list = (v: string[]) =>
        v.slice(0, 5).map((c) => `"${c}"`).join(", ") + (v.length > 5 ? ", ..." : "");
      throw new Error(
        `${root}: train/ and val/ have different classes` +
          (onlyTrain.length ? `; only in train/: ${list(onlyTrain)}` : "") +
          (onlyVal.length ? `; only in val/: ${list(onlyVal)}` : ""),
      );
    }
    return { train, val, classNames: train.classNames, source: "folders", skipped };
  }
  const all = scanSplit(hasTrain ? `${root}/train` : root, skipped, root);
  const split = opts.valSplit ?? 0.1;
  if (!(split > 0 && split < 1)) {
    throw new RangeError(`val split must be in (0, 1), got ${split} (${root} has no val/ folder)`);
  }
  const [train, val] = splitPerClass(all, split, opts.seed ?? 0);
  return { train, val, classNames: all.classNames, source: "split", skipped };
}

/** A seeded split per class, each part keeping torchvision's order. */
function splitPerClass(all: ImageList, fraction: number, seed: number): [ImageList, ImageList] {
  const inVal = new Uint8Array(all.files.length);
  for (let c = 0; c < all.classNames.length; c++) {
    const idx: number[] = [];
    for (let i = 0; i < all.labels.length; i++) if (all.labels[i] === c) idx.push(i);
    const perm = new Rng(seed, c, 0x5b1).shuffle(Int32Array.from(idx));
    const n = idx.length < 2 ? 0 : Math.max(1, Math.round(idx.length * fraction));
    for (let k = 0; k < n; k++) inVal[perm[k]] = 1;
  }
  const part = (v: number, name: string): ImageList => {
    const files: string[] = [], labels: number[] = [];
    for (let i = 0; i < all.files.length; i++) {
      if (inVal[i] === v) {
        files.push(all.files[i]);
        labels.push(all.labels[i]);
      }
    }
    return { files, labels: Int32Array.from(labels), classNames: all.classNames, name };
  };
  return [part(0, `${all.name}/train`), part(1, `${all.name}/val`)];
}
