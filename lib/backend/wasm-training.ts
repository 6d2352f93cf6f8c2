/**
 * Training kernels for the wasm backend.
 *
 * @tensorflow/tfjs-backend-wasm 4.22 runs inference well but lacks kernels that gradients need
 * (the weight gradient of every conv2d / conv2dTranspose, the gradient of `gather` used by every
 * embedding, the depthwise-conv gradients). Without them `tf.grad` and `model.fit` throw
 * "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'". Registering them as
 * *kernels* (rather than patching ops) also fixes tf.layers and the fused ops, which call
 * the kernels directly.
 *
 * Two kernels the backend has are replaced: Conv2DBackpropInput (slow scalar loops) and
 * MaxPoolGrad (loses the gradient of all-negative windows); see installWasmTrainingKernels.
 *
 * Each kernel here is a composition of kernels the wasm backend has, called as plain kernel
 * functions on TensorInfos: their outputs never become tf.Tensors, so the engine tracks
 * nothing, and every intermediate is released with `backend.disposeData` (see `Scratch`).
 * Running tf ops inside a kernel instead leaks the tensors they create (2 per call, seen).
 */
import * as tf from '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm'; // also registers the 'wasm' backend and its kernels
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { installAdamKernel } from './adam-kernel';
import { simdRunner, type SimdRunner } from './simd';

type TensorInfo = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap };
type KernelImpl = (args: KernelArgs) => TensorInfo;
type Pair = [number, number];
/** Padding per spatial side; negative means crop. */
interface Sides { top: number; bottom: number; left: number; right: number }
/** [[0, 0], [top, bottom], [left, right], [0, 0]]: what the conv kernels accept as explicit padding. */
type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

const BACKEND = 'wasm';

/**
 * Runs wasm kernels on TensorInfos and remembers every output, so that a composite kernel can
 * release its intermediates in one `finally`, even when a step throws.
 */
class Scratch {
  private readonly owned: TensorInfo[] = [];
  private readonly aliases: TensorInfo[] = [];

  constructor(readonly backend: BackendWasm) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
    const kernel = tf.getKernel(kernelName, BACKEND);
    if (kernel === undefined) throw new Error(`wasm-training: the wasm backend has no '${kernelName}' kernel`);
    return this.runConfig(kernel, inputs, attrs);
  }

  /** Runs a given kernel (e.g. the stock one this module replaced) rather than the registered one. */
  runConfig(kernel: tf.KernelConfig, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
    const kernelName = kernel.kernelName;
    const out = kernel.kernelFunc({
      inputs: inputs as tf.NamedTensorInfoMap,
      attrs: attrs as tf.NamedAttrMap,
      backend: this.backend,
    });
    if (Array.isArray(out)) throw new Error(`wasm-training: '${kernelName}' returned several outputs`);
    this.owned.push(out);
    return out;
  }

  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }

  transpose(x: TensorInfo, perm: number[]): TensorInfo {
    return this.run('Transpose', { x }, { perm });
  }

  /**
   * A new tensor id for x's memory (no copy), released without freeing the memory. For a
   * matmul's right operand: the backend caches its XNNPACK operator by that id, with the shape
   * of the first call, so a reshape of x (which keeps x's id) presented with a different shape
   * than some earlier use would run the cached operator on the wrong shape.
   */
  alias(x: TensorInfo, shape: number[], elementOffset = 0): TensorInfo {
    if (elementOffset + tf.util.sizeFromShape(shape) > tf.util.sizeFromShape(x.shape)) throw new Error('wasm-training: alias beyond its source');
    const bytes = elementOffset * (x.dtype === 'bool' ? 1 : 4);
    const out = this.backend.makeOutput(shape, x.dtype, this.backend.getMemoryOffset(x.dataId) + bytes);
    this.aliases.push(out);
    return out;
  }

  /** A TensorInfo the caller built itself (e.g. with makeOutput) that must be released too. */
  adopt(x: TensorInfo): TensorInfo {
    this.owned.push(x);
    return x;
  }

  /** Hands `x` to the caller: it is the kernel's output and must outlive the scratch. */
  keep(x: TensorInfo): TensorInfo {
    const i = this.owned.lastIndexOf(x);
    if (i < 0) throw new Error('wasm-training: keep() of a TensorInfo the scratch does not own');
    this.owned.splice(i, 1);
    return x;
  }

  dispose(): void {
    // Reshape shares the dataId of its input and bumps its refCount, so each disposeData
    // releases exactly the reference the corresponding kernel call created.
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
    // An alias's memory belongs to its source: drop the id (and its cached operators), not the memory.
    const map = (this.backend as unknown as { dataIdMap: tf.DataStorage<{ id: number }> }).dataIdMap;
    for (const t of this.aliases) {
      this.backend.wasm.tfjs.disposeData(map.get(t.dataId).id);
      map.delete(t.dataId);
    }
    this.aliases.length = 0;
  }
}

/** Runs `body` with a fresh scratch; returns the TensorInfo it returns, releasing everything else. */
function compose(backend: tf.KernelBackend, body: (s: Scratch) => TensorInfo): TensorInfo {
  const s = new Scratch(backend as BackendWasm);
  try {
    return s.keep(body(s));
  } finally {
    s.dispose();
  }
}

/** A named kernel input; the engine always passes them, the check only narrows the type. */
function input(inputs: tf.NamedTensorInfoMap, name: string): TensorInfo {
  const t = inputs[name];
  if (t === undefined) throw new Error(`wasm-training: missing kernel input '${name}'`);
  return t;
}

function pair(v: number | number[] | undefined, fallback: number): Pair {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  return [v[0], v[1]];
}

function explicit(top: number, bottom: number, left: number, right: number): ExplicitPadding {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

function assertNhwc(kernelName: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`wasm-training: ${kernelName} supports only NHWC, got '${dataFormat}'`);
  }
}

/**
 * A stride-1 Conv2D or DepthwiseConv2dNative whose padding may be negative on some sides. The
 * conv kernels take only padding ≥ 0, so negative sides are cropped from x first (a Slice,
 * which copies through JavaScript: only unusual explicit paddings larger than the filter get
 * here). Transposed convolutions need it: their padding is the filter's reach minus the
 * forward padding.
 */
function convSignedPadding(
  s: Scratch, kernelName: 'Conv2D' | 'DepthwiseConv2dNative', x: TensorInfo, filter: TensorInfo,
  pads: Sides, dilations: Pair,
): TensorInfo {
  const [b, h, w, c] = x.shape;
  const crop = { top: Math.max(0, -pads.top), bottom: Math.max(0, -pads.bottom), left: Math.max(0, -pads.left), right: Math.max(0, -pads.right) };
  let cropped = x;
  if (crop.top > 0 || crop.bottom > 0 || crop.left > 0 || crop.right > 0) {
    const size = [b, h - crop.top - crop.bottom, w - crop.left - crop.right, c];
    if (size[1] <= 0 || size[2] <= 0) throw new Error('wasm-training: the padding crops the whole tensor');
    cropped = s.run('Slice', { x }, { begin: [0, crop.top, crop.left, 0], size });
  }
  return s.run(kernelName, { x: cropped, filter }, {
    strides: [1, 1], dilations,
    pad: explicit(Math.max(0, pads.top), Math.max(0, pads.bottom), Math.max(0, pads.left), Math.max(0, pads.right)),
    dataFormat: 'NHWC', dimRoundingMode: undefined,
  });
}

/**
 * Inserts stride−1 zeros after every row and column: [b, oh, ow, c] → [b, oh·sh, ow·sw, c].
 * The last sh−1 rows / sw−1 columns are zeros too; callers absorb them in their padding.
 * Done as reshape → pad → reshape so the work stays in the backend's C++ Pad kernel.
 */
function dilate(s: Scratch, x: TensorInfo, [sh, sw]: Pair): TensorInfo {
  if (sh === 1 && sw === 1) return x;
  const [b, oh, ow, c] = x.shape;
  const x6 = s.reshape(x, [b, oh, 1, ow, 1, c]);                               // [b, oh, 1, ow, 1, c]
  const paddings = [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]];
  const spread = s.run('PadV2', { x: x6 }, { paddings, constantValue: 0 });    // [b, oh, sh, ow, sw, c]
  return s.reshape(spread, [b, oh * sh, ow * sw, c]);                          // [b, oh·sh, ow·sw, c]
}

/**
 * Padding for the "full" correlation that computes a transposed convolution as a regular
 * stride-1 one: dy dilated by `dilate` ([b, oh·sh, ow·sw, c]) convolved with the flipped
 * filter must give exactly [b, inHeight, inWidth, ·]. Amounts can be negative (crop).
 */
function fullCorrelationPadding(info: tf.backend_util.Conv2DInfo, dilatedHeight: number, dilatedWidth: number): Sides {
  const top = info.effectiveFilterHeight - 1 - info.padInfo.top;
  const left = info.effectiveFilterWidth - 1 - info.padInfo.left;
  // Output size of a stride-1 valid conv is (padded size − effective filter + 1).
  const bottom = info.inHeight + info.effectiveFilterHeight - 1 - dilatedHeight - top;
  const right = info.inWidth + info.effectiveFilterWidth - 1 - dilatedWidth - left;
  return { top, bottom, left, right };
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter
// ---------------------------------------------------------------------------------------------

/**
 * dW[p, q, ci, co] = Σ_{b,i,j} xpad[b, i·sh + p, j·sw + q, ci] · dy[b, i, j, co].
 *
 * With output channels in fours, the kit's SIMD kernel (conv2DBackpropFilterSimd, below).
 * Otherwise XNNPACK, in one of two forms: read with ci as the batch and b as the channel, this
 * is itself a convolution of x with dy as the filter, dilated by the stride: conv2d(xᵀ [ci, h,
 * w, b], dyᵀ [oh, ow, b, co], dilation = stride) → [ci, fh, fw, co], a few images per call (its
 * operator is cached per filter id and dropped when dyᵀ is released); filters with few taps
 * (first layers) go through im2col and a matmul instead.
 */
function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x'), dy = input(args.inputs, 'dy');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  assertNhwc('Conv2DBackpropFilter', attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const [fh, fw, ci, co] = attrs.filterShape;
  const { batchSize: b, outHeight: oh, outWidth: ow } = info;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== co) {
    throw new Error(`wasm-training: Conv2DBackpropFilter dy shape ${dy.shape} does not match the forward output [${b},${oh},${ow},${co}]`);
  }
  const backend = args.backend as BackendWasm;
  const simd = co % 4 === 0 ? simdRunner(backend) : undefined;
  if (simd !== undefined) return conv2DBackpropFilterSimd(backend, simd, x, dy, info);
  if (fh * fw * ci <= IM2COL_MAX_ROWS) return conv2DBackpropFilterIm2col(backend, x, dy, info);
  return conv2DBackpropFilterDilated(backend, x, dy, info);
}

/**
 * Output channels in fours: the kit's SIMD kernel (simd-kernels.wat, convFilterGrad), which
 * reads x and dy where they are, without im2col or transposes, and beats both XNNPACK forms on
 * every filter gradient of the bench workloads (ms, one thread; SIMD / dilated / im2col):
 * STN 5×5 1→20 over [64, 60, 60, 1] 7.8 / 43 / 37; 5×5 20→20 over [64, 28, 28, 20] 26 / 36;
 * 3×3 32→64 over [64, 14, 14, 32] 13 / 24; seg 3×3 16→32 stride 2 over [16, 64, 64, 16] 4.9 /
 * 13; 3×3 1→16 over [16, 64, 64, 1] 0.7 / 9.6 / 4.8 — 26–36 GFLOP/s against 2–20.
 */
function conv2DBackpropFilterSimd(backend: BackendWasm, simd: SimdRunner, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const out = backend.makeOutput([fh, fw, ci, co], 'float32');
  // On several threads, each sums over its share of the images into its own filter.
  const parts = splitWork(b, simd.threads, b * oh * ow * fh * fw * ci * co);
  const [px, pdy] = [x, dy].map((t) => backend.getMemoryOffset(t.dataId));
  sumOfParts(backend, out, parts.length, (targets) => simd.run('convFilterGrad', parts.map(([m0, m], i) =>
    [px + 4 * m0 * h * w * ci, pdy + 4 * m0 * oh * ow * co, targets[i], m, h, w, ci, oh, ow, co, fh, fw, sh, sw, info.padInfo.top, info.padInfo.left])));
  return out;
}

/** Work (multiply-adds) below which a kernel runs on one thread: waking a helper costs ~10–50 µs. */
const PARALLEL_MIN_WORK = 1 << 20;

/** [first, count] of n items (images, rows) in up to `threads` parts; one part for small work. */
function splitWork(n: number, threads: number, work: number): [number, number][] {
  const parts = work < PARALLEL_MIN_WORK ? 1 : Math.max(1, Math.min(threads, n));
  const out: [number, number][] = [];
  for (let i = 0, first = 0; i < parts; i++) {
    const count = Math.floor(n / parts) + (i < n % parts ? 1 : 0);
    out.push([first, count]);
    first += count;
  }
  return out;
}

/**
 * A reduction split into `parts`: `body` gets each part's output (byte offsets: `out` for the
 * first, a fresh buffer of out's size for each other), whose sums are then added into `out`.
 */
function sumOfParts(backend: BackendWasm, out: TensorInfo, parts: number, body: (targets: number[]) => void): void {
  const partials = Array.from({ length: parts - 1 }, () => backend.makeOutput(out.shape, 'float32'));
  try {
    body([out, ...partials].map((t) => backend.getMemoryOffset(t.dataId)));
    if (partials.length === 0) return;
    const o = backend.typedArrayFromHeap(out) as Float32Array;              // views after the allocations
    for (const p of partials) {
      const v = backend.typedArrayFromHeap(p) as Float32Array;
      for (let i = 0; i < o.length; i++) o[i] += v[i];
    }
  } finally {
    for (const t of partials) backend.disposeData(t.dataId);
  }
}

/**
 * Images per XNNPACK call in the filter gradients. The sum over the batch is a reduction of
 * length b·oh·ow (36,864 for the STN's second layer) into a small filter; as one call XNNPACK
 * streams that long a packed operand from memory for every few output rows. In chunks of 16
 * images it stays in cache and the partial filters are added: 41.6 → 35.3 ms (5×5, 20→20 on
 * [64, 28, 28, 20]), 25.7 → 24.7 ms (3×3, 32→64 on [64, 14, 14, 32]); chunks of 8 are as
 * good, 1–4 worse (1: 59 ms), 64 (one call) worse on those shapes and no better elsewhere.
 */
export const FILTER_GRAD_BATCH_CHUNK = 16;

/** The dilated-conv form of conv2DBackpropFilter (above), `chunk` images per XNNPACK call. */
function conv2DBackpropFilterDilated(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo,
  chunk = FILTER_GRAD_BATCH_CHUNK): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  return compose(backend, s => {
    const { top, left } = info.padInfo;
    // Rows the filter reaches, counted from the padded top; pad below only as far as that.
    const bottom = Math.max(0, fh + (oh - 1) * sh - top - h);
    const right = Math.max(0, fw + (ow - 1) * sw - left - w);
    let total: TensorInfo | undefined;
    for (let m0 = 0; m0 < b; m0 += chunk) {
      const m = Math.min(chunk, b - m0);
      const xc = s.alias(x, [m, h, w, ci], m0 * h * w * ci);                    // [m, h, w, ci] (no copy)
      const dyc = s.alias(dy, [m, oh, ow, co], m0 * oh * ow * co);              // [m, oh, ow, co]
      const xT = s.transpose(xc, [3, 1, 2, 0]);                                 // [ci, h, w, m]
      const dyT = s.transpose(dyc, [1, 2, 0, 3]);                               // [oh, ow, m, co]
      const part = s.run('Conv2D', { x: xT, filter: dyT }, {
        strides: [1, 1], dilations: [sh, sw], pad: explicit(top, bottom, left, right),
        dataFormat: 'NHWC', dimRoundingMode: undefined,
      });                                                                       // [ci, ≥fh, ≥fw, co]
      total = total === undefined ? part : s.run('Add', { a: total, b: part });
    }
    const full = total as TensorInfo;
    const cropped = full.shape[1] === fh && full.shape[2] === fw
      ? full
      : s.run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [ci, fh, fw, co] }); // [ci, fh, fw, co]
    return s.transpose(cropped, [1, 2, 0, 3]);                                 // [fh, fw, ci, co]
  });
}

/**
 * Filters with at most this many taps (fh·fw·ci: first layers) take the im2col path: the
 * dilated form has only that many output pixels then, 4.3 GFLOP/s on the STN's first layer
 * (5×5, 1 channel: 47 ms) against 5.5 with im2col (36 ms); equal on 3×3, 3→16 over
 * [16, 64, 64, 3] (11–12 ms); far behind on wide filters (5×5, 20→20: 94 against 35 ms).
 */
const IM2COL_MAX_ROWS = 64;

/**
 * dW [fh·fw·ci, co] = colᵀ · dy [N, co] with colᵀ [fh·fw·ci, N] (N = b·oh·ow) the patches of x
 * written directly transposed in JavaScript (zeros where the window leaves the padded input),
 * then plain matmuls on XNNPACK, one per `chunk` images (see FILTER_GRAD_BATCH_CHUNK), summed.
 * For filters with few taps (first layers), where colᵀ is small and contiguous runs of it copy
 * from x in one `set` each.
 */
function conv2DBackpropFilterIm2col(backend: BackendWasm, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo,
  chunk = FILTER_GRAD_BATCH_CHUNK): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const pixels = oh * ow, rows = fh * fw * ci;
  return compose(backend, s => {
    // Chunk after chunk of images, each chunk's colᵀ [rows, m·pixels] contiguous.
    const col = s.adopt(backend.makeOutput([rows * b * pixels], 'float32'));
    const xv = backend.typedArrayFromHeap(x) as Float32Array;               // views after the allocation,
    const cv = backend.typedArrayFromHeap(col) as Float32Array;             // used before the next one
    for (let m0 = 0; m0 < b; m0 += chunk) {
      const n = Math.min(chunk, b - m0) * pixels, base = rows * m0 * pixels;
      for (let p = 0; p < fh; p++) {
        for (let q = 0; q < fw; q++) {
          // Output columns whose input column j·sw + q − left lies inside [0, w).
          const j0 = Math.min(ow, Math.max(0, Math.ceil((left - q) / sw)));
          const j1 = Math.max(j0, Math.min(ow, Math.floor((w - 1 - q + left) / sw) + 1));
          for (let c = 0; c < ci; c++) {
            let at = base + ((p * fw + q) * ci + c) * n;
            for (let m = m0; m < Math.min(b, m0 + chunk); m++) {
              for (let i = 0; i < oh; i++, at += ow) {
                const y = i * sh + p - top;
                if (y < 0 || y >= h) { cv.fill(0, at, at + ow); continue; }
                if (j0 > 0) cv.fill(0, at, at + j0);
                if (j1 < ow) cv.fill(0, at + j1, at + ow);
                const rowStart = (m * h + y) * w + q - left;                // pixel index of column j = 0
                if (ci === 1 && sw === 1) {
                  cv.set(xv.subarray(rowStart + j0, rowStart + j1), at + j0);
                } else {
                  for (let j = j0; j < j1; j++) cv[at + j] = xv[(rowStart + j * sw) * ci + c];
                }
              }
            }
          }
        }
      }
    }
    let total: TensorInfo | undefined;
    for (let m0 = 0; m0 < b; m0 += chunk) {
      const n = Math.min(chunk, b - m0) * pixels;
      const colc = s.alias(col, [1, rows, n], rows * m0 * pixels);           // [1, fh·fw·ci, m·oh·ow]
      const dyc = s.alias(dy, [1, n, co], m0 * pixels * co);                 // [1, m·oh·ow, co] (see Scratch.alias)
      const part = s.run('BatchMatMul', { a: colc, b: dyc }, { transposeA: false, transposeB: false }); // [1, fh·fw·ci, co]
      total = total === undefined ? part : s.run('Add', { a: total, b: part });
    }
    return s.reshape(total as TensorInfo, [fh, fw, ci, co]);                 // [fh, fw, ci, co]
  });
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropInput (replacement: the stock wasm kernel is a scalar loop)
// ---------------------------------------------------------------------------------------------

/**
 * Sub-pixel form of the transposed convolution: output row u = U·sh + ρ only ever meets filter
 * rows p ≡ ρ (mod sh), so for each of the sh·sw phases (ρy, ρx) dx is a *stride-1* conv of dy
 * with the sub-filter W[ρy::sh, ρx::sw] (flipped). All phases share dy, so one XNNPACK Conv2D
 * with sh·sw·ci output channels computes them, and a transpose interleaves the phases into the
 * output grid. Unlike zero insertion (dilating dy by the stride), no multiply-add hits a zero
 * of dy; only the taps a phase lacks when fh is not a multiple of sh are zeros in the filter.
 */
function conv2DBackpropInputXnn(args: KernelArgs): TensorInfo {
  const dy = input(args.inputs, 'dy'), filter = input(args.inputs, 'filter');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  assertNhwc('Conv2DBackpropInput', attrs.dataFormat);
  const backend = args.backend as BackendWasm;
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const [fh, fw, ci, co] = filter.shape;
  const { batchSize: b, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  // Per axis: taps per phase, the first and last output block (u = y + top, U = ⌊u / s⌋).
  const th = Math.ceil(fh / sh), tw = Math.ceil(fw / sw);
  const uMin = Math.floor(top / sh), uMax = Math.floor((top + h - 1) / sh);
  const vMin = Math.floor(left / sw), vMax = Math.floor((left + w - 1) / sw);
  const nU = uMax - uMin + 1, nV = vMax - vMin + 1;
  // Padding of dy so that conv output row U' reads dy rows U' + uMin − (th−1) … U' + uMin.
  const padTop = th - 1 - uMin, padBottom = nU + th - 1 - oh - padTop;
  const padLeft = tw - 1 - vMin, padRight = nV + tw - 1 - ow - padLeft;
  const phases = sh * sw;
  return compose(backend, s => {
    const weights = s.adopt(backend.makeOutput(
      [th, tw, co, phases * ci], 'float32', undefined,
      subPixelFilter(backend.readSync(filter.dataId) as Float32Array, [fh, fw, ci, co], [sh, sw]))); // [th, tw, co, sh·sw·ci]
    const pads = { top: padTop, bottom: padBottom, left: padLeft, right: padRight };
    const z = convSignedPadding(s, 'Conv2D', dy, weights, pads, [1, 1]);      // [b, nU, nV, sh·sw·ci]
    let grid = z;
    if (phases > 1) {
      const z6 = s.reshape(z, [b, nU, nV, sh, sw, ci]);                        // [b, nU, nV, sh, sw, ci]
      const woven = s.transpose(z6, [0, 1, 3, 2, 4, 5]);                       // [b, nU, sh, nV, sw, ci]
      grid = s.reshape(woven, [b, nU * sh, nV * sw, ci]);                      // [b, nU·sh, nV·sw, ci]
    }
    // Grid row r is u = uMin·sh + r; dx starts at u = top.
    const r0 = top - uMin * sh, c0 = left - vMin * sw;
    if (r0 === 0 && c0 === 0 && grid.shape[1] === h && grid.shape[2] === w) return grid;
    return s.run('Slice', { x: grid }, { begin: [0, r0, c0, 0], size: [b, h, w, ci] }); // [b, h, w, ci]
  });
}

/**
 * K[t, v, o, (ρy·sw + ρx)·ci + c] = W[ρy + sh·(th−1−t), ρx + sw·(tw−1−v), c, o], zero past the
 * filter's edge: the flipped sub-filters of every phase side by side as output channels.
 * Built in JavaScript because the filter is small next to the activations.
 */
function subPixelFilter(wv: Float32Array, [fh, fw, ci, co]: number[], [sh, sw]: Pair): Float32Array {
  const th = Math.ceil(fh / sh), tw = Math.ceil(fw / sw);
  const outC = sh * sw * ci;
  const k = new Float32Array(th * tw * co * outC);
  for (let t = 0; t < th; t++) {
    for (let v = 0; v < tw; v++) {
      for (let ry = 0; ry < sh; ry++) {
        const p = ry + sh * (th - 1 - t);
        if (p >= fh) continue;
        for (let rx = 0; rx < sw; rx++) {
          const q = rx + sw * (tw - 1 - v);
          if (q >= fw) continue;
          const phaseBase = (ry * sw + rx) * ci;
          for (let c = 0; c < ci; c++) {
            const src = ((p * fw + q) * ci + c) * co;                         // W[p, q, c, 0]
            let dst = ((t * tw + v) * co) * outC + phaseBase + c;             // K[t, v, 0, phase·ci + c]
            for (let o = 0; o < co; o++, dst += outC) k[dst] = wv[src + o];
          }
        }
      }
    }
  }
  return k;
}

// ---------------------------------------------------------------------------------------------
// Depthwise gradients
// ---------------------------------------------------------------------------------------------

/**
 * dx[b, y, x, c] = Σ_k (transposed depthwise conv of dy[..., c·m + k] with W[:, :, c, k]).
 * A depthwise conv over all c·m channels with multiplier 1 and the flipped filter does every
 * (c, k) pair at once; summing the m results per input channel finishes it.
 */
function depthwiseBackpropInput(args: KernelArgs): TensorInfo {
  const dy = input(args.inputs, 'dy'), filter = input(args.inputs, 'filter');
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const [fh, fw, ci, m] = filter.shape;
  const dilations = pair(attrs.dilations, 1);
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, dilations, attrs.pad,
    attrs.dimRoundingMode, true, 'channelsLast');
  const [b, h, w] = attrs.inputShape;
  return compose(args.backend, s => {
    const flipped = s.run('Reverse', { x: filter }, { dims: [0, 1] });         // [fh, fw, ci, m]
    const weights = s.reshape(flipped, [fh, fw, ci * m, 1]);                   // [fh, fw, ci·m, 1]
    const spread = dilate(s, dy, [info.strideHeight, info.strideWidth]);       // [b, oh·sh, ow·sw, ci·m]
    const pads = fullCorrelationPadding(info, spread.shape[1], spread.shape[2]);
    const perPair = convSignedPadding(s, 'DepthwiseConv2dNative', spread, weights, pads, dilations); // [b, h, w, ci·m]
    if (m === 1) return perPair;
    const split = s.reshape(perPair, [b, h, w, ci, m]);                        // [b, h, w, ci, m]
    return s.run('Sum', { x: split }, { axis: [4], keepDims: false });         // [b, h, w, ci]
  });
}

/**
 * dW[p, q, c, k] = Σ_{b,i,j} xpad[b, i·sh + p·dh, j·sw + q·dw, c] · dy[b, i, j, c·m + k].
 * As in conv2DBackpropFilter, dy becomes the filter: a depthwise conv over the b·c channels of
 * x laid out as one image [1, h, w, b·c], with stride and dilation swapping roles, gives
 * [1, fh, fw, b·c·m]; summing over b finishes it.
 */
function depthwiseBackpropFilter(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x'), dy = input(args.inputs, 'dy');
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const [fh, fw, ci, m] = attrs.filterShape;
  const dilations = pair(attrs.dilations, 1);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, dilations, attrs.pad,
    attrs.dimRoundingMode, true, 'channelsLast');
  const { batchSize: b, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const [dh, dw] = dilations;
  return compose(args.backend, s => {
    const { top, left } = info.padInfo;
    const bottom = Math.max(0, (fh - 1) * dh + (oh - 1) * sh + 1 - top - h);
    const right = Math.max(0, (fw - 1) * dw + (ow - 1) * sw + 1 - left - w);
    const xT = s.transpose(x, [1, 2, 0, 3]);                                   // [h, w, b, ci]
    const image = s.reshape(xT, [1, h, w, b * ci]);                            // [1, h, w, b·ci]
    const dy5 = s.reshape(dy, [b, oh, ow, ci, m]);                             // [b, oh, ow, ci, m]
    const dyT = s.transpose(dy5, [1, 2, 0, 3, 4]);                             // [oh, ow, b, ci, m]
    const weights = s.reshape(dyT, [oh, ow, b * ci, m]);                       // [oh, ow, b·ci, m]
    const full = s.run('DepthwiseConv2dNative', { x: image, filter: weights }, {
      strides: [dh, dw], dilations: [sh, sw], pad: explicit(top, bottom, left, right),
      dataFormat: 'NHWC', dimRoundingMode: undefined,
    });                                                                        // [1, ≥fh, ≥fw, b·ci·m]
    const cropped = full.shape[1] === fh && full.shape[2] === fw
      ? full
      : s.run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [1, fh, fw, b * ci * m] }); // [1, fh, fw, b·ci·m]
    const perImage = s.reshape(cropped, [fh, fw, b, ci * m]);                  // [fh, fw, b, ci·m]
    const summed = b === 1
      ? s.reshape(perImage, [fh, fw, ci * m])
      : s.run('Sum', { x: perImage }, { axis: [2], keepDims: false });         // [fh, fw, ci·m]
    return s.reshape(summed, [fh, fw, ci, m]);                                 // [fh, fw, ci, m]
  });
}

// ---------------------------------------------------------------------------------------------
// UnsortedSegmentSum
// ---------------------------------------------------------------------------------------------

/**
 * out[s, ...] = Σ_{i : ids[i] = s} x[i, ...]: a ScatterNd of x's rows at their segment ids,
 * whose C++ kernel adds duplicates. That kernel does not bounds-check, so ids outside
 * [0, numSegments) — which the cpu backend (and TensorFlow) drop — go to an extra row that is
 * cut off afterwards, instead of writing outside the output buffer.
 */
function unsortedSegmentSum(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x'), segmentIds = input(args.inputs, 'segmentIds');
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const backend = args.backend as BackendWasm;
  const n = tf.util.sizeFromShape(segmentIds.shape);
  const rowShape = x.shape.slice(segmentIds.shape.length);
  if (tf.util.sizeFromShape(x.shape.slice(0, segmentIds.shape.length)) !== n) {
    throw new Error(`wasm-training: UnsortedSegmentSum segmentIds shape ${segmentIds.shape} is not a prefix of x shape ${x.shape}`);
  }
  const ids = backend.readSync(segmentIds.dataId) as Int32Array;
  let outOfRange = false;
  for (let i = 0; i < n; i++) if (!(ids[i] >= 0 && ids[i] < numSegments)) { outOfRange = true; break; }
  return compose(backend, s => {
    const updates = s.reshape(x, [n, ...rowShape]);                            // [n, ...row]
    if (!outOfRange) {
      const indices = s.reshape(segmentIds, [n, 1]);                           // [n, 1]
      return s.run('ScatterNd', { indices, updates }, { shape: [numSegments, ...rowShape] }); // [numSegments, ...row]
    }
    const safe = Int32Array.from(ids.subarray(0, n), id => (id >= 0 && id < numSegments ? id : numSegments));
    const indices = s.adopt(backend.makeOutput([n, 1], 'int32', undefined, safe)); // [n, 1]
    const padded = s.run('ScatterNd', { indices, updates }, { shape: [numSegments + 1, ...rowShape] }); // [numSegments+1, ...row]
    return s.run('Slice', { x: padded }, {
      begin: padded.shape.map(() => 0), size: [numSegments, ...rowShape],
    });                                                                        // [numSegments, ...row]
  });
}

// ---------------------------------------------------------------------------------------------
// MaxPoolGrad (replacement: the stock kernel drops gradients of all-negative windows)
// ---------------------------------------------------------------------------------------------

/**
 * dx[argmax of each window] += dy. The stock wasm kernel (and MaxPoolWithArgmax) start the
 * running maximum at `numeric_limits<float>::min()`, the smallest *positive* float, so a window
 * whose values are all ≤ 0 keeps no position and its gradient is lost: harmless right after a
 * relu (whose gradient is 0 there), wrong anywhere else (pooling raw inputs, features without
 * a relu, max-pooled logits). This is the cpu backend's rule instead (first maximum in row-major
 * window order, starting from −∞), in JavaScript: one pass over the windows with the channels
 * innermost, measured 1.4–1.9× faster than the stock kernel on [8, 32, 32, 32]-sized inputs.
 */
function maxPoolGrad(args: KernelArgs): TensorInfo {
  const dy = input(args.inputs, 'dy'), x = input(args.inputs, 'input');
  const attrs = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const backend = args.backend as BackendWasm;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(x.shape, 'float32');
  // Views of wasm memory, taken after makeOutput (whose allocation may move the heap).
  const xv = backend.typedArrayFromHeap(x) as Float32Array;                 // [b, h, w, c]
  const dyv = backend.typedArrayFromHeap(dy) as Float32Array;               // [b, oh, ow, c]
  const dx = backend.typedArrayFromHeap(out) as Float32Array;               // [b, h, w, c]
  const tiled = fh === sh && fw === sw && dh === 1 && dw === 1 && top === 0 && left === 0 && oh * sh <= h && ow * sw <= w;
  const simd = tiled && fh === 2 && fw === 2 && c % 4 === 0 ? simdRunner(backend) : undefined;
  if (simd !== undefined) {
    // Writes every element of every window; only rows and columns past the windows stay.
    if (2 * oh !== h || 2 * ow !== w) dx.fill(0);
    const [px, pdy, pdx] = [x, dy, out].map((t) => backend.getMemoryOffset(t.dataId));
    simd.run('maxPool2x2Grad', splitWork(b, simd.threads, b * h * w * c).map(([m0, m]) =>
      [px + 4 * m0 * h * w * c, pdy + 4 * m0 * oh * ow * c, pdx + 4 * m0 * h * w * c, m, h, w, c, oh, ow]));
    return out;
  }
  dx.fill(0);
  if (tiled) {
    tiledMaxPoolGrad(xv, dyv, dx, [b, h, w, c], [oh, ow], [fh, fw]);
    return out;
  }
  const best = new Float32Array(c);
  const at = new Int32Array(c);
  for (let n = 0; n < b; n++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        best.fill(-Infinity);
        at.fill(-1);
        for (let p = 0; p < fh; p++) {
          const y = oy * sh + p * dh - top;
          if (y < 0 || y >= h) continue;
          for (let q = 0; q < fw; q++) {
            const xx = ox * sw + q * dw - left;
            if (xx < 0 || xx >= w) continue;
            const base = ((n * h + y) * w + xx) * c;
            for (let k = 0; k < c; k++) {
              if (xv[base + k] > best[k]) { best[k] = xv[base + k]; at[k] = base + k; }
            }
          }
        }
        const dyBase = ((n * oh + oy) * ow + ox) * c;
        for (let k = 0; k < c; k++) if (at[k] >= 0) dx[at[k]] += dyv[dyBase + k];
      }
    }
  }
  return out;
}

/**
 * The same rule when the windows tile the input (window = stride, no padding: every pooling
 * layer of this kit): each input belongs to at most one window, so the first maximum is found
 * per channel with no scratch arrays, and its gradient written, not added.
 */
function tiledMaxPoolGrad(xv: Float32Array, dyv: Float32Array, dx: Float32Array,
  [b, h, w, c]: number[], [oh, ow]: number[], [fh, fw]: number[]): void {
  if (fh === 2 && fw === 2) {
    // The common 2×2 window unrolled (≈2× faster than the loops below in V8).
    const rowStride = w * c;
    let d = 0;
    for (let n = 0; n < b; n++) {
      for (let oy = 0; oy < oh; oy++) {
        const rowBase = (n * h + 2 * oy) * rowStride;
        for (let ox = 0; ox < ow; ox++) {
          const i0 = rowBase + 2 * ox * c, i1 = i0 + c, i2 = i0 + rowStride, i3 = i2 + c;
          for (let k = 0; k < c; k++, d++) {
            let best = -Infinity, at = -1;
            if (xv[i0 + k] > best) { best = xv[i0 + k]; at = i0 + k; }
            if (xv[i1 + k] > best) { best = xv[i1 + k]; at = i1 + k; }
            if (xv[i2 + k] > best) { best = xv[i2 + k]; at = i2 + k; }
            if (xv[i3 + k] > best) { at = i3 + k; }
            if (at >= 0) dx[at] = dyv[d];
          }
        }
      }
    }
    return;
  }
  let d = 0;                                                                 // index into dy, in order
  for (let n = 0; n < b; n++) {
    for (let oy = 0; oy < oh; oy++) {
      const rowBase = (n * h + oy * fh) * w * c;
      for (let ox = 0; ox < ow; ox++) {
        const base = rowBase + ox * fw * c;
        for (let k = 0; k < c; k++, d++) {
          let best = -Infinity, at = -1;
          for (let p = 0; p < fh; p++) {
            let i = base + p * w * c + k;
            for (let q = 0; q < fw; q++, i += c) {
              const v = xv[i];
              if (v > best) { best = v; at = i; }
            }
          }
          if (at >= 0) dx[at] = dyv[d];
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// BatchMatMul and _FusedMatMul (replacements: the stock kernels leave XNNPACK for a scalar loop
// whenever an operand is transposed or batched — which every matMul gradient is)
// ---------------------------------------------------------------------------------------------

/**
 * Transposed operands are transposed explicitly (the Transpose kernel is a fast copy) so that
 * the product runs on the stock kernel's XNNPACK path, which takes only plain, unbatched
 * operands. A batch against a shared right operand is one product with the batch folded into
 * the rows; a shared left operand against a batch is one product against the batch laid side
 * by side. Batches on both sides stay on the stock loop (small here: attention-sized).
 * Measured on [64, 384] × [128, 384]ᵀ: 2.3 ms → 0.2 ms.
 *
 * Also fixes a wrong result of the stock kernel: matMul(ones([1, 4]), x [4, 2]) followed by
 * matMul(ones([1, 2]), reshape(x, [2, 4])) returned [4, 6, 0, 0], not [6, 8, 10, 12] — its
 * operator cache is keyed by the right operand's id, which a reshape keeps.
 */
/** The [k, n] each tensor was first multiplied as (see matMulXnn); dropped with the tensor. */
const weightShapes = new WeakMap<object, [number, number]>();

function matMulXnn(kernelName: 'BatchMatMul' | '_FusedMatMul', args: KernelArgs): TensorInfo {
  const stock = stockKernels.get(kernelName);
  if (stock === undefined) throw new Error(`wasm-training: no stock ${kernelName} kernel to delegate to`);
  const a = input(args.inputs, 'a'), b = input(args.inputs, 'b');
  const attrs = args.attrs as unknown as tf.BatchMatMulAttrs & { activation?: string; leakyreluAlpha?: number };
  const { transposeA, transposeB } = attrs;
  const bias = args.inputs.bias, prelu = args.inputs.preluActivationWeights;
  const viaStock = () => stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return viaStock();
  const ra = a.shape.length, rb = b.shape.length;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2)), batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2], k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (kernelName === 'BatchMatMul' && transposeA && !transposeB && batchA === 1 && batchB === 1
    && m * n <= TN_MAX_OUTPUT && (n % 4 === 0 || m % 4 === 0)) {
    const simd = simdRunner(args.backend as BackendWasm);
    if (simd !== undefined) return matMulTNSimd(args.backend as BackendWasm, simd, a, b, [m, k, n]);
  }
  const plain = !transposeA && !transposeB && batchA === 1 && batchB === 1;
  // The stock XNNPACK path caches its operator by b's tensor id with b's shape at the first
  // call; a reshape keeps the id. Seen as [k, n] before in another shape, b gets a fresh id.
  const asWeights = !transposeB && batchB === 1;
  const seen = asWeights ? weightShapes.get(b.dataId) : undefined;
  const reshaped = seen !== undefined && (seen[0] !== k || seen[1] !== n);
  if (asWeights && seen === undefined) weightShapes.set(b.dataId, [k, n]);
  const sideBySide = batchA === 1 && batchB > 1;
  const bothBatched = batchA > 1 && batchB > 1;
  // The stock kernel gets a bias right only as one value per column ([n]: XNNPACK's bias) and
  // only unbatched: a broadcast bias ([1], [m, n], …) or a bias on a batched product gave wrong
  // sums (seen), and per-channel prelu weights would be misplaced by the side-by-side layout.
  // Those run as a plain product, then Add and the activation as their own kernels.
  const columnBias = bias === undefined
    || (tf.util.sizeFromShape(bias.shape) === n && bias.shape[bias.shape.length - 1] === n);
  const widePrelu = prelu !== undefined && tf.util.sizeFromShape(prelu.shape) > 1;
  if ((bias !== undefined || prelu !== undefined) && (!columnBias || widePrelu || sideBySide || bothBatched)) {
    return compose(args.backend, s => {
      const product = s.adopt(matMulXnn('BatchMatMul', { inputs: { a, b }, backend: args.backend, attrs: { transposeA, transposeB } }));
      const biased = bias === undefined ? product : s.run('Add', { a: product, b: bias });
      return activate(s, biased, attrs.activation, prelu, attrs.leakyreluAlpha);
    });
  }
  if (plain && !reshaped) return viaStock();
  if (bothBatched) return viaStock();                                       // the stock loop (attention-sized here)
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return compose(args.backend, s => {
    const product = (left: TensorInfo, right: TensorInfo): TensorInfo => {
      const inputs: Record<string, TensorInfo> = { a: left, b: right };
      if (bias !== undefined) inputs.bias = bias;
      if (prelu !== undefined) inputs.preluActivationWeights = prelu;
      return s.runConfig(stock, inputs, { ...attrs, transposeA: false, transposeB: false });
    };
    let a3 = s.reshape(a, [batchA, transposeA ? k : m, transposeA ? m : k]);
    if (transposeA) a3 = s.transpose(a3, [0, 2, 1]);                        // [batchA, m, k]
    let b3 = reshaped ? s.alias(b, [1, k, n]) : s.reshape(b, [batchB, transposeB ? n : k, transposeB ? k : n]);
    if (transposeB) b3 = s.transpose(b3, [0, 2, 1]);                        // [batchB, k, n]
    if (!sideBySide) {
      const out = product(s.reshape(a3, [1, batchA * m, k]), b3);           // [1, batchA·m, n]
      return s.reshape(out, [...outBatch, m, n]);
    }
    const bSide = s.reshape(s.transpose(b3, [1, 0, 2]), [1, k, batchB * n]); // [1, k, batchB·n]
    const out = product(a3, bSide);                                          // [1, m, batchB·n]
    const perBatch = s.transpose(s.reshape(out, [m, batchB, n]), [1, 0, 2]);  // [batchB, m, n]
    return s.reshape(perBatch, [...outBatch, m, n]);
  });
}

/**
 * aᵀ·b — the weight gradient of every dense layer — goes to the kit's SIMD kernels
 * (simd-kernels.wat) instead of an explicit transpose of a and XNNPACK, which packs b afresh
 * each time (it is a new gradient every step). Vectorised along b's rows (matMulTNRows) when n
 * is a multiple of 4, along a's columns (matMulTN) when n is narrow; ms, one thread, fresh
 * operands (rows / columns / transpose + XNNPACK): s2s [1280, 128]ᵀ·[1280, 384] 4.9 / 6.2 /
 * 6.8; [1280, 64]ᵀ·[1280, 384] 2.4 / 3.1 / 4.6; STN [3136, 64]ᵀ·[3136, 128] 1.7 / 2.3 / 4.3;
 * seg's head [65536, 16]ᵀ·[65536, 12] 2.1 / 1.2 / 10.5. Products up to 131,072 outputs (the
 * largest measured).
 */
const TN_MAX_OUTPUT = 131072;

function matMulTNSimd(backend: BackendWasm, simd: SimdRunner, a: TensorInfo, b: TensorInfo, [m, k, n]: number[]): TensorInfo {
  const rows = n % 4 === 0 && (n >= 16 || m % 4 !== 0);
  if (!rows && m % 4 !== 0) throw new Error(`wasm-training: matMulTNSimd needs m or n a multiple of 4 (got m = ${m}, n = ${n})`);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = backend.makeOutput([...outBatch, m, n], 'float32');
  // On several threads, each reduces its share of the k rows into its own product.
  const parts = splitWork(k, simd.threads, k * m * n);
  const [pa, pb] = [a, b].map((t) => backend.getMemoryOffset(t.dataId));
  sumOfParts(backend, out, parts.length, (targets) => {
    if (rows) {
      simd.run('matMulTNRows', parts.map(([k0, kc], i) => [pa + 4 * k0 * m, pb + 4 * k0 * n, targets[i], kc, m, n]));
      return;
    }
    const scratch = parts.map(() => backend.makeOutput([n, m], 'float32'));  // matMulTN's [n, m], one per part
    try {
      simd.run('matMulTN', parts.map(([k0, kc], i) => [pa + 4 * k0 * m, pb + 4 * k0 * n, targets[i], backend.getMemoryOffset(scratch[i].dataId), kc, m, n]));
    } finally {
      for (const t of scratch) backend.disposeData(t.dataId);
    }
  });
  return out;
}

/** A fused op's activation as its own kernel (what _FusedMatMul would have applied). */
function activate(s: Scratch, x: TensorInfo, activation: string | undefined, prelu: TensorInfo | undefined, leakyreluAlpha: number | undefined): TensorInfo {
  switch (activation ?? 'linear') {
    case 'linear': return s.run('Identity', { x });
    case 'relu': return s.run('Relu', { x });
    case 'relu6': return s.run('Relu6', { x });
    case 'elu': return s.run('Elu', { x });
    case 'sigmoid': return s.run('Sigmoid', { x });
    case 'leakyrelu': return s.run('LeakyRelu', { x }, { alpha: leakyreluAlpha ?? 0.2 });
    case 'prelu':
      if (prelu === undefined) throw new Error('wasm-training: prelu activation without its weights');
      return s.run('Prelu', { x, alpha: prelu });
    default: throw new Error(`wasm-training: unknown fused activation '${activation}'`);
  }
}

// ---------------------------------------------------------------------------------------------
// Slice, Unpack, SplitV (replacements: the stock kernels copy the whole input out of wasm
// memory once per slice before taking the part they need)
// ---------------------------------------------------------------------------------------------

/**
 * Copies the box [begin, begin + size) of `src` (row-major, `shape`) into `dst`. The trailing
 * dimensions that the box spans entirely are merged into contiguous rows copied with `set`.
 */
function copyBox(src: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  dst: { set(a: ArrayLike<number>, offset: number): void; [i: number]: number },
  shape: number[], begin: number[], size: number[]): void {
  const rank = shape.length;
  let d = rank - 1, inner = 1;
  while (d > 0 && begin[d] === 0 && size[d] === shape[d]) { inner *= shape[d]; d--; }
  const strides = tf.util.computeStrides(shape);
  const stride = (i: number) => (i === rank - 1 ? 1 : strides[i]);
  const row = size[d] * inner;                                               // contiguous elements
  let outer = 1;
  for (let i = 0; i < d; i++) outer *= size[i];
  const at = new Array<number>(d).fill(0);
  let dstOff = 0;
  for (let o = 0; o < outer; o++) {
    let off = begin[d] * stride(d);
    for (let i = 0; i < d; i++) off += (begin[i] + at[i]) * stride(i);
    if (row >= 16) {
      dst.set(src.subarray(off, off + row), dstOff);
    } else {
      for (let j = 0; j < row; j++) dst[dstOff + j] = src[off + j] as number;
    }
    dstOff += row;
    for (let i = d - 1; i >= 0; i--) { if (++at[i] < size[i]) break; at[i] = 0; }
  }
}

/** A slice through views of wasm memory: reads only the part it returns. */
function sliceView(backend: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  // Views are taken after makeOutput: its allocation may grow (and so replace) the wasm heap.
  const src = backend.typedArrayFromHeap(x), dst = backend.typedArrayFromHeap(out);
  copyBox(src, dst, x.shape, begin, size);
  return out;
}

function slice(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x');
  const stock = stockKernels.get('Slice');
  if (x.dtype === 'string' && stock !== undefined) return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const attrs = args.attrs as unknown as tf.SliceAttrs;
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin, attrs.size);
  return sliceView(args.backend as BackendWasm, x, begin, size);
}

function unpack(args: KernelArgs): TensorInfo[] {
  const value = input(args.inputs, 'value');
  const rank = value.shape.length;
  const axis = ((args.attrs as unknown as tf.UnpackAttrs).axis + rank) % rank;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(rank).fill(0), size = value.shape.slice();
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]; i++) {
    begin[axis] = i;
    const { dataId, dtype } = sliceView(args.backend as BackendWasm, value, begin, size);
    outs.push({ dataId, dtype, shape: outShape });
  }
  return outs;
}

function splitV(args: KernelArgs): TensorInfo[] {
  const x = input(args.inputs, 'x');
  const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[ax] = s;
    const out = sliceView(args.backend as BackendWasm, x, begin.slice(), size);
    begin[ax] += s;
    return out;
  });
}

/**
 * Writes x (row-major, `shape`) tiled `reps` times along each axis into `dst` (shape[i]·reps[i]):
 * each axis's block is written once, then copied within `dst` by doubling.
 */
function tileInto(src: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  dst: { set(a: ArrayLike<number>, offset: number): void; copyWithin(target: number, start: number, end: number): unknown },
  shape: number[], reps: number[]): void {
  const rank = shape.length;
  const srcStrides = new Array<number>(rank).fill(1), outStrides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) {
    srcStrides[d] = srcStrides[d + 1] * shape[d + 1];
    outStrides[d] = outStrides[d + 1] * shape[d + 1] * reps[d + 1];
  }
  const repeat = (at: number, block: number, times: number) => {
    for (let done = 1; done < times; done *= 2) dst.copyWithin(at + done * block, at, at + Math.min(done, times - done) * block);
  };
  const write = (d: number, srcOff: number, dstOff: number): void => {
    if (d === rank - 1) dst.set(src.subarray(srcOff, srcOff + shape[d]), dstOff);
    else for (let i = 0; i < shape[d]; i++) write(d + 1, srcOff + i * srcStrides[d], dstOff + i * outStrides[d]);
    repeat(dstOff, shape[d] * outStrides[d], reps[d]);
  };
  write(0, 0, 0);
}

/**
 * Tile through views of wasm memory. The stock kernel computes every output element's source
 * index in a scalar loop: tiling batch norm's [1, 1, 1, 16] statistics to [16, 64, 64, 16] in
 * its gradient took 40 ms (a quarter of the segmentation step of notebook 03); this takes ~1.
 */
function tile(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x');
  const stock = stockKernels.get('Tile');
  if (x.dtype === 'string' && stock !== undefined) return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const { reps } = args.attrs as unknown as tf.TileAttrs;
  if (reps.length !== x.shape.length) throw new Error(`wasm-training: Tile needs one rep per axis (got ${reps.length} for rank ${x.shape.length})`);
  const backend = args.backend as BackendWasm;
  const outShape = x.shape.map((s, i) => s * reps[i]);
  const out = backend.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  if (x.shape.length === 0) {
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(x));
    return out;
  }
  // Views are taken after makeOutput: its allocation may grow (and so replace) the wasm heap.
  tileInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, reps);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Identity, GatherV2, Sum over leading axes (replacements: copies and per-element overheads)
// ---------------------------------------------------------------------------------------------

/**
 * Shares the input's data, as the cpu backend does (tfjs never writes into a tensor's data in
 * place), instead of copying it: the engine calls Identity for every gradient that passes
 * through unchanged, often on whole activations.
 */
function identity(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x');
  const stock = stockKernels.get('Identity');
  if (x.dtype === 'string' && stock !== undefined) return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Gather through views of wasm memory, for any axis and batchDims: with x seen as
 * [B, M, A, I] (B = the batch dims, M = the dims before the axis, A = the axis, I = the rest)
 * and the indices as [B, K], out[b, m, k, :] = x[b, m, indices[b, k], :]. The stock kernel
 * first checks every index with a closure per index (~90 ns each: 19 ms for the STN sampler's
 * 200k corners) before its C++ loop, and with batchDims > 0 it returned wrong rows (seen:
 * x [2, 5, 3], indices [2, 3], axis 1, batchDims 1 gave the second batch's rows shifted).
 */
function gatherV2(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x'), indices = input(args.inputs, 'indices');
  const { axis, batchDims } = args.attrs as unknown as tf.GatherV2Attrs;
  const stock = stockKernels.get('GatherV2')!;
  if (x.dtype === 'string' || indices.dtype !== 'int32') {
    return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  let bd = batchDims ?? 0;
  if (bd < 0) bd += indices.shape.length;
  if (bd > ax || bd > indices.shape.length || indices.shape.slice(0, bd).some((d, i) => d !== x.shape[i])) {
    throw new Error(`GatherV2: batchDims ${batchDims} does not fit x ${x.shape}, indices ${indices.shape}, axis ${ax}`);
  }
  const backend = args.backend as BackendWasm;
  const size = (shape: number[]) => tf.util.sizeFromShape(shape);
  const nb = size(x.shape.slice(0, bd)), nm = size(x.shape.slice(bd, ax)), na = x.shape[ax];
  const row = size(x.shape.slice(ax + 1)), nk = size(indices.shape.slice(bd));
  const out = backend.makeOutput([...x.shape.slice(0, ax), ...indices.shape.slice(bd), ...x.shape.slice(ax + 1)], x.dtype);
  if (nb * nm * nk === 0 || row === 0) return out;
  const ids = backend.typedArrayFromHeap(indices) as Int32Array;           // [B, K]
  for (let i = 0; i < nb * nk; i++) {
    if (!(ids[i] >= 0 && ids[i] < na)) throw new Error(`GatherV2: the index value ${ids[i]} is not in [0, ${na - 1}]`);
  }
  const src = backend.typedArrayFromHeap(x), dst = backend.typedArrayFromHeap(out);
  let d = 0;
  for (let bi = 0; bi < nb; bi++) {
    for (let m = 0; m < nm; m++) {
      const base = (bi * nm + m) * na;                                       // row index of x[b, m, 0]
      const at = bi * nk;
      if (row === 1) {
        for (let kk = 0; kk < nk; kk++) dst[d++] = src[base + ids[at + kk]];
      } else {
        for (let kk = 0; kk < nk; kk++, d += row) {
          const r = (base + ids[at + kk]) * row;
          dst.set(src.subarray(r, r + row), d);
        }
      }
    }
  }
  return out;
}

/** Above this many elements the leading-axes sum adds halves on XNNPACK (~5× faster than the JavaScript loop). */
const SUM_BY_HALVES_SIZE = 1 << 16;

/**
 * Sum over leading axes (bias gradients: dy [b, h, w, c] summed to [c]). The stock kernel first
 * transposes the reduced axes innermost (a copy of the whole tensor) and then sums. Small
 * tensors: one JavaScript pass over the rows, accumulating in float64; large ones: pairwise.
 */
function sum(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x');
  const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
  const stock = stockKernels.get('Sum')!;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.every((a, i) => a === i) && axes.length < x.shape.length;
  if (x.dtype !== 'float32' || !leading || axes.length === 0) {
    return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  const backend = args.backend as BackendWasm;
  const kept = x.shape.slice(axes.length);
  const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length)), width = tf.util.sizeFromShape(kept);
  const outShape = keepDims ? [...axes.map(() => 1), ...kept] : kept;
  if (rows * width >= SUM_BY_HALVES_SIZE) {
    // Large: add the second half of the rows onto the first, and again, on XNNPACK's vectorised
    // Add (halves are aliases: no copies). Pairwise summation, so also more accurate than a loop.
    return compose(backend, s => {
      let acc = x, n = rows;
      let carry: TensorInfo | undefined;                                    // the odd row out, [width]
      while (n > 1) {
        const half = Math.floor(n / 2);
        if (n % 2 === 1) {
          const last = s.alias(acc, [width], (n - 1) * width);
          carry = carry === undefined ? last : s.run('Add', { a: carry, b: last });
        }
        acc = s.run('Add', { a: s.alias(acc, [half, width]), b: s.alias(acc, [half, width], half * width) });
        n = half;
      }
      const total = carry === undefined ? s.run('Identity', { x: acc }) : s.run('Add', { a: s.alias(acc, [width]), b: carry });
      return s.reshape(total, outShape);
    });
  }
  const out = backend.makeOutput(outShape, 'float32');
  const src = backend.typedArrayFromHeap(x) as Float32Array, dst = backend.typedArrayFromHeap(out) as Float32Array;
  const acc = new Float64Array(width);
  for (let r = 0, at = 0; r < rows; r++) {
    for (let j = 0; j < width; j++, at++) acc[j] += src[at];
  }
  dst.set(acc);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tanh (replacement: the stock kernel calls libm's tanh per element, ~20 ns each)
// ---------------------------------------------------------------------------------------------

/**
 * tanh x = 2·σ(2x) − 1 on XNNPACK's vectorised sigmoid: ~10× faster on the attention energies
 * ([64, 20, 128]: 3.5 ms → 0.3 ms). Absolute error ≤ 2.4e-7 (the rounding of 2σ − 1 near 0;
 * relative error is larger for |x| < 1e-3), exact ±1 in saturation.
 */
function tanh(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x');
  const stock = stockKernels.get('Tanh')!;
  if (x.dtype !== 'float32') return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  const backend = args.backend as BackendWasm;
  return compose(backend, s => {
    const scalar = (v: number) => s.adopt(backend.makeOutput([], 'float32', undefined, Float32Array.of(v)));
    const two = scalar(2);
    const sig = s.run('Sigmoid', { x: s.run('Multiply', { a: x, b: two }) });   // σ(2x)
    return s.run('Sub', { a: s.run('Multiply', { a: sig, b: two }), b: scalar(1) }); // 2σ(2x) − 1
  });
}

// ---------------------------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------------------------

/** What this module fills in when the backend lacks it. */
const MISSING: ReadonlyArray<[string, KernelImpl]> = [
  ['Conv2DBackpropFilter', conv2DBackpropFilter],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter],
  ['UnsortedSegmentSum', unsortedSegmentSum],
];

/**
 * Below this many multiply-adds the stock kernel's loop beats the sub-pixel version's fixed
 * cost (a filter rebuilt in JavaScript, a fresh XNNPACK operator, a transpose): measured
 * 0.01 ms vs 0.05 ms on a [1, 7, 7, 3] output.
 */
const SMALL_TRANSPOSED_CONV_MACS = 1e5;

/** The wasm backend's own versions of the kernels this module replaces, kept for fallbacks. */
const stockKernels = new Map<string, tf.KernelConfig>();

/**
 * Strided, with input channels in fours: the kit's SIMD kernel (simd-kernels.wat,
 * convBackpropInput), which visits only the taps that meet dy — none of the zeros the sub-pixel
 * form pays for (the missing taps of 3×3 filters at stride 2, padding) — with the filter
 * transposed to [fh, fw, co, ci] first (a Transpose kernel: it is small). seg's stride-2 3×3 layers:
 * 10.0 → 5.9 ms (16 channels over [16, 64, 64]), 8.9 → 5.1 ms (32 over [16, 32, 32]). At
 * stride 1 the sub-pixel form is one dense XNNPACK convolution and as fast or faster (STN 5×5
 * 20→20: 36 against 38 ms; 3×3 32→64: 13.6 against 14.3), so it keeps those.
 */
function conv2DBackpropInputSimd(backend: BackendWasm, simd: SimdRunner, dy: TensorInfo, filter: TensorInfo,
  attrs: tf.Conv2DBackpropInputAttrs): TensorInfo {
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape, filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const [fh, fw, ci, co] = filter.shape;
  const { batchSize: b, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== co) {
    throw new Error(`wasm-training: Conv2DBackpropInput dy shape ${dy.shape} does not match the forward output [${b},${oh},${ow},${co}]`);
  }
  return compose(backend, s => {
    const wt = s.transpose(filter, [0, 1, 3, 2]);                           // [fh, fw, co, ci]
    const dx = s.adopt(backend.makeOutput([b, h, w, ci], 'float32'));        // [b, h, w, ci]
    const [pdy, pwt, pdx] = [dy, wt, dx].map((t) => backend.getMemoryOffset(t.dataId));
    // On several threads, each its share of the images (disjoint parts of dx).
    simd.run('convBackpropInput', splitWork(b, simd.threads, b * oh * ow * fh * fw * ci * co).map(([m0, m]) =>
      [pdy + 4 * m0 * oh * ow * co, pwt, pdx + 4 * m0 * h * w * ci, m, h, w, ci, oh, ow, co, fh, fw, sh, sw, info.padInfo.top, info.padInfo.left]));
    return dx;
  });
}

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const stock = stockKernels.get('Conv2DBackpropInput');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const dy = input(args.inputs, 'dy'), filter = input(args.inputs, 'filter');
  const macs = tf.util.sizeFromShape(dy.shape) * filter.shape[0] * filter.shape[1] * filter.shape[2];
  const strided = typeof attrs.strides === 'number' ? attrs.strides > 1 : attrs.strides.some((s) => s > 1);
  const simd = strided && attrs.dataFormat !== 'NCHW' && filter.shape[2] % 4 === 0 && filter.dtype === 'float32'
    ? simdRunner(args.backend as BackendWasm) : undefined;
  if (simd !== undefined) return conv2DBackpropInputSimd(args.backend as BackendWasm, simd, dy, filter, attrs);
  // The stock kernel also handles NCHW, which the sub-pixel version does not.
  if (stock !== undefined && (attrs.dataFormat === 'NCHW' || macs < SMALL_TRANSPOSED_CONV_MACS)) {
    return stock.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]) as TensorInfo;
  }
  return conv2DBackpropInputXnn(args);
}

/** Kernels the backend has but that are wrong or slow for training; replaced by these. */
const REPLACED: ReadonlyArray<[string, KernelImpl]> = [
  ['Conv2DBackpropInput', conv2DBackpropInput],
  ['MaxPoolGrad', maxPoolGrad],
];

/**
 * Kernels the backend has, correct but slow in the forms training uses: replaced for speed
 * only (same results to float rounding). Arrow functions are made once here so that
 * re-installing recognises them.
 */
const FAST: ReadonlyArray<[string, KernelImpl | ((args: KernelArgs) => TensorInfo[])]> = [
  ['BatchMatMul', (args: KernelArgs) => matMulXnn('BatchMatMul', args)],
  ['_FusedMatMul', (args: KernelArgs) => matMulXnn('_FusedMatMul', args)],
  ['Slice', slice],
  ['Unpack', unpack],
  ['SplitV', splitV],
  ['Identity', identity],
  ['GatherV2', gatherV2],
  ['Sum', sum],
  ['Tanh', tanh],
  ['Tile', tile],
];

function replaceKernels(list: ReadonlyArray<[string, unknown]>): string[] {
  const registered: string[] = [];
  for (const [kernelName, impl] of list) {
    const current = tf.getKernel(kernelName, BACKEND);
    const kernelFunc = impl as tf.KernelFunc;
    if (current !== undefined && current.kernelFunc === kernelFunc) continue;
    if (current !== undefined) {
      stockKernels.set(kernelName, current);
      tf.unregisterKernel(kernelName, BACKEND);
    }
    // Keep the stock setupFunc: it binds the C++ function a fallback calls, and runs only when
    // the backend initialises, which may be after this call.
    tf.registerKernel({ ...current, kernelName, backendName: BACKEND, kernelFunc });
    registered.push(kernelName);
  }
  return registered;
}

/**
 * Registers on the 'wasm' backend the kernels training needs that it lacks. Idempotent; returns the names it registered (empty when all exist).
 *
 * Also replaces two kernels the backend has (their names are returned too, once):
 * Conv2DBackpropInput — the forward pass of every conv2dTranspose and the input gradient of
 * every conv2d — whose scalar loops were 3–11× slower than the sub-pixel XNNPACK version on
 * this project's shapes ([8, 16, 16, 64] → [8, 32, 32, 32], 3×3, stride 2: 25 ms → 4.5 ms);
 * and MaxPoolGrad, which loses the gradient of windows whose values are all ≤ 0.
 *
 * And installs the speed-only replacements of installWasmFastKernels (matmul, slice), which
 * it does not list: call that function for their names.
 */
export function installWasmTrainingKernels(): string[] {
  const registered: string[] = [];
  for (const [kernelName, impl] of MISSING) {
    if (tf.getKernel(kernelName, BACKEND) !== undefined) continue;
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: impl as unknown as tf.KernelFunc });
    registered.push(kernelName);
  }
  registered.push(...replaceKernels(REPLACED));
  installWasmFastKernels();
  installAdamKernel(); // for createAdam (lib/train/adam.ts); not listed either
  return registered;
}

/**
 * Replaces wasm kernels that are correct but leave XNNPACK or copy whole tensors in the forms
 * training uses: BatchMatMul and _FusedMatMul with a transposed or batched operand (every
 * matMul gradient: a scalar loop, ~12× slower), and Slice, Unpack and SplitV (which copy the
 * whole input out of wasm memory once per output: unstacking [20, 64, 384] took 25 ms, now
 * 0.8 ms); also Identity, GatherV2, Sum, Tanh and Tile (batch norm's gradient: 40 ms → ~1 ms).
 * Idempotent; returns the names it replaced (empty the second time).
 */
export function installWasmFastKernels(): string[] {
  return replaceKernels(FAST);
}

/** For tests and benchmarks: the composite kernels, callable without registering them. */
export const internals = {
  conv2DBackpropInputXnn, conv2DBackpropFilter, conv2DBackpropFilterIm2col, depthwiseBackpropInput, depthwiseBackpropFilter, unsortedSegmentSum,
  conv2DBackpropFilterDilated, conv2DBackpropFilterSimd, conv2DBackpropInputSimd, matMulTNSimd, maxPoolGrad, matMulXnn, slice, unpack, splitV, identity, gatherV2, sum, tanh, tile,
  /** The wasm backend's own version of a kernel this module replaced (after installing). */
  stockKernel: (kernelName: string): tf.KernelConfig | undefined => stockKernels.get(kernelName),
  /** The wasm backend's own Conv2DBackpropInput, once installWasmTrainingKernels has replaced it. */
  stockConv2DBackpropInput: (): tf.KernelConfig | undefined => stockKernels.get('Conv2DBackpropInput'),
};

// ---------------------------------------------------------------------------------------------
// Threads: XNNPACK on more than one core in Node
// ---------------------------------------------------------------------------------------------

/** Threads the wasm backend runs XNNPACK on, once it has started (1 until enableWasmThreads). */
let wasmThreads = 1;

/**
 * Makes the wasm backend start its multi-threaded build in Node, so that XNNPACK (convolutions,
 * matmuls) runs on `threads` cores. Call before the backend initialises (before setup() or
 * tf.setBackend('wasm')); returns false, changing nothing, when it is too late or not Node.
 *
 * tfjs-backend-wasm 4.22 refuses threads in Node (tfjs#3830) for three reasons, each worked
 * around here only while the backend starts: its pthread worker script is handed to Node's
 * Worker as a `blob:` URL, which Node rejects (we write the script to a temporary file, and
 * make it load the module's glue code from its file instead of a Blob); the flag
 * WASM_HAS_MULTITHREAD_SUPPORT is hard-wired to false in Node (we set it); and the module caps
 * the pool at half the logical cores (it assumes 2 hyper-threads per core: 1 thread on a
 * 2-core VM), so `os.cpus()` reports twice the cores while the module reads it. The pool's
 * workers are unref'd so that they do not keep Node alive, and the module's spare workers ended.
 */
export function enableWasmThreads(threads: number = require('node:os').cpus().length): boolean {
  if (typeof process === 'undefined' || !process.versions?.node) return false;
  const entry = tf.engine().registryFactory[BACKEND];
  if (entry === undefined || wasmBackendStarted()) return false;
  if (threads <= 1) return true;
  const original = entry.factory;
  tf.removeBackend(BACKEND);
  tf.registerBackend(BACKEND, async () => {
    let restore = (): void => {};
    try {
      restore = patchNodeForWasmThreads(threads);
      const backend = await original() as BackendWasm;
      type NodeWorker = { unref(): void; terminate(): void };
      const pthreads = (backend.wasm as unknown as { PThread?: { runningWorkers: NodeWorker[]; unusedWorkers: NodeWorker[] } }).PThread;
      for (const w of pthreads?.runningWorkers ?? []) w.unref();
      // The module starts 8 workers whatever the pool size (~17 MB each); XNNPACK's pool holds
      // threads − 1 of them. Emscripten starts a new one if a thread is ever created later.
      for (const w of pthreads?.unusedWorkers.splice(0) ?? []) w.terminate();
      wasmThreads = wasm.getThreadsCount();
      return backend;
    } catch (e) {
      // The multi-threaded build did not start here: the ordinary one, on one thread.
      restore();
      restore = () => {};
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      wasmThreads = 1;
      wasmThreadsFailure = (e as Error).message ?? String(e);
      return original();
    } finally {
      restore();
    }
  }, entry.priority);
  return true;
}

/** Why the multi-threaded build did not start, if enableWasmThreads was asked and it did not. */
let wasmThreadsFailure: string | undefined;

/** Whether the wasm backend has started in this process (threads can only be chosen before). */
export function wasmBackendStarted(): boolean {
  return tf.engine().registry[BACKEND] !== undefined;
}

/** The threads XNNPACK runs on (1 unless enableWasmThreads took effect). */
export function wasmThreadCount(): number {
  return wasmThreads;
}

/** Why threads were asked for but the backend runs on one (undefined if they were not, or work). */
export function wasmThreadsProblem(): string | undefined {
  return wasmThreadsFailure;
}

function patchNodeForWasmThreads(threads: number): () => void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const fs = require('node:fs') as typeof import('node:fs');
  const os = require('node:os') as typeof import('node:os');
  const path = require('node:path') as typeof import('node:path');
  const glue = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const { wasmWorkerContents } = require(
    path.join(path.dirname(glue), 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  // The worker imports the glue from the Blob it is sent; Node can only import files.
  const fromBlob = 'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';
  if (!wasmWorkerContents.includes(fromBlob)) throw new Error('wasm-training: unexpected tfjs-backend-wasm worker script; cannot enable threads');
  // The template literal it came from turned "\n" escapes into newlines: put them back.
  const script = wasmWorkerContents.replace(/\n/g, '\\n').replace(fromBlob, `importScripts(${JSON.stringify(glue)});`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-wasm-threads-'));
  const workerFile = path.join(dir, 'worker.js');
  fs.writeFileSync(workerFile, script);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  const createObjectURL = URL.createObjectURL;
  URL.createObjectURL = (obj: Blob) => (obj?.type === 'application/javascript' ? workerFile : createObjectURL(obj));
  const nodeOs = require('os') as { cpus: typeof os.cpus };
  const cpus = nodeOs.cpus;
  nodeOs.cpus = () => [...cpus(), ...cpus()];
  return () => {
    URL.createObjectURL = createObjectURL;
    nodeOs.cpus = cpus;
  };
}
