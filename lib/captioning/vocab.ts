/**
 * Words ↔ ids for the caption decoder, and the batches it trains on.
 */
import * as tf from '@tensorflow/tfjs';

export const CAPTION_PAD = '<pad>';
export const CAPTION_START = '<start>';
export const CAPTION_END = '<end>';
export const CAPTION_UNK = '<unk>';

export interface CaptionVocabulary {
  /** Id → word; ids 0…3 are <pad>, <start>, <end>, <unk>. */
  words: string[];
  size: number;
  id(word: string): number;
  /** Words → ids (unknown words → <unk>). */
  encode(words: readonly string[]): number[];
  /** Ids → words, stopping at <end> and skipping <pad>/<start>. */
  decode(ids: readonly number[]): string[];
}

/** A vocabulary of the special tokens followed by `words` (duplicates removed, order kept). */
export function createCaptionVocabulary(words: readonly string[]): CaptionVocabulary {
  const list = [CAPTION_PAD, CAPTION_START, CAPTION_END, CAPTION_UNK];
  for (const w of words) {
    if (typeof w !== 'string' || w.length === 0 || /\s/.test(w)) throw new Error(`createCaptionVocabulary: '${w}' is not a word (a non-empty string without spaces)`);
    if (!list.includes(w)) list.push(w);
  }
  const index = new Map(list.map((w, i) => [w, i]));
  const unk = index.get(CAPTION_UNK)!;
  const end = index.get(CAPTION_END)!;
  return {
    words: list,
    size: list.length,
    id: (word) => index.get(word) ?? unk,
    encode: (ws) => ws.map((w) => index.get(w) ?? unk),
    decode: (ids) => {
      const out: string[] = [];
      for (const i of ids) {
        if (i === end) break;
        if (!(Number.isInteger(i) && i >= 0 && i < list.length)) throw new Error(`decode: id ${i} is not in the vocabulary (0…${list.length - 1})`);
        if (i > end) out.push(list[i]); // skips <pad> and <start>
      }
      return out;
    },
  };
}

/**
 * A vocabulary from tokenised captions: every word seen at least `minCount` times, most frequent
 * first (ties alphabetical), so a rare word of a real data set becomes <unk>.
 */
export function buildCaptionVocabulary(captions: readonly (readonly string[])[], minCount = 1): CaptionVocabulary {
  const counts = new Map<string, number>();
  for (const c of captions) for (const w of c) counts.set(w, (counts.get(w) ?? 0) + 1);
  const words = [...counts].filter(([, n]) => n >= minCount).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
  return createCaptionVocabulary(words);
}

/** What a decoder trains on: images and captions shifted by one word (teacher forcing). */
export interface CaptionBatch {
  /** The frozen encoder's annotation vectors: [batch, L, D]. */
  features: tf.Tensor3D;
  /** Time-major ids fed at step t: inputs[t][b] (<start>, w1, w2, …, padded with <pad>). */
  inputs: number[][];
  /** Time-major ids to predict at step t: targets[t][b] (w1, w2, …, <end>, then <pad>). */
  targets: number[][];
  /** Time-major 1 where targets[t][b] is a real word or <end>, 0 on padding. */
  mask: number[][];
  /** Per example: number of predicted tokens (words + <end>). */
  lengths: number[];
}

/** Lays out captions (as words) for teacher forcing; `features` is used as given (not copied). */
export function makeCaptionBatch(features: tf.Tensor3D, captions: readonly (readonly string[])[], vocab: CaptionVocabulary): CaptionBatch {
  const batch = captions.length;
  if (features.shape[0] !== batch) throw new Error(`makeCaptionBatch: ${features.shape[0]} images' features for ${batch} captions`);
  if (batch === 0) throw new Error('makeCaptionBatch: needs at least one caption');
  const ids = captions.map((c) => vocab.encode(c));
  const lengths = ids.map((c) => c.length + 1);
  const steps = Math.max(...lengths);
  const pad = vocab.id(CAPTION_PAD), start = vocab.id(CAPTION_START), end = vocab.id(CAPTION_END);
  const inputs: number[][] = [], targets: number[][] = [], mask: number[][] = [];
  for (let t = 0; t < steps; t++) {
    inputs.push(ids.map((c) => (t === 0 ? start : t - 1 < c.length ? c[t - 1] : pad)));
    targets.push(ids.map((c) => (t < c.length ? c[t] : t === c.length ? end : pad)));
    mask.push(ids.map((c) => (t <= c.length ? 1 : 0)));
  }
  return { features, inputs, targets, mask, lengths };
}
