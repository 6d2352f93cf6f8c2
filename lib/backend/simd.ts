/**
 * The kit's own WebAssembly SIMD kernels (simd-kernels.wat), instantiated on the wasm backend's
 * memory so that they read and write its tensors in place. For work the backend would otherwise
 * do in scalar JavaScript (the gradient of max pooling: ≈ 14 ns per window and channel in V8,
 * bound by unpredictable branches; branch-free with 4 channels per instruction here).
 */
import { getThreadsCount, type BackendWasm } from '@tensorflow/tfjs-backend-wasm';
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

/** Each kernel's calls, one per thread: the first here, the others at once on helper threads. */
export interface SimdRunner {
  /** Threads that run calls at once (1 + helpers). */
  readonly threads: number;
  /** How many runs so far were split over more than one thread. */
  readonly parallelRuns: number;
  run<K extends keyof SimdKernels>(name: K, calls: Parameters<SimdKernels[K]>[]): void;
}

const instances = new WeakMap<WebAssembly.Memory, { kernels: SimdKernels; runner: SimdRunner } | null>();
let enabled = true;

/** Turns the kit's SIMD kernels off (false) or back on, e.g. to compare with the JavaScript paths. */
export function useSimdKernels(on: boolean): void {
  enabled = on;
}

function backendMemory(backend: BackendWasm): WebAssembly.Memory | undefined {
  // The ordinary build exports its memory; the multi-threaded one creates it (shared) in JavaScript.
  const module = backend.wasm as unknown as { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  const memory = module.asm?.memory ?? module.wasmMemory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

function load(backend: BackendWasm): { kernels: SimdKernels; runner: SimdRunner } | undefined {
  if (!enabled) return undefined;
  const memory = backendMemory(backend);
  if (memory === undefined) return undefined;
  let entry = instances.get(memory);
  if (entry === undefined) {
    try {
      const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
      const module = new WebAssembly.Module(Buffer.from(shared ? SIMD_KERNELS_WASM_SHARED : SIMD_KERNELS_WASM, 'base64'));
      const kernels = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as SimdKernels;
      // On the multi-threaded build (shared memory), as many helper threads as XNNPACK has
      // (KIT_SIMD_HELPERS=0: none, to measure what they gain: stn −13%, seg and s2s −7% per step
      // on 2 cores).
      const helpers = shared && process.env.KIT_SIMD_HELPERS !== '0' ? startHelpers(module, memory, getThreadsCount() - 1) : [];
      entry = { kernels, runner: createRunner(kernels, helpers) };
    } catch {
      entry = null;                                                           // no SIMD: the JavaScript paths stay
    }
    instances.set(memory, entry);
  }
  return entry ?? undefined;
}

/** The kernels on this backend's memory, or undefined (turned off, or this runtime cannot instantiate them). */
export function simdKernels(backend: BackendWasm): SimdKernels | undefined {
  return load(backend)?.kernels;
}

/** Runs kernels on this backend's threads (1 on the ordinary build); undefined as simdKernels. */
export function simdRunner(backend: BackendWasm): SimdRunner | undefined {
  return load(backend)?.runner;
}

// ---------------------------------------------------------------------------------------------
// Helper threads: each a Node worker with its own instance of the module on the same (shared)
// memory, blocked in Atomics.wait on its control block until a call arrives. No messages pass
// while kernels run (the main thread is blocked too): a call is written into the control block.
// ---------------------------------------------------------------------------------------------

const KERNEL_NAMES: readonly (keyof SimdKernels)[] = ['maxPool2x2Grad', 'convFilterGrad', 'convBackpropInput', 'matMulTN', 'matMulTNRows'];
const MAX_ARGS = 24;
// control: [0] state (0 idle, 1 call waiting, 3 starting), [1] kernel index (−2 after a failure), [2] argument count, [3…] arguments
const CONTROL_INTS = 3 + MAX_ARGS;

const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const instance = new WebAssembly.Instance(workerData.module, { env: { memory: workerData.memory } });
const control = new Int32Array(workerData.control);
const names = workerData.names;
Atomics.store(control, 0, 0);
Atomics.notify(control, 0);
for (;;) {
  Atomics.wait(control, 0, 0);
  try {
    const args = [];
    for (let i = 0; i < control[2]; i++) args.push(control[3 + i]);
    instance.exports[names[control[1]]](...args);
  } catch (e) {
    control[1] = -2;
  }
  Atomics.store(control, 0, 0);
  Atomics.notify(control, 0);
}`;

interface Helper { control: Int32Array }

function startHelpers(module: WebAssembly.Module, memory: WebAssembly.Memory, count: number): Helper[] {
  if (count <= 0) return [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  const helpers: Helper[] = [];
  for (let i = 0; i < count; i++) {
    const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_INTS));
    control[0] = 3;
    const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory, control: control.buffer, names: KERNEL_NAMES } });
    worker.unref();                                                           // does not keep Node alive
    // Started within 10 s, or not used (the calls then all run here).
    if (Atomics.wait(control, 0, 3, 10_000) === 'timed-out' && Atomics.load(control, 0) === 3) {
      void worker.terminate();
      break;
    }
    helpers.push({ control });
  }
  return helpers;
}

function createRunner(kernels: SimdKernels, helpers: Helper[]): SimdRunner {
  let parallelRuns = 0;
  return {
    threads: 1 + helpers.length,
    get parallelRuns() { return parallelRuns; },
    run(name, calls) {
      if (calls.length > 1 && helpers.length > 0) parallelRuns++;
      const index = KERNEL_NAMES.indexOf(name);
      const sent: Helper[] = [];
      for (let i = 1; i < calls.length && i <= helpers.length; i++) {
        const h = helpers[i - 1], args = calls[i] as number[];
        if (args.length > MAX_ARGS) throw new Error(`simd: ${name} takes at most ${MAX_ARGS} arguments`);
        h.control[1] = index;
        h.control[2] = args.length;
        h.control.set(args, 3);
        Atomics.store(h.control, 0, 1);
        Atomics.notify(h.control, 0);
        sent.push(h);
      }
      const fn = kernels[name] as (...args: number[]) => void;
      fn(...(calls[0] as number[]));
      for (let i = sent.length + 1; i < calls.length; i++) fn(...(calls[i] as number[])); // more calls than threads
      let failed = false;
      for (const h of sent) {
        while (Atomics.load(h.control, 0) !== 0) Atomics.wait(h.control, 0, 1);
        if (h.control[1] === -2) failed = true;
      }
      if (failed) throw new Error(`simd: ${name} failed on a helper thread`);
    },
  };
}
