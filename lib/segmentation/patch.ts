/**
 * Sliding window versus fully convolutional labelling (lecture section 1; Farabet et al. 2013,
 * Long et al. 2015). A patch classifier looks at a patchSize×patchSize window and scores the
 * class of its centre pixel. Built only from 'valid' convolutions and a final dense layer, it is
 * *exactly* a convolutional network: the dense layer over the last k×k×c feature map is a k×k
 * convolution with the same weights (reshaped). Run on the whole (zero-padded) image, that
 * network computes every window's scores at once, sharing the work overlapping windows repeat.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, type Rng } from '../runtime/random';
import { train } from '../train/loop';
import type { Dataset, ProgressMode, TrainHistory } from '../train/types';
import type { SceneSet } from './scenes';
import { SEG_NUM_CLASSES } from './scenes';

export interface PatchClassifierOptions {
  /** Channels of the 'valid' convolutions, one per layer. Default [8, 8, 16, 16, 16]. */
  channels?: number[];
  /** Kernel side of every convolution. Default 5. */
  kernelSize?: number;
  /** Window side; each valid convolution removes kernelSize − 1, and at least 1×1 must remain. Default 29. */
  patchSize?: number;
  numClasses?: number;
  seed: number;
}

function resolvePatch(options: PatchClassifierOptions) {
  const channels = options.channels ?? [8, 8, 16, 16, 16];
  const kernelSize = options.kernelSize ?? 5;
  const patchSize = options.patchSize ?? 29;
  const numClasses = options.numClasses ?? SEG_NUM_CLASSES;
  if (channels.length === 0 || channels.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error(`channels must list at least one whole number ≥ 1 (got [${channels.join(', ')}])`);
  }
  if (!Number.isInteger(kernelSize) || kernelSize < 1) throw new Error(`kernelSize must be a whole number ≥ 1 (got ${kernelSize})`);
  if (!Number.isInteger(patchSize) || patchSize % 2 !== 1) {
    throw new Error(`patchSize must be odd (got ${patchSize}) so that the window has a centre pixel`);
  }
  const remaining = patchSize - channels.length * (kernelSize - 1);
  if (remaining < 1) {
    throw new Error(`patchSize ${patchSize} is too small for ${channels.length} valid ${kernelSize}×${kernelSize} convolutions ` +
      `(each removes ${kernelSize - 1}): use patchSize ≥ ${channels.length * (kernelSize - 1) + 1} or fewer layers`);
  }
  if (!Number.isInteger(options.seed) || options.seed < 0) throw new Error(`seed must be a whole number ≥ 0 (got ${options.seed})`);
  return { channels, kernelSize, patchSize, numClasses, remaining, seed: options.seed };
}

/**
 * The patch classifier: valid convolutions (ReLU), flatten, dense → class scores (logits).
 * Input [batch, patchSize, patchSize, 1], output [batch, numClasses]. Layers conv1…convN, 'flatten', 'classifier'.
 */
export function createPatchClassifier(options: PatchClassifierOptions): tf.LayersModel {
  const r = resolvePatch(options);
  const rng = mulberry32(r.seed);
  const init = () => tf.initializers.heUniform({ seed: 1 + Math.floor(rng() * 2147483646) });
  const model = tf.sequential({ name: 'patch_classifier' });
  r.channels.forEach((filters, i) => {
    model.add(tf.layers.conv2d({
      ...(i === 0 ? { inputShape: [r.patchSize, r.patchSize, 1] } : {}),
      filters, kernelSize: r.kernelSize, padding: 'valid', activation: 'relu', kernelInitializer: init(), name: `conv${i + 1}`,
    })); // [b, P − (i+1)(k−1), …, filters]
  });
  model.add(tf.layers.flatten({ name: 'flatten' })); // [b, remaining·remaining·c]
  model.add(tf.layers.dense({ units: r.numClasses, kernelInitializer: init(), name: 'classifier' })); // [b, classes]
  return model;
}

/** The window a patch classifier reads (from its input shape). */
export function patchSizeOf(model: tf.LayersModel): number {
  const shape = model.inputs[0].shape;
  const p = shape[1];
  if (shape.length !== 4 || p === null || p !== shape[2] || shape[3] !== 1) {
    throw new Error(`expected a patch classifier with input [batch, P, P, 1] (got [${shape.join(', ')}])`);
  }
  return p;
}

/**
 * The same weights as a fully convolutional network on images of any size: the convolutions
 * unchanged, the dense layer reshaped into a k×k convolution ('classifier_conv'), k the side of the
 * last feature map. Input [batch, h, w, 1] → scores [batch, h − P + 1, w − P + 1, classes].
 */
export function toFullyConvolutional(patchModel: tf.LayersModel): tf.LayersModel {
  const convs = patchModel.layers.filter((l) => l.getClassName() === 'Conv2D');
  const dense = patchModel.layers.find((l) => l.getClassName() === 'Dense');
  if (convs.length === 0 || dense === undefined) {
    throw new Error('toFullyConvolutional needs a patch classifier from createPatchClassifier (valid convolutions, flatten, dense)');
  }
  const lastShape = convs[convs.length - 1].outputShape as number[]; // [b, k, k, c]
  const [, k, k2, c] = lastShape;
  if (k !== k2) throw new Error(`the last feature map must be square (got ${k}×${k2})`);
  const input = tf.input({ shape: [null, null, 1], name: 'image' });
  let x: tf.SymbolicTensor = input;
  for (const layer of convs) {
    const cfg = layer.getConfig();
    const copy = tf.layers.conv2d({
      filters: cfg.filters as number, kernelSize: cfg.kernelSize as number[], padding: 'valid',
      activation: 'relu', name: layer.name,
    });
    x = copy.apply(x) as tf.SymbolicTensor; // [b, h − …, w − …, filters]
    copy.setWeights(layer.getWeights());
  }
  const [kernel, bias] = dense.getWeights(); // [k·k·c, classes], [classes]
  const classes = kernel.shape[1] as number;
  const head = tf.layers.conv2d({ filters: classes, kernelSize: k, padding: 'valid', name: 'classifier_conv' });
  const scores = head.apply(x) as tf.SymbolicTensor; // [b, h − P + 1, w − P + 1, classes]
  // flatten reads [k, k, c] row-major, exactly the order of a conv kernel [k, k, c, classes]
  const convKernel = kernel.reshape([k, k, c, classes]);
  head.setWeights([convKernel, bias]);
  convKernel.dispose();
  return tf.model({ inputs: input, outputs: scores, name: 'patch_classifier_fcn' });
}

/** A flat size×size image zero-padded by `pad` on every side (what both labellers read). */
function padImage(image: Float32Array, size: number, pad: number): { data: Float32Array; side: number } {
  const side = size + 2 * pad;
  const data = new Float32Array(side * side);
  for (let r = 0; r < size; r++) data.set(image.subarray(r * size, (r + 1) * size), (r + pad) * side + pad);
  return { data, side };
}

function checkImage(image: Float32Array, size: number): void {
  if (!Number.isInteger(size) || size < 1 || image.length !== size * size) {
    throw new Error(`image must hold size×size = ${size}×${size} values (got ${image.length})`);
  }
}

/**
 * Sliding window: cut the window around every pixel (zero padding at the border) and classify
 * each with the patch classifier, `batchSize` windows per call. Returns scores [size·size·classes].
 */
export function slidingWindowScores(patchModel: tf.LayersModel, image: Float32Array, size: number, options: { batchSize?: number } = {}): Float32Array {
  checkImage(image, size);
  const p = patchSizeOf(patchModel);
  const half = (p - 1) / 2;
  const batchSize = options.batchSize ?? 512;
  const { data, side } = padImage(image, size, half);
  const classes = (patchModel.outputs[0].shape as number[])[1];
  const out = new Float32Array(size * size * classes);
  const patches = new Float32Array(batchSize * p * p);
  for (let start = 0; start < size * size; start += batchSize) {
    const count = Math.min(batchSize, size * size - start);
    for (let j = 0; j < count; j++) {
      const r = Math.floor((start + j) / size);
      const c = (start + j) % size;
      // the window centred on (r, c) of the image is rows r…r+p−1, cols c…c+p−1 of the padded one
      for (let a = 0; a < p; a++) patches.set(data.subarray((r + a) * side + c, (r + a) * side + c + p), (j * p + a) * p);
    }
    const scores = tf.tidy(() => patchModel.predict(tf.tensor4d(patches.subarray(0, count * p * p), [count, p, p, 1])) as tf.Tensor); // [count, classes]
    out.set(scores.dataSync(), start * classes);
    scores.dispose();
  }
  return out;
}

/** One pass of the fully convolutional network over the zero-padded image: scores [size·size·classes]. */
export function fullyConvolutionalScores(fcn: tf.LayersModel, image: Float32Array, size: number, patchSize: number): Float32Array {
  checkImage(image, size);
  const { data, side } = padImage(image, size, (patchSize - 1) / 2);
  const scores = tf.tidy(() => fcn.predict(tf.tensor4d(data, [1, side, side, 1])) as tf.Tensor); // [1, size, size, classes]
  if (scores.shape[1] !== size || scores.shape[2] !== size) {
    const got = scores.shape.slice(1, 3).join('×');
    scores.dispose();
    throw new Error(`the fully convolutional network returned ${got} scores for a ${size}×${size} image: patchSize must be its patch classifier's window`);
  }
  const out = scores.dataSync() as Float32Array;
  scores.dispose();
  return out;
}

/** Arg-max class per pixel of flat scores [pixels·classes]. */
export function argmaxLabels(scores: Float32Array, classes: number): Uint8Array {
  if (scores.length % classes !== 0) throw new Error(`scores hold ${scores.length} values, not a multiple of ${classes} classes`);
  const n = scores.length / classes;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i * classes + c] > scores[i * classes + best]) best = c;
    labels[i] = best;
  }
  return labels;
}

/** Largest |a − b| over two equally long arrays. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`arrays differ in length (${a.length} vs ${b.length})`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

/**
 * Median wall time in seconds of `runs` calls, after one untimed warm-up call (skip it with
 * `warmUp: false` for calls long enough that first-call costs do not matter).
 */
export function medianSeconds(fn: () => void, runs: number, options: { warmUp?: boolean } = {}): { median: number; times: number[] } {
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a whole number ≥ 1 (got ${runs})`);
  if (options.warmUp ?? true) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  const sorted = [...times].sort((x, y) => x - y);
  const mid = Math.floor(runs / 2);
  return { median: runs % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, times };
}

export interface PatchSample {
  scene: number;
  row: number;
  col: number;
  label: number;
}

/**
 * Window centres to train a patch classifier on: `perScene` from each scene, half on digit pixels
 * (when the scene has them) and half on background, so the rare digit classes are seen often.
 */
export function samplePatchCentres(scenes: SceneSet, perScene: number, seed: number): PatchSample[] {
  if (!Number.isInteger(perScene) || perScene < 1) throw new Error(`perScene must be a whole number ≥ 1 (got ${perScene})`);
  const rng: Rng = mulberry32(seed);
  const n = scenes.size * scenes.size;
  const out: PatchSample[] = [];
  for (let s = 0; s < scenes.count; s++) {
    const labels = scenes.labels.subarray(s * n, (s + 1) * n);
    const fg: number[] = [];
    const bg: number[] = [];
    for (let p = 0; p < n; p++) (labels[p] > 0 ? fg : bg).push(p);
    for (let j = 0; j < perScene; j++) {
      const pool = j % 2 === 0 && fg.length > 0 ? fg : bg;
      const p = pool[Math.floor(rng() * pool.length)];
      out.push({ scene: s, row: Math.floor(p / scenes.size), col: p % scenes.size, label: labels[p] });
    }
  }
  return out;
}

/** The windows (zero padding at the border) and labels of some samples: xs [n, P, P, 1], ys int32 [n]. */
export function patchBatch(scenes: SceneSet, samples: PatchSample[], patchSize: number): { xs: tf.Tensor4D; ys: tf.Tensor1D } {
  const p = patchSize;
  const half = (p - 1) / 2;
  const size = scenes.size;
  const xs = new Float32Array(samples.length * p * p);
  samples.forEach((s, j) => {
    const base = s.scene * size * size;
    for (let a = 0; a < p; a++) {
      const r = s.row - half + a;
      if (r < 0 || r >= size) continue;
      for (let b = 0; b < p; b++) {
        const c = s.col - half + b;
        if (c >= 0 && c < size) xs[(j * p + a) * p + b] = scenes.images[base + r * size + c];
      }
    }
  });
  return {
    xs: tf.tensor4d(xs, [samples.length, p, p, 1]),
    ys: tf.tensor1d(samples.map((s) => s.label), 'int32'),
  };
}

/**
 * Trains a patch classifier on windows around sampled centres (half on digits) with Adam and the
 * kit's loop (live progress in a notebook). Returns the loop's history.
 */
export async function trainPatchClassifier(options: {
  model: tf.LayersModel;
  scenes: SceneSet;
  samples: PatchSample[];
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  progress?: ProgressMode;
}): Promise<TrainHistory> {
  const { model, scenes, samples, steps, batchSize } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a whole number ≥ 1 (got ${steps})`);
  if (samples.length < batchSize) throw new Error(`need at least batchSize = ${batchSize} samples (got ${samples.length})`);
  const p = patchSizeOf(model);
  const optimizer = tf.train.adam(options.learningRate);
  const data: Dataset<{ xs: tf.Tensor4D; ys: tf.Tensor1D }> = {
    size: samples.length,
    batch: (indices) => patchBatch(scenes, indices.map((i) => samples[i]), p),
  };
  try {
    return await train({
      data, batchSize, epochs: Math.ceil((steps * batchSize) / samples.length), maxSteps: steps, seed: options.seed,
      model, optimizer, dropRemainder: true,
      loss: (batch, training) => {
        const logits = model.apply(batch.xs, { training }) as tf.Tensor2D; // [b, classes]
        return tf.losses.softmaxCrossEntropy(tf.oneHot(batch.ys, logits.shape[1]), logits) as tf.Scalar;
      },
      progress: options.progress,
      // One progress update per 2 s and no live chart: redrawing the chart costs time the notebooks'
      // full-profile budget does not have; they draw the loss curves right after training.
      chart: false,
      progressSeconds: 2,
    });
  } finally {
    optimizer.dispose();
  }
}

/** Accuracy of a patch classifier on windows around the given centres. */
export function patchAccuracy(model: tf.LayersModel, scenes: SceneSet, samples: PatchSample[], batchSize = 256): number {
  const p = patchSizeOf(model);
  let correct = 0;
  for (let start = 0; start < samples.length; start += batchSize) {
    const part = samples.slice(start, start + batchSize);
    const predicted = tf.tidy(() => {
      const { xs, ys } = patchBatch(scenes, part, p);
      return (model.predict(xs) as tf.Tensor).argMax(-1).equal(ys).sum();
    });
    correct += predicted.dataSync()[0];
    predicted.dispose();
  }
  return correct / samples.length;
}
