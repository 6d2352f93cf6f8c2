/**
 * The distorted-MNIST experiment of Jaderberg et al. (2015, Table 1) at the kit's scale: data
 * sets for the shared training loop, parameter-matched model pairs, test error, and what the
 * figures read back from a trained ST model (θ and the sampled image).
 */
import * as tf from '@tensorflow/tfjs';
import type { DigitSet } from '../data';
import { mulberry32 } from '../runtime/random';
import type { Dataset, XY } from '../train';
import { train } from '../train';
import type { TrainHistory, ProgressMode } from '../train';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadClassifier, stnWeightsDir, weightsName } from './weights';
import { type Distortion, DISTORTIONS, DISTORTION_SIZE, type DistortedSet, type DistortionSettings, distortedExample, distortedSet } from './distort';
import { type ClassifierKind, createDigitClassifier, type DigitClassifierOptions, type LocalisationOptions, SAMPLER_LAYER, THETA_LAYER } from './layers';

/** Images [n, S, S] (flat) → a [n, S, S, 1] tensor. */
export function digitImagesTensor(images: Float32Array, count: number, size: number): tf.Tensor4D {
  if (images.length !== count * size * size) throw new Error(`digitImagesTensor: ${images.length} values are not ${count} images of ${size}×${size}`);
  return tf.tensor4d(images, [count, size, size, 1]);
}

/**
 * Training data for `train`: `epochSize` examples per epoch, each epoch with fresh distortions
 * (call `nextEpoch()` from onEpochEnd, as `trainClassifier` does). Example i of epoch e is
 * distortedExample(kind, digits, e·epochSize + i, seed): digits cycle through the set.
 */
export interface DistortedTrainData extends Dataset<XY> {
  kind: Distortion;
  epoch: number;
  nextEpoch(): void;
}

export function distortedTrainData(kind: Distortion, digits: DigitSet, options: { epochSize?: number; seed?: number } & DistortionSettings = {}): DistortedTrainData {
  const size = options.epochSize ?? digits.count;
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`distortedTrainData: epochSize must be a whole number ≥ 1 (got ${size})`);
  const S = DISTORTION_SIZE[kind];
  const seed = options.seed ?? 0;
  const data: DistortedTrainData = {
    kind,
    size,
    epoch: 0,
    nextEpoch() { data.epoch++; },
    batch(indices: number[]): XY {
      const images = new Float32Array(indices.length * S * S);
      const labels = new Int32Array(indices.length);
      indices.forEach((i, n) => {
        const ex = distortedExample(kind, digits, data.epoch * size + i, seed, options);
        images.set(ex.pixels, n * S * S);
        labels[n] = ex.label;
      });
      return { xs: digitImagesTensor(images, indices.length, S), ys: tf.oneHot(tf.tensor1d(labels, 'int32'), 10) };
    },
  };
  return data;
}

/** The fixed test set of a distortion: one distortion of every test digit. */
export function distortedTestSet(kind: Distortion, digits: DigitSet, options: { seed?: number; count?: number } & DistortionSettings = {}): DistortedSet {
  return distortedSet(kind, digits, { ...options, seed: options.seed ?? 1 });
}

/** Fraction of `set` the model gets wrong, in batches (no tensor kept). */
export function digitTestError(model: tf.LayersModel, set: DistortedSet, batchSize = 250): number {
  let wrong = 0;
  const S = set.size;
  for (let start = 0; start < set.count; start += batchSize) {
    const n = Math.min(batchSize, set.count - start);
    const predicted = tf.tidy(() => {
      const x = digitImagesTensor(set.images.subarray(start * S * S, (start + n) * S * S), n, S);
      return (model.predict(x) as tf.Tensor).argMax(-1).dataSync();
    });
    for (let i = 0; i < n; i++) if (predicted[i] !== set.labels[start + i]) wrong++;
  }
  return wrong / set.count;
}

/** θ ([n][6]) and the sampled images ([n][h][w]) an ST model computes for images [n, S, S]. */
export function transformerOutputs(model: tf.LayersModel, images: Float32Array, count: number, size: number): { theta: number[][]; sampled: number[][][] } {
  const thetaLayer = model.getLayer(THETA_LAYER);
  const samplerLayer = model.getLayer(SAMPLER_LAYER);
  const probe = tf.model({ inputs: model.inputs, outputs: [thetaLayer.output as tf.SymbolicTensor, samplerLayer.output as tf.SymbolicTensor] });
  return tf.tidy(() => {
    const [theta, sampled] = probe.predict(digitImagesTensor(images, count, size)) as tf.Tensor[];
    return {
      theta: theta.arraySync() as number[][],
      sampled: (sampled.squeeze([3]).arraySync() as number[][][]),
    };
  });
}

/** Disposes a model and the optimizer it was compiled with (model.dispose() keeps an optimizer it was given). */
export function disposeClassifier(model: tf.LayersModel): void {
  const optimizer = model.optimizer;
  model.dispose();
  optimizer?.dispose();
}

// ---------------------------------------------------------------------------------------------
// Parameter-matched pairs
// ---------------------------------------------------------------------------------------------

export interface PairOptions {
  /** The classifier behind the transformer. */
  kind: ClassifierKind;
  /** The distortion (sets the input size). */
  distortion: Distortion;
  /** What the ST model's classifier sees: the sampler's output size. Default 28 (a digit). */
  stOutSize?: number;
  /** CNN conv filters. Default [8, 16]. */
  filters?: [number, number];
  /** Hidden units of the ST model's classifier. Default 64 (CNN) / 128 (FCN). */
  hidden?: number;
  localisation?: LocalisationOptions;
  learningRate?: number;
  alignCorners?: boolean;
}

/**
 * Options for the plain model and its ST twin with (almost) the same number of parameters: the
 * ST model's classifier sees `stOutSize`², its localisation net costs parameters, and the plain
 * model's hidden layer is widened or narrowed until both totals match (within one hidden unit).
 */
export function matchedPair(options: PairOptions): { plain: DigitClassifierOptions; st: DigitClassifierOptions; params: { plain: number; st: number } } {
  const S = DISTORTION_SIZE[options.distortion];
  const kind = options.kind;
  const filters = options.filters ?? [8, 16];
  const hidden = options.hidden ?? (kind === 'cnn' ? 64 : 128);
  const outSize = options.stOutSize ?? 28;
  const localisation = { downsample: S >= 40 ? 2 : 1, ...options.localisation };
  const common = { kind, filters, learningRate: options.learningRate };
  const st: DigitClassifierOptions = {
    ...common, inputSize: S, hidden, name: `st-${kind}`,
    transformer: { outSize, localisation, alignCorners: options.alignCorners },
  };
  const stParams = classifierParams(st);
  // Parameters of the plain model as a function of its hidden units h.
  const plainParams = (h: number) => {
    if (kind === 'cnn') {
      const flat = Math.floor(Math.floor(S / 2) / 2) ** 2 * filters[1];
      return 9 * filters[0] + filters[0] + 9 * filters[0] * filters[1] + filters[1] + (flat + 1) * h + (h + 1) * 10;
    }
    return (S * S + 1) * h + (h + 1) * h + (h + 1) * 10;
  };
  let h = 1;
  while (plainParams(h + 1) <= stParams) h++;
  if (Math.abs(plainParams(h + 1) - stParams) < Math.abs(plainParams(h) - stParams)) h++;
  const plain: DigitClassifierOptions = { ...common, inputSize: S, hidden: h, name: kind, transformer: null };
  return { plain, st, params: { plain: plainParams(h), st: stParams } };
}

/** Trainable parameters of a classifier built with these options (builds and frees it). */
export function classifierParams(options: DigitClassifierOptions): number {
  const model = createDigitClassifier(options);
  const n = model.countParams();
  disposeClassifier(model);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Training one model
// ---------------------------------------------------------------------------------------------

export interface TrainClassifierOptions {
  batchSize: number;
  steps: number;
  /** Examples per epoch (fresh distortions each epoch; snapshots at epoch ends). */
  epochSize: number;
  seed: number;
  progress?: ProgressMode;
  /** Draw lib/train's live loss curve (in a kernel). Default false. */
  chart?: boolean;
  /** A wall-time cap in seconds (the step count stays the plan; see lib/train). */
  maxSeconds?: number;
  /**
   * Learning rate after `step` of `steps` (set at each epoch end, so make epochs short enough).
   * Default: keep the compiled rate.
   */
  schedule?: (step: number, steps: number) => number;
  /** Called after every epoch (e.g. to record θ). */
  onEpochEnd?: (epoch: number, step: number) => void;
}

/** Adam's rate constant to 70% of the run, then a cosine down to a tenth of it: Adam settles. */
export function settleSchedule(rate: number, settleFrom = 0.7): (step: number, steps: number) => number {
  return (step, steps) => {
    const t = step / steps;
    if (t <= settleFrom) return rate;
    const f = Math.min(1, (t - settleFrom) / (1 - settleFrom));
    return rate * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * f)));
  };
}

/** Sets the learning rate of a compiled model's optimizer (Adam and SGD keep it in a field). */
export function setLearningRate(model: tf.LayersModel, rate: number): void {
  const optimizer = model.optimizer as unknown as { learningRate?: number };
  if (typeof optimizer?.learningRate !== 'number') throw new Error('setLearningRate: the model is not compiled with an optimizer that has a learning rate');
  optimizer.learningRate = rate;
}

export async function trainClassifier(model: tf.LayersModel, data: DistortedTrainData, options: TrainClassifierOptions): Promise<TrainHistory> {
  return train({
    model,
    data,
    batchSize: options.batchSize,
    epochs: Infinity,
    maxSteps: options.steps,
    maxSeconds: options.maxSeconds,
    seed: options.seed,
    progress: options.progress ?? 'auto',
    chart: options.chart ? { title: 'training loss', yLabel: 'cross-entropy', logY: true } : false,
    onEpochEnd: (record) => {
      data.nextEpoch();
      if (options.schedule) setLearningRate(model, options.schedule(record.endStep, options.steps));
      options.onEpochEnd?.(record.epoch, record.endStep);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// The table: one recipe for every column, shared by the notebook and lib/stn/train-weights.ts
// ---------------------------------------------------------------------------------------------

export type StnTableModel = 'cnn' | 'st-cnn' | 'fcn' | 'st-fcn';
export const STN_TABLE_MODELS: readonly StnTableModel[] = ['cnn', 'st-cnn', 'fcn', 'st-fcn'];

export interface StnRecipe {
  /** Training steps of every model (the same for both members of a pair). */
  steps: number;
  batchSize: number;
  /** Adam's rate; settleSchedule lowers it over the last 30% of the steps. */
  learningRate: number;
  /** Examples per epoch: fresh distortions and a learning-rate update at each epoch end. */
  epochSize: number;
  /** CNN conv filters (classifier), shared by CNN and ST-CNN. */
  filters: [number, number];
  /** Seeds: weight initialisation (per model), distortions of the training data, batch order. */
  seed: number;
  dataSeed: number;
  /** Split of the npm digits into train/test (the notebook uses the same). */
  testFraction: number;
  splitSeed: number;
  /** Seed of the test distortions. */
  testSeed: number;
}

/** The recipe of the shipped weights (and of the notebook's train-from-scratch setting). */
export const STN_RECIPE: StnRecipe = {
  steps: 3500,
  batchSize: 64,
  learningRate: 2e-3,
  epochSize: 2000,
  filters: [8, 16],
  seed: 42,
  dataSeed: 3,
  testFraction: 0.2,
  splitSeed: 42,
  testSeed: 7,
};

/** The options of one table model (its pair partner has the same parameter budget). */
export function stnTableModelOptions(distortion: Distortion, model: StnTableModel, recipe: StnRecipe = STN_RECIPE): DigitClassifierOptions {
  const kind: ClassifierKind = model.endsWith('fcn') ? 'fcn' : 'cnn';
  const pair = matchedPair({ kind, distortion, filters: recipe.filters, learningRate: recipe.learningRate });
  return model.startsWith('st-') ? pair.st : pair.plain;
}

/** A small stable hash of a model's name, so every model gets its own initialisation seed. */
function nameSeed(seed: number, name: string): number {
  let h = seed >>> 0;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Builds a table model with weights initialised from (recipe.seed, its name), whatever ran before. */
export function createStnTableModel(distortion: Distortion, model: StnTableModel, recipe: StnRecipe = STN_RECIPE): tf.LayersModel {
  // tfjs draws the seed of every unseeded initialiser from Math.random: seed it for this model only.
  const saved = Math.random;
  Math.random = mulberry32(nameSeed(recipe.seed, `${distortion}-${model}`));
  try {
    return createDigitClassifier(stnTableModelOptions(distortion, model, recipe));
  } finally {
    Math.random = saved;
  }
}

/** Trains a table model with the recipe (same data and batch order for every model of a column). */
export async function trainStnTableModel(model: tf.LayersModel, distortion: Distortion, trainDigits: DigitSet, recipe: StnRecipe = STN_RECIPE,
  options: { steps?: number; maxSeconds?: number; progress?: ProgressMode; chart?: boolean; onEpochEnd?: (epoch: number, step: number) => void } = {}): Promise<TrainHistory> {
  const data = distortedTrainData(distortion, trainDigits, { epochSize: recipe.epochSize, seed: recipe.dataSeed });
  const steps = options.steps ?? recipe.steps;
  return trainClassifier(model, data, {
    batchSize: recipe.batchSize, steps, epochSize: recipe.epochSize, seed: recipe.seed,
    schedule: settleSchedule(recipe.learningRate), progress: options.progress, chart: options.chart, onEpochEnd: options.onEpochEnd, maxSeconds: options.maxSeconds,
  });
}

/** The models of the table, per distortion, and where each came from. */
export interface StnTable {
  models: Partial<Record<Distortion, Partial<Record<StnTableModel, tf.LayersModel>>>>;
  records: { distortion: Distortion; model: StnTableModel; params: number; steps: number; seconds: number; source: 'shipped' | 'trained' }[];
}

/**
 * Loads the shipped weights of every table model (mode 'shipped'; FCN models without weights are
 * skipped, CNN ones are required) or trains each with the recipe here (mode 'train').
 */
export async function stnTableModels(options: {
  mode: 'shipped' | 'train';
  trainDigits: DigitSet;
  models?: readonly StnTableModel[];
  distortions?: readonly Distortion[];
  recipe?: StnRecipe;
  dir?: string;
  progress?: ProgressMode;
}): Promise<StnTable> {
  const recipe = options.recipe ?? STN_RECIPE;
  const table: StnTable = { models: {}, records: [] };
  if (options.mode !== 'shipped' && options.mode !== 'train') throw new Error(`stnTableModels: mode must be 'shipped' or 'train' (got '${String(options.mode)}')`);
  for (const d of options.distortions ?? DISTORTIONS) {
    const column: Partial<Record<StnTableModel, tf.LayersModel>> = (table.models[d] = {});
    for (const name of options.models ?? ['cnn', 'st-cnn']) {
      if (options.mode === 'train') {
        const model = createStnTableModel(d, name, recipe);
        const h = await trainStnTableModel(model, d, options.trainDigits, recipe, { progress: options.progress });
        column[name] = model;
        table.records.push({ distortion: d, model: name, params: model.countParams(), steps: h.steps, seconds: h.seconds, source: 'trained' });
        continue;
      }
      const dir = options.dir ?? stnWeightsDir();
      if (name.endsWith('fcn') && !existsSync(join(dir, `${weightsName(d, name)}.json`))) continue;
      const { model, record } = await loadClassifier(dir, weightsName(d, name));
      column[name] = model;
      table.records.push({ distortion: d, model: name, params: record.params, steps: record.steps, seconds: record.seconds, source: 'shipped' });
    }
  }
  return table;
}

const TABLE_NAMES: Record<StnTableModel, string> = { cnn: 'CNN', 'st-cnn': 'ST-CNN', fcn: 'FCN', 'st-fcn': 'ST-FCN' };

/** Test error of every table model on the test sets given, as rows for stnErrorTableFigure. */
export function stnTableErrors(table: StnTable, testSets: Partial<Record<Distortion, DistortedSet>>): { model: string; key: StnTableModel; errors: Partial<Record<Distortion, number>>; params?: number[] }[] {
  return STN_TABLE_MODELS.filter((m) => table.records.some((r) => r.model === m)).map((m) => {
    const errors: Partial<Record<Distortion, number>> = {};
    for (const d of DISTORTIONS) {
      const model = table.models[d]?.[m], set = testSets[d];
      if (model && set) errors[d] = digitTestError(model, set);
    }
    // Parameter counts differ by input size (28×28, 42×42, 60×60): the distinct counts of this model.
    const params = [...new Set(table.records.filter((r) => r.model === m).map((r) => r.params))].sort((a, b) => a - b);
    return { model: TABLE_NAMES[m], key: m, errors, params };
  });
}

export function disposeStnTable(table: StnTable): void {
  for (const column of Object.values(table.models)) for (const model of Object.values(column ?? {})) if (model) disposeClassifier(model);
  table.models = {};
}
