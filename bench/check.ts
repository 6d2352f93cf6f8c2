/**
 * Correctness of what the bench's speed-ups rely on (run it after changing any of them):
 *   1. the speed-only wasm kernel replacements (installWasmFastKernels, the tiled MaxPoolGrad)
 *      give the cpu backend's results, values and gradients, on odd shapes;
 *   2. each workload's loss and gradients agree between wasm and cpu at the same weights;
 *   3. data-parallel workers (bench/parallel.ts) follow the single-process trajectory;
 *   4. wasm with XNNPACK on 2 threads follows the 1-thread trajectory.
 *
 *   tsx bench/check.ts [--quick]      exits non-zero on the first failure
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setup } from '../lib/runtime';
import { mulberry32, normal } from '../lib/runtime/random';
import { CREATE, WORKLOADS } from './workloads';
import type { ChildResult } from './child';

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = mulberry32(seed);
  return tf.tensor(Float32Array.from({ length: tf.util.sizeFromShape(shape) }, () => normal(rng)), shape);
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1, worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) { worst = d; at = i; }
  }
  assert.ok(worst <= rtol * scale, `${what}: max |diff| ${worst} at ${at} (${actual[at]} vs ${expected[at]})`);
}

/**
 * f's outputs and the gradients of Σ outputs·weights w.r.t. its inputs, on wasm and on cpu.
 * (tfjs's matMul gradient does not sum over broadcast batch dims on any backend: those cases
 * check values only; their gradients' products are the unbroadcast cases above them.)
 */
async function sameOnBothBackends(what: string, shapes: number[][], f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  withGrads = true, rtol = 1e-4): Promise<void> {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const xs = shapes.map((s, i) => randn(s, 17 + i));
      const outs = [f(...xs)].flat();
      const weights = outs.map((o, i) => randn(o.shape, 101 + i));
      const loss = (...ys: tf.Tensor[]) => tf.addN([f(...ys)].flat().map((o, i) => tf.sum(tf.mul(o, weights[i]))));
      const grads = withGrads ? tf.grads(loss)(xs) : [];
      return [...outs, ...grads].map((t) => t.dataSync() as Float32Array);
    });
  };
  const wasm = await run('wasm');
  const cpu = await run('cpu');
  wasm.forEach((v, i) => close(v, cpu[i], rtol, `${what} [${i}]`));
  console.log(`  ✓ ${what}`);
}

async function kernels(): Promise<void> {
  console.log('speed-only kernel replacements vs cpu:');
  await sameOnBothBackends('matMul a·b', [[7, 5], [5, 3]], (a, b) => tf.matMul(a, b));
  await sameOnBothBackends('matMul aᵀ·b', [[5, 7], [5, 3]], (a, b) => tf.matMul(a, b, true, false));
  await sameOnBothBackends('matMul a·bᵀ', [[7, 5], [3, 5]], (a, b) => tf.matMul(a, b, false, true));
  await sameOnBothBackends('matMul aᵀ·bᵀ', [[5, 7], [3, 5]], (a, b) => tf.matMul(a, b, true, true));
  await sameOnBothBackends('matMul batch·shared', [[2, 3, 7, 5], [5, 4]], (a, b) => tf.matMul(a, b), false);
  await sameOnBothBackends('matMul batchᵀ·sharedᵀ', [[3, 5, 7], [4, 5]], (a, b) => tf.matMul(a, b, true, true), false);
  await sameOnBothBackends('matMul shared·batch', [[7, 5], [3, 5, 4]], (a, b) => tf.matMul(a, b), false);
  await sameOnBothBackends('matMul sharedᵀ·batchᵀ', [[5, 7], [3, 4, 5]], (a, b) => tf.matMul(a, b, true, true), false);
  await sameOnBothBackends('matMul batch·batch', [[3, 7, 5], [3, 5, 4]], (a, b) => tf.matMul(a, b));
  await sameOnBothBackends('matMul: one tensor as right operand in two shapes', [[4, 2]], (x) => [
    tf.matMul(tf.ones([1, 4]), x), tf.matMul(tf.ones([1, 2]), tf.reshape(x, [2, 4]))]);
  await sameOnBothBackends('fused matMul + bias + relu', [[9, 6], [6, 4], [4]],
    (a, b, bias) => tf.fused.matMul({ a, b, bias, activation: 'relu' }));
  await sameOnBothBackends('fused matMul aᵀ·bᵀ + bias', [[6, 9], [4, 6], [4]],
    (a, b, bias) => tf.fused.matMul({ a, b, bias, transposeA: true, transposeB: true }));
  await sameOnBothBackends('slice of every rank-4 kind', [[3, 5, 6, 7]], (x) => [
    tf.slice(x, [1, 0, 0, 0], [1, 5, 6, 7]), tf.slice(x, [0, 1, 2, 0], [3, 3, 2, 7]), tf.slice(x, [2, 4, 5, 6], [1, 1, 1, 1]),
    tf.slice(x, [0, 0, 0, 2], [3, 5, 6, 3]), tf.slice(x, [0, 0, 0, 0], [3, 5, 6, 7])]);
  await sameOnBothBackends('unstack axis 0 and 2', [[4, 3, 5]], (x) => [...tf.unstack(x, 0), ...tf.unstack(x, 2)]);
  await sameOnBothBackends('split unequal along axis 1', [[4, 9, 2]], (x) => tf.split(x, [2, 3, 4], 1));
  await sameOnBothBackends('identity (clone)', [[6, 5]], (x) => tf.mul(tf.clone(x), 2));
  await sameOnBothBackends('gather rows and scalars', [[7, 4], [30]], (x, y) => [
    tf.gather(x, tf.tensor1d([6, 0, 3, 3, 1], 'int32')), tf.gather(y, tf.tensor2d([[29, 0], [5, 5]], [2, 2], 'int32'))]);
  await sameOnBothBackends('sum over leading axes', [[3, 4, 5, 6]], (x) => [
    tf.sum(x, [0, 1, 2]), tf.sum(x, [0], true), tf.sum(x, [1, 2]), tf.sum(x)]);
  await sameOnBothBackends('sum over leading axes, large (pairwise on XNNPACK)', [[64, 40, 30, 8]], (x) => [
    tf.sum(x, [0, 1, 2]), tf.sum(x, [0, 1], true)]);
  await sameOnBothBackends('tanh (2σ(2x) − 1), small to saturated', [[4, 50]], (x) =>
    tf.tanh(tf.mul(x, tf.tensor1d([1e-4, 0.01, 1, 3, 30]).tile([10]))), true, 1e-6);
  await sameOnBothBackends('maxPool 2×2 tiled, odd size, negative windows', [[2, 7, 9, 3]],
    (x) => tf.maxPool(tf.sub(x, 3) as tf.Tensor4D, 2, 2, 'valid'));
  await sameOnBothBackends('maxPool 3×3 stride 3 tiled', [[2, 9, 9, 4]], (x) => tf.maxPool(x as tf.Tensor4D, 3, 3, 'valid'));
  await sameOnBothBackends('maxPool 3×3 stride 2 same (overlapping)', [[2, 7, 8, 3]], (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'));
}

/** One step's loss and gradients of each workload at the same initial weights, wasm vs cpu. */
async function workloads(): Promise<void> {
  console.log('workload gradients, wasm vs cpu:');
  for (const name of WORKLOADS) {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const step = CREATE[name]({ shard: { index: 0, count: name === 'seg' ? 4 : 8 } });
      const { loss, grads } = step.gradients();
      const values = grads.map((g) => g.dataSync() as Float32Array);
      tf.dispose(grads);
      step.dispose();
      return { loss, values };
    };
    const wasm = await run('wasm');
    const cpu = await run('cpu');
    close([wasm.loss], [cpu.loss], 1e-5, `${name} loss`);
    wasm.values.forEach((v, i) => close(v, cpu.values[i], 2e-4, `${name} gradient ${i}`));
    console.log(`  ✓ ${name}: loss ${wasm.loss.toFixed(6)} and ${wasm.values.length} gradients agree`);
  }
}

function child(workload: string, extra: string[]): ChildResult {
  const tsx = path.resolve(__dirname, '../node_modules/.bin/tsx');
  const r = spawnSync(tsx, [path.join(__dirname, 'child.ts'), workload, '--steps', '3', '--warmup', '2', ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, `child ${workload} ${extra.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
}

/** The fused formulations' hand-written gradients (cross-entropy; s2s's recurrent ops) against tfjs's autodiff of the plain ones. */
async function fusedVsPlain(): Promise<void> {
  console.log('fused formulations vs plain ops + autodiff (wasm):');
  await tf.setBackend('wasm');
  for (const name of WORKLOADS) {
    const run = (formulation: 'fused' | 'plain') => {
      const step = CREATE[name]({ formulation, shard: { index: 1, count: 4 } });
      const { loss, grads } = step.gradients();
      const values = grads.map((g) => g.dataSync() as Float32Array);
      tf.dispose(grads);
      step.dispose();
      return { loss, values };
    };
    const fused = run('fused'), plain = run('plain');
    close([fused.loss], [plain.loss], 1e-6, `${name} loss`);
    fused.values.forEach((v, i) => close(v, plain.values[i], 1e-4, `${name} gradient ${i}`));
    console.log(`  ✓ ${name}: loss ${fused.loss.toFixed(6)} and ${fused.values.length} gradients agree`);
  }
}

/** The mean of the two half-batch gradients is the full batch's gradient (what the workers average). */
async function shards(): Promise<void> {
  console.log('full-batch gradients = mean of the two half-batch gradients (wasm):');
  await tf.setBackend('wasm');
  for (const name of WORKLOADS) {
    const grads = (shard?: { index: number; count: number }) => {
      const step = CREATE[name]({ shard });
      const { loss, grads } = step.gradients();
      const values = grads.map((g) => g.dataSync() as Float32Array);
      tf.dispose(grads);
      step.dispose();
      return { loss, values };
    };
    const full = grads();
    const halves = [grads({ index: 0, count: 2 }), grads({ index: 1, count: 2 })];
    close([(halves[0].loss + halves[1].loss) / 2], [full.loss], 1e-5, `${name} loss`);
    full.values.forEach((v, i) => close(v.map((_, j) => (halves[0].values[i][j] + halves[1].values[i][j]) / 2), v, 1e-4, `${name} gradient ${i}`));
    console.log(`  ✓ ${name}`);
  }
}

/**
 * Five steps' losses: data-parallel and 2-thread runs against the plain single-process run.
 * Float rounding differs (sums in another order), and Adam's normalised step turns tiny
 * gradient differences into weight differences of order lr for near-zero gradients: the
 * trajectories agree to ~1e-5–1e-4 after 5 steps, not to the last bit. Training the halves
 * without averaging would miss by about one step's loss change (3e-4 on seg, 0.04 on stn).
 */
function trajectories(): void {
  console.log('5-step loss trajectories against one process, one thread:');
  for (const name of WORKLOADS) {
    const base = child(name, ['--threads', '1']);
    for (const extra of [['--workers', '2'], ['--threads', '2']]) {
      const other = child(name, extra);
      close(other.losses, base.losses, 1e-4, `${name} ${extra.join(' ')} losses`);
      console.log(`  ✓ ${name} ${extra.join(' ')}: ${other.losses.map((l) => l.toFixed(5)).join(' ')}`);
    }
  }
}

async function main(): Promise<void> {
  await setup({ backend: 'wasm', quiet: true, threads: 1 });
  await kernels();
  await workloads();
  await fusedVsPlain();
  await shards();
  if (!process.argv.includes('--quick')) trajectories();
  console.log('all checks passed');
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
