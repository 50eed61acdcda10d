/**
 * The network description the scheduler plans: a list of nodes in topological order, each with
 * its output shape inferred when it is added. Models are written against {@link GraphBuilder};
 * nothing here touches the GPU, so the zoo, parameter counts and MACs are plain TypeScript.
 *
 * Layout: activations are NCHW (batch left symbolic), "features" are N×F. Parameter names are
 * torchvision `state_dict` names: a node's `name` is its module path (e.g. `layer1.0.conv1`).
 */

/** Per-sample activation shape: [C, H, W] for images, [F] for feature vectors. */
export type SampleShape = readonly number[];

export interface ParamSpec {
  /** torchvision state_dict name, e.g. `layer1.0.bn1.weight`. */
  name: string;
  shape: readonly number[];
  /** Buffers (BN running stats) are state but not trained. */
  kind: "weight" | "bias" | "bn_weight" | "bn_bias" | "running_mean" | "running_var";
}

interface NodeBase {
  id: number;
  /** Module path; unique for nodes that own parameters. */
  name: string;
  inputs: number[];
  shape: SampleShape;
}

export type GraphNode =
  & NodeBase
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

export type OpName = GraphNode["op"];

/** A node before it has an id (Omit distributed over the union so each op keeps its fields). */
export type NewNode = GraphNode extends infer N ? N extends GraphNode ? Omit<N, "id"> : never
  : never;

export interface Graph {
  nodes: GraphNode[];
  params: ParamSpec[];
  /** Node whose output is the logits (N × classes). */
  output: number;
  inputShape: SampleShape;
  classes: number;
}

function convOut(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/** Builds a {@link Graph}, inferring shapes and failing early on inconsistent wiring. */
export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly params: ParamSpec[] = [];
  private names = new Set<string>();

  constructor(readonly inputShape: SampleShape) {
    if (inputShape.length !== 3 || inputShape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(`input shape must be [C, H, W] positive integers, got [${inputShape}]`);
    }
    this.nodes.push({ id: 0, name: "input", inputs: [], shape: [...inputShape], op: "input" });
  }

  get input(): number {
    return 0;
  }

  shapeOf(id: number): SampleShape {
    return this.node(id).shape;
  }

  conv2d(
    name: string,
    x: number,
    outChannels: number,
    o: { kernel: number; stride?: number; padding?: number; bias?: boolean },
  ): number {
    const [c, h, w] = this.image(x, name);
    const stride = o.stride ?? 1, padding = o.padding ?? 0, bias = o.bias ?? false;
    const oh = convOut(h, o.kernel, stride, padding), ow = convOut(w, o.kernel, stride, padding);
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

  batchnorm(name: string, x: number, eps = 1e-5, momentum = 0.1): number {
    const [c] = this.image(x, name);
    this.param(name, "weight", [c], "bn_weight");
    this.param(name, "bias", [c], "bn_bias");
    this.param(name, "running_mean", [c], "running_mean");
    this.param(name, "running_var", [c], "running_var");
    return this.add({ op: "batchnorm", name, inputs: [x], shape: this.shapeOf(x), eps, momentum });
  }

  relu(x: number, name = ""): number {
    return this.add({ op: "relu", name, inputs: [x], shape: this.shapeOf(x) });
  }

  maxpool(x: number, kernel: number, stride: number, padding = 0, name = ""): number {
    const [c, h, w] = this.image(x, name || "maxpool");
    const shape = [c, convOut(h, kernel, stride, padding), convOut(w, kernel, stride, padding)];
    return this.add({ op: "maxpool", name, inputs: [x], shape, kernel, stride, padding });
  }

  avgpool(x: number, kernel: number, stride: number, padding = 0, name = ""): number {
    const [c, h, w] = this.image(x, name || "avgpool");
    const shape = [c, convOut(h, kernel, stride, padding), convOut(w, kernel, stride, padding)];
    return this.add({ op: "avgpool", name, inputs: [x], shape, kernel, stride, padding });
  }

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

  addRelu(a: number, b: number, name = ""): number {
    const sa = this.shapeOf(a), sb = this.shapeOf(b);
    if (sa.join() !== sb.join()) {
      throw new Error(`${name || "add_relu"}: branch shapes differ: [${sa}] vs [${sb}]`);
    }
    return this.add({ op: "add_relu", name, inputs: [a, b], shape: sa });
  }

  shortcutA(x: number, outChannels: number, stride: number, name = ""): number {
    const [c, h, w] = this.image(x, name || "shortcut");
    if (outChannels < c) throw new Error(`${name}: option A cannot reduce ${c} → ${outChannels}`);
    const shape = [outChannels, Math.ceil(h / stride), Math.ceil(w / stride)];
    return this.add({ op: "shortcut_a", name, inputs: [x], shape, outChannels, stride });
  }

  flatten(x: number): number {
    const s = this.shapeOf(x);
    return this.add({
      op: "flatten",
      name: "",
      inputs: [x],
      shape: [s.reduce((a, b) => a * b, 1)],
    });
  }

  linear(name: string, x: number, outFeatures: number, bias = true): number {
    const s = this.shapeOf(x);
    if (s.length !== 1) throw new Error(`${name}: linear needs a flattened input, got [${s}]`);
    this.param(name, "weight", [outFeatures, s[0]], "weight");
    if (bias) this.param(name, "bias", [outFeatures], "bias");
    return this.add({ op: "linear", name, inputs: [x], shape: [outFeatures], outFeatures, bias });
  }

  dropout(x: number, p: number): number {
    return this.add({ op: "dropout", name: "", inputs: [x], shape: this.shapeOf(x), p });
  }

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

  private node(id: number): GraphNode {
    const n = this.nodes[id];
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  private image(x: number, name: string): readonly [number, number, number] {
    const s = this.shapeOf(x);
    if (s.length !== 3) throw new Error(`${name}: needs a [C, H, W] input, got [${s}]`);
    return [s[0], s[1], s[2]];
  }

  private param(module: string, leaf: string, shape: number[], kind: ParamSpec["kind"]): void {
    const name = `${module}.${leaf}`;
    if (this.names.has(name)) throw new Error(`duplicate parameter ${name}`);
    this.names.add(name);
    this.params.push({ name, shape, kind });
  }

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
