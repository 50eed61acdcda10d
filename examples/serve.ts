/**
 * An HTTP inference service: one model, one Predictor, concurrent requests batched onto it.
 *
 *   deno run --allow-read --allow-net examples/serve.ts WEIGHTS.safetensors [--port 8080]
 *            [--max-batch 8] [--wait-ms 5] [--max-file-mb 20]
 *
 *   POST /predict?top=5   body: a PNG or JPEG file (`Content-Type: image/…`: decoded, resized and
 *                         center-cropped as torchvision's eval transform does), or one image as
 *                         raw uint8 pixels, H×W×C of the model's input size, row by row (HWC;
 *                         `X-Layout: chw` for channel planes)
 *                         → 200 {"top": [{"index", "label"?, "probability"}, …]}
 *   GET  /health          → 200 {"model", "inputShape", "classes", "requests", "batches"}
 *
 * Bad requests get a 4xx with a message and never reach the GPU: a wrong method (405) or path
 * (404), a body larger than one image or `--max-file-mb` (413, refused before it is read whole), a
 * body of the wrong size or an undecodable or oversized image file (400, the decoder's message), a
 * `top` outside 1…classes (400). Requests arriving together are run as one batch:
 * the first waits up to `--wait-ms` for others, up to `--max-batch` images per call.
 */
import {
  buildModel,
  loadWeights,
  Model,
  modelInfo,
  Predictor,
  Runtime,
  type TopClass,
  weightsInfo,
} from "../mod.ts";
import {
  applyTransform,
  decodeImage,
  evalTransformFor,
  ImageDecodeError,
  Rng,
  toGray,
  toRgb,
  transformPreset,
} from "../images.ts";

export interface ServeOptions {
  weights: string;
  /** 0 picks a free port. */
  port?: number;
  hostname?: string;
  maxBatch?: number;
  waitMs?: number;
  model?: string;
  /** Largest image file accepted, in MiB (default 20). */
  maxFileMb?: number;
}

export interface Server {
  port: number;
  /** Stops accepting, finishes what is queued, frees the GPU. */
  shutdown(): Promise<void>;
}

interface Job {
  /** Raw pixels (hwc, chw) or, for an image file, its transformed and normalized CHW floats. */
  x: Uint8Array | Float32Array;
  kind: "hwc" | "chw" | "normalized";
  top: number;
  resolve(t: TopClass[]): void;
  reject(e: unknown): void;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function serve(opts: ServeOptions): Promise<Server> {
  const bytes = await Deno.readFile(opts.weights);
  const info = weightsInfo(bytes, opts.weights);
  const name = opts.model ?? info.model;
  if (!name) throw new Error(`${opts.weights} names no model: pass --model`);
  const fc = info.tensors.find((t) => t.name === "fc.weight");
  const family = modelInfo(name).family;
  const rt = await Runtime.create();
  const model = Model.create(
    rt,
    buildModel(name, {
      inputShape: info.preprocessing ? [...info.preprocessing.inputShape] : undefined,
      classes: info.preprocessing?.classes ?? fc?.shape[0],
      ...(family === "imagenet-resnet" ? { stem: "imagenet" as const } : {}),
    }),
    { name },
  );
  loadWeights(model, bytes, { source: opts.weights });
  const maxBatch = opts.maxBatch ?? 8, waitMs = opts.waitMs ?? 5;
  const predictor = await Predictor.create(model, { maxBatch, input: "pixels" });
  const [c, h, w] = model.graph.inputShape, classes = model.graph.classes;
  const imageBytes = c * h * w;
  const stats = { requests: 0, batches: 0 };

  // The batcher: one predictor call at a time, over whatever queued meanwhile.
  const queue: Job[] = [];
  let running = false;
  const pump = async () => {
    if (running) return;
    running = true;
    while (queue.length > 0) {
      if (queue.length < maxBatch) await new Promise((r) => setTimeout(r, waitMs));
      // One input kind per call: take the jobs that share the first one's.
      const kind = queue[0].kind;
      const jobs: Job[] = [];
      for (let i = 0; i < queue.length && jobs.length < maxBatch;) {
        if (queue[i].kind === kind) jobs.push(...queue.splice(i, 1));
        else i++;
      }
      const x = kind === "normalized"
        ? new Float32Array(jobs.length * imageBytes)
        : new Uint8Array(jobs.length * imageBytes);
      jobs.forEach((j, i) => x.set(j.x, i * imageBytes));
      try {
        const k = Math.max(...jobs.map((j) => j.top));
        const tops = await predictor.topK(
          x,
          jobs.length,
          k,
          kind === "normalized" ? { input: "normalized" } : { input: "pixels", layout: kind },
        );
        stats.batches++;
        jobs.forEach((j, i) => j.resolve(tops[i].slice(0, j.top)));
      } catch (e) {
        for (const j of jobs) j.reject(e);
      }
    }
    running = false;
  };

  /** The body, refused past `limit` bytes without reading the rest. */
  const readBody = async (req: Request, limit: number, what: string): Promise<Uint8Array> => {
    const tooLarge = (n: number) =>
      new HttpError(413, `the body has at least ${n} bytes; ${what} is at most ${limit}`);
    const declared = Number(req.headers.get("content-length") ?? NaN);
    if (declared > limit) throw tooLarge(declared);
    const chunks: Uint8Array[] = [];
    let got = 0;
    if (req.body) {
      for await (const chunk of req.body) {
        if (got + chunk.length > limit) throw tooLarge(got + chunk.length);
        chunks.push(chunk);
        got += chunk.length;
      }
    }
    const out = new Uint8Array(got);
    chunks.reduce((at, ch) => (out.set(ch, at), at + ch.length), 0);
    return out;
  };
  // Image files: torchvision's eval transform (resize, center crop) with the model's
  // normalization, to the model's square input.
  const maxFile = (opts.maxFileMb ?? 20) * 2 ** 20;
  const fromFile = (bytes: Uint8Array): Float32Array => {
    if (h !== w) {
      throw new HttpError(415, `image files need a square input; this model takes ${h}×${w}`);
    }
    const { mean, std } = model.preprocessing;
    const t = evalTransformFor(
      transformPreset("torchvision", { size: h, mean: [...mean], std: [...std] }),
    );
    let img;
    try {
      img = decodeImage(bytes);
    } catch (e) {
      if (e instanceof ImageDecodeError) throw new HttpError(400, e.message);
      throw e;
    }
    const out = new Float32Array(imageBytes);
    applyTransform(c === 1 ? toGray(img) : toRgb(img), t, new Rng(0), out, 0);
    return out;
  };

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (url.pathname === "/health") {
      if (req.method !== "GET") throw new HttpError(405, "use GET /health");
      return Response.json({ model: name, inputShape: [c, h, w], classes, ...stats });
    }
    if (url.pathname !== "/predict") throw new HttpError(404, `no ${url.pathname}; POST /predict`);
    if (req.method !== "POST") throw new HttpError(405, "use POST /predict with the image bytes");
    const topParam = url.searchParams.get("top") ?? "5";
    const top = Number(topParam);
    if (!Number.isInteger(top) || top < 1 || top > classes) {
      throw new HttpError(400, `top must be an integer in 1…${classes}, got "${topParam}"`);
    }
    let job: Pick<Job, "x" | "kind">;
    if ((req.headers.get("content-type") ?? "").startsWith("image/")) {
      job = { x: fromFile(await readBody(req, maxFile, "an image file")), kind: "normalized" };
    } else {
      const layout = (req.headers.get("x-layout") ?? "hwc").toLowerCase();
      if (layout !== "hwc" && layout !== "chw") {
        throw new HttpError(400, `X-Layout must be hwc or chw, got "${layout}"`);
      }
      const pixels = await readBody(req, imageBytes, "one image");
      if (pixels.length !== imageBytes) {
        throw new HttpError(
          400,
          `the body has ${pixels.length} bytes; one image is ${h}×${w}×${c} = ${imageBytes} ` +
            "uint8 pixels (or send a PNG or JPEG with Content-Type: image/…)",
        );
      }
      job = { x: pixels, kind: layout };
    }
    stats.requests++;
    const result = await new Promise<TopClass[]>((resolve, reject) => {
      queue.push({ ...job, top, resolve, reject });
      pump();
    });
    return Response.json({ top: result });
  };

  const server = Deno.serve({
    port: opts.port ?? 8080,
    hostname: opts.hostname ?? "127.0.0.1",
    onListen: () => {},
  }, async (req) => {
    try {
      return await handle(req);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      return Response.json({ error: (e as Error).message }, { status });
    }
  });
  return {
    port: server.addr.port,
    async shutdown() {
      await server.shutdown();
      predictor.dispose();
      model.dispose();
      rt.dispose();
    },
  };
}

if (import.meta.main) {
  const args = [...Deno.args];
  const num = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i < 0 ? undefined : Number(args.splice(i, 2)[1]);
  };
  const port = num("port") ?? 8080, maxBatch = num("max-batch"), waitMs = num("wait-ms");
  const maxFileMb = num("max-file-mb");
  const [weights] = args;
  if (!weights) {
    console.error("usage: examples/serve.ts WEIGHTS.safetensors [--port 8080] [--max-batch 8]");
    Deno.exit(2);
  }
  try {
    const s = await serve({ weights, port, maxBatch, waitMs, maxFileMb });
    console.log(`serving ${weights} on http://127.0.0.1:${s.port}/predict`);
    Deno.addSignalListener("SIGINT", () => s.shutdown().then(() => Deno.exit(0)));
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
