/**
 * The training loss and its exact gradient, by hand-written backpropagation through time.
 *
 * `translationLoss` (./model) is differentiable by tfjs, and tests check that this file returns
 * the same loss and the same gradients. It exists for speed: tfjs' tape makes every weight's
 * gradient step by step (a fresh matMul per time step, each re-packing its operand on wasm) and
 * runs ~2.5× more kernels. Here the backward pass only carries what flows *through time*
 * (∂/∂h_{t-1}); every weight gradient is one large matMul over all steps at the end, e.g.
 * ∂L/∂U = [h_0 … h_{T-1}]ᵀ · [∂a_1 … ∂a_T].
 *
 * Notation as in ./model: a GRU step z = σ(xz + h Uz), r = σ(xr + h Ur), n = tanh(xn + r ⊙ h Un),
 * h' = h + z ⊙ (n − h); its backward pass from g = ∂L/∂h':
 *   ∂z = g ⊙ (n − h),  ∂n = g ⊙ z,  ∂h = g − ∂n  (+ what flows back through U),
 *   ∂an = ∂n ⊙ (1 − n²),  ∂r = ∂an ⊙ (h Un),  ∂(h Un) = ∂an ⊙ r,
 *   ∂az = ∂z ⊙ z(1 − z),  ∂ar = ∂r ⊙ r(1 − r).
 */
import * as tf from '@tensorflow/tfjs';
import { lookupRows, scatterRows, splitColumns, stackTime, unstackTime } from './ops';
import { checkBatch, paddingBias, stepMasks, targetOneHot, toTimeMajor, type TranslationBatch, type Translator } from './model';

/** What one GRU step keeps for its backward pass. */
interface GruCache { hPrev: tf.Tensor; z: tf.Tensor; r: tf.Tensor; n: tf.Tensor; hn: tf.Tensor }

function gruForward(h: tf.Tensor, x: tf.Tensor, U: tf.Tensor): { h: tf.Tensor; cache: GruCache } {
  const [xz, xr, xn] = splitColumns(x, 3);
  const [hz, hr, hn] = splitColumns(tf.matMul(h, U), 3);
  const z = tf.sigmoid(tf.add(xz, hz));
  const r = tf.sigmoid(tf.add(xr, hr));
  const n = tf.tanh(tf.add(xn, tf.mul(r, hn)));
  return { h: tf.add(h, tf.mul(z, tf.sub(n, h))), cache: { hPrev: h, z, r, n, hn } };
}

/**
 * Backward through one GRU step. g = ∂L/∂h'. Returns ∂L/∂h (through the gate arithmetic and U),
 * ∂L/∂(h U) (for ∂U) and ∂L/∂x (for the input weights).
 */
function gruBackward(g: tf.Tensor, c: GruCache, UT: tf.Tensor, one: tf.Scalar): { dh: tf.Tensor; dHU: tf.Tensor; dX: tf.Tensor } {
  const dz = tf.mul(g, tf.sub(c.n, c.hPrev));
  const dn = tf.mul(g, c.z);
  const dan = tf.mul(dn, tf.sub(one, tf.square(c.n)));
  const dr = tf.mul(dan, c.hn);
  const dhn = tf.mul(dan, c.r);
  const daz = tf.mul(dz, tf.mul(c.z, tf.sub(one, c.z)));
  const dar = tf.mul(dr, tf.mul(c.r, tf.sub(one, c.r)));
  const dHU = tf.concat([daz, dar, dhn], 1);                          // [B, 3H]
  const dX = tf.concat([daz, dar, dan], 1);                           // [B, 3H]
  const dh = tf.add(tf.sub(g, dn), tf.matMul(dHU, UT));               // g ⊙ (1 − z) + ∂(hU) Uᵀ
  return { dh, dHU, dX };
}

/** Input projections of a sequence without the tape: rows of (embedding·W + b), time-major. */
function projectRows(table: tf.Tensor, ids: Int32Array, steps: number, batch: number): tf.Tensor[] {
  return unstackTime(lookupRows(table, ids).reshape([steps, batch, -1]));
}

/** x_1ᵀ g_1 + … + x_Tᵀ g_T for lists of [B, m] and [B, n] matrices: one [m, n] matMul. */
function sumOfOuter(xs: tf.Tensor[], gs: tf.Tensor[]): tf.Tensor {
  const x = stackTime(xs);
  const g = stackTime(gs);
  return tGrad(x.reshape([-1, x.shape[x.rank - 1]]), g.reshape([-1, g.shape[g.rank - 1]]));
}

/**
 * xᵀ g for x [N, m], g [N, n] (N large: all time steps of a batch). wasm's matMul runs a scalar
 * loop whenever an operand is marked transposed, so the transpose is made explicitly (a fast
 * copy), and XNNPACK re-packs its right-hand operand whenever that is a new tensor, so the
 * narrower of the two goes on the right: xᵀg, or (gᵀx)ᵀ.
 */
function tGrad(x: tf.Tensor, g: tf.Tensor): tf.Tensor {
  const m = x.shape[x.rank - 1], n = g.shape[g.rank - 1];
  if (m < n) return tf.transpose(tf.matMul(tf.transpose(g), x));
  return tf.matMul(tf.transpose(x), g);
}

/** a bᵀ, with the transpose made explicitly (see tGrad). */
function timesT(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.matMul(a, tf.transpose(b));
}

export interface LossAndGradients {
  /** The mean cross-entropy, as `translationLoss` computes it. */
  loss: tf.Scalar;
  /** ∂loss/∂w for every weight of the model, by name. */
  grads: Record<string, tf.Tensor>;
}

/**
 * The teacher-forced loss of a batch and its gradient with respect to every weight (exact, not
 * an approximation). Creates many intermediate tensors: call it inside tf.tidy.
 */
export function lossAndGradients(model: Translator, batch: TranslationBatch): LossAndGradients {
  checkBatch(model, batch);
  const w = model.weights;
  const cfg = model.config;
  const { size: B, sourceLength: S, targetLength: T } = batch;
  const He = cfg.encoderUnits, H = cfg.decoderUnits, V = cfg.targetVocabSize, D = 2 * He;
  const one = tf.scalar(1);
  const grads: Record<string, tf.Tensor> = {};
  const addGrad = (name: string, g: tf.Tensor) => { grads[name] = name in grads ? tf.add(grads[name], g) : g; };

  // ---- encoder, forward ----------------------------------------------------------------------
  const srcIds = toTimeMajor(batch.source, B, S);
  const masks = stepMasks(batch.sourceLengths, S);
  const dirs = ['forward', 'backward'] as const;
  const enc = dirs.map((dir) => {
    const p = `encoder.${dir}.`;
    const table = tf.add(tf.matMul(w['source.embedding'], w[`${p}W`]), w[`${p}b`]); // [Vs, 3He]
    const x = projectRows(table, srcIds, S, B);
    const caches: GruCache[] = new Array(S);
    const states: tf.Tensor[] = new Array(S);
    let h: tf.Tensor = tf.zeros([B, He]);
    for (let k = 0; k < S; k++) {
      const t = dir === 'forward' ? k : S - 1 - k;
      const step = gruForward(h, x[t], w[`${p}U`]);
      caches[t] = step.cache;
      h = masks ? tf.add(h, tf.mul(masks[t], tf.sub(step.h, h))) : step.h;
      states[t] = h;
    }
    return { dir, p, caches, states };
  });
  const [fwd, bwd] = enc;
  const annotationsSBD = tf.concat([stackTime(fwd.states), stackTime(bwd.states)], 2); // [S, B, D]
  const annotations = annotationsSBD.transpose([1, 0, 2]);                              // [B, S, D]
  const last = bwd.states[0];                                                            // ←h_1: [B, He]
  const s0 = tf.tanh(tf.add(tf.matMul(last, w['decoder.init.W']), w['decoder.init.b']));  // [B, H]
  const summary = tf.concat([fwd.states[S - 1], last], 1);                               // [B, D]

  // ---- decoder, forward ----------------------------------------------------------------------
  const tgtIds = toTimeMajor(batch.targetIn, B, T);
  const tgtTable = tf.add(tf.matMul(w['target.embedding'], w['decoder.W']), w['decoder.b']); // [Vt, 3H]
  const words = projectRows(tgtTable, tgtIds, T, B);                                   // T × [B, 3H]
  const U = w['decoder.U'];
  const C = w['decoder.C'];
  const attention = cfg.attention;
  const A = cfg.attentionUnits;
  const W2 = attention ? tf.mul(w['attention.W'], 2) : null;   // the 2× of tanh(x) = 2σ(2x) − 1
  const v2 = attention ? tf.mul(w['attention.v'], 2) : null;
  const U2 = attention ? tf.mul(w['attention.U'], 2) : null;
  const keys = attention ? tf.matMul(annotations.reshape([B * S, D]), U2!).reshape([B, S, A]) : null; // [B, S, A]
  const valuesT = attention ? annotations.transpose([0, 2, 1]) : null;                   // [B, D, S]
  const maskBias = attention ? paddingBias(batch.sourceLengths, S) : null;
  const fixedGates = attention ? null : tf.matMul(summary, C);                          // [B, 3H]

  const dec: GruCache[] = new Array(T);
  const states: tf.Tensor[] = new Array(T);
  const hidden: tf.Tensor[] = [];   // σ(2(W s + U h_j)) per step: [B, S, A]
  const alphas: tf.Tensor[] = [];   // α_i: [B, S]
  const contexts: tf.Tensor[] = []; // c_i: [B, D]
  let s = s0;
  for (let i = 0; i < T; i++) {
    let x: tf.Tensor;
    if (attention) {
      const q = tf.matMul(s, W2!).reshape([B, 1, A]);
      const hid = tf.sigmoid(tf.add(keys!, q));                                          // [B, S, A]
      let e = tf.matMul(hid.reshape([B * S, A]), v2!).reshape([B, S]);
      if (maskBias) e = tf.add(e, maskBias);
      const alpha = tf.softmax(e);                                                       // [B, S]
      const c = tf.sum(tf.mul(alpha.reshape([B, 1, S]), valuesT!), 2);                   // [B, D]
      hidden.push(hid); alphas.push(alpha); contexts.push(c);
      x = tf.add(words[i], tf.matMul(c, C));
    } else {
      x = tf.add(words[i], fixedGates!);
    }
    const step = gruForward(s, x, U);
    dec[i] = step.cache;
    s = step.h;
    states[i] = s;
  }

  // ---- output layer and loss -----------------------------------------------------------------
  const allStates = stackTime(states).reshape([T * B, H]);
  const allContexts = attention ? stackTime(contexts).reshape([T * B, D]) : null;
  let logits = tf.matMul(allStates, w['output.Ws']);                                    // [T·B, V]
  logits = attention
    ? tf.add(tf.add(logits, tf.matMul(allContexts!, w['output.Wc'])), w['output.b'])
    : tf.add(logits.reshape([T, B, V]), tf.add(tf.matMul(summary, w['output.Wc']), w['output.b'])).reshape([T * B, V]);
  const probs = tf.softmax(logits);
  const { values, tokens } = targetOneHot(batch, V);
  const oneHot = tf.tensor2d(values, [T * B, V]);
  const rowMask = new Float32Array(T * B);
  for (let b = 0; b < B; b++) for (let t = 0; t < batch.targetLengths[b]; t++) rowMask[t * B + b] = 1;
  const padding = tf.tensor1d(rowMask.map((m) => 1 - m));
  // −log p(target), with padding rows read as log 1 = 0.
  const targetProb = tf.add(tf.sum(tf.mul(probs, oneHot), 1), padding);
  const loss = tf.div(tf.neg(tf.sum(tf.log(targetProb))), tokens) as tf.Scalar;
  const dLogits = tf.div(tf.sub(tf.mul(probs, tf.tensor2d(rowMask, [T * B, 1])), oneHot), tokens); // [T·B, V]

  addGrad('output.Ws', tGrad(allStates, dLogits));
  addGrad('output.b', tf.sum(dLogits, 0));
  const dStates = unstackTime(tf.matMul(dLogits, tf.transpose(w['output.Ws'])).reshape([T, B, H]));
  let dContexts: tf.Tensor[] | null = null;
  let dSummary: tf.Tensor | null = null;
  if (attention) {
    addGrad('output.Wc', tGrad(allContexts!, dLogits));
    dContexts = unstackTime(tf.matMul(dLogits, tf.transpose(w['output.Wc'])).reshape([T, B, D]));
  } else {
    const perSentence = tf.sum(dLogits.reshape([T, B, V]), 0);                          // [B, V]
    addGrad('output.Wc', tGrad(summary, perSentence));
    dSummary = tf.matMul(perSentence, tf.transpose(w['output.Wc']));                   // [B, D]
  }

  // ---- decoder, backward ---------------------------------------------------------------------
  const UT = tf.transpose(U);
  const CT = tf.transpose(C);
  const W2T = attention ? tf.transpose(W2!) : null;
  const v2Row = attention ? v2!.reshape([1, 1, A]) : null;
  const dHU: tf.Tensor[] = new Array(T);
  const dX: tf.Tensor[] = new Array(T);
  const dE: tf.Tensor[] = [];  // ∂L/∂e_i: [B, S]
  const dQ: tf.Tensor[] = [];  // ∂L/∂(2 W s_{i-1}): [B, A]
  let dKeys: tf.Tensor | null = null;    // [B, S, A]
  let dValuesT: tf.Tensor | null = null; // [B, D, S]
  let ds: tf.Tensor | null = null;
  for (let i = T - 1; i >= 0; i--) {
    const g = ds === null ? dStates[i] : tf.add(dStates[i], ds);
    const back = gruBackward(g, dec[i], UT, one);
    dHU[i] = back.dHU;
    dX[i] = back.dX;
    ds = back.dh;
    if (attention) {
      const dc = tf.add(dContexts![i], tf.matMul(back.dX, CT));                         // [B, D]
      const alpha = alphas[i];
      const dv = tf.mul(alpha.reshape([B, 1, S]), dc.reshape([B, D, 1]));              // [B, D, S]
      dValuesT = dValuesT === null ? dv : tf.add(dValuesT, dv);
      const dAlpha = tf.sum(tf.mul(annotations, dc.reshape([B, 1, D])), 2);         // [B, S]
      const de = tf.mul(alpha, tf.sub(dAlpha, tf.sum(tf.mul(alpha, dAlpha), 1, true))); // softmax backward
      const hid = hidden[i];
      const dPre = tf.mul(tf.mul(de.reshape([B, S, 1]), v2Row!), tf.mul(hid, tf.sub(one, hid))); // [B, S, A]
      dKeys = dKeys === null ? dPre : tf.add(dKeys, dPre);
      const dq = tf.sum(dPre, 1);                                                       // [B, A]
      ds = tf.add(ds, tf.matMul(dq, W2T!));
      dE[i] = de;
      dQ[i] = dq;
    }
  }
  const ds0 = ds!;
  const sPrev = dec.map((c) => c.hPrev);
  addGrad('decoder.U', sumOfOuter(sPrev, dHU));
  const dTgtTable = scatterRows(stackTime(dX).reshape([T * B, 3 * H]), tgtIds, cfg.targetVocabSize); // [Vt, 3H]
  addGrad('decoder.b', tf.sum(dTgtTable, 0));
  addGrad('decoder.W', tGrad(w['target.embedding'], dTgtTable));
  addGrad('target.embedding', timesT(dTgtTable, w['decoder.W']));

  let dAnnotations: tf.Tensor | null = null; // [B, S, D]
  if (attention) {
    addGrad('decoder.C', sumOfOuter(contexts, dX));
    addGrad('attention.W', tf.mul(sumOfOuter(sPrev, dQ), 2));
    // ∂L/∂(2v) = Σ_i Σ_{b,j} σ_ibj ∂e_ibj: all steps' σ [N, A] transposed, times ∂e [N, 1].
    const allHidden = stackTime(hidden).reshape([T * B * S, A]);
    const allDe = stackTime(dE).reshape([T * B * S, 1]);
    addGrad('attention.v', tf.mul(tf.matMul(tf.transpose(allHidden), allDe), 2));
    const dK = dKeys!.reshape([B * S, A]);
    addGrad('attention.U', tf.mul(tGrad(annotations.reshape([B * S, D]), dK), 2));
    dAnnotations = tf.add(tf.matMul(dK, tf.transpose(U2!)).reshape([B, S, D]), dValuesT!.transpose([0, 2, 1]));
  } else {
    const dGates = tf.sum(stackTime(dX), 0);                                            // [B, 3H]
    addGrad('decoder.C', tGrad(summary, dGates));
    dSummary = tf.add(dSummary!, tf.matMul(dGates, CT));
  }

  // s_0 = tanh(←h_1 W + b)
  const dPre0 = tf.mul(ds0, tf.sub(one, tf.square(s0)));
  addGrad('decoder.init.W', tGrad(last, dPre0));
  addGrad('decoder.init.b', tf.sum(dPre0, 0));
  const dLast = tf.matMul(dPre0, tf.transpose(w['decoder.init.W']));                  // [B, He]

  // ---- encoder, backward ---------------------------------------------------------------------
  // ∂L/∂(state of each direction at each step), from the annotations / the summary / s_0.
  const fromAbove: (tf.Tensor | null)[][] = dirs.map(() => new Array<tf.Tensor | null>(S).fill(null));
  if (dAnnotations !== null) {
    const [df, db] = splitColumns(dAnnotations.transpose([1, 0, 2]).reshape([S * B, D]), 2);
    fromAbove[0] = unstackTime(df.reshape([S, B, He]));
    fromAbove[1] = unstackTime(db.reshape([S, B, He]));
  }
  const extra = (d: number, t: number, g: tf.Tensor) => {
    const current = fromAbove[d][t];
    fromAbove[d][t] = current ? tf.add(current, g) : g;
  };
  if (dSummary !== null) {
    const [df, db] = splitColumns(dSummary, 2);
    extra(0, S - 1, df);
    extra(1, 0, db);
  }
  extra(1, 0, dLast);

  enc.forEach(({ dir, p, caches }, d) => {
    const UTe = tf.transpose(w[`${p}U`]);
    const dHUe: tf.Tensor[] = new Array(S);
    const dXe: tf.Tensor[] = new Array(S);
    let dh: tf.Tensor | null = null;
    for (let k = S - 1; k >= 0; k--) {
      const t = dir === 'forward' ? k : S - 1 - k;
      const above = fromAbove[d][t];
      const g: tf.Tensor = dh === null ? above ?? tf.zerosLike(caches[t].hPrev) : above ? tf.add(dh, above) : dh;
      // h_t = h_{t-1} + m ⊙ (GRU(h_{t-1}) − h_{t-1}): the step gets m ⊙ g, h_{t-1} keeps (1 − m) ⊙ g.
      const gStep = masks ? tf.mul(masks[t], g) : g;
      const back = gruBackward(gStep, caches[t], UTe, one);
      dHUe[t] = back.dHU;
      dXe[t] = back.dX;
      dh = masks ? tf.add(back.dh, tf.sub(g, gStep)) : back.dh;
    }
    addGrad(`${p}U`, sumOfOuter(caches.map((c) => c.hPrev), dHUe));
    const dTable = scatterRows(stackTime(dXe).reshape([S * B, 3 * He]), srcIds, cfg.sourceVocabSize); // [Vs, 3He]
    addGrad(`${p}b`, tf.sum(dTable, 0));
    addGrad(`${p}W`, tGrad(w['source.embedding'], dTable));
    addGrad('source.embedding', timesT(dTable, w[`${p}W`]));
  });

  for (const name of Object.keys(w)) {
    if (!(name in grads)) throw new Error(`lossAndGradients: no gradient for '${name}' (a bug: every weight should get one)`);
  }
  return { loss, grads };
}
