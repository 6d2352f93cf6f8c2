/**
 * lib/convolution: the arithmetic, the naive convolutions checked against tfjs on the wasm
 * backend, the matrix view (adjoint identity), the upsampling alternatives, the DCGAN generator
 * and the explorer table.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mulberry32 } from '../lib/runtime/random';
import {
  type ConvOptions,
  type Grid,
  type TransposedConvOptions,
  adjointGap,
  bedOfNails,
  bilinearKernel,
  bilinearKernelSize,
  bilinearUpsample,
  bilinearUpsampleTensor,
  conv2dNaive,
  conv2dTensor,
  conv2dTfjs,
  convMatrix,
  convOutputSize,
  createDcganGenerator,
  dot,
  dcganStageShapes,
  describeOutputSize,
  EXPLORER_RANGES,
  explorerCases,
  gridToTensor,
  kernelToTensor,
  learnedUpsample,
  learnedUpsampleTensor,
  matchingOutputPadding,
  matVec,
  maxAbsDiff,
  maxPoolWithSwitches,
  maxPoolWithArgmaxWorks,
  maxPoolWithSwitchesTensor,
  maxUnpool,
  maxUnpoolTensor,
  nearestUpsample,
  nearestUpsampleTensor,
  overlapCounts,
  randomGrid,
  tensorToGrid,
  transposedConv2dNaive,
  transposedConv2dSteps,
  transposedConv2dTensor,
  transposedConv2dTfjs,
  transposedConvOutputSize,
  transposedViaMatrix,
  upsamplingPadding,
  vec,
} from '../lib/convolution';

const TOL = 1e-4; // float32 rounding of sums of ≤ 16 products of values in [−1, 1)

/** Runs `body` and asserts it left no tensor behind. */
function withoutLeak<T>(body: () => T): T {
  const before = tf.memory().numTensors;
  const result = body();
  assert.equal(tf.memory().numTensors, before, 'tensor leak');
  return result;
}

/** The shape tfjs itself gives (not our arithmetic), read without keeping the tensor. */
function tfjsShape(make: () => tf.Tensor): number[] {
  return tf.tidy(() => make().shape);
}

const LECTURE_X: Grid = [[1, 2], [3, 4]];
const KERNEL_1_TO_9: Grid = [[1, 2, 3], [4, 5, 6], [7, 8, 9]];

// One outer describe so that the wasm backend is set right before these tests, not as a root hook
// shared with (and possibly overridden by) other test files.
describe('lib/convolution', () => {
  before(async () => {
    tf.enableProdMode();
    assert.ok(await tf.setBackend('wasm'), 'wasm backend did not initialise');
    await tf.ready();
    assert.equal(tf.getBackend(), 'wasm');
  });

  describe('convolution arithmetic', () => {
    it('fills the formulas with numbers (the slides)', () => {
      assert.equal(describeOutputSize('conv', { inputSize: 4, kernelSize: 3, stride: 2, padding: 1 }), 'o = ⌊(4 + 2·1 − 3) / 2⌋ + 1 = 2');
      assert.equal(describeOutputSize('conv', { inputSize: 4, kernelSize: 3, stride: 1, padding: 1 }), 'o = ⌊(4 + 2·1 − 3) / 1⌋ + 1 = 4');
      assert.equal(
        describeOutputSize('transposed', { inputSize: 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1 }),
        'o = (2 − 1)·2 − 2·1 + 3 + 1 = 4',
      );
      assert.equal(
        describeOutputSize('conv', { inputSize: 5, kernelSize: 3, stride: 1, padding: 1, dilation: 2 }),
        'o = ⌊(5 + 2·1 − 2·(3 − 1) − 1) / 1⌋ + 1 = 3',
      );
      // Impossible settings still show the number that makes them impossible.
      assert.equal(describeOutputSize('conv', { inputSize: 2, kernelSize: 4, stride: 1, padding: 0 }), 'o = ⌊(2 + 2·0 − 4) / 1⌋ + 1 = −1');
    });

    it('computes the three slide sizes and the outputPadding that inverts a strided conv', () => {
      assert.equal(convOutputSize({ inputSize: 4, kernelSize: 3, stride: 1, padding: 1 }), 4);
      assert.equal(convOutputSize({ inputSize: 4, kernelSize: 3, stride: 2, padding: 1 }), 2);
      assert.equal(transposedConvOutputSize({ inputSize: 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1 }), 4);
      assert.equal(matchingOutputPadding(4, 3, 2, 1), 1);
      assert.equal(matchingOutputPadding(5, 3, 2, 1), 0);
      // For every conv, the transposed conv with the matching outputPadding maps o back to i.
      for (const inputSize of [2, 3, 4, 5, 6, 7]) {
        for (const stride of [1, 2, 3]) {
          const o = convOutputSize({ inputSize, kernelSize: 2, stride, padding: 1 });
          const outputPadding = matchingOutputPadding(inputSize, 2, stride, 1);
          assert.equal(transposedConvOutputSize({ inputSize: o, kernelSize: 2, stride, padding: 1, outputPadding }), inputSize);
        }
      }
    });

    interface InvalidCase {
      what: string;
      run: () => unknown;
      message: RegExp; // must name the setting and its value
    }
    const conv = (over: Partial<{ inputSize: number; kernelSize: number; stride: number; padding: number; dilation: number }>) =>
      () => convOutputSize({ inputSize: 4, kernelSize: 3, stride: 1, padding: 0, ...over });
    const transposed = (over: Partial<{ inputSize: number; kernelSize: number; stride: number; padding: number; outputPadding: number }>) =>
      () => transposedConvOutputSize({ inputSize: 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, ...over });
    const invalidCases: InvalidCase[] = [
      { what: 'conv inputSize 2.5', run: conv({ inputSize: 2.5 }), message: /^inputSize must be a whole number ≥ 1 \(got 2\.5\)/ },
      { what: 'conv inputSize 0', run: conv({ inputSize: 0 }), message: /^inputSize .*\(got 0\)/ },
      { what: 'conv inputSize -3', run: conv({ inputSize: -3 }), message: /^inputSize .*\(got -3\)/ },
      { what: 'conv kernelSize 0', run: conv({ kernelSize: 0 }), message: /^kernelSize must be a whole number ≥ 1 \(got 0\)/ },
      { what: 'conv stride 0', run: conv({ stride: 0 }), message: /^stride must be a whole number ≥ 1 \(got 0\)/ },
      { what: 'conv stride 1.5', run: conv({ stride: 1.5 }), message: /^stride .*\(got 1\.5\)/ },
      { what: 'conv padding -1', run: conv({ padding: -1 }), message: /^padding must be a whole number ≥ 0 \(got -1\): padding adds zeros on each side/ },
      { what: 'conv dilation 0', run: conv({ dilation: 0 }), message: /^dilation .*\(got 0\)/ },
      { what: 'conv output < 1', run: conv({ inputSize: 2, kernelSize: 5 }), message: /^output size must be ≥ 1 \(got -2\): kernelSize 5 .*padding ≥ 2/ },
      { what: 'transposed kernelSize -1', run: transposed({ kernelSize: -1 }), message: /^kernelSize .*\(got -1\)/ },
      { what: 'transposed stride 0', run: transposed({ stride: 0 }), message: /^stride .*\(got 0\)/ },
      { what: 'transposed padding -2', run: transposed({ padding: -2 }), message: /^padding .*\(got -2\): .*crops/ },
      { what: 'transposed outputPadding = stride', run: transposed({ outputPadding: 2 }), message: /^outputPadding .*< stride \(got 2 with stride 2\).*use 0…1/ },
      { what: 'transposed outputPadding -1', run: transposed({ outputPadding: -1 }), message: /^outputPadding .*\(got -1 with stride 2\)/ },
      { what: 'transposed output < 1', run: transposed({ stride: 1, padding: 3, outputPadding: 0 }), message: /^output size must be ≥ 1 \(got -2\): padding 3 .*use padding ≤ 1/ },
      { what: 'conv2dNaive padding -1', run: () => conv2dNaive(LECTURE_X, [[1]], { padding: -1 }), message: /^padding .*\(got -1\)/ },
      { what: 'conv2dNaive ragged input', run: () => conv2dNaive([[1, 2], [3]], [[1]]), message: /^input is ragged/ },
      { what: 'conv2dTfjs kernel too big', run: () => conv2dTfjs(LECTURE_X, KERNEL_1_TO_9), message: /^output size .*kernelSize 3/ },
      { what: 'conv2dTfjs stride and dilation', run: () => conv2dTfjs([[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1]], { stride: 2, dilation: 2 }), message: /stride 2, dilation 2/ },
      { what: 'transposedConv2dTfjs outputPadding 2', run: () => transposedConv2dTfjs(LECTURE_X, KERNEL_1_TO_9, { stride: 2, outputPadding: 2 }), message: /^outputPadding .*\(got 2 with stride 2\)/ },
      { what: 'nearestUpsample factor 0', run: () => nearestUpsample(LECTURE_X, 0), message: /^factor .*\(got 0\)/ },
      { what: 'maxPoolWithSwitches size 3 on 2×2', run: () => maxPoolWithSwitches(LECTURE_X, 3), message: /^size .*\(got 3\)/ },
      { what: 'maxUnpool switch outside', run: () => maxUnpool([[1]], [[9]], 2), message: /^switch 9 .*outputSize/ },
      { what: 'upsamplingPadding even kernel stride 1', run: () => upsamplingPadding(2, 1), message: /kernelSize 2 with stride 1/ },
      { what: 'dcgan baseChannels 100', run: () => createDcganGenerator({ seed: 1, baseChannels: 100 }), message: /^baseChannels .*\(got 100\)/ },
      { what: 'dcgan stages 0', run: () => createDcganGenerator({ seed: 1, stages: 0 }), message: /^stages .*\(got 0\)/ },
    ];
    for (const bad of invalidCases) {
      it(`rejects ${bad.what} with a message naming the setting`, () => {
        withoutLeak(() => assert.throws(bad.run, { message: bad.message }));
      });
    }
  });

  interface ConvCase extends Required<Pick<ConvOptions, 'stride' | 'padding'>> {
    name: string;
    inputSize: number;
    kernelSize: number;
    dilation?: number;
    expected: number; // output size, worked out by hand
  }
  const CONV_CASES: ConvCase[] = [
    { name: 'slide: 3×3 s1 p1, 4×4 → 4×4', inputSize: 4, kernelSize: 3, stride: 1, padding: 1, expected: 4 },
    { name: 'slide: 3×3 s2 p1, 4×4 → 2×2', inputSize: 4, kernelSize: 3, stride: 2, padding: 1, expected: 2 },
    { name: 'valid 3×3 s1', inputSize: 5, kernelSize: 3, stride: 1, padding: 0, expected: 3 },
    { name: 'valid 3×3 s2', inputSize: 5, kernelSize: 3, stride: 2, padding: 0, expected: 2 },
    { name: 'floor drops a row', inputSize: 6, kernelSize: 3, stride: 2, padding: 1, expected: 3 },
    { name: '1×1', inputSize: 5, kernelSize: 1, stride: 1, padding: 0, expected: 5 },
    { name: '4×4 s3 p2', inputSize: 7, kernelSize: 4, stride: 3, padding: 2, expected: 3 },
    { name: 'padding > kernel − 1', inputSize: 3, kernelSize: 2, stride: 1, padding: 2, expected: 6 },
    { name: '5×5 s2 p2', inputSize: 6, kernelSize: 5, stride: 2, padding: 2, expected: 3 },
    { name: 'stride larger than kernel', inputSize: 2, kernelSize: 2, stride: 3, padding: 0, expected: 1 },
    { name: 'stride skips pixels', inputSize: 7, kernelSize: 1, stride: 3, padding: 1, expected: 3 },
    { name: 'dilation 2', inputSize: 5, kernelSize: 3, stride: 1, padding: 1, dilation: 2, expected: 3 },
  ];

  interface TransposedCase extends Required<TransposedConvOptions> {
    name: string;
    inputSize: number;
    kernelSize: number;
    expected: number;
  }
  const TRANSPOSED_CASES: TransposedCase[] = [
    { name: 'slide: 3×3 s2 p1 op1, 2×2 → 4×4', inputSize: 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, expected: 4 },
    { name: '3×3 s2 p1 op0', inputSize: 2, kernelSize: 3, stride: 2, padding: 1, outputPadding: 0, expected: 3 },
    { name: '3×3 s2 uncropped', inputSize: 2, kernelSize: 3, stride: 2, padding: 0, outputPadding: 0, expected: 5 },
    { name: 'checkerboard 3×3 s2', inputSize: 3, kernelSize: 3, stride: 2, padding: 0, outputPadding: 0, expected: 7 },
    { name: '4×4 s2 p1 (doubles)', inputSize: 4, kernelSize: 4, stride: 2, padding: 1, outputPadding: 0, expected: 8 },
    { name: '3×3 s1 p1 (same size)', inputSize: 3, kernelSize: 3, stride: 1, padding: 1, outputPadding: 0, expected: 3 },
    { name: 'outputPadding past the canvas (zeros)', inputSize: 2, kernelSize: 1, stride: 3, padding: 0, outputPadding: 2, expected: 6 },
    { name: 'outputPadding one past the canvas', inputSize: 3, kernelSize: 2, stride: 3, padding: 0, outputPadding: 1, expected: 9 },
    { name: 'DCGAN stage 5×5 s2 p2 op1', inputSize: 4, kernelSize: 5, stride: 2, padding: 2, outputPadding: 1, expected: 8 },
    { name: '3×3 s3 p2 op2', inputSize: 5, kernelSize: 3, stride: 3, padding: 2, outputPadding: 2, expected: 13 },
    { name: '4×4 s3 p1 op2', inputSize: 2, kernelSize: 4, stride: 3, padding: 1, outputPadding: 2, expected: 7 },
    { name: '2×2 s2 op1', inputSize: 6, kernelSize: 2, stride: 2, padding: 0, outputPadding: 1, expected: 13 },
    { name: 'padding > kernel − 1', inputSize: 3, kernelSize: 1, stride: 2, padding: 1, outputPadding: 1, expected: 4 },
  ];

  describe('naive convolution vs tf.conv2d (wasm)', () => {
    for (const tc of CONV_CASES) {
      it(tc.name, () => {
        const rng = mulberry32(tc.inputSize * 100 + tc.kernelSize * 10 + tc.stride);
        const x = randomGrid(tc.inputSize, tc.inputSize, rng);
        const k = randomGrid(tc.kernelSize, tc.kernelSize, rng);
        const options: ConvOptions = { stride: tc.stride, padding: tc.padding, dilation: tc.dilation };
        const naive = conv2dNaive(x, k, options);
        const fromTfjs = withoutLeak(() => conv2dTfjs(x, k, options));
        assert.equal(naive.length, tc.expected);
        assert.equal(naive[0].length, tc.expected);
        const settings = { inputSize: tc.inputSize, kernelSize: tc.kernelSize, stride: tc.stride, padding: tc.padding, dilation: tc.dilation };
        assert.equal(convOutputSize(settings), tc.expected);
        assert.deepEqual(tfjsShape(() => conv2dTensor(gridToTensor(x), kernelToTensor(k), options)), [1, tc.expected, tc.expected, 1]);
        assert.ok(maxAbsDiff(naive, fromTfjs) < TOL, `max |naive − tfjs| = ${maxAbsDiff(naive, fromTfjs)}`);
      });
    }

    it('is cross-correlation (no kernel flip) on a hand-computed example', () => {
      // Top-left output of a valid 2×2 kernel on 1…9: 1·1 + 2·0 + 4·0 + 5·(−1) = −4.
      const x = KERNEL_1_TO_9;
      assert.deepEqual(conv2dNaive(x, [[1, 0], [0, -1]]), [[-4, -4], [-4, -4]]);
      assert.deepEqual(withoutLeak(() => conv2dTfjs(x, [[1, 0], [0, -1]])), [[-4, -4], [-4, -4]]);
    });

    it('handles a non-square input', () => {
      const x = randomGrid(3, 5, mulberry32(7));
      const k = randomGrid(2, 2, mulberry32(8));
      const naive = conv2dNaive(x, k, { stride: 2, padding: 1 });
      assert.deepEqual([naive.length, naive[0].length], [2, 3]);
      assert.ok(maxAbsDiff(naive, withoutLeak(() => conv2dTfjs(x, k, { stride: 2, padding: 1 }))) < TOL);
    });
  });

  describe('naive transposed convolution vs tf.conv2dTranspose (wasm)', () => {
    for (const tc of TRANSPOSED_CASES) {
      it(tc.name, () => {
        const rng = mulberry32(tc.inputSize * 1000 + tc.kernelSize * 100 + tc.stride * 10 + tc.outputPadding);
        const y = randomGrid(tc.inputSize, tc.inputSize, rng);
        const k = randomGrid(tc.kernelSize, tc.kernelSize, rng);
        const options: TransposedConvOptions = { stride: tc.stride, padding: tc.padding, outputPadding: tc.outputPadding };
        const naive = transposedConv2dNaive(y, k, options);
        const fromTfjs = withoutLeak(() => transposedConv2dTfjs(y, k, options));
        assert.equal(naive.length, tc.expected);
        assert.equal(naive[0].length, tc.expected);
        const settings = { inputSize: tc.inputSize, kernelSize: tc.kernelSize, stride: tc.stride, padding: tc.padding, outputPadding: tc.outputPadding };
        assert.equal(transposedConvOutputSize(settings), tc.expected);
        assert.deepEqual(tfjsShape(() => transposedConv2dTensor(gridToTensor(y), kernelToTensor(k), options)), [1, tc.expected, tc.expected, 1]);
        assert.ok(maxAbsDiff(naive, fromTfjs) < TOL, `max |naive − tfjs| = ${maxAbsDiff(naive, fromTfjs)}`);
      });
    }

    it('slide 3 on the lecture numbers: copies of the kernel summed, cropped 1, outputPadding from the uncropped output', () => {
      const expected = [
        [5, 14, 10, 12],
        [14, 36, 24, 30],
        [15, 34, 20, 24],
        [24, 55, 32, 36], // the outputPadding row: the uncropped output's last row, not zeros
      ];
      const options = { stride: 2, padding: 1, outputPadding: 1 };
      assert.deepEqual(transposedConv2dNaive(LECTURE_X, KERNEL_1_TO_9, options), expected);
      assert.deepEqual(withoutLeak(() => transposedConv2dTfjs(LECTURE_X, KERNEL_1_TO_9, options)), expected);
    });

    it('outputPadding past the uncropped output gives zero rows/cols, in tfjs too', () => {
      const options = { stride: 3, padding: 0, outputPadding: 2 };
      const naive = transposedConv2dNaive(LECTURE_X, [[1]], options);
      assert.deepEqual(naive, [
        [1, 0, 0, 2, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [3, 0, 0, 4, 0, 0],
        [0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0],
      ]);
      assert.deepEqual(withoutLeak(() => transposedConv2dTfjs(LECTURE_X, [[1]], options)), naive);
    });

    it("tfjs pad 'same' is not PyTorch padding 1 + outputPadding 1: it crops the extra row at the bottom", () => {
      const same = withoutLeak(() =>
        tensorToGrid(tf.tidy(() => tf.conv2dTranspose(gridToTensor(LECTURE_X), kernelToTensor(KERNEL_1_TO_9), [1, 4, 4, 1], 2, 'same'))),
      );
      const uncropped = transposedConv2dNaive(LECTURE_X, KERNEL_1_TO_9, { stride: 2 }); // 5×5
      assert.deepEqual(same, uncropped.slice(0, 4).map((row) => row.slice(0, 4)));
      assert.notDeepEqual(same, transposedConv2dNaive(LECTURE_X, KERNEL_1_TO_9, { stride: 2, padding: 1, outputPadding: 1 }));
    });

    it('steps through the scatter-add on the full canvas, then crops', () => {
      const options = { stride: 2, padding: 1, outputPadding: 1 };
      const trace = transposedConv2dSteps(LECTURE_X, KERNEL_1_TO_9, options);
      assert.deepEqual(trace.canvasSize, [5, 5]);
      assert.deepEqual(trace.crop, { top: 1, left: 1, height: 4, width: 4 });
      assert.deepEqual(trace.steps.map((s) => [s.row, s.col, s.value, ...s.offset]), [
        [0, 0, 1, 0, 0],
        [0, 1, 2, 0, 2],
        [1, 0, 3, 2, 0],
        [1, 1, 4, 2, 2],
      ]);
      // Step 2 places 2·kernel with its top-left at (0, 2).
      assert.deepEqual(trace.steps[1].placed[0], [0, 0, 2, 4, 6]);
      assert.deepEqual(trace.steps[1].placed[3], [0, 0, 0, 0, 0]);
      // The running sum after step 2 adds both copies where they overlap (column 2).
      assert.deepEqual(trace.steps[1].sum[0], [1, 2, 3 + 2, 4, 6]);
      const last = trace.steps[3].sum;
      assert.equal(last[2][2], 9 + 2 * 7 + 3 * 3 + 4 * 1); // all four copies overlap in the centre
      assert.deepEqual(trace.output, transposedConv2dNaive(LECTURE_X, KERNEL_1_TO_9, options));
      assert.deepEqual(trace.output, last.slice(1, 5).map((row) => row.slice(1, 5)));
    });

    it('overlap counts of 3×3 stride 2 are the 1-2-4 checkerboard', () => {
      const axis = [1, 1, 2, 1, 2, 1, 1]; // copies per row (and per column) of a 3-pixel input
      const expected = axis.map((a) => axis.map((b) => a * b));
      const counts = overlapCounts(3, 3, 2);
      assert.deepEqual(counts, expected);
      assert.deepEqual([...new Set(counts.flat())].sort(), [1, 2, 4]);
      assert.equal(counts[2][2], 4);
      assert.equal(counts[2][3], 2);
      assert.equal(counts[3][3], 1);
      // The slide's 2×2 → 4×4 setting: cropping keeps the pattern.
      const slideAxis = [1, 2, 1, 1];
      assert.deepEqual(overlapCounts(2, 3, 2, { padding: 1, outputPadding: 1 }), slideAxis.map((a) => slideAxis.map((b) => a * b)));
      // A kernel that is a multiple of the stride overlaps evenly inside (no checkerboard).
      assert.deepEqual(overlapCounts(3, 4, 2, { padding: 1 }).slice(1, -1).map((row) => row.slice(1, -1)), [
        [4, 4, 4, 4],
        [4, 4, 4, 4],
        [4, 4, 4, 4],
        [4, 4, 4, 4],
      ]);
    });
  });

  describe('convolution as a matrix', () => {
    it('has the classic sparse pattern for 3×3 on 4×4 (4×16)', () => {
      const C = convMatrix(4, 3);
      assert.deepEqual(C, [
        [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0],
        [0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0],
        [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9],
      ]);
    });

    interface MatrixCase {
      inputSize: number;
      kernelSize: number;
      stride: number;
      padding: number;
    }
    const MATRIX_CASES: MatrixCase[] = [
      { inputSize: 4, kernelSize: 3, stride: 1, padding: 1 },
      { inputSize: 4, kernelSize: 3, stride: 2, padding: 1 },
      { inputSize: 5, kernelSize: 3, stride: 2, padding: 1 },
      { inputSize: 5, kernelSize: 2, stride: 2, padding: 0 },
      { inputSize: 6, kernelSize: 4, stride: 3, padding: 2 },
      { inputSize: 3, kernelSize: 1, stride: 1, padding: 0 },
    ];
    for (const mc of MATRIX_CASES) {
      const label = `i=${mc.inputSize} k=${mc.kernelSize} s=${mc.stride} p=${mc.padding}`;
      it(`${label}: C·vec(x) = conv, ⟨Cx, y⟩ = ⟨x, Cᵀy⟩, Cᵀ·vec(y) = transposed conv`, () => {
        const rng = mulberry32(mc.inputSize * 7 + mc.kernelSize * 3 + mc.stride);
        const k = randomGrid(mc.kernelSize, mc.kernelSize, rng);
        const options = { stride: mc.stride, padding: mc.padding };
        const o = convOutputSize({ ...mc });
        const C = convMatrix(mc.inputSize, k, options);
        assert.deepEqual([C.length, C[0].length], [o * o, mc.inputSize * mc.inputSize]);
        for (let trial = 0; trial < 3; trial++) {
          const x = randomGrid(mc.inputSize, mc.inputSize, rng);
          const y = randomGrid(o, o, rng);
          assert.ok(maxAbsDiff([matVec(C, vec(x))], [vec(conv2dNaive(x, k, options))]) < 1e-12);
          assert.ok(adjointGap(C, x, y) < 1e-12, `adjoint gap ${adjointGap(C, x, y)}`);
          const viaMatrix = transposedViaMatrix(y, k, { inputSize: mc.inputSize, ...options });
          assert.equal(viaMatrix.settings.outputPadding, matchingOutputPadding(mc.inputSize, mc.kernelSize, mc.stride, mc.padding));
          assert.ok(maxAbsDiff(viaMatrix.output, transposedConv2dNaive(y, k, viaMatrix.settings)) < 1e-12);
          assert.ok(maxAbsDiff(viaMatrix.output, withoutLeak(() => transposedConv2dTfjs(y, k, viaMatrix.settings))) < TOL);
        }
      });
    }

    it('the identity pins the kernel orientation: a flipped kernel breaks it', () => {
      const rng = mulberry32(31);
      const k = randomGrid(3, 3, rng);
      const flipped = k.map((row) => [...row].reverse()).reverse();
      const x = randomGrid(5, 5, rng);
      const y = randomGrid(3, 3, rng); // conv 5×5, 3×3, stride 2, padding 1 → 3×3
      const transposedSettings = { stride: 2, padding: 1, outputPadding: matchingOutputPadding(5, 3, 2, 1) };
      const lhs = dot(vec(conv2dNaive(x, k, { stride: 2, padding: 1 })), vec(y));
      const rhs = dot(vec(x), vec(transposedConv2dNaive(y, k, transposedSettings)));
      const rhsFlipped = dot(vec(x), vec(transposedConv2dNaive(y, flipped, transposedSettings)));
      assert.ok(Math.abs(lhs - rhs) < 1e-12);
      assert.ok(Math.abs(lhs - rhsFlipped) > 1e-3, 'a wrong "transpose" must show a gap');
    });
  });

  describe('upsampling', () => {
    it('nearest neighbour copies blocks (naive and tf.image.resizeNearestNeighbor)', () => {
      const expected = [
        [1, 1, 2, 2],
        [1, 1, 2, 2],
        [3, 3, 4, 4],
        [3, 3, 4, 4],
      ];
      assert.deepEqual(nearestUpsample(LECTURE_X, 2), expected);
      assert.deepEqual(withoutLeak(() => tensorToGrid(tf.tidy(() => nearestUpsampleTensor(gridToTensor(LECTURE_X), 2)))), expected);
      const x = randomGrid(3, 4, mulberry32(11));
      const fromTfjs = withoutLeak(() => tensorToGrid(tf.tidy(() => nearestUpsampleTensor(gridToTensor(x), 3))));
      assert.ok(maxAbsDiff(nearestUpsample(x, 3), fromTfjs) < 1e-7);
    });

    it('bed of nails keeps the top-left of each block', () => {
      assert.deepEqual(bedOfNails(LECTURE_X, 2), [
        [1, 0, 2, 0],
        [0, 0, 0, 0],
        [3, 0, 4, 0],
        [0, 0, 0, 0],
      ]);
    });

    it('max pooling remembers switches and max unpooling puts each max back there', () => {
      const x = [
        [1, 5, 2, 0],
        [3, 4, 8, 1],
        [0, 0, 1, 2],
        [9, 1, 3, 7],
      ];
      const { pooled, switches } = maxPoolWithSwitches(x, 2);
      assert.deepEqual(pooled, [[5, 8], [9, 7]]);
      assert.deepEqual(switches, [[1, 6], [12, 15]]);
      const unpooled = maxUnpool(pooled, switches, 4);
      assert.deepEqual(unpooled, [
        [0, 5, 0, 0],
        [0, 0, 8, 0],
        [0, 0, 0, 0],
        [9, 0, 0, 7],
      ]);
      // Every max is back at its switch, and only there.
      for (let u = 0; u < 2; u++) {
        for (let v = 0; v < 2; v++) {
          const s = switches[u][v];
          assert.equal(unpooled[Math.floor(s / 4)][s % 4], x[Math.floor(s / 4)][s % 4]);
        }
      }
      assert.equal(unpooled.flat().filter((value) => value !== 0).length, 4);
    });

    /** Runs the tensor versions on [2, 6, 7, 3] and compares them with the naive ones channel by channel. */
    function checkTensorPooling(): void {
      const [batch, h, w, channels] = [2, 6, 7, 3];
      const rng = mulberry32(21);
      const images = Array.from({ length: batch * channels }, () => randomGrid(h, w, rng)); // [b·c][h][w]
      images[0] = images[0].map((row) => row.map((v) => v - 2)); // all-negative windows: wasm's argmax kernel gets these wrong
      const flat: number[] = [];
      for (let b = 0; b < batch; b++) {
        for (let r = 0; r < h; r++) {
          for (let c = 0; c < w; c++) {
            for (let ch = 0; ch < channels; ch++) flat.push(images[b * channels + ch][r][c]); // NHWC order
          }
        }
      }
      const x = tf.tensor4d(flat, [batch, h, w, channels]);
      const { pooled, switches } = maxPoolWithSwitchesTensor(x, 2);
      const unpooled = maxUnpoolTensor(pooled, switches, [batch, h, w, channels]);
      const pooledValues = pooled.arraySync();
      const switchValues = switches.arraySync();
      const unpooledValues = unpooled.arraySync();
      assert.equal(switches.dtype, 'int32');
      tf.dispose([x, pooled, switches, unpooled]);
      for (let b = 0; b < batch; b++) {
        for (let ch = 0; ch < channels; ch++) {
          const naive = maxPoolWithSwitches(images[b * channels + ch], 2);
          const pick = <T>(values: T[][][][]): T[][] => values[b].map((row) => row.map((pixel) => pixel[ch]));
          assert.ok(maxAbsDiff(naive.pooled, pick(pooledValues)) < 1e-6); // float32 storage of values near −2
          // tfjs switches index the whole batch: ((b·h + row)·w + col)·channels + ch.
          const local = pick(switchValues).map((row) => row.map((s) => (Math.floor(s / channels) - b * h * w)));
          assert.deepEqual(local, naive.switches);
          assert.ok(maxAbsDiff(maxUnpool(naive.pooled, naive.switches, [h, w]), pick(unpooledValues)) < 1e-6); // float32 storage of values near −2
        }
      }
    }

    it("wasm's MaxPoolWithArgmax returns FLT_MIN for an all-negative window (why the workaround exists; cpu is right)", async () => {
      const probe = (): [number, number] => {
        const out = tf.maxPoolWithArgmax(tf.tensor4d([-3, -1, -4, -2], [1, 2, 2, 1]), 2, 2, 'valid');
        const answer: [number, number] = [out.result.dataSync()[0], out.indexes.dataSync()[0]];
        tf.dispose([out.result, out.indexes]);
        return answer;
      };
      // 2^−126 = FLT_MIN = std::numeric_limits<float>::min(), the smallest *positive* float, used as
      // "minus infinity". If this fails, tfjs fixed the kernel and the shift workaround can go.
      assert.deepEqual(tf.tidy(probe), [2 ** -126, 0]);
      assert.equal(maxPoolWithArgmaxWorks(), false);
      await tf.setBackend('cpu');
      try {
        assert.deepEqual(tf.tidy(probe), [-1, 1]);
        assert.equal(maxPoolWithArgmaxWorks(), true);
      } finally {
        await tf.setBackend('wasm');
      }
    });

    it('tensor max pooling + scatterND unpooling agree with the naive versions on wasm (shift workaround)', () => {
      withoutLeak(checkTensorPooling);
    });

    it('…and on cpu, where tf.maxPoolWithArgmax is used as is', async () => {
      await tf.setBackend('cpu');
      try {
        withoutLeak(checkTensorPooling);
      } finally {
        await tf.setBackend('wasm');
      }
    });

    it('…and through the naive fallback on a backend without MaxPoolWithArgmax', () => {
      const config = tf.getKernel('MaxPoolWithArgmax', 'wasm');
      assert.ok(config);
      tf.unregisterKernel('MaxPoolWithArgmax', 'wasm');
      try {
        assert.equal(tf.getKernel('MaxPoolWithArgmax', 'wasm'), undefined);
        withoutLeak(checkTensorPooling);
      } finally {
        tf.registerKernel(config);
      }
      assert.ok(tf.getKernel('MaxPoolWithArgmax', 'wasm'));
    });

    it('bilinear uses half-pixel centres (naive = tf.image.resizeBilinear(alignCorners false, halfPixelCenters true))', () => {
      const expected = [
        [1, 1.25, 1.75, 2],
        [1.5, 1.75, 2.25, 2.5],
        [2.5, 2.75, 3.25, 3.5],
        [3, 3.25, 3.75, 4],
      ];
      assert.ok(maxAbsDiff(bilinearUpsample(LECTURE_X, 2), expected) < 1e-12);
      assert.ok(maxAbsDiff(withoutLeak(() => tensorToGrid(tf.tidy(() => bilinearUpsampleTensor(gridToTensor(LECTURE_X), 2)))), expected) < 1e-6);
      for (const factor of [2, 3, 4]) {
        const x = randomGrid(4, 5, mulberry32(factor));
        const fromTfjs = withoutLeak(() => tensorToGrid(tf.tidy(() => bilinearUpsampleTensor(gridToTensor(x), factor))));
        assert.ok(maxAbsDiff(bilinearUpsample(x, factor), fromTfjs) < 1e-5, `factor ${factor}`);
      }
    });

    it('FCN bilinear kernels have the tent profile', () => {
      const tent4 = [0.25, 0.75, 0.75, 0.25];
      assert.deepEqual(bilinearKernel(4), tent4.map((a) => tent4.map((b) => a * b)));
      const tent3 = [0.5, 1, 0.5];
      assert.deepEqual(bilinearKernel(3), tent3.map((a) => tent3.map((b) => a * b)));
      assert.deepEqual([1, 2, 3, 4].map(bilinearKernelSize), [1, 4, 5, 8]);
    });

    it('learned upsampling with a bilinear kernel equals bilinear upsampling away from the border', () => {
      for (const factor of [2, 3, 4]) {
        const x = randomGrid(5, 5, mulberry32(100 + factor));
        const kernel = bilinearKernel(bilinearKernelSize(factor));
        const learned = learnedUpsample(x, kernel, factor);
        assert.deepEqual([learned.length, learned[0].length], [5 * factor, 5 * factor]);
        const interior = (g: Grid): Grid => g.slice(factor, -factor).map((row) => row.slice(factor, -factor));
        assert.ok(maxAbsDiff(interior(learned), interior(bilinearUpsample(x, factor))) < 1e-12, `factor ${factor}`);
        // …but not at the border, where the transposed conv sees zeros and bilinear clamps.
        assert.ok(Math.abs(learned[0][0] - bilinearUpsample(x, factor)[0][0]) > 1e-6);
        const fromTfjs = withoutLeak(() =>
          tensorToGrid(tf.tidy(() => learnedUpsampleTensor(gridToTensor(x), kernelToTensor(kernel), factor))),
        );
        assert.ok(maxAbsDiff(learned, fromTfjs) < TOL);
      }
    });

    it('upsamplingPadding gives o = i·stride', () => {
      assert.deepEqual(upsamplingPadding(4, 2), { padding: 1, outputPadding: 0 });
      assert.deepEqual(upsamplingPadding(3, 2), { padding: 1, outputPadding: 1 });
      assert.deepEqual(upsamplingPadding(5, 2), { padding: 2, outputPadding: 1 });
      assert.deepEqual(upsamplingPadding(1, 3), { padding: 0, outputPadding: 2 });
      for (const kernelSize of [1, 2, 3, 4, 5]) {
        for (const stride of [2, 3]) {
          const settings = upsamplingPadding(kernelSize, stride);
          assert.equal(transposedConvOutputSize({ inputSize: 3, kernelSize, stride, ...settings }), 3 * stride);
        }
      }
      // Explicit settings override the default.
      assert.equal(learnedUpsample(LECTURE_X, KERNEL_1_TO_9, 2, { padding: 0 }).length, 5);
    });
  });

  describe('DCGAN generator', () => {
    it('default: 4×4×1024 → 8×8×512 → 16×16×256 → 32×32×128 → 64×64×3, named layers', () => {
      withoutLeak(() => {
        const model = createDcganGenerator({ seed: 1 });
        try {
          assert.deepEqual(dcganStageShapes(model), [
            { name: 'project', shape: [4, 4, 1024] },
            { name: 'up1', shape: [8, 8, 512] },
            { name: 'up2', shape: [16, 16, 256] },
            { name: 'up3', shape: [32, 32, 128] },
            { name: 'up4', shape: [64, 64, 3] },
          ]);
          assert.deepEqual(model.inputs[0].shape, [null, 100]);
          assert.equal(model.getLayer('up4').getConfig().activation, 'tanh');
          assert.deepEqual(model.getLayer('up1').getWeights()[0].shape, [5, 5, 512, 1024]); // [k, k, outC, inC]
        } finally {
          model.dispose();
        }
      });
    });

    it('small generator runs on wasm, is seeded, and ends in tanh', () => {
      withoutLeak(() => {
        const options = { latentDim: 8, baseChannels: 16, seed: 3 };
        const model = createDcganGenerator(options);
        const twin = createDcganGenerator(options);
        const other = createDcganGenerator({ ...options, seed: 4 });
        try {
          assert.deepEqual(dcganStageShapes(model).map((s) => s.shape), [
            [4, 4, 16],
            [8, 8, 8],
            [16, 16, 4],
            [32, 32, 2],
            [64, 64, 3],
          ]);
          const z = tf.randomNormal([2, 8], 0, 1, 'float32', 7);
          const outputs = [model, twin, other].map((m) => m.predict(z) as tf.Tensor4D); // each [2, 64, 64, 3]
          const [out, outTwin, outOther] = outputs.map((t) => t.arraySync().flat(3));
          const shape = outputs[0].shape;
          tf.dispose([z, ...outputs]);
          const same = maxAbsDiff([out], [outTwin]);
          const differ = maxAbsDiff([out], [outOther]);
          const inRange = out.every((v) => Math.abs(v) <= 1);
          assert.deepEqual(shape, [2, 64, 64, 3]);
          assert.equal(same, 0);
          assert.ok(differ > 0);
          assert.ok(inRange);
        } finally {
          model.dispose();
          twin.dispose();
          other.dispose();
        }
      });
    });

    it('stages and kernelSize change the ladder', () => {
      withoutLeak(() => {
        const model = createDcganGenerator({ latentDim: 4, baseChannels: 8, stages: 2, kernelSize: 4, outputChannels: 1, seed: 0 });
        try {
          assert.deepEqual(dcganStageShapes(model), [
            { name: 'project', shape: [4, 4, 8] },
            { name: 'up1', shape: [8, 8, 4] },
            { name: 'up2', shape: [16, 16, 1] },
          ]);
          assert.deepEqual(model.getLayer('up2').getWeights()[0].shape, [4, 4, 1, 4]);
        } finally {
          model.dispose();
        }
      });
    });
  });

  describe('convolution explorer', () => {
    it('enumerates every setting, explains the impossible ones and matches tfjs on the valid ones', () => {
      const started = performance.now();
      const cases = withoutLeak(() => explorerCases({}, { seed: 5 }));
      const seconds = (performance.now() - started) / 1000;
      const r = EXPLORER_RANGES;
      const perMode = r.inputSize.length * r.kernelSize.length * r.stride.length * r.padding.length;
      assert.equal(cases.length, perMode + perMode * r.outputPadding.length); // 180 conv + 540 transposed
      assert.equal(cases.length, 720);
      // Validity worked out from the formulas directly, not through arithmetic.ts.
      const expectedValid = cases.filter((c) =>
        c.mode === 'conv'
          ? c.inputSize + 2 * c.padding >= c.kernelSize
          : c.outputPadding < c.stride && (c.inputSize - 1) * c.stride - 2 * c.padding + c.kernelSize + c.outputPadding >= 1,
      ).length;
      const valid = cases.filter((c) => c.valid);
      assert.equal(valid.length, expectedValid);
      assert.equal(valid.length, 520);
      for (const c of valid) {
        assert.ok(c.maxAbsDiff < TOL, `${c.mode} ${c.formula}: ${c.maxAbsDiff}`);
        assert.ok(c.outputSize >= 1 && c.formula.endsWith(`= ${c.outputSize}`));
        assert.equal(c.error, undefined);
      }
      for (const c of cases.filter((item) => !item.valid)) {
        assert.equal(c.outputSize, 0);
        assert.ok(Number.isNaN(c.maxAbsDiff));
        assert.match(c.error ?? '', /^(outputPadding|output size) must be .*\(got -?\d+/);
      }
      assert.ok(cases.filter((c) => c.mode === 'conv').every((c) => c.outputPadding === 0));
      const slide = cases.find(
        (c) => c.mode === 'transposed' && c.inputSize === 2 && c.kernelSize === 3 && c.stride === 2 && c.padding === 1 && c.outputPadding === 1,
      );
      assert.equal(slide?.formula, 'o = (2 − 1)·2 − 2·1 + 3 + 1 = 4');
      assert.ok(seconds < 10, `explorerCases took ${seconds.toFixed(2)} s`);
    });

    it('is reproducible from its seed and honours narrower ranges', () => {
      const narrow = { inputSize: [4], kernelSize: [3], stride: [1, 2], padding: [1] };
      const first = withoutLeak(() => explorerCases(narrow, { seed: 9 }));
      const again = withoutLeak(() => explorerCases(narrow, { seed: 9 }));
      assert.deepEqual(first, again);
      assert.equal(first.length, 2 + 2 * 3);
      assert.deepEqual(first.filter((c) => c.mode === 'conv').map((c) => c.outputSize), [4, 2]);
    });
  });

  describe('tensor hygiene', () => {
    it('leaves no tensors behind across the whole API', () => {
      const before = tf.memory().numTensors;
      const x = randomGrid(4, 4, mulberry32(1));
      const k = randomGrid(3, 3, mulberry32(2));
      conv2dTfjs(x, k, { stride: 2, padding: 1 });
      transposedConv2dTfjs([[1, 2], [3, 4]], k, { stride: 2, padding: 1, outputPadding: 1 });
      explorerCases({ inputSize: [3], kernelSize: [2] }, { seed: 1 });
      tf.tidy(() => {
        const t = gridToTensor(x);
        nearestUpsampleTensor(t, 2);
        bilinearUpsampleTensor(t, 2);
        learnedUpsampleTensor(t, kernelToTensor(bilinearKernel(4)), 2);
        const { pooled, switches } = maxPoolWithSwitchesTensor(t, 2);
        maxUnpoolTensor(pooled, switches, [1, 4, 4, 1]);
      });
      createDcganGenerator({ latentDim: 2, baseChannels: 8, stages: 1, seed: 1 }).dispose();
      assert.equal(tf.memory().numTensors, before);
    });
  });
});
