/**
 * The spatial transformer's grid generator and bilinear sampler (Jaderberg et al. 2015, eq. 1–5).
 *
 * Coordinates are normalised: x, y ∈ [−1, 1] span the image, x left→right, y top→bottom. An output
 * pixel at normalised (xᵗ, yᵗ) reads the input at
 *
 *   (xˢ, yˢ)ᵀ = θ · (xᵗ, yᵗ, 1)ᵀ,  θ = [[θ11, θ12, θ13], [θ21, θ22, θ23]]   (stored row-major, 6 numbers)
 *
 * How −1 and +1 map to pixels is the *corner convention* (PyTorch's `align_corners`):
 *   - alignCorners: false (the default, PyTorch's since 1.3): −1 and +1 are the outer EDGES of the
 *     corner pixels; pixel j of a W-pixel row has its centre at x = (2j + 1)/W − 1. Resizing an image
 *     keeps its extent; the identity θ at another size is a proper resampling.
 *   - alignCorners: true (the original Torch STN, TensorFlow's resize with align_corners): −1 and +1
 *     are the CENTRES of the corner pixels; pixel j sits at x = 2j/(W − 1) − 1.
 * In pixel units (column u, centre of pixel j at u = j):
 *   alignCorners false: u = ((x + 1)·W − 1)/2        alignCorners true: u = (x + 1)(W − 1)/2
 *
 * Out-of-range samples: every neighbour pixel outside the image takes the value `background`, in
 * the units of the image the sampler reads. If a network normalises its input (x − mean)/std
 * before the sampler, a blank pixel is (0 − mean)/std there, not 0: sampling with 0 pads the
 * image with a grey frame, and the network learns to zoom out so the frame fills the view (a
 * known bug of popular tutorials). `backgroundFor({ mean, std })` gives the right value; the
 * kit's models sample the raw [0, 1] digits, where the blank value is 0.
 */
import * as tf from '@tensorflow/tfjs';

export interface SamplerOptions {
  /** The corner convention (see above). Default false. */
  alignCorners?: boolean;
  /** The value of every pixel outside the input, in the input's units. Default 0. */
  background?: number;
}

/** Output size: one number for a square output, or [height, width]. */
export type OutSize = number | readonly [number, number];

/** θ as 6 numbers, row-major: [θ11, θ12, θ13, θ21, θ22, θ23]. */
export type Theta = readonly [number, number, number, number, number, number] | readonly number[];

export const IDENTITY_THETA: readonly number[] = [1, 0, 0, 0, 1, 0];

/** What a blank pixel of the raw image becomes after (x − mean)/std: the background to sample with. */
export function backgroundFor(normalisation: { mean: number; std: number }, blank = 0): number {
  if (!(normalisation.std > 0)) throw new Error(`backgroundFor: std must be > 0 (got ${normalisation.std})`);
  return (blank - normalisation.mean) / normalisation.std;
}

function sizePair(size: OutSize, what: string): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h >= 1 && w >= 1)) {
    throw new Error(`${what} must be a positive integer or [height, width] of positive integers (got ${JSON.stringify(size)})`);
  }
  return [h, w];
}

/** Normalised coordinate of output pixel `j` of `n` (see the corner conventions above). */
export function normalisedCoordinate(j: number, n: number, alignCorners: boolean): number {
  if (alignCorners) return n === 1 ? 0 : -1 + (2 * j) / (n - 1);
  return -1 + (2 * j + 1) / n;
}

/** Pixel coordinate (centre of pixel j at j) of normalised `x` on an axis of `n` pixels. */
export function pixelCoordinate(x: number, n: number, alignCorners: boolean): number {
  return alignCorners ? ((x + 1) * (n - 1)) / 2 : ((x + 1) * n - 1) / 2;
}

/** Scale and offset of the normalised → pixel map u = s·x + c on an axis of `n` pixels. */
function pixelMap(n: number, alignCorners: boolean): { s: number; c: number } {
  return alignCorners ? { s: (n - 1) / 2, c: (n - 1) / 2 } : { s: n / 2, c: (n - 1) / 2 };
}

// ---------------------------------------------------------------------------------------------
// Naive versions: one output pixel at a time, plain numbers (the reference the tests and the
// notebook compare the tensor versions with).
// ---------------------------------------------------------------------------------------------

/** The source point (xˢ, yˢ) = θ · (xᵗ, yᵗ, 1) of one target point. */
export function applyTheta(theta: Theta, xt: number, yt: number): { x: number; y: number } {
  checkTheta6(theta);
  return { x: theta[0] * xt + theta[1] * yt + theta[2], y: theta[3] * xt + theta[4] * yt + theta[5] };
}

/** The sampling grid of θ as rows of normalised source points: grid[i][j] = θ·(xᵗ_j, yᵗ_i, 1). */
export function affineGridNaive(theta: Theta, outSize: OutSize, options: SamplerOptions = {}): { x: number; y: number }[][] {
  const [h, w] = sizePair(outSize, 'outSize');
  const align = options.alignCorners ?? false;
  return Array.from({ length: h }, (_, i) => Array.from({ length: w }, (_, j) =>
    applyTheta(theta, normalisedCoordinate(j, w, align), normalisedCoordinate(i, h, align))));
}

/** One bilinear sample: the four neighbours of normalised (x, y) and their weights. */
export interface BilinearSample {
  /** Pixel coordinates of the point (u = column, v = row). */
  u: number;
  v: number;
  /** Top-left, top-right, bottom-left, bottom-right: pixel position, weight, value read. */
  neighbours: { row: number; col: number; weight: number; inside: boolean; value: number }[];
  value: number;
}

export function bilinearPoint(image: readonly (readonly number[])[], x: number, y: number, options: SamplerOptions = {}): BilinearSample {
  const h = image.length;
  const w = image[0]?.length ?? 0;
  const align = options.alignCorners ?? false;
  const bg = options.background ?? 0;
  const u = pixelCoordinate(x, w, align);
  const v = pixelCoordinate(y, h, align);
  const c0 = Math.floor(u), r0 = Math.floor(v);
  const fu = u - c0, fv = v - r0;
  const neighbours = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([dr, dc]) => {
    const row = r0 + dr, col = c0 + dc;
    const inside = row >= 0 && row < h && col >= 0 && col < w;
    const weight = (dr ? fv : 1 - fv) * (dc ? fu : 1 - fu);
    return { row, col, weight, inside, value: inside ? image[row][col] : bg };
  });
  return { u, v, neighbours, value: neighbours.reduce((s, n) => s + n.weight * n.value, 0) };
}

/** The sampled image: every grid point read from `image` by bilinear interpolation. */
export function bilinearSampleNaive(image: readonly (readonly number[])[], grid: { x: number; y: number }[][], options: SamplerOptions = {}): number[][] {
  return grid.map((row) => row.map((p) => bilinearPoint(image, p.x, p.y, options).value));
}

/** affineGridNaive + bilinearSampleNaive: the whole spatial transformer on one grayscale image. */
export function spatialTransformNaive(image: readonly (readonly number[])[], theta: Theta, outSize: OutSize, options: SamplerOptions = {}): number[][] {
  return bilinearSampleNaive(image, affineGridNaive(theta, outSize, options), options);
}

// ---------------------------------------------------------------------------------------------
// θ from geometry
// ---------------------------------------------------------------------------------------------

export interface AffineParams {
  /** Degrees, counter-clockwise as the output appears: the sampler reads a rotated window. */
  rotation?: number;
  /** Zoom of the window: scale < 1 reads a smaller region, so the output shows it magnified. */
  scale?: number;
  /** Window centre in normalised input coordinates. */
  tx?: number;
  ty?: number;
}

/**
 * θ of a window centred at (tx, ty), `scale` times the image's size, rotated by `rotation`
 * degrees: θ = [s·R | t]. (x and y point right and down, so a positive angle turns the window
 * clockwise on screen and the content in the output counter-clockwise.)
 */
export function thetaFromParams(p: AffineParams): number[] {
  const s = p.scale ?? 1;
  const a = ((p.rotation ?? 0) * Math.PI) / 180;
  const [cos, sin] = [Math.cos(a), Math.sin(a)];
  return [s * cos, -s * sin, p.tx ?? 0, s * sin, s * cos, p.ty ?? 0];
}

function checkTheta6(theta: Theta): void {
  if (theta.length !== 6 || !theta.every((t) => typeof t === 'number')) {
    throw new Error(`θ must be 6 numbers [θ11, θ12, θ13, θ21, θ22, θ23] (got ${theta.length} values)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Tensor versions
// ---------------------------------------------------------------------------------------------

function checkImage(image: tf.Tensor, what: string): [number, number, number, number] {
  if (image.rank !== 4) {
    throw new Error(`${what}: the image must be [batch, height, width, channels] (got shape [${image.shape.join(', ')}]); ` +
      'add a channel axis with expandDims(-1) or a batch axis with expandDims(0)');
  }
  return image.shape as [number, number, number, number];
}

/** θ as [batch, 6], accepting [batch, 6] or [batch, 2, 3]. */
function thetaRows(theta: tf.Tensor, batch: number | null, what: string): tf.Tensor2D {
  const ok = (theta.rank === 2 && theta.shape[1] === 6) || (theta.rank === 3 && theta.shape[1] === 2 && theta.shape[2] === 3);
  if (!ok) throw new Error(`${what}: θ must be [batch, 6] or [batch, 2, 3] (got shape [${theta.shape.join(', ')}])`);
  if (batch !== null && theta.shape[0] !== batch) {
    throw new Error(`${what}: θ has ${theta.shape[0]} rows for a batch of ${batch} images: one θ per image`);
  }
  return theta.rank === 2 ? (theta as tf.Tensor2D) : tf.reshape(theta, [theta.shape[0], 6]);
}

/**
 * The base grid premultiplied into pixel units, so θ · base is already the pixel coordinate
 * (less the constant offset): mx = [s·xᵗ; s·yᵗ; s; 0; 0; 0] (6 × P), my = [0; 0; 0; s·xᵗ; s·yᵗ; s].
 * Computed in float64 and rounded once, so the identity θ lands exactly on pixel centres (the
 * identity reproduces the input bit for bit). Cached as plain arrays: no tensor outlives a call.
 */
interface BaseGrid { mx: Float32Array; my: Float32Array; cx: number; cy: number }
const baseGrids = new Map<string, BaseGrid>();

function baseGrid(outH: number, outW: number, inH: number, inW: number, align: boolean): BaseGrid {
  const key = `${outH}x${outW}<-${inH}x${inW}:${align}`;
  const cached = baseGrids.get(key);
  if (cached) return cached;
  const P = outH * outW;
  const mx = new Float32Array(6 * P);
  const my = new Float32Array(6 * P);
  const px = pixelMap(inW, align), py = pixelMap(inH, align);
  for (let i = 0; i < outH; i++) {
    const yt = normalisedCoordinate(i, outH, align);
    for (let j = 0; j < outW; j++) {
      const xt = normalisedCoordinate(j, outW, align);
      const k = i * outW + j;
      mx[k] = px.s * xt; mx[P + k] = px.s * yt; mx[2 * P + k] = px.s;
      my[3 * P + k] = py.s * xt; my[4 * P + k] = py.s * yt; my[5 * P + k] = py.s;
    }
  }
  const grid = { mx, my, cx: px.c, cy: py.c };
  if (baseGrids.size > 64) baseGrids.clear();
  baseGrids.set(key, grid);
  return grid;
}

/**
 * Bilinear sampling at pixel coordinates u (columns) and v (rows), each [batch, P]: returns
 * [batch, P, channels]. Composed of tensor ops (flatten, gather the four corners, weight, sum), so
 * autodiff gives the gradients: to the image through gather (whose gradient is an
 * UnsortedSegmentSum, filled in on wasm by lib/backend) and to u, v through the corner weights;
 * the integer corners carry none. `bilinearSample` uses it; `spatialTransform` uses the fused
 * twin below, which the tests hold to the same results and gradients.
 */
function sampleAtPixels(image: tf.Tensor4D, u: tf.Tensor2D, v: tf.Tensor2D, background: number): tf.Tensor3D {
  const [B, H, W, C] = image.shape;
  const P = u.shape[1];
  const uData = u.dataSync(), vData = v.dataSync();
  // Integer corners and their rows in the flattened image, in one pass. A corner outside the image
  // reads row B·H·W: an extra row holding the background (one concat instead of masks).
  const u0 = new Float32Array(B * P), v0 = new Float32Array(B * P);
  const index = new Int32Array(B * 4 * P);                              // [B, 4 corners, P]
  const outside = B * H * W;
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < P; k++) {
      const at = b * P + k;
      const c0 = Math.floor(uData[at]), r0 = Math.floor(vData[at]);
      u0[at] = c0; v0[at] = r0;
      for (let corner = 0; corner < 4; corner++) {
        const row = r0 + (corner >> 1), col = c0 + (corner & 1);
        index[(b * 4 + corner) * P + k] = row >= 0 && row < H && col >= 0 && col < W ? (b * H + row) * W + col : outside;
      }
    }
  }
  const fu = tf.sub(u, tf.tensor2d(u0, [B, P]));                          // [B, P] ∈ [0, 1)
  const fv = tf.sub(v, tf.tensor2d(v0, [B, P]));                          // [B, P]
  const gu = tf.sub(1, fu), gv = tf.sub(1, fv);
  const weights = tf.stack([tf.mul(gv, gu), tf.mul(gv, fu), tf.mul(fv, gu), tf.mul(fv, fu)], 1); // [B, 4, P]
  const flat = tf.concat([tf.reshape(image, [outside, C]), tf.fill([1, C], background)], 0); // [B·H·W + 1, C]
  const values = tf.reshape(tf.gather(flat, tf.tensor1d(index, 'int32')), [B, 4, P, C]); // [B, 4, P, C]
  return tf.sum(tf.mul(tf.reshape(weights, [B, 4, P, 1]), values), 1) as tf.Tensor3D; // [B, P, C]
}

/**
 * The same bilinear sampling fused into one custom op: the forward pass and the gradient are
 * single passes over the corners in JavaScript, instead of ~20 tensor ops whose gather alone
 * costs 10 ms per 64×28×28 batch on the wasm backend (its Gather kernel copies one value at a
 * time). Gradients, for out = Σₖ wₖ·Iₖ over the four corners k:
 *   ∂out/∂Iₖ = wₖ (scattered back to the pixel, duplicates summed; nothing for background corners)
 *   ∂out/∂u  = (1 − fv)(I₀₁ − I₀₀) + fv·(I₁₁ − I₁₀)      ∂out/∂v = (1 − fu)(I₁₀ − I₀₀) + fu·(I₁₁ − I₀₁)
 * where fu, fv are the fractional parts of the pixel coordinates (the floor carries no gradient).
 */
function sampleAtPixelsFused(image: tf.Tensor4D, u: tf.Tensor2D, v: tf.Tensor2D, background: number): tf.Tensor3D {
  const [B, H, W, C] = image.shape;
  const P = u.shape[1];
  const forward = (img: tf.Tensor, uu: tf.Tensor, vv: tf.Tensor) => {
    const pixels = img.dataSync() as Float32Array, U = uu.dataSync(), V = vv.dataSync();
    const corner = new Int32Array(B * P * 4);                          // [B·P, 4]: flat index of each corner's channel 0, −1 outside
    const fracU = new Float32Array(B * P), fracV = new Float32Array(B * P);
    const out = new Float32Array(B * P * C);                           // [B, P, C]
    const read = (base: number, c: number) => (base < 0 ? background : pixels[base + c]);
    for (let b = 0; b < B; b++) {
      for (let k = 0; k < P; k++) {
        const at = b * P + k;
        const c0 = Math.floor(U[at]), r0 = Math.floor(V[at]);
        const fu = U[at] - c0, fv = V[at] - r0;
        fracU[at] = fu; fracV[at] = fv;
        for (let q = 0; q < 4; q++) {
          const row = r0 + (q >> 1), col = c0 + (q & 1);
          // false for NaN coordinates too: they read the background
          corner[at * 4 + q] = row >= 0 && row < H && col >= 0 && col < W ? ((b * H + row) * W + col) * C : -1;
        }
        const [i00, i01, i10, i11] = [corner[at * 4], corner[at * 4 + 1], corner[at * 4 + 2], corner[at * 4 + 3]];
        const w00 = (1 - fv) * (1 - fu), w01 = (1 - fv) * fu, w10 = fv * (1 - fu), w11 = fv * fu;
        for (let c = 0; c < C; c++) {
          out[at * C + c] = w00 * read(i00, c) + w01 * read(i01, c) + w10 * read(i10, c) + w11 * read(i11, c);
        }
      }
    }
    const gradFunc = (dy: tf.Tensor) => {
      const g = dy.dataSync();                                          // [B, P, C]
      const dImage = new Float32Array(B * H * W * C), dU = new Float32Array(B * P), dV = new Float32Array(B * P);
      for (let at = 0; at < B * P; at++) {
        const fu = fracU[at], fv = fracV[at];
        const [i00, i01, i10, i11] = [corner[at * 4], corner[at * 4 + 1], corner[at * 4 + 2], corner[at * 4 + 3]];
        const w00 = (1 - fv) * (1 - fu), w01 = (1 - fv) * fu, w10 = fv * (1 - fu), w11 = fv * fu;
        let du = 0, dv = 0;
        for (let c = 0; c < C; c++) {
          const gc = g[at * C + c];
          if (gc === 0) continue;
          const v00 = read(i00, c), v01 = read(i01, c), v10 = read(i10, c), v11 = read(i11, c);
          du += gc * ((1 - fv) * (v01 - v00) + fv * (v11 - v10));
          dv += gc * ((1 - fu) * (v10 - v00) + fu * (v11 - v01));
          if (i00 >= 0) dImage[i00 + c] += gc * w00;
          if (i01 >= 0) dImage[i01 + c] += gc * w01;
          if (i10 >= 0) dImage[i10 + c] += gc * w10;
          if (i11 >= 0) dImage[i11 + c] += gc * w11;
        }
        dU[at] = du; dV[at] = dv;
      }
      return [tf.tensor4d(dImage, [B, H, W, C]), tf.tensor2d(dU, [B, P]), tf.tensor2d(dV, [B, P])];
    };
    return { value: tf.tensor3d(out, [B, P, C]), gradFunc };
  };
  // customGrad's typing expects (...inputs, save) in one rest parameter.
  const op = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(image, u, v) as tf.Tensor3D;
}

/**
 * The spatial transformer: samples `image` ([batch, H, W, C]) on the affine grid of `theta`
 * ([batch, 6] or [batch, 2, 3]) into [batch, outH, outW, C]. Differentiable with respect to the
 * image and θ, on every backend (gather's gradient is filled in on wasm by lib/backend).
 */
export function spatialTransform(image: tf.Tensor, theta: tf.Tensor, outSize: OutSize, options: SamplerOptions = {}): tf.Tensor4D {
  const [B, H, W, C] = checkImage(image, 'spatialTransform');
  const [outH, outW] = sizePair(outSize, 'spatialTransform: outSize');
  const background = options.background ?? 0;
  if (!Number.isFinite(background)) throw new Error(`spatialTransform: background must be a finite number (got ${background})`);
  return tf.tidy(() => {
    const rows = thetaRows(theta, B, 'spatialTransform');                  // [B, 6]
    const base = baseGrid(outH, outW, H, W, options.alignCorners ?? false);
    const P = outH * outW;
    const u = tf.add(tf.matMul(rows, tf.tensor2d(base.mx, [6, P])), base.cx) as tf.Tensor2D; // [B, P] columns
    const v = tf.add(tf.matMul(rows, tf.tensor2d(base.my, [6, P])), base.cy) as tf.Tensor2D; // [B, P] rows
    return tf.reshape(sampleAtPixelsFused(image as tf.Tensor4D, u, v, background), [B, outH, outW, C]);
  });
}

/**
 * The sampling grid of θ: [batch, outH, outW, 2] normalised source points (x, y), as PyTorch's
 * affine_grid. For drawing, and for `bilinearSample` with a grid made some other way.
 */
export function affineGrid(theta: tf.Tensor, outSize: OutSize, options: Pick<SamplerOptions, 'alignCorners'> = {}): tf.Tensor4D {
  const [outH, outW] = sizePair(outSize, 'affineGrid: outSize');
  const align = options.alignCorners ?? false;
  return tf.tidy(() => {
    const rows = thetaRows(theta, null, 'affineGrid');                     // [B, 6]
    const B = rows.shape[0];
    const P = outH * outW;
    const target = new Float32Array(3 * P);                                // [3, P]: xᵗ, yᵗ, 1
    for (let i = 0; i < outH; i++) {
      for (let j = 0; j < outW; j++) {
        const k = i * outW + j;
        target[k] = normalisedCoordinate(j, outW, align);
        target[P + k] = normalisedCoordinate(i, outH, align);
        target[2 * P + k] = 1;
      }
    }
    const points = tf.matMul(tf.reshape(rows, [B * 2, 3]), tf.tensor2d(target, [3, P])); // [B·2, P]: x rows, y rows
    return tf.transpose(tf.reshape(points, [B, 2, outH, outW]), [0, 2, 3, 1]) as tf.Tensor4D; // [B, outH, outW, 2]
  });
}

/**
 * Bilinear sampling of `image` ([batch, H, W, C]) at a normalised grid ([batch, outH, outW, 2],
 * last axis (x, y)), as PyTorch's grid_sample with a constant `background` outside.
 * Differentiable with respect to the image and the grid.
 */
export function bilinearSample(image: tf.Tensor, grid: tf.Tensor, options: SamplerOptions = {}): tf.Tensor4D {
  const [B, H, W, C] = checkImage(image, 'bilinearSample');
  if (grid.rank !== 4 || grid.shape[3] !== 2 || grid.shape[0] !== B) {
    throw new Error(`bilinearSample: the grid must be [${B}, outH, outW, 2] (normalised x, y per output pixel) for a batch of ${B}; got [${grid.shape.join(', ')}]`);
  }
  const [, outH, outW] = grid.shape;
  const align = options.alignCorners ?? false;
  return tf.tidy(() => {
    const px = pixelMap(W, align), py = pixelMap(H, align);
    const [x, y] = tf.split(tf.reshape(grid, [B, outH * outW, 2]), 2, 2);  // [B, P, 1] each
    const u = tf.add(tf.mul(tf.reshape(x, [B, outH * outW]), px.s), px.c) as tf.Tensor2D;
    const v = tf.add(tf.mul(tf.reshape(y, [B, outH * outW]), py.s), py.c) as tf.Tensor2D;
    return tf.reshape(sampleAtPixels(image as tf.Tensor4D, u, v, options.background ?? 0), [B, outH, outW, C]);
  });
}
