/**
 * Measuring a translator on held-out pairs: BLEU overall, per length bucket and per length bin
 * (the paper's Fig. 2), and how often attention looks where the ground-truth alignment says.
 */
import * as tf from '@tensorflow/tfjs';
import { bleuFromStats, sentenceStats, sumStats, type BleuScore, type BleuStats } from './bleu';
import type { SentencePair } from './corpus';
import { encodePairs, lengthBatches, makeTranslationBatch, LENGTH_BUCKETS } from './data';
import { teacherForced, type Translator } from './model';
import type { TranslationVocabulary } from './vocab';

export interface LengthScore {
  /** 'low–high' words. */
  label: string;
  low: number;
  high: number;
  /** Sentences in the range. */
  count: number;
  /** BLEU of those sentences (0–100), null when there are none. */
  bleu: number | null;
}

export interface BleuReport {
  overall: BleuScore;
  /** The lesson's buckets (3–9, 10–19, 20–29, 30–50 source words). */
  buckets: LengthScore[];
  /** Narrow bins (default 5 words) for BLEU-against-length curves. */
  bins: LengthScore[];
}

function scoreRanges(stats: BleuStats[], lengths: number[], ranges: readonly [number, number][]): LengthScore[] {
  return ranges.map(([low, high]) => {
    const inRange = stats.filter((_, i) => lengths[i] >= low && lengths[i] <= high);
    return { label: `${low}–${high}`, low, high, count: inRange.length, bleu: inRange.length ? bleuFromStats(sumStats(inRange)).bleu : null };
  });
}

/**
 * BLEU of `hypotheses` (token lists) against the pairs' targets, overall and by source length.
 */
export function bleuReport(pairs: readonly SentencePair[], hypotheses: readonly (readonly string[])[], options: { binWidth?: number; buckets?: readonly [number, number][] } = {}): BleuReport {
  if (pairs.length !== hypotheses.length) throw new Error(`bleuReport: ${pairs.length} pairs but ${hypotheses.length} hypotheses`);
  if (pairs.length === 0) throw new Error('bleuReport: no sentences to score');
  const stats = pairs.map((p, i) => sentenceStats(hypotheses[i], [p.target]));
  const lengths = pairs.map((p) => p.source.length);
  const width = options.binWidth ?? 5;
  const maxLength = Math.max(...lengths);
  const bins: [number, number][] = [];
  for (let low = 1; low <= maxLength; low += width) bins.push([low, low + width - 1]);
  return {
    overall: bleuFromStats(sumStats(stats)),
    buckets: scoreRanges(stats, lengths, options.buckets ?? LENGTH_BUCKETS),
    bins: scoreRanges(stats, lengths, bins).filter((b) => b.count > 0),
  };
}

export interface AlignmentAgreement {
  /** Fraction of aligned target words whose attention argmax is their aligned source word. */
  agreement: number;
  /** Target words with a ground-truth source word (the denominator). */
  aligned: number;
  /** Of those, how many the attention argmax hits. */
  hits: number;
}

/**
 * Feeds each reference translation to the decoder (teacher forcing) and checks, for every target
 * word the generator aligned to a source word, whether the attention weights used to predict it
 * peak on that source word.
 */
export function alignmentAgreement(model: Translator, pairs: readonly SentencePair[], source: TranslationVocabulary, target: TranslationVocabulary, options: { batchSize?: number } = {}): AlignmentAgreement {
  if (!model.config.attention) throw new Error('alignmentAgreement: the model has no attention (RNNencdec): there is nothing to compare');
  const withAlignment = pairs.filter((p) => p.alignment !== undefined);
  if (withAlignment.length === 0) throw new Error('alignmentAgreement: none of the pairs has a ground-truth alignment (real data has none; use the generated corpus)');
  const encoded = encodePairs(withAlignment, source, target);
  let aligned = 0;
  let hits = 0;
  for (const group of lengthBatches(encoded, options.batchSize ?? 64)) {
    const batch = makeTranslationBatch(group.map((i) => encoded[i]));
    const att = tf.tidy(() => teacherForced(model, batch, { keepAttention: true }).attention!);
    const a = att.dataSync() as Float32Array; // [T, B, S]
    att.dispose();
    const { size: B, sourceLength: S } = batch;
    group.forEach((pairIndex, b) => {
      const gold = withAlignment[pairIndex].alignment!;
      gold.forEach((j, t) => {
        if (j < 0) return;
        aligned++;
        const row = (t * B + b) * S;
        let best = 0;
        for (let k = 1; k < batch.sourceLengths[b]; k++) if (a[row + k] > a[row + best]) best = k;
        if (best === j) hits++;
      });
    });
  }
  return { agreement: aligned ? hits / aligned : 0, aligned, hits };
}
