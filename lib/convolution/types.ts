/** One setting of the convolution explorer (notebook 02): computed in the kernel, drawn by vega-lite. */
export interface ExplorerCase {
  mode: 'conv' | 'transposed';
  inputSize: number;     // i: the input is i×i
  kernelSize: number;    // k: the kernel is k×k
  stride: number;        // s
  padding: number;       // p: zeros added on every side (conv) / cropped from every side (transposed)
  outputPadding: number; // extra rows/cols added on one side of a transposed output (always 0 for conv)
  valid: boolean;        // false when the settings are impossible (output size < 1, outputPadding ≥ stride, …)
  error?: string;        // why they are impossible, in words a student can act on
  outputSize: number;    // o from the formula (0 when !valid)
  formula: string;       // the output-size formula with the numbers filled in, e.g. "o = ⌊(4 + 2·1 − 3) / 2⌋ + 1 = 2"
  maxAbsDiff: number;    // max |naive − tfjs| on a seeded random input and kernel (NaN when !valid)
}
