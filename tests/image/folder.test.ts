/**
 * Image folders: class and sample order as torchvision's ImageFolder (checked against it when
 * torchvision is installed), the validation split, what is skipped, and every bad layout.
 */
import assert from "node:assert/strict";
import { scanImageFolder } from "../../src/image/folder.ts";
import { encodePng, pattern } from "../helpers/images.ts";
import { pythonHas } from "../helpers/torch.ts";

async function makeTree(files: Record<string, Uint8Array | string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "resgpu-folder-" });
  for (const [rel, content] of Object.entries(files)) {
    const path = `${root}/${rel}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return root;
}

const png = encodePng(4, 3, 3, pattern(4, 3, 3));

Deno.test("folder: classes in code-point order, files as sorted(os.walk), skips counted", async () => {
  // "Zebra" < "apple" (upper case first), "é" after "z", a nested folder, odd extensions.
  const root = await makeTree({
    "apple/b.png": png,
    "apple/a.PNG": png,
    "apple/sub/c.jpg": png, // contents are not checked at scan time; the extension is
    "apple/notes.txt": "not an image",
    "Zebra/1.jpeg": png,
    "Zebra/pic.bmp": "BM",
    "é/x.png": png,
    "é/y.png": png,
    ".ipynb_checkpoints/z.png": png,
    "README.md": "hello",
  });
  try {
    const s = scanImageFolder(root, { valSplit: 0.5, seed: 0 });
    assert.deepEqual(s.classNames, ["Zebra", "apple", "é"]);
    assert.equal(s.source, "split");
    assert.deepEqual(s.skipped.nonImage, [`${root}/apple/notes.txt`]);
    assert.deepEqual(s.skipped.unsupported, [`${root}/Zebra/pic.bmp`]);
    assert.deepEqual(s.skipped.hiddenDirs, [`${root}/.ipynb_checkpoints`]);
    assert.deepEqual(s.skipped.outsideClasses, [`${root}/README.md`]);
    const all = [...s.train.files, ...s.val.files].sort();
    assert.equal(all.length, 6);
    // round(0.5·3) = 2 of apple's three and one of é's two go to validation; Zebra's only image
    // stays in training.
    assert.deepEqual([...s.val.labels].sort(), [1, 1, 2]);
    assert.ok(s.train.files.includes(`${root}/Zebra/1.jpeg`));
    // The split keeps torchvision's order within each part and depends only on the seed.
    assert.deepEqual(scanImageFolder(root, { valSplit: 0.5, seed: 0 }).val.files, s.val.files);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "folder: class indices and sample order equal torchvision's ImageFolder",
  ignore: !(await pythonHas("torchvision")),
  async fn() {
    const root = await makeTree({
      "b/2.png": png,
      "b/10.png": png,
      "b/x/a.png": png,
      "b/x y/a.png": png,
      "b/x-y/a.png": png,
      "a/Z.png": png,
      "a/z.png": png,
      "B/only.jpg": png,
    });
    try {
      const s = scanImageFolder(`${root}/`, { valSplit: 0.5 });
      const ours = [...s.train.files, ...s.val.files].map((f, i) => [
        f,
        i < s.train.files.length ? s.train.labels[i] : s.val.labels[i - s.train.files.length],
      ]);
      const out = await new Deno.Command("/usr/bin/python3", {
        args: [
          "-c",
          "import sys, json; from torchvision.datasets import ImageFolder; d = ImageFolder(sys.argv[1]); " +
          "print(json.dumps({'classes': d.classes, 'samples': d.samples}))",
          root,
        ],
        stdout: "piped",
      }).output();
      const tv = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(s.classNames, tv.classes);
      // Same samples with the same labels; torchvision's order is ours before the split.
      const byTv = (tv.samples as [string, number][]).map(([p, l]) => [p.replace(/\/\//g, "/"), l]);
      assert.deepEqual([...ours].sort(), [...byTv].sort());
      const order = byTv.map(([p]) => p);
      for (const part of [s.train.files, s.val.files]) {
        const idx = part.map((f) => order.indexOf(f));
        assert.deepEqual(
          idx,
          [...idx].sort((a, b) => a - b),
          "each part keeps torchvision's order",
        );
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("folder: train/ and val/ are used as given, and must have the same classes", async () => {
  const root = await makeTree({
    "train/cat/1.png": png,
    "train/dog/1.png": png,
    "val/cat/2.png": png,
    "val/dog/2.png": png,
  });
  try {
    const s = scanImageFolder(root);
    assert.equal(s.source, "folders");
    assert.deepEqual([s.train.files.length, s.val.files.length], [2, 2]);
    await Deno.mkdir(`${root}/val/bird`);
    await Deno.writeFile(`${root}/val/bird/1.png`, png);
    assert.throws(
      () => scanImageFolder(root),
      /train\/ and val\/ have different classes; only in val\/: "bird"/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("folder: bad layouts are named", async () => {
  assert.throws(
    () => scanImageFolder("/nonexistent/photos"),
    /\/nonexistent\/photos: no such file or directory/,
  );
  const root = await makeTree({ "cat/1.png": png, "dog/readme.txt": "x", "file.png": png });
  try {
    assert.throws(() => scanImageFolder(root), /class folder "dog" has no PNG or JPEG images/);
    assert.throws(() => scanImageFolder(`${root}/file.png`), /not a directory/);
    await Deno.remove(`${root}/cat/1.png`);
    assert.throws(
      () => scanImageFolder(root),
      /no PNG or JPEG images in any of its 2 class folders/,
    );
    const flat = await makeTree({ "1.png": png });
    assert.throws(() => scanImageFolder(flat), /no class folders/);
    await Deno.remove(flat, { recursive: true });
    const valOnly = await makeTree({ "val/cat/1.png": png });
    assert.throws(() => scanImageFolder(valOnly), /has val\/ but no train\//);
    await Deno.remove(valOnly, { recursive: true });
    const ok = await makeTree({ "cat/1.png": png, "dog/1.png": png });
    assert.throws(() => scanImageFolder(ok, { valSplit: 1 }), /val split must be in \(0, 1\)/);
    await Deno.remove(ok, { recursive: true });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
