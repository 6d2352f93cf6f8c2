/**
 * Output-size arithmetic of convolution and transposed convolution (lecture section 2), with
 * errors a student can act on. Sizes are per axis: an i×i input with a k×k kernel.
 *
 * Convention (PyTorch's, the one the lecture's slides use):
 *   convolution             o = ⌊(i + 2p − d·(k − 1) − 1) / s⌋ + 1   (= ⌊(i + 2p − k) / s⌋ + 1 for d = 1)
 *   transposed convolution  o = (i − 1)·s − 2p + k + outputPadding
 * In a transposed convolution `padding` does not add zeros: it crops p rows/cols from each side of
 * the (i − 1)·s + k output, so that it inverts the *shape* of a convolution with the same padding.
 */

export interface ConvSettings {
  inputSize: number;  // i
  kernelSize: number; // k
  stride: number;     // s
  padding: number;    // p: zeros added on every side
  dilation?: number;  // d: gaps between kernel taps (default 1: an ordinary convolution)
}

export interface TransposedConvSettings {
  inputSize: number;     // i
  kernelSize: number;    // k
  stride: number;        // s
  padding: number;       // p: rows/cols cropped from every side of the output
  outputPadding: number; // extra rows/cols at the bottom/right, 0 ≤ outputPadding < stride
}

export type ConvMode = 'conv' | 'transposed';

function requireInt(name: string, value: number, min: number, why: string): void {
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`${name} must be a whole number ≥ ${min} (got ${value}): ${why}`);
  }
}

function checkConvSettings(settings: ConvSettings): void {
  const { inputSize, kernelSize, stride, padding, dilation = 1 } = settings;
  requireInt('inputSize', inputSize, 1, 'the input is inputSize×inputSize pixels');
  requireInt('kernelSize', kernelSize, 1, 'a kernel needs at least one weight');
  requireInt('stride', stride, 1, 'the kernel moves stride pixels per step; use 1 to visit every position');
  requireInt('padding', padding, 0, 'padding adds zeros on each side; use 0 for none');
  requireInt('dilation', dilation, 1, 'dilation 1 is an ordinary convolution, d > 1 spreads the taps d pixels apart');
}

function checkTransposedSettings(settings: TransposedConvSettings): void {
  const { inputSize, kernelSize, stride, padding, outputPadding } = settings;
  requireInt('inputSize', inputSize, 1, 'the input is inputSize×inputSize pixels');
  requireInt('kernelSize', kernelSize, 1, 'a kernel needs at least one weight');
  requireInt('stride', stride, 1, 'each input pixel moves its kernel copy stride pixels; use 1 for no upsampling');
  requireInt('padding', padding, 0,
    'in a transposed convolution padding crops rows/cols from each side of the output; use 0 for no cropping');
  if (!Number.isInteger(outputPadding) || outputPadding < 0 || outputPadding >= stride) {
    throw new Error(
      `outputPadding must be a whole number with 0 ≤ outputPadding < stride (got ${outputPadding} with stride ${stride}): ` +
        `it only chooses among the ${stride} output sizes that a stride-${stride} convolution maps back to the same input size; ` +
        `use 0${stride > 1 ? `…${stride - 1}` : ''}`,
    );
  }
}

/** Raw formula value, no checks: what the explorer shows even for impossible settings. */
function rawConvSize({ inputSize, kernelSize, stride, padding, dilation = 1 }: ConvSettings): number {
  return Math.floor((inputSize + 2 * padding - dilation * (kernelSize - 1) - 1) / stride) + 1;
}

function rawTransposedSize({ inputSize, kernelSize, stride, padding, outputPadding }: TransposedConvSettings): number {
  return (inputSize - 1) * stride - 2 * padding + kernelSize + outputPadding;
}

/** o = ⌊(i + 2p − d·(k − 1) − 1) / s⌋ + 1; throws (naming the setting and the fix) when impossible. */
export function convOutputSize(settings: ConvSettings): number {
  checkConvSettings(settings);
  const o = rawConvSize(settings);
  if (o < 1) {
    const { inputSize, kernelSize, padding, dilation = 1 } = settings;
    const extent = dilation * (kernelSize - 1) + 1; // pixels one placement of the (dilated) kernel covers
    const paddingNeeded = Math.ceil((extent - inputSize) / 2);
    const span = dilation === 1
      ? `kernelSize ${kernelSize}`
      : `kernelSize ${kernelSize} at dilation ${dilation} (spanning ${extent} pixels)`;
    throw new Error(
      `output size must be ≥ 1 (got ${o}): ${span} does not fit in the padded input ` +
        `(inputSize + 2·padding = ${inputSize} + 2·${padding} = ${inputSize + 2 * padding}); ` +
        `use padding ≥ ${paddingNeeded}, a larger inputSize, or a smaller kernelSize`,
    );
  }
  return o;
}

/** o = (i − 1)·s − 2p + k + outputPadding; throws (naming the setting and the fix) when impossible. */
export function transposedConvOutputSize(settings: TransposedConvSettings): number {
  checkTransposedSettings(settings);
  const o = rawTransposedSize(settings);
  if (o < 1) {
    const { inputSize, kernelSize, stride, padding, outputPadding } = settings;
    const uncropped = (inputSize - 1) * stride + kernelSize + outputPadding;
    throw new Error(
      `output size must be ≥ 1 (got ${o}): padding ${padding} crops 2·${padding} = ${2 * padding} rows/cols ` +
        `but the uncropped output (inputSize − 1)·stride + kernelSize + outputPadding has only ${uncropped}; ` +
        `use padding ≤ ${Math.floor((uncropped - 1) / 2)}`,
    );
  }
  return o;
}

/** Wraps negative numbers in parentheses so "2·(−1)" reads as a product, not a subtraction. */
function num(x: number): string {
  return x < 0 ? `(−${-x})` : `${x}`;
}

/** A result with a typographic minus, matching the operators. */
function result(x: number): string {
  return x < 0 ? `−${-x}` : `${x}`;
}

/**
 * The output-size formula with the numbers filled in, e.g. "o = ⌊(4 + 2·1 − 3) / 2⌋ + 1 = 2" or
 * "o = (2 − 1)·2 − 2·1 + 3 + 1 = 4". Never throws: for impossible settings it shows the raw value
 * (e.g. "= 0"), which is the reason they are impossible.
 */
export function describeOutputSize(mode: 'conv', settings: ConvSettings): string;
export function describeOutputSize(mode: 'transposed', settings: TransposedConvSettings): string;
export function describeOutputSize(mode: ConvMode, settings: ConvSettings | TransposedConvSettings): string;
export function describeOutputSize(mode: ConvMode, settings: ConvSettings | TransposedConvSettings): string {
  const { inputSize: i, kernelSize: k, stride: s, padding: p } = settings;
  if (mode === 'transposed') {
    const op = (settings as TransposedConvSettings).outputPadding;
    const o = rawTransposedSize(settings as TransposedConvSettings);
    return `o = (${num(i)} − 1)·${num(s)} − 2·${num(p)} + ${num(k)} + ${num(op)} = ${result(o)}`;
  }
  const d = (settings as ConvSettings).dilation ?? 1;
  const o = rawConvSize(settings as ConvSettings);
  const kernelTerm = d === 1 ? `${num(k)}` : `${num(d)}·(${num(k)} − 1) − 1`;
  return `o = ⌊(${num(i)} + 2·${num(p)} − ${kernelTerm}) / ${num(s)}⌋ + 1 = ${result(o)}`;
}

/**
 * The outputPadding that makes a transposed convolution (same kernelSize, stride, padding) give
 * back exactly `inputSize` from the output of the convolution: (i + 2p − k) mod s. A stride-s
 * convolution maps s different input sizes to the same output size (the floor), and this is the
 * remainder the floor threw away.
 */
export function matchingOutputPadding(inputSize: number, kernelSize: number, stride: number, padding: number): number {
  convOutputSize({ inputSize, kernelSize, stride, padding }); // same checks and messages
  return (inputSize + 2 * padding - kernelSize) % stride;
}
