/**
 * The encoder's "ImageNet": Xu et al. read VGG features pretrained on ImageNet classification and
 * never fine-tuned them. Ours is pretrained on classifying single coloured digits (one 16×16
 * tile: which digit, which colour) from the training digits, then frozen: every captioner reads
 * the same annotation vectors, and captioning trains only decoders.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, type Rng } from '../runtime/random';
import { train, type Dataset, type TrainHistory, type ProgressMode } from '../train';
import { DIGIT_SIZE, type DigitSet } from '../data';
import { encoderFeatureMap, type ImageEncoder } from './model';
import { COLOUR_NAMES, SCENE_CELL, SCENE_COLOURS, resizeArea } from './scenes';

export interface TileBatch {
  /** [batch, 16, 16, 3] */
  tiles: tf.Tensor4D;
  digits: number[];
  colours: number[];
}

/** Coloured single-digit tiles, drawn as the scenes draw their objects. */
export function tileDataset(digits: DigitSet, options: { seed?: number; size?: number } = {}): Dataset<TileBatch> {
  const rng: Rng = mulberry32(options.seed ?? 5);
  const px = DIGIT_SIZE * DIGIT_SIZE;
  const cell = SCENE_CELL * SCENE_CELL;
  const small = new Float32Array(digits.count * cell);
  for (let i = 0; i < digits.count; i++) {
    small.set(resizeArea(digits.images.subarray(i * px, (i + 1) * px), DIGIT_SIZE, DIGIT_SIZE, SCENE_CELL, SCENE_CELL), i * cell);
  }
  return {
    size: options.size ?? digits.count,
    batch(indices: number[]): TileBatch {
      const v = new Float32Array(indices.length * cell * 3);
      const ds: number[] = [], cs: number[] = [];
      indices.forEach((index, b) => {
        const i = index % digits.count;
        const c = Math.floor(rng() * COLOUR_NAMES.length);
        const rgb = SCENE_COLOURS[COLOUR_NAMES[c]];
        for (let p = 0; p < cell; p++) {
          const x = Math.min(1, small[i * cell + p]);
          for (let ch = 0; ch < 3; ch++) v[(b * cell + p) * 3 + ch] = x * rgb[ch];
        }
        ds.push(digits.labels[i]);
        cs.push(c);
      });
      return { tiles: tf.tensor4d(v, [indices.length, SCENE_CELL, SCENE_CELL, 3]), digits: ds, colours: cs };
    },
  };
}

/** The pretraining head: the mean annotation of the tile → 10 digit logits and 5 colour logits. */
export interface TileHead { kernel: tf.Variable; bias: tf.Variable; dispose(): void }

export function createTileHead(encoder: ImageEncoder, seed = 9): TileHead {
  const rng = mulberry32(seed);
  const D = encoder.features, out = 10 + COLOUR_NAMES.length;
  const limit = Math.sqrt(6 / (D + out));
  const [k0, b0] = [tf.tensor2d(Float32Array.from({ length: D * out }, () => (rng() * 2 - 1) * limit), [D, out]), tf.zeros([out])];
  const kernel = tf.variable(k0);
  const bias = tf.variable(b0);
  tf.dispose([k0, b0]); // the variables hold their own copies
  return { kernel, bias, dispose: () => { kernel.dispose(); bias.dispose(); } };
}

function tileLogits(encoder: ImageEncoder, head: TileHead, tiles: tf.Tensor4D): { digit: tf.Tensor2D; colour: tf.Tensor2D } {
  const pooled = tf.mean(encoderFeatureMap(encoder, tiles), [1, 2]) as tf.Tensor2D;     // [batch, D]
  const logits = tf.add(tf.matMul(pooled, head.kernel), head.bias);                       // [batch, 15]
  const [digit, colour] = tf.split(logits, [10, COLOUR_NAMES.length], 1) as tf.Tensor2D[];
  return { digit, colour };
}

function crossEntropy(logits: tf.Tensor2D, labels: number[]): tf.Scalar {
  const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1]);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), onehot), 1))) as tf.Scalar;
}

export interface PretrainOptions {
  /** Training digits (never the test digits). */
  digits: DigitSet;
  /** Held-out digits to score the classifier on at the end. */
  testDigits?: DigitSet;
  steps: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  progress?: ProgressMode;
  maxSeconds?: number;
}

export interface PretrainResult {
  history: TrainHistory;
  /** Accuracy of the pretraining classifier on the held-out digits (NaN without testDigits). */
  digitAccuracy: number;
  colourAccuracy: number;
}

/** Pretrains the encoder on tile classification; the head is thrown away afterwards. */
export async function pretrainEncoder(encoder: ImageEncoder, options: PretrainOptions): Promise<PretrainResult> {
  if (encoder.config.imageSize % SCENE_CELL !== 0) throw new Error(`pretrainEncoder: the encoder must accept ${SCENE_CELL}-pixel tiles`);
  if (!(Number.isInteger(options.steps) && options.steps > 0)) throw new Error(`pretrainEncoder: steps must be a positive integer (got ${options.steps})`);
  const head = createTileHead(encoder, (options.seed ?? 5) + 4);
  const optimizer = tf.train.adam(options.learningRate ?? 3e-3);
  try {
    const history = await train<TileBatch>({
      data: tileDataset(options.digits, { seed: options.seed }),
      batchSize: options.batchSize ?? 128,
      epochs: Infinity,
      maxSteps: options.steps,
      maxSeconds: options.maxSeconds,
      seed: options.seed,
      optimizer,
      variables: [...encoder.variables(), head.kernel, head.bias],
      loss: (b) => {
        const { digit, colour } = tileLogits(encoder, head, b.tiles);
        return tf.add(crossEntropy(digit, b.digits), crossEntropy(colour, b.colours)) as tf.Scalar;
      },
      progress: options.progress,
      chart: { title: 'Encoder pretraining: digit + colour cross-entropy', xLabel: 'step' },
    });
    let digitAccuracy = NaN, colourAccuracy = NaN;
    if (options.testDigits) {
      const test = tileDataset(options.testDigits, { seed: 99 });
      const b = test.batch(Array.from({ length: options.testDigits.count }, (_, i) => i));
      const [d, c] = tf.tidy(() => {
        const { digit, colour } = tileLogits(encoder, head, b.tiles);
        return [tf.argMax(digit, 1), tf.argMax(colour, 1)];
      });
      const dv = d.dataSync(), cv = c.dataSync();
      digitAccuracy = b.digits.reduce((s, l, i) => s + (dv[i] === l ? 1 : 0), 0) / b.digits.length;
      colourAccuracy = b.colours.reduce((s, l, i) => s + (cv[i] === l ? 1 : 0), 0) / b.colours.length;
      tf.dispose([d, c, b.tiles]);
    }
    return { history, digitAccuracy, colourAccuracy };
  } finally {
    head.dispose();
    optimizer.dispose();
  }
}
