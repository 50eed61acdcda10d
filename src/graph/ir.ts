/**
 * The network description the scheduler plans: a list of nodes in topological order, each with
 * its output shape inferred when it is added. Models are written against {@link GraphBuilder};
 * nothing here touches the GPU, so the zoo, parameter counts and MACs are plain TypeScript.
 *
 * Layout: activations are NCHW (batch left symbolic), "features" are N×F. Parameter names are
 * torchvision `state_dict` names: a node's `name` is its module path (e.g. `layer1.0.conv1`).
 */
import { windowOutSize } from "../shapes.ts";

/** Per-sample activation shape: [C, H, W] for images, [F] for feature vectors. */
export type SampleShape = readonly number[];

/** A parameter or buffer a graph declares: its torchvision name, shape and kind. */
export interface ParamSpec {
  /** torchvision state_dict name, e.g. `layer1.0.bn1.weight`. */
  name: string;
  /** Dimensions (conv OIHW, linear [out, in], BN [C]). */
  shape: readonly number[];
  /** Buffers (BN running stats) are state but not trained. */
  kind: "weight" | "bias" | "bn_weight" | "bn_bias" | "running_mean" | "running_var";
}

/** What every {@link GraphNode} has: id, module path, inputs and output shape. */
export interface GraphNodeBase {
  /** Index in {@link Graph.nodes}. */
  id: number;
  /** Module path; unique for nodes that own parameters. */
  name: string;
  /** Ids of the nodes it reads. */
  inputs: number[];
  /** Its output shape for one sample. */
  shape: SampleShape;
}

/** One layer of a {@link Graph}: an op with its settings. */
export type GraphNode =
  & GraphNodeBase
  & (
    | { op: "input" }
    | {
      op: "conv2d";
      outChannels: number;
      kernel: number;
      stride: number;
      padding: number;
      bias: boolean;
    }
    | { op: "batchnorm"; eps: number; momentum: number }
    | { op: "relu" }
    | { op: "maxpool"; kernel: number; stride: number; padding: number }
    | { op: "avgpool"; kernel: number; stride: number; padding: number }
    /** Adaptive average pool to a fixed output size (VGG's 7×7, ResNet's 1×1). */
    | { op: "adaptive_avgpool"; outH: number; outW: number }
    /** relu(a + b): the residual join. */
    | { op: "add_relu" }
    /**
     * Option-A shortcut: keep pixels (i·stride, j·stride), then zero-pad channels to `outChannels`,
     * floor((out − in)/2) zero channels before the input channels and the rest after (as the
     * widely used CIFAR implementation does with `F.pad(x[:, :, ::2, ::2], …)`).
     */
    | { op: "shortcut_a"; outChannels: number; stride: number }
    | { op: "flatten" }
    | { op: "linear"; outFeatures: number; bias: boolean }
    | { op: "dropout"; p: number }
  );

/** The op kinds a graph can hold. */
export type OpName = GraphNode["op"];

/** A node before it has an id (Omit distributed over the union so each op keeps its fields). */
export type NewNode = GraphNode extends infer N ? N extends GraphNode ? Omit<N, "id"> : never
  : never;

/**
 * A network: its layers in topological order, its parameters by torchvision name, its input
 * shape and class count. Built by the zoo ({@link buildModel}) or a {@link GraphBuilder}; pure data,
 * no GPU.
 */
export interface Graph {
  /** Layers in topological order (node i's inputs come before it). */
  nodes: GraphNode[];
  /** Parameters and BN buffers, in torchvision's state_dict order. */
  params: ParamSpec[];
  /** Node whose output is the logits (N × classes). */
  output: number;
  /** Shape of one input sample ([C, H, W]). */
  inputShape: SampleShape;
  /** Classes the output scores. */
  classes: number;
}

/**
 * Builds a {@link Graph}, inferring shapes and failing early on inconsistent wiring. Each method
 * adds a layer reading earlier nodes by id and returns the new node's id.
 *
 * @example A small CNN
 * ```ts
 * import { countParameters, GraphBuilder } from "@resgpu/resgpu";
 * const g = new GraphBuilder([1, 28, 28]);
 * let x = g.relu(g.batchnorm("bn1", g.conv2d("conv1", g.input, 8, { kernel: 3, padding: 1 })));
 * x = g.flatten(g.adaptiveAvgpool(x, 1, 1));
 * const graph = g.finish(g.linear("fc", x, 10));
 * console.log(countParameters(graph)); // 72 + 16 + 90 = 178
 * ```
 */
export class GraphBuilder {
  /** Nodes added so far. */
  readonly nodes: GraphNode[] = [];
  /** Parameters declared so far. */
  readonly params: ParamSpec[] = [];
  private names = new Set<string>();

  /** A graph whose input (node 0) is one sample of `inputShape` ([C, H, W]). */
  constructor(readonly inputShape: SampleShape) {
    if (inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`input shape must be [C, H, W] positive integers, got [${inputShape}]`);
    }
    this.nodes.push({ id: 0, name: "input", inputs: [], shape: [...inputShape], op: "input" });
  }

  /** The input node's id (0). */
  get input(): number {
    return 0;
  }

  /** Output shape of node `id` for one sample. */
  shapeOf(id: number): SampleShape {
    return this.node(id).shape;
  }

  /** A square convolution `name` of `x` to `outChannels` (weight; bias when asked). */
  conv2d(
    name: string,
    x: number,
    outChannels: number,
    o: { kernel: number; stride?: number; padding?: number; bias?: boolean },
  ): number {
    const [c, h, w] = this.image(x, name);
    const stride = o.stride ?? 1, padding = o.padding ?? 0, bias = o.bias ?? false;
    const oh = windowOutSize(h, o.kernel, stride, padding),
      ow = windowOutSize(w, o.kernel, stride, padding);
    if (oh < 1 || ow < 1) {
      throw new Error(`${name}: ${o.kernel}×${o.kernel} conv on ${h}×${w} input leaves no output`);
    }
    this.param(name, "weight", [outChannels, c, o.kernel, o.kernel], "weight");
    if (bias) this.param(name, "bias", [outChannels], "bias");
    return this.add({
      op: "conv2d",
      name,
      inputs: [x],
      shape: [outChannels, oh, ow],
      outChannels,
      kernel: o.kernel,
      stride,
      padding,
      bias,
    });
  }

  /** Batch norm `name` over `x`'s channels (weight, bias and running statistics). */
  batchnorm(name: string, x: number, eps = 1e-5, momentum = 0.1): number {
    const [c] = this.image(x, name);
    this.param(name, "weight", [c], "bn_weight");
    this.param(name, "bias", [c], "bn_bias");
    this.param(name, "running_mean", [c], "running_mean");
    this.param(name, "running_var", [c], "running_var");
    return this.add({ op: "batchnorm", name, inputs: [x], shape: this.shapeOf(x), eps, momentum });
  }

  /** max(x, 0). */
  relu(x: number, name = ""): number {
    return this.add({ op: "relu", name, inputs: [x], shape: this.shapeOf(x) });
  }

  /** Max pooling. */
  maxpool(x: number, kernel: number, stride: number, padding = 0, name = ""): number {
    const [c, h, w] = this.image(x, name || "maxpool");
    const shape = [
      c,
      windowOutSize(h, kernel, stride, padding),
      windowOutSize(w, kernel, stride, padding),
    ];
    return this.add({ op: "maxpool", name, inputs: [x], shape, kernel, stride, padding });
  }

  /** Average pooling (padding counts as zeros, as torch's default). */
  avgpool(x: number, kernel: number, stride: number, padding = 0, name = ""): number {
    const [c, h, w] = this.image(x, name || "avgpool");
    const shape = [
      c,
      windowOutSize(h, kernel, stride, padding),
      windowOutSize(w, kernel, stride, padding),
    ];
    return this.add({ op: "avgpool", name, inputs: [x], shape, kernel, stride, padding });
  }

  /** Adaptive average pooling to `outH`×`outW`. */
  adaptiveAvgpool(x: number, outH: number, outW: number, name = "avgpool"): number {
    const [c] = this.image(x, name);
    return this.add({
      op: "adaptive_avgpool",
      name,
      inputs: [x],
      shape: [c, outH, outW],
      outH,
      outW,
    });
  }

  /** relu(a + b): the residual join (shapes must match). */
  addRelu(a: number, b: number, name = ""): number {
    const sa = this.shapeOf(a), sb = this.shapeOf(b);
    if (sa.join() !== sb.join()) {
      throw new Error(`${name || "add_relu"}: branch shapes differ: [${sa}] vs [${sb}]`);
    }
    return this.add({ op: "add_relu", name, inputs: [a, b], shape: sa });
  }

  /** Option-A shortcut: subsample by `stride`, zero-pad channels to `outChannels`. */
  shortcutA(x: number, outChannels: number, stride: number, name = ""): number {
    const [c, h, w] = this.image(x, name || "shortcut");
    if (outChannels < c) throw new Error(`${name}: option A cannot reduce ${c} → ${outChannels}`);
    const shape = [outChannels, Math.ceil(h / stride), Math.ceil(w / stride)];
    return this.add({ op: "shortcut_a", name, inputs: [x], shape, outChannels, stride });
  }

  /** [C, H, W] → [C·H·W]. */
  flatten(x: number): number {
    const s = this.shapeOf(x);
    return this.add({
      op: "flatten",
      name: "",
      inputs: [x],
      shape: [s.reduce((a, b) => a * b, 1)],
    });
  }

  /** Fully connected layer `name` to `outFeatures`. */
  linear(name: string, x: number, outFeatures: number, bias = true): number {
    const s = this.shapeOf(x);
    if (s.length !== 1) throw new Error(`${name}: linear needs a flattened input, got [${s}]`);
    this.param(name, "weight", [outFeatures, s[0]], "weight");
    if (bias) this.param(name, "bias", [outFeatures], "bias");
    return this.add({ op: "linear", name, inputs: [x], shape: [outFeatures], outFeatures, bias });
  }

  /** Dropout with drop probability `p` (training only). */
  dropout(x: number, p: number): number {
    return this.add({ op: "dropout", name: "", inputs: [x], shape: this.shapeOf(x), p });
  }

  /** The graph, with node `output` as the logits (N × classes). */
  finish(output: number): Graph {
    const s = this.shapeOf(output);
    if (s.length !== 1) throw new Error(`graph output must be N×classes, got [${s}]`);
    return {
      nodes: this.nodes,
      params: this.params,
      output,
      inputShape: this.inputShape,
      classes: s[0],
    };
  }

  /** Node `id`, or an error naming it. */
  private node(id: number): GraphNode {
    const n = this.nodes[id];
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** `x`'s [C, H, W], or an error naming the layer that needed an image. */
  private image(x: number, name: string): readonly [number, number, number] {
    const s = this.shapeOf(x);
    if (s.length !== 3) throw new Error(`${name}: needs a [C, H, W] input, got [${s}]`);
    return [s[0], s[1], s[2]];
  }

  /** Declares `module.leaf`; a repeated name is an error. */
  private param(module: string, leaf: string, shape: number[], kind: ParamSpec["kind"]): void {
    const name = `${module}.${leaf}`;
    if (this.names.has(name)) throw new Error(`duplicate parameter ${name}`);
    this.names.add(name);
    this.params.push({ name, shape, kind });
  }

  /** Appends `n` with the next id. */
  private add(n: NewNode): number {
    const id = this.nodes.length;
    this.nodes.push({ ...n, id } as GraphNode);
    return id;
  }
}

/** Trainable parameter count (excludes BN running statistics), as torchvision reports it. */
export function countParameters(g: Graph): number {
  return g.params
    .filter((p) => p.kind !== "running_mean" && p.kind !== "running_var")
    .reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
}

/** Multiply-accumulates of one forward pass for one sample (conv and linear layers). */
export function countMacs(g: Graph): number {
  let macs = 0;
  for (const n of g.nodes) {
    if (n.op === "conv2d") {
      const cin = g.nodes[n.inputs[0]].shape[0];
      macs += n.shape[0] * n.shape[1] * n.shape[2] * cin * n.kernel * n.kernel;
    } else if (n.op === "linear") {
      macs += n.outFeatures * g.nodes[n.inputs[0]].shape[0];
    }
  }
  return macs;
}

/** Layers with weights, as the paper counts depth (convolutions and fully connected). */
export function countWeightLayers(g: Graph): number {
  return g.nodes.filter((n) => n.op === "conv2d" || n.op === "linear").length;
}
