/**
 * Show, Attend and Tell (Xu et al. 2015) at teaching scale: a small CNN encoder that turns an
 * image into an H×W grid of D-dimensional annotation vectors, and an LSTM decoder that writes the
 * caption one word at a time, with
 *   - 'none': no attention — the image enters once, as the decoder's initial state (Show and Tell);
 *   - 'soft': at every word an attention MLP scores the L = H·W locations, p = softmax(scores),
 *             the context is z = β · Σ_i p_i a_i (β a learned gate), trained by backpropagation;
 *   - 'hard': the context is the annotation of ONE location s ~ p, trained with REINFORCE.
 *
 * Plain tf.Variables and functions, not tf.layers: every equation of the paper is one line here
 * and the notebook can rebuild each step by hand and compare. Recurrences use few, large ops
 * (wasm runs one thread and pays per op): the image side of the attention MLP is projected once
 * per image, and one matMul computes all four LSTM gates.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, normal, type Rng } from '../runtime/random';
import type { CaptionBatch } from './vocab';

export type AttentionKind = 'none' | 'soft' | 'hard';

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

export interface EncoderOptions {
  /** Square input images of this many pixels a side. Default 48. */
  imageSize?: number;
  /** Output channels of each conv 3×3 + ReLU + max-pool 2 stage; the last is D. Default [16, 32, 64]. */
  channels?: number[];
  /** Seed of the initial weights. Default 1. */
  seed?: number;
}

/** The CNN: an image → a grid×grid grid of D-dimensional annotation vectors a_1 … a_L. */
export interface ImageEncoder {
  config: Required<EncoderOptions>;
  grid: number;
  /** L = grid². */
  locations: number;
  /** D */
  features: number;
  /** Every weight, the standardisation statistics included. */
  weights: Record<string, tf.Variable>;
  /** The conv weights (what pretraining trains). */
  variables(): tf.Variable[];
  dispose(): void;
}

function glorot(rng: Rng, shape: number[], fanIn: number, fanOut: number): tf.Tensor {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (rng() * 2 - 1) * limit;
  return tf.tensor(v, shape);
}

let nextModelId = 0;

function makeVariables(shapes: Record<string, number[]>, prefix: string, rng: Rng, init: (name: string, shape: number[]) => tf.Tensor | null): Record<string, tf.Variable> {
  const id = nextModelId++;
  const weights: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    let value = init(name, shape);
    if (value === null) {
      if (name.endsWith('bias') || shape.length === 1) value = tf.zeros(shape);
      else if (shape.length === 4) value = glorot(rng, shape, shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]);
      else value = glorot(rng, shape, shape[0], shape[1]);
    }
    weights[name] = tf.variable(value, true, `${prefix}_${id}_${name.replace(/\//g, '_')}`);
    value.dispose();
  }
  return weights;
}

function resolveEncoder(options: EncoderOptions): Required<EncoderOptions> {
  const c = { imageSize: options.imageSize ?? 48, channels: options.channels ?? [16, 32, 64], seed: options.seed ?? 1 };
  if (c.channels.length === 0 || c.channels.some((n) => !(Number.isInteger(n) && n > 0))) {
    throw new Error(`createEncoder: channels must be positive integers, one per conv stage (got [${c.channels.join(', ')}])`);
  }
  const scale = 2 ** c.channels.length;
  if (!(Number.isInteger(c.imageSize) && c.imageSize % scale === 0 && c.imageSize >= scale)) {
    throw new Error(`createEncoder: imageSize ${c.imageSize} must be a multiple of ${scale} (each of the ${c.channels.length} stages halves it)`);
  }
  return c;
}

/** The encoder's weight names and shapes. */
export function encoderShapes(options: EncoderOptions = {}): Record<string, number[]> {
  const c = resolveEncoder(options);
  const shapes: Record<string, number[]> = {};
  let cin = 3;
  c.channels.forEach((cout, k) => {
    shapes[`conv${k + 1}/kernel`] = [3, 3, cin, cout];
    shapes[`conv${k + 1}/bias`] = [cout];
    cin = cout;
  });
  // Per-channel standardisation of the annotations (set by calibrateEncoder, not trained): raw
  // ReLU features reach 40, which would saturate the attention MLP's tanh.
  shapes['norm/mean'] = [cin];
  shapes['norm/std'] = [cin];
  return shapes;
}

/** A CNN encoder with seeded initial weights. */
export function createEncoder(options: EncoderOptions = {}): ImageEncoder {
  const config = resolveEncoder(options);
  const shapes = encoderShapes(config);
  const weights = makeVariables(shapes, 'encoder', mulberry32(config.seed), (name, shape) => (name === 'norm/std' ? tf.ones(shape) : null));
  const grid = config.imageSize / 2 ** config.channels.length;
  const names = Object.keys(shapes);
  const trainable = names.filter((n) => n.startsWith('conv'));
  return {
    config, grid, locations: grid * grid, features: config.channels[config.channels.length - 1], weights,
    variables: () => trainable.map((n) => weights[n]),
    dispose: () => { for (const n of names) weights[n].dispose(); },
  };
}

/** The conv feature map: [batch, grid, grid, D] (any image size divisible by 2^stages). */
export function encoderFeatureMap(encoder: ImageEncoder, images: tf.Tensor4D): tf.Tensor4D {
  if (images.rank !== 4 || images.shape[3] !== 3) throw new Error(`encoder: expects RGB images [batch, height, width, 3] (got [${images.shape.join(', ')}])`);
  return tf.tidy(() => {
    let x: tf.Tensor4D = images;
    encoder.config.channels.forEach((_, k) => {
      const w = encoder.weights;
      x = tf.relu(tf.add(tf.conv2d(x, w[`conv${k + 1}/kernel`] as tf.Tensor4D, 1, 'same'), w[`conv${k + 1}/bias`])) as tf.Tensor4D;
      x = tf.maxPool(x, 2, 2, 'valid'); // [batch, size/2^(k+1), size/2^(k+1), channels[k]]
    });
    return x;
  });
}

/** The annotation vectors of images: [batch, L, D], one D-vector per cell of the grid. */
export function encodeImages(encoder: ImageEncoder, images: tf.Tensor4D): tf.Tensor3D {
  const s = encoder.config.imageSize;
  if (images.rank !== 4 || images.shape[1] !== s || images.shape[2] !== s || images.shape[3] !== 3) {
    throw new Error(`encodeImages: expects images of shape [batch, ${s}, ${s}, 3] (got [${images.shape.join(', ')}]): resize them to the encoder's imageSize`);
  }
  return tf.tidy(() => {
    const raw = tf.reshape(encoderFeatureMap(encoder, images), [images.shape[0], encoder.locations, encoder.features]);
    return tf.div(tf.sub(raw, encoder.weights['norm/mean']), encoder.weights['norm/std']) as tf.Tensor3D; // [batch, L, D]
  });
}

/** Sets the standardisation statistics from images (e.g. a few hundred training scenes). */
export function calibrateEncoder(encoder: ImageEncoder, images: tf.Tensor4D): void {
  tf.tidy(() => {
    const raw = tf.reshape(encoderFeatureMap(encoder, images), [-1, encoder.features]);
    const { mean, variance } = tf.moments(raw, 0);
    encoder.weights['norm/mean'].assign(mean);
    encoder.weights['norm/std'].assign(tf.sqrt(tf.add(variance, 1e-6)));
  });
}

/** encodeImages in chunks (a whole test set without one huge intermediate). */
export function encodeImagesInBatches(encoder: ImageEncoder, images: tf.Tensor4D, batchSize = 256): tf.Tensor3D {
  const parts: tf.Tensor3D[] = [];
  for (let start = 0; start < images.shape[0]; start += batchSize) {
    const n = Math.min(batchSize, images.shape[0] - start);
    parts.push(tf.tidy(() => encodeImages(encoder, tf.slice(images, [start, 0, 0, 0], [n, -1, -1, -1]))));
  }
  if (parts.length === 1) return parts[0];
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoder (the captioner)
// ---------------------------------------------------------------------------------------------

export interface CaptionerOptions {
  kind: AttentionKind;
  vocabSize: number;
  /** The encoder whose annotations the decoder reads (its grid and D; not owned). */
  encoder: ImageEncoder;
  /** Word embedding size (also the deep-output size). Default 32. */
  embedding?: number;
  /** LSTM units. Default 128. */
  hidden?: number;
  /** Width of the attention MLP. Default 64. */
  attention?: number;
  /** Seed of the initial weights. Default 1. */
  seed?: number;
}

export interface Captioner {
  kind: AttentionKind;
  config: Required<Omit<CaptionerOptions, 'encoder'>>;
  encoder: ImageEncoder;
  grid: number;
  locations: number;
  features: number;
  /** The decoder's weights (the encoder's are encoder.weights). */
  weights: Record<string, tf.Variable>;
  /** The decoder's weights, in a fixed order: what captioning trains (the encoder stays frozen). */
  variables(): tf.Variable[];
  /** Disposes the decoder's weights (not the shared encoder). */
  dispose(): void;
}

function resolveCaptioner(options: CaptionerOptions): Required<Omit<CaptionerOptions, 'encoder'>> {
  const c = {
    kind: options.kind,
    vocabSize: options.vocabSize,
    embedding: options.embedding ?? 32,
    hidden: options.hidden ?? 128,
    attention: options.attention ?? 64,
    seed: options.seed ?? 1,
  };
  if (!['none', 'soft', 'hard'].includes(c.kind)) throw new Error(`createCaptioner: kind must be 'none', 'soft' or 'hard' (got '${c.kind}')`);
  if (!(Number.isInteger(c.vocabSize) && c.vocabSize >= 4)) throw new Error(`createCaptioner: vocabSize must be an integer ≥ 4 (the special tokens; got ${c.vocabSize}): pass vocab.size`);
  for (const [name, v] of [['embedding', c.embedding], ['hidden', c.hidden], ['attention', c.attention]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new Error(`createCaptioner: ${name} must be a positive integer (got ${v})`);
  }
  if (!options.encoder || typeof options.encoder.locations !== 'number') throw new Error('createCaptioner: pass the encoder whose annotations it reads: createCaptioner({ kind, vocabSize, encoder })');
  return c;
}

/** The decoder's weight names and shapes for a grid of L locations of D features. */
export function captionerShapes(options: CaptionerOptions): Record<string, number[]> {
  const c = resolveCaptioner(options);
  const L = options.encoder.locations, D = options.encoder.features;
  const { embedding: E, hidden: H, attention: A, vocabSize: V } = c;
  const shapes: Record<string, number[]> = {};
  // Where each cell is: a conv feature alone does not say it, and "the object right of the last
  // one" needs it.
  shapes['position'] = [L, D];
  // f_init: the initial LSTM state from the image (the mean annotation; the whole flattened grid
  // without attention, so the baseline knows where things are).
  shapes['init/kernel'] = [c.kind === 'none' ? L * D : D, 2 * H];
  shapes['init/bias'] = [2 * H];
  shapes['embed'] = [V, E];
  shapes['lstm/kernel'] = [E + H + (c.kind === 'none' ? 0 : D), 4 * H];
  shapes['lstm/bias'] = [4 * H];
  if (c.kind !== 'none') {
    shapes['att/image'] = [D, A];
    shapes['att/bias'] = [A];
    shapes['att/hidden'] = [H, A];
    shapes['att/score'] = [A, 1];
    shapes['out/context'] = [D, E];
  }
  if (c.kind === 'soft') {
    shapes['gate/kernel'] = [H, 1];
    shapes['gate/bias'] = [1];
  }
  shapes['out/hidden'] = [H, E];
  shapes['out/vocab'] = [E, V];
  shapes['out/bias'] = [V];
  return shapes;
}

/** A captioner (decoder) with seeded initial weights, reading `encoder`'s annotations. */
export function createCaptioner(options: CaptionerOptions): Captioner {
  const config = resolveCaptioner(options);
  const encoder = options.encoder;
  const shapes = captionerShapes(options);
  const rng = mulberry32(config.seed);
  const H = config.hidden;
  const weights = makeVariables(shapes, `captioner_${config.kind}`, rng, (name, shape) => {
    if (name === 'lstm/bias') {
      // Forget gates start open (bias 1): gradients flow through time from the start.
      const v = new Float32Array(shape[0]);
      v.fill(1, H, 2 * H);
      return tf.tensor(v, shape);
    }
    if (name === 'position') {
      const v = new Float32Array(shape[0] * shape[1]);
      for (let i = 0; i < v.length; i++) v[i] = 0.1 * normal(rng);
      return tf.tensor(v, shape);
    }
    return null;
  });
  const names = Object.keys(shapes);
  return {
    kind: config.kind, config, encoder,
    grid: encoder.grid, locations: encoder.locations, features: encoder.features,
    weights,
    variables: () => names.map((n) => weights[n]),
    dispose: () => { for (const n of names) weights[n].dispose(); },
  };
}

// ---------------------------------------------------------------------------------------------
// Decoder pieces
// ---------------------------------------------------------------------------------------------

/** What the decoder reads at every step, computed once per image. */
export interface EncodedImages {
  /** a = CNN features + position: [batch, L, D] */
  annotations: tf.Tensor3D;
  /** a·W_a + b: [batch, L, A], the image side of the attention MLP (absent without attention). */
  projected?: tf.Tensor3D;
}

/** Adds each cell's position to the encoder's features and projects them for the attention MLP, once per image. */
export function prepareAnnotations(model: Captioner, features: tf.Tensor3D): EncodedImages {
  const [b, L, D] = features.shape;
  if (features.rank !== 3 || L !== model.locations || D !== model.features) {
    throw new Error(`prepareAnnotations: expects encoder features [batch, ${model.locations}, ${model.features}] (got [${features.shape.join(', ')}]): encode the images with the captioner's encoder`);
  }
  return tf.tidy(() => {
    const annotations = tf.add(features, model.weights['position']) as tf.Tensor3D;     // [batch, L, D]
    if (model.kind === 'none') return { annotations } as unknown as tf.TensorContainer;
    const A = model.config.attention;
    const projected = tf.reshape(
      tf.add(tf.matMul(tf.reshape(annotations, [b * L, D]), model.weights['att/image']), model.weights['att/bias']), [b, L, A]); // [batch, L, A]
    return { annotations, projected } as unknown as tf.TensorContainer;
  }) as unknown as EncodedImages;
}

/** f_init: h0, c0 = tanh(W · image + b), the image being mean(a) (or the flattened grid without attention). */
export function initialState(model: Captioner, annotations: tf.Tensor3D): { h: tf.Tensor2D; c: tf.Tensor2D } {
  return tf.tidy(() => {
    const [b, L, D] = annotations.shape;
    const image = model.kind === 'none' ? tf.reshape(annotations, [b, L * D]) : tf.mean(annotations, 1);
    const hc = tf.tanh(tf.add(tf.matMul(image as tf.Tensor2D, model.weights['init/kernel']), model.weights['init/bias'])); // [batch, 2H]
    const [h, c] = tf.split(hc, 2, 1) as tf.Tensor2D[];
    return { h, c };
  });
}

/**
 * The attention MLP: score_i = w · tanh(a_i W_a + b + h W_h), and its log-softmax over the L
 * locations. Returns log p: [batch, L] (p = exp(log p)).
 */
export function attentionLogits(model: Captioner, encoded: EncodedImages, h: tf.Tensor2D): tf.Tensor2D {
  const projected = encoded.projected;
  if (!projected) throw new Error('attentionLogits: this model has no attention (kind none)');
  const [b, L, A] = projected.shape;
  const query = tf.matMul(h, model.weights['att/hidden']);                         // [batch, A]
  const hiddenLayer = tf.tanh(tf.add(projected, tf.reshape(query, [b, 1, A])));     // [batch, L, A]
  const scores = tf.reshape(tf.matMul(tf.reshape(hiddenLayer, [b * L, A]), model.weights['att/score']), [b, L]); // [batch, L]
  return tf.logSoftmax(scores) as tf.Tensor2D;
}

/** z = Σ_i p_i a_i for each image: [batch, D]. */
export function expectedContext(annotations: tf.Tensor3D, p: tf.Tensor2D): tf.Tensor2D {
  return tf.sum(tf.mul(annotations, tf.expandDims(p, 2)), 1) as tf.Tensor2D; // [batch, D]
}

/** The soft-attention gate β = σ(h W_β + b): [batch, 1]. */
export function attentionGate(model: Captioner, h: tf.Tensor2D): tf.Tensor2D {
  return tf.sigmoid(tf.add(tf.matMul(h, model.weights['gate/kernel']), model.weights['gate/bias'])) as tf.Tensor2D;
}

/** One LSTM step; the four gates (i, f, o, g) from one matMul of [x, h, z]. */
export function lstmStep(model: Captioner, x: tf.Tensor2D, h: tf.Tensor2D, c: tf.Tensor2D, z?: tf.Tensor2D): { h: tf.Tensor2D; c: tf.Tensor2D } {
  const input = tf.concat(z ? [x, h, z] : [x, h], 1);
  const gates = tf.add(tf.matMul(input, model.weights['lstm/kernel']), model.weights['lstm/bias']); // [batch, 4H]
  const [i, f, o, g] = tf.split(gates, 4, 1);
  const cNext = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g))) as tf.Tensor2D;
  const hNext = tf.mul(tf.sigmoid(o), tf.tanh(cNext)) as tf.Tensor2D;
  return { h: hNext, c: cNext };
}

/** The deep output layer: logits = (E y_{t−1} + h L_h + z L_z) L_o + b, for any number of rows. */
export function captionOutputLogits(model: Captioner, embedded: tf.Tensor2D, h: tf.Tensor2D, z?: tf.Tensor2D): tf.Tensor2D {
  let mix = tf.add(embedded, tf.matMul(h, model.weights['out/hidden']));
  if (z) mix = tf.add(mix, tf.matMul(z, model.weights['out/context']));
  return tf.add(tf.matMul(mix, model.weights['out/vocab']), model.weights['out/bias']) as tf.Tensor2D; // [rows, V]
}

/** Word ids → one-hot rows (built in JavaScript: no gather, whose gradient wasm lacks). */
export function oneHotRows(ids: readonly number[], depth: number): tf.Tensor2D {
  const v = new Float32Array(ids.length * depth);
  ids.forEach((id, r) => {
    if (!(Number.isInteger(id) && id >= 0 && id < depth)) throw new Error(`oneHotRows: id ${id} is outside 0…${depth - 1}`);
    v[r * depth + id] = 1;
  });
  return tf.tensor2d(v, [ids.length, depth]);
}

/** Draws one location per row from p (rows of probabilities), with a seeded generator. */
export function sampleLocations(p: ArrayLike<number>, rows: number, locations: number, rng: Rng): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let u = rng();
    let k = 0;
    for (; k < locations - 1; k++) {
      u -= p[r * locations + k];
      if (u < 0) break;
    }
    out.push(k);
  }
  return out;
}

/** Index of the largest value in each row. */
export function argmaxRows(values: ArrayLike<number>, rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < cols; k++) if (values[r * cols + k] > values[r * cols + best]) best = k;
    out.push(best);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One step of the decoder, and the whole teacher-forced pass
// ---------------------------------------------------------------------------------------------

/** How a hard-attention model picks its location: sample from p (training), or the argmax of p. */
export type HardChoice =
  /**
   * Sample s ~ p. With `expectationRate` r, each row reads the expected annotation Σ p_i a_i
   * instead, with probability r (Xu et al. §4.1 use 0.5 to reduce the estimator's variance).
   */
  | { mode: 'sample'; rng: Rng; expectationRate?: number }
  | { mode: 'argmax' };

export interface StepResult {
  h: tf.Tensor2D;
  c: tf.Tensor2D;
  /** Embedded input word: [batch, E] */
  embedded: tf.Tensor2D;
  /** Context the LSTM read (after the gate β for soft attention): [batch, D]; absent for 'none'. */
  context?: tf.Tensor2D;
  /** log p over locations: [batch, L]; absent for 'none'. */
  logAttention?: tf.Tensor2D;
  /** Hard attention: the chosen location of each row (−1 where the row read the expectation). */
  locations?: number[];
}

/** One decoder step from the previous word ids and state (Xu et al. eqs. 1–3 with the chosen attention). */
export function captionDecoderStep(model: Captioner, encoded: EncodedImages, words: readonly number[], state: { h: tf.Tensor2D; c: tf.Tensor2D }, hard?: HardChoice): StepResult {
  const embedded = tf.matMul(oneHotRows(words, model.config.vocabSize), model.weights['embed']) as tf.Tensor2D; // [batch, E]
  if (model.kind === 'none') {
    const next = lstmStep(model, embedded, state.h, state.c);
    return { ...next, embedded };
  }
  const logAttention = attentionLogits(model, encoded, state.h);
  const p = tf.exp(logAttention) as tf.Tensor2D;
  let context: tf.Tensor2D;
  let locations: number[] | undefined;
  if (model.kind === 'soft') {
    context = tf.mul(attentionGate(model, state.h), expectedContext(encoded.annotations, p)) as tf.Tensor2D;
  } else {
    const [b, L] = p.shape;
    const choice = hard ?? { mode: 'argmax' };
    const values = choice.mode === 'sample' ? p.dataSync() : logAttention.dataSync();
    locations = choice.mode === 'sample' ? sampleLocations(values, b, L, choice.rng) : argmaxRows(values, b, L);
    // z = a_s: the one-hot location picks one annotation (no gradient reaches p through it).
    const rate = choice.mode === 'sample' ? choice.expectationRate ?? 0 : 0;
    if (rate > 0 && choice.mode === 'sample') {
      const useMean = locations.map(() => choice.rng() < rate);
      locations = locations.map((s, r) => (useMean[r] ? -1 : s));
      const pick = new Float32Array(b * L);
      locations.forEach((s, r) => { if (s >= 0) pick[r * L + s] = 1; });
      const m = tf.tensor2d(useMean.map((u) => (u ? 1 : 0)), [b, 1]);
      context = tf.add(expectedContext(encoded.annotations, tf.tensor2d(pick, [b, L])),
        tf.mul(m, expectedContext(encoded.annotations, p))) as tf.Tensor2D;
    } else {
      context = expectedContext(encoded.annotations, oneHotRows(locations, L));
    }
  }
  const next = lstmStep(model, embedded, state.h, state.c, context);
  return { ...next, embedded, context, logAttention, locations };
}

export interface ForwardResult {
  /** [steps·batch, V], time-major rows */
  logits: tf.Tensor2D;
  /** Per step, log p over locations [batch, L] (attention models). */
  logAttention: tf.Tensor2D[];
  /** Hard attention: the sampled location per step and example. */
  locations: number[][];
}

/** The teacher-forced pass over a batch of encoder features: every step fed the true previous word. */
export function captionForward(model: Captioner, features: tf.Tensor3D, inputs: readonly (readonly number[])[], hard?: HardChoice): ForwardResult {
  const encoded = prepareAnnotations(model, features);
  let state = initialState(model, encoded.annotations);
  const embedded: tf.Tensor2D[] = [], hs: tf.Tensor2D[] = [], zs: tf.Tensor2D[] = [];
  const logAttention: tf.Tensor2D[] = [];
  const locations: number[][] = [];
  for (const words of inputs) {
    const r = captionDecoderStep(model, encoded, words, state, hard);
    state = { h: r.h, c: r.c };
    embedded.push(r.embedded);
    hs.push(r.h);
    if (r.context) zs.push(r.context);
    if (r.logAttention) logAttention.push(r.logAttention);
    if (r.locations) locations.push(r.locations);
  }
  // The output layer for all steps at once: one matMul instead of one per word.
  const logits = captionOutputLogits(model, tf.concat(embedded, 0), tf.concat(hs, 0), zs.length ? tf.concat(zs, 0) : undefined);
  return { logits, logAttention, locations };
}

// ---------------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------------

/** −log p(target) of every row, [rows], from logits [rows, V]. */
function tokenLogLikelihood(logits: tf.Tensor2D, targets: readonly (readonly number[])[]): tf.Tensor1D {
  const flat = targets.flat();
  return tf.sum(tf.mul(tf.logSoftmax(logits), oneHotRows(flat, logits.shape[1])), 1) as tf.Tensor1D;
}

export interface CaptionLossOptions {
  /** λ of the doubly stochastic regulariser λ Σ_i (1 − Σ_t p_ti)² (soft attention). Default 0. */
  doublyStochastic?: number;
}

export interface LossParts {
  loss: tf.Scalar;
  /** Mean −log p per predicted token. */
  nll: tf.Scalar;
  /** The regulariser's value (before λ), averaged over the batch. */
  regulariser?: tf.Scalar;
}

/**
 * Cross-entropy per predicted token (padding masked), plus for soft attention the doubly
 * stochastic regulariser: each location should receive, summed over the caption, attention ≈ 1.
 */
export function captionLoss(model: Captioner, batch: CaptionBatch, options: CaptionLossOptions = {}): LossParts {
  if (model.kind === 'hard') throw new Error('captionLoss: hard attention is trained with reinforceLoss (its sampling has no gradient)');
  const lambda = options.doublyStochastic ?? 0;
  const f = captionForward(model, batch.features, batch.inputs);
  const mask = tf.tensor1d(batch.mask.flat());
  const tokens = tf.sum(mask);
  const nll = tf.div(tf.neg(tf.sum(tf.mul(tokenLogLikelihood(f.logits, batch.targets), mask))), tokens) as tf.Scalar;
  if (model.kind === 'none' || lambda === 0) return { loss: nll, nll };
  const regulariser = doublyStochasticPenalty(f.logAttention, batch.mask);
  return { loss: tf.add(nll, tf.mul(lambda, regulariser)) as tf.Scalar, nll, regulariser };
}

/** mean over the batch of Σ_i (1 − Σ_t p_ti)², summing only over each caption's real steps. */
export function doublyStochasticPenalty(logAttention: tf.Tensor2D[], mask: readonly (readonly number[])[]): tf.Scalar {
  const p = tf.exp(tf.stack(logAttention));                        // [steps, batch, L]
  const m = tf.expandDims(tf.tensor2d(mask as number[][]), 2);        // [steps, batch, 1]
  const total = tf.sum(tf.mul(p, m), 0);                              // [batch, L]
  return tf.mean(tf.sum(tf.square(tf.sub(1, total)), 1)) as tf.Scalar;
}

export interface ReinforceOptions {
  /** Draws the locations. */
  rng: Rng;
  /** The moving-average baseline, updated in place: b ← decay·b + (1 − decay)·mean reward. */
  baseline: { value: number | null; decay?: number };
  /** λ_r, weight of the REINFORCE term. Default 1. */
  reinforceWeight?: number;
  /** λ_e, weight of the entropy bonus. Default 0.01. */
  entropyWeight?: number;
  /** Probability of reading the expected annotation instead of a sample (see HardChoice). Default 0. */
  expectationRate?: number;
}

export interface ReinforceParts extends LossParts {
  /** Mean reward of the batch (mean log p of a caption's words, given the sampled locations). */
  reward: number;
  /** Mean attention entropy per step (nats). */
  entropy: tf.Scalar;
}

/**
 * Hard attention's training signal (Xu et al. §4.1): sample s_t ~ p_t, and
 *   maximise log p(y | s)                         — gradient for the decoder and encoder,
 *   + λ_r (R − b) ∇ Σ_t log p(s_t)                — REINFORCE for the attention, R = log p(y | s),
 *   + λ_e ∇ H[p_t]                                — the entropy bonus,
 * with b a moving average of R. Here R is the per-word mean log-likelihood (captions of 2 and 4
 * objects then share one baseline). Returns a loss to minimise whose gradient is that estimate.
 */
export function reinforceLoss(model: Captioner, batch: CaptionBatch, options: ReinforceOptions): ReinforceParts {
  if (model.kind !== 'hard') throw new Error(`reinforceLoss: for hard attention (got a '${model.kind}' model): use captionLoss`);
  const lr = options.reinforceWeight ?? 1;
  const le = options.entropyWeight ?? 0.01;
  const decay = options.baseline.decay ?? 0.9;
  const f = captionForward(model, batch.features, batch.inputs, { mode: 'sample', rng: options.rng, expectationRate: options.expectationRate });
  const B = batch.lengths.length;
  const T = batch.inputs.length;
  const L = model.locations;
  const mask2 = tf.tensor2d(batch.mask as number[][]);                                     // [T, B]
  const ll = tf.reshape(tokenLogLikelihood(f.logits, batch.targets), [T, B]);               // [T, B]
  const perExample = tf.div(tf.sum(tf.mul(ll, mask2), 0), tf.tensor1d(batch.lengths));      // [B]
  const tokens = batch.lengths.reduce((a, b) => a + b, 0);
  const nll = tf.div(tf.neg(tf.sum(tf.mul(ll, mask2))), tokens) as tf.Scalar;
  // Rewards are numbers: the REINFORCE weight (R − b) carries no gradient.
  const rewards = Array.from(perExample.dataSync());
  const mean = rewards.reduce((a, b) => a + b, 0) / B;
  const b = options.baseline.value ?? mean;
  const advantage = tf.tensor1d(rewards.map((r) => r - b));
  const logP = tf.stack(f.logAttention);                                                    // [T, B, L]
  // Only sampled steps get the REINFORCE term (a step that read the expectation is trained by backprop).
  const chosen = tf.tensor3d(f.locations.flatMap((row) => row.flatMap((s) => {
    const v = new Array(L).fill(0);
    if (s >= 0) v[s] = 1;
    return v;
  })), [T, B, L]);
  const m3 = tf.expandDims(mask2, 2);
  const logPs = tf.sum(tf.mul(tf.mul(logP, chosen), m3), [0, 2]);                          // [B]: Σ_t log p(s_t)
  const entropyPerStep = tf.neg(tf.sum(tf.mul(tf.exp(logP), logP), 2));                    // [T, B]
  const entropy = tf.div(tf.sum(tf.mul(entropyPerStep, mask2)), tokens) as tf.Scalar;
  const reinforce = tf.neg(tf.mean(tf.mul(advantage, logPs)));
  const loss = tf.sub(tf.add(nll, tf.mul(lr, reinforce)), tf.mul(le, entropy)) as tf.Scalar;
  options.baseline.value = options.baseline.value === null ? mean : decay * options.baseline.value + (1 - decay) * mean;
  return { loss, nll, entropy, reward: mean };
}
