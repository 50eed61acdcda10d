/**
 * Which PNG and JPEG decoders resgpu should use: decode throughput (images/s, one core) of the
 * candidates on a 500×375 photo, alternating rounds in one process (median of 5 rounds of ~1 s),
 * and each one's largest difference from Pillow's pixels.
 *
 *   deno run --no-lock --allow-read --allow-write --allow-run --allow-net experiments/image-decoders/compare.ts [--json]
 *
 * The candidates are imported at run time (npm specifiers in variables), so they are no
 * dependency of resgpu. The choice and the figures are recorded in docs/IMAGES.md.
 */
import { decodeJpeg, decodePng } from "../../images.ts";

const dir = await Deno.makeTempDir({ prefix: "resgpu-decoders-" });
const gen = await new Deno.Command("/usr/bin/python3", {
  args: [new URL("photo.py", import.meta.url).pathname, dir],
}).output();
if (gen.code !== 0) throw new Error(new TextDecoder().decode(gen.stderr));
const file = (n: string) => Deno.readFileSync(`${dir}/${n}`);
const jpg = file("photo.jpg"), prog = file("photo_progressive.jpg"), png = file("photo.png");
const refs = new Map<Uint8Array, Uint8Array>([[jpg, file("photo.jpg.rgb")], [
  prog,
  file("photo_progressive.jpg.rgb"),
], [
  png,
  file("photo.png.rgb"),
]]);

type Pixels = { data: ArrayLike<number>; width: number; channels?: number };
// deno-lint-ignore no-explicit-any
const load = (spec: string): Promise<any> => import(spec);
const jpegjs = (await load("npm:jpeg-js@0.4.4")).default;
const jsqJpeg = (await load("npm:@jsquash/jpeg@1.6.0/decode.js")).default;
const cwasm = (await load("npm:@cwasm/jpeg-turbo@0.1.3")).default;
const fastPng = await load("npm:fast-png@8.0.0");
const jsqPng = (await load("npm:@jsquash/png@3.1.1/decode.js")).default;

const candidates: {
  name: string;
  format: string;
  input: Uint8Array;
  decode: () => Pixels | Promise<Pixels>;
}[] = [
  {
    name: "resgpu decodeJpeg (libjpeg-turbo 2.0 wasm)",
    format: "jpeg",
    input: jpg,
    decode: () => decodeJpeg(jpg),
  },
  {
    name: "resgpu decodeJpeg, progressive",
    format: "jpeg-progressive",
    input: prog,
    decode: () => decodeJpeg(prog),
  },
  {
    name: "jpeg-js 0.4.4 (pure JS)",
    format: "jpeg",
    input: jpg,
    decode: () => rgba(jpegjs.decode(jpg, { useTArray: true })),
  },
  {
    name: "jpeg-js 0.4.4, progressive",
    format: "jpeg-progressive",
    input: prog,
    decode: () => rgba(jpegjs.decode(prog, { useTArray: true })),
  },
  {
    name: "@jsquash/jpeg 1.6.0 (mozjpeg wasm)",
    format: "jpeg",
    input: jpg,
    decode: async () => rgba(await jsqJpeg(jpg)),
  },
  {
    name: "@cwasm/jpeg-turbo 0.1.3 (its wrapper)",
    format: "jpeg",
    input: jpg,
    decode: () => rgba(cwasm.decode(jpg)),
  },
  { name: "resgpu decodePng (node:zlib)", format: "png", input: png, decode: () => decodePng(png) },
  {
    name: "fast-png 8.0.0 (pure JS, fflate)",
    format: "png",
    input: png,
    decode: () => fastPng.decode(png),
  },
  {
    name: "@jsquash/png 3.1.1 (Rust png wasm)",
    format: "png",
    input: png,
    decode: async () => rgba(await jsqPng(png)),
  },
];

function rgba(img: { data: ArrayLike<number>; width: number }): Pixels {
  return { data: img.data, width: img.width, channels: 4 };
}

function maxDiff(p: Pixels, ref: ArrayLike<number>): number {
  const c = p.channels ?? 3;
  let max = 0;
  for (let i = 0; i < ref.length / 3; i++) {
    for (let k = 0; k < 3; k++) max = Math.max(max, Math.abs(p.data[i * c + k] - ref[i * 3 + k]));
  }
  return max;
}

const rates = new Map<string, number[]>(candidates.map((c) => [c.name, []]));
const diffs = new Map<string, number>();
for (const c of candidates) diffs.set(c.name, maxDiff(await c.decode(), refs.get(c.input)!));
for (let round = 0; round < 5; round++) {
  for (const c of candidates) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1000) {
      await c.decode();
      n++;
    }
    rates.get(c.name)!.push(n / ((performance.now() - t0) / 1000));
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const rows = candidates.map((c) => ({
  name: c.name,
  format: c.format,
  imagesPerSec: Math.round(median(rates.get(c.name)!) * 10) / 10,
  maxDiffFromPillow: diffs.get(c.name),
}));
await Deno.remove(dir, { recursive: true });
if (Deno.args.includes("--json")) {
  console.log(JSON.stringify({ date: new Date().toISOString(), rows }, null, 2));
} else {for (const r of rows) {
    console.log(
      `${r.name.padEnd(46)} ${
        String(r.imagesPerSec).padStart(7)
      } images/s  max |Δ| vs Pillow ${r.maxDiffFromPillow}`,
    );
  }}
