/**
 * lib/backend/wasm-training: the kernels it adds to the wasm backend give the same gradients as
 * the cpu backend (float32 rounding apart) and as central finite differences, on odd shapes;
 * tf.layers models train on wasm; nothing leaks; the sub-pixel transposed conv is faster.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmTrainingKernels, internals } from '../lib/backend/wasm-training';
import { mulberry32, normal } from '../lib/runtime/random';

tf.enableProdMode();

type Shape4 = [number, number, number, number];
type Padding = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
type Backend = 'cpu' | 'wasm';

/** Seeded standard-normal values: the same numbers go to both backends. */
function randn(size: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: size }, () => normal(rng));
}

function randTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randn(tf.util.sizeFromShape(shape), seed), shape);
}

/** Runs f on one backend and brings the results back as plain arrays (tensors are disposed). */
async function onBackend(backend: Backend, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const outs = tf.tidy(f);
  const values = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  return values;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Asserts |actual − expected| ≤ rtol·max(1, max|expected|) elementwise, naming the worst entry. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, maxAbs(expected));
  let worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) { worst = d; at = i; } // NaN lands here too and fails below
  }
  assert.ok(worst <= rtol * scale, `${what}: max |diff| ${worst} at ${at} (${actual[at]} vs ${expected[at]}) > ${rtol}·${scale.toFixed(3)}`);
}

/** The gradients of `loss` w.r.t. `params` on wasm and on cpu must agree to ~1e-4 relative. */
async function assertWasmMatchesCpu(
  params: { shape: number[]; values: Float32Array }[], loss: (...p: tf.Tensor[]) => tf.Scalar, what: string,
): Promise<Float32Array[]> {
  const gradsOn = (backend: Backend) => onBackend(backend, () =>
    tf.grads(loss)(params.map((p) => tf.tensor(p.values, p.shape))));
  const wasm = await gradsOn('wasm');
  const cpu = await gradsOn('cpu');
  wasm.forEach((g, i) => assertClose(g, cpu[i], 1e-4, `${what}: gradient ${i} wasm vs cpu`));
  assert.ok(wasm.some((g) => maxAbs(g) > 1e-3), `${what}: all gradients are ~0, the check would be vacuous`);
  return wasm;
}

/**
 * Central differences of `loss` at a sample of coordinates of parameter `which`, on wasm. The
 * losses below are quadratic in each parameter, so central differences are exact but for
 * float32 rounding of the loss (~1e-4 here, divided by 2·eps): the tolerance is loose, yet a
 * gradient that is shifted, transposed or flipped misses by O(|gradient|).
 */
async function assertFiniteDifferences(
  params: { shape: number[]; values: Float32Array }[], loss: (...p: tf.Tensor[]) => tf.Scalar,
  grads: Float32Array[], which: number, what: string, samples = 10, eps = 1e-2,
): Promise<void> {
  await tf.setBackend('wasm');
  const size = params[which].values.length;
  const rng = mulberry32(size * 31 + which);
  const coords = size <= samples ? [...Array(size).keys()] : Array.from({ length: samples }, () => Math.floor(rng() * size));
  const lossAt = (values: Float32Array): number => tf.tidy(() =>
    loss(...params.map((p, i) => tf.tensor(i === which ? values : p.values, p.shape))).dataSync()[0]);
  const gradScale = Math.max(1, maxAbs(grads[which]));
  for (const i of coords) {
    const plus = params[which].values.slice(); plus[i] += eps;
    const minus = params[which].values.slice(); minus[i] -= eps;
    const numeric = (lossAt(plus) - lossAt(minus)) / (2 * eps);
    const analytic = grads[which][i];
    assert.ok(Math.abs(numeric - analytic) <= 2e-2 * gradScale,
      `${what}: d loss / d p${which}[${i}] analytic ${analytic} vs finite difference ${numeric}`);
  }
}

/** ½ Σ r ⊙ y²: nonlinear in the parameters (so dy depends on them) yet exact under central differences. */
function weightedSquare(y: tf.Tensor, seed: number): tf.Scalar {
  const r = tf.tensor(Float32Array.from(randn(y.size, seed), Math.abs), y.shape);
  return tf.mul(0.5, tf.sum(tf.mul(r, tf.square(y))));
}

function param(shape: number[], seed: number): { shape: number[]; values: Float32Array } {
  return { shape, values: randn(tf.util.sizeFromShape(shape), seed) };
}

/** Runs one of the module's composite kernels directly (no registration involved) as a Tensor. */
function runInternal(
  kernel: (args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }) => tf.TensorInfo,
  inputs: Record<string, tf.Tensor>, attrs: object,
): tf.Tensor {
  const out = kernel({ inputs, backend: tf.engine().backend, attrs: attrs as tf.NamedAttrMap });
  return tf.engine().makeTensorFromTensorInfo(out);
}

describe('lib/backend/wasm-training', () => {
  // Kernel registrations are global: once installed they stay for the rest of the mocha run
  // (they are correct for every caller). The active backend is put back afterwards.
  let previousBackend: string | undefined;
  let installedFirst: string[] = [];
  before(async () => {
    previousBackend = tf.getBackend() as string | undefined; // undefined until a backend is first used
    await tf.setBackend('wasm');
    installedFirst = installWasmTrainingKernels();
  });
  after(async () => {
    if (previousBackend !== undefined) await tf.setBackend(previousBackend);
  });

  describe('installWasmTrainingKernels', () => {
    it('leaves every training kernel registered on wasm and registers nothing the second time', async () => {
      await tf.setBackend('wasm');
      const expected = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter',
        'UnsortedSegmentSum', 'Conv2DBackpropInput', 'MaxPoolGrad'];
      // Another test file may have installed them first in the same mocha run: then [] is right.
      assert.ok(installedFirst.length === 0 || installedFirst.join() === expected.join(), `first call returned ${installedFirst}`);
      assert.deepEqual(installWasmTrainingKernels(), []);
      for (const name of expected) {
        assert.ok(tf.getKernel(name, 'wasm') !== undefined, `${name} is not registered on wasm`);
      }
      assert.equal(tf.getKernel('MaxPoolGrad', 'wasm').kernelFunc as unknown, internals.maxPoolGrad as unknown);
    });
  });

  interface ConvCase {
    name: string;
    x: Shape4;      // [batch, h, w, inChannels]
    filter: Shape4; // [fh, fw, inChannels, outChannels]
    strides: number | [number, number];
    pad: Padding;
  }

  const CONV_CASES: ConvCase[] = [
    { name: 'batch 1, 1 channel, same, stride 1, non-square', x: [1, 7, 5, 1], filter: [3, 3, 1, 2], strides: 1, pad: 'same' },
    { name: 'batch 3, same, stride 2, odd sizes, 3×2 filter', x: [3, 7, 9, 2], filter: [3, 2, 2, 3], strides: 2, pad: 'same' },
    { name: 'batch 3, valid, stride 2, odd sizes', x: [3, 9, 7, 3], filter: [3, 3, 3, 1], strides: 2, pad: 'valid' },
    { name: 'batch 2, explicit padding, strides 2×3', x: [2, 8, 6, 3], filter: [2, 3, 3, 4], strides: [2, 3], pad: [[0, 0], [1, 2], [0, 3], [0, 0]] },
    { name: 'batch 1, 4×4 filter, stride 3 (filter not a multiple of stride)', x: [1, 10, 6, 4], filter: [4, 4, 4, 2], strides: 3, pad: 'same' },
    { name: 'batch 2, padding wider than the filter, stride 2', x: [2, 5, 6, 2], filter: [2, 2, 2, 3], strides: 2, pad: [[0, 0], [3, 4], [2, 5], [0, 0]] },
    { name: 'batch 2, large enough for the sub-pixel path', x: [2, 17, 15, 8], filter: [3, 3, 8, 16], strides: 2, pad: 'same' },
  ];

  /** The shape conv2d gives for a case: [batch, outHeight, outWidth, outChannels]. */
  function convOutShape(c: ConvCase): number[] {
    return tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad).outShape;
  }

  describe('conv2d gradients on wasm (Conv2DBackpropFilter, Conv2DBackpropInput)', () => {
    for (const c of CONV_CASES) {
      it(`conv2d: ${c.name}`, async () => {
        const params = [param(c.x, 1), param(c.filter, 2)];
        const loss = (x: tf.Tensor, w: tf.Tensor) =>
          weightedSquare(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), 3);
        const grads = await assertWasmMatchesCpu(params, loss, c.name);
        await assertFiniteDifferences(params, loss, grads, 0, `${c.name} (x)`);
        await assertFiniteDifferences(params, loss, grads, 1, `${c.name} (filter)`);
      });

      it(`conv2dTranspose: ${c.name}`, async () => {
        // The transposed conv maps conv2d's output shape back to c.x; its filter gradient is
        // Conv2DBackpropFilter with the roles of x and dy swapped.
        const params = [param(convOutShape(c), 4), param(c.filter, 5)];
        const loss = (y: tf.Tensor, w: tf.Tensor) =>
          weightedSquare(tf.conv2dTranspose(y as tf.Tensor4D, w as tf.Tensor4D, c.x, c.strides, c.pad), 6);
        const grads = await assertWasmMatchesCpu(params, loss, c.name);
        await assertFiniteDifferences(params, loss, grads, 0, `${c.name} (input)`);
        await assertFiniteDifferences(params, loss, grads, 1, `${c.name} (filter)`);
      });

      it(`sub-pixel Conv2DBackpropInput kernel matches cpu: ${c.name}`, async () => {
        // Called directly: through the registry, small cases go to the stock kernel instead.
        const dy = param(convOutShape(c), 7), filter = param(c.filter, 8);
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
        const [cpu] = await onBackend('cpu', () =>
          [tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor(dy.values, dy.shape), filter: tf.tensor(filter.values, filter.shape) }, attrs) as tf.Tensor]);
        const [wasm] = await onBackend('wasm', () =>
          [runInternal(internals.conv2DBackpropInputXnn, { dy: tf.tensor(dy.values, dy.shape), filter: tf.tensor(filter.values, filter.shape) }, attrs)]);
        assertClose(wasm, cpu, 1e-4, c.name);
      });
    }

    it('fused conv2d with bias and relu: gradients of x, filter and bias', async () => {
      const params = [param([3, 9, 8, 3], 11), param([3, 3, 3, 5], 12), param([5], 13)];
      const loss = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => weightedSquare(tf.fused.conv2d({
        x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: 2, pad: 'same', bias: b, activation: 'relu',
      }), 14);
      const grads = await assertWasmMatchesCpu(params, loss, 'fused conv2d');
      // relu has kinks: keep the step small so that few samples cross one.
      await assertFiniteDifferences(params, loss, grads, 1, 'fused conv2d (filter)', 10, 1e-3);
      await assertFiniteDifferences(params, loss, grads, 2, 'fused conv2d (bias)', 10, 1e-3);
    });
  });

  interface DepthwiseCase {
    name: string;
    x: Shape4;      // [batch, h, w, inChannels]
    filter: Shape4; // [fh, fw, inChannels, multiplier]
    strides: number | [number, number];
    pad: Padding;
  }

  const DEPTHWISE_CASES: DepthwiseCase[] = [
    { name: 'batch 1, 1 channel, multiplier 2, same', x: [1, 7, 5, 1], filter: [3, 3, 1, 2], strides: 1, pad: 'same' },
    { name: 'batch 3, multiplier 1, valid, stride 2, odd sizes', x: [3, 9, 7, 3], filter: [3, 2, 3, 1], strides: 2, pad: 'valid' },
    { name: 'batch 2, multiplier 3, explicit padding, stride 2', x: [2, 8, 7, 2], filter: [2, 3, 2, 3], strides: 2, pad: [[0, 0], [1, 0], [2, 1], [0, 0]] },
    { name: 'batch 2, padding wider than the filter, stride 2', x: [2, 5, 6, 2], filter: [2, 2, 2, 2], strides: 2, pad: [[0, 0], [3, 4], [2, 5], [0, 0]] },
  ];

  describe('depthwise conv gradients on wasm', () => {
    for (const c of DEPTHWISE_CASES) {
      it(`depthwiseConv2d: ${c.name}`, async () => {
        const params = [param(c.x, 21), param(c.filter, 22)];
        const loss = (x: tf.Tensor, w: tf.Tensor) =>
          weightedSquare(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), 23);
        const grads = await assertWasmMatchesCpu(params, loss, c.name);
        await assertFiniteDifferences(params, loss, grads, 0, `${c.name} (x)`);
        await assertFiniteDifferences(params, loss, grads, 1, `${c.name} (filter)`);
      });
    }

    it('separableConv2d and fused depthwiseConv2d train through them', async () => {
      const params = [param([2, 7, 6, 3], 24), param([3, 3, 3, 2], 25), param([1, 1, 6, 4], 26), param([6], 27)];
      const loss = (x: tf.Tensor, dw: tf.Tensor, pw: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.add(
        weightedSquare(tf.separableConv2d(x as tf.Tensor4D, dw as tf.Tensor4D, pw as tf.Tensor4D, 1, 'same'), 28),
        weightedSquare(tf.fused.depthwiseConv2d({ x: x as tf.Tensor4D, filter: dw as tf.Tensor4D, strides: 2, pad: 'same', bias: b }), 29)) as tf.Scalar;
      await assertWasmMatchesCpu(params, loss, 'separable + fused depthwise');
    });

    // The cpu backend's depthwise backprop kernels ignore dilation (tf.grad refuses dilation > 1,
    // so only direct kernel calls reach it): check the wasm ones by the adjoint identity instead,
    // ⟨D(x, W), dy⟩ = ⟨x, Dᵀ_input(dy)⟩ = ⟨W, Dᵀ_filter(x, dy)⟩.
    const DILATED: { dilations: number | [number, number]; pad: Padding }[] = [
      { dilations: 2, pad: 'same' },
      { dilations: [2, 3], pad: 'valid' },
    ];
    for (const d of DILATED) {
      it(`depthwise backprop kernels with dilation ${JSON.stringify(d.dilations)} are adjoint to the forward conv`, async () => {
        await tf.setBackend('wasm');
        const [lhs, viaInput, viaFilter] = tf.tidy(() => {
          const x = randTensor([2, 10, 9, 3], 31), w = randTensor([3, 2, 3, 2], 32);
          const y = tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, d.pad, 'NHWC', d.dilations);
          const dy = randTensor(y.shape, 33);
          const attrs = { strides: 1, pad: d.pad, dilations: d.dilations };
          const dx = runInternal(internals.depthwiseBackpropInput, { dy, filter: w }, { ...attrs, inputShape: x.shape });
          const dw = runInternal(internals.depthwiseBackpropFilter, { x, dy }, { ...attrs, filterShape: w.shape });
          return [tf.sum(tf.mul(y, dy)), tf.sum(tf.mul(x, dx)), tf.sum(tf.mul(w, dw))].map((t) => t.dataSync()[0]);
        });
        assert.ok(Math.abs(lhs) > 1, 'inner product too small to be a meaningful check');
        assert.ok(Math.abs(viaInput - lhs) <= 1e-4 * Math.abs(lhs) + 1e-3, `input adjoint: ${viaInput} vs ${lhs}`);
        assert.ok(Math.abs(viaFilter - lhs) <= 1e-4 * Math.abs(lhs) + 1e-3, `filter adjoint: ${viaFilter} vs ${lhs}`);
      });
    }
  });

  interface GatherCase {
    name: string;
    table: number[];
    indices: { shape: number[]; values: number[] };
    axis: number;
  }

  const GATHER_CASES: GatherCase[] = [
    { name: 'embedding rows with duplicates, 2-D indices', table: [10, 4], indices: { shape: [2, 3], values: [1, 3, 3, 9, 0, 1] }, axis: 0 },
    { name: '1-D table', table: [5], indices: { shape: [4], values: [4, 4, 0, 2] }, axis: 0 },
    { name: 'middle axis of a rank-3 tensor', table: [3, 6, 2], indices: { shape: [3], values: [5, 0, 5] }, axis: 1 },
    { name: 'last axis given as -1', table: [2, 3, 4], indices: { shape: [3], values: [3, 0, 3] }, axis: -1 },
  ];

  describe('gather gradient on wasm (UnsortedSegmentSum)', () => {
    for (const c of GATHER_CASES) {
      it(`gather: ${c.name}`, async () => {
        const params = [param(c.table, 41)];
        const loss = (t: tf.Tensor) =>
          weightedSquare(tf.gather(t, tf.tensor(c.indices.values, c.indices.shape, 'int32'), c.axis), 42);
        const grads = await assertWasmMatchesCpu(params, loss, c.name);
        await assertFiniteDifferences(params, loss, grads, 0, c.name, 12);
      });
    }

    it('unsortedSegmentSum adds duplicates and drops ids outside [0, numSegments) like cpu', async () => {
      const x = param([6, 2, 3], 43);
      const ids = [0, 3, 3, -1, 7, 1];
      const run = (backend: Backend) => onBackend(backend, () =>
        [tf.unsortedSegmentSum(tf.tensor(x.values, x.shape), tf.tensor1d(ids, 'int32'), 4)]);
      const [wasm] = await run('wasm');
      const [cpu] = await run('cpu');
      assertClose(wasm, cpu, 1e-6, 'unsortedSegmentSum');
      // Segment 2 receives nothing; segment 3 is the sum of rows 1 and 2.
      assert.deepEqual(Array.from(wasm.slice(12, 18)), [0, 0, 0, 0, 0, 0]);
      assertClose(wasm.slice(18, 24), x.values.slice(6, 12).map((v, i) => v + x.values[12 + i]), 1e-6, 'segment 3');
    });
  });

  interface PoolCase {
    name: string;
    x: Shape4;
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid';
    shift: number; // added to the N(0, 1) input: −3 makes most windows all-negative
  }

  const MAX_POOL_CASES: PoolCase[] = [
    { name: '3×3 stride 2 same, bottom/right padding', x: [2, 9, 7, 3], filterSize: 3, strides: 2, pad: 'same', shift: 0 },
    { name: '2×2 stride 2 same on odd sizes, mostly negative values', x: [3, 5, 7, 2], filterSize: 2, strides: 2, pad: 'same', shift: -3 },
    { name: '3×2 strides 1×2 valid, all negative', x: [1, 6, 9, 4], filterSize: [3, 2], strides: [1, 2], pad: 'valid', shift: -10 },
  ];

  describe('maxPool gradient on wasm (MaxPoolGrad replaced)', () => {
    for (const c of MAX_POOL_CASES) {
      it(`maxPool: ${c.name}`, async () => {
        const x = param(c.x, 51);
        x.values = x.values.map((v) => v + c.shift);
        const params = [x];
        const loss = (t: tf.Tensor) => weightedSquare(tf.maxPool(t as tf.Tensor4D, c.filterSize, c.strides, c.pad), 52);
        const grads = await assertWasmMatchesCpu(params, loss, c.name);
        await assertFiniteDifferences(params, loss, grads, 0, c.name, 20);
      });
    }

    it('every pooling window passes its whole gradient on, even when all its values are negative', async () => {
      await tf.setBackend('wasm');
      const [total, windows] = tf.tidy(() => {
        const x = tf.sub(randTensor([2, 7, 5, 3], 53), 10);                  // [2, 7, 5, 3], all < 0
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.maxPool(t as tf.Tensor4D, 2, 2, 'same')))(x);
        return [tf.sum(g).dataSync()[0], tf.maxPool(x as tf.Tensor4D, 2, 2, 'same').size];
      });
      assert.equal(total, windows);
    });
  });

  describe('other training gradients on wasm match cpu', () => {
    const labels = [0, 2, 1, 2, 0];
    const OTHER: { name: string; shapes: number[][]; loss: (...p: tf.Tensor[]) => tf.Scalar }[] = [
      { name: 'avgPool 3×3 stride 2 valid', shapes: [[2, 9, 7, 3]], loss: (x) => weightedSquare(tf.avgPool(x as tf.Tensor4D, 3, 2, 'valid'), 52) },
      { name: 'matMul with both operands transposed', shapes: [[6, 5], [3, 6]], loss: (a, b) => weightedSquare(tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, true, true), 53) },
      {
        name: 'softmax cross-entropy', shapes: [[5, 3]],
        loss: (l) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 3), l) as tf.Scalar,
      },
      { name: 'conv1d stride 2', shapes: [[2, 11, 3], [3, 3, 4]], loss: (x, w) => weightedSquare(tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 2, 'same'), 54) },
    ];
    for (const c of OTHER) {
      it(c.name, async () => {
        await assertWasmMatchesCpu(c.shapes.map((shape, i) => param(shape, 60 + i)), c.loss, c.name);
      });
    }
  });

  describe('tf.layers models fit on wasm', () => {
    /** Two epochs, fixed seeds, no shuffle: the loss must be finite and go down. */
    async function fitTwoEpochs(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor, loss: string): Promise<number[]> {
      model.compile({ optimizer: tf.train.adam(0.01), loss });
      const history = await model.fit(xs, ys, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
      return history.history.loss as number[];
    }

    it('conv2d → maxPool → conv2dTranspose → conv2d 1×1 (a tiny segmentation net)', async () => {
      await tf.setBackend('wasm');
      const init = (seed: number) => tf.initializers.glorotUniform({ seed });
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [12, 10, 2], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
          tf.layers.conv2d({ filters: 1, kernelSize: 1, kernelInitializer: init(3) }),
        ],
      });
      const xs = randTensor([8, 12, 10, 2], 71);
      const ys = tf.tidy(() => tf.sum(xs, 3, true).greater(0).toFloat()); // [8, 12, 10, 1]: a per-pixel target
      const losses = await fitTwoEpochs(model, xs, ys, 'meanSquaredError');
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
      assert.ok(losses[1] < losses[0], `loss did not decrease: ${losses}`);
      // The optimizer's slots exist now: a further epoch must not add tensors.
      const tensorsAfterFit = tf.memory().numTensors;
      await model.fit(xs, ys, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0 });
      assert.equal(tf.memory().numTensors, tensorsAfterFit, 'an epoch of fit left tensors behind');
      tf.dispose([xs, ys]);
      model.dispose();
    });

    it('embedding → GRU → dense', async () => {
      await tf.setBackend('wasm');
      const model = tf.sequential({
        layers: [
          tf.layers.embedding({ inputDim: 11, outputDim: 5, inputLength: 6, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 4 }) }),
          tf.layers.gru({ units: 7, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }), recurrentInitializer: tf.initializers.orthogonal({ seed: 6 }) }),
          tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }),
        ],
      });
      const rng = mulberry32(72);
      const tokens = Array.from({ length: 8 * 6 }, () => Math.floor(rng() * 11));
      const xs = tf.tensor2d(tokens, [8, 6]);
      const classes = Array.from({ length: 8 }, (_, i) => tokens[i * 6] % 3); // the class is in the first token
      const ys = tf.oneHot(tf.tensor1d(classes, 'int32'), 3);
      const losses = await fitTwoEpochs(model, xs, ys, 'categoricalCrossentropy');
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
      assert.ok(losses[1] < losses[0], `loss did not decrease: ${losses}`);
      tf.dispose([xs, ys]);
      model.dispose();
    });
  });

  describe('no leaks', () => {
    it('5 gradient computations through every added kernel leave tensors and wasm data ids unchanged', async () => {
      await tf.setBackend('wasm');
      const x = randTensor([2, 9, 8, 4], 81), w = randTensor([3, 3, 4, 40], 82), wt = randTensor([3, 3, 8, 40], 83);
      const dw = randTensor([3, 3, 8, 2], 84), table = randTensor([10, 3], 85), ids = tf.tensor1d([1, 1, 9, 0], 'int32');
      const step = () => tf.tidy(() => tf.grads((x0: tf.Tensor, w0: tf.Tensor, wt0: tf.Tensor, dw0: tf.Tensor, table0: tf.Tensor) => {
        const y = tf.conv2d(x0 as tf.Tensor4D, w0 as tf.Tensor4D, 2, 'same');                      // [2, 5, 4, 40]
        const back = tf.conv2dTranspose(y, wt0 as tf.Tensor4D, [2, 9, 8, 8], 2, 'same');            // [2, 9, 8, 8]: sub-pixel path
        const d = tf.depthwiseConv2d(back, dw0 as tf.Tensor4D, 1, 'same');                         // [2, 9, 8, 16]
        const pooled = tf.maxPool(d, 2, 2, 'same');                                                 // [2, 5, 4, 16]
        return tf.add(tf.sum(tf.square(pooled)), tf.sum(tf.square(tf.gather(table0, ids))));
      })([x, w, wt, dw, table]));
      tf.dispose(step()); // first call creates XNNPACK operators and caches: not a leak
      const backend = tf.engine().backend;
      const tensorsBefore = tf.memory().numTensors;
      const idsBefore = backend.numDataIds();
      // IS_TEST makes the engine also check every kernel call for data ids it leaves behind.
      tf.env().set('IS_TEST', true);
      try {
        for (let i = 0; i < 5; i++) tf.dispose(step());
      } finally {
        tf.env().set('IS_TEST', false);
      }
      assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked');
      assert.equal(backend.numDataIds(), idsBefore, 'wasm data ids leaked');
      tf.dispose([x, w, wt, dw, table, ids]);
    });
  });
});
