/**
 * Training a translator with the kit's shared loop (lib/train): batches grouped by length, Adam
 * with the gradient clipped by its global norm (recurrent nets occasionally produce a huge one),
 * and the hand-written gradients of ./backprop.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, type Rng } from '../runtime/random';
import { train, type TrainHistory, type ProgressMode, type EpochRecord } from '../train';
import type { LineChartOptions } from '../plot/specs';
import { lossAndGradients } from './backprop';
import { makeTranslationBatch, lengthBatches, type EncodedPair } from './data';
import { translationLoss, type TranslationBatch, type Translator } from './model';

/**
 * Adapts a step that updates the weights itself to lib/train, which calls
 * `optimizer.minimize(() => loss(batch))`: here `loss` has already computed the gradient by hand
 * and applied it, so minimize only has to return the cost.
 */
class HandGradientStep extends tf.Optimizer {
  static readonly className = 'HandGradientStep';
  override minimize(f: () => tf.Scalar, returnCost = false): tf.Scalar | null {
    const cost = f();
    if (returnCost) return cost;
    cost.dispose();
    return null;
  }
  applyGradients(): void {
    throw new Error('HandGradientStep: the loss function applies its own gradients');
  }
  getConfig(): tf.serialization.ConfigDict {
    return {};
  }
}

export interface TranslatorTrainer {
  /** One update on a batch; returns the loss before the update. Call inside tf.tidy. */
  step(batch: TranslationBatch): tf.Scalar;
  readonly optimizer: tf.Optimizer;
  dispose(): void;
}

/** Adam over the model's weights with global-norm clipping, driven by hand-written gradients. */
export function createTranslationTrainer(model: Translator, options: { learningRate?: number; clipNorm?: number } = {}): TranslatorTrainer {
  const learningRate = options.learningRate ?? 2e-3;
  const clipNorm = options.clipNorm ?? 5;
  if (!(learningRate > 0)) throw new Error(`createTranslationTrainer: learningRate must be > 0 (got ${learningRate})`);
  if (!(clipNorm > 0)) throw new Error(`createTranslationTrainer: clipNorm must be > 0 (got ${clipNorm})`);
  const adam = tf.train.adam(learningRate);
  return {
    optimizer: adam,
    step(batch: TranslationBatch): tf.Scalar {
      const { loss, grads } = lossAndGradients(model, batch);
      const names = Object.keys(grads);
      const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n])))));
      const scale = tf.minimum(1, tf.div(clipNorm, tf.add(norm, 1e-6)));
      const named: tf.NamedTensorMap = {};
      for (const n of names) named[model.weights[n].name] = tf.mul(grads[n], scale);
      adam.applyGradients(named as Parameters<typeof adam.applyGradients>[0]);
      return loss;
    },
    dispose: () => adam.dispose(),
  };
}

export interface TrainTranslatorOptions {
  model: Translator;
  /** Training pairs, as ids. */
  train: readonly EncodedPair[];
  /** Validation pairs: their mean loss is computed after every epoch. */
  validation?: readonly EncodedPair[];
  /** Sentences per batch. Default 64. */
  batchSize?: number;
  /** Passes over `train`. Default Infinity (then give maxSteps or maxSeconds). */
  epochs?: number;
  maxSteps?: number;
  maxSeconds?: number;
  learningRate?: number;
  clipNorm?: number;
  /** Seeds the batch order. Default 0. */
  seed?: number;
  progress?: ProgressMode;
  chart?: LineChartOptions | false;
  shouldStop?: () => boolean;
  onEpochEnd?: (epoch: EpochRecord, history: TrainHistory) => void | Promise<void>;
  /** An existing trainer to continue with (keeps Adam's moments); default a new one. */
  trainer?: TranslatorTrainer;
}

/**
 * Trains `model` on length-grouped batches until the epochs or the budget run out; returns the
 * loop's history (loss of every step, validation loss of every epoch, steps/s).
 */
export async function trainTranslator(options: TrainTranslatorOptions): Promise<TrainHistory> {
  const { model } = options;
  const batchSize = options.batchSize ?? 64;
  if (options.train.length === 0) throw new Error('trainTranslator: no training pairs');
  const rng: Rng = mulberry32(options.seed ?? 0);
  let batches = lengthBatches(options.train, batchSize, rng);
  const trainer = options.trainer ?? createTranslationTrainer(model, { learningRate: options.learningRate, clipNorm: options.clipNorm });
  const optimizer = new HandGradientStep();
  const validation = options.validation && options.validation.length > 0 ? options.validation : null;
  const validationBatches = validation ? lengthBatches(validation, batchSize) : [];
  try {
    return await train<TranslationBatch>({
      data: { size: batches.length, batch: ([i]) => makeTranslationBatch(batches[i].map((k) => options.train[k])) },
      batchSize: 1,
      epochs: options.epochs ?? Infinity,
      maxSteps: options.maxSteps,
      maxSeconds: options.maxSeconds,
      loss: (batch, training) => (training ? trainer.step(batch) : translationLoss(model, batch)),
      optimizer,
      variables: Object.values(model.weights),
      rng,
      validation: validation ? {
        data: { size: validationBatches.length, batch: ([i]) => makeTranslationBatch(validationBatches[i].map((k) => validation[k])) },
        batchSize: 1,
        name: 'val loss',
      } : undefined,
      progress: options.progress,
      chart: options.chart,
      shouldStop: options.shouldStop,
      onEpochEnd: async (epoch, history) => {
        batches = lengthBatches(options.train, batchSize, rng); // a new grouping each epoch
        await options.onEpochEnd?.(epoch, history);
      },
    });
  } finally {
    if (!options.trainer) trainer.dispose();
  }
}
