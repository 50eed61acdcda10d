/**
 * Bundles mod.ts (shaders already inlined by tools/gen_shaders.ts) into one ES module,
 * dist/resgpu.js, that any Deno app can import and run with no --allow-read.
 */
import * as esbuild from "esbuild";

const outfile = new URL("../dist/resgpu.js", import.meta.url).pathname;
const result = await esbuild.build({
  entryPoints: [new URL("../mod.ts", import.meta.url).pathname],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  outfile,
  sourcemap: "linked",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});
await esbuild.stop();
const bytes = Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
console.log(`wrote ${outfile} (${(bytes / 1024).toFixed(1)} KiB with source map)`);
