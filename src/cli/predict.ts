/**
 * `deno task predict --weights FILE [flags] IMAGE…|DIR…`: the top classes of image files with a
 * model from a run's checkpoint or a weights file. Text (one line per image) or `--json` (one JSON
 * document) on stdout; notes, progress and skipped files on stderr. Exit status 0 when images
 * were predicted, 1 when none could be, 2 for a bad command line or input.
 */
import { defineFlags, parseArgsOrExit } from "../app/args.ts";
import { type ImagePrediction, predictImages, type PredictResult } from "../app/predict.ts";
import { listModels } from "../zoo/registry.ts";
import { exitOnError } from "./errors.ts";

const USAGE = "deno task predict --weights FILE [flags] IMAGE… | DIR…";

const flags = defineFlags({
  weights: {
    type: "string",
    required: true,
    help: "a run's checkpoint.safetensors or a weights file (saveWeights, tools/resgpu_torch.py)",
  },
  top: { type: "int", default: 5, min: 1, help: "classes shown per image, at most the model's" },
  json: {
    type: "boolean",
    default: false,
    help: "print one JSON document: every prediction and every skipped file with its reason",
  },
  batch: { type: "int", default: 16, min: 1, help: "images per GPU call" },
  model: {
    type: "string",
    help: `the model, for a file that does not name it (${listModels().slice(0, 5).join(", ")}, …)`,
  },
  imageSize: {
    type: "int",
    min: 8,
    help: "network input side (unset: the file's stored input shape, else the model's own)",
  },
  resize: {
    type: "int",
    min: 1,
    help: "shorter side before the center crop (unset: as the model was evaluated: an image-" +
      "folder run's eval transform, the side itself for other runs, round(side × 256/224) for " +
      "weights files)",
  },
  workers: { type: "int", min: 1, help: "decode workers (unset: the machine's cores)" },
  onBadImage: {
    type: "enum",
    values: ["skip", "fail"],
    default: "skip",
    help: "a file that fails to decode is skipped (named, counted at the end) or stops the run",
  },
});

// Flags first or anywhere; every argument that is not a flag or a flag's value is an image path.
const flagArgs: string[] = [], paths: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  if (a === "--") {
    paths.push(...Deno.args.slice(i + 1));
    break;
  }
  if (!a.startsWith("--")) {
    paths.push(a);
    continue;
  }
  flagArgs.push(a);
  const name = a.slice(2).replace(/-(\w)/g, (_, ch) => ch.toUpperCase());
  const spec = flags[name as keyof typeof flags];
  // A flag that takes a value takes the next argument.
  if (!a.includes("=") && spec && spec.type !== "boolean" && i + 1 < Deno.args.length) {
    flagArgs.push(Deno.args[++i]);
  }
}
const args = parseArgsOrExit(flags, flagArgs, USAGE);
if (paths.length === 0) {
  console.error(`error: no images given\nusage: ${USAGE}`);
  Deno.exit(2);
}

const encoder = new TextEncoder();
const stderr = (text: string) => Deno.stderr.writeSync(encoder.encode(text));
const note = (m: string) => stderr(`note: ${m}\n`);

function line(p: ImagePrediction): string {
  const classes = p.top.map((t) =>
    `${t.name ?? `class ${t.index}`} ${(100 * t.probability).toFixed(2)}%`
  );
  return `${p.file}: ${classes.join(", ")}`;
}

let result: PredictResult;
try {
  result = await predictImages({
    weights: args.weights,
    inputs: paths,
    // The default is capped silently; a --top above the classes gets a note.
    top: flagArgs.some((a) => a === "--top" || a.startsWith("--top=")) ? args.top : undefined,
    batchSize: args.batch,
    model: args.model,
    imageSize: args.imageSize,
    resize: args.resize,
    workers: args.workers,
    onBadImage: args.onBadImage,
  }, {
    note,
    progress: stderr,
    tty: Deno.stderr.isTerminal(),
    onPredictions: args.json ? undefined : (ps) => {
      for (const p of ps) console.log(line(p));
    },
  });
} catch (e) {
  exitOnError(
    e,
    "`deno task predict` may read any file and write none; run it with " +
      "`deno run --allow-read --allow-env src/cli/predict.ts …` if that was not enough",
  );
}

const n = result.predictions.length;
if (args.json) {
  console.log(JSON.stringify({
    weights: result.weights,
    model: result.model,
    inputShape: result.inputShape,
    classNames: result.classNames,
    predictions: result.predictions,
    skipped: result.skipped,
  }));
} else {
  for (const s of result.skipped) stderr(`skipped ${s.file}: ${s.reason}\n`);
}
stderr(
  `predicted ${n} image(s) in ${result.seconds.toFixed(1)} s ` +
    `(${(n / Math.max(result.seconds, 1e-9)).toFixed(1)} images/s, batch ${result.batchSize}, ` +
    `${result.model} on ${result.adapter})` +
    (result.skipped.length ? `; skipped ${result.skipped.length} file(s)` : "") + "\n",
);
if (n === 0) {
  stderr("error: no image could be predicted\n");
  Deno.exit(1);
}
