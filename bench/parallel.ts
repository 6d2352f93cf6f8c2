/**
 * Data-parallel training on N worker threads: each worker is its own TensorFlow.js (its own wasm
 * instance, single-threaded) holding a copy of the model and 1/N of the batch. One step: every
 * worker computes its shard's gradients, writes them to shared memory, waits for the others
 * (an Atomics barrier), averages all N in the same order — so every copy gets bitwise the same
 * average and the copies stay identical without sending weights — and applies Adam.
 *
 * Equal shards of a mean loss: the average of the shard gradients is the full batch's gradient.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { BackendName } from '../lib/runtime';
import type { WorkloadName } from './workloads';

interface Init { workload: WorkloadName; index: number; count: number; backend?: BackendName; stock: string[] }
type ToWorker = { cmd: 'buffers'; grads: SharedArrayBuffer; control: SharedArrayBuffer } | { cmd: 'step' } | { cmd: 'dispose' };
type FromWorker =
  | { kind: 'ready'; size: number; backend: string; flops: number }
  | { kind: 'loss'; loss: number }
  | { kind: 'disposed' }
  | { kind: 'error'; message: string };

export interface ParallelStep {
  (): Promise<number>;
  readonly flops: number;
  readonly backend: string;
  dispose(): Promise<void>;
}

export async function createParallelStep(
  workload: WorkloadName, options: { workers: number; backend?: BackendName; stock?: string[] },
): Promise<ParallelStep> {
  const count = options.workers;
  // Run as TypeScript under tsx: the worker registers tsx's require hook before loading this file.
  const entry = __filename.endsWith('.ts')
    ? `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(__filename)});`
    : `require(${JSON.stringify(__filename)});`;
  const workers = Array.from({ length: count }, (_, index) => new Worker(entry, {
    eval: true, execArgv: [],
    workerData: { workload, index, count, backend: options.backend, stock: options.stock ?? [] } satisfies Init,
  }));
  const next = (w: Worker) => new Promise<FromWorker>((resolve, reject) => {
    const onMessage = (m: FromWorker) => { w.off('error', onError); m.kind === 'error' ? reject(new Error(m.message)) : resolve(m); };
    const onError = (e: Error) => { w.off('message', onMessage); reject(e); };
    w.once('message', onMessage);
    w.once('error', onError);
  });
  const ready = await Promise.all(workers.map(next));
  const first = ready[0] as Extract<FromWorker, { kind: 'ready' }>;
  const grads = new SharedArrayBuffer(4 * first.size * count);
  const control = new SharedArrayBuffer(8);
  for (const w of workers) w.postMessage({ cmd: 'buffers', grads, control } satisfies ToWorker);
  const step = async (): Promise<number> => {
    const replies = workers.map(next);
    for (const w of workers) w.postMessage({ cmd: 'step' } satisfies ToWorker);
    const losses = (await Promise.all(replies)).map((m) => (m as Extract<FromWorker, { kind: 'loss' }>).loss);
    return losses.reduce((a, b) => a + b, 0) / count;
  };
  return Object.assign(step, {
    flops: first.flops,
    backend: first.backend,
    async dispose(): Promise<void> {
      const replies = workers.map(next);
      for (const w of workers) w.postMessage({ cmd: 'dispose' } satisfies ToWorker);
      await Promise.all(replies);
      await Promise.all(workers.map((w) => w.terminate()));
    },
  });
}

/** Every worker arrives, the last one releases them all (generation counter in control[1]). */
function barrier(control: Int32Array, count: number): void {
  const generation = Atomics.load(control, 1);
  if (Atomics.add(control, 0, 1) === count - 1) {
    Atomics.store(control, 0, 0);
    Atomics.add(control, 1, 1);
    Atomics.notify(control, 1);
  } else {
    while (Atomics.load(control, 1) === generation) Atomics.wait(control, 1, generation);
  }
}

async function workerMain(): Promise<void> {
  const init = workerData as Init;
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  try {
    // require, not import(): under tsx only the CommonJS hook is registered in this worker.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const tf = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');
    const { setup } = require('../lib/runtime') as typeof import('../lib/runtime');
    const { restoreStockKernels } = require('./child') as typeof import('./child');
    const { CREATE } = require('./workloads') as typeof import('./workloads');
    const rt = await setup({ backend: init.backend, seed: 0, quiet: true, threads: 1 }); // one core per worker
    restoreStockKernels(init.stock);
    const step = CREATE[init.workload]({ shard: { index: init.index, count: init.count } });
    const sizes = step.variables.map((v) => v.size);
    const size = sizes.reduce((a, b) => a + b, 0);
    let all: Float32Array | undefined, control: Int32Array | undefined;
    port.on('message', (m: ToWorker) => {
      try {
        if (m.cmd === 'buffers') {
          all = new Float32Array(m.grads);
          control = new Int32Array(m.control);
        } else if (m.cmd === 'step') {
          const { loss, grads } = step.gradients();
          const mine = all!.subarray(init.index * size, (init.index + 1) * size);
          let at = 0;
          for (const g of grads) { mine.set(g.dataSync() as Float32Array, at); at += g.size; }
          tf.dispose(grads);
          barrier(control!, init.count);
          const mean = new Float32Array(size);
          for (let w = 0; w < init.count; w++) {
            const part = all!.subarray(w * size, (w + 1) * size);
            for (let i = 0; i < size; i++) mean[i] += part[i];
          }
          for (let i = 0; i < size; i++) mean[i] /= init.count;
          // Nobody may overwrite its part for the next step before everyone has read this one.
          barrier(control!, init.count);
          at = 0;
          const averaged = step.variables.map((v) => {
            const t = tf.tensor(mean.subarray(at, at + v.size), v.shape);
            at += v.size;
            return t;
          });
          step.apply(averaged);
          tf.dispose(averaged);
          send({ kind: 'loss', loss });
        } else if (m.cmd === 'dispose') {
          step.dispose();
          send({ kind: 'disposed' });
        }
      } catch (e) {
        send({ kind: 'error', message: (e as Error).stack ?? String(e) });
      }
    });
    send({ kind: 'ready', size, backend: rt.backend, flops: step.flops });
  } catch (e) {
    send({ kind: 'error', message: (e as Error).stack ?? String(e) });
  }
}

if (!isMainThread && (workerData as Init | undefined)?.workload !== undefined) void workerMain();
