/**
 * `deno task bench:kernels [--json] [--filter S]`: every kernel at the ResNet-20 and ResNet-50
 * layer shapes, with the adapter's name. Cases live in bench/cases/*.ts.
 */
import { Runtime } from "../src/gpu/runtime.ts";
import { runtimeOptionsFromEnv } from "../src/host/deno_env.ts";
import { type BenchCase, type BenchResult, timeCase } from "./harness.ts";

const json = Deno.args.includes("--json");
const fi = Deno.args.indexOf("--filter");
const filter = fi >= 0 ? Deno.args[fi + 1] : "";

const cases: BenchCase[] = [];
const dir = new URL("./cases/", import.meta.url);
const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".ts")).sort();
for (const f of files) {
  const mod = await import(new URL(f, dir).href);
  cases.push(...(mod.cases as BenchCase[]));
}

const rt = await Runtime.create(runtimeOptionsFromEnv());
const results: BenchResult[] = [];
if (!json) {
  console.log(
    `adapter: ${rt.report.description} (backend ${rt.report.backend}, ` +
      `${rt.policy.target} kernel policy)`,
  );
  console.log(`${"kernel".padEnd(28)} ${"shape".padEnd(34)} ${"ms".padStart(9)}  rate`);
}
for (const c of cases) {
  if (filter && !`${c.name} ${c.shape}`.includes(filter)) continue;
  const r = await timeCase(rt, c);
  results.push(r);
  if (!json) {
    const rate = r.gflops !== undefined ? `${r.gflops} GFLOP/s` : `${r.gbps} GB/s`;
    console.log(
      `${r.name.padEnd(28)} ${r.shape.padEnd(34)} ${r.ms.toFixed(3).padStart(9)}  ${rate}`,
    );
  }
}
if (json) console.log(JSON.stringify(results));
rt.dispose();
