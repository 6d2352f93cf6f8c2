/**
 * Translating: greedy and beam-search decoding, one output word at a time, batched over
 * sentences of similar length, keeping the attention weights of every step.
 */
import * as tf from '@tensorflow/tfjs';
import { lengthBatches } from './data';
import {
  BOS_ID, EOS_ID, contextTensors, decoderContext, decoderStep, encodeSource, outputLogits, targetTable, type Translator,
} from './model';

export interface Translation {
  /** Output token ids, without `</s>`. */
  tokens: number[];
  /** RNNsearch: the attention weights of each output word (and of `</s>` last): [steps][source length]. */
  attention: number[][] | null;
  /** Sum of log-probabilities of the output (and `</s>`). */
  logProb: number;
}

export interface DecodeOptions {
  /** Longest output, from the source length. Default 2·length + 10. */
  maxLength?: (sourceLength: number) => number;
  /** Sentences decoded together. Default 64 (greedy), 16 (beam). */
  batchSize?: number;
}

/** tf.tidy for a result that holds tensors among other things (kept; the rest of the scope is freed). */
function tidyKeep<T>(f: () => T): T {
  return tf.tidy(() => f() as unknown as tf.TensorContainer) as unknown as T;
}

function checkSources(model: Translator, sources: readonly (readonly number[])[]): void {
  sources.forEach((s, i) => {
    if (s.length === 0) throw new Error(`translate: source sentence ${i} is empty`);
    for (const id of s) {
      if (!Number.isInteger(id) || id < 0 || id >= model.config.sourceVocabSize) {
        throw new Error(`translate: source sentence ${i} has id ${id}, outside the model's source vocabulary (${model.config.sourceVocabSize})`);
      }
    }
  });
}

/** The target embedding's share of the decoder gates, embedding·W + b, read into JavaScript. */
function tableData(model: Translator): Float32Array {
  const t = tf.tidy(() => targetTable(model));
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

/** Rows of a [V, 3H] table for the given tokens: the previous words' share of the gates. */
function wordRows(table: Float32Array, width: number, tokens: ArrayLike<number>): tf.Tensor2D {
  const out = new Float32Array(tokens.length * width);
  for (let i = 0; i < tokens.length; i++) out.set(table.subarray(tokens[i] * width, (tokens[i] + 1) * width), i * width);
  return tf.tensor2d(out, [tokens.length, width]);
}

function paddedSources(sources: readonly (readonly number[])[]): { ids: Int32Array; lengths: number[]; S: number } {
  const S = Math.max(...sources.map((s) => s.length));
  const ids = new Int32Array(sources.length * S);
  sources.forEach((s, b) => ids.set(s, b * S));
  return { ids, lengths: sources.map((s) => s.length), S };
}

/**
 * Greedy decoding: at each step the most probable word, fed back as the next input.
 *
 *   const [t] = greedyTranslate(model, [sourceVocab.encode(["mi", "gato", "es", "el", "mejor"])]);
 *   targetVocab.decode(t.tokens) // → ["my", "cat", "is", "the", "best"]
 */
export function greedyTranslate(model: Translator, sources: readonly (readonly number[])[], options: DecodeOptions = {}): Translation[] {
  checkSources(model, sources);
  const maxLength = options.maxLength ?? ((n: number) => 2 * n + 10);
  const results: Translation[] = new Array(sources.length);
  const width = 3 * model.config.decoderUnits;
  const table = tableData(model); // [V, 3H]
  const V = model.config.targetVocabSize;
  for (const group of lengthBatches(sources.map((s) => ({ source: s })), options.batchSize ?? 64)) {
    const batch = group.map((i) => sources[i]);
    const { ids, lengths, S } = paddedSources(batch);
    const B = batch.length;
    const steps = Math.max(...batch.map((s) => maxLength(s.length)));
    const tokens: number[][] = batch.map(() => []);
    const attention: number[][][] | null = model.config.attention ? batch.map(() => []) : null;
    const logProb = new Array<number>(B).fill(0);
    const done = new Array<boolean>(B).fill(false);
    const ctxTensors = tidyKeep(() => {
      const enc = encodeSource(model, ids, lengths, S);
      return { initialState: enc.initialState, ctx: decoderContext(model, enc) };
    });
    let state = ctxTensors.initialState;
    let previous = new Int32Array(B).fill(BOS_ID);
    try {
      for (let t = 0; t < steps && done.some((d) => !d); t++) {
        const [next, logp, alpha] = tf.tidy(() => {
          const out = decoderStep(ctxTensors.ctx, state, wordRows(table, width, previous));
          const lp = tf.logSoftmax(outputLogits(model, out.state, out.context));
          return [out.state, lp, out.weights ?? tf.zeros([0])];
        });
        state.dispose();
        state = next;
        const lp = logp.dataSync() as Float32Array;
        const a = model.config.attention ? (alpha.dataSync() as Float32Array) : null;
        tf.dispose([logp, alpha]);
        previous = new Int32Array(B);
        for (let b = 0; b < B; b++) {
          if (done[b]) { previous[b] = EOS_ID; continue; }
          // <pad> and <s> are never outputs: the choice is among </s>, <unk> and the words.
          let best = EOS_ID;
          for (let v = EOS_ID + 1; v < V; v++) if (lp[b * V + v] > lp[b * V + best]) best = v;
          logProb[b] += lp[b * V + best];
          if (attention && a) attention[b].push(Array.from(a.subarray(b * S, b * S + lengths[b])));
          if (best === EOS_ID) done[b] = true;
          else tokens[b].push(best);
          previous[b] = best;
        }
      }
    } finally {
      state.dispose();
      tf.dispose(contextTensors(ctxTensors.ctx));
    }
    group.forEach((i, b) => { results[i] = { tokens: tokens[b], attention: attention ? attention[b] : null, logProb: logProb[b] }; });
  }
  return results;
}

export interface BeamOptions extends DecodeOptions {
  /** Hypotheses kept per sentence. Default 5; 1 is greedy. */
  beamWidth?: number;
  /**
   * Length normalisation α of Wu et al. (2016): hypotheses are ranked by
   * log P / ((5 + length) / 6)^α. 0 ranks by log P alone. Default 0.6.
   */
  lengthPenalty?: number;
}

interface Hypothesis { tokens: number[]; attention: number[][]; logProb: number }

/**
 * Beam search: keeps the `beamWidth` most probable partial translations of each sentence, extends
 * each by every word, and keeps the best again; a hypothesis ending in `</s>` is set aside. Returns
 * the best finished hypothesis of each sentence (by length-normalised log-probability).
 */
export function beamTranslate(model: Translator, sources: readonly (readonly number[])[], options: BeamOptions = {}): Translation[] {
  checkSources(model, sources);
  const K = options.beamWidth ?? 5;
  if (!(Number.isInteger(K) && K >= 1)) throw new Error(`beamTranslate: beamWidth must be an integer ≥ 1 (got ${K})`);
  const alpha = options.lengthPenalty ?? 0.6;
  const normalized = (h: Hypothesis) => h.logProb / ((5 + h.tokens.length + 1) / 6) ** alpha;
  const maxLength = options.maxLength ?? ((n: number) => 2 * n + 10);
  const width = 3 * model.config.decoderUnits;
  const table = tableData(model);
  const V = model.config.targetVocabSize;
  const results: Translation[] = new Array(sources.length);
  for (const group of lengthBatches(sources.map((s) => ({ source: s })), options.batchSize ?? 16)) {
    const batch = group.map((i) => sources[i]);
    const { ids, lengths, S } = paddedSources(batch);
    const B = batch.length;
    // Row b·K + k is beam k of sentence b.
    const rowsOf = (b: number) => Array.from({ length: K }, (_, k) => b * K + k);
    const tiled = tf.tensor1d(Array.from({ length: B * K }, (_, r) => Math.floor(r / K)), 'int32');
    const ctxTensors = tidyKeep(() => {
      const enc = encodeSource(model, ids, lengths, S);
      const ctx = decoderContext(model, {
        annotations: tf.gather(enc.annotations, tiled),
        summary: tf.gather(enc.summary, tiled),
        initialState: enc.initialState,
        maskBias: enc.maskBias ? tf.gather(enc.maskBias, tiled) : null,
      });
      return { state: tf.gather(enc.initialState, tiled), ctx };
    });
    tiled.dispose();
    let state = ctxTensors.state;
    // Alive hypotheses per sentence (at first one per sentence: the others would repeat it).
    let alive: Hypothesis[][] = batch.map(() => [{ tokens: [], attention: [], logProb: 0 }]);
    let rowOfAlive: number[][] = batch.map((_, b) => [b * K]);
    const finished: Hypothesis[][] = batch.map(() => []);
    const steps = Math.max(...batch.map((s) => maxLength(s.length)));
    try {
      for (let t = 0; t < steps && alive.some((a) => a.length > 0); t++) {
        const previous = new Int32Array(B * K).fill(EOS_ID);
        alive.forEach((hs, b) => hs.forEach((h, k) => { previous[rowOfAlive[b][k]] = h.tokens.length ? h.tokens[h.tokens.length - 1] : BOS_ID; }));
        const [next, logp, weights] = tf.tidy(() => {
          const out = decoderStep(ctxTensors.ctx, state, wordRows(table, width, previous));
          return [out.state, tf.logSoftmax(outputLogits(model, out.state, out.context)), out.weights ?? tf.zeros([0])];
        });
        const lp = logp.dataSync() as Float32Array;
        const a = model.config.attention ? (weights.dataSync() as Float32Array) : null;
        tf.dispose([logp, weights]);
        const parents = new Int32Array(B * K);
        const nextAlive: Hypothesis[][] = [];
        const nextRows: number[][] = [];
        alive.forEach((hs, b) => {
          const candidates: { k: number; v: number; score: number }[] = [];
          hs.forEach((h, k) => {
            const row = rowOfAlive[b][k];
            // The 2K best words of this beam are enough: at most K of all candidates survive.
            const top: { v: number; s: number }[] = [];
            for (let v = EOS_ID; v < V; v++) {
              const s = lp[row * V + v];
              if (top.length < 2 * K) { top.push({ v, s }); top.sort((x, y) => y.s - x.s); } else if (s > top[top.length - 1].s) { top[top.length - 1] = { v, s }; top.sort((x, y) => y.s - x.s); }
            }
            for (const c of top) candidates.push({ k, v: c.v, score: h.logProb + c.s });
          });
          candidates.sort((x, y) => y.score - x.score);
          const kept: Hypothesis[] = [];
          const rows: number[] = [];
          for (const c of candidates) {
            if (kept.length >= K) break;
            const h = hs[c.k];
            const row = rowOfAlive[b][c.k];
            const att = a ? [...h.attention, Array.from(a.subarray(row * S, row * S + lengths[b]))] : h.attention;
            const extended: Hypothesis = { tokens: c.v === EOS_ID ? h.tokens : [...h.tokens, c.v], attention: att, logProb: c.score };
            if (c.v === EOS_ID) {
              finished[b].push(extended);
            } else {
              const target = rowsOf(b)[kept.length];
              parents[target] = row;
              rows.push(target);
              kept.push(extended);
            }
          }
          // A sentence is done once it has K finished hypotheses, or once no alive hypothesis can
          // beat the best finished one (log-probabilities only fall as words are added).
          const bestDone = finished[b].length ? Math.max(...finished[b].map(normalized)) : -Infinity;
          // (With α > 0 a longer hypothesis can still overtake, so the search goes on.)
          const canImprove = alpha > 0 || kept.some((h) => h.logProb > bestDone);
          if (finished[b].length >= K || !canImprove) { nextAlive.push([]); nextRows.push([]); } else { nextAlive.push(kept); nextRows.push(rows); }
        });
        const reordered = tf.tidy(() => tf.gather(next, tf.tensor1d(parents, 'int32')));
        tf.dispose([next, state]);
        state = reordered;
        alive = nextAlive;
        rowOfAlive = nextRows;
      }
    } finally {
      state.dispose();
      tf.dispose(contextTensors(ctxTensors.ctx));
    }
    batch.forEach((_, b) => {
      const pool = finished[b].length ? finished[b] : alive[b];
      const best = pool.reduce((x, y) => (normalized(y) > normalized(x) ? y : x));
      results[group[b]] = { tokens: best.tokens, attention: model.config.attention ? best.attention : null, logProb: best.logProb };
    });
  }
  return results;
}
