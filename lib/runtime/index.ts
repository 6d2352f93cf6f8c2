import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm'; // registers the 'wasm' backend
import { enableWasmThreads, installWasmTrainingKernels, wasmBackendStarted, wasmThreadCount, wasmThreadsProblem } from '../backend/wasm-training';
import { mulberry32, type Rng } from './random';

export * from './random';
export * from './memory';
export * from './check';

// Before the first tensor: silences the "looks like you are running TensorFlow.js in Node.js" banner.
tf.enableProdMode();

/** `quick`: tests and smoke runs (every cell runs on tiny data in seconds). `full`: the real lesson. */
export type Profile = 'quick' | 'full';
/** 'tensorflow' is native TensorFlow through the optional @tensorflow/tfjs-node package. */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

export interface SetupOptions {
  /**
   * Seeds Math.random — from which TensorFlow.js draws the seed of every unseeded random op,
   * initialiser, dropout mask and `fit` shuffle — and the returned `rng`. Default 42.
   */
  seed?: number;
  /** Default: the KIT_PROFILE environment variable, else 'full' (what a person opening a notebook gets). */
  profile?: Profile;
  /** Default: KIT_BACKEND, else 'auto' = the fastest that loads: tensorflow, then wasm, then cpu. */
  backend?: BackendName | 'auto';
  /** Don't print the one-line summary. */
  quiet?: boolean;
  /**
   * Cores the wasm backend's convolutions and matmuls run on (XNNPACK's thread pool and the
   * kit's own kernels). Default: the KIT_THREADS environment variable, else 'auto' = the cores
   * idle when setup() runs (sampled for 100 ms), from 1 to 4: a thread pool waiting for a core
   * that another job holds is slower than one thread. Only the first setup() of a process
   * decides (the backend starts once). Measured on 2 cores (bench/README.md); results agree
   * with one thread to float rounding (≈1e-5), not bit for bit.
   */
  threads?: number | 'auto';
}

export interface Runtime {
  backend: BackendName;
  tfVersion: string;
  profile: Profile;
  seed: number;
  /** The seeded generator for the kit's own random choices (data, shuffles). */
  rng: Rng;
  /** Why a faster backend was not used, if one wasn't. */
  note: string;
  /** Threads the wasm backend runs on (1 on the other backends, which manage their own). */
  threads: number;
  /** The summary line printed at the top of each notebook. */
  line: string;
  /** Picks the setting of the current profile: `rt.pick({ quick: 2, full: 200 })`. */
  pick<T>(choices: { quick: T; full: T }): T;
}

const PROFILES: readonly Profile[] = ['quick', 'full'];
const BACKENDS: readonly (BackendName | 'auto')[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export function resolveProfile(value: string | undefined = process.env.KIT_PROFILE): Profile {
  if (value === undefined || value === '') return 'full';
  if ((PROFILES as readonly string[]).includes(value)) return value as Profile;
  throw new Error(`KIT_PROFILE must be 'quick' or 'full' (got '${value}'): unset it for the full lesson`);
}

export function resolveThreads(value: string | undefined = process.env.KIT_THREADS): number | 'auto' {
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  const n = Number(value);
  if (Number.isInteger(n) && n >= 1 && n <= 64) return n;
  throw new Error(`KIT_THREADS must be 'auto' or a whole number of threads from 1 to 64 (got '${value}'): unset it to use every free core`);
}

/**
 * 'auto' threads: the cores idle right now, rounded, from 1 to 4. A thread pool that has to wait
 * for a taken core is slower than one thread (bench/README.md), so a core busy with another job
 * is not counted. `idleCores` defaults to a 100 ms sample of the machine (idleCoresNow).
 */
export function autoThreads(idleCores: number): number {
  return Math.max(1, Math.min(4, Math.floor(idleCores + 0.5)));
}

/** How many cores were idle over the next `ms` milliseconds (from the kernel's per-core CPU times). */
export async function idleCoresNow(ms = 100): Promise<number> {
  const os = require('node:os') as typeof import('node:os');
  const total = () => os.cpus().reduce((acc, c) => {
    const t = c.times;
    acc.idle += t.idle;
    acc.all += t.user + t.nice + t.sys + t.idle + t.irq;
    return acc;
  }, { idle: 0, all: 0 });
  const a = total();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = total();
  const all = b.all - a.all;
  return all > 0 ? ((b.idle - a.idle) / all) * os.cpus().length : 1;
}

function resolveBackendRequest(value: string | undefined): BackendName | 'auto' {
  if (value === undefined || value === '') return 'auto';
  if ((BACKENDS as readonly string[]).includes(value)) return value as BackendName | 'auto';
  throw new Error(`KIT_BACKEND must be one of ${BACKENDS.join(', ')} (got '${value}')`);
}

/** Loads native TensorFlow if @tensorflow/tfjs-node is installed *and* its binding loads. */
function tryLoadTfjsNode(): string {
  try {
    require('@tensorflow/tfjs-node');
    return '';
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    return /Cannot find module '@tensorflow\/tfjs-node'/.test(msg)
      ? 'tfjs-node not installed (see environment.md for native speed)'
      : `tfjs-node installed but did not load: ${msg.split('\n')[0]}`;
  }
}

let lastSeed: number | undefined;

/**
 * The first cell of every notebook: picks the fastest backend, seeds every random source and
 * prints one line saying what runs. Safe to call again (re-running a notebook).
 */
export async function setup(options: SetupOptions = {}): Promise<Runtime> {
  const seed = options.seed ?? 42;
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`seed must be a non-negative integer (got ${seed})`);
  const profile = options.profile ?? resolveProfile();
  if (!PROFILES.includes(profile)) throw new Error(`profile must be 'quick' or 'full' (got '${profile}')`);
  const request = options.backend ?? resolveBackendRequest(process.env.KIT_BACKEND);
  const threadsRequest = options.threads ?? resolveThreads();
  if (threadsRequest !== 'auto' && !(Number.isInteger(threadsRequest) && threadsRequest >= 1)) {
    throw new Error(`threads must be 'auto' or a whole number ≥ 1 (got ${threadsRequest})`);
  }
  // Only before the wasm backend starts: re-running setup() keeps what runs (and samples nothing).
  if ((request === 'auto' || request === 'wasm') && !wasmBackendStarted()) {
    const threads = threadsRequest === 'auto' ? autoThreads(await idleCoresNow()) : threadsRequest;
    if (threads > 1) enableWasmThreads(threads);
  }

  const notes: string[] = [];
  const order: BackendName[] = request === 'auto' ? ['tensorflow', 'wasm', 'cpu'] : [request];
  let chosen: BackendName | undefined;
  for (const name of order) {
    if (name === 'tensorflow' && tf.findBackend('tensorflow') === null) {
      const why = tryLoadTfjsNode();
      if (why) { notes.push(why); continue; }
    }
    try {
      if (await tf.setBackend(name)) { chosen = name; break; }
      notes.push(`${name} failed to initialise`);
    } catch (e) {
      notes.push(`${name} failed: ${(e as Error).message}`);
    }
  }
  if (chosen === undefined) {
    throw new Error(`no TensorFlow.js backend could start (${notes.join('; ')}): run 'npm install' in the kit's folder`);
  }
  await tf.ready();
  // wasm lacks the kernels behind conv/embedding gradients: fill them (idempotent; no-op elsewhere).
  if (chosen === 'wasm') installWasmTrainingKernels();

  // Seeding Math.random makes TensorFlow.js's own unseeded random ops reproducible too.
  const mathRng = mulberry32(seed ^ 0x9e3779b9);
  Math.random = mathRng;
  lastSeed = seed;
  const rng = mulberry32(seed);

  const tfVersion = tf.version.tfjs;
  const detail = chosen === 'wasm' ? wasmDetail() : chosen === 'tensorflow' ? 'native, multi-threaded' : 'pure JavaScript, slow';
  if (chosen === 'wasm' && wasmThreadsProblem() !== undefined) notes.push(`one thread: the multi-threaded wasm build did not start (${wasmThreadsProblem()})`);
  const note = chosen === 'tensorflow' ? '' : notes.join('; ');
  const line = `TensorFlow.js ${tfVersion} · backend ${chosen} (${detail}) · profile ${profile} · seed ${seed}` +
    (note ? ` · ${note}` : '');
  if (!options.quiet) console.log(line);
  return {
    backend: chosen, tfVersion, profile, seed, rng, note, line, threads: chosen === 'wasm' ? wasmThreadCount() : 1,
    pick: <T>(choices: { quick: T; full: T }): T => choices[profile],
  };
}

/** The seed of the last setup() call, for helpers that need a default. */
export function currentSeed(): number | undefined {
  return lastSeed;
}

function wasmDetail(): string {
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
  const threads = wasmThreadCount();
  return `${simd}, ${threads} thread${threads === 1 ? '' : 's'}`;
}

