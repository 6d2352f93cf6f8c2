/**
 * The kit's own WebAssembly SIMD kernels (simd-kernels.wat), instantiated on the wasm backend's
 * memory so that they read and write its tensors in place. For work the backend would otherwise
 * do in scalar JavaScript (the gradient of max pooling: ≈ 14 ns per window and channel in V8,
 * bound by unpredictable branches; branch-free with 4 channels per instruction here).
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { SIMD_KERNELS_WASM, SIMD_KERNELS_WASM_SHARED } from './simd-kernels.wasm';

export interface SimdKernels {
  /** See simd-kernels.wat. Pointers are byte offsets into the backend's memory; c % 4 === 0. */
  maxPool2x2Grad(x: number, dy: number, dx: number, b: number, h: number, w: number, c: number, oh: number, ow: number): void;
  /** See simd-kernels.wat: dw [fh, fw, ci, co] of a conv over x [b, h, w, ci]; co % 4 === 0. */
  convFilterGrad(x: number, dy: number, dw: number, b: number, h: number, w: number, ci: number, oh: number, ow: number, co: number,
    fh: number, fw: number, sh: number, sw: number, top: number, left: number): void;
  /** See simd-kernels.wat: dx [b, h, w, ci] from dy and the filter transposed to [fh, fw, co, ci]; ci % 4 === 0. */
  convBackpropInput(dy: number, wt: number, dx: number, b: number, h: number, w: number, ci: number, oh: number, ow: number, co: number,
    fh: number, fw: number, sh: number, sw: number, top: number, left: number): void;
  /** See simd-kernels.wat: out [m, n] = aᵀ·b for a [k, m], b [k, n]; t is scratch [n, m]; m % 4 === 0. */
  matMulTN(a: number, b: number, out: number, t: number, k: number, m: number, n: number): void;
  /** See simd-kernels.wat: the same product, vectorised along b's rows; n % 4 === 0. */
  matMulTNRows(a: number, b: number, out: number, k: number, m: number, n: number): void;
}

const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();
let enabled = true;

/** Turns the kit's SIMD kernels off (false) or back on, e.g. to compare with the JavaScript paths. */
export function useSimdKernels(on: boolean): void {
  enabled = on;
}

/** The kernels on this backend's memory, or undefined (turned off, or this runtime cannot instantiate them). */
export function simdKernels(backend: BackendWasm): SimdKernels | undefined {
  if (!enabled) return undefined;
  // The ordinary build exports its memory; the multi-threaded one creates it (shared) in JavaScript.
  const module = backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  const memory = module.asm?.memory ?? module.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    try {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const bytes = Buffer.from(shared ? SIMD_KERNELS_WASM_SHARED : SIMD_KERNELS_WASM, 'base64');
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
      kernels = instance.exports as unknown as SimdKernels;
    } catch {
      kernels = null;                                                         // no SIMD: the JavaScript paths stay
    }
    instances.set(memory, kernels);
  }
  return kernels ?? undefined;
}
