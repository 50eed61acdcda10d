import assert from "node:assert/strict";
import {
  ArgsError,
  defineFlags,
  formatHelp,
  HelpRequested,
  parseArgs,
} from "../../src/app/args.ts";

const spec = defineFlags({
  model: {
    type: "enum",
    values: ["resnet20", "plain20", "resnet56"],
    default: "resnet20",
    help: "Model",
  },
  lr: { type: "number", default: 0.1, help: "Peak learning rate" },
  epochs: { type: "int", default: 160, min: 1, help: "Epochs" },
  name: { type: "string", help: "Run name", required: true },
  tag: { type: "string", help: "Optional tag" },
  augment: { type: "boolean", default: true, help: "Random crop + flip" },
  dryRun: { type: "boolean", help: "Build only" },
  shuffle: { type: "boolean", optional: true, help: "Shuffle (unset: per data set)" },
});

const errorOf = (argv: string[]): string => {
  try {
    parseArgs(spec, argv);
  } catch (e) {
    assert.ok(e instanceof ArgsError, `expected ArgsError, got ${e}`);
    return e.message;
  }
  assert.fail(`no error for ${argv.join(" ")}`);
};

Deno.test("args: defaults, both value forms, booleans, typed result", () => {
  const a = parseArgs(spec, ["--name", "r1"]);
  assert.deepEqual(a, {
    model: "resnet20",
    lr: 0.1,
    epochs: 160,
    name: "r1",
    tag: undefined,
    augment: true,
    dryRun: false,
    shuffle: undefined,
  });
  const b = parseArgs(spec, [
    "--name=r2",
    "--model",
    "plain20",
    "--lr=1e-3",
    "--epochs",
    "3",
    "--no-augment",
    "--dry-run",
    "--tag",
    "-x",
  ]);
  assert.equal(b.model, "plain20");
  assert.equal(b.lr, 0.001);
  assert.equal(b.epochs, 3);
  assert.equal(b.augment, false);
  assert.equal(b.dryRun, true);
  assert.equal(b.tag, "-x"); // single-dash values are values, not flags
  assert.equal(parseArgs(spec, ["--name", "x", "--augment=false"]).augment, false);
  // An optional boolean tells "absent" apart from both values.
  assert.equal(parseArgs(spec, ["--name", "x", "--shuffle"]).shuffle, true);
  assert.equal(parseArgs(spec, ["--name", "x", "--no-shuffle"]).shuffle, false);
  assert.equal(parseArgs(spec, ["--name", "x", "--shuffle=0"]).shuffle, false);
  // Type-level checks: these assignments must compile.
  const m: "resnet20" | "plain20" | "resnet56" = b.model;
  const n: string = b.name;
  const t: string | undefined = b.tag;
  const e: number = b.epochs;
  const s: boolean | undefined = b.shuffle;
  assert.ok(m && n && e && t && s === undefined);
});

Deno.test("args: every error kind names the flag", () => {
  assert.match(errorOf(["--name", "x", "--lrr", "1"]), /unknown flag --lrr; did you mean --lr\?/);
  assert.match(errorOf(["--name", "x", "--bogus"]), /^unknown flag --bogus \(see --help\)$/);
  assert.match(errorOf(["--name"]), /--name: missing value/);
  assert.match(errorOf(["--name", "x", "--lr", "--epochs", "2"]), /--lr: missing value/);
  assert.match(errorOf(["--name", "x", "--lr", "fast"]), /--lr: expected a number, got "fast"/);
  assert.match(errorOf(["--name", "x", "--lr", ""]), /--lr: expected a number/);
  assert.match(errorOf(["--name", "x", "--epochs", "2.5"]), /--epochs: expected an integer/);
  assert.match(errorOf(["--name", "x", "--epochs", "0"]), /--epochs: must be >= 1/);
  assert.match(
    errorOf(["--name", "x", "--model", "vgg"]),
    /--model: invalid value "vgg"; allowed values: resnet20, plain20, resnet56/,
  );
  assert.match(errorOf([]), /--name is required/);
  assert.match(errorOf(["--name", "x", "--augment=maybe"]), /--augment: expected true or false/);
  assert.match(errorOf(["--name", "x", "--no-augment=1"]), /--no-augment takes no value/);
  assert.match(errorOf(["--name", "x", "--no-lr"]), /unknown flag --no-lr/);
  assert.match(errorOf(["--name", "x", "extra"]), /unexpected argument "extra"/);
});

Deno.test("args: --help lists every flag with its default", () => {
  let help = "";
  try {
    parseArgs(spec, ["--lr", "oops", "--help"].slice(2), "usage: train [flags]");
  } catch (e) {
    assert.ok(e instanceof HelpRequested);
    help = e.text;
  }
  assert.equal(help, formatHelp(spec, "usage: train [flags]"));
  assert.match(help, /^usage: train \[flags\]/);
  assert.match(help, /--model <resnet20\|plain20\|resnet56>\s+Model \(default: "resnet20"\)/);
  assert.match(help, /--lr <number>\s+Peak learning rate \(default: 0\.1\)/);
  assert.match(help, /--epochs <int>\s+Epochs \(default: 160\)/);
  assert.match(help, /--name <string>\s+Run name \(required\)/);
  assert.match(help, /--tag <string>\s+Optional tag \(default: none\)/);
  assert.match(help, /--\[no-\]augment\s+Random crop \+ flip \(default: true\)/);
  assert.match(help, /--\[no-\]dry-run\s+Build only \(default: false\)/);
  assert.match(help, /--\[no-\]shuffle\s+Shuffle \(unset: per data set\)\n/);
  assert.match(help, /--help/);
});

Deno.test("args: a number flag with a bare value takes it alone, or the number after it", () => {
  const spec = defineFlags({
    dashboard: { type: "int", min: 0, bare: 8765, help: "port" },
    epochs: { type: "int", default: 3, help: "epochs" },
  });
  assert.equal(parseArgs(spec, ["--dashboard"]).dashboard, 8765);
  assert.deepEqual(parseArgs(spec, ["--dashboard", "--epochs", "2"]), {
    dashboard: 8765,
    epochs: 2,
  });
  assert.equal(parseArgs(spec, ["--dashboard", "9000"]).dashboard, 9000);
  assert.equal(parseArgs(spec, ["--dashboard=0"]).dashboard, 0);
  assert.equal(parseArgs(spec, []).dashboard, undefined);
  assert.throws(() => parseArgs(spec, ["--epochs"]), /--epochs: missing value/);
});
