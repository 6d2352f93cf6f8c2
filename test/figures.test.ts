/**
 * lib/plot/specs.ts, lib/plot/colors.ts and lib/convolution/figures.ts: every figure compiles with
 * vega-lite and renders with vega without a warning, and draws what it claims — counted on vega's
 * scenegraph (the marks a viewer sees), after moving the sliders where a figure has them.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { mulberry32 } from '../lib/runtime/random';
import { setup } from '../lib/runtime';
import { randomGrid } from '../lib/convolution/grid';
import { overlapCounts, transposedConv2dNaive, transposedConv2dSteps } from '../lib/convolution/naive';
import { convMatrix } from '../lib/convolution/matrix';
import { transposedConv2dTfjs } from '../lib/convolution/tfjs';
import { bedOfNails, bilinearUpsample, nearestUpsample } from '../lib/convolution/upsampling';
import { explorerCases } from '../lib/convolution/explorer';
import { createDcganGenerator, dcganStageShapes } from '../lib/convolution/dcgan';
import type { ExplorerCase } from '../lib/convolution/types';
import {
  EXPLORER_PARAMS,
  convDiagram,
  convMatrixFigure,
  dcganShapesFigure,
  explorerFigure,
  overlapFigure,
  transposedConvSteps,
  upsamplingComparison,
} from '../lib/convolution/figures';
import { formatNumber, heatmap, heatmapGrid, imageRow, lineChart, textTable } from '../lib/plot/specs';
import { colorAt, luminance, readableTextOn, seriesColors, textColorFor } from '../lib/plot/colors';
import { specToSvg, specToSvgSync } from '../lib/plot/svg';

tf.enableProdMode();

// ---------------------------------------------------------------------------------------------
// rendering with every warning captured
// ---------------------------------------------------------------------------------------------

interface SceneItem {
  x?: number;
  y?: number;
  x2?: number;
  y2?: number;
  width?: number;
  height?: number;
  text?: string | string[];
  fill?: string;
  datum?: Record<string, unknown>;
  stroke?: string;
  items?: SceneMark[];
}
interface SceneMark {
  marktype: string;
  name?: string;
  role?: string;
  items: SceneItem[];
}

const textOf = (it: SceneItem): string => (Array.isArray(it.text) ? it.text.join('\n') : String(it.text ?? ''));

class Rendered {
  constructor(readonly view: vega.View, readonly messages: string[]) {}

  /** Every mark (not axis/legend/title parts) in the scenegraph, depth first. */
  marks(): SceneMark[] {
    const out: SceneMark[] = [];
    const walk = (mark: SceneMark) => {
      if (mark.role === 'mark') out.push(mark);
      for (const item of mark.items ?? []) for (const child of item.items ?? []) walk(child);
    };
    walk((this.view.scenegraph() as unknown as { root: SceneMark }).root);
    return out;
  }

  /** The items of the marks named `${name}_marks` (the `name` of a vega-lite layer). */
  items(name: string): SceneItem[] {
    return this.marks().filter((m) => m.name === `${name}_marks`).flatMap((m) => m.items);
  }

  count(marktype: string): number {
    return this.marks().filter((m) => m.marktype === marktype).reduce((n, m) => n + m.items.length, 0);
  }

  /** Text drawn by the text marks (of layer `name`), as strings (multi-line texts joined by newlines). */
  texts(name?: string): string[] {
    return this.marks()
      .filter((m) => m.marktype === 'text' && (name === undefined || m.name === `${name}_marks`))
      .flatMap((m) => m.items.map(textOf));
  }

  /** Every text in the figure, titles and axis labels included. */
  allTexts(): string[] {
    const out: string[] = [];
    const walk = (mark: SceneMark) => {
      if (mark.marktype === 'text') out.push(...mark.items.map(textOf));
      for (const item of mark.items ?? []) for (const child of item.items ?? []) walk(child);
    };
    walk((this.view.scenegraph() as unknown as { root: SceneMark }).root);
    return out;
  }

  async set(signals: Record<string, unknown>): Promise<this> {
    for (const [k, v] of Object.entries(signals)) this.view.signal(k, v);
    await this.view.runAsync();
    return this;
  }
}

function captureLogger(messages: string[]): vega.LoggerInterface {
  const logger = {
    level: () => logger,
    error: (...args: unknown[]) => { messages.push(`error: ${args.join(' ')}`); return logger; },
    warn: (...args: unknown[]) => { messages.push(`warn: ${args.join(' ')}`); return logger; },
    info: () => logger,
    debug: () => logger,
  };
  return logger as unknown as vega.LoggerInterface;
}

const views: vega.View[] = [];

/** Compiles (vega-lite warnings captured) and runs the spec (vega warnings captured). */
async function render(spec: TopLevelSpec): Promise<Rendered> {
  const messages: string[] = [];
  const logger = captureLogger(messages);
  const compiled = vl.compile(spec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
  views.push(view);
  await view.runAsync();
  return new Rendered(view, messages);
}

/** render + the kit's own SVG routes, asserting silence from vega-lite and vega throughout. */
async function renderClean(spec: TopLevelSpec): Promise<Rendered> {
  const r = await render(spec);
  assert.deepEqual(r.messages, [], `vega-lite/vega said: ${r.messages.join('; ')}`);
  const logged: string[] = [];
  const saved = { warn: console.warn, error: console.error, log: console.log };
  console.warn = (...a: unknown[]) => void logged.push(a.join(' '));
  console.error = (...a: unknown[]) => void logged.push(a.join(' '));
  try {
    const svg = await specToSvg(spec);
    const svgSync = specToSvgSync(spec);
    assert.match(svg, /^<svg/);
    assert.equal(svgSync.length > 0, true);
  } finally {
    Object.assign(console, saved);
  }
  assert.deepEqual(logged, [], `specToSvg logged: ${logged.join('; ')}`);
  return r;
}

after(() => views.forEach((v) => v.finalize()));

const rounded = (g: number[][], digits = 1) => g.map((row) => row.map((v) => Number(v.toFixed(digits))));
const titleText = (spec: TopLevelSpec): string => {
  const t = (spec as { title?: unknown }).title;
  if (typeof t === 'string') return t;
  const o = t as { text: string; subtitle?: string | string[] };
  return [o.text, ...([] as string[]).concat(o.subtitle ?? [])].join('\n');
};

// ---------------------------------------------------------------------------------------------
// colors
// ---------------------------------------------------------------------------------------------

describe('plot/colors', () => {
  it('picks the readable text colour on light and dark cells', () => {
    assert.equal(readableTextOn('#000000'), '#FFFFFF');
    assert.equal(readableTextOn('#FFFFFF'), '#111111');
    assert.equal(textColorFor('viridis', 0, [0, 1]), '#FFFFFF'); // dark purple
    assert.equal(textColorFor('viridis', 1, [0, 1]), '#111111'); // yellow
    assert.equal(textColorFor('image', 0, [0, 1]), '#FFFFFF');   // black pixel
    assert.equal(textColorFor('blueorange', 0, [-1, 1]), '#111111'); // light middle
  });

  it('matches vega\'s interpolators and keeps the series colours distinct', () => {
    assert.equal(colorAt('viridis', 0), '#440154');
    assert.equal(colorAt('image', 0.5), '#808080');
    assert.ok(luminance(colorAt('greys', 1)) < luminance(colorAt('greys', 0)));
    assert.equal(new Set(seriesColors).size, seriesColors.length);
  });
});

// ---------------------------------------------------------------------------------------------
// generic helpers
// ---------------------------------------------------------------------------------------------

describe('plot/specs', () => {
  const m4 = [
    [0.1, 0.5, 0.9, 0.2],
    [0.3, 0.7, 0.05, 1],
    [0.2, 0.2, 0.2, 0.2],
    [1, 0, 0.5, 0.25],
  ];

  it('formatNumber: trimmed decimals and a true minus sign', () => {
    assert.deepEqual([1, 1.5, 0.25, -0.4, -1, -0.0001, 2.005].map((v) => formatNumber(v)), ['1', '1.5', '0.25', '−0.4', '−1', '0', '2']);
  });

  it('heatmap: tick labels that vega\'s expression parser would misread ("if", quotes, backslashes) come out verbatim', async () => {
    const words = ['if', "it's", 'gift', 'a\\b'];
    const spec = heatmap(m4, { xTickLabels: words, yTickLabels: ['si', 'es', '"x"', '<end>'] });
    const r = await renderClean(spec);
    for (const word of [...words, 'si', '"x"', '<end>']) assert.ok(r.allTexts().includes(word), `tick label ${word}`);
  });

  it('heatmap: one rect per cell, the values printed, tick labels from the options', async () => {
    const spec = heatmap(m4, { title: 'attention', xTickLabels: ['my', 'cat', 'is', 'best'], yTickLabels: ['mi', 'gato', 'es', 'mejor'], showValues: true });
    const r = await renderClean(spec);
    assert.equal(r.count('rect'), 16);
    const texts = r.texts();
    for (const v of ['0.1', '0.05', '0.25', '1', '0']) assert.ok(texts.includes(v), `value ${v} printed`);
    for (const word of ['my', 'best', 'mi', 'mejor']) assert.ok(r.allTexts().includes(word), `tick label ${word}`);
    // dark cells (low viridis) get white text, bright ones dark text
    const values = r.marks().find((m) => m.marktype === 'text' && m.items.length === 16);
    assert.ok(values);
    const fillOf = (t: string) => values.items.find((it) => it.text === t)?.fill;
    assert.equal(fillOf('0.05'), '#FFFFFF');
    assert.equal(fillOf('0.9'), '#111111');
  });

  it('heatmap: no text when showValues is false, zeros blank with blankZeros, ragged input rejected', async () => {
    const r = await renderClean(heatmap(m4, { showValues: false }));
    assert.equal(r.marks().filter((m) => m.marktype === 'text').length, 0);
    const sparse = await renderClean(heatmap([[0, 1], [2, 0]], { blankZeros: true, showValues: true }));
    assert.equal(sparse.count('rect'), 4 + 2); // the empty grid + the two nonzeros
    assert.throws(() => heatmap([[1, 2], [3]]), /ragged: row 0 has 2 values, row 1 has 1/);
  });

  it('heatmapGrid: a rank-4 array draws every map with one shared colour scale and one legend', async () => {
    const maps = [
      [[[1, 2], [3, 4]], [[4, 3], [2, 1]]],
      [[[0, 1], [1, 0]], [[2, 2], [2, 2]]],
    ];
    const spec = heatmapGrid(maps, { title: 'heads', rowTitles: ['layer 1', 'layer 2'], colTitles: ['head 1', 'head 2'] });
    const r = await renderClean(spec);
    assert.equal(r.count('rect'), 16);
    const svg = await specToSvg(spec);
    assert.equal((svg.match(/role-legend"/g) ?? []).length, 1, 'one legend');
    assert.ok(r.allTexts().includes('layer 2, head 1'));
    const titled = await renderClean(heatmapGrid([{ title: 'A', values: [[1]] }, { title: 'B', values: [[2]] }], { columns: 2 }));
    assert.equal(titled.count('rect'), 2);
    assert.throws(() => heatmapGrid([[[[1]]], []]), /grid row 0 has 1 matrices, row 1 has 0/);
  });

  it('imageRow: every pixel the same size, one rect per pixel', async () => {
    const rng = mulberry32(3);
    const big = randomGrid(8, 8, rng);
    const small = randomGrid(4, 4, rng);
    const r = await renderClean(imageRow([{ title: 'big', values: big }, { title: 'small', values: small }], { cellSize: 10 }));
    assert.equal(r.count('rect'), 64 + 16);
    const widths = new Set(r.marks().filter((m) => m.marktype === 'rect').flatMap((m) => m.items.map((it) => Math.round(it.width ?? 0))));
    assert.deepEqual([...widths], [10]);
    assert.ok(r.allTexts().includes('small (4×4)'));
  });

  it('lineChart: one line per series; log axes drop points ≤ 0 and say so', async () => {
    const spec = lineChart(
      [
        { name: 'train', points: [0, 1, 2, 3].map((x) => ({ x, y: x === 0 ? 0 : 1 / x })) },
        { name: 'val', points: [1, 2, 3].map((x) => ({ x, y: 1.2 / x })) },
      ],
      { xLabel: 'epoch', yLabel: 'loss', logY: true },
    );
    const r = await renderClean(spec);
    const lines = r.marks().filter((m) => m.marktype === 'line' && m.items.length > 0);
    assert.deepEqual(lines.map((m) => m.items.length), [3, 3]); // train lost its x = 0 point (y = 0 on a log axis)
    assert.match(titleText(spec), /1 point\(s\) not drawn/);
    assert.throws(() => lineChart([{ name: 'a', points: [] }, { name: 'a', points: [] }]), /unique/);
  });

  it('textTable: header and rows as text', async () => {
    const r = await renderClean(textTable(['model', 'BLEU'], [['RNNsearch-50', 26.75], ['RNNencdec-50', 17.82]], { title: 'WMT14' }));
    for (const t of ['model', 'BLEU', 'RNNsearch-50', '26.75', '17.82']) assert.ok(r.texts().includes(t), t);
    assert.equal(r.count('rule'), 1);
  });
});

// ---------------------------------------------------------------------------------------------
// section 2 figures
// ---------------------------------------------------------------------------------------------

describe('convolution/figures', () => {
  // These build tensors: pick the backend here, not by luck of which test file ran first.
  before(async () => { await setup({ quiet: true }); });

  describe('convDiagram: the three slide cases', () => {
    it('3×3, stride 1, pad 1: 4×4 → 4×4, the window slides one cell per step', async () => {
      const spec = convDiagram({ inputSize: 4, kernelSize: 3, stride: 1, padding: 1, mode: 'conv' }, { cellSize: 30 });
      assert.match(titleText(spec), /input 4×4 → output 4×4/);
      const r = await renderClean(spec);
      assert.equal(r.items('paddingCells').length, 36 - 16);
      assert.equal(r.items('inputCells').length, 16);
      assert.equal(r.items('outputCells').length, 16);
      const [w1] = r.items('window');
      assert.equal(w1.x, 0);
      assert.equal(w1.width, 90);
      await r.set({ step: 2 });
      assert.equal(r.items('window')[0].x, 30);
      assert.match(r.texts('caption')[0], /output \(0, 1\).*cols 1–3 \(3 of the 9 are padding zeros\)/);
      const current = r.items('outputCells').filter((it) => it.fill === '#009E73');
      assert.equal(current.length, 1);
    });

    it('3×3, stride 2, pad 1: 4×4 → 2×2, four windows two cells apart', async () => {
      const spec = convDiagram({ inputSize: 4, kernelSize: 3, stride: 2, padding: 1, mode: 'conv' }, { cellSize: 30 });
      assert.match(titleText(spec), /input 4×4 → output 2×2/);
      const r = await renderClean(spec);
      assert.equal(r.items('outputCells').length, 4);
      await r.set({ step: 4 });
      const [w] = r.items('window');
      const top = r.items('paddingCells')[0].y!; // padded row 0
      assert.deepEqual([w.x, Math.round(w.y! - top)], [60, 60]); // padded rows/cols 2–4
      assert.match(r.texts('caption')[0], /output \(1, 1\).*rows 2–4, cols 2–4/);
    });

    it('3×3 transposed, stride 2, pad 1 (+ outputPadding 1): 2×2 → 4×4 on a 5×5 canvas', async () => {
      const spec = convDiagram({ inputSize: 2, kernelSize: 3, stride: 2, padding: 1, mode: 'transposed', outputPadding: 1 }, { cellSize: 30 });
      assert.match(titleText(spec), /input 2×2 → output 4×4/);
      const r = await renderClean(spec);
      assert.equal(r.items('inputCells').length, 4);
      assert.equal(r.items('outputCells').length, 16);
      assert.equal(r.items('croppedCells').length, 25 - 16);
      const [frame] = r.items('outputFrame');
      assert.equal(frame.width, 120);
      await r.set({ step: 4 });
      assert.equal(r.items('copiesDone').length, 3);
      const [copy] = r.items('copy');
      assert.equal(copy.width, 90);
      assert.match(r.texts('caption')[0], /input \(1, 1\).*rows 2–4, cols 2–4/);
    });

    it('impossible settings throw the arithmetic\'s message', () => {
      assert.throws(() => convDiagram({ inputSize: 2, kernelSize: 5, stride: 1, padding: 0, mode: 'conv' }), /output size must be ≥ 1/);
      assert.throws(() => convDiagram({ inputSize: 2, kernelSize: 3, stride: 1, padding: 0, mode: 'transposed', outputPadding: 1 }), /outputPadding must be/);
    });
  });

  describe('transposedConvSteps', () => {
    const rng = mulberry32(7);
    const input = rounded(randomGrid(2, 2, rng));
    const kernel = rounded(randomGrid(3, 3, rng));
    const trace = transposedConv2dSteps(input, kernel, { stride: 2, padding: 1, outputPadding: 1 });

    it('the last step\'s cropped running sum is the naive and the tfjs result', async () => {
      const spec = transposedConvSteps(trace, { kernel });
      const r = await renderClean(spec);
      const options = { stride: 2, padding: 1, outputPadding: 1 };
      const naive = transposedConv2dNaive(input, kernel, options);
      const tfjs = transposedConv2dTfjs(input, kernel, options);
      // the output panel as drawn at the last step (the slider starts there), row by row
      const drawn = r
        .items('cells')
        .filter((it) => it.datum?.panel === 'output')
        .sort((a, b) => (a.datum!.row as number) - (b.datum!.row as number) || (a.datum!.col as number) - (b.datum!.col as number));
      assert.equal(drawn.length, 16);
      const drawnValues = drawn.map((it) => it.datum!.value as number);
      drawnValues.forEach((v, j) => {
        assert.ok(Math.abs(v - naive.flat()[j]) < 1e-6, `naive [${j}]`);
        assert.ok(Math.abs(v - tfjs.flat()[j]) < 1e-5, `tfjs [${j}]`);
      });
      const printed = r.texts('cellText');
      for (const v of naive.flat()) assert.ok(printed.includes(formatNumber(v)), `printed ${formatNumber(v)}`);
    });

    it('one slider step per input pixel; the copy count and the frames follow the slider', async () => {
      const spec = transposedConvSteps(trace, { step: 1 });
      const params = (spec as { params: { name: string; bind: { max: number } }[] }).params;
      assert.deepEqual(params.map((p) => [p.name, p.bind.max]), [['step', 4]]);
      const r = await renderClean(spec);
      assert.match(r.texts('caption')[0], /^step 1 of 4: x\[0, 0\]/);
      const copies = () =>
        r.items('cells').filter((it) => it.datum?.panel === 'count').map((it) => Number(it.datum!.value));
      assert.equal(copies().reduce((a, b) => a + b, 0), 9); // one 3×3 copy so far
      await r.set({ step: 4 });
      assert.match(r.texts('caption')[0], /^step 4 of 4: x\[1, 1\].*done/);
      // at the end the overlap counts are the 1-2-4 checkerboard of overlapCounts
      assert.deepEqual(copies(), overlapCounts(2, 3, 2).flat());
      assert.equal(r.items('frame').length, 2);                     // output 4×4 on sum and count panels
      assert.equal(r.items('frameWithoutOutputPadding').length, 2); // the 3×3 it would be without
      assert.match(titleText(spec), /→ 3×3 \(black dashed frame\)/);
      assert.match(titleText(spec), /outputPadding 1 keeps 1 more row\/col.*→ 4×4/);
    });

    it('reads the kernel back from the trace when none is given, and has no dashed frame without outputPadding', async () => {
      const noOp = transposedConv2dSteps(input, kernel, { stride: 2, padding: 1 });
      const r = await renderClean(transposedConvSteps(noOp));
      assert.equal(r.items('frameWithoutOutputPadding').length, 0);
      assert.match(r.texts('panelTitles').join('|'), /kernel w \(3×3\).*output = crop \(3×3\)/);
      const drawnKernel = r.items('cells').filter((it) => it.datum?.panel === 'kernel').map((it) => it.datum!.value as number);
      drawnKernel.forEach((v, j) => assert.ok(Math.abs(v - kernel.flat()[j]) < 1e-9, `kernel [${j}]`));
      assert.equal(drawnKernel.length, 9);
    });
  });

  it('convMatrixFigure: C and Cᵀ with zeros blank and nonzeros labelled by kernel entry', async () => {
    const C = convMatrix(4, 3, { stride: 1, padding: 0 }); // 4×16 pattern
    const spec = convMatrixFigure(C);
    const r = await renderClean(spec);
    const nnz = C.flat().filter((v) => v !== 0).length;
    assert.equal(nnz, 36);
    assert.equal(r.count('rect'), 2 * (64 + nnz)); // empty grid + coloured nonzeros, for C and Cᵀ
    const texts = r.texts();
    assert.equal(texts.filter((t) => /^w[₁-₉]$/.test(t)).length, 2 * nnz);
    assert.ok(r.allTexts().includes('C (4×16): convolution, 4×4 → 2×2'));
    assert.ok(r.allTexts().includes('Cᵀ (16×4): transposed convolution, 2×2 → 4×4'));
    assert.throws(() => convMatrixFigure([[1, 2, 3]]), /o²×i²/);
    const weighted = await renderClean(convMatrixFigure(convMatrix(4, rounded(randomGrid(3, 3, mulberry32(2))), { stride: 2, padding: 1 }), { showTranspose: false }));
    assert.ok(weighted.count('rect') > 16);
  });

  it('overlapFigure: the 1-2-4 checkerboard with its counts printed', async () => {
    const counts = overlapCounts(3, 3, 2);
    const spec = overlapFigure(counts, { kernelSize: 3, stride: 2 });
    const r = await renderClean(spec);
    assert.equal(r.count('rect'), 49);
    const values = r.marks().find((m) => m.marktype === 'text' && m.items.length === 49);
    assert.ok(values);
    assert.deepEqual(values.items.map((it) => Number(it.text)), counts.flat());
    assert.match(titleText(spec), /Counts 1, 2, 4: uneven overlap/);
  });

  it('upsamplingComparison: input and outputs side by side at the same pixel size', async () => {
    const x = [[1, 2], [3, 4]];
    const spec = upsamplingComparison([
      { name: 'input', values: x },
      { name: 'nearest', values: nearestUpsample(x, 2) },
      { name: 'bed of nails', values: bedOfNails(x, 2) },
      { name: 'bilinear', values: bilinearUpsample(x, 2) },
    ]);
    const r = await renderClean(spec);
    assert.equal(r.count('rect'), 4 + 3 * 16);
    const widths = new Set(r.marks().filter((m) => m.marktype === 'rect').flatMap((m) => m.items.map((it) => Math.round(it.width ?? 0))));
    assert.equal(widths.size, 1);
    for (const t of ['input (2×2)', 'nearest (4×4)', 'bed of nails (4×4)', 'bilinear (4×4)']) assert.ok(r.allTexts().includes(t), t);
    assert.match(titleText(spec), /Upsampling a 2×2 input by 2/);
  });

  it('dcganShapesFigure: one block per stage of the real generator, labelled H×W×C', async () => {
    const model = createDcganGenerator({ seed: 1, baseChannels: 64 });
    const stages = dcganStageShapes(model);
    model.dispose();
    const r = await renderClean(dcganShapesFigure(stages));
    assert.equal(r.items('fronts').length, stages.length);
    assert.equal(r.items('arrows').length, stages.length - 1);
    assert.deepEqual(r.texts('shapeLabels'), stages.map((s) => s.shape.join('×')));
    const paper = await renderClean(
      dcganShapesFigure([
        { name: 'project', shape: [4, 4, 1024] },
        { name: 'up1', shape: [8, 8, 512] },
        { name: 'up2', shape: [16, 16, 256] },
        { name: 'up3', shape: [32, 32, 128] },
        { name: 'up4', shape: [64, 64, 3] },
      ]),
    );
    const heights = paper.items('fronts').map((it) => Math.round(it.height ?? 0));
    assert.deepEqual(heights, [12, 24, 48, 96, 192]); // ∝ spatial size
    assert.throws(() => dcganShapesFigure([{ name: 'z', shape: [100] }]), /\[height, width, channels\]/);
  });

  describe('explorerFigure', () => {
    let cases: ExplorerCase[];
    before(() => {
      cases = explorerCases();
    });

    it('holds every case once, with the params it should, and stays small', () => {
      const spec = explorerFigure(cases);
      const params = (spec as { params: { name: string; bind: { input: string } }[] }).params;
      assert.deepEqual(params.map((p) => p.name), [...EXPLORER_PARAMS]);
      assert.deepEqual(params.map((p) => p.bind.input), ['radio', 'range', 'range', 'range', 'range', 'range']);
      const rows = (spec.datasets?.cases ?? []) as Record<string, unknown>[];
      assert.equal(rows.length, cases.length);
      assert.equal(new Set(rows.map((r) => r.key)).size, cases.length);
      rows.forEach((row, j) => {
        const c = cases[j];
        for (const k of ['mode', 'inputSize', 'kernelSize', 'stride', 'padding', 'outputPadding', 'valid', 'outputSize', 'formula'] as const) {
          assert.equal(row[k], c[k]);
        }
        assert.equal(row.error === undefined, c.error === undefined);
      });
      assert.ok(JSON.stringify(spec).length < 1.5e6);
      // ~1500 cases stay well under 1.5 MB
      const many: ExplorerCase[] = Array.from({ length: 1500 }, (_, j) => ({ ...cases[j % cases.length], inputSize: 2 + Math.floor(j / cases.length) * 10 }));
      assert.ok(JSON.stringify(explorerFigure(many)).length < 1.5e6);
    });

    it('draws the formula, the grids and the tfjs check for the chosen case', async () => {
      const r = await renderClean(explorerFigure(cases));
      // default: conv 4×4, k 3, s 1, p 1
      assert.deepEqual(r.texts('formula'), ['o = ⌊(4 + 2·1 − 3) / 1⌋ + 1 = 4']);
      assert.match(r.texts('check')[0], /^tfjs check: max \|naive − tfjs\| = .* ✓$/);
      assert.equal(r.items('paddingCells').length + r.items('inputCells').length, 36);
      assert.equal(r.items('outputCells').length, 16);
      assert.equal(r.items('error').length, 0);

      await r.set({ mode: 'transposed', inputSize: 2, kernelSize: 3, stride: 2, pad: 1, outputPadding: 1 });
      assert.deepEqual(r.texts('formula'), ['o = (2 − 1)·2 − 2·1 + 3 + 1 = 4']);
      assert.equal(r.items('inputCells').length, 4);
      assert.equal(r.items('outputCells').length, 16);
      assert.equal(r.items('croppedCells').length, 9);
      assert.equal(r.items('outputFrame').length, 1);
      assert.match(r.texts('check')[0], /✓$/);
    });

    it('shows the error in red instead of a diagram for impossible settings', async () => {
      const r = await renderClean(explorerFigure(cases));
      await r.set({ mode: 'conv', inputSize: 2, kernelSize: 4, stride: 1, pad: 0 });
      const [error] = r.items('error');
      assert.ok(error);
      assert.equal(error.fill, '#C0392B');
      assert.match(r.texts('error')[0], /^✗ output size must be ≥ 1/);
      assert.equal(r.items('inputCells').length, 0);
      assert.equal(r.items('outputCells').length, 0);
      assert.equal(r.items('check').length, 0);
      // conv has no outputPadding: the slider is ignored there, and the figure says so
      await r.set({ inputSize: 4, kernelSize: 3, pad: 1, outputPadding: 2 });
      assert.equal(r.items('outputCells').length, 16);
      assert.match(r.texts('note')[0], /only applies to a transposed convolution/);
    });

    it('says so when the table has no case for the settings', async () => {
      const some = cases.filter((c) => c.inputSize === 4 && c.mode === 'conv');
      const spec = explorerFigure(some);
      const params = (spec as { params: { name: string; bind: { input: string } }[] }).params;
      assert.equal(params.find((p) => p.name === 'inputSize')?.bind.input, 'select'); // one size: a select
      const r = await renderClean(spec);
      await r.set({ inputSize: 5 });
      assert.deepEqual(r.texts('formula'), ['No case in the table for these settings.']);
      assert.equal(r.items('inputCells').length, 0);
    });
  });
});
