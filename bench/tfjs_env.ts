/**
 * Imported before TensorFlow.js. Its flat bundle takes any runtime with `process.versions.node`
 * for Node and then calls `require`, which Deno's ES modules lack; without `window` it registers
 * no platform at all. Hiding `process` and giving it a `window` with a `document` makes it pick its
 * browser platform, which is what Deno's WebGPU is. Only the comparison bench imports this.
 */
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
delete g.process;
g.window ??= globalThis;
// Its browser test is `window.document != null`; nothing on the WebGPU path touches the DOM.
g.document ??= {};
