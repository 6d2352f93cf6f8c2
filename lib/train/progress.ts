/**
 * Training progress: a status line with the numbers a student watches (epoch, step, loss, metric,
 * speed, time left), shown in place and throttled, plus the loss curve as a figure.
 */
import type { TopLevelSpec } from 'vega-lite';
import { liveDisplay, type LiveDisplay } from '../plot/show';
import { lineChart, type LineChartOptions, type Series } from '../plot/specs';
import type { EpochRecord, ProgressMode, TrainHistory } from './types';

/** What the status line shows at one moment. */
export interface ProgressState {
  epoch: number;
  epochs: number;         // may be Infinity
  stepInEpoch: number;
  stepsPerEpoch: number;
  step: number;           // global
  loss: number;           // running mean of the current epoch
  metricName: string | null;
  metric: number | undefined; // the last validation value
  stepsPerSecond: number;
  secondsLeft: number;    // NaN when unknown
}

/** 4 significant digits, or exponent notation for the very small and very large. */
export function formatValue(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e5) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

/** 7 s, 2 m 05 s, 1 h 02 m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} m`;
}

export function progressLine(s: ProgressState): string {
  const parts = [
    `epoch ${s.epoch}${Number.isFinite(s.epochs) ? `/${s.epochs}` : ''}`,
    `step ${s.stepInEpoch}/${s.stepsPerEpoch}`,
    `loss ${formatValue(s.loss)}`,
  ];
  if (s.metricName !== null) parts.push(`${s.metricName} ${s.metric === undefined ? '–' : formatValue(s.metric)}`);
  parts.push(`${formatValue(s.stepsPerSecond)} steps/s`);
  parts.push(`${Number.isNaN(s.secondsLeft) ? '?' : formatDuration(s.secondsLeft)} left`);
  return parts.join(' · ');
}

export function epochLine(e: EpochRecord, epochs: number, metricName: string | null): string {
  const parts = [
    `epoch ${e.epoch}${Number.isFinite(epochs) ? `/${epochs}` : ''}${e.complete ? '' : ' (cut short)'}`,
    `${e.steps} steps`,
    `loss ${formatValue(e.loss)}`,
  ];
  if (metricName !== null && e.metric !== undefined) parts.push(`${metricName} ${formatValue(e.metric)}`);
  parts.push(`at ${formatDuration(e.seconds)}`);
  return parts.join(' · ');
}

/** Bucket means, so a long run's curve stays a few hundred points (a small spec, a fast redraw). */
function downsample(values: readonly number[], maxPoints: number): { x: number; y: number }[] {
  const k = Math.max(1, Math.ceil(values.length / maxPoints));
  const points: { x: number; y: number }[] = [];
  for (let start = 0; start < values.length; start += k) {
    const end = Math.min(values.length, start + k);
    let sum = 0;
    for (let i = start; i < end; i++) sum += values[i];
    points.push({ x: end, y: sum / (end - start) }); // x: the step count at the bucket's end
  }
  return points;
}

export interface LossCurveOptions extends LineChartOptions {
  /** Most points drawn for the per-step loss (bucket means beyond). Default 300. */
  maxPoints?: number;
}

/**
 * The loss curve of a run (during or after it): per-step training loss, each epoch's mean, and
 * the validation loss when the validation metric is the default loss. Data first, options second.
 */
export function lossCurve(history: Pick<TrainHistory, 'stepLoss' | 'epochs' | 'metricName'>, options: LossCurveOptions = {}): TopLevelSpec {
  const { maxPoints = 300, ...chartOptions } = options;
  const series: Series[] = [{ name: 'loss per step', points: downsample(history.stepLoss, maxPoints) }];
  const complete = history.epochs.filter((e) => e.steps > 0);
  if (complete.length > 0) series.push({ name: 'epoch mean', points: complete.map((e) => ({ x: e.endStep, y: e.loss })) });
  // A custom metric (accuracy, BLEU) has other units: it belongs in the status, not on this axis.
  if (history.metricName === 'val loss') {
    const val = history.epochs.filter((e) => e.metric !== undefined);
    if (val.length > 0) series.push({ name: 'val loss', points: val.map((e) => ({ x: e.endStep, y: e.metric as number })) });
  }
  return lineChart(series, { title: 'Training loss', xLabel: 'step', yLabel: 'loss', points: false, ...chartOptions });
}

/** True inside a tslab kernel (the same test show.ts makes before sending a bundle). */
export function inKernel(): boolean {
  try {
    const jupyter = require('tslab/dist/jupyter') as { lastWriteDisplayData: unknown };
    return jupyter.lastWriteDisplayData != null;
  } catch {
    return false;
  }
}

type Sink = { kind: 'live' } | { kind: 'tty' } | { kind: 'log' } | { kind: 'fn'; fn: (line: string) => void } | { kind: 'none' };

function resolveSink(mode: ProgressMode): Sink {
  if (typeof mode === 'function') return { kind: 'fn', fn: mode };
  if (mode === 'none') return { kind: 'none' };
  if (mode === 'live' || (mode === 'auto' && inKernel())) return { kind: 'live' };
  return process.stdout.isTTY ? { kind: 'tty' } : { kind: 'log' };
}

export interface ProgressOptions {
  mode: ProgressMode;
  seconds: number;
  chart: LineChartOptions | false;
  epochs: number;
}

/**
 * Draws progress at most once per `seconds` (the first step and the end always draw). In a
 * kernel: a markdown block (status + the last epochs) and a loss chart, each overwritten in place;
 * the chart at most once a second, and less often when drawing it took long, so it never costs
 * more than ~5 % of the run.
 */
export class Progress {
  private readonly sink: Sink;
  private readonly intervalMs: number;
  private lastDraw = -Infinity;
  private lastChart = -Infinity;
  private chartGapMs: number;
  private status?: LiveDisplay;
  private chartDisplay?: LiveDisplay;
  private readonly epochLines: string[] = [];
  private ttyOpen = false;

  constructor(private readonly options: ProgressOptions, private readonly history: () => TrainHistory) {
    this.sink = resolveSink(options.mode);
    this.intervalMs = options.seconds * 1000;
    this.chartGapMs = Math.max(1000, this.intervalMs);
    if (this.sink.kind === 'live') this.status = liveDisplay();
  }

  /** After a step: draws when the last drawing is older than the interval. */
  step(state: ProgressState, now: number): void {
    if (this.sink.kind === 'none' || now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.drawStatus(progressLine(state));
    if (now - this.lastChart >= this.chartGapMs) this.drawChart(now);
  }

  epochEnd(record: EpochRecord, metricName: string | null): void {
    const line = epochLine(record, this.options.epochs, metricName);
    this.epochLines.push(line);
    switch (this.sink.kind) {
      case 'tty': process.stdout.write(`\r\x1b[2K${line}\n`); this.ttyOpen = false; break;
      case 'log': console.log(line); break;
      case 'fn': this.sink.fn(line); break;
      default: break; // live: the epoch list is part of the status block
    }
  }

  /** The final status (always drawn). */
  finish(summary: string): void {
    if (this.sink.kind === 'none') return;
    this.drawStatus(summary, true);
    this.drawChart(performance.now(), true);
  }

  private drawStatus(line: string, final = false): void {
    switch (this.sink.kind) {
      case 'live': {
        // The last epochs only: a 100-epoch run should not grow a 100-row block.
        const shown = this.epochLines.slice(-8);
        const older = this.epochLines.length - shown.length;
        const list = [...(older > 0 ? [`(${older} earlier epochs)`] : []), ...shown].map((l) => `- ${l}`).join('\n');
        this.status?.markdown(`**${line}**${list ? `\n\n${list}` : ''}`);
        break;
      }
      case 'tty':
        process.stdout.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
        this.ttyOpen = !final;
        break;
      case 'log': console.log(line); break;
      case 'fn': this.sink.fn(line); break;
      default: break;
    }
  }

  private drawChart(now: number, force = false): void {
    if (this.sink.kind !== 'live' || this.options.chart === false) return;
    const h = this.history();
    if (!h.stepLoss.some(Number.isFinite)) return; // nothing to draw (vega warns on an empty extent)
    if (!force && now - this.lastChart < this.chartGapMs) return;
    const t0 = performance.now();
    this.chartDisplay ??= liveDisplay();
    this.chartDisplay.figure(lossCurve(h, this.options.chart));
    const cost = performance.now() - t0;
    this.lastChart = performance.now();
    // At most once a second (a figure re-renders its SVG), and drawing ≤ 1/20 of the run.
    this.chartGapMs = Math.max(1000, this.intervalMs, 20 * cost);
  }

  /** Ends an open \r line so later output starts on its own line (after an error, say). */
  close(): void {
    if (this.ttyOpen) process.stdout.write('\n');
    this.ttyOpen = false;
  }
}
