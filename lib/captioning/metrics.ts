/**
 * Where the attention looks: "attention correctness" (Liu et al. 2017) — for a generated word
 * that names an object, the share of that word's attention mass inside the object's box.
 */
import { COLOUR_NAMES, DIGIT_WORDS, type Box, type CaptionScene, type SceneColour, type SceneObject } from './scenes';
import type { GeneratedCaption } from './decode';

/**
 * The share of an attention map (grid×grid cells, grid-major, summing to 1) inside a pixel box,
 * each cell's mass spread evenly over the pixels it covers.
 */
export function attentionMassInBox(attention: readonly number[], grid: number, imageSize: number, box: Box): number {
  if (attention.length !== grid * grid) throw new Error(`attentionMassInBox: a ${grid}×${grid} map has ${grid * grid} values (got ${attention.length})`);
  const cell = imageSize / grid;
  let mass = 0;
  for (let r = 0; r < grid; r++) {
    const oy = Math.max(0, Math.min(box.y + box.height, (r + 1) * cell) - Math.max(box.y, r * cell));
    if (oy === 0) continue;
    for (let c = 0; c < grid; c++) {
      const ox = Math.max(0, Math.min(box.x + box.width, (c + 1) * cell) - Math.max(box.x, c * cell));
      mass += attention[r * grid + c] * (ox * oy) / (cell * cell);
    }
  }
  return mass;
}

/** The object a generated word names: its digit word with the colour word before it (or after, for a colour). */
export function namedObject(words: readonly string[], t: number, objects: readonly SceneObject[]): SceneObject | null {
  const isColour = (w: string | undefined) => w !== undefined && (COLOUR_NAMES as string[]).includes(w);
  const digitOf = (w: string | undefined) => (w === undefined ? -1 : (DIGIT_WORDS as readonly string[]).indexOf(w));
  let colour: SceneColour | null = null;
  let digit = -1;
  if (isColour(words[t])) {
    colour = words[t] as SceneColour;
    digit = digitOf(words[t + 1]);
  } else if (digitOf(words[t]) >= 0) {
    digit = digitOf(words[t]);
    if (isColour(words[t - 1])) colour = words[t - 1] as SceneColour;
  } else {
    return null;
  }
  const exact = objects.filter((o) => o.digit === digit && o.colour === colour);
  if (exact.length === 1) return exact[0];
  // A wrong colour or digit: the word still names an object if only one has the other attribute.
  const byDigit = objects.filter((o) => o.digit === digit);
  if (digit >= 0 && byDigit.length === 1) return byDigit[0];
  const byColour = objects.filter((o) => o.colour === colour);
  if (colour !== null && byColour.length === 1) return byColour[0];
  return null;
}

export interface CorrectnessResult {
  /** Mean share of attention inside the named object's box, over digit words (the nouns). */
  nouns: number;
  /** The same over colour words (attributes of the object). */
  attributes: number;
  /** Noun words counted, and words that named no single object (skipped). */
  counted: number;
  skipped: number;
  /** The share a uniform map would give: the boxes' mean area over the image area. */
  uniform: number;
}

/**
 * Attention correctness over generated captions of scenes (in the same order). With
 * `uniform: true` every map is replaced by the uniform one — the baseline to beat.
 */
export function attentionCorrectness(captions: readonly GeneratedCaption[], scenes: readonly CaptionScene[], options: { grid: number; imageSize: number; uniform?: boolean }): CorrectnessResult {
  if (captions.length !== scenes.length) throw new Error(`attentionCorrectness: ${captions.length} captions for ${scenes.length} scenes`);
  const { grid, imageSize } = options;
  const flat = new Array(grid * grid).fill(1 / (grid * grid));
  let nounSum = 0, nouns = 0, attrSum = 0, attrs = 0, skipped = 0, uniformSum = 0;
  captions.forEach((cap, i) => {
    if (cap.attention.length !== cap.words.length) throw new Error(`attentionCorrectness: caption ${i} has ${cap.words.length} words but ${cap.attention.length} attention maps (a model without attention has none)`);
    cap.words.forEach((w, t) => {
      const isNoun = (DIGIT_WORDS as readonly string[]).includes(w);
      const isColour = (COLOUR_NAMES as string[]).includes(w);
      if (!isNoun && !isColour) return;
      const obj = namedObject(cap.words, t, scenes[i].objects);
      if (!obj) { if (isNoun) skipped++; return; }
      const share = attentionMassInBox(options.uniform ? flat : cap.attention[t], grid, imageSize, obj.box);
      if (isNoun) {
        nounSum += share; nouns++;
        uniformSum += attentionMassInBox(flat, grid, imageSize, obj.box);
      } else { attrSum += share; attrs++; }
    });
  });
  return {
    nouns: nouns ? nounSum / nouns : NaN,
    attributes: attrs ? attrSum / attrs : NaN,
    counted: nouns,
    skipped,
    uniform: nouns ? uniformSum / nouns : NaN,
  };
}
