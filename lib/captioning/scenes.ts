/**
 * Captioned scenes: 2–4 coloured MNIST digits on a black canvas, each in one cell of a 3×3 layout,
 * with captions from a small grammar that names every object (colour + digit) and chains them
 * with spatial relations: "a red seven left of a blue two above a green three".
 *
 * Every scene is drawn from a seed and its index, so a data set is a recipe, not a file: batches
 * are rendered on demand and any scene can be redrawn for a figure. Train and test use disjoint
 * digit images (splitDigits) and disjoint layouts (which cells hold an object): every test scene
 * has an arrangement of objects that no training scene has.
 */
import { loadMnistDigits, splitDigits, DIGIT_SIZE, type DigitSet } from '../data';
import { mulberry32, shuffle, type Rng } from '../runtime/random';

/** The colours an object can have, and the RGB each is drawn in. */
export const SCENE_COLOURS = {
  red: [1.0, 0.22, 0.18],
  green: [0.25, 0.9, 0.25],
  blue: [0.3, 0.45, 1.0],
  yellow: [1.0, 0.88, 0.1],
  white: [1.0, 1.0, 1.0],
} as const;
export type SceneColour = keyof typeof SCENE_COLOURS;
export const COLOUR_NAMES = Object.keys(SCENE_COLOURS) as SceneColour[];
export const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;

/** The canvas: a LAYOUT×LAYOUT arrangement of square cells, one object per cell at most. */
export const SCENE_LAYOUT = 3;
export const SCENE_CELL = 16;
export const SCENE_SIZE = SCENE_LAYOUT * SCENE_CELL; // 48 px

/** A box in pixels: x to the right, y down, from the top-left corner of the image. */
export interface Box { x: number; y: number; width: number; height: number }

export interface SceneObject {
  digit: number;
  colour: SceneColour;
  row: number;
  col: number;
  /** The pixels the digit's tile covers (the whole 16×16 cell). */
  box: Box;
  /** Index of the drawn image in the scene set's digits. */
  digitIndex: number;
}

export interface CaptionScene {
  /** Index in its scene set. */
  index: number;
  /** In reading order (top to bottom, left to right). */
  objects: SceneObject[];
  /** Several reference captions, as words. */
  references: string[][];
  /** [SCENE_SIZE, SCENE_SIZE, 3] row-major RGB in [0, 1]. */
  image: Float32Array;
}

export type SceneSplit = 'train' | 'test';

export interface SceneSetOptions {
  split: SceneSplit;
  /** Number of scenes. */
  size: number;
  /** Seed of the objects, colours and digit images drawn for each scene. Default 1. */
  seed?: number;
  /** Objects per scene: each count equally likely. Default [2, 3, 4]. */
  objectCounts?: number[];
  /** Share of all layouts kept for the test split only. Default 0.25. */
  testLayoutFraction?: number;
  /** Digits to draw from; default: the split's part of splitDigits(loadMnistDigits(), { seed: 0 }). */
  digits?: DigitSet;
}

export interface CaptionSceneSet {
  split: SceneSplit;
  size: number;
  options: Required<Omit<SceneSetOptions, 'digits'>>;
  digits: DigitSet;
  /** The layouts (sorted cell lists) this split draws from. */
  layouts: number[][];
  /** Renders scene `index` (deterministic). */
  scene(index: number): CaptionScene;
}

// ---------------------------------------------------------------------------------------------
// Grammar
// ---------------------------------------------------------------------------------------------

/** Every word the grammar uses, besides the special tokens. */
export const SCENE_WORDS: readonly string[] = [
  'a', 'left', 'right', 'of', 'above', 'below', ...COLOUR_NAMES, ...DIGIT_WORDS,
];

type Relation = 'left of' | 'right of' | 'above' | 'below';
// "left of" rather than "to the left of": two words fewer per relation is a quarter fewer decoder
// steps on a 4-object caption, and the steps are what training pays for.
const RELATION_WORDS: Record<Relation, string[]> = {
  'left of': ['left', 'of'],
  'right of': ['right', 'of'],
  above: ['above'],
  below: ['below'],
};

/** The noun phrase of one object: "a red seven". */
export function objectPhrase(o: Pick<SceneObject, 'colour' | 'digit'>): string[] {
  return ['a', o.colour, DIGIT_WORDS[o.digit]];
}

/**
 * The relations that hold between `a` and `b` ("a is … of b"): a vertical one when they are in
 * different rows, a horizontal one when in different columns (both for a diagonal pair).
 */
export function relationsBetween(a: Pick<SceneObject, 'row' | 'col'>, b: Pick<SceneObject, 'row' | 'col'>): Relation[] {
  const out: Relation[] = [];
  if (a.row < b.row) out.push('above');
  if (a.row > b.row) out.push('below');
  if (a.col < b.col) out.push('left of');
  if (a.col > b.col) out.push('right of');
  if (out.length === 0) throw new Error('relationsBetween: two objects cannot share a cell');
  return out;
}

/** One caption: the objects in the given order, each consecutive pair joined by a relation. */
function chain(objects: SceneObject[], preferVertical: boolean): string[] {
  const words: string[] = [...objectPhrase(objects[0])];
  for (let k = 1; k < objects.length; k++) {
    const rels = relationsBetween(objects[k - 1], objects[k]);
    const rel = rels.length === 1 ? rels[0] : preferVertical ? rels[0] : rels[1];
    words.push(...RELATION_WORDS[rel], ...objectPhrase(objects[k]));
  }
  return words;
}

/**
 * The reference captions of a scene: the objects chained in reading order and in reverse, with
 * the vertical or the horizontal relation for diagonal neighbours (2 to 4 distinct captions).
 */
export function sceneCaptions(objects: SceneObject[]): string[][] {
  if (objects.length === 0) throw new Error('sceneCaptions: a scene needs at least one object');
  const ordered = [...objects].sort((p, q) => p.row - q.row || p.col - q.col);
  const reversed = [...ordered].reverse();
  const all = [chain(ordered, true), chain(ordered, false), chain(reversed, true), chain(reversed, false)];
  const seen = new Set<string>();
  return all.filter((c) => {
    const key = c.join(' ');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Drawing
// ---------------------------------------------------------------------------------------------

/**
 * Area-averaging resize of a single-channel image (each output pixel is the mean of the source
 * area it covers): shrinking a 28×28 digit to 16×16 keeps its strokes instead of aliasing them.
 */
export function resizeArea(src: ArrayLike<number>, srcH: number, srcW: number, dstH: number, dstW: number, channels = 1): Float32Array {
  if (!(srcH > 0 && srcW > 0 && dstH > 0 && dstW > 0)) throw new Error(`resizeArea: sizes must be positive (got ${srcH}×${srcW} → ${dstH}×${dstW})`);
  if (src.length !== srcH * srcW * channels) throw new Error(`resizeArea: ${src.length} values do not make a ${srcH}×${srcW}×${channels} image`);
  const out = new Float32Array(dstH * dstW * channels);
  const sy = srcH / dstH;
  const sx = srcW / dstW;
  for (let y = 0; y < dstH; y++) {
    const y0 = y * sy, y1 = y0 + sy;
    for (let x = 0; x < dstW; x++) {
      const x0 = x * sx, x1 = x0 + sx;
      for (let ch = 0; ch < channels; ch++) {
        let sum = 0;
        for (let r = Math.floor(y0); r < Math.min(srcH, Math.ceil(y1)); r++) {
          const wy = Math.min(y1, r + 1) - Math.max(y0, r);
          for (let c = Math.floor(x0); c < Math.min(srcW, Math.ceil(x1)); c++) {
            const wx = Math.min(x1, c + 1) - Math.max(x0, c);
            sum += wy * wx * src[(r * srcW + c) * channels + ch];
          }
        }
        out[(y * dstW + x) * channels + ch] = sum / (sy * sx);
      }
    }
  }
  return out;
}

/** Draws objects onto a black canvas: each digit shrunk to its cell and tinted with its colour. */
export function renderScene(objects: SceneObject[], digits: DigitSet): Float32Array {
  const image = new Float32Array(SCENE_SIZE * SCENE_SIZE * 3);
  const px = DIGIT_SIZE * DIGIT_SIZE;
  for (const o of objects) {
    const tile = resizeArea(digits.images.subarray(o.digitIndex * px, (o.digitIndex + 1) * px), DIGIT_SIZE, DIGIT_SIZE, SCENE_CELL, SCENE_CELL);
    const rgb = SCENE_COLOURS[o.colour];
    for (let y = 0; y < SCENE_CELL; y++) {
      for (let x = 0; x < SCENE_CELL; x++) {
        const v = Math.min(1, tile[y * SCENE_CELL + x]);
        const at = ((o.box.y + y) * SCENE_SIZE + o.box.x + x) * 3;
        for (let ch = 0; ch < 3; ch++) image[at + ch] = v * rgb[ch];
      }
    }
  }
  return image;
}

/** A scene image as rows of RGB pixels, for images() and the figures. */
export function sceneImagePixels(image: Float32Array, size = SCENE_SIZE): number[][][] {
  if (image.length !== size * size * 3) throw new Error(`sceneImagePixels: ${image.length} values are not a ${size}×${size}×3 image`);
  return Array.from({ length: size }, (_, y) => Array.from({ length: size }, (_, x) => {
    const at = (y * size + x) * 3;
    return [image[at], image[at + 1], image[at + 2]];
  }));
}

// ---------------------------------------------------------------------------------------------
// CaptionScene sets
// ---------------------------------------------------------------------------------------------

/** Every set of `count` cells of the 3×3 layout, as sorted cell numbers (row·3 + col). */
function layoutsOf(count: number): number[][] {
  const out: number[][] = [];
  const cells = SCENE_LAYOUT * SCENE_LAYOUT;
  const pick = (start: number, chosen: number[]) => {
    if (chosen.length === count) { out.push([...chosen]); return; }
    for (let c = start; c < cells; c++) pick(c + 1, [...chosen, c]);
  };
  pick(0, []);
  return out;
}

/**
 * The layouts of a split: for each object count, a fixed shuffle (seed independent of the
 * scene seed, so every train set and every test set agree) keeps `testLayoutFraction` of the
 * layouts for the test split.
 */
export function splitLayouts(count: number, split: SceneSplit, testLayoutFraction = 0.25): number[][] {
  const all = shuffle(layoutsOf(count), mulberry32(7919 + count));
  const nTest = Math.max(1, Math.round(all.length * testLayoutFraction));
  return split === 'test' ? all.slice(0, nTest) : all.slice(nTest);
}

let defaultDigits: { train: DigitSet; test: DigitSet } | undefined;

/** The kit's digit split for captioning: 80 % of the MNIST images for training, 20 % for test. */
export function captionDigits(): { train: DigitSet; test: DigitSet } {
  defaultDigits ??= splitDigits(loadMnistDigits(), { testFraction: 0.2, seed: 0 });
  return defaultDigits;
}

function mixSeed(seed: number, index: number): number {
  let h = (seed ^ 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (index + 0x9e3779b9), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A seeded set of captioned scenes. `scene(i)` always draws the same scene.
 *
 *   const train = createSceneSet({ split: 'train', size: 20000, seed: 1 });
 *   const s = train.scene(0); // s.image, s.objects (with boxes), s.references
 */
export function createSceneSet(options: SceneSetOptions): CaptionSceneSet {
  const split = options.split;
  if (split !== 'train' && split !== 'test') throw new Error(`createSceneSet: split must be 'train' or 'test' (got '${split}')`);
  const size = options.size;
  if (!(Number.isInteger(size) && size > 0)) throw new Error(`createSceneSet: size must be a positive integer (got ${size})`);
  const seed = options.seed ?? 1;
  const objectCounts = options.objectCounts ?? [2, 3, 4];
  const cells = SCENE_LAYOUT * SCENE_LAYOUT;
  if (objectCounts.length === 0 || objectCounts.some((n) => !(Number.isInteger(n) && n >= 1 && n <= cells - 1))) {
    throw new Error(`createSceneSet: objectCounts must be integers from 1 to ${cells - 1} (got [${objectCounts.join(', ')}]): a test layout must stay unseen in training`);
  }
  const testLayoutFraction = options.testLayoutFraction ?? 0.25;
  if (!(testLayoutFraction > 0 && testLayoutFraction < 1)) throw new Error(`createSceneSet: testLayoutFraction must be between 0 and 1 (got ${testLayoutFraction})`);
  const digits = options.digits ?? captionDigits()[split];
  if (digits.count < 10) throw new Error(`createSceneSet: needs at least 10 digit images (got ${digits.count})`);
  const byCount = new Map(objectCounts.map((n) => [n, splitLayouts(n, split, testLayoutFraction)]));
  const byDigit: number[][] = Array.from({ length: 10 }, () => []);
  for (let i = 0; i < digits.count; i++) byDigit[digits.labels[i]].push(i);
  const missing = byDigit.flatMap((list, d) => (list.length === 0 ? [d] : []));
  if (missing.length > 0) throw new Error(`createSceneSet: the digit set has no image of ${missing.join(', ')}: give digits of every class`);
  const layouts = objectCounts.flatMap((n) => byCount.get(n)!);

  const scene = (index: number): CaptionScene => {
    if (!(Number.isInteger(index) && index >= 0 && index < size)) throw new Error(`scene index ${index} is out of range 0…${size - 1}`);
    const rng: Rng = mulberry32(mixSeed(seed, index));
    const count = objectCounts[Math.floor(rng() * objectCounts.length)];
    const choices = byCount.get(count)!;
    const layout = choices[Math.floor(rng() * choices.length)];
    const used = new Set<string>();
    const objects: SceneObject[] = layout.map((cell) => {
      // No two objects with the same colour and digit: every caption names each object uniquely.
      let digit: number, colour: SceneColour;
      do {
        digit = Math.floor(rng() * 10);
        colour = COLOUR_NAMES[Math.floor(rng() * COLOUR_NAMES.length)];
      } while (used.has(`${colour} ${digit}`));
      used.add(`${colour} ${digit}`);
      const digitIndex = byDigit[digit][Math.floor(rng() * byDigit[digit].length)];
      const row = Math.floor(cell / SCENE_LAYOUT);
      const col = cell % SCENE_LAYOUT;
      return { digit, colour, row, col, digitIndex, box: { x: col * SCENE_CELL, y: row * SCENE_CELL, width: SCENE_CELL, height: SCENE_CELL } };
    });
    return { index, objects, references: sceneCaptions(objects), image: renderScene(objects, digits) };
  };

  return { split, size, options: { split, size, seed, objectCounts, testLayoutFraction }, digits, layouts, scene };
}
