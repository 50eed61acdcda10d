/**
 * `deno task bench:train [--json] [--quick] [--only MODEL:BATCH,…] [--tune] [--winograd 0|2|4]
 * [--tiled] [--winograd-keep 0|1] [--fuse-join 0|1]`:
 * training and forward images/s of the paper's models at their benchmark shapes, first step
 * (plan + compile, and with --tune the autotuner's timing) apart, with planned memory.
 * `--winograd` overrides the kernel policy's 3×3 algorithm (0 = direct kernels); `--tiled` plans
 * the workgroup-tiled convolutions (src/ops/conv2d/tiled.ts) where no Winograd tile applies;
 * `--winograd-keep` overrides whether training keeps each Winograd layer's input transform for
 * its filter gradient; `--fuse-join` whether a batch norm feeding a residual join alone computes
 * the join in its normalize pass.
 */
import { Runtime } from "../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { measureThroughput, type ThroughputResult } from "./train_measure.ts";

const json = Deno.args.includes("--json");
const quick = Deno.args.includes("--quick");
const tune = Deno.args.includes("--tune");
const onlyAt = Deno.args.indexOf("--only");
const only = onlyAt >= 0 ? Deno.args[onlyAt + 1]?.split(",") : undefined;
const winogradAt = Deno.args.indexOf("--winograd");
const winogradArg = winogradAt >= 0 ? Deno.args[winogradAt + 1] : undefined;
if (winogradArg !== undefined && !["0", "2", "4"].includes(winogradArg)) {
  throw new Error(`--winograd ${winogradArg}: expected 0 (direct), 2 or 4`);
}
const winograd = winogradArg === undefined ? undefined : Number(winogradArg) as 0 | 2 | 4;
const tiled = Deno.args.includes("--tiled") ? true : undefined;
const keepAt = Deno.args.indexOf("--winograd-keep");
const keepArg = keepAt >= 0 ? Deno.args[keepAt + 1] : undefined;
if (keepArg !== undefined && keepArg !== "0" && keepArg !== "1") {
  throw new Error(`--winograd-keep ${keepArg}: expected 0 or 1`);
}
const winogradKeepInput = keepArg === undefined ? undefined : keepArg === "1";
const fuseAt = Deno.args.indexOf("--fuse-join");
const fuseArg = fuseAt >= 0 ? Deno.args[fuseAt + 1] : undefined;
if (fuseArg !== undefined && fuseArg !== "0" && fuseArg !== "1") {
  throw new Error(`--fuse-join ${fuseArg}: expected 0 or 1`);
}
const fuseBatchNormJoin = fuseArg === undefined ? undefined : fuseArg === "1";
const cases: [string, { inputShape: [number, number, number]; batch: number }][] = [
  ["resnet20", { inputShape: [1, 28, 28], batch: 32 }],
  ["resnet20", { inputShape: [1, 28, 28], batch: 128 }],
  ["resnet56", { inputShape: [1, 28, 28], batch: 128 }],
  ["resnet50", { inputShape: [3, 64, 64], batch: 16 }],
];

const rt = await Runtime.create({
  ...runtimeOptionsFromEnv(),
  ...(tune ? { tune: true } : {}),
  winograd,
  tiled,
  winogradKeepInput,
  fuseBatchNormJoin,
});
const results: ThroughputResult[] = [];
if (!json) {
  console.log(
    `adapter: ${rt.report.description} (backend ${rt.report.backend}, ` +
      `${rt.policy.target} kernel policy, winograd ${rt.policy.convWinograd}, ` +
      `tiled ${rt.policy.convTiled}, winograd keeps input ${rt.policy.winogradKeepInput}, ` +
      `BN+join fused ${rt.policy.fuseBatchNormJoin})`,
  );
}
const chosen = only
  ? cases.filter(([name, o]) => only.includes(`${name}:${o.batch}`))
  : quick
  ? cases.slice(0, 1)
  : cases;
if (only && chosen.length !== only.length) {
  throw new Error(`--only ${only}: cases are ${cases.map(([n, o]) => `${n}:${o.batch}`)}`);
}
for (const [name, o] of chosen) {
  const r = await measureThroughput(rt, name, { ...o, windows: quick ? 2 : 3 });
  results.push(r);
  if (!json) {
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(
      `${name.padEnd(9)} ${r.input.padEnd(8)} batch ${String(r.batch).padStart(3)}: ` +
        `train ${r.trainImagesPerSec} img/s, forward ${r.forwardImagesPerSec} img/s, ` +
        `first step ${r.firstStepMs} ms, planned ${mib(r.plannedTrainBytes)} MiB train / ` +
        `${mib(r.plannedInferBytes)} MiB inference, shared scratch ${
          mib(r.sharedScratchBytes)
        } MiB, ` +
        `params ${mib(r.parameterBytes)} MiB`,
    );
  }
}
if (json) {
  console.log(
    JSON.stringify({
      adapter: rt.report.description,
      backend: rt.report.backend,
      policy: rt.policy.target,
      winograd: rt.policy.convWinograd,
      tuned: tune
        ? rt.tuner!.records.filter((r) => r.ms).map((r) => [r.op, r.shape, r.chosen])
        : null,
      results,
    }),
  );
}
rt.dispose();
