/**
 * Training and scoring segmentation networks on generated scenes, with the kit's shared loop
 * (lib/train): scenes are generated batch by batch (scene i depends only on the seed and i, so
 * a run is reproducible and never sees the same composition twice), the loss is the per-pixel
 * softmax cross-entropy, and progress is shown live in the notebook.
 */
import * as tf from '@tensorflow/tfjs';
import type { DigitSet } from '../data/mnist';
import { train } from '../train/loop';
import { createAdam } from '../train/adam';
import type { Dataset, ProgressMode, TrainHistory } from '../train/types';
import { accumulateConfusion, emptyConfusion, scoresFromConfusion, type SegmentationScores } from './metrics';
import { generateScenes, SEG_NUM_CLASSES, type SceneOptions, type SceneSet } from './scenes';

export interface SceneBatch {
  /** [b, size, size, 1] */
  xs: tf.Tensor4D;
  /** int32 [b, size, size] class per pixel */
  labels: tf.Tensor3D;
}

/**
 * A data set of `size` generated scenes (scene i = scene i of the seeded set), made batch by batch.
 */
export function sceneDataset(digits: DigitSet, size: number, options: SceneOptions & { seed: number }): Dataset<SceneBatch> {
  if (!Number.isInteger(size) || size < 1) throw new Error(`size must be a whole number ≥ 1 (got ${size})`);
  return {
    size,
    batch(indices: number[]): SceneBatch {
      const scenes = indices.map((i) => generateScenes(digits, 1, { ...options, start: i }));
      const s = scenes[0].size;
      const images = new Float32Array(indices.length * s * s);
      const labels = new Int32Array(indices.length * s * s);
      scenes.forEach((set, j) => {
        images.set(set.images, j * s * s);
        labels.set(set.labels, j * s * s);
      });
      return { xs: tf.tensor4d(images, [indices.length, s, s, 1]), labels: tf.tensor3d(labels, [indices.length, s, s], 'int32') };
    },
  };
}

/**
 * Mean per-pixel softmax cross-entropy of logits [b, h, w, classes] against labels [b, h, w];
 * background pixels weigh `backgroundWeight`. With `digitWeight` > 0, plus that times the
 * cross-entropy among the digit classes alone on the digit pixels: a strong signal for *which*
 * digit, which leaves the background-vs-digit decision of the first term unbiased (down-weighting
 * the background instead makes the network paint digits too fat).
 */
export function segmentationLoss(logits: tf.Tensor, labels: tf.Tensor, backgroundWeight = 1, digitWeight = 0): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[logits.rank - 1] as number;
    const labelsInt = labels.toInt();
    let loss = weightedSoftmaxCrossEntropy(logits, labelsInt, backgroundWeight);
    if (digitWeight > 0) {
      const size = logits.shape.slice(0, -1).concat([classes - 1]);
      const digitLogits = logits.slice(Array(logits.rank).fill(0).map((_, i) => (i === logits.rank - 1 ? 1 : 0)), size); // [b, h, w, classes − 1]
      const digitTarget = tf.oneHot(labelsInt.sub(1).maximum(0).toInt(), classes - 1); // [b, h, w, classes − 1]
      const perDigitPixel = tf.losses.softmaxCrossEntropy(digitTarget, digitLogits, undefined, undefined, tf.Reduction.NONE); // [b, h, w]
      const isDigit = labelsInt.greater(0).toFloat();
      const digitLoss = perDigitPixel.mul(isDigit).sum().div(isDigit.sum().maximum(1));
      loss = loss.add(digitLoss.mul(digitWeight)) as tf.Scalar;
    }
    return loss;
  });
}

/**
 * Σ w·(−log softmax(logits)[label]) / Σ w over the pixels, with w = `backgroundWeight` on
 * background pixels (label 0) and 1 elsewhere, as one op with its gradient written out:
 * (softmax − one-hot)·w/Σw. Equal to tf.losses.softmaxCrossEntropy weighted the same way (tested,
 * values and gradients), which builds it from ~15 kernels, three of them an exp per element;
 * this is one softmax. A probability that underflows float32 (a logit gap above ~87) caps a
 * pixel's loss at −log(1e−38) ≈ 87.5; the gradient is unaffected.
 */
export function weightedSoftmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor, backgroundWeight = 1): tf.Scalar {
  const classes = logits.shape[logits.rank - 1] as number;
  if (!(backgroundWeight > 0)) throw new Error(`backgroundWeight must be > 0 (got ${backgroundWeight}): a scene of background alone would have no weight`);
  if (labels.size * classes !== logits.size) {
    throw new Error(`labels [${labels.shape}] do not match logits [${logits.shape}]: one label per pixel, ${classes} scores each`);
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor, save = args[1] as tf.GradSaveFunc;
    const rows = labels.size;
    const p = tf.softmax(x.reshape([rows, classes]));                                  // [N, C]
    const flat = labels.reshape([rows]).toInt();                                       // [N]
    const y = tf.oneHot(flat, classes).toFloat();                                      // [N, C]
    const w = backgroundWeight === 1 ? tf.ones([rows]) : tf.where(flat.equal(0), tf.fill([rows], backgroundWeight), tf.ones([rows])); // [N]
    const wn = w.div(w.sum());                                                         // [N], sums to 1
    save([p, y, wn]);
    const picked = tf.maximum(tf.sum(tf.mul(p, y), 1), 1e-38);                        // [N]
    return {
      value: tf.neg(tf.sum(tf.mul(tf.log(picked), wn))) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [ps, ys, ws]: tf.Tensor[]) =>
        tf.mul(tf.sub(ps, ys), tf.mul(ws.reshape([rows, 1]), dy)).reshape(x.shape),    // (p − y)·w/Σw·dy
    };
  });
  return op(logits) as tf.Scalar;
}

export interface TrainSegmenterOptions {
  model: tf.LayersModel;
  /** The training digits (disjoint from the test digits). */
  digits: DigitSet;
  steps: number;
  batchSize: number;
  learningRate: number;
  /** Seeds the scenes (and nothing else: the model was seeded when built). */
  seed: number;
  sceneOptions?: SceneOptions;
  /** Loss weight of background pixels relative to digit pixels. Default 0.3 (digits cover under a tenth of a scene; more weight on them speeds up learning which digit). */
  backgroundWeight?: number;
  /** Weight of the digits-only cross-entropy on digit pixels (see segmentationLoss). Default 0. */
  digitWeight?: number;
  /** Cosine decay of the learning rate to 0 over the steps. Default true. */
  cosineDecay?: boolean;
  progress?: ProgressMode;
  maxSeconds?: number;
  shouldStop?: () => boolean;
}

/** Trains with Adam for `steps` batches of fresh scenes; returns the loop's history. */
export async function trainSegmenter(options: TrainSegmenterOptions): Promise<TrainHistory> {
  const { model, steps, batchSize, learningRate } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a whole number ≥ 1 (got ${steps})`);
  if (!(learningRate > 0)) throw new Error(`learningRate must be > 0 (got ${learningRate})`);
  const data = sceneDataset(options.digits, steps * batchSize, { ...options.sceneOptions, seed: options.seed });
  const optimizer = createAdam(learningRate);
  const decay = options.cosineDecay ?? true;
  let step = 0;
  try {
    return await train<SceneBatch>({
      data,
      batchSize,
      epochs: 1,
      shuffle: false, // every scene is new: order does not matter
      model,
      optimizer,
      loss: (batch, training) => {
        if (training && decay) {
          (optimizer as unknown as { learningRate: number }).learningRate = learningRate * 0.5 * (1 + Math.cos((Math.PI * step) / steps));
          step++;
        }
        const logits = model.apply(batch.xs, { training }) as tf.Tensor; // [b, s, s, classes]
        return segmentationLoss(logits, batch.labels, options.backgroundWeight ?? 0.3, options.digitWeight ?? 0);
      },
      progress: options.progress,
      maxSeconds: options.maxSeconds,
      shouldStop: options.shouldStop,
      // One progress update per 2 s and no live chart: redrawing the chart costs time the notebooks'
      // full-profile budget does not have; they draw the loss curves right after training.
      chart: false,
      progressSeconds: 2,
    });
  } finally {
    optimizer.dispose();
  }
}

/** Arg-max labels of a model over a scene set: Uint8Array [count·size·size]. */
export function predictLabels(model: tf.LayersModel, scenes: SceneSet, batchSize = 32): Uint8Array {
  const s = scenes.size;
  const n = s * s;
  const out = new Uint8Array(scenes.count * n);
  for (let start = 0; start < scenes.count; start += batchSize) {
    const count = Math.min(batchSize, scenes.count - start);
    const labels = tf.tidy(() => {
      const xs = tf.tensor4d(scenes.images.subarray(start * n, (start + count) * n), [count, s, s, 1]);
      return (model.predict(xs) as tf.Tensor).argMax(-1); // [count, s, s]
    });
    out.set(labels.dataSync(), start * n);
    labels.dispose();
  }
  return out;
}

export interface SegmenterEvaluation {
  scores: SegmentationScores;
  predictions: Uint8Array;
  /** Mean IoU of each scene on its own (over the classes present in it or predicted), for finding failures. */
  perScene: number[];
}

/** Pixel accuracy, per-class and mean IoU over the whole held-out set (VOC's way), plus per-scene scores. */
export function evaluateSegmenter(model: tf.LayersModel, scenes: SceneSet, options: { batchSize?: number; numClasses?: number } = {}): SegmenterEvaluation {
  const k = options.numClasses ?? SEG_NUM_CLASSES;
  const predictions = predictLabels(model, scenes, options.batchSize);
  const n = scenes.size * scenes.size;
  const total = emptyConfusion(k);
  const perScene: number[] = [];
  for (let i = 0; i < scenes.count; i++) {
    const truth = scenes.labels.subarray(i * n, (i + 1) * n);
    const pred = predictions.subarray(i * n, (i + 1) * n);
    accumulateConfusion(total, truth, pred);
    perScene.push(scoresFromConfusion(accumulateConfusion(emptyConfusion(k), truth, pred)).meanIou);
  }
  return { scores: scoresFromConfusion(total), predictions, perScene };
}

/**
 * Trains a digit classifier (createEncoderClassifier) on single-digit scenes of side `size` (the
 * scene generator's digits, scales and backgrounds, one digit each), with Adam and the kit's loop.
 */
export async function trainDigitClassifier(
  options: Pick<TrainSegmenterOptions, 'model' | 'digits' | 'steps' | 'batchSize' | 'learningRate' | 'seed' | 'sceneOptions' | 'progress'>,
): Promise<TrainHistory> {
  const { model, steps, batchSize, learningRate } = options;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`steps must be a whole number ≥ 1 (got ${steps})`);
  const size = (model.inputs[0].shape[1] ?? 48) as number;
  const sceneOptions: SceneOptions = { ...options.sceneOptions, size, minDigits: 1, maxDigits: 1 };
  const data: Dataset<{ xs: tf.Tensor4D; ys: tf.Tensor1D }> = {
    size: steps * batchSize,
    batch: (indices) => {
      const images = new Float32Array(indices.length * size * size);
      const labels: number[] = [];
      indices.forEach((i, j) => {
        const set = generateScenes(options.digits, 1, { ...sceneOptions, seed: options.seed, start: i });
        images.set(set.images, j * size * size);
        labels.push(set.boxes[0][0]?.digit ?? 0);
      });
      return { xs: tf.tensor4d(images, [indices.length, size, size, 1]), ys: tf.tensor1d(labels, 'int32') };
    },
  };
  const optimizer = createAdam(learningRate);
  try {
    return await train({
      data, batchSize, epochs: 1, shuffle: false, model, optimizer,
      loss: (batch, training) => {
        const logits = model.apply(batch.xs, { training }) as tf.Tensor2D; // [b, 10]
        return tf.losses.softmaxCrossEntropy(tf.oneHot(batch.ys, 10), logits) as tf.Scalar;
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

/** Accuracy of a digit classifier on `count` held-out single-digit scenes. */
export function digitClassifierAccuracy(model: tf.LayersModel, digits: DigitSet, count: number, seed: number, sceneOptions: SceneOptions = {}): number {
  const size = (model.inputs[0].shape[1] ?? 48) as number;
  const set = generateScenes(digits, count, { ...sceneOptions, size, minDigits: 1, maxDigits: 1, seed });
  const truth = set.boxes.map((b) => b[0]?.digit ?? -1);
  const predicted = tf.tidy(() => (model.predict(tf.tensor4d(set.images, [count, size, size, 1])) as tf.Tensor).argMax(-1));
  const p = predicted.dataSync();
  predicted.dispose();
  let correct = 0;
  truth.forEach((t, i) => { if (t === p[i]) correct++; });
  return correct / count;
}
