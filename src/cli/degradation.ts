/**
 * `deno task degradation [flags]`: plain vs residual nets of growing depth (He et al. §4.2),
 * writing report.md, curves.svg, gradients.svg and each run's metrics.jsonl under --out.
 * Ctrl-C checkpoints the net in training and stops; `--resume` continues the study.
 */
import { defineFlags, parseArgsOrExit } from "../app/args.ts";
import { fashionMnistAvailable } from "../data/dataset.ts";
import { NETS, runDegradationStudy, StudyInterrupted } from "../study/degradation.ts";
import { exitOnError } from "./errors.ts";

const flags = defineFlags({
  data: {
    type: "string",
    help: "fashion-mnist | cifar10 | synthetic | a directory (default: fashion-mnist if installed)",
  },
  depths: {
    type: "string",
    default: "20,32,56",
    help: "comma-separated CIFAR-family depths (6n+2)",
  },
  epochs: { type: "int", default: 1, min: 1, help: "epochs per run" },
  subset: { type: "int", min: 1, help: "training images per run (default: all)" },
  testSubset: { type: "int", min: 1, help: "test images per evaluation (default: all)" },
  batch: { type: "int", default: 128, min: 1, help: "batch size" },
  lr: { type: "number", default: 0.1, min: 0, help: "learning rate (paper: 0.1)" },
  seed: { type: "int", default: 0, help: "seed shared by every run" },
  gradNormEvery: { type: "int", default: 20, min: 1, help: "gradient-norm capture interval" },
  warmup: {
    type: "int",
    default: 10,
    min: 0,
    help:
      "linear warm-up steps from lr/10 (the paper's remedy for deep nets; capped at 1/4 of a run)",
  },
  nets: {
    type: "string",
    default: "plain,resnet",
    help: "which nets to train at each depth: plain, resnet or both",
  },
  out: { type: "string", default: "runs/degradation", help: "output directory" },
  resume: {
    type: "boolean",
    default: false,
    help: "continue an interrupted study in --out: finished nets are kept, the rest resume",
  },
});

const args = parseArgsOrExit(flags, Deno.args, "deno task degradation [flags]");
const depths = args.depths.split(",").map((d) => Number(d.trim()));
if (depths.some((d) => !Number.isInteger(d) || d < 8 || (d - 2) % 6 !== 0)) {
  console.error(
    `error: --depths must be CIFAR depths 6n+2 (20, 32, 44, 56, 110), got ${args.depths}`,
  );
  Deno.exit(2);
}
const nets = args.nets.split(",").map((n) => n.trim());
const bad = nets.filter((n) => !(NETS as readonly string[]).includes(n));
if (bad.length || !nets.length) {
  console.error(`error: --nets takes plain, resnet or plain,resnet; got ${args.nets}`);
  Deno.exit(2);
}
const data = args.data ?? (fashionMnistAvailable() ? "fashion-mnist" : "synthetic");
// Ctrl-C checkpoints the net in training and stops; --resume continues from there.
const study = runDegradationStudy({
  data,
  depths,
  epochs: args.epochs,
  subset: args.subset,
  testSubset: args.testSubset,
  batch: args.batch,
  lr: args.lr,
  seed: args.seed,
  out: args.out,
  gradNormEvery: args.gradNormEvery,
  warmup: args.warmup,
  nets: nets as (typeof NETS)[number][],
  resume: args.resume,
}, { handleSigint: true });
const runs = await study.catch((e) => {
  if (e instanceof StudyInterrupted) {
    console.error(`interrupted: ${e.message}`);
    Deno.exit(130);
  }
  exitOnError(e);
});
for (const r of runs) {
  console.log(
    `${r.name.padEnd(9)} train error ${r.finalTrainError.toFixed(2)}%  test error ${
      (100 * (1 - r.summary.testAccuracy)).toFixed(2)
    }%`,
  );
}
console.log(`report: ${args.out}/report.md, curves.svg, gradients.svg`);
