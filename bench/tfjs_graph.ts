/**
 * A resgpu model graph run for inference by TensorFlow.js core ops on its WebGPU backend, with
 * resgpu's own weights: the same architecture node for node (so bench/infer.ts compares engines,
 * not networks). Each batch norm is folded into the convolution before it and the ReLU after it
 * fused, as TensorFlow.js's model converter does for inference (its best case); the result is
 * checked against resgpu's logits by the benchmark. Only the benchmark imports this.
 */
import { tf } from "./tfjs_resnet.ts";
import type { Graph, GraphNode } from "../src/graph/ir.ts";

interface FoldedConv {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D;
  stride: number;
  pad: number;
  /** The ReLU after its batch norm, fused. */
  relu: boolean;
}

/** The graph as TF.js ops on NHWC tensors; weights uploaded once. */
export class TfGraphModel {
  private convs = new Map<number, FoldedConv>();
  private linear = new Map<number, { w: tf.Tensor2D; b: tf.Tensor1D }>();
  /** Batch norms folded into their convolution: their output is the convolution's. */
  private folded = new Set<number>();
  /** ReLUs fused into the convolution before them. */
  private fusedRelu = new Set<number>();

  constructor(private graph: Graph, state: Map<string, Float32Array>) {
    const users = new Map<number, GraphNode[]>();
    for (const n of graph.nodes) {
      for (const i of n.inputs) users.set(i, [...(users.get(i) ?? []), n]);
    }
    const get = (name: string) => {
      const v = state.get(name);
      if (!v) throw new Error(`TF.js model: no tensor ${name}`);
      return v;
    };
    for (const n of graph.nodes) {
      if (n.op === "conv2d") {
        const [k, c, kh, kw] = [
          n.outChannels,
          graph.nodes[n.inputs[0]].shape[0],
          n.kernel,
          n.kernel,
        ];
        const w = get(`${n.name}.weight`);
        const scale = new Float32Array(k).fill(1), shift = new Float32Array(k);
        if (n.bias) shift.set(get(`${n.name}.bias`));
        const u = users.get(n.id) ?? [];
        const bn = u.length === 1 && u[0].op === "batchnorm" ? u[0] : null;
        let relu = false;
        if (bn && bn.op === "batchnorm") {
          const g = get(`${bn.name}.weight`), b = get(`${bn.name}.bias`);
          const mean = get(`${bn.name}.running_mean`), v = get(`${bn.name}.running_var`);
          for (let o = 0; o < k; o++) {
            const s = g[o] / Math.sqrt(v[o] + bn.eps);
            shift[o] = b[o] + (shift[o] - mean[o]) * s;
            scale[o] = s;
          }
          this.folded.add(bn.id);
          const after = users.get(bn.id) ?? [];
          if (after.length === 1 && after[0].op === "relu") {
            this.fusedRelu.add(after[0].id);
            relu = true;
          }
        }
        // OIHW → HWIO, each output channel scaled by its batch norm.
        const hwio = new Float32Array(w.length);
        for (let o = 0; o < k; o++) {
          for (let i = 0; i < c; i++) {
            for (let y = 0; y < kh; y++) {
              for (let x = 0; x < kw; x++) {
                hwio[((y * kw + x) * c + i) * k + o] = w[((o * c + i) * kh + y) * kw + x] *
                  scale[o];
              }
            }
          }
        }
        this.convs.set(n.id, {
          filter: tf.tensor4d(hwio, [kh, kw, c, k]),
          bias: tf.tensor1d(shift),
          stride: n.stride,
          pad: n.padding,
          relu,
        });
      } else if (n.op === "linear") {
        const w = get(`${n.name}.weight`), fi = graph.nodes[n.inputs[0]].shape[0];
        this.linear.set(n.id, {
          w: tf.tensor2d(w, [n.outFeatures, fi]).transpose() as tf.Tensor2D,
          b: n.bias ? tf.tensor1d(get(`${n.name}.bias`)) : tf.zeros([n.outFeatures]),
        });
      }
    }
    for (const n of graph.nodes) {
      if (n.op === "batchnorm" && !this.folded.has(n.id)) {
        throw new Error(`TF.js model: ${n.name} does not follow a convolution`);
      }
    }
  }

  /** Logits of NHWC `x`. */
  predict(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const v = new Map<number, tf.Tensor>([[0, x]]);
      const at = (id: number) => v.get(id)!;
      for (const n of this.graph.nodes) {
        if (n.op === "input") continue;
        const a = at(n.inputs[0]);
        let out: tf.Tensor;
        switch (n.op) {
          case "conv2d": {
            const c = this.convs.get(n.id)!;
            out = tf.fused.conv2d({
              x: a as tf.Tensor4D,
              filter: c.filter,
              strides: c.stride,
              pad: c.pad,
              bias: c.bias,
              activation: c.relu ? "relu" : "linear",
            });
            break;
          }
          case "batchnorm":
            out = a; // folded
            break;
          case "relu":
            out = this.fusedRelu.has(n.id) ? a : tf.relu(a);
            break;
          case "add_relu":
            out = tf.relu(tf.add(a, at(n.inputs[1])));
            break;
          case "maxpool":
            out = tf.maxPool(a as tf.Tensor4D, n.kernel, n.stride, n.padding);
            break;
          case "adaptive_avgpool":
            if (n.outH !== 1 || n.outW !== 1) {
              throw new Error("TF.js model: adaptive pool to 1×1 only");
            }
            out = tf.mean(a, [1, 2], true);
            break;
          case "flatten":
            out = tf.reshape(a, [a.shape[0], -1]);
            break;
          case "linear": {
            const l = this.linear.get(n.id)!;
            out = tf.add(tf.matMul(a as tf.Tensor2D, l.w), l.b);
            break;
          }
          default:
            throw new Error(`TF.js model: ${n.op} is not supported`);
        }
        v.set(n.id, out);
      }
      return at(this.graph.output) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const c of this.convs.values()) tf.dispose([c.filter, c.bias]);
    for (const l of this.linear.values()) tf.dispose([l.w, l.b]);
  }
}
