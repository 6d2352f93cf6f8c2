/**
 * From sentence pairs to padded batches of ids, grouped by source length so a batch carries
 * (almost) no padding: the encoder then runs without masks, and a batch of 5-word sentences
 * costs a fifth of one of 25-word sentences.
 */
import { shuffle, type Rng } from '../runtime/random';
import { BOS_ID, EOS_ID, type TranslationBatch } from './model';
import type { SentencePair } from './corpus';
import type { TranslationVocabulary } from './vocab';

/** A pair as ids (no special tokens: makeTranslationBatch adds <s> and </s>). */
export interface EncodedPair {
  source: number[];
  target: number[];
}

export function encodePairs(pairs: readonly SentencePair[], source: TranslationVocabulary, target: TranslationVocabulary): EncodedPair[] {
  return pairs.map((p) => ({ source: source.encode(p.source), target: target.encode(p.target) }));
}

/** Pads pairs into one batch: source [B·S], targetIn = <s> y…, targetOut = y… </s>. */
export function makeTranslationBatch(pairs: readonly EncodedPair[]): TranslationBatch {
  if (pairs.length === 0) throw new Error('makeTranslationBatch: no sentence pairs');
  pairs.forEach((p, i) => {
    if (p.source.length === 0) throw new Error(`makeTranslationBatch: pair ${i} has an empty source sentence`);
  });
  const B = pairs.length;
  const S = Math.max(...pairs.map((p) => p.source.length));
  const T = Math.max(...pairs.map((p) => p.target.length)) + 1;
  const source = new Int32Array(B * S);
  const targetIn = new Int32Array(B * T);
  const targetOut = new Int32Array(B * T);
  pairs.forEach((p, b) => {
    source.set(p.source, b * S);
    targetIn[b * T] = BOS_ID;
    targetIn.set(p.target, b * T + 1);
    targetOut.set(p.target, b * T);
    targetOut[b * T + p.target.length] = EOS_ID;
  });
  return {
    size: B, sourceLength: S, source, sourceLengths: pairs.map((p) => p.source.length),
    targetLength: T, targetIn, targetOut, targetLengths: pairs.map((p) => p.target.length + 1),
  };
}

/**
 * Indices of `pairs` in batches of `batchSize` (the last ones smaller) of sentences of equal or
 * neighbouring source length. With `rng`, ties are broken at random and the batch order is
 * shuffled (a new grouping every epoch); without, the order is deterministic.
 */
export function lengthBatches(pairs: readonly { source: readonly unknown[] }[], batchSize: number, rng?: Rng): number[][] {
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new Error(`lengthBatches: batchSize must be an integer ≥ 1 (got ${batchSize})`);
  const order = pairs.map((_, i) => i);
  if (rng) shuffle(order, rng);
  const rank = new Map(order.map((i, r) => [i, r]));
  order.sort((a, b) => pairs[a].source.length - pairs[b].source.length || rank.get(a)! - rank.get(b)!);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  if (rng) shuffle(batches, rng);
  return batches;
}

/** Length buckets used for the lesson's BLEU-by-length figures: [low, high] inclusive. */
export const LENGTH_BUCKETS: readonly [number, number][] = [[3, 9], [10, 19], [20, 29], [30, 50]];

/** The bucket of a length, as 'low–high'. */
export function bucketLabel(length: number, buckets: readonly [number, number][] = LENGTH_BUCKETS): string | null {
  const b = buckets.find(([lo, hi]) => length >= lo && length <= hi);
  return b ? `${b[0]}–${b[1]}` : null;
}
