/**
 * Micro-benchmarks of the wasm kernels lib/backend/wasm-training.ts adds or replaces, on the
 * shapes of the bench workloads: median ms per call, and for replacements the wasm backend's own
 * kernel on the same inputs and the ratio. Not a test (bench/check.ts checks the values).
 * The same inputs are reused call after call, so XNNPACK operators that the backend caches by
 * a weight tensor's id (matmul, conv) are built once; in training the gradient operands are
 * new every step and pay that packing too.
 *
 *   tsx bench/kernels.ts [--reps N] [--threads N] [--filter TEXT]
 */
import * as tf from '@tensorflow/tfjs';
import { setup } from '../lib/runtime';
import { internals } from '../lib/backend/wasm-training';
import { median } from './child';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

interface Case {
  kernel: string;
  label: string;
  inputs: () => Record<string, tf.Tensor>;
  attrs: object;
  /** Multiply-adds per call, for GFLOP/s. */
  macs?: number;
}

const r = (shape: number[]) => tf.randomNormal(shape, 0, 1, 'float32', 7);

function convAttrs(strides: number, pad: 'same' | 'valid', extra: object) {
  return { strides, pad, dataFormat: 'NHWC', dimRoundingMode: undefined, dilations: 1, ...extra };
}

const CASES: Case[] = [
  { kernel: 'Conv2DBackpropFilter', label: 'seg conv2 3×3 16→32, x [16,32,32,16]', inputs: () => ({ x: r([16, 32, 32, 16]), dy: r([16, 32, 32, 32]) }),
    attrs: convAttrs(1, 'same', { filterShape: [3, 3, 16, 32] }), macs: 16 * 32 * 32 * 9 * 16 * 32 },
  { kernel: 'Conv2DBackpropFilter', label: 'seg transposed 3×3 s2 (dW), dy [16,32,32,32]', inputs: () => ({ x: r([16, 32, 32, 32]), dy: r([16, 16, 16, 64]) }),
    attrs: convAttrs(2, 'same', { filterShape: [3, 3, 32, 64] }), macs: 16 * 16 * 16 * 9 * 32 * 64 },
  { kernel: 'Conv2DBackpropFilter', label: 'stn loc conv1 5×5 1→20, x [64,60,60,1]', inputs: () => ({ x: r([64, 60, 60, 1]), dy: r([64, 56, 56, 20]) }),
    attrs: convAttrs(1, 'valid', { filterShape: [5, 5, 1, 20] }), macs: 64 * 56 * 56 * 25 * 20 },
  { kernel: 'Conv2DBackpropFilter', label: 'stn loc conv2 5×5 20→20, x [64,28,28,20]', inputs: () => ({ x: r([64, 28, 28, 20]), dy: r([64, 24, 24, 20]) }),
    attrs: convAttrs(1, 'valid', { filterShape: [5, 5, 20, 20] }), macs: 64 * 24 * 24 * 25 * 20 * 20 },
  { kernel: 'Conv2DBackpropFilter', label: 'stn cls conv2 3×3 32→64, x [64,14,14,32]', inputs: () => ({ x: r([64, 14, 14, 32]), dy: r([64, 14, 14, 64]) }),
    attrs: convAttrs(1, 'same', { filterShape: [3, 3, 32, 64] }), macs: 64 * 14 * 14 * 9 * 32 * 64 },
  { kernel: 'Conv2D', label: '(reference) stn loc conv2 forward 5×5 20→20', inputs: () => ({ x: r([64, 28, 28, 20]), filter: r([5, 5, 20, 20]) }),
    attrs: convAttrs(1, 'valid', {}), macs: 64 * 24 * 24 * 25 * 20 * 20 },
  { kernel: 'Conv2DBackpropInput', label: 'seg transposed conv 3×3 s2 64→32 → [16,32,32,32]', inputs: () => ({ dy: r([16, 16, 16, 64]), filter: r([3, 3, 32, 64]) }),
    attrs: convAttrs(2, 'same', { inputShape: [16, 32, 32, 32] }), macs: 16 * 16 * 16 * 9 * 32 * 64 },
  { kernel: 'Conv2DBackpropInput', label: 'stn loc conv2 dx 5×5 20→20', inputs: () => ({ dy: r([64, 24, 24, 20]), filter: r([5, 5, 20, 20]) }),
    attrs: convAttrs(1, 'valid', { inputShape: [64, 28, 28, 20] }), macs: 64 * 24 * 24 * 25 * 20 * 20 },
  { kernel: 'MaxPoolGrad', label: 'stn 2×2 pool of [64,56,56,20]', inputs: () => ({ dy: r([64, 28, 28, 20]), input: r([64, 56, 56, 20]), output: r([64, 28, 28, 20]) }),
    attrs: { filterSize: 2, strides: 2, pad: 'valid', dimRoundingMode: undefined } },
  { kernel: 'MaxPoolGrad', label: 'seg 2×2 pool of [16,64,64,16]', inputs: () => ({ dy: r([16, 32, 32, 16]), input: r([16, 64, 64, 16]), output: r([16, 32, 32, 16]) }),
    attrs: { filterSize: 2, strides: 2, pad: 'valid', dimRoundingMode: undefined } },
  { kernel: 'BatchMatMul', label: 's2s dh = dgates·Whᵀ [64,384]·[128,384]ᵀ', inputs: () => ({ a: r([1, 64, 384]), b: r([1, 128, 384]) }),
    attrs: { transposeA: false, transposeB: true }, macs: 64 * 384 * 128 },
  { kernel: 'BatchMatMul', label: 's2s dW = hᵀ·dgates [64,128]ᵀ·[64,384]', inputs: () => ({ a: r([1, 64, 128]), b: r([1, 64, 384]) }),
    attrs: { transposeA: true, transposeB: false }, macs: 64 * 384 * 128 },
  { kernel: 'BatchMatMul', label: 's2s input projection dW [1280,64]ᵀ·[1280,384]', inputs: () => ({ a: r([1, 1280, 64]), b: r([1, 1280, 384]) }),
    attrs: { transposeA: true, transposeB: false }, macs: 1280 * 64 * 384 },
  { kernel: 'BatchMatMul', label: '(reference) plain [64,128]·[128,384]', inputs: () => ({ a: r([1, 64, 128]), b: r([1, 128, 384]) }),
    attrs: { transposeA: false, transposeB: false }, macs: 64 * 384 * 128 },
  { kernel: 'Unpack', label: 's2s unstack [20,64,384] along time', inputs: () => ({ value: r([20, 64, 384]) }), attrs: { axis: 0 } },
  { kernel: 'Slice', label: 'row block [64,384] of [1280,384]', inputs: () => ({ x: r([1280, 384]) }), attrs: { begin: [64, 0], size: [64, 384] } },
  { kernel: 'SplitV', label: 'GRU gates [64,384] → 3 × [64,128]', inputs: () => ({ x: r([64, 384]) }), attrs: { numOrSizeSplits: 3, axis: 1 } },
  { kernel: 'Identity', label: 'clone of [64,56,56,20]', inputs: () => ({ x: r([64, 56, 56, 20]) }), attrs: {} },
  { kernel: 'GatherV2', label: 'stn sampler: 200704 scalars of [230400]', inputs: () => ({
    x: r([230400]), indices: tf.randomUniform([200704], 0, 230400, 'int32', 3) }), attrs: { axis: 0, batchDims: 0 } },
  { kernel: 'Sum', label: 'bias gradient [64,56,56,20] → [20]', inputs: () => ({ x: r([64, 56, 56, 20]) }), attrs: { axis: [0, 1, 2], keepDims: false } },
  { kernel: 'Tanh', label: 's2s attention energies [64,20,128]', inputs: () => ({ x: r([64, 20, 128]) }), attrs: {} },
  { kernel: 'UnsortedSegmentSum', label: 'embedding gradient [1280,64] into 40 rows', inputs: () => ({
    x: r([1280, 64]), segmentIds: tf.randomUniform([1280], 0, 40, 'int32', 5) }), attrs: { numSegments: 40 } },
];

/**
 * Median wall ms per call, and mean CPU ms per call (this process, all threads): on a shared,
 * loaded machine the CPU time still says what the kernel costs when it has a core.
 */
function timeKernel(c: Case, inputs: Record<string, tf.Tensor>, reps: number): { wall: number; cpu: number } {
  const once = () => {
    const out = tf.engine().runKernel(c.kernel, inputs as tf.NamedTensorMap, c.attrs as tf.NamedAttrMap);
    tf.dispose(out as tf.Tensor | tf.Tensor[]);
  };
  once(); once();
  const times: number[] = [];
  const c0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    once();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(c0);
  return { wall: median(times), cpu: (cpu.user + cpu.system) / 1000 / reps };
}

/** Runs f with the wasm backend's own kernel registered in place of ours, then puts ours back. */
function withStock<T>(kernel: string, f: () => T): T | undefined {
  const stock = internals.stockKernel(kernel);
  if (stock === undefined) return undefined;
  const ours = tf.getKernel(kernel, 'wasm')!;
  tf.unregisterKernel(kernel, 'wasm');
  tf.registerKernel(stock);
  try { return f(); } finally {
    tf.unregisterKernel(kernel, 'wasm');
    tf.registerKernel(ours);
  }
}

async function main(): Promise<void> {
  const reps = Number(arg('reps', '9'));
  const threads = Number(arg('threads', '1'));
  const filter = arg('filter', '');
  await setup({ backend: 'wasm', quiet: true, threads });
  console.log(`wasm kernels, median of ${reps} calls, XNNPACK threads: ${threads}`);
  console.log('| kernel | case | ours ms (CPU ms) | ours GFLOP/s | stock ms (CPU ms) | stock / ours (CPU) |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const c of CASES) {
    if (filter && !`${c.kernel} ${c.label}`.includes(filter)) continue;
    const inputs = c.inputs();
    const ours = timeKernel(c, inputs, reps);
    const stock = withStock(c.kernel, () => timeKernel(c, inputs, Math.max(3, Math.ceil(reps / 3))));
    tf.dispose(Object.values(inputs));
    const gflops = c.macs ? (2 * c.macs / ours.wall / 1e6).toFixed(1) : '';
    const ms = (t: { wall: number; cpu: number }) => `${t.wall.toFixed(2)} (${t.cpu.toFixed(2)})`;
    console.log(`| ${c.kernel} | ${c.label} | ${ms(ours)} | ${gflops} | ${stock === undefined ? '(none)' : ms(stock)} | ` +
      `${stock === undefined ? '' : `${(stock.wall / ours.wall).toFixed(1)}× (${(stock.cpu / ours.cpu).toFixed(1)}×)`} |`);
  }
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
