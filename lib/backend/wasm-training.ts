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
import '@tensorflow/tfjs-backend-wasm'; // registers the 'wasm' backend and its kernels
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

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

  constructor(readonly backend: BackendWasm) {}

  run(kernelName: string, inputs: Record<string, TensorInfo>, attrs: object = {}): TensorInfo {
    const kernel = tf.getKernel(kernelName, BACKEND);
    if (kernel === undefined) throw new Error(`wasm-training: the wasm backend has no '${kernelName}' kernel`);
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
 * Read with ci as the batch and b as the channel, this is itself a convolution of x with dy as
 * the filter, dilated by the stride: conv2d(xᵀ [ci, h, w, b], dyᵀ [oh, ow, b, co], dilation =
 * stride) → [ci, fh, fw, co]. One XNNPACK call does all the multiply-adds (its operator is
 * cached per filter id and dropped when dyᵀ is released).
 */
function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const x = input(args.inputs, 'x'), dy = input(args.inputs, 'dy');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  assertNhwc('Conv2DBackpropFilter', attrs.dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, 'channelsLast');
  const [fh, fw, ci, co] = attrs.filterShape;
  const { batchSize: b, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  if (dy.shape[1] !== oh || dy.shape[2] !== ow || dy.shape[3] !== co) {
    throw new Error(`wasm-training: Conv2DBackpropFilter dy shape ${dy.shape} does not match the forward output [${b},${oh},${ow},${co}]`);
  }
  return compose(args.backend, s => {
    const { top, left } = info.padInfo;
    // Rows the filter reaches, counted from the padded top; pad below only as far as that.
    const bottom = Math.max(0, fh + (oh - 1) * sh - top - h);
    const right = Math.max(0, fw + (ow - 1) * sw - left - w);
    const xT = s.transpose(x, [3, 1, 2, 0]);                                   // [ci, h, w, b]
    const dyT = s.transpose(dy, [1, 2, 0, 3]);                                 // [oh, ow, b, co]
    const full = s.run('Conv2D', { x: xT, filter: dyT }, {
      strides: [1, 1], dilations: [sh, sw], pad: explicit(top, bottom, left, right),
      dataFormat: 'NHWC', dimRoundingMode: undefined,
    });                                                                        // [ci, ≥fh, ≥fw, co]
    const cropped = full.shape[1] === fh && full.shape[2] === fw
      ? full
      : s.run('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [ci, fh, fw, co] }); // [ci, fh, fw, co]
    return s.transpose(cropped, [1, 2, 0, 3]);                                 // [fh, fw, ci, co]
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
  const xv = backend.readSync(x.dataId) as Float32Array;                     // [b, h, w, c]
  const dyv = backend.readSync(dy.dataId) as Float32Array;                   // [b, oh, ow, c]
  const dx = new Float32Array(xv.length);                                    // [b, h, w, c]
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
  return backend.makeOutput(x.shape, 'float32', undefined, dx);
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

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const stock = stockKernels.get('Conv2DBackpropInput');
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const dy = input(args.inputs, 'dy'), filter = input(args.inputs, 'filter');
  const macs = tf.util.sizeFromShape(dy.shape) * filter.shape[0] * filter.shape[1] * filter.shape[2];
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
 * Registers on the 'wasm' backend the kernels training needs that it lacks. Idempotent; returns the names it registered (empty when all exist).
 *
 * Also replaces two kernels the backend has (their names are returned too, once):
 * Conv2DBackpropInput — the forward pass of every conv2dTranspose and the input gradient of
 * every conv2d — whose scalar loops were 3–11× slower than the sub-pixel XNNPACK version on
 * this project's shapes ([8, 16, 16, 64] → [8, 32, 32, 32], 3×3, stride 2: 25 ms → 4.5 ms);
 * and MaxPoolGrad, which loses the gradient of windows whose values are all ≤ 0.
 */
export function installWasmTrainingKernels(): string[] {
  const registered: string[] = [];
  for (const [kernelName, impl] of MISSING) {
    if (tf.getKernel(kernelName, BACKEND) !== undefined) continue;
    tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc: impl as unknown as tf.KernelFunc });
    registered.push(kernelName);
  }
  for (const [kernelName, impl] of REPLACED) {
    const current = tf.getKernel(kernelName, BACKEND);
    const kernelFunc = impl as unknown as tf.KernelFunc;
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

/** For tests and benchmarks: the composite kernels, callable without registering them. */
export const internals = {
  conv2DBackpropInputXnn, conv2DBackpropFilter, depthwiseBackpropInput, depthwiseBackpropFilter, unsortedSegmentSum,
  maxPoolGrad,
  /** The wasm backend's own Conv2DBackpropInput, once installWasmTrainingKernels has replaced it. */
  stockConv2DBackpropInput: (): tf.KernelConfig | undefined => stockKernels.get('Conv2DBackpropInput'),
};
