/**
 * The lesson's figures as vega-lite specs (pure functions: data first, options second), and the
 * markdown tables that set translations side by side.
 */
import type { TopLevelSpec } from 'vega-lite';
import { colorSchemes, okabeIto, roles, schemeScale } from '../plot/colors';
import { figureTitle, lineChart, round, type Series, VEGA_LITE_SCHEMA } from '../plot/specs';
import type { TrainHistory } from '../train';
import type { LengthScore } from './evaluate';

export interface AlignmentPanel {
  /** Panel title, e.g. the sentence's number or "the lecture's sentence". */
  title: string;
  /** Source words (columns). */
  source: readonly string[];
  /** Output words (rows); `</s>` may be the last. */
  target: readonly string[];
  /** weights[i][j]: attention of output word i on source word j (rows sum to 1). */
  weights: readonly (readonly number[])[];
  /** Ground truth: the source index of each output word (−1: none). Drawn as outlined cells. */
  gold?: readonly number[];
}

export interface AlignmentFigureOptions {
  title?: string;
  subtitle?: string | string[];
  /** Pixels per cell. Default: fits about 520 px for the widest panel, between 9 and 26. */
  cellSize?: number;
  /** Panels per row. Default 2. */
  columns?: number;
}

/**
 * Alignment matrices as in Bahdanau et al.'s Fig. 3: output words down, source words across,
 * each cell's darkness its attention weight (white 0, black 1). Hovering a cell shows the two
 * words and the weight; the ground-truth alignment, when given, is outlined in orange.
 */
export function alignmentFigure(panels: readonly AlignmentPanel[], options: AlignmentFigureOptions = {}): TopLevelSpec {
  if (panels.length === 0) throw new Error('alignmentFigure: needs at least one sentence');
  panels.forEach((p, n) => {
    if (p.weights.length !== p.target.length) throw new Error(`alignmentFigure: panel ${n} has ${p.weights.length} rows of weights for ${p.target.length} output words`);
    p.weights.forEach((row, i) => {
      if (row.length !== p.source.length) throw new Error(`alignmentFigure: panel ${n}, row ${i} has ${row.length} weights for ${p.source.length} source words`);
    });
    if (p.gold && p.gold.length > p.target.length) throw new Error(`alignmentFigure: panel ${n} has ${p.gold.length} gold links for ${p.target.length} output words`);
  });
  const widest = Math.max(...panels.map((p) => Math.max(p.source.length, p.target.length)));
  const cell = options.cellSize ?? Math.max(9, Math.min(26, Math.floor(520 / widest)));
  const fontSize = cell >= 16 ? 11 : 9;
  // Axis labels are the words themselves, made unique with zero-width spaces (a sentence repeats
  // "the"); no label expression, so no word can be mistaken for one of vega's functions ("if").
  const unique = (words: readonly string[]) => {
    const seen = new Map<string, number>();
    return words.map((w) => { const n = seen.get(w) ?? 0; seen.set(w, n + 1); return w + '\u200b'.repeat(n); });
  };
  const hasGold = panels.some((p) => p.gold);
  const concat = panels.map((p) => {
    const xs = unique(p.source);
    const ys = unique(p.target);
    const cells = p.weights.flatMap((row, i) => row.map((w, j) => ({
      i: ys[i], j: xs[j], weight: round(w, 4), target: p.target[i], source: p.source[j],
      gold: p.gold && p.gold[i] === j ? 'yes' : 'no',
    })));
    const goldCells = cells.filter((c) => c.gold === 'yes');
    const axis = (orient: 'top' | 'left') => ({
      title: null, ticks: false, domain: false, labelFontSize: fontSize,
      orient, ...(orient === 'top' ? { labelAngle: -50, labelAlign: 'left' as const } : {}),
    });
    const x = { field: 'j', type: 'ordinal' as const, scale: { domain: xs }, axis: axis('top') };
    const y = { field: 'i', type: 'ordinal' as const, scale: { domain: ys }, axis: axis('left') };
    return {
      title: { text: p.title, fontSize: 13, anchor: 'start' as const, offset: 6 },
      width: { step: cell },
      height: { step: cell },
      layer: [
        {
          data: { values: cells },
          mark: { type: 'rect' as const, stroke: roles.grid, strokeWidth: 0.3 },
          encoding: {
            x, y,
            color: { field: 'weight', type: 'quantitative' as const, title: 'weight', scale: { ...schemeScale('greys'), domain: [0, 1] } },
            tooltip: [
              { field: 'target', type: 'nominal' as const, title: 'output word' },
              { field: 'source', type: 'nominal' as const, title: 'source word' },
              { field: 'weight', type: 'quantitative' as const, title: 'attention weight', format: '.3f' },
              ...(p.gold ? [{ field: 'gold', type: 'nominal' as const, title: 'aligned by the generator' }] : []),
            ],
          },
        },
        ...(goldCells.length ? [{
          data: { values: goldCells },
          mark: { type: 'square' as const, filled: false, stroke: okabeIto.orange, strokeWidth: 1.6, size: Math.round((cell * 0.8) ** 2) },
          encoding: { x, y, tooltip: null },
        }] : []),
      ],
    };
  });
  const subtitle = ([] as string[]).concat(options.subtitle ?? []);
  if (hasGold) subtitle.push('orange outline: the word the generator aligned it to');
  if (colorSchemes.greys.diverging) throw new Error('alignmentFigure: the grey scale must be sequential');
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: figureTitle(options.title ?? 'Attention weights: output words × source words', subtitle),
    config: { view: { stroke: null }, concat: { spacing: 28 } },
    columns: options.columns ?? 2,
    concat,
    resolve: { scale: { color: 'shared', x: 'independent', y: 'independent' } },
  } as TopLevelSpec;
}

export interface ModelBins {
  name: string;
  bins: readonly LengthScore[];
}

/** BLEU against source-sentence length for several models (Bahdanau et al.'s Fig. 2). */
export function bleuByLengthFigure(models: readonly ModelBins[], options: { title?: string; subtitle?: string | string[] } = {}): TopLevelSpec {
  if (models.length === 0) throw new Error('bleuByLengthFigure: needs at least one model');
  const series: Series[] = models.map((m) => ({
    name: m.name,
    points: m.bins.filter((b) => b.bleu !== null).map((b) => ({ x: (b.low + b.high) / 2, y: b.bleu as number })),
  }));
  return lineChart(series, {
    title: options.title ?? 'BLEU against sentence length',
    subtitle: options.subtitle,
    xLabel: 'source sentence length (words, bin centre)',
    yLabel: 'BLEU',
    yDomain: [0, 100],
    legendTitle: 'model',
  });
}

/** Moving average over a window (shorter at the start). */
function movingAverage(values: readonly number[], window: number): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= window) sum -= values[i - window];
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

export interface CurveSource {
  name: string;
  history: Pick<TrainHistory, 'stepLoss' | 'epochs'>;
}

/**
 * Training curves: the training loss of every step (smoothed over `window` steps) and the
 * validation loss after each epoch, for several models.
 */
export function trainingCurvesFigure(runs: readonly CurveSource[], options: { title?: string; subtitle?: string | string[]; window?: number } = {}): TopLevelSpec {
  if (runs.length === 0) throw new Error('trainingCurvesFigure: needs at least one run');
  const window = options.window ?? 20;
  const series: Series[] = [];
  for (const r of runs) {
    const smooth = movingAverage(r.history.stepLoss, window);
    // At most ~300 points per line: the figure stays small.
    const every = Math.max(1, Math.ceil(smooth.length / 300));
    series.push({ name: `${r.name} · training`, points: smooth.map((y, i) => ({ x: i + 1, y })).filter((_, i) => i % every === 0 || i === smooth.length - 1) });
    const val = r.history.epochs.filter((e) => e.metric !== undefined).map((e) => ({ x: e.endStep, y: e.metric as number }));
    if (val.length) series.push({ name: `${r.name} · validation`, points: val });
  }
  return lineChart(series, {
    title: options.title ?? 'Training curves',
    subtitle: options.subtitle ?? `cross-entropy per target word (training: mean of the last ${window} steps)`,
    xLabel: 'step',
    yLabel: 'loss (nats per word)',
    logY: true,
    points: false,
  });
}

/** Which hypothesis words are not part of a longest common subsequence with the reference. */
export function wordsOffReference(hypothesis: readonly string[], reference: readonly string[]): boolean[] {
  const n = hypothesis.length, m = reference.length;
  const L = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) L[i][j] = hypothesis[i] === reference[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  }
  const off = new Array<boolean>(n).fill(true);
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (hypothesis[i] === reference[j]) { off[i] = false; i++; j++; } else if (L[i + 1][j] >= L[i][j + 1]) i++; else j++;
  }
  return off;
}

function escapeMarkdown(word: string): string {
  return word.replace(/([\\`*_[\]|<>])/g, '\\$1');
}

/**
 * A markdown table of translations under the source and the reference; words of a translation
 * that are not in its longest common subsequence with the reference are struck out and bold
 * (so errors read without colour).
 */
export function translationsMarkdown(rows: { label: string; words: readonly string[]; score?: string }[], reference: readonly string[]): string {
  const lines = ['| | sentence |', '|---|---|'];
  for (const r of rows) {
    const off = r.label === 'reference' || r.label.startsWith('source') ? r.words.map(() => false) : wordsOffReference(r.words, reference);
    const text = r.words.map((w, k) => (off[k] ? `**~~${escapeMarkdown(w)}~~**` : escapeMarkdown(w))).join(' ') || '*(empty)*';
    lines.push(`| **${r.label}**${r.score ? `<br>${r.score}` : ''} | ${text} |`);
  }
  return lines.join('\n');
}
