/**
 * The framework side of the "naive cell, then check cell" pair: tf.conv2d and tf.conv2dTranspose
 * called so that every (i, k, s, p, outputPadding) means what it means in naive.ts (PyTorch's
 * convention).
 *
 * tf.conv2dTranspose(x, filter, outputShape, strides, pad) is the *input gradient of a conv2d*:
 * `pad` is the padding of that forward convolution, and `outputShape` is its input shape. So
 *   - PyTorch `padding = p` is explicit pad [[0,0],[p,p],[p,p],[0,0]] (crop p on every side);
 *   - PyTorch `outputPadding` is not a parameter: it is the extra rows/cols of `outputShape`
 *     beyond (i − 1)·s − 2p + k, which the forward convolution's floor ignores;
 *   - tfjs does NOT check `outputShape` against x: it recomputes the forward output size from
 *     outputShape and reads x with it, so a wrong outputShape gives silently cropped output, or
 *     reads past x (NaN on cpu, leftover memory on wasm). Hence outputShape is always computed here.
 *   - pad 'same' is not PyTorch's padding: for odd k − s it crops one more row at the bottom than
 *     at the top (3×3, stride 2, 2×2 → 4×4 crops 0 top / 1 bottom), a one-pixel shift from p=1, op=1.
 */
import * as tf from '@tensorflow/tfjs';
import { convOutputSize, transposedConvOutputSize } from './arithmetic';
import { type Grid, gridShape } from './grid';
import type { ConvOptions, TransposedConvOptions } from './naive';

export { maxAbsDiff } from './grid';

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

function symmetricPadding(padding: number): ExplicitPadding {
  return [[0, 0], [padding, padding], [padding, padding], [0, 0]];
}

/**
 * tf.conv2d with PyTorch-style symmetric zero padding. x: [batch, h, w, inC], filter:
 * [k, k, inC, outC]. Sizes are checked first so errors name the setting (tfjs's would not).
 */
export function conv2dTensor(x: tf.Tensor4D, filter: tf.Tensor4D, options: ConvOptions = {}): tf.Tensor4D {
  const { stride = 1, padding = 0, dilation = 1 } = options;
  const [, h, w] = x.shape;
  const [kh, kw] = filter.shape;
  convOutputSize({ inputSize: h, kernelSize: kh, stride, padding, dilation });
  convOutputSize({ inputSize: w, kernelSize: kw, stride, padding, dilation });
  if (stride > 1 && dilation > 1) {
    throw new Error(
      `tf.conv2d takes dilation > 1 only with stride 1 (got stride ${stride}, dilation ${dilation}): use conv2dNaive for both`,
    );
  }
  return tf.conv2d(x, filter, stride, symmetricPadding(padding), 'NHWC', dilation); // [batch, oh, ow, outC]
}

/**
 * tf.conv2dTranspose with PyTorch's (padding, outputPadding). x: [batch, h, w, inC], filter:
 * [k, k, outC, inC] (note the order: it is the filter of the forward convolution outC → inC).
 */
export function transposedConv2dTensor(x: tf.Tensor4D, filter: tf.Tensor4D, options: TransposedConvOptions = {}): tf.Tensor4D {
  const { stride = 1, padding = 0, outputPadding = 0 } = options;
  const [batch, h, w] = x.shape;
  const [kh, kw, outChannels] = filter.shape;
  const oh = transposedConvOutputSize({ inputSize: h, kernelSize: kh, stride, padding, outputPadding });
  const ow = transposedConvOutputSize({ inputSize: w, kernelSize: kw, stride, padding, outputPadding });
  // Since 0 ≤ outputPadding < stride, the forward conv of an oh×ow input gives back exactly h×w.
  return tf.conv2dTranspose(x, filter, [batch, oh, ow, outChannels], stride, symmetricPadding(padding)); // [batch, oh, ow, outC]
}

/** A one-channel image as a [1, h, w, 1] tensor. */
export function gridToTensor(grid: Grid): tf.Tensor4D {
  const [h, w] = gridShape(grid);
  return tf.tensor4d(grid.flat(), [1, h, w, 1]); // [1, h, w, 1]
}

/** A k×k kernel as a [k, k, 1, 1] filter (one channel in, one out: the same for both ops). */
export function kernelToTensor(kernel: Grid): tf.Tensor4D {
  const [kh, kw] = gridShape(kernel, 'kernel');
  return tf.tensor4d(kernel.flat(), [kh, kw, 1, 1]); // [k, k, 1, 1]
}

/** Reads a [1, h, w, 1] result back as number[][] and disposes it. */
export function tensorToGrid(t: tf.Tensor4D): Grid {
  try {
    const nested = t.arraySync(); // [1][h][w][1]
    return nested[0].map((row) => row.map((pixel) => pixel[0]));
  } finally {
    t.dispose();
  }
}

/** tf.conv2d on number[][]: the framework check of conv2dNaive. */
export function conv2dTfjs(input: Grid, kernel: Grid, options: ConvOptions = {}): Grid {
  const out = tf.tidy(() => conv2dTensor(gridToTensor(input), kernelToTensor(kernel), options)); // [1, oh, ow, 1]
  return tensorToGrid(out);
}

/** tf.conv2dTranspose on number[][]: the framework check of transposedConv2dNaive. */
export function transposedConv2dTfjs(input: Grid, kernel: Grid, options: TransposedConvOptions = {}): Grid {
  const out = tf.tidy(() => transposedConv2dTensor(gridToTensor(input), kernelToTensor(kernel), options)); // [1, oh, ow, 1]
  return tensorToGrid(out);
}
