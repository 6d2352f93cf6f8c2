/**
 * Small custom ops for the recurrent models, on the wasm backend.
 *
 * An RNN step reads one time step of a [time, batch, …] tensor, the loss reads every step's
 * state back as one tensor, and embeddings are row lookups. Measured on this project's shapes
 * (CPU time, one wasm thread; see the report of issue 4):
 *
 * - `unstackTime(x)` splits the first axis with one memcpy per step (a registered multi-output
 *   kernel, `TranslationUnstack`, on wasm; `tf.unstack` elsewhere). Forward as fast as
 *   tf.unstack; with its gradient (`tf.stack`, a Concat without copies) about 2× faster on
 *   [50, 64, 192].
 * - `stackTime(xs)` is `tf.stack` whose gradient is `unstackTime`.
 * - `splitColumns(x, parts)` is `tf.split(x, parts, 1)` for a [rows, parts·n] matrix (the three
 *   gates of a GRU computed by one matMul), reading wasm memory in place; gradient: a Concat.
 * - `lookupRows(table, ids)` is an embedding lookup in JavaScript; its gradient is a scatter-add
 *   of rows, also in JavaScript — about 3× faster than the gradient of `tf.gather` on wasm
 *   (UnsortedSegmentSum via scatterNd), which every training step needs.
 *
 * Each is checked against the plain tfjs op, values and gradients, in test/translation.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const UNSTACK = 'TranslationUnstack';
const SPLIT = 'TranslationSplitColumns';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };

function unstackWasm({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const x = inputs.x as tf.TensorInfo;
  const wasm = backend as BackendWasm;
  const [steps, ...rest] = x.shape;
  const n = tf.util.sizeFromShape(rest);
  const outs: tf.TensorInfo[] = [];
  for (let t = 0; t < steps; t++) {
    const out = wasm.makeOutput(rest, x.dtype);
    // Re-read the input's view after every allocation: growing wasm memory detaches old views.
    const source = wasm.typedArrayFromHeap(x as Parameters<BackendWasm['typedArrayFromHeap']>[0]);
    wasm.typedArrayFromHeap(out as Parameters<BackendWasm['typedArrayFromHeap']>[0]).set(source.subarray(t * n, (t + 1) * n));
    outs.push(out);
  }
  return outs;
}

function splitColumnsWasm({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const x = inputs.x as tf.TensorInfo;
  const wasm = backend as BackendWasm;
  const parts = attrs.parts as number;
  const [rows, cols] = x.shape;
  const n = cols / parts;
  const outs: tf.TensorInfo[] = [];
  for (let p = 0; p < parts; p++) outs.push(wasm.makeOutput([rows, n], x.dtype));
  const source = wasm.typedArrayFromHeap(x as Parameters<BackendWasm['typedArrayFromHeap']>[0]);
  outs.forEach((out, p) => {
    const target = wasm.typedArrayFromHeap(out as Parameters<BackendWasm['typedArrayFromHeap']>[0]);
    for (let r = 0; r < rows; r++) target.set(source.subarray(r * cols + p * n, r * cols + (p + 1) * n), r * n);
  });
  return outs;
}

let registered = false;

function register(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel(UNSTACK, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: UNSTACK, backendName: 'wasm', kernelFunc: unstackWasm as unknown as tf.KernelFunc });
  }
  if (tf.getKernel(SPLIT, 'wasm') === undefined) {
    tf.registerKernel({ kernelName: SPLIT, backendName: 'wasm', kernelFunc: splitColumnsWasm as unknown as tf.KernelFunc });
  }
  if (tf.getGradient(SPLIT) === undefined) {
    tf.registerGradient({
      kernelName: SPLIT,
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => tf.concat(Array.isArray(dy) ? dy : [dy], 1) }),
    });
  }
  if (tf.getGradient(UNSTACK) === undefined) {
    tf.registerGradient({
      kernelName: UNSTACK,
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => tf.stack(Array.isArray(dy) ? dy : [dy]) }),
    });
  }
}

/** x[0], x[1], … along the first axis (time-major sequences): tf.unstack(x), fast on wasm. */
export function unstackTime(x: tf.Tensor): tf.Tensor[] {
  if (x.rank < 2) throw new Error(`unstackTime: expects a tensor of rank ≥ 2, [time, …] (got shape [${x.shape.join(', ')}])`);
  if (tf.getBackend() !== 'wasm') return tf.unstack(x);
  register();
  if (x.shape[0] === 1) return [x.reshape(x.shape.slice(1))];
  return tf.engine().runKernel(UNSTACK, { x }, {}) as unknown as tf.Tensor[];
}

/** tf.split(x, parts, 1) of a matrix [rows, parts·n] into `parts` matrices [rows, n], fast on wasm. */
export function splitColumns(x: tf.Tensor, parts: number): tf.Tensor[] {
  if (x.rank !== 2 || (x.shape[1] as number) % parts !== 0) {
    throw new Error(`splitColumns: expects a matrix whose columns divide into ${parts} equal parts (got shape [${x.shape.join(', ')}])`);
  }
  if (tf.getBackend() !== 'wasm') return tf.split(x, parts, 1);
  register();
  return tf.engine().runKernel(SPLIT, { x }, { parts }) as unknown as tf.Tensor[];
}

/** tf.stack(xs) along a new first axis, whose gradient is the fast unstackTime. */
export function stackTime(xs: tf.Tensor[]): tf.Tensor {
  if (xs.length === 0) throw new Error('stackTime: needs at least one tensor');
  if (tf.getBackend() !== 'wasm' || xs.length === 1) return tf.stack(xs);
  const op = tf.customGrad((...args: unknown[]) => {
    const inputs = args.slice(0, xs.length) as tf.Tensor[]; // customGrad appends its `save` function
    return { value: tf.stack(inputs), gradFunc: (dy: tf.Tensor) => unstackTime(dy) };
  });
  return op(...xs);
}

/**
 * Rows of `table` ([rows, width]) picked by `ids`: [ids.length, width], the same as
 * tf.gather(table, ids), differentiable with respect to the table. Ids must be integers in
 * [0, rows).
 */
export function lookupRows(table: tf.Tensor, ids: ArrayLike<number>): tf.Tensor2D {
  if (table.rank !== 2) throw new Error(`lookupRows: the table must be 2-D [rows, width] (got shape [${table.shape.join(', ')}])`);
  const [rows, width] = table.shape as [number, number];
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= rows) {
      throw new Error(`lookupRows: id ${id} at position ${i} is outside the table's ${rows} rows (ids must be integers in [0, ${rows}))`);
    }
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const values = (args[0] as tf.Tensor).dataSync() as Float32Array;
    const out = new Float32Array(n * width);
    for (let i = 0; i < n; i++) out.set(values.subarray(ids[i] * width, (ids[i] + 1) * width), i * width);
    return {
      value: tf.tensor2d(out, [n, width]),
      gradFunc: (dy: tf.Tensor) => scatterRows(dy, ids, rows),
    };
  });
  return op(table) as tf.Tensor2D;
}

/**
 * The gradient of a row lookup: rows[i] is added into row ids[i] of a [rows, width] zero matrix
 * (ids that repeat add up). `grad` is [ids.length, width].
 */
export function scatterRows(grad: tf.Tensor, ids: ArrayLike<number>, rows: number): tf.Tensor2D {
  const width = grad.shape[1] as number;
  if (grad.rank !== 2 || grad.shape[0] !== ids.length) {
    throw new Error(`scatterRows: expects a gradient [${ids.length}, width] (got shape [${grad.shape.join(', ')}])`);
  }
  const g = grad.dataSync() as Float32Array;
  const acc = new Float32Array(rows * width);
  for (let i = 0; i < ids.length; i++) {
    const o = ids[i] * width;
    for (let k = 0; k < width; k++) acc[o + k] += g[i * width + k];
  }
  return tf.tensor2d(acc, [rows, width]);
}
