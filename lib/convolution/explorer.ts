/**
 * Every setting of the notebook's convolution explorer, computed once in the kernel (vega-lite
 * then only filters the table): the output size, the formula with its numbers, why impossible
 * settings are impossible, and how far the naive code is from tfjs on a seeded random example.
 */
import { mulberry32 } from '../runtime/random';
import { type ConvMode, convOutputSize, describeOutputSize, transposedConvOutputSize } from './arithmetic';
import { maxAbsDiff, randomGrid } from './grid';
import { conv2dNaive, transposedConv2dNaive } from './naive';
import { conv2dTfjs, transposedConv2dTfjs } from './tfjs';
import type { ExplorerCase } from './types';

export interface ExplorerRanges {
  modes: readonly ConvMode[];
  inputSize: readonly number[];
  kernelSize: readonly number[];
  stride: readonly number[];
  padding: readonly number[];
  outputPadding: readonly number[]; // transposed only; conv cases always have 0
}

const span = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, j) => lo + j);

/** The notebook's sliders: 180 conv + 540 transposed settings. */
export const EXPLORER_RANGES: ExplorerRanges = {
  modes: ['conv', 'transposed'],
  inputSize: span(2, 6),
  kernelSize: span(1, 4),
  stride: span(1, 3),
  padding: span(0, 2),
  outputPadding: span(0, 2),
};

/**
 * All combinations of `ranges` (defaults: EXPLORER_RANGES) in the order mode, inputSize,
 * kernelSize, stride, padding, outputPadding — impossible ones included with valid: false, their
 * error message and maxAbsDiff NaN. Each valid case draws its own input and kernel (uniform in
 * [−1, 1)) from one seeded stream, so the table is the same on every run.
 */
export function explorerCases(ranges: Partial<ExplorerRanges> = {}, options: { seed?: number } = {}): ExplorerCase[] {
  const r: ExplorerRanges = { ...EXPLORER_RANGES, ...ranges };
  const rng = mulberry32(options.seed ?? 0);
  const cases: ExplorerCase[] = [];
  for (const mode of r.modes) {
    for (const inputSize of r.inputSize) {
      for (const kernelSize of r.kernelSize) {
        for (const stride of r.stride) {
          for (const padding of r.padding) {
            for (const outputPadding of mode === 'conv' ? [0] : r.outputPadding) {
              const settings = { inputSize, kernelSize, stride, padding, outputPadding };
              const item: ExplorerCase = {
                mode, inputSize, kernelSize, stride, padding, outputPadding,
                valid: true,
                outputSize: 0,
                formula: describeOutputSize(mode, settings),
                maxAbsDiff: Number.NaN,
              };
              try {
                item.outputSize = mode === 'conv' ? convOutputSize(settings) : transposedConvOutputSize(settings);
              } catch (e) {
                item.valid = false;
                item.error = (e as Error).message;
                cases.push(item);
                continue;
              }
              const input = randomGrid(inputSize, inputSize, rng);
              const kernel = randomGrid(kernelSize, kernelSize, rng);
              // One tfjs call per case. Measured on wasm (720 settings, 520 valid): the whole table
              // takes ~100 ms cold, ~25 ms warm; batching all results into one concat + read-back was
              // no faster, since wasm and cpu reads are memory copies, not GPU round trips.
              item.maxAbsDiff = mode === 'conv'
                ? maxAbsDiff(conv2dNaive(input, kernel, settings), conv2dTfjs(input, kernel, settings))
                : maxAbsDiff(transposedConv2dNaive(input, kernel, settings), transposedConv2dTfjs(input, kernel, settings));
              cases.push(item);
            }
          }
        }
      }
    }
  }
  return cases;
}
