/**
 * examples/serve.ts: concurrent requests are batched onto one Predictor and answered as a direct
 * Predictor call answers each image; bad requests get a 4xx with a message and the service keeps
 * serving.
 */
import assert from "node:assert/strict";
import { GPU_TEST, runtime } from "../helpers/gpu.ts";
import { Rng } from "../helpers/rand.ts";
import { buildModel } from "../../src/zoo/registry.ts";
import { Model } from "../../src/model/model.ts";
import { Predictor, type TopClass } from "../../src/infer/predictor.ts";
import { saveWeightsFile } from "../../src/io/weights_file.ts";
import { serve } from "../../examples/serve.ts";
import { encodePng, pattern, TINY_JPEG } from "../helpers/images.ts";
import {
  applyTransform,
  decodeImage,
  evalTransformFor,
  Rng as ImageRng,
  toRgb,
  transformPreset,
} from "../../images.ts";

Deno.test({
  name: "example serve: concurrent requests batched onto one Predictor; bad requests get a 4xx",
  ...GPU_TEST,
  async fn() {
    const rt = await runtime();
    const dir = await Deno.makeTempDir();
    const shape: [number, number, number] = [3, 12, 12];
    const model = Model.create(rt, buildModel("resnet8", { inputShape: shape, classes: 5 }), {
      name: "resnet8",
      seed: 2,
      preprocessing: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2], classNames: [..."abcde"] },
    });
    const weights = `${dir}/w.safetensors`;
    await saveWeightsFile(model, weights);
    const per = shape[0] * shape[1] * shape[2];
    const rng = new Rng(3);
    const images = Array.from(
      { length: 7 },
      () => Uint8Array.from({ length: per }, () => rng.int(256)),
    );
    const predictor = await Predictor.create(model, { input: "pixels" });
    const want: TopClass[][] = [];
    for (const img of images) want.push((await predictor.topK(img, 1, 3))[0]);
    // Image files: torchvision's eval transform with the model's normalization, done here.
    const files = [encodePng(20, 16, 3, pattern(20, 16, 3, 4)), TINY_JPEG] as Uint8Array<
      ArrayBuffer
    >[];
    const fileWant: TopClass[][] = [];
    for (const f of files) {
      const x = new Float32Array(per);
      const t = evalTransformFor(
        transformPreset("torchvision", { size: 12, mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] }),
      );
      applyTransform(toRgb(decodeImage(f)), t, new ImageRng(0), x, 0);
      fileWant.push((await predictor.topK(x, 1, 3, { input: "normalized" }))[0]);
    }
    predictor.dispose();

    const server = await serve({ weights, port: 0, maxBatch: 4, waitMs: 20, maxFileMb: 0.01 });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const post = (body: BodyInit, query = "?top=3", headers: HeadersInit = {}) =>
        fetch(`${base}/predict${query}`, { method: "POST", body, headers });
      const responses = await Promise.all(images.map((img) => post(img)));
      for (const [i, r] of responses.entries()) {
        assert.equal(r.status, 200);
        const { top } = await r.json();
        assert.deepEqual(top.map((t: { index: number }) => t.index), want[i].map((t) => t.index));
        assert.deepEqual(top.map((t: { label: string }) => t.label), want[i].map((t) => t.label));
        top.forEach((t: { probability: number }, k: number) =>
          assert.ok(Math.abs(t.probability - want[i][k].probability) < 1e-5)
        );
      }
      // PNG and JPEG files, decoded and transformed by the service, batched with each other.
      const fileResponses = await Promise.all(
        files.map((f, i) => post(f, "?top=3", { "Content-Type": i ? "image/jpeg" : "image/png" })),
      );
      for (const [i, r] of fileResponses.entries()) {
        assert.equal(r.status, 200);
        const { top } = await r.json();
        assert.deepEqual(
          top.map((t: { index: number }) => t.index),
          fileWant[i].map((t) => t.index),
        );
        top.forEach((t: { probability: number }, k: number) =>
          assert.ok(Math.abs(t.probability - fileWant[i][k].probability) < 1e-5)
        );
      }
      const health = await (await fetch(`${base}/health`)).json();
      assert.equal(health.requests, 9);
      assert.ok(health.batches < 9, `9 requests in ${health.batches} batches`);
      assert.deepEqual(health.inputShape, shape);

      // Bad requests: status and message; nothing crashes.
      const bad: [Promise<Response>, number, RegExp][] = [
        [post(images[0].subarray(1)), 400, /the body has 431 bytes; one image is 12×12×3 = 432/],
        [post(new Uint8Array(per + 1)), 413, /at least 433 bytes; one image is at most 432/],
        [post(new Uint8Array(10 * per)), 413, /one image is at most 432/],
        [post(files[0].subarray(0, 40), "", { "Content-Type": "image/png" }), 400, /PNG/],
        [
          post(images[0], "", { "Content-Type": "image/png" }),
          400,
          /not a PNG or JPEG|unknown|format/i,
        ],
        [
          post(new Uint8Array(20000), "", { "Content-Type": "image/jpeg" }),
          413,
          /an image file is at most 10485/,
        ],
        [post(images[0], "?top=0"), 400, /top must be an integer in 1…5, got "0"/],
        [post(images[0], "?top=x"), 400, /top must be an integer in 1…5, got "x"/],
        [post(images[0], "", { "X-Layout": "nhwc" }), 400, /X-Layout must be hwc or chw/],
        [fetch(`${base}/predict`), 405, /use POST \/predict/],
        [fetch(`${base}/nope`), 404, /no \/nope; POST \/predict/],
      ];
      for (const [res, status, pattern] of bad) {
        const r = await res;
        assert.equal(r.status, status);
        assert.match((await r.json()).error, pattern);
      }
      // Still serving, in CHW too.
      const chw = new Uint8Array(per);
      const [c, h, w] = shape;
      for (let k = 0; k < c; k++) {
        for (let p = 0; p < h * w; p++) chw[k * h * w + p] = images[1][p * c + k];
      }
      const again = await post(chw, "?top=3", { "X-Layout": "chw" });
      assert.equal(again.status, 200);
      assert.deepEqual(
        (await again.json()).top.map((t: { index: number }) => t.index),
        want[1].map((t) => t.index),
      );
    } finally {
      await server.shutdown();
      model.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
