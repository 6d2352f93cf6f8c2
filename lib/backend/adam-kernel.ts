/**
 * The 'KitAdamUpdate' kernel (lib/train/adam.ts) on the wasm backend: one pass over a variable,
 * its gradient and its two Adam moments, through views of wasm memory.
 *
 *   m' = β1·m + (1 − β1)·g          v' = β2·v + (1 − β2)·g²
 *   w' = w − lr · (m'/c1) / (√(v'/c2) + ε)      with c1 = 1 − β1^t, c2 = 1 − β2^t
 *
 * Returns [w', m', v'] as new tensors (tfjs never writes a tensor's data in place).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const ADAM_UPDATE_KERNEL = 'KitAdamUpdate';

export interface AdamUpdateAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 − β1^t and 1 − β2^t for this step t. */
  biasCorrection1: number;
  biasCorrection2: number;
}

function adamUpdate(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs: tf.NamedAttrMap }): tf.TensorInfo[] {
  const { value, gradient, m, v } = args.inputs as Record<string, tf.TensorInfo>;
  for (const [name, t] of Object.entries({ value, gradient, m, v })) {
    if (t === undefined) throw new Error(`${ADAM_UPDATE_KERNEL}: missing input '${name}'`);
    if (t.dtype !== 'float32') throw new Error(`${ADAM_UPDATE_KERNEL}: '${name}' must be float32 (got ${t.dtype})`);
    if (!tf.util.arraysEqual(t.shape, value.shape)) throw new Error(`${ADAM_UPDATE_KERNEL}: '${name}' has shape [${t.shape}], the variable [${value.shape}]`);
  }
  const a = args.attrs as unknown as AdamUpdateAttrs;
  const backend = args.backend as BackendWasm;
  const outs = [0, 1, 2].map(() => backend.makeOutput(value.shape, 'float32'));
  // Views of wasm memory, taken after every allocation (an allocation may move the heap).
  const [w0, g, m0, v0] = [value, gradient, m, v].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const [w1, m1, v1] = outs.map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, biasCorrection1: c1, biasCorrection2: c2 } = a;
  for (let i = 0; i < w0.length; i++) {
    const gi = g[i];
    const mi = b1 * m0[i] + (1 - b1) * gi;
    const vi = b2 * v0[i] + (1 - b2) * gi * gi;
    m1[i] = mi;
    v1[i] = vi;
    w1[i] = w0[i] - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
  }
  return outs;
}

/** Registers the kernel on the wasm backend (idempotent); returns whether it registered it now. */
export function installAdamKernel(): boolean {
  if (tf.getKernel(ADAM_UPDATE_KERNEL, 'wasm') !== undefined) return false;
  tf.registerKernel({ kernelName: ADAM_UPDATE_KERNEL, backendName: 'wasm', kernelFunc: adamUpdate as unknown as tf.KernelFunc });
  return true;
}
