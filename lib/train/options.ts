/**
 * Checks a TrainOptions object before any step runs, so a bad setting fails at once with a
 * message naming it (rather than as a shape error from deep inside tfjs three epochs later).
 */
import * as tf from '@tensorflow/tfjs';
import { currentSeed } from '../runtime';
import { mulberry32, type Rng } from '../runtime/random';
import type { TrainHistory, TrainOptions } from './types';

/** Thrown for bad settings and for a loss that goes wrong; `history` is the run so far, if any. */
export class TrainError extends Error {
  constructor(message: string, readonly history?: TrainHistory) {
    super(message);
    this.name = 'TrainError';
  }
}

function isPositiveInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 1;
}

function got(x: unknown): string {
  return typeof x === 'string' ? `'${x}'` : String(x);
}

/** The checked, defaulted settings the loop runs on. */
export interface Plan {
  stepsPerEpoch: number;
  rng: Rng;
  shuffle: boolean;
  progressSeconds: number;
  stopOnInterrupt: boolean;
  validationBatchSize: number;
}

export function checkOptions<B>(o: TrainOptions<B>, inKernel: boolean): Plan {
  const fail = (message: string): never => { throw new TrainError(`train: ${message}`); };
  if (o === null || typeof o !== 'object') fail('expects one options object: train({ data, batchSize, epochs, model | loss, … })');

  const data = o.data;
  if (!data || typeof data.batch !== 'function') fail('data must be { size, batch(indices) } (got no batch function)');
  if (!isPositiveInteger(data.size)) {
    fail(data.size === 0 ? 'data is empty (data.size = 0): there is nothing to train on' : `data.size must be a positive integer (got ${got(data.size)})`);
  }
  if (!isPositiveInteger(o.batchSize)) fail(`batchSize must be an integer ≥ 1 (got ${got(o.batchSize)})`);
  const budget = o.maxSteps !== undefined || o.maxSeconds !== undefined;
  if (!(isPositiveInteger(o.epochs) || (o.epochs === Infinity && budget))) {
    fail(o.epochs === Infinity
      ? 'epochs = Infinity needs a budget: set maxSteps or maxSeconds'
      : `epochs must be an integer ≥ 1 (got ${got(o.epochs)})`);
  }
  if (o.dropRemainder && o.batchSize > data.size) {
    fail(`dropRemainder with batchSize ${o.batchSize} > data.size ${data.size} leaves no batch at all`);
  }
  const stepsPerEpoch = o.dropRemainder ? Math.floor(data.size / o.batchSize) : Math.ceil(data.size / o.batchSize);

  // What to train.
  if (o.model === undefined && o.loss === undefined) {
    fail('give `model` (a compiled tf.LayersModel) or `loss` (a function of a batch returning a scalar) with an `optimizer`');
  }
  if (o.loss !== undefined && typeof o.loss !== 'function') fail(`loss must be a function (batch, training) => tf.Scalar (got ${typeof o.loss})`);
  if (o.model !== undefined && o.loss === undefined && !o.model.optimizer) {
    fail('the model is not compiled: call model.compile({ optimizer, loss }) first, or pass `loss` and `optimizer`');
  }
  if (o.loss !== undefined && o.optimizer === undefined && !o.model?.optimizer) {
    fail('`loss` needs an `optimizer`, e.g. optimizer: tf.train.adam(1e-3)');
  }
  if (o.variables !== undefined) {
    if (!Array.isArray(o.variables) || o.variables.length === 0) fail('variables must be a non-empty array of tf.Variable (or leave it out)');
    if (o.loss === undefined) fail('variables only applies with `loss` (a compiled model trains its own weights)');
    o.variables.forEach((v, i) => { if (!(v instanceof tf.Variable)) fail(`variables[${i}] is not a tf.Variable (make it with tf.variable(…))`); });
  }

  // Budgets and stops.
  if (o.maxSteps !== undefined && !isPositiveInteger(o.maxSteps)) fail(`maxSteps must be an integer ≥ 1 (got ${got(o.maxSteps)})`);
  if (o.maxSeconds !== undefined && !(typeof o.maxSeconds === 'number' && o.maxSeconds > 0)) fail(`maxSeconds must be > 0 (got ${got(o.maxSeconds)})`);
  if (o.shouldStop !== undefined && typeof o.shouldStop !== 'function') fail('shouldStop must be a function returning true to stop');

  // Validation and early stopping.
  const v = o.validation;
  let validationBatchSize = o.batchSize;
  if (v !== undefined) {
    if (!v.data || typeof v.data.batch !== 'function') fail('validation.data must be { size, batch(indices) }');
    if (!isPositiveInteger(v.data.size)) fail(`validation.data.size must be a positive integer (got ${got(v.data.size)}): the validation set is empty`);
    if (v.batchSize !== undefined && !isPositiveInteger(v.batchSize)) fail(`validation.batchSize must be an integer ≥ 1 (got ${got(v.batchSize)})`);
    if (v.mode !== undefined && v.mode !== 'min' && v.mode !== 'max') fail(`validation.mode must be 'min' or 'max' (got ${got(v.mode)})`);
    if (v.metric !== undefined && typeof v.metric !== 'function') fail('validation.metric must be a function (batch) => number | tf.Scalar');
    validationBatchSize = v.batchSize ?? o.batchSize;
  }
  const es = o.earlyStop;
  if (es !== undefined) {
    if (v === undefined) fail('earlyStop needs `validation`: it watches the validation metric');
    if (!(typeof es.patience === 'number' && Number.isInteger(es.patience) && es.patience >= 0)) {
      fail(`earlyStop.patience must be an integer ≥ 0 (got ${got(es.patience)})`);
    }
    if (es.minDelta !== undefined && !(typeof es.minDelta === 'number' && es.minDelta >= 0)) fail(`earlyStop.minDelta must be ≥ 0 (got ${got(es.minDelta)})`);
  }

  // Randomness and display.
  if (o.rng !== undefined && o.seed !== undefined) fail('give `rng` or `seed`, not both');
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0)) fail(`seed must be a non-negative integer (got ${got(o.seed)})`);
  if (o.rng !== undefined && typeof o.rng !== 'function') fail('rng must be a generator () => number in [0, 1), e.g. rt.rng');
  const progressSeconds = o.progressSeconds ?? 1;
  if (!(typeof progressSeconds === 'number' && progressSeconds > 0)) fail(`progressSeconds must be > 0 (got ${got(o.progressSeconds)})`);
  const modes = ['auto', 'live', 'line', 'none'];
  if (o.progress !== undefined && typeof o.progress !== 'function' && !modes.includes(o.progress)) {
    fail(`progress must be one of ${modes.join(', ')} or a function (got ${got(o.progress)})`);
  }

  return {
    stepsPerEpoch,
    rng: o.rng ?? mulberry32(o.seed ?? currentSeed() ?? 42),
    shuffle: o.shuffle ?? true,
    progressSeconds,
    stopOnInterrupt: o.stopOnInterrupt ?? inKernel,
    validationBatchSize,
  };
}
