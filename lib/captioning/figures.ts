/**
 * The captioning figures as vega-lite specs (data first, options second, a spec returned):
 * scenes with their captions, every word's attention map blended onto the image (Xu et al.'s
 * figure), the slide's underlined-word view with a slider, soft vs hard attention side by side,
 * training curves and the quality table.
 */
import type { TopLevelSpec } from 'vega-lite';
import { imageDataUrl } from '../plot/image';
import { figureTitle, lineChart, textTable, VEGA_LITE_SCHEMA, type Series } from '../plot/specs';
import type { CaptionScene } from './scenes';
import { sceneImagePixels } from './scenes';
import type { GeneratedCaption } from './decode';
import { roles, okabeIto } from '../plot/colors';

/** Rows of RGB pixels in [0, 1]. */
export type RgbPixels = number[][][];

/**
 * Spreads a grid×grid attention map over an image of `size` pixels by bilinear interpolation
 * between cell centres (the paper upsamples and smooths the same way), scaled so its peak is 1.
 */
export function upsampleAttention(attention: readonly number[], grid: number, size: number): number[][] {
  if (attention.length !== grid * grid) throw new Error(`upsampleAttention: a ${grid}×${grid} map has ${grid * grid} values (got ${attention.length})`);
  const cell = size / grid;
  const at = (r: number, c: number) => attention[Math.max(0, Math.min(grid - 1, r)) * grid + Math.max(0, Math.min(grid - 1, c))];
  const out: number[][] = [];
  let peak = 0;
  for (let y = 0; y < size; y++) {
    const gy = (y + 0.5) / cell - 0.5, r0 = Math.floor(gy), fy = gy - r0;
    const row: number[] = [];
    for (let x = 0; x < size; x++) {
      const gx = (x + 0.5) / cell - 0.5, c0 = Math.floor(gx), fx = gx - c0;
      const v = (1 - fy) * ((1 - fx) * at(r0, c0) + fx * at(r0, c0 + 1)) + fy * ((1 - fx) * at(r0 + 1, c0) + fx * at(r0 + 1, c0 + 1));
      row.push(v);
      peak = Math.max(peak, v);
    }
    out.push(row);
  }
  return peak > 0 ? out.map((row) => row.map((v) => v / peak)) : out;
}

/** The image dimmed where the map is low and lit white where it is high. */
export function blendAttention(pixels: RgbPixels, attention: readonly number[], grid: number): RgbPixels {
  const size = pixels.length;
  const a = upsampleAttention(attention, grid, size);
  return pixels.map((row, y) => row.map((px, x) => px.map((v) => Math.min(1, 0.25 * v + 0.75 * v * a[y][x] + 0.45 * a[y][x]))));
}

interface Panel {
  title: string;
  pixels: RgbPixels;
  /** Outline this box (pixels) on the panel, e.g. hard attention's chosen cell. */
  box?: { x: number; y: number; width: number; height: number };
  /** Smaller text under the image. */
  caption?: string[];
}

function panelSpec(p: Panel, pixelSize: number, captionWidthChars: number) {
  const h = p.pixels.length, w = p.pixels[0]?.length ?? 0;
  const width = w * pixelSize, height = h * pixelSize;
  const layers: object[] = [{
    data: { values: [{ url: imageDataUrl(p.pixels, [0, 1]) }] },
    mark: { type: 'image', width, height, align: 'left', baseline: 'top', smooth: false },
    encoding: { url: { field: 'url', type: 'nominal' }, x: { value: 0 }, y: { value: 0 } },
  }];
  if (p.box) {
    const b = p.box;
    layers.push({
      data: { values: [{ x: b.x * pixelSize, y: b.y * pixelSize, x2: (b.x + b.width) * pixelSize, y2: (b.y + b.height) * pixelSize }] },
      mark: { type: 'rect', fill: null, stroke: okabeIto.orange, strokeWidth: 2 },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: { domain: [0, width], range: [0, width] }, axis: null },
        x2: { field: 'x2' },
        y: { field: 'y', type: 'quantitative', scale: { domain: [0, height], range: [0, height] }, axis: null },
        y2: { field: 'y2' },
      },
    });
  }
  const lines = (p.caption ?? []).flatMap((t) => wrapCaption(t, captionWidthChars));
  if (lines.length > 0) {
    layers.push({
      data: { values: lines.map((text, i) => ({ text, y: height + 14 + 14 * i })) },
      mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 11, color: roles.text },
      encoding: { text: { field: 'text', type: 'nominal' }, x: { value: 0 }, y: { field: 'y', type: 'quantitative', scale: null, axis: null } },
    });
  }
  return {
    title: { text: p.title, fontSize: 12, anchor: 'start' as const, limit: Math.max(width, captionWidthChars * 6) },
    width,
    height: height + (lines.length > 0 ? 10 + 14 * lines.length : 0),
    layer: layers,
  };
}

/** Breaks text into lines of at most `chars` characters at spaces. */
export function wrapCaption(text: string, chars: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > chars) { out.push(line); line = word; }
    else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out;
}

export interface CaptionCardsOptions {
  title?: string;
  subtitle?: string | string[];
  /** Cards per row. Default 3. */
  columns?: number;
  /** Screen px per image pixel. Default 3. */
  pixelSize?: number;
  /** Characters per caption line. Default 46. */
  lineChars?: number;
}

/** Images with lines of text under each (references, generated captions of several models). */
export function captionCards(cards: { title: string; pixels: RgbPixels; lines: string[] }[], options: CaptionCardsOptions = {}): TopLevelSpec {
  if (cards.length === 0) throw new Error('captionCards: needs at least one card');
  const pixelSize = options.pixelSize ?? 3;
  const chars = options.lineChars ?? 46;
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'captions', options.subtitle),
    columns: options.columns ?? 3,
    spacing: 24,
    concat: cards.map((c) => panelSpec({ title: c.title, pixels: c.pixels, caption: c.lines }, pixelSize, chars)),
    config: { view: { stroke: null } },
  } as unknown as TopLevelSpec;
}

export interface AttentionRow {
  /** Shown on the first panel (the image itself), e.g. the model's name. */
  label: string;
  words: string[];
  /** One map per word (grid-major). */
  attention: number[][];
  /** Hard attention: the cell chosen for each word (outlined). */
  locations?: number[];
}

export interface AttentionFigureOptions {
  title?: string;
  subtitle?: string | string[];
  /** Panels per line (the image + words); longer captions wrap. Default 9. */
  columns?: number;
  /** Default 2. */
  pixelSize?: number;
}

/**
 * Xu et al.'s figure: the image, then every word of the caption with the attention map that
 * produced it blended onto the image. Several rows (models) share the image.
 */
export function attentionCaptionFigure(pixels: RgbPixels, rows: AttentionRow[], grid: number, options: AttentionFigureOptions = {}): TopLevelSpec {
  if (rows.length === 0) throw new Error('attentionCaptionFigure: needs at least one caption');
  const size = pixels.length;
  const cell = size / grid;
  const pixelSize = options.pixelSize ?? 2;
  const blocks = rows.map((row) => {
    if (row.attention.length !== row.words.length) {
      throw new Error(`attentionCaptionFigure: '${row.label}' has ${row.words.length} words but ${row.attention.length} attention maps (a model without attention has none to show)`);
    }
    const panels: Panel[] = [{ title: row.label, pixels }];
    row.words.forEach((w, t) => {
      const loc = row.locations?.[t];
      panels.push({
        title: w,
        pixels: blendAttention(pixels, row.attention[t], grid),
        ...(loc !== undefined ? { box: { x: (loc % grid) * cell, y: Math.floor(loc / grid) * cell, width: cell, height: cell } } : {}),
      });
    });
    return { columns: options.columns ?? 9, spacing: 6, concat: panels.map((p) => panelSpec(p, pixelSize, 0)) };
  });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'where the decoder looks for each word', options.subtitle),
    vconcat: blocks,
    spacing: 18,
    config: { view: { stroke: null } },
  } as unknown as TopLevelSpec;
}

/**
 * The lecture's slide: a caption with one word underlined and the region it attended to lit on
 * the image. A slider picks the word.
 */
export function underlinedWordFigure(pixels: RgbPixels, caption: { words: string[]; attention: number[][] }, grid: number, options: { title?: string; subtitle?: string | string[]; pixelSize?: number; start?: number } = {}): TopLevelSpec {
  const { words, attention } = caption;
  if (words.length === 0) throw new Error('underlinedWordFigure: the caption has no words');
  if (attention.length !== words.length) throw new Error(`underlinedWordFigure: ${words.length} words but ${attention.length} attention maps`);
  const pixelSize = options.pixelSize ?? 5;
  const size = pixels.length * pixelSize;
  const images = words.map((_, t) => ({ t, url: imageDataUrl(blendAttention(pixels, attention[t], grid), [0, 1]) }));
  // Lay the words out in lines under the image, about 7 px per character at 14 px.
  const charPx = 7.6, lineWidth = Math.max(size, 420), lineHeight = 22;
  const placed: { t: number; word: string; x: number; x2: number; line: number }[] = [];
  let x = 0, line = 0;
  words.forEach((word, t) => {
    const w = word.length * charPx;
    if (x > 0 && x + w > lineWidth) { x = 0; line++; }
    placed.push({ t, word, x, x2: x + w, line });
    x += w + charPx;
  });
  const textHeight = (line + 1) * lineHeight;
  const start = Math.max(0, Math.min(words.length - 1, options.start ?? 0));
  const xScale = { domain: [0, lineWidth], range: [0, lineWidth] };
  const yScale = { domain: [0, textHeight], range: [0, textHeight] };
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'one word, its region', options.subtitle),
    params: [{ name: 'word', value: start, bind: { input: 'range', min: 0, max: words.length - 1, step: 1, name: 'word ' } }],
    vconcat: [
      {
        width: size,
        height: size,
        data: { values: images },
        transform: [{ filter: 'datum.t == word' }],
        mark: { type: 'image', width: size, height: size, align: 'left', baseline: 'top', smooth: false },
        encoding: { url: { field: 'url', type: 'nominal' }, x: { value: 0 }, y: { value: 0 } },
      },
      {
        width: lineWidth,
        height: textHeight,
        data: { values: placed.map((p) => ({ ...p, y: p.line * lineHeight + lineHeight / 2, yu: p.line * lineHeight + lineHeight / 2 + 9 })) },
        layer: [
          {
            mark: { type: 'text', align: 'left', baseline: 'middle', fontSize: 14 },
            encoding: {
              x: { field: 'x', type: 'quantitative', scale: xScale, axis: null },
              y: { field: 'y', type: 'quantitative', scale: yScale, axis: null },
              text: { field: 'word', type: 'nominal' },
              color: { condition: { test: 'datum.t == word', value: okabeIto.vermillion }, value: roles.text },
            },
          },
          {
            transform: [{ filter: 'datum.t == word' }],
            mark: { type: 'rule', color: okabeIto.vermillion, strokeWidth: 2 },
            encoding: {
              x: { field: 'x', type: 'quantitative', scale: xScale, axis: null },
              x2: { field: 'x2' },
              y: { field: 'yu', type: 'quantitative', scale: yScale, axis: null },
            },
          },
        ],
      },
    ],
    spacing: 8,
    config: { view: { stroke: null } },
  } as unknown as TopLevelSpec;
}

/**
 * Loss curves of several runs, each smoothed by a moving average over `smooth` points. A run
 * recorded every `every`-th step (a thinned curve, as the shipped weights store) is drawn at its
 * true step numbers.
 */
export function captionTrainingCurves(runs: { name: string; stepLoss: number[]; every?: number }[], options: { title?: string; subtitle?: string | string[]; smooth?: number; yLabel?: string } = {}): TopLevelSpec {
  const k = options.smooth ?? 20;
  const series: Series[] = runs.map((r) => {
    const every = r.every ?? 1;
    const pts: { x: number; y: number }[] = [];
    let sum = 0;
    const stride = Math.max(1, Math.floor(r.stepLoss.length / 300));
    r.stepLoss.forEach((v, i) => {
      sum += v;
      if (i >= k) sum -= r.stepLoss[i - k];
      if (i % stride === 0 || i === r.stepLoss.length - 1) pts.push({ x: i * every + 1, y: sum / Math.min(i + 1, k) });
    });
    return { name: r.name, points: pts };
  });
  const span = k * (runs[0]?.every ?? 1);
  return lineChart(series, {
    title: options.title ?? 'training curves',
    subtitle: options.subtitle,
    xLabel: 'step',
    yLabel: options.yLabel ?? `loss (mean over ${span} steps)`,
    points: false,
  });
}

export interface QualityRow {
  model: string;
  bleu: number;
  /** BLEU-4 on scenes of 2, 3 and 4 objects. */
  byObjects: Record<number, number>;
  /** Attention correctness over noun words (NaN without attention). */
  correctness: number;
}

/** The quality table: BLEU-4 (×100) overall and by number of objects, and attention correctness. */
export function captionQualityTable(rows: QualityRow[], options: { title?: string; subtitle?: string | string[] } = {}): TopLevelSpec {
  const counts = [...new Set(rows.flatMap((r) => Object.keys(r.byObjects).map(Number)))].sort();
  const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(1) : '—');
  return textTable(
    ['model', 'BLEU-4', ...counts.map((n) => `${n} objects`), 'attention in box'],
    rows.map((r) => [r.model, pct(r.bleu), ...counts.map((n) => pct(r.byObjects[n] ?? NaN)), Number.isFinite(r.correctness) ? r.correctness.toFixed(2) : '—']),
    { title: options.title ?? 'caption quality on held-out scenes', subtitle: options.subtitle, columnWidth: [170, 80, ...counts.map(() => 90), 130] },
  );
}

/** Test scenes with a reference and each model's caption under the image. */
export function modelCaptionCards(scenes: readonly CaptionScene[], rows: { label: string; captions: readonly GeneratedCaption[] }[], indices: number[], options: CaptionCardsOptions = {}): TopLevelSpec {
  return captionCards(indices.map((i) => ({
    title: `test scene ${i} (${scenes[i].objects.length} objects)`,
    pixels: sceneImagePixels(scenes[i].image),
    lines: [`reference: ${scenes[i].references[0].join(' ')}`, ...rows.map((r) => `${r.label}: ${r.captions[i].words.join(' ')}`)],
  })), options);
}

/**
 * The slide's a, b, c, d: the image and its grid of annotation vectors, each cell shaded by the
 * length of its vector (the encoder responds where there is something to describe).
 */
export function annotationGridFigure(pixels: RgbPixels, norms: number[][], options: { title?: string; subtitle?: string | string[]; pixelSize?: number } = {}): TopLevelSpec {
  const grid = norms.length;
  if (grid === 0 || norms.some((r) => r.length !== grid)) throw new Error('annotationGridFigure: norms must be a square grid×grid array');
  const pixelSize = options.pixelSize ?? 4;
  const size = pixels.length * pixelSize;
  const cells = norms.flatMap((row, r) => row.map((v, c) => ({ r, c, v: Math.round(v * 100) / 100, name: `a${r * grid + c + 1}` })));
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'an image and its grid of annotation vectors', options.subtitle),
    hconcat: [
      panelSpec({ title: 'image', pixels }, pixelSize, 0),
      {
        title: { text: `|a_i| on the ${grid}×${grid} grid`, fontSize: 12, anchor: 'start' },
        width: size,
        height: size,
        data: { values: cells },
        layer: [
          {
            mark: { type: 'rect', stroke: '#ffffff', strokeWidth: 1 },
            encoding: {
              x: { field: 'c', type: 'ordinal', axis: null },
              y: { field: 'r', type: 'ordinal', axis: null },
              color: { field: 'v', type: 'quantitative', title: '|a_i|', scale: { scheme: 'viridis' } },
              tooltip: [{ field: 'name', type: 'nominal', title: 'vector' }, { field: 'v', type: 'quantitative', title: 'length' }],
            },
          },
          {
            mark: { type: 'text', fontSize: 10 },
            encoding: {
              x: { field: 'c', type: 'ordinal', axis: null },
              y: { field: 'r', type: 'ordinal', axis: null },
              text: { field: 'v', type: 'quantitative', format: '.0f' },
              color: { value: '#ffffff' },
            },
          },
        ],
      },
    ],
    spacing: 24,
    config: { view: { stroke: null } },
  } as unknown as TopLevelSpec;
}
