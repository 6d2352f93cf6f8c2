/**
 * RNN encoder–decoder translation models, with and without attention, written out with tf ops
 * over named tf.Variables (no tf.layers), so each equation of the papers is one line here.
 *
 * - `RNNsearch` (Bahdanau, Cho & Bengio, ICLR 2015): a bidirectional GRU encoder gives one
 *   annotation h_j = [→h_j; ←h_j] per source word; at every output step the decoder scores
 *   every annotation with the additive alignment model a(s_{i-1}, h_j) = vᵀ tanh(W s_{i-1} + U h_j),
 *   softmaxes the scores into weights α_ij (padding masked out), and reads the context
 *   c_i = Σ_j α_ij h_j before updating its state s_i = GRU(s_{i-1}, [y_{i-1}; c_i]).
 * - `RNNencdec` (Cho et al. 2014; Sutskever et al. 2014): the same encoder, but the decoder sees
 *   one fixed-length vector c = [→h_last; ←h_first] for the whole sentence.
 *
 * Both predict y_i from [s_i; c_i] with one linear layer and a softmax. Shapes are written at the
 * end of the line that makes them: B batch, S source length, T target length, E embedding,
 * He encoder units per direction, D = 2·He annotation size, H decoder units, A attention units,
 * V vocabulary.
 *
 * Speed (tfjs on wasm, one thread) drives a few choices, each exact: input projections of a whole
 * sequence are table lookups (embedding × weights, computed once per batch), the encoder-side
 * attention term U·h_j is computed once per sentence, and the big tanh of the alignment model is
 * computed as 2σ(2x) − 1 (wasm's tanh is a scalar loop, ~15× slower than its sigmoid).
 */
import * as tf from '@tensorflow/tfjs';
import { lookupRows, splitColumns, stackTime, unstackTime } from './ops';

/** Sizes of a model. Defaults are what the lesson trains. */
export interface TranslatorOptions {
  /** true: RNNsearch (Bahdanau attention); false: RNNencdec (one fixed-length context vector). */
  attention: boolean;
  sourceVocabSize: number;
  targetVocabSize: number;
  /** Word embedding size E (both languages). Default 64. */
  embedding?: number;
  /** GRU units per encoder direction, He; annotations have D = 2·He. Default 64. */
  encoderUnits?: number;
  /** Decoder GRU units H. Default 128. */
  decoderUnits?: number;
  /** Units A of the alignment model (rows of W and U). Default 64. */
  attentionUnits?: number;
  /** Seeds the initial weights. Default 0. */
  seed?: number;
}

export type TranslatorConfig = Required<TranslatorOptions>;

export interface Translator {
  readonly config: TranslatorConfig;
  /** Every trainable weight, by name (the names are the saved file's). */
  readonly weights: Record<string, tf.Variable>;
  /** 'RNNsearch' or 'RNNencdec'. */
  readonly name: string;
  /** Number of trainable numbers. */
  readonly parameterCount: number;
  /** Frees the weights. */
  dispose(): void;
}

/** A batch of sentence pairs as token ids, padded with 0 (`<pad>`); rows are sentences. */
export interface TranslationBatch {
  /** Sentences in the batch, B. */
  size: number;
  /** Padded source length S. */
  sourceLength: number;
  /** [B·S], row-major: sentence b's word j at b·S + j. */
  source: Int32Array;
  /** Words in each source sentence (≤ S). */
  sourceLengths: number[];
  /** Padded target length T (the longest target plus its end-of-sentence token). */
  targetLength: number;
  /** [B·T]: `<s>` y_1 … y_{n-1}: what the decoder reads (teacher forcing). */
  targetIn: Int32Array;
  /** [B·T]: y_1 … y_n `</s>`: what it must predict. */
  targetOut: Int32Array;
  /** n + 1 per sentence (the words and `</s>`). */
  targetLengths: number[];
}

export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;

const DEFAULTS = { embedding: 64, encoderUnits: 64, decoderUnits: 128, attentionUnits: 64, seed: 0 };

function checkSize(name: string, value: unknown, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`createTranslator: ${name} must be an integer ≥ ${min} (got ${String(value)})`);
  }
  return value;
}

/** The full configuration of a model from its options (defaults filled in, sizes checked). */
export function translatorConfig(options: TranslatorOptions): TranslatorConfig {
  if (options === null || typeof options !== 'object' || typeof options.attention !== 'boolean') {
    throw new Error('createTranslator: give { attention: true | false, sourceVocabSize, targetVocabSize, … }');
  }
  const c = { ...DEFAULTS, ...options } as TranslatorConfig;
  // 4 special tokens (<pad> <s> </s> <unk>) and at least one word.
  checkSize('sourceVocabSize', c.sourceVocabSize, 5);
  checkSize('targetVocabSize', c.targetVocabSize, 5);
  for (const k of ['embedding', 'encoderUnits', 'decoderUnits', 'attentionUnits'] as const) checkSize(k, c[k]);
  checkSize('seed', c.seed, 0);
  return c;
}

/** The shape of every weight, by name, for a configuration. */
export function weightShapes(c: TranslatorConfig): Record<string, number[]> {
  const { embedding: E, encoderUnits: He, decoderUnits: H, attentionUnits: A } = c;
  const D = 2 * He;
  const shapes: Record<string, number[]> = {
    'source.embedding': [c.sourceVocabSize, E],
    'target.embedding': [c.targetVocabSize, E],
  };
  // GRU weights hold the three gates side by side, [z | r | n]: one matMul computes all three.
  for (const dir of ['forward', 'backward']) {
    shapes[`encoder.${dir}.W`] = [E, 3 * He];
    shapes[`encoder.${dir}.U`] = [He, 3 * He];
    shapes[`encoder.${dir}.b`] = [3 * He];
  }
  shapes['decoder.init.W'] = [He, H]; // s_0 = tanh(W ←h_1 + b), as in Bahdanau et al.
  shapes['decoder.init.b'] = [H];
  shapes['decoder.W'] = [E, 3 * H];   // from the previous word y_{i-1}
  shapes['decoder.C'] = [D, 3 * H];   // from the context c_i
  shapes['decoder.U'] = [H, 3 * H];   // from the previous state s_{i-1}
  shapes['decoder.b'] = [3 * H];
  if (c.attention) {
    shapes['attention.W'] = [H, A];
    shapes['attention.U'] = [D, A];
    shapes['attention.v'] = [A, 1];
  }
  shapes['output.Ws'] = [H, c.targetVocabSize];
  shapes['output.Wc'] = [D, c.targetVocabSize];
  shapes['output.b'] = [c.targetVocabSize];
  return shapes;
}

/** A 32-bit seed for weight `index` of a model seeded with `seed`. */
function weightSeed(seed: number, index: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}

function initialValue(name: string, shape: number[], seed: number): tf.Tensor {
  if (shape.length === 1) return tf.zeros(shape);
  if (name.endsWith('embedding')) return tf.randomUniform(shape, -0.1, 0.1, 'float32', seed);
  if (/^(encoder\.\w+|decoder)\.U$/.test(name)) {
    // Recurrent weights: an orthogonal block per gate (keeps early gradients from vanishing).
    const [units, width] = shape;
    const blocks = Array.from({ length: width / units }, (_, g) => tf.initializers.orthogonal({ seed: seed + g }).apply([units, units]));
    return tf.concat(blocks, 1);
  }
  return tf.initializers.glorotUniform({ seed }).apply(shape);
}

/**
 * A new model with freshly initialised weights (seeded: the same options give the same weights),
 * or all zeros (`init = 'zeros'`, when the weights are about to be loaded).
 *
 *   const model = createTranslator({ attention: true, sourceVocabSize: 900, targetVocabSize: 500 });
 */
export function createTranslator(options: TranslatorOptions, init: 'random' | 'zeros' = 'random'): Translator {
  const config = translatorConfig(options);
  const shapes = weightShapes(config);
  const weights: Record<string, tf.Variable> = {};
  // tfjs-layers' orthogonal initialiser warns about any matrix over 2,000 numbers ("slowness may
  // result"); ours have at most 128 × 128 and take milliseconds, so that one warning is dropped.
  const warn = console.warn;
  console.warn = (...args: unknown[]) => { if (!/Orthogonal initializer/.test(String(args[0]))) warn(...args); };
  try {
    Object.entries(shapes).forEach(([name, shape], i) => {
      weights[name] = tf.tidy(() => tf.variable(
        init === 'zeros' ? tf.zeros(shape) : initialValue(name, shape, weightSeed(config.seed, i)),
        true, `${name}_${tf.util.now()}`.replace(/[^\w.]/g, '_')));
    });
  } finally {
    console.warn = warn;
  }
  const parameterCount = Object.values(shapes).reduce((n, s) => n + tf.util.sizeFromShape(s), 0);
  return {
    config, weights, parameterCount,
    name: config.attention ? 'RNNsearch' : 'RNNencdec',
    dispose: () => { for (const w of Object.values(weights)) w.dispose(); },
  };
}

// ---------------------------------------------------------------------------------------------
// The pieces
// ---------------------------------------------------------------------------------------------

/** tanh(x) as 2σ(2x) − 1: the same numbers, but wasm's sigmoid is vectorised and its tanh is not. */
export function fastTanh(x: tf.Tensor): tf.Tensor {
  return tf.sub(tf.mul(tf.sigmoid(tf.mul(x, 2)), 2), 1);
}

/**
 * One GRU step given the input's share of the three gates, x = input·W + b ([B, 3H], computed
 * ahead), and the recurrent weights U = [Uz | Ur | Un]:
 *   z = σ(xz + h Uz),  r = σ(xr + h Ur),  n = tanh(xn + r ⊙ (h Un)),  h' = (1 − z) ⊙ h + z ⊙ n.
 * (Cho et al. 2014 apply r before the matMul, r ⊙ h; applying it after, as cuDNN and Keras do,
 * lets one matMul serve all three gates.)
 */
export function gruStep(h: tf.Tensor, x: tf.Tensor, U: tf.Tensor): tf.Tensor {
  const [xz, xr, xn] = splitColumns(x, 3);                          // [B, H] each
  const [hz, hr, hn] = splitColumns(tf.matMul(h, U), 3);            // [B, H] each
  const z = tf.sigmoid(tf.add(xz, hz));                             // update gate
  const r = tf.sigmoid(tf.add(xr, hr));                             // reset gate
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));                     // candidate
  return tf.add(h, tf.mul(z, tf.sub(n, h)));                        // (1 − z) h + z n
}

/** Token ids [B·L] row-major → time-major [L·B] (what the step-by-step loops read). */
export function toTimeMajor(ids: ArrayLike<number>, batch: number, length: number): Int32Array {
  const out = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) out[t * batch + b] = ids[b * length + t];
  return out;
}

/**
 * Input projections of a whole sequence, one tensor per time step: rows of the table
 * (embedding·W + b), which equals embedding[ids]·W + b for every word at once.
 */
function projectSequence(embedding: tf.Tensor, W: tf.Tensor, b: tf.Tensor, idsTimeMajor: Int32Array, batch: number): tf.Tensor[] {
  const table = tf.add(tf.matMul(embedding, W), b);                   // [V, H]
  const rows = lookupRows(table, idsTimeMajor);                       // [L·B, H]
  return unstackTime(rows.reshape([idsTimeMajor.length / batch, batch, -1])); // L × [B, H]
}

/** What attention reads, computed once per sentence. */
export interface AttentionMemory {
  /** The annotations h_j: [B, S, D]. */
  values: tf.Tensor;
  /** 2·(U h_j): [B, S, A] (doubled for the tanh-as-sigmoid identity; see additiveAttention). */
  keys: tf.Tensor;
  /** 0 for words, −1e9 for padding, [B, S]; null when no sentence is padded. */
  maskBias: tf.Tensor | null;
}

/** −1e9 where a position is padding (j ≥ length), 0 elsewhere: [B, S]; null without padding. */
export function paddingBias(lengths: readonly number[], length: number): tf.Tensor2D | null {
  if (lengths.every((n) => n === length)) return null;
  const bias = new Float32Array(lengths.length * length);
  lengths.forEach((n, b) => { for (let j = n; j < length; j++) bias[b * length + j] = -1e9; });
  return tf.tensor2d(bias, [lengths.length, length]);
}

/** The encoder-side half of the alignment model, U h_j, once per sentence (not once per output word). */
export function attentionMemory(annotations: tf.Tensor, U: tf.Tensor, maskBias: tf.Tensor | null): AttentionMemory {
  const [B, S, D] = annotations.shape;
  const keys = tf.matMul(annotations.reshape([B * S, D]), tf.mul(U, 2)).reshape([B, S, -1]); // [B, S, A]
  return { values: annotations, keys, maskBias };
}

/**
 * Bahdanau's additive attention for one decoder step, batched:
 *   e_ij = vᵀ tanh(W s_{i-1} + U h_j),  α_ij = softmax_j(e_ij) (padding masked),  c_i = Σ_j α_ij h_j.
 * tanh(x) = 2σ(2x) − 1, so vᵀ tanh(x) = (2v)ᵀ σ(2x) − Σv: the constant Σv is the same for every
 * j and cancels in the softmax, so the weights are exactly those of the formula. `scores` are
 * e_ij + Σv.
 *
 * query: s_{i-1} [B, H] → { context c_i [B, D], weights α_i [B, S], scores [B, S] }.
 */
export function additiveAttention(query: tf.Tensor, memory: AttentionMemory, W: tf.Tensor, v: tf.Tensor): { context: tf.Tensor; weights: tf.Tensor; scores: tf.Tensor } {
  const [B, S, A] = memory.keys.shape;
  const q = tf.matMul(query, tf.mul(W, 2)).reshape([B, 1, A]);          // 2 W s_{i-1}: [B, 1, A]
  const hidden = tf.sigmoid(tf.add(memory.keys, q));                    // σ(2(W s + U h_j)): [B, S, A]
  let scores = tf.matMul(hidden.reshape([B * S, A]), tf.mul(v, 2)).reshape([B, S]); // [B, S]
  if (memory.maskBias !== null) scores = tf.add(scores, memory.maskBias);
  const weights = tf.softmax(scores);                                   // α_i: [B, S], rows sum to 1
  const context = tf.sum(tf.mul(weights.reshape([B, S, 1]), memory.values), 1); // c_i: [B, D]
  return { context, weights, scores };
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

export interface Encoded {
  /** Annotations h_j = [→h_j; ←h_j]: [B, S, D]. */
  annotations: tf.Tensor;
  /** The fixed-length summary RNNencdec decodes from, [→h_last; ←h_1]: [B, D]. */
  summary: tf.Tensor;
  /** The decoder's first state s_0 = tanh(W ←h_1 + b): [B, H]. */
  initialState: tf.Tensor;
  /** 0 / −1e9 padding bias [B, S], or null. */
  maskBias: tf.Tensor | null;
}

/** Per-step masks [B, 1] (1 = a word, 0 = padding), or null when no sentence is padded. */
export function stepMasks(lengths: readonly number[], length: number): tf.Tensor[] | null {
  if (lengths.every((n) => n === length)) return null;
  return Array.from({ length }, (_, t) => tf.tensor2d(lengths.map((n) => (t < n ? 1 : 0)), [lengths.length, 1]));
}

/**
 * Runs the bidirectional GRU over the source words. `source` is row-major [B·S] ids (0 = padding
 * after the words). Padded steps leave the state unchanged, so →h stops at each sentence's last
 * word and ←h starts at it.
 */
export function encodeSource(model: Translator, source: ArrayLike<number>, lengths: readonly number[], sourceLength: number): Encoded {
  const w = model.weights;
  const B = lengths.length;
  const S = sourceLength;
  if (source.length !== B * S) throw new Error(`encodeSource: source has ${source.length} ids, expected B·S = ${B}·${S}`);
  const ids = toTimeMajor(source, B, S);
  const masks = stepMasks(lengths, S);
  const He = model.config.encoderUnits;
  const run = (dir: 'forward' | 'backward'): tf.Tensor[] => {
    const p = `encoder.${dir}.`;
    const x = projectSequence(w['source.embedding'], w[`${p}W`], w[`${p}b`], ids, B); // S × [B, 3He]
    const states: tf.Tensor[] = new Array(S);
    let h: tf.Tensor = tf.zeros([B, He]);
    for (let k = 0; k < S; k++) {
      const t = dir === 'forward' ? k : S - 1 - k;
      const next = gruStep(h, x[t], w[`${p}U`]);
      h = masks ? tf.add(h, tf.mul(masks[t], tf.sub(next, h))) : next; // padding: keep h
      states[t] = h;
    }
    return states;
  };
  const fwd = run('forward');
  const bwd = run('backward');
  const annotations = tf.concat([stackTime(fwd), stackTime(bwd)], 2).transpose([1, 0, 2]); // [B, S, D]
  const summary = tf.concat([fwd[S - 1], bwd[0]], 1);                                      // [B, D]
  const initialState = tf.tanh(tf.add(tf.matMul(bwd[0], w['decoder.init.W']), w['decoder.init.b'])); // [B, H]
  return { annotations, summary, initialState, maskBias: paddingBias(lengths, S) };
}

// ---------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------

/** Everything the decoder needs about the source, computed once per sentence. */
export interface DecoderContext {
  model: Translator;
  /** RNNsearch: what attention reads. */
  memory: AttentionMemory | null;
  /** RNNencdec: the fixed context c [B, D] and its share of the gates, c·C [B, 3H]. */
  fixed: { context: tf.Tensor; gates: tf.Tensor } | null;
}

export function decoderContext(model: Translator, encoded: Encoded): DecoderContext {
  const w = model.weights;
  if (model.config.attention) {
    return { model, memory: attentionMemory(encoded.annotations, w['attention.U'], encoded.maskBias), fixed: null };
  }
  return { model, memory: null, fixed: { context: encoded.summary, gates: tf.matMul(encoded.summary, w['decoder.C']) } };
}

/** The tensors a DecoderContext holds (not the model's weights): for dispose. */
export function contextTensors(ctx: DecoderContext): tf.Tensor[] {
  const m = ctx.memory;
  const list = m ? [m.values, m.keys, m.maskBias] : [ctx.fixed!.context, ctx.fixed!.gates];
  return list.filter((t): t is tf.Tensor => t !== null);
}

/**
 * One decoder step: from s_{i-1} and the previous word's share of the gates (y_{i-1}·W + b,
 * [B, 3H]) to s_i, the context c_i it read and (RNNsearch) the attention weights α_i.
 */
export function decoderStep(
  ctx: DecoderContext, previous: tf.Tensor, word: tf.Tensor,
): { state: tf.Tensor; context: tf.Tensor; weights: tf.Tensor | null } {
  const w = ctx.model.weights;
  if (ctx.memory !== null) {
    const { context, weights } = additiveAttention(previous, ctx.memory, w['attention.W'], w['attention.v']);
    const state = gruStep(previous, tf.add(word, tf.matMul(context, w['decoder.C'])), w['decoder.U']);
    return { state, context, weights };
  }
  const f = ctx.fixed!;
  const state = gruStep(previous, tf.add(word, f.gates), w['decoder.U']);
  return { state, context: f.context, weights: null };
}

/** Logits over the target vocabulary from states [N, H] and contexts [N, D]: [N, V]. */
export function outputLogits(model: Translator, states: tf.Tensor, contexts: tf.Tensor): tf.Tensor {
  const w = model.weights;
  return tf.add(tf.add(tf.matMul(states, w['output.Ws']), tf.matMul(contexts, w['output.Wc'])), w['output.b']);
}

/** The target embedding's share of the decoder gates for every word, embedding·W + b: [V, 3H]. */
export function targetTable(model: Translator): tf.Tensor {
  const w = model.weights;
  return tf.add(tf.matMul(w['target.embedding'], w['decoder.W']), w['decoder.b']);
}

export interface TeacherForced {
  /** [T, B, V]. */
  logits: tf.Tensor;
  /** RNNsearch with keepAttention: α for every target position, [T, B, S]; else null. */
  attention: tf.Tensor | null;
}

/**
 * The decoder fed the reference translation (teacher forcing): the logits of every target
 * position and, if asked, the attention weights used for each.
 */
export function teacherForced(model: Translator, batch: TranslationBatch, options: { keepAttention?: boolean } = {}): TeacherForced {
  checkBatch(model, batch);
  const { size: B, targetLength: T } = batch;
  const encoded = encodeSource(model, batch.source, batch.sourceLengths, batch.sourceLength);
  const ctx = decoderContext(model, encoded);
  const words = unstackTime(lookupRows(targetTable(model), toTimeMajor(batch.targetIn, B, T)).reshape([T, B, -1])); // T × [B, 3H]
  let s = encoded.initialState;
  const states: tf.Tensor[] = [];
  const contexts: tf.Tensor[] = [];
  const alphas: tf.Tensor[] = [];
  for (let i = 0; i < T; i++) {
    const out = decoderStep(ctx, s, words[i]);
    s = out.state;
    states.push(s);
    contexts.push(out.context);
    if (out.weights && options.keepAttention) alphas.push(out.weights);
  }
  const H = model.config.decoderUnits, V = model.config.targetVocabSize;
  const allStates = stackTime(states).reshape([T * B, H]);                            // [T·B, H]
  let logits: tf.Tensor;
  if (model.config.attention) {
    logits = outputLogits(model, allStates, stackTime(contexts).reshape([T * B, -1])); // [T·B, V]
  } else {
    // The context is the same at every step: its share of the logits is computed once.
    const w = model.weights;
    const fromContext = tf.add(tf.matMul(encoded.summary, w['output.Wc']), w['output.b']); // [B, V]
    logits = tf.add(tf.matMul(allStates, w['output.Ws']).reshape([T, B, V]), fromContext);
  }
  return { logits: logits.reshape([T, B, V]), attention: alphas.length > 0 ? tf.stack(alphas) : null };
}

/** One-hot targets [T·B, V] (time-major rows; padding rows all zero) and the number of tokens. */
export function targetOneHot(batch: TranslationBatch, vocabSize: number): { values: Float32Array; tokens: number } {
  const { size: B, targetLength: T } = batch;
  const values = new Float32Array(T * B * vocabSize);
  let tokens = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < batch.targetLengths[b]; t++) {
      values[(t * B + b) * vocabSize + batch.targetOut[b * T + t]] = 1;
      tokens++;
    }
  }
  return { values, tokens };
}

/**
 * Mean cross-entropy (nats per target token, `</s>` included, padding excluded) of the
 * teacher-forced decoder, differentiable by tfjs. Training uses `lossAndGradients`
 * (./backprop), which computes the same number and its exact gradient faster.
 */
export function translationLoss(model: Translator, batch: TranslationBatch): tf.Scalar {
  const { size: B, targetLength: T } = batch;
  const V = model.config.targetVocabSize;
  const { logits } = teacherForced(model, batch);
  const { values, tokens } = targetOneHot(batch, V);
  const logp = tf.logSoftmax(logits.reshape([T * B, V]));
  return tf.div(tf.neg(tf.sum(tf.mul(logp, tf.tensor2d(values, [T * B, V])))), tokens) as tf.Scalar;
}

export function checkBatch(model: Translator, batch: TranslationBatch): void {
  const { size: B, sourceLength: S, targetLength: T } = batch;
  const fail = (m: string): never => { throw new Error(`translation batch: ${m}`); };
  if (batch.source.length !== B * S) fail(`source has ${batch.source.length} ids, expected size·sourceLength = ${B}·${S}`);
  if (batch.targetIn.length !== B * T || batch.targetOut.length !== B * T) fail(`targetIn/targetOut must have size·targetLength = ${B}·${T} ids`);
  if (batch.sourceLengths.length !== B || batch.targetLengths.length !== B) fail('sourceLengths and targetLengths need one entry per sentence');
  if (batch.sourceLengths.some((n) => n < 1 || n > S)) fail(`every source length must be in [1, ${S}]`);
  if (batch.targetLengths.some((n) => n < 1 || n > T)) fail(`every target length must be in [1, ${T}]`);
  const { sourceVocabSize: Vs, targetVocabSize: Vt } = model.config;
  for (const id of batch.source) if (id < 0 || id >= Vs) fail(`source id ${id} is outside the model's source vocabulary (${Vs} words): was the batch made with another vocabulary?`);
  for (const id of batch.targetOut) if (id < 0 || id >= Vt) fail(`target id ${id} is outside the model's target vocabulary (${Vt} words): was the batch made with another vocabulary?`);
}

/** One sentence through the encoder, as plain numbers: its annotations [S][D] and s_0 [H]. */
export function encodeSentence(model: Translator, ids: readonly number[]): { annotations: number[][]; initialState: number[] } {
  if (ids.length === 0) throw new Error('encodeSentence: the sentence is empty');
  return tf.tidy(() => {
    const enc = encodeSource(model, ids, [ids.length], ids.length);
    return {
      annotations: (enc.annotations.arraySync() as number[][][])[0],
      initialState: (enc.initialState.arraySync() as number[][])[0],
    };
  });
}
