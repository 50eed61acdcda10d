/**
 * Every PNG and JPEG variant against Pillow's decoding of the same file. The bound is zero: PNG is
 * lossless, and JPEG is decoded by the same library as Debian's Pillow (libjpeg-turbo) with the
 * same IDCT (accurate integer) and chroma upsampling (fancy), so any differing pixel is a bug.
 * Skipped without /usr/bin/python3 and Pillow (CI installs python3-pil).
 */
import assert from "node:assert/strict";
import { decodeImage, ImageDecodeError, toRgb } from "../../images.ts";
import { pythonHas, runPythonJson } from "../helpers/torch.ts";

interface Case {
  name: string;
  file: string;
  width: number;
  height: number;
  channels: 1 | 3;
  note: string;
}

const hasPil = await pythonHas("PIL", "numpy");

Deno.test({
  name: "images: every PNG and JPEG variant decodes to Pillow's pixels exactly",
  ignore: !hasPil,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "resgpu-images-" });
    try {
      const cases = await runPythonJson<Case[]>(
        new URL("../fixtures/images.py", import.meta.url),
        [dir],
      );
      assert.ok(cases.length >= 30, `${cases.length} cases`);
      for (const c of cases) {
        const img = decodeImage(await Deno.readFile(`${dir}/${c.file}`));
        const ref = await Deno.readFile(`${dir}/${c.name}.ref`);
        const ours = c.channels === 1 ? img : toRgb(img);
        const what = `${c.name} (${c.note})`;
        assert.equal(ours.channels, c.channels, `${what}: channels`);
        assert.deepEqual([ours.width, ours.height], [c.width, c.height], `${what}: size`);
        assert.equal(ours.data.length, ref.length, `${what}: length`);
        let bad = 0, first = -1;
        for (let i = 0; i < ref.length; i++) {
          if (ours.data[i] !== ref[i]) {
            if (first < 0) first = i;
            bad++;
          }
        }
        assert.equal(
          bad,
          0,
          `${what}: ${bad} of ${ref.length} samples differ from Pillow, first at ${first} ` +
            `(ours ${ours.data[first]}, Pillow ${ref[first]})`,
        );
      }
      // Pillow writes CMYK JPEGs (Adobe); they are refused from the header with a clear error.
      assert.throws(
        () => decodeImage(Deno.readFileSync(`${dir}/bad_cmyk.jpg`)),
        (e: unknown) =>
          e instanceof ImageDecodeError && /CMYK JPEG is not supported/.test(e.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
