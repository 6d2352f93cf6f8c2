import type * as tf from '@tensorflow/tfjs';
import type { Rng } from '../runtime/random';
import type { LineChartOptions } from '../plot/specs';

/** What a tf.LayersModel takes as inputs or targets. */
export type Tensors = tf.Tensor | tf.Tensor[] | { [name: string]: tf.Tensor };

/** The batch a `model` trains on: `model.trainOnBatch(batch.xs, batch.ys)`. */
export interface XY {
  xs: Tensors;
  ys: Tensors;
}

/**
 * A data set the loop draws batches from. `batch(indices)` builds the tensors of those examples
 * on demand (a generator can synthesise them: nothing has to sit in memory up front). The loop
 * owns and disposes the tensors `batch` creates; tensors it merely returns (a data set tensor
 * you keep, handed out whole) are left alone.
 */
export interface Dataset<B> {
  /** Number of examples; indices passed to `batch` are in [0, size). */
  size: number;
  batch(indices: number[]): B;
}

/** Why training ended. */
export type StopReason =
  | 'epochs'      // ran every epoch
  | 'earlyStop'   // the validation metric stopped improving for `patience` epochs
  | 'maxSteps'    // step budget used up
  | 'maxSeconds'  // wall-time budget used up
  | 'shouldStop'  // your shouldStop() said so
  | 'interrupt';  // the kernel was interrupted (stopOnInterrupt)

/** Where progress goes: see TrainOptions.progress. */
export type ProgressMode = 'auto' | 'live' | 'line' | 'none' | ((line: string) => void);

export interface ValidationOptions<B> {
  /** Validation examples, batched in order (no shuffling). */
  data: Dataset<B>;
  /**
   * A number per batch, averaged over the set weighted by batch size (so a per-example mean gives
   * the set's mean). Runs inside tf.tidy: compute the outputs in it, e.g.
   * `({ xs, ys }) => tf.metrics.categoricalAccuracy(ys, model.predict(xs) as tf.Tensor).mean()`.
   * Default: the loss (`model.evaluate` for a model, your `loss` otherwise), named 'val loss'.
   */
  metric?: (batch: B) => tf.Scalar | number;
  /** Shown in progress and charts. Default 'val loss' for the default metric, else 'val metric'. */
  name?: string;
  /** Which way is better, for early stopping. Default 'min' (a loss); 'max' for accuracy. */
  mode?: 'min' | 'max';
  /** Default: the training batchSize. */
  batchSize?: number;
}

export interface EarlyStopOptions {
  /** Epochs without improvement of the validation metric before stopping (Keras' patience). */
  patience: number;
  /** Smallest change that counts as an improvement. Default 0. */
  minDelta?: number;
  /**
   * Keep a copy of the weights at the best epoch and put them back when training ends (for any
   * reason, a NaN loss included). Costs one copy of the weights. Default false.
   */
  restoreBest?: boolean;
}

/**
 * Everything `train` needs, in one object. Give either
 *   - `model`: a compiled tf.LayersModel, trained with `model.trainOnBatch(batch.xs, batch.ys)`; or
 *   - `loss` + `optimizer`: each step is `optimizer.minimize(() => loss(batch, true), true, variables)`,
 *     for custom losses over tf.Variables (a `model` given too supplies the variables).
 */
export interface TrainOptions<B = XY> {
  data: Dataset<B>;
  /** Examples per step, ≥ 1. The last batch of an epoch is smaller unless `dropRemainder`. */
  batchSize: number;
  /** Passes over `data`, ≥ 1. Infinity is allowed with `maxSteps` or `maxSeconds`. */
  epochs: number;

  /** A compiled model (see above). */
  model?: tf.LayersModel;
  /**
   * A scalar to minimise for one batch. `training` is false when it serves as the default
   * validation metric (switch dropout off with it).
   */
  loss?: (batch: B, training: boolean) => tf.Scalar;
  /** Required with `loss`, unless `model` is compiled (its optimizer is used then). */
  optimizer?: tf.Optimizer;
  /**
   * What `loss` trains. Default: the model's trainable weights with `model`, else every trainable
   * tf.Variable (as `optimizer.minimize` does without a list).
   */
  variables?: tf.Variable[];

  /** Shuffle the example order every epoch (default true), with `rng`, or `seed`. */
  shuffle?: boolean;
  /** The seeded generator to shuffle with, e.g. `rt.rng`. Default: mulberry32(seed). */
  rng?: Rng;
  /** Default: the seed of the last setup(), else 42. */
  seed?: number;
  /** Drop an epoch's last, smaller batch. Default false. */
  dropRemainder?: boolean;

  /** Computed after every complete epoch. */
  validation?: ValidationOptions<B>;
  /** Needs `validation`. */
  earlyStop?: EarlyStopOptions;

  /** Step budget over the whole run (tslab keeps async loops running after an interrupt). */
  maxSteps?: number;
  /** Wall-time budget in seconds, checked before every step. */
  maxSeconds?: number;
  /** Checked before every step; return true to stop cleanly (e.g. a flag from createStopFlag). */
  shouldStop?: () => boolean;
  /**
   * Stop cleanly at the next step when the process gets SIGINT (a kernel interrupt). Default: true
   * inside a Jupyter kernel (where an interrupt would otherwise leave the loop running), false
   * elsewhere (where Ctrl-C should keep ending the program).
   */
  stopOnInterrupt?: boolean;

  /**
   * 'auto' (default): 'live' in a Jupyter kernel, else 'line'. 'live': a status block and a loss
   * curve that update in place. 'line': one status line (rewritten with \r on a terminal,
   * otherwise printed, throttled) and a line per epoch. 'none': silent. A function receives
   * the throttled status lines and epoch lines instead.
   */
  progress?: ProgressMode;
  /** Seconds between progress updates. Default 1 (the chart may wait longer if drawing is slow). */
  progressSeconds?: number;
  /** Options for the live loss chart, or false for no chart. */
  chart?: LineChartOptions | false;

  /** Called after every epoch, after its tensors are released. Awaited. */
  onEpochEnd?: (epoch: EpochRecord, history: TrainHistory) => void | Promise<void>;
}

export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Steps run in this epoch. */
  steps: number;
  /** Global step count at the end of this epoch. */
  endStep: number;
  /** Mean training loss over the epoch's steps, weighted by batch size. */
  loss: number;
  /** The validation metric, for complete epochs when `validation` is set. */
  metric?: number;
  /** False for an epoch cut short by a budget or a stop. */
  complete: boolean;
  /** Seconds since train() started, at the end of this epoch. */
  seconds: number;
  /** tf.memory().numTensors after this epoch's batches were released (leak check). */
  numTensors: number;
}

export interface TrainHistory {
  /** Training loss of every step, in order. */
  stepLoss: number[];
  epochs: EpochRecord[];
  /** The validation metric's name, or null without validation. */
  metricName: string | null;
  /** Best validation metric and its epoch (null without validation). */
  best: { epoch: number; metric: number } | null;
  /** True when the weights were put back to the best epoch's. */
  restoredBest: boolean;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  stopReason: StopReason;
  /** One sentence: why it stopped, and where. */
  summary: string;
}
