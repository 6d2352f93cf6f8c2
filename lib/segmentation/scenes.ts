/**
 * Seeded scenes for segmentation: 1–4 real MNIST digits, scaled and placed (possibly overlapping)
 * on a canvas with a textured, noisy background, with everything the four vision tasks of lecture
 * section 1 need: a class per pixel (semantic segmentation), an instance id per pixel (instance
 * segmentation) and a box per digit (detection, classification + localisation).
 *
 * Scene i of a set depends only on (seed, i), so a data set can be generated lazily, batch by
 * batch, and is the same on every run. Train and test scenes are drawn from disjoint digit images
 * (`splitDigits` in lib/data), so held-out scores measure generalisation to unseen handwriting.
 */
import { DIGIT_SIZE, type DigitSet } from '../data/mnist';
import { mulberry32, type Rng } from '../runtime/random';

/** Background + the ten digits: class c ≥ 1 is digit c − 1. */
export const SEG_CLASS_NAMES: readonly string[] = ['background', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const SEG_NUM_CLASSES = 11;

export interface SceneOptions {
  /** Canvas side in pixels. Default 64. */
  size?: number;
  /** Digits per scene, drawn uniformly from [minDigits, maxDigits]. Default 1…4. */
  minDigits?: number;
  maxDigits?: number;
  /**
   * Side of a digit's 28×28 box after scaling, in pixels, uniform in [min, max]. Default 24…34:
   * four digits of 30–42 px do not fit on a 64×64 canvas without covering one another (many
   * scenes were illegible even to a person, and the networks could not tell which digit a
   * stroke belonged to); at 24–34 px four digits fit side by side and strokes stay 2–4 px wide.
   */
  minDigitSize?: number;
  maxDigitSize?: number;
  /**
   * Largest fraction of a digit's ink another digit may cover (0: no overlap; default 0.05: digits
   * may touch and cross a little, and stay readable).
   * Placements that break it are retried, and a digit that cannot be placed is left out.
   */
  maxOverlap?: number;
  /** Largest amplitude of the smooth background texture (default 0.3) and of its pixel noise σ (default 0.06). */
  texture?: number;
  noise?: number;
}

/** A digit's box on the canvas: columns x0 ≤ x < x1, rows y0 ≤ y < y1 (its visible labelled pixels). */
export interface DigitBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** The digit, 0…9 (its class is digit + 1). */
  digit: number;
  /** The instance id of its pixels, 1…n in painting order. */
  instance: number;
}

export interface Scene {
  size: number;
  /** [size·size] row-major, values in [0, 1]. */
  image: Float32Array;
  /** [size·size] class per pixel: 0 background, 1 + digit. */
  labels: Uint8Array;
  /** [size·size] instance per pixel: 0 background, 1…n. */
  instances: Uint8Array;
  boxes: DigitBox[];
}

export interface SceneSet {
  size: number;
  count: number;
  /** [count, size, size] */
  images: Float32Array;
  labels: Uint8Array;
  instances: Uint8Array;
  boxes: DigitBox[][];
}

interface ResolvedSceneOptions {
  size: number;
  minDigits: number;
  maxDigits: number;
  minDigitSize: number;
  maxDigitSize: number;
  maxOverlap: number;
  texture: number;
  noise: number;
}

function resolveSceneOptions(options: SceneOptions): ResolvedSceneOptions {
  const o: ResolvedSceneOptions = {
    size: options.size ?? 64,
    minDigits: options.minDigits ?? 1,
    maxDigits: options.maxDigits ?? 4,
    minDigitSize: options.minDigitSize ?? 24,
    maxDigitSize: options.maxDigitSize ?? 34,
    maxOverlap: options.maxOverlap ?? 0.05,
    texture: options.texture ?? 0.3,
    noise: options.noise ?? 0.06,
  };
  const whole = (name: keyof ResolvedSceneOptions, min: number) => {
    if (!Number.isInteger(o[name]) || o[name] < min) throw new Error(`scene option ${name} must be a whole number ≥ ${min} (got ${o[name]})`);
  };
  whole('size', 8);
  whole('minDigits', 0);
  whole('maxDigits', 0);
  whole('minDigitSize', 4);
  whole('maxDigitSize', 4);
  if (o.minDigits > o.maxDigits) throw new Error(`minDigits (${o.minDigits}) must be ≤ maxDigits (${o.maxDigits})`);
  if (o.minDigitSize > o.maxDigitSize) throw new Error(`minDigitSize (${o.minDigitSize}) must be ≤ maxDigitSize (${o.maxDigitSize})`);
  if (o.maxDigitSize > o.size) {
    throw new Error(`maxDigitSize (${o.maxDigitSize}) must fit on the ${o.size}×${o.size} canvas: lower it or raise size`);
  }
  if (!(o.maxOverlap >= 0 && o.maxOverlap <= 1)) throw new Error(`maxOverlap must be in [0, 1] (got ${o.maxOverlap})`);
  if (!(o.texture >= 0 && o.noise >= 0)) throw new Error(`texture and noise must be ≥ 0 (got ${o.texture}, ${o.noise})`);
  return o;
}

/** A digit image resampled bilinearly from 28×28 to side×side (pixel centres aligned). */
function scaleDigit(digits: DigitSet, index: number, side: number): Float32Array {
  const src = digits.images.subarray(index * DIGIT_SIZE * DIGIT_SIZE, (index + 1) * DIGIT_SIZE * DIGIT_SIZE);
  const out = new Float32Array(side * side);
  const ratio = DIGIT_SIZE / side;
  for (let y = 0; y < side; y++) {
    const sy = Math.min(Math.max((y + 0.5) * ratio - 0.5, 0), DIGIT_SIZE - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, DIGIT_SIZE - 1);
    const ty = sy - y0;
    for (let x = 0; x < side; x++) {
      const sx = Math.min(Math.max((x + 0.5) * ratio - 0.5, 0), DIGIT_SIZE - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, DIGIT_SIZE - 1);
      const tx = sx - x0;
      const top = src[y0 * DIGIT_SIZE + x0] * (1 - tx) + src[y0 * DIGIT_SIZE + x1] * tx;
      const bottom = src[y1 * DIGIT_SIZE + x0] * (1 - tx) + src[y1 * DIGIT_SIZE + x1] * tx;
      out[y * side + x] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** Smooth texture: a coarse random grid, bilinearly upsampled, plus a level and pixel noise. */
function paintBackground(image: Float32Array, size: number, rng: Rng, o: ResolvedSceneOptions): void {
  const level = rng() * 0.2;
  const amplitude = rng() * o.texture;
  const sigma = rng() * o.noise;
  const g = 3 + Math.floor(rng() * 4); // 3…6 knots per side
  const knots = Array.from({ length: g * g }, () => rng() * amplitude);
  // Box–Muller gives two normals per (log, sqrt): keep the second
  let spare = NaN;
  const gaussian = (): number => {
    if (!Number.isNaN(spare)) { const v = spare; spare = NaN; return v; }
    const r = Math.sqrt(-2 * Math.log(1 - rng()));
    const a = 2 * Math.PI * rng();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
  for (let y = 0; y < size; y++) {
    const fy = (y / (size - 1)) * (g - 1);
    const ky = Math.min(Math.floor(fy), g - 2);
    const ty = fy - ky;
    for (let x = 0; x < size; x++) {
      const fx = (x / (size - 1)) * (g - 1);
      const kx = Math.min(Math.floor(fx), g - 2);
      const tx = fx - kx;
      const k = ky * g + kx; // no closures in hot loops: tsx wraps each one it creates
      const t = (knots[k] * (1 - tx) + knots[k + 1] * tx) * (1 - ty) + (knots[k + g] * (1 - tx) + knots[k + g + 1] * tx) * ty;
      image[y * size + x] = level + t + sigma * gaussian();
    }
  }
}

/** The seed of scene `index` of a set seeded with `seed` (a scene depends on nothing else). */
function sceneSeed(seed: number, index: number): number {
  let h = (seed ^ 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (index + 0x9e3779b9), 0xc2b2ae35) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x27d4eb2d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * One scene. Digits are painted in order with their ink as opacity (a later digit covers an
 * earlier one); a pixel is labelled with the top-most digit whose own ink there is ≥ 0.5.
 */
export function generateScene(digits: DigitSet, rng: Rng, options: SceneOptions = {}): Scene {
  const o = resolveSceneOptions(options);
  if (digits.count === 0) throw new Error('generateScene needs at least one digit image (got an empty DigitSet)');
  const { size } = o;
  const n = size * size;
  const image = new Float32Array(n);
  const labels = new Uint8Array(n);
  const instances = new Uint8Array(n);
  paintBackground(image, size, rng, o);
  const wanted = o.minDigits + Math.floor(rng() * (o.maxDigits - o.minDigits + 1));
  const inkCount: number[] = [0]; // ink pixels of each instance (index = instance id)
  let placed = 0;
  for (let d = 0; d < wanted; d++) {
    const index = Math.floor(rng() * digits.count);
    const side = o.minDigitSize + Math.floor(rng() * (o.maxDigitSize - o.minDigitSize + 1));
    const ink = scaleDigit(digits, index, side);
    const contrast = 0.75 + 0.25 * rng();
    let own = 0;
    for (let j = 0; j < ink.length; j++) if (ink[j] >= 0.5) own++;
    if (own === 0) continue;
    for (let attempt = 0; attempt < 20; attempt++) {
      const top = Math.floor(rng() * (size - side + 1));
      const left = Math.floor(rng() * (size - side + 1));
      // How much ink would each digit lose: the new one is on top, so it loses nothing.
      const covered = new Array(inkCount.length).fill(0);
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          if (ink[y * side + x] >= 0.5) covered[instances[(top + y) * size + left + x]]++;
        }
      }
      const overlapOk = covered.every((c, id) => id === 0 || c <= o.maxOverlap * inkCount[id]) &&
        covered.slice(1).reduce((a, b) => a + b, 0) <= o.maxOverlap * own;
      if (!overlapOk) continue;
      const id = inkCount.length;
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          const a = ink[y * side + x];
          const p = (top + y) * size + left + x;
          image[p] = a * contrast + (1 - a) * image[p];
          if (a >= 0.5) {
            labels[p] = digits.labels[index] + 1;
            instances[p] = id;
          }
        }
      }
      covered.forEach((c, k) => { if (k > 0) inkCount[k] -= c; });
      inkCount.push(own);
      placed++;
      break;
    }
  }
  for (let p = 0; p < n; p++) image[p] = Math.min(1, Math.max(0, image[p]));
  // Boxes of what is visible, in instance order.
  const boxes: DigitBox[] = [];
  for (let id = 1; id <= placed; id++) {
    let [x0, y0, x1, y1] = [size, size, -1, -1];
    let digit = -1;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const p = y * size + x;
        if (instances[p] !== id) continue;
        digit = labels[p] - 1;
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1);
      }
    }
    if (digit >= 0) boxes.push({ x0, y0, x1, y1, digit, instance: id });
  }
  return { size, image, labels, instances, boxes };
}

/** Scene `index` of the set seeded with `seed`: the same scene `generateScenes` puts at that index. */
export function sceneAt(digits: DigitSet, seed: number, index: number, options: SceneOptions = {}): Scene {
  return generateScene(digits, mulberry32(sceneSeed(seed, index)), options);
}

/** `count` scenes (scene i depends only on seed and i), packed into flat arrays. */
export function generateScenes(digits: DigitSet, count: number, options: SceneOptions & { seed?: number; start?: number } = {}): SceneSet {
  if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a whole number ≥ 0 (got ${count})`);
  const { seed = 0, start = 0, ...sceneOptions } = options;
  const size = resolveSceneOptions(sceneOptions).size;
  const n = size * size;
  const set: SceneSet = {
    size, count,
    images: new Float32Array(count * n),
    labels: new Uint8Array(count * n),
    instances: new Uint8Array(count * n),
    boxes: [],
  };
  for (let i = 0; i < count; i++) {
    const s = sceneAt(digits, seed, start + i, sceneOptions);
    set.images.set(s.image, i * n);
    set.labels.set(s.labels, i * n);
    set.instances.set(s.instances, i * n);
    set.boxes.push(s.boxes);
  }
  return set;
}

/** Scene i of a set as a Scene (views, no copies). */
export function sceneOf(set: SceneSet, i: number): Scene {
  if (!(Number.isInteger(i) && i >= 0 && i < set.count)) throw new Error(`scene index ${i} is out of range 0…${set.count - 1}`);
  const n = set.size * set.size;
  return {
    size: set.size,
    image: set.images.subarray(i * n, (i + 1) * n),
    labels: set.labels.subarray(i * n, (i + 1) * n),
    instances: set.instances.subarray(i * n, (i + 1) * n),
    boxes: set.boxes[i],
  };
}

/** A flat [size·size] array as rows (for figures). */
export function toRows<T extends ArrayLike<number>>(flat: T, size: number): number[][] {
  if (flat.length !== size * size) throw new Error(`expected ${size}×${size} = ${size * size} values, got ${flat.length}`);
  return Array.from({ length: size }, (_, r) => Array.from({ length: size }, (__, c) => flat[r * size + c]));
}
