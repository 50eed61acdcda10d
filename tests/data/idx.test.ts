import assert from "node:assert/strict";
import { findIdxFile, readIdxImages, readIdxLabels, readIdxPair } from "../../src/data/idx.ts";
import { fashionMnistAvailable, loadDataset } from "../../src/data/dataset.ts";

function idx(dims: number[], data: Uint8Array, dtype = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out.set([0, 0, dtype, dims.length]);
  const v = new DataView(out.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

const pixels = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => i * 7);
const labels = Uint8Array.from([3, 0, 9]);

Deno.test("IDX images and labels parse, raw and gzipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/img`, idx([3, 2, 4], pixels));
    await Deno.writeFile(`${dir}/lab.gz`, await gzip(idx([3], labels)));
    await Deno.writeFile(`${dir}/img.gz`, await gzip(idx([3, 2, 4], pixels)));
    for (const name of ["img", "img.gz"]) {
      const im = await readIdxImages(`${dir}/${name}`);
      assert.equal(im.count, 3);
      assert.equal(im.height, 2);
      assert.equal(im.width, 4);
      assert.deepEqual(Array.from(im.data), Array.from(pixels));
    }
    const pair = await readIdxPair(`${dir}/img.gz`, `${dir}/lab.gz`);
    assert.deepEqual(Array.from(pair.labels), [3, 0, 9]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("IDX corrupt variants each give a clear error naming the file", async () => {
  const dir = await Deno.makeTempDir();
  const w = (name: string, b: Uint8Array) => Deno.writeFile(`${dir}/${name}`, b);
  try {
    await assert.rejects(readIdxImages(`${dir}/nope`), /nope: file not found/);

    const badMagic = idx([3, 2, 4], pixels);
    badMagic[0] = 0x12;
    await w("magic", badMagic);
    await assert.rejects(readIdxImages(`${dir}/magic`), /magic: wrong magic number 0x12000803/);
    // A labels file passed as images has the wrong dimension count in its magic.
    await w("labels-as-images", idx([3], labels));
    await assert.rejects(
      readIdxImages(`${dir}/labels-as-images`),
      /labels-as-images: wrong magic number 0x00000801 \(expected 0x00000803/,
    );

    await w("dtype", idx([3, 2, 4], pixels, 0x0d));
    await assert.rejects(readIdxImages(`${dir}/dtype`), /dtype: wrong dtype code 0x0d/);

    await w("trunc", idx([3, 2, 4], pixels).subarray(0, 16 + 20));
    await assert.rejects(
      readIdxImages(`${dir}/trunc`),
      /trunc: truncated data: expected 24 bytes for shape \[3, 2, 4\], got 20/,
    );
    await w("trunc.gz", await gzip(idx([3, 2, 4], pixels).subarray(0, 30)));
    await assert.rejects(readIdxImages(`${dir}/trunc.gz`), /trunc\.gz: truncated data/);

    const gz = await gzip(idx([3, 2, 4], pixels));
    await w("cut.gz", gz.subarray(0, gz.length - 12));
    await assert.rejects(readIdxImages(`${dir}/cut.gz`), /cut\.gz: corrupt gzip data/);

    await w("img", idx([3, 2, 4], pixels));
    await w("lab4", idx([4], Uint8Array.from([1, 2, 3, 4])));
    await assert.rejects(
      readIdxPair(`${dir}/img`, `${dir}/lab4`),
      /image\/label count mismatch: .*img has 3 images but .*lab4 has 4 labels/,
    );

    await w("range", idx([3], Uint8Array.from([1, 10, 2])));
    await assert.rejects(
      readIdxLabels(`${dir}/range`, 10),
      /range: label 10 at index 1 is out of range \(expected 0\.\.9\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an IDX directory is auto-detected and loaded as a Dataset", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idx([3, 2, 4], pixels));
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte.gz`, await gzip(idx([3], labels)));
    await Deno.writeFile(`${dir}/t10k-images.idx3-ubyte`, idx([1, 2, 4], pixels.subarray(0, 8)));
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx([1], labels.subarray(0, 1)));
    assert.equal(findIdxFile(dir, "t10k-images-idx3-ubyte"), `${dir}/t10k-images.idx3-ubyte`);
    assert.ok(fashionMnistAvailable(dir));
    const { train, test } = await loadDataset(dir);
    assert.equal(train.count, 3);
    assert.equal(test.count, 1);
    assert.deepEqual([train.channels, train.height, train.width, train.classes], [1, 2, 4, 10]);
    const sub = await loadDataset(dir, { subset: 2 });
    assert.equal(sub.train.count, 2);
    assert.equal(sub.train.images.length, 16);

    await Deno.remove(`${dir}/t10k-labels-idx1-ubyte`);
    assert.ok(!fashionMnistAvailable(dir));
    await assert.rejects(loadDataset(dir), /missing IDX file\(s\): t10k-labels-idx1-ubyte/);
    await assert.rejects(loadDataset(`${dir}/none`), /unknown data set/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "real Fashion-MNIST loads (60000/10000, labels 0..9)",
  ignore: !fashionMnistAvailable(),
  async fn() {
    const { train, test } = await loadDataset("fashion-mnist");
    assert.equal(train.count, 60000);
    assert.equal(test.count, 10000);
    assert.equal(train.images.length, 60000 * 784);
    assert.equal(train.classNames?.length, 10);
    for (const ds of [train, test]) {
      const hist = new Array(10).fill(0);
      for (const l of ds.labels) hist[l]++;
      // Fashion-MNIST is exactly balanced.
      assert.deepEqual(hist, new Array(10).fill(ds.count / 10));
    }
  },
});
