/**
 * lib/train: the loop reaches a known least-squares solution, is reproducible from its seed,
 * visits every example once per epoch, stops when and why it should, says where a loss went NaN,
 * rejects bad settings by name, leaks no tensor, and throttles its progress.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { mulberry32, normal, setup } from '../lib/runtime';
import { createAdam, createStopFlag, lastHistory, lossCurve, train, TrainError, type Dataset, type TrainHistory, type TrainOptions, type XY } from '../lib/train';
import { VEGA_LITE_MIME } from '../lib/plot/show';

/** y = X·w + b + noise, seeded; also the least-squares [w…, b] from the normal equations in float64. */
function regressionData(n: number, seed: number, noise = 0.3) {
  const rng = mulberry32(seed);
  const trueW = [2, -3];
  const X = Array.from({ length: n }, () => [normal(rng), normal(rng)]);
  const y = X.map((x) => x[0] * trueW[0] + x[1] * trueW[1] + 0.5 + noise * normal(rng));
  // Normal equations AᵀA θ = Aᵀy with A = [X 1], solved by Gaussian elimination.
  const A = X.map((x) => [...x, 1]);
  const M = [0, 1, 2].map((i) => [...[0, 1, 2].map((j) => A.reduce((s, a) => s + a[i] * a[j], 0)), A.reduce((s, a, r) => s + a[i] * y[r], 0)]);
  for (let c = 0; c < 3; c++) {
    for (let r = c + 1; r < 3; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k < 4; k++) M[r][k] -= f * M[c][k];
    }
  }
  const theta = [0, 0, 0];
  for (let r = 2; r >= 0; r--) theta[r] = (M[r][3] - M[r].slice(r + 1, 3).reduce((s, m, k) => s + m * theta[r + 1 + k], 0)) / M[r][r];
  const xs = tf.tensor2d(X);            // [n, 2]
  const ys = tf.tensor2d(y, [n, 1]);    // [n, 1]
  // gather makes new tensors the loop owns and disposes.
  const data: Dataset<XY> = { size: n, batch: (idx) => ({ xs: tf.gather(xs, idx), ys: tf.gather(ys, idx) }) };
  return { data, theta, dispose: () => tf.dispose([xs, ys]) };
}

/** A custom-variable linear model: the loss and its variables. */
function linearLoss() {
  const w = tf.variable(tf.zeros([2, 1]));  // [2, 1]
  const b = tf.variable(tf.scalar(0));
  const loss = (batch: XY) => tf.losses.meanSquaredError(batch.ys as tf.Tensor, tf.add(tf.matMul(batch.xs as tf.Tensor, w), b)) as tf.Scalar;
  return { w, b, loss, variables: [w, b], dispose: () => tf.dispose([w, b]) };
}

/** A data set of bare indices, recording every batch asked for. */
function indexData(size: number) {
  const batches: number[][] = [];
  const data: Dataset<{ x: tf.Tensor }> = { size, batch: (idx) => { batches.push(idx); return { x: tf.tensor1d(idx) }; } };
  return { data, batches };
}

/** A loss over one variable, cheap enough to run many steps; `scale` lets a test script its value. */
function tinyLoss(scale: (step: number) => number = () => 1) {
  const v = tf.variable(tf.scalar(1));
  let step = 0;
  const loss = (batch: { x: tf.Tensor }) => {
    step++;
    return tf.mul(tf.square(v), tf.add(1, tf.mean(batch.x)).mul(scale(step))) as tf.Scalar;
  };
  return { v, loss, variables: [v], dispose: () => v.dispose() };
}

const quiet = { progress: 'none' as const };

describe('train', function () {
  before(async () => { await setup({ quiet: true, profile: 'quick' }); });

  it('a custom-variable loop (full-batch GD) converges to the least-squares solution', async () => {
    const { data, theta, dispose } = regressionData(64, 1);
    const m = linearLoss();
    try {
      const h = await train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.3), batchSize: 64, epochs: 80, seed: 1 });
      const got = [...m.w.dataSync(), m.b.dataSync()[0]];
      got.forEach((g, i) => assert.ok(Math.abs(g - theta[i]) < 1e-4, `θ[${i}] = ${g}, least squares ${theta[i]}`));
      assert.ok(theta.some((t, i) => Math.abs(t - [2, -3, 0.5][i]) > 1e-3), 'the noise must move the LS solution off the true weights');
      assert.equal(h.steps, 80);
      assert.equal(h.stopReason, 'epochs');
      assert.ok(h.stepLoss[79] < h.stepLoss[0] / 10);
    } finally { m.dispose(); dispose(); }
  });

  it('a compiled LayersModel (trainOnBatch, minibatches) gets close to the least-squares solution', async () => {
    const { data, theta, dispose } = regressionData(64, 2);
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError', metrics: ['mae'] }); // metrics: trainOnBatch returns [loss, mae]
    try {
      // Validation in batches of 24 (24, 24, 16): the size-weighted mean must be the whole set's MSE.
      const h = await train({ ...quiet, model, data, batchSize: 16, epochs: 40, seed: 2, validation: { data, batchSize: 24 } });
      const [kernel, bias] = model.getWeights();
      const got = [...kernel.dataSync(), bias.dataSync()[0]];
      got.forEach((g, i) => assert.ok(Math.abs(g - theta[i]) < 0.05, `θ[${i}] = ${g}, least squares ${theta[i]}`));
      assert.equal(h.steps, 160);
      assert.equal(h.epochs.length, 40);
      assert.ok(h.epochs[39].loss < 0.2, `final epoch loss ${h.epochs[39].loss}`); // noise variance 0.09
      const all = data.batch(Array.from({ length: 64 }, (_, i) => i));
      const mse = tf.tidy(() => tf.losses.meanSquaredError(all.ys as tf.Tensor, model.predict(all.xs as tf.Tensor) as tf.Tensor).dataSync()[0]);
      tf.dispose([all.xs as tf.Tensor, all.ys as tf.Tensor]);
      assert.ok(Math.abs((h.epochs[39].metric as number) - mse) < 1e-5, `val loss ${h.epochs[39].metric}, MSE of the set ${mse}`);
      assert.equal(h.metricName, 'val loss');
    } finally { model.dispose(); dispose(); }
  });

  it('a LayersModel trained through `loss` (optimizer.minimize over its weights) reaches the same solution', async () => {
    const { data, theta, dispose } = regressionData(64, 2);
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
    const sgd = tf.train.sgd(0.3);
    try {
      const loss = ({ xs, ys }: XY) => tf.losses.meanSquaredError(ys as tf.Tensor, model.apply(xs as tf.Tensor, { training: true }) as tf.Tensor) as tf.Scalar;
      await train({ ...quiet, model, loss, optimizer: sgd, data, batchSize: 64, epochs: 80 });
      const [kernel, bias] = model.getWeights();
      const got = [...kernel.dataSync(), bias.dataSync()[0]];
      got.forEach((g, i) => assert.ok(Math.abs(g - theta[i]) < 1e-4, `θ[${i}] = ${g}, least squares ${theta[i]}`));
    } finally { model.dispose(); sgd.dispose(); dispose(); }
  });

  it('restoreBest on a LayersModel puts back the best epoch\'s weights', async () => {
    const { data, dispose } = regressionData(32, 8);
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
    model.compile({ optimizer: tf.train.sgd(0.05), loss: 'meanSquaredError' });
    const scripted = [3, 1, 2, 2.5, 0.5];
    let calls = 0;
    const weightsAt: number[][] = [];
    try {
      const h = await train({
        ...quiet, model, data, batchSize: 8, epochs: 5, seed: 1,
        validation: { data: { size: 1, batch: () => ({ xs: tf.zeros([1, 2]), ys: tf.zeros([1, 1]) }) }, metric: () => scripted[calls++] },
        earlyStop: { patience: 2, restoreBest: true },
        onEpochEnd: () => { weightsAt.push(model.getWeights().flatMap((w) => [...w.dataSync()])); },
      });
      assert.equal(h.stopReason, 'earlyStop');
      assert.deepEqual([h.epochs.length, h.best?.epoch, h.restoredBest], [4, 2, true]);
      assert.deepEqual(model.getWeights().flatMap((w) => [...w.dataSync()]), weightsAt[1]);
      assert.notDeepEqual(weightsAt[3], weightsAt[1]);
    } finally { model.dispose(); dispose(); }
  });

  it('the same seed gives the same loss history; another seed a different one', async () => {
    const { data, dispose } = regressionData(40, 3);
    const run = async (shuffleWith: { seed: number } | { rng: () => number }) => {
      const m = linearLoss();
      try {
        return (await train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.05), batchSize: 8, epochs: 3, ...shuffleWith })).stepLoss;
      } finally { m.dispose(); }
    };
    try {
      const a = await run({ seed: 5 });
      assert.equal(a.length, 15);
      assert.deepEqual(await run({ seed: 5 }), a);
      assert.deepEqual(await run({ rng: mulberry32(5) }), a, 'rng: mulberry32(seed) is the same generator');
      assert.notDeepEqual(await run({ seed: 6 }), a);
    } finally { dispose(); }
  });

  it('shuffling visits every example exactly once per epoch, in a new order each epoch', async () => {
    const { data, batches } = indexData(23);
    const m = tinyLoss();
    try {
      await train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.01), batchSize: 5, epochs: 3, seed: 7 });
      assert.deepEqual(batches.map((b) => b.length), [5, 5, 5, 5, 3, 5, 5, 5, 5, 3, 5, 5, 5, 5, 3]);
      const all = Array.from({ length: 23 }, (_, i) => i);
      const epochs = [0, 1, 2].map((e) => batches.slice(5 * e, 5 * e + 5).flat());
      for (const order of epochs) assert.deepEqual([...order].sort((p, q) => p - q), all);
      assert.notDeepEqual(epochs[0], all);
      assert.notDeepEqual(epochs[0], epochs[1]);
      assert.notDeepEqual(epochs[1], epochs[2]);

      batches.length = 0;
      await train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.01), batchSize: 5, epochs: 1, shuffle: false, dropRemainder: true });
      assert.deepEqual(batches.flat(), all.slice(0, 20), 'shuffle: false keeps the order; dropRemainder drops the last 3');
    } finally { m.dispose(); }
  });

  describe('early stopping on a scripted metric', () => {
    const cases: { name: string; metrics: number[]; patience: number; mode?: 'min' | 'max'; minDelta?: number; stopEpoch: number; bestEpoch: number; reason: string }[] = [
      { name: 'min, patience 2', metrics: [5, 4, 3, 3.5, 3.2, 3.1, 2], patience: 2, stopEpoch: 5, bestEpoch: 3, reason: 'earlyStop' },
      { name: 'max, patience 2', metrics: [0.1, 0.5, 0.4, 0.45, 0.3, 0.9], patience: 2, mode: 'max', stopEpoch: 4, bestEpoch: 2, reason: 'earlyStop' },
      { name: 'patience 0 stops at the first miss', metrics: [3, 2, 2.5, 1], patience: 0, stopEpoch: 3, bestEpoch: 2, reason: 'earlyStop' },
      { name: 'minDelta: a small gain is no gain', metrics: [1, 0.99, 0.98, 0.5], patience: 1, minDelta: 0.05, stopEpoch: 2, bestEpoch: 1, reason: 'earlyStop' },
      { name: 'always improving runs every epoch', metrics: [4, 3, 2, 1], patience: 1, stopEpoch: 4, bestEpoch: 4, reason: 'epochs' },
    ];
    for (const c of cases) {
      it(`${c.name}: stops after epoch ${c.stopEpoch}, best epoch ${c.bestEpoch}, weights restored`, async () => {
        const { data } = indexData(6);
        const m = tinyLoss();
        let calls = 0;
        const valueAtEpoch: number[] = [];
        try {
          const h = await train({
            ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.05), batchSize: 3, epochs: c.metrics.length, seed: 1,
            validation: { data: { size: 1, batch: () => ({ x: tf.zeros([1]) }) }, metric: () => c.metrics[calls++], name: 'score', mode: c.mode },
            earlyStop: { patience: c.patience, minDelta: c.minDelta, restoreBest: true },
            onEpochEnd: () => { valueAtEpoch.push(m.v.dataSync()[0]); },
          });
          assert.equal(h.epochs.length, c.stopEpoch);
          assert.equal(h.stopReason, c.reason);
          assert.deepEqual(h.best, { epoch: c.bestEpoch, metric: c.metrics[c.bestEpoch - 1] });
          assert.deepEqual(h.epochs.map((e) => e.metric), c.metrics.slice(0, c.stopEpoch));
          assert.equal(h.restoredBest, c.bestEpoch !== c.stopEpoch);
          assert.equal(m.v.dataSync()[0], valueAtEpoch[c.bestEpoch - 1], 'the weights are those of the best epoch');
          if (c.reason === 'earlyStop') assert.match(h.summary, /early stop after epoch \d+: score did not improve/);
        } finally { m.dispose(); }
      });
    }
  });

  describe('budgets and stops', () => {
    const run = (extra: Partial<TrainOptions<{ x: tf.Tensor }>>) => {
      const { data } = indexData(9);
      const m = tinyLoss();
      return train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.01), batchSize: 3, epochs: 10, ...extra })
        .finally(() => m.dispose());
    };

    it('maxSteps: stops after exactly that many steps, mid-epoch', async () => {
      const h = await run({ maxSteps: 7 });
      assert.equal(h.steps, 7);
      assert.equal(h.stopReason, 'maxSteps');
      assert.deepEqual(h.epochs.map((e) => [e.steps, e.complete]), [[3, true], [3, true], [1, false]]);
      assert.match(h.summary, /step budget used \(7 steps\) in epoch 3 \(cut short\)/);
    });

    it('shouldStop: a flag raised after epoch 2 stops before the next step', async () => {
      const flag = createStopFlag();
      const h = await run({ shouldStop: flag.shouldStop, onEpochEnd: (e) => { if (e.epoch === 2) flag.stop(); } });
      assert.equal(h.steps, 6);
      assert.equal(h.stopReason, 'shouldStop');
      assert.ok(flag.stopped);
    });

    it('shouldStop: a flag raised from elsewhere (a timer, like another cell) is seen: the loop yields', async () => {
      const flag = createStopFlag();
      setTimeout(() => flag.stop(), 100);
      const h = await run({ epochs: Infinity, maxSteps: 1e7, shouldStop: flag.shouldStop });
      assert.equal(h.stopReason, 'shouldStop');
      assert.ok(h.steps > 0 && h.steps < 1e7);
    });

    it('maxSeconds: a wall-time budget ends an endless run', async () => {
      const h = await run({ epochs: Infinity, maxSeconds: 0.3 });
      assert.equal(h.stopReason, 'maxSeconds');
      assert.ok(h.seconds >= 0.3, `ran ${h.seconds} s`);
      assert.ok(h.steps > 0);
    });

    it('stopOnInterrupt: a SIGINT stops at the next step, and the listener is removed afterwards', async () => {
      const before = process.listeners('SIGINT');
      let listenersDuring = 0;
      const h = await run({
        stopOnInterrupt: true,
        onEpochEnd: (e) => {
          const added = process.listeners('SIGINT').filter((l) => !before.includes(l));
          listenersDuring = added.length;
          // Call the loop's listener directly: a real signal would also reach mocha's own handlers.
          if (e.epoch === 2) for (const l of added) (l as () => void)();
        },
      });
      assert.equal(listenersDuring, 1);
      assert.equal(h.stopReason, 'interrupt');
      assert.equal(h.steps, 6);
      assert.equal(lastHistory(), h, 'kept for the next cell: tslab drops an interrupted cell\'s variables');
      assert.deepEqual(process.listeners('SIGINT'), before);
    });
  });

  describe('a loss that goes wrong', () => {
    it('NaN at a scripted step: stops there and says where, suggesting a smaller learning rate', async () => {
      const { data } = indexData(9);
      const m = tinyLoss((step) => (step === 4 ? NaN : 1));
      try {
        await assert.rejects(
          train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.01), batchSize: 3, epochs: 5 }),
          (e: unknown) => {
            assert.ok(e instanceof TrainError);
            assert.match(e.message, /the loss became NaN at step 4 \(epoch 2, step 1\/3\)/);
            assert.match(e.message, /smaller learning rate/);
            assert.equal(e.history?.steps, 4);
            assert.ok(Number.isNaN(e.history?.stepLoss[3]));
            return true;
          },
        );
      } finally { m.dispose(); }
    });

    it('a real divergence (learning rate far too large) is caught at the step it happens', async () => {
      const { data, dispose } = regressionData(32, 4);
      const m = linearLoss();
      try {
        await assert.rejects(
          train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(50), batchSize: 32, epochs: 500 }),
          (e: unknown) => {
            assert.ok(e instanceof TrainError && e.history);
            const step = e.history.steps;
            assert.match(e.message, new RegExp(`the loss became (NaN|Infinity) at step ${step} `));
            assert.ok(e.history.stepLoss.slice(0, -1).every(Number.isFinite));
            return true;
          },
        );
      } finally { m.dispose(); dispose(); }
    });

    it('a non-scalar loss is named with its shape', async () => {
      const { data } = indexData(4);
      const v = tf.variable(tf.ones([2]));
      try {
        await assert.rejects(
          train({ ...quiet, data, loss: () => tf.square(v) as unknown as tf.Scalar, variables: [v], optimizer: tf.train.sgd(0.1), batchSize: 2, epochs: 1 }),
          /loss must return a scalar, got a tensor of shape \[2\] at step 1: reduce it/,
        );
      } finally { v.dispose(); }
    });
  });

  it('rejects bad settings with a message naming them', async () => {
    const { data } = indexData(4);
    const v = tf.variable(tf.scalar(1));
    const loss = () => tf.square(v) as tf.Scalar;
    const ok = { ...quiet, data, loss, variables: [v], optimizer: tf.train.sgd(0.1), batchSize: 2, epochs: 1 };
    const uncompiled = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [1] })] });
    const cases: [Partial<TrainOptions<{ x: tf.Tensor }>>, RegExp][] = [
      [{ batchSize: 0 }, /batchSize must be an integer ≥ 1 \(got 0\)/],
      [{ batchSize: 2.5 }, /batchSize must be an integer ≥ 1 \(got 2.5\)/],
      [{ epochs: 0 }, /epochs must be an integer ≥ 1 \(got 0\)/],
      [{ epochs: Infinity }, /epochs = Infinity needs a budget: set maxSteps or maxSeconds/],
      [{ data: { size: 0, batch: data.batch } }, /data is empty \(data.size = 0\)/],
      [{ loss: undefined }, /give `model` \(a compiled tf.LayersModel\) or `loss`/],
      [{ optimizer: undefined }, /`loss` needs an `optimizer`/],
      [{ loss: undefined, variables: undefined, model: uncompiled }, /the model is not compiled: call model.compile/],
      [{ earlyStop: { patience: 2 } }, /earlyStop needs `validation`/],
      [{ maxSteps: 0 }, /maxSteps must be an integer ≥ 1 \(got 0\)/],
      [{ maxSeconds: -1 }, /maxSeconds must be > 0 \(got -1\)/],
      [{ validation: { data: { size: 0, batch: data.batch } } }, /validation.data.size must be a positive integer \(got 0\)/],
      [{ seed: 1, rng: mulberry32(1) }, /give `rng` or `seed`, not both/],
      [{ variables: [] }, /variables must be a non-empty array/],
      [{ progress: 'loud' as 'line' }, /progress must be one of auto, live, line, none or a function \(got 'loud'\)/],
    ];
    const tensors = tf.memory().numTensors;
    try {
      for (const [change, message] of cases) {
        await assert.rejects(train({ ...ok, ...change }), (e: unknown) => {
          assert.ok(e instanceof TrainError, `${JSON.stringify(Object.keys(change))}: a TrainError`);
          assert.match(e.message, /^train: /);
          assert.match(e.message, message);
          return true;
        });
      }
      assert.equal(tf.memory().numTensors, tensors, 'a rejected call creates nothing');
    } finally { v.dispose(); uncompiled.dispose(); }
  });

  describe('no tensor leaks: numTensors after every epoch equals the baseline', () => {
    it('a LayersModel with trainOnBatch, validation and a batch() that hands back a kept tensor', async () => {
      const { data, dispose } = regressionData(20, 5);
      const heldX = tf.randomNormal([20, 2]);  // [20, 2], returned as is by batch(): must survive
      const heldY = tf.zeros([20, 1]);
      const model = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [2], activation: 'relu' }), tf.layers.dense({ units: 1 })] });
      model.compile({ optimizer: tf.train.sgd(0.01), loss: 'meanSquaredError' });
      try {
        const baseline = tf.memory().numTensors;
        const h = await train({
          ...quiet, model, data, batchSize: 6, epochs: 3, seed: 3,
          validation: { data: { size: 20, batch: () => ({ xs: heldX, ys: heldY }) }, batchSize: 20 },
        });
        assert.deepEqual(h.epochs.map((e) => e.numTensors), [baseline, baseline, baseline]);
        assert.equal(tf.memory().numTensors, baseline);
        assert.ok(!heldX.isDisposed && !heldY.isDisposed, 'tensors batch() only handed back are not disposed');
        assert.ok(h.epochs.every((e) => Number.isFinite(e.metric)));
        // Full-batch training on a kept tensor (batchSize = size) works epoch after epoch.
        const h2 = await train({ ...quiet, model, data: { size: 20, batch: () => ({ xs: heldX, ys: heldY }) }, batchSize: 20, epochs: 3 });
        assert.deepEqual(h2.epochs.map((e) => e.numTensors), [baseline, baseline, baseline]);
      } finally { model.dispose(); tf.dispose([heldX, heldY]); dispose(); }
    });

    it('a custom-variable loop with intermediates in batch(), validation, Adam and restoreBest', async () => {
      const { data: base, dispose } = regressionData(30, 6);
      // batch() computes on the way (a normalisation): the intermediates must be freed too.
      const data: Dataset<XY> = { size: 30, batch: (idx) => { const b = base.batch(idx); return { xs: tf.div(b.xs as tf.Tensor, 2), ys: b.ys }; } };
      const m = linearLoss();
      const sgd = tf.train.sgd(0.1);    // optimizers hold tensors from construction (the learning rate)
      const adam = tf.train.adam(0.05);
      try {
        const baseline = tf.memory().numTensors;
        const h = await train({ ...quiet, data, loss: m.loss, variables: m.variables, optimizer: sgd, batchSize: 7, epochs: 3, seed: 3, validation: { data } });
        assert.deepEqual(h.epochs.map((e) => e.numTensors), [baseline, baseline, baseline]);
        assert.equal(tf.memory().numTensors, baseline);

        // Adam keeps two moment variables per weight from its first step on, and restoreBest one copy.
        const h2 = await train({
          ...quiet, data, loss: m.loss, variables: m.variables, optimizer: adam, batchSize: 7, epochs: 4, seed: 3,
          validation: { data }, earlyStop: { patience: 5, restoreBest: true },
        });
        const weights = m.variables.length;
        assert.deepEqual(h2.epochs.map((e) => e.numTensors), h2.epochs.map(() => baseline + 2 * weights + weights));
        assert.equal(tf.memory().numTensors, baseline + 2 * weights, 'after training only the optimizer state remains');
      } finally { m.dispose(); sgd.dispose(); adam.dispose(); dispose(); }
    });
  });

  describe('progress', () => {
    const slowData = (size: number): Dataset<{ x: tf.Tensor }> => ({
      size,
      batch: (idx) => {
        const until = performance.now() + 4; // ~4 ms a step, so throttling has something to skip
        while (performance.now() < until) { /* busy */ }
        return { x: tf.tensor1d(idx) };
      },
    });

    it('outside a kernel: throttled status lines with every field, and one line per epoch', async () => {
      const lines: string[] = [];
      const m = tinyLoss();
      try {
        const h = await train({
          data: slowData(40), loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.01), batchSize: 2, epochs: 4,
          validation: { data: slowData(4) }, progress: (line) => lines.push(line), progressSeconds: 0.1,
        });
        const status = lines.filter((l) => /step \d+\/20/.test(l));
        const epochLines = lines.filter((l) => /^epoch \d\/4 · 20 steps/.test(l));
        assert.equal(epochLines.length, 4);
        assert.ok(status.length >= 2, `${status.length} status lines`);
        assert.ok(status.length <= Math.ceil(h.seconds / 0.1) + 1, `${status.length} status lines in ${h.seconds} s: not throttled`);
        assert.ok(status.length < h.steps / 2, `${status.length} lines for ${h.steps} steps`);
        for (const l of status) {
          assert.match(l, /^epoch [1-4]\/4 · step \d+\/20 · loss [\d.e+-]+ · val loss ([\d.e+-]+|–) · [\d.]+ steps\/s · ([\d.]+ s|\?) left$/);
        }
        assert.match(lines[lines.length - 1], /^✓ finished 4 epochs · best val loss [\d.e+-]+ at epoch \d · 80 steps in [\d.]+ s/);
      } finally { m.dispose(); }
    });

    it("'line' mode prints through console.log when stdout is not a terminal", async () => {
      const logged: string[] = [];
      const log = console.log;
      const tty = process.stdout.isTTY;
      console.log = (s: string) => { logged.push(s); };
      (process.stdout as { isTTY?: boolean }).isTTY = false;
      const m = tinyLoss();
      try {
        await train({ data: slowData(10), loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.01), batchSize: 5, epochs: 2, progress: 'line' });
      } finally {
        console.log = log;
        (process.stdout as { isTTY?: boolean }).isTTY = tty;
        m.dispose();
      }
      assert.ok(logged.some((l) => /^epoch 1\/2 · step 1\/2 · loss/.test(l)), 'the first step is shown at once');
      assert.equal(logged.filter((l) => /^epoch \d\/2 · 2 steps · loss/.test(l)).length, 2);
      assert.match(logged[logged.length - 1], /^✓ finished 2 epochs/);
    });

    it('in a kernel: a status block and a loss chart updated in place, the chart about once a second', async () => {
      // Stand in for tslab: show.ts sends bundles through this writer when a cell runs.
      const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: unknown };
      const writes: { data: Record<string, unknown>; id?: string; update: boolean }[] = [];
      jupyter.lastWriteDisplayData = (d: { data: Record<string, unknown>; transient: { display_id?: string } }, update: boolean) => {
        writes.push({ data: d.data, id: d.transient.display_id, update });
      };
      const log = console.log;
      const logged: string[] = [];
      console.log = (s: string) => { logged.push(s); };
      const m = tinyLoss();
      let h: TrainHistory;
      try {
        h = await train({ data: slowData(100), loss: m.loss, variables: m.variables, optimizer: tf.train.sgd(0.01), batchSize: 2, epochs: 6, progressSeconds: 0.2 });
      } finally {
        jupyter.lastWriteDisplayData = null;
        console.log = log;
        m.dispose();
      }
      assert.deepEqual(logged, [], 'nothing printed: everything goes to the displays');
      const status = writes.filter((w) => 'text/markdown' in w.data);
      const charts = writes.filter((w) => VEGA_LITE_MIME in w.data);
      assert.equal(new Set(status.map((w) => w.id)).size, 1, 'one status display');
      assert.equal(new Set(charts.map((w) => w.id)).size, 1, 'one chart display');
      assert.deepEqual([status[0].update, charts[0].update], [false, false]);
      assert.ok([...status.slice(1), ...charts.slice(1)].every((w) => w.update), 'later writes update in place');
      assert.ok(status.length >= 3 && status.length <= Math.ceil(h.seconds / 0.2) + 2, `${status.length} status updates in ${h.seconds} s`);
      // The chart at most once a second whatever progressSeconds says (+1: the final drawing).
      assert.ok(charts.length >= 2 && charts.length <= Math.ceil(h.seconds) + 1, `${charts.length} charts in ${h.seconds} s`);
      assert.match(String(status[status.length - 1].data['text/markdown']), /^\*\*✓ finished 6 epochs/);
      assert.match(String(status[status.length - 1].data['text/markdown']), /- epoch 6\/6 · 50 steps · loss/);
      const last = charts[charts.length - 1].data[VEGA_LITE_MIME] as { data: { values: { series: string }[] } };
      assert.deepEqual([...new Set(last.data.values.map((r) => r.series))], ['loss per step', 'epoch mean']);
    });

    it('lossCurve draws the per-step loss (bucketed), the epoch means and the validation loss', () => {
      const history = {
        stepLoss: Array.from({ length: 1000 }, (_, i) => 1 / (i + 1)),
        epochs: [1, 2].map((e) => ({ epoch: e, steps: 500, endStep: 500 * e, loss: 1 / e, metric: 2 / e, complete: true, seconds: e, numTensors: 0 })),
        metricName: 'val loss',
      };
      const spec = lossCurve(history, { maxPoints: 100 }) as unknown as { data: { values: { series: string; x: number }[] } };
      const bySeries = (s: string) => spec.data.values.filter((r) => r.series === s);
      assert.equal(bySeries('loss per step').length, 100);
      assert.deepEqual(bySeries('epoch mean').map((r) => r.x), [500, 1000]);
      assert.equal(bySeries('val loss').length, 2);
      const custom = lossCurve({ ...history, metricName: 'accuracy' }) as unknown as { data: { values: { series: string }[] } };
      assert.ok(!custom.data.values.some((r) => r.series === 'val loss'), 'a metric in other units stays off the loss axis');
    });
  });
});

describe('createAdam: tf.train.adam with a one-kernel update', function () {
  before(async () => { await setup({ quiet: true, profile: 'quick', backend: 'wasm' }); });

  const SHAPES = [[3, 5], [7], [2, 3, 3, 4], [1]];
  /** Runs `steps` Adam steps on fresh seeded variables; the learning rate changes every step, as under a cosine decay. */
  function run(optimizer: tf.Optimizer, steps: number): Float32Array[] {
    const rng = mulberry32(5);
    const vars = SHAPES.map((shape, i) => tf.variable(tf.tensor(Array.from({ length: tf.util.sizeFromShape(shape) }, () => normal(rng)), shape), true, `adam_test_${i}_${Math.random()}`));
    const weights = SHAPES.map((shape) => tf.tensor(Array.from({ length: tf.util.sizeFromShape(shape) }, () => normal(rng)), shape));
    for (let step = 0; step < steps; step++) {
      (optimizer as unknown as { learningRate: number }).learningRate = 0.05 * (1 + Math.cos(step));
      const loss = () => tf.addN(vars.map((v, i) => tf.sum(tf.mul(tf.sin(v.mul(1.3)), weights[i])).add(tf.sum(tf.square(v)).mul(0.1)))) as tf.Scalar;
      const { grads } = tf.variableGrads(loss, vars);
      const before = tf.memory().numTensors;
      optimizer.applyGradients(grads);
      if (step > 0) assert.equal(tf.memory().numTensors, before, `step ${step}: the update leaked tensors`);
      tf.dispose(Object.values(grads));
    }
    const values = vars.map((v) => v.dataSync() as Float32Array);
    tf.dispose([...vars, ...weights]);
    return values;
  }

  it('matches tf.train.adam on wasm to float rounding over 8 steps with a changing learning rate, and its moments too', async () => {
    await tf.setBackend('wasm');
    const ours = createAdam(0.05), stock = tf.train.adam(0.05);
    const a = run(ours, 8), b = run(stock, 8);
    a.forEach((v, i) => v.forEach((x, j) => assert.ok(Math.abs(x - b[i][j]) <= 2e-6 * (1 + Math.abs(x)), `variable ${i}[${j}]: ${x} vs ${b[i][j]}`)));
    const [wa, wb] = [await ours.getWeights(), await stock.getWeights()];
    assert.equal(wa.length, wb.length);
    assert.deepEqual(wa.map((w) => w.name.replace(/adam_test_\d+_[\d.e-]+/, 'v')), wb.map((w) => w.name.replace(/adam_test_\d+_[\d.e-]+/, 'v')));
    wa.forEach((w, i) => {
      const x = w.tensor.dataSync(), y = wb[i].tensor.dataSync();
      x.forEach((q, j) => assert.ok(Math.abs(q - y[j]) <= 2e-6 * (1 + Math.abs(q)), `${w.name}[${j}]: ${q} vs ${y[j]}`));
    });
    ours.dispose();
    stock.dispose();
  });

  it('runs one KitAdamUpdate kernel per variable on wasm, and is tf.train.adam exactly on cpu', async () => {
    await tf.setBackend('wasm');
    const v = tf.variable(tf.tensor1d([1, -2, 3]));
    const opt = createAdam(0.1);
    const info = await tf.profile(() => { opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar); });
    const names = info.kernels.map((k) => k.name);
    assert.equal(names.filter((n) => n === 'KitAdamUpdate').length, 1, names.join(' '));
    assert.ok(!names.includes('Sqrt'), `the stock update ran too: ${names.join(' ')}`);
    tf.dispose([v]);
    opt.dispose();
    await tf.setBackend('cpu');
    try {
      const a = run(createAdam(0.05), 4), b = run(tf.train.adam(0.05), 4);
      a.forEach((x, i) => assert.deepEqual(Array.from(x), Array.from(b[i]), `variable ${i}`));
    } finally {
      await tf.setBackend('wasm');
    }
  });

  it('refuses a learning rate that is not positive', () => {
    assert.throws(() => createAdam(0), /learningRate must be > 0/);
  });
});
