/**
 * Why "transposed": a convolution is multiplication by a sparse matrix C, and the transposed
 * convolution multiplies by Cᵀ. Matrices are dense number[][] here (small enough to print: a 4×4
 * input and 3×3 kernel give a 4×16 or 16×16 C) — the zeros are the sparsity.
 */
import { convOutputSize, matchingOutputPadding } from './arithmetic';
import { type Grid, gridShape, unvec, vec } from './grid';
import type { ConvOptions } from './naive';

/**
 * C with rows = output pixels (row-major), cols = input pixels (row-major), such that
 * vec(conv2dNaive(x, kernel, options)) = C · vec(x) for every inputSize×inputSize x.
 * Padding pixels have no column: they are zeros, so their weights multiply nothing.
 *
 * `kernel` as a number k (the kernel size) gives the *pattern*: entry = 1-based weight index
 * k·r + c + 1 (so a figure can label it w₁…w_{k²}), 0 where C is zero.
 */
export function convMatrix(inputSize: number, kernel: number | Grid, options: ConvOptions = {}): number[][] {
  const { stride = 1, padding = 0, dilation = 1 } = options;
  const k = typeof kernel === 'number' ? kernel : gridShape(kernel, 'kernel')[0];
  if (typeof kernel !== 'number' && gridShape(kernel, 'kernel')[1] !== k) {
    throw new Error(`convMatrix: kernel must be square (got ${k}×${kernel[0].length})`);
  }
  const weight = (r: number, c: number): number => (typeof kernel === 'number' ? k * r + c + 1 : kernel[r][c]);
  const o = convOutputSize({ inputSize, kernelSize: k, stride, padding, dilation });
  const C: number[][] = Array.from({ length: o * o }, () => new Array<number>(inputSize * inputSize).fill(0)); // [o², i²]
  for (let u = 0; u < o; u++) {
    for (let v = 0; v < o; v++) {
      for (let r = 0; r < k; r++) {
        const row = stride * u + dilation * r - padding;
        if (row < 0 || row >= inputSize) continue;
        for (let c = 0; c < k; c++) {
          const col = stride * v + dilation * c - padding;
          if (col < 0 || col >= inputSize) continue;
          C[u * o + v][row * inputSize + col] = weight(r, c);
        }
      }
    }
  }
  return C;
}

export function matTranspose(m: readonly (readonly number[])[]): number[][] {
  const [rows, cols] = gridShape(m, 'matrix');
  return Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (__, r) => m[r][c]));
}

export function matVec(m: readonly (readonly number[])[], x: readonly number[]): number[] {
  const [, cols] = gridShape(m, 'matrix');
  if (x.length !== cols) throw new Error(`matVec: matrix has ${cols} columns but the vector has ${x.length} entries`);
  return m.map((row) => row.reduce((acc, mij, j) => acc + mij * x[j], 0));
}

export function dot(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`dot: lengths differ (${a.length} vs ${b.length})`);
  return a.reduce((acc, ai, j) => acc + ai * b[j], 0);
}

function asVector(x: readonly number[] | readonly (readonly number[])[]): number[] {
  return Array.isArray(x[0]) ? vec(x as number[][]) : [...(x as number[])];
}

/**
 * |⟨Cx, y⟩ − ⟨x, Cᵀy⟩|: zero (up to rounding) for every x, y exactly when the map y ↦ Cᵀy is the
 * adjoint of x ↦ Cx. x and y may be images (vectorised row-major) or vectors.
 */
export function adjointGap(
  C: readonly (readonly number[])[],
  x: readonly number[] | readonly (readonly number[])[],
  y: readonly number[] | readonly (readonly number[])[],
): number {
  const xv = asVector(x);
  const yv = asVector(y);
  return Math.abs(dot(matVec(C, xv), yv) - dot(xv, matVec(matTranspose(C), yv)));
}

export interface TransposedViaMatrix {
  matrix: number[][];  // C of the convolution inputSize×inputSize → o×o, [o², i²]
  output: Grid;        // Cᵀ·vec(y) as an inputSize×inputSize image
  /** Settings under which transposedConv2dNaive(y, kernel, settings) equals `output`. */
  settings: { stride: number; padding: number; outputPadding: number };
}

/**
 * Cᵀ·vec(y) for the convolution (kernel, stride, padding) on inputSize×inputSize inputs, y being
 * an o×o image in that convolution's output space. It equals the transposed convolution with the
 * same kernel, stride and padding, and the outputPadding that recovers inputSize exactly.
 */
export function transposedViaMatrix(
  y: Grid,
  kernel: Grid,
  options: { inputSize: number; stride?: number; padding?: number },
): TransposedViaMatrix {
  const { inputSize, stride = 1, padding = 0 } = options;
  const C = convMatrix(inputSize, kernel, { stride, padding });
  const [yh, yw] = gridShape(y, 'y');
  const o = Math.round(Math.sqrt(C.length));
  if (yh !== o || yw !== o) {
    throw new Error(`y must be ${o}×${o}, the output of this convolution on ${inputSize}×${inputSize} inputs (got ${yh}×${yw})`);
  }
  const output = unvec(matVec(matTranspose(C), vec(y)), inputSize); // [i, i]
  const outputPadding = matchingOutputPadding(inputSize, kernel.length, stride, padding);
  return { matrix: C, output, settings: { stride, padding, outputPadding } };
}
