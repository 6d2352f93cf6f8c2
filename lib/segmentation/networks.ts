/**
 * Encoder–decoder segmentation networks (lecture section 3), small enough to train in a notebook:
 *
 *   encoder (shared):  [enc1 conv3×3 (+ batch norm) → pool1] → [enc2 → pool2] → [enc3 → pool3] → ctx1 → ctx2
 *                      64×64 → 32×32 → 16×16 → 8×8, channels `channels` then the last one again
 *   FCN decoder:       a 1×1 convolution to class scores at 1/8 resolution (score8), then
 *                      without skips one learned ×8 transposed convolution (16×16) to full size;
 *                      with skips three learned ×2 transposed convolutions (4×4, no
 *                      checkerboard), 8×8 → 16 → 32 → 64, each summed with class scores a 1×1
 *                      convolution reads off the encoder features of that size (Long et al.
 *                      2015's score fusion). Every upsampling starts as bilinear interpolation.
 *   DeconvNet decoder: max-unpooling with the encoder's pooling switches, each followed by a 3×3
 *                      convolution (Noh et al. 2015), then the 1×1 scores.
 *
 * Every builder returns a tf.LayersModel whose output is per-pixel class *logits*
 * [batch, size, size, numClasses]; layers are named so figures can read them (`getLayer`).
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../runtime/random';
import { bilinearKernel, bilinearKernelSize } from '../convolution/upsampling';
import { MaxPoolWithSwitches, MaxUnpool } from './layers';
import { SEG_NUM_CLASSES } from './scenes';

type Init = ReturnType<typeof tf.initializers.heUniform>;

export type SegmenterKind = 'fcn' | 'fcn-skips' | 'deconvnet';

export interface SegmenterOptions {
  /** Input side (square, one grey channel); must be divisible by 8. Default 64. */
  inputSize?: number;
  /** Channels of enc1, enc2, enc3 (the context convolutions keep the last). Default [16, 32, 64]. */
  channels?: [number, number, number];
  /** 3×3 convolutions at 1/8 resolution after the encoder (more context). Default 2. */
  contextConvs?: number;
  /** Default 11 (background + 10 digits). */
  numClasses?: number;
  /**
   * Batch normalisation after every encoder convolution. Default true: it costs time per step
   * and pays for it many times over — after 300 steps on the lesson's scenes (batches of 16,
   * learning rate 3e-3) FCN with skips reached held-out mean IoU 0.66 with it and 0.44 without
   * (the plain ReLU encoder learned *which* digit a stroke belongs to far more slowly).
   */
  batchNorm?: boolean;
  /** Seeds every initialiser. */
  seed: number;
}

interface Resolved {
  inputSize: number;
  channels: [number, number, number];
  contextConvs: number;
  numClasses: number;
  batchNorm: boolean;
  seed: number;
}

function resolve(options: SegmenterOptions): Resolved {
  const r: Resolved = {
    inputSize: options.inputSize ?? 64,
    channels: options.channels ?? [16, 32, 64],
    contextConvs: options.contextConvs ?? 2,
    numClasses: options.numClasses ?? SEG_NUM_CLASSES,
    batchNorm: options.batchNorm ?? true,
    seed: options.seed,
  };
  if (!Number.isInteger(r.inputSize) || r.inputSize < 8 || r.inputSize % 8 !== 0) {
    throw new Error(`inputSize must be a multiple of 8 (three 2×2 poolings), got ${r.inputSize}`);
  }
  if (r.channels.length !== 3 || r.channels.some((c) => !Number.isInteger(c) || c < 1)) {
    throw new Error(`channels must be three whole numbers ≥ 1, one per encoder level (got [${r.channels.join(', ')}])`);
  }
  if (!Number.isInteger(r.contextConvs) || r.contextConvs < 0) throw new Error(`contextConvs must be a whole number ≥ 0 (got ${r.contextConvs})`);
  if (!Number.isInteger(r.numClasses) || r.numClasses < 2) throw new Error(`numClasses must be ≥ 2 (got ${r.numClasses})`);
  if (!Number.isInteger(r.seed) || r.seed < 0) throw new Error(`seed must be a whole number ≥ 0 (got ${r.seed})`);
  return r;
}

/** Seeded He-uniform initialisers, one fresh seed per layer (tfjs treats seed 0 as unseeded). */
function initialisers(seed: number): () => Init {
  const rng = mulberry32(seed);
  return () => tf.initializers.heUniform({ seed: 1 + Math.floor(rng() * 2147483646) });
}

function conv(filters: number, kernelSize: number, name: string, init: () => Init, activation: 'relu' | 'linear' = 'relu') {
  return tf.layers.conv2d({ filters, kernelSize, padding: 'same', activation, kernelInitializer: init(), name });
}

function upconv(filters: number, name: string, init: () => Init, activation: 'relu' | 'linear') {
  // 4×4 kernel, stride 2: the kernel size is divisible by the stride, so every output pixel gets
  // the same number of kernel copies (no checkerboard; notebook 02).
  return tf.layers.conv2dTranspose({ filters, kernelSize: 4, strides: 2, padding: 'same', activation, kernelInitializer: init(), name });
}

/** conv3×3 → ReLU, or conv3×3 (no bias: the normalisation removes it) → batch norm → ReLU. */
function convBlock(x: tf.SymbolicTensor, filters: number, name: string, init: () => Init, batchNorm: boolean): tf.SymbolicTensor {
  if (!batchNorm) return conv(filters, 3, name, init).apply(x) as tf.SymbolicTensor;
  const y = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: init(), name }).apply(x) as tf.SymbolicTensor;
  // momentum 0.9 (Keras: 0.99): the running statistics, which evaluation uses, must follow a
  // network trained for only a few hundred steps
  const z = tf.layers.batchNormalization({ momentum: 0.9, name: `${name}_bn` }).apply(y) as tf.SymbolicTensor;
  return tf.layers.reLU({ name: `${name}_relu` }).apply(z) as tf.SymbolicTensor;
}

/** Builds the encoder; with switches for DeconvNet. Returns the features before each pooling and at 1/8. */
function encoder(input: tf.SymbolicTensor, r: Resolved, init: () => Init, withSwitches: boolean) {
  const skips: tf.SymbolicTensor[] = []; // enc1, enc2, enc3 outputs: [s, s, c1], [s/2, s/2, c2], [s/4, s/4, c3]
  const switches: tf.SymbolicTensor[] = [];
  let x = input;
  r.channels.forEach((c, l) => {
    x = convBlock(x, c, `enc${l + 1}`, init, r.batchNorm); // [b, s/2^l, s/2^l, c]
    skips.push(x);
    if (withSwitches) {
      const [pooled, sw] = new MaxPoolWithSwitches({ poolSize: 2, name: `pool${l + 1}` }).apply(x) as tf.SymbolicTensor[];
      x = pooled;
      switches.push(sw);
    } else {
      x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${l + 1}` }).apply(x) as tf.SymbolicTensor;
    }
  });
  for (let k = 1; k <= r.contextConvs; k++) x = convBlock(x, r.channels[2], `ctx${k}`, init, r.batchNorm); // [b, s/8, s/8, c3]
  return { features: x, skips, switches };
}

function inputOf(r: Resolved): tf.SymbolicTensor {
  return tf.input({ shape: [r.inputSize, r.inputSize, 1], name: 'image' });
}

/** A transposed convolution meant to start as bilinear upsampling: see `setBilinear`. */
function bilinearUpconv(channels: number, factor: number, name: string): tf.layers.Layer {
  return tf.layers.conv2dTranspose({
    filters: channels, kernelSize: bilinearKernelSize(factor), strides: factor, padding: 'same', useBias: false,
    kernelInitializer: 'zeros', name,
  });
}

/** Sets a built transposed convolution [k, k, c, c] to upsample every channel bilinearly (FCN's initialisation). */
function setBilinear(layer: tf.layers.Layer): void {
  const [kernel] = layer.getWeights(); // [k, k, out, in]
  const [size, , out, inC] = kernel.shape;
  const tent = bilinearKernel(size);
  const values = new Float32Array(size * size * out * inC);
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      for (let ch = 0; ch < Math.min(out, inC); ch++) values[((r * size + c) * out + ch) * inC + ch] = tent[r][c];
    }
  }
  const init = tf.tensor4d(values, [size, size, out, inC]);
  layer.setWeights([init]);
  init.dispose();
}

/**
 * FCN (Long et al. 2015): class scores at 1/8 resolution from a 1×1 convolution, brought back to
 * full size by learned transposed convolutions initialised as bilinear upsampling.
 *   skips false ("FCN-32s" here: one ×8 upsampling of the coarse scores);
 *   skips true  (FCN-8s extended to full resolution: three ×2 upsamplings, each summed with the
 *                scores a 1×1 convolution reads off the encoder features of that size).
 */
export function createFcnSegmenter(options: SegmenterOptions & { skips: boolean }): tf.LayersModel {
  const r = resolve(options);
  const init = initialisers(r.seed);
  const input = inputOf(r);
  const { features, skips } = encoder(input, r, init, false);
  const k = r.numClasses;
  let scores = conv(k, 1, 'score8', init, 'linear').apply(features) as tf.SymbolicTensor; // [b, s/8, s/8, classes]
  if (!options.skips) {
    scores = bilinearUpconv(k, 8, 'up8x').apply(scores) as tf.SymbolicTensor; // [b, s, s, classes]
  } else {
    for (let level = 3; level >= 1; level--) {
      const up = bilinearUpconv(k, 2, `up${level}`).apply(scores) as tf.SymbolicTensor; // [b, s/2^(level−1), …, classes]
      // zero-initialised, as FCN's skip scores: training starts from the coarse net's output
      const side = tf.layers.conv2d({ filters: k, kernelSize: 1, kernelInitializer: 'zeros', name: `score_enc${level}` })
        .apply(skips[level - 1]) as tf.SymbolicTensor;
      scores = tf.layers.add({ name: `fuse${level}` }).apply([up, side]) as tf.SymbolicTensor;
    }
  }
  const model = tf.model({ inputs: input, outputs: scores, name: options.skips ? 'fcn_skips' : 'fcn' });
  for (const layer of model.layers) if (/^up(\d|8x)/.test(layer.name)) setBilinear(layer);
  return model;
}

/**
 * DeconvNet-style: max-unpooling with the encoder's switches, each followed by a 3×3 convolution
 * (Noh et al. 2015), then 1×1 scores. As in the paper's best result (DeconvNet ensembled with
 * FCN), the decoder's scores are added to FCN's coarse scores upsampled ×8 (bilinear start); the
 * decoder's score layer starts at zero, so training starts from the coarse prediction and the
 * unpooling path learns to put the detail back where the maxima were.
 */
export function createDeconvNetSegmenter(options: SegmenterOptions): tf.LayersModel {
  const r = resolve(options);
  const init = initialisers(r.seed);
  const input = inputOf(r);
  const { features, switches } = encoder(input, r, init, true);
  let x = features; // [b, s/8, s/8, c3]
  const widths = [r.channels[1], r.channels[0], r.channels[0]];
  for (let step = 0; step < 3; step++) {
    const level = 3 - step;
    // the unpooled map must have the channels of the pooled map its switches index
    const needed = r.channels[level - 1];
    if (x.shape[3] !== needed) x = conv(needed, 1, `match${level}`, init).apply(x) as tf.SymbolicTensor;
    x = new MaxUnpool({ poolSize: 2, name: `unpool${level}` }).apply([x, switches[level - 1]]) as tf.SymbolicTensor; // [b, 2h, 2w, c]
    x = conv(widths[step], 3, `dec${level}`, init).apply(x) as tf.SymbolicTensor;
  }
  const k = r.numClasses;
  const decoded = tf.layers.conv2d({ filters: k, kernelSize: 1, kernelInitializer: 'zeros', name: 'score_dec' }).apply(x) as tf.SymbolicTensor; // [b, s, s, classes]
  const coarse = conv(k, 1, 'score8', init, 'linear').apply(features) as tf.SymbolicTensor; // [b, s/8, s/8, classes]
  const up = bilinearUpconv(k, 8, 'up8x').apply(coarse) as tf.SymbolicTensor; // [b, s, s, classes]
  const scores = tf.layers.add({ name: 'scores' }).apply([decoded, up]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: scores, name: 'deconvnet' });
  setBilinear(model.getLayer('up8x'));
  return model;
}

/** One builder for the three kinds (the notebook loops over them). */
export function createSegmenter(kind: SegmenterKind, options: SegmenterOptions): tf.LayersModel {
  switch (kind) {
    case 'fcn': return createFcnSegmenter({ ...options, skips: false });
    case 'fcn-skips': return createFcnSegmenter({ ...options, skips: true });
    case 'deconvnet': return createDeconvNetSegmenter(options);
    default: throw new Error(`unknown segmenter kind '${String(kind)}': use 'fcn', 'fcn-skips' or 'deconvnet'`);
  }
}

/**
 * The learned upsampling filters of a model: for every transposed convolution (FCN's up*, read
 * in order), the k×k filter that maps each class's coarse score to its own finer score (the
 * diagonal of the [k, k, classes, classes] kernel; FCN starts them all as the bilinear kernel).
 */
export function upsamplingFilters(model: tf.LayersModel): { layer: string; filters: number[][][] }[] {
  return model.layers.filter((l) => l.getClassName() === 'Conv2DTranspose').map((l) => {
    const [kernel] = l.getWeights(); // [k, k, out, in]
    const [k, , out, inC] = kernel.shape;
    const v = kernel.dataSync();
    const filters = Array.from({ length: Math.min(out, inC) }, (_, c) =>
      Array.from({ length: k }, (__, r) => Array.from({ length: k }, (___, q) => v[((r * k + q) * out + c) * inC + c])));
    return { layer: l.name, filters };
  });
}

/**
 * The encoder as a digit classifier (the role VGG-16 trained on ImageNet plays for FCN and
 * DeconvNet): the same layers (enc1…3, pool1…3, ctx1…) on single-digit images, global average
 * pooling and a dense layer 'digit_classifier' to the 10 digit scores. Input [b, size, size, 1].
 */
export function createEncoderClassifier(options: SegmenterOptions): tf.LayersModel {
  const r = resolve(options);
  const init = initialisers(r.seed);
  const input = inputOf(r);
  const { features } = encoder(input, r, init, false); // [b, s/8, s/8, c3]
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(features) as tf.SymbolicTensor; // [b, c3]
  const scores = tf.layers.dense({ units: 10, kernelInitializer: init(), name: 'digit_classifier' }).apply(pooled) as tf.SymbolicTensor; // [b, 10]
  return tf.model({ inputs: input, outputs: scores, name: 'digit_classifier' });
}

/**
 * Starts a segmenter from a trained digit classifier, as FCN and DeconvNet start from an ImageNet
 * classifier: the encoder layers (same names) are copied, and an FCN's coarse score layer
 * 'score8' becomes the classifier made convolutional — global average pooling then a dense layer
 * equals a 1×1 convolution then averaging, so the dense weights *are* a 1×1 convolution scoring
 * every 8×8 cell (digit d → class d + 1; the background class starts at zero). Returns the
 * names of the layers copied (convolutions and their batch normalisations).
 */
export function transferEncoder(classifier: tf.LayersModel, segmenter: tf.LayersModel): string[] {
  const copied: string[] = [];
  for (const layer of segmenter.layers) {
    if (!/^(enc\d|ctx\d)/.test(layer.name)) continue;
    if (layer.weights.length === 0) continue; // ReLU layers: nothing to copy
    let source: tf.layers.Layer;
    try {
      source = classifier.getLayer(layer.name);
    } catch {
      throw new Error(`transferEncoder: the classifier has no layer '${layer.name}': build both with the same channels and contextConvs`);
    }
    layer.setWeights(source.getWeights());
    copied.push(layer.name);
  }
  const score = segmenter.layers.find((l) => l.name === 'score8');
  if (score) {
    const [dense, bias] = classifier.getLayer('digit_classifier').getWeights(); // [c, 10], [10]
    const [kernel] = score.getWeights(); // [1, 1, c, classes]
    const classes = kernel.shape[3] as number;
    if (classes !== 11) throw new Error(`transferEncoder: 'score8' must score background + 10 digits (has ${classes} classes)`);
    const [k, b] = tf.tidy(() => [
      tf.concat([tf.zeros([dense.shape[0], 1]), dense], 1).reshape([1, 1, dense.shape[0], classes]), // [1, 1, c, 11]
      tf.concat([tf.zeros([1]), bias]), // [11]
    ]);
    score.setWeights([k, b]);
    tf.dispose([k, b]);
    copied.push('score8');
  }
  return copied;
}
