/**
 * The images a prediction command names: files as given (any name: the decoder sniffs the bytes),
 * folders searched recursively in the image-folder scan's order (sorted as torchvision sorts),
 * with their non-image files skipped and counted. A path that does not exist, or folders that
 * hold no image at all, are errors naming them.
 */
import { type ScanSkips, walkImages } from "../image/folder.ts";

/** A file left out before decoding, and why. */
export interface SkippedFile {
  /** The file. */
  file: string;
  /** Why. */
  reason: string;
}

/** What the paths hold. */
export interface ImageInputs {
  /** Images to predict, in order: each path's, in the order the paths were given. */
  files: string[];
  /** Files in folders that are not PNG or JPEG by extension. */
  skipped: SkippedFile[];
  /** Folders given that hold no PNG or JPEG file (when other paths do). */
  emptyDirs: string[];
}

/** The images under `paths` (files and folders); throws naming a missing path or empty input. */
export function collectImages(paths: readonly string[]): ImageInputs {
  if (paths.length === 0) throw new Error("no images given: name image files or folders");
  const files: string[] = [];
  const skipped: SkippedFile[] = [];
  const emptyDirs: string[] = [];
  for (const given of paths) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(given);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(`${given}: no such file or directory`);
      }
      throw e;
    }
    if (!info.isDirectory) {
      files.push(given);
      continue;
    }
    const skips: ScanSkips = {
      nonImage: [],
      unsupported: [],
      hiddenDirs: [],
      outsideClasses: [],
    };
    const found = walkImages(given.replace(/\/+$/, "") || "/", skips);
    for (const file of skips.nonImage) {
      skipped.push({ file, reason: "not a PNG or JPEG file (by its extension)" });
    }
    for (const file of skips.unsupported) {
      skipped.push({ file, reason: "an image format resgpu does not decode (PNG and JPEG only)" });
    }
    if (found.length === 0) emptyDirs.push(given);
    files.push(...found);
  }
  if (files.length === 0) {
    const others = skipped.length ? ` (${skipped.length} other file(s) skipped)` : "";
    throw new Error(
      `${emptyDirs.join(", ")}: no PNG or JPEG images in ${
        emptyDirs.length > 1 ? "these folders" : "this folder"
      }${others}`,
    );
  }
  return { files, skipped, emptyDirs };
}
