/**
 * The CIFAR ResNet-20 (option B: 1×1 projection + BN where shapes change) written with
 * TensorFlow.js core ops on its WebGPU backend, for the same-adapter comparison in
 * bench/compare.ts. Only the benchmark imports this; resgpu itself never depends on TF.js.
 */
// tfjs-core alone registers no gradients (its register_all_gradients module uses extensionless
// imports no ESM loader resolves), so the flat bundle of the umbrella package provides the ops
// and gradients; the WebGPU backend registers into the same global engine.
import "./tfjs_env.ts";
// Pinned inline, not in deno.json's import map, so nothing but this benchmark ever resolves
// TensorFlow.js (and its npm dependencies) — not `deno task train`, not the library.
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0/dist/tf.fesm.js";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

export { tf };

interface ConvBn {
  w: tf.Variable;
  gamma: tf.Variable;
  beta: tf.Variable;
  stride: number;
}

/** He-normal conv weights in TF's HWIO layout, BN γ = 1, β = 0. */
function convBn(cin: number, cout: number, k: number, stride: number): ConvBn {
  const std = Math.sqrt(2 / (k * k * cout));
  return {
    w: tf.variable(tf.randomNormal([k, k, cin, cout], 0, std)),
    gamma: tf.variable(tf.ones([cout])),
    beta: tf.variable(tf.zeros([cout])),
    stride,
  };
}

function applyConvBn(x: tf.Tensor4D, p: ConvBn, relu: boolean): tf.Tensor4D {
  const y = tf.conv2d(x, p.w as tf.Tensor4D, p.stride, "same");
  // Training-mode batch norm: batch statistics over N, H, W (NHWC).
  const { mean, variance } = tf.moments(y, [0, 1, 2]);
  const z = tf.batchNorm4d(
    y,
    mean as tf.Tensor1D,
    variance as tf.Tensor1D,
    p.beta as tf.Tensor1D,
    p.gamma as tf.Tensor1D,
    1e-5,
  );
  return relu ? tf.relu(z) : z;
}

interface Block {
  a: ConvBn;
  b: ConvBn;
  proj: ConvBn | null;
}

export class TfResNet20 {
  private stem: ConvBn;
  private blocks: Block[] = [];
  private fcW: tf.Variable;
  private fcB: tf.Variable;
  private opt: tf.Optimizer;

  constructor(inChannels: number, classes: number) {
    this.stem = convBn(inChannels, 16, 3, 1);
    let cin = 16;
    for (const [cout, stride] of [[16, 1], [32, 2], [64, 2]]) {
      for (let i = 0; i < 3; i++) {
        const s = i === 0 ? stride : 1;
        this.blocks.push({
          a: convBn(cin, cout, 3, s),
          b: convBn(cout, cout, 3, 1),
          proj: s !== 1 || cin !== cout ? convBn(cin, cout, 1, s) : null,
        });
        cin = cout;
      }
    }
    this.fcW = tf.variable(tf.randomUniform([64, classes], -0.125, 0.125));
    this.fcB = tf.variable(tf.zeros([classes]));
    this.opt = tf.train.momentum(0.1, 0.9);
  }

  logits(x: tf.Tensor4D): tf.Tensor2D {
    let h = applyConvBn(x, this.stem, true);
    for (const b of this.blocks) {
      const branch = applyConvBn(applyConvBn(h, b.a, true), b.b, false);
      const short = b.proj ? applyConvBn(h, b.proj, false) : h;
      h = tf.relu(tf.add(branch, short));
    }
    const pooled = tf.mean(h, [1, 2]) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, this.fcW as tf.Tensor2D), this.fcB) as tf.Tensor2D;
  }

  /** One SGD-momentum step; returns the loss tensor (not read back, so timing stays async). */
  trainStep(x: tf.Tensor4D, labels: tf.Tensor2D): tf.Scalar {
    return this.opt.minimize(
      () => tf.losses.softmaxCrossEntropy(labels, this.logits(x)) as tf.Scalar,
      true,
    )!;
  }
}
