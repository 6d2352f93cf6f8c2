/**
 * lib/backend/wasm-training: the kernels it adds to the wasm backend give the same gradients as
 * the cpu backend (float32 rounding apart) and as central finite differences, on odd shapes;
 * tf.layers models train on wasm; nothing leaks; the sub-pixel transposed conv is faster.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installWasmTrainingKernels, internals } from '../lib/backend/wasm-training';
import { simdKernels, simdRunner, useSimdKernels } from '../lib/backend/simd';
import { assemble, render } from '../tools/build-wasm';
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

/** `op` gives the same values on wasm as on cpu for float32, int32 (x·100 rounded) and bool (int > 0) versions of x. */
async function assertDtypesMatchCpu(x: { shape: number[]; values: Float32Array }, op: (t: tf.Tensor) => tf.Tensor, label: string): Promise<void> {
  const ints = Int32Array.from(x.values, (v) => Math.round(v * 100));
  const run = (backend: Backend) => onBackend(backend, () => [
    op(tf.tensor(x.values, x.shape)),
    op(tf.tensor(ints, x.shape, 'int32')),
    op(tf.tensor(ints, x.shape, 'int32').greater(0)),
  ]);
  const wasm = await run('wasm');
  const cpu = await run('cpu');
  wasm.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(cpu[i]), `${label}: output ${i}`));
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
      const fast = { Slice: internals.slice, Unpack: internals.unpack, SplitV: internals.splitV, Identity: internals.identity,
        GatherV2: internals.gatherV2, Sum: internals.sum, Tanh: internals.tanh, Tile: internals.tile } as Record<string, unknown>;
      for (const [name, impl] of Object.entries(fast)) {
        assert.equal(tf.getKernel(name, 'wasm').kernelFunc as unknown, impl, `${name} is not the replacement`);
        assert.ok(internals.stockKernel(name) !== undefined, `${name}: the stock kernel was not kept`);
      }
      for (const name of ['BatchMatMul', '_FusedMatMul']) {
        assert.notEqual(tf.getKernel(name, 'wasm').kernelFunc, internals.stockKernel(name)?.kernelFunc, `${name} is not replaced`);
      }
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
    // Channels in fours: the SIMD kernels (convFilterGrad for dW, convBackpropInput for dx).
    { name: 'batch 2, 4 → 8 channels, stride 2 same on odd sizes (SIMD)', x: [2, 9, 7, 4], filter: [3, 3, 4, 8], strides: 2, pad: 'same' },
    { name: 'batch 1, 20 → 20 channels (16 + 4), 5×5 valid, non-square (SIMD)', x: [1, 9, 8, 20], filter: [5, 5, 20, 20], strides: 1, pad: 'valid' },
    { name: 'batch 3, 8 → 4 channels, strides 3×2, explicit padding (SIMD)', x: [3, 10, 7, 8], filter: [4, 3, 8, 4], strides: [3, 2], pad: [[0, 0], [2, 1], [1, 3], [0, 0]] },
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

      it(`sub-pixel (and SIMD) Conv2DBackpropInput kernels match cpu: ${c.name}`, async () => {
        // Called directly: through the registry, small cases go to the stock kernel instead.
        const dy = param(convOutShape(c), 7), filter = param(c.filter, 8);
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', inputShape: c.x };
        const [cpu] = await onBackend('cpu', () =>
          [tf.engine().runKernel('Conv2DBackpropInput', { dy: tf.tensor(dy.values, dy.shape), filter: tf.tensor(filter.values, filter.shape) }, attrs) as tf.Tensor]);
        const [wasm] = await onBackend('wasm', () =>
          [runInternal(internals.conv2DBackpropInputXnn, { dy: tf.tensor(dy.values, dy.shape), filter: tf.tensor(filter.values, filter.shape) }, attrs)]);
        assertClose(wasm, cpu, 1e-4, c.name);
        if (c.x[3] % 4 === 0) {
          const [simd] = await onBackend('wasm', () => {
            const backend = tf.engine().backend as never, kernels = simdRunner(backend);
            assert.ok(kernels !== undefined, 'the SIMD kernels did not instantiate');
            const out = internals.conv2DBackpropInputSimd(backend, kernels, tf.tensor(dy.values, dy.shape), tf.tensor(filter.values, filter.shape), attrs as never);
            return [tf.engine().makeTensorFromTensorInfo(out)];
          });
          assertClose(simd, cpu, 1e-4, `${c.name}: SIMD kernel`);
        }
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
    { name: '2×2 stride 2 valid on odd sizes (tiled, unrolled 2×2)', x: [3, 7, 9, 2], filterSize: 2, strides: 2, pad: 'valid', shift: -3 },
    { name: '2×2 stride 2 same on even sizes, batch 1 (tiled)', x: [1, 6, 8, 3], filterSize: 2, strides: 2, pad: 'same', shift: 0 },
    { name: '3×2 window = strides, valid, non-square, all negative (tiled, general)', x: [2, 10, 7, 2], filterSize: [3, 2], strides: [3, 2], pad: 'valid', shift: -10 },
    { name: '2×2 stride 2 valid on odd sizes, 8 channels (SIMD kernel)', x: [3, 7, 9, 8], filterSize: 2, strides: 2, pad: 'valid', shift: -1 },
    { name: '2×2 stride 2 same on even sizes, 4 channels, all negative (SIMD kernel)', x: [1, 6, 8, 4], filterSize: 2, strides: 2, pad: 'same', shift: -10 },
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

    for (const channels of [3, 8]) it(`ties go to the first maximum in row-major window order, like cpu (${channels === 8 ? 'SIMD and general' : 'tiled and general'} paths)`, async () => {
      const x = param([2, 7, 9, channels], 54);
      const ints = x.values.map((v) => Math.round(v));                      // many equal values per window
      for (const [size, stride, pad] of [[2, 2, 'valid'], [3, 3, 'valid'], [3, 2, 'same'], [2, 1, 'same']] as const) {
        const run = (backend: Backend) => onBackend(backend, () =>
          [tf.grad((t: tf.Tensor) => weightedSquare(tf.maxPool(t as tf.Tensor4D, size, stride, pad), 55))(tf.tensor(ints, x.shape))]);
        const [wasm] = await run('wasm');
        const [cpu] = await run('cpu');
        assertClose(wasm, cpu, 1e-6, `maxPool ${size}/${stride} ${pad} with ties`);
      }
    });

    it('the SIMD 2×2 kernel (channels a multiple of 4) loads and agrees with the JavaScript path, NaN and ±∞ included', async () => {
      await tf.setBackend('wasm');
      assert.ok(simdKernels(tf.backend() as never) !== undefined, 'the SIMD kernels did not instantiate on the wasm backend');
      const shape = [2, 7, 9, 8];
      const values = param(shape, 56).values.map((v, i) =>
        i % 37 === 0 ? NaN : i % 41 === 0 ? -Infinity : i % 43 === 0 ? Infinity : Math.round(v * 2) / 2); // ties too
      // A window of NaN and −∞ only: no maximum, no gradient (both paths).
      for (const [yy, xx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) values[((0 * 7 + yy) * 9 + xx) * 8 + 5] = yy === 0 ? NaN : -Infinity;
      const run = (simd: boolean) => {
        useSimdKernels(simd);
        try {
          return tf.tidy(() => {
            const x = tf.tensor(values, shape), dy = randTensor([2, 3, 4, 8], 57);
            const y = tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');
            return tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor;
          });
        } finally {
          useSimdKernels(true);
        }
      };
      const viaSimd = run(true), viaJs = run(false);
      const a = viaSimd.dataSync(), b = viaJs.dataSync();
      assert.deepEqual(Array.from(a).map(Object.is.bind(null, 0)), Array.from(b).map(Object.is.bind(null, 0)), 'the same elements are exactly +0');
      assert.deepEqual(Array.from(a), Array.from(b));
      assert.equal(a[5], 0);                                                  // the window with no maximum
      assert.ok(a.filter((v) => v !== 0).length > 100, 'vacuous');
      tf.dispose([viaSimd, viaJs]);
    });

    it('the shipped SIMD binaries are the assembly of lib/backend/simd-kernels.wat (tools/build-wasm.ts)', async () => {
      const shipped = fs.readFileSync(path.join(__dirname, '..', 'lib', 'backend', 'simd-kernels.wasm.ts'), 'utf8');
      assert.equal(shipped, render(await assemble()), 'out of date: run npx tsx tools/build-wasm.ts');
    });

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

  describe('Conv2DBackpropFilter kernel, both paths, called directly', () => {
    // Through the registry the path is chosen by the filter's taps (fh·fw·ci ≤ 64: im2col, else
    // the dilated-conv form); here every case also runs the im2col path directly, so im2col is
    // checked on large filters too and the dilated form on the cases with more than 64 taps.
    const FILTER_CASES: ConvCase[] = [
      ...CONV_CASES,
      { name: 'batch 1, 1 channel, stride 2, odd sizes, valid (im2col strided copy)', x: [1, 9, 7, 1], filter: [5, 5, 1, 3], strides: 2, pad: 'valid' },
      { name: 'batch 1, 9 channels, stride 2 same, odd sizes (dilated path)', x: [1, 9, 7, 9], filter: [3, 3, 9, 5], strides: 2, pad: 'same' },
      { name: 'batch 3, 8 channels, valid, strides 1×2 (dilated path)', x: [3, 8, 11, 8], filter: [3, 4, 8, 3], strides: [1, 2], pad: 'valid' },
      { name: 'batch 2, explicit padding, 8 channels, stride 2 (dilated path)', x: [2, 7, 6, 8], filter: [3, 3, 8, 2], strides: 2, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] },
      // Output channels in fours: the SIMD kernel (convFilterGrad) through the registry.
      { name: 'batch 2, 1 channel, 20 outputs (16 + 4 channels), same, non-square (SIMD kernel)', x: [2, 9, 7, 1], filter: [5, 5, 1, 20], strides: 1, pad: 'same' },
      { name: 'batch 1, 1 channel, 4 outputs, stride 2 on odd sizes, valid (SIMD kernel)', x: [1, 9, 11, 1], filter: [3, 4, 1, 4], strides: 2, pad: 'valid' },
      { name: 'batch 3, 1 channel, 32 outputs, strides 2×3, explicit padding wider than the filter (SIMD kernel)', x: [3, 6, 8, 1], filter: [2, 3, 1, 32], strides: [2, 3], pad: [[0, 0], [3, 1], [4, 2], [0, 0]] },
      { name: 'batch 2, 3 channels, 8 outputs, stride 2 same on odd sizes (SIMD kernel)', x: [2, 9, 7, 3], filter: [3, 3, 3, 8], strides: 2, pad: 'same' },
      { name: 'batch 1, 5 channels, 20 outputs, strides 1×2, explicit padding (SIMD kernel)', x: [1, 7, 10, 5], filter: [4, 3, 5, 20], strides: [1, 2], pad: [[0, 0], [2, 0], [1, 3], [0, 0]] },
      // More images than FILTER_GRAD_BATCH_CHUNK (16): the registered kernel sums 16 + 1.
      { name: 'batch 17, 1 channel, same (im2col, two chunks)', x: [17, 5, 4, 1], filter: [3, 3, 1, 2], strides: 1, pad: 'same' },
      { name: 'batch 17, 8 channels, valid (dilated path, two chunks)', x: [17, 5, 4, 8], filter: [3, 3, 8, 2], strides: 1, pad: 'valid' },
    ];
    for (const c of FILTER_CASES) {
      it(`dW: ${c.name} (${c.filter[0] * c.filter[1] * c.filter[2]} taps)`, async () => {
        const x = param(c.x, 91), dy = param(convOutShape(c), 92);
        const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: c.filter };
        const inputs = () => ({ x: tf.tensor(x.values, x.shape), dy: tf.tensor(dy.values, dy.shape) });
        const [cpu] = await onBackend('cpu', () => [tf.engine().runKernel('Conv2DBackpropFilter', inputs(), attrs) as tf.Tensor]);
        const [registered, im2col, ...chunked] = await onBackend('wasm', () => {
          const i = inputs();
          const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, undefined, false, 'channelsLast');
          const backend = tf.engine().backend as never, wrap = (t: tf.TensorInfo) => tf.engine().makeTensorFromTensorInfo(t);
          return [
            tf.engine().runKernel('Conv2DBackpropFilter', i, attrs) as tf.Tensor,
            wrap(internals.conv2DBackpropFilterIm2col(backend, i.x, i.dy, info)),
            // Both paths summing over the batch in chunks of 2 images (3 = 2 + 1: a short last chunk).
            wrap(internals.conv2DBackpropFilterIm2col(backend, i.x, i.dy, info, 2)),
            wrap(internals.conv2DBackpropFilterDilated(backend, i.x, i.dy, info, 2)),
            wrap(internals.conv2DBackpropFilterDilated(backend, i.x, i.dy, info, 1)),
          ];
        });
        assertClose(registered, cpu, 1e-4, `${c.name}: registered kernel`);
        assertClose(im2col, cpu, 1e-4, `${c.name}: im2col`);
        const names = ['im2col, chunks of 2', 'dilated, chunks of 2', 'dilated, one image per call'];
        chunked.forEach((t, k) => assertClose(t, cpu, 1e-4, `${c.name}: ${names[k]}`));
        if (c.filter[3] % 4 === 0) {
          const [simd] = await onBackend('wasm', () => {
            const i = inputs(), backend = tf.engine().backend as never;
            const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.strides, 1, c.pad, undefined, false, 'channelsLast');
            const kernels = simdRunner(backend);
            assert.ok(kernels !== undefined, 'the SIMD kernels did not instantiate');
            return [tf.engine().makeTensorFromTensorInfo(internals.conv2DBackpropFilterSimd(backend, kernels, i.x, i.dy, info))];
          });
          assertClose(simd, cpu, 1e-4, `${c.name}: SIMD kernel called directly`);
        }
        assert.ok(maxAbs(cpu) > 1e-3, 'vacuous');
      });
    }

    it('the dilated-path cases give the right gradients through tf.grads too (cpu and finite differences)', async () => {
      const c = FILTER_CASES[FILTER_CASES.length - 5];
      const params = [param(c.x, 93), param(c.filter, 94)];
      const loss = (x: tf.Tensor, w: tf.Tensor) => weightedSquare(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.strides, c.pad), 95);
      const grads = await assertWasmMatchesCpu(params, loss, c.name);
      await assertFiniteDifferences(params, loss, grads, 1, `${c.name} (filter)`);
    });
  });

  interface MatMulCase {
    name: string; a: number[]; b: number[]; transposeA: boolean; transposeB: boolean;
    bias?: number[]; activation?: 'relu' | 'elu' | 'prelu' | 'leakyrelu' | 'sigmoid'; prelu?: number[];
    /** The operand tfjs broadcasts over the other's batch: its gradient is not reduced by tfjs itself (on any backend), so it is held constant. */
    shared?: 'a' | 'b';
    /** tfjs has no gradient for this fused activation: forward values only. */
    forwardOnly?: boolean;
  }

  const MATMUL_CASES: MatMulCase[] = [
    { name: 'plain, non-square', a: [5, 7], b: [7, 3], transposeA: false, transposeB: false },
    { name: 'batch 1 row, transposed b', a: [1, 6], b: [4, 6], transposeA: false, transposeB: true },
    { name: 'transposed a', a: [6, 5], b: [6, 3], transposeA: true, transposeB: false },
    { name: 'both transposed', a: [7, 2], b: [5, 7], transposeA: true, transposeB: true },
    { name: 'batched a, shared b (batch folded into rows)', a: [3, 4, 5], b: [5, 2], transposeA: false, transposeB: false, shared: 'b' },
    { name: 'batched a transposed, shared b transposed', a: [2, 5, 3], b: [4, 5], transposeA: true, transposeB: true, shared: 'b' },
    { name: 'shared a, batched b (side by side)', a: [3, 5], b: [4, 5, 2], transposeA: false, transposeB: false, shared: 'a' },
    { name: 'shared a transposed, batched b transposed', a: [5, 3], b: [2, 4, 5], transposeA: true, transposeB: true, shared: 'a' },
    { name: 'batched on both sides (stock loop)', a: [2, 3, 4], b: [2, 4, 5], transposeA: false, transposeB: false },
    { name: 'batched on both sides, transposed b', a: [3, 1, 4], b: [3, 5, 4], transposeA: false, transposeB: true },
    { name: 'rank 4, batched a, shared b', a: [2, 3, 2, 4], b: [4, 3], transposeA: false, transposeB: false, shared: 'b' },
    { name: 'fused, bias + relu, transposed b', a: [5, 4], b: [3, 4], transposeA: false, transposeB: true, bias: [3], activation: 'relu' },
    { name: 'fused, bias, plain (stock XNNPACK path)', a: [5, 4], b: [4, 3], transposeA: false, transposeB: false, bias: [3] },
    { name: 'fused, bias, transposed a, batched a', a: [2, 4, 3], b: [4, 6], transposeA: true, transposeB: false, bias: [6], shared: 'b' },
    { name: 'fused, one-value bias + relu, both transposed', a: [4, 5], b: [3, 4], transposeA: true, transposeB: true, bias: [1], activation: 'relu' },
    { name: 'fused, one-value bias, plain', a: [3, 4], b: [4, 5], transposeA: false, transposeB: false, bias: [1] },
    { name: 'fused, [m, n] bias, transposed b', a: [3, 4], b: [5, 4], transposeA: false, transposeB: true, bias: [3, 5] },
    { name: 'fused, bias, shared a, batched b', a: [3, 5], b: [2, 5, 4], transposeA: false, transposeB: false, bias: [4], shared: 'a' },
    { name: 'fused, bias, batched on both sides', a: [2, 3, 5], b: [2, 5, 4], transposeA: false, transposeB: false, bias: [4] },
    { name: 'fused, elu, transposed a', a: [4, 3], b: [4, 5], transposeA: true, transposeB: false, bias: [5], activation: 'elu', forwardOnly: true },
    { name: 'fused, per-column prelu, transposed b', a: [3, 4], b: [5, 4], transposeA: false, transposeB: true, bias: [5], activation: 'prelu', prelu: [5], forwardOnly: true },
    { name: 'fused, leakyrelu, side by side', a: [3, 5], b: [2, 5, 4], transposeA: false, transposeB: false, activation: 'leakyrelu', forwardOnly: true },
    { name: 'fused, sigmoid, batched a', a: [2, 3, 5], b: [5, 4], transposeA: false, transposeB: false, bias: [4], activation: 'sigmoid', forwardOnly: true },
  ];

  describe('matMul replacements (BatchMatMul, _FusedMatMul) match cpu and finite differences', () => {
    for (const c of MATMUL_CASES) {
      it(`matMul: ${c.name}`, async () => {
        const a = param(c.a, 101), b = param(c.b, 102);
        const bias = c.bias ? param(c.bias, 103) : undefined, prelu = c.prelu ? param(c.prelu, 105) : undefined;
        const product = (at: tf.Tensor, bt: tf.Tensor, biasT?: tf.Tensor): tf.Tensor => c.bias === undefined && c.activation === undefined
          ? tf.matMul(at, bt, c.transposeA, c.transposeB)
          : tf.fused.matMul({
            a: at, b: bt, transposeA: c.transposeA, transposeB: c.transposeB, bias: biasT, activation: c.activation,
            preluActivationWeights: prelu && tf.tensor(prelu.values, prelu.shape), leakyreluAlpha: 0.3,
          });
        const t = (p: { shape: number[]; values: Float32Array }) => tf.tensor(p.values, p.shape);
        // Forward values first: the product itself, on both backends.
        const forward = (backend: Backend) => onBackend(backend, () => [product(t(a), t(b), bias && t(bias))]);
        const [fw] = await forward('wasm');
        const [fc] = await forward('cpu');
        assertClose(fw, fc, 1e-5, `${c.name}: forward`);
        assert.ok(maxAbs(fc) > 0.1, 'vacuous');
        if (c.forwardOnly) return;
        // Gradients w.r.t. every operand but the shared one, which is a constant of the loss.
        const params = [...(c.shared === 'a' ? [] : [a]), ...(c.shared === 'b' ? [] : [b]), ...(bias ? [bias] : [])];
        const loss = (...p: tf.Tensor[]) => {
          const q = [...p];
          const at = c.shared === 'a' ? t(a) : q.shift()!, bt = c.shared === 'b' ? t(b) : q.shift()!;
          return weightedSquare(product(at, bt, q.shift()), 104);
        };
        const grads = await assertWasmMatchesCpu(params, loss, c.name);
        const eps = c.activation === undefined ? 1e-2 : 1e-3;   // kinks of relu: small steps
        for (let i = 0; i < params.length; i++) await assertFiniteDifferences(params, loss, grads, i, `${c.name} (input ${i})`, 10, eps);
      });
    }

    it('aᵀ·b goes to the SIMD kernels (matMulTN, matMulTNRows) and matches cpu', async () => {
      // matMulTN (n narrow, m in fours): k not a multiple of its 256-row chunks; n below 4, 4, and
      // 4 + a remainder. matMulTNRows (n in fours): k past and within its 64-row chunks, n = 16 + 4,
      // 12 and 8 with m not in fours, k = 1.
      for (const [k, m, n] of [[4099, 4, 3], [4100, 20, 4], [5000, 8, 11], [4096, 12, 1],
        [70, 5, 16], [130, 64, 20], [1, 3, 8], [200, 7, 12]]) {
        const a = param([k, m], 106), b = param([k, n], 107);
        const run = (backend: Backend) => onBackend(backend, () => [tf.matMul(tf.tensor(a.values, a.shape), tf.tensor(b.values, b.shape), true, false)]);
        const [wasm] = await run('wasm');
        const [cpu] = await run('cpu');
        assertClose(wasm, cpu, 1e-5, `[${k}, ${m}]ᵀ·[${k}, ${n}]`);
        assert.ok(maxAbs(cpu) > 1, 'vacuous');
        // The kernel itself, called directly (the registry could route elsewhere).
        const [direct] = await onBackend('wasm', () => {
          const backend = tf.engine().backend as never, kernels = simdRunner(backend);
          assert.ok(kernels !== undefined, 'the SIMD kernels did not instantiate');
          const out = internals.matMulTNSimd(backend, kernels, tf.tensor(a.values, a.shape), tf.tensor(b.values, b.shape), [m, k, n]);
          return [tf.engine().makeTensorFromTensorInfo(out)];
        });
        assertClose(direct, cpu, 1e-5, `[${k}, ${m}]ᵀ·[${k}, ${n}] (kernel)`);
      }
    });

    it('a dense layer over many pixels: the weight gradient (aᵀ·dy, the SIMD kernel) matches cpu and finite differences', async () => {
      const params = [param([4200, 8], 108), param([8, 3], 109)];
      const loss = (x: tf.Tensor, w: tf.Tensor) => weightedSquare(tf.matMul(x, w), 110);
      const grads = await assertWasmMatchesCpu(params, loss, 'dense over 4,200 rows');
      await assertFiniteDifferences(params, loss, grads, 1, 'dense over 4,200 rows (weights)', 10, 1e-2);
    });

    it('a reshaped right operand is not multiplied with the operator cached for its first shape', async () => {
      const run = (backend: Backend) => onBackend(backend, () => {
        const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
        const first = tf.matMul(tf.ones([1, 4]), x);                           // x as [4, 2]
        const second = tf.matMul(tf.ones([1, 2]), tf.reshape(x, [2, 4]));       // same data id, [2, 4]
        const third = tf.matMul(tf.ones([3, 8]), tf.reshape(x, [8, 1]));        // and [8, 1]
        const again = tf.matMul(tf.ones([2, 4]), x);                            // the first shape again
        return [first, second, third, again];
      });
      const wasm = await run('wasm');
      const cpu = await run('cpu');
      assert.deepEqual(Array.from(wasm[1]), [6, 8, 10, 12]);
      wasm.forEach((v, i) => assertClose(v, cpu[i], 0, `product ${i}`));
    });
  });

  describe('Slice, Unpack, SplitV replacements (views of wasm memory) match cpu', () => {
    const SLICES: { name: string; shape: number[]; begin: number[]; size: number[] }[] = [
      { name: 'rank 1, offset', shape: [37], begin: [5], size: [20] },
      { name: 'rank 2, a column block (short rows)', shape: [7, 9], begin: [2, 3], size: [4, 5] },
      { name: 'rank 3, whole trailing rows (contiguous runs ≥ 16)', shape: [5, 6, 7], begin: [1, 2, 0], size: [3, 3, 7] },
      { name: 'rank 4, odd box, -1 size', shape: [3, 7, 5, 4], begin: [1, 2, 1, 1], size: [2, -1, 3, 2] },
      { name: 'rank 5, batch 1', shape: [1, 3, 4, 5, 6], begin: [0, 1, 0, 2, 0], size: [1, 2, 4, 3, 6] },
      { name: 'empty', shape: [4, 3], begin: [1, 0], size: [0, 3] },
    ];
    for (const c of SLICES) {
      it(`slice: ${c.name}`, async () => {
        const x = param(c.shape, 111);
        await assertDtypesMatchCpu(x, (t) => tf.slice(t, c.begin, c.size), c.name);
        if (c.name !== 'empty') {
          const params = [x];
          const loss = (t: tf.Tensor) => weightedSquare(tf.slice(t, c.begin, c.size), 112);
          const grads = await assertWasmMatchesCpu(params, loss, c.name);
          await assertFiniteDifferences(params, loss, grads, 0, c.name);
        }
      });
    }

    for (const axis of [0, 1, 2, -1]) {
      it(`unstack along axis ${axis}, and its gradient`, async () => {
        const x = param([3, 5, 2], 113);
        const run = (backend: Backend) => onBackend(backend, () => tf.unstack(tf.tensor(x.values, x.shape), axis));
        const wasm = await run('wasm');
        const cpu = await run('cpu');
        assert.equal(wasm.length, cpu.length);
        wasm.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(cpu[i]), `part ${i}`));
        // Weight each part differently, so that a part in the wrong place changes the gradient.
        const loss = (t: tf.Tensor) => tf.addN(tf.unstack(t, axis).map((p, i) => tf.mul(i + 1, weightedSquare(p, 114 + i)))) as tf.Scalar;
        const grads = await assertWasmMatchesCpu([x], loss, `unstack ${axis}`);
        await assertFiniteDifferences([x], loss, grads, 0, `unstack ${axis}`);
      });
    }

    const SPLITS: { sizes: number | number[]; axis: number; shape: number[] }[] = [
      { sizes: [2, 5, 1], axis: 1, shape: [3, 8, 3] },
      { sizes: 3, axis: 0, shape: [9, 2, 2] },
      { sizes: [4, -1], axis: -1, shape: [2, 3, 11] },
      { sizes: [1, 0, 2], axis: 2, shape: [1, 2, 3] },
    ];
    for (const c of SPLITS) {
      it(`split ${JSON.stringify(c.sizes)} along ${c.axis} of [${c.shape}], and its gradient`, async () => {
        const x = param(c.shape, 115);
        const run = (backend: Backend) => onBackend(backend, () => tf.split(tf.tensor(x.values, x.shape), c.sizes, c.axis));
        const wasm = await run('wasm');
        const cpu = await run('cpu');
        assert.equal(wasm.length, cpu.length);
        wasm.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(cpu[i]), `part ${i}`));
        const loss = (t: tf.Tensor) => tf.addN(tf.split(t, c.sizes, c.axis).map((p, i) => tf.mul(i + 1, weightedSquare(p, 116 + i)))) as tf.Scalar;
        const grads = await assertWasmMatchesCpu([x], loss, `split ${JSON.stringify(c.sizes)}`);
        await assertFiniteDifferences([x], loss, grads, 0, `split ${JSON.stringify(c.sizes)}`);
      });
    }
  });

  describe('Identity, GatherV2, Sum, Tanh, Tile replacements match cpu', () => {
    it('Identity shares the data yet outlives its input; float32, int32 and bool', async () => {
      await tf.setBackend('wasm');
      const idsBefore = tf.engine().backend.numDataIds();
      for (const [values, dtype] of [[[1.5, -2, 3], 'float32'], [[7, -1, 0], 'int32'], [[1, 0, 1], 'bool']] as const) {
        const x = tf.tensor(values as unknown as number[], [3], dtype);
        const y = tf.engine().runKernel('Identity', { x }) as tf.Tensor;
        assert.equal(y.dtype, dtype);
        x.dispose();
        assert.deepEqual(Array.from(y.dataSync()), Array.from(values as unknown as number[]), `${dtype}: values after the input was disposed`);
        y.dispose();
      }
      assert.equal(tf.engine().backend.numDataIds(), idsBefore, 'Identity leaked data');
    });

    const GATHERS: { name: string; x: number[]; dtype: 'float32' | 'int32'; indices: { shape: number[]; values: number[] }; axis: number; batchDims?: number }[] = [
      { name: 'rows of width 1 (the sampler\'s corners)', x: [9], dtype: 'float32', indices: { shape: [2, 5], values: [8, 0, 3, 3, 1, 7, 2, 2, 0, 8] }, axis: 0 },
      { name: 'rows of width 7, int32 table', x: [5, 7], dtype: 'int32', indices: { shape: [6], values: [4, 4, 0, 2, 1, 3] }, axis: 0 },
      { name: 'rank-3 rows, 2-D indices, batch-1 table', x: [1, 3, 2], dtype: 'float32', indices: { shape: [1, 3], values: [0, 0, 0] }, axis: 0 },
      { name: 'axis 1, rows of width 2', x: [3, 6, 2], dtype: 'float32', indices: { shape: [4], values: [5, 0, 5, 2] }, axis: 1 },
      { name: 'last axis, 2-D indices (rows of width 1)', x: [2, 3, 5], dtype: 'float32', indices: { shape: [2, 2], values: [4, 0, 0, 3] }, axis: 2 },
      { name: 'batchDims 1 (the stock kernel got this wrong)', x: [2, 5, 3], dtype: 'float32', indices: { shape: [2, 3], values: [4, 0, 1, 2, 2, 3] }, axis: 1, batchDims: 1 },
      { name: 'batchDims 1, last axis (rows of width 1)', x: [2, 3, 5], dtype: 'float32', indices: { shape: [2, 4], values: [4, 0, 0, 3, 1, 2, 4, 4] }, axis: 2, batchDims: 1 },
      { name: 'batchDims 1, axis 2, int32', x: [3, 2, 4, 2], dtype: 'int32', indices: { shape: [3, 2], values: [3, 0, 1, 1, 2, 3] }, axis: 2, batchDims: 1 },
      { name: 'no indices', x: [4, 3], dtype: 'float32', indices: { shape: [0], values: [] }, axis: 0 },
    ];
    for (const c of GATHERS) {
      it(`gather: ${c.name}`, async () => {
        const x = param(c.x, 121);
        const values = c.dtype === 'int32' ? Int32Array.from(x.values, (v) => Math.round(v * 100)) : x.values;
        const run = (backend: Backend) => onBackend(backend, () =>
          [tf.gather(tf.tensor(values, c.x, c.dtype), tf.tensor(c.indices.values, c.indices.shape, 'int32'), c.axis, c.batchDims)]);
        const [wasm] = await run('wasm');
        const [cpu] = await run('cpu');
        assert.deepEqual(Array.from(wasm), Array.from(cpu));
        if (c.dtype === 'float32' && c.indices.values.length > 0) {
          const loss = (t: tf.Tensor) => weightedSquare(tf.gather(t, tf.tensor(c.indices.values, c.indices.shape, 'int32'), c.axis, c.batchDims), 122);
          const grads = await assertWasmMatchesCpu([x], loss, c.name);
          await assertFiniteDifferences([x], loss, grads, 0, c.name);
        }
      });
    }

    it('gather refuses an index out of range instead of reading outside the table', async () => {
      await tf.setBackend('wasm');
      for (const bad of [5, -1]) {
        assert.throws(() => tf.tidy(() => tf.gather(tf.ones([5, 2]), tf.tensor1d([0, bad], 'int32')).dataSync()), /index value/);
      }
    });

    const SUMS: { name: string; shape: number[]; axis: number | number[]; keepDims?: boolean }[] = [
      { name: 'bias gradient, small (one JavaScript pass)', shape: [3, 5, 7, 4], axis: [0, 1, 2] },
      { name: 'leading axis only, keepDims', shape: [6, 5, 3], axis: 0, keepDims: true },
      { name: 'large, odd row counts (pairwise halves with carries)', shape: [3, 5, 67, 71], axis: [0, 1, 2] },
      { name: 'large, 2 leading axes, keepDims, axes unordered', shape: [129, 7, 73], axis: [1, 0], keepDims: true },
      { name: 'large, batch 1', shape: [1, 1025, 65], axis: [0, 1] },
      { name: 'trailing axis (stock kernel)', shape: [4, 9], axis: -1 },
      { name: 'all axes (stock kernel)', shape: [3, 4], axis: [0, 1] },
    ];
    for (const c of SUMS) {
      it(`sum: ${c.name}`, async () => {
        const x = param(c.shape, 131);
        const ints = Int32Array.from(x.values, (v) => Math.round(v * 10));
        const run = (backend: Backend) => onBackend(backend, () => [
          tf.sum(tf.tensor(x.values, x.shape), c.axis, c.keepDims),
          tf.sum(tf.tensor(ints, x.shape, 'int32'), c.axis, c.keepDims),
        ]);
        const wasm = await run('wasm');
        const cpu = await run('cpu');
        // cpu sums in float32 in order; ours pairwise or in float64: relative to the sum's scale.
        assertClose(wasm[0], cpu[0], 2e-5 * Math.sqrt(x.values.length / wasm[0].length), `${c.name}: float32`);
        assert.deepEqual(Array.from(wasm[1]), Array.from(cpu[1]), `${c.name}: int32`);
        const shapeOut = await onBackend('wasm', () => [tf.tensor(tf.sum(tf.zeros(c.shape), c.axis, c.keepDims).shape)]);
        const shapeCpu = await onBackend('cpu', () => [tf.tensor(tf.sum(tf.zeros(c.shape), c.axis, c.keepDims).shape)]);
        assert.deepEqual(Array.from(shapeOut[0]), Array.from(shapeCpu[0]), 'output shape');
        const loss = (t: tf.Tensor) => weightedSquare(tf.sum(t, c.axis, c.keepDims), 132);
        const grads = await assertWasmMatchesCpu([x], loss, c.name);
        await assertFiniteDifferences([x], loss, grads, 0, c.name, 6);
      });
    }

    it('tanh = 2σ(2x) − 1 is within 5e-7 of cpu\'s tanh, saturates to ±1 exactly, and keeps NaN', async () => {
      const special = [0, -0, 1e-8, -1e-4, 0.5, -0.9, 3, -7, 9.5, 20, -20, 88, -100, 1e30, -Infinity, Infinity];
      const values = Float32Array.from([...special, ...randn(997, 141).map((v) => 4 * v)]);
      const run = (backend: Backend) => onBackend(backend, () => [tf.tanh(tf.tensor1d(values)), tf.tanh(tf.tensor3d(values.slice(0, 1008), [4, 7, 36]))]);
      const [wasm, wasm3] = await run('wasm');
      const [cpu, cpu3] = await run('cpu');
      assertClose(wasm, cpu, 5e-7, 'tanh');
      assertClose(wasm3, cpu3, 5e-7, 'tanh rank 3');
      for (const [i, v] of special.entries()) if (Math.abs(v) >= 20) assert.equal(wasm[i], Math.sign(v), `tanh(${v})`);
      const [nan] = await onBackend('wasm', () => [tf.tanh(tf.tensor1d([NaN]))]);
      assert.ok(Number.isNaN(nan[0]), 'tanh(NaN)');
    });

    const TILES: { name: string; shape: number[]; reps: number[] }[] = [
      { name: 'batch norm statistics [1, 1, 1, C] to a batch of maps', shape: [1, 1, 1, 5], reps: [3, 7, 6, 1] },
      { name: 'every axis repeated, odd counts (doubling with a remainder)', shape: [2, 3, 2], reps: [3, 5, 7] },
      { name: 'rank 1', shape: [4], reps: [9] },
      { name: 'rank 5, reps of 1 mixed in', shape: [2, 1, 3, 1, 2], reps: [1, 4, 1, 3, 2] },
      { name: 'nothing repeated (a copy)', shape: [3, 4], reps: [1, 1] },
      { name: 'zero reps (empty output)', shape: [2, 3], reps: [0, 2] },
    ];
    for (const c of TILES) {
      it(`tile: ${c.name}; float32, int32, bool, and the gradient`, async () => {
        const x = param(c.shape, 151);
        await assertDtypesMatchCpu(x, (t) => tf.tile(t, c.reps), c.name);
        if (c.reps.every((r) => r > 0) && c.shape.length <= 4) { // tfjs has no tile gradient beyond rank 4
          const loss = (t: tf.Tensor) => weightedSquare(tf.tile(t, c.reps), 152);
          const grads = await assertWasmMatchesCpu([x], loss, c.name);
          await assertFiniteDifferences([x], loss, grads, 0, c.name);
        }
      });
    }

    it('tile of a scalar-shaped and a large tensor matches cpu (the view is taken after the output is allocated)', async () => {
      const big = param([1, 1, 1, 16], 153);
      const run = (backend: Backend) => onBackend(backend, () => [tf.tile(tf.tensor(big.values, big.shape), [16, 64, 64, 1]), tf.tile(tf.tensor([2.5], [1]), [5])]);
      const wasm = await run('wasm');
      const cpu = await run('cpu');
      wasm.forEach((v, i) => assert.deepEqual(Array.from(v), Array.from(cpu[i]), `output ${i}`));
    });

    it('tanh gradient matches cpu and finite differences', async () => {
      const x = param([3, 7, 5], 142);
      const loss = (t: tf.Tensor) => weightedSquare(tf.tanh(tf.mul(t, 1.5)), 143);
      const grads = await assertWasmMatchesCpu([x], loss, 'tanh');
      await assertFiniteDifferences([x], loss, grads, 0, 'tanh', 12, 1e-2);
    });
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

    it('5 training steps through every replaced kernel (matmuls, views, sum, tanh, gather, SIMD filter gradient, SIMD pooling, aᵀ·b) leak nothing', async () => {
      await tf.setBackend('wasm');
      const img = randTensor([3, 9, 7, 1], 86), w1 = randTensor([3, 3, 1, 4], 87);           // im2col filter gradient
      const a = randTensor([4, 6, 5], 88), b = randTensor([5, 3], 89), c = randTensor([6, 5], 90); // batched / shared / transposed
      const big = randTensor([3, 5, 67, 71], 96), seq = randTensor([5, 4, 6], 97), bConst = randTensor([5, 3], 99);
      const table = randTensor([9, 2], 98), corners = tf.tensor1d([8, 0, 3, 3, 1], 'int32');
      const x8 = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
      const step = () => tf.tidy(() => {
        const grads = tf.grads((img0: tf.Tensor, w0: tf.Tensor, a0: tf.Tensor, b0: tf.Tensor, big0: tf.Tensor, seq0: tf.Tensor, table0: tf.Tensor) => {
          const y = tf.relu(tf.conv2d(img0 as tf.Tensor4D, w0 as tf.Tensor4D, 2, 'valid'));           // [3, 4, 3, 4]
          const pooled = tf.maxPool(y, 2, 2, 'valid');                                                // tiled 2×2
          const ab = tf.matMul(a0, bConst);                                                                 // batch folded into rows (b constant: tfjs does not reduce a broadcast operand's gradient)
          const cb = tf.matMul(c, tf.reshape(a0, [4, 5, 6]), true, true);                             // shared a, batched b, transposed
          const fused = tf.fused.matMul({ a: tf.reshape(a0, [24, 5]), b: b0, bias: tf.ones([3]), activation: 'relu' });
          const steps = tf.unstack(seq0, 0).map((s) => tf.tanh(s));                                   // Unpack, Tanh
          const [s1, s2] = tf.split(tf.concat(steps, 1), [7, 23], 1);                                  // SplitV
          const part = tf.slice(big0, [1, 0, 3, 5], [2, 5, 60, 60]);
          const sums = tf.add(tf.sum(tf.sum(big0, [0, 1, 2])), tf.sum(tf.sum(part, [0, 1])));         // large and small leading-axis sums
          const g = tf.gather(table0, corners);
          // aᵀ·b on the SIMD kernels: along b's rows (n = 4, m = 5), and along a's columns with its scratch (m = n = 4).
          const tnRows = tf.matMul(tf.reshape(a0, [24, 5]), tf.ones([24, 4]), true, false);
          const tnCols = tf.matMul(tf.reshape(tf.square(a0), [30, 4]), tf.reshape(a0, [30, 4]), true, false);
          return tf.addN([tf.sum(tf.square(pooled)), tf.sum(ab), tf.sum(cb), tf.sum(fused), tf.sum(tf.square(s1)),
            tf.sum(s2), sums, tf.sum(tf.square(g)), tf.sum(tnRows), tf.sum(tnCols)]) as tf.Scalar;
        })([img, w1, a, b, big, seq, table]);
        // The reshape that the stock operator cache mixed up, and an Identity.
        const r = [tf.matMul(tf.ones([1, 4]), x8), tf.matMul(tf.ones([1, 2]), tf.reshape(x8, [2, 4])), tf.clone(x8)];
        return [...grads, ...r];
      });
      tf.dispose(step()); // first call creates XNNPACK operators and caches
      const backend = tf.engine().backend;
      const tensorsBefore = tf.memory().numTensors;
      const idsBefore = backend.numDataIds();
      tf.env().set('IS_TEST', true);
      try {
        for (let i = 0; i < 5; i++) {
          const outs = step();
          assert.deepEqual(Array.from(outs[outs.length - 2].dataSync()), [6, 8, 10, 12], 'reshaped right operand');
          tf.dispose(outs);
        }
      } finally {
        tf.env().set('IS_TEST', false);
      }
      assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked');
      assert.equal(backend.numDataIds(), idsBefore, 'wasm data ids leaked');
      tf.dispose([img, w1, a, b, c, big, seq, bConst, table, corners, x8]);
    });
  });
});
