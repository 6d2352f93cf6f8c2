import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { TopLevelSpec } from 'vega-lite';
import { mulberry32, resolveProfile, setup, shuffle } from '../lib/runtime';
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
