/**
 * The training loop the notebooks share: batches drawn lazily from a Dataset, a seeded shuffle,
 * progress in place, early stopping, budgets and a stop flag, and no tensor left behind.
 */
import * as tf from '@tensorflow/tfjs';
import { shuffle as shuffleInPlace } from '../runtime/random';
import { checkOptions, TrainError } from './options';
import { inKernel, Progress, formatDuration, formatValue, type ProgressState } from './progress';
import type { EpochRecord, StopReason, TrainHistory, TrainOptions, XY } from './types';

/** A flag another cell can raise: `const stop = createStopFlag(); train({ …, shouldStop: stop.shouldStop })`, later `stop.stop()`. */
export interface StopFlag {
  stop(): void;
  reset(): void;
  readonly stopped: boolean;
  readonly shouldStop: () => boolean;
}

export function createStopFlag(): StopFlag {
  let stopped = false;
  return {
    stop: () => { stopped = true; },
    reset: () => { stopped = false; },
    get stopped() { return stopped; },
    shouldStop: () => stopped,
  };
}

let latest: TrainHistory | null = null;

/**
 * The history of the latest run (the live object while it trains). tslab forgets what an
 * interrupted cell declared, so after an interrupt `const h = await train(…)` leaves no `h`:
 * `lastHistory()` in the next cell still has the run.
 */
export function lastHistory(): TrainHistory | null {
  return latest;
}

/** Every tensor in a batch (a tensor, or arrays / objects of them, nested). */
function tensorsIn(x: unknown, out: tf.Tensor[] = [], seen = new Set<unknown>()): tf.Tensor[] {
  if (x instanceof tf.Tensor) { out.push(x); return out; }
  if (x === null || typeof x !== 'object' || seen.has(x)) return out;
  seen.add(x);
  for (const v of Array.isArray(x) ? x : Object.values(x)) tensorsIn(v, out, seen);
  return out;
}

/**
 * Ids of tensors created from now on are ≥ the returned number (tfjs numbers tensors in order).
 * Lets the loop dispose what `batch()` created without touching a tensor it only handed back.
 */
function nextTensorId(): number {
  const probe = tf.scalar(0);
  const id = probe.id;
  probe.dispose();
  return id + 1;
}

/** The loss as a checked scalar: a clear message instead of tfjs' "must be a scalar" from inside minimize. */
function checkScalar(value: unknown, what: string, step: number): tf.Scalar {
  if (!(value instanceof tf.Tensor)) {
    throw new TrainError(`train: ${what} must return a tf.Scalar (got ${value === null ? 'null' : typeof value}) at step ${step}`);
  }
  if (value.rank !== 0) {
    throw new TrainError(`train: ${what} must return a scalar, got a tensor of shape [${value.shape.join(', ')}] at step ${step}: ` +
      'reduce it to one number, e.g. with tf.mean(…) or .mean()');
  }
  return value as tf.Scalar;
}

function metricNumber(value: unknown, name: string): number {
  if (typeof value === 'number') return value;
  if (value instanceof tf.Tensor && value.size === 1) return value.dataSync()[0];
  const what = value instanceof tf.Tensor ? `a tensor of shape [${value.shape.join(', ')}]` : typeof value;
  throw new TrainError(`train: validation.metric ('${name}') must return a number or a scalar tensor (got ${what})`);
}

/** Lets the event loop run: a SIGINT handler, another cell's stop flag and display messages get their turn. */
function pause(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Trains `model` (with trainOnBatch) or minimises `loss` over `variables`, and returns the run's
 * history. See TrainOptions for every setting.
 *
 *   const h = await train({ model, data: trainSet, batchSize: 32, epochs: rt.pick({ quick: 2, full: 20 }),
 *                           rng: rt.rng, validation: { data: valSet }, earlyStop: { patience: 3, restoreBest: true } });
 */
export async function train<B = XY>(options: TrainOptions<B>): Promise<TrainHistory> {
  const kernel = inKernel();
  const plan = checkOptions(options, kernel);
  const { data, batchSize, epochs, model, loss, validation, earlyStop } = options;
  const { stepsPerEpoch } = plan;
  const useTrainOnBatch = loss === undefined;

  // What minimize updates, and what restoreBest copies.
  const varList: tf.Variable[] | undefined = options.variables ??
    (model && loss ? model.trainableWeights.map((w) => w.read() as tf.Variable) : undefined);
  const optimizer = options.optimizer ?? (model?.optimizer as tf.Optimizer | undefined);
  // A model's weights include the non-trainable ones (batch-norm statistics), which must come
  // back with the rest. Without a list, the trainable variables that exist when training starts.
  let restoreVars: tf.Variable[] | undefined;
  const variablesToRestore = (): tf.Variable[] =>
    (restoreVars ??= varList ?? Object.values(tf.engine().registeredVariables).filter((v) => v.trainable));
  const saveWeights = (): tf.Tensor[] =>
    model ? model.getWeights().map((w) => w.clone()) : variablesToRestore().map((v) => v.clone());
  const loadWeights = (copies: tf.Tensor[]): void => {
    if (model) model.setWeights(copies);
    else variablesToRestore().forEach((v, i) => v.assign(copies[i]));
  };
  if (earlyStop?.restoreBest && !model) variablesToRestore(); // fix the list before any step

  const metricName = validation ? validation.name ?? (validation.metric ? 'val metric' : 'val loss') : null;
  const mode = validation?.mode ?? 'min';
  const history: TrainHistory = {
    stepLoss: [], epochs: [], metricName, best: null, restoredBest: false,
    steps: 0, seconds: 0, stepsPerSecond: 0, stopReason: 'epochs', summary: '',
  };
  latest = history;

  const runStep = async (indices: number[], step: number): Promise<number> => {
    if (useTrainOnBatch) {
      const m = model as tf.LayersModel;
      const firstNew = nextTensorId();
      // tidy frees whatever batch() computed on the way; the returned tensors survive it.
      const batch = tf.tidy(() => data.batch(indices) as unknown as tf.TensorContainer) as unknown as XY;
      try {
        if (batch === null || typeof batch !== 'object' || !('xs' in batch) || !('ys' in batch)) {
          throw new TrainError('train: with `model`, data.batch() must return { xs, ys } (inputs and targets)');
        }
        const out = await m.trainOnBatch(batch.xs, batch.ys);
        return Array.isArray(out) ? out[0] : out; // [loss, …compiled metrics] when the model has metrics
      } finally {
        tf.dispose(tensorsIn(batch).filter((t) => t.id >= firstNew && !t.isDisposed));
      }
    }
    const lossFn = loss as (batch: B, training: boolean) => tf.Scalar;
    // One tidy around batch + step: every tensor they create but the returned cost is freed,
    // and a tensor batch() only hands back (created outside) is untouched.
    const cost = tf.tidy(() => {
      const batch = data.batch(indices);
      return (optimizer as tf.Optimizer).minimize(() => checkScalar(lossFn(batch, true), 'loss', step), true, varList) as tf.Scalar;
    });
    try {
      return (await cost.data())[0];
    } finally {
      cost.dispose();
    }
  };

  const evaluate = (): number => {
    const v = validation!;
    const vbs = plan.validationBatchSize;
    const metric = v.metric ?? (useTrainOnBatch
      ? (b: B) => {
        const xy = b as unknown as XY;
        const r = (model as tf.LayersModel).evaluate(xy.xs as tf.Tensor | tf.Tensor[], xy.ys as tf.Tensor | tf.Tensor[], { batchSize: Number.MAX_SAFE_INTEGER });
        return Array.isArray(r) ? r[0] : r; // the loss comes first
      }
      : (b: B) => (loss as (batch: B, training: boolean) => tf.Scalar)(b, false));
    let sum = 0;
    for (let start = 0; start < v.data.size; start += vbs) {
      const indices = Array.from({ length: Math.min(vbs, v.data.size - start) }, (_, i) => start + i);
      let value = NaN;
      // Tensors batch() creates are freed here; ones it only hands back (kept data) survive.
      tf.tidy(() => { value = metricNumber(metric(v.data.batch(indices)), metricName as string); });
      sum += value * indices.length;
    }
    return sum / v.data.size;
  };

  let interrupted = false;
  const onInterrupt = () => { interrupted = true; };
  if (plan.stopOnInterrupt) process.on('SIGINT', onInterrupt);

  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const plannedSteps = Math.min(epochs * stepsPerEpoch, options.maxSteps ?? Infinity);
  const progress = new Progress(
    { mode: options.progress ?? 'auto', seconds: plan.progressSeconds, chart: options.chart ?? {}, epochs },
    () => history,
  );

  let best: tf.Tensor[] | null = null; // weights at the best epoch (restoreBest)
  let sinceBest = 0;
  let failure: string | null = null;
  let lastMetric: number | undefined;
  let finished = false;

  const stopCheck = (): StopReason | null => {
    if (interrupted) return 'interrupt';
    if (options.shouldStop?.()) return 'shouldStop';
    if (options.maxSeconds !== undefined && elapsed() >= options.maxSeconds) return 'maxSeconds';
    if (options.maxSteps !== undefined && history.steps >= options.maxSteps) return 'maxSteps';
    return null;
  };

  try {
    const order = Array.from({ length: data.size }, (_, i) => i);
    let stopped = false;
    for (let epoch = 1; epoch <= epochs && !stopped; epoch++) {
      if (plan.shuffle) shuffleInPlace(order, plan.rng);
      let steps = 0;
      let lossSum = 0;
      let seen = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        await pause();
        const reason = stopCheck();
        if (reason) { history.stopReason = reason; stopped = true; break; }
        const indices = order.slice(s * batchSize, Math.min(data.size, (s + 1) * batchSize));
        const step = history.steps + 1;
        const value = await runStep(indices, step);
        history.steps = step;
        history.stepLoss.push(value);
        steps++;
        if (!Number.isFinite(value)) {
          const previous = history.stepLoss.length > 1 ? ` (the step before: ${formatValue(history.stepLoss[history.stepLoss.length - 2])})` : '';
          failure = `train: the loss became ${value} at step ${step} (epoch ${epoch}, step ${s + 1}/${stepsPerEpoch})${previous}. ` +
            'The updates diverged: try a smaller learning rate (the optimizer\'s learningRate), ' +
            'and check the data and the loss for NaN (log of 0, division by 0).';
          stopped = true;
          break;
        }
        lossSum += value * indices.length;
        seen += indices.length;
        const t = elapsed();
        const rate = history.steps / t;
        let left = (plannedSteps - history.steps) / rate;
        if (options.maxSeconds !== undefined) left = Math.min(left, options.maxSeconds - t);
        const state: ProgressState = {
          epoch, epochs, stepInEpoch: s + 1, stepsPerEpoch, step: history.steps, loss: lossSum / seen,
          metricName, metric: lastMetric, stepsPerSecond: rate, secondsLeft: Number.isFinite(left) ? Math.max(0, left) : NaN,
        };
        // The first step draws at once, so a slow run shows it started.
        progress.step(state, performance.now());
      }
      if (steps === 0 || failure !== null) break;

      const complete = steps === stepsPerEpoch;
      const record: EpochRecord = {
        epoch, steps, endStep: history.steps, loss: lossSum / seen, complete, seconds: 0, numTensors: 0,
      };
      let improved = false;
      if (complete && validation) {
        const value = evaluate();
        record.metric = value;
        lastMetric = value;
        const delta = earlyStop?.minDelta ?? 0;
        improved = history.best === null
          ? !Number.isNaN(value)
          : mode === 'min' ? value < history.best.metric - delta : value > history.best.metric + delta;
        if (improved) {
          history.best = { epoch, metric: value };
          sinceBest = 0;
          if (earlyStop?.restoreBest) {
            tf.dispose(best ?? []);
            best = saveWeights();
          }
        } else {
          sinceBest++;
        }
      }
      record.seconds = elapsed();
      record.numTensors = tf.memory().numTensors;
      history.epochs.push(record);
      history.seconds = record.seconds;
      history.stepsPerSecond = history.steps / record.seconds;
      progress.epochEnd(record, metricName);
      // Keras' rule: stop once `patience` epochs in a row failed to improve (patience 0: the first
      // one that fails). Reaching the last epoch anyway is reported as 'epochs'.
      if (earlyStop && record.metric !== undefined && !improved && sinceBest >= earlyStop.patience && epoch < epochs) {
        history.stopReason = 'earlyStop';
        stopped = true;
      }
      await options.onEpochEnd?.(record, history);
    }

    // Put the best weights back unless they are the current ones: the best epoch was the last
    // one run (a cut-short epoch is never the best: it has no metric) and nothing failed after it.
    const lastRun = history.epochs[history.epochs.length - 1];
    if (best !== null && history.best !== null && (failure !== null || lastRun.epoch !== history.best.epoch)) {
      loadWeights(best);
      history.restoredBest = true;
    }
    history.seconds = elapsed();
    history.stepsPerSecond = history.seconds > 0 ? history.steps / history.seconds : 0;
    history.summary = summarize(history, options, failure !== null);
    if (failure !== null) {
      const restored = history.restoredBest
        ? ` The weights were restored to those of epoch ${history.best?.epoch}.`
        : ' The weights now hold the diverged values: re-create the model (or variables) before training again.';
      failure += restored;
      finished = true;
      progress.finish(`✗ ${failure}`);
      throw new TrainError(failure, history);
    }
    finished = true;
    progress.finish(`✓ ${history.summary}`);
    return history;
  } catch (e) {
    // In a kernel an error is only stderr text (FIELD-NOTES): say it where the student is looking.
    if (!finished) progress.finish(`✗ stopped by an error after step ${history.steps}: ${(e as Error).message ?? String(e)}`);
    throw e;
  } finally {
    tf.dispose(best ?? []);
    if (plan.stopOnInterrupt) process.removeListener('SIGINT', onInterrupt);
    progress.close();
  }
}

function summarize<B>(h: TrainHistory, o: TrainOptions<B>, failed: boolean): string {
  const last = h.epochs[h.epochs.length - 1];
  const where = last ? `epoch ${last.epoch}${last.complete ? '' : ' (cut short)'}` : 'the start';
  let why: string;
  switch (h.stopReason) {
    case 'epochs': why = `finished ${h.epochs.length} epoch${h.epochs.length === 1 ? '' : 's'}`; break;
    case 'earlyStop': why = `early stop after epoch ${last?.epoch}: ${h.metricName} did not improve for ${o.earlyStop?.patience} epoch${o.earlyStop?.patience === 1 ? '' : 's'}`; break;
    case 'maxSteps': why = `step budget used (${o.maxSteps} steps) in ${where}`; break;
    case 'maxSeconds': why = `time budget used (${o.maxSeconds} s) in ${where}`; break;
    case 'shouldStop': why = `stopped by shouldStop() after step ${h.steps}`; break;
    case 'interrupt': why = `interrupted after step ${h.steps}`; break;
  }
  if (failed) why = `loss diverged at step ${h.steps}`;
  const parts = [why];
  if (h.best !== null) parts.push(`best ${h.metricName} ${formatValue(h.best.metric)} at epoch ${h.best.epoch}${h.restoredBest ? ' (weights restored)' : ''}`);
  parts.push(`${h.steps} steps in ${formatDuration(h.seconds)} (${formatValue(h.stepsPerSecond)} steps/s)`);
  return parts.join(' · ');
}
