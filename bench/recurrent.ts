/**
 * Fused recurrent ops for the s2s workload: a whole GRU sequence, and a whole attention decoder,
 * each one tf.customGrad op with its backward pass written out by hand.
 *
 * Why: differentiated op by op, a 20-step GRU + attention decoder puts ~5,000 small kernels
 * and as many tape nodes in a step; every weight gradient is a small matmul per time step with
 * a transposed operand. As one op, the forward runs untaped, the backward needs about half the
 * kernels, each weight is transposed once per sequence (so XNNPACK packs it once), and each
 * weight gradient is one large matmul over all steps (Σ_t h_tᵀ·g_t = Hᵀ·G with H, G stacked).
 *
 * Equations (PyTorch's GRU, gates r | z | n):
 *   r = σ(x_r + h·W_r + b_r),  z = σ(x_z + h·W_z + b_z),  c = tanh(x_n + r ⊙ (h·W_n + b_n)),
 *   h' = (1 − z) ⊙ c + z ⊙ h
 * where x = input·W_i + b_i is computed for all steps before the op (one matmul).
 * Backward, with g = ∂L/∂h':
 *   ∂c = g ⊙ (1 − z) ⊙ (1 − c²)          (pre-activation of the candidate: also ∂x_n)
 *   ∂z = g ⊙ (h − c) ⊙ z(1 − z),  ∂r = ∂c ⊙ (h·W_n + b_n) ⊙ r(1 − r)   (also ∂x_r, ∂x_z)
 *   ∂(h·W + b) = [∂r, ∂z, ∂c ⊙ r],  ∂h = g ⊙ z + ∂(h·W + b)·Wᵀ
 * bench/check.ts compares these gradients with tfjs's autodiff of the op-by-op version.
 */
import * as tf from '@tensorflow/tfjs';

type T2 = tf.Tensor2D;
type T3 = tf.Tensor3D;

/** The gate-by-gate GRU step from precomputed gates; returns what the backward pass needs. */
function gruForward(xrz: T2, xn: T2, h: T2, gh: T2, units: number) {
  const [ghrz, ghn] = tf.split(gh, [2 * units, units], 1) as [T2, T2];
  const rz = tf.sigmoid(tf.add(xrz, ghrz)) as T2;                          // [n, 2H]
  const [r, z] = tf.split(rz, 2, 1) as [T2, T2];                            // [n, H] each
  const c = tf.tanh(tf.add(xn, tf.mul(r, ghn))) as T2;                      // [n, H]
  const next = tf.add(c, tf.mul(z, tf.sub(h, c))) as T2;                    // (1−z)·c + z·h
  return { next, rz, r, z, c, ghn };
}

/** ∂ of one GRU step: given g = ∂L/∂h', the gradients of the gate pre-activations. */
function gruBackward(g: T2, s: { h: T2; rz: T2; r: T2; z: T2; c: T2; ghn: T2 }) {
  const gz = tf.mul(g, s.z);                                                // ∂h via the z·h path
  const dcPre = tf.mul(tf.sub(g, gz), tf.sub(1, tf.square(s.c))) as T2;     // g(1−z)(1−c²)  [n, H]
  const drz = tf.concat([tf.mul(dcPre, s.ghn), tf.mul(g, tf.sub(s.h, s.c))], 1); // [∂r, ∂z] before σ'
  const drzPre = tf.mul(drz, tf.mul(s.rz, tf.sub(1, s.rz))) as T2;          // [n, 2H]
  const dghn = tf.mul(dcPre, s.r) as T2;                                    // ∂(h·W_n + b_n)
  return { gz: gz as T2, dcPre, drzPre, dghn };
}

/**
 * A GRU over a whole sequence. xrz [T, n, 2H] and xn [T, n, H] are the input gates of every step
 * (input·W_i + b_i, split r|z and n), h0 [n, H], wh [H, 3H], bh [3H]. Returns every hidden state
 * [T, n, H] (in time order also when `reverse`, which runs from t = T−1 down to 0).
 */
export function gruSequence(xrz: T3, xn: T3, h0: T2, wh: tf.Tensor, bh: tf.Tensor, reverse = false): T3 {
  const [steps, , units] = xn.shape;
  const order = Array.from({ length: steps }, (_, i) => (reverse ? steps - 1 - i : i));
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xrzIn, xnIn, h0In, whIn, bhIn] = args as tf.Tensor[];
    const save = args[5] as tf.GradSaveFunc;
    const xrzs = tf.unstack(xrzIn as T3) as T2[], xns = tf.unstack(xnIn as T3) as T2[];
    const hs: T2[] = new Array(steps);
    const kept: tf.Tensor[] = [];
    let h = h0In as T2;
    const wh2 = whIn as T2;
    for (const t of order) {
      const [next, ...state] = tf.tidy(() => {
        const gh = tf.fused.matMul({ a: h, b: wh2, bias: bhIn }) as T2;    // [n, 3H]
        const f = gruForward(xrzs[t], xns[t], h, gh, units);
        return [f.next, f.rz, f.r, f.z, f.c, f.ghn];
      });
      kept.push(h, ...state);
      hs[t] = next as T2;
      h = next as T2;
    }
    save([...kept, whIn]);
    return {
      value: tf.stack(hs) as T3,                                            // [T, n, H]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const whT = tf.transpose(saved[saved.length - 1]) as T2;            // [3H, H], packed once
        const dys = tf.unstack(dy) as T2[];
        const dxrz: T2[] = new Array(steps), dxn: T2[] = new Array(steps);
        const hPrev: T2[] = [], dgh: T2[] = [];
        let g: T2 | undefined;
        order.slice().reverse().forEach((t, k) => {
          const i = (steps - 1 - k) * 6;
          const s = { h: saved[i] as T2, rz: saved[i + 1] as T2, r: saved[i + 2] as T2, z: saved[i + 3] as T2, c: saved[i + 4] as T2, ghn: saved[i + 5] as T2 };
          const gIn = g;
          const [drzPre, dcPre, d, gNext] = tf.tidy(() => {
            const gt = (gIn === undefined ? dys[t] : tf.add(gIn, dys[t])) as T2;
            const b = gruBackward(gt, s);
            const d = tf.concat([b.drzPre, b.dghn], 1) as T2;               // ∂(h·W + b)  [n, 3H]
            return [b.drzPre, b.dcPre, d, tf.add(b.gz, tf.matMul(d, whT))]; // …, ∂h_prev
          });
          gIn?.dispose();
          dxrz[t] = drzPre as T2;
          dxn[t] = dcPre as T2;
          hPrev.push(s.h);
          dgh.push(d as T2);
          g = gNext as T2;
        });
        const H = tf.concat(hPrev, 0), G = tf.concat(dgh, 0);               // [T·n, H], [T·n, 3H]
        return [tf.stack(dxrz), tf.stack(dxn), g!, tf.matMul(H, G, true, false), tf.sum(G, 0)];
      },
    };
  });
  return op(xrz, xn, h0, wh, bh) as T3;
}

export interface DecoderWeights {
  wq: tf.Tensor; v: tf.Tensor; wc: tf.Tensor; wh: tf.Tensor; bh: tf.Tensor;
}

/**
 * The attention decoder over all T steps with teacher forcing. yrz [T, n, 2H], yn [T, n, H]: the
 * target embeddings' input gates (y·W_y + b_i); keys [n, S, A] = memory·W_k; mem [n, S, 2H];
 * st0 [n, H]. Weights: wq [H, A], v [A, 1], wc [2H, 3H] (context → gates), wh [H, 3H], bh [3H].
 * Per step: q = s·W_q; e = tanh(keys + q); a = softmax(e·v); ctx = Σ a·mem;
 * gates = y-part + ctx·W_c; s' = GRU(gates, s). Returns [T, n, 3H] = [s' | ctx] per step.
 * The query and the hidden gates share one matmul: s·[W_q | W_h] + [0 | b_h].
 */
export function attentionDecoder(yrz: T3, yn: T3, keys: T3, mem: T3, st0: T2, w: DecoderWeights): T3 {
  const [steps, n, units] = yn.shape;
  const [, srcLen, attn] = keys.shape;
  const memUnits = mem.shape[2];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [yrzIn, ynIn, keysIn, memIn, st0In, wqIn, vIn, wcIn, whIn, bhIn] = args as tf.Tensor[];
    const save = args[10] as tf.GradSaveFunc;
    const yrzs = tf.unstack(yrzIn as T3) as T2[], yns = tf.unstack(ynIn as T3) as T2[];
    const wsh = tf.concat([wqIn as T2, whIn as T2], 1) as T2;               // [H, A + 3H]
    const bsh = tf.concat([tf.zeros([attn]), bhIn], 0);                      // [A + 3H]
    const memT = tf.transpose(memIn, [0, 2, 1]);                             // [n, 2H, S]
    const kept: tf.Tensor[] = [];
    const outs: T2[] = [];
    let st = st0In as T2;
    for (let t = 0; t < steps; t++) {
      // One tidy per step: the step's temporaries ([n, S, A]-sized) go as soon as it ends.
      const kept9 = tf.tidy(() => {
        const [q, gh] = tf.split(tf.fused.matMul({ a: st, b: wsh, bias: bsh }), [attn, 3 * units], 1) as [T2, T2];
        const e = tf.tanh(tf.add(keysIn, tf.reshape(q, [n, 1, attn]))) as T3; // [n, S, A]
        const score = tf.reshape(tf.matMul(tf.reshape(e, [n * srcLen, attn]), vIn as T2), [n, srcLen]);
        const a = tf.softmax(score) as T2;                                  // [n, S]
        const ctx = tf.sum(tf.mul(memT, tf.reshape(a, [n, 1, srcLen])), 2) as T2; // [n, 2H]
        const [cwrz, cwn] = tf.split(tf.matMul(ctx, wcIn as T2), [2 * units, units], 1) as [T2, T2];
        const f = gruForward(tf.add(yrzs[t], cwrz) as T2, tf.add(yns[t], cwn) as T2, st, gh, units);
        return [f.next, tf.concat([f.next, ctx], 1), e, a, ctx, f.rz, f.r, f.z, f.c, f.ghn];
      });
      kept.push(st, ...kept9.slice(2));
      outs.push(kept9[1] as T2);                                            // [n, 3H] = [s' | ctx]
      st = kept9[0] as T2;
    }
    save([...kept, wsh, memIn, vIn, wcIn]);
    return {
      value: tf.stack(outs) as T3,                                          // [T, n, 3H]
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const m = saved.length;
        const [wshS, memS, vS, wcS] = saved.slice(m - 4);
        const wshT = tf.transpose(wshS) as T2, wcT = tf.transpose(wcS) as T2; // packed once
        const vRow = tf.reshape(vS, [1, 1, attn]);
        const douts = tf.unstack(dy) as T2[];
        const dyrz: T2[] = new Array(steps), dyn: T2[] = new Array(steps);
        const stPrev: T2[] = [], dsh: T2[] = [], ctxs: T2[] = [], dcws: T2[] = [];
        const es: tf.Tensor[] = [], dscores: tf.Tensor[] = [], as: T2[] = [], dctxs: T2[] = [];
        let dkeys: tf.Tensor | undefined;
        let g: T2 | undefined;
        for (let t = steps - 1; t >= 0; t--) {
          const i = t * 9;
          const [sPrev, e, a, ctx, rz, r, z, c, ghn] = saved.slice(i, i + 9) as T2[];
          const gIn = g, dkeysIn = dkeys;
          const [drzPre, dcPre, dcw, dctx, dscore, dpreSum, d, gNext] = tf.tidy(() => {
            const [dsOut, dctxOut] = tf.split(douts[t], [units, memUnits], 1) as [T2, T2];
            const gt = (gIn === undefined ? dsOut : tf.add(gIn, dsOut)) as T2;
            const b = gruBackward(gt, { h: sPrev, rz, r, z, c, ghn });
            const dcw = tf.concat([b.drzPre, b.dcPre], 1) as T2;            // ∂(ctx·W_c)  [n, 3H]
            const dctx = tf.add(dctxOut, tf.matMul(dcw, wcT)) as T2;        // [n, 2H]
            // ctx = Σ_s a_s·mem_s:  ∂a_s = ⟨∂ctx, mem_s⟩;  softmax: ∂score = a ⊙ (∂a − ⟨a, ∂a⟩).
            const da = tf.sum(tf.mul(memS, tf.reshape(dctx, [n, 1, memUnits])), 2); // [n, S]
            const dscore = tf.mul(a, tf.sub(da, tf.sum(tf.mul(a, da), 1, true))); // [n, S]
            const dpre = tf.mul(tf.mul(tf.reshape(dscore, [n, srcLen, 1]), vRow), tf.sub(1, tf.square(e))); // [n, S, A]
            const dq = tf.sum(dpre, 1) as T2;                               // [n, A]
            const d = tf.concat([dq, b.drzPre, b.dghn], 1) as T2;           // ∂(s·[W_q | W_h] + b)  [n, A + 3H]
            const gPrev = tf.add(b.gz, tf.matMul(d, wshT));                 // ∂s_prev
            return [b.drzPre, b.dcPre, dcw, dctx, dscore, dkeysIn === undefined ? dpre : tf.add(dkeysIn, dpre), d, gPrev];
          });
          gIn?.dispose();
          dkeysIn?.dispose();
          dyrz[t] = drzPre as T2;
          dyn[t] = dcPre as T2;
          dkeys = dpreSum;
          g = gNext as T2;
          stPrev.push(sPrev); dsh.push(d as T2); ctxs.push(ctx); dcws.push(dcw as T2);
          es.push(e); dscores.push(dscore); as.push(a); dctxs.push(dctx as T2);
        }
        // Weight gradients over all steps at once (steps stacked in reverse order: sums don't care).
        const D = tf.concat(dsh, 0);                                         // [T·n, A + 3H]
        const dwsh = tf.matMul(tf.concat(stPrev, 0), D, true, false);        // [H, A + 3H]
        const [dwq, dwh] = tf.split(dwsh, [attn, 3 * units], 1);
        const dbh = tf.slice(tf.sum(D, 0), [attn], [3 * units]);
        const dwc = tf.matMul(tf.concat(ctxs, 0), tf.concat(dcws, 0), true, false); // [2H, 3H]
        // ∂v = Eᵀ·∂score (E transposed once; as a row times E, XNNPACK would pack all of E instead: 2× slower).
        const dv = tf.matMul(tf.reshape(tf.concat(es, 0), [-1, attn]), tf.reshape(tf.concat(dscores, 0), [-1, 1]), true, false); // [A, 1]
        // ∂mem = Σ_t a_tᵀ ⊗ ∂ctx_t per sequence: [n, S, T]·[n, T, 2H].
        const aT = tf.transpose(tf.stack(as), [1, 2, 0]);                    // [n, S, T]
        const dctxT = tf.transpose(tf.stack(dctxs), [1, 0, 2]);               // [n, T, 2H]
        const dmem = tf.matMul(aT, dctxT);                                   // [n, S, 2H]
        return [tf.stack(dyrz), tf.stack(dyn), dkeys!, dmem, g!, dwq, dv, dwc, dwh, dbh];
      },
    };
  });
  return op(yrz, yn, keys, mem, st0, w.wq, w.v, w.wc, w.wh, w.bh) as T3;
}
