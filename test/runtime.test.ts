import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { TopLevelSpec } from 'vega-lite';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { autoThreads, idleCoresNow, mulberry32, resolveProfile, resolveThreads, setup, shuffle } from '../lib/runtime';
import { figureBundle, titleOf, PLOTLY_MIME, show, VEGA_LITE_MIME } from '../lib/plot/show';
import { specToSvg, specToSvgSync } from '../lib/plot/svg';

describe('runtime', () => {
  it('profile: full by default, quick on request, a clear error otherwise', () => {
    assert.equal(resolveProfile(undefined), 'full');
    assert.equal(resolveProfile(''), 'full');
    assert.equal(resolveProfile('quick'), 'quick');
    assert.throws(() => resolveProfile('fast'), /KIT_PROFILE must be 'quick' or 'full' \(got 'fast'\)/);
  });

  it('picks the fastest backend that loads, and never cpu when wasm works', async () => {
    const rt = await setup({ quiet: true, profile: 'quick' });
    let nodeLoads = true;
    try { require.resolve('@tensorflow/tfjs-node'); require('@tensorflow/tfjs-node'); } catch { nodeLoads = false; }
    assert.equal(rt.backend, nodeLoads ? 'tensorflow' : 'wasm');
    assert.equal(tf.getBackend(), rt.backend);
    assert.match(rt.line, new RegExp(`backend ${rt.backend} .* profile quick · seed 42`));
    if (!nodeLoads) assert.match(rt.note, /tfjs-node/);
  });

  it('threads: the idle cores (1 to 4) by default; KIT_THREADS overrides, with a clear error', () => {
    assert.equal(resolveThreads(undefined), 'auto');
    assert.equal(resolveThreads(''), 'auto');
    assert.equal(resolveThreads('auto'), 'auto');
    assert.equal(resolveThreads('3'), 3);
    for (const bad of ['0', '1.5', 'two', '-1']) {
      assert.throws(() => resolveThreads(bad), new RegExp(`KIT_THREADS must be 'auto' or a whole number of threads from 1 to 64 \\(got '${bad}'\\)`));
    }
    assert.equal(autoThreads(2), 2);                                         // both cores idle
    assert.equal(autoThreads(1.7), 2);
    assert.equal(autoThreads(1.2), 1);                                       // one core taken by another job
    assert.equal(autoThreads(0.1), 1);
    assert.equal(autoThreads(7.8), 4);                                       // at most 4
  });

  it('idleCoresNow samples the machine: between 0 and its cores', async () => {
    const idle = await idleCoresNow(50);
    assert.ok(idle >= 0 && idle <= require('node:os').cpus().length + 1e-9, `idle cores ${idle}`);
  });

  describe('the wasm backend on several threads (each case its own process: the backend starts once)', () => {
    const child = (env: Record<string, string>, ...args: string[]) => {
      const r = spawnSync(process.execPath, [require.resolve('tsx/cli'), path.join(__dirname, 'fixtures', 'threads', 'child.ts'), ...args],
        { encoding: 'utf8', env: { ...process.env, KIT_BACKEND: 'wasm', ...env }, timeout: 120_000 });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      assert.ok(line.startsWith('{'), `the child failed: ${r.stderr.slice(-2000)}`);
      return JSON.parse(line) as { backend: string; threads: number; line: string; losses: number[]; errors: Record<string, number>; simdThreads: number; parallelRuns: number; leaked: { tensors: number; ids: number } };
    };

    it('KIT_THREADS=2 trains on 2 threads, to the same losses as 1 thread (float rounding)', function () {
      this.timeout(240_000);
      const one = child({ KIT_THREADS: '1' }), two = child({ KIT_THREADS: '2' });
      assert.equal(one.threads, 1);
      assert.match(one.line, /backend wasm \(SIMD, 1 thread\)/);
      assert.equal(two.threads, 2);
      assert.match(two.line, /backend wasm \(SIMD, 2 threads\)/);
      assert.ok(one.losses[2] < one.losses[0], `the loss did not fall: ${one.losses}`);
      two.losses.forEach((l, i) => assert.ok(Math.abs(l - one.losses[i]) <= 1e-4 * Math.abs(one.losses[i]), `step ${i}: ${l} vs ${one.losses[i]}`));
      // The kit's SIMD kernels run on both threads too (split over images or rows), and agree with cpu.
      assert.equal(one.simdThreads, 1);
      assert.equal(two.simdThreads, 2);
      assert.equal(one.parallelRuns, 0);
      assert.ok(two.parallelRuns >= 5, `only ${two.parallelRuns} kernel runs were split over the 2 threads`);
      for (const r of [one, two]) {
        assert.equal(Object.keys(r.errors).length, 5);
        assert.deepEqual(r.leaked, { tensors: 0, ids: 0 }, `${r.threads} threads: the kernels leaked`);
        for (const [name, err] of Object.entries(r.errors)) assert.ok(err <= 1e-5, `${r.threads} threads, ${name}: relative error ${err}`);
      }
    });

    it('if the multi-threaded build cannot start, wasm on one thread, and the summary line says why', function () {
      this.timeout(120_000);
      const r = child({ KIT_THREADS: '2' }, 'break-threads');
      assert.equal(r.backend, 'wasm');
      assert.equal(r.threads, 1);
      assert.match(r.line, /one thread: the multi-threaded wasm build did not start \(wasm-training: unexpected tfjs-backend-wasm worker script/);
      assert.ok(r.losses.every(Number.isFinite));
    });
  });

  it('rejects impossible settings with a message naming them', async () => {
    await assert.rejects(setup({ quiet: true, seed: -1 }), /seed must be a non-negative integer \(got -1\)/);
    await assert.rejects(setup({ quiet: true, profile: 'slow' as 'quick' }), /profile must be 'quick' or 'full'/);
    const saved = process.env.KIT_BACKEND;
    process.env.KIT_BACKEND = 'gpu';
    try {
      await assert.rejects(setup({ quiet: true }), /KIT_BACKEND must be one of auto, tensorflow, wasm, cpu \(got 'gpu'\)/);
    } finally {
      if (saved === undefined) delete process.env.KIT_BACKEND; else process.env.KIT_BACKEND = saved;
    }
  });

  it('seeds TensorFlow.js random ops and initialisers: same seed, same numbers', async () => {
    const draw = async (seed: number) => {
      await setup({ quiet: true, seed });
      const t = tf.randomNormal([5]);
      const w = tf.initializers.glorotUniform({}).apply([4, 3]); // what tf.layers uses, unseeded
      const values = [...t.dataSync(), ...w.dataSync()];
      tf.dispose([t, w]);
      return values;
    };
    const a = await draw(7);
    const b = await draw(7);
    const c = await draw(8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('pick() returns the setting of the current profile', async () => {
    assert.equal((await setup({ quiet: true, profile: 'quick' })).pick({ quick: 1, full: 2 }), 1);
    assert.equal((await setup({ quiet: true, profile: 'full' })).pick({ quick: 1, full: 2 }), 2);
  });

  it('mulberry32 is deterministic and uniform enough; shuffle is a permutation', () => {
    const r1 = mulberry32(1);
    const r2 = mulberry32(1);
    const xs = Array.from({ length: 10000 }, () => r1());
    assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => r2()));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const perm = shuffle([...Array(20).keys()], mulberry32(3));
    assert.deepEqual([...perm].sort((a, b) => a - b), [...Array(20).keys()]);
    assert.notDeepEqual(perm, [...Array(20).keys()]);
  });
});

describe('show: figure bundles', () => {
  const spec: TopLevelSpec = {
    title: 'Three bars',
    params: [{ name: 'k', value: 2, bind: { input: 'range', min: 1, max: 3, step: 1 } }],
    data: { values: [{ a: 1, b: 2 }, { a: 2, b: 3 }, { a: 3, b: 1 }] },
    transform: [{ filter: 'datum.a <= k' }],
    mark: 'bar',
    encoding: { x: { field: 'a', type: 'ordinal' }, y: { field: 'b', type: 'quantitative' } },
  };

  it('a vega-lite figure is sent as vega-lite JSON + static SVG + text', () => {
    const bundle = figureBundle(spec);
    assert.deepEqual(Object.keys(bundle).sort(), ['application/vnd.vegalite.v5+json', 'image/svg+xml', 'text/plain']);
    const sent = bundle[VEGA_LITE_MIME] as { $schema: string; mark: string };
    assert.equal(typeof sent, 'object', 'JupyterLab needs the spec as an object, not a JSON string');
    assert.match(sent.$schema, /vega-lite\/v5/);
    assert.equal(bundle['text/plain'], 'Figure: Three bars');
    // the slider starts at k = 2: two bars in the static SVG
    assert.equal((String(bundle['image/svg+xml']).match(/<path[^>]*aria-roledescription="bar"/g) ?? []).length, 2);
  });

  it('the synchronous SVG is byte-identical to vega\'s own toSVG', async () => {
    assert.equal(specToSvgSync(spec), await specToSvg(spec));
    const layered: TopLevelSpec = {
      width: 120, height: 80, padding: 13, title: { text: 'layers', subtitle: 'with text' },
      data: { values: [{ x: 0, y: 1 }, { x: 1, y: 3 }] },
      layer: [{ mark: 'line', encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } },
        { mark: 'text', encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, text: { field: 'y' } } }],
    };
    assert.equal(specToSvgSync(layered), await specToSvg(layered));
  });

  it('a plotly figure is sent as plotly JSON + text', () => {
    const fig = { data: [{ type: 'scatter', x: [1, 2], y: [3, 4] }], layout: { title: { text: 'Line' } } };
    const bundle = figureBundle(fig);
    assert.deepEqual(Object.keys(bundle).sort(), [PLOTLY_MIME, 'text/plain']);
    assert.equal(titleOf(fig), 'Line');
  });

  it('outside a kernel, show says the figure was not shown instead of dropping it silently', () => {
    const lines: string[] = [];
    const log = console.log;
    console.log = (s: string) => lines.push(s);
    try { show(spec); } finally { console.log = log; }
    assert.deepEqual(lines, ['Figure: Three bars (not shown: run this in a Jupyter kernel to see it)']);
  });
});
