/**
 * Builds the browser- and Deno-ready package of the core (mod.ts): dist/resgpu.js, one ES module
 * with the shaders inlined (tools/gen_shaders.ts), that any app imports with no permissions, and
 * dist/resgpu.d.ts, its type declarations in one file.
 *
 * The declarations are compiled by TypeScript itself against the browser's libraries (`dom` and
 * the WebGPU types of `@webgpu/types`) and no Deno types at all, so a build that succeeds is also
 * proof that the core names no `Deno` API. The bundle's first line references the declarations,
 * so a Deno app that imports dist/resgpu.js is type-checked against them; a bundler-based app
 * finds resgpu.d.ts beside resgpu.js. The declarations name WebGPU's types (GPUDevice, …) without
 * declaring them: Deno declares them itself, a browser project adds `@webgpu/types`.
 */
import * as esbuild from "esbuild";
import { generateDtsBundle } from "dts-bundle-generator";
import { createRequire } from "node:module";

const root = new URL("../", import.meta.url).pathname;
const outfile = `${root}dist/resgpu.js`;
const dtsFile = `${root}dist/resgpu.d.ts`;

const result = await esbuild.build({
  entryPoints: [`${root}mod.ts`],
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  outfile,
  sourcemap: "linked",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
  banner: { js: '/// <reference types="./resgpu.d.ts" />' },
});
await esbuild.stop();
const bytes = Object.values(result.metafile.outputs).reduce((a, o) => a + o.bytes, 0);
console.log(`wrote ${outfile} (${(bytes / 1024).toFixed(1)} KiB with source map)`);

// TypeScript resolves `types` from a node_modules folder: give it one holding a copy of
// @webgpu/types (from Deno's npm cache, where deno.json's import map put it).
const tmp = `${root}dist/.dts-build`;
await Deno.remove(tmp, { recursive: true }).catch(() => {});
try {
  const webgpuTypes = createRequire(import.meta.url).resolve("@webgpu/types/package.json")
    .replace(/\/package\.json$/, "");
  const copy = `${tmp}/node_modules/@webgpu/types`;
  await Deno.mkdir(`${copy}/dist`, { recursive: true });
  for (const f of ["package.json", "dist/index.d.ts"]) {
    await Deno.copyFile(`${webgpuTypes}/${f}`, `${copy}/${f}`);
  }
  const tsconfig = `${tmp}/tsconfig.json`;
  await Deno.writeTextFile(
    tsconfig,
    JSON.stringify({
      compilerOptions: {
        target: "es2022",
        module: "esnext",
        moduleResolution: "bundler",
        allowImportingTsExtensions: true,
        strict: true,
        noEmit: true,
        lib: ["es2022", "esnext.disposable", "dom"],
        types: ["@webgpu/types"],
        skipLibCheck: true,
      },
    }),
  );
  const [dts] = generateDtsBundle([{
    filePath: `${root}mod.ts`,
    output: { noBanner: true, exportReferencedTypes: false },
  }], { preferredConfigPath: tsconfig });
  const header = "// resgpu's type declarations, generated from mod.ts by `deno task build`.\n" +
    "// WebGPU's types (GPUDevice, GPUBuffer, …) are the host's: Deno declares them; a browser\n" +
    "// project adds the npm package @webgpu/types.\n";
  await Deno.writeTextFile(dtsFile, header + dts);
  console.log(`wrote ${dtsFile} (${(dts.length / 1024).toFixed(1)} KiB)`);
} finally {
  await Deno.remove(tmp, { recursive: true });
}
