/**
 * The figures of lecture section 2 (convolution arithmetic and upsampling), as vega-lite specs.
 * Pure functions: data first, options second; `show(spec)` displays them. Every interaction is a
 * vega-lite param bound to an input (slider, radio), so the figures work in JupyterLab (no comm
 * channel needed) and in the HTML handouts through vega-embed.
 *
 * The diagrams are drawn on a "cell canvas": quantitative x/y scales measured in cells (y down), so
 * grids, kernel windows and crop frames line up exactly; fills that encode values are computed
 * here (colors.ts, the same interpolators vega uses) and printed, so no legend is needed.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Field } from 'vega-lite/build/src/channeldef';
import type { LayerSpec, UnitSpec } from 'vega-lite/build/src/spec';
import type { Transform } from 'vega-lite/build/src/transform';
import type { TopLevelParameter } from 'vega-lite/build/src/spec/toplevel';
import type { Binding } from 'vega';
import { fillFor, readableTextOn, roles } from '../plot/colors';
import {
  type Layer,
  VEGA_LITE_SCHEMA,
  figureTitle,
  formatNumber,
  heatmap,
  heatmapPanel,
  imageRow,
  resolveHeatmap,
  round,
} from '../plot/specs';
import { convOutputSize, describeOutputSize, transposedConvOutputSize } from './arithmetic';
import type { CropWindow, TransposedConvTrace } from './naive';
import type { ExplorerCase } from './types';

type Encoding = NonNullable<UnitSpec<Field>['encoding']>;
type Row = Record<string, string | number | boolean | null>;

// ---------------------------------------------------------------------------------------------
// the cell canvas
// ---------------------------------------------------------------------------------------------

interface Frame {
  width: number;  // in cells
  height: number; // in cells
  cell: number;   // px per cell
  /** Vega expressions for the visible extent in cells, when it follows the sliders (the explorer zooms to fit). */
  zoom?: { xMax: string; yMax: string };
}

function xScale(f: Frame) {
  const range = [0, f.width * f.cell];
  return f.zoom
    ? { domain: { expr: `[0, ${f.zoom.xMax}]` }, range, nice: false, zero: false }
    : { domain: [0, f.width], range, nice: false, zero: false };
}
function yScale(f: Frame) {
  // y grows downwards, like row indices
  const range = [0, f.height * f.cell];
  return f.zoom
    ? { domain: { expr: `[0, ${f.zoom.yMax}]` }, range, nice: false, zero: false }
    : { domain: [0, f.height], range, nice: false, zero: false };
}

/** x0..x1 × y0..y1 rectangles (cells, windows, frames). */
function rectEnc(f: Frame): Encoding {
  return {
    x: { field: 'x0', type: 'quantitative', scale: xScale(f), axis: null },
    x2: { field: 'x1' },
    y: { field: 'y0', type: 'quantitative', scale: yScale(f), axis: null },
    y2: { field: 'y1' },
  };
}

/** Points (text) at xc, yc. */
function pointEnc(f: Frame): Encoding {
  return {
    x: { field: 'xc', type: 'quantitative', scale: xScale(f), axis: null },
    y: { field: 'yc', type: 'quantitative', scale: yScale(f), axis: null },
  };
}

/** Segments from (xa, ya) to (xb, yb). */
function ruleEnc(f: Frame): Encoding {
  return {
    x: { field: 'xa', type: 'quantitative', scale: xScale(f), axis: null },
    x2: { field: 'xb' },
    y: { field: 'ya', type: 'quantitative', scale: yScale(f), axis: null },
    y2: { field: 'yb' },
  };
}

function cellAt(row: number, col: number, ox: number, oy: number, extra: Row = {}): Row {
  return { row, col, x0: ox + col, x1: ox + col + 1, y0: oy + row, y1: oy + row + 1, xc: ox + col + 0.5, yc: oy + row + 0.5, ...extra };
}

function boxAt(top: number, left: number, height: number, width: number, ox: number, oy: number, extra: Row = {}): Row {
  return { x0: ox + left, x1: ox + left + width, y0: oy + top, y1: oy + top + height, ...extra };
}

function label(text: string, xc: number, yc: number, extra: Row = {}): Row {
  return { text, xc, yc, ...extra };
}

function frameView(f: Frame, layers: Layer[]): LayerSpec<Field> {
  return { width: f.width * f.cell, height: f.height * f.cell, layer: layers };
}

/** A slider param (1-based steps read better to students than 0-based). */
function sliderParam(name: string, value: number, min: number, max: number, text: string): TopLevelParameter {
  return { name, value, bind: { input: 'range', min, max, step: 1, name: text } };
}

const FONT = 'sans-serif';
const span = (a: number, b: number) => (a === b ? `${a}` : `${a}–${b}`);
const times = (a: number, b: number = a) => `${a}×${b}`;

// ---------------------------------------------------------------------------------------------
// 1. convDiagram
// ---------------------------------------------------------------------------------------------

export interface ConvDiagramSettings {
  inputSize: number;
  kernelSize: number;
  stride: number;
  padding: number;
  mode: 'conv' | 'transposed';
  outputPadding?: number; // transposed only, default 0
}

export interface ConvDiagramOptions {
  title?: string;
  subtitle?: string | string[];
  cellSize?: number; // px, default 34
  step?: number;     // initial slider position (1-based), default 1
}

/**
 * The conv-arithmetic picture (Dumoulin & Visin 2016 style) with a slider.
 * conv: the padded input (padding dashed), the output grid, and for the chosen output position the
 * kernel window that produces it. transposed: the input, the uncropped output canvas (cropped ring
 * dashed, the output framed), and for the chosen input pixel the kernel copy it weights; copies
 * placed so far stay tinted, so overlaps show darker.
 */
export function convDiagram(settings: ConvDiagramSettings, options: ConvDiagramOptions = {}): TopLevelSpec {
  return settings.mode === 'conv' ? convModeDiagram(settings, options) : transposedModeDiagram(settings, options);
}

function convModeDiagram(settings: ConvDiagramSettings, options: ConvDiagramOptions): TopLevelSpec {
  const { inputSize: i, kernelSize: k, stride: s, padding: p } = settings;
  const o = convOutputSize({ inputSize: i, kernelSize: k, stride: s, padding: p });
  const n = i + 2 * p;
  const top = 1.3;
  const gap = 3;
  const inY = top + Math.max(0, (o - n) / 2);
  const outX = n + gap;
  const outY = top + Math.max(0, (n - o) / 2);
  const f: Frame = { width: n + gap + o, height: top + Math.max(n, o) + 1.5, cell: options.cellSize ?? 34 };
  const steps = o * o;

  const inputCells: Row[] = [];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const pad = r < p || r >= p + i || c < p || c >= p + i;
      inputCells.push(cellAt(r, c, 0, inY, { pad }));
    }
  }
  const outputCells: Row[] = [];
  const windows: Row[] = [];
  const connectors: Row[] = [];
  const captions: Row[] = [];
  for (let u = 0; u < o; u++) {
    for (let v = 0; v < o; v++) {
      const step = u * o + v + 1;
      outputCells.push(cellAt(u, v, outX, outY, { step }));
      const r0 = u * s;
      const c0 = v * s;
      windows.push(boxAt(r0, c0, k, k, 0, inY, { step }));
      // two lines from the window's right corners to the output cell's left corners
      connectors.push({ step, xa: c0 + k, ya: inY + r0, xb: outX + v, yb: outY + u });
      connectors.push({ step, xa: c0 + k, ya: inY + r0 + k, xb: outX + v, yb: outY + u + 1 });
      let padCount = 0;
      for (let r = r0; r < r0 + k; r++) for (let c = c0; c < c0 + k; c++) if (r < p || r >= p + i || c < p || c >= p + i) padCount++;
      captions.push(
        label(
          `output (${u}, ${v}) = Σ kernel ⊙ padded input rows ${span(r0, r0 + k - 1)}, cols ${span(c0, c0 + k - 1)}` +
            (padCount > 0 ? ` (${padCount} of the ${k * k} are padding zeros)` : ''),
          0,
          f.height - 0.55,
          { step },
        ),
      );
    }
  }
  const current = 'datum.step == step';
  const layers: Layer[] = [
    {
      name: 'paddingCells',
      data: { values: inputCells },
      transform: [{ filter: 'datum.pad' }],
      mark: { type: 'rect', fill: roles.padding, stroke: roles.paddingStroke, strokeDash: [4, 3], strokeWidth: 1 },
      encoding: rectEnc(f),
    },
    {
      name: 'inputCells',
      data: { values: inputCells },
      transform: [{ filter: '!datum.pad' }],
      mark: { type: 'rect', fill: roles.input, stroke: roles.inputStroke, strokeWidth: 1 },
      encoding: rectEnc(f),
    },
    {
      name: 'outputCells',
      data: { values: outputCells },
      mark: { type: 'rect', stroke: roles.outputStroke, strokeWidth: 1 },
      encoding: {
        ...rectEnc(f),
        color: {
          condition: [
            { test: current, value: roles.current },
            { test: 'datum.step < step', value: roles.outputDone },
          ],
          value: roles.output,
        },
      },
    },
    {
      name: 'connectors',
      data: { values: connectors },
      transform: [{ filter: current }],
      mark: { type: 'rule', color: roles.kernel, strokeWidth: 1.2, strokeDash: [6, 3], opacity: 0.8 },
      encoding: ruleEnc(f),
    },
    {
      name: 'window',
      data: { values: windows },
      transform: [{ filter: current }],
      mark: { type: 'rect', fill: roles.kernel, fillOpacity: 0.28, stroke: roles.kernel, strokeWidth: 3.5 },
      encoding: rectEnc(f),
    },
    {
      name: 'labels',
      data: {
        values: [
          label(`input ${times(i)}` + (p > 0 ? ` + padding ${p} (dashed zeros)` : ''), 0, top - 0.55),
          label(`output ${times(o)}`, outX, top - 0.55 + Math.max(0, (n - o) / 2)),
        ],
      },
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 14, fontWeight: 'bold', font: FONT, color: roles.text },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
    {
      name: 'caption',
      data: { values: captions },
      transform: [{ filter: current }],
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 13, font: FONT, color: roles.text },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
  ];
  const subtitle = options.subtitle ?? [
    `${describeOutputSize('conv', { inputSize: i, kernelSize: k, stride: s, padding: p })}   (o = ⌊(i + 2p − k) / s⌋ + 1)`,
    `Move the slider: the ${times(k)} window (dark blue) steps ${s} cell${s > 1 ? 's' : ''} at a time; each position gives one output pixel (dark green).`,
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(
      options.title ?? `${times(k)} convolution, stride ${s}, padding ${p}: input ${times(i)} → output ${times(o)}`,
      subtitle,
    ),
    config: { view: { stroke: null } },
    params: [sliderParam('step', clampStep(options.step, steps), 1, steps, `output pixel (1–${steps}, row by row) `)],
    ...frameView(f, layers),
  };
}

function clampStep(step: number | undefined, max: number): number {
  return Math.min(max, Math.max(1, Math.round(step ?? 1)));
}

function transposedModeDiagram(settings: ConvDiagramSettings, options: ConvDiagramOptions): TopLevelSpec {
  const { inputSize: i, kernelSize: k, stride: s, padding: p } = settings;
  const op = settings.outputPadding ?? 0;
  const o = transposedConvOutputSize({ inputSize: i, kernelSize: k, stride: s, padding: p, outputPadding: op });
  const full = (i - 1) * s + k;
  const m = Math.max(full, p + o);
  const top = 1.3;
  const gap = 3;
  const inY = top + Math.max(0, (m - i) / 2);
  const canvasX = i + gap;
  const f: Frame = { width: i + gap + m, height: top + Math.max(m, i) + 1.5, cell: options.cellSize ?? 34 };
  const steps = i * i;

  const inputCells: Row[] = [];
  const footprints: Row[] = [];
  const connectors: Row[] = [];
  const captions: Row[] = [];
  for (let a = 0; a < i; a++) {
    for (let b = 0; b < i; b++) {
      const step = a * i + b + 1;
      inputCells.push(cellAt(a, b, 0, inY, { step }));
      footprints.push(boxAt(a * s, b * s, k, k, canvasX, top, { step }));
      connectors.push({ step, xa: b + 1, ya: inY + a, xb: canvasX + b * s, yb: top + a * s });
      connectors.push({ step, xa: b + 1, ya: inY + a + 1, xb: canvasX + b * s, yb: top + a * s + k });
      captions.push(
        label(
          `input (${a}, ${b}) weights a copy of the kernel, added at canvas rows ${span(a * s, a * s + k - 1)}, cols ${span(b * s, b * s + k - 1)}`,
          0,
          f.height - 0.55,
          { step },
        ),
      );
    }
  }
  const canvasCells: Row[] = [];
  for (let r = 0; r < m; r++) {
    for (let c = 0; c < m; c++) {
      const inside = r >= p && r < p + o && c >= p && c < p + o;
      canvasCells.push(cellAt(r, c, canvasX, top, { inside }));
    }
  }
  const current = 'datum.step == step';
  const layers: Layer[] = [
    {
      name: 'croppedCells',
      data: { values: canvasCells },
      transform: [{ filter: '!datum.inside' }],
      mark: { type: 'rect', fill: roles.cropped, stroke: roles.paddingStroke, strokeDash: [4, 3], strokeWidth: 1 },
      encoding: rectEnc(f),
    },
    {
      name: 'outputCells',
      data: { values: canvasCells },
      transform: [{ filter: 'datum.inside' }],
      mark: { type: 'rect', fill: roles.background, stroke: roles.outputStroke, strokeWidth: 1 },
      encoding: rectEnc(f),
    },
    {
      name: 'copiesDone',
      // copies placed so far: translucent, so cells where copies overlap come out darker
      data: { values: footprints },
      transform: [{ filter: 'datum.step < step' }],
      mark: { type: 'rect', fill: roles.footprint, fillOpacity: 0.3, strokeWidth: 0 },
      encoding: rectEnc(f),
    },
    {
      name: 'copy',
      data: { values: footprints },
      transform: [{ filter: current }],
      mark: { type: 'rect', fill: roles.footprint, fillOpacity: 0.45, stroke: '#B07800', strokeWidth: 3.5 },
      encoding: rectEnc(f),
    },
    {
      name: 'outputFrame',
      data: { values: [boxAt(p, p, o, o, canvasX, top)] },
      mark: { type: 'rect', fill: null, stroke: roles.crop, strokeWidth: 3.5 },
      encoding: rectEnc(f),
    },
    {
      name: 'inputCells',
      data: { values: inputCells },
      mark: { type: 'rect', stroke: roles.inputStroke, strokeWidth: 1 },
      encoding: {
        ...rectEnc(f),
        color: { condition: [{ test: current, value: roles.footprint }, { test: 'datum.step < step', value: '#F5D9A0' }], value: roles.input },
      },
    },
    {
      name: 'connectors',
      data: { values: connectors },
      transform: [{ filter: current }],
      mark: { type: 'rule', color: '#B07800', strokeWidth: 1.2, strokeDash: [6, 3] },
      encoding: ruleEnc(f),
    },
    {
      name: 'labels',
      data: {
        values: [
          label(`input ${times(i)}`, 0, inY - 0.55),
          label(`output ${times(o)} (green frame) on the ${times(full)} canvas`, canvasX, top - 0.55),
        ],
      },
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 14, fontWeight: 'bold', font: FONT, color: roles.text },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
    {
      name: 'caption',
      data: { values: captions },
      transform: [{ filter: current }],
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 13, font: FONT, color: roles.text },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
  ];
  const cropText = p > 0 ? `padding ${p} crops the grey dashed ring (${p} row/col per side)` : 'padding 0 crops nothing';
  const opText = op > 0 ? `, outputPadding ${op} keeps ${op} extra row/col at the bottom/right` : '';
  const subtitle = options.subtitle ?? [
    `${describeOutputSize('transposed', { inputSize: i, kernelSize: k, stride: s, padding: p, outputPadding: op })}   (o = (i − 1)·s − 2p + k + outputPadding)`,
    `Each input value weights a copy of the ${times(k)} kernel, placed ${s} cell${s > 1 ? 's' : ''} apart; where copies overlap they add up (darker orange).`,
    `${cropText}${opText}.`,
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(
      options.title ??
        `${times(k)} transposed convolution, stride ${s}, padding ${p}${op > 0 ? `, outputPadding ${op}` : ''}: input ${times(i)} → output ${times(o)}`,
      subtitle,
    ),
    config: { view: { stroke: null } },
    params: [sliderParam('step', clampStep(options.step, steps), 1, steps, `input pixel (1–${steps}, row by row) `)],
    ...frameView(f, layers),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. transposedConvSteps
// ---------------------------------------------------------------------------------------------

export interface TransposedStepsOptions {
  /** The kernel, drawn as its own panel; default: read back from the first step with a nonzero input. */
  kernel?: number[][];
  title?: string;
  subtitle?: string | string[];
  cellSize?: number; // px, default 46
  digits?: number;   // printed decimals, default 2
  step?: number;     // initial slider position (1-based), default: the last step (the result)
}

interface StepGeometry {
  h: number;
  w: number;
  k: number;
  stride: number;
  padding: number;
  outputPadding: number;
  kernel: number[][];
  uncropped: number; // (h − 1)·s + k
}

function stepGeometry(trace: TransposedConvTrace, kernelOption?: number[][]): StepGeometry {
  const { steps, crop } = trace;
  if (steps.length === 0) throw new Error('transposedConvSteps: the trace has no steps');
  const h = Math.max(...steps.map((st) => st.row)) + 1;
  const w = Math.max(...steps.map((st) => st.col)) + 1;
  if (h !== w) throw new Error(`transposedConvSteps draws square inputs (got ${h}×${w})`);
  const second = steps.find((st) => st.row === 0 && st.col === 1) ?? steps.find((st) => st.row === 1 && st.col === 0);
  const stride = second ? Math.max(...second.offset) : 1;
  let kernel = kernelOption;
  if (!kernel) {
    // read the kernel back from a copy: placed = value · kernel at offset (needs a nonzero value)
    const src = steps.find((st) => Math.abs(st.value) > 1e-12);
    if (!src) throw new Error('transposedConvSteps: every input value is 0, so the kernel cannot be read from the trace: pass options.kernel');
    const [oy, ox] = src.offset;
    let extent = 1;
    src.placed.forEach((row, r) => row.forEach((v, c) => { if (v !== 0) extent = Math.max(extent, r - oy + 1, c - ox + 1); }));
    kernel = Array.from({ length: extent }, (_, r) => Array.from({ length: extent }, (__, c) => src.placed[oy + r][ox + c] / src.value));
  }
  const k = kernel.length;
  const uncropped = (h - 1) * stride + k;
  const outputPadding = crop.height - (uncropped - 2 * crop.top);
  return { h, w, k, stride, padding: crop.top, outputPadding, kernel, uncropped };
}

/**
 * Steps through a transposed convolution (a trace from `transposedConv2dSteps`): a slider over
 * the input pixels shows the input with the current value, the kernel, the weighted copy on the
 * uncropped canvas, the running sum with its values, how many copies overlap so far, and the crop
 * window (padding; outputPadding) that turns the canvas into the output — with the frame it would
 * have without outputPadding.
 */
export function transposedConvSteps(trace: TransposedConvTrace, options: TransposedStepsOptions = {}): TopLevelSpec {
  const g = stepGeometry(trace, options.kernel);
  const { h, k, stride: s, padding: p, outputPadding: op, kernel } = g;
  const [mRows, mCols] = trace.canvasSize;
  const m = Math.max(mRows, mCols);
  const crop: CropWindow = trace.crop;
  const o = crop.height;
  const o0 = o - op; // the output size without outputPadding
  const digits = options.digits ?? 2;
  const nSteps = trace.steps.length;

  // one colour scale for every value panel, symmetric around 0
  const all = [kernel.flat(), trace.steps.map((st) => st.value), trace.steps.flatMap((st) => st.sum.flat()), trace.steps.flatMap((st) => st.placed.flat())].flat();
  const vmax = Math.max(1e-9, ...all.map(Math.abs));
  const domain: [number, number] = [-vmax, vmax];
  const valueCell = (row: number, col: number, ox: number, oy: number, value: number, extra: Row = {}): Row => {
    const fill = fillFor('blueorange', value, domain);
    return cellAt(row, col, ox, oy, { value: round(value, 6), text: formatNumber(round(value, 6), digits), fill, textColor: readableTextOn(fill), ...extra });
  };
  const blankCell = (row: number, col: number, ox: number, oy: number, extra: Row = {}): Row =>
    cellAt(row, col, ox, oy, { value: 0, text: '', fill: roles.background, textColor: roles.text, ...extra });

  // layout, in cells
  const gap = 2.2;
  const titleGap = 1.3;
  const rowA = titleGap;
  const inputX = 0;
  const kernelX = h + gap;
  const placedX = kernelX + k + gap;
  const rowB = rowA + Math.max(h, k, m) + titleGap + 0.6;
  const sumX = 0;
  const countX = m + gap;
  const outX = countX + m + gap;
  const width = Math.max(placedX + m, outX + o);
  const f: Frame = { width, height: rowB + Math.max(m, o) + 1.4, cell: options.cellSize ?? 46 };

  const cells: Row[] = [];
  // static: input and kernel (step 0 = always shown)
  trace.steps.forEach((st) => cells.push(valueCell(st.row, st.col, inputX, rowA, st.value, { step: 0, panel: 'input' })));
  kernel.forEach((row, r) => row.forEach((v, c) => cells.push(valueCell(r, c, kernelX, rowA, v, { step: 0, panel: 'kernel' }))));
  const outlines: Row[] = [];
  const captions: Row[] = [];
  const counts = Array.from({ length: mRows }, () => new Array<number>(mCols).fill(0));
  trace.steps.forEach((st, index) => {
    const step = index + 1;
    const [r0, c0] = st.offset;
    for (let r = 0; r < mRows; r++) {
      for (let c = 0; c < mCols; c++) {
        const inCopy = r >= r0 && r < r0 + k && c >= c0 && c < c0 + k;
        if (inCopy) counts[r][c] += 1;
        const inside = r >= crop.top && r < crop.top + crop.height && c >= crop.left && c < crop.left + crop.width;
        cells.push(inCopy ? valueCell(r, c, placedX, rowA, st.placed[r][c], { step, panel: 'placed' }) : blankCell(r, c, placedX, rowA, { step, panel: 'placed' }));
        // cells the crop removes are drawn faded, their text dark grey (readable on the faded fill)
        const faded: Row = inside ? { inside } : { inside, textColor: roles.muted };
        cells.push(
          counts[r][c] > 0
            ? valueCell(r, c, sumX, rowB, st.sum[r][c], { step, panel: 'sum', ...faded })
            : blankCell(r, c, sumX, rowB, { step, panel: 'sum', inside }),
        );
        const count = counts[r][c];
        const countFill = count > 0 ? fillFor('greys', count, [0, 5]) : roles.background;
        cells.push(cellAt(r, c, countX, rowB, { step, panel: 'count', value: count, text: count > 0 ? String(count) : '', fill: countFill, textColor: readableTextOn(countFill), ...faded }));
        if (inside) {
          const rr = r - crop.top;
          const cc = c - crop.left;
          cells.push(
            counts[r][c] > 0 ? valueCell(rr, cc, outX, rowB, st.sum[r][c], { step, panel: 'output' }) : blankCell(rr, cc, outX, rowB, { step, panel: 'output' }),
          );
        }
      }
    }
    outlines.push(cellAt(st.row, st.col, inputX, rowA, { step }));
    outlines.push(boxAt(r0, c0, k, k, placedX, rowA, { step }));
    outlines.push(boxAt(r0, c0, k, k, sumX, rowB, { step }));
    captions.push(
      label(
        `step ${step} of ${nSteps}: x[${st.row}, ${st.col}] = ${formatNumber(round(st.value, 6), digits)} weights the kernel; the copy lands at canvas rows ` +
          `${span(r0, r0 + k - 1)}, cols ${span(c0, c0 + k - 1)} and is added to the running sum` +
          (step === nSteps ? ' — done: the cropped sum is the output.' : '.'),
        0,
        f.height - 0.6,
        { step },
      ),
    );
  });

  // crop frames on the running-sum and count panels
  const frames: Row[] = [];
  const framesNoOp: Row[] = [];
  for (const ox of [sumX, countX]) {
    frames.push(boxAt(crop.top, crop.left, crop.height, crop.width, ox, rowB));
    if (op > 0 && o0 >= 1) framesNoOp.push(boxAt(crop.top, crop.left, o0, o0, ox, rowB));
  }
  const titles: Row[] = [
    label(`input x (${times(h)})`, inputX, rowA - 0.6),
    label(`kernel w (${times(k)})`, kernelX, rowA - 0.6),
    label(`this step: x[r, c] · w on the ${times(mRows, mCols)} canvas`, placedX, rowA - 0.6),
    label(`running sum (canvas)`, sumX, rowB - 0.6),
    label(`copies added so far`, countX, rowB - 0.6),
    label(`output = crop (${times(o)})`, outX, rowB - 0.6),
  ];
  const shown = 'datum.step == 0 || datum.step == step';
  const fontSize = Math.max(8, Math.min(14, Math.round(f.cell * 0.3)));
  const layers: Layer[] = [
    {
      name: 'cells',
      data: { values: cells },
      transform: [{ filter: shown }],
      mark: { type: 'rect', stroke: roles.grid, strokeWidth: 1 },
      encoding: {
        ...rectEnc(f),
        color: { field: 'fill', type: 'nominal', scale: null },
        // cells the crop removes stay visible, faded
        opacity: { condition: { test: 'datum.inside === false', value: 0.4 }, value: 1 },
      },
    },
    {
      name: 'cellText',
      data: { values: cells },
      transform: [{ filter: `(${shown}) && datum.text != ''` }],
      mark: { type: 'text', baseline: 'middle', align: 'center', fontSize, font: FONT },
      encoding: {
        ...pointEnc(f),
        text: { field: 'text', type: 'nominal' },
        color: { field: 'textColor', type: 'nominal', scale: null },
      },
    },
    {
      name: 'frame',
      data: { values: frames },
      mark: { type: 'rect', fill: null, stroke: roles.crop, strokeWidth: 3.5 },
      encoding: rectEnc(f),
    },
    {
      name: 'frameWithoutOutputPadding',
      data: { values: framesNoOp },
      mark: { type: 'rect', fill: null, stroke: roles.text, strokeWidth: 2, strokeDash: [5, 4] },
      encoding: rectEnc(f),
    },
    {
      name: 'highlight',
      data: { values: outlines },
      transform: [{ filter: 'datum.step == step' }],
      mark: { type: 'rect', fill: null, stroke: roles.footprint, strokeWidth: 3.5 },
      encoding: rectEnc(f),
    },
    {
      name: 'panelTitles',
      data: { values: titles },
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 13, fontWeight: 'bold', font: FONT, color: roles.text },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
    {
      name: 'caption',
      data: { values: captions },
      transform: [{ filter: 'datum.step == step' }],
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 13, font: FONT, color: roles.text },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
  ];
  const o0Text = o0 >= 1 ? `${times(o0)}` : 'nothing';
  const subtitle = options.subtitle ?? [
    `Each input value weights a copy of the kernel placed at stride·(row, col) = ${s}·(row, col) on the uncropped canvas; overlapping copies add up.`,
    `The canvas is (i − 1)·s + k = (${h} − 1)·${s} + ${k} = ${g.uncropped} per side. ` +
      (p > 0 ? `padding ${p} crops ${p} row/col from every side → ${o0Text}${op > 0 ? ' (black dashed frame)' : ' (green frame)'}.` : 'padding 0 crops nothing.'),
    ...(op > 0 ? [`outputPadding ${op} keeps ${op} more row/col at the bottom/right → ${times(o)}, the output (green frame).`] : []),
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? `Transposed convolution step by step: ${times(h)} → ${times(o)} (${times(k)} kernel, stride ${s})`, subtitle),
    config: { view: { stroke: null } },
    params: [sliderParam('step', clampStep(options.step ?? nSteps, nSteps), 1, nSteps, `step (input pixel 1–${nSteps}) `)],
    ...frameView(f, layers),
  };
}

// ---------------------------------------------------------------------------------------------
// 3. convMatrixFigure
// ---------------------------------------------------------------------------------------------

export interface ConvMatrixFigureOptions {
  title?: string;
  subtitle?: string | string[];
  cellSize?: number; // px, default 26 (smaller for matrices over 16 wide)
  /**
   * Entries are 1-based kernel-weight indices (convMatrix(i, k) with a number k), printed as
   * w₁…w_{k²}. Default: detected (all nonzeros are whole numbers 1…k²).
   */
  pattern?: boolean;
  showTranspose?: boolean; // draw Cᵀ beside C, default true
}

const SUBSCRIPTS = '₀₁₂₃₄₅₆₇₈₉';
const subscript = (n: number) => String(n).split('').map((d) => SUBSCRIPTS[Number(d)]).join('');

function isPattern(C: number[][]): boolean {
  const nz = C.flat().filter((v) => v !== 0);
  if (nz.length === 0 || !nz.every((v) => Number.isInteger(v) && v > 0)) return false;
  const k2 = Math.max(...nz);
  return Number.isInteger(Math.sqrt(k2));
}

/**
 * The convolution as a matrix: vec(y) = C·vec(x), C drawn with zeros blank and each nonzero
 * coloured (and labelled) by its kernel entry; rows are output pixels, columns input pixels. Cᵀ —
 * the matrix of the transposed convolution — beside it.
 */
export function convMatrixFigure(C: number[][], options: ConvMatrixFigureOptions = {}): TopLevelSpec {
  const rows = C.length;
  const cols = C[0]?.length ?? 0;
  const o = Math.round(Math.sqrt(rows));
  const i = Math.round(Math.sqrt(cols));
  if (rows === 0 || o * o !== rows || i * i !== cols) {
    throw new Error(`convMatrixFigure: C must be o²×i² (square images, row-major); got ${rows}×${cols}`);
  }
  const pattern = options.pattern ?? isPattern(C);
  const T = Array.from({ length: cols }, (_, c) => Array.from({ length: rows }, (__, r) => C[r][c]));
  const pixelLabels = (n: number) => Array.from({ length: n * n }, (_, j) => `${Math.floor(j / n)},${j % n}`);
  const cellSize = options.cellSize ?? Math.max(10, Math.min(26, Math.floor(420 / Math.max(rows, cols))));
  const k2 = pattern ? Math.max(...C.flat()) : 0;
  const base = {
    blankZeros: true,
    cellSize,
    showValues: cellSize >= 16,
    colorScheme: pattern ? ('viridis' as const) : undefined,
    colorLabel: pattern ? 'kernel entry' : 'weight',
    domain: pattern ? ([1, k2] as [number, number]) : undefined,
    valueLabel: pattern ? (v: number) => `w${subscript(v)}` : (v: number) => formatNumber(v, 1),
  };
  const cOptions = {
    ...base,
    xLabel: ['input pixel (row,col)', '= column of C'],
    yLabel: ['output pixel', '= row of C'],
    xTickLabels: pixelLabels(i),
    yTickLabels: pixelLabels(o),
  };
  const tOptions = {
    ...base,
    xLabel: ['output pixel', '= column of Cᵀ'],
    yLabel: ['input pixel (row,col)', '= row of Cᵀ'],
    xTickLabels: pixelLabels(o),
    yTickLabels: pixelLabels(i),
  };
  const resolved = resolveHeatmap([C], cOptions);
  const panels = [heatmapPanel(C, cOptions, resolved, `C (${rows}×${cols}): convolution, ${times(i)} → ${times(o)}`)];
  if (options.showTranspose !== false) {
    panels.push(heatmapPanel(T, tOptions, resolved, `Cᵀ (${cols}×${rows}): transposed convolution, ${times(o)} → ${times(i)}`));
  }
  const nnz = C.flat().filter((v) => v !== 0).length;
  const subtitle = options.subtitle ?? [
    `vec(y) = C · vec(x), pixels numbered row by row. Row (u,v) of C holds the kernel weights at the input pixels its window covers; blank = 0 (${nnz} of ${rows * cols} entries are nonzero).`,
    `The transposed convolution multiplies by Cᵀ: the same weights, read by columns, so each input pixel spreads a kernel copy over the output.`,
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'Convolution is multiplication by a sparse matrix C; the transposed convolution multiplies by Cᵀ', subtitle),
    config: { view: { stroke: null }, axis: { labelFontSize: 9, titleFontSize: 12 } },
    hconcat: panels,
    spacing: 40,
    resolve: { scale: { color: 'shared' } },
  };
}

// ---------------------------------------------------------------------------------------------
// 4. overlapFigure
// ---------------------------------------------------------------------------------------------

export interface OverlapFigureOptions {
  title?: string;
  subtitle?: string | string[];
  cellSize?: number;
  kernelSize?: number; // for the caption
  stride?: number;
}

/** How many kernel copies add up at each output pixel: uneven counts are the checkerboard artefact. */
export function overlapFigure(counts: number[][], options: OverlapFigureOptions = {}): TopLevelSpec {
  const values = [...new Set(counts.flat())].sort((a, b) => a - b);
  const max = Math.max(...values, 1);
  const ks = options.kernelSize !== undefined && options.stride !== undefined ? ` (${times(options.kernelSize)} kernel, stride ${options.stride})` : '';
  const uneven = values.length > 1;
  const subtitle = options.subtitle ?? [
    `Counts ${values.join(', ')}: ${uneven ? 'uneven overlap' : 'even overlap'}${ks}.`,
    uneven
      ? 'Pixels that receive more kernel copies get larger sums: the checkerboard artefact of transposed convolutions (Odena et al. 2016).'
      : 'Every pixel receives the same number of copies: no checkerboard pattern from overlap.',
  ];
  return heatmap(counts, {
    title: options.title ?? `How many kernel copies overlap at each output pixel${ks}`,
    subtitle,
    colorScheme: 'blues',
    domain: [0, max],
    showValues: true,
    digits: 0,
    colorLabel: 'copies',
    xLabel: 'output column',
    yLabel: 'output row',
    cellSize: options.cellSize ?? 36,
  });
}

// ---------------------------------------------------------------------------------------------
// 5. upsamplingComparison
// ---------------------------------------------------------------------------------------------

export interface UpsamplingComparisonOptions {
  title?: string;
  subtitle?: string | string[];
  cellSize?: number;
  showValues?: boolean; // default: when every image is at most 8×8 and cells are ≥ 26 px
  digits?: number;
}

/** The input and each method's output side by side, every pixel the same size (so outputs are s× larger). */
export function upsamplingComparison(results: { name: string; values: number[][] }[], options: UpsamplingComparisonOptions = {}): TopLevelSpec {
  if (results.length === 0) throw new Error('upsamplingComparison needs at least one image');
  const maxDim = Math.max(...results.map((r) => Math.max(r.values.length, r.values[0]?.length ?? 0)));
  const cellSize = options.cellSize ?? (maxDim <= 8 ? 40 : undefined);
  // printed values need room: small images drawn with cells of at least 26 px
  const showValues = options.showValues ?? (maxDim <= 8 && (cellSize ?? 0) >= 26);
  const first = results[0];
  const larger = results.slice(1).map((r) => r.values.length / first.values.length).filter((x) => x > 1);
  const factor = larger.length > 0 && larger.every((x) => x === larger[0]) ? larger[0] : undefined;
  return imageRow(
    results.map((r) => ({ title: r.name, values: r.values })),
    {
      title: options.title ?? `Upsampling a ${times(first.values.length, first.values[0].length)} ${first.name}${factor ? ` by ${factor}` : ''}: ${results.slice(1).map((r) => r.name).join(' · ')}`,
      subtitle: options.subtitle ?? [`Same pixel size in every panel, one shared colour scale${showValues ? '; values printed' : ''}.`],
      colorScheme: 'blues',
      showValues,
      digits: options.digits ?? 2,
      cellSize,
      legend: !showValues,
      gridLines: true,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// 6. dcganShapesFigure
// ---------------------------------------------------------------------------------------------

export interface DcganShapesOptions {
  title?: string;
  subtitle?: string | string[];
  /** Labels of the arrows between stages (length stages − 1); default from the shapes. */
  operations?: string[];
  pxPerPixel?: number;   // px per spatial pixel of a block's height/depth, default 3
  pxPerChannel?: number; // px per channel of a block's width, default 0.12
}

/**
 * The DCGAN generator as blocks (Radford et al. 2016, Fig. 1): each stage a box whose height and
 * depth grow with the spatial size and whose width grows with the channel count, labelled H×W×C.
 */
export function dcganShapesFigure(stages: { name: string; shape: number[] }[], options: DcganShapesOptions = {}): TopLevelSpec {
  if (stages.length === 0) throw new Error('dcganShapesFigure needs at least one stage');
  stages.forEach((st) => {
    if (st.shape.length !== 3) throw new Error(`stage ${st.name}: shape must be [height, width, channels] (got [${st.shape.join(', ')}])`);
  });
  const pxH = options.pxPerPixel ?? 3;
  const pxC = options.pxPerChannel ?? 0.12;
  const slant = 0.5; // depth drawn at 45°, shortened (cabinet projection)
  const gapPx = 110;
  const maxFace = Math.max(...stages.map((st) => st.shape[0] * pxH));
  const maxDepth = Math.max(...stages.map((st) => st.shape[1] * pxH * slant * Math.SQRT1_2));
  const topPad = 40 + maxDepth;
  const mid = topPad + maxFace / 2; // blocks centred on one horizontal line
  const fronts: Row[] = [];
  const tops: Row[] = [];
  const sides: Row[] = [];
  const labels: Row[] = [];
  const arrows: Row[] = [];
  const opLabels: Row[] = [];
  let x = 20;
  stages.forEach((st, j) => {
    const [H, W, Cn] = st.shape;
    const w = Math.max(3, Cn * pxC);
    const hh = H * pxH;
    const d = W * pxH * slant * Math.SQRT1_2; // both the x and y offset of the depth edge
    const y0 = mid - hh / 2;
    fronts.push({ x0: x, x1: x + w, y0, y1: y0 + hh, stage: st.name });
    // top face: a parallelogram, drawn as a horizontal area (x range at each y)
    tops.push({ face: j, y: y0, xa: x, xb: x + w }, { face: j, y: y0 - d, xa: x + d, xb: x + w + d });
    // side face: a vertical area (y range at each x)
    sides.push({ face: j, x: x + w, ya: y0, yb: y0 + hh }, { face: j, x: x + w + d, ya: y0 - d, yb: y0 + hh - d });
    const cx = x + (w + d) / 2;
    labels.push({ xc: cx, yc: y0 - d - 12, text: `${H}×${W}×${Cn}`, kind: 'shape' });
    labels.push({ xc: cx, yc: mid + maxFace / 2 + 22, text: st.name, kind: 'name' });
    const right = x + w + d;
    if (j < stages.length - 1) {
      const next = stages[j + 1].shape;
      const op =
        options.operations?.[j] ??
        (next[0] === 2 * H ? 'transposed conv\nstride 2' : next[0] === H ? 'conv\nstride 1' : `${H}→${next[0]}`);
      arrows.push({ xa: right + 10, xb: right + gapPx - 10, ya: mid, yb: mid });
      // first line above the arrow, the rest below it
      const [above, ...below] = op.split('\n');
      opLabels.push({ xc: right + gapPx / 2, yc: mid - 7, text: above, baseline: 'bottom' });
      if (below.length > 0) opLabels.push({ xc: right + gapPx / 2, yc: mid + 7, text: below.join(' '), baseline: 'top' });
    }
    x = right + gapPx;
  });
  const width = x - gapPx + 20;
  const height = mid + maxFace / 2 + 40;
  const f: Frame = { width, height, cell: 1 };
  const arrowHeads: Row[] = arrows.map((a) => ({ xc: a.xb, yc: a.ya }));
  const layers: Layer[] = [
    {
      name: 'sides',
      data: { values: sides },
      mark: { type: 'area', orient: 'vertical', color: '#7FA9CC', stroke: roles.inputStroke, strokeWidth: 1 },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: xScale(f), axis: null },
        y: { field: 'ya', type: 'quantitative', scale: yScale(f), axis: null },
        y2: { field: 'yb' },
        detail: { field: 'face', type: 'nominal' },
      },
    },
    {
      name: 'tops',
      data: { values: tops },
      mark: { type: 'area', orient: 'horizontal', color: '#D9EAF6', stroke: roles.inputStroke, strokeWidth: 1 },
      encoding: {
        y: { field: 'y', type: 'quantitative', scale: yScale(f), axis: null },
        x: { field: 'xa', type: 'quantitative', scale: xScale(f), axis: null },
        x2: { field: 'xb' },
        detail: { field: 'face', type: 'nominal' },
      },
    },
    {
      name: 'fronts',
      data: { values: fronts },
      mark: { type: 'rect', fill: roles.input, stroke: roles.inputStroke, strokeWidth: 1 },
      encoding: rectEnc(f),
    },
    {
      name: 'arrows',
      data: { values: arrows },
      mark: { type: 'rule', color: roles.muted, strokeWidth: 2 },
      encoding: ruleEnc(f),
    },
    {
      name: 'arrowHeads',
      data: { values: arrowHeads },
      mark: { type: 'point', shape: 'triangle-right', filled: true, size: 110, color: roles.muted },
      encoding: pointEnc(f),
    },
    {
      name: 'shapeLabels',
      data: { values: labels },
      transform: [{ filter: "datum.kind == 'shape'" }],
      mark: { type: 'text', fontSize: 14, fontWeight: 'bold', baseline: 'bottom', font: FONT, color: roles.text },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
    {
      name: 'stageNames',
      data: { values: labels },
      transform: [{ filter: "datum.kind == 'name'" }],
      mark: { type: 'text', fontSize: 13, baseline: 'top', font: FONT, color: roles.muted },
      encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
    },
    ...(['bottom', 'top'] as const).map(
      (baseline): Layer => ({
        data: { values: opLabels },
        transform: [{ filter: `datum.baseline == '${baseline}'` }],
        mark: { type: 'text', fontSize: 12, baseline, font: FONT, color: roles.text },
        encoding: { ...pointEnc(f), text: { field: 'text', type: 'nominal' } },
      }),
    ),
  ];
  const first = stages[0].shape;
  const last = stages[stages.length - 1].shape;
  const subtitle = options.subtitle ?? [
    `Each stage doubles the spatial size and halves the channels: ${first.join('×')} → ${last.join('×')}.`,
    `Drawn to scale: height and depth ∝ H and W (${pxH} px per pixel), width ∝ channels (${pxC} px per channel).`,
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? `DCGAN generator: ${stages.length - 1} fractionally-strided (transposed) convolutions`, subtitle),
    config: { view: { stroke: null } },
    ...frameView(f, layers),
  };
}

// ---------------------------------------------------------------------------------------------
// 7. explorerFigure
// ---------------------------------------------------------------------------------------------

export interface ExplorerFigureOptions {
  title?: string;
  subtitle?: string | string[];
  cellSize?: number;       // px, default: fits the widest case in ~880 px
  tolerance?: number;      // max |naive − tfjs| that counts as agreement, default 1e-4
  initial?: Partial<Pick<ExplorerCase, 'mode' | 'inputSize' | 'kernelSize' | 'stride' | 'padding' | 'outputPadding'>>;
}

/** Param names of the explorer (vega reserves `padding`, `width`, …, so padding is `pad`). */
export const EXPLORER_PARAMS = ['mode', 'inputSize', 'kernelSize', 'stride', 'pad', 'outputPadding'] as const;

function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}

function caseKey(mode: string, i: number, k: number, s: number, p: number, op: number): string {
  return `${mode}|${i}|${k}|${s}|${p}|${op}`;
}

function distinct(values: number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

function numberBinding(values: number[], text: string): Binding {
  const contiguous = values.every((v, j) => j === 0 || v === values[j - 1] + 1);
  return contiguous && values.length > 1
    ? { input: 'range', min: values[0], max: values[values.length - 1], step: 1, name: text }
    : { input: 'select', options: values, name: text };
}

/**
 * One interactive figure for every case of `explorerCases`: pick mode, input size, kernel,
 * stride, padding and outputPadding; see the formula with its numbers, the input grid (with its
 * padding ring) and the output grid (for transposed: the canvas with the cropped ring), and the
 * tfjs check — or, for impossible settings, why, in red. The cases are data in the spec; the
 * params only select one, and the grids are generated from the sizes by vega-lite transforms.
 */
export function explorerFigure(cases: ExplorerCase[], options: ExplorerFigureOptions = {}): TopLevelSpec {
  if (cases.length === 0) throw new Error('explorerFigure needs at least one case');
  const tol = options.tolerance ?? 1e-4;
  const convHasOutputPadding = cases.some((c) => c.mode === 'conv' && c.outputPadding !== 0);
  const rows = cases.map((c) => ({
    key: caseKey(c.mode, c.inputSize, c.kernelSize, c.stride, c.padding, c.outputPadding),
    mode: c.mode,
    inputSize: c.inputSize,
    kernelSize: c.kernelSize,
    stride: c.stride,
    padding: c.padding,
    outputPadding: c.outputPadding,
    valid: c.valid,
    outputSize: c.outputSize,
    formula: c.formula,
    maxAbsDiff: Number.isFinite(c.maxAbsDiff) ? Number(c.maxAbsDiff.toPrecision(2)) : null,
    ...(c.error !== undefined ? { error: wrap(c.error, 95) } : {}),
  }));
  // grid extents, so the layout (cell size, positions) stays put while the sliders move
  const gap = 3;
  const extents = cases.filter((c) => c.valid).map((c) => {
    const nIn = c.mode === 'conv' ? c.inputSize + 2 * c.padding : c.inputSize;
    const nOut = c.mode === 'conv' ? c.outputSize : Math.max((c.inputSize - 1) * c.stride + c.kernelSize, c.padding + c.outputSize);
    return { w: nIn + gap + nOut, h: Math.max(nIn, nOut) };
  });
  const maxW = Math.max(10, ...extents.map((e) => e.w));
  const maxH = Math.max(4, ...extents.map((e) => e.h));
  const cell = options.cellSize ?? Math.max(10, Math.min(34, Math.floor(880 / maxW)));
  const top = 1.4;
  // A frame sized for the largest case leaves most of it empty for the usual small ones, so the
  // frame is a fixed box and the grid zooms to fit the selected case (cells at most 34 px).
  const framePx = { w: maxW * cell, h: Math.min((maxH + top + 0.4) * cell, 380) };
  const caseW = "(mode == 'conv' ? (inputSize + 2 * pad) + " + gap + " + max(1, floor((inputSize + 2 * pad - kernelSize) / stride) + 1)" +
    " : inputSize + " + gap + " + max((inputSize - 1) * stride + kernelSize, pad + (inputSize - 1) * stride - 2 * pad + kernelSize + outputPadding))";
  const caseH = "(mode == 'conv' ? max(inputSize + 2 * pad, floor((inputSize + 2 * pad - kernelSize) / stride) + 1)" +
    " : max(inputSize, (inputSize - 1) * stride + kernelSize, pad + (inputSize - 1) * stride - 2 * pad + kernelSize + outputPadding))";
  const xMax = `max(${framePx.w / 34}, ${caseW}, (${caseH} + ${top + 0.4}) * ${framePx.w / framePx.h})`;
  const f: Frame = {
    width: maxW, height: framePx.h / cell, cell,
    zoom: { xMax, yMax: `(${xMax}) * ${framePx.h / framePx.w}` },
  };

  const pick = <T,>(values: T[], wanted: T | undefined, fallback: T): T => (wanted !== undefined && values.includes(wanted) ? wanted : fallback);
  const modes = [...new Set(cases.map((c) => c.mode))];
  const sizes = distinct(cases.map((c) => c.inputSize));
  const kernels = distinct(cases.map((c) => c.kernelSize));
  const strides = distinct(cases.map((c) => c.stride));
  const paddings = distinct(cases.map((c) => c.padding));
  const outPads = distinct(cases.map((c) => c.outputPadding));
  const init = options.initial ?? {};
  const params: TopLevelParameter[] = [
    {
      name: 'mode',
      value: pick(modes, init.mode, modes.includes('conv') ? 'conv' : modes[0]),
      bind: { input: 'radio', options: modes, labels: modes.map((m) => (m === 'conv' ? 'convolution' : 'transposed convolution')), name: 'mode ' },
    },
    { name: 'inputSize', value: pick(sizes, init.inputSize, pick(sizes, 4, sizes[0])), bind: numberBinding(sizes, 'input size i ') },
    { name: 'kernelSize', value: pick(kernels, init.kernelSize, pick(kernels, 3, kernels[0])), bind: numberBinding(kernels, 'kernel size k ') },
    { name: 'stride', value: pick(strides, init.stride, pick(strides, 1, strides[0])), bind: numberBinding(strides, 'stride s ') },
    { name: 'pad', value: pick(paddings, init.padding, pick(paddings, 1, paddings[0])), bind: numberBinding(paddings, 'padding p ') },
    { name: 'outputPadding', value: pick(outPads, init.outputPadding, outPads[0]), bind: numberBinding(outPads, 'outputPadding (transposed only) ') },
  ];
  const opExpr = convHasOutputPadding ? 'outputPadding' : "(mode == 'conv' ? 0 : outputPadding)";
  // one row: the selected case (or nulls if the table has no such case)
  const selected: Transform[] = [
    { calculate: `mode + '|' + inputSize + '|' + kernelSize + '|' + stride + '|' + pad + '|' + ${opExpr}`, as: 'key' },
    {
      lookup: 'key',
      from: {
        data: { name: 'cases' },
        key: 'key',
        fields: ['inputSize', 'kernelSize', 'stride', 'padding', 'outputPadding', 'valid', 'outputSize', 'formula', 'maxAbsDiff', 'error'],
      },
      as: ['i', 'k', 's', 'p', 'op', 'valid', 'o', 'formula', 'maxAbsDiff', 'error'],
    },
    { calculate: 'isValid(datum.valid) ? datum.valid : null', as: 'found' },
    { calculate: "mode == 'conv'", as: 'isConv' },
    // input panel: padded input (conv) or the input (transposed); output: grid (conv) or canvas (transposed)
    { calculate: 'datum.isConv ? datum.i + 2 * datum.p : datum.i', as: 'nIn' },
    { calculate: '(datum.i - 1) * datum.s + datum.k', as: 'full' },
    { calculate: 'datum.isConv ? datum.o : max(datum.full, datum.p + datum.o)', as: 'nOut' },
    { calculate: `datum.nIn + ${gap}`, as: 'outX' },
  ];
  const grid = (n: string): Transform[] => [
    { filter: 'datum.valid === true' },
    { calculate: `sequence(0, ${n} * ${n})`, as: 'cells' },
    { flatten: ['cells'], as: ['cell'] },
    { calculate: `floor(datum.cell / ${n})`, as: 'r' },
    { calculate: `datum.cell % ${n}`, as: 'c' },
  ];
  const cellBox = (ox: string): Transform[] => [
    { calculate: `${ox} + datum.c`, as: 'x0' },
    { calculate: `${ox} + datum.c + 1`, as: 'x1' },
    { calculate: `${top} + datum.r`, as: 'y0' },
    { calculate: `${top} + datum.r + 1`, as: 'y1' },
  ];
  const one = { values: [{}] };
  const inPad = '(datum.r < datum.pp || datum.r >= datum.pp + datum.i || datum.c < datum.pp || datum.c >= datum.pp + datum.i)';
  const inWindow = '(datum.r >= datum.p && datum.r < datum.p + datum.o && datum.c >= datum.p && datum.c < datum.p + datum.o)';
  const inputCells: Transform[] = [...selected, ...grid('datum.nIn'), { calculate: 'datum.isConv ? datum.p : 0', as: 'pp' }, ...cellBox('0')];
  const outputCells: Transform[] = [...selected, ...grid('datum.nOut'), ...cellBox('datum.outX')];
  const kernelBox = (which: 0 | 1): Transform[] => [
    ...selected,
    // the first kernel position, and the second one stride cells to the right (if there is one)
    { filter: which === 0 ? 'datum.valid === true' : 'datum.valid === true && (datum.isConv ? datum.o > 1 : datum.i > 1)' },
    { calculate: `(datum.isConv ? 0 : datum.outX) + ${which} * datum.s`, as: 'x0' },
    { calculate: 'datum.x0 + datum.k', as: 'x1' },
    { calculate: `${top}`, as: 'y0' },
    { calculate: `${top} + datum.k`, as: 'y1' },
  ];
  const textEnc = (x: number, y: number): Encoding => ({
    x: { value: x },
    y: { value: y },
    text: { field: 'line', type: 'nominal' },
  });
  const header: LayerSpec<Field> = {
    width: f.width * f.cell,
    height: 62,
    data: one,
    transform: selected,
    layer: [
      {
        name: 'formula',
        transform: [{ calculate: "datum.found === null ? 'No case in the table for these settings.' : datum.formula", as: 'line' }],
        mark: { type: 'text', align: 'left', baseline: 'top', fontSize: 18, fontWeight: 'bold', font: FONT, color: roles.text },
        encoding: textEnc(0, 0),
      },
      {
        name: 'check',
        transform: [
          { filter: 'datum.valid === true' },
          {
            calculate: `'tfjs check: max |naive − tfjs| = ' + (datum.maxAbsDiff === 0 ? '0' : format(datum.maxAbsDiff, '.1~e')) + (datum.maxAbsDiff <= ${tol} ? ' ✓' : ' ✗ (above ${tol})')`,
            as: 'line',
          },
        ],
        mark: { type: 'text', align: 'left', baseline: 'top', fontSize: 14, font: FONT },
        encoding: {
          ...textEnc(0, 28),
          color: { condition: { test: `datum.maxAbsDiff <= ${tol}`, value: roles.ok }, value: roles.error },
        },
      },
      {
        name: 'error',
        transform: [{ filter: 'datum.valid === false' }, { calculate: "'✗ ' + datum.error", as: 'line' }],
        mark: { type: 'text', align: 'left', baseline: 'top', fontSize: 14, font: FONT, color: roles.error, lineBreak: '\n', lineHeight: 18 },
        encoding: textEnc(0, 28),
      },
      {
        name: 'note',
        transform: [
          { filter: `mode == 'conv' && outputPadding > 0 && ${!convHasOutputPadding}` },
          { calculate: "'(outputPadding only applies to a transposed convolution: ignored here)'", as: 'line' },
        ],
        mark: { type: 'text', align: 'right', baseline: 'top', fontSize: 12, font: FONT, color: roles.muted },
        encoding: textEnc(f.width * f.cell, 4),
      },
    ],
  };
  const labelLayer = (transform: Transform[]): Layer => ({
    data: one,
    transform,
    mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 13, fontWeight: 'bold', font: FONT, color: roles.text },
    encoding: { ...pointEnc(f), text: { field: 'line', type: 'nominal' } },
  });
  const diagram: LayerSpec<Field> = {
    ...frameView(f, [
      {
        name: 'paddingCells',
        data: one,
        transform: [...inputCells, { filter: `datum.isConv && ${inPad}` }],
        mark: { type: 'rect', fill: roles.padding, stroke: roles.paddingStroke, strokeDash: [4, 3], strokeWidth: 1 },
        encoding: rectEnc(f),
      },
      {
        name: 'inputCells',
        data: one,
        transform: [...inputCells, { filter: `!(datum.isConv && ${inPad})` }],
        mark: { type: 'rect', stroke: roles.inputStroke, strokeWidth: 1 },
        encoding: {
          ...rectEnc(f),
          color: { condition: { test: '!datum.isConv && datum.r == 0 && datum.c == 0', value: roles.footprint }, value: roles.input },
        },
      },
      {
        name: 'croppedCells',
        data: one,
        transform: [...outputCells, { filter: `!datum.isConv && !${inWindow}` }],
        mark: { type: 'rect', fill: roles.cropped, stroke: roles.paddingStroke, strokeDash: [4, 3], strokeWidth: 1 },
        encoding: rectEnc(f),
      },
      {
        name: 'outputCells',
        data: one,
        transform: [...outputCells, { filter: `datum.isConv || ${inWindow}` }],
        mark: { type: 'rect', stroke: roles.outputStroke, strokeWidth: 1 },
        encoding: {
          ...rectEnc(f),
          color: { condition: { test: 'datum.isConv && datum.r == 0 && datum.c == 0', value: roles.current }, value: roles.output },
        },
      },
      {
        name: 'outputFrame',
        // transposed: the output frame on the canvas
        data: one,
        transform: [
          ...selected,
          { filter: 'datum.valid === true && !datum.isConv' },
          { calculate: 'datum.outX + datum.p', as: 'x0' },
          { calculate: 'datum.x0 + datum.o', as: 'x1' },
          { calculate: `${top} + datum.p`, as: 'y0' },
          { calculate: 'datum.y0 + datum.o', as: 'y1' },
        ],
        mark: { type: 'rect', fill: null, stroke: roles.crop, strokeWidth: 3 },
        encoding: rectEnc(f),
      },
      {
        name: 'kernelNext',
        data: one,
        transform: kernelBox(1),
        mark: { type: 'rect', fill: null, strokeDash: [6, 4], strokeWidth: 2.5 },
        encoding: { ...rectEnc(f), stroke: { condition: { test: 'datum.isConv', value: roles.kernel }, value: '#B07800' } },
      },
      {
        name: 'kernelFirst',
        data: one,
        transform: kernelBox(0),
        mark: { type: 'rect', fillOpacity: 0.25, strokeWidth: 3 },
        encoding: {
          ...rectEnc(f),
          color: { condition: { test: 'datum.isConv', value: roles.kernel }, value: roles.footprint },
          stroke: { condition: { test: 'datum.isConv', value: roles.kernel }, value: '#B07800' },
        },
      },
      labelLayer([
        ...selected,
        { filter: 'datum.valid === true' },
        {
          calculate: "datum.isConv ? 'input ' + datum.i + '×' + datum.i + (datum.p > 0 ? ' + padding ' + datum.p : '') : 'input ' + datum.i + '×' + datum.i",
          as: 'line',
        },
        { calculate: '0', as: 'xc' },
        { calculate: `${top - 0.7}`, as: 'yc' },
      ]),
      labelLayer([
        ...selected,
        { filter: 'datum.valid === true' },
        {
          calculate:
            "datum.isConv ? 'output ' + datum.o + '×' + datum.o : " +
            "'output ' + datum.o + '×' + datum.o + (datum.nOut > datum.full ? ': the ' + datum.full + '×' + datum.full + ' canvas + ' + (datum.nOut - datum.full) + ' zero row/col from outputPadding' : ' in the ' + datum.full + '×' + datum.full + ' canvas')",
          as: 'line',
        },
        { calculate: 'datum.outX', as: 'xc' },
        { calculate: `${top - 0.7}`, as: 'yc' },
      ]),
    ]),
  };
  const subtitle = options.subtitle ?? [
    'conv: dashed = zero padding; dark blue = the kernel at the first position, dashed = one stride later; green = output (first pixel dark).',
    'transposed: orange = the copy the first input pixel weights (dashed: the next one); dashed ring = rows/cols cropped by padding; green frame = output.',
  ];
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'Convolution arithmetic explorer: change the settings below', subtitle),
    config: { view: { stroke: null } },
    datasets: { cases: rows },
    params,
    vconcat: [header, diagram],
    spacing: 8,
  };
}
