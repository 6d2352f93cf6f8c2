/**
 * Writing captions: greedy decoding (a batch of images at once) and beam search, both returning
 * for every generated word the attention map the decoder used to produce it.
 */
import * as tf from '@tensorflow/tfjs';
import {
  captionDecoderStep, initialState, captionOutputLogits, prepareAnnotations,
  type Captioner, type EncodedImages, type HardChoice,
} from './model';
import { CAPTION_END, CAPTION_PAD, CAPTION_START, type CaptionVocabulary } from './vocab';

export interface GeneratedCaption {
  words: string[];
  /** attention[t] = p over the L locations when word t was produced (grid-major); [] without attention. */
  attention: number[][];
  /** Hard attention: the location chosen for each word. */
  locations?: number[];
  /** Sum of log p of the words and <end>. */
  logProb: number;
}

export interface CaptionDecodeOptions {
  /** Longest caption, in words. Default 30. */
  maxWords?: number;
  /** Images per forward pass (greedy). Default 128. */
  batchSize?: number;
  /** Hard attention: the argmax location (default) or a sample. */
  hard?: HardChoice;
}

function checkFeatures(model: Captioner, features: tf.Tensor): void {
  if (features.rank !== 3 || features.shape[1] !== model.locations || features.shape[2] !== model.features) {
    throw new Error(`decode: expects encoder features [n, ${model.locations}, ${model.features}] (got [${features.shape.join(', ')}]): encodeImages(model.encoder, images) first`);
  }
}

/** Greedy decoding of encoded images ([n, L, D]): at every step the most likely word, fed back as the next input. */
export function greedyCaptions(model: Captioner, features: tf.Tensor3D, vocab: CaptionVocabulary, options: CaptionDecodeOptions = {}): GeneratedCaption[] {
  checkFeatures(model, features);
  if (vocab.size !== model.config.vocabSize) throw new Error(`greedyCaptions: the vocabulary has ${vocab.size} words, the model ${model.config.vocabSize}: use the vocabulary it was trained with`);
  const maxWords = options.maxWords ?? 30;
  const batchSize = options.batchSize ?? 128;
  const out: GeneratedCaption[] = [];
  for (let start = 0; start < features.shape[0]; start += batchSize) {
    const n = Math.min(batchSize, features.shape[0] - start);
    const chunk = tf.slice(features, [start, 0, 0], [n, -1, -1]);
    try {
      out.push(...greedyChunk(model, chunk, vocab, maxWords, options.hard));
    } finally {
      chunk.dispose();
    }
  }
  return out;
}

function greedyChunk(model: Captioner, features: tf.Tensor3D, vocab: CaptionVocabulary, maxWords: number, hard?: HardChoice): GeneratedCaption[] {
  const n = features.shape[0];
  const endId = vocab.id(CAPTION_END), padId = vocab.id(CAPTION_PAD), startId = vocab.id(CAPTION_START);
  const results: GeneratedCaption[] = Array.from({ length: n }, () => ({ words: [], attention: [], logProb: 0, ...(model.kind === 'hard' ? { locations: [] } : {}) }));
  const done = new Array(n).fill(false);
  const { encoded, state: s0 } = tf.tidy(() => {
    const e = prepareAnnotations(model, features);
    return { encoded: e, state: initialState(model, e.annotations) } as unknown as tf.TensorContainer;
  }) as unknown as { encoded: EncodedImages; state: { h: tf.Tensor2D; c: tf.Tensor2D } };
  let state = s0;
  let words = new Array(n).fill(vocab.id(CAPTION_START));
  try {
    for (let t = 0; t <= maxWords && !done.every(Boolean); t++) {
      const step = tf.tidy(() => {
        const r = captionDecoderStep(model, encoded, words, state, hard);
        const logp = tf.logSoftmax(captionOutputLogits(model, r.embedded, r.h, r.context));
        return { h: r.h, c: r.c, logp, p: r.logAttention ? tf.exp(r.logAttention) : undefined, locations: r.locations };
      });
      tf.dispose([state.h, state.c]);
      state = { h: step.h, c: step.c };
      const logp = step.logp.dataSync();
      const p = step.p?.dataSync();
      tf.dispose([step.logp, ...(step.p ? [step.p] : [])]);
      const V = vocab.size;
      const L = model.locations;
      words = words.map((_, b) => {
        // <pad> and <start> are never targets: a caption cannot contain them
        let best = endId;
        for (let k = 0; k < V; k++) if (k !== padId && k !== startId && logp[b * V + k] > logp[b * V + best]) best = k;
        // at the length limit, close the caption
        if (t === maxWords) best = endId;
        if (done[b]) return best;
        results[b].logProb += logp[b * V + best];
        if (best === endId) { done[b] = true; return best; }
        results[b].words.push(vocab.words[best]);
        if (p) results[b].attention.push(Array.from(p.subarray(b * L, (b + 1) * L)));
        if (step.locations) results[b].locations!.push(step.locations[b]);
        return best;
      });
    }
  } finally {
    tf.dispose([state.h, state.c, encoded.annotations, ...(encoded.projected ? [encoded.projected] : [])]);
  }
  return results;
}

export interface CaptionBeamOptions extends CaptionDecodeOptions {
  /** Hypotheses kept per step. Default 3. */
  beamSize?: number;
}

interface Hypothesis { words: number[]; attention: number[][]; locations: number[]; logProb: number }

/**
 * Beam search for one image: keeps the `beamSize` most likely partial captions, and returns the
 * finished one with the best log-probability per word (a raw sum would favour dropping objects).
 */
export function beamCaption(model: Captioner, features: tf.Tensor2D | tf.Tensor3D, vocab: CaptionVocabulary, options: CaptionBeamOptions = {}): GeneratedCaption {
  const beamSize = options.beamSize ?? 3;
  if (!(Number.isInteger(beamSize) && beamSize >= 1)) throw new Error(`beamCaption: beamSize must be a positive integer (got ${beamSize})`);
  const maxWords = options.maxWords ?? 30;
  const one = features.rank === 2 ? tf.expandDims(features as tf.Tensor2D, 0) as tf.Tensor3D : features as tf.Tensor3D;
  try {
    checkFeatures(model, one);
    if (one.shape[0] !== 1) throw new Error(`beamCaption: captions one image at a time (got ${one.shape[0]}): loop over them`);
    if (vocab.size !== model.config.vocabSize) throw new Error(`beamCaption: the vocabulary has ${vocab.size} words, the model ${model.config.vocabSize}`);
    return beamSearch(model, one, vocab, beamSize, maxWords, options.hard);
  } finally {
    if (one !== features) one.dispose();
  }
}

function beamSearch(model: Captioner, features: tf.Tensor3D, vocab: CaptionVocabulary, K: number, maxWords: number, hard?: HardChoice): GeneratedCaption {
  const endId = vocab.id(CAPTION_END), padId = vocab.id(CAPTION_PAD), startId = vocab.id(CAPTION_START);
  const V = vocab.size;
  const L = model.locations;
  let encoded = prepareAnnotations(model, features);
  let state = tf.tidy(() => initialState(model, encoded.annotations));
  let beams: Hypothesis[] = [{ words: [vocab.id(CAPTION_START)], attention: [], locations: [], logProb: 0 }];
  const finished: Hypothesis[] = [];
  const release = () => tf.dispose([state.h, state.c, encoded.annotations, ...(encoded.projected ? [encoded.projected] : [])]);
  try {
    for (let t = 0; t <= maxWords && beams.length > 0; t++) {
      const step = tf.tidy(() => {
        const r = captionDecoderStep(model, encoded, beams.map((b) => b.words[b.words.length - 1]), state, hard);
        return { h: r.h, c: r.c, logp: tf.logSoftmax(captionOutputLogits(model, r.embedded, r.h, r.context)), p: r.logAttention ? tf.exp(r.logAttention) : undefined, locations: r.locations };
      });
      const logp = step.logp.dataSync();
      const p = step.p?.dataSync();
      const candidates: { beam: number; word: number; logProb: number }[] = [];
      beams.forEach((b, k) => {
        for (let w = 0; w < V; w++) {
          if ((t === maxWords && w !== endId) || w === padId || w === startId) continue;
          candidates.push({ beam: k, word: w, logProb: b.logProb + logp[k * V + w] });
        }
      });
      candidates.sort((x, y) => y.logProb - x.logProb);
      const next: Hypothesis[] = [];
      const parents: number[] = [];
      for (const cand of candidates) {
        if (next.length >= K || finished.length >= K) break;
        const parent = beams[cand.beam];
        const h: Hypothesis = {
          words: [...parent.words, cand.word],
          attention: p ? [...parent.attention, Array.from(p.subarray(cand.beam * L, (cand.beam + 1) * L))] : [],
          locations: step.locations ? [...parent.locations, step.locations[cand.beam]] : [],
          logProb: cand.logProb,
        };
        if (cand.word === endId) finished.push(h);
        else { next.push(h); parents.push(cand.beam); }
      }
      const old = state;
      const idx = tf.tensor1d(parents, 'int32');
      state = parents.length > 0
        ? tf.tidy(() => ({ h: tf.gather(step.h, idx) as tf.Tensor2D, c: tf.gather(step.c, idx) as tf.Tensor2D }))
        : { h: step.h.clone(), c: step.c.clone() };
      if (parents.length > 0 && parents.length !== encoded.annotations.shape[0]) {
        const ones = tf.zeros([parents.length], 'int32');
        const old2 = encoded;
        encoded = tf.tidy(() => ({
          annotations: tf.gather(old2.annotations, ones) as tf.Tensor3D,
          ...(old2.projected ? { projected: tf.gather(old2.projected, ones) as tf.Tensor3D } : {}),
        }) as unknown as tf.TensorContainer) as unknown as EncodedImages;
        tf.dispose([ones, old2.annotations, ...(old2.projected ? [old2.projected] : [])]);
      }
      tf.dispose([idx, old.h, old.c, step.h, step.c, step.logp, ...(step.p ? [step.p] : [])]);
      beams = finished.length >= K ? [] : next;
    }
  } finally {
    release();
  }
  if (finished.length === 0) throw new Error('beamCaption: no caption finished (maxWords too small?)');
  const score = (h: Hypothesis) => h.logProb / (h.words.length - 1); // words after <start>, <end> included
  const best = finished.reduce((a, b) => (score(b) > score(a) ? b : a));
  const words = best.words.slice(1, -1).map((id) => vocab.words[id]);
  return {
    words,
    attention: best.attention.slice(0, words.length),
    ...(model.kind === 'hard' ? { locations: best.locations.slice(0, words.length) } : {}),
    logProb: best.logProb,
  };
}
