/**
 * Times one workload in this process and prints one JSON line (run.ts starts one of these per
 * measurement, so that each reports its own peak RSS).
 *
 *   tsx bench/child.ts WORKLOAD [--steps N] [--warmup N] [--backend wasm|cpu|tensorflow]
 *                               [--threads N] [--workers N] [--stock KERNEL,…]
 *
 * --threads N   wasm only: XNNPACK on N threads (setup({ threads: N })) instead of setup()'s default.
 * --workers N   data-parallel: N worker threads, each its own wasm instance with 1/N of the batch.
 * --stock K,…   put the wasm backend's own kernels K back (to measure what a replacement gains).
 * --formulation plain   s2s op by op instead of the fused recurrent ops (to measure that lever).
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { setup, type BackendName } from '../lib/runtime';
import { internals, wasmThreadCount } from '../lib/backend/wasm-training';
import { CREATE, type WorkloadName, WORKLOADS } from './workloads';
import { createParallelStep } from './parallel';

export interface ChildResult {
  impl: 'tfjs';
  workload: WorkloadName;
  backend: string;
  threads: number;
  workers: number;
  median_s: number;
  min_s: number;
  /** Mean CPU seconds per timed step, all threads of this process (the work, whatever the machine's load). */
  cpu_s: number;
  times: number[];
  losses: number[];
  flops: number;
  rss_mb: number;
  /** Size of the wasm heap at the end (it only grows): the tensors' share of rss_mb. */
  wasm_heap_mb?: number;
}

export function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

/** Puts the wasm backend's own kernels back in place of this kit's replacements. */
export function restoreStockKernels(names: string[]): void {
  for (const name of names) {
    const stock = internals.stockKernel(name);
    if (stock === undefined) throw new Error(`no stock kernel '${name}' to restore (not replaced?)`);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(stock);
  }
}

function wasmHeapMb(): number | undefined {
  const backend = tf.findBackend('wasm') as unknown as { wasm?: { HEAPU8: Uint8Array } } | null;
  return backend?.wasm ? Math.round(backend.wasm.HEAPU8.buffer.byteLength / 2 ** 20) : undefined;
}

async function main(): Promise<void> {
  const workload = process.argv[2] as WorkloadName;
  if (!WORKLOADS.includes(workload)) throw new Error(`workload must be one of ${WORKLOADS.join(', ')}`);
  const steps = Number(arg('steps', '10'));
  const warmup = Number(arg('warmup', '2'));
  const backend = arg('backend') as BackendName | undefined;
  const threadsArg = arg('threads');
  const threads = threadsArg === undefined ? undefined : Number(threadsArg);
  const workers = Number(arg('workers', '1'));
  const stock = (arg('stock', '') ?? '').split(',').filter(Boolean);
  const formulation = arg('formulation') as 'fused' | 'plain' | undefined;

  let step: { (): number | Promise<number>; flops: number; dispose(): void | Promise<void> };
  let backendName: string;
  if (workers > 1) {
    const parallel = await createParallelStep(workload, { workers, backend, stock });
    step = parallel;
    backendName = parallel.backend;
  } else {
    const rt = await setup({ backend, seed: 0, quiet: true, threads });
    if (threads !== undefined && rt.backend === 'wasm' && rt.threads !== threads) throw new Error(`asked for ${threads} wasm threads, got ${rt.threads}`);
    restoreStockKernels(stock);
    step = CREATE[workload]({ formulation });
    backendName = rt.backend;
  }
  const losses: number[] = [];
  for (let i = 0; i < warmup; i++) losses.push(await step());
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    losses.push(await step());
    times.push((performance.now() - t0) / 1000);
  }
  const cpu = process.cpuUsage(cpu0);
  const result: ChildResult = {
    impl: 'tfjs', workload, backend: backendName, threads: workers > 1 ? 1 : wasmThreadCount(), workers,
    wasm_heap_mb: wasmHeapMb(),
    median_s: median(times), min_s: Math.min(...times), cpu_s: (cpu.user + cpu.system) / 1e6 / steps, times, losses, flops: step.flops, rss_mb: peakRssMb(),
  };
  await step.dispose();
  console.log(JSON.stringify(result));
  process.exit(0);
}

if (require.main === module) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
