/**
 * Where a training step's time goes, by kernel: runs a few steps of a workload under tf.profile
 * and prints, per kernel name, the total time, the number of calls and the share of the step;
 * what no kernel accounts for is the engine's own work (tape, gradient bookkeeping, tidy).
 *
 *   tsx bench/profile.ts WORKLOAD [--steps N] [--backend wasm|cpu] [--threads N] [--top N] [--shapes]
 *
 * --shapes splits each kernel by input shapes (which conv, which matMul).
 * --cpu times each kernel by this process's CPU time instead of the wall clock: on a loaded
 *       machine the wall clock also counts the time the process waited for a core.
 */
import * as tf from '@tensorflow/tfjs';
import { setup, type BackendName } from '../lib/runtime';
import { CREATE, type WorkloadName } from './workloads';
import { restoreStockKernels } from './child';

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

export interface KernelRow { name: string; ms: number; calls: number }

/** Runs `steps` steps under tf.profile; returns per-kernel totals per step and the wall time per step. */
export async function profileSteps(step: () => number, steps: number, byShape: boolean, cpuClock = false): Promise<{ rows: KernelRow[]; wallMs: number }> {
  const totals = new Map<string, KernelRow>();
  let wallMs = 0;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    const info = await tf.profile(() => { step(); });
    const c = process.cpuUsage(c0);
    wallMs += cpuClock ? (c.user + c.system) / 1000 : performance.now() - t0;
    for (const k of info.kernels) {
      const key = byShape ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
      const row = totals.get(key) ?? { name: key, ms: 0, calls: 0 };
      row.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      row.calls += 1;
      totals.set(key, row);
    }
  }
  const rows = [...totals.values()].map((r) => ({ name: r.name, ms: r.ms / steps, calls: r.calls / steps }));
  rows.sort((a, b) => b.ms - a.ms);
  return { rows, wallMs: wallMs / steps };
}

async function main(): Promise<void> {
  const workload = process.argv[2] as WorkloadName;
  const steps = Number(arg('steps', '3'));
  const threads = Number(arg('threads', '1'));
  const top = Number(arg('top', '25'));
  const stock = (arg('stock', '') ?? '').split(',').filter(Boolean);
  const rt = await setup({ backend: arg('backend') as BackendName | undefined, seed: 0, quiet: true, threads });
  restoreStockKernels(stock);
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
  const cpuClock = process.argv.includes('--cpu');
  if (cpuClock) {
    // The profiler asks the backend to time each kernel; answer with CPU time (µs resolution).
    const backend = tf.backend() as unknown as { time(f: () => void): Promise<{ kernelMs: number }> };
    backend.time = async (f: () => void) => {
      const c0 = process.cpuUsage();
      f();
      const c = process.cpuUsage(c0);
      return { kernelMs: (c.user + c.system) / 1000 };
    };
  }
  const step = CREATE[workload]();
  step(); step();                                                            // warm-up: XNNPACK operators, JIT
  const { rows, wallMs } = await profileSteps(step, steps, process.argv.includes('--shapes'), cpuClock);
  // Composite ops (customGrad ops, fused ops' wrappers) contain kernels that are listed too.
  const wrapper = (r: KernelRow) => /^(forward|\w+__op)\b/.test(r.name);
  const kernelMs = rows.filter((r) => !wrapper(r)).reduce((a, r) => a + r.ms, 0);
  const calls = rows.filter((r) => !wrapper(r)).reduce((a, r) => a + r.calls, 0);
  const clock = cpuClock ? 'CPU' : 'wall-clock';
  console.log(`${workload} on ${rt.backend} (${clock} ms): ${wallMs.toFixed(1)} ms/step under the profiler, ` +
    `${kernelMs.toFixed(1)} ms in ${calls.toFixed(0)} kernel calls, ${(wallMs - kernelMs).toFixed(1)} ms elsewhere (engine, tape, JavaScript)`);
  console.log('| kernel | ms/step | calls/step | share |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows.slice(0, top)) {
    const name = wrapper(r) ? `(op containing kernels below) ${r.name}` : r.name;
    console.log(`| ${name} | ${r.ms.toFixed(2)} | ${r.calls.toFixed(0)} | ${(100 * r.ms / wallMs).toFixed(1)}% |`);
  }
  process.exit(0);
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
