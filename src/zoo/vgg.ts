/**
 * VGG-19 (configuration "E" of Simonyan & Zisserman) exactly as torchvision builds it, so that
 * `features.N` indices count every conv, BN, ReLU and pool module, and `classifier.0/3/6` are the
 * linear layers between ReLU and Dropout modules.
 */

import { type Graph, GraphBuilder } from "../graph/ir.ts";
import { checkClasses, checkSpatial, checkWidth, scaleWidth } from "./common.ts";

/** Channel counts of the convs, one row per resolution; "M" is a 2×2/2 max pool. */
// deno-fmt-ignore
export const VGG19_CONFIG: readonly (number | "M")[] = [
  64, 64, "M",
  128, 128, "M",
  256, 256, 256, 256, "M",
  512, 512, 512, 512, "M",
  512, 512, 512, 512, "M",
];

export interface VggOptions {
  batchNorm?: boolean;
  inputShape?: readonly [number, number, number];
  classes?: number;
  /** Multiplies the conv widths; the 4096-wide classifier is kept as published. */
  width?: number;
}

export function vgg19(o: VggOptions = {}): Graph {
  const { batchNorm = false, inputShape = [3, 224, 224], classes = 1000, width = 1 } = o;
  checkClasses(classes);
  checkWidth(width);
  const model = batchNorm ? "vgg19_bn" : "vgg19";
  const b = new GraphBuilder(inputShape);

  let x = b.input;
  let index = 0; // torchvision's position in nn.Sequential, which names the parameters
  for (const v of VGG19_CONFIG) {
    if (v === "M") {
      x = b.maxpool(x, 2, 2, 0, `features.${index}`);
      checkSpatial(b, x, model, `features.${index} (max pool)`);
      index++;
      continue;
    }
    x = b.conv2d(`features.${index++}`, x, scaleWidth(v, width), {
      kernel: 3,
      padding: 1,
      bias: true,
    });
    if (batchNorm) x = b.batchnorm(`features.${index++}`, x);
    x = b.relu(x, `features.${index++}`);
  }

  // Small inputs reach here at 1×1; the adaptive pool replicates it to 7×7 as torchvision does,
  // so the classifier (and its parameter count) does not depend on the input size.
  x = b.flatten(b.adaptiveAvgpool(x, 7, 7, "avgpool"));
  x = b.dropout(b.relu(b.linear("classifier.0", x, 4096), "classifier.1"), 0.5);
  x = b.dropout(b.relu(b.linear("classifier.3", x, 4096), "classifier.4"), 0.5);
  return b.finish(b.linear("classifier.6", x, classes));
}
