/**
 * TypeScript twins of the PyTorch peer's three training workloads (../shared/bench/pytorch_peer.py):
 * same shapes, float32, Adam (lr 1e-3), one step = forward + backward + update of the whole batch.
 *
 * Each `createXxxStep()` returns a function that runs one training step, disposes everything it
 * made and returns the loss. It also carries what the bench needs: the analytic FLOPs of one
 * step, the variables, and `gradients()` / `apply()` (the two halves of a step) for the
 * data-parallel runner, which trains on a shard of the batch per worker (`options.shard`).
 *
 * FLOPs: a multiply-add counts 2; forward + backward ≈ 3 × forward (the backward pass of a
 * matmul or conv is two products of the forward's size). Only the multiply-adds of matmuls,
 * convolutions and the attention's dot products are counted; elementwise work, pooling and the
 * optimizer are not. The peer does not report FLOPs; we apply the same count to both.
 */
import * as tf from '@tensorflow/tfjs';
import { mulberry32, normal, type Rng } from '../lib/runtime/random';
import { attentionDecoder, gruSequence } from './recurrent';
import { createAdam } from '../lib/train/adam';

export type WorkloadName = 'seg' | 's2s' | 'stn';
export const WORKLOADS: readonly WorkloadName[] = ['seg', 's2s', 'stn'];

export interface StepOptions {
  /** Train on rows [index·B/count, (index+1)·B/count) of the batch (data-parallel workers). */
  shard?: { index: number; count: number };
  /** Seeds the data and the initial weights (the same in every shard). Default 0. */
  seed?: number;
  learningRate?: number;
  /**
   * 'fused' (default): the loss is softmaxCrossEntropy below, and in s2s the encoder GRUs and the
   * attention decoder are each one op with a hand-written backward pass (bench/recurrent.ts), and
   * Adam is lib's createAdam (one update kernel per variable on wasm).
   * 'plain': tf.losses.softmaxCrossEntropy, tf.train.adam, and s2s op by op, differentiated by tfjs — the
   * reference the fused gradients are checked against, and the "before" of that lever.
   */
  formulation?: 'fused' | 'plain';
}

export interface TrainingStep {
  /** One training step of this shard: forward, backward, Adam update. Returns the loss. */
  (): number;
  readonly workload: WorkloadName;
  /** The full batch size (not the shard's). */
  readonly batch: number;
  /** Analytic FLOPs of one step of the full batch. */
  readonly flops: number;
  readonly variables: readonly tf.Variable[];
  /** Forward + backward only: the loss and one gradient per variable, in order (caller disposes). */
  gradients(): { loss: number; grads: tf.Tensor[] };
  /** The Adam update with the given gradients (one per variable, in order). */
  apply(grads: readonly tf.Tensor[]): void;
  dispose(): void;
}

let uid = 0;

/** The cross-entropy a formulation uses: ours (fused) or tf.losses' (plain). */
function crossEntropyFor(options: StepOptions): (labels: tf.Tensor, logits: tf.Tensor) => tf.Scalar {
  return options.formulation === 'plain'
    ? (labels, logits) => tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar
    : (labels, logits) => softmaxCrossEntropy(labels as tf.Tensor2D, logits as tf.Tensor2D);
}

/** PyTorch's default init for conv and linear layers: U(−1/√fanIn, 1/√fanIn). */
function uniform(rng: Rng, shape: number[], fanIn: number, name: string): tf.Variable {
  const bound = 1 / Math.sqrt(fanIn);
  const v = Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => (2 * rng() - 1) * bound);
  return tf.variable(tf.tensor(v, shape), true, `${name}_${uid++}`);
}

function constantVar(values: number[] | Float32Array, shape: number[], name: string): tf.Variable {
  return tf.variable(tf.tensor(values, shape), true, `${name}_${uid++}`);
}

function randn(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => normal(rng));
}

function randInts(rng: Rng, n: number, lo: number, hi: number): Int32Array {
  return Int32Array.from({ length: n }, () => lo + Math.floor(rng() * (hi - lo)));
}

/** [first, count) rows of the batch for this shard. */
function shardRows(batch: number, shard: StepOptions['shard']): [number, number] {
  if (shard === undefined) return [0, batch];
  if (batch % shard.count !== 0) throw new Error(`batch ${batch} does not split into ${shard.count} equal shards`);
  const n = batch / shard.count;
  return [shard.index * n, n];
}

function oneHot(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => { out[i * classes + c] = 1; });
  return out;
}

/**
 * Mean softmax cross-entropy of one-hot `labels` and `logits` [N, C], as one op: the loss is
 * −mean log p_label with p = softmax(logits) (XNNPACK's vectorised softmax), the gradient
 * (p − labels)/N. tf.losses.softmaxCrossEntropy computes the same with a log-sum-exp of ~15
 * kernels, three of them a libm exp per element (13 ms per seg step). Differs only when a
 * label's probability underflows float32 (a logit gap above ~87), where this loss is capped at
 * −log(1e-38) ≈ 87.5 and tfjs's keeps growing; the gradient is the same.
 */
export function softmaxCrossEntropy(labels: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  const rows = logits.shape[0];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [y, x] = args as tf.Tensor[];
    const save = args[2] as tf.GradSaveFunc;
    const p = tf.softmax(x);                                                 // [N, C]
    save([p, y]);
    const picked = tf.maximum(tf.sum(tf.mul(p, y), 1), 1e-38);               // [N]
    return {
      value: tf.neg(tf.mean(tf.log(picked))) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [ps, ys]: tf.Tensor[]) => {
        const g = tf.mul(tf.sub(ps, ys), tf.div(dy, rows));                  // (p − y)·dy/N
        return [tf.zerosLike(ys), g];
      },
    };
  });
  return op(labels, logits) as tf.Scalar;
}

/**
 * relu(conv2d(x, filter) + bias) as one op. tf.fused.conv2d runs unfused while gradients are
 * recorded (conv, bias add, relu, and in the backward step → cast → multiply: six passes over the
 * output); here the forward is one XNNPACK FusedConv2D kernel and the backward two passes
 * (relu'(y)·dy, then the bias sum) before the two convolution gradients. `inputGradient: false`
 * (a first layer, whose input is data) skips ∂x, which the tape would prune too.
 */
export function convBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, pad: 'same' | 'valid',
  inputGradient = true): tf.Tensor4D {
  const attrs = { strides: 1, pad, dataFormat: 'NHWC', dilations: 1, dimRoundingMode: undefined };
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xIn, wIn, bIn] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const y = tf.engine().runKernel('FusedConv2D', { x: xIn, filter: wIn, bias: bIn },
      { ...attrs, activation: 'relu' } as unknown as tf.NamedAttrMap) as tf.Tensor4D; // [n, oh, ow, co]
    save([xIn, wIn, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [xs, ws, ys]: tf.Tensor[]) => {
        const dyAct = tf.mul(dy, tf.step(ys));                                 // relu'(y)·dy
        const dx = inputGradient
          ? tf.engine().runKernel('Conv2DBackpropInput', { dy: dyAct, filter: ws },
            { ...attrs, inputShape: xs.shape } as unknown as tf.NamedAttrMap) as tf.Tensor
          : tf.zerosLike(xs);
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xs, dy: dyAct },
          { ...attrs, filterShape: ws.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
        return [dx, dw, tf.sum(dyAct, [0, 1, 2])];
      },
    };
  });
  return op(x, filter, bias) as tf.Tensor4D;
}

function makeStep(
  workload: WorkloadName, batch: number, flops: number, variables: tf.Variable[], data: tf.Tensor[],
  loss: () => tf.Scalar, learningRate: number, formulation: StepOptions['formulation'],
): TrainingStep {
  // fused: lib's createAdam (one update kernel per variable on wasm); plain: tf.train.adam
  const optimizer = formulation === 'plain' ? tf.train.adam(learningRate) : createAdam(learningRate);
  const step = (): number => {
    const cost = optimizer.minimize(loss, true, variables);
    if (cost === null) throw new Error('minimize returned no cost');
    const value = cost.dataSync()[0];
    cost.dispose();
    return value;
  };
  return Object.assign(step, {
    workload, batch, flops, variables,
    gradients(): { loss: number; grads: tf.Tensor[] } {
      const { value, grads } = tf.variableGrads(loss, variables);
      const lossValue = value.dataSync()[0];
      value.dispose();
      return { loss: lossValue, grads: variables.map((v) => grads[v.name]) };
    },
    apply(grads: readonly tf.Tensor[]): void {
      optimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: grads[i] })));
    },
    dispose(): void {
      optimizer.dispose();
      tf.dispose(variables);
      tf.dispose(data);
    },
  });
}

// ---------------------------------------------------------------------------------------------
// seg: conv encoder–decoder, per-pixel softmax cross-entropy
// ---------------------------------------------------------------------------------------------

export const SEG = { batch: 16, height: 64, width: 64, classes: 11 } as const;

/**
 * Forward multiply-adds: conv3×3 1→16 at H×W, 16→32 at H/2, 32→64 at H/4, transposed 3×3
 * 64→32 from H/4 (each input pixel meets 9·64·32 weights) and 32→16 from H/2, 1×1 16→C at H.
 */
export function segFlops(b = SEG.batch, h = SEG.height, w = SEG.width, c = SEG.classes): number {
  const px = h * w;
  const macs = b * (px * 9 * 1 * 16 + (px / 4) * 9 * 16 * 32 + (px / 16) * 9 * 32 * 64
    + (px / 16) * 9 * 64 * 32 + (px / 4) * 9 * 32 * 16 + px * 16 * c);
  return 3 * 2 * macs;
}

export function createSegStep(options: StepOptions = {}): TrainingStep {
  const { batch: B, height: H, width: W, classes: C } = SEG;
  const rng = mulberry32(options.seed ?? 0);
  const crossEntropy = crossEntropyFor(options);
  const fused = options.formulation !== 'plain';
  const xAll = randn(rng, B * H * W);
  const yAll = randInts(rng, B * H * W, 0, C);
  const [r0, n] = shardRows(B, options.shard);
  const x = tf.tensor4d(xAll.subarray(r0 * H * W, (r0 + n) * H * W), [n, H, W, 1]);
  const labels = tf.tensor2d(oneHot(yAll.subarray(r0 * H * W, (r0 + n) * H * W), C), [n * H * W, C]);

  const w1 = uniform(rng, [3, 3, 1, 16], 9, 'seg_w1'), b1 = uniform(rng, [16], 9, 'seg_b1');
  const w2 = uniform(rng, [3, 3, 16, 32], 144, 'seg_w2'), b2 = uniform(rng, [32], 144, 'seg_b2');
  const w3 = uniform(rng, [3, 3, 32, 64], 288, 'seg_w3'), b3 = uniform(rng, [64], 288, 'seg_b3');
  // Transposed-conv filters are [h, w, out, in] in tfjs.
  const t1 = uniform(rng, [3, 3, 32, 64], 288, 'seg_t1'), tb1 = uniform(rng, [32], 288, 'seg_tb1');
  const t2 = uniform(rng, [3, 3, 16, 32], 144, 'seg_t2'), tb2 = uniform(rng, [16], 144, 'seg_tb2');
  const w4 = uniform(rng, [16, C], 16, 'seg_w4'), b4 = uniform(rng, [C], 16, 'seg_b4');
  const variables = [w1, b1, w2, b2, w3, b3, t1, tb1, t2, tb2, w4, b4];

  const loss = (): tf.Scalar => {
    const conv = (x: tf.Tensor4D, filter: tf.Variable, bias: tf.Variable, inputGradient = true) => fused
      ? convBiasRelu(x, filter as tf.Tensor4D, bias as tf.Tensor1D, 'same', inputGradient)
      : tf.fused.conv2d({ x, filter: filter as tf.Tensor4D, strides: 1, pad: 'same', bias, activation: 'relu' });
    const up = (x: tf.Tensor4D, filter: tf.Variable, bias: tf.Variable, outShape: [number, number, number, number]) =>
      tf.relu(tf.add(tf.conv2dTranspose(x, filter as tf.Tensor4D, outShape, 2, 'same'), bias)) as tf.Tensor4D;
    const h1 = conv(x, w1, b1, false);                                       // [n, H, W, 16]
    const h2 = conv(tf.maxPool(h1, 2, 2, 'valid'), w2, b2);                  // [n, H/2, W/2, 32]
    const h3 = conv(tf.maxPool(h2, 2, 2, 'valid'), w3, b3);                  // [n, H/4, W/4, 64]
    const u1 = up(h3, t1, tb1, [n, H / 2, W / 2, 32]);                       // [n, H/2, W/2, 32]
    const u2 = up(u1, t2, tb2, [n, H, W, 16]);                               // [n, H, W, 16]
    const logits = tf.fused.matMul({ a: tf.reshape(u2, [n * H * W, 16]), b: w4, bias: b4 }); // [n·H·W, C]
    return crossEntropy(labels, logits);
  };
  return makeStep('seg', B, segFlops(), variables, [x, labels], loss, options.learningRate ?? 1e-3, options.formulation);
}

// ---------------------------------------------------------------------------------------------
// s2s: bidirectional GRU encoder, GRU decoder with additive attention, teacher forcing
// ---------------------------------------------------------------------------------------------

export const S2S = { batch: 64, length: 20, vocab: 40, embedding: 64, hidden: 128, attention: 128 } as const;

/**
 * Forward multiply-adds of the peer's model: encoder 2 directions × T steps × (E·3H input +
 * H·3H hidden); bridge 2H·H; keys T·2H·A; per decoder step the query H·A, scores T·A, context
 * T·2H, GRU cell (E+2H)·3H + H·3H; output layer T·3H·V. All × batch.
 */
export function s2sFlops(): number {
  const { batch: B, length: T, vocab: V, embedding: E, hidden: H, attention: A } = S2S;
  const encoder = 2 * T * (E * 3 * H + H * 3 * H);
  const decoderStep = H * A + T * A + T * 2 * H + (E + 2 * H) * 3 * H + H * 3 * H;
  const macs = B * (encoder + 2 * H * H + T * 2 * H * A + T * decoderStep + T * 3 * H * V);
  return 3 * 2 * macs;
}

export function createS2sStep(options: StepOptions = {}): TrainingStep {
  const { batch: B, length: T, vocab: V, embedding: E, hidden: H, attention: A } = S2S;
  const rng = mulberry32(options.seed ?? 0);
  const crossEntropy = crossEntropyFor(options);
  const srcAll = randInts(rng, B * T, 1, V);                                 // [B, T] batch-major
  const tgtAll = randInts(rng, B * T, 1, V);
  const [r0, n] = shardRows(B, options.shard);
  // Time-major rows (t·n + b) so that each step's rows are contiguous.
  const timeMajor = (src: Int32Array, shift: boolean): Int32Array => {
    const out = new Int32Array(T * n);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < n; b++) {
        const s = shift ? t - 1 : t;
        out[t * n + b] = s < 0 ? 0 : src[(r0 + b) * T + s];
      }
    }
    return out;
  };
  const srcIds = tf.tensor1d(timeMajor(srcAll, false), 'int32');            // [T·n]
  const tinIds = tf.tensor1d(timeMajor(tgtAll, true), 'int32');             // [T·n] teacher forcing: 0, y₀ … y_{T−2}
  const targets = tf.tensor2d(oneHot(timeMajor(tgtAll, false), V), [T * n, V]); // [T·n, V]

  const p = {
    embS: constantVar(randn(rng, V * E), [V, E], 's2s_embS'),
    embT: constantVar(randn(rng, V * E), [V, E], 's2s_embT'),
    // Encoder, per direction: input weights [E, 3H] and hidden weights [H, 3H], gates r | z | n.
    encWiF: uniform(rng, [E, 3 * H], H, 's2s_encWiF'), encBiF: uniform(rng, [3 * H], H, 's2s_encBiF'),
    encWhF: uniform(rng, [H, 3 * H], H, 's2s_encWhF'), encBhF: uniform(rng, [3 * H], H, 's2s_encBhF'),
    encWiB: uniform(rng, [E, 3 * H], H, 's2s_encWiB'), encBiB: uniform(rng, [3 * H], H, 's2s_encBiB'),
    encWhB: uniform(rng, [H, 3 * H], H, 's2s_encWhB'), encBhB: uniform(rng, [3 * H], H, 's2s_encBhB'),
    bridgeW: uniform(rng, [2 * H, H], 2 * H, 's2s_bridgeW'), bridgeB: uniform(rng, [H], 2 * H, 's2s_bridgeB'),
    wq: uniform(rng, [H, A], H, 's2s_wq'),
    wk: uniform(rng, [2 * H, A], 2 * H, 's2s_wk'),
    v: uniform(rng, [A, 1], A, 's2s_v'),
    // Decoder GRU cell: its input [y_t (E) | ctx (2H)] → the weights split by input part.
    decWy: uniform(rng, [E, 3 * H], H, 's2s_decWy'), decWc: uniform(rng, [2 * H, 3 * H], H, 's2s_decWc'),
    decBi: uniform(rng, [3 * H], H, 's2s_decBi'),
    decWh: uniform(rng, [H, 3 * H], H, 's2s_decWh'), decBh: uniform(rng, [3 * H], H, 's2s_decBh'),
    outW: uniform(rng, [3 * H, V], 3 * H, 's2s_outW'), outB: uniform(rng, [V], 3 * H, 's2s_outB'),
  };
  const variables = Object.values(p);

  /** One GRU step from precomputed input gates gx = x·Wi + bi ([n, 3H]); PyTorch's equations. */
  const gru = (gx: tf.Tensor2D, h: tf.Tensor2D, wh: tf.Variable, bh: tf.Variable): tf.Tensor2D => {
    const gh = tf.fused.matMul({ a: h, b: wh as tf.Tensor2D, bias: bh });  // [n, 3H]
    const [xr, xz, xn] = tf.split(gx, 3, 1);
    const [hr, hz, hn] = tf.split(gh, 3, 1);
    const r = tf.sigmoid(tf.add(xr, hr));                                   // [n, H]
    const z = tf.sigmoid(tf.add(xz, hz));                                   // [n, H]
    const c = tf.tanh(tf.add(xn, tf.mul(r, hn)));                           // [n, H]
    return tf.add(c, tf.mul(z, tf.sub(h, c))) as tf.Tensor2D;               // (1−z)·c + z·h
  };

  const plainLoss = (): tf.Scalar => {
    const es = tf.gather(p.embS, srcIds);                                   // [T·n, E]
    const gxF = tf.unstack(tf.reshape(tf.fused.matMul({ a: es, b: p.encWiF, bias: p.encBiF }), [T, n, 3 * H])); // T × [n, 3H]
    const gxB = tf.unstack(tf.reshape(tf.fused.matMul({ a: es, b: p.encWiB, bias: p.encBiB }), [T, n, 3 * H]));
    let hF = tf.zeros([n, H]) as tf.Tensor2D, hB = tf.zeros([n, H]) as tf.Tensor2D;
    const memF: tf.Tensor2D[] = [], memB: tf.Tensor2D[] = new Array(T);
    for (let t = 0; t < T; t++) { hF = gru(gxF[t] as tf.Tensor2D, hF, p.encWhF, p.encBhF); memF.push(hF); }
    for (let t = T - 1; t >= 0; t--) { hB = gru(gxB[t] as tf.Tensor2D, hB, p.encWhB, p.encBhB); memB[t] = hB; }
    const mem = tf.concat([tf.stack(memF, 1), tf.stack(memB, 1)], 2) as tf.Tensor3D; // [n, T, 2H]
    const keys = tf.reshape(tf.matMul(tf.reshape(mem, [n * T, 2 * H]), p.wk), [n, T, A]); // [n, T, A]
    let st = tf.tanh(tf.fused.matMul({ a: tf.concat([hF, hB], 1), b: p.bridgeW, bias: p.bridgeB })) as tf.Tensor2D; // [n, H]
    const ys = tf.gather(p.embT, tinIds);                                   // [T·n, E]
    const gy = tf.unstack(tf.reshape(tf.fused.matMul({ a: ys, b: p.decWy, bias: p.decBi }), [T, n, 3 * H])); // T × [n, 3H]
    const outs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const q = tf.reshape(tf.matMul(st, p.wq), [n, 1, A]);                 // [n, 1, A]
      const e = tf.tanh(tf.add(keys, q));                                   // [n, T, A]
      const score = tf.reshape(tf.matMul(tf.reshape(e, [n * T, A]), p.v), [n, T]); // [n, T]
      const a = tf.softmax(score);                                          // [n, T]
      const ctx = tf.sum(tf.mul(tf.reshape(a, [n, T, 1]), mem), 1) as tf.Tensor2D; // [n, 2H]
      const gx = tf.add(gy[t], tf.matMul(ctx, p.decWc)) as tf.Tensor2D;      // [n, 3H]
      st = gru(gx, st, p.decWh, p.decBh);                                   // [n, H]
      outs.push(tf.concat([st, ctx], 1) as tf.Tensor2D);                    // [n, 3H]
    }
    const logits = tf.fused.matMul({ a: tf.concat(outs, 0), b: p.outW, bias: p.outB }); // [T·n, V]
    return crossEntropy(targets, logits);
  };

  /** Input gates of all steps in one matmul, split r|z and n: [T, n, 2H], [T, n, H]. */
  const gates = (x: tf.Tensor2D, w: tf.Variable, b: tf.Variable): [tf.Tensor3D, tf.Tensor3D] => {
    const [rz, nn] = tf.split(tf.fused.matMul({ a: x, b: w as tf.Tensor2D, bias: b }), [2 * H, H], 1);  // [T·n, 2H], [T·n, H]
    return [tf.reshape(rz, [T, n, 2 * H]), tf.reshape(nn, [T, n, H])];
  };
  const fusedLoss = (): tf.Scalar => {
    const es = tf.gather(p.embS, srcIds) as tf.Tensor2D;                    // [T·n, E]
    const h0 = tf.zeros([n, H]) as tf.Tensor2D;
    const [fRz, fN] = gates(es, p.encWiF, p.encBiF);
    const [bRz, bN] = gates(es, p.encWiB, p.encBiB);
    const hsF = gruSequence(fRz, fN, h0, p.encWhF, p.encBhF);               // [T, n, H]
    const hsB = gruSequence(bRz, bN, h0, p.encWhB, p.encBhB, true);         // [T, n, H]
    const memTM = tf.concat([hsF, hsB], 2);                                 // [T, n, 2H] time-major
    const mem = tf.transpose(memTM, [1, 0, 2]) as tf.Tensor3D;              // [n, T, 2H]
    const keys = tf.reshape(tf.matMul(tf.reshape(mem, [n * T, 2 * H]), p.wk), [n, T, A]) as tf.Tensor3D; // [n, T, A]
    const last = tf.concat([tf.reshape(tf.slice(hsF, [T - 1, 0, 0], [1, n, H]), [n, H]),
      tf.reshape(tf.slice(hsB, [0, 0, 0], [1, n, H]), [n, H])], 1);        // [n, 2H]: h_T→, h_1←
    const st0 = tf.tanh(tf.fused.matMul({ a: last, b: p.bridgeW, bias: p.bridgeB })) as tf.Tensor2D; // [n, H]
    const ys = tf.gather(p.embT, tinIds) as tf.Tensor2D;                    // [T·n, E]
    const [yRz, yN] = gates(ys, p.decWy, p.decBi);
    const outs = attentionDecoder(yRz, yN, keys, mem, st0,
      { wq: p.wq, v: p.v, wc: p.decWc, wh: p.decWh, bh: p.decBh });        // [T, n, 3H]
    const logits = tf.fused.matMul({ a: tf.reshape(outs, [T * n, 3 * H]), b: p.outW, bias: p.outB }); // [T·n, V]
    return crossEntropy(targets, logits);
  };
  const loss = options.formulation === 'plain' ? plainLoss : fusedLoss;
  return makeStep('s2s', B, s2sFlops(), variables, [srcIds, tinIds, targets], loss, options.learningRate ?? 1e-3, options.formulation);
}

// ---------------------------------------------------------------------------------------------
// stn: localisation net → θ → bilinear sampler → classifier
// ---------------------------------------------------------------------------------------------

export const STN = { batch: 64, size: 60, out: 28, classes: 10 } as const;

/**
 * Forward multiply-adds: localisation conv5×5 1→20 at 56², conv5×5 20→20 at 24², dense
 * 2880→50→6; the grid (3 per coordinate) and the sampler (4 corners) per output pixel;
 * classifier conv3×3 1→32 at 28², 32→64 at 14², dense 3136→128→10.
 */
export function stnFlops(): number {
  const { batch: B, out: O } = STN;
  const loc = 56 * 56 * 25 * 20 + 24 * 24 * 25 * 20 * 20 + 2880 * 50 + 50 * 6;
  const sampler = O * O * (2 * 3 + 4);
  const cls = 28 * 28 * 9 * 32 + 14 * 14 * 9 * 32 * 64 + 3136 * 128 + 128 * 10;
  return 3 * 2 * B * (loc + sampler + cls);
}

/**
 * Bilinear sampling of `image` ([n, S, S, 1]) at the affine grid of θ ([n, 6]), align_corners
 * and zero padding as in PyTorch's affine_grid + grid_sample. Differentiable w.r.t. θ (through
 * the corner weights) and the image (through gather, whose gradient is UnsortedSegmentSum).
 * The integer corners and the in-bounds mask are read back and built in JavaScript: they carry
 * no gradient, and one pass over n·28²·4 corners is cheaper than a dozen tensor ops.
 */
export function bilinearSample(image: tf.Tensor4D, theta: tf.Tensor2D, outSize: number): tf.Tensor4D {
  const [n, S] = [image.shape[0], image.shape[1]];
  if (image.shape[2] !== S || image.shape[3] !== 1) throw new Error('bilinearSample: square one-channel images only');
  const P = outSize * outSize;
  const base = new Float32Array(3 * P);                                     // [3, P]: x_t, y_t, 1
  for (let i = 0; i < outSize; i++) {
    for (let j = 0; j < outSize; j++) {
      const k = i * outSize + j;
      base[k] = -1 + (2 * j) / (outSize - 1);
      base[P + k] = -1 + (2 * i) / (outSize - 1);
      base[2 * P + k] = 1;
    }
  }
  return tf.tidy(() => {
    const coords = tf.matMul(tf.reshape(theta, [n * 2, 3]), tf.tensor2d(base, [3, P])); // [n·2, P]: x_s, y_s rows
    const half = (S - 1) / 2;
    const pix = tf.add(tf.mul(coords, half), half);                         // [n·2, P] pixel units
    const pv = pix.dataSync() as Float32Array;
    const floor = new Float32Array(pv.length);
    const idx = new Int32Array(n * 4 * P);                                  // [n, 2 (dy), 2 (dx), P]
    const mask = new Float32Array(n * 4 * P);
    for (let b = 0; b < n; b++) {
      for (let k = 0; k < P; k++) {
        const x0 = Math.floor(pv[(2 * b) * P + k]), y0 = Math.floor(pv[(2 * b + 1) * P + k]);
        floor[(2 * b) * P + k] = x0;
        floor[(2 * b + 1) * P + k] = y0;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const yy = y0 + dy, xx = x0 + dx, at = ((b * 2 + dy) * 2 + dx) * P + k;
            if (yy >= 0 && yy < S && xx >= 0 && xx < S) {
              idx[at] = (b * S + yy) * S + xx;
              mask[at] = 1;
            }
          }
        }
      }
    }
    const frac = tf.reshape(tf.sub(pix, tf.tensor(floor, pix.shape)), [n, 2, P]); // [n, 2, P]
    const [fx, fy] = tf.split(frac, 2, 1);                                  // [n, 1, P] each
    const wx = tf.concat([tf.sub(1, fx), fx], 1);                           // [n, 2 (dx), P]
    const wy = tf.concat([tf.sub(1, fy), fy], 1);                           // [n, 2 (dy), P]
    const w = tf.mul(tf.mul(tf.reshape(wy, [n, 2, 1, P]), tf.reshape(wx, [n, 1, 2, P])),
      tf.tensor(mask, [n, 2, 2, P]));                                       // [n, 2, 2, P]
    const vals = tf.reshape(tf.gather(tf.reshape(image, [n * S * S]), tf.tensor1d(idx, 'int32')), [n, 2, 2, P]);
    return tf.reshape(tf.sum(tf.mul(w, vals), [1, 2]), [n, outSize, outSize, 1]) as tf.Tensor4D;
  });
}

export function createStnStep(options: StepOptions = {}): TrainingStep {
  const { batch: B, size: S, out: O, classes: K } = STN;
  const rng = mulberry32(options.seed ?? 0);
  const crossEntropy = crossEntropyFor(options);
  const fused = options.formulation !== 'plain';
  const xAll = randn(rng, B * S * S);
  const yAll = randInts(rng, B, 0, K);
  const [r0, n] = shardRows(B, options.shard);
  const x = tf.tensor4d(xAll.subarray(r0 * S * S, (r0 + n) * S * S), [n, S, S, 1]);
  const labels = tf.tensor2d(oneHot(yAll.subarray(r0, r0 + n), K), [n, K]);

  const lw1 = uniform(rng, [5, 5, 1, 20], 25, 'stn_lw1'), lb1 = uniform(rng, [20], 25, 'stn_lb1');
  const lw2 = uniform(rng, [5, 5, 20, 20], 500, 'stn_lw2'), lb2 = uniform(rng, [20], 500, 'stn_lb2');
  const lw3 = uniform(rng, [12 * 12 * 20, 50], 2880, 'stn_lw3'), lb3 = uniform(rng, [50], 2880, 'stn_lb3');
  // The last localisation layer starts at the identity transform, as in the peer.
  const lw4 = constantVar(new Float32Array(50 * 6), [50, 6], 'stn_lw4');
  const lb4 = constantVar([1, 0, 0, 0, 1, 0], [6], 'stn_lb4');
  const cw1 = uniform(rng, [3, 3, 1, 32], 9, 'stn_cw1'), cb1 = uniform(rng, [32], 9, 'stn_cb1');
  const cw2 = uniform(rng, [3, 3, 32, 64], 288, 'stn_cw2'), cb2 = uniform(rng, [64], 288, 'stn_cb2');
  const cw3 = uniform(rng, [7 * 7 * 64, 128], 3136, 'stn_cw3'), cb3 = uniform(rng, [128], 3136, 'stn_cb3');
  const cw4 = uniform(rng, [128, K], 128, 'stn_cw4'), cb4 = uniform(rng, [K], 128, 'stn_cb4');
  const variables = [lw1, lb1, lw2, lb2, lw3, lb3, lw4, lb4, cw1, cb1, cw2, cb2, cw3, cb3, cw4, cb4];

  const loss = (): tf.Scalar => {
    // The peer pools then applies relu; relu(maxpool(x)) = maxpool(relu(x)) (both monotone, same
    // gradient), so the relu is fused into the conv.
    const conv = (x: tf.Tensor4D, filter: tf.Variable, bias: tf.Variable, pad: 'same' | 'valid', inputGradient = true) => fused
      ? convBiasRelu(x, filter as tf.Tensor4D, bias as tf.Tensor1D, pad, inputGradient)
      : tf.fused.conv2d({ x, filter: filter as tf.Tensor4D, strides: 1, pad, bias, activation: 'relu' });
    const pool = (x: tf.Tensor4D) => tf.maxPool(x, 2, 2, 'valid');
    const l1 = pool(conv(x, lw1, lb1, 'valid', false));                          // [n, 28, 28, 20]
    const l2 = pool(conv(l1, lw2, lb2, 'valid'));                           // [n, 12, 12, 20]
    const lh = tf.fused.matMul({ a: tf.reshape(l2, [n, 2880]), b: lw3, bias: lb3, activation: 'relu' }); // [n, 50]
    const theta = tf.fused.matMul({ a: lh, b: lw4, bias: lb4 });            // [n, 6]
    const sampled = bilinearSample(x, theta as tf.Tensor2D, O);                           // [n, 28, 28, 1]
    const c1 = pool(conv(sampled, cw1, cb1, 'same'));                       // [n, 14, 14, 32]
    const c2 = pool(conv(c1, cw2, cb2, 'same'));                            // [n, 7, 7, 64]
    const ch = tf.fused.matMul({ a: tf.reshape(c2, [n, 3136]), b: cw3, bias: cb3, activation: 'relu' }); // [n, 128]
    const logits = tf.fused.matMul({ a: ch, b: cw4, bias: cb4 });           // [n, K]
    return crossEntropy(labels, logits);
  };
  return makeStep('stn', B, stnFlops(), variables, [x, labels], loss, options.learningRate ?? 1e-3, options.formulation);
}

export const CREATE: Record<WorkloadName, (options?: StepOptions) => TrainingStep> = {
  seg: createSegStep, s2s: createS2sStep, stn: createStnStep,
};
