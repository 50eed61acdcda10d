/** CPU reference implementations (f64) that every GPU kernel is tested against. */
export * from "./activation.ts";
export * from "./batchnorm.ts";
export * from "./clip.ts";
export * from "./conv.ts";
export * from "./fd.ts";
export * from "./linear.ts";
export * from "./loss.ts";
export * from "./optim.ts";
export * from "./pool.ts";
export * from "./shortcut.ts";
