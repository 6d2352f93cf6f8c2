/**
 * The upsampling alternatives of lecture section 2, each as readable number[][] code and, where
 * tfjs has the op, as a tensor version the segmentation network uses (tests check they agree).
 *   nearest neighbour   — copy each pixel into a factor×factor block
 *   bed of nails        — the pixel in the block's top-left corner, zeros elsewhere
 *   max unpooling       — the pixel back where max pooling found it (Noh et al. 2015, DeconvNet)
 *   bilinear            — fixed interpolation; also a transposed conv with `bilinearKernel` (FCN)
 *   learned             — a transposed convolution whose kernel is trained
 */
import * as tf from '@tensorflow/tfjs';
import { type Grid, gridShape, zerosGrid } from './grid';
import { type TransposedConvOptions, transposedConv2dNaive } from './naive';
import { transposedConv2dTensor } from './tfjs';

function requireFactor(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a whole number ≥ 1 (got ${value}): the output is ${name} times larger per axis`);
  }
}

/** Each pixel becomes a factor×factor block of copies. */
export function nearestUpsample(x: Grid, factor: number): Grid {
  requireFactor('factor', factor);
  const [h, w] = gridShape(x, 'x');
  return Array.from({ length: h * factor }, (_, r) =>
    Array.from({ length: w * factor }, (__, c) => x[Math.floor(r / factor)][Math.floor(c / factor)]),
  );
}

/**
 * tf.image.resizeNearestNeighbor with alignCorners = false, halfPixelCenters = false: source pixel
 * ⌊dst / factor⌋, i.e. exact block copies for an integer factor (as `nearestUpsample`).
 */
export function nearestUpsampleTensor(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  requireFactor('factor', factor);
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [h * factor, w * factor], false, false); // [batch, h·f, w·f, c]
}

/** Each pixel goes to the top-left corner of its factor×factor block; the rest are zeros. */
export function bedOfNails(x: Grid, factor: number): Grid {
  requireFactor('factor', factor);
  const [h, w] = gridShape(x, 'x');
  const out = zerosGrid(h * factor, w * factor);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) out[r * factor][c * factor] = x[r][c];
  }
  return out;
}

export interface PooledWithSwitches {
  pooled: Grid;   // [⌊h/size⌋, ⌊w/size⌋]
  switches: Grid; // where each max came from, as the flat index row·w + col into x (tf.maxPoolWithArgmax's convention)
}

/**
 * size×size max pooling with stride = size ('valid': leftover rows/cols are dropped), remembering
 * where each maximum was. Ties go to the first in row-major order.
 */
export function maxPoolWithSwitches(x: Grid, size: number): PooledWithSwitches {
  requireFactor('size', size);
  const [h, w] = gridShape(x, 'x');
  if (size > h || size > w) throw new Error(`size must be ≤ the input's ${h}×${w} (got ${size}): a pooling window has to fit`);
  const oh = Math.floor(h / size);
  const ow = Math.floor(w / size);
  const pooled = zerosGrid(oh, ow);
  const switches = zerosGrid(oh, ow);
  for (let u = 0; u < oh; u++) {
    for (let v = 0; v < ow; v++) {
      let best = -Infinity;
      let where = -1;
      for (let r = u * size; r < (u + 1) * size; r++) {
        for (let c = v * size; c < (v + 1) * size; c++) {
          if (x[r][c] > best) {
            best = x[r][c];
            where = r * w + c;
          }
        }
      }
      pooled[u][v] = best;
      switches[u][v] = where;
    }
  }
  return { pooled, switches };
}

/**
 * Max unpooling (Noh et al. 2015): zeros everywhere except each pooled value, put back at its
 * switch. outputSize is the size of the pooled input: n for n×n, or [rows, cols].
 */
export function maxUnpool(pooled: Grid, switches: Grid, outputSize: number | [number, number]): Grid {
  const [rows, cols] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
  const [ph, pw] = gridShape(pooled, 'pooled');
  const [sh, sw] = gridShape(switches, 'switches');
  if (ph !== sh || pw !== sw) throw new Error(`switches must have pooled's shape ${ph}×${pw} (got ${sh}×${sw})`);
  const out = zerosGrid(rows, cols);
  for (let u = 0; u < ph; u++) {
    for (let v = 0; v < pw; v++) {
      const s = switches[u][v];
      if (!Number.isInteger(s) || s < 0 || s >= rows * cols) {
        throw new Error(
          `switch ${s} at [${u}][${v}] is outside the ${rows}×${cols} output: outputSize must be the size of the pooled input`,
        );
      }
      out[Math.floor(s / cols)][s % cols] = pooled[u][v];
    }
  }
  return out;
}

export interface PooledTensorWithSwitches {
  pooled: tf.Tensor4D;   // [batch, ⌊h/size⌋, ⌊w/size⌋, c]
  switches: tf.Tensor4D; // int32 flat indices ((b·h + row)·w + col)·c + ch into x (batch included)
}

// Keyed by the registered kernel itself, so a kernel re-registered later (a fix) is probed afresh.
const argmaxProbe = new WeakMap<object, boolean>();

/**
 * Whether tf.maxPoolWithArgmax is registered *and correct* on the current backend. tfjs-backend-wasm
 * 4.22's kernel starts each window's running max at FLT_MIN (std::numeric_limits<float>::min(), the
 * smallest *positive* float) instead of −∞, so a window whose values are all negative comes back as
 * 1.2e-38 with switch 0 (cpu is right). Probed once per kernel on a 2×2
 * all-negative window.
 */
export function maxPoolWithArgmaxWorks(): boolean {
  const kernel = tf.getKernel('MaxPoolWithArgmax', tf.getBackend());
  if (kernel === undefined) return false;
  const known = argmaxProbe.get(kernel);
  if (known !== undefined) return known;
  const probe = tf.tensor4d([-3, -1, -4, -2], [1, 2, 2, 1]); // max −1 at flat index 1
  const { result, indexes } = tf.maxPoolWithArgmax(probe, 2, 2, 'valid');
  const works = result.dataSync()[0] === -1 && indexes.dataSync()[0] === 1;
  tf.dispose([probe, result, indexes]);
  argmaxProbe.set(kernel, works);
  return works;
}

/**
 * Max pooling (size×size, stride size, 'valid') with switches, on tensors.
 * - tf.maxPoolWithArgmax where it works (cpu);
 * - where it is registered but wrong on negative windows (wasm, see `maxPoolWithArgmaxWorks`): the
 *   switches come from the same op on x − min(x) + 1 (all positive, same argmax) and the values
 *   from tf.maxPool(x), so everything stays on the backend and maxPool's gradient still flows;
 * - where it is missing: the naive loop (values read back to JavaScript, no gradient).
 * Switches include the batch index so that `maxUnpoolTensor` can scatter the whole batch at once.
 */
export function maxPoolWithSwitchesTensor(x: tf.Tensor4D, size: number): PooledTensorWithSwitches {
  requireFactor('size', size);
  if (tf.getKernel('MaxPoolWithArgmax', tf.getBackend()) !== undefined) {
    if (maxPoolWithArgmaxWorks()) {
      const { result, indexes } = tf.maxPoolWithArgmax(x, size, size, 'valid', true);
      return { pooled: result as tf.Tensor4D, switches: indexes as tf.Tensor4D };
    }
    const switches = tf.tidy(() => {
      const positive = x.sub(x.min()).add(1) as tf.Tensor4D; // [batch, h, w, c], every value ≥ 1
      return tf.maxPoolWithArgmax(positive, size, size, 'valid', true).indexes as tf.Tensor4D; // [batch, h/size, w/size, c]
    });
    return { pooled: tf.maxPool(x, size, size, 'valid'), switches };
  }
  return naiveMaxPoolWithSwitchesTensor(x, size);
}

function naiveMaxPoolWithSwitchesTensor(x: tf.Tensor4D, size: number): PooledTensorWithSwitches {
  const [batch, h, w, channels] = x.shape;
  const oh = Math.floor(h / size);
  const ow = Math.floor(w / size);
  const xs = x.arraySync(); // [batch][h][w][c]
  const pooled: number[] = [];
  const switches: number[] = [];
  for (let b = 0; b < batch; b++) {
    for (let u = 0; u < oh; u++) {
      for (let v = 0; v < ow; v++) {
        for (let ch = 0; ch < channels; ch++) {
          let best = -Infinity;
          let where = -1;
          for (let r = u * size; r < (u + 1) * size; r++) {
            for (let c = v * size; c < (v + 1) * size; c++) {
              if (xs[b][r][c][ch] > best) {
                best = xs[b][r][c][ch];
                where = ((b * h + r) * w + c) * channels + ch;
              }
            }
          }
          pooled.push(best);
          switches.push(where);
        }
      }
    }
  }
  return {
    pooled: tf.tensor4d(pooled, [batch, oh, ow, channels]),
    switches: tf.tensor4d(switches, [batch, oh, ow, channels], 'int32'),
  };
}

/** Scatters each pooled value to its switch in a zero tensor of `outputShape` (the pooled input's shape). */
export function maxUnpoolTensor(pooled: tf.Tensor4D, switches: tf.Tensor4D, outputShape: [number, number, number, number]): tf.Tensor4D {
  return tf.tidy(() => {
    const total = outputShape.reduce((a, b) => a * b, 1);
    const indices = switches.reshape([-1, 1]); // [n, 1]
    const flat = tf.scatterND(indices, pooled.reshape([-1]), [total]); // [b·h·w·c]
    return flat.reshape(outputShape) as tf.Tensor4D; // [batch, h, w, c]
  });
}

/**
 * Bilinear upsampling with half-pixel centres: output pixel o samples the input at
 * (o + 0.5)/factor − 0.5, clamped to the image. This is tf.image.resizeBilinear(alignCorners =
 * false, halfPixelCenters = true), PyTorch's interpolate(align_corners=False) and TF 2's
 * tf.image.resize — and, away from the border, the FCN bilinear transposed convolution. tfjs's
 * default (halfPixelCenters = false) shifts the image by half an input pixel towards the top-left.
 */
export function bilinearUpsample(x: Grid, factor: number): Grid {
  requireFactor('factor', factor);
  const [h, w] = gridShape(x, 'x');
  const sample = (o: number, n: number): [number, number, number] => {
    const src = Math.min(Math.max((o + 0.5) / factor - 0.5, 0), n - 1);
    const lo = Math.floor(src);
    return [lo, Math.min(lo + 1, n - 1), src - lo];
  };
  return Array.from({ length: h * factor }, (_, r) => {
    const [r0, r1, tr] = sample(r, h);
    return Array.from({ length: w * factor }, (__, c) => {
      const [c0, c1, tc] = sample(c, w);
      const top = x[r0][c0] * (1 - tc) + x[r0][c1] * tc;
      const bottom = x[r1][c0] * (1 - tc) + x[r1][c1] * tc;
      return top * (1 - tr) + bottom * tr;
    });
  });
}

/** tf.image.resizeBilinear with the same choice as `bilinearUpsample` (alignCorners false, halfPixelCenters true). */
export function bilinearUpsampleTensor(x: tf.Tensor4D, factor: number): tf.Tensor4D {
  requireFactor('factor', factor);
  const [, h, w] = x.shape;
  return tf.image.resizeBilinear(x, [h * factor, w * factor], false, true); // [batch, h·f, w·f, c]
}

/**
 * The (padding, outputPadding) with which a transposed convolution of kernelSize and stride
 * upsamples by exactly `stride` (o = i·s), cropping as evenly as PyTorch's convention allows
 * (the extra row, if any, is cropped at the top). tf.layers' 'same' crops it at the bottom instead.
 */
export function upsamplingPadding(kernelSize: number, stride: number): { padding: number; outputPadding: number } {
  const padding = Math.max(0, Math.ceil((kernelSize - stride) / 2));
  const outputPadding = stride - kernelSize + 2 * padding; // from i·s = (i − 1)·s − 2p + k + outputPadding
  if (outputPadding >= stride) {
    throw new Error(
      `kernelSize ${kernelSize} with stride ${stride} cannot upsample by exactly ${stride} with symmetric cropping ` +
        `(kernelSize − stride is odd and outputPadding must be < stride); use an odd kernelSize or pass padding and outputPadding`,
    );
  }
  return { padding, outputPadding };
}

/**
 * Learned upsampling: a transposed convolution with a (trainable) kernel. By default it upsamples
 * by exactly `stride` (see `upsamplingPadding`); pass padding/outputPadding to override.
 */
export function learnedUpsample(x: Grid, kernel: Grid, stride: number, options: Omit<TransposedConvOptions, 'stride'> = {}): Grid {
  const defaults = upsamplingPaddingOrExplicit(gridShape(kernel, 'kernel')[0], stride, options);
  return transposedConv2dNaive(x, kernel, { stride, ...defaults });
}

/** `learnedUpsample` on tensors: x [batch, h, w, inC], filter [k, k, outC, inC]. */
export function learnedUpsampleTensor(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  stride: number,
  options: Omit<TransposedConvOptions, 'stride'> = {},
): tf.Tensor4D {
  const defaults = upsamplingPaddingOrExplicit(filter.shape[0], stride, options);
  return transposedConv2dTensor(x, filter, { stride, ...defaults }); // [batch, oh, ow, outC]
}

function upsamplingPaddingOrExplicit(
  kernelSize: number,
  stride: number,
  options: Omit<TransposedConvOptions, 'stride'>,
): { padding: number; outputPadding: number } {
  if (options.padding !== undefined || options.outputPadding !== undefined) {
    return { padding: options.padding ?? 0, outputPadding: options.outputPadding ?? 0 };
  }
  return upsamplingPadding(kernelSize, stride);
}

/** The FCN kernel size for upsampling by `factor`: 2·factor − factor mod 2. */
export function bilinearKernelSize(factor: number): number {
  requireFactor('factor', factor);
  return 2 * factor - (factor % 2);
}

/**
 * The size×size bilinear-interpolation filter FCN (Long et al. 2015) initialises its transposed
 * convolutions with: w[r][c] = (1 − |r − centre|/f)·(1 − |c − centre|/f), f = ⌈size/2⌉. Used with
 * stride f and `upsamplingPadding`, it reproduces `bilinearUpsample` away from the border.
 */
export function bilinearKernel(size: number): Grid {
  requireFactor('size', size);
  const f = Math.floor((size + 1) / 2);
  const centre = size % 2 === 1 ? f - 1 : f - 0.5;
  const tent = (i: number): number => 1 - Math.abs(i - centre) / f;
  return Array.from({ length: size }, (_, r) => Array.from({ length: size }, (__, c) => tent(r) * tent(c)));
}
