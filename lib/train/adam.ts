/**
 * Adam with its update as one kernel per variable.
 *
 * tf.train.adam updates each variable with ~12 ops (the two moments, their bias corrections, the
 * square root, the step), each a kernel call through the engine: for the ~40 small variables of
 * notebook 03's networks that was ~15% of a training step on the wasm backend. `createAdam`
 * returns the same optimizer (tf.AdamOptimizer: same state, weights, config and `learningRate`)
 * whose update, on a backend with the 'KitAdamUpdate' kernel (wasm, installed by `setup()`), is
 * that kernel once per variable: the same formula in one pass, in float64 arithmetic rounded to
 * float32 once per value. Elsewhere it is tf.train.adam unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs } from '../backend/adam-kernel';

interface Slot { originalName: string; variable: tf.Variable }

/** What tf.Optimizer.applyGradients takes (the named-tensor type is not exported by @tensorflow/tfjs). */
type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];

/** The fields of tf.AdamOptimizer this subclass reads (private in its typings). */
interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  incrementIterations(): void;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    const grads: (tf.Tensor | undefined)[] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => g.tensor)
      : Object.keys(variableGradients).map((k) => variableGradients[k]);
    if (tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend()) === undefined || grads.some((g) => g != null && g.dtype !== 'float32')) {
      super.applyGradients(variableGradients);
      return;
    }
    const s = this as unknown as AdamState;
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const attrs: AdamUpdateAttrs = {
      learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon,
      biasCorrection1: 1 - s.accBeta1.dataSync()[0], biasCorrection2: 1 - s.accBeta2.dataSync()[0],
    };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        // Slots made exactly as tf.AdamOptimizer makes them, so getWeights/setWeights still work.
        if (s.accumulatedFirstMoment[i] == null) {
          s.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (s.accumulatedSecondMoment[i] == null) {
          s.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        const gradient = grads[i];
        if (gradient == null) return;
        const m = s.accumulatedFirstMoment[i].variable, v = s.accumulatedSecondMoment[i].variable;
        const [w1, m1, v1] = tf.engine().runKernel(ADAM_UPDATE_KERNEL, { value, gradient, m, v }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
        m.assign(m1);
        v.assign(v1);
        value.assign(w1);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    s.incrementIterations();
  }
}

/** Adam (β1 0.9, β2 0.999, ε 1e-7 as tf.train.adam) with the one-kernel update where the backend has it. */
export function createAdam(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number): tf.AdamOptimizer {
  if (!(learningRate > 0)) throw new Error(`learningRate must be > 0 (got ${learningRate})`);
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}
