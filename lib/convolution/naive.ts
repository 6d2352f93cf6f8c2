/**
 * Convolution and transposed convolution written the way the lecture draws them, on number[][]
 * one-channel images, so each can be checked against tf.conv2d / tf.conv2dTranspose (tfjs.ts).
 */
import { convOutputSize, transposedConvOutputSize } from './arithmetic';
import { type Grid, gridShape, onesGrid, zerosGrid } from './grid';

export interface ConvOptions {
  stride?: number;   // default 1
  padding?: number;  // zeros added on every side, default 0
  dilation?: number; // default 1
}

export interface TransposedConvOptions {
  stride?: number;        // default 1
  padding?: number;       // rows/cols cropped from every side of the uncropped output, default 0
  outputPadding?: number; // extra rows/cols at the bottom/right, 0 ≤ outputPadding < stride, default 0
}

/**
 * Cross-correlation, as every deep-learning framework computes "convolution" (the kernel is not
 * flipped): out[u][v] = Σ_r Σ_c kernel[r][c] · x[s·u + d·r − p][s·v + d·c − p], with x = 0 outside.
 */
export function conv2dNaive(input: Grid, kernel: Grid, options: ConvOptions = {}): Grid {
  const { stride = 1, padding = 0, dilation = 1 } = options;
  const [h, w] = gridShape(input, 'input');
  const [kh, kw] = gridShape(kernel, 'kernel');
  const oh = convOutputSize({ inputSize: h, kernelSize: kh, stride, padding, dilation });
  const ow = convOutputSize({ inputSize: w, kernelSize: kw, stride, padding, dilation });
  const out = zerosGrid(oh, ow);
  for (let u = 0; u < oh; u++) {
    for (let v = 0; v < ow; v++) {
      let sum = 0;
      for (let r = 0; r < kh; r++) {
        const row = stride * u + dilation * r - padding;
        if (row < 0 || row >= h) continue; // a padding zero
        for (let c = 0; c < kw; c++) {
          const col = stride * v + dilation * c - padding;
          if (col < 0 || col >= w) continue;
          sum += kernel[r][c] * input[row][col];
        }
      }
      out[u][v] = sum;
    }
  }
  return out;
}

/** Where the transposed output lives on the uncropped canvas. */
export interface CropWindow {
  top: number;    // = padding
  left: number;   // = padding
  height: number; // the output size
  width: number;
}

interface TransposedGeometry {
  canvas: [number, number]; // [rows, cols] of the uncropped canvas
  crop: CropWindow;
}

/**
 * The uncropped output is (i − 1)·s + k per axis. outputPadding rows/cols are taken from it where it
 * has them (beyond the cropped `padding`) and are zeros past its edge, as in PyTorch and
 * tf.conv2dTranspose; the canvas is extended with zeros in that case so the crop window fits.
 */
function transposedGeometry(
  h: number,
  w: number,
  kh: number,
  kw: number,
  stride: number,
  padding: number,
  outputPadding: number,
): TransposedGeometry {
  const oh = transposedConvOutputSize({ inputSize: h, kernelSize: kh, stride, padding, outputPadding });
  const ow = transposedConvOutputSize({ inputSize: w, kernelSize: kw, stride, padding, outputPadding });
  const rows = Math.max((h - 1) * stride + kh, padding + oh);
  const cols = Math.max((w - 1) * stride + kw, padding + ow);
  return { canvas: [rows, cols], crop: { top: padding, left: padding, height: oh, width: ow } };
}

function cropGrid(canvas: Grid, crop: CropWindow): Grid {
  return canvas.slice(crop.top, crop.top + crop.height).map((row) => row.slice(crop.left, crop.left + crop.width));
}

/**
 * Transposed convolution as the lecture says it: input value x[a][b] weights a copy of the kernel
 * placed at (s·a, s·b) of the uncropped output; overlapping copies add; then `padding` is cropped from
 * every side and `outputPadding` extra rows/cols kept at the bottom/right. Matches tf.conv2dTranspose
 * and PyTorch's ConvTranspose2d (neither flips the kernel: this is the adjoint of conv2dNaive).
 */
export function transposedConv2dNaive(input: Grid, kernel: Grid, options: TransposedConvOptions = {}): Grid {
  const { stride = 1, padding = 0, outputPadding = 0 } = options;
  const [h, w] = gridShape(input, 'input');
  const [kh, kw] = gridShape(kernel, 'kernel');
  const { canvas, crop } = transposedGeometry(h, w, kh, kw, stride, padding, outputPadding);
  const full = zerosGrid(canvas[0], canvas[1]);
  for (let a = 0; a < h; a++) {
    for (let b = 0; b < w; b++) {
      for (let r = 0; r < kh; r++) {
        for (let c = 0; c < kw; c++) full[stride * a + r][stride * b + c] += input[a][b] * kernel[r][c];
      }
    }
  }
  return cropGrid(full, crop);
}

/** One input pixel's contribution, for a figure that steps through the scatter-add. */
export interface TransposedConvStep {
  row: number;              // input position (row-major order of the steps)
  col: number;
  value: number;            // input[row][col]
  offset: [number, number]; // where the kernel copy's top-left lands on the canvas: (s·row, s·col)
  placed: Grid;             // value · kernel at `offset`, zeros elsewhere (canvas-sized)
  sum: Grid;                // running sum of all copies so far (canvas-sized)
}

export interface TransposedConvTrace {
  canvasSize: [number, number]; // uncropped canvas [rows, cols]
  crop: CropWindow;             // the output is sum[top..top+height)[left..left+width) of the last step
  steps: TransposedConvStep[];
  output: Grid;                 // = transposedConv2dNaive(input, kernel, options)
}

/**
 * The same computation as `transposedConv2dNaive`, keeping every intermediate canvas: one step per
 * input pixel in row-major order, then the crop window. Sized for lecture examples (i ≤ ~8).
 */
export function transposedConv2dSteps(input: Grid, kernel: Grid, options: TransposedConvOptions = {}): TransposedConvTrace {
  const { stride = 1, padding = 0, outputPadding = 0 } = options;
  const [h, w] = gridShape(input, 'input');
  const [kh, kw] = gridShape(kernel, 'kernel');
  const { canvas, crop } = transposedGeometry(h, w, kh, kw, stride, padding, outputPadding);
  const steps: TransposedConvStep[] = [];
  let sum = zerosGrid(canvas[0], canvas[1]);
  for (let a = 0; a < h; a++) {
    for (let b = 0; b < w; b++) {
      const placed = zerosGrid(canvas[0], canvas[1]);
      for (let r = 0; r < kh; r++) {
        for (let c = 0; c < kw; c++) placed[stride * a + r][stride * b + c] = input[a][b] * kernel[r][c];
      }
      sum = sum.map((row, r) => row.map((v, c) => v + placed[r][c]));
      steps.push({ row: a, col: b, value: input[a][b], offset: [stride * a, stride * b], placed, sum });
    }
  }
  return { canvasSize: canvas, crop, steps, output: cropGrid(sum, crop) };
}

/**
 * How many kernel copies touch each output pixel: the transposed convolution of all-ones by
 * all-ones. With kernelSize not a multiple of stride the counts alternate — the checkerboard
 * artefact of Odena et al. 2016 (for 3×3, stride 2: 1, 2 and 4 copies).
 */
export function overlapCounts(
  inputSize: number,
  kernelSize: number,
  stride: number,
  options: { padding?: number; outputPadding?: number } = {},
): Grid {
  return transposedConv2dNaive(onesGrid(inputSize), onesGrid(kernelSize), { stride, ...options });
}
