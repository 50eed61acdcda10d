// @ts-self-types="./jpeg_turbo_wasm.d.ts"
// The compiled module only (a source-phase import: no instantiation, no file read, no permission);
// src/image/jpeg.ts instantiates it with its own imports. TypeScript cannot parse `import source`
// yet, hence this one JavaScript file. The specifier is inline, not in deno.json's import map, so
// the module also resolves for scripts importing resgpu from outside this repository.
// deno-lint-ignore no-import-prefix
import source jpegTurbo from "npm:@cwasm/jpeg-turbo@0.1.3/jpeg-turbo.wasm";
export default jpegTurbo;
