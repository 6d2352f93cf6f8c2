/**
 * Generic figure builders: data first, an options object second, a vega-lite spec returned (never
 * displayed here: `show` in ./show does that). Pure functions, so tests can compile and render
 * every figure without a kernel.
 *
 * Matrices are row-major number[][]: values[row][col], rows drawn top to bottom. For attention
 * maps that means rows = queries / output tokens, columns = keys / source positions (as d2l's
 * show_heatmaps, unlike tfjs-vis' column-major default).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Field } from 'vega-lite/build/src/channeldef';
import type { LayerSpec, UnitSpec } from 'vega-lite/build/src/spec';
import type { TitleParams } from 'vega-lite/build/src/title';
import type { ExprRef } from 'vega-lite/build/src/expr';
import type { SignalRef } from 'vega';
import { type ColorSchemeName, colorSchemes, roles, schemeScale, seriesColors, textColorFor } from './colors';

export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

export type Title = string | TitleParams<ExprRef | SignalRef>;
export type Layer = LayerSpec<Field> | UnitSpec<Field>;

/** A title with an optional subtitle (one string per line), in the kit's style. */
export function figureTitle(text: string, subtitle?: string | string[]): Title {
  if (subtitle === undefined || subtitle.length === 0) return { text, anchor: 'start', fontSize: 15, offset: 10 };
  return { text, subtitle, anchor: 'start', fontSize: 15, subtitleFontSize: 13, subtitleColor: roles.muted, subtitlePadding: 4, offset: 10 };
}

/** Rounds for display and for small, stable spec JSON (snapshots compare rounded numbers). */
export function round(value: number, digits = 4): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  const r = Math.round(value * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

/**
 * A value as printed in a cell: at most `digits` decimals, trailing zeros dropped (1, 1.5, 0.25),
 * a true minus sign (−0.4), and no "−0" for values that round to zero.
 */
export function formatNumber(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return String(value);
  let s = value.toFixed(digits);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  if (/^-0$/.test(s)) s = '0';
  return s.replace('-', '−');
}

/** [min, max] over matrices, widened so a constant matrix still has a usable colour domain. */
export function valueExtent(matrices: readonly (readonly (readonly number[])[])[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of matrices) for (const row of m) for (const v of row) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) return lo === 0 ? [0, 1] : lo > 0 ? [0, hi] : [lo, 0];
  return [lo, hi];
}

function checkMatrix(values: readonly (readonly number[])[], name: string): [number, number] {
  if (!Array.isArray(values) || values.length === 0 || !Array.isArray(values[0]) || values[0].length === 0) {
    throw new Error(`${name} must be a non-empty number[][] (rows of columns)`);
  }
  const cols = values[0].length;
  values.forEach((row, r) => {
    if (row.length !== cols) throw new Error(`${name} is ragged: row 0 has ${cols} values, row ${r} has ${row.length}`);
  });
  return [values.length, cols];
}

/** A vega expression that maps an index to one of `labels` (axis labelExpr). */
function labelLookup(labels: readonly string[]): string {
  return `[${labels.map(vegaStringLiteral).join(',')}][datum.value]`;
}

/**
 * A vega expression for the string `text`. The string literal 'if' trips vega's parser (it reads
 * the token as its if() function: "Unrecognized signal name: if"), so a literal is written as
 * single-character pieces joined with + whenever it contains the keyword.
 */
function vegaStringLiteral(text: string): string {
  const quote = (piece: string) => `'${piece.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
  if (!/if/.test(text)) return quote(text);
  return `(${Array.from(text, quote).join('+')})`;
}

// ---------------------------------------------------------------------------------------------
// heatmap
// ---------------------------------------------------------------------------------------------

export interface HeatmapOptions {
  title?: string;
  subtitle?: string | string[];
  xLabel?: string | string[]; // default 'column' (an array: one line each)
  yLabel?: string | string[]; // default 'row'
  colorLabel?: string;   // legend title, default 'value'
  colorScheme?: ColorSchemeName; // default 'viridis', or 'blueorange' when the values have both signs
  domain?: [number, number];     // colour domain, default the values' extent (symmetric for diverging maps)
  showValues?: boolean;  // print each value in its cell (default: when the matrix is small enough to read)
  digits?: number;       // decimals of printed values (integers print as integers), default 2
  cellSize?: number;     // px per cell, default 30 (smaller for large matrices)
  xTickLabels?: string[]; // one per column (e.g. source words); default the column index
  yTickLabels?: string[]; // one per row
  blankZeros?: boolean;  // draw exact zeros as empty cells (sparse matrices)
  valueLabel?: (value: number) => string; // the printed text of a value (default: `digits` decimals)
  legend?: boolean;      // default true
}

export interface HeatmapCell {
  row: number;
  col: number;
  value: number;
  label: string;     // the printed value
  textColor: string; // readable on the cell's colour
}

export interface ResolvedHeatmap {
  scheme: ColorSchemeName;
  domain: [number, number];
  cellSize: number;
  showValues: boolean;
  legendLength: number; // px; one value per figure (panels of a grid share the legend)
}

export function resolveHeatmap(matrices: readonly (readonly (readonly number[])[])[], options: HeatmapOptions): ResolvedHeatmap {
  const [lo, hi] = valueExtent(matrices);
  const scheme = options.colorScheme ?? (lo < 0 && hi > 0 ? 'blueorange' : 'viridis');
  let domain: [number, number] = options.domain ?? [lo, hi];
  if (!options.domain && colorSchemes[scheme].diverging) {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    domain = [-m, m];
  }
  const maxDim = Math.max(...matrices.map((m) => Math.max(m.length, m[0].length)));
  const cellSize = options.cellSize ?? Math.max(6, Math.min(30, Math.floor(360 / maxDim)));
  const showValues = options.showValues ?? (maxDim <= 12 && cellSize >= 22);
  const maxRows = Math.max(...matrices.map((m) => m.length));
  return { scheme, domain, cellSize, showValues, legendLength: Math.min(200, Math.max(80, maxRows * cellSize)) };
}

export function heatmapCells(
  values: readonly (readonly number[])[],
  scheme: ColorSchemeName,
  domain: [number, number],
  digits = 2,
  blankZeros = false,
  valueLabel: (value: number) => string = (v) => formatNumber(v, digits),
): HeatmapCell[] {
  const cells: HeatmapCell[] = [];
  values.forEach((row, r) =>
    row.forEach((v, c) => {
      if (blankZeros && v === 0) return;
      cells.push({ row: r, col: c, value: round(v, 6), label: valueLabel(v), textColor: textColorFor(scheme, v, domain) });
    }),
  );
  return cells;
}

/**
 * One heatmap panel (a layer spec without top-level properties), for composing figures: heatmap,
 * heatmapGrid and the convolution-matrix figure are made of these.
 */
export function heatmapPanel(
  values: readonly (readonly number[])[],
  options: HeatmapOptions,
  resolved: ResolvedHeatmap = resolveHeatmap([values], options),
  panelTitle?: string,
): LayerSpec<Field> {
  const [rows, cols] = checkMatrix(values, 'values');
  const { scheme, domain, cellSize, showValues } = resolved;
  const xLabels = options.xTickLabels;
  const yLabels = options.yTickLabels;
  if (xLabels && xLabels.length !== cols) throw new Error(`xTickLabels has ${xLabels.length} labels for ${cols} columns`);
  if (yLabels && yLabels.length !== rows) throw new Error(`yTickLabels has ${yLabels.length} labels for ${rows} rows`);
  const longX = (xLabels ?? []).some((l) => l.length > 3);
  const tickEvery = (n: number) => (n > 32 ? Math.ceil(n / 16) : 1);
  const cells = heatmapCells(values, scheme, domain, options.digits ?? 2, options.blankZeros ?? false, options.valueLabel);
  const fontSize = Math.max(7, Math.min(13, Math.round(cellSize * 0.38)));
  const layers: Layer[] = [];
  if (options.blankZeros) {
    // the empty grid, so blank (zero) cells still read as cells
    layers.push({
      data: { values: Array.from({ length: rows * cols }, (_, i) => ({ row: Math.floor(i / cols), col: i % cols })) },
      mark: { type: 'rect', fill: roles.background, stroke: roles.grid, strokeWidth: 0.5 },
      encoding: { x: { field: 'col', type: 'ordinal' }, y: { field: 'row', type: 'ordinal' } },
    });
  }
  layers.push({
    data: { values: cells },
    mark: { type: 'rect', stroke: options.blankZeros ? roles.grid : null, strokeWidth: 0.5 },
    encoding: {
      x: { field: 'col', type: 'ordinal' },
      y: { field: 'row', type: 'ordinal' },
      color: {
        field: 'value',
        type: 'quantitative',
        title: options.colorLabel ?? 'value',
        scale: { ...schemeScale(scheme), domain },
        legend: options.legend === false ? null : { gradientLength: resolved.legendLength },
      },
      tooltip: [
        { field: 'row', type: 'ordinal', title: options.yLabel ?? 'row' },
        { field: 'col', type: 'ordinal', title: options.xLabel ?? 'column' },
        { field: 'label', type: 'nominal', title: options.colorLabel ?? 'value' },
      ],
    },
  });
  if (showValues) {
    layers.push({
      data: { values: cells },
      mark: { type: 'text', fontSize, baseline: 'middle', align: 'center' },
      encoding: {
        x: { field: 'col', type: 'ordinal' },
        y: { field: 'row', type: 'ordinal' },
        text: { field: 'label', type: 'nominal' },
        fill: { field: 'textColor', type: 'nominal', scale: null },
      },
    });
  }
  return {
    ...(panelTitle !== undefined ? { title: { text: panelTitle, fontSize: 13 } } : {}),
    width: { step: cellSize },
    height: { step: cellSize },
    encoding: {
      x: {
        field: 'col',
        type: 'ordinal',
        title: options.xLabel ?? 'column',
        scale: { domain: Array.from({ length: cols }, (_, i) => i) },
        axis: {
          labelAngle: longX ? -45 : 0,
          ...(xLabels ? { labelExpr: labelLookup(xLabels) } : {}),
          values: Array.from({ length: cols }, (_, i) => i).filter((i) => i % tickEvery(cols) === 0),
          ticks: false,
          domain: false,
        },
      },
      y: {
        field: 'row',
        type: 'ordinal',
        title: options.yLabel ?? 'row',
        scale: { domain: Array.from({ length: rows }, (_, i) => i) },
        axis: {
          ...(yLabels ? { labelExpr: labelLookup(yLabels) } : {}),
          values: Array.from({ length: rows }, (_, i) => i).filter((i) => i % tickEvery(rows) === 0),
          ticks: false,
          domain: false,
        },
      },
    },
    layer: layers,
  };
}

/** One matrix as coloured cells, optionally with its values printed (readable on every colour). */
export function heatmap(values: number[][], options: HeatmapOptions = {}): TopLevelSpec {
  checkMatrix(values, 'values');
  const resolved = resolveHeatmap([values], options);
  const panel = heatmapPanel(values, options, resolved);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? `${values.length}×${values[0].length} matrix`, options.subtitle),
    config: { view: { stroke: null } },
    ...panel,
  };
}

// ---------------------------------------------------------------------------------------------
// heatmapGrid (d2l's show_heatmaps)
// ---------------------------------------------------------------------------------------------

export interface TitledMatrix {
  title: string;
  values: number[][];
}

export interface HeatmapGridOptions extends HeatmapOptions {
  /** For a rank-4 input [gridRows][gridCols][rows][cols]: titles of the grid rows / columns. */
  rowTitles?: string[];
  colTitles?: string[];
  /** Panels per row for a list of matrices (default: all in one row, up to 4). */
  columns?: number;
}

function isTitledList(data: number[][][][] | TitledMatrix[]): data is TitledMatrix[] {
  return data.length > 0 && !Array.isArray(data[0]);
}

/**
 * Many heatmaps with one shared colour scale and one legend: either a rank-4 array
 * [gridRows][gridCols][rows][cols] (d2l's show_heatmaps: e.g. layers × heads of attention
 * weights) or a list of titled matrices.
 */
export function heatmapGrid(data: number[][][][] | TitledMatrix[], options: HeatmapGridOptions = {}): TopLevelSpec {
  if (!Array.isArray(data) || data.length === 0) throw new Error('heatmapGrid needs at least one matrix');
  let panels: TitledMatrix[];
  let columns: number;
  if (isTitledList(data)) {
    panels = data;
    columns = options.columns ?? Math.min(4, panels.length);
  } else {
    const gridCols = data[0].length;
    data.forEach((row, r) => {
      if (row.length !== gridCols) throw new Error(`heatmapGrid: grid row 0 has ${gridCols} matrices, row ${r} has ${row.length}`);
    });
    panels = data.flatMap((row, r) =>
      row.map((values, c) => {
        const rt = options.rowTitles?.[r] ?? (data.length > 1 ? `row ${r}` : '');
        const ct = options.colTitles?.[c] ?? (gridCols > 1 ? `column ${c}` : '');
        return { title: [rt, ct].filter((t) => t !== '').join(', '), values };
      }),
    );
    columns = gridCols;
  }
  panels.forEach((p, i) => checkMatrix(p.values, `matrix ${i} (${p.title})`));
  const resolved = resolveHeatmap(panels.map((p) => p.values), options);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? `${panels.length} heatmaps`, options.subtitle),
    config: { view: { stroke: null } },
    columns,
    concat: panels.map((p) => heatmapPanel(p.values, options, resolved, p.title)),
    resolve: { scale: { color: 'shared' } },
  };
}

// ---------------------------------------------------------------------------------------------
// imageRow
// ---------------------------------------------------------------------------------------------

export interface ImageRowOptions {
  title?: string;
  subtitle?: string | string[];
  cellSize?: number;       // px per pixel, the same for every image (so sizes compare); default fits ~180 px
  showValues?: boolean;    // print pixel values (only readable for small images)
  digits?: number;
  domain?: [number, number]; // default: the extent of all images (shared)
  colorScheme?: ColorSchemeName; // default 'image' (0 black, 1 white)
  showSize?: boolean;      // append "(h×w)" to each title, default true
  legend?: boolean;        // default false
  gridLines?: boolean;     // thin lines between pixels, default: when cells are ≥ 12 px
}

/** Grayscale images side by side, pixelated, every pixel the same size, one shared colour scale. */
export function imageRow(images: { title: string; values: number[][] }[], options: ImageRowOptions = {}): TopLevelSpec {
  if (images.length === 0) throw new Error('imageRow needs at least one image');
  images.forEach((im, i) => checkMatrix(im.values, `image ${i} (${im.title})`));
  const maxDim = Math.max(...images.map((im) => Math.max(im.values.length, im.values[0].length)));
  const cellSize = options.cellSize ?? Math.max(2, Math.min(40, Math.floor(180 / maxDim)));
  const scheme = options.colorScheme ?? 'image';
  const domain = options.domain ?? valueExtent(images.map((im) => im.values));
  const showValues = options.showValues ?? false;
  const gridLines = options.gridLines ?? cellSize >= 12;
  const fontSize = Math.max(7, Math.min(13, Math.round(cellSize * 0.36)));
  const panels: LayerSpec<Field>[] = images.map((im, i) => {
    const [rows, cols] = [im.values.length, im.values[0].length];
    const cells = heatmapCells(im.values, scheme, domain, options.digits ?? 2);
    const layers: Layer[] = [
      {
        mark: { type: 'rect', ...(gridLines ? { stroke: roles.grid, strokeWidth: 0.5 } : {}) },
        encoding: {
          color: {
            field: 'value',
            type: 'quantitative',
            title: 'value',
            scale: { ...schemeScale(scheme), domain },
            legend: options.legend ? {} : null, // shared scale: the panels' legends merge into one
          },
          tooltip: [
            { field: 'row', type: 'ordinal' },
            { field: 'col', type: 'ordinal' },
            { field: 'label', type: 'nominal', title: 'value' },
          ],
        },
      },
    ];
    if (showValues) {
      layers.push({
        mark: { type: 'text', fontSize, baseline: 'middle', align: 'center' },
        encoding: { text: { field: 'label', type: 'nominal' }, fill: { field: 'textColor', type: 'nominal', scale: null } },
      });
    }
    return {
      title: { text: options.showSize === false ? im.title : `${im.title} (${rows}×${cols})`, fontSize: 13 },
      data: { values: cells },
      width: { step: cellSize },
      height: { step: cellSize },
      encoding: {
        x: { field: 'col', type: 'ordinal', axis: null, scale: { domain: Array.from({ length: cols }, (_, c) => c) } },
        y: { field: 'row', type: 'ordinal', axis: null, scale: { domain: Array.from({ length: rows }, (_, r) => r) } },
      },
      layer: layers,
    };
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? images.map((im) => im.title).join(' · '), options.subtitle),
    config: { view: { stroke: roles.muted, strokeWidth: 1 } },
    hconcat: panels,
    spacing: 24,
    align: 'none',
    resolve: { scale: { color: 'shared' } },
  };
}

// ---------------------------------------------------------------------------------------------
// lineChart
// ---------------------------------------------------------------------------------------------

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface LineChartOptions {
  title?: string;
  subtitle?: string | string[];
  xLabel?: string;
  yLabel?: string;
  legendTitle?: string;
  logX?: boolean;
  logY?: boolean;
  width?: number;  // px, default 480
  height?: number; // px, default 280
  points?: boolean; // draw a dot at each point, default when every series has ≤ 60 points
  yDomain?: [number, number];
}

/** Loss curves, timings, scores: one line per series, colour-blind-safe colours, optional log axes. */
export function lineChart(series: Series[], options: LineChartOptions = {}): TopLevelSpec {
  if (series.length === 0) throw new Error('lineChart needs at least one series');
  const names = series.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new Error(`lineChart: series names must be unique (got ${names.join(', ')})`);
  const keep = (p: { x: number; y: number }) =>
    Number.isFinite(p.x) && Number.isFinite(p.y) && (!options.logX || p.x > 0) && (!options.logY || p.y > 0);
  const rows = series.flatMap((s, order) => s.points.filter(keep).map((p) => ({ series: s.name, order, x: round(p.x, 6), y: round(p.y, 6) })));
  const points = options.points ?? series.every((s) => s.points.length <= 60);
  const dropped = series.reduce((n, s) => n + s.points.length, 0) - rows.length;
  const subtitle = ([] as string[]).concat(options.subtitle ?? []);
  if (dropped > 0) subtitle.push(`${dropped} point(s) not drawn (not finite${options.logX || options.logY ? ' or ≤ 0 on a log axis' : ''})`);
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? (options.yLabel ? `${options.yLabel} against ${options.xLabel ?? 'x'}` : 'line chart'), subtitle),
    width: options.width ?? 480,
    height: options.height ?? 280,
    data: { values: rows },
    mark: { type: 'line', point: points ? { size: 30 } : false, strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: options.xLabel ?? 'x', scale: options.logX ? { type: 'log' } : { zero: false } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: options.yLabel ?? 'y',
        scale: { ...(options.logY ? { type: 'log' as const } : { zero: false }), ...(options.yDomain ? { domain: options.yDomain } : {}) },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: options.legendTitle ?? null,
        scale: { domain: names, range: names.map((_, i) => seriesColors[i % seriesColors.length]) },
        legend: series.length > 1 ? { orient: 'right' } : null,
      },
      order: { field: 'x', type: 'quantitative' },
      tooltip: [
        { field: 'series', type: 'nominal' },
        { field: 'x', type: 'quantitative', title: options.xLabel ?? 'x' },
        { field: 'y', type: 'quantitative', title: options.yLabel ?? 'y', format: '.4~g' },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// textTable
// ---------------------------------------------------------------------------------------------

export interface TextTableOptions {
  title?: string;
  subtitle?: string | string[];
  columnWidth?: number | number[]; // px per column, default 110
  rowHeight?: number;              // px, default 22
}

/** A small table as a figure (e.g. reference numbers beside a plot): header row plus text rows. */
export function textTable(columns: string[], rows: (string | number)[][], options: TextTableOptions = {}): TopLevelSpec {
  rows.forEach((r, i) => {
    if (r.length !== columns.length) throw new Error(`textTable: row ${i} has ${r.length} cells for ${columns.length} columns`);
  });
  const widths = columns.map((_, c) => (Array.isArray(options.columnWidth) ? options.columnWidth[c] ?? 110 : options.columnWidth ?? 110));
  const starts = widths.map((_, c) => widths.slice(0, c).reduce((a, b) => a + b, 0));
  const rowHeight = options.rowHeight ?? 22;
  const total = widths.reduce((a, b) => a + b, 0);
  const cells = [
    ...columns.map((text, c) => ({ x: starts[c] + 6, y: 0, text, header: true })),
    ...rows.flatMap((r, i) => r.map((v, c) => ({ x: starts[c] + 6, y: i + 1, text: typeof v === 'number' ? formatNumber(v) : v, header: false }))),
  ];
  const height = (rows.length + 1) * rowHeight;
  // row centres at (i + 0.5)·rowHeight: domain [−0.5, rows + 0.5] over the full height, top down
  const xScale = { domain: [0, total], range: [0, total] };
  const yScale = { domain: [-0.5, rows.length + 0.5], range: [0, height] };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'table', options.subtitle),
    width: total,
    height,
    config: { view: { stroke: null } },
    layer: [
      {
        // the line under the header
        data: { values: [{ x: 0, x2: total, y: 0.5 }] },
        mark: { type: 'rule', color: roles.muted },
        encoding: {
          x: { field: 'x', type: 'quantitative', axis: null, scale: xScale },
          x2: { field: 'x2' },
          y: { field: 'y', type: 'quantitative', axis: null, scale: yScale },
        },
      },
      ...[true, false].map((header): Layer => ({
        data: { values: cells.filter((c) => c.header === header) },
        mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 12, fontWeight: header ? 'bold' : 'normal' },
        encoding: {
          x: { field: 'x', type: 'quantitative', axis: null, scale: xScale },
          y: { field: 'y', type: 'quantitative', axis: null, scale: yScale },
          text: { field: 'text', type: 'nominal' },
        },
      })),
    ],
  };
}
